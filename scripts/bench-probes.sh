#!/usr/bin/env bash
# Are configure's probe compiles (`conftest.c`) worth caching? (issue 11
# item 5; the decision is written in cargo-gocache/src/wrapper/probe.rs.)
#
# Runs jemalloc's `configure` (the one tikv-jemalloc-sys ships, as its
# build script runs it) in a fresh copy each time, with CC being:
#   plain    gcc itself;
#   off      `cargo-gocache gcc` with the cache off: what every probe costs
#            when probes are not cached (the wrapper parses and execs);
#   cached   `cargo-gocache gcc` with the store kept from the round before:
#            the warm `cargo gocache build` after `cargo clean`, where every
#            `-c conftest.c` is a hit;
# interleaved for N rounds (one round first to fill the store, not timed),
# and prints the median wall time of each, the hits, misses and entries
# the probes put in the store, and its size.
#
# Usage: scripts/bench-probes.sh [--rounds N]   (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
rounds=3
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) rounds=$2; shift ;;
        *) echo "usage: $0 [--rounds N]" >&2; exit 2 ;;
    esac
    shift
done

crate=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/cache/*/tikv-jemalloc-sys-0.6.*.crate 2>/dev/null | head -1)
if [ -z "$crate" ]; then
    echo "no tikv-jemalloc-sys 0.6 .crate in the cargo cache: run 'cargo fetch' on a project using it" >&2
    exit 1
fi
cargo build -q -p cargo-gocache
bin=${CARGO_TARGET_DIR:-$repo/target}/debug/cargo-gocache

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar -xzf "$crate" -C "$work"
src=$(ls -d "$work"/tikv-jemalloc-sys-*)
store=$work/store

configure() { # $1 = CC value; prints the wall seconds
    local dir=$work/run
    rm -rf "$dir"
    cp -r "$src/jemalloc" "$dir"
    cp "$src/configure/configure" "$dir/configure"
    local t0 t1
    t0=$(date +%s.%N)
    (cd "$dir" && CC="$1" CARGO_GOCACHE_DIR="$2" ./configure --disable-cxx \
        --with-jemalloc-prefix=_rjem_ >/dev/null 2>&1) || {
        echo "configure failed with CC=$1" >&2
        exit 1
    }
    t1=$(date +%s.%N)
    echo "$t1 - $t0" | bc
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

configure "$bin gcc" "$store" >/dev/null # fill the store
field() { grep -m1 "\"$1\"" | tr -dc 0-9; }
filled=$(CARGO_GOCACHE_DIR=$store "$bin" gocache stats --json)
entries=$(echo "$filled" | field entries)
bytes=$(echo "$filled" | field bytes)
misses=$(echo "$filled" | field misses)
CARGO_GOCACHE_DIR=$store "$bin" gocache stats --zero >/dev/null
plain=() off=() cached=()
for _ in $(seq "$rounds"); do
    plain+=("$(configure gcc "$store")")
    off+=("$(configure "$bin gcc" off)")
    cached+=("$(configure "$bin gcc" "$store")")
done
stats=$(CARGO_GOCACHE_DIR=$store "$bin" gocache stats --json)
p=$(printf '%s\n' "${plain[@]}" | median)
o=$(printf '%s\n' "${off[@]}" | median)
c=$(printf '%s\n' "${cached[@]}" | median)
echo "jemalloc configure, median of $rounds (wall seconds):"
printf '  plain gcc           %6.2f\n' "$p"
printf '  probes not cached   %6.2f  (cargo-gocache, cache off)\n' "$o"
printf '  probes cached, warm %6.2f  (ratio to not cached: %.2f)\n' "$c" "$(echo "$c / $o" | bc -l)"
echo "  the $rounds warm runs: $(echo "$stats" | field hits) hits, $(echo "$stats" | field misses) misses"
echo "  store after one configure: $misses probes cached, $entries entries, $((bytes / 1024)) KiB"
