#!/usr/bin/env bash
# What the build-script observer (seccomp user notification; ptrace with
# CARGO_GOCACHE_DEBUG=observer-ptrace) costs per process: N
# runs of /bin/true from a shell, plain and under `cargo gocache observe`,
# with and without a cargo-like LD_LIBRARY_PATH (four directories, as cargo
# gives every build script: the dynamic loader then names about 90 paths,
# each a ptrace stop, before `main`). Alternating rounds (A B B A); the
# machine is shared, so read the ratios, not the seconds.
#
#   cargo build --release -p cargo-gocache
#   bash scripts/bench-observer.sh [N]      # N=500 by default
#
# Also prints the stops per run of `true` (CARGO_GOCACHE_DEBUG=observer-stops).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-500}
bin=${BIN:-target/release/cargo-gocache}
[ -x "$bin" ] || { echo "build first: cargo build --release -p cargo-gocache" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf 'i=0; while [ $i -lt %d ]; do /bin/true; i=$((i+1)); done\n' "$n" >"$work/loop.sh"
sysroot=$(rustc --print sysroot)
host=$(rustc -vV | sed -n 's/^host: //p')
mkdir -p "$work/target/release/deps"
cargo_like="$work/target/release/deps:$work/target/release:$sysroot/lib/rustlib/$host/lib:$sysroot/lib"

now() { date +%s.%N; }
timed() { local s e; s=$(now); "$@" >/dev/null 2>&1; e=$(now); echo "$e - $s" | bc; }
plain() { timed sh "$work/loop.sh"; }
observed() { timed "$bin" gocache observe --summary -- sh "$work/loop.sh"; }

for ld in none cargo; do
	if [ $ld = cargo ]; then export LD_LIBRARY_PATH=$cargo_like; else unset LD_LIBRARY_PATH; fi
	p=0 o=0
	for order in A B B A; do
		if [ $order = A ]; then
			p=$(echo "$p + $(plain)" | bc)
			o=$(echo "$o + $(observed)" | bc)
		else
			o=$(echo "$o + $(observed)" | bc)
			p=$(echo "$p + $(plain)" | bc)
		fi
	done
	stops=$(CARGO_GOCACHE_DEBUG=observer-stops "$bin" gocache observe --summary -- sh "$work/loop.sh" 2>&1 |
		sed -n "s/.*observer stops: \([0-9]*\) in \([0-9]*\) runs of true.*/\1 \2/p")
	read -r s r <<<"${stops:-0 1}"
	extra=$(echo "($o - $p) / 2 / $r * 1000" | bc -l)
	printf 'LD_LIBRARY_PATH=%-6s plain %6.3f s  observed %6.3f s  (x%.1f)  %d stops and %.2f ms more per process\n' \
		"$ld" "$(echo "$p / 2" | bc -l)" "$(echo "$o / 2" | bc -l)" "$(echo "$o / $p" | bc -l)" \
		"$((s / r))" "$extra"
	eval "stops_$ld=$((s / r)) extra_$ld=$extra"
done
# What one more stop costs: the loader's probes are the only difference.
printf 'one stop: %.1f us\n' "$(echo "($extra_cargo - $extra_none) / ($stops_cargo - $stops_none) * 1000" | bc -l)"
