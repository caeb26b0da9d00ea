package mlflow

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/outcrop/outcrop/internal/testenv"
)

func newTestClient(t *testing.T) *Client {
	t.Helper()
	c, err := New(testenv.MLflowURL(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func uniqueName(t *testing.T) string {
	return fmt.Sprintf("outcrop-test-%s-%d", t.Name(), time.Now().UnixNano())
}

// TestRealServerRoundTrip drives a real MLflow tracking server: experiment
// get-or-create, a parent run and a nested child, batches over every
// per-request limit, a param conflict, dataset inputs, artifacts through the
// proxy, search by parent and get.
func TestRealServerRoundTrip(t *testing.T) {
	c := newTestClient(t)
	ctx := context.Background()
	name := uniqueName(t)
	exp, err := c.EnsureExperiment(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.EnsureExperiment(ctx, name)
	if err != nil || again != exp {
		t.Fatalf("EnsureExperiment again = %q, %v; want %q", again, err, exp)
	}
	parent, err := c.CreateRun(ctx, exp, "model-a", "", []Tag{{TagSourceType, "LOCAL"}})
	if err != nil {
		t.Fatal(err)
	}
	child, err := c.CreateRun(ctx, exp, "SummarizationAccuracy", parent.RunID, nil)
	if err != nil {
		t.Fatal(err)
	}

	var b Batch
	for i := range 2500 {
		b.Metrics = append(b.Metrics, Metric{Key: fmt.Sprintf("m.%04d", i), Value: float64(i) / 7})
	}
	b.Metrics = append(b.Metrics, Metric{Key: "nan_metric", Value: math.NaN()})
	for i := range 150 {
		b.Params = append(b.Params, Param{Key: fmt.Sprintf("p%03d", i), Value: strings.Repeat("v", 5000)})
	}
	for i := range 120 {
		b.Tags = append(b.Tags, Tag{Key: fmt.Sprintf("t%03d", i), Value: "x"})
	}
	if err := c.LogBatch(ctx, child.RunID, b); err != nil {
		t.Fatalf("LogBatch: %v", err)
	}
	// Same value again is idempotent; a different value is refused.
	if err := c.LogBatch(ctx, child.RunID, Batch{Params: []Param{{"p000", strings.Repeat("v", 5000)}}}); err != nil {
		t.Fatalf("idempotent param: %v", err)
	}
	err = c.LogBatch(ctx, child.RunID, Batch{Params: []Param{{"p000", "other"}}})
	if !IsCode(err, "INVALID_PARAMETER_VALUE") {
		t.Fatalf("param overwrite: got %v, want INVALID_PARAMETER_VALUE", err)
	}
	if err := c.LogBatch(ctx, child.RunID, Batch{Metrics: []Metric{{Key: "../escape", Value: 1}}}); err == nil {
		t.Fatal("key ../escape accepted")
	}

	in := DatasetInput{
		Tags: []Tag{{TagDataContext, "evaluation"}},
		Dataset: Dataset{Name: "gigaword_sample", Digest: "0123abcd", SourceType: "local",
			Source:  `{"uri": "/data/gigaword_sample.jsonl"}`,
			Schema:  `{"mlflow_colspec": [{"type": "string", "name": "document", "required": true}]}`,
			Profile: `{"num_rows": 3, "num_elements": 3}`},
	}
	if err := c.LogInputs(ctx, child.RunID, []DatasetInput{in}); err != nil {
		t.Fatalf("LogInputs: %v", err)
	}
	png := []byte("\x89PNG\r\n\x1a\nnot really")
	if err := c.LogArtifact(ctx, child.ArtifactURI, "charts/radar.png", png); err != nil {
		t.Fatalf("LogArtifact: %v", err)
	}
	got, err := c.DownloadArtifact(ctx, child.ArtifactURI, "charts/radar.png")
	if err != nil || string(got) != string(png) {
		t.Fatalf("DownloadArtifact = %q, %v", got, err)
	}
	files, err := c.ListArtifacts(ctx, child.RunID, "charts")
	if err != nil || len(files) != 1 || files[0].Path != "charts/radar.png" || int(files[0].FileSize) != len(png) {
		t.Fatalf("ListArtifacts = %+v, %v", files, err)
	}
	if err := c.LogArtifact(ctx, child.ArtifactURI, "../x", png); err == nil {
		t.Fatal("artifact path ../x accepted")
	}
	for _, id := range []string{child.RunID, parent.RunID} {
		if err := c.UpdateRun(ctx, id, StatusFinished); err != nil {
			t.Fatal(err)
		}
	}

	runs, err := c.SearchRuns(ctx, []string{exp}, fmt.Sprintf("tags.`%s` = '%s'", TagParentRunID, parent.RunID))
	if err != nil || len(runs) != 1 || runs[0].Info.RunID != child.RunID {
		t.Fatalf("SearchRuns by parent = %+v, %v", runs, err)
	}
	run, err := c.GetRun(ctx, child.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if run.Info.Status != StatusFinished || len(run.Data.Metrics) != 2500 || len(run.Data.Params) != 150 {
		t.Fatalf("run: status %s, %d metrics, %d params", run.Info.Status, len(run.Data.Metrics), len(run.Data.Params))
	}
	tags := map[string]string{}
	for _, tg := range run.Data.Tags {
		tags[tg.Key] = tg.Value
	}
	if tags[TagParentRunID] != parent.RunID || tags["outcrop.nonfinite_metrics"] != `["nan_metric"]` || tags[TagRunName] != "SummarizationAccuracy" {
		t.Fatalf("tags: %v", tags)
	}
}

func TestUnreachableServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c, _ := New("http://"+addr, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = c.EnsureExperiment(ctx, "x")
	var ae *APIError
	if err == nil || errors.As(err, &ae) {
		t.Fatalf("EnsureExperiment on a closed port = %v; want a transport error", err)
	}
}

func TestSplitBatchLimits(t *testing.T) {
	var ms []Metric
	for i := range 2001 {
		ms = append(ms, Metric{Key: fmt.Sprint("m", i), Value: 1})
	}
	var ps []Param
	for i := range 250 {
		ps = append(ps, Param{Key: fmt.Sprint("p", i), Value: strings.Repeat("x", 6000)})
	}
	reqs := splitBatch("r", ms, ps, nil)
	nm, np := 0, 0
	for _, r := range reqs {
		if len(r.Metrics) > MaxMetricsPerBatch || len(r.Params) > MaxParamsPerBatch ||
			len(r.Metrics)+len(r.Params)+len(r.Tags) > MaxEntitiesPerBatch {
			t.Fatalf("request over the limits: %d metrics %d params", len(r.Metrics), len(r.Params))
		}
		size := 0
		for _, p := range r.Params {
			size += len(p.Key) + len(p.Value) + 30
		}
		if size > MaxBatchBytes {
			t.Fatalf("request of %d bytes", size)
		}
		nm += len(r.Metrics)
		np += len(r.Params)
	}
	if nm != 2001 || np != 250 {
		t.Fatalf("lost entities: %d metrics %d params", nm, np)
	}
}

func TestValidateKey(t *testing.T) {
	for k, ok := range map[string]bool{
		"summarization_accuracy.rouge": true, "a/b c-d": true, "": false, "/abs": false,
		"a/../b": false, "..": false, "a//b": false, "a:b": false, strings.Repeat("k", 251): false,
	} {
		if err := validateKey(k); (err == nil) != ok {
			t.Errorf("validateKey(%q) = %v", k, err)
		}
	}
}
