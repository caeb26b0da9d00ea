package console_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/outcrop/outcrop/internal/console"
	"github.com/outcrop/outcrop/internal/store/storetest"
)

// TestAdminBench starts a benchmark of this server (Bedrock API, two
// profiles) through the admin API, follows its progress, reads the saved
// run with its table and chart data, and compares it with a second run.
func TestAdminBench(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t), envOptions{})
	adminKey, _ := e.user(t, "admin", adminPolicy)
	b := e.browser(t)
	b.signIn(`{"apiKey":"` + adminKey + `"}`)

	start := func() console.BenchRunJSON {
		t.Helper()
		req := `{"api":"bedrock","endpoint":"` + e.URL + `","apiKey":"` + adminKey + `","models":["` + testModel + `"],"profiles":["standard","optimized"],"requests":4,"concurrency":2,"warmup":1,"inputTokens":"64","outputTokens":"16"}`
		code, _, body := b.do("POST", "/admin/v1/bench/runs", req, true)
		var run console.BenchRunJSON
		json.Unmarshal(body, &run)
		if code != 202 || run.ID == "" || run.Planned != 8 || len(run.Targets) != 2 {
			t.Fatalf("start: %d %s", code, body)
		}
		deadline := time.Now().Add(time.Minute)
		for run.State == "running" && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
			_, _, body = b.do("GET", "/admin/v1/bench/runs/"+run.ID, "", false)
			var got struct{ Run console.BenchRunJSON }
			json.Unmarshal(body, &got)
			run = got.Run
		}
		if run.State != "done" || run.Done != 8 || run.Failed != 0 {
			t.Fatalf("run ended as %+v", run)
		}
		return run
	}
	run := start()

	code, _, body := b.do("GET", "/admin/v1/bench/runs/"+run.ID, "", false)
	var got struct {
		Summary struct {
			Groups []struct {
				Target  string
				Metrics map[string]any
			}
		}
		Series map[string][]console.SeriesPoint
	}
	json.Unmarshal(body, &got)
	if code != 200 || len(got.Summary.Groups) != 2 || len(got.Series["standard"]) != 4 || len(got.Series["optimized"]) != 4 {
		t.Fatalf("run detail: %d %s", code, body)
	}
	for _, p := range got.Series["optimized"] {
		if p.TTFTMs == nil || *p.TTFTMs <= 0 || p.E2EMs == nil {
			t.Errorf("chart point without measurements: %+v", p)
		}
	}
	run2 := start()
	code, _, body = b.do("GET", "/admin/v1/bench/runs", "", false)
	if code != 200 || !strings.Contains(string(body), run.ID) || !strings.Contains(string(body), run2.ID) {
		t.Errorf("list: %d %s", code, body)
	}
	code, _, body = b.do("GET", "/admin/v1/bench/compare?a="+run.ID+"&b="+run2.ID, "", false)
	if code != 200 || !strings.Contains(string(body), `"comparisons"`) || !strings.Contains(string(body), "A:standard") {
		t.Errorf("compare: %d %s", code, body)
	}
	// The benchmark's own calls are in the request log and the metrics.
	e.calls.Flush()
	code, _, body = b.do("GET", "/admin/v1/metrics?step=1h&groupBy=profile", "", false)
	if code != 200 || !strings.Contains(string(body), `"key":"optimized"`) {
		t.Errorf("metrics after the bench: %d %s", code, body)
	}

	for _, bad := range []string{
		`{}`, `{"api":"grpc","endpoint":"http://x","models":["m"]}`, `{"api":"openai","endpoint":"file:///etc/passwd","models":["m"]}`,
		`{"api":"openai","endpoint":"http://x","models":[]}`, `{"api":"openai","endpoint":"http://x","models":["m"],"requests":100000}`,
		`{"api":"openai","endpoint":"http://x","models":["m"],"profiles":["fast"]}`, `{"api":"openai","endpoint":"http://x","models":["m"],"inputTokens":"lots"}`,
		`{"api":"openai","endpoint":"http://x","models":["m"],"maxTime":"2h"}`, `{"api":"openai","endpoint":"http://x","models":["m m"]}`,
	} {
		if code, _, body := b.do("POST", "/admin/v1/bench/runs", bad, true); code != 400 || message(t, body) == "" {
			t.Errorf("start %s: %d %s", bad, code, body)
		}
	}
	for _, p := range []string{"/admin/v1/bench/runs/..%2F..%2Fetc", "/admin/v1/bench/runs/nope", "/admin/v1/bench/compare?a=x&b=y"} {
		if code, _, _ := b.do("GET", p, "", false); code < 400 || code >= 500 {
			t.Errorf("GET %s: %d", p, code)
		}
	}
	if code, _, _ := b.do("GET", "/admin/v1/bench/runs/20260101-000000-abcdef", "", false); code != 404 {
		t.Errorf("unknown run: %d", code)
	}
}

// FuzzParseBenchRequest: the bench request parser never panics and keeps
// what it accepts within bounds.
func FuzzParseBenchRequest(f *testing.F) {
	f.Add([]byte(`{"api":"bedrock","endpoint":"http://127.0.0.1:1","models":["m"],"profiles":["standard"],"requests":3}`))
	f.Add([]byte(`{"api":"openai","endpoint":"https://x","models":["a","b"],"inputTokens":"100-400","tasks":"chat=2"}`))
	f.Add([]byte(`{"api":"openai"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := console.ParseBenchRequest(b)
		if err != nil {
			return
		}
		if p.Requests < 1 || p.Requests > 1000 || p.Concurrency < 1 || p.Concurrency > 64 || len(p.Models) == 0 || len(p.Models) > 8 {
			t.Fatalf("%q accepted out of bounds: %+v", b, p.BenchRequest)
		}
	})
}
