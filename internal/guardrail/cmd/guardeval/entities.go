package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/outcrop/outcrop/internal/guardrail"
	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/provider/local"
	"github.com/outcrop/outcrop/internal/provider/openai"
)

// entitySection measures ModelEntityDetector (NAME, ADDRESS) through the
// built-in engine or an OpenAI-compatible endpoint on the first n sentences
// of the report split in file order (all of them when n <= 0), with or
// without a PERSON or STREET_ADDRESS span, so that precision counts what
// the model marks in sentences that have none.
func entitySection(r *report, datasets, baseURL, model, gguf string, n int) error {
	r.p("## Model-based NAME and ADDRESS\n\n")
	var p llm.Provider
	where := baseURL
	switch {
	case gguf != "":
		eng, err := local.New(context.Background(), local.Config{Path: gguf, Slots: 1, ContextSize: 2048}, slog.New(slog.DiscardHandler))
		if err != nil {
			return err
		}
		defer eng.Close()
		p, model, where = eng, filepath.Base(gguf), "the built-in engine"
	case baseURL != "":
		op, err := openai.New(openai.Config{BaseURL: baseURL, Model: model})
		if err != nil {
			return err
		}
		p = op
	default:
		r.p("Not measured in this run (pass `-entity-gguf FILE` or `-entity-url URL -entity-model NAME`).\n\n")
		return nil
	}
	det := &guardrail.ModelEntityDetector{Provider: p, Model: model}
	samples, err := loadPresidio(datasets)
	if err != nil {
		return err
	}
	counts := map[string]*piiCounts{"NAME": {}, "ADDRESS": {}}
	used, failed, withEnt, inSplit := 0, 0, 0, 0
	for _, s := range samples {
		if splitOf(s.Text) == reportSplit {
			inSplit++
		}
	}
	if n <= 0 || n > inSplit {
		n = inSplit
	}
	t0 := time.Now()
	for _, s := range samples {
		if used >= n || splitOf(s.Text) != reportSplit {
			continue
		}
		used++
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		spans, err := det.DetectEntities(ctx, s.Text, []string{"NAME", "ADDRESS"})
		cancel()
		fmt.Fprintf(os.Stderr, "entity %d/%d: %d spans, err %v, %.0fs\n", used, n, len(spans), err, time.Since(t0).Seconds())
		if err != nil {
			failed++
			continue
		}
		runeOf := byteToRune(s.Text)
		type gs struct {
			typ        string
			start, end int
		}
		var gold []gs
		for _, g := range s.Spans {
			if t := presidioToBedrock[g.Type]; t == "NAME" || t == "ADDRESS" {
				gold = append(gold, gs{t, g.Start, g.End})
				counts[t].gold++
			}
		}
		if len(gold) > 0 {
			withEnt++
		}
		hit := make([]bool, len(gold))
		for _, d := range spans {
			ok := false
			for i, g := range gold {
				if g.typ == d.Type && runeOf[d.Start] < g.end && g.start < runeOf[d.End] {
					ok, hit[i] = true, true
				}
			}
			if ok {
				counts[d.Type].tp++
			} else {
				counts[d.Type].fp++
			}
		}
		for i, g := range gold {
			if !hit[i] {
				counts[g.typ].fn++
			}
		}
	}
	sample := fmt.Sprintf("all %d %s-split sentences", used, reportSplit)
	if used < inSplit {
		sample = fmt.Sprintf("the first %d of the %d %s-split sentences (file order, `-entity-n %d`)", used, inSplit, reportSplit, n)
	}
	r.p("`ModelEntityDetector` with model `%s` (%s, temperature 0, greedy), on %s, %d of them\n", model, where, sample, withEnt)
	r.p("with a PERSON or STREET_ADDRESS span; the others count for precision. %d calls failed and count as misses;\n", failed)
	r.p("%.1f s per sentence on average. Same matching as above: a marked span overlapping a gold span of the same type\n", time.Since(t0).Seconds()/float64(max(used, 1)))
	r.p("is a true positive. Presidio splits some addresses into several spans (street, number, zip), each counted.\n\n")
	r.p("| type | gold | detected | precision | recall |\n|---|---|---|---|---|\n")
	for _, t := range []string{"NAME", "ADDRESS"} {
		c := counts[t]
		r.p("| %s | %d | %d | %s | %s |\n", t, c.gold, c.tp+c.fp, ratio(c.tp, c.tp+c.fp), ratio(c.gold-c.fn, c.gold))
	}
	r.p("\n")
	return nil
}
