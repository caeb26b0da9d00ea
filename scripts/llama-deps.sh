#!/usr/bin/env bash
# llama-deps.sh DIR: make the C/C++ headers that the vendored llama.cpp in
# github.com/ollama/ollama/llama expects but its module zip lacks.
#  - nlohmann/json and stb_image come from Debian (nlohmann-json3-dev, libstb-dev);
#  - miniaudio.h comes from the Go module github.com/gen2brain/malgo, copied to DIR/miniaudio/.
set -euo pipefail
dir=${1:?usage: llama-deps.sh DIR}
if [ ! -f /usr/include/nlohmann/json_fwd.hpp ] || [ ! -f /usr/include/stb/stb_image.h ]; then
  sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get install -y --no-install-recommends nlohmann-json3-dev libstb-dev
fi
malgo=$(go mod download -json github.com/gen2brain/malgo@v0.11.24 | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
mkdir -p "$dir/miniaudio"
install -m 0644 "$malgo/miniaudio.h" "$dir/miniaudio/miniaudio.h"
