#!/usr/bin/env bash
# quiet-build.sh CMD...: runs a go build command and shows its compiler
# output, except the warnings known to be harmless: gcc's
# -Wstringop-overflow false positives in llama.cpp's ggml-cpu/repack.cpp
# (GCC 12 cannot see that the interleaving loop stays inside the block it
# fills; upstream llama.cpp builds with the same code). A package's output
# block ("# import/path" and what follows) is hidden only when every
# warning in it is one of those and it has no error; everything else is
# shown as the compiler wrote it. Hidden output is kept in the log named
# at the end. The command's exit status is returned unchanged.
set -uo pipefail
log=$(mktemp "${TMPDIR:-/tmp}/outcrop-build.XXXXXX.log")
"$@" 2>"$log"
rc=$?
awk -v logfile="$log" '
  function flush() {
    if (block == "") return
    if (warnings > 0 && warnings == known && errors == 0) { hidden += known }
    else { printf "%s", block > "/dev/stderr" }
    block = ""; warnings = 0; known = 0; errors = 0
  }
  /^# / { flush() }
  {
    block = block $0 "\n"
    if ($0 ~ /warning:/) { warnings++; if ($0 ~ /\[-Wstringop-overflow=\]/ && $0 ~ /repack\.cpp/) known++ }
    if ($0 ~ /error:/) errors++
  }
  END {
    flush()
    if (hidden > 0) printf "build: %d known-harmless -Wstringop-overflow warnings from llama.cpp (ggml-cpu/repack.cpp) hidden; full output in %s\n", hidden, logfile > "/dev/stderr"
  }
' "$log"
exit $rc
