package evaljob

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// FuzzValidate feeds arbitrary CreateEvaluationJob bodies to the request
// validation: it returns a plan or a ValidationException-like error and
// never panics, and no plan points outside the object store.
func FuzzValidate(f *testing.F) {
	root := f.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "000000000000", "b", "d"), 0o755); err != nil {
		f.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, "000000000000", "b", "d", "x.jsonl"), []byte(`{"prompt":"p"}`+"\n"), 0o644)
	s := &Service{S3Root: root, Lookup: func(m string) (string, bool) { return m, m == "m" }}
	for _, seed := range []string{
		`{"jobName":"a","roleArn":"arn:aws:iam::000000000000:role/r","evaluationConfig":{"automated":{"datasetMetricConfigs":[{"taskType":"QuestionAndAnswer","dataset":{"name":"d","datasetLocation":{"s3Uri":"s3://b/d/x.jsonl"}},"metricNames":["Builtin.Accuracy"]}]}},"inferenceConfig":{"models":[{"bedrockModel":{"modelIdentifier":"m","inferenceParams":"{\"inferenceConfig\":{\"maxTokens\":3}}"}}]},"outputDataConfig":{"s3Uri":"s3://b/o"}}`,
		`{"jobName":"a","roleArn":"arn:aws:iam::000000000000:role/r","evaluationConfig":{"automated":{"datasetMetricConfigs":[{"taskType":"Generation","dataset":{"name":"d","datasetLocation":{"s3Uri":"s3://b/../x"}},"metricNames":["Builtin.Correctness"]}],"evaluatorModelConfig":{"bedrockEvaluatorModels":[{"modelIdentifier":"m"}]}}},"inferenceConfig":{"models":[{"bedrockModel":{"modelIdentifier":"m"}}]},"outputDataConfig":{"s3Uri":"s3://b/o"}}`,
		`{"evaluationConfig":{"human":{}}}`,
		`{}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var in CreateInput
		if json.Unmarshal([]byte(body), &in) != nil {
			return
		}
		p, err := s.validate(&in, "000000000000")
		if err != nil {
			return
		}
		rel, rerr := filepath.Rel(root, p.outDir)
		if rerr != nil || rel == ".." || filepath.IsAbs(rel) || len(rel) >= 2 && rel[:2] == ".." {
			t.Fatalf("output %s escapes %s", p.outDir, root)
		}
		for _, e := range p.evals {
			if rel, _ := filepath.Rel(root, e.path); len(rel) >= 2 && rel[:2] == ".." {
				t.Fatalf("dataset %s escapes %s", e.path, root)
			}
		}
	})
}

// FuzzListToken: a forged nextToken is a ValidationException, never a panic.
func FuzzListToken(f *testing.F) {
	f.Add(encodeCursor(cursor{T: 1, A: "arn"}))
	f.Add("")
	f.Add("!!")
	f.Fuzz(func(t *testing.T, tok string) {
		decodeCursor(tok)
		inferenceParams(tok)
	})
}
