//go:build linux

package guardrail

import (
	"context"
	"runtime"
	"sort"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// threadCPU returns the CPU time the calling OS thread has used
// (CLOCK_THREAD_CPUTIME_ID, nanosecond resolution).
func threadCPU() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

// BenchmarkApplyGuardrail8KCPU is BenchmarkApplyGuardrail8K measured in
// CPU time of the calling thread instead of wall time, so that its p99 is
// not dominated by other processes competing for the cores (the shared
// 2-core machine often runs at a load of 10+). Garbage collection done by
// other threads is not counted. It reports p50-cpu-ms and p99-cpu-ms.
func BenchmarkApplyGuardrail8KCPU(b *testing.B) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	c := mustCompile(b, fullDefinition())
	req := &ApplyRequest{Source: SourceInput, Content: []Content{{Text: &TextContent{Text: prompt8K()}}}}
	var e Engine
	ctx := context.Background()
	if _, err := e.Apply(ctx, c, req); err != nil {
		b.Fatal(err)
	}
	durs := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := threadCPU()
		if _, err := e.Apply(ctx, c, req); err != nil {
			b.Fatal(err)
		}
		durs = append(durs, threadCPU()-t0)
	}
	b.StopTimer()
	sort.Slice(durs, func(i, j int) bool { return durs[i] < durs[j] })
	b.ReportMetric(float64(durs[len(durs)/2].Microseconds())/1000, "p50-cpu-ms")
	b.ReportMetric(float64(durs[len(durs)*99/100].Microseconds())/1000, "p99-cpu-ms")
}
