package eval

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// Predictions is a durable store of model outputs keyed by model, prompt
// and sample number, appended to a JSONL file as each call returns: a
// re-run over the same directory takes finished answers from it instead of
// invoking the model again (resumable evaluations). Safe for concurrent use.
type Predictions struct {
	mu   sync.Mutex // guards m and f
	m    map[string]Prediction
	f    *os.File
	path string
}

// OpenPredictions opens (or creates) the store at path; a torn last line
// from a killed run is ignored.
func OpenPredictions(path string) (*Predictions, error) {
	p := &Predictions{m: map[string]Prediction{}, path: path}
	if data, err := os.ReadFile(path); err == nil {
		for _, line := range bytes.Split(data, []byte("\n")) {
			var e struct {
				Key string `json:"key"`
				Prediction
			}
			if json.Unmarshal(line, &e) == nil && e.Key != "" {
				p.m[e.Key] = e.Prediction
			}
		}
		// A torn line must not glue itself to the next append.
		if len(data) > 0 && data[len(data)-1] != '\n' {
			if err := os.WriteFile(path, data[:bytes.LastIndexByte(data, '\n')+1], 0o644); err != nil {
				return nil, err
			}
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	p.f = f
	return p, nil
}

// Len is the number of stored predictions.
func (p *Predictions) Len() int { p.mu.Lock(); defer p.mu.Unlock(); return len(p.m) }

// Close closes the file.
func (p *Predictions) Close() error { return p.f.Close() }

func predKey(model, prompt string, sample int) string {
	h := sha256.Sum256([]byte(fmt.Sprintf("%s\x00%d\x00%s", model, sample, prompt)))
	return hex.EncodeToString(h[:16])
}

// get returns the stored prediction or invokes the runner and stores it.
func (p *Predictions) get(ctx context.Context, model string, r ModelRunner, prompt string, sample int) (Prediction, error) {
	k := predKey(model, prompt, sample)
	p.mu.Lock()
	v, ok := p.m[k]
	p.mu.Unlock()
	if ok {
		return v, nil
	}
	v, err := r.Predict(ctx, prompt)
	if err != nil {
		return v, err
	}
	line, _ := json.Marshal(struct {
		Key string `json:"key"`
		Prediction
	}{k, v})
	p.mu.Lock()
	defer p.mu.Unlock()
	p.m[k] = v
	if _, err := p.f.Write(append(line, '\n')); err != nil {
		return v, fmt.Errorf("predictions %s: %w", p.path, err)
	}
	return v, nil
}

// Job is one algorithm over one dataset for one model.
type Job struct {
	Model          string
	Runner         ModelRunner // nil: the dataset must have model outputs
	Dataset        *Dataset
	Algorithm      AlgorithmConfig
	PromptTemplate string
	// NumRecords samples the dataset (0: the algorithm's default; <0: all).
	NumRecords  int
	Seed        uint64
	Concurrency int
	Predictions *Predictions
	Env         *Env
	// Progress, when set, is called after each record.
	Progress func(done, total int)
}

// RecordOutput is one record with its scores, as FMEval writes it.
type RecordOutput struct {
	Record
	Scores []Score
	Error  string
}

// MarshalJSON writes FMEval's column order with scores last.
func (r RecordOutput) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	n := 0
	add := func(k string, v any) {
		if n > 0 {
			b.WriteByte(',')
		}
		n++
		kb, _ := json.Marshal(k)
		vb, _ := json.Marshal(v)
		b.Write(kb)
		b.WriteByte(':')
		b.Write(vb)
	}
	for _, c := range []struct {
		k string
		v string
	}{{"model_input", r.ModelInput}, {"prompt", r.Prompt}, {"model_output", r.ModelOutput},
		{"target_output", r.TargetOutput}, {"category", r.Category},
		{"sent_more_input", r.SentMore}, {"sent_less_input", r.SentLess}} {
		if r.Has[c.k] || (c.k == "prompt" && r.Prompt != "") || (c.k == "model_output" && r.ModelOutput != "") {
			add(c.k, c.v)
		}
	}
	if r.Error != "" {
		add("error", r.Error)
	}
	add("scores", r.Scores)
	b.WriteByte('}')
	return b.Bytes(), nil
}

// CategoryScore is the scores of one category.
type CategoryScore struct {
	Name   string      `json:"name"`
	Scores []EvalScore `json:"scores"`
}

// EvalScore is an aggregated score.
type EvalScore struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
}

// EvalOutput is FMEval's EvalOutput.
type EvalOutput struct {
	EvalName       string          `json:"eval_name"`
	DatasetName    string          `json:"dataset_name"`
	DatasetScores  []EvalScore     `json:"dataset_scores"`
	PromptTemplate string          `json:"prompt_template,omitempty"`
	CategoryScores []CategoryScore `json:"category_scores,omitempty"`
	OutputPath     string          `json:"output_path,omitempty"`
	Error          string          `json:"error,omitempty"`
	// Records and Failed count the evaluated and the failed records.
	Records int `json:"num_records"`
	Failed  int `json:"num_failed_records"`
}

// Evaluate runs a job: sample, compose prompts, invoke the model (through
// Predictions, so finished calls are never repeated), score every record,
// and aggregate. A record whose model call fails keeps the error and no
// scores; it is left out of the means, as FMEval does.
func Evaluate(ctx context.Context, j Job) (*EvalOutput, []RecordOutput, error) {
	c := j.Algorithm
	if err := c.Validate(); err != nil {
		return nil, nil, err
	}
	ds := j.Dataset
	for _, col := range c.needs() {
		if len(ds.Records) > 0 && !ds.Records[0].Has[col] && !(col == "model_input" && j.Runner == nil) {
			return nil, nil, &ConfigError{Field: col + "_location", Msg: fmt.Sprintf("%s needs the %s column of dataset %s", c.Name, col, ds.Config.Name)}
		}
	}
	if j.Runner == nil && c.Name != AlgoPromptStereotyping && len(ds.Records) > 0 && !ds.Records[0].Has["model_output"] {
		return nil, nil, &ConfigError{Field: "model_output_location", Msg: "no model and no model outputs in dataset " + ds.Config.Name}
	}
	if j.Env == nil {
		j.Env = &Env{}
	}
	n := j.NumRecords
	if n == 0 {
		n = c.DefaultNumRecords()
	}
	recs := Sample(ds.Records, n, j.Seed)
	labels := c.ValidLabels
	if len(labels) == 0 && strings.HasPrefix(c.Name, AlgoClassificationAccuracy) {
		seen := map[string]bool{}
		for _, r := range ds.Records {
			if !seen[r.TargetOutput] {
				seen[r.TargetOutput] = true
				labels = append(labels, r.TargetOutput)
			}
		}
	}
	var pert *Perturber
	if strings.HasSuffix(c.Name, "semantic_robustness") {
		pert, _ = NewPerturber(c.PerturbationType, c.NumPerturbations)
	}
	// Perturbations are drawn up front, in record order, so that results do
	// not depend on scheduling.
	perturbed := make([][]string, len(recs))
	if pert != nil {
		for i, r := range recs {
			perturbed[i] = pert.Perturb(r.ModelInput)
		}
	}
	deterministic := true
	if c.Name == AlgoGeneralSemanticRobustness && j.Runner != nil {
		d, err := j.checkDeterminism(ctx, recs)
		if err != nil {
			return nil, nil, err
		}
		deterministic = d
	}

	out := make([]RecordOutput, len(recs))
	conc := max(j.Concurrency, 1)
	sem := make(chan struct{}, conc)
	var wg sync.WaitGroup
	var mu sync.Mutex // guards done
	done := 0
	for i := range recs {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(i int) { // ends when the record is scored
			defer wg.Done()
			defer func() { <-sem }()
			out[i] = j.scoreRecord(ctx, recs[i], perturbed[i], labels, deterministic)
			mu.Lock()
			done++
			if j.Progress != nil {
				j.Progress(done, len(recs))
			}
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	eo := aggregate(c, ds.Config.Name, out, labels)
	eo.PromptTemplate = j.PromptTemplate
	return eo, out, nil
}

func (j *Job) predict(ctx context.Context, prompt string, sample int) (Prediction, error) {
	if j.Predictions == nil {
		return j.Runner.Predict(ctx, prompt)
	}
	return j.Predictions.get(ctx, j.Model, j.Runner, prompt, sample)
}

// checkDeterminism is FMEval's verify_model_determinism: the first five
// prompts are run twice; any difference makes the model non-deterministic.
func (j *Job) checkDeterminism(ctx context.Context, recs []Record) (bool, error) {
	for _, r := range recs[:min(5, len(recs))] {
		p, err := ComposePrompt(j.PromptTemplate, r.ModelInput)
		if err != nil {
			return false, err
		}
		a, err1 := j.predict(ctx, p, 0)
		b, err2 := j.predict(ctx, p, 1)
		if err1 != nil || err2 != nil {
			return false, errors.Join(err1, err2)
		}
		if a.Output != b.Output {
			return false, nil
		}
	}
	return true, nil
}

func (j *Job) scoreRecord(ctx context.Context, rec Record, perturbed, labels []string, deterministic bool) RecordOutput {
	c := j.Algorithm
	ro := RecordOutput{Record: rec}
	fail := func(err error) RecordOutput {
		ro.Error = err.Error()
		ro.Scores = nil
		return ro
	}
	if c.Name == AlgoPromptStereotyping {
		return j.stereotyping(ctx, ro)
	}
	if j.Runner != nil {
		p, err := ComposePrompt(j.PromptTemplate, rec.ModelInput)
		if err != nil {
			return fail(err)
		}
		ro.Prompt = p
		pred, err := j.predict(ctx, p, 0)
		if err != nil {
			return fail(err)
		}
		ro.ModelOutput = pred.Output
	}
	env := j.Env
	switch c.Name {
	case AlgoLLMJudge:
		s, err := env.judge(ctx, c, rec, ro.ModelOutput)
		if err != nil {
			return fail(err)
		}
		ro.Scores = s
		return ro
	case AlgoGeneralSemanticRobustness:
		s, err := j.generalRobustness(ctx, ro, perturbed, deterministic)
		if err != nil {
			return fail(err)
		}
		ro.Scores = s
		return ro
	}
	base, err := env.baseScores(ctx, c, rec, ro.ModelOutput, labels)
	if err != nil {
		return fail(err)
	}
	ro.Scores = base
	if perturbed == nil {
		return ro
	}
	// Task robustness: mean |original − perturbed| per score.
	deltas := make([]float64, len(base))
	for _, in := range perturbed {
		p, err := ComposePrompt(j.PromptTemplate, in)
		if err != nil {
			return fail(err)
		}
		pred, err := j.predict(ctx, p, 0)
		if err != nil {
			return fail(err)
		}
		ps, err := env.baseScores(ctx, c, rec, pred.Output, labels)
		if err != nil {
			return fail(err)
		}
		for k := range base {
			deltas[k] += math.Abs(*base[k].Value - *ps[k].Value)
		}
	}
	for k := range base {
		ro.Scores = append(ro.Scores, val(DeltaPrefix+base[k].Name, deltas[k]/float64(len(perturbed))))
	}
	return ro
}

// generalRobustness computes word_error_rate (and bertscore_dissimilarity
// with a BERTScore scorer) between the original output and the outputs for
// perturbed prompts, minus the baseline of a non-deterministic model.
func (j *Job) generalRobustness(ctx context.Context, ro RecordOutput, perturbed []string, deterministic bool) ([]Score, error) {
	outs := make([]string, len(perturbed))
	refs := make([]string, len(perturbed))
	for i, in := range perturbed {
		p, err := ComposePrompt(j.PromptTemplate, in)
		if err != nil {
			return nil, err
		}
		pred, err := j.predict(ctx, p, 0)
		if err != nil {
			return nil, err
		}
		outs[i], refs[i] = pred.Output, ro.ModelOutput
	}
	wer, err := WER(refs, outs)
	if err != nil {
		return nil, err
	}
	var dis float64
	bert := j.Env.BERTScore
	if bert != nil {
		s, err := bert.ScorePairs(ctx, refs, outs)
		if err != nil {
			return nil, err
		}
		dis = 1 - mean(s)
	}
	if !deterministic {
		k := j.Algorithm.NumBaselineSamples
		if k == 0 {
			k = 4
		}
		base := make([]string, 0, k)
		for s := 1; s < k; s++ {
			pred, err := j.predict(ctx, ro.Prompt, s)
			if err != nil {
				return nil, err
			}
			base = append(base, pred.Output)
		}
		base = append(base, ro.ModelOutput)
		var firsts, seconds []string
		for a := 0; a < len(base); a++ {
			for b := a + 1; b < len(base); b++ {
				firsts, seconds = append(firsts, base[a]), append(seconds, base[b])
			}
		}
		bw, err := WER(seconds, firsts)
		if err != nil {
			return nil, err
		}
		wer = math.Max(0, wer-bw)
		if bert != nil {
			var best []float64
			for _, sec := range seconds {
				refs := firsts
				cands := make([]string, len(refs))
				for i := range cands {
					cands[i] = sec
				}
				s, err := bert.ScorePairs(ctx, refs, cands)
				if err != nil {
					return nil, err
				}
				m := math.Inf(-1)
				for _, v := range s {
					m = max(m, v)
				}
				best = append(best, m)
			}
			dis = math.Max(0, dis-(1-mean(best)))
		}
	}
	scores := []Score{val(ScoreWordErrorRate, wer)}
	if bert != nil {
		scores = append([]Score{val(ScoreBERTScoreDissimilarity, dis)}, scores...)
	}
	return scores, nil
}

func (j *Job) stereotyping(ctx context.Context, ro RecordOutput) RecordOutput {
	more, less := ro.SentMoreLogP, ro.SentLessLogP
	if more == nil || less == nil {
		if j.Runner == nil {
			ro.Error = "no log probabilities: configure sent_more/less_log_prob_location or a model runner with log_probability"
			return ro
		}
		lp := func(s string) (*float64, error) {
			p, err := ComposePrompt(j.PromptTemplate, s)
			if err != nil {
				return nil, err
			}
			pred, err := j.predict(ctx, p, 0)
			if err != nil {
				return nil, err
			}
			if pred.LogProb == nil {
				return nil, errors.New("the model runner returned no log probability")
			}
			return pred.LogProb, nil
		}
		var err error
		if more, err = lp(ro.SentMore); err == nil {
			less, err = lp(ro.SentLess)
		}
		if err != nil {
			ro.Error = err.Error()
			return ro
		}
	}
	if *more > 0 || *less > 0 {
		// FMEval's check: raw probabilities passed as log-probabilities.
		ro.Error = "log-probabilities cannot be positive values (raw probabilities given instead?)"
		return ro
	}
	d := *more - *less
	ro.Scores = []Score{val(ScoreLogProbabilityDifference, d), val(ScorePromptStereotyping, b2f(d > 0))}
	return ro
}

func mean(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// aggregate is FMEval's aggregate_evaluation_scores: the mean of each score
// over the records that have it, overall and per category (categories in
// sorted order); classification adds sklearn's balanced accuracy and micro
// precision/recall. log_probability_difference stays per record.
func aggregate(c AlgorithmConfig, dataset string, recs []RecordOutput, labels []string) *EvalOutput {
	eo := &EvalOutput{EvalName: c.Name, DatasetName: dataset, Records: len(recs)}
	byCat := map[string][]RecordOutput{}
	hasCat := false
	for _, r := range recs {
		if r.Error != "" {
			eo.Failed++
		}
		if r.Has["category"] {
			hasCat = true
			byCat[r.Category] = append(byCat[r.Category], r)
		}
	}
	eo.DatasetScores = meanScores(c, recs, labels)
	if hasCat {
		cats := make([]string, 0, len(byCat))
		for k := range byCat {
			cats = append(cats, k)
		}
		sort.Strings(cats)
		for _, k := range cats {
			eo.CategoryScores = append(eo.CategoryScores, CategoryScore{Name: k, Scores: meanScores(c, byCat[k], labels)})
		}
	}
	if eo.Failed == len(recs) && len(recs) > 0 {
		eo.Error = "every record failed: " + recs[0].Error
	}
	return eo
}

func meanScores(c AlgorithmConfig, recs []RecordOutput, labels []string) []EvalScore {
	var names []string
	sums := map[string]float64{}
	counts := map[string]int{}
	for _, r := range recs {
		for _, s := range r.Scores {
			if s.Value == nil || s.Name == ScoreLogProbabilityDifference {
				continue
			}
			if _, ok := counts[s.Name]; !ok {
				names = append(names, s.Name)
			}
			sums[s.Name] += *s.Value
			counts[s.Name]++
		}
	}
	out := make([]EvalScore, 0, len(names)+3)
	for _, n := range names {
		out = append(out, EvalScore{n, sums[n] / float64(counts[n])})
	}
	if strings.HasPrefix(c.Name, AlgoClassificationAccuracy) {
		var yt, yp []string
		for _, r := range recs {
			if r.Error == "" {
				yt = append(yt, r.TargetOutput)
				yp = append(yp, ConvertToLabel(r.ModelOutput, labels))
			}
		}
		if len(yt) > 0 {
			m := Classify(yt, yp)
			out = append(out, EvalScore{ScoreBalancedAccuracy, m.BalancedAccuracy},
				EvalScore{ScorePrecision, m.Precision}, EvalScore{ScoreRecall, m.Recall})
		}
	}
	return out
}

// WriteRecords writes per-record outputs as JSON Lines.
func WriteRecords(w io.Writer, recs []RecordOutput) error {
	bw := bufio.NewWriter(w)
	for _, r := range recs {
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		bw.Write(b)
		bw.WriteByte('\n')
	}
	return bw.Flush()
}
