package modelstore_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/outcrop/outcrop/internal/gguf/ggufgen"
	"github.com/outcrop/outcrop/internal/modelstore"
)

func tinyGGUF(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := ggufgen.Write(&b, ggufgen.Options{Layers: 1, Embd: 32, FF: 64, Heads: 2, KVHeads: 1}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func digest(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func TestImportListRemove(t *testing.T) {
	home := t.TempDir()
	s, err := modelstore.Open(home)
	if err != nil {
		t.Fatal(err)
	}
	data := tinyGGUF(t)
	src := filepath.Join(t.TempDir(), "Tiny-Model.Q8_0.gguf")
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := s.Import(src, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if m.ID != "tiny-model.q8_0" || m.SHA256 != digest(data) || m.Size != int64(len(data)) || m.Arch != "llama" {
		t.Errorf("Import = %+v", m)
	}
	if _, err := s.Import(src, modelstore.DefaultModelID, ""); err != nil {
		t.Fatal(err)
	}
	got, err := s.Lookup(modelstore.DefaultModelID)
	if err != nil || got.Path != filepath.Join(home, "models", modelstore.DefaultModelID+".gguf") || got.SHA256 != m.SHA256 {
		t.Fatalf("Lookup = %+v, %v", got, err)
	}
	list, err := s.List()
	if err != nil || len(list) != 2 || list[0].ID != modelstore.DefaultModelID {
		t.Fatalf("List = %+v, %v", list, err)
	}
	if err := s.Remove(m.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Lookup(m.ID); !errors.Is(err, modelstore.ErrNotFound) {
		t.Errorf("Lookup after Remove = %v, want ErrNotFound", err)
	}
	if err := s.Remove("nope"); !errors.Is(err, modelstore.ErrNotFound) {
		t.Errorf("Remove(nope) = %v, want ErrNotFound", err)
	}
}

func TestImportRejects(t *testing.T) {
	s, _ := modelstore.Open(t.TempDir())
	dir := t.TempDir()
	data := tinyGGUF(t)
	files := map[string][]byte{"notes.gguf": []byte("plain text"), "cut.gguf": data[:len(data)/3]}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"notes.gguf", "cut.gguf", "absent.gguf"} {
		path := filepath.Join(dir, name)
		if _, err := s.Import(path, "", ""); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("Import(%s) = %v, want an error naming the file", name, err)
		}
	}
	if _, err := s.Import(filepath.Join(dir, "notes.gguf"), "Bad ID!", ""); !errors.Is(err, modelstore.ErrInvalidID) {
		t.Errorf("Import with bad id = %v, want ErrInvalidID", err)
	}
	if list, _ := s.List(); len(list) != 0 {
		t.Errorf("rejected imports left %v", list)
	}
}

// hfServer serves one file the way Hugging Face's resolve endpoint does,
// honouring Range; failAfter > 0 cuts the first response after that many
// bytes.
type hfServer struct {
	data      []byte
	linked    string // X-Linked-Etag value
	failAfter int
	requests  atomic.Int32
	ranges    []string
}

func (h *hfServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := h.requests.Add(1)
	if r.URL.Path != "/org/repo/resolve/main/Tiny.gguf" {
		http.NotFound(w, r)
		return
	}
	h.ranges = append(h.ranges, r.Header.Get("Range"))
	if h.linked != "" {
		w.Header().Set("X-Linked-Etag", `"`+h.linked+`"`)
	}
	body := h.data
	status := http.StatusOK
	if rg := r.Header.Get("Range"); rg != "" {
		start, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(rg, "bytes="), "-"))
		if start >= len(h.data) {
			w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
			return
		}
		body = h.data[start:]
		status = http.StatusPartialContent
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, len(h.data)-1, len(h.data)))
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if n == 1 && h.failAfter > 0 {
		w.Write(body[:h.failAfter])
		w.(http.Flusher).Flush()
		// Abort the connection mid-body.
		panic(http.ErrAbortHandler)
	}
	w.Write(body)
}

func TestPull(t *testing.T) {
	data := tinyGGUF(t)
	tests := []struct {
		name       string
		srv        *hfServer
		opts       modelstore.PullOptions
		wantErr    bool
		wantTries  int
		wantRanges []string
	}{
		{name: "server digest", srv: &hfServer{data: data, linked: digest(data)}, wantTries: 1, wantRanges: []string{""}},
		{name: "given digest", srv: &hfServer{data: data}, opts: modelstore.PullOptions{SHA256: digest(data)}, wantTries: 1},
		{name: "digest mismatch", srv: &hfServer{data: data, linked: strings.Repeat("ab", 32)}, wantErr: true, wantTries: 1},
		{
			name: "resume after a cut", srv: &hfServer{data: data, linked: digest(data), failAfter: 1000},
			wantErr: true, wantTries: 1, // the first pull fails; the second (below) resumes
			wantRanges: []string{""},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.srv)
			defer srv.Close()
			home := t.TempDir()
			s, _ := modelstore.Open(home)
			var calls int
			tc.opts.Endpoint = srv.URL
			tc.opts.Progress = func(done, total int64) { calls++ }
			_, err := s.Pull(context.Background(), "org/repo/Tiny.gguf", tc.opts)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Pull = %v, wantErr %v", err, tc.wantErr)
			}
			if got := int(tc.srv.requests.Load()); got != tc.wantTries {
				t.Errorf("%d requests, want %d", got, tc.wantTries)
			}
			if tc.name == "resume after a cut" {
				m, err := s.Pull(context.Background(), "org/repo/Tiny.gguf", tc.opts)
				if err != nil {
					t.Fatalf("resumed Pull: %v", err)
				}
				if tc.srv.ranges[1] != "bytes=1000-" {
					t.Errorf("resume asked for %q, want bytes=1000-", tc.srv.ranges[1])
				}
				if m.SHA256 != digest(data) {
					t.Errorf("resumed file digest %s", m.SHA256)
				}
			}
			if err != nil {
				if _, lerr := s.Lookup("tiny"); !errors.Is(lerr, modelstore.ErrNotFound) && tc.name != "resume after a cut" {
					t.Errorf("failed pull installed a model")
				}
				return
			}
			m, err := s.Lookup("tiny")
			if err != nil || m.SHA256 != digest(data) || !strings.HasPrefix(m.Source, srv.URL) {
				t.Errorf("Lookup = %+v, %v", m, err)
			}
			if calls == 0 {
				t.Errorf("progress never reported")
			}
		})
	}
}

func TestResolve(t *testing.T) {
	tests := []struct {
		ref, wantURL, wantID string
		wantErr              bool
	}{
		{ref: "smollm2-135m-instruct", wantURL: "https://huggingface.co/HuggingFaceTB/SmolLM2-135M-Instruct-GGUF/resolve/main/smollm2-135m-instruct-q8_0.gguf", wantID: "smollm2-135m-instruct"},
		{ref: "https://example.com/x/My_Model.Q4_K_M.gguf?download=1", wantURL: "https://example.com/x/My_Model.Q4_K_M.gguf?download=1", wantID: "my_model.q4_k_m"},
		{ref: "org/repo/sub/file.gguf", wantURL: "https://huggingface.co/org/repo/resolve/main/sub/file.gguf", wantID: "file"},
		{ref: "what", wantErr: true},
	}
	for _, tc := range tests {
		u, id, err := modelstore.Resolve(tc.ref, "")
		if (err != nil) != tc.wantErr || u != tc.wantURL || id != tc.wantID {
			t.Errorf("Resolve(%q) = %q, %q, %v; want %q, %q", tc.ref, u, id, err, tc.wantURL, tc.wantID)
		}
	}
}

func TestHome(t *testing.T) {
	env := map[string]string{"HOME": "/home/u"}
	if got := modelstore.Home(func(k string) string { return env[k] }); got != "/home/u/.outcrop" {
		t.Errorf("Home() = %q", got)
	}
	env["OUTCROP_HOME"] = "/srv/outcrop"
	if got := modelstore.Home(func(k string) string { return env[k] }); got != "/srv/outcrop" {
		t.Errorf("Home() with OUTCROP_HOME = %q", got)
	}
}
