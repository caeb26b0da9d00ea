package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	brtypes "github.com/aws/aws-sdk-go-v2/service/bedrock/types"
	"github.com/aws/smithy-go"

	"github.com/outcrop/outcrop/internal/config"
	"github.com/outcrop/outcrop/internal/mlflow"
	"github.com/outcrop/outcrop/internal/testenv"
)

// evalApp serves the built-in engine (SmolLM2) with evaluation jobs from
// home, so that a second evalApp on the same home is a restart.
func evalApp(t *testing.T, home, extra string) (url string, stop func()) {
	t.Helper()
	cfg, err := config.Parse([]byte(fmt.Sprintf(`
listen: 127.0.0.1:0
models:
  - id: smollm2
    deployments:
      - provider: local
        model: %s
        options: {default_max_tokens: 12}
evaluations:
  wordnet: %s
  concurrency: 2
%s`, testenv.GGUF(t), testenv.WordNet(t), extra)))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Home = home
	a, err := New(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, ln) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		<-done
		a.Close()
	}
	t.Cleanup(stop)
	return "http://" + ln.Addr().String(), stop
}

func bedrockControl(url string) *bedrock.Client {
	return bedrock.New(bedrock.Options{Region: "us-east-1", BaseEndpoint: aws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "SECRET", "")})
}

// writeObject puts data at s3://bucket/key of the default account.
func writeObject(t *testing.T, home, bucket, key, data string) {
	t.Helper()
	p := filepath.Join(home, "s3", "000000000000", bucket, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

const qaDataset = `{"prompt": "What is the capital of France?", "referenceResponse": "Paris", "category": "geography"}
{"prompt": "How many legs does a spider have?", "referenceResponse": "8<OR>eight", "category": "biology"}
`

func waitJob(t *testing.T, c *bedrock.Client, arn string, want ...brtypes.EvaluationJobStatus) *bedrock.GetEvaluationJobOutput {
	t.Helper()
	deadline := time.Now().Add(6 * time.Minute)
	for {
		g, err := c.GetEvaluationJob(context.Background(), &bedrock.GetEvaluationJobInput{JobIdentifier: aws.String(arn)})
		if err != nil {
			t.Fatalf("GetEvaluationJob: %v", err)
		}
		for _, w := range want {
			if g.Status == w {
				return g
			}
		}
		if g.Status == brtypes.EvaluationJobStatusFailed || time.Now().After(deadline) {
			t.Fatalf("job %s is %s (want %v): %v", arn, g.Status, want, g.FailureMessages)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func qaJob(name, model, uri string, metrics ...string) *bedrock.CreateEvaluationJobInput {
	return &bedrock.CreateEvaluationJobInput{
		JobName: aws.String(name),
		RoleArn: aws.String("arn:aws:iam::000000000000:role/eval"),
		EvaluationConfig: &brtypes.EvaluationConfigMemberAutomated{Value: brtypes.AutomatedEvaluationConfig{
			DatasetMetricConfigs: []brtypes.EvaluationDatasetMetricConfig{{
				TaskType:    brtypes.EvaluationTaskTypeQuestionAndAnswer,
				Dataset:     &brtypes.EvaluationDataset{Name: aws.String("qa"), DatasetLocation: &brtypes.EvaluationDatasetLocationMemberS3Uri{Value: uri}},
				MetricNames: metrics,
			}},
		}},
		InferenceConfig: &brtypes.EvaluationInferenceConfigMemberModels{Value: []brtypes.EvaluationModelConfig{
			&brtypes.EvaluationModelConfigMemberBedrockModel{Value: brtypes.EvaluationBedrockModel{
				ModelIdentifier: aws.String(model), InferenceParams: aws.String(`{"inferenceConfig":{"maxTokens":8,"temperature":0}}`)}},
		}},
		OutputDataConfig: &brtypes.EvaluationOutputDataConfig{S3Uri: aws.String("s3://evals/out")},
	}
}

// TestEvaluationJobsSDK runs Bedrock evaluation jobs on the built-in model
// through aws-sdk-go-v2: an automated job over three task types (accuracy,
// toxicity, robustness, and correctness graded by the same model as
// evaluator) to completion, its outputs where GetEvaluationJob points and
// its runs in the real MLflow server; listing with filters; a stopped job;
// batch deletion; and every bad input with Bedrock's error code.
func TestEvaluationJobsSDK(t *testing.T) {
	home := t.TempDir()
	exp := fmt.Sprintf("outcrop-evaljobs-%d", time.Now().UnixNano())
	url, _ := evalApp(t, home, fmt.Sprintf("  mlflow: {tracking_uri: %s, experiment: %s}\n", testenv.MLflowURL(t), exp))
	c := bedrockControl(url)
	ctx := context.Background()
	writeObject(t, home, "evals", "data/qa.jsonl", qaDataset)
	writeObject(t, home, "evals", "data/sum.jsonl", `{"prompt": "Summarize: The cat sat on the mat all day long.", "referenceResponse": "A cat sat on a mat."}
`)

	in := qaJob("qa-smollm2", "smollm2", "s3://evals/data/qa.jsonl", "Builtin.Accuracy", "Builtin.Toxicity", "Builtin.Robustness", "Builtin.Correctness")
	in.EvaluationConfig.(*brtypes.EvaluationConfigMemberAutomated).Value.EvaluatorModelConfig = &brtypes.EvaluatorModelConfigMemberBedrockEvaluatorModels{
		Value: []brtypes.BedrockEvaluatorModel{{ModelIdentifier: aws.String("smollm2")}}}
	auto := &in.EvaluationConfig.(*brtypes.EvaluationConfigMemberAutomated).Value
	auto.DatasetMetricConfigs = append(auto.DatasetMetricConfigs,
		brtypes.EvaluationDatasetMetricConfig{TaskType: brtypes.EvaluationTaskTypeGeneration,
			Dataset:     &brtypes.EvaluationDataset{Name: aws.String("facts"), DatasetLocation: &brtypes.EvaluationDatasetLocationMemberS3Uri{Value: "s3://evals/data/qa.jsonl"}},
			MetricNames: []string{"Builtin.Accuracy"}},
		brtypes.EvaluationDatasetMetricConfig{TaskType: brtypes.EvaluationTaskTypeSummarization,
			Dataset:     &brtypes.EvaluationDataset{Name: aws.String("sum"), DatasetLocation: &brtypes.EvaluationDatasetLocationMemberS3Uri{Value: "s3://evals/data/sum.jsonl"}},
			MetricNames: []string{"Builtin.Accuracy"}})
	in.ClientRequestToken = aws.String("token-1")
	cr, err := c.CreateEvaluationJob(ctx, in)
	if err != nil {
		t.Fatalf("CreateEvaluationJob: %v", err)
	}
	arn := aws.ToString(cr.JobArn)
	if !strings.HasPrefix(arn, "arn:aws:bedrock:us-east-1:000000000000:evaluation-job/") || len(arn)-strings.LastIndex(arn, "/") != 13 {
		t.Fatalf("jobArn = %q", arn)
	}
	// The same client token returns the same job.
	again, err := c.CreateEvaluationJob(ctx, in)
	if err != nil || aws.ToString(again.JobArn) != arn {
		t.Fatalf("idempotent CreateEvaluationJob = %v, %v; want %s", again, err, arn)
	}
	g := waitJob(t, c, arn, brtypes.EvaluationJobStatusCompleted)
	if g.JobType != brtypes.EvaluationJobTypeAutomated || aws.ToString(g.JobName) != "qa-smollm2" || aws.ToString(g.OutputDataConfig.S3Uri) != "s3://evals/out" {
		t.Fatalf("GetEvaluationJob = %+v", g)
	}
	if m, ok := g.InferenceConfig.(*brtypes.EvaluationInferenceConfigMemberModels); !ok || len(m.Value) != 1 {
		t.Fatalf("inferenceConfig = %#v", g.InferenceConfig)
	}
	// Results are where outputDataConfig points, under <jobName>/<jobId>/.
	id := arn[strings.LastIndex(arn, "/")+1:]
	out := filepath.Join(home, "s3", "000000000000", "evals", "out", "qa-smollm2", id)
	for _, f := range []string{"results.json", "summary.md", "predictions.jsonl",
		"smollm2/qa_accuracy_qa.jsonl", "smollm2/qa_toxicity_qa.jsonl", "smollm2/qa_accuracy_semantic_robustness_qa.jsonl",
		"smollm2/llm_judge_qa.jsonl", "smollm2/factual_knowledge_facts.jsonl", "smollm2/summarization_accuracy_sum.jsonl"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("output %s: %v", f, err)
		}
	}
	checkScores(t, filepath.Join(out, "smollm2/qa_accuracy_qa.jsonl"), 2, "f1_score", "exact_match_score")
	checkScores(t, filepath.Join(out, "smollm2/qa_toxicity_qa.jsonl"), 2, "toxicity")
	checkScores(t, filepath.Join(out, "smollm2/qa_accuracy_semantic_robustness_qa.jsonl"), 2, "f1_score", "delta_f1_score")
	checkJudge(t, filepath.Join(out, "smollm2/llm_judge_qa.jsonl"), 2)

	// The job's runs are in MLflow: the model's run with a child per metric.
	mc, err := mlflow.New(testenv.MLflowURL(t), mlflow.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e, err := mc.ExperimentByName(ctx, exp)
	if err != nil {
		t.Fatalf("MLflow experiment %s: %v", exp, err)
	}
	runs, err := mc.SearchRuns(ctx, []string{e.ID}, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 7 { // parent + six evaluations
		t.Fatalf("MLflow runs = %d, want 7", len(runs))
	}

	// Listing, with filters.
	l, err := c.ListEvaluationJobs(ctx, &bedrock.ListEvaluationJobsInput{StatusEquals: brtypes.EvaluationJobStatusCompleted, NameContains: aws.String("qa-")})
	if err != nil || len(l.JobSummaries) != 1 || aws.ToString(l.JobSummaries[0].JobArn) != arn {
		t.Fatalf("ListEvaluationJobs = %+v, %v", l, err)
	}
	s := l.JobSummaries[0]
	if len(s.EvaluationTaskTypes) != 3 || len(s.ModelIdentifiers) != 1 || s.ModelIdentifiers[0] != "smollm2" || len(s.EvaluatorModelIdentifiers) != 1 {
		t.Fatalf("summary = %+v", s)
	}

	// A stopped job: Stopping, then Stopped; stopping it again conflicts.
	var big strings.Builder
	for i := range 60 {
		fmt.Fprintf(&big, `{"prompt": "Count to %d.", "referenceResponse": "%d"}`+"\n", i, i)
	}
	writeObject(t, home, "evals", "data/big.jsonl", big.String())
	cr2, err := c.CreateEvaluationJob(ctx, qaJob("to-stop", "smollm2", "s3://evals/data/big.jsonl", "Builtin.Accuracy"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.StopEvaluationJob(ctx, &bedrock.StopEvaluationJobInput{JobIdentifier: cr2.JobArn}); err != nil {
		t.Fatalf("StopEvaluationJob: %v", err)
	}
	waitJob(t, c, aws.ToString(cr2.JobArn), brtypes.EvaluationJobStatusStopped)
	_, err = c.StopEvaluationJob(ctx, &bedrock.StopEvaluationJobInput{JobIdentifier: cr2.JobArn})
	wantCode(t, "Stop a stopped job", err, "ConflictException", 400)

	// Batch deletion: finished jobs go; a missing one is reported.
	missing := "arn:aws:bedrock:us-east-1:000000000000:evaluation-job/aaaaaaaaaaaa"
	bd, err := c.BatchDeleteEvaluationJob(ctx, &bedrock.BatchDeleteEvaluationJobInput{JobIdentifiers: []string{arn, aws.ToString(cr2.JobArn), missing}})
	if err != nil {
		t.Fatalf("BatchDeleteEvaluationJob: %v", err)
	}
	if len(bd.EvaluationJobs) != 2 || bd.EvaluationJobs[0].JobStatus != brtypes.EvaluationJobStatusDeleting ||
		len(bd.Errors) != 1 || aws.ToString(bd.Errors[0].Code) != "ResourceNotFoundException" {
		t.Fatalf("BatchDeleteEvaluationJob = %+v", bd)
	}
	_, err = c.GetEvaluationJob(ctx, &bedrock.GetEvaluationJobInput{JobIdentifier: aws.String(arn)})
	wantCode(t, "Get a deleted job", err, "ResourceNotFoundException", 404)

	badInputs(t, c)
}

// badInputs is the bad-input table: each request gets Bedrock's error code
// and status, never a 5xx.
func badInputs(t *testing.T, c *bedrock.Client) {
	ctx := context.Background()
	ok := func() *bedrock.CreateEvaluationJobInput {
		return qaJob("bad", "smollm2", "s3://evals/data/qa.jsonl", "Builtin.Accuracy")
	}
	auto := func(in *bedrock.CreateEvaluationJobInput) *brtypes.AutomatedEvaluationConfig {
		return &in.EvaluationConfig.(*brtypes.EvaluationConfigMemberAutomated).Value
	}
	for _, tc := range []struct {
		name   string
		mutate func(in *bedrock.CreateEvaluationJobInput)
		code   string
		status int
	}{
		{"upper-case job name", func(in *bedrock.CreateEvaluationJobInput) { in.JobName = aws.String("Bad_Name") }, "ValidationException", 400},
		{"job name too long", func(in *bedrock.CreateEvaluationJobInput) { in.JobName = aws.String(strings.Repeat("a", 64)) }, "ValidationException", 400},
		{"role not an IAM role", func(in *bedrock.CreateEvaluationJobInput) { in.RoleArn = aws.String("arn:aws:s3:::bucket") }, "ValidationException", 400},
		{"unknown model", func(in *bedrock.CreateEvaluationJobInput) {
			in.InferenceConfig.(*brtypes.EvaluationInferenceConfigMemberModels).Value[0].(*brtypes.EvaluationModelConfigMemberBedrockModel).Value.ModelIdentifier = aws.String("nope.model-v1")
		}, "ValidationException", 400},
		{"two models", func(in *bedrock.CreateEvaluationJobInput) {
			m := in.InferenceConfig.(*brtypes.EvaluationInferenceConfigMemberModels)
			m.Value = append(m.Value, m.Value[0])
		}, "ValidationException", 400},
		{"inferenceParams not JSON", func(in *bedrock.CreateEvaluationJobInput) {
			in.InferenceConfig.(*brtypes.EvaluationInferenceConfigMemberModels).Value[0].(*brtypes.EvaluationModelConfigMemberBedrockModel).Value.InferenceParams = aws.String("{")
		}, "ValidationException", 400},
		{"unknown task type", func(in *bedrock.CreateEvaluationJobInput) { auto(in).DatasetMetricConfigs[0].TaskType = "Translation" }, "ValidationException", 400},
		{"unknown metric", func(in *bedrock.CreateEvaluationJobInput) {
			auto(in).DatasetMetricConfigs[0].MetricNames = []string{"Builtin.Fluency"}
		}, "ValidationException", 400},
		{"toxicity for classification", func(in *bedrock.CreateEvaluationJobInput) {
			auto(in).DatasetMetricConfigs[0].TaskType = brtypes.EvaluationTaskTypeClassification
			auto(in).DatasetMetricConfigs[0].MetricNames = []string{"Builtin.Toxicity"}
		}, "ValidationException", 400},
		{"judge metric without evaluator", func(in *bedrock.CreateEvaluationJobInput) {
			auto(in).DatasetMetricConfigs[0].MetricNames = []string{"Builtin.Correctness"}
		}, "ValidationException", 400},
		{"built-in dataset", func(in *bedrock.CreateEvaluationJobInput) {
			auto(in).DatasetMetricConfigs[0].Dataset = &brtypes.EvaluationDataset{Name: aws.String("Builtin.BoolQ")}
		}, "ValidationException", 400},
		{"dataset object missing", func(in *bedrock.CreateEvaluationJobInput) {
			auto(in).DatasetMetricConfigs[0].Dataset.DatasetLocation = &brtypes.EvaluationDatasetLocationMemberS3Uri{Value: "s3://evals/data/none.jsonl"}
		}, "ValidationException", 400},
		{"dataset path escapes", func(in *bedrock.CreateEvaluationJobInput) {
			auto(in).DatasetMetricConfigs[0].Dataset.DatasetLocation = &brtypes.EvaluationDatasetLocationMemberS3Uri{Value: "s3://evals/../../etc/passwd"}
		}, "ValidationException", 400},
		{"output not s3", func(in *bedrock.CreateEvaluationJobInput) {
			in.OutputDataConfig.S3Uri = aws.String("/tmp/out")
		}, "ValidationException", 400},
		{"six datasets", func(in *bedrock.CreateEvaluationJobInput) {
			a := auto(in)
			for range 5 {
				a.DatasetMetricConfigs = append(a.DatasetMetricConfigs, a.DatasetMetricConfigs[0])
			}
		}, "ValidationException", 400},
		{"human evaluation", func(in *bedrock.CreateEvaluationJobInput) {
			in.EvaluationConfig = &brtypes.EvaluationConfigMemberHuman{Value: brtypes.HumanEvaluationConfig{
				DatasetMetricConfigs: auto(ok()).DatasetMetricConfigs}}
		}, "ValidationException", 400},
		{"duplicate name", func(in *bedrock.CreateEvaluationJobInput) { in.JobName = aws.String("dup") }, "ConflictException", 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := ok()
			tc.mutate(in)
			_, err := c.CreateEvaluationJob(ctx, in)
			if tc.code == "ConflictException" && err == nil {
				in.ClientRequestToken = nil // the SDK filled it in on the first call
				_, err = c.CreateEvaluationJob(ctx, in)
			}
			wantCode(t, tc.name, err, tc.code, tc.status)
		})
	}
	for _, tc := range []struct {
		name, ident, code string
		status            int
	}{
		{"malformed identifier", "not-an-arn", "ValidationException", 400},
		{"other account", "arn:aws:bedrock:us-east-1:111122223333:evaluation-job/aaaaaaaaaaaa", "ResourceNotFoundException", 404},
		{"missing job", "aaaaaaaaaaab", "ResourceNotFoundException", 404},
	} {
		t.Run("get "+tc.name, func(t *testing.T) {
			_, err := c.GetEvaluationJob(ctx, &bedrock.GetEvaluationJobInput{JobIdentifier: aws.String(tc.ident)})
			wantCode(t, tc.name, err, tc.code, tc.status)
			_, err = c.StopEvaluationJob(ctx, &bedrock.StopEvaluationJobInput{JobIdentifier: aws.String(tc.ident)})
			wantCode(t, "stop "+tc.name, err, tc.code, tc.status)
		})
	}
	_, err := c.ListEvaluationJobs(ctx, &bedrock.ListEvaluationJobsInput{NextToken: aws.String("garbage!")})
	wantCode(t, "list with a forged token", err, "ValidationException", 400)
	_, err = c.BatchDeleteEvaluationJob(ctx, &bedrock.BatchDeleteEvaluationJobInput{JobIdentifiers: make([]string, 26)})
	wantCode(t, "delete 26 jobs", err, "ValidationException", 400)
}

func wantCode(t *testing.T, what string, err error, code string, status int) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code {
		t.Errorf("%s: error %v, want %s", what, err, code)
		return
	}
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) && re.HTTPStatusCode() != status {
		t.Errorf("%s: status %d, want %d", what, re.HTTPStatusCode(), status)
	}
}

type recordLine struct {
	ModelOutput string `json:"model_output"`
	Error       string `json:"error"`
	Scores      []struct {
		Name  string   `json:"name"`
		Value *float64 `json:"value"`
		Error string   `json:"error"`
	} `json:"scores"`
}

func readRecordLines(t *testing.T, path string) []recordLine {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []recordLine
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var r recordLine
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, r)
	}
	return out
}

// checkScores requires n records, each with a value for every name.
func checkScores(t *testing.T, path string, n int, names ...string) {
	t.Helper()
	recs := readRecordLines(t, path)
	if len(recs) != n {
		t.Fatalf("%s: %d records, want %d", path, len(recs), n)
	}
	for i, r := range recs {
		if r.Error != "" {
			t.Fatalf("%s record %d failed: %s", path, i, r.Error)
		}
		for _, name := range names {
			found := false
			for _, s := range r.Scores {
				found = found || (s.Name == name && s.Value != nil && *s.Value >= 0 && *s.Value <= 1)
			}
			if !found {
				t.Errorf("%s record %d: no %s in [0,1] in %+v", path, i, name, r.Scores)
			}
		}
	}
}

// checkJudge requires every record to carry the judge's verdict: a grade
// mapped to [0,1], or the judge's unusable answer quoted as the error.
func checkJudge(t *testing.T, path string, n int) {
	t.Helper()
	recs := readRecordLines(t, path)
	if len(recs) != n {
		t.Fatalf("%s: %d records, want %d", path, len(recs), n)
	}
	for i, r := range recs {
		if r.Error != "" || len(r.Scores) != 1 || r.Scores[0].Name != "judge_score" {
			t.Fatalf("%s record %d: %+v", path, i, r)
		}
		s := r.Scores[0]
		switch {
		case s.Value != nil:
			if v := *s.Value; v != 0 && v != 0.25 && v != 0.5 && v != 0.75 && v != 1 {
				t.Errorf("record %d: judge_score %v is not a grade", i, v)
			}
		case !strings.HasPrefix(s.Error, "judge answer has no score"):
			t.Errorf("record %d: judge error %q", i, s.Error)
		}
	}
}

// TestEvaluationJobResumesAfterRestart stops the server while a job runs
// and starts a new one on the same home: the job finishes, and no record's
// model call was made twice (each prompt is answered once in
// predictions.jsonl).
func TestEvaluationJobResumesAfterRestart(t *testing.T) {
	home := t.TempDir()
	url, stop := evalApp(t, home, "")
	c := bedrockControl(url)
	var data strings.Builder
	for i := range 12 {
		fmt.Fprintf(&data, `{"prompt": "Name a fruit, number %d.", "referenceResponse": "apple"}`+"\n", i)
	}
	writeObject(t, home, "evals", "data/fruit.jsonl", data.String())
	cr, err := c.CreateEvaluationJob(context.Background(), qaJob("resume", "smollm2", "s3://evals/data/fruit.jsonl", "Builtin.Accuracy"))
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(cr.JobArn)[strings.LastIndex(aws.ToString(cr.JobArn), "/")+1:]
	preds := filepath.Join(home, "s3", "000000000000", "evals", "out", "resume", id, "predictions.jsonl")
	deadline := time.Now().Add(3 * time.Minute)
	for countLines(preds) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("no answers stored in 3 minutes")
		}
		time.Sleep(100 * time.Millisecond)
	}
	stop()
	before := countLines(preds)
	if before >= 12 {
		t.Fatal("the job finished before the server stopped: nothing was resumed")
	}
	url, _ = evalApp(t, home, "")
	c = bedrockControl(url)
	waitJob(t, c, aws.ToString(cr.JobArn), brtypes.EvaluationJobStatusCompleted)
	keys := map[string]int{}
	raw, _ := os.ReadFile(preds)
	for _, l := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var e struct{ Key string }
		json.Unmarshal([]byte(l), &e)
		keys[e.Key]++
	}
	if len(keys) != 12 {
		t.Fatalf("%d distinct answers, want 12", len(keys))
	}
	for k, n := range keys {
		if n != 1 {
			t.Fatalf("prompt %s answered %d times", k, n)
		}
	}
	t.Logf("%d of 12 answers stored before the restart", before)
	checkScores(t, filepath.Join(filepath.Dir(preds), "smollm2", "qa_accuracy_qa.jsonl"), 12, "f1_score")
}

func countLines(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	return strings.Count(string(b), "\n")
}

// TestEvaluationJobsBoto3 drives the same API with boto3: create, get,
// list, stop, batch delete, and error codes as botocore parses them.
func TestEvaluationJobsBoto3(t *testing.T) {
	py := testenv.Python(t)
	home := t.TempDir()
	url, _ := evalApp(t, home, "")
	writeObject(t, home, "evals", "data/qa.jsonl", qaDataset)
	var big strings.Builder
	for i := range 200 {
		fmt.Fprintf(&big, `{"prompt": "Count to %d.", "referenceResponse": "%d"}`+"\n", i, i)
	}
	writeObject(t, home, "evals", "data/big.jsonl", big.String())
	cmd := exec.Command(py, "testdata/evaljobs_boto3.py", url)
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY=SECRET", "AWS_DEFAULT_REGION=us-east-1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("boto3: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "OK") {
		t.Fatalf("boto3 script did not finish:\n%s", out)
	}
}
