package bench

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
)

// Definitions says how each figure is computed; it is copied into every
// summary so that the files explain themselves.
var Definitions = map[string]string{
	"ttft":          "time to first token: request start to the first content chunk (streaming only)",
	"ttlt":          "time to last token: request start to the last content chunk (streaming only)",
	"e2e":           "end-to-end latency: request start to the complete response, usage included",
	"otps":          "output tokens per second: output tokens / (ttlt - ttft), the generation time after the first token (streaming only)",
	"itl":           "inter-token latency: (ttlt - ttft) / (output tokens - 1)",
	"output_tokens": "from the server's usage; when the server reports none, the number of content chunks (usage_source=estimated)",
	"error_rate":    "failed / (succeeded + failed) over measured requests; requests cancelled by an interrupted run are counted apart",
	"improvement":   "(candidate - baseline) / baseline × 100, from unrounded percentiles; negative is better for TTFT, positive for OTPS",
	"input_bucket":  "prompt size in tokens as reported by the server's usage, else as measured when the prompt was built",
}

// Metrics are the distributions of one set of requests. Times are seconds
// except ITL (milliseconds).
type Metrics struct {
	TTFT         Stats `json:"ttft_s"`
	TTLT         Stats `json:"ttlt_s"`
	E2E          Stats `json:"e2e_s"`
	OTPS         Stats `json:"otps"`
	ITL          Stats `json:"itl_ms"`
	InputTokens  Stats `json:"input_tokens"`
	OutputTokens Stats `json:"output_tokens"`
	CachedTokens Stats `json:"cached_tokens"`
}

// Counts are the request outcomes of one set of requests.
type Counts struct {
	Requests     int            `json:"requests"` // succeeded + failed
	Succeeded    int            `json:"succeeded"`
	Failed       int            `json:"failed"`
	Canceled     int            `json:"canceled,omitempty"`
	ErrorRate    float64        `json:"error_rate"`
	ErrorsByType map[string]int `json:"errors_by_type,omitempty"`
}

// Breakdown is one slice of a group: a task type or an input-length bucket.
type Breakdown struct {
	Key string `json:"key"`
	Counts
	Metrics Metrics `json:"metrics"`
}

// Group is everything measured for one target.
type Group struct {
	Target           string         `json:"target"`
	API              string         `json:"api"`
	Endpoint         string         `json:"endpoint"`
	Model            string         `json:"model"`
	ProfileRequested string         `json:"profile_requested,omitempty"`
	ProfilesServed   map[string]int `json:"profiles_served,omitempty"`
	Deployments      map[string]int `json:"deployments,omitempty"`
	Counts
	Metrics       Metrics     `json:"metrics"`
	ByTask        []Breakdown `json:"by_task"`
	ByInputBucket []Breakdown `json:"by_input_bucket"`
}

// Row is one line of the seed's table.
type Row struct {
	Model   string   `json:"model"`
	Profile string   `json:"profile"`
	TTFTP50 *float64 `json:"ttft_p50_s,omitempty"`
	TTFTP90 *float64 `json:"ttft_p90_s,omitempty"`
	OTPSP50 *float64 `json:"otps_p50,omitempty"`
	OTPSP90 *float64 `json:"otps_p90,omitempty"`
}

// Comparison is a block of the seed's table: candidate, baseline and the
// improvement of the candidate over the baseline in percent.
type Comparison struct {
	Candidate   string `json:"candidate"` // target names
	Baseline    string `json:"baseline"`
	CandRow     Row    `json:"candidate_row"`
	BaseRow     Row    `json:"baseline_row"`
	Improvement Row    `json:"improvement_pct"`
}

// Summary is summary.json.
type Summary struct {
	Tool             string            `json:"tool"`
	PercentileMethod string            `json:"percentile_method"`
	Definitions      map[string]string `json:"definitions"`
	Started          time.Time         `json:"started"`
	Ended            time.Time         `json:"ended"`
	Interrupted      bool              `json:"interrupted"`
	StopReason       string            `json:"stop_reason,omitempty"`
	Planned          int               `json:"planned_requests,omitempty"`
	Config           map[string]any    `json:"config,omitempty"`
	Notes            []string          `json:"notes,omitempty"`
	Groups           []Group           `json:"groups"`
	Comparisons      []Comparison      `json:"comparisons,omitempty"`
}

// Bucket edges for input length, in tokens.
var bucketEdges = []int{256, 1024, 4096, 16384, 65536}

// InputBucket names the bucket of an input length.
func InputBucket(n int) string {
	lo := 0
	for _, e := range bucketEdges {
		if n < e {
			return fmt.Sprintf("%d-%d", lo, e-1)
		}
		lo = e
	}
	return fmt.Sprintf("%d+", lo)
}

func bucketOrder(key string) int {
	lo, _, _ := strings.Cut(strings.TrimSuffix(key, "+"), "-")
	var n int
	fmt.Sscan(lo, &n)
	return n
}

// collect computes counts and metrics of recs (measured records only).
func collect(recs []*Record) (Counts, Metrics) {
	var c Counts
	var ttft, ttlt, e2e, otps, itl, in, out, cached []float64
	for _, r := range recs {
		switch {
		case r.ErrorType == ErrCanceled:
			c.Canceled++
			continue
		case !r.OK():
			c.Failed++
			if c.ErrorsByType == nil {
				c.ErrorsByType = map[string]int{}
			}
			c.ErrorsByType[r.ErrorType]++
			continue
		}
		c.Succeeded++
		add := func(dst *[]float64, p *float64, scale float64) {
			if p != nil {
				*dst = append(*dst, *p*scale)
			}
		}
		add(&ttft, r.TTFTMs, 1e-3)
		add(&ttlt, r.TTLTMs, 1e-3)
		add(&e2e, r.E2EMs, 1e-3)
		add(&otps, r.OTPS, 1)
		add(&itl, r.ITLMs, 1)
		if r.InputTokens > 0 || r.UsageSource == "server" {
			in = append(in, float64(r.InputTokens))
			cached = append(cached, float64(r.CachedTokens))
		}
		if r.UsageSource != "" {
			out = append(out, float64(r.OutputTokens))
		}
	}
	c.Requests = c.Succeeded + c.Failed
	if c.Requests > 0 {
		c.ErrorRate = float64(c.Failed) / float64(c.Requests)
	}
	return c, Metrics{
		TTFT: Describe(ttft), TTLT: Describe(ttlt), E2E: Describe(e2e), OTPS: Describe(otps),
		ITL: Describe(itl), InputTokens: Describe(in), OutputTokens: Describe(out), CachedTokens: Describe(cached),
	}
}

// Summarize computes the summary of records. Targets fixes the group order
// (records of other targets follow in order of appearance); baseline, when
// set, names the target every other is compared with.
func Summarize(records []Record, targets []string, baseline string) Summary {
	s := Summary{Tool: "outcrop bench", PercentileMethod: PercentileMethod, Definitions: Definitions}
	order := append([]string(nil), targets...)
	byTarget := map[string][]*Record{}
	for i := range records {
		r := &records[i]
		if r.Warmup {
			continue
		}
		if _, ok := byTarget[r.Target]; !ok && !slices.Contains(order, r.Target) {
			order = append(order, r.Target)
		}
		byTarget[r.Target] = append(byTarget[r.Target], r)
	}
	for _, name := range order {
		recs := byTarget[name]
		g := Group{Target: name}
		for _, r := range recs {
			g.API, g.Endpoint, g.Model, g.ProfileRequested = r.API, r.Endpoint, r.Model, r.ProfileRequested
			if r.ProfileServed != "" {
				if g.ProfilesServed == nil {
					g.ProfilesServed = map[string]int{}
				}
				g.ProfilesServed[r.ProfileServed]++
			}
			if r.Deployment != "" {
				if g.Deployments == nil {
					g.Deployments = map[string]int{}
				}
				g.Deployments[r.Deployment]++
			}
		}
		g.Counts, g.Metrics = collect(recs)
		g.ByTask = breakdown(recs, func(r *Record) string { return r.Task }, taskOrder)
		g.ByInputBucket = breakdown(recs, func(r *Record) string { return InputBucket(r.InputLength()) }, bucketOrder)
		s.Groups = append(s.Groups, g)
	}
	s.Comparisons = Compare(s.Groups, baseline)
	return s
}

func taskOrder(key string) int {
	for i, t := range Tasks {
		if t == key {
			return i
		}
	}
	return len(Tasks)
}

func breakdown(recs []*Record, key func(*Record) string, order func(string) int) []Breakdown {
	parts := map[string][]*Record{}
	for _, r := range recs {
		k := key(r)
		parts[k] = append(parts[k], r)
	}
	keys := make([]string, 0, len(parts))
	for k := range parts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		oi, oj := order(keys[i]), order(keys[j])
		if oi != oj {
			return oi < oj
		}
		return keys[i] < keys[j]
	})
	out := make([]Breakdown, 0, len(keys))
	for _, k := range keys {
		c, m := collect(parts[k])
		out = append(out, Breakdown{Key: k, Counts: c, Metrics: m})
	}
	return out
}

// Compare pairs groups into the seed's comparison blocks. Without a
// baseline, a target asking for the optimized profile is compared with the
// target that differs from it only by asking for standard; if no such pair
// exists, every group is compared with the first. With a baseline, every
// other group is compared with it.
func Compare(groups []Group, baseline string) []Comparison {
	var out []Comparison
	idx := map[string]int{}
	for i, g := range groups {
		idx[g.Target] = i
	}
	if b, ok := idx[baseline]; ok {
		for i := range groups {
			if i != b {
				out = append(out, compareTwo(groups, i, b))
			}
		}
		return out
	}
	for i, g := range groups {
		if g.ProfileRequested != "optimized" {
			continue
		}
		for j, h := range groups {
			if h.ProfileRequested == "standard" && h.Model == g.Model && h.API == g.API && h.Endpoint == g.Endpoint {
				out = append(out, compareTwo(groups, i, j))
				break
			}
		}
	}
	if len(out) == 0 {
		for i := 1; i < len(groups); i++ {
			out = append(out, compareTwo(groups, i, 0))
		}
	}
	return out
}

func compareTwo(groups []Group, cand, base int) Comparison {
	c, b := groups[cand], groups[base]
	cr, br := rowOf(groups, c), rowOf(groups, b)
	imp := Row{Model: "Improvement",
		TTFTP50: pct(cr.TTFTP50, br.TTFTP50), TTFTP90: pct(cr.TTFTP90, br.TTFTP90),
		OTPSP50: pct(cr.OTPSP50, br.OTPSP50), OTPSP90: pct(cr.OTPSP90, br.OTPSP90)}
	return Comparison{Candidate: c.Target, Baseline: b.Target, CandRow: cr, BaseRow: br, Improvement: imp}
}

// rowOf labels a group with its model, adding the target name when another
// group has the same model and profile.
func rowOf(groups []Group, g Group) Row {
	label := g.Model
	for _, h := range groups {
		if h.Target != g.Target && h.Model == g.Model && h.ProfileRequested == g.ProfileRequested {
			label = g.Model + " (" + g.Target + ")"
			break
		}
	}
	if label == "" {
		label = g.Target
	}
	prof := "-"
	if g.ProfileRequested != "" {
		prof = strings.ToUpper(g.ProfileRequested[:1]) + g.ProfileRequested[1:]
	}
	return Row{Model: label, Profile: prof,
		TTFTP50: g.Metrics.TTFT.P50, TTFTP90: g.Metrics.TTFT.P90,
		OTPSP50: g.Metrics.OTPS.P50, OTPSP90: g.Metrics.OTPS.P90}
}

func pct(c, b *float64) *float64 {
	if c == nil || b == nil || *b == 0 || math.IsNaN(*b) {
		return nil
	}
	return ptr((*c - *b) / *b * 100)
}
