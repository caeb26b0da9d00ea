#!/usr/bin/env bash
# wordnet.sh [DEST]: installs the WordNet 3.0 database that METEOR's synonym
# stage needs (internal/eval) into DEST/dict (default
# $HOME/.cache/outcrop/wordnet/dict), from Debian's wordnet-base package, the
# same data as NLTK's "wordnet" corpus. Idempotent. Adds the `lexnames` file
# Debian leaves out, so NLTK's WordNetCorpusReader (the CI oracle) reads the
# same directory.
set -Eeuo pipefail
dest=${1:-${OUTCROP_CACHE:-$HOME/.cache/outcrop}/wordnet}
dict=$dest/dict
[ -s "$dict/data.noun" ] && [ -s "$dict/lexnames" ] && exit 0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ -s /usr/share/wordnet/data.noun ]; then
  mkdir -p "$tmp/x/usr/share" && cp -r /usr/share/wordnet "$tmp/x/usr/share/"
else
  if ! (cd "$tmp" && apt-get download wordnet-base >/dev/null 2>&1); then
    if [ "$(id -u)" = 0 ]; then apt-get update -qq >/dev/null; fi
    (cd "$tmp" && apt-get download wordnet-base >/dev/null) ||
      { echo "wordnet.sh: apt-get download wordnet-base failed" >&2; exit 1; }
  fi
  dpkg-deb -x "$tmp"/wordnet-base_*.deb "$tmp/x"
fi
mkdir -p "$dict.tmp"
cp "$tmp"/x/usr/share/wordnet/* "$dict.tmp/"
i=0
for name in adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact \
  noun.attribute noun.body noun.cognition noun.communication noun.event noun.feeling \
  noun.food noun.group noun.location noun.motive noun.object noun.person \
  noun.phenomenon noun.plant noun.possession noun.process noun.quantity \
  noun.relation noun.shape noun.state noun.substance noun.time verb.body \
  verb.change verb.cognition verb.communication verb.competition \
  verb.consumption verb.contact verb.creation verb.emotion verb.motion \
  verb.perception verb.possession verb.social verb.stative verb.weather adj.ppl; do
  case $name in adj.*) t=3 ;; adv.*) t=4 ;; noun.*) t=1 ;; verb.*) t=2 ;; esac
  printf '%02d\t%s\t%d\n' "$i" "$name" "$t" >>"$dict.tmp/lexnames"
  i=$((i + 1))
done
rm -rf "$dict" && mv "$dict.tmp" "$dict"
echo "$dict"
