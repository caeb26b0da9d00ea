#!/usr/bin/env bash
# run.sh: measure what Outcrop adds to latency in front of an instant
# upstream (tools/instant), side by side with calling that upstream
# directly, through a byte pump that does not speak HTTP (tools/rproxy -raw,
# the floor for any proxy on the machine: one more hop and its wake-ups) and
# through a bare Go reverse proxy (tools/rproxy, the floor for a net/http
# proxy). Three parts, chosen with PARTS (default all three):
#
#   rss     RSS idle (fresh process) and with 1,000 open streams.
#   open    open loop (tools/loadgen at a fixed arrival rate: latency counts
#           from each request's scheduled time) at RATES, JSON and streaming.
#   closed  closed loop, interleaved target by target in each of ROUNDS
#           rounds, the upstream answering 20 words: 3,000 JSON requests at
#           c=1, 2,000 streamed at c=1 (TTFT), 20,000 JSON at c=50
#           (throughput); then Outcrop's RSS after the runs. Each run also
#           reports the CPU time (user+system, /proc/PID/stat) the proxy
#           process spent per 1,000 requests, warm-up included: on a shared
#           machine that figure moves far less with the load than
#           throughput does. The load average is printed with each round.
#
# Needs bin/outcrop (make build). OUTCROP_BASE=<another outcrop binary> adds
# it as a fifth target (e.g. a build of main, for before/after ratios).
#
#   DUR=15s RATES="500 1000" ROUNDS=1 examples/overhead/run.sh
#   PARTS=closed ROUNDS=3 examples/overhead/run.sh
#
# When oha (cargo install oha) is on PATH, the open-loop JSON runs are
# repeated with it: a load generator in Rust that takes less of the shared
# CPU than loadgen, with --latency-correction (no coordinated omission).
set -euo pipefail
cd "$(dirname "$0")/../.."
eval "$(make -s env)"
bin=$(mktemp -d)
go build -o "$bin/instant" ./tools/instant
go build -o "$bin/loadgen" ./tools/loadgen
go build -o "$bin/rproxy" ./tools/rproxy
DUR=${DUR:-15s}
ROUNDS=${ROUNDS:-1}
PARTS=${PARTS:-rss open closed}
cleanup() { kill $(jobs -p) 2>/dev/null || true; rm -rf "$bin"; }
trap cleanup EXIT

rss() { awk '/VmRSS/ {print $2}' /proc/$1/status; }
# cpu PID: user+system CPU seconds the process has used so far.
cpu() { awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' /proc/$1/stat; }
start_outcrop() {
  bin/outcrop serve --config examples/overhead/outcrop.yaml >/dev/null 2>&1 &
  opid=$!
  for i in $(seq 50); do curl -sf 127.0.0.1:18090/healthz >/dev/null && break; sleep 0.2; done
}

# RSS: a fresh server, idle, then holding 1,000 streams that the upstream
# keeps open (one token a second).
if [[ " $PARTS " == *" rss "* ]]; then
"$bin/instant" -addr 127.0.0.1:9100 -tokens 1000 -interval 1s >/dev/null 2>&1 &
ipid=$!
start_outcrop
sleep 1
idle=$(rss $opid)
"$bin/loadgen" -url http://127.0.0.1:18090/v1/chat/completions -model instant -streams 1000 -hold 20s >/dev/null &
hpid=$!
sleep 12
open=$(rss $opid)
wait $hpid || true
kill $opid $ipid; wait $opid $ipid 2>/dev/null || true
echo "RSS idle ${idle} kB; with 1000 open streams ${open} kB; per stream $(( (open - idle) * 1024 / 1000 )) B"
fi

# Latency, open loop.
if [[ " $PARTS " == *" open "* ]]; then
"$bin/instant" -addr 127.0.0.1:9100 -tokens 8 >/dev/null 2>&1 &
"$bin/rproxy" -addr 127.0.0.1:9101 -upstream http://127.0.0.1:9100 >/dev/null 2>&1 &
"$bin/rproxy" -raw -addr 127.0.0.1:9102 -upstream http://127.0.0.1:9100 >/dev/null 2>&1 &
start_outcrop
declare -A url=([direct]=http://127.0.0.1:9100 [raw]=http://127.0.0.1:9102 [rproxy]=http://127.0.0.1:9101 [outcrop]=http://127.0.0.1:18090)
for round in $(seq "$ROUNDS"); do
  for rate in ${RATES-500 1000}; do
    for stream in false true; do
      declare -A p50 p99
      for target in direct raw rproxy outcrop; do
        line=$("$bin/loadgen" -url "${url[$target]}/v1/chat/completions" -model instant -rate "$rate" -duration "$DUR" -warmup 3s -stream="$stream" | tail -1)
        p50[$target]=$(sed -E 's/.*p50=([0-9.]+).*/\1/' <<<"$line")
        p99[$target]=$(sed -E 's/.*p99=([0-9.]+).*/\1/' <<<"$line")
        echo "rate=$rate stream=$stream $target: $line"
      done
      if [ "$stream" = false ] && command -v oha >/dev/null; then
        body='{"model":"instant","stream":false,"max_tokens":8,"messages":[{"role":"user","content":"Say hello."}]}'
        for target in direct raw rproxy outcrop; do
          o=(oha --no-tui -q "$rate" --latency-correction -c 64 -m POST -H 'Content-Type: application/json' -d "$body" "${url[$target]}/v1/chat/completions")
          "${o[@]}" -z 3s >/dev/null
          "${o[@]}" -z "$DUR" --output-format json >"$bin/oha.json"
          python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); p=d["latencyPercentiles"]; s=d["summary"]
print("rate=%s stream=false %s (oha): success=%.4f e2e_ms p50=%.3f p90=%.3f p99=%.3f" % (sys.argv[2], sys.argv[3], s["successRate"], p["p50"]*1e3, p["p90"]*1e3, p["p99"]*1e3))' "$bin/oha.json" "$rate" "$target"
        done
      fi
      awk -v r="$rate" -v s="$stream" -v d50="${p50[direct]}" -v d99="${p99[direct]}" -v w50="${p50[raw]}" -v w99="${p99[raw]}" -v r50="${p50[rproxy]}" -v r99="${p99[rproxy]}" -v o50="${p50[outcrop]}" -v o99="${p99[outcrop]}" \
        'BEGIN { printf "rate=%s stream=%s added vs direct (ms): raw p50 %+.3f p99 %+.3f | rproxy p50 %+.3f p99 %+.3f | outcrop p50 %+.3f p99 %+.3f\n", r, s, w50-d50, w99-d99, r50-d50, r99-d99, o50-d50, o99-d99 }'
    done
  done
done
kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true
fi

# Closed loop, interleaved: every target runs each scenario in turn, so
# that a change in the machine's load touches them all alike.
if [[ " $PARTS " == *" closed "* ]]; then
"$bin/instant" -addr 127.0.0.1:9100 -tokens 20 >/dev/null 2>&1 &
declare -A pid=([direct]=$!)
"$bin/rproxy" -addr 127.0.0.1:9101 -upstream http://127.0.0.1:9100 >/dev/null 2>&1 &
pid[rproxy]=$!
"$bin/rproxy" -raw -addr 127.0.0.1:9102 -upstream http://127.0.0.1:9100 >/dev/null 2>&1 &
pid[raw]=$!
start_outcrop
pid[outcrop]=$opid
targets="direct raw rproxy outcrop"
declare -A url=([direct]=http://127.0.0.1:9100 [raw]=http://127.0.0.1:9102 [rproxy]=http://127.0.0.1:9101 [outcrop]=http://127.0.0.1:18090)
if [ -n "${OUTCROP_BASE:-}" ]; then
  sed 's/127.0.0.1:18090/127.0.0.1:18091/; s#/tmp/outcrop-overhead#/tmp/outcrop-overhead-base#' examples/overhead/outcrop.yaml >"$bin/base.yaml"
  "$OUTCROP_BASE" serve --config "$bin/base.yaml" >/dev/null 2>&1 &
  bpid=$!
  for i in $(seq 50); do curl -sf 127.0.0.1:18091/healthz >/dev/null && break; sleep 0.2; done
  targets="$targets base"
  url[base]=http://127.0.0.1:18091
  pid[base]=$bpid
fi
declare -A res cpums
for round in $(seq "$ROUNDS"); do
  echo "round=$round load average $(cut -d' ' -f1-3 /proc/loadavg) at $(date -u +%H:%M:%S) UTC"
  for sc in "1 false 3000" "1 true 2000" "50 false 20000"; do
    read -r c stream n <<<"$sc"
    for target in $targets; do
      # direct: the CPU column is the upstream's own (tools/instant).
      before=$(cpu "${pid[$target]}")
      line=$("$bin/loadgen" -url "${url[$target]}/v1/chat/completions" -model instant -max-tokens 20 -c "$c" -n "$n" -warmup-n $((n / 10)) -stream="$stream" | tail -1)
      after=$(cpu "${pid[$target]}")
      cpums[$round,$c,$stream,$target]=$(awk -v a="$after" -v b="$before" -v n="$((n + n / 10))" 'BEGIN { printf "%.1f", (a - b) * 1e6 / n }')
      echo "round=$round c=$c stream=$stream $target: $line cpu_us_per_req=${cpums[$round,$c,$stream,$target]}"
      res[$round,$c,$stream,$target]=$line
    done
    for target in $targets; do
      [ "$target" = direct ] && continue
      awk -v r="$round" -v c="$c" -v s="$stream" -v t="$target" -v x="${cpums[$round,$c,$stream,$target]}" -v raw="${cpums[$round,$c,$stream,raw]}" -v rp="${cpums[$round,$c,$stream,rproxy]}" \
        'BEGIN { printf "round=%s c=%s stream=%s %s CPU %.0f us per request (= ms per 1,000) = %.2fx the byte pump, %.2fx the bare proxy\n", r, c, s, t, x, x/raw, x/rp }'
    done
    f() { sed -E "s/.*$1=([0-9.]+).*/\1/" <<<"${res[$round,$c,$stream,$2]}"; }
    if [ "$c" = 1 ]; then
      for target in $targets; do
        [ "$target" = direct ] && continue
        awk -v r="$round" -v s="$stream" -v t="$target" -v d50="$(f p50 direct)" -v d99="$(f p99 direct)" -v p50="$(f p50 "$target")" -v p99="$(f p99 "$target")" \
          'BEGIN { printf "round=%s c=1 stream=%s %s added vs direct (ms): p50 %+.3f p99 %+.3f\n", r, s, t, p50-d50, p99-d99 }'
      done
    else
      for target in $targets; do
        awk -v r="$round" -v t="$target" -v x="$(f rps "$target")" -v raw="$(f rps raw)" 'BEGIN { printf "round=%s c=50 %s throughput %.0f/s = %.2fx the byte pump\n", r, t, x, x/raw }'
      done
    fi
  done
done
echo "RSS after the runs: outcrop $(rss $opid) kB${bpid:+; base $(rss $bpid) kB}"
fi
