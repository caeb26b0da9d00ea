// Command routertrain fits the prompt router's quality model on the train
// split of the RouteLLM data and writes the versioned artefact that
// internal/promptrouter embeds. It prints the dev and test figures of
// docs/ROUTING.md.
//
//	go run ./internal/promptrouter/cmd/routertrain -data ../shared/datasets/routellm/routellm/evals \
//	    -out internal/promptrouter/router-v1.bin
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
	flag.Parse()
	if err := run(*data, *out); err != nil {
		fmt.Fprintln(os.Stderr, "routertrain:", err)
		os.Exit(1)
	}
}

func run(data, out string) error {
	all, err := promptrouter.LoadRouteLLM(data)
	if err != nil {
		return err
	}
	train := promptrouter.Filter(all, promptrouter.SplitTrain, "")
	m := promptrouter.Train(promptrouter.DefaultName, train, promptrouter.TrainOptions{})
	b, err := m.MarshalBinary()
	if err != nil {
		return err
	}
	if err := os.WriteFile(out, b, 0o644); err != nil {
		return err
	}
	fmt.Printf("trained %s on %d prompts; wrote %s (%d bytes)\n", m.Name, len(train), out, len(b))
	for _, sp := range []promptrouter.Split{promptrouter.SplitDev, promptrouter.SplitTest} {
		for _, src := range []string{"", "mmlu", "gsm8k"} {
			exs := promptrouter.Filter(all, sp, src)
			name := src
			if name == "" {
				name = "mmlu+gsm8k"
			}
			r := promptrouter.Report(m, exs)
			fmt.Printf("%s %s n=%d weak=%.3f strong=%.3f | APGR router %.3f length %.3f random %.3f | CPT50 router %.3f length %.3f | strong share d=0 %.3f d=5 %.3f d=10 %.3f d=20 %.3f\n",
				sp, name, len(exs), r.Weak, r.Strong, r.Router, r.Length, r.Random, r.RouterCPT50, r.LengthCPT50, r.Share[0], r.Share[5], r.Share[10], r.Share[20])
		}
	}
	return nil
}
