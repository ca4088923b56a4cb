#!/usr/bin/env bash
# Measures what the build.rs helper costs its users (issue 4):
#  1. clean compile of a crate whose only build-dependency is gocache-build,
#     against one whose only build-dependency is cc (what a -sys crate pays
#     already), and gocache-build's dependency count;
#  2. the build script run of examples/helper-lib (3 C files, 1 C++ file):
#     on a miss, on a hit in place (inputs touched, archive current), on a hit
#     from the store (archives deleted), and with CARGO_GOCACHE_DIR=off.
# Times come from `cargo build --timings`; needs python3 to read them.
# Usage: bash tests/measure-helper.sh [RUNS]   (default 3 runs each)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
runs=${1:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

unit_time() { # TARGET_DIR PACKAGE KIND: seconds of the last --timings report's unit
  python3 - "$@" <<'EOF'
import glob, json, re, sys
target, package, kind = sys.argv[1:]
html = open(sorted(glob.glob(target + "/cargo-timings/cargo-timing-*.html"))[-1]).read()
units = json.loads(re.search(r"const UNIT_DATA = (\[.*?\]);", html, re.S).group(1))
print(sum(u["duration"] for u in units if u["name"] == package and kind in u.get("target", "")))
EOF
}

echo "== clean compile as a build-dependency (wall seconds, $runs runs)"
for dep in gocache-build cc; do
  mkdir -p "$work/$dep/src"
  if [ "$dep" = cc ]; then line='cc = "1.2"'; else line="gocache-build = { path = \"$repo/build-support\" }"; fi
  printf '[package]\nname = "only-%s"\nversion = "0.1.0"\nedition = "2021"\n[workspace]\n[build-dependencies]\n%s\n' "$dep" "$line" >"$work/$dep/Cargo.toml"
  echo 'fn main() {}' >"$work/$dep/build.rs"
  echo 'fn main() {}' >"$work/$dep/src/main.rs"
  cp Cargo.lock "$work/$dep/"
  for _ in $(seq "$runs"); do
    rm -rf "$work/$dep/target"
    start=$(date +%s.%N)
    (cd "$work/$dep" && cargo build -q --timings 2>/dev/null)
    end=$(date +%s.%N)
    printf '  only %-14s %.2f s   (gocache-build unit itself: %s s)\n' "$dep" "$(echo "$end - $start" | bc)" \
      "$(unit_time "$work/$dep/target" gocache-build '')"
  done
done
echo "  dependencies (cargo tree -e normal -p gocache-build | wc -l): $(cargo tree -e normal -p gocache-build | wc -l) lines"

echo "== build script run of examples/helper-lib (seconds)"
# The helper caches through the binary (CARGO_GOCACHE_PROG): this checkout's.
cargo build -q -p cargo-gocache
export CARGO_GOCACHE_PROG="$repo/target/debug/cargo-gocache"
export CARGO_TARGET_DIR="$work/ex-target" CARGO_GOCACHE_DIR="$work/store"
ex=examples/helper-lib
build() { cargo build -q --timings --manifest-path "$ex/Cargo.toml" 2>/dev/null; unit_time "$CARGO_TARGET_DIR" helper-lib 'run'; }
echo "  miss, empty store:        $(build)"
for _ in $(seq "$runs"); do
  touch "$ex"/csrc/* "$ex"/include/*
  echo "  hit in place (touched):   $(build)"
done
for _ in $(seq "$runs"); do
  rm -f "$CARGO_TARGET_DIR"/debug/build/helper-lib-*/out/*.a
  touch "$ex"/csrc/scale.c
  echo "  hit from the store:       $(build)"
done
for _ in $(seq "$runs"); do
  rm -rf "$CARGO_GOCACHE_DIR"
  touch "$ex"/csrc/scale.c
  echo "  miss (store cleared):     $(build)"
done
# Off: the environment change reruns the script once; plain cc then prints
# no rerun-if-changed, so a touch does not rerun it: one figure.
echo "  CARGO_GOCACHE_DIR=off:    $(CARGO_GOCACHE_DIR=off build)"
