package bench

import (
	"math"
	"sort"
)

// PercentileMethod names the percentile estimator used in every output, so
// that a reader can reproduce each figure with another tool.
const PercentileMethod = "linear interpolation between closest ranks (Hyndman-Fan type 7; " +
	"NumPy percentile default, Excel PERCENTILE.INC, Python statistics.quantiles method='inclusive')"

// Percentile returns the p-th percentile (0 ≤ p ≤ 100) of sorted, which must
// be in ascending order, by PercentileMethod. It returns NaN for no values.
func Percentile(sorted []float64, p float64) float64 {
	n := len(sorted)
	switch {
	case n == 0:
		return math.NaN()
	case n == 1 || p <= 0:
		return sorted[0]
	case p >= 100:
		return sorted[n-1]
	}
	h := float64(n-1) * p / 100
	lo := math.Floor(h)
	i := int(lo)
	if i+1 >= n {
		return sorted[n-1]
	}
	return sorted[i] + (h-lo)*(sorted[i+1]-sorted[i])
}

// Stats summarises one metric over a set of requests.
type Stats struct {
	// N is the number of values; the other fields are absent when it is 0.
	N     int      `json:"n"`
	Mean  *float64 `json:"mean,omitempty"`
	Stdev *float64 `json:"stdev,omitempty"` // sample standard deviation (n-1); 0 for one value
	Min   *float64 `json:"min,omitempty"`
	P50   *float64 `json:"p50,omitempty"`
	P90   *float64 `json:"p90,omitempty"`
	P99   *float64 `json:"p99,omitempty"`
	Max   *float64 `json:"max,omitempty"`
}

// Describe computes Stats over values (which it does not modify).
func Describe(values []float64) Stats {
	s := Stats{N: len(values)}
	if s.N == 0 {
		return s
	}
	v := append([]float64(nil), values...)
	sort.Float64s(v)
	var sum float64
	for _, x := range v {
		sum += x
	}
	mean := sum / float64(len(v))
	var ss float64
	for _, x := range v {
		ss += (x - mean) * (x - mean)
	}
	sd := 0.0
	if len(v) > 1 {
		sd = math.Sqrt(ss / float64(len(v)-1))
	}
	f := func(x float64) *float64 { return &x }
	s.Mean, s.Stdev = f(mean), f(sd)
	s.Min, s.Max = f(v[0]), f(v[len(v)-1])
	s.P50, s.P90, s.P99 = f(Percentile(v, 50)), f(Percentile(v, 90)), f(Percentile(v, 99))
	return s
}

// value dereferences an optional figure, NaN when absent.
func value(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}
