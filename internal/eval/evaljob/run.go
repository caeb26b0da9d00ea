package evaljob

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/outcrop/outcrop/internal/eval"
	"github.com/outcrop/outcrop/internal/gateway"
	"github.com/outcrop/outcrop/internal/jobs"
	"github.com/outcrop/outcrop/internal/llm"
	"github.com/outcrop/outcrop/internal/resource"
)

// RunJob is the internal/jobs handler of evaluation jobs. It runs the
// evaluation into the job's output folder, where predictions.jsonl keeps
// every model answer as it arrives: an attempt after a crash or a restart
// invokes the model only for the records still missing. A job whose status
// became Stopping ends Stopped.
func (s *Service) RunJob(ctx context.Context, t *jobs.Task) error {
	var p jobPayload
	if err := json.Unmarshal(t.Payload, &p); err != nil {
		return jobs.Permanent(fmt.Errorf("evaluation job payload: %w", err))
	}
	k := resource.Key{Account: p.Account, Kind: kind, ID: p.ID}
	it, err := s.Store.Get(ctx, k, resource.Draft)
	if err != nil {
		var le *llm.Error
		if errors.As(err, &le) && le.Kind == llm.KindNotFound {
			return nil // deleted
		}
		return err
	}
	b, err := resource.Decode[body](it)
	if err != nil {
		return jobs.Permanent(err)
	}
	switch b.Status {
	case StatusStopping:
		s.settleStopped(context.WithoutCancel(ctx), k)
		return nil
	case StatusInProgress:
	default:
		return nil // finished by an earlier attempt
	}
	log := s.log().With("job", p.ID, "attempt", t.Attempt)
	rctx := ctx
	if s.RecoverContext != nil && b.Principal != "" {
		if rctx, err = s.RecoverContext(ctx, b.Principal); err != nil {
			s.fail(context.WithoutCancel(ctx), k, "the principal that created the job cannot be used: "+err.Error())
			return jobs.Permanent(err)
		}
	}
	pl, err := s.validate(&CreateInput{
		JobName: b.JobName, RoleArn: b.RoleArn, EvaluationConfig: &b.EvaluationConfig,
		InferenceConfig: &b.InferenceConfig, OutputDataConfig: &b.OutputDataConfig,
	}, p.Account)
	if err != nil {
		s.fail(context.WithoutCancel(ctx), k, llm.AsError(err).Message)
		return jobs.Permanent(err)
	}
	out := filepath.Join(pl.outDir, b.JobName, p.ID)
	cfg, runners, err := s.config(pl, out)
	if err != nil {
		s.fail(context.WithoutCancel(ctx), k, err.Error())
		return jobs.Permanent(err)
	}
	log.Info("evaluation job started", "model", pl.model, "evaluations", len(cfg.Evaluations), "output", out)
	rep, err := eval.Run(rctx, cfg, eval.RunOptions{Runners: runners, Logger: s.log(), Getenv: s.Getenv})
	if ctx.Err() != nil {
		// Stopped by StopEvaluationJob, or this process is stopping (the
		// job is retried later and resumes from the stored answers).
		if s.settleStopped(context.WithoutCancel(ctx), k) {
			log.Info("evaluation job stopped")
			return nil
		}
		return ctx.Err()
	}
	if err != nil {
		s.fail(context.WithoutCancel(ctx), k, err.Error())
		return jobs.Permanent(err)
	}
	var msgs []string
	for _, rs := range rep.Results {
		for _, r := range rs {
			if r.Output.Error != "" {
				msgs = append(msgs, fmt.Sprintf("%s on %s: %s", r.Output.EvalName, r.Output.DatasetName, r.Output.Error))
			}
		}
	}
	if rep.MLflowError != nil {
		msgs = append(msgs, "MLflow logging failed (the results are kept in the output folder): "+rep.MLflowError.Error())
	}
	if _, err := s.update(context.WithoutCancel(ctx), k, func(b *body) {
		if b.Status == StatusInProgress || b.Status == StatusStopping {
			b.Status = StatusCompleted
			b.FailureMessages = msgs
		}
	}); err != nil {
		return err
	}
	log.Info("evaluation job completed")
	return nil
}

// settleStopped turns Stopping into Stopped and reports whether the job was
// being stopped.
func (s *Service) settleStopped(ctx context.Context, k resource.Key) bool {
	stopped := false
	if _, err := s.update(ctx, k, func(b *body) {
		if b.Status == StatusStopping {
			b.Status = StatusStopped
			stopped = true
		}
	}); err != nil {
		s.log().Error("evaluation job: cannot record stop", "job", k.ID, "error", err)
	}
	return stopped
}

// modelName is the job's model as eval names it (a folder name).
func modelName(id string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == ':' {
			return '_'
		}
		return r
	}, id)
}

// config turns a plan into an eval.Config whose models run through the
// gateway (as the principal the run's context carries).
func (s *Service) config(pl *plan, out string) (*eval.Config, map[string]eval.ModelRunner, error) {
	name := modelName(pl.model)
	cfg := &eval.Config{
		OutputDir:   out,
		Models:      []eval.ModelConfig{{Name: name, Type: "outcrop", ModelID: pl.model}},
		Concurrency: s.Concurrency,
		WordNet:     s.WordNet,
		Toxicity:    &eval.ScorerConfig{Type: "outcrop-guardrail"},
		MLflow:      s.MLflow,
	}
	runners := map[string]eval.ModelRunner{name: &GatewayRunner{Models: s.Models, Model: pl.model, Region: s.Store.Scope().Region, Inference: pl.inf}}
	judge := ""
	if pl.judge != "" {
		judge = "judge-" + modelName(pl.judge)
		if judge == name {
			judge += "-2"
		}
		cfg.Models = append(cfg.Models, eval.ModelConfig{Name: judge, Type: "outcrop", ModelID: pl.judge, JudgeOnly: true})
		runners[judge] = &GatewayRunner{Models: s.Models, Model: pl.judge, Region: s.Store.Scope().Region}
	}
	seen := map[string]bool{}
	for _, e := range pl.evals {
		if !seen[e.dataset.Name] {
			seen[e.dataset.Name] = true
			dc, err := bedrockDataConfig(e.dataset.Name, e.path)
			if err != nil {
				return nil, nil, err
			}
			cfg.Datasets = append(cfg.Datasets, eval.DatasetSpec{DataConfig: dc})
		}
		ac := eval.AlgorithmConfig{Name: e.algorithm}
		if e.algorithm == eval.AlgoLLMJudge {
			ac.Judge, ac.Rubric = judge, judgeRubrics[e.metric]
		}
		cfg.Evaluations = append(cfg.Evaluations, eval.EvaluationSpec{Algorithm: ac, Dataset: e.dataset.Name, NumRecords: -1})
	}
	return cfg, runners, nil
}

// MaxRecords is the most prompts a custom dataset may hold, as on Bedrock.
const MaxRecords = 1000

// bedrockDataConfig describes a Bedrock custom prompt dataset (JSON Lines
// of {"prompt", "referenceResponse", "category"}) to eval: prompt is the
// model input; referenceResponse and category are used when every record
// has them.
func bedrockDataConfig(name, path string) (eval.DataConfig, error) {
	f, err := os.Open(path)
	if err != nil {
		return eval.DataConfig{}, fmt.Errorf("dataset %s: %w", name, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	n, ref, cat := 0, 0, 0
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		n++
		var rec map[string]json.RawMessage
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			return eval.DataConfig{}, fmt.Errorf("dataset %s line %d: not a JSON object: %v", name, n, err)
		}
		if _, ok := rec["prompt"]; !ok {
			return eval.DataConfig{}, fmt.Errorf("dataset %s line %d: no \"prompt\" field", name, n)
		}
		if _, ok := rec["referenceResponse"]; ok {
			ref++
		}
		if _, ok := rec["category"]; ok {
			cat++
		}
	}
	if err := sc.Err(); err != nil {
		return eval.DataConfig{}, fmt.Errorf("dataset %s: %w", name, err)
	}
	if n > MaxRecords {
		return eval.DataConfig{}, fmt.Errorf("dataset %s has %d prompts; at most %d are allowed", name, n, MaxRecords)
	}
	dc := eval.DataConfig{Name: name, URI: path, ModelInputLocation: "prompt"}
	if ref == n {
		dc.TargetOutputLocation = "referenceResponse"
	}
	if cat == n {
		dc.CategoryLocation = "category"
	}
	return dc, nil
}

// GatewayRunner is an eval.ModelRunner that calls a served model through
// the gateway pipeline, as a Converse request of the principal its
// context carries.
type GatewayRunner struct {
	Models    Converser
	Model     string
	Region    string
	Inference llm.InferenceConfig
}

// Predict implements eval.ModelRunner.
func (r *GatewayRunner) Predict(ctx context.Context, prompt string) (eval.Prediction, error) {
	req := &llm.Request{Model: r.Model, Inference: r.Inference,
		Messages: []llm.Message{{Role: llm.RoleUser, Content: []llm.Block{llm.TextBlock(prompt)}}}}
	region := r.Region
	if region == "" {
		region = resource.DefaultRegion
	}
	resp, err := r.Models.Converse(ctx, &gateway.Call{API: "bedrock", Op: "Converse", Action: "bedrock:InvokeModel",
		Model: r.Model, Resource: "arn:aws:bedrock:" + region + "::foundation-model/" + r.Model, Request: req})
	if err != nil {
		return eval.Prediction{}, &eval.InvokeError{Retryable: llm.IsRetryable(err), Err: err}
	}
	var b strings.Builder
	for _, c := range resp.Message.Content {
		if c.Kind == llm.KindText {
			b.WriteString(c.Text)
		}
	}
	return eval.Prediction{Output: b.String()}, nil
}

// Params implements eval.ModelRunner.
func (r *GatewayRunner) Params() map[string]any {
	p := map[string]any{"model_id": r.Model, "endpoint_type": "Outcrop"}
	if r.Inference.MaxTokens != nil {
		p["max_tokens"] = *r.Inference.MaxTokens
	}
	if r.Inference.Temperature != nil {
		p["temperature"] = *r.Inference.Temperature
	}
	if r.Inference.TopP != nil {
		p["top_p"] = *r.Inference.TopP
	}
	return p
}
