package audit_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/outcrop/outcrop/internal/audit"
	"github.com/outcrop/outcrop/internal/gateway"
	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/store"
	"github.com/outcrop/outcrop/internal/store/storetest"
	"github.com/outcrop/outcrop/internal/testenv"
)

type sample struct {
	FullText string `json:"full_text"`
	Spans    []struct {
		Type  string `json:"entity_type"`
		Value string `json:"entity_value"`
	} `json:"spans"`
}

func loadPresidio(t *testing.T) []sample {
	b, err := os.ReadFile(filepath.Join(testenv.Datasets(t), "presidio-research", "data", "synth_dataset_v2.json"))
	if err != nil {
		t.Fatalf("presidio dataset: %v", err)
	}
	var out []sample
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// oneShot is a stream of one text answer with usage.
type oneShot struct{ evs []llm.Event }

func (s *oneShot) Next() (llm.Event, error) {
	if len(s.evs) == 0 {
		return llm.Event{}, io.EOF
	}
	ev := s.evs[0]
	s.evs = s.evs[1:]
	return ev, nil
}
func (s *oneShot) Close() error { return nil }

// TestAuditPresidio sends each Presidio sentence through the audit
// middleware and stage as a prompt and checks the stored entries.
func TestAuditPresidio(t *testing.T) {
	samples := loadPresidio(t)
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		l := audit.New(db, audit.Options{PromptChars: 4000})
		defer l.Close()
		final := func(ctx context.Context, c *gateway.Call) (llm.Stream, error) {
			return &oneShot{evs: []llm.Event{
				{Type: llm.EventMessageStart},
				{Type: llm.EventBlockDelta, Delta: llm.DeltaText, Text: "ok"},
				{Type: llm.EventMessageStop, StopReason: llm.StopEndTurn},
				{Type: llm.EventMetadata, Usage: &llm.Usage{InputTokens: 11, OutputTokens: 1}},
			}}, nil
		}
		g := gateway.New(gateway.Options{Stages: []gateway.Stage{audit.Stage{}}, Final: final})
		srv := httptest.NewServer(l.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			w.Header().Set("X-Amzn-RequestId", "req-1")
			c := &gateway.Call{API: "bedrock", Op: "Converse", Resource: "arn:aws:bedrock:us-east-1::foundation-model/m",
				Request: &llm.Request{Model: "m", Messages: []llm.Message{{Role: llm.RoleUser, Content: []llm.Block{llm.TextBlock(string(b))}}}}}
			if _, err := g.Converse(r.Context(), c); err != nil {
				t.Error(err)
			}
			w.Write([]byte("{}"))
		})))
		defer srv.Close()
		n := len(samples)
		if testing.Short() || strings.HasSuffix(t.Name(), "postgres") {
			n = min(n, 300)
		}
		for _, s := range samples[:n] {
			resp, err := http.Post(srv.URL+"/model/m/converse", "text/plain", strings.NewReader(s.FullText))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
		l.Flush()
		entries, err := l.Query(context.Background(), "", n+10)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != n {
			t.Fatalf("%d entries, want %d", len(entries), n)
		}
		all := strings.Builder{}
		for _, e := range entries {
			if e.Operation != "Converse" || e.Status != 200 || e.InputTokens != 11 || e.OutputTokens != 1 || e.Model != "m" || e.RequestID != "req-1" {
				t.Fatalf("entry = %+v", e)
			}
			all.WriteString(e.Prompt)
			all.WriteByte('\n')
		}
		text := all.String()
		leaks := 0
		for _, s := range samples[:n] {
			for _, sp := range s.Spans {
				switch sp.Type {
				case "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "US_SSN":
					if strings.Contains(text, sp.Value) {
						leaks++
						t.Errorf("%s %q stored unmasked", sp.Type, sp.Value)
					}
				}
			}
		}
		if !strings.Contains(text, "[EMAIL]") || !strings.Contains(text, "[CREDIT_DEBIT_CARD_NUMBER]") {
			t.Errorf("no placeholders in the stored prompts")
		}
	})
}

func TestRetention(t *testing.T) {
	db := storetest.SQLite(t)
	now := time.Now()
	// The background pruner's retention is longer than the old entry's age,
	// so only the explicit Prune below can delete it; with a one-hour
	// retention the pruner's first pass raced the explicit one.
	l := audit.New(db, audit.Options{Retention: 24 * time.Hour, Now: func() time.Time { return now }})
	defer l.Close()
	l.Record(&audit.Entry{Time: now.Add(-2 * time.Hour), Principal: "old"})
	l.Record(&audit.Entry{Time: now, Principal: "new"})
	l.Flush()
	n, err := l.Prune(context.Background(), now.Add(-time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("Prune = %d, %v; want 1", n, err)
	}
	es, _ := l.Query(context.Background(), "", 10)
	if len(es) != 1 || es[0].Principal != "new" {
		t.Errorf("after prune: %+v", es)
	}
}

// TestNoEntryLostOnClose: entries recorded by many goroutines while the log
// closes are all written, whether they were queued before Close (the writer
// drains them) or arrived after it (written synchronously), in batches
// larger and smaller than one multi-row INSERT, every field intact.
func TestNoEntryLostOnClose(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		const workers, each = 8, 300
		l := audit.New(db, audit.Options{Queue: 64, Logger: slog.New(slog.NewTextHandler(&testWriter{t}, nil))})
		var wg sync.WaitGroup
		start := make(chan struct{})
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for i := range each {
					l.Record(&audit.Entry{Time: time.Now(), Principal: fmt.Sprintf("p%d", w), RequestID: fmt.Sprintf("r%d-%d", w, i),
						Model: "m", Status: 200, InputTokens: i, Prompt: "call me on +1 415 555 0100"})
				}
			}()
		}
		close(start)
		// Close while the workers are still recording (usually: on a
		// starved machine they may all have finished first, which the
		// test then covers too, instead of waiting forever).
		finished := make(chan struct{})
		go func() { wg.Wait(); close(finished) }()
		for l.Pending() == 0 {
			select {
			case <-finished:
			default:
				runtime.Gosched()
				continue
			}
			break
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		for w := range workers {
			es, err := l.Query(context.Background(), fmt.Sprintf("p%d", w), 2*each)
			if err != nil {
				t.Fatal(err)
			}
			if len(es) != each {
				t.Errorf("principal p%d: %d entries stored, want %d", w, len(es), each)
			}
			seen := map[string]bool{}
			for _, e := range es {
				seen[e.RequestID] = true
				if e.Model != "m" || e.Status != 200 || strings.Contains(e.Prompt, "555") {
					t.Fatalf("entry = %+v", e)
				}
			}
			if len(seen) != each {
				t.Errorf("principal p%d: %d distinct request IDs, want %d", w, len(seen), each)
			}
		}
	})
}

// testWriter sends log lines to t.Log.
type testWriter struct{ t *testing.T }

func (w *testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}
