// Command routertrain fits the prompt router's quality model on the train
// split of labelled data and writes a versioned artefact. By default the
// data are the RouteLLM tables and the artefact is the one
// internal/promptrouter embeds; it prints the dev and test figures of
// docs/ROUTING.md.
//
//	go run ./internal/promptrouter/cmd/routertrain -data ../shared/datasets/routellm/routellm/evals \
//	    -out internal/promptrouter/router-v1.bin
//
// With -eval-weak and -eval-strong it learns from Outcrop's own evaluation
// results instead: the per-record output files (internal/eval) of one
// evaluation for the two models of a pair, a prompt counted as answered
// when its -metric score is at least -pass. The artefact is loaded at start
// through prompt_routers.artefacts (docs/ROUTING.md).
//
//	go run ./internal/promptrouter/cmd/routertrain -eval-weak eval-out/small/qa_accuracy_trivia.jsonl \
//	    -eval-strong eval-out/large/qa_accuracy_trivia.jsonl -metric exact_match_score \
//	    -name trivia-small-vs-large-v1 -out routers/trivia-v1.bin
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/outcrop/outcrop/internal/promptrouter"
)

func main() {
	data := flag.String("data", "../shared/datasets/routellm/routellm/evals", "RouteLLM evals directory")
	out := flag.String("out", "internal/promptrouter/router-v1.bin", "artefact to write")
	weak := flag.String("eval-weak", "", "per-record output of an Outcrop evaluation for the weak model")
	strong := flag.String("eval-strong", "", "the same evaluation's per-record output for the strong model")
	metric := flag.String("metric", "exact_match_score", "score that says a model answered (with -eval-*)")
	pass := flag.Float64("pass", 1, "lowest score counted as answered (with -eval-*)")
	name := flag.String("name", "", "artefact name: data, split and version (with -eval-*)")
	flag.Parse()
	var err error
	if *weak != "" || *strong != "" {
		err = runEval(*weak, *strong, *metric, *pass, *name, *out)
	} else {
		err = run(*data, *out)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "routertrain:", err)
		os.Exit(1)
	}
}

func run(data, out string) error {
	all, err := promptrouter.LoadRouteLLM(data)
	if err != nil {
		return err
	}
	return fit(promptrouter.DefaultName, all, []string{"", "mmlu", "gsm8k"}, out)
}

func runEval(weak, strong, metric string, pass float64, name, out string) error {
	if weak == "" || strong == "" || name == "" {
		return fmt.Errorf("-eval-weak, -eval-strong and -name go together")
	}
	all, err := promptrouter.LoadEvalResults(weak, strong, metric, pass)
	if err != nil {
		return err
	}
	return fit(name, all, []string{""}, out)
}

// fit trains on the train split, writes the artefact and prints the dev
// and test figures per source.
func fit(name string, all []promptrouter.Example, sources []string, out string) error {
	train := promptrouter.Filter(all, promptrouter.SplitTrain, "")
	m := promptrouter.Train(name, train, promptrouter.TrainOptions{})
	b, err := m.MarshalBinary()
	if err != nil {
		return err
	}
	if err := os.WriteFile(out, b, 0o644); err != nil {
		return err
	}
	fmt.Printf("trained %s on %d prompts; wrote %s (%d bytes)\n", m.Name, len(train), out, len(b))
	for _, sp := range []promptrouter.Split{promptrouter.SplitDev, promptrouter.SplitTest} {
		for _, src := range sources {
			exs := promptrouter.Filter(all, sp, src)
			if len(exs) == 0 {
				continue
			}
			label := src
			if label == "" {
				label = "all"
			}
			r := promptrouter.Report(m, exs)
			fmt.Printf("%s %s n=%d weak=%.3f strong=%.3f | APGR router %.3f length %.3f random %.3f | CPT50 router %.3f length %.3f | strong share d=0 %.3f d=5 %.3f d=10 %.3f d=20 %.3f\n",
				sp, label, len(exs), r.Weak, r.Strong, r.Router, r.Length, r.Random, r.RouterCPT50, r.LengthCPT50, r.Share[0], r.Share[5], r.Share[10], r.Share[20])
		}
	}
	return nil
}
