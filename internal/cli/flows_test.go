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
)

func TestFlowsValidate(t *testing.T) {
	good, err := os.ReadFile("../flow/testdata/trip-planner.json")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	goodPath := filepath.Join(dir, "good.json")
	os.WriteFile(goodPath, good, 0o644)
	bad := strings.Replace(string(good), `{"name": "default"}`, `{"name": "other", "expression": "categoryLetter == \"B\""}`, 1)
	if bad == string(good) {
		t.Fatal("test did not break the definition")
	}
	run := func(stdin string, args ...string) (string, error) {
		var out bytes.Buffer
		env := &Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &out}
		err := Run(context.Background(), env, append([]string{"flows"}, args...))
		return out.String(), err
	}
	out, err := run("", "validate", goodPath)
	if err != nil || !strings.Contains(out, `"validations": []`) {
		t.Fatalf("valid definition: %v\n%s", err, out)
	}
	// A CreateFlow body on stdin, with the definition inside.
	out, err = run(`{"name":"trip","executionRoleArn":"arn:aws:iam::123456789012:role/r","definition":`+bad+`}`, "validate", "-")
	if !errors.Is(err, errInvalidFlow) {
		t.Fatalf("invalid definition: err %v\n%s", err, out)
	}
	var resp struct {
		Validations []struct{ Type, Severity string }
	}
	if err := json.Unmarshal([]byte(out), &resp); err != nil || len(resp.Validations) == 0 || resp.Validations[0].Type != "MissingDefaultCondition" {
		t.Fatalf("output %s (%v)", out, err)
	}
	if _, err := run("", "validate"); !errors.Is(err, ErrUsage) {
		t.Fatalf("missing file: %v", err)
	}
	if _, err := run("{", "validate", "-"); err == nil || errors.Is(err, errInvalidFlow) {
		t.Fatalf("malformed JSON: %v", err)
	}
}
