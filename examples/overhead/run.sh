#!/usr/bin/env bash
# run.sh: measure what Outcrop adds to latency in front of an instant
# upstream (tools/instant), side by side with calling that upstream
# directly, through a byte pump that does not speak HTTP (tools/rproxy -raw,
# the floor for any proxy on the machine: one more hop and its wake-ups) and
# through a bare Go reverse proxy (tools/rproxy, the floor for a net/http
# proxy), at 500 and 1,000 requests/s, JSON and
# streaming, with tools/loadgen (open loop: latency counts from each
# request's scheduled time). Then RSS idle (fresh process) and with 1,000
# open streams. Needs bin/outcrop (make build).
#
#   DUR=15s RATES="500 1000" ROUNDS=1 examples/overhead/run.sh
#
# When oha (cargo install oha) is on PATH, the JSON runs are repeated with
# it: a load generator in Rust that takes less of the shared CPU than
# loadgen, with --latency-correction (no coordinated omission).
set -euo pipefail
cd "$(dirname "$0")/../.."
eval "$(make -s env)"
bin=$(mktemp -d)
go build -o "$bin/instant" ./tools/instant
go build -o "$bin/loadgen" ./tools/loadgen
go build -o "$bin/rproxy" ./tools/rproxy
DUR=${DUR:-15s}
ROUNDS=${ROUNDS:-1}
cleanup() { kill $(jobs -p) 2>/dev/null || true; rm -rf "$bin"; }
trap cleanup EXIT

rss() { awk '/VmRSS/ {print $2}' /proc/$1/status; }
start_outcrop() {
  bin/outcrop serve --config examples/overhead/outcrop.yaml >/dev/null 2>&1 &
  opid=$!
  for i in $(seq 50); do curl -sf 127.0.0.1:18090/healthz >/dev/null && break; sleep 0.2; done
}

# RSS: a fresh server, idle, then holding 1,000 streams that the upstream
# keeps open (one token a second).
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

# Latency.
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
