#!/usr/bin/env bash
# Hit latency with and without `native` (issue 21), for two binaries of the
# wrapper (before and after a change), rounds in A B B A order.
#
#   scripts/bench-native.sh OLD_BIN NEW_BIN     # N=40 hits per measurement
#
# Each binary must be named cargo-gocache (the name picks its mode): copy
# the one before the change to a directory of its own.
#
# Hits of: a C compile (gcc -O2 -c) without and with -march=native, a
# rustc lib compile without and with -C target-cpu=native, and a rustc bin
# link (whose entry since issue 21 also lists the files the linker read).
# Each binary has its own store, filled by one cold compile first.
set -euo pipefail
OLD=$1 NEW=$2
N=${N:-40}
RUSTC=$(rustc --print sysroot)/bin/rustc
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
echo 'int f(int *a, int n) { int s = 0; for (int i = 0; i < n; i++) s += a[i]; return s; }' > a.c
mkdir -p src out
echo 'pub fn sum(a: &[u32]) -> u32 { a.iter().sum() }' > src/lib.rs
echo 'fn main() { println!("{}", std::env::args().count()); }' > src/main.rs
sleep 2.1   # past the racy window, so identities are memoised

c_hit() { CARGO_GOCACHE_DIR="$work/store-$1" "$2" gcc -O2 $3 -c a.c -o a.o; }
rust_hit() {
    CARGO_GOCACHE_DIR="$work/store-$1" "$2" "$RUSTC" --crate-name sum --edition=2021 src/lib.rs \
        --crate-type lib --emit=dep-info,metadata,link -C opt-level=2 $3 \
        -C metadata=0123456789abcdef -C extra-filename=-0123456789abcdef --out-dir out
}
link_hit() {
    CARGO_GOCACHE_DIR="$work/store-$1" "$2" "$RUSTC" --crate-name hello --edition=2021 src/main.rs \
        --crate-type bin --emit=dep-info,link -C opt-level=2 $3 \
        -C metadata=fedcba9876543210 -C extra-filename=-fedcba9876543210 --out-dir out
}
# mean_ms NAME BIN KIND FLAGS
mean_ms() {
    local t0 t1
    "$3_hit" "$1" "$2" "$4" >/dev/null 2>&1   # the cold compile (or a hit)
    if "$3_hit" "$1" "$2" "$4" 2>&1 | grep -q .; then
        echo "$2: $3 $4 printed something on a hit:" >&2
        "$3_hit" "$1" "$2" "$4" >&2
        exit 1
    fi
    # CPU time (user + system of the processes run): on a shared machine
    # the wall time is mostly waiting for a CPU.
    cpu=$( (for ((i = 0; i < N; i++)); do "$3_hit" "$1" "$2" "$4"; done; times) | tail -1)
    awk -v n="$N" -v cpu="$cpu" 'BEGIN {
        split(cpu, f, " ")
        secs = 0
        for (k = 1; k <= 2; k++) { split(f[k], m, "m"); secs += m[1] * 60 + m[2] }
        printf "%.2f", secs * 1000 / n
    }'
}
for kind in c rust; do
    for flags in "" native; do
        case "$kind/$flags" in
            c/native) f=-march=native ;;
            rust/native) f="-C target-cpu=native" ;;
            *) f="" ;;
        esac
        a1=$(mean_ms old "$OLD" $kind "$f"); b1=$(mean_ms new "$NEW" $kind "$f")
        b2=$(mean_ms new "$NEW" $kind "$f"); a2=$(mean_ms old "$OLD" $kind "$f")
        echo "$kind ${f:-(plain)}: old $a1 $a2 ms, new $b1 $b2 ms CPU per hit"
    done
done
a1=$(mean_ms old "$OLD" link ""); b1=$(mean_ms new "$NEW" link "")
b2=$(mean_ms new "$NEW" link ""); a2=$(mean_ms old "$OLD" link "")
echo "rust bin link: old $a1 $a2 ms, new $b1 $b2 ms CPU per hit"
