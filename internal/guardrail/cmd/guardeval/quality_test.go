package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/outcrop/outcrop/internal/guardrail"
	"github.com/outcrop/outcrop/internal/testenv"
)

// publishedDoc is the report the figures are published in, relative to this
// package's directory (where go test runs).
var publishedDoc = filepath.Join("..", "..", "..", "..", "docs", "GUARDRAILS.md")

// TestPublishedClassifierFigures scores the frozen classifier (model.bin) on
// the held-out test split exactly as -report does and compares every figure
// with the one docs/GUARDRAILS.md publishes: a precision, recall or attack
// catch rate below the published value fails, and so does a false-positive
// rate above it. Every content category (HATE, INSULTS, SEXUAL, VIOLENCE,
// MISCONDUCT) and every prompt-attack row is checked; a published row the
// scoring no longer produces fails too, so the doc cannot claim more than is
// measured.
func TestPublishedClassifierFigures(t *testing.T) {
	dir := testenv.Datasets(t)
	doc, err := os.ReadFile(publishedDoc)
	if err != nil {
		t.Fatal(err)
	}
	c, err := loadAll(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := guardrail.BuiltinModel()
	if err != nil {
		t.Fatal(err)
	}
	test := c.bySplit[splitTest]
	if len(test) < 1000 {
		t.Fatalf("test split has %d examples; the datasets under %s are incomplete", len(test), dir)
	}
	confs := make([][6]string, len(test))
	heur := make([]bool, len(test))
	for i, ex := range test {
		_, confs[i], _ = m.Classify(context.Background(), ex.Text)
		heur[i] = guardrail.AttackHeuristic(ex.Text)
	}
	r := &report{}
	attackSection(r, test, confs, heur)
	contentSection(r, test, confs)
	measured := r.b.String()

	t.Run("content", func(t *testing.T) {
		pub := section(t, string(doc), "## Content filters")
		got := section(t, measured, "## Content filters")
		// Columns after the key: positives/n, then P and R at LOW, MEDIUM, HIGH.
		rows := compareRows(t, pub, got, 2, func(t *testing.T, key string, col int, pub, got float64) {
			if got < pub {
				t.Errorf("%s, %s: measured %.2f < published %.2f", key, contentColumns[col], got, pub)
			}
		})
		for _, cat := range []string{"HATE", "INSULTS", "SEXUAL", "VIOLENCE", "MISCONDUCT"} {
			if !rows[cat] {
				t.Errorf("docs/GUARDRAILS.md publishes no content-filter row for %s", cat)
			}
		}
	})
	t.Run("prompt attack", func(t *testing.T) {
		pub := section(t, string(doc), "## Prompt attack")
		got := section(t, measured, "## Prompt attack")
		// Key: source, subset, label; then n and the four rates.
		compareRows(t, pub, got, 3, func(t *testing.T, key string, col int, pub, got float64) {
			switch {
			case strings.Contains(key, "attack (catch rate)") && got < pub:
				t.Errorf("%s, %s: catch rate %.1f%% < published %.1f%%", key, attackColumns[col], got, pub)
			case strings.Contains(key, "benign (FPR)") && got > pub:
				t.Errorf("%s, %s: false-positive rate %.1f%% > published %.1f%%", key, attackColumns[col], got, pub)
			}
		})
		pubPooled, gotPooled := pooled(t, pub), pooled(t, got)
		for i, s := range strengthNames {
			if gotPooled[i] > pubPooled[i] {
				t.Errorf("pooled benign FPR at %s: measured %.1f%% > published %.1f%%", s, gotPooled[i], pubPooled[i])
			}
		}
	})
}

// Names of the value columns after the key cells, for messages.
var (
	contentColumns = []string{"positives / n", "P @ LOW", "R @ LOW", "P @ MEDIUM", "R @ MEDIUM", "P @ HIGH", "R @ HIGH"}
	attackColumns  = []string{"n", "@ LOW strength", "@ MEDIUM", "@ HIGH", "heuristics alone"}
)

// section returns the text of the markdown section starting at heading, up
// to the next "## " heading.
func section(t *testing.T, doc, heading string) string {
	t.Helper()
	i := strings.Index(doc, heading)
	if i < 0 {
		t.Fatalf("no section %q", heading)
	}
	rest := doc[i+len(heading):]
	if j := strings.Index(rest, "\n## "); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

// tableRows returns the data rows of the markdown tables in text, keyed by
// their first nKey cells joined with " | ", as the remaining cells.
func tableRows(text string, nKey int) map[string][]string {
	rows := map[string][]string{}
	for _, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(line, "|") || strings.HasPrefix(line, "|---") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "| "), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if len(cells) <= nKey || cells[0] == "category" || cells[0] == "source" {
			continue // header
		}
		rows[strings.Join(cells[:nKey], " | ")] = cells[nKey:]
	}
	return rows
}

// figure parses a table cell: "0.65", "11.5%", or "–" (no value: ok false).
func figure(t *testing.T, cell string) (float64, bool) {
	t.Helper()
	if cell == "–" {
		return 0, false
	}
	v, err := strconv.ParseFloat(strings.TrimSuffix(cell, "%"), 64)
	if err != nil {
		t.Fatalf("cell %q: %v", cell, err)
	}
	return v, true
}

// compareRows checks every published row against the measured row with the
// same key: counts (the first value cell) must match exactly, since the
// split is fixed, and check judges each figure. It returns the first key cell
// of every published row.
func compareRows(t *testing.T, pub, got string, nKey int, check func(t *testing.T, key string, col int, pub, got float64)) map[string]bool {
	t.Helper()
	pubRows, gotRows := tableRows(pub, nKey), tableRows(got, nKey)
	if len(pubRows) == 0 {
		t.Fatal("no published rows")
	}
	first := map[string]bool{}
	for key, pv := range pubRows {
		first[strings.SplitN(key, " | ", 2)[0]] = true
		gv, ok := gotRows[key]
		if !ok {
			t.Errorf("published row %q is not measured any more", key)
			continue
		}
		if len(gv) != len(pv) {
			t.Errorf("%s: %d measured cells, %d published", key, len(gv), len(pv))
			continue
		}
		if gv[0] != pv[0] {
			t.Errorf("%s: measured on %s examples, published on %s: the test split changed", key, gv[0], pv[0])
			continue
		}
		for col := 1; col < len(pv); col++ {
			p, okP := figure(t, pv[col])
			g, okG := figure(t, gv[col])
			switch {
			case okP && !okG:
				t.Errorf("%s column %d: published %s, measured none", key, col, pv[col])
			case okP:
				check(t, key, col, p, g)
			}
		}
	}
	return first
}

// pooled reads the pooled benign false-positive rates (percent) at LOW,
// MEDIUM and HIGH strength from the prompt-attack section.
func pooled(t *testing.T, text string) [3]float64 {
	t.Helper()
	const prefix = "false-positive rate "
	i := strings.Index(text, "Pooled benign prompts")
	if i < 0 {
		t.Fatal("no pooled false-positive rate")
	}
	i += strings.Index(text[i:], prefix)
	var out [3]float64
	rest := text[i+len(prefix):]
	for k := range out {
		j := strings.Index(rest, "%")
		if j < 0 {
			t.Fatalf("pooled rates: %q", text[i:])
		}
		start := strings.LastIndexAny(rest[:j], " ,") + 1
		out[k], _ = figure(t, rest[start:j+1])
		rest = rest[j+1:]
	}
	return out
}
