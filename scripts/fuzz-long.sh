#!/usr/bin/env bash
# Long runs of the randomized differential test (cargo-gocache/tests/testsuite/fuzz.rs):
#   scripts/fuzz-long.sh STEPS SEED...
# Builds the test binary, copies it and the wrapper aside (so a rebuild
# does not change them halfway), and runs each seed for STEPS steps under
# `nice -n 10`, one line per seed: seed, steps, pass/FAIL, CPU seconds.
# A failure's report is kept in $TMPDIR/gocache-fuzz-<seed>/report.txt.
set -euo pipefail
steps=${1:?usage: fuzz-long.sh STEPS SEED...}
shift
cd "$(dirname "$0")/.."
exe=$(cargo test -p cargo-gocache --test testsuite --no-run --message-format=json 2>/dev/null |
    sed -n 's/.*"executable":"\([^"]*testsuite[^"]*\)".*/\1/p' | tail -1)
tmp=${TMPDIR:-/tmp}
bin=$(mktemp -d "$tmp/gocache-fuzz-bin.XXXXXX")
cp "$exe" "$bin/testsuite"
cp target/debug/cargo-gocache "$bin/cargo-gocache"
TIMEFORMAT='%U %S'
for seed in "$@"; do
    keep="$tmp/gocache-fuzz-$seed"
    mkdir -p "$keep"
    t0=$(date +%s)
    cpu=$( { time (
        GOCACHE_FUZZ_SEED=$seed GOCACHE_FUZZ_STEPS=$steps GOCACHE_FUZZ_BIN="$bin/cargo-gocache" \
            nice -n 10 "$bin/testsuite" --exact fuzz::wrapper_and_helper_match_uncached_compiles \
            --nocapture >"$keep/report.txt" 2>&1 && echo pass >"$keep/result" || echo FAIL >"$keep/result"
    ); } 2>&1 | awk '{printf "%.0f", $1 + $2}')
    t1=$(date +%s)
    echo "seed $seed steps $steps $(cat "$keep/result") cpu ${cpu}s wall $((t1 - t0))s"
done
rm -r "$bin"
