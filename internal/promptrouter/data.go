package promptrouter

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"sort"
)

// Split names a part of the labelled data.
type Split string

// The declared split of the RouteLLM data: each prompt goes to one part by
// a hash of its text (70 % train, 15 % dev, 15 % test). Routers are fitted
// on train, their options chosen on dev, and figures reported on test only.
const (
	SplitTrain Split = "train"
	SplitDev   Split = "dev"
	SplitTest  Split = "test"
)

// SplitOf returns the split a prompt belongs to.
func SplitOf(prompt string) Split {
	h := fnv.New64a()
	h.Write([]byte("outcrop-router-split-v1\x00"))
	h.Write([]byte(prompt))
	switch v := h.Sum64() % 100; {
	case v < 70:
		return SplitTrain
	case v < 85:
		return SplitDev
	}
	return SplitTest
}

// LoadRouteLLM reads the MMLU and GSM8K correctness tables of the RouteLLM
// repository (lm-sys/RouteLLM@0b64fda, routellm/evals) under dir: per
// prompt, whether Mixtral-8x7B-Instruct (weak) and GPT-4-1106 (strong)
// answered correctly. Prompts listed in contaminated_prompts.jsonl and
// repeated prompts are dropped. Examples come back in a fixed order.
func LoadRouteLLM(dir string) ([]Example, error) {
	var out []Example
	seen := map[string]bool{}
	for _, bench := range []string{"mmlu", "gsm8k"} {
		bad, err := contaminated(filepath.Join(dir, bench, "contaminated_prompts.jsonl"))
		if err != nil {
			return nil, err
		}
		var files []string
		if bench == "mmlu" {
			files, err = filepath.Glob(filepath.Join(dir, "mmlu", "responses", "mmlu_*.csv"))
			if err != nil || len(files) == 0 {
				return nil, fmt.Errorf("no MMLU response files under %s", dir)
			}
			sort.Strings(files)
		} else {
			files = []string{filepath.Join(dir, "gsm8k", "gsm8k_responses.csv")}
		}
		for _, f := range files {
			exs, err := readTable(f, bench)
			if err != nil {
				return nil, err
			}
			for _, e := range exs {
				if bad[e.Prompt] || seen[e.Prompt] {
					continue
				}
				seen[e.Prompt] = true
				out = append(out, e)
			}
		}
	}
	return out, nil
}

func readTable(path, source string) ([]Example, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(bufio.NewReader(f))
	r.FieldsPerRecord = -1
	head, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	weak, strong := -1, -1
	for i, h := range head {
		switch h {
		case "mistralai/Mixtral-8x7B-Instruct-v0.1":
			weak = i
		case "gpt-4-1106-preview":
			strong = i
		}
	}
	if head[0] != "prompt" || weak < 0 || strong < 0 {
		return nil, fmt.Errorf("%s: unexpected header %q", path, head)
	}
	var out []Example
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if len(rec) <= max(weak, strong) {
			return nil, fmt.Errorf("%s: short record", path)
		}
		out = append(out, Example{Prompt: rec[0], WeakCorrect: rec[weak] == "True", StrongCorrect: rec[strong] == "True", Source: source})
	}
}

func contaminated(path string) (map[string]bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	bad := map[string]bool{}
	dec := json.NewDecoder(f)
	for {
		var rec struct {
			EvalPrompt string `json:"eval_prompt"`
		}
		if err := dec.Decode(&rec); err == io.EOF {
			return bad, nil
		} else if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		bad[rec.EvalPrompt] = true
	}
}

// Filter returns the examples of one split (and one source when source is
// not empty).
func Filter(exs []Example, s Split, source string) []Example {
	var out []Example
	for _, e := range exs {
		if SplitOf(e.Prompt) == s && (source == "" || e.Source == source) {
			out = append(out, e)
		}
	}
	return out
}
