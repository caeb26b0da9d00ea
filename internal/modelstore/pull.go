package modelstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/outcrop/outcrop/internal/gguf"
)

// DefaultHuggingFace is the Hugging Face endpoint that names resolve
// against.
const DefaultHuggingFace = "https://huggingface.co"

// catalog maps short names to Hugging Face repository files.
var catalog = map[string]struct{ repo, file string }{
	DefaultModelID: {"HuggingFaceTB/SmolLM2-135M-Instruct-GGUF", "smollm2-135m-instruct-q8_0.gguf"},
}

// PullOptions tune Pull.
type PullOptions struct {
	// ID names the installed model; default: the short name, or the file
	// name of the URL without .gguf.
	ID string
	// SHA256 is the expected digest (hex). When empty, the digest that
	// Hugging Face sends (X-Linked-Etag, or a 64-hex ETag) is used; a
	// download with neither is accepted after GGUF validation only.
	SHA256 string
	// Endpoint replaces DefaultHuggingFace when resolving names.
	Endpoint string
	// Client is the HTTP client; default http.DefaultClient.
	Client *http.Client
	// Progress, if set, is called as bytes arrive with the bytes held so
	// far and the total size (-1 if unknown).
	Progress func(done, total int64)
}

// Resolve turns a pull reference into a download URL and a default id. A
// reference is a full http(s) URL, a catalog name such as
// smollm2-135m-instruct, or owner/repo/file.gguf (a file on the main
// branch of a Hugging Face repository).
func Resolve(ref, endpoint string) (rawURL, id string, err error) {
	if endpoint == "" {
		endpoint = DefaultHuggingFace
	}
	endpoint = strings.TrimRight(endpoint, "/")
	switch {
	case strings.HasPrefix(ref, "http://") || strings.HasPrefix(ref, "https://"):
		u, err := url.Parse(ref)
		if err != nil {
			return "", "", fmt.Errorf("pull %q: %w", ref, err)
		}
		return ref, IDFromName(u.Path), nil
	case catalog[ref].repo != "":
		c := catalog[ref]
		return endpoint + "/" + c.repo + "/resolve/main/" + c.file, ref, nil
	case strings.Count(ref, "/") >= 2 && strings.HasSuffix(strings.ToLower(ref), ".gguf"):
		parts := strings.SplitN(ref, "/", 3)
		return endpoint + "/" + parts[0] + "/" + parts[1] + "/resolve/main/" + parts[2], IDFromName(parts[2]), nil
	}
	return "", "", fmt.Errorf("pull %q: not a URL, a known model name (%s) or owner/repo/file.gguf", ref, knownNames())
}

func knownNames() string {
	var names []string
	for n := range catalog {
		names = append(names, n)
	}
	return strings.Join(names, ", ")
}

var hexDigest = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Pull downloads a model and installs it. An interrupted download leaves
// <id>.gguf.partial behind and the next Pull of the same id resumes it
// with an HTTP Range request. The file is installed only after its SHA-256
// matches and it reads as a complete GGUF file.
func (s *Store) Pull(ctx context.Context, ref string, o PullOptions) (Model, error) {
	rawURL, id, err := Resolve(ref, o.Endpoint)
	if err != nil {
		return Model{}, err
	}
	if o.ID != "" {
		id = o.ID
	}
	if err := CheckID(id); err != nil {
		return Model{}, err
	}
	want := strings.ToLower(o.SHA256)
	if want != "" && !hexDigest.MatchString(want) {
		return Model{}, fmt.Errorf("pull %s: --sha256 %q is not 64 hex digits", id, o.SHA256)
	}
	client := o.Client
	if client == nil {
		client = http.DefaultClient
	}
	partial := filepath.Join(s.dir, id+".gguf.partial")
	f, err := os.OpenFile(partial, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return Model{}, fmt.Errorf("pull %s: %w", id, err)
	}
	defer f.Close()

	// Hash what an earlier attempt left, so the digest covers the file.
	h := sha256.New()
	have, err := io.Copy(h, f)
	if err != nil {
		return Model{}, fmt.Errorf("pull %s: read partial download: %w", id, err)
	}
	resp, err := get(ctx, client, rawURL, have)
	if err != nil {
		return Model{}, fmt.Errorf("pull %s: %w", id, err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusPartialContent:
		if start, ok := rangeStart(resp.Header.Get("Content-Range")); !ok || start != have {
			return Model{}, fmt.Errorf("pull %s: server resumed at %q, want byte %d", id, resp.Header.Get("Content-Range"), have)
		}
	case http.StatusOK:
		// No resume support (or nothing to resume): start over.
		if err := f.Truncate(0); err != nil {
			return Model{}, err
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return Model{}, err
		}
		h.Reset()
		have = 0
	case http.StatusRequestedRangeNotSatisfiable:
		// The partial file already holds everything.
	default:
		return Model{}, fmt.Errorf("pull %s: GET %s: %s", id, rawURL, resp.Status)
	}
	if want == "" {
		want = serverDigest(resp.Header)
	}
	total := int64(-1)
	if resp.ContentLength >= 0 && resp.StatusCode != http.StatusRequestedRangeNotSatisfiable {
		total = have + resp.ContentLength
	}
	if resp.StatusCode != http.StatusRequestedRangeNotSatisfiable {
		pw := &progressWriter{done: have, total: total, fn: o.Progress}
		if _, err := io.Copy(io.MultiWriter(f, h, pw), resp.Body); err != nil {
			return Model{}, fmt.Errorf("pull %s: download interrupted at %d bytes (run pull again to resume): %w", id, pw.done, err)
		}
		pw.report(true)
	}
	if err := f.Sync(); err != nil {
		return Model{}, err
	}
	got := hex.EncodeToString(h.Sum(nil))
	if want != "" && got != want {
		f.Close()
		os.Remove(partial)
		return Model{}, fmt.Errorf("pull %s: SHA-256 mismatch: got %s, want %s (download removed)", id, got, want)
	}
	g, err := gguf.Open(partial)
	if err != nil {
		f.Close()
		os.Remove(partial)
		return Model{}, fmt.Errorf("pull %s: %w", id, err)
	}
	st, err := f.Stat()
	if err != nil {
		return Model{}, err
	}
	f.Close()
	return s.install(partial, Model{ID: id, Size: st.Size(), SHA256: got, Source: rawURL, Added: time.Now().UTC(),
		Arch: g.Architecture(), Name: g.String("general.name")})
}

func get(ctx context.Context, c *http.Client, rawURL string, from int64) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, err
	}
	if from > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(from, 10)+"-")
	}
	req.Header.Set("User-Agent", "outcrop-models")
	return c.Do(req)
}

// rangeStart parses the first byte of "bytes START-END/TOTAL".
func rangeStart(v string) (int64, bool) {
	v, ok := strings.CutPrefix(v, "bytes ")
	if !ok {
		return 0, false
	}
	start, _, ok := strings.Cut(v, "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(start, 10, 64)
	return n, err == nil
}

// serverDigest returns the SHA-256 that Hugging Face reports for LFS
// files: X-Linked-Etag on the redirect-free response, or the ETag itself.
func serverDigest(h http.Header) string {
	for _, k := range []string{"X-Linked-Etag", "Etag"} {
		v := strings.ToLower(strings.Trim(strings.TrimPrefix(h.Get(k), "W/"), `"`))
		if hexDigest.MatchString(v) {
			return v
		}
	}
	return ""
}

// progressWriter counts bytes and reports them at most ten times a second.
type progressWriter struct {
	done, total int64
	fn          func(done, total int64)
	last        time.Time
}

func (p *progressWriter) Write(b []byte) (int, error) {
	p.done += int64(len(b))
	p.report(false)
	return len(b), nil
}

func (p *progressWriter) report(final bool) {
	if p.fn == nil {
		return
	}
	if now := time.Now(); final || now.Sub(p.last) >= 100*time.Millisecond {
		p.last = now
		p.fn(p.done, p.total)
	}
}
