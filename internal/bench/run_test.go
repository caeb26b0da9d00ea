package bench

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// runBench runs a small interleaved comparison into dir and writes the report.
func runBench(t *testing.T, ctx context.Context, targets []Target, dir string, n int, stream bool) (RunInfo, Summary, error) {
	t.Helper()
	b := &Builder{}
	items, err := b.Build(ctx, WorkloadSpec{Requests: n + 1, Seed: 7, Input: Range{Min: 50, Max: 3000}, Output: Range{Min: 3, Max: 8}})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := NewRecorder(dir)
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, len(targets))
	for i, tg := range targets {
		names[i] = tg.Name
	}
	info, runErr := Run(ctx, RunOptions{Targets: targets, Items: items, Stream: stream,
		Load: Load{Concurrency: 2, Warmup: 1}, OnRecord: rec.Add})
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Report(dir, Summary{Started: info.Started, Ended: info.Ended, Interrupted: info.Interrupted, StopReason: info.StopReason}, names, "")
	if err != nil {
		t.Fatal(err)
	}
	return info, s, runErr
}

func bedrockClient(t *testing.T, url string) *Bedrock {
	t.Helper()
	c, err := NewBedrock(context.Background(), BedrockOptions{Endpoint: url})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRunBedrockFakeComparison(t *testing.T) {
	withCreds(t, "AKID")
	for _, stream := range []bool{true, false} {
		t.Run("stream="+strconv.FormatBool(stream), func(t *testing.T) {
			url := startFake(t, &fakeBedrock{model: "m"})
			c := bedrockClient(t, url)
			targets := []Target{{Name: "m/standard", Client: c, Model: "m", Profile: "standard"},
				{Name: "m/optimized", Client: c, Model: "m", Profile: "optimized"}}
			dir := t.TempDir()
			info, s, err := runBench(t, context.Background(), targets, dir, 12, stream)
			if err != nil || info.StopReason != "complete" {
				t.Fatalf("Run = %+v, %v; want complete", info, err)
			}
			if len(s.Groups) != 2 || s.Groups[0].Succeeded != 12 || s.Groups[1].Succeeded != 12 {
				recs, _ := ReadRecords(filepath.Join(dir, FileRequests))
				for _, r := range recs {
					if !r.OK() {
						t.Logf("record %d: %s %s", r.Seq, r.ErrorType, r.Error)
					}
				}
				t.Fatalf("groups = %d, successes %d and %d; want 2 × 12", len(s.Groups), s.Groups[0].Succeeded, s.Groups[len(s.Groups)-1].Succeeded)
			}
			if s.Groups[1].Deployments["fake-optimized"] != 12 || s.Groups[1].ProfilesServed["optimized"] != 12 {
				t.Errorf("optimized group served by %v / %v, want fake-optimized", s.Groups[1].Deployments, s.Groups[1].ProfilesServed)
			}
			if len(s.Comparisons) != 1 || s.Comparisons[0].Candidate != "m/optimized" || s.Comparisons[0].Baseline != "m/standard" {
				t.Errorf("comparisons = %+v, want optimized vs standard", s.Comparisons)
			}
			checkRecomputed(t, dir)
			checkFiles(t, dir)
			recs, _ := ReadRecords(filepath.Join(dir, FileRequests))
			checkInterleaved(t, recs)
		})
	}
}

// checkInterleaved verifies that every item went to both targets and that
// the first target alternates.
func checkInterleaved(t *testing.T, recs []Record) {
	t.Helper()
	first := map[int]string{}
	for _, r := range recs {
		if _, ok := first[r.Item]; !ok && r.Seq%2 == 0 {
			first[r.Item] = r.Target
		}
	}
	seen := map[string]int{}
	for _, tg := range first {
		seen[tg]++
	}
	if len(seen) != 2 {
		t.Errorf("first target per item = %v, want both targets to lead some items", seen)
	}
}

// checkRecomputed fails t for every figure Verify cannot recompute.
func checkRecomputed(t *testing.T, dir string) {
	t.Helper()
	bad, err := Verify(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bad {
		t.Error(b)
	}
}

func checkFiles(t *testing.T, dir string) {
	t.Helper()
	for _, name := range []string{FileRequests, FileSummary, FileCSV, FileMarkdown, FileHTML} {
		if st, err := os.Stat(filepath.Join(dir, name)); err != nil || st.Size() == 0 {
			t.Errorf("output %s missing or empty: %v", name, err)
		}
	}
	for _, name := range ChartNames {
		svg, err := os.ReadFile(filepath.Join(dir, name+".svg"))
		if err != nil || !strings.HasPrefix(string(svg), "<svg") {
			t.Errorf("chart %s.svg: %v", name, err)
		}
		png, err := os.ReadFile(filepath.Join(dir, name+".png"))
		if err != nil || !strings.HasPrefix(string(png), "\x89PNG") {
			t.Errorf("chart %s.png: %v", name, err)
		}
	}
	html, _ := os.ReadFile(filepath.Join(dir, FileHTML))
	if strings.Contains(string(html), "src=\"http") || strings.Count(string(html), "<svg") != len(ChartNames) {
		t.Errorf("report.html is not self-contained with %d inline charts", len(ChartNames))
	}
}

func TestRunInterruptedWritesValidFiles(t *testing.T) {
	withCreds(t, "AKID")
	fake := &fakeBedrock{model: "m", blockAt: 6}
	url := startFake(t, fake)
	c := bedrockClient(t, url)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { // ends when the fake sees request 6
		<-fake.reached
		cancel()
	}()
	dir := t.TempDir()
	info, s, err := runBench(t, ctx, []Target{{Name: "m", Client: c, Model: "m"}}, dir, 20, true)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !info.Interrupted || info.StopReason != "interrupted" || !s.Interrupted {
		t.Fatalf("info = %+v, want interrupted", info)
	}
	g := s.Groups[0]
	if g.Succeeded < 3 || g.Succeeded >= 20 || g.Failed != 0 || g.Canceled == 0 {
		t.Errorf("counts = %+v, want a few successes, none failed, some cancelled", g.Counts)
	}
	checkRecomputed(t, dir)
	checkFiles(t, dir)
}

func TestDecodeRecordsTruncatedLastLine(t *testing.T) {
	in := `{"seq":0,"item":0,"target":"a","api":"bedrock","endpoint":"","model":"m","stream":true,"task":"x","start":"2026-11-25T00:00:00Z"}` + "\n" +
		`{"seq":1,"item":1,"tar`
	recs, err := DecodeRecords(strings.NewReader(in))
	if err != nil || len(recs) != 1 {
		t.Fatalf("DecodeRecords = %d records, %v; want 1, nil", len(recs), err)
	}
	if _, err := DecodeRecords(strings.NewReader("{bad\n{}\n")); err == nil {
		t.Errorf("DecodeRecords accepted a bad line in the middle")
	}
}

func TestRunErrors(t *testing.T) {
	tests := []struct {
		name   string
		key    string
		model  string
		url    func(t *testing.T) string
		want   string
		status int
	}{
		{name: "unreachable endpoint", key: "AKID", model: "m", want: ErrConnection,
			url: func(t *testing.T) string { return closedPort(t) }},
		{name: "wrong credentials", key: "BADKEY", model: "m", want: ErrAuth, status: 403,
			url: func(t *testing.T) string { return startFake(t, &fakeBedrock{model: "m"}) }},
		{name: "nonexistent model", key: "AKID", model: "nope", want: ErrModelNotFound, status: 400,
			url: func(t *testing.T) string { return startFake(t, &fakeBedrock{model: "m"}) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			withCreds(t, tc.key)
			c := bedrockClient(t, tc.url(t))
			dir := t.TempDir()
			info, s, err := runBench(t, context.Background(), []Target{{Name: "t", Client: c, Model: tc.model}}, dir, 5, true)
			var be *Error
			if !errors.As(err, &be) || be.Type != tc.want || be.Status != tc.status || !be.Fatal() {
				t.Fatalf("Run error = %#v, want fatal %s (status %d)", err, tc.want, tc.status)
			}
			if info.StopReason != "fatal-error" || !s.Interrupted {
				t.Errorf("info = %+v, want fatal-error", info)
			}
			recs, rerr := ReadRecords(filepath.Join(dir, FileRequests))
			if rerr != nil || len(recs) == 0 || recs[0].ErrorType != tc.want {
				t.Errorf("requests.jsonl = %+v, %v; want the failed request kept", recs, rerr)
			}
			checkFiles(t, dir)
		})
	}
}

func TestRunLoadShapes(t *testing.T) {
	withCreds(t, "AKID")
	items, _ := (&Builder{}).Build(context.Background(), WorkloadSpec{Requests: 6, Seed: 1, Input: Range{Min: 50, Max: 50}, Output: Range{Min: 3, Max: 3}})
	tests := []struct {
		name       string
		load       Load
		fake       *fakeBedrock
		wantReason string
		wantOK     func(n int) bool
	}{
		{name: "fixed rate", load: Load{Rate: 200, Concurrency: 2}, fake: &fakeBedrock{model: "m"},
			wantReason: "complete", wantOK: func(n int) bool { return n == 6 }},
		{name: "duration bound", load: Load{Concurrency: 1, Duration: time.Nanosecond}, fake: &fakeBedrock{model: "m"},
			wantReason: "duration", wantOK: func(n int) bool { return n == 0 }},
		{name: "hard time limit", load: Load{Concurrency: 1, MaxTime: 2 * time.Second}, fake: &fakeBedrock{model: "m", blockAt: 3},
			wantReason: "time-limit", wantOK: func(n int) bool { return n == 2 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := bedrockClient(t, startFake(t, tc.fake))
			var recs []Record
			info, err := Run(context.Background(), RunOptions{Targets: []Target{{Name: "m", Client: c, Model: "m"}},
				Items: items, Stream: true, Load: tc.load, OnRecord: func(r Record) { recs = append(recs, r) }})
			ok := 0
			for _, r := range recs {
				if r.OK() {
					ok++
				}
			}
			if err != nil || info.StopReason != tc.wantReason || !tc.wantOK(ok) {
				t.Errorf("Run = %+v, %v with %d successes; want %s", info, err, ok, tc.wantReason)
			}
		})
	}
}

func TestVerifyCatchesTamperedSummary(t *testing.T) {
	withCreds(t, "AKID")
	c := bedrockClient(t, startFake(t, &fakeBedrock{model: "m"}))
	dir := t.TempDir()
	if _, _, err := runBench(t, context.Background(), []Target{{Name: "m", Client: c, Model: "m"}}, dir, 4, true); err != nil {
		t.Fatal(err)
	}
	checkRecomputed(t, dir)
	path := filepath.Join(dir, FileSummary)
	b, _ := os.ReadFile(path)
	var s Summary
	json.Unmarshal(b, &s)
	*s.Groups[0].Metrics.E2E.P90 *= 1.01
	b, _ = json.Marshal(s)
	os.WriteFile(path, b, 0o644)
	bad, err := Verify(dir)
	if err != nil || len(bad) != 1 || !strings.Contains(bad[0], "e2e p90") {
		t.Errorf("Verify(tampered) = %q, %v; want one e2e p90 disagreement", bad, err)
	}
}

func TestBedrockLoopbackWithoutCredentials(t *testing.T) {
	withCreds(t, "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	c := bedrockClient(t, startFake(t, &fakeBedrock{model: "m"}))
	res, err := c.Do(context.Background(), Request{Model: "m", Prompt: "hi", MaxTokens: 3, Stream: true})
	if err != nil || res.Chunks != 3 {
		t.Fatalf("Do without credentials = %+v, %v; want 3 chunks", res, err)
	}
}

func TestRunDistinctPrompts(t *testing.T) {
	withCreds(t, "AKID")
	for _, distinct := range []bool{false, true} {
		fake := &fakeBedrock{model: "m"}
		c := bedrockClient(t, startFake(t, fake))
		items, _ := (&Builder{}).Build(context.Background(), WorkloadSpec{Requests: 3, Seed: 1, Input: Range{Min: 60, Max: 60}, Output: Range{Min: 2, Max: 2}})
		_, err := Run(context.Background(), RunOptions{Targets: []Target{{Name: "a", Client: c, Model: "m"}, {Name: "b", Client: c, Model: "m"}},
			Items: items, Stream: true, DistinctPrompts: distinct, Load: Load{Concurrency: 1}})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		fake.prompts.Range(func(any, any) bool { n++; return true })
		if want := map[bool]int{false: 3, true: 6}[distinct]; n != want {
			t.Errorf("distinct=%v: server saw %d different prompts, want %d", distinct, n, want)
		}
	}
}
