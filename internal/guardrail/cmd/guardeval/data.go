package main

import (
	"bufio"
	"compress/gzip"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/outcrop/outcrop/internal/guardrail"
)

// Split names.
const (
	splitTrain = "train"
	splitDev   = "dev"
	splitTest  = "test"
)

// splitOf assigns a key to a split deterministically: FNV-1a of
// "outcrop-split:"+key modulo 10; 0–5 train, 6–7 dev, 8–9 test.
func splitOf(key string) string {
	h := fnv.New32a()
	h.Write([]byte("outcrop-split:" + key))
	switch v := h.Sum32() % 10; {
	case v < 6:
		return splitTrain
	case v < 8:
		return splitDev
	}
	return splitTest
}

// Head indexes, as guardrail.Categories.
const (
	hHate = iota
	hInsults
	hSexual
	hViolence
	hMisconduct
	hAttack
)

func unknown() [6]int8 { return [6]int8{-1, -1, -1, -1, -1, -1} }
func allZero() [6]int8 { return [6]int8{} }

// corpus holds the labelled examples by split.
type corpus struct {
	bySplit map[string][]guardrail.Example
}

func (c *corpus) add(split string, ex guardrail.Example) {
	if c.bySplit == nil {
		c.bySplit = map[string][]guardrail.Example{}
	}
	c.bySplit[split] = append(c.bySplit[split], ex)
}

// loadModeration: OpenAI moderation samples. HATE ← H|H2, INSULTS ← HR,
// SEXUAL ← S|S3, VIOLENCE ← V|V2; MISCONDUCT and PROMPT_ATTACK unknown for
// flagged samples, 0 for clean ones. Split by text.
func loadModeration(dir string, c *corpus) error {
	f, err := os.Open(filepath.Join(dir, "openai-moderation", "data", "samples-1680.jsonl.gz"))
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return err
	}
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 1<<20), 1<<22)
	for sc.Scan() {
		var r map[string]any
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return fmt.Errorf("moderation: %w", err)
		}
		text, _ := r["prompt"].(string)
		get := func(k string) bool { v, _ := r[k].(float64); return v == 1 }
		flagged := false
		for _, k := range []string{"S", "H", "V", "HR", "SH", "S3", "H2", "V2"} {
			flagged = flagged || get(k)
		}
		l := allZero()
		l[hHate] = b2i(get("H") || get("H2"))
		l[hInsults] = b2i(get("HR"))
		l[hSexual] = b2i(get("S") || get("S3"))
		l[hViolence] = b2i(get("V") || get("V2"))
		if flagged {
			l[hMisconduct], l[hAttack] = -1, -1
		}
		c.add(splitOf(text), guardrail.Example{Text: text, Labels: l, Source: "openai-moderation"})
	}
	return sc.Err()
}

func b2i(b bool) int8 {
	if b {
		return 1
	}
	return 0
}

// loadToxicity: Surge AI toxicity. Toxic comments are INSULTS positives
// (other heads unknown); non-toxic ones are negatives for every head.
func loadToxicity(dir string, c *corpus) error {
	f, err := os.Open(filepath.Join(dir, "surge-toxicity", "toxicity_en.csv"))
	if err != nil {
		return err
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return fmt.Errorf("toxicity: %w", err)
	}
	for i, r := range rows {
		if i == 0 || len(r) < 2 {
			continue
		}
		// Non-toxic comments are negatives for every head: short
		// conversational text the benign prompt sets lack.
		l := allZero()
		if strings.EqualFold(r[1], "Toxic") {
			l = unknown()
			l[hInsults] = 1
		}
		c.add(splitOf(r[0]), guardrail.Example{Text: r[0], Labels: l, Source: "surge-toxicity"})
	}
	return nil
}

// loadJailbreakBench: artifact prompts are PROMPT_ATTACK positives (group =
// method); each behaviour's goal is a MISCONDUCT positive and PROMPT_ATTACK
// negative. Split by goal, so one behaviour's prompts share a split.
func loadJailbreakBench(dir string, c *corpus) error {
	root := filepath.Join(dir, "jailbreakbench", "attack-artifacts")
	var files []string
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".json") && !strings.Contains(p, "test-artifact") &&
			!strings.HasSuffix(p, "attack-info.json") && !strings.HasSuffix(p, "evaluation.json") && !strings.HasSuffix(p, "submission.json") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(files)
	seenPrompt := map[string]bool{}
	seenGoal := map[string]bool{}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var doc struct {
			Parameters struct {
				Method string `json:"method"`
			} `json:"parameters"`
			Jailbreaks []struct {
				Goal   string  `json:"goal"`
				Prompt *string `json:"prompt"`
			} `json:"jailbreaks"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		for _, j := range doc.Jailbreaks {
			split := splitOf(j.Goal)
			if !seenGoal[j.Goal] && j.Goal != "" {
				seenGoal[j.Goal] = true
				l := unknown()
				l[hMisconduct], l[hAttack] = 1, 0
				c.add(split, guardrail.Example{Text: j.Goal, Labels: l, Source: "jailbreakbench-goals"})
			}
			if j.Prompt == nil || strings.TrimSpace(*j.Prompt) == "" || seenPrompt[*j.Prompt] {
				continue
			}
			seenPrompt[*j.Prompt] = true
			l := unknown()
			l[hAttack] = 1
			c.add(split, guardrail.Example{Text: *j.Prompt, Labels: l, Source: "jailbreakbench", Group: doc.Parameters.Method})
		}
	}
	return nil
}

// loadBIPIA: indirect prompt injection. Each attack instruction is inserted
// into a context document (start, middle or end, chosen by hash): positive
// PROMPT_ATTACK. Clean contexts are negatives. BIPIA's own *_train files
// feed train/dev (split by text hash, dev = our dev buckets, the rest
// train); its *_test files are our test split.
func loadBIPIA(dir string, c *corpus) error {
	base := filepath.Join(dir, "bipia", "benchmark")
	for _, part := range []string{"train", "test"} {
		var attacks []string
		var kinds []string
		for _, kind := range []string{"text", "code"} {
			b, err := os.ReadFile(filepath.Join(base, kind+"_attack_"+part+".json"))
			if err != nil {
				return err
			}
			var m map[string][]string
			if err := json.Unmarshal(b, &m); err != nil {
				return fmt.Errorf("bipia %s %s: %w", kind, part, err)
			}
			names := make([]string, 0, len(m))
			for k := range m {
				names = append(names, k)
			}
			sort.Strings(names)
			for _, k := range names {
				for _, a := range m[k] {
					attacks = append(attacks, a)
					kinds = append(kinds, kind)
				}
			}
		}
		for _, task := range []string{"email", "code", "table"} {
			ctxs, questions, err := readContexts(filepath.Join(base, task, part+".jsonl"))
			if err != nil {
				return err
			}
			for i, ctx := range ctxs {
				// The user's question about the document is an ordinary
				// benign prompt.
				if i < len(questions) && strings.TrimSpace(questions[i]) != "" {
					qs := splitTest
					if part == "train" {
						qs = splitOf("bipia-q:" + questions[i])
						if qs == splitTest {
							qs = splitTrain
						}
					}
					c.add(qs, guardrail.Example{Text: questions[i], Labels: allZero(), Source: "bipia-questions", Group: task})
				}
				split := splitTest
				if part == "train" {
					split = splitOf("bipia:" + ctx)
					if split == splitTest {
						split = splitTrain
					}
				}
				l := unknown()
				l[hAttack] = 0
				c.add(split, guardrail.Example{Text: ctx, Labels: l, Source: "bipia-clean", Group: task})
				// Pair each context with one attack of the matching kind
				// (code attacks go into code contexts).
				want := "text"
				if task == "code" {
					want = "code"
				}
				for k := 0; k < len(attacks); k++ {
					j := (i*7 + k) % len(attacks)
					if kinds[j] != want {
						continue
					}
					l := unknown()
					l[hAttack] = 1
					c.add(split, guardrail.Example{Text: insert(ctx, attacks[j], i), Labels: l, Source: "bipia", Group: task})
					break
				}
			}
		}
	}
	return nil
}

func readContexts(p string) ([]string, []string, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	var out, questions []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var r struct {
			Context  any    `json:"context"`
			Question string `json:"question"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", p, err)
		}
		questions = append(questions, r.Question)
		switch v := r.Context.(type) {
		case string:
			out = append(out, v)
		case []any:
			var parts []string
			for _, x := range v {
				parts = append(parts, fmt.Sprint(x))
			}
			out = append(out, strings.Join(parts, "\n"))
		}
	}
	return out, questions, sc.Err()
}

// insert places attack at the start, middle (a sentence boundary) or end
// of ctx, by i mod 3, as BIPIA does.
func insert(ctx, attack string, i int) string {
	switch i % 3 {
	case 0:
		return attack + "\n" + ctx
	case 1:
		mid := len(ctx) / 2
		if k := strings.IndexAny(ctx[mid:], ".\n"); k >= 0 {
			mid += k + 1
		}
		return ctx[:mid] + " " + attack + " " + ctx[mid:]
	}
	return ctx + "\n" + attack
}

// loadBenign: MMLU, GSM8K and MT-Bench prompts from the RouteLLM repository:
// negatives for every head. MMLU is subsampled to every fourth prompt to
// keep training fast; the subsample rule is fixed.
func loadBenign(dir string, c *corpus) error {
	base := filepath.Join(dir, "routellm", "routellm", "evals")
	mm, err := filepath.Glob(filepath.Join(base, "mmlu", "responses", "*.csv"))
	if err != nil {
		return err
	}
	sort.Strings(mm)
	n := 0
	for _, p := range mm {
		prompts, err := csvColumn(p, 0)
		if err != nil {
			return err
		}
		for _, t := range prompts {
			n++
			if n%4 != 0 {
				continue
			}
			c.add(splitOf(t), guardrail.Example{Text: t, Labels: allZero(), Source: "mmlu"})
		}
	}
	gs, err := csvColumn(filepath.Join(base, "gsm8k", "gsm8k_responses.csv"), 0)
	if err != nil {
		return err
	}
	for _, t := range gs {
		c.add(splitOf(t), guardrail.Example{Text: t, Labels: allZero(), Source: "gsm8k"})
	}
	f, err := os.Open(filepath.Join(base, "mt_bench", "question.jsonl"))
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<22)
	for sc.Scan() {
		var q struct {
			Turns []string `json:"turns"`
		}
		if err := json.Unmarshal(sc.Bytes(), &q); err != nil {
			return err
		}
		for _, t := range q.Turns {
			c.add(splitOf(t), guardrail.Example{Text: t, Labels: allZero(), Source: "mt-bench"})
		}
	}
	return sc.Err()
}

func csvColumn(p string, col int) ([]string, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	var out []string
	for i, row := range rows {
		if i == 0 || len(row) <= col {
			continue
		}
		out = append(out, row[col])
	}
	return out, nil
}

// loadAll reads every classifier dataset.
func loadAll(dir string) (*corpus, error) {
	c := &corpus{}
	for _, f := range []func(string, *corpus) error{loadModeration, loadToxicity, loadJailbreakBench, loadBIPIA, loadBenign} {
		if err := f(dir, c); err != nil {
			return nil, err
		}
	}
	return c, nil
}
