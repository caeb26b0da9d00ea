package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/outcrop/outcrop/internal/llm"
)

func runGuardrailsCLI(t *testing.T, home, stdin string, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	env := &Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb, Getenv: func(k string) string {
		if k == "OUTCROP_HOME" {
			return home
		}
		return ""
	}}
	err := Run(context.Background(), env, append([]string{"guardrails"}, args...))
	return out.String(), err
}

func TestGuardrailsCLI(t *testing.T) {
	home := t.TempDir()
	def := filepath.Join(home, "g.json")
	os.WriteFile(def, []byte(`{"name":"cli-guard","blockedInputMessaging":"blocked in","blockedOutputsMessaging":"blocked out",
		"sensitiveInformationPolicyConfig":{"piiEntitiesConfig":[{"type":"EMAIL","action":"ANONYMIZE"}]}}`), 0o644)
	out, err := runGuardrailsCLI(t, home, "", "create", def)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	var created struct{ GuardrailID string }
	if err := json.Unmarshal([]byte(out), &created); err != nil || created.GuardrailID == "" {
		t.Fatalf("create output %q: %v", out, err)
	}
	id := created.GuardrailID

	out, err = runGuardrailsCLI(t, home, "", "apply", id, "write to a@example.com")
	if err != nil || !strings.Contains(out, `"text": "write to {EMAIL}"`) {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	if out, err = runGuardrailsCLI(t, home, "", "version", "--description", "v1", id); err != nil || !strings.Contains(out, `"version": "1"`) {
		t.Fatalf("version: %v\n%s", err, out)
	}
	if _, err = runGuardrailsCLI(t, home, `{"name":"cli-guard","blockedInputMessaging":"x","blockedOutputsMessaging":"y","wordPolicyConfig":{"wordsConfig":[{"text":"zebra"}]}}`, "update", id, "-"); err != nil {
		t.Fatalf("update: %v", err)
	}
	out, err = runGuardrailsCLI(t, home, "", "apply", "--version", "1", id, "a zebra at a@example.com")
	if err != nil || !strings.Contains(out, "{EMAIL}") {
		t.Fatalf("apply v1: %v\n%s", err, out)
	}
	out, err = runGuardrailsCLI(t, home, "", "apply", id, "a zebra")
	if err != nil || !strings.Contains(out, `"text": "x"`) {
		t.Fatalf("apply DRAFT: %v\n%s", err, out)
	}
	if out, err = runGuardrailsCLI(t, home, "", "list", "--id", id); err != nil || strings.Count(out, `"version"`) != 2 {
		t.Fatalf("list: %v\n%s", err, out)
	}
	if _, err = runGuardrailsCLI(t, home, "", "delete", id); err != nil {
		t.Fatalf("delete: %v", err)
	}
	_, err = runGuardrailsCLI(t, home, "", "get", id)
	var le *llm.Error
	if !errors.As(err, &le) || le.Kind != llm.KindNotFound {
		t.Fatalf("get after delete: err = %v, want not found", err)
	}
	bad := filepath.Join(home, "bad.json")
	os.WriteFile(bad, []byte(`{"name":"b","blockedInputMessaging":"x","blockedOutputsMessaging":"y","wordPolicyConfig":{"wordsConfig":[{"text":"a b c d"}]}}`), 0o644)
	if _, err = runGuardrailsCLI(t, home, "", "create", bad); !errors.As(err, &le) || le.Kind != llm.KindValidation {
		t.Fatalf("create invalid: err = %v, want validation error", err)
	}
}
