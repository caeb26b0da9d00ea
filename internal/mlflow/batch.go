package mlflow

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"time"
)

// Batch is what LogBatch sends: any number of metrics, params and tags,
// split into requests the server accepts.
type Batch struct {
	Metrics []Metric
	Params  []Param
	Tags    []Tag
}

// LogBatch validates every key and value, drops non-finite metric values
// (JSON cannot carry them; each dropped key is recorded in the tag
// outcrop.nonfinite_metrics), and sends the batch in as many
// runs/log-batch requests as the limits require: at most 1000 metrics, 100
// params, 100 tags, 1000 entities and 1 MB of JSON per request. Params are
// immutable on the server: logging a different value for a key already
// logged fails with INVALID_PARAMETER_VALUE.
func (c *Client) LogBatch(ctx context.Context, runID string, b Batch) error {
	now := time.Now().UnixMilli()
	var dropped []string
	metrics := make([]Metric, 0, len(b.Metrics))
	for _, m := range b.Metrics {
		if err := validateKey(m.Key); err != nil {
			return err
		}
		if math.IsNaN(m.Value) || math.IsInf(m.Value, 0) {
			dropped = append(dropped, m.Key)
			continue
		}
		if m.Timestamp == 0 {
			m.Timestamp = Int64(now)
		}
		metrics = append(metrics, m)
	}
	tags := append([]Tag(nil), b.Tags...)
	if len(dropped) > 0 {
		v, _ := json.Marshal(dropped)
		tags = append(tags, Tag{"outcrop.nonfinite_metrics", truncateJSONList(string(v))})
	}
	for _, p := range b.Params {
		if err := validateKey(p.Key); err != nil {
			return err
		}
		if len(p.Value) > MaxParamValueLength {
			return fmt.Errorf("mlflow: param %q is %d bytes, over the limit of %d; log it as an artifact", p.Key, len(p.Value), MaxParamValueLength)
		}
	}
	for _, t := range tags {
		if err := validateKey(t.Key); err != nil {
			return err
		}
		if len(t.Value) > MaxTagValueLength {
			return fmt.Errorf("mlflow: tag %q is %d bytes, over the limit of %d", t.Key, len(t.Value), MaxTagValueLength)
		}
	}
	for _, req := range splitBatch(runID, metrics, b.Params, tags) {
		if err := c.do(ctx, "POST", "/api/2.0/mlflow/runs/log-batch", nil, req, nil); err != nil {
			return err
		}
	}
	return nil
}

func truncateJSONList(s string) string {
	if len(s) <= MaxTagValueLength {
		return s
	}
	return s[:MaxTagValueLength-5] + "…]"
}

type batchRequest struct {
	RunID string `json:"run_id"`
	// Empty lists are left out: MLflow 3.17 answers 500 to a JSON null.
	Metrics []Metric `json:"metrics,omitempty"`
	Params  []Param  `json:"params,omitempty"`
	Tags    []Tag    `json:"tags,omitempty"`
}

// entrySize estimates an entity's JSON size generously (quotes, escapes,
// field names), so a chunk never exceeds MaxBatchBytes.
func entrySize(key, value string) int { return 2*(len(key)+len(value)) + 96 }

// splitBatch packs the entities into requests within every limit. Params go
// first so that a request with a param conflict fails before metrics that
// depend on it are half-logged.
func splitBatch(runID string, metrics []Metric, params []Param, tags []Tag) []batchRequest {
	var out []batchRequest
	cur := batchRequest{RunID: runID}
	size := 0
	flush := func() {
		if len(cur.Metrics)+len(cur.Params)+len(cur.Tags) > 0 {
			out = append(out, cur)
		}
		cur = batchRequest{RunID: runID}
		size = 0
	}
	full := func(n int) bool {
		return len(cur.Metrics)+len(cur.Params)+len(cur.Tags) >= MaxEntitiesPerBatch || size+n > MaxBatchBytes-1024
	}
	for _, p := range params {
		n := entrySize(p.Key, p.Value)
		if len(cur.Params) >= MaxParamsPerBatch || full(n) {
			flush()
		}
		cur.Params = append(cur.Params, p)
		size += n
	}
	for _, t := range tags {
		n := entrySize(t.Key, t.Value)
		if len(cur.Tags) >= MaxTagsPerBatch || full(n) {
			flush()
		}
		cur.Tags = append(cur.Tags, t)
		size += n
	}
	for _, m := range metrics {
		n := entrySize(m.Key, "") + 64
		if len(cur.Metrics) >= MaxMetricsPerBatch || full(n) {
			flush()
		}
		cur.Metrics = append(cur.Metrics, m)
		size += n
	}
	flush()
	return out
}

// Dataset describes a dataset input (log-inputs). Source, Schema and Profile
// are JSON strings, as MLflow's Python client writes them.
type Dataset struct {
	Name       string `json:"name"`
	Digest     string `json:"digest"`
	SourceType string `json:"source_type"`
	Source     string `json:"source"`
	Schema     string `json:"schema,omitempty"`
	Profile    string `json:"profile,omitempty"`
}

// DatasetInput is a dataset with its input tags (e.g. mlflow.data.context).
type DatasetInput struct {
	Tags    []Tag   `json:"tags,omitempty"`
	Dataset Dataset `json:"dataset"`
}

// LogInputs records dataset inputs of a run.
func (c *Client) LogInputs(ctx context.Context, runID string, inputs []DatasetInput) error {
	for _, in := range inputs {
		d := in.Dataset
		switch {
		case d.Name == "" || len(d.Name) > 500:
			return fmt.Errorf("mlflow: dataset name must be 1-500 characters")
		case d.Digest == "" || len(d.Digest) > 36:
			return fmt.Errorf("mlflow: dataset digest must be 1-36 characters")
		case len(d.Source) > 65535:
			return fmt.Errorf("mlflow: dataset source is over 65535 bytes")
		case len(d.Schema) > 1048575:
			return fmt.Errorf("mlflow: dataset schema is over 1048575 bytes")
		}
	}
	for i := 0; i < len(inputs); i += 1000 {
		chunk := inputs[i:min(i+1000, len(inputs))]
		if err := c.do(ctx, "POST", "/api/2.0/mlflow/runs/log-inputs", nil, map[string]any{"run_id": runID, "datasets": chunk}, nil); err != nil {
			return err
		}
	}
	return nil
}
