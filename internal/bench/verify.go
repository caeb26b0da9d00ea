package bench

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
)

// referencePercentile states PercentileMethod in its textbook 1-based form,
// h = (N-1)p + 1, Q = x⌊h⌋ + (h-⌊h⌋)(x⌈h⌉ - x⌊h⌋), independently of
// Percentile so that each checks the other.
func referencePercentile(values []float64, p float64) float64 {
	x := append([]float64(nil), values...)
	sort.Float64s(x)
	n := float64(len(x))
	h := (n-1)*(p/100) + 1
	lo, hi := math.Floor(h), math.Ceil(h)
	at := func(k float64) float64 { return x[int(k)-1] }
	return at(lo) + (h-lo)*(at(hi)-at(lo))
}

func nearlyEqual(a, b float64) bool {
	return math.Abs(a-b) <= 1e-9*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}

// Verify recomputes every figure of dir's summary.json (counts, error
// rates, mean, stdev, min, max and percentiles of every metric, per target,
// task and input bucket, the improvement rows) and the TTFT percentiles of
// summary.csv from requests.jsonl, with plain arithmetic and a separately
// written percentile (the textbook 1-based statement of the same method). It
// returns one line per disagreement. `outcrop bench verify` runs it.
func Verify(dir string) ([]string, error) {
	recs, err := ReadRecords(filepath.Join(dir, FileRequests))
	if err != nil {
		return nil, err
	}
	var s Summary
	b, err := os.ReadFile(filepath.Join(dir, FileSummary))
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", FileSummary, err)
	}
	v := &verifier{recs: recs}
	if s.PercentileMethod != PercentileMethod {
		v.errorf("percentile method = %q, want %q", s.PercentileMethod, PercentileMethod)
	}
	for _, g := range s.Groups {
		v.group(g.Target, g.Counts, g.Metrics, func(r Record) bool { return r.Target == g.Target })
		for _, k := range g.ByTask {
			v.group(g.Target+" task "+k.Key, k.Counts, k.Metrics, func(r Record) bool { return r.Target == g.Target && r.Task == k.Key })
		}
		for _, k := range g.ByInputBucket {
			v.group(g.Target+" bucket "+k.Key, k.Counts, k.Metrics, func(r Record) bool {
				return r.Target == g.Target && InputBucket(r.InputLength()) == k.Key
			})
		}
	}
	groups := map[string]Group{}
	for _, g := range s.Groups {
		groups[g.Target] = g
	}
	v.comparisons(s.Comparisons, groups)
	if err := v.csv(filepath.Join(dir, FileCSV), groups); err != nil {
		return v.bad, err
	}
	return v.bad, nil
}

// verifier collects the disagreements Verify finds between the stored
// figures and the ones recomputed from the request records.
type verifier struct {
	recs []Record
	bad  []string
}

func (v *verifier) errorf(format string, a ...any) { v.bad = append(v.bad, fmt.Sprintf(format, a...)) }

// stat checks one metric's statistics against vals, recomputed
// independently (two-pass standard deviation, the reference percentile).
func (v *verifier) stat(what string, got Stats, vals []float64) {
	if got.N != len(vals) {
		v.errorf("%s: n = %d, want %d", what, got.N, len(vals))
		return
	}
	if len(vals) == 0 {
		return
	}
	var sum float64
	for _, x := range vals {
		sum += x
	}
	mean := sum / float64(len(vals))
	var ss float64
	for _, x := range vals {
		ss += (x - mean) * (x - mean)
	}
	sd := 0.0
	if len(vals) > 1 {
		sd = math.Sqrt(ss / float64(len(vals)-1))
	}
	lo, hi := vals[0], vals[0]
	for _, x := range vals {
		lo, hi = math.Min(lo, x), math.Max(hi, x)
	}
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"mean", *got.Mean, mean}, {"stdev", *got.Stdev, sd}, {"min", *got.Min, lo}, {"max", *got.Max, hi},
		{"p50", *got.P50, referencePercentile(vals, 50)}, {"p90", *got.P90, referencePercentile(vals, 90)}, {"p99", *got.P99, referencePercentile(vals, 99)}} {
		if !nearlyEqual(c.got, c.want) {
			v.errorf("%s %s = %v, recomputed %v", what, c.name, c.got, c.want)
		}
	}
}

// group checks the counts and metrics of the records keep selects
// (measured, not cancelled).
func (v *verifier) group(what string, c Counts, m Metrics, keep func(Record) bool) {
	var ok, failed int
	var ttft, ttlt, e2e, otps, itl, out []float64
	for _, r := range v.recs {
		if r.Warmup || !keep(r) || r.ErrorType == ErrCanceled {
			continue
		}
		if r.ErrorType != "" {
			failed++
			continue
		}
		ok++
		if r.TTFTMs != nil {
			ttft = append(ttft, *r.TTFTMs/1000)
			ttlt = append(ttlt, *r.TTLTMs/1000)
		}
		if r.E2EMs != nil {
			e2e = append(e2e, *r.E2EMs/1000)
		}
		if r.OTPS != nil {
			// OTPS must itself follow from the record's times and tokens.
			if want := float64(r.OutputTokens) / ((*r.TTLTMs - *r.TTFTMs) / 1000); math.Abs(*r.OTPS-want) > 1e-6*want+0.01 {
				v.errorf("record %d: otps %v, recomputed %v", r.Seq, *r.OTPS, want)
			}
			otps = append(otps, *r.OTPS)
		}
		if r.ITLMs != nil {
			itl = append(itl, *r.ITLMs)
		}
		if r.UsageSource != "" {
			out = append(out, float64(r.OutputTokens))
		}
	}
	if c.Succeeded != ok || c.Failed != failed {
		v.errorf("%s: succeeded/failed = %d/%d, recomputed %d/%d", what, c.Succeeded, c.Failed, ok, failed)
	}
	if ok+failed > 0 && !nearlyEqual(c.ErrorRate, float64(failed)/float64(ok+failed)) {
		v.errorf("%s: error rate %v, recomputed %v", what, c.ErrorRate, float64(failed)/float64(ok+failed))
	}
	v.stat(what+" ttft", m.TTFT, ttft)
	v.stat(what+" ttlt", m.TTLT, ttlt)
	v.stat(what+" e2e", m.E2E, e2e)
	v.stat(what+" otps", m.OTPS, otps)
	v.stat(what+" itl", m.ITL, itl)
	v.stat(what+" output tokens", m.OutputTokens, out)
}

// comparisons checks each comparison's improvements against the groups'
// percentiles.
func (v *verifier) comparisons(cs []Comparison, groups map[string]Group) {
	for _, c := range cs {
		cg, bg := groups[c.Candidate], groups[c.Baseline]
		for _, x := range []struct {
			name      string
			got       *float64
			cand, bas *float64
		}{{"ttft p50", c.Improvement.TTFTP50, cg.Metrics.TTFT.P50, bg.Metrics.TTFT.P50},
			{"ttft p90", c.Improvement.TTFTP90, cg.Metrics.TTFT.P90, bg.Metrics.TTFT.P90},
			{"otps p50", c.Improvement.OTPSP50, cg.Metrics.OTPS.P50, bg.Metrics.OTPS.P50},
			{"otps p90", c.Improvement.OTPSP90, cg.Metrics.OTPS.P90, bg.Metrics.OTPS.P90}} {
			if x.cand == nil {
				continue
			}
			if want := (*x.cand - *x.bas) / *x.bas * 100; x.got == nil || !nearlyEqual(*x.got, want) {
				v.errorf("improvement %s = %v, recomputed %v", x.name, x.got, want)
			}
		}
	}
}

// csv checks that summary.csv carries the same TTFT p50 as summary.json.
func (v *verifier) csv(path string, groups map[string]Group) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return fmt.Errorf("%s: %w", FileCSV, err)
	}
	for _, row := range rows[1:] {
		if row[0] == "" || row[2] != "ttft_s" || row[1] != "all" || row[7] == "" {
			continue
		}
		p50, _ := strconv.ParseFloat(row[7], 64)
		if g := groups[row[0]]; g.Metrics.TTFT.P50 == nil || !nearlyEqual(p50, *g.Metrics.TTFT.P50) {
			v.errorf("csv %s ttft p50 = %v, summary %v", row[0], p50, g.Metrics.TTFT.P50)
		}
	}
	return nil
}
