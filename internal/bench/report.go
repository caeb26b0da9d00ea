package bench

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Output file names inside --out DIR.
const (
	FileRequests = "requests.jsonl"
	FileSummary  = "summary.json"
	FileCSV      = "summary.csv"
	FileMarkdown = "summary.md"
	FileHTML     = "report.html"
)

func f3(p *float64) string { return fmtNum(p, 3, "") }
func f1(p *float64) string { return fmtNum(p, 1, "") }

func fmtNum(p *float64, prec int, suffix string) string {
	if p == nil || math.IsNaN(*p) || math.IsInf(*p, 0) {
		return "n/a"
	}
	return strconv.FormatFloat(*p, 'f', prec, 64) + suffix
}

// SeedTable renders comparisons in the seed's layout: model, inference
// profile, TTFT P50/P90 in seconds, OTPS P50/P90, then the improvement row.
func SeedTable(cs []Comparison) string {
	var b strings.Builder
	b.WriteString("| Model | Inference profile | TTFT P50 (in seconds) | TTFT P90 (in seconds) | OTPS P50 | OTPS P90 |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|\n")
	for _, c := range cs {
		for _, r := range []Row{c.CandRow, c.BaseRow} {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", r.Model, r.Profile, f3(r.TTFTP50), f3(r.TTFTP90), f1(r.OTPSP50), f1(r.OTPSP90))
		}
		i := c.Improvement
		fmt.Fprintf(&b, "| Improvement | | %s | %s | %s | %s |\n",
			fmtNum(i.TTFTP50, 2, "%"), fmtNum(i.TTFTP90, 2, "%"), fmtNum(i.OTPSP50, 2, "%"), fmtNum(i.OTPSP90, 2, "%"))
	}
	return b.String()
}

// OverviewTable renders one line per target.
func OverviewTable(s Summary) string {
	var b strings.Builder
	b.WriteString("| Target | Requests | Errors | Error rate | TTFT P50 / P90 / P99 (s) | E2E P50 / P90 / P99 (s) | OTPS P50 / P90 | ITL P50 (ms) | Output tokens mean |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, g := range s.Groups {
		m := g.Metrics
		fmt.Fprintf(&b, "| %s | %d | %d | %.1f%% | %s / %s / %s | %s / %s / %s | %s / %s | %s | %s |\n",
			g.Target, g.Requests, g.Failed, g.ErrorRate*100,
			f3(m.TTFT.P50), f3(m.TTFT.P90), f3(m.TTFT.P99), f3(m.E2E.P50), f3(m.E2E.P90), f3(m.E2E.P99),
			f1(m.OTPS.P50), f1(m.OTPS.P90), f1(m.ITL.P50), f1(m.OutputTokens.Mean))
	}
	return b.String()
}

func breakdownTable(s Summary, title string, pick func(Group) []Breakdown) string {
	var b strings.Builder
	fmt.Fprintf(&b, "| Target | %s | Requests | Errors | TTFT P50 / P90 (s) | E2E P50 / P90 (s) | OTPS P50 / P90 | Input tokens mean |\n", title)
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|\n")
	for _, g := range s.Groups {
		for _, k := range pick(g) {
			m := k.Metrics
			fmt.Fprintf(&b, "| %s | %s | %d | %d | %s / %s | %s / %s | %s / %s | %s |\n", g.Target, k.Key, k.Requests, k.Failed,
				f3(m.TTFT.P50), f3(m.TTFT.P90), f3(m.E2E.P50), f3(m.E2E.P90), f1(m.OTPS.P50), f1(m.OTPS.P90), f1(m.InputTokens.Mean))
		}
	}
	return b.String()
}

// Markdown renders summary.md.
func Markdown(s Summary) string {
	var b strings.Builder
	b.WriteString("# outcrop bench\n\n")
	fmt.Fprintf(&b, "Run %s → %s, stop reason: %s", s.Started.UTC().Format("2006-01-02 15:04:05Z"), s.Ended.UTC().Format("15:04:05Z"), s.StopReason)
	if s.Interrupted {
		b.WriteString(" (**interrupted**: partial results)")
	}
	b.WriteString(".\n\n")
	if len(s.Comparisons) > 0 {
		b.WriteString("## Comparison (seed layout)\n\n")
		b.WriteString(SeedTable(s.Comparisons))
		b.WriteString("\n")
	}
	b.WriteString("## Targets\n\n")
	b.WriteString(OverviewTable(s))
	b.WriteString("\n## By task type\n\n")
	b.WriteString(breakdownTable(s, "Task", func(g Group) []Breakdown { return g.ByTask }))
	b.WriteString("\n## By input length (tokens)\n\n")
	b.WriteString(breakdownTable(s, "Input bucket", func(g Group) []Breakdown { return g.ByInputBucket }))
	b.WriteString("\n## Method\n\n")
	fmt.Fprintf(&b, "- Percentiles: %s.\n", s.PercentileMethod)
	for _, k := range []string{"ttft", "otps", "e2e", "itl", "output_tokens", "error_rate", "improvement", "input_bucket"} {
		fmt.Fprintf(&b, "- %s: %s.\n", k, s.Definitions[k])
	}
	for _, n := range s.Notes {
		fmt.Fprintf(&b, "- %s\n", n)
	}
	return b.String()
}

// CSV renders summary.csv in long form: one row per target, scope (all,
// task:X, input:B) and metric.
func CSV(s Summary) ([]byte, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write([]string{"target", "scope", "metric", "n", "mean", "stdev", "min", "p50", "p90", "p99", "max"})
	num := func(p *float64) string {
		if p == nil {
			return ""
		}
		return strconv.FormatFloat(*p, 'g', -1, 64)
	}
	emit := func(target, scope string, c Counts, m Metrics) {
		w.Write([]string{target, scope, "requests", strconv.Itoa(c.Requests), "", "", "", "", "", "", ""})
		w.Write([]string{target, scope, "error_rate", strconv.Itoa(c.Requests), strconv.FormatFloat(c.ErrorRate, 'g', -1, 64), "", "", "", "", "", ""})
		for _, mm := range []struct {
			name string
			st   Stats
		}{{"ttft_s", m.TTFT}, {"ttlt_s", m.TTLT}, {"e2e_s", m.E2E}, {"otps", m.OTPS}, {"itl_ms", m.ITL},
			{"input_tokens", m.InputTokens}, {"output_tokens", m.OutputTokens}, {"cached_tokens", m.CachedTokens}} {
			st := mm.st
			w.Write([]string{target, scope, mm.name, strconv.Itoa(st.N), num(st.Mean), num(st.Stdev), num(st.Min),
				num(st.P50), num(st.P90), num(st.P99), num(st.Max)})
		}
	}
	for _, g := range s.Groups {
		emit(g.Target, "all", g.Counts, g.Metrics)
		for _, k := range g.ByTask {
			emit(g.Target, "task:"+k.Key, k.Counts, k.Metrics)
		}
		for _, k := range g.ByInputBucket {
			emit(g.Target, "input:"+k.Key, k.Counts, k.Metrics)
		}
	}
	w.Flush()
	return buf.Bytes(), w.Error()
}

// charts builds the four charts from the records.
func charts(s Summary, records []Record) map[string]*chart {
	byTarget := map[string][]Record{}
	for _, r := range records {
		if !r.Warmup && r.OK() {
			byTarget[r.Target] = append(byTarget[r.Target], r)
		}
	}
	cdf := func(title string, get func(Record) *float64) *chart {
		c := &chart{Title: title, Kind: kindCDF, XLabel: "seconds", YLabel: "fraction of requests"}
		for _, g := range s.Groups {
			ser := series{Name: g.Target}
			for _, r := range byTarget[g.Target] {
				if p := get(r); p != nil {
					ser.X = append(ser.X, *p/1000)
				}
			}
			if len(ser.X) > 0 {
				c.Series = append(c.Series, ser)
			}
		}
		return c
	}
	out := map[string]*chart{
		"ttft_cdf": cdf("CDF of time to first token", func(r Record) *float64 { return r.TTFTMs }),
		"e2e_cdf":  cdf("CDF of end-to-end latency", func(r Record) *float64 { return r.E2EMs }),
	}
	bars := &chart{Title: "Output tokens per second by task (bar P50, whisker P90)", Kind: kindBars,
		XLabel: "task", YLabel: "OTPS"}
	var cats []string
	for _, g := range s.Groups {
		for _, k := range g.ByTask {
			if !slices.Contains(cats, k.Key) {
				cats = append(cats, k.Key)
			}
		}
	}
	bars.Categories = cats
	for _, g := range s.Groups {
		ser := series{Name: g.Target}
		for _, cat := range cats {
			p50, p90 := math.NaN(), math.NaN()
			for _, k := range g.ByTask {
				if k.Key == cat && k.Metrics.OTPS.N > 0 {
					p50, p90 = *k.Metrics.OTPS.P50, *k.Metrics.OTPS.P90
				}
			}
			ser.Y, ser.Hi = append(ser.Y, p50), append(ser.Hi, p90)
		}
		bars.Series = append(bars.Series, ser)
	}
	out["otps_by_task"] = bars
	sc := &chart{Title: "Latency vs input length", Kind: kindScatter, XLog: true,
		XLabel: "input tokens (log scale)", YLabel: "TTFT (s)"}
	streaming := false
	for _, r := range records {
		if r.TTFTMs != nil {
			streaming = true
			break
		}
	}
	if !streaming {
		sc.YLabel = "E2E (s)"
	}
	for _, g := range s.Groups {
		ser := series{Name: g.Target}
		for _, r := range byTarget[g.Target] {
			p := r.TTFTMs
			if !streaming {
				p = r.E2EMs
			}
			if p != nil && r.InputLength() > 0 {
				ser.X = append(ser.X, float64(r.InputLength()))
				ser.Y = append(ser.Y, *p/1000)
			}
		}
		if len(ser.X) > 0 {
			sc.Series = append(sc.Series, ser)
		}
	}
	out["latency_vs_input"] = sc
	return out
}

// ChartNames lists the chart files written (each as .svg and .png).
var ChartNames = []string{"ttft_cdf", "e2e_cdf", "otps_by_task", "latency_vs_input"}

// WriteReport writes every output except requests.jsonl into dir.
func WriteReport(dir string, s Summary, records []Record) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	js, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(dir, FileSummary), append(js, '\n')); err != nil {
		return err
	}
	cs, err := CSV(s)
	if err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(dir, FileCSV), cs); err != nil {
		return err
	}
	md := Markdown(s)
	if err := writeAtomic(filepath.Join(dir, FileMarkdown), []byte(md)); err != nil {
		return err
	}
	cs2 := charts(s, records)
	svgs := map[string][]byte{}
	for _, name := range ChartNames {
		c := cs2[name]
		svg := c.SVG()
		svgs[name] = svg
		if err := writeAtomic(filepath.Join(dir, name+".svg"), svg); err != nil {
			return err
		}
		pngb, err := c.PNG()
		if err != nil {
			return err
		}
		if err := writeAtomic(filepath.Join(dir, name+".png"), pngb); err != nil {
			return err
		}
	}
	return writeAtomic(filepath.Join(dir, FileHTML), []byte(htmlReport(s, svgs)))
}

// writeAtomic replaces path so that an interrupted write never leaves a
// truncated file behind.
func writeAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// htmlReport renders a self-contained page: tables from the Markdown
// renderers, charts inlined as SVG.
func htmlReport(s Summary, svgs map[string][]byte) string {
	var b strings.Builder
	b.WriteString("<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>outcrop bench</title>\n<style>")
	b.WriteString("body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}" +
		"table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;font-size:13px}" +
		"th{background:#f3f3f3}td.n{text-align:right}svg{max-width:100%;height:auto;border:1px solid #eee;margin:.5em 0}" +
		".warn{color:#a40}</style></head><body>\n")
	b.WriteString("<h1>outcrop bench</h1>\n")
	fmt.Fprintf(&b, "<p>Run %s → %s, stop reason: %s.", html.EscapeString(s.Started.UTC().Format("2006-01-02 15:04:05Z")),
		html.EscapeString(s.Ended.UTC().Format("15:04:05Z")), html.EscapeString(s.StopReason))
	if s.Interrupted {
		b.WriteString(` <span class="warn">Interrupted: partial results.</span>`)
	}
	b.WriteString("</p>\n")
	sections := []struct{ title, md string }{}
	if len(s.Comparisons) > 0 {
		sections = append(sections, struct{ title, md string }{"Comparison (seed layout)", SeedTable(s.Comparisons)})
	}
	sections = append(sections,
		struct{ title, md string }{"Targets", OverviewTable(s)},
		struct{ title, md string }{"By task type", breakdownTable(s, "Task", func(g Group) []Breakdown { return g.ByTask })},
		struct{ title, md string }{"By input length (tokens)", breakdownTable(s, "Input bucket", func(g Group) []Breakdown { return g.ByInputBucket })},
	)
	for _, sec := range sections {
		fmt.Fprintf(&b, "<h2>%s</h2>\n%s", html.EscapeString(sec.title), mdTableHTML(sec.md))
	}
	b.WriteString("<h2>Charts</h2>\n")
	for _, name := range ChartNames {
		b.Write(svgs[name])
	}
	b.WriteString("<h2>Method</h2>\n<ul>\n")
	fmt.Fprintf(&b, "<li>Percentiles: %s.</li>\n", html.EscapeString(s.PercentileMethod))
	for _, k := range []string{"ttft", "otps", "e2e", "itl", "output_tokens", "error_rate", "improvement", "input_bucket"} {
		fmt.Fprintf(&b, "<li>%s: %s.</li>\n", k, html.EscapeString(s.Definitions[k]))
	}
	for _, n := range s.Notes {
		fmt.Fprintf(&b, "<li>%s</li>\n", html.EscapeString(n))
	}
	b.WriteString("</ul>\n</body></html>\n")
	return b.String()
}

// mdTableHTML converts the pipe tables this file renders into HTML.
func mdTableHTML(md string) string {
	var b strings.Builder
	b.WriteString("<table>\n")
	lines := strings.Split(strings.TrimSpace(md), "\n")
	for i, l := range lines {
		if i == 1 {
			continue // alignment row
		}
		cells := strings.Split(strings.Trim(l, "|"), "|")
		tag := "td"
		if i == 0 {
			tag = "th"
		}
		b.WriteString("<tr>")
		for j, c := range cells {
			cls := ""
			if i > 0 && j >= 2 {
				cls = ` class="n"`
			}
			fmt.Fprintf(&b, "<%s%s>%s</%s>", tag, cls, html.EscapeString(strings.TrimSpace(c)), tag)
		}
		b.WriteString("</tr>\n")
	}
	b.WriteString("</table>\n")
	return b.String()
}
