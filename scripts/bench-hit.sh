#!/usr/bin/env bash
# Per-hit latency of the compiler wrapper, and of ccache when installed, on
# the same real compile (zstd's zstd_compress.c at -O3 by default).
#
#   cargo build --release -p cargo-gocache
#   scripts/bench-hit.sh [SOURCE.c]        # N=100 hits per round by default
#   EXTRA='-DDATADIR="/x" -DLEVEL=2' scripts/bench-hit.sh   # more arguments
#   BIN=/path/to/other/cargo-gocache scripts/bench-hit.sh   # another build
#   scripts/bench-hit.sh --baseline REV [SOURCE.c]   # and REV's build beside it
#
# Rounds alternate gocache, ccache, gocache, ccache (A B A B) so drift on a
# shared machine hits both alike. Each tool gets its own fresh store in a
# temporary directory; one cold compile fills it, then N hits are timed.
# This is a quick check that the hit path stays lean, not the benchmark.
#
# --baseline REV: REV's cargo-gocache (built in a temporary git worktree,
# scripts/baseline.sh) runs too, before BIN in odd rounds and after it in
# even ones; the means over all rounds and their ratio new/old follow.
# With valgrind, the instructions of one hit of each (callgrind), which
# move far less than the times on a shared machine.
set -euo pipefail
cd "$(dirname "$0")/.."

baseline=
if [ "${1:-}" = --baseline ]; then
    baseline=${2:?--baseline REV}
    shift 2
fi

N=${N:-100}
ROUNDS=${ROUNDS:-2}
CC=${CC:-gcc}
BIN=${BIN:-${CARGO_TARGET_DIR:-target}/release/cargo-gocache}
SRC=${1:-$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/zstd-sys-*/zstd/lib/compress/zstd_compress.c 2>/dev/null | head -1)}
if [ -z "$SRC" ] || [ ! -f "$SRC" ]; then
    echo "no source: pass a C file (zstd-sys is not in the cargo registry)" >&2
    exit 2
fi
if [ ! -x "$BIN" ]; then
    echo "no $BIN: run cargo build --release -p cargo-gocache" >&2
    exit 2
fi

work=$(mktemp -d)
# shellcheck source=scripts/baseline.sh
. scripts/baseline.sh
trap 'baseline_remove "$work"; rm -rf "$work"' EXIT
old=
if [ -n "$baseline" ]; then
    baseline_build "$baseline" "$work"
    old=$work/baseline/cargo-gocache
fi
# EXTRA: more compiler arguments, split at blanks (`-D`s, say).
read -r -a extra <<<"${EXTRA:-}"
args=(-O3 "${extra[@]}" -c "$SRC" -o "$work/out.o")

now() { echo "${EPOCHREALTIME/./}"; }   # microseconds

gocache() { CARGO_GOCACHE_DIR="$work/gocache" "$BIN" "$CC" "${args[@]}"; }
old_gocache() { CARGO_GOCACHE_DIR="$work/gocache-old" "$old" "$CC" "${args[@]}"; }
ccache_() { CCACHE_DIR="$work/ccache" ccache "$CC" "${args[@]}"; }

# mean_ms FUNCTION: N runs; prints the mean wall time and the mean CPU time
# (user + system of the processes run) in milliseconds. On a shared machine
# the wall time includes waiting for a CPU; the CPU time does not.
mean_ms() {
    local t0 t1
    t0=$(now)
    # `times` in a subshell: its second line is the CPU time of the children.
    cpu=$( (for ((i = 0; i < N; i++)); do "$1"; done; times) | tail -1)
    t1=$(now)
    awk -v us=$((t1 - t0)) -v n="$N" -v cpu="$cpu" 'BEGIN {
        split(cpu, f, " ")
        secs = 0
        for (k = 1; k <= 2; k++) { split(f[k], m, "m"); secs += m[1] * 60 + m[2] }
        printf "%.2f ms wall, %.2f ms CPU", us / n / 1000, secs * 1000 / n
    }'
}

t0=$(now); "$CC" "${args[@]}"; t1=$(now)
echo "source: $SRC"
[ -z "$baseline" ] || echo "baseline: $baseline ($(git rev-parse --short "$baseline"))"
echo "compile without a cache: $(awk -v us=$((t1 - t0)) 'BEGIN { printf "%.0f", us / 1000 }') ms"

gocache
[ -z "$old" ] || old_gocache
have_ccache=false
if command -v ccache >/dev/null; then
    have_ccache=true
    ccache_
fi

for ((r = 1; r <= ROUNDS; r++)); do
    if [ -z "$old" ]; then
        line="round $r: gocache $(mean_ms gocache) per hit"
    elif ((r % 2)); then
        o=$(mean_ms old_gocache)
        n=$(mean_ms gocache)
        line="round $r: gocache $baseline $o, gocache $n per hit"
    else
        n=$(mean_ms gocache)
        o=$(mean_ms old_gocache)
        line="round $r: gocache $n, gocache $baseline $o per hit"
    fi
    [ -z "$old" ] || echo "$o $n" >>"$work/means"
    if $have_ccache; then
        line="$line; ccache $(mean_ms ccache_) per hit"
    fi
    echo "$line"
done

if [ -n "$old" ]; then
    # Each line: "O ms wall, O ms CPU N ms wall, N ms CPU": fields 1 4 7 10.
    awk -v rev="$baseline" '{ow += $1; oc += $4; nw += $7; nc += $10} END {
        printf "mean over rounds: gocache %s %.2f ms wall, %.2f ms CPU; gocache %.2f ms wall, %.2f ms CPU\n", rev, ow / NR, oc / NR, nw / NR, nc / NR
        printf "gocache/gocache %s (new/old): wall %.3f, CPU %.3f\n", rev, nw / ow, nc / oc
    }' "$work/means"
fi
hits=$(grep -c $'^v1\thit' "$work/gocache/stats/events.log" || true)
echo "gocache hits recorded: $hits of $((N * ROUNDS))"
if [ -n "$old" ]; then
    hits=$(grep -c $'^v1\thit' "$work/gocache-old/stats/events.log" || true)
    echo "gocache $baseline hits recorded: $hits of $((N * ROUNDS))"
fi
# After the hit counts: callgrind's run is one more hit.
if command -v valgrind >/dev/null; then
    n=$(CARGO_GOCACHE_DIR=$work/gocache instructions "$BIN" "$CC" "${args[@]}")
    if [ -n "$old" ]; then
        o=$(CARGO_GOCACHE_DIR=$work/gocache-old instructions "$old" "$CC" "${args[@]}")
        echo "one hit, instructions (callgrind): gocache $baseline $o; gocache $n; new/old $(awk -v n="${n%% *}" -v o="${o%% *}" 'BEGIN { printf "%.3f", n / o }')"
    else
        echo "one hit, instructions (callgrind): gocache $n"
    fi
fi

if $have_ccache; then
    CCACHE_DIR="$work/ccache" ccache --print-stats | grep -E '^(direct_cache_hit|preprocessed_cache_hit|cache_miss)\s' | tr '\t' ' ' | paste -sd' ' | sed 's/^/ccache: /'
fi
