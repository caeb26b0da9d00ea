package main

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// untar extracts a tar stream into dir, refusing entries that would land
// outside it.
func untar(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, filepath.FromSlash(h.Name))
		if rel, err := filepath.Rel(dir, dst); err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
			return fmt.Errorf("tar entry %q escapes the target", h.Name)
		}
		mode := os.FileMode(h.Mode).Perm()
		if h.Mode&0o1000 != 0 {
			mode |= os.ModeSticky
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(dst, 0o755); err != nil {
				return err
			}
			if err := os.Chmod(dst, mode); err != nil {
				return err
			}
		case tar.TypeSymlink:
			os.Remove(dst)
			if err := os.Symlink(h.Linkname, dst); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, mode)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		default:
			continue
		}
		if os.Geteuid() == 0 {
			os.Lchown(dst, h.Uid, h.Gid)
		}
	}
}

// unpackImage turns the OCI layout tarball into a root filesystem, the way
// a container runtime would (layers applied in order).
func unpackImage(ociTar, work string) (rootfs string, err error) {
	layoutDir := filepath.Join(work, "layout")
	rootfs = filepath.Join(work, "rootfs")
	for _, d := range []string{layoutDir, rootfs} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", err
		}
	}
	f, err := os.Open(ociTar)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if err := untar(f, layoutDir); err != nil {
		return "", err
	}
	idx, err := layout.ImageIndexFromPath(layoutDir)
	if err != nil {
		return "", err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return "", err
	}
	if len(im.Manifests) != 1 {
		return "", fmt.Errorf("layout has %d manifests, want 1", len(im.Manifests))
	}
	img, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		return "", err
	}
	rc := mutate.Extract(img)
	defer rc.Close()
	return rootfs, untar(rc, rootfs)
}

// smokeOptions drive one smoke test of an image.
type smokeOptions struct {
	OCITar    string
	Work      string
	Version   string // what --version must print
	ModelDir  string // copied into the volume when the image has no model
	ModelID   string
	KeepFiles bool
}

// inImage runs the image's binary inside its root filesystem: chroot as
// the image's user when we are root (as a runtime would, without one), or
// through the image's own dynamic linker and libraries otherwise.
func inImage(ctx context.Context, rootfs string, args ...string) *exec.Cmd {
	var cmd *exec.Cmd
	if os.Geteuid() == 0 {
		cmd = exec.CommandContext(ctx, imageBinary, args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Chroot:     rootfs,
			Credential: &syscall.Credential{Uid: imageUID, Gid: imageUID},
		}
		cmd.Dir = "/"
		cmd.Env = []string{"PATH=/usr/local/bin", "OUTCROP_HOME=" + imageHome, "HOME=" + imageHome}
	} else {
		ld := filepath.Join(rootfs, "lib64", "ld-linux-x86-64.so.2")
		libdir := filepath.Join(rootfs, "lib", "x86_64-linux-gnu")
		cmd = exec.CommandContext(ctx, ld, append([]string{"--library-path", libdir, filepath.Join(rootfs, imageBinary)}, args...)...)
		cmd.Env = []string{"OUTCROP_HOME=" + filepath.Join(rootfs, imageHome), "HOME=" + filepath.Join(rootfs, imageHome)}
	}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 20 * time.Second
	return cmd
}

// smoke unpacks the image and checks it works without a container runtime:
// --version, serve on loopback, /healthz through the image's own health
// command, and one Converse call on the default model.
func smoke(opt smokeOptions) error {
	if err := os.MkdirAll(opt.Work, 0o755); err != nil {
		return err
	}
	if !opt.KeepFiles {
		defer os.RemoveAll(opt.Work)
	}
	rootfs, err := unpackImage(opt.OCITar, opt.Work)
	if err != nil {
		return fmt.Errorf("unpack: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	out, err := inImage(ctx, rootfs, "--version").CombinedOutput()
	if err != nil {
		return fmt.Errorf("--version: %v: %s", err, out)
	}
	if !strings.Contains(string(out), opt.Version) {
		return fmt.Errorf("--version printed %q, want %q", strings.TrimSpace(string(out)), opt.Version)
	}
	fmt.Printf("smoke: --version: %s", out)

	models := filepath.Join(rootfs, imageHome, "models")
	if _, err := os.Stat(models); err != nil {
		if opt.ModelDir == "" {
			return errors.New("the image has no model and no -model-dir was given to mount as its volume")
		}
		// A base image gets its model on the volume, as an operator mounting
		// a pulled model store would give it.
		if err := copyTree(opt.ModelDir, models); err != nil {
			return err
		}
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := ln.Addr().String()
	ln.Close()
	var logs bytes.Buffer
	serve := inImage(ctx, rootfs, "serve", "--addr", addr)
	serve.Stdout, serve.Stderr = &logs, &logs
	if err := serve.Start(); err != nil {
		return err
	}
	defer func() {
		serve.Process.Signal(syscall.SIGTERM)
		serve.Wait()
	}()
	base := "http://" + addr
	deadline := time.Now().Add(3 * time.Minute)
	for {
		hc := inImage(ctx, rootfs, "health", "--url", base+"/healthz")
		if out, err := hc.CombinedOutput(); err == nil {
			fmt.Printf("smoke: health: %s", out)
			break
		} else if time.Now().After(deadline) {
			return fmt.Errorf("server did not become healthy: %v: %s\nserver log:\n%s", err, out, logs.String())
		}
		time.Sleep(500 * time.Millisecond)
	}

	body := `{"messages":[{"role":"user","content":[{"text":"Say hello."}]}],"inferenceConfig":{"maxTokens":16,"temperature":0}}`
	req, _ := http.NewRequestWithContext(ctx, "POST", base+"/model/"+opt.ModelID+"/converse", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("converse: %w", err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return fmt.Errorf("converse: %s: %s\nserver log:\n%s", resp.Status, rb, logs.String())
	}
	var cr struct {
		Output struct {
			Message struct {
				Content []struct{ Text string } `json:"content"`
			} `json:"message"`
		} `json:"output"`
		StopReason string `json:"stopReason"`
		Usage      struct {
			OutputTokens int `json:"outputTokens"`
		} `json:"usage"`
	}
	if err := json.Unmarshal(rb, &cr); err != nil {
		return fmt.Errorf("converse answer: %w: %s", err, rb)
	}
	if len(cr.Output.Message.Content) == 0 || strings.TrimSpace(cr.Output.Message.Content[0].Text) == "" || cr.Usage.OutputTokens == 0 {
		return fmt.Errorf("converse answered without text: %s", rb)
	}
	fmt.Printf("smoke: converse (%s, %d tokens): %q\n", cr.StopReason, cr.Usage.OutputTokens, cr.Output.Message.Content[0].Text)
	return nil
}

// copyTree copies a directory of regular files, owned by the image's user.
func copyTree(src, dst string) error {
	return filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		d := filepath.Join(dst, rel)
		if fi.IsDir() {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return err
			}
		} else if fi.Mode().IsRegular() {
			in, err := os.Open(p)
			if err != nil {
				return err
			}
			defer in.Close()
			out, err := os.Create(d)
			if err != nil {
				return err
			}
			if _, err := io.Copy(out, in); err != nil {
				out.Close()
				return err
			}
			if err := out.Close(); err != nil {
				return err
			}
		}
		if os.Geteuid() == 0 {
			return os.Lchown(d, imageUID, imageUID)
		}
		return nil
	})
}
