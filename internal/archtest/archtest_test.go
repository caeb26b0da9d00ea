package archtest

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/outcrop/outcrop"

type pkg struct {
	ImportPath string
	Dir        string
	Doc        string
	Name       string
	GoFiles    []string // non-test files
	Imports    []string
	Deps       []string
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", module+"/...")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func TestPackageComments(t *testing.T) {
	for _, p := range listPackages(t) {
		if p.Doc == "" {
			t.Errorf("package %s has no package comment", p.ImportPath)
		}
	}
}

func ours(deps []string) []string {
	var out []string
	for _, d := range deps {
		if strings.HasPrefix(d, module+"/") {
			out = append(out, strings.TrimPrefix(d, module+"/"))
		}
	}
	return out
}

func TestDependenciesPointInward(t *testing.T) {
	forbidden := func(path string) []string {
		switch {
		case path == "internal/llm":
			return []string{"internal/"} // nothing of ours
		case strings.HasPrefix(path, "internal/provider/"):
			return []string{"internal/gateway", "internal/routing", "internal/httpapi", "internal/app", "internal/cli", "internal/config", "internal/auth", "internal/store"}
		case path == "internal/gateway", path == "internal/routing":
			return []string{"internal/httpapi", "internal/app", "internal/cli"}
		}
		return nil
	}
	for _, p := range listPackages(t) {
		path := strings.TrimPrefix(p.ImportPath, module+"/")
		for _, d := range ours(p.Deps) {
			for _, f := range forbidden(path) {
				if strings.HasPrefix(d, f) && d != "internal/testenv" {
					t.Errorf("%s depends on %s; dependencies must point inward (AGENTS.md)", path, d)
				}
			}
			if d == "internal/app" && path != "cmd/outcrop" && path != "internal/cli" {
				t.Errorf("%s imports internal/app; only cmd/outcrop (through internal/cli) may", path)
			}
		}
	}
}

// TestSecurityPackagesIndependent: authentication and authorization
// (auth), limits and quotas (quota) and the audit log (audit) do not import
// one another, directly or not. They report decisions through
// gateway.RecordDecision and are built side by side by internal/app, so
// each can change or be replaced alone.
func TestSecurityPackagesIndependent(t *testing.T) {
	security := []string{"internal/auth", "internal/quota", "internal/audit"}
	for _, p := range listPackages(t) {
		path := strings.TrimPrefix(p.ImportPath, module+"/")
		for _, own := range security {
			if path != own {
				continue
			}
			for _, d := range ours(p.Deps) {
				for _, other := range security {
					if other != own && (d == other || strings.HasPrefix(d, other+"/")) {
						t.Errorf("%s depends on %s; auth, quota and audit must not import one another", path, d)
					}
				}
				if d == "internal/httpapi" || strings.HasPrefix(d, "internal/httpapi/") {
					t.Errorf("%s depends on %s; httpapi writes the wire errors, security packages return them", path, d)
				}
			}
		}
	}
}

// sourceUses returns the non-test files of packages outside allowed
// (import-path prefixes) whose text contains needle.
func sourceUses(t *testing.T, needle string, allowed ...string) []string {
	t.Helper()
	var out []string
	for _, p := range listPackages(t) {
		path := strings.TrimPrefix(p.ImportPath, module+"/")
		skip := false
		for _, a := range allowed {
			skip = skip || path == a || strings.HasPrefix(path, a+"/")
		}
		if skip {
			continue
		}
		for _, f := range p.GoFiles {
			b, err := os.ReadFile(filepath.Join(p.Dir, f))
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(b, []byte(needle)) {
				out = append(out, filepath.Join(path, f))
			}
		}
	}
	return out
}

// TestOneErrorMappingPerAPI: only httpapi writes Bedrock error shapes
// (the X-Amzn-ErrorType header); authentication failures reach it through
// auth.Options.WriteError instead of a second copy of the mapping.
func TestOneErrorMappingPerAPI(t *testing.T) {
	for _, f := range sourceUses(t, `Set("X-Amzn-ErrorType"`, "internal/httpapi") {
		t.Errorf("%s writes X-Amzn-ErrorType; Bedrock error shapes belong to internal/httpapi", f)
	}
}

// TestStageListInApp: the inference pipeline (gateway.Options with its
// Stages) is declared in internal/app alone; a package never assembles
// another's stages.
func TestStageListInApp(t *testing.T) {
	for _, f := range sourceUses(t, "gateway.Options{", "internal/app") {
		t.Errorf("%s builds a gateway pipeline; the stage list is declared in internal/app (pipeline)", f)
	}
}

// TestHTTPAPIWithoutRouting: the API edge resolves model names through the
// small gateway.Catalog interface and never imports the router, directly or
// not, so routing's internals (deployments, state, policies) cannot leak
// into wire handling, and the router can change without touching httpapi.
func TestHTTPAPIWithoutRouting(t *testing.T) {
	for _, p := range listPackages(t) {
		if p.ImportPath != module+"/internal/httpapi" {
			continue
		}
		for _, d := range ours(p.Deps) {
			if d == "internal/routing" || strings.HasPrefix(d, "internal/routing/") {
				t.Errorf("internal/httpapi depends on %s; it resolves models through gateway.Catalog", d)
			}
		}
		return
	}
	t.Fatal("internal/httpapi not found")
}
