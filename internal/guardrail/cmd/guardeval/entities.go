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
// built-in engine (gguf) and/or an OpenAI-compatible endpoint (baseURL), on
// the first n sentences of the report split in file order (all of them when
// n <= 0) for the endpoint and the first ggufN for the engine, with or
// without a PERSON or STREET_ADDRESS span, so that precision counts what
// the model marks in sentences that have none.
func entitySection(r *report, datasets, baseURL, model string, n int, gguf string, ggufN int) error {
	r.p("## Model-based NAME and ADDRESS\n\n")
	if gguf == "" && baseURL == "" {
		r.p("Not measured in this run (pass `-entity-gguf FILE` or `-entity-url URL -entity-model NAME`).\n\n")
		return nil
	}
	r.p("The detector sends a system instruction, four worked examples (written for Outcrop, not from the data) and the\n")
	r.p("sentence, reads `NAME:`/`ADDRESS:` lines, and marks each value where it occurs in the text ignoring case and\n")
	r.p("spacing, or else its capitalised words (see `ModelEntityDetector`). The prompt and matching were chosen on the\n")
	r.p("first 60–100 **dev** sentences; these figures are on **%s** sentences. Reproduce (about 5 minutes on two\n", reportSplit)
	r.p("idle cores; model files from `scripts/test-services.sh`):\n\n")
	r.p("```sh\ngo run ./internal/guardrail/cmd/guardeval -report \\\n")
	r.p("  -entity-gguf ~/.cache/outcrop/models/SmolLM2-135M-Instruct.Q4_1.gguf -entity-gguf-n 0 \\\n")
	r.p("  -entity-url \"$OUTCROP_TEST_OLLAMA_URL/v1\" -entity-model smollm2:135m -entity-n 0\n```\n\n")
	if gguf != "" {
		eng, err := local.New(context.Background(), local.Config{Path: gguf, Slots: 1, ContextSize: 2048}, slog.New(slog.DiscardHandler))
		if err != nil {
			return err
		}
		defer eng.Close()
		if err := entityMeasure(r, datasets, eng, filepath.Base(gguf), "Outcrop's built-in engine", ggufN); err != nil {
			return err
		}
	}
	if baseURL != "" {
		op, err := openai.New(openai.Config{BaseURL: baseURL, Model: model})
		if err != nil {
			return err
		}
		if err := entityMeasure(r, datasets, op, model, "Outcrop's openai provider to "+baseURL, n); err != nil {
			return err
		}
	}
	return nil
}

// entityMeasure scores one backend and writes its table.
func entityMeasure(r *report, datasets string, p llm.Provider, model, where string, n int) error {
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
	// One unscored call first, so that loading the model is not timed or
	// charged to the first sentence.
	wctx, wcancel := context.WithTimeout(context.Background(), 5*time.Minute)
	_, _ = det.DetectEntities(wctx, "Warm-up sentence.", []string{"NAME"})
	wcancel()
	t0 := time.Now()
	for _, s := range samples {
		if used >= n || splitOf(s.Text) != reportSplit {
			continue
		}
		used++
		ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
		spans, err := det.DetectEntities(ctx, s.Text, []string{"NAME", "ADDRESS"})
		cancel()
		fmt.Fprintf(os.Stderr, "entity %d/%d: %d spans, err %v, %.0fs\n", used, n, len(spans), err, time.Since(t0).Seconds())
		if err != nil {
			failed++ // its gold spans still count, as misses
			spans = nil
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
	r.p("### `%s` through %s\n\n", model, where)
	r.p("Temperature 0, on %s, %d of them\n", sample, withEnt)
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
