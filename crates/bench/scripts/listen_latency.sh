#!/usr/bin/env bash
# Config push latency, side by side in one run: logwire's listener (signed, Ed25519) and
# CPython's logging.config.listen() (unsigned), same minimal dictConfig, last byte sent →
# new level live. Usage: crates/bench/scripts/listen_latency.sh [ITERATIONS] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/../../.."
n=${1:-200}
rounds=${2:-3}
cargo build -q --release -p logwire-collector --example listen_latency
bin=target/release/examples/listen_latency
for r in $(seq "$rounds"); do
  "$bin" "$n"
  python3 crates/bench/scripts/listen_latency_cpython.py "$n"
done | tee /dev/stderr | python3 -c '
import json, statistics, sys
rows = [json.loads(l) for l in sys.stdin if l.strip()]
by = {}
for r in rows:
    by.setdefault(r["impl"], []).append(r)
med = {k: statistics.median(x["median_ms"] for x in v) for k, v in by.items()}
p90 = {k: statistics.median(x["p90_ms"] for x in v) for k, v in by.items()}
for k in by:
    print("%-32s median %.3f ms  p90 %.3f ms  (median of %d runs)" % (k, med[k], p90[k], len(by[k])))
lw = next(k for k in by if k.startswith("logwire"))
cp = next(k for k in by if k.startswith("CPython"))
print("CPython / logwire median ratio: %.1fx" % (med[cp] / med[lw]))
'
