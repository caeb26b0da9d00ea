// Command guardeval builds and measures Outcrop's guardrail detectors from
// the shared public datasets (../shared/datasets, never copied into the
// repository):
//
//	guardeval -profanity   derive internal/guardrail/profanity.txt from the Surge AI lexicon
//	guardeval -train       train the content/prompt-attack classifier on the train split,
//	                       calibrate its thresholds on the dev split, write internal/guardrail/model.bin
//	guardeval -report      score the frozen detectors on the test split, write docs/GUARDRAILS.md
//
// Run it from the repository root. Splits are declared in data.go (splitOf).
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/outcrop/outcrop/internal/guardrail"
)

func main() {
	var (
		datasets  = flag.String("datasets", "../shared/datasets", "directory of the shared datasets")
		profanity = flag.Bool("profanity", false, "write the managed profanity list")
		train     = flag.Bool("train", false, "train and calibrate the classifier")
		report    = flag.Bool("report", false, "write the quality report")
		pkgDir    = flag.String("pkg", "internal/guardrail", "guardrail package directory")
		out       = flag.String("out", "docs/GUARDRAILS.md", "report path")
		bits      = flag.Int("bits", 16, "hash bits of the classifier")
		debug     = flag.String("debug-pii", "", "print PII detection errors on this split (dev) and exit")
		entURL    = flag.String("entity-url", "", "OpenAI-compatible base URL of a model for the NAME/ADDRESS measurement (e.g. http://127.0.0.1:11434/v1)")
		entModel  = flag.String("entity-model", "smollm2:135m", "model name for -entity-url")
		entN      = flag.Int("entity-n", 0, "sentences of the split for the NAME/ADDRESS measurement (0 = all)")
		split     = flag.String("split", "test", "split the classifier sections score: test (the report) or dev (model selection)")
		entGGUF   = flag.String("entity-gguf", "", "GGUF model run in the built-in engine for the NAME/ADDRESS measurement")
		entGGUFN  = flag.Int("entity-gguf-n", 100, "sentences of the split for -entity-gguf (0 = all)")
	)
	flag.Parse()
	if *debug != "" {
		if err := debugPII(*datasets, *debug); err != nil {
			fmt.Fprintln(os.Stderr, "guardeval:", err)
			os.Exit(1)
		}
		return
	}
	if !*profanity && !*train && !*report {
		flag.Usage()
		os.Exit(2)
	}
	if *split != splitTest && *split != splitDev {
		fmt.Fprintln(os.Stderr, "guardeval: -split must be test or dev")
		os.Exit(2)
	}
	reportSplit = *split
	entity = entityOptions{*entURL, *entModel, *entGGUF, *entN, *entGGUFN}
	if err := run(*datasets, *pkgDir, *out, *bits, *profanity, *train, *report); err != nil {
		fmt.Fprintln(os.Stderr, "guardeval:", err)
		os.Exit(1)
	}
}

// entityOptions configure the optional model-based NAME/ADDRESS section.
type entityOptions struct {
	url, model, gguf string
	n, ggufN         int
}

var entity entityOptions

func run(datasets, pkgDir, out string, bits int, profanity, train, report bool) error {
	if profanity {
		if err := writeProfanity(datasets, filepath.Join(pkgDir, "profanity.txt")); err != nil {
			return err
		}
	}
	if train {
		t0 := time.Now()
		c, err := loadAll(datasets)
		if err != nil {
			return err
		}
		m := guardrail.Train(c.bySplit[splitTrain], guardrail.TrainOptions{Bits: bits})
		guardrail.Calibrate(m, c.bySplit[splitDev], guardrail.DefaultFPRTargets)
		b, err := m.MarshalBinary()
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(pkgDir, "model.bin"), b, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "trained on %d examples (dev %d) in %v; model %d bytes\n",
			len(c.bySplit[splitTrain]), len(c.bySplit[splitDev]), time.Since(t0).Round(time.Millisecond), len(b))
	}
	if report {
		return writeReport(datasets, out)
	}
	return nil
}
