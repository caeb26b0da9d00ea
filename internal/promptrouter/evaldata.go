package promptrouter

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
)

// evalRecord is one line of an Outcrop evaluation's per-record output
// (internal/eval writes <output_dir>/<model>/<algorithm>_<dataset>.jsonl in
// FMEval's record format): the prompt and the record's scores.
type evalRecord struct {
	ModelInput string `json:"model_input"`
	Prompt     string `json:"prompt"`
	Error      string `json:"error"`
	Scores     []struct {
		Name  string   `json:"name"`
		Value *float64 `json:"value"`
	} `json:"scores"`
}

// LoadEvalResults builds labelled examples from Outcrop's own evaluation
// results: the per-record output files of one evaluation (an algorithm on
// a dataset) for the weak and the strong model of a pair. Records are
// joined on their model input; a model answered a prompt correctly when
// its score named metric is at least pass. Records with an error or
// without the score, and prompts only one file has, are left out. Examples
// come back in the weak file's order.
func LoadEvalResults(weakPath, strongPath, metric string, pass float64) ([]Example, error) {
	weak, order, err := readEvalScores(weakPath, metric)
	if err != nil {
		return nil, err
	}
	strong, _, err := readEvalScores(strongPath, metric)
	if err != nil {
		return nil, err
	}
	var out []Example
	for _, p := range order {
		s, ok := strong[p]
		if !ok {
			continue
		}
		out = append(out, Example{Prompt: p, WeakCorrect: weak[p] >= pass, StrongCorrect: s >= pass, Source: "eval"})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no prompt of %s has a %s score in both files", weakPath, metric)
	}
	return out, nil
}

// readEvalScores returns each prompt's score named metric in one
// per-record output file, and the prompts in file order. A prompt that
// repeats keeps its first score.
func readEvalScores(path, metric string) (map[string]float64, []string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	scores := map[string]float64{}
	var order []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	for line := 1; sc.Scan(); line++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var r evalRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		p := r.ModelInput
		if p == "" {
			p = r.Prompt
		}
		if p == "" || r.Error != "" {
			continue
		}
		if _, dup := scores[p]; dup {
			continue
		}
		for _, s := range r.Scores {
			if s.Name == metric && s.Value != nil {
				scores[p] = *s.Value
				order = append(order, p)
				break
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return scores, order, nil
}
