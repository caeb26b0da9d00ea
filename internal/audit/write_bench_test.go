package audit

import (
	"context"
	"fmt"
	"log/slog"
	"syscall"
	"testing"
	"time"

	"github.com/outcrop/outcrop/internal/store"
)

// benchEntries returns n entries like those of the overhead runs: a short
// chat prompt, an authorized call, a few tokens.
func benchEntries(n int) []*Entry {
	out := make([]*Entry, n)
	for i := range out {
		out[i] = &Entry{Time: time.Unix(1_700_000_000+int64(i), 0), RequestID: fmt.Sprintf("req-%06d", i), Principal: "dev", AuthMethod: "none",
			API: "openai", Method: "POST", Path: "/v1/chat/completions", Operation: "ChatCompletions", Action: "bedrock:InvokeModel",
			Resource: "arn:aws:bedrock:us-east-1::foundation-model/instant", Model: "instant", Decision: "allow", Status: 200,
			InputTokens: 12, OutputTokens: 20, LatencyMs: 1, Prompt: "Write twenty words about the sea, please."}
	}
	return out
}

// BenchmarkWrite measures the writer's cost per entry: masking the prompt
// excerpt and inserting into SQLite, in batches of batchSize.
//
//	go test -run '^$' -bench BenchmarkWrite -benchtime 20000x ./internal/audit
func BenchmarkWrite(b *testing.B) {
	db, err := store.Open(context.Background(), store.Options{Home: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	l := &Log{db: db, o: Options{PromptChars: 1000}}
	l.log = slog.New(slog.DiscardHandler)
	entries := benchEntries(batchSize)
	b.Run("mask", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			_ = Mask(entries[i%len(entries)].Prompt)
		}
	})
	b.Run("write", func(b *testing.B) {
		b.ReportAllocs()
		start := cpuTime(b)
		for i := 0; i < b.N; i += batchSize {
			l.write(entries)
		}
		b.ReportMetric(float64((cpuTime(b)-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
	})
}

// cpuTime is the process's user+system CPU time so far: on a shared
// machine, CPU per operation varies far less with the load than wall time.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
