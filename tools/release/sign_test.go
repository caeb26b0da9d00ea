package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/random"
)

// TestSignAndVerify signs a sums file and an image layout with the real,
// pinned cosign and a freshly generated local key, then checks what an
// operator checks: the blob signature and the saved image's signature
// verify with the public key, and fail with another key or a changed file.
func TestSignAndVerify(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs cosign")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}
	// One build of the pinned cosign, run directly: go run would check
	// its build for each of the dozen calls.
	dir := t.TempDir()
	install := exec.Command(gobin, "install", cosignPackage)
	install.Env = append(os.Environ(), "GOBIN="+filepath.Join(dir, "bin"))
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("go install %s: %v\n%s", cosignPackage, err, out)
	}
	c := cosignCmd{filepath.Join(dir, "bin", "cosign")}
	ctx := context.Background()
	t.Setenv("COSIGN_PASSWORD", "release-test")
	keyPair := func(name string) (key, pub string) {
		d := filepath.Join(dir, name)
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(c[0], append(c[1:], "generate-key-pair")...)
		cmd.Dir = d
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("generate-key-pair: %v\n%s", err, out)
		}
		return filepath.Join(d, "cosign.key"), filepath.Join(d, "cosign.pub")
	}
	key, _ := keyPair("release")
	_, otherPub := keyPair("other")

	// The published public key is derived from the private key.
	pub := filepath.Join(dir, "cosign.pub")
	if err := c.publicKey(ctx, key, pub); err != nil {
		t.Fatal(err)
	}

	sums := filepath.Join(dir, "SHA256SUMS")
	write(t, sums, "0123  outcrop\n")
	if err := c.signBlob(ctx, key, pub, sums, sums+".sig"); err != nil {
		t.Fatal(err)
	}
	if err := c.verifyBlob(ctx, otherPub, sums, sums+".sig"); err == nil {
		t.Error("the sums' signature verified with another key")
	}
	write(t, sums, "4567  outcrop\n")
	if err := c.verifyBlob(ctx, pub, sums, sums+".sig"); err == nil {
		t.Error("the signature verified over changed sums")
	}

	img, err := random.Image(512, 2)
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "oci")
	if _, err := writeLayout(img, "outcrop:test", src, filepath.Join(dir, "img.tar"), day); err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	signed := filepath.Join(dir, "signed")
	got, err := c.signImage(ctx, key, pub, src, signed)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("signed digest %s, want the layout's %s", got, want)
	}
	if err := c.verifyLocal(ctx, pub, signed); err != nil {
		t.Errorf("saved image does not verify: %v", err)
	}
	if err := c.verifyLocal(ctx, otherPub, signed); err == nil {
		t.Error("the image's signature verified with another key")
	}
	// An unsigned layout has nothing to verify.
	if err := c.verifyLocal(ctx, pub, src); err == nil {
		t.Error("an unsigned layout verified")
	}
}

func TestSignFlags(t *testing.T) {
	var p pairs
	for _, bad := range []string{"", "a", "=b", "a="} {
		if err := p.Set(bad); err == nil {
			t.Errorf("Set(%q) accepted", bad)
		}
	}
	if err := p.Set("oci/outcrop=signed/outcrop"); err != nil || len(p) != 1 || p[0] != [2]string{"oci/outcrop", "signed/outcrop"} {
		t.Errorf("Set = %v, %v", p, err)
	}
	if err := cmdSign([]string{"-key", "k"}); err == nil {
		t.Error("cmdSign without -cosign/-sums/-pub accepted")
	}
}
