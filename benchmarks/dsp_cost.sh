#!/usr/bin/env bash
# Cost of the firmware DSP core per processed CSI frame (tier 2), counted with callgrind.
#
# Builds firmware/components/ruview_edge -O2 without sanitizers plus a small driver, runs it
# under `valgrind --tool=callgrind` twice per subcarrier count -- generating N synthetic frames
# and processing them, and generating the same N frames without processing them (baseline) --
# and prints (instructions_processed - instructions_baseline) / N against the 200,000
# instructions/frame goal (< 5 % of one 160 MHz core at 28.5 Hz), and the static state size
# against the 24 KB goal.  usage: benchmarks/dsp_cost.sh [N_FRAMES]   (default 2000)
set -euo pipefail
N=${1:-2000}
GOAL=200000
RAM_GOAL=24576
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CORE=$ROOT/firmware/components/ruview_edge
TEST=$ROOT/firmware/test
for tool in valgrind cc; do
    command -v $tool >/dev/null || { echo "$tool not found: apt-get install valgrind gcc" >&2; exit 1; }
done
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cc -std=c11 -O2 -D_GNU_SOURCE -I"$CORE/include" -I"$CORE/src" -I"$TEST/support" \
    "$CORE"/src/*.c "$TEST/support/rv_synth.c" "$TEST/support/cost_driver.c" -lm \
    -o "$WORK/cost_driver"

instr() {  # total instructions (Ir) of one driver run
    valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.out" "$WORK/cost_driver" "$@" \
        >"$WORK/run.log" 2>"$WORK/vg.log"
    grep -E '^(summary|totals):' "$WORK/cg.out" | head -1 | awk '{print $2}'
}

printf '%-12s %10s %14s %14s %16s %8s\n' subcarriers frames "Ir processed" "Ir baseline" \
    "instr/frame" "ratio"
for nsc in 64 128; do
    with=$(instr "$nsc" "$N" 1)
    base=$(instr "$nsc" "$N" 0)
    per=$(( (with - base) / N ))
    ratio=$(awk -v p="$per" -v g="$GOAL" 'BEGIN { printf "%.3f", p / g }')
    printf '%-12s %10s %14s %14s %16s %8s\n' "$nsc" "$N" "$with" "$base" "$per" "$ratio"
done
echo "(ratio = instructions per frame / $GOAL goal; <= 1 meets it)"
"$WORK/cost_driver" 64 0 0 >"$WORK/sizes"
edge=$(awk '/sizeof_rv_edge_t/ {print $2}' "$WORK/sizes")
ring=$(awk '/sizeof_rv_ring_t/ {print $2}' "$WORK/sizes")
total=$((edge + ring))
awk -v e="$edge" -v r="$ring" -v t="$total" -v g="$RAM_GOAL" 'BEGIN {
    printf "static state: rv_edge_t %d B + rv_ring_t %d B = %d B of %d B goal (ratio %.3f)\n",
           e, r, t, g, t / g }'
