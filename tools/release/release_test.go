package main

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

var day = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

func TestBuildVulnDB(t *testing.T) {
	out := t.TempDir()
	n, err := buildVulnDB("testdata/osv", out)
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Fatalf("entries = %d, want 3", n)
	}
	var meta dbMeta
	readJSON(t, filepath.Join(out, "index", "db.json"), &meta)
	if want := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC); !meta.Modified.Equal(want) {
		t.Errorf("db modified = %v, want the newest entry's %v", meta.Modified, want)
	}
	var mods []moduleIndex
	readJSON(t, filepath.Join(out, "index", "modules.json"), &mods)
	got := map[string]string{}
	var order []string
	for _, m := range mods {
		order = append(order, m.Path)
		for _, v := range m.Vulns {
			got[m.Path+" "+v.ID] = v.Fixed
		}
	}
	if strings.Join(order, ",") != "example.com/a,example.com/b,stdlib" {
		t.Errorf("module order = %v", order)
	}
	want := map[string]string{
		"example.com/a GO-9999-0001": "2.0.1", // the highest fix over both affected blocks
		"example.com/a GO-9999-0003": "0.9.0",
		"example.com/b GO-9999-0002": "", // no fix
		"stdlib GO-9999-0002":        "1.26.9",
	}
	if len(got) != len(want) {
		t.Errorf("module vulns = %v, want %v", got, want)
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s fixed = %q (present %v), want %q", k, g, ok, v)
		}
	}
	src, _ := os.ReadFile("testdata/osv/GO-9999-0002.json")
	dst, err := os.ReadFile(filepath.Join(out, "ID", "GO-9999-0002.json"))
	if err != nil || !bytes.Equal(src, dst) {
		t.Errorf("ID file is not a byte copy of the OSV file (err %v)", err)
	}
	// Same input, same bytes.
	again := t.TempDir()
	if _, err := buildVulnDB("testdata/osv", again); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"db.json", "modules.json", "vulns.json"} {
		a, _ := os.ReadFile(filepath.Join(out, "index", f))
		b, _ := os.ReadFile(filepath.Join(again, "index", f))
		if !bytes.Equal(a, b) {
			t.Errorf("index/%s differs between two builds", f)
		}
	}
}

func TestBuildVulnDBErrors(t *testing.T) {
	empty := t.TempDir()
	if _, err := buildVulnDB(empty, t.TempDir()); err == nil {
		t.Error("an empty directory gave a database")
	}
	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, "GO-1-1.json"), []byte(`{"id":"GO-1-2"}`), 0o644)
	if _, err := buildVulnDB(bad, t.TempDir()); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Errorf("mismatched id: err = %v", err)
	}
	os.WriteFile(filepath.Join(bad, "GO-1-1.json"), []byte(`{"id":`), 0o644)
	if _, err := buildVulnDB(bad, t.TempDir()); err == nil {
		t.Error("truncated JSON gave a database")
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func TestAllowList(t *testing.T) {
	entry := func(fields string) string {
		return "entries:\n  - " + strings.ReplaceAll(fields, "; ", "\n    ") + "\n"
	}
	good := "id: GO-1; module: m; reason: not linked; reviewed: 2026-12-01; expires: 2027-03-01"
	for _, tc := range []struct {
		name, yaml, wantErr string
	}{
		{"good", entry(good), ""},
		{"empty file", "", ""},
		{"missing reason", entry("id: GO-1; module: m; reviewed: 2026-12-01; expires: 2027-03-01"), "required"},
		{"missing module", entry("id: GO-1; reason: r; reviewed: 2026-12-01; expires: 2027-03-01"), "required"},
		{"bad date", entry("id: GO-1; module: m; reason: r; reviewed: 12/01/2026; expires: 2027-03-01"), "YYYY-MM-DD"},
		{"expired", entry("id: GO-1; module: m; reason: r; reviewed: 2026-06-01; expires: 2026-12-01"), "expired"},
		{"reviewed in the future", entry("id: GO-1; module: m; reason: r; reviewed: 2027-01-01; expires: 2027-03-01"), "future"},
		{"expires before review", entry("id: GO-1; module: m; reason: r; reviewed: 2026-12-01; expires: 2026-11-01"), "not after"},
		{"duplicate", entry(good) + "  - " + strings.ReplaceAll(good, "; ", "\n    ") + "\n", "duplicate"},
		{"unknown field", entry(good + "; owner: me"), "owner"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readAllowList([]byte(tc.yaml), day)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

// scanStream is govulncheck's -format json stream in miniature: messages
// of the shapes it writes, one finding per level.
const scanStream = `{"config":{"protocol_version":"v1.0.0","scanner_name":"govulncheck","scan_mode":"binary"}}
{"osv":{"id":"GO-1","summary":"reachable in m"}}
{"osv":{"id":"GO-2","summary":"package only"}}
{"osv":{"id":"GO-3","summary":"module only"}}
{"finding":{"osv":"GO-1","fixed_version":"v1.2.0","trace":[{"module":"m","version":"v1.0.0"}]}}
{"finding":{"osv":"GO-1","fixed_version":"v1.2.0","trace":[{"module":"m","version":"v1.0.0","package":"m/p"}]}}
{"finding":{"osv":"GO-1","fixed_version":"v1.2.0","trace":[{"module":"m","version":"v1.0.0","package":"m/p","function":"Parse"}]}}
{"finding":{"osv":"GO-1","fixed_version":"v1.2.0","trace":[{"module":"m","version":"v1.0.0","package":"m/p","function":"Close","receiver":"*Conn"}]}}
{"finding":{"osv":"GO-2","trace":[{"module":"n","version":"v0.1.0","package":"n/q"}]}}
{"finding":{"osv":"GO-3","fixed_version":"v1.26.9","trace":[{"module":"stdlib","version":"v1.26.8"}]}}
`

func TestScanAndVerdict(t *testing.T) {
	scan, err := parseScan(strings.NewReader(scanStream))
	if err != nil {
		t.Fatal(err)
	}
	levels := map[string]int{"GO-1": levelSymbol, "GO-2": levelPackage, "GO-3": levelModule}
	for id, l := range levels {
		if scan[id] == nil || scan[id].Level != l {
			t.Errorf("%s: %+v, want level %d", id, scan[id], l)
		}
	}
	if got := strings.Join(scan["GO-1"].Symbols, ","); got != "p.Parse,p.Conn.Close" {
		t.Errorf("symbols = %q", got)
	}

	rep, err := verdict(scan, nil)
	if err == nil || !strings.Contains(rep, "GO-1") || !strings.Contains(rep, "p.Parse") {
		t.Fatalf("a reachable finding passed the gate: %v\n%s", err, rep)
	}
	allow := map[string]allowEntry{"GO-1": {ID: "GO-1", Module: "m", Reason: "r", Reviewed: "2026-12-01", Expires: "2027-01-01"}}
	if rep, err := verdict(scan, allow); err != nil {
		t.Fatalf("allow-listed finding failed: %v\n%s", err, rep)
	}
	// An exception is for one module: the same id elsewhere is not covered.
	other := map[string]allowEntry{"GO-1": {ID: "GO-1", Module: "other", Reason: "r", Reviewed: "2026-12-01", Expires: "2027-01-01"}}
	if _, err := verdict(scan, other); err == nil {
		t.Fatal("an exception for another module let the finding pass")
	}
	stale := map[string]allowEntry{"GO-1": allow["GO-1"], "GO-9": {ID: "GO-9", Module: "x"}}
	rep, _ = verdict(scan, stale)
	if !strings.Contains(rep, "no longer match a reachable finding (remove them): 1") {
		t.Errorf("stale entry not reported:\n%s", rep)
	}

	if _, err := parseScan(strings.NewReader(`{"finding":`)); err == nil {
		t.Error("truncated stream parsed")
	}
}

func FuzzParseScan(f *testing.F) {
	f.Add([]byte(scanStream))
	f.Add([]byte(`{"finding":{"osv":"x","trace":[]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		scan, err := parseScan(bytes.NewReader(b))
		if err != nil {
			return
		}
		verdict(scan, nil)
	})
}

func FuzzAllowList(f *testing.F) {
	f.Add([]byte("entries:\n  - id: GO-1\n    module: m\n    reason: r\n    reviewed: 2026-12-01\n    expires: 2027-03-01\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		readAllowList(b, day)
	})
}

// TestGatePlantedVulnerability is the gate end to end: a scratch module
// that calls a known-vulnerable function of golang.org/x/text is built and
// scanned with the real govulncheck against the database built from the
// golang.org/x/vulndb module; the gate must fail, pass once the finding is
// allow-listed, and pass without it once the dependency is upgraded.
func TestGatePlantedVulnerability(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a scratch module and runs govulncheck")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(t.TempDir(), "vulndb")
	src, err := vulnDBSource(defaultVulnDB)
	if err != nil {
		t.Fatalf("golang.org/x/vulndb through the module proxy: %v", err)
	}
	if _, err := buildVulnDB(src, db); err != nil {
		t.Fatal(err)
	}
	govulncheck := []string{gobin, "run", "golang.org/x/vuln/cmd/govulncheck@v1.9.0"}

	build := func(textVersion string) string {
		dir := t.TempDir()
		write(t, filepath.Join(dir, "main.go"), "package main\n\nimport (\n\t\"fmt\"\n\t\"os\"\n\n\t\"golang.org/x/text/language\"\n)\n\nfunc main() {\n\tt, err := language.Parse(os.Args[len(os.Args)-1])\n\tfmt.Println(t, err)\n}\n")
		write(t, filepath.Join(dir, "go.mod"), "module example.com/planted\n\ngo 1.22\n\nrequire golang.org/x/text "+textVersion+"\n")
		for _, args := range [][]string{{"mod", "tidy"}, {"build", "-o", "planted", "."}} {
			cmd := exec.Command(gobin, args...)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "CGO_ENABLED=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("go %v: %v\n%s", args, err, out)
			}
		}
		return filepath.Join(dir, "planted")
	}
	allowFile := func(body string) string {
		p := filepath.Join(t.TempDir(), "allow.yaml")
		write(t, p, body)
		return p
	}
	now := time.Now()
	reviewed := now.AddDate(0, 0, -1).Format(time.DateOnly)
	expires := now.AddDate(0, 1, 0).Format(time.DateOnly)

	vulnerable := build("v0.3.5")
	out := filepath.Join(t.TempDir(), "scan")
	err = runGate(govulncheck, db, vulnerable, allowFile("entries: []\n"), out, now)
	if err == nil {
		t.Fatal("the gate passed a binary that calls golang.org/x/text/language.Parse@v0.3.5 (GO-2021-0113)")
	}
	rep, _ := os.ReadFile(out + ".txt")
	if !strings.Contains(string(rep), "GO-2021-0113") || !strings.Contains(string(rep), "language.Parse") {
		t.Fatalf("report does not name GO-2021-0113 and language.Parse:\n%s", rep)
	}

	allowed := allowFile("entries:\n  - id: GO-2021-0113\n    module: golang.org/x/text\n    reason: test exception\n    reviewed: " + reviewed + "\n    expires: " + expires + "\n")
	if err := runGate(govulncheck, db, vulnerable, allowed, out, now); err != nil {
		rep, _ := os.ReadFile(out + ".txt")
		// Other reachable findings of the same old version may be listed;
		// GO-2021-0113 itself must not be among the failures.
		if strings.Contains(failures(string(rep)), "GO-2021-0113") {
			t.Fatalf("allow-listed finding still fails:\n%s", rep)
		}
	}

	fixed := build("v0.14.0")
	if err := runGate(govulncheck, db, fixed, allowFile("entries: []\n"), out, now); err != nil {
		rep, _ := os.ReadFile(out + ".txt")
		if strings.Contains(failures(string(rep)), "golang.org/x/text") {
			t.Fatalf("the upgraded dependency still fails the gate:\n%s", rep)
		}
	}
}

// failures is the FAIL section of a gate report.
func failures(rep string) string {
	i := strings.Index(rep, "FAIL")
	j := strings.Index(rep, "allowed (")
	if i < 0 || j < i {
		return ""
	}
	return rep[i:j]
}

func write(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestOllamaServerNotLinked guards the premise of the allow-list's ollama
// entries: only the llama bindings and their helpers are linked, never the
// Ollama server, its API, CLI, registry client or Go GGUF parser.
func TestOllamaServerNotLinked(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "../../cmd/outcrop").Output()
	if err != nil {
		t.Fatal(err)
	}
	var linked []string
	for _, p := range strings.Fields(string(out)) {
		if !strings.HasPrefix(p, "github.com/ollama/ollama") {
			continue
		}
		linked = append(linked, p)
		rest := strings.TrimPrefix(p, "github.com/ollama/ollama")
		for _, bad := range []string{"/server", "/api", "/cmd", "/fs/ggml", "/x", "/convert", "/app", "/openai", "/middleware", "/auth"} {
			if rest == bad || strings.HasPrefix(rest, bad+"/") {
				t.Errorf("%s is linked: the allow-list's ollama entries assume it is not", p)
			}
		}
	}
	if !slices.Contains(linked, "github.com/ollama/ollama/llama") {
		t.Fatalf("the llama package is not linked (%v): this test no longer checks anything", linked)
	}
}

func TestLayerTarAndImage(t *testing.T) {
	bin, err := exec.LookPath("true")
	if err != nil {
		t.Fatal(err)
	}
	libs, err := runtimeLibs(bin)
	if err != nil {
		t.Fatal(err)
	}
	models := t.TempDir()
	os.MkdirAll(filepath.Join(models, "m1"), 0o755)
	write(t, filepath.Join(models, "m1", "model.gguf"), "GGUF-not-really")
	spec := imageSpec{Binary: bin, Version: "v1.2.3", Created: time.Unix(1700000000, 0).UTC(), ModelDir: models}

	digest := func() (string, string) {
		img, err := buildImage(spec, libs)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		tarFile := filepath.Join(t.TempDir(), "img.tar")
		d, err := writeLayout(img, "outcrop:v1.2.3", filepath.Join(dir, "layout"), tarFile, spec.Created)
		if err != nil {
			t.Fatal(err)
		}
		return d.String(), tarFile
	}
	d1, tar1 := digest()
	d2, tar2 := digest()
	if d1 != d2 {
		t.Fatalf("two builds gave %s and %s", d1, d2)
	}
	b1, _ := os.ReadFile(tar1)
	b2, _ := os.ReadFile(tar2)
	if !bytes.Equal(b1, b2) {
		t.Fatal("two builds gave different layout tarballs")
	}

	// Read it back as a runtime would.
	work := t.TempDir()
	if err := untar(bytes.NewReader(b1), filepath.Join(work, "layout")); err != nil {
		t.Fatal(err)
	}
	idx, err := layout.ImageIndexFromPath(filepath.Join(work, "layout"))
	if err != nil {
		t.Fatal(err)
	}
	im, _ := idx.IndexManifest()
	if len(im.Manifests) != 1 || im.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "outcrop:v1.2.3" {
		t.Fatalf("index = %+v", im.Manifests)
	}
	img, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if c.User != "65532:65532" || c.Entrypoint[0] != imageBinary || strings.Join(c.Cmd, " ") != "serve --addr 0.0.0.0:8080" {
		t.Errorf("config = %+v", c)
	}
	if _, ok := c.Volumes[imageHome]; !ok || c.Healthcheck == nil || !strings.Contains(strings.Join(c.Healthcheck.Test, " "), "/healthz") {
		t.Errorf("volume or health check missing: %+v", c)
	}
	if !cf.Created.Time.Equal(spec.Created) {
		t.Errorf("created = %v", cf.Created)
	}
	files := map[string]*tar.Header{}
	tr := tar.NewReader(mutate.Extract(img))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		files["/"+strings.TrimSuffix(h.Name, "/")] = h
		if !h.ModTime.Equal(spec.Created) {
			t.Errorf("%s: mtime %v", h.Name, h.ModTime)
		}
	}
	for _, want := range []string{imageBinary, "/etc/passwd", "/data", "/data/models/m1/model.gguf", "/tmp"} {
		if files[want] == nil {
			t.Errorf("%s missing from the image", want)
		}
	}
	for _, l := range libs {
		if files[l.Path] == nil {
			t.Errorf("runtime library %s missing", l.Path)
		}
	}
	if h := files["/data"]; h != nil && h.Uid != imageUID {
		t.Errorf("/data owned by %d, want %d", h.Uid, imageUID)
	}
	if h := files["/tmp"]; h != nil && h.Mode&0o1000 == 0 {
		t.Errorf("/tmp mode %o lacks the sticky bit", h.Mode)
	}
}

func TestUntarRefusesEscape(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "../evil", Mode: 0o644, Size: 1, Typeflag: tar.TypeReg})
	tw.Write([]byte("x"))
	tw.Close()
	if err := untar(&buf, t.TempDir()); err == nil || !strings.Contains(err.Error(), "escapes") {
		t.Fatalf("err = %v", err)
	}
}

func TestSBOMMerge(t *testing.T) {
	dir := t.TempDir()
	ollama := filepath.Join(dir, "ollama")
	os.MkdirAll(filepath.Join(ollama, "llama", "llama.cpp"), 0o755)
	os.MkdirAll(filepath.Join(ollama, "ml", "backend", "ggml", "ggml"), 0o755)
	write(t, filepath.Join(ollama, "Makefile.sync"), "UPSTREAM=x\nFETCH_HEAD=abc1234\n")
	write(t, filepath.Join(ollama, "llama", "llama.cpp", "LICENSE"), "MIT License\n\nCopyright (c) 2023-2024 The ggml authors\n")
	gomod := filepath.Join(dir, "gomod.json")
	write(t, gomod, `{"bomFormat":"CycloneDX","specVersion":"1.6","metadata":{"component":{"name":"outcrop"}},
"components":[{"type":"library","bom-ref":"pkg:golang/github.com/ollama/ollama@v0.17.4?type=module","name":"github.com/ollama/ollama"}],
"dependencies":[{"ref":"pkg:golang/github.com/ollama/ollama@v0.17.4?type=module"}]}`)
	lock := filepath.Join(dir, "package-lock.json")
	write(t, lock, `{"lockfileVersion":3,"packages":{"":{"name":"console"},"node_modules/react":{"version":"19.2.0","license":"MIT"},
"node_modules/@xyflow/react":{"version":"12.9.0","license":"MIT"},"node_modules/vite":{"version":"8.3.4","dev":true,"license":"MIT"}}}`)
	libs := []runtimeLib{{Path: "/lib/x86_64-linux-gnu/libstdc++.so.6", Package: "libstdc++6", Version: "12.2.0-14+deb12u1"}}

	b, err := mergeSBOM(sbomInputs{GoSBOM: gomod, Declared: "../../release/components.yaml", OllamaDir: ollama, Libs: libs, NPMLock: lock})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Components []component `json:"components"`
		Deps       []struct {
			Ref       string   `json:"ref"`
			DependsOn []string `json:"dependsOn"`
		} `json:"dependencies"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	byName := map[string]component{}
	for _, c := range doc.Components {
		byName[c.Name] = c
	}
	check := func(name, version, license string) {
		t.Helper()
		c, ok := byName[name]
		if !ok {
			t.Errorf("%s missing from the SBOM", name)
			return
		}
		if c.Version != version {
			t.Errorf("%s version %q, want %q", name, c.Version, version)
		}
		got := ""
		if len(c.Licenses) > 0 {
			got = c.Licenses[0].License.ID
		}
		if got != license {
			t.Errorf("%s licence %q, want %q", name, got, license)
		}
	}
	check("llama.cpp", "abc1234", "MIT")
	check("ggml", "abc1234", "MIT")
	check("SmolLM2-135M-Instruct", "0.1.2", "Apache-2.0")
	check("react", "19.2.0", "MIT")
	check("@xyflow/react", "12.9.0", "MIT")
	check("libstdc++.so.6", "12.2.0-14+deb12u1", "")
	if _, ok := byName["vite"]; ok {
		t.Error("a dev dependency (build tool) is listed as shipped")
	}
	if len(doc.Deps) != 1 || len(doc.Deps[0].DependsOn) != 2 {
		t.Errorf("ollama's dependencies = %+v, want the two vendored components", doc.Deps)
	}

	// Without a console lockfile the SBOM says so instead of guessing.
	b, err = mergeSBOM(sbomInputs{GoSBOM: gomod, OllamaDir: ollama, NPMLock: filepath.Join(dir, "none.json")})
	if err != nil || !strings.Contains(string(b), "outcrop:npm-bundle") {
		t.Errorf("missing lockfile not noted (err %v)", err)
	}
	// A vendored tree without a recognisable licence is an error, not a blank.
	os.Remove(filepath.Join(ollama, "llama", "llama.cpp", "LICENSE"))
	if _, err := mergeSBOM(sbomInputs{GoSBOM: gomod, OllamaDir: ollama}); err == nil {
		t.Error("no licence found, yet the SBOM was written")
	}
}
