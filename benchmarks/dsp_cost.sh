#!/usr/bin/env bash
# Cost of the firmware DSP core per processed CSI frame (tier 2), counted with callgrind.
#
# Builds firmware/components/ruview_edge -O2 without sanitizers plus a small driver, runs it
# under `valgrind --tool=callgrind` twice per subcarrier count -- generating N synthetic frames
# and processing them, and generating the same N frames without processing them (baseline) --
# and prints (instructions_processed - instructions_baseline) / N against the 200,000
# instructions/frame goal (< 5 % of one 160 MHz core at 28.5 Hz); then the most expensive single
# frame (the goal is per frame), and the static RAM against the 24 KB goal.
# usage: benchmarks/dsp_cost.sh [N_FRAMES]   (default 2000; NMAX=600 frames for the per-frame max)
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

# The goal holds for EVERY frame, including the one that emits a vitals packet: callgrind dumps
# its counters after each rv_edge_process call; the largest dump is the most expensive frame.
NMAX=${NMAX:-600}
printf '%-12s %10s %16s %16s %8s\n' subcarriers frames "max instr/frame" "mean instr/frame" ratio
for nsc in 64 128 192; do
    rm -rf "$WORK/dumps" && mkdir "$WORK/dumps"
    valgrind --tool=callgrind --toggle-collect=rv_edge_process --dump-after=rv_edge_process \
        --callgrind-out-file="$WORK/dumps/cg.out" \
        "$WORK/cost_driver" "$nsc" "$NMAX" 1 >"$WORK/run.log" 2>"$WORK/vg.log"
    # collection only inside rv_edge_process, one dump after each call: one frame per dump
    stats=$(for f in "$WORK"/dumps/cg.out.*; do grep -E '^(summary|totals):' "$f" | head -1 | awk '{print $2}'; done |
        sort -n | awk '$1 > 0 {a[++n]=$1; s+=$1} END {printf "%d %d", a[n], s/n}')
    max=${stats% *}; mean=${stats#* }
    ratio=$(awk -v p="$max" -v g="$GOAL" 'BEGIN { printf "%.3f", p / g }')
    printf '%-12s %10s %16s %16s %8s\n' "$nsc" "$NMAX" "$max" "$mean" "$ratio"
done
echo "(max = the most expensive single frame; ratio = max / $GOAL; <= 1 meets it)"
# Static RAM of the firmware build: the core's state, the CSI ring and the datagram buffer (all
# static in firmware/main/csi_rx.c), main's I/Q scratch copy (RV_MAX_IQ_BYTES) and its HTTP
# receive buffer (firmware/main/http_ota.c RX_CHUNK), with the ESP-IDF frame size (640 B).
cc -std=c11 -O2 -D_GNU_SOURCE -DRV_MAX_IQ_BYTES=640 -I"$CORE/include" -I"$CORE/src" -I"$TEST/support" \
    "$CORE"/src/*.c "$TEST/support/rv_synth.c" "$TEST/support/cost_driver.c" -lm -o "$WORK/size_driver"
"$WORK/size_driver" 64 0 0 >"$WORK/sizes"
get() { awk -v k="$1" '$1 == k {print $2}' "$WORK/sizes"; }
edge=$(get sizeof_rv_edge_t); ring=$(get sizeof_rv_ring_t); out=$(get sizeof_rv_out_t)
scratch=$(get max_iq_bytes)
http=$(awk '/#define RX_CHUNK/ {print $3}' "$ROOT/firmware/main/http_ota.c")
total=$((edge + ring + out + scratch + http))
awk -v e="$edge" -v r="$ring" -v o="$out" -v s="$scratch" -v h="$http" -v t="$total" -v g="$RAM_GOAL" 'BEGIN {
    printf "static RAM (firmware build): rv_edge_t %d + rv_ring_t %d + rv_out_t %d + main scratch %d + main HTTP buffer %d = %d B of %d B goal (ratio %.3f)\n",
           e, r, o, s, h, t, g, t / g }'
