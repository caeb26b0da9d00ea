package archtest

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/outcrop/outcrop"

type pkg struct {
	ImportPath string
	Doc        string
	Name       string
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
