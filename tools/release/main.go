// Command release builds Outcrop's release artefacts offline, reproducibly:
// the vulnerability database govulncheck reads (from the golang.org/x/vulndb
// module), the vulnerability gate over the built binary, the SBOM's non-Go
// components, the OCI image (no Docker daemon) and its smoke test.
// scripts/release.sh drives it; see docs/RELEASE.md.
//
//	release vulndb -version V -out DIR
//	release gate   -db DIR -allow FILE -binary BIN -out PREFIX
//	release sbom   -gomod FILE -binary BIN -declared FILE [-npm-lock FILE] -out FILE
//	release image  -binary BIN -version V -epoch SECONDS [-model-dir DIR] -out DIR -tar FILE
//	release smoke  -image TAR -version V [-model-dir DIR] [-model-id ID]
//	release sums   -out FILE FILE...
//	release sign   -cosign CMD -key FILE -sums FILE -pub OUT [-image LAYOUT=OUT]...
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: release vulndb|gate|sbom|image|smoke|sums|sign [flags]")
		os.Exit(2)
	}
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "vulndb":
		err = cmdVulnDB(args)
	case "gate":
		err = cmdGate(args)
	case "sbom":
		err = cmdSBOM(args)
	case "image":
		err = cmdImage(args)
	case "smoke":
		err = cmdSmoke(args)
	case "sums":
		err = cmdSums(args)
	case "sign":
		err = cmdSign(args)
	default:
		err = fmt.Errorf("unknown command %q", cmd)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(1)
	}
}

func cmdVulnDB(args []string) error {
	fs := flag.NewFlagSet("vulndb", flag.ExitOnError)
	version := fs.String("version", defaultVulnDB, "golang.org/x/vulndb module version (a pseudo-version)")
	src := fs.String("osv", "", "directory of OSV files instead of the module's data/osv")
	out := fs.String("out", "", "database directory to write")
	fs.Parse(args)
	if *out == "" {
		return errors.New("vulndb: -out is required")
	}
	dir := *src
	if dir == "" {
		var err error
		if dir, err = vulnDBSource(*version); err != nil {
			return err
		}
	}
	tmp := *out + ".tmp"
	os.RemoveAll(tmp)
	n, err := buildVulnDB(dir, tmp)
	if err != nil {
		return err
	}
	os.RemoveAll(*out)
	if err := os.Rename(tmp, *out); err != nil {
		return err
	}
	fmt.Printf("vulndb: %d entries from %s -> %s\n", n, dir, *out)
	return nil
}

func cmdGate(args []string) error {
	fs := flag.NewFlagSet("gate", flag.ExitOnError)
	db := fs.String("db", "", "local vulnerability database (release vulndb)")
	allow := fs.String("allow", "release/vuln-allowlist.yaml", "reviewed allow-list")
	bin := fs.String("binary", "", "binary to scan")
	out := fs.String("out", "dist/vulncheck", "report prefix (.txt and .json are written)")
	gv := fs.String("govulncheck", "go run golang.org/x/vuln/cmd/govulncheck@v1.9.0", "govulncheck command")
	fs.Parse(args)
	if *db == "" || *bin == "" {
		return errors.New("gate: -db and -binary are required")
	}
	abs, err := filepath.Abs(*db)
	if err != nil {
		return err
	}
	err = runGate(strings.Fields(*gv), abs, *bin, *allow, *out, time.Now())
	if rep, rerr := os.ReadFile(*out + ".txt"); rerr == nil {
		os.Stdout.Write(rep)
	}
	return err
}

func cmdSBOM(args []string) error {
	fs := flag.NewFlagSet("sbom", flag.ExitOnError)
	gomod := fs.String("gomod", "", "cyclonedx-gomod JSON output")
	bin := fs.String("binary", "", "the built binary (its shared libraries are listed)")
	decl := fs.String("declared", "release/components.yaml", "declared non-Go components")
	npm := fs.String("npm-lock", "console/package-lock.json", "console bundle lockfile (skipped when absent)")
	out := fs.String("out", "", "SBOM to write")
	fs.Parse(args)
	if *gomod == "" || *bin == "" || *out == "" {
		return errors.New("sbom: -gomod, -binary and -out are required")
	}
	ollama, err := runOut("go", "list", "-m", "-f", "{{.Dir}}", "github.com/ollama/ollama")
	if err != nil {
		return err
	}
	libs, err := runtimeLibs(*bin)
	if err != nil {
		return err
	}
	b, err := mergeSBOM(sbomInputs{GoSBOM: *gomod, Declared: *decl, OllamaDir: strings.TrimSpace(string(ollama)), Libs: libs, NPMLock: *npm})
	if err != nil {
		return err
	}
	return os.WriteFile(*out, append(b, '\n'), 0o644)
}

func cmdImage(args []string) error {
	fs := flag.NewFlagSet("image", flag.ExitOnError)
	bin := fs.String("binary", "", "binary to put in the image")
	version := fs.String("version", "", "version label")
	epoch := fs.Int64("epoch", 0, "SOURCE_DATE_EPOCH: every timestamp in the image")
	model := fs.String("model-dir", "", "model store ($OUTCROP_HOME/models) to bake in")
	ca := fs.String("ca", "/etc/ssl/certs/ca-certificates.crt", "CA bundle for outgoing TLS (empty: none)")
	out := fs.String("out", "", "OCI layout directory to write")
	tarFile := fs.String("tar", "", "OCI layout tarball to write")
	fs.Parse(args)
	if *bin == "" || *version == "" || *out == "" || *tarFile == "" || *epoch <= 0 {
		return errors.New("image: -binary, -version, -epoch, -out and -tar are required")
	}
	libs, err := runtimeLibs(*bin)
	if err != nil {
		return err
	}
	created := time.Unix(*epoch, 0).UTC()
	img, err := buildImage(imageSpec{Binary: *bin, Version: *version, Created: created, ModelDir: *model, CACerts: *ca}, libs)
	if err != nil {
		return err
	}
	ref := "outcrop:" + *version
	if *model != "" {
		ref += "-with-model"
	}
	d, err := writeLayout(img, ref, *out, *tarFile, created)
	if err != nil {
		return err
	}
	st, _ := os.Stat(*tarFile)
	fmt.Printf("image: %s %s (%d bytes) -> %s\n", ref, d, st.Size(), *tarFile)
	return nil
}

func cmdSmoke(args []string) error {
	fs := flag.NewFlagSet("smoke", flag.ExitOnError)
	img := fs.String("image", "", "OCI layout tarball")
	version := fs.String("version", "", "what --version must print")
	model := fs.String("model-dir", "", "model store to mount as the volume when the image has none")
	id := fs.String("model-id", "smollm2-135m-instruct", "model to call")
	work := fs.String("work", "", "scratch directory (default: a temporary one)")
	fs.Parse(args)
	if *img == "" || *version == "" {
		return errors.New("smoke: -image and -version are required")
	}
	w := *work
	if w == "" {
		var err error
		if w, err = os.MkdirTemp("", "outcrop-smoke-"); err != nil {
			return err
		}
	}
	return smoke(smokeOptions{OCITar: *img, Work: w, Version: *version, ModelDir: *model, ModelID: *id})
}

// cmdSums writes "sha256  name" lines, as sha256sum -c reads them.
func cmdSums(args []string) error {
	fs := flag.NewFlagSet("sums", flag.ExitOnError)
	out := fs.String("out", "", "file to write")
	fs.Parse(args)
	if *out == "" || fs.NArg() == 0 {
		return errors.New("sums: -out and at least one file are required")
	}
	var b bytes.Buffer
	for _, name := range fs.Args() {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		h := sha256.New()
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(filepath.Dir(*out), name)
		if err != nil {
			rel = name
		}
		fmt.Fprintf(&b, "%s  %s\n", hex.EncodeToString(h.Sum(nil)), rel)
	}
	return os.WriteFile(*out, b.Bytes(), 0o644)
}

// runOut runs a command and returns its standard output; its standard
// error is part of the error.
func runOut(name string, args ...string) ([]byte, error) {
	cmd := exec.Command(name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}
