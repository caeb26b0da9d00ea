"""Oracle for internal/eval's Punkt: NLTK's own sent_tokenize and
word_tokenize with the punkt_tab model directory given on stdin
({"punkt": dir holding english/, "texts": [...]}); writes the sentences and
tokens of each text as JSON on stdout."""
import json
import os
import shutil
import sys
import tempfile

import nltk

req = json.load(sys.stdin)
data = tempfile.mkdtemp()
# NLTK reads models only from real files under its data path.
shutil.copytree(req["punkt"], os.path.join(data, "tokenizers", "punkt_tab"))
nltk.data.path.insert(0, data)
out = [{"sentences": nltk.sent_tokenize(t), "tokens": nltk.word_tokenize(t)} for t in req["texts"]]
json.dump(out, sys.stdout)
