"""Reference run for BenchmarkLexical10k/summarization_accuracy: the same
10,000 pairs scored by FMEval's building blocks (NLTK word_tokenize
without Punkt, i.e. NLTKWordTokenizer, METEOR over WordNet 3.0, and
rouge_score rouge2 with the Porter stemmer), one process.
argv: pairs JSON (OUTCROP_EVAL_CORPUS_OUT), WordNet dict dir."""
import json
import sys
import time

import nltk
from nltk.corpus.reader.wordnet import WordNetCorpusReader
from nltk.tokenize.destructive import NLTKWordTokenizer
from nltk.translate import meteor_score
from rouge_score import rouge_scorer

pairs = json.load(open(sys.argv[1]))
nltk.data.path.append(sys.argv[2])


class Reader(WordNetCorpusReader):
    def map_wn(self, version="wordnet"):
        return None


wn = Reader(sys.argv[2], None)
tok = NLTKWordTokenizer()
scorer = rouge_scorer.RougeScorer(["rouge2"], use_stemmer=True)
t0 = time.perf_counter()
for target, model in pairs:
    meteor_score.single_meteor_score(tok.tokenize(target), tok.tokenize(model), wordnet=wn)
    scorer.score(target, model)["rouge2"].fmeasure
dt = time.perf_counter() - t0
print(json.dumps({"records": len(pairs), "seconds": dt, "records_per_s": len(pairs) / dt}))
