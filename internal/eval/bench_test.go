package eval

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkLexical10k scores 10,000 bring-your-own-output records (model
// outputs in the dataset, no model calls) through Evaluate: per-record
// scores and aggregation, with Concurrency 2 (the machine's cores). The
// records/s metric is what docs/PERFORMANCE.md reports.
func BenchmarkLexical10k(b *testing.B) {
	wn := testWordNet(b)
	pairs, _ := oracleCorpus(10000)
	if out := os.Getenv("OUTCROP_EVAL_CORPUS_OUT"); out != "" { // for the Python reference run
		b, _ := json.Marshal(pairs)
		os.WriteFile(out, b, 0o644)
	}
	path := filepath.Join(b.TempDir(), "byo.jsonl")
	f, _ := os.Create(path)
	enc := json.NewEncoder(f)
	for i, p := range pairs {
		enc.Encode(map[string]string{"target": p[0] + "<OR>" + p[1][:len(p[1])/2], "output": p[1], "cat": string(rune('a' + i%5))})
	}
	f.Close()
	ds, err := LoadDataset(DataConfig{Name: "byo", URI: path, ModelOutputLocation: "output", TargetOutputLocation: "target", CategoryLocation: "cat"})
	if err != nil {
		b.Fatal(err)
	}
	for _, algo := range []string{AlgoFactualKnowledge, AlgoQAAccuracy, AlgoSummarizationAccuracy} {
		b.Run(algo, func(b *testing.B) {
			for b.Loop() {
				eo, _, err := Evaluate(context.Background(), Job{Model: "byo", Dataset: ds, Algorithm: AlgorithmConfig{Name: algo},
					NumRecords: -1, Concurrency: 2, Env: &Env{WordNet: wn}})
				if err != nil || eo.Records != 10000 || eo.Failed != 0 {
					b.Fatalf("%v %+v", err, eo)
				}
			}
			b.ReportMetric(float64(10000*b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
