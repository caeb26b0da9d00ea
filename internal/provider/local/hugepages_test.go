//go:build linux

package local

import (
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestParseAnonSpans(t *testing.T) {
	maps := strings.Join([]string{
		"00400000-00452000 r-xp 00000000 08:02 173521      /usr/bin/dbus-daemon",
		"7f0000200000-7f0000600000 rw-p 00000000 00:00 0 ",
		"7f0000000000-7f0000100000 rw-p 00000000 00:00 0",
		"7f0000700000-7f0000800000 r--p 00000000 00:00 0",
		"7f0000900000-7f0000a00000 rw-p 00000000 00:00 0                          [heap]",
		"7f0000b00000-7f0000c00000 rw-p 00001000 08:02 99 /tmp/mapped.gguf",
		"garbage line",
		"7f0000d00000-7f0000c00000 rw-p 00000000 00:00 0",
	}, "\n")
	got := parseAnonSpans([]byte(maps))
	want := []span{{0x7f0000000000, 0x7f0000100000}, {0x7f0000200000, 0x7f0000600000}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %x, want %x", got, want)
	}
}

func TestNewSpans(t *testing.T) {
	const mb = 1 << 20
	base := uintptr(0x7f0000000000)
	before := []span{{base, base + 8*mb}, {base + 100*mb, base + 101*mb}}
	after := []span{
		// An old region that grew by 10 MB on both sides (merged mappings).
		{base - 10*mb, base + 18*mb},
		// A new region too small to matter.
		{base + 50*mb, base + 52*mb},
		// A Go heap arena: 64 MiB aligned, a multiple of 64 MiB.
		{0xc000000000, 0xc000000000 + 128*mb},
		// An old region split by a new one in its middle is still covered.
		{base + 100*mb, base + 101*mb},
	}
	got := newSpans(before, after)
	want := []span{{base - 10*mb, base}, {base + 8*mb, base + 18*mb}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %x, want %x", got, want)
	}
}

// TestRealHugePages checks that the engine's memory ends up on huge pages:
// the engine reports what it collapsed, and the process's AnonHugePages
// shows at least that much.
func TestRealHugePages(t *testing.T) {
	e := realEngine(t)
	if benchNoHugePages() {
		t.Skip("OUTCROP_BENCH_HUGEPAGES=0")
	}
	<-e.hugeDone
	n := e.Stats().HugePageBytes
	// Weights alone are about 90 MB; the KV cache of 2×4,096 cells more.
	if n < 64<<20 {
		t.Fatalf("HugePageBytes = %d, want the weights and KV cache (> 64 MiB)", n)
	}
	data, err := os.ReadFile("/proc/self/smaps_rollup")
	if err != nil {
		t.Skip(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "AnonHugePages:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				t.Fatalf("smaps_rollup: %q: %v", line, err)
			}
			if kb<<10 < n {
				t.Errorf("AnonHugePages %d kB, engine says %d bytes collapsed", kb, n)
			}
			return
		}
	}
	t.Errorf("no AnonHugePages in smaps_rollup")
}

// FuzzParseAnonSpans: any text parses without panicking into sorted,
// non-empty spans, and newSpans of anything against it stays inside it.
func FuzzParseAnonSpans(f *testing.F) {
	f.Add([]byte("7f0000200000-7f0000600000 rw-p 00000000 00:00 0 \n00400000-00452000 r-xp 00000000 08:02 173521 /usr/bin/x\n"))
	f.Add([]byte("ffffffffffffffff-0 rw-p 0 0 0\n-\n1-2 rw-p 0 0 0\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		spans := parseAnonSpans(data)
		for i, s := range spans {
			if s.end <= s.start {
				t.Fatalf("empty span %x", s)
			}
			if i > 0 && spans[i-1].start > s.start {
				t.Fatalf("not sorted: %x", spans)
			}
		}
		for _, n := range newSpans(nil, spans) {
			inside := false
			for _, s := range spans {
				if n.start >= s.start && n.end <= s.end {
					inside = true
				}
			}
			if !inside {
				t.Fatalf("new span %x outside %x", n, spans)
			}
		}
	})
}
