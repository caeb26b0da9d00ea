package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Signing uses the real cosign (pinned in scripts/release.sh, built from the
// Go module proxy) with a local key: no Fulcio certificate, no Rekor entry,
// nothing leaves the machine. Two things are signed:
//
//   - SHA256SUMS, as a blob (SHA256SUMS.sig): the sums cover the binary, the
//     SBOM, the scan report and both image tarballs, so one signature vouches
//     for every artefact;
//   - each image, in cosign's own format (a signature manifest stored beside
//     the image under the tag sha256-<digest>.sig). cosign signs images in a
//     registry, so the image is pushed to a registry served in this process on
//     loopback, signed there, verified, and saved with its signature by
//     `cosign save` into an OCI layout an operator can verify offline
//     (`cosign verify --local-image`) or push with `cosign load`.
//
// The key is cosign's encrypted key file; its password comes from
// COSIGN_PASSWORD, which cosign reads itself.

// cosignPackage is the pinned cosign, run with go run (scripts/release.sh
// reads this line).
const cosignPackage = "github.com/sigstore/cosign/v2/cmd/cosign@v2.6.5"

// cosignCmd is how to run cosign: a command and its leading arguments
// ("go run github.com/sigstore/cosign/v2/cmd/cosign@v2.6.5" or a path).
type cosignCmd []string

// run runs cosign with args and returns its combined output, which is part
// of the error when it fails. Cosign looks for Sigstore's public trust root
// even for key-based checks and warns when it cannot reach it; the
// environment points its cache at a scratch directory so it never writes to
// the user's home.
func (c cosignCmd) run(ctx context.Context, args ...string) ([]byte, error) {
	if len(c) == 0 {
		return nil, errors.New("cosign: no command")
	}
	argv := append(append([]string{}, c[1:]...), args...)
	cmd := exec.CommandContext(ctx, c[0], argv...)
	cmd.Env = append(os.Environ(), "TUF_ROOT="+filepath.Join(os.TempDir(), "outcrop-cosign-tuf"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("cosign %s: %v: %s", strings.Join(args, " "), err, lastLines(out, 5))
	}
	return out, nil
}

// lastLines is the last n non-empty lines of b, for error messages.
func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// publicKey writes the public half of key to out.
func (c cosignCmd) publicKey(ctx context.Context, key, out string) error {
	_, err := c.run(ctx, "public-key", "--key", key, "--outfile", out)
	return err
}

// signBlob signs file with key, writing the base64 signature to sig, then
// verifies it against pub so a release never ships a signature that does
// not check.
func (c cosignCmd) signBlob(ctx context.Context, key, pub, file, sig string) error {
	if _, err := c.run(ctx, "sign-blob", "--yes", "--key", key, "--tlog-upload=false", "--output-signature", sig, file); err != nil {
		return err
	}
	return c.verifyBlob(ctx, pub, file, sig)
}

// verifyBlob checks sig over file with the public key pub.
func (c cosignCmd) verifyBlob(ctx context.Context, pub, file, sig string) error {
	_, err := c.run(ctx, "verify-blob", "--key", pub, "--insecure-ignore-tlog=true", "--signature", sig, file)
	return err
}

// verifyLocal checks the cosign signature of the image in the OCI layout
// dir (as written by cosign save) with the public key pub.
func (c cosignCmd) verifyLocal(ctx context.Context, pub, dir string) error {
	_, err := c.run(ctx, "verify", "--key", pub, "--insecure-ignore-tlog=true", "--local-image", dir)
	return err
}

// signImage signs the single image of the OCI layout src with key and saves
// it with its signature, as cosign save lays it out, to out. It returns the
// signed manifest digest.
func (c cosignCmd) signImage(ctx context.Context, key, pub, src, out string) (v1.Hash, error) {
	img, err := layoutImage(src)
	if err != nil {
		return v1.Hash{}, err
	}
	d, err := img.Digest()
	if err != nil {
		return v1.Hash{}, err
	}
	reg, stop, err := serveRegistry()
	if err != nil {
		return v1.Hash{}, err
	}
	defer stop()
	tag, err := name.NewTag(reg+"/outcrop:release", name.Insecure)
	if err != nil {
		return v1.Hash{}, err
	}
	if err := remote.Write(tag, img, remote.WithContext(ctx)); err != nil {
		return v1.Hash{}, fmt.Errorf("push to the signing registry: %w", err)
	}
	ref := reg + "/outcrop@" + d.String()
	if _, err := c.run(ctx, "sign", "--yes", "--key", key, "--tlog-upload=false", "--allow-http-registry", ref); err != nil {
		return v1.Hash{}, err
	}
	if _, err := c.run(ctx, "verify", "--key", pub, "--insecure-ignore-tlog=true", "--allow-http-registry", ref); err != nil {
		return v1.Hash{}, err
	}
	if err := os.RemoveAll(out); err != nil {
		return v1.Hash{}, err
	}
	if _, err := c.run(ctx, "save", "--allow-http-registry", "--dir", out, ref); err != nil {
		return v1.Hash{}, err
	}
	if err := c.verifyLocal(ctx, pub, out); err != nil {
		return v1.Hash{}, err
	}
	return d, nil
}

// layoutImage is the one image of an OCI layout directory.
func layoutImage(dir string) (v1.Image, error) {
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, err
	}
	idx, err := p.ImageIndex()
	if err != nil {
		return nil, err
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	if len(m.Manifests) != 1 {
		return nil, fmt.Errorf("%s: %d manifests, want exactly one image", dir, len(m.Manifests))
	}
	return idx.Image(m.Manifests[0].Digest)
}

// serveRegistry serves an in-memory OCI registry on a loopback port for
// the length of one signing and returns its host:port and a stop function.
func serveRegistry() (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{
		Handler:           registry.New(registry.Logger(log.New(io.Discard, "", 0))),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go srv.Serve(ln)
	return ln.Addr().String(), func() { srv.Close() }, nil
}

// cmdSign signs the release: SHA256SUMS as a blob and each image layout,
// writing cosign.pub beside them.
//
//	release sign -cosign CMD -key FILE -sums FILE -pub OUT [-image LAYOUT=OUT]...
func cmdSign(args []string) error {
	fs := flag.NewFlagSet("sign", flag.ExitOnError)
	cosign := fs.String("cosign", "", "cosign command (space-separated)")
	key := fs.String("key", "", "cosign private key file (password in COSIGN_PASSWORD)")
	sums := fs.String("sums", "", "SHA256SUMS file to sign (writes FILE.sig)")
	pub := fs.String("pub", "", "where to write the public key")
	var images pairs
	fs.Var(&images, "image", "LAYOUT=OUT: sign the image of OCI layout LAYOUT, save it signed to OUT (repeatable)")
	fs.Parse(args)
	if *cosign == "" || *key == "" || *sums == "" || *pub == "" {
		return errors.New("sign: -cosign, -key, -sums and -pub are required")
	}
	c := cosignCmd(strings.Fields(*cosign))
	ctx := context.Background()
	if err := c.publicKey(ctx, *key, *pub); err != nil {
		return err
	}
	if err := c.signBlob(ctx, *key, *pub, *sums, *sums+".sig"); err != nil {
		return err
	}
	fmt.Printf("signed %s -> %s.sig\n", *sums, *sums)
	for _, p := range images {
		d, err := c.signImage(ctx, *key, *pub, p[0], p[1])
		if err != nil {
			return err
		}
		fmt.Printf("signed image %s (%s) -> %s\n", p[0], d, p[1])
	}
	return nil
}

// pairs is a repeatable A=B flag.
type pairs [][2]string

func (p *pairs) String() string { return fmt.Sprint(*p) }

func (p *pairs) Set(s string) error {
	a, b, ok := strings.Cut(s, "=")
	if !ok || a == "" || b == "" {
		return fmt.Errorf("want LAYOUT=OUT, got %q", s)
	}
	*p = append(*p, [2]string{a, b})
	return nil
}
