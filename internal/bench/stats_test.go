package bench

import (
	"math"
	"sort"
	"testing"
)

func refPercentile(v []float64, p float64) float64 { return referencePercentile(v, p) }

func approx(a, b float64) bool { return nearlyEqual(a, b) }

// The wanted values come from Python 3's statistics module:
// statistics.quantiles(v, n=100, method="inclusive")[49, 89, 98], mean, stdev.
func TestPercentileKnownVectors(t *testing.T) {
	tests := []struct {
		name                string
		v                   []float64
		p50, p90, p99, mean float64
		stdev               float64
	}{
		{name: "single", v: []float64{3.5}, p50: 3.5, p90: 3.5, p99: 3.5, mean: 3.5, stdev: 0},
		{name: "two", v: []float64{1, 2}, p50: 1.5, p90: 1.9, p99: 1.99, mean: 1.5, stdev: 0.7071067811865476},
		{name: "five", v: []float64{15, 20, 35, 40, 50}, p50: 35, p90: 46, p99: 49.6, mean: 32, stdev: 14.404860290887934},
		{name: "unsorted duplicates", v: []float64{7, 1, 3, 3, 9, 2, 2, 8, 10, 4}, p50: 3.5, p90: 9.1, p99: 9.91, mean: 4.9, stdev: 3.2812599206199233},
		{name: "skewed latencies", v: []float64{0.12, 0.15, 0.11, 0.9, 0.13, 0.14, 0.16, 2.5, 0.12, 0.13, 0.17, 0.2},
			p50: 0.145, p90: 0.83, p99: 2.324, mean: 0.4025, stdev: 0.6959117629543143},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := Describe(tc.v)
			for _, c := range []struct {
				what      string
				got, want float64
			}{
				{"p50", *s.P50, tc.p50}, {"p90", *s.P90, tc.p90}, {"p99", *s.P99, tc.p99},
				{"mean", *s.Mean, tc.mean}, {"stdev", *s.Stdev, tc.stdev},
				{"ref p50", refPercentile(tc.v, 50), tc.p50}, {"ref p90", refPercentile(tc.v, 90), tc.p90},
				{"ref p99", refPercentile(tc.v, 99), tc.p99},
			} {
				if !approx(c.got, c.want) {
					t.Errorf("%s(%v) = %v, want %v", c.what, tc.v, c.got, c.want)
				}
			}
		})
	}
}

func TestPercentileMatchesReference(t *testing.T) {
	// Pseudo-random vectors of many lengths against the reference at many p.
	x := uint64(88172645463325252)
	next := func() float64 { x ^= x << 13; x ^= x >> 7; x ^= x << 17; return float64(x%100000) / 100 }
	for n := 1; n <= 60; n++ {
		v := make([]float64, n)
		for i := range v {
			v[i] = next()
		}
		sorted := append([]float64(nil), v...)
		sort.Float64s(sorted)
		for p := 0.0; p <= 100; p += 2.5 {
			if got, want := Percentile(sorted, p), refPercentile(v, p); !approx(got, want) {
				t.Fatalf("Percentile(n=%d, p=%v) = %v, want %v", n, p, got, want)
			}
		}
	}
}

func TestDescribeEmpty(t *testing.T) {
	s := Describe(nil)
	if s.N != 0 || s.P50 != nil || s.Mean != nil {
		t.Errorf("Describe(nil) = %+v, want only N=0", s)
	}
	if !math.IsNaN(Percentile(nil, 50)) {
		t.Errorf("Percentile(nil) is not NaN")
	}
}
