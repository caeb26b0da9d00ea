package eval

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/outcrop/outcrop/internal/mlflow"
)

// Result is one finished evaluation of a model.
type Result struct {
	Output  *EvalOutput
	Records []RecordOutput
	Dataset *Dataset
}

// Tracker records evaluations in an MLflow experiment the way the seed's
// fmeval_mlflow helpers do: the dataset as an input (context "evaluation"),
// the runner's parameters, the dataset scores as "<eval_name>.<score>"
// metrics (plus "<eval_name>.<category>.<score>" per category), and the
// per-record table as "<dataset>.json". Layout "simple" logs every
// evaluation of a model into one run named after the model; "nested" makes
// that run a parent with one child run per evaluation, named after FMEval's
// algorithm class.
type Tracker struct {
	Client     *mlflow.Client
	Experiment string
	Layout     string // "simple" (default) or "nested"
}

// ClassName is FMEval's EvalAlgorithm class name for an eval name, which
// the seed uses as the nested run's name.
func ClassName(evalName string) string {
	parts := strings.Split(evalName, "_")
	for i, p := range parts {
		switch p {
		case "qa":
			parts[i] = "QA"
		case "llm":
			parts[i] = "LLM"
		default:
			parts[i] = strings.ToUpper(p[:1]) + p[1:]
		}
	}
	return strings.Join(parts, "")
}

// ModelRun is what LogModel created.
type ModelRun struct {
	ExperimentID string
	RunID        string
	ArtifactURI  string
	ChildRunIDs  []string
}

// LogModel logs a model's evaluations and finishes its run(s). Charts (name
// → bytes) are logged as artifacts of the model's (parent) run.
func (t *Tracker) LogModel(ctx context.Context, model string, params map[string]any, results []Result, charts map[string][]byte) (*ModelRun, error) {
	exp, err := t.Client.EnsureExperiment(ctx, t.Experiment)
	if err != nil {
		return nil, err
	}
	tags := []mlflow.Tag{{Key: mlflow.TagSourceType, Value: "LOCAL"}, {Key: mlflow.TagSourceName, Value: "outcrop eval"}}
	run, err := t.Client.CreateRun(ctx, exp, model, "", tags)
	if err != nil {
		return nil, err
	}
	mr := &ModelRun{ExperimentID: exp, RunID: run.RunID, ArtifactURI: run.ArtifactURI}
	finish := func(id string, err error) error {
		status := mlflow.StatusFinished
		if err != nil {
			status = mlflow.StatusFailed
		}
		if uerr := t.Client.UpdateRun(ctx, id, status); err == nil {
			err = uerr
		}
		return err
	}
	var logErr error
	for _, r := range results {
		target := run
		if t.Layout == "nested" {
			child, err := t.Client.CreateRun(ctx, exp, ClassName(r.Output.EvalName), run.RunID, tags)
			if err != nil {
				logErr = err
				break
			}
			mr.ChildRunIDs = append(mr.ChildRunIDs, child.RunID)
			target = child
			if err := finish(child.RunID, t.logEvaluation(ctx, target, model, params, r)); err != nil {
				logErr = err
				break
			}
			continue
		}
		if err := t.logEvaluation(ctx, target, model, params, r); err != nil {
			logErr = err
			break
		}
	}
	if logErr == nil {
		names := make([]string, 0, len(charts))
		for n := range charts {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			if err := t.Client.LogArtifact(ctx, run.ArtifactURI, n, charts[n]); err != nil {
				logErr = err
				break
			}
		}
	}
	return mr, finish(run.RunID, logErr)
}

func (t *Tracker) logEvaluation(ctx context.Context, run *mlflow.RunInfo, model string, params map[string]any, r Result) error {
	if err := t.Client.LogInputs(ctx, run.RunID, []mlflow.DatasetInput{DatasetInput(r.Dataset)}); err != nil {
		return err
	}
	var b mlflow.Batch
	b.Params = RunnerParams(model, params)
	eo := r.Output
	for _, s := range eo.DatasetScores {
		b.Metrics = append(b.Metrics, mlflow.Metric{Key: eo.EvalName + "." + s.Name, Value: s.Value})
	}
	for _, c := range eo.CategoryScores {
		for _, s := range c.Scores {
			b.Metrics = append(b.Metrics, mlflow.Metric{Key: eo.EvalName + "." + mlflow.SanitizeKey(c.Name) + "." + s.Name, Value: s.Value})
		}
	}
	if err := t.Client.LogBatch(ctx, run.RunID, b); err != nil {
		return err
	}
	table, err := RecordsTable(r.Records)
	if err != nil {
		return err
	}
	name := mlflow.SanitizeKey(strings.ReplaceAll(eo.DatasetName, " ", "_")) + ".json"
	if t.Layout != "nested" { // one run holds every evaluation: a folder each
		name = mlflow.SanitizeKey(eo.EvalName) + "/" + name
	}
	if err := t.Client.LogArtifact(ctx, run.ArtifactURI, name, table); err != nil {
		return err
	}
	out, _ := json.MarshalIndent(eo, "", "  ")
	return t.Client.LogArtifact(ctx, run.ArtifactURI, mlflow.SanitizeKey(eo.EvalName)+"_eval_output.json", out)
}

// DatasetInput describes a dataset for log-inputs as mlflow.data.from_pandas
// would: source {"uri": path}, a colspec schema of the record fields, a
// profile with the row count, and the input tag mlflow.data.context =
// evaluation. The digest is Dataset.Digest (SHA-256 of the file).
func DatasetInput(d *Dataset) mlflow.DatasetInput {
	src, _ := json.Marshal(map[string]string{"uri": d.Config.URI})
	cols := make([]map[string]any, 0, len(d.Fields))
	for _, f := range d.Fields {
		cols = append(cols, map[string]any{"type": "string", "name": f, "required": true})
	}
	schema, _ := json.Marshal(map[string]any{"mlflow_colspec": cols})
	profile, _ := json.Marshal(map[string]int{"num_rows": len(d.Records), "num_elements": len(d.Records) * len(d.Fields)})
	return mlflow.DatasetInput{
		Tags: []mlflow.Tag{{Key: mlflow.TagDataContext, Value: "evaluation"}},
		Dataset: mlflow.Dataset{Name: d.Config.Name, Digest: d.Digest, SourceType: "local",
			Source: string(src), Schema: string(schema), Profile: string(profile)},
	}
}

// RunnerParams turns runner parameters into MLflow params: strings as they
// are, everything else as JSON; values over the limit are left out (they
// would be truncated by the server) except content_template, which is
// summarised by its length.
func RunnerParams(model string, params map[string]any) []mlflow.Param {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := []mlflow.Param{}
	seenModel := false
	for _, k := range keys {
		var v string
		switch x := params[k].(type) {
		case string:
			v = x
		default:
			b, _ := json.Marshal(x)
			v = string(b)
		}
		if len(v) > mlflow.MaxParamValueLength {
			v = fmt.Sprintf("<%d bytes, see the run's artifacts>", len(v))
		}
		seenModel = seenModel || k == "model_id"
		out = append(out, mlflow.Param{Key: mlflow.SanitizeKey(k), Value: v})
	}
	if !seenModel {
		out = append(out, mlflow.Param{Key: "model_id", Value: model})
	}
	return out
}

// RecordsTable is the per-record output as a pandas "split" table (what
// mlflow.log_table writes): the record columns, then score_<name> per score.
func RecordsTable(recs []RecordOutput) ([]byte, error) {
	cols := []string{}
	seen := map[string]bool{}
	var rows []map[string]any
	for _, r := range recs {
		var m map[string]any
		b, _ := json.Marshal(r)
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, err
		}
		row := map[string]any{}
		for _, k := range []string{"model_input", "prompt", "model_output", "target_output", "category", "sent_more_input", "sent_less_input", "error"} {
			if v, ok := m[k]; ok {
				row[k] = v
				if !seen[k] {
					seen[k] = true
					cols = append(cols, k)
				}
			}
		}
		for _, s := range r.Scores {
			k := "score_" + s.Name
			if s.Value != nil {
				row[k] = *s.Value
			} else {
				row[k] = nil
			}
			if !seen[k] {
				seen[k] = true
				cols = append(cols, k)
			}
		}
		rows = append(rows, row)
	}
	data := make([][]any, len(rows))
	for i, row := range rows {
		data[i] = make([]any, len(cols))
		for j, c := range cols {
			data[i][j] = row[c]
		}
	}
	return json.Marshal(map[string]any{"columns": cols, "data": data})
}
