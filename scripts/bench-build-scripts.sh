#!/usr/bin/env bash
# Whole-build caches side by side (issue 24): plain cargo cold, then
# gocache (build-scripts = "cache", with and without time-macros = "pin"),
# mbx and kache, each with its own empty store: cold, warm after `cargo
# clean` (the target directory removed), and in a second checkout at
# another path (medians of ROUNDS). Installs mbx (`cargo install mbx
# --locked`) and kache (`cargo install kache`) when missing.
#
#   bash scripts/bench-build-scripts.sh [--corpus] [--rounds N] [--tools "gocache gocache-pin mbx kache"]
#
# Workload: examples/mixed-sys (default), or tests/corpus (--corpus: openssl,
# jemalloc, libz-ng, ring, libgit2, mimalloc, cxx; about 6 minutes per cold
# build on 2 cores). Release profile. Figures are wall seconds; the machine
# is shared, so read ratios from one run, never figures across runs.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
rounds=3
workload=examples/mixed-sys
tools="gocache gocache-pin mbx kache"
while [ $# -gt 0 ]; do
	case "$1" in
	--corpus) workload=tests/corpus ;;
	--rounds) rounds=$2; shift ;;
	--tools) tools=$2; shift ;;
	*) echo "unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done
unset CARGO_TARGET_DIR CARGO_BUILD_TARGET RUSTC_WRAPPER CC CXX CARGO_GOCACHE_DIR
for t in $tools; do
	case $t in
	mbx) command -v mbx >/dev/null || cargo install mbx --locked ;;
	kache) command -v kache >/dev/null || cargo install kache ;;
	esac
done
cargo build -q --release -p cargo-gocache
bindir="$repo/target/release"
work=$(mktemp -d)
# (A peer's background process may still be writing into its store there:
# what cannot be removed is left, and the figures stand.)
trap 'rm -rf "$work" 2>/dev/null || true' EXIT
cp -r "$workload" "$work/a"
cp -r "$workload" "$work/b"
rm -rf "$work/a/target" "$work/b/target"
bin=$(sed -n 's/^name = "\(.*\)"/\1/p' "$work/a/Cargo.toml" | head -1)

now() { date +%s.%N; }
# build TOOL DIR: one release build of DIR with TOOL and its store; prints seconds.
build() {
	local tool=$1 dir=$2 s e
	rm -rf "$dir/target"
	s=$(now)
	case $tool in
	plain) (cd "$dir" && cargo build -q --release) ;;
	# As a user runs it: `cargo gocache`, found on PATH (rustup's cargo
	# then names the toolchain, which the runner would otherwise ask
	# rustup's rustc proxy for: about 50 ms).
	gocache) (cd "$dir" && PATH="$bindir:$PATH" CARGO_GOCACHE_DIR="$work/store-gocache" CARGO_GOCACHE_BUILD_SCRIPTS=cache \
		cargo gocache build -q --release) 2>"$work/last.log" ;;
	gocache-pin) (cd "$dir" && PATH="$bindir:$PATH" CARGO_GOCACHE_DIR="$work/store-gocache-pin" CARGO_GOCACHE_BUILD_SCRIPTS=cache \
		CARGO_GOCACHE_TIME_MACROS=pin cargo gocache build -q --release) 2>"$work/last.log" ;;
	mbx) (cd "$dir" && MBX_CACHE_DIR="$work/store-mbx" MBX_DISPLAY=plain CARGO_TARGET_DIR="$dir/target" \
		mbx build -q --release) >"$work/last.log" 2>&1 ;;
	kache) (cd "$dir" && KACHE_CACHE_DIR="$work/store-kache" RUSTC_WRAPPER=kache \
		cargo build -q --release) >"$work/last.log" 2>&1 ;;
	esac
	e=$(now)
	# The binary must run and print the same as plain cargo's (a library
	# workload, such as examples/mixed-sys, has none: "n/a").
	if [ -x "$dir/target/release/$bin" ]; then
		"$dir/target/release/$bin" >"$work/out-$tool" 2>&1 || true
	else
		echo "n/a" >"$work/out-$tool"
	fi
	echo "$e - $s" | bc
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

plain=$(build plain "$work/a")
cp "$work/out-plain" "$work/out-reference"
printf '%-12s %9s %9s %9s  %s\n' tool cold warm second "same output"
printf '%-12s %9.2f %9s %9s\n' "plain cargo" "$plain" - -
for t in $tools; do
	# gocache's build-script counts and reasons, per phase (the last
	# build's): what ran and why is half of the figure.
	scripts_of() { grep -h 'build scripts:' "$work/last.log" 2>/dev/null | tail -1 | sed 's/.*build scripts: //' || true; }
	# And, after a cached build, the runs that were not restored, by
	# package (the store's record of the last build).
	ran_of() {
		printf "%s" "$(scripts_of)"
		awk -F'\t' '$1 == "b1" && $2 != "hit" { p = $NF; sub(/ \(build script\)$/, "", p); printf "; ran %s", p; if ($3 != "-") printf " (%s)", $3 }' \
			"$work/store-$t/stats/last-run.log" 2>/dev/null || true
	}
	cold=$(build "$t" "$work/a")
	cold_bs=$(scripts_of)
	warm=$(for _ in $(seq "$rounds"); do build "$t" "$work/a"; done | median)
	warm_bs=$(ran_of)
	second=$(for _ in $(seq "$rounds"); do build "$t" "$work/b"; done | median)
	second_bs=$(ran_of)
	if [ "$(cat "$work/out-reference")" = n/a ]; then
		same=n/a
	else
		same=$(cmp -s "$work/out-$t" "$work/out-reference" && echo yes || echo NO)
	fi
	printf '%-12s %9.2f %9.2f %9.2f  %s\n' "$t" "$cold" "$warm" "$second" "$same"
	if [ -n "$cold_bs$warm_bs$second_bs" ]; then
		printf '%12s build scripts, cold: %s\n%12s warm: %s\n%12s second: %s\n' \
			"" "$cold_bs" "" "$warm_bs" "" "$second_bs"
	fi
done
