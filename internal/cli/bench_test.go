package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/outcrop/outcrop/internal/bench"
)

func benchEnv() (*Env, *bytes.Buffer, *bytes.Buffer) {
	var out, errb bytes.Buffer
	return &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}, &out, &errb
}

func deadURL(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.NotFoundHandler())
	u := srv.URL
	srv.Close()
	return u
}

func TestBenchUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"bad api", []string{"--endpoint", "http://127.0.0.1:1", "--api", "grpc", "--model", "m"}},
		{"no model", []string{"--endpoint", "http://127.0.0.1:1"}},
		{"bad profile", []string{"--endpoint", "http://127.0.0.1:1", "--model", "m", "--profile", "fast"}},
		{"bad input range", []string{"--endpoint", "http://127.0.0.1:1", "--model", "m", "--input-tokens", "9-3"}},
		{"bad task", []string{"--endpoint", "http://127.0.0.1:1", "--model", "m", "--tasks", "poetry"}},
		{"zero requests", []string{"--endpoint", "http://127.0.0.1:1", "--model", "m", "--requests", "0"}},
		{"bad target spec", []string{"--target", "model"}},
		{"compare needs two", []string{"compare", "a"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env, _, _ := benchEnv()
			err := Run(context.Background(), env, append([]string{"bench", "--out", t.TempDir()}, tc.args...))
			if !errors.Is(err, ErrUsage) {
				t.Errorf("bench %v = %v, want a usage error", tc.args, err)
			}
		})
	}
}

func TestBenchWorkloadFileErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct{ name, body, want string }{
		{"unknown key", "seed: 1\nrequets: 5\n", "line 2"},
		{"wrong type", "requests: many\n", "line 1"},
		{"bad duration", "duration: soon\n", "duration"},
		{"bad task", "tasks: [summarization, poetry]\n", "poetry"},
		{"bad task weight", "tasks:\n  translation: x\n", "translation"},
		{"missing prompts file", "prompts: nope.jsonl\n", "nope.jsonl"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".yaml")
			os.WriteFile(path, []byte(tc.body), 0o644)
			env, _, _ := benchEnv()
			err := Run(context.Background(), env, []string{"bench", "--workload", path, "--endpoint", deadURL(t), "--model", "m", "--out", t.TempDir()})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("bench --workload (%s) = %v, want an error mentioning %q", tc.name, err, tc.want)
			}
		})
	}
	env, _, _ := benchEnv()
	if err := Run(context.Background(), env, []string{"bench", "--workload", filepath.Join(dir, "absent.yaml"), "--model", "m"}); err == nil || !strings.Contains(err.Error(), "workload file") {
		t.Errorf("bench --workload absent = %v, want a workload file error", err)
	}
}

// TestBenchUnreachableKeepsPartialResults also checks that a workload
// file's values reach the run (and flags override them).
func TestBenchUnreachableKeepsPartialResults(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	dir := t.TempDir()
	wl := filepath.Join(dir, "w.yaml")
	os.WriteFile(wl, []byte("seed: 9\nrequests: 4\nwarmup: 0\ntasks: {summarization: 1, translation: 3}\ninput_tokens: 100-200\n"+
		"targets:\n  - {name: dead, api: openai, endpoint: "+deadURL(t)+"/v1, model: m}\n"), 0o644)
	out := filepath.Join(dir, "out")
	env, _, stderr := benchEnv()
	err := Run(context.Background(), env, []string{"bench", "--workload", wl, "--requests", "3", "--out", out, "--progress", "log"})
	if err == nil || !strings.Contains(err.Error(), "unreachable") || !strings.Contains(err.Error(), out) {
		t.Fatalf("bench = %v, want an unreachable-endpoint error naming the output folder", err)
	}
	recs, rerr := bench.ReadRecords(filepath.Join(out, bench.FileRequests))
	if rerr != nil || len(recs) != 1 || recs[0].ErrorType != bench.ErrConnection {
		t.Fatalf("requests.jsonl = %+v, %v; want the one failed request", recs, rerr)
	}
	var s bench.Summary
	b, _ := os.ReadFile(filepath.Join(out, bench.FileSummary))
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("summary.json: %v", err)
	}
	if s.Config["requests"] != float64(3) || s.Config["seed"] != float64(9) || s.Config["tasks"] != "summarization=1,translation=3" {
		t.Errorf("config = %v; want requests 3 (flag), seed 9 and the task mix (file)", s.Config)
	}
	if !strings.Contains(stderr.String(), "error connection") {
		t.Errorf("log lacks the failed request:\n%s", stderr)
	}
}

func TestBenchCompare(t *testing.T) {
	dir := t.TempDir()
	mk := func(name string, ttft float64) string {
		d := filepath.Join(dir, name)
		rec, err := bench.NewRecorder(d)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 5 {
			v, e, o := ttft*float64(i+1), ttft*float64(i+1)+500, 40.0+float64(i)
			ttlt := v + 400
			rec.Add(bench.Record{Seq: i, Item: i, Target: "m", API: "openai", Model: "m", Stream: true, Task: bench.TaskTranslation,
				Start: time.Unix(0, 0).UTC(), TTFTMs: &v, TTLTMs: &ttlt, E2EMs: &e, OTPS: &o, OutputTokens: 16, UsageSource: "server"})
		}
		rec.Close()
		if _, err := bench.Report(d, bench.Summary{StopReason: "complete"}, []string{"m"}, ""); err != nil {
			t.Fatal(err)
		}
		return d
	}
	a, b := mk("a", 100), mk("b", 50)
	env, stdout, _ := benchEnv()
	out := filepath.Join(dir, "cmp")
	if err := Run(context.Background(), env, []string{"bench", "compare", a, b, "--out", out}); err != nil {
		t.Fatal(err)
	}
	// TTFT P50 is 300 ms in A and 150 ms in B: -50%.
	if !strings.Contains(stdout.String(), "| Improvement | | -50.00% |") {
		t.Errorf("compare output lacks the improvement row:\n%s", stdout)
	}
	if _, err := os.Stat(filepath.Join(out, bench.FileHTML)); err != nil {
		t.Errorf("compare --out wrote no report: %v", err)
	}
	env, _, _ = benchEnv()
	if err := Run(context.Background(), env, []string{"bench", "compare", a, filepath.Join(dir, "nope")}); err == nil {
		t.Error("compare with a missing folder succeeded")
	}
}
