"""Oracle for internal/eval: FMEval's building blocks computed by the real
libraries (NLTK's Porter stemmer, NLTKWordTokenizer and METEOR over WordNet
3.0; Google rouge_score). Reads {"wordnet": dir, "pairs": [[target, model]...],
"words": [...]} on stdin, writes the scores as JSON on stdout."""
import json
import sys

import nltk

from nltk.corpus.reader.wordnet import WordNetCorpusReader
from nltk.stem.porter import PorterStemmer
from nltk.tokenize.destructive import NLTKWordTokenizer
from nltk.translate import meteor_score
from rouge_score import rouge_scorer

req = json.load(sys.stdin)
nltk.data.path.append(req["wordnet"])  # NLTK only reads corpora under its data path


class Reader(WordNetCorpusReader):
    # The mapping to NLTK's own "wordnet" corpus only serves the Open
    # Multilingual Wordnet; this directory is WordNet 3.0 already.
    def map_wn(self, version="wordnet"):
        return None


wn = Reader(req["wordnet"], None)
stemmer = PorterStemmer()
tok = NLTKWordTokenizer()
scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
out = {"stems": [stemmer.stem(w) for w in req["words"]], "pairs": []}
for target, model in req["pairs"]:
    r = scorer.score(target, model)
    t, m = tok.tokenize(target), tok.tokenize(model)
    out["pairs"].append({
        "rouge1": r["rouge1"].fmeasure,
        "rouge2": r["rouge2"].fmeasure,
        "rougeL": r["rougeL"].fmeasure,
        "target_tokens": t,
        "meteor": meteor_score.single_meteor_score(t, m, wordnet=wn),
    })
json.dump(out, sys.stdout)
