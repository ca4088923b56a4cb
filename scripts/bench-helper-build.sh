#!/usr/bin/env bash
# What gocache-build costs a user's clean build (issue 9): a one-file crate
# whose build.rs compiles one C file, with `gocache-build`'s cached_compile
# against the same crate with cc's compile alone. Clean builds (target
# removed), alternated cc / gocache-build, PAIRS pairs (default 3); prints
# each time, the medians, their ratio (target: at most 1.5x), and the crate
# count of each build-dependency tree. Uses the workspace's Cargo.lock, so
# both resolve to the same versions; CARGO_GOCACHE_DIR is a fresh store, and
# CARGO_GOCACHE_PROG this checkout's cargo-gocache (built first), so the
# gocache-build crate really caches: its build script misses and stores.
# Usage: bash scripts/bench-helper-build.sh [PAIRS]
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
pairs=${1:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
unset CARGO_TARGET_DIR CARGO_BUILD_TARGET RUSTC_WRAPPER CC CXX
cargo build -q -p cargo-gocache
export CARGO_GOCACHE_PROG="$repo/target/debug/cargo-gocache"

for dep in cc gocache-build; do
  d="$work/$dep"
  mkdir -p "$d/src"
  if [ "$dep" = cc ]; then
    line='cc = "1.2"'
    body='cc::Build::new().file("a.c").compile("a");'
  else
    line="cc = \"1.2\"
gocache-build = { path = \"$repo/build-support\" }"
    body='use gocache_build::CachedBuild; cc::Build::new().file("a.c").cached_compile("a");'
  fi
  printf '[package]\nname = "one-%s"\nversion = "0.1.0"\nedition = "2021"\n[workspace]\n[build-dependencies]\n%s\n' \
    "$dep" "$line" >"$d/Cargo.toml"
  printf 'fn main() { %s }\n' "$body" >"$d/build.rs"
  echo 'int a(void) { return 1; }' >"$d/a.c"
  printf 'extern "C" { fn a() -> i32; }\nfn main() { println!("{}", unsafe { a() }); }\n' >"$d/src/main.rs"
  cp Cargo.lock "$d/"
  (cd "$d" && cargo fetch -q)
done

clean_build() { # DIR: wall seconds of a clean `cargo build`
  rm -rf "$1/target" "$work/store"
  local start end
  start=$(date +%s.%N)
  (cd "$1" && CARGO_GOCACHE_DIR="$work/store" cargo build -q --offline)
  end=$(date +%s.%N)
  echo "$end - $start" | bc
}

declare -a t_cc t_gb
for i in $(seq "$pairs"); do
  t_cc+=("$(clean_build "$work/cc")")
  t_gb+=("$(clean_build "$work/gocache-build")")
  printf 'pair %d: cc alone %.2f s, gocache-build %.2f s\n' "$i" "${t_cc[-1]}" "${t_gb[-1]}"
done
# The first "misses" of `stats --json` is the C compiles' (remote and rust follow).
misses=$(CARGO_GOCACHE_DIR="$work/store" "$CARGO_GOCACHE_PROG" gocache stats --json >"$work/stats.json" &&
  sed -n 's/.*"misses": *\([0-9]*\).*/\1/p' "$work/stats.json" | head -1)
echo "the last gocache-build build stored its archive: ${misses:-?} miss(es) in its store (expect 1)"
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
m_cc=$(median "${t_cc[@]}")
m_gb=$(median "${t_gb[@]}")
printf 'median: cc alone %.2f s, gocache-build %.2f s, ratio %.2fx (target <= 1.5x)\n' \
  "$m_cc" "$m_gb" "$(echo "$m_gb / $m_cc" | bc -l)"
for dep in cc gocache-build; do
  n=$(cd "$work/$dep" && cargo tree -q --offline -e build,normal --prefix none | sed 's/ (\*)//' | sort -u | wc -l)
  echo "crates in the tree of one-$dep (itself included): $n"
done
