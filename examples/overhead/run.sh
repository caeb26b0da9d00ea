#!/usr/bin/env bash
# run.sh: measure what Outcrop adds to latency in front of an instant
# upstream, side by side with calling that upstream directly, at 500 and
# 1,000 requests/s, JSON and streaming; then RSS idle and with 1,000 open
# streams. Needs bin/outcrop (make build). Prints a table per run.
set -euo pipefail
cd "$(dirname "$0")/../.."
eval "$(make -s env)"
go build -o /tmp/instant ./tools/instant
go build -o /tmp/loadgen ./tools/loadgen
DUR=${DUR:-15s}
cleanup() { kill $(jobs -p) 2>/dev/null || true; }
trap cleanup EXIT

/tmp/instant -addr 127.0.0.1:9100 -tokens 8 >/dev/null 2>&1 &
bin/outcrop serve --config examples/overhead/outcrop.yaml >/dev/null 2>&1 &
for i in $(seq 50); do curl -sf 127.0.0.1:18090/healthz >/dev/null && break; sleep 0.2; done
pid=$(pgrep -f 'outcrop serve --config examples/overhead/outcrop.yaml' | head -1)

for rate in ${RATES-500 1000}; do
  for stream in false true; do
    for target in direct outcrop; do
      url=http://127.0.0.1:9100/v1/chat/completions
      [ $target = outcrop ] && url=http://127.0.0.1:18090/v1/chat/completions
      echo "== $target rate=$rate stream=$stream"
      /tmp/loadgen -url "$url" -model instant -rate $rate -duration $DUR -warmup 3s -stream=$stream | tail -1
    done
  done
done

rss() { awk '/VmRSS/ {print $2" kB"}' /proc/$pid/status; }
echo "== RSS idle: $(rss)"
kill %1; wait %1 2>/dev/null || true
/tmp/instant -addr 127.0.0.1:9100 -tokens 1000 -interval 1s >/dev/null 2>&1 &
sleep 1
/tmp/loadgen -url http://127.0.0.1:18090/v1/chat/completions -model instant -streams 1000 -hold 20s &
sleep 12
echo "== RSS with 1000 open streams: $(rss)"
wait %3 2>/dev/null || true
