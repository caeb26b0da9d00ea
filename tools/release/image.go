package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The image's fixed facts.
const (
	imageUID    = 65532 // the non-root user the server runs as
	imageHome   = "/data"
	imageBinary = "/usr/local/bin/outcrop"
	imagePort   = "8080"
)

// imageFile is one entry of a layer.
type imageFile struct {
	Path string // absolute path inside the image
	Mode fs.FileMode
	UID  int
	Dir  bool
	Link string // symlink target
	Data []byte // contents; or Src when large
	Src  string // host file to read the contents from
}

// runtimeLib is a shared library the binary loads, as the dynamic linker of
// the build machine resolves it.
type runtimeLib struct {
	Path    string // path as the binary asks for it (e.g. /lib/x86_64-linux-gnu/libstdc++.so.6)
	Real    string // resolved host file
	Package string // Debian package that owns it, when known
	Version string
}

var lddLine = regexp.MustCompile(`^\s*(\S+)(?:\s+=>\s+(\S+))?\s+\(0x[0-9a-f]+\)$`)

// runtimeLibs lists the shared libraries binary needs (ldd), with the
// Debian package and version each comes from (dpkg-query), for the image
// and the SBOM.
func runtimeLibs(binary string) ([]runtimeLib, error) {
	out, err := runOut("ldd", binary)
	if err != nil {
		return nil, fmt.Errorf("ldd %s: %w", binary, err)
	}
	var libs []runtimeLib
	for _, line := range strings.Split(string(out), "\n") {
		m := lddLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		p := m[2]
		if p == "" {
			p = m[1]
		}
		if !strings.HasPrefix(p, "/") { // linux-vdso.so.1
			continue
		}
		real, err := filepath.EvalSymlinks(p)
		if err != nil {
			return nil, err
		}
		lib := runtimeLib{Path: p, Real: real}
		lib.Package, lib.Version = debPackage(real, p)
		libs = append(libs, lib)
	}
	if len(libs) == 0 {
		return nil, fmt.Errorf("ldd found no libraries in %s (a static binary needs no runtime layer; this build is cgo)", binary)
	}
	sort.Slice(libs, func(i, j int) bool { return libs[i].Path < libs[j].Path })
	return libs, nil
}

// debPackage asks dpkg which package owns one of paths (merged-/usr
// systems register either spelling), and that package's version.
func debPackage(paths ...string) (pkg, version string) {
	for _, p := range paths {
		for _, q := range []string{p, strings.Replace(p, "/usr/lib/", "/lib/", 1), strings.Replace(p, "/lib/", "/usr/lib/", 1)} {
			out, err := exec.Command("dpkg-query", "-S", q).Output()
			if err != nil {
				continue
			}
			pkg = strings.TrimSpace(strings.SplitN(string(out), ":", 2)[0])
			if v, err := exec.Command("dpkg-query", "-W", "-f=${Version}", pkg).Output(); err == nil {
				version = strings.TrimSpace(string(v))
			}
			return pkg, version
		}
	}
	return "", ""
}

// imageSpec says what goes into one image.
type imageSpec struct {
	Binary   string
	Version  string
	Created  time.Time // SOURCE_DATE_EPOCH: every timestamp in the image
	ModelDir string    // $OUTCROP_HOME/models to bake in; empty for the base image
	CACerts  string    // host CA bundle for outgoing TLS
}

// baseFiles is the root filesystem minus the model: the binary, its
// runtime libraries, a passwd entry for the non-root user, CA roots and
// the data directory.
func baseFiles(s imageSpec, libs []runtimeLib) []imageFile {
	files := []imageFile{
		{Path: "/etc", Dir: true, Mode: 0o755},
		{Path: "/etc/passwd", Mode: 0o644, Data: []byte(fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\noutcrop:x:%d:%d:outcrop:%s:/sbin/nologin\n", imageUID, imageUID, imageHome))},
		{Path: "/etc/group", Mode: 0o644, Data: []byte(fmt.Sprintf("root:x:0:\noutcrop:x:%d:\n", imageUID))},
		// Go's own resolver is used when nsswitch.conf says files then dns.
		{Path: "/etc/nsswitch.conf", Mode: 0o644, Data: []byte("hosts: files dns\n")},
		{Path: "/etc/hosts", Mode: 0o644, Data: []byte("127.0.0.1 localhost\n::1 localhost\n")},
		{Path: "/tmp", Dir: true, Mode: fs.ModeSticky | 0o777},
		{Path: imageHome, Dir: true, Mode: 0o755, UID: imageUID},
		{Path: imageBinary, Mode: 0o755, Src: s.Binary},
	}
	if s.CACerts != "" {
		files = append(files, imageFile{Path: "/etc/ssl/certs/ca-certificates.crt", Mode: 0o644, Src: s.CACerts})
	}
	for _, l := range libs {
		files = append(files, imageFile{Path: l.Path, Mode: 0o755, Src: l.Real})
	}
	return files
}

// modelFiles bakes the installed model store into $OUTCROP_HOME/models, so
// that a fresh volume starts with it (container runtimes copy an image's
// content into a new named volume).
func modelFiles(modelDir string) ([]imageFile, error) {
	files := []imageFile{{Path: imageHome, Dir: true, Mode: 0o755, UID: imageUID}}
	err := filepath.WalkDir(modelDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(modelDir, p)
		dst := path.Join(imageHome, "models", filepath.ToSlash(rel))
		switch {
		case d.IsDir():
			files = append(files, imageFile{Path: dst, Dir: true, Mode: 0o755, UID: imageUID})
		case d.Type().IsRegular():
			files = append(files, imageFile{Path: dst, Mode: 0o644, UID: imageUID, Src: p})
		case d.Type()&fs.ModeSymlink != 0:
			t, err := os.Readlink(p)
			if err != nil {
				return err
			}
			files = append(files, imageFile{Path: dst, Link: t, Mode: 0o777, UID: imageUID})
		}
		return nil
	})
	return files, err
}

// layerTar writes files as a tar stream that depends only on their paths,
// modes, owners and contents: entries sorted, parents created, every
// timestamp set to mtime, no user or group names.
func layerTar(files []imageFile, mtime time.Time) ([]byte, error) {
	byPath := map[string]imageFile{}
	for _, f := range files {
		for d := path.Dir(f.Path); d != "/"; d = path.Dir(d) {
			if _, ok := byPath[d]; !ok {
				byPath[d] = imageFile{Path: d, Dir: true, Mode: 0o755}
			}
		}
		byPath[f.Path] = f
	}
	paths := make([]string, 0, len(byPath))
	for p := range byPath {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, p := range paths {
		f := byPath[p]
		h := &tar.Header{
			Name:    strings.TrimPrefix(p, "/"),
			Mode:    int64(f.Mode.Perm()),
			Uid:     f.UID,
			Gid:     f.UID,
			ModTime: mtime,
			Format:  tar.FormatPAX,
		}
		if f.Mode&fs.ModeSticky != 0 {
			h.Mode |= 0o1000
		}
		data := f.Data
		switch {
		case f.Dir:
			h.Typeflag = tar.TypeDir
			h.Name += "/"
		case f.Link != "":
			h.Typeflag = tar.TypeSymlink
			h.Linkname = f.Link
		default:
			h.Typeflag = tar.TypeReg
			if f.Src != "" {
				b, err := os.ReadFile(f.Src)
				if err != nil {
					return nil, err
				}
				data = b
			}
			h.Size = int64(len(data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write(data); err != nil {
				return nil, err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func layerOf(tarBytes []byte) (v1.Layer, error) {
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(tarBytes)), nil
	}, tarball.WithMediaType(types.OCILayer))
}

// buildImage assembles the OCI image: one layer with the runtime, one with
// the model when the spec has one.
func buildImage(s imageSpec, libs []runtimeLib) (v1.Image, error) {
	base, err := layerTar(baseFiles(s, libs), s.Created)
	if err != nil {
		return nil, err
	}
	layers := []v1.Layer{}
	l, err := layerOf(base)
	if err != nil {
		return nil, err
	}
	layers = append(layers, l)
	history := []v1.History{{Created: v1.Time{Time: s.Created}, CreatedBy: "outcrop release: binary, C/C++ runtime libraries, non-root user, CA roots", Comment: "tools/release"}}
	if s.ModelDir != "" {
		mf, err := modelFiles(s.ModelDir)
		if err != nil {
			return nil, err
		}
		mt, err := layerTar(mf, s.Created)
		if err != nil {
			return nil, err
		}
		ml, err := layerOf(mt)
		if err != nil {
			return nil, err
		}
		layers = append(layers, ml)
		history = append(history, v1.History{Created: v1.Time{Time: s.Created}, CreatedBy: "outcrop release: default model in " + imageHome + "/models", Comment: "tools/release"})
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.AppendLayers(img, layers...)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Architecture = "amd64"
	cf.OS = "linux"
	cf.Created = v1.Time{Time: s.Created}
	cf.History = history
	cf.Config = v1.Config{
		User:         fmt.Sprintf("%d:%d", imageUID, imageUID),
		Entrypoint:   []string{imageBinary},
		Cmd:          []string{"serve", "--addr", "0.0.0.0:" + imagePort},
		Env:          []string{"PATH=/usr/local/bin", "OUTCROP_HOME=" + imageHome},
		WorkingDir:   imageHome,
		Volumes:      map[string]struct{}{imageHome: {}},
		ExposedPorts: map[string]struct{}{imagePort + "/tcp": {}},
		Healthcheck: &v1.HealthConfig{
			Test:        []string{"CMD", imageBinary, "health", "--url", "http://127.0.0.1:" + imagePort + "/healthz"},
			Interval:    30 * time.Second,
			Timeout:     5 * time.Second,
			StartPeriod: 60 * time.Second,
			Retries:     3,
		},
		Labels: map[string]string{
			"org.opencontainers.image.title":    "outcrop",
			"org.opencontainers.image.version":  s.Version,
			"org.opencontainers.image.licenses": "Apache-2.0",
			"org.opencontainers.image.created":  s.Created.UTC().Format(time.RFC3339),
		},
	}
	return mutate.ConfigFile(img, cf)
}

// writeLayout writes img as an OCI image layout directory, then packs the
// directory into a tar file with fixed timestamps; it returns the manifest
// digest.
func writeLayout(img v1.Image, ref, dir, tarFile string, mtime time.Time) (v1.Hash, error) {
	if err := os.RemoveAll(dir); err != nil {
		return v1.Hash{}, err
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return v1.Hash{}, err
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": ref})); err != nil {
		return v1.Hash{}, err
	}
	d, err := img.Digest()
	if err != nil {
		return v1.Hash{}, err
	}
	var files []imageFile
	err = filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if de.IsDir() {
			files = append(files, imageFile{Path: "/" + filepath.ToSlash(rel), Dir: true, Mode: 0o755})
		} else {
			files = append(files, imageFile{Path: "/" + filepath.ToSlash(rel), Mode: 0o644, Src: p})
		}
		return nil
	})
	if err != nil {
		return v1.Hash{}, err
	}
	b, err := layerTar(files, mtime)
	if err != nil {
		return v1.Hash{}, err
	}
	return d, os.WriteFile(tarFile, b, 0o644)
}
