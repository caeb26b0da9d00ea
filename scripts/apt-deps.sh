#!/usr/bin/env bash
# apt-deps.sh: install the Debian/Ubuntu packages listed in .ci/apt.txt that
# are missing (build toolchain, llama.cpp headers, Redis, PostgreSQL, Python,
# Node). Uses sudo when not root. Does nothing when all are present, and
# says what to install by hand on a machine without apt-get.
set -Eeuo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

mapfile -t pkgs < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' .ci/apt.txt | grep -v '^$')
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "apt-deps: all ${#pkgs[@]} packages of .ci/apt.txt present"
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "apt-deps: no apt-get here; install the equivalents of: ${missing[*]}" >&2
  exit 1
fi
sudo=
[ "$(id -u)" = 0 ] || sudo=sudo
echo "apt-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
