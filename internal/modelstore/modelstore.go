// Package modelstore manages the GGUF model files that the built-in engine
// serves, under $OUTCROP_HOME/models (default ~/.outcrop/models).
//
// Each installed model is two files: <id>.gguf and <id>.json, a small
// manifest with its size, SHA-256 and origin. Files are written under a
// temporary name and renamed into place, so a model id either resolves to
// a complete, validated GGUF file or does not resolve at all.
package modelstore

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/outcrop/outcrop/internal/gguf"
)

// DefaultModelID is the id of the zero-config default model,
// SmolLM2-135M-Instruct.
const DefaultModelID = "smollm2-135m-instruct"

// ErrNotFound is returned for a model id that is not installed.
var ErrNotFound = errors.New("model not installed")

// ErrInvalidID is returned for ids that are not usable as file names.
var ErrInvalidID = errors.New("invalid model id")

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,127}$`)

// Model is one installed model.
type Model struct {
	ID     string    `json:"id"`
	Path   string    `json:"-"` // the .gguf file
	Size   int64     `json:"size"`
	SHA256 string    `json:"sha256"`
	Source string    `json:"source"` // URL or file it came from
	Added  time.Time `json:"added"`
	Arch   string    `json:"architecture,omitempty"`
	Name   string    `json:"name,omitempty"` // general.name from the GGUF
	// Converted is the weight format the file was converted to on import
	// (outcrop models import --quantize), empty for a file as it came.
	Converted string `json:"converted,omitempty"`
}

// Store is a model directory.
type Store struct {
	dir string
}

// Home returns the Outcrop home directory: $OUTCROP_HOME if set, otherwise
// ~/.outcrop. getenv is os.Getenv in production.
func Home(getenv func(string) string) string {
	if h := getenv("OUTCROP_HOME"); h != "" {
		return h
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".outcrop")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".outcrop")
	}
	return ".outcrop"
}

// Open returns the store under home, creating its directory if needed.
func Open(home string) (*Store, error) {
	dir := filepath.Join(home, "models")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("model store: %w", err)
	}
	return &Store{dir: dir}, nil
}

// Dir returns the directory holding the model files.
func (s *Store) Dir() string { return s.dir }

// CheckID reports whether id is a valid model id: lower-case letters,
// digits, '.', '_' and '-', starting with a letter or digit.
func CheckID(id string) error {
	if !idPattern.MatchString(id) {
		return fmt.Errorf("%w %q: use lower-case letters, digits, '.', '_' and '-'", ErrInvalidID, id)
	}
	return nil
}

// IDFromName derives a model id from a file name or URL path: the base
// name, lower-cased, without the .gguf extension, other characters
// replaced by '-'.
func IDFromName(name string) string {
	base := name
	if i := strings.LastIndexAny(base, "/\\"); i >= 0 {
		base = base[i+1:]
	}
	if i := strings.IndexAny(base, "?#"); i >= 0 {
		base = base[:i]
	}
	base = strings.TrimSuffix(strings.ToLower(base), ".gguf")
	var b strings.Builder
	for _, r := range base {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	return strings.Trim(b.String(), "-._")
}

func (s *Store) paths(id string) (model, manifest string) {
	return filepath.Join(s.dir, id+".gguf"), filepath.Join(s.dir, id+".json")
}

// Lookup returns the installed model id, or an error wrapping ErrNotFound.
func (s *Store) Lookup(id string) (Model, error) {
	if err := CheckID(id); err != nil {
		return Model{}, err
	}
	mp, jp := s.paths(id)
	st, err := os.Stat(mp)
	if errors.Is(err, fs.ErrNotExist) {
		return Model{}, fmt.Errorf("%w: %q (in %s; see `outcrop models ls`)", ErrNotFound, id, s.dir)
	}
	if err != nil {
		return Model{}, err
	}
	m := Model{ID: id, Size: st.Size(), Added: st.ModTime()}
	if data, err := os.ReadFile(jp); err == nil {
		_ = json.Unmarshal(data, &m) // a damaged manifest loses metadata only
	}
	m.ID, m.Path = id, mp
	return m, nil
}

// List returns the installed models sorted by id.
func (s *Store) List() ([]Model, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("model store: %w", err)
	}
	var out []Model
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".gguf") {
			continue
		}
		id := strings.TrimSuffix(name, ".gguf")
		if CheckID(id) != nil {
			continue
		}
		if m, err := s.Lookup(id); err == nil {
			out = append(out, m)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Remove deletes an installed model.
func (s *Store) Remove(id string) error {
	if _, err := s.Lookup(id); err != nil {
		return err
	}
	mp, jp := s.paths(id)
	if err := os.Remove(mp); err != nil {
		return fmt.Errorf("remove model %q: %w", id, err)
	}
	if err := os.Remove(jp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove model %q: %w", id, err)
	}
	return nil
}

// Import copies the GGUF file src into the store as id (derived from the
// file name when empty), replacing any model with that id. The file must
// be a complete GGUF file. source is where the file came from, recorded in
// the manifest and shown by `outcrop models ls` (a package and version, a
// URL); empty means src's absolute path, which is only useful when src is
// not a temporary file.
func (s *Store) Import(src, id, source string) (Model, error) {
	return s.importFile(src, src, Model{ID: id, Source: sourceOf(src, source)})
}

// ImportConverted installs converted, a file made from the file orig by
// converting its weights to format, as id (derived from orig's name when
// empty). The manifest records source (orig's absolute path when empty) as
// where the model came from and format as Converted.
func (s *Store) ImportConverted(converted, orig, id, source, format string) (Model, error) {
	return s.importFile(converted, orig, Model{ID: id, Source: sourceOf(orig, source), Converted: format})
}

// sourceOf is the recorded source of the file path: source when given,
// else the path made absolute.
func sourceOf(path, source string) string {
	if source != "" {
		return source
	}
	abs, _ := filepath.Abs(path)
	return abs
}

// importFile copies src into the store under m.ID (derived from the name
// of the file named, the original of a converted src, when empty) and
// installs it with the manifest m, completed with what the copy measured.
func (s *Store) importFile(src, named string, m Model) (Model, error) {
	if m.ID == "" {
		m.ID = IDFromName(named)
	}
	id := m.ID
	if err := CheckID(id); err != nil {
		return Model{}, err
	}
	g, err := gguf.Open(src)
	if err != nil {
		return Model{}, err
	}
	in, err := os.Open(src)
	if err != nil {
		return Model{}, err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(s.dir, "."+id+".import-*")
	if err != nil {
		return Model{}, fmt.Errorf("import %s: %w", src, err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), in)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Model{}, fmt.Errorf("import %s: %w", src, err)
	}
	m.Size, m.SHA256, m.Added = n, hex.EncodeToString(h.Sum(nil)), time.Now().UTC()
	m.Arch, m.Name = g.Architecture(), g.String("general.name")
	return s.install(tmp.Name(), m)
}

// install moves a verified file into place and writes its manifest.
func (s *Store) install(file string, m Model) (Model, error) {
	mp, jp := s.paths(m.ID)
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return Model{}, err
	}
	if err := os.Chmod(file, 0o644); err != nil {
		return Model{}, err
	}
	if err := os.Rename(file, mp); err != nil {
		return Model{}, fmt.Errorf("install model %q: %w", m.ID, err)
	}
	tmp := jp + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return Model{}, fmt.Errorf("install model %q: %w", m.ID, err)
	}
	if err := os.Rename(tmp, jp); err != nil {
		return Model{}, fmt.Errorf("install model %q: %w", m.ID, err)
	}
	m.Path = mp
	return m, nil
}
