// Package eval evaluates models the way Amazon's FMEval does: the same
// datasets (JSONL with JMESPath locations), the same prompt templates
// (Python string.Template semantics), the same algorithms with the same score
// names, and the same aggregation (mean over records with a value, overall and
// per category).
//
// The lexical metrics are exact ports of FMEval's building blocks: SQuAD/QuAC
// text normalisation, NLTK's Porter stemmer in NLTK_EXTENSIONS mode, Google
// rouge_score's tokenizer and scorers, NLTK's Treebank word tokenizer and
// METEOR alignment over WordNet 3.0, jiwer's word error rate and sklearn's
// balanced and micro-averaged classification metrics. Model-based metrics
// (BERTScore, toxicity) go through the pluggable Scorer interface.
//
// Randomness differs from FMEval on purpose: dataset sampling and the
// robustness perturbations use a seeded math/rand/v2 PCG generator, so the
// algorithm and parameters match FMEval but the sampled rows and perturbed
// strings do not (FMEval uses pandas and numpy's PCG64).
package eval
