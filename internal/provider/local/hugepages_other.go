//go:build !linux

package local

import "errors"

type span struct{ start, end uintptr }

func anonSpans() ([]span, error) { return nil, nil }

func newSpans(before, after []span) []span { return nil }

func collapseHugePages([]span, <-chan struct{}) (int64, error) {
	return 0, errors.New("huge pages are only requested on Linux")
}
