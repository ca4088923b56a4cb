#!/usr/bin/env bash
# What a miss costs through the compiler wrapper, against the compile alone:
# the same real compile (zstd's zstd_compress.c at -O3 by default) with
# command-line macros, each miss in a fresh store, for one or more builds of
# cargo-gocache (to compare a change: BINS="before/cargo-gocache after/...").
#
#   cargo build --release -p cargo-gocache
#   scripts/bench-miss.sh [SOURCE.c]      # N=5 misses per binary per round
#
# Or, as in a real build, many sources through one store per binary and
# round (the compiler's identity is then looked up once, not per miss),
# with the options they are built with, from their directory:
#
#   SOURCES="crypto/x509/*.c" FLAGS="-I. -Iinclude -MMD -MF x.d" scripts/bench-miss.sh
#
# (the openssl tree of openssl-src, after `perl Configure` and `make
# build_generated`: what issue 24's note measured.)
#
# With gcc, a miss whose command line has `-D`s also runs the compile's
# preprocessing with `-E -dU` and an `-E -dD` of an empty file, to learn
# which macros it used (cargo-gocache/src/cmdline/macros.rs); MACROS sets
# the `-D`s (default: two install paths, one used by nothing). Rounds
# alternate the binaries and the plain compile (A B plain A B plain).
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-5}
ROUNDS=${ROUNDS:-2}
CC=${CC:-gcc}
BINS=${BINS:-${CARGO_TARGET_DIR:-target}/release/cargo-gocache}
MACROS=${MACROS:--DENGINESDIR=\"/build/a/engines-3\" -DMODULESDIR=\"/build/a/ossl-modules\" -DNDEBUG}
SRC=${1:-$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/zstd-sys-*/zstd/lib/compress/zstd_compress.c 2>/dev/null | head -1)}
# per_run MICROSECONDS RUNS TIMES: the mean wall and CPU time per run, the
# CPU time from the last line of bash's `times` (the children's user and
# system time: on a shared machine the wall time includes waiting for a
# CPU, the CPU time does not).
per_run() {
    awk -v us="$1" -v n="$2" -v cpu="$3" 'BEGIN {
        split(cpu, f, " ")
        secs = 0
        for (k = 1; k <= 2; k++) { split(f[k], m, "m"); secs += m[1] * 60 + m[2] }
        printf "%.1f ms wall, %.1f ms CPU", us / n / 1000, secs * 1000 / n
    }'
}
if [ -n "${SOURCES:-}" ]; then
    here=$(pwd)
    cd "$OLDPWD"
    read -r -a flags <<<"${FLAGS:-}"
    read -r -a macros <<<"$MACROS"
    # shellcheck disable=SC2206 # the globs are the point
    sources=($SOURCES)
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    # all_ms CMD...: every source once, through one fresh store; the mean
    # wall and CPU time per source.
    all_ms() {
        local t0 t1 cpu
        rm -rf "$work/store"
        t0=${EPOCHREALTIME/./}
        cpu=$( (for s in "${sources[@]}"; do
            CARGO_GOCACHE_DIR="$work/store" "$@" "${flags[@]}" "${macros[@]}" -O2 -c "$s" -o "$work/out.o" >/dev/null 2>&1
        done; times) | tail -1)
        t1=${EPOCHREALTIME/./}
        per_run $((t1 - t0)) "${#sources[@]}" "$cpu"
    }
    echo "${#sources[@]} sources, one store per binary and round: ${sources[0]} ..."
    for ((r = 1; r <= ROUNDS; r++)); do
        line="round $r:"
        for b in $BINS; do
            case $b in /*) ;; *) b="$here/$b" ;; esac
            line="$line $b $(all_ms "$b" "$CC") per miss;"
        done
        line="$line plain $CC $(all_ms "$CC")"
        echo "$line"
    done
    exit 0
fi
if [ -z "$SRC" ] || [ ! -f "$SRC" ]; then
    echo "no source: pass a C file (zstd-sys is not in the cargo registry)" >&2
    exit 2
fi
for b in $BINS; do
    [ -x "$b" ] || { echo "no $b: run cargo build --release -p cargo-gocache" >&2; exit 2; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
read -r -a macros <<<"$MACROS"
args=(-O3 "${macros[@]}" -c "$SRC" -o "$work/out.o")

now() { echo "${EPOCHREALTIME/./}"; }   # microseconds

# mean_ms CMD...: N runs, each miss in a fresh store (per_run's means).
mean_ms() {
    local t0 t1 cpu
    t0=$(now)
    cpu=$( (for ((i = 0; i < N; i++)); do
        rm -rf "$work/store"
        CARGO_GOCACHE_DIR="$work/store" "$@" >/dev/null
    done; times) | tail -1)
    t1=$(now)
    per_run $((t1 - t0)) "$N" "$cpu"
}

echo "source: $SRC"
echo "arguments: ${args[*]}"
for ((r = 1; r <= ROUNDS; r++)); do
    line="round $r:"
    for b in $BINS; do
        line="$line $b $(mean_ms "$b" "$CC" "${args[@]}") per miss;"
    done
    line="$line plain $CC $(mean_ms "$CC" "${args[@]}")"
    echo "$line"
done
# The passes alone, for the record.
t0=$(now); "$CC" "${args[@]:0:${#args[@]}-2}" -E -dU -o /dev/null; t1=$(now)
echo "-E -dU of the source alone: $(( (t1 - t0) / 1000 )) ms"
t0=$(now); "$CC" -O3 -E -dD -x c /dev/null -o /dev/null; t1=$(now)
echo "-E -dD of an empty file: $(( (t1 - t0) / 1000 )) ms"
