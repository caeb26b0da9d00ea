package local

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"slices"
	"strconv"
	"syscall"
)

// Decoding one token streams every weight of the model through the CPU, so
// the cost of TLB misses is paid per token: with 4 KiB pages a 100 MB model
// is 25,000 pages, and under a hypervisor every miss walks two page tables.
// Backing the weights (and the KV cache) with 2 MiB transparent huge pages
// made decoding 4-8% faster on the development machine (medians of paired
// runs of BenchmarkPaired/hugepages, docs/PERFORMANCE.md). llama.cpp allocates those buffers with
// posix_memalign, which never asks for huge pages, and the machine's THP
// mode is usually "madvise", so the engine asks after the fact: it finds
// the anonymous memory that loading the model and creating the context
// mapped, and collapses it into huge pages with MADV_COLLAPSE (Linux 6.1+),
// which works whatever the system-wide THP setting is.

const (
	madvHugePage = 14 // MADV_HUGEPAGE
	madvCollapse = 25 // MADV_COLLAPSE
	hugePageSize = 2 << 20
	// goArena is the Go heap's arena size on 64-bit Linux. Whole,
	// aligned multiples of it are Go's own heap, never llama.cpp's.
	goArena = 64 << 20
	// minHugeRegion is the smallest new region worth collapsing.
	minHugeRegion = 4 << 20
)

// span is a half-open address range [start, end).
type span struct{ start, end uintptr }

// anonSpans returns the process's anonymous read-write private mappings,
// sorted by address.
func anonSpans() ([]span, error) {
	data, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return nil, err
	}
	return parseAnonSpans(data), nil
}

// parseAnonSpans reads /proc/self/maps text: "start-end perms offset dev
// inode [path]". Anonymous mappings have inode 0 and no path.
func parseAnonSpans(data []byte) []span {
	var out []span
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) != 5 || !bytes.Equal(f[1], []byte("rw-p")) || !bytes.Equal(f[4], []byte("0")) {
			continue
		}
		lo, hi, ok := bytes.Cut(f[0], []byte("-"))
		if !ok {
			continue
		}
		s, err1 := strconv.ParseUint(string(lo), 16, 64)
		e, err2 := strconv.ParseUint(string(hi), 16, 64)
		if err1 != nil || err2 != nil || e <= s {
			continue
		}
		out = append(out, span{uintptr(s), uintptr(e)})
	}
	slices.SortFunc(out, func(a, b span) int {
		switch {
		case a.start < b.start:
			return -1
		case a.start > b.start:
			return 1
		}
		return 0
	})
	return out
}

// newSpans returns the parts of after that before does not cover: memory
// mapped in between. A new mapping next to an old one with the same
// permissions merges with it into one line of /proc/self/maps, hence the
// range difference rather than a comparison of lines. Parts that look like
// Go heap arenas (aligned multiples of 64 MiB) and parts smaller than
// minHugeRegion are left out.
func newSpans(before, after []span) []span {
	var out []span
	for _, a := range after {
		parts := []span{a}
		for _, b := range before {
			var next []span
			for _, p := range parts {
				if b.end <= p.start || b.start >= p.end {
					next = append(next, p)
					continue
				}
				if p.start < b.start {
					next = append(next, span{p.start, b.start})
				}
				if b.end < p.end {
					next = append(next, span{b.end, p.end})
				}
			}
			parts = next
		}
		for _, p := range parts {
			n := p.end - p.start
			if n < minHugeRegion || (p.start%goArena == 0 && n%goArena == 0) {
				continue
			}
			out = append(out, p)
		}
	}
	return out
}

// errNoCollapse means nothing could be collapsed: the kernel has no
// MADV_COLLAPSE, or none of the memory was populated yet.
var errNoCollapse = errors.New("no memory collapsed (MADV_COLLAPSE needs Linux 6.1)")

// collapseHugePages marks the whole 2 MiB pages inside spans for huge
// pages, so that pages faulted in later are huge, and collapses the ones
// already populated into huge pages, one at a time so that a page that
// cannot be collapsed (never touched: EINVAL; no free huge page: EAGAIN or
// ENOMEM) does not stop the others. It stops early, without an error,
// once stop is closed. It returns the bytes collapsed.
func collapseHugePages(spans []span, stop <-chan struct{}) (int64, error) {
	var done int64
	var failed error
	for _, s := range spans {
		start := (s.start + hugePageSize - 1) &^ (hugePageSize - 1)
		end := s.end &^ (hugePageSize - 1)
		if end <= start {
			continue
		}
		if _, _, e := syscall.Syscall(syscall.SYS_MADVISE, start, end-start, madvHugePage); e != 0 {
			return done, e
		}
		for a := start; a < end; a += hugePageSize {
			select {
			case <-stop:
				return done, nil
			default:
			}
			_, _, e := syscall.Syscall(syscall.SYS_MADVISE, a, hugePageSize, madvCollapse)
			switch e {
			case 0:
				done += hugePageSize
			case syscall.EINVAL:
			default:
				failed = e
			}
		}
	}
	if done == 0 && failed == nil {
		failed = errNoCollapse
	}
	return done, failed
}
