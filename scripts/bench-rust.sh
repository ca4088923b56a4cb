#!/usr/bin/env bash
# The Rust wrapper's benchmark (issue 13; not a timed test). Prints, in one
# interleaved run per workload:
#
#   1. warm: the release build after `cargo clean`, with a primed cache,
#      under sccache (`RUSTC_WRAPPER=sccache`, which also caches the C
#      through cc) and under `cargo gocache build`, alternating
#      sccache, gocache, sccache, gocache...; medians and their ratio
#      (target: gocache <= 0.8x sccache);
#   2. cold: plain `cargo build` against `cargo gocache build` with an
#      empty store, alternating A B B A ...; medians and the overhead
#      (target <= 3%);
#   3. one hit: the same rustc invocation (itoa's lib, as cargo runs it)
#      under sccache and under the wrapper, with hyperfine; and, with
#      valgrind, the instructions of one hit of the wrapper (callgrind),
#      which move far less than its times on a shared machine;
#   4. where perf works: one more cold gocache build under
#      `perf record -e cpu-clock`, and the share of its CPU samples taken
#      in the wrapper itself (processes still named cargo-gocache: the
#      wrapper before it execs nothing, its hashing and storing). This
#      share moves far less than the A/B figures on a shared machine,
#      where two plain cold builds differ by 10%.
#
# Workloads: examples/mixed-sys (a -sys workload: C through cc) and a
# generated Rust-heavy workspace with proc-macros (serde_derive, clap's
# derive, serde_json), built offline from the crates already in
# $CARGO_HOME.
#
# sccache: the one on PATH, else Debian's package (apt-get, when root).
# Debian's is old (0.4); `cargo install sccache --locked` builds a current
# one but costs many CPU minutes, so it is left to the user: put it on PATH
# first to measure against it.
#
# --baseline REV: REV's cargo-gocache (built in a temporary git worktree,
# scripts/baseline.sh) is one more contestant in the warm rounds, now in
# A B C C B A order, and in the one hit, with the ratios new/old; the "not
# slower than before" check of a change, in one run. Installs valgrind
# (apt-get, when root) for the instruction counts.
#
# Usage: scripts/bench-rust.sh [--rounds N] [--only sys|heavy] [--no-cold] [--no-warm] [--baseline REV]
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

rounds=3
only=
cold=1
warm=1
baseline=
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) rounds=$2; shift ;;
        --only) only=$2; shift ;;
        --no-cold) cold=0 ;;
        --no-warm) warm=0 ;;
        --baseline) baseline=$2; shift ;;
        *) echo "usage: $0 [--rounds N] [--only sys|heavy] [--no-cold] [--no-warm] [--baseline REV]" >&2; exit 2 ;;
    esac
    shift
done

cargo=${CARGO:-cargo}
work=$(mktemp -d "${TMPDIR:-/tmp}/gocache-bench-rust.XXXXXX")
# shellcheck source=scripts/baseline.sh
. scripts/baseline.sh
trap 'baseline_remove "$work"; rm -rf "$work"' EXIT

"$cargo" build --release --locked -p cargo-gocache >&2
gocache="$("$cargo" metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')/release/cargo-gocache"
[ -x "$gocache" ] || { echo "no binary at $gocache" >&2; exit 1; }
old=
if [ -n "$baseline" ]; then
    baseline_build "$baseline" "$work"
    old=$work/baseline/cargo-gocache
    if ! command -v valgrind >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "installing valgrind (Debian's package, for the instruction counts)" >&2
        apt-get install -y -qq valgrind >&2 || true
    fi
fi

if ! command -v sccache >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "installing sccache (Debian's package)" >&2
        apt-get install -y -qq sccache >&2 || true
    fi
fi
sccache_bin=$(command -v sccache || true)
if ! command -v hyperfine >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing hyperfine (Debian's package, for the one-hit figure)" >&2
    apt-get install -y -qq hyperfine >&2 || true
fi

echo "== gocache Rust benchmark"
echo "commit    $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "machine   $(nproc) cores, $(uname -sm)"
echo "rustc     $(rustc -V)"
echo "sccache   ${sccache_bin:+$($sccache_bin --version)}${sccache_bin:-not found: warm comparison skipped}"
[ -z "$baseline" ] || echo "baseline  $baseline ($(git rev-parse --short "$baseline"))"
echo "rounds    $rounds"

now() { date +%s.%N; }
# Wall seconds of "$@" (output to the log, $log when set: the baseline's
# builds keep their own, for its summary line).
timed() {
    local t0 t1 l=${log:-$work/log}
    t0=$(now)
    "$@" >>"$l" 2>&1 || { echo "failed: $*" >&2; tail -30 "$l" >&2; exit 1; }
    t1=$(now)
    echo "$t1 - $t0" | bc
}
# Like timed, and adds the CPU seconds (user + system, the whole process
# tree, from /usr/bin/time) to the file $1: on a shared machine CPU time
# moves less than wall time, so the cold overhead is shown in both.
timed_cpu() {
    local cpu=$1
    shift
    if [ -x /usr/bin/time ]; then
        timed /usr/bin/time -f "%U %S" -o "$work/cpu1" "$@"
        awk '{print $1 + $2}' "$work/cpu1" >>"$cpu"
    else
        timed "$@"
    fi
}
median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
ratio() { echo "scale=3; $1 / $2" | bc; }

heavy_workspace() {
    local ws=$1
    mkdir -p "$ws/src"
    cat >"$ws/Cargo.toml" <<'EOF'
[package]
name = "heavy"
version = "0.1.0"
edition = "2021"

[dependencies]
serde = { version = "1", features = ["derive"] }
serde_json = "1"
clap = { version = "4", features = ["derive"] }
EOF
    cat >"$ws/src/main.rs" <<'EOF'
use clap::Parser;
#[derive(Parser, Debug, serde::Serialize, serde::Deserialize)]
struct Args { #[arg(long, default_value_t = 1)] n: u32, #[arg(long, default_value = "x")] name: String }
fn main() { let a = Args::parse(); println!("{}", serde_json::to_string(&a).unwrap()); }
EOF
}

bench() {
    local name=$1 ws=$2
    local target=$work/target-$name
    export CARGO_TARGET_DIR=$target
    echo
    echo "== $name ($ws)"
    # Locked and fetched first (crates.io when the cache lacks a crate), so the
    # timed builds run offline and download nothing.
    [ -e "$ws/Cargo.lock" ] || (cd "$ws" && { "$cargo" generate-lockfile --offline || "$cargo" generate-lockfile; } >>"$work/log" 2>&1)
    (cd "$ws" && "$cargo" fetch >>"$work/log" 2>&1)
    local sc=() gc=() oc=()
    if [ -n "$sccache_bin" ] && [ "$warm" = 1 ]; then
        export SCCACHE_DIR=$work/sccache-$name
        local sccache_warm gocache_warm old_warm
        sccache_warm() { sc+=("$(cd "$ws" && "$cargo" clean -q && timed env RUSTC_WRAPPER="$sccache_bin" "$cargo" build --release --offline)"); }
        gocache_warm() { gc+=("$(cd "$ws" && "$cargo" clean -q && CARGO_GOCACHE_DIR=$work/store-$name timed "$gocache" gocache build --release --offline)"); }
        old_warm() { oc+=("$(cd "$ws" && "$cargo" clean -q && CARGO_GOCACHE_DIR=$work/store-old-$name log=$work/log-old timed "$old" gocache build --release --offline)"); }
        # Prime the caches.
        (cd "$ws" && "$cargo" clean -q && timed env RUSTC_WRAPPER="$sccache_bin" "$cargo" build --release --offline >/dev/null)
        (cd "$ws" && "$cargo" clean -q && CARGO_GOCACHE_DIR=$work/store-$name timed "$gocache" gocache build --release --offline >/dev/null)
        [ -z "$old" ] || (cd "$ws" && "$cargo" clean -q && CARGO_GOCACHE_DIR=$work/store-old-$name log=$work/log-old timed "$old" gocache build --release --offline >/dev/null)
        # With the baseline, A B C C B A ...: old and new gocache differ by
        # a few percent, less than the drift of a shared machine between
        # the first and the last build of a round.
        for i in $(seq "$rounds"); do
            if [ -z "$old" ]; then sccache_warm; gocache_warm
            elif [ $((i % 2)) = 1 ]; then sccache_warm; old_warm; gocache_warm
            else gocache_warm; old_warm; sccache_warm; fi
        done
        "$sccache_bin" --stop-server >/dev/null 2>&1 || true
        local ms mg mo
        ms=$(printf '%s\n' "${sc[@]}" | median)
        mg=$(printf '%s\n' "${gc[@]}" | median)
        echo "warm after cargo clean: sccache ${sc[*]} s (median $ms)"
        if [ -n "$old" ]; then
            mo=$(printf '%s\n' "${oc[@]}" | median)
            echo "                        gocache $baseline ${oc[*]} s (median $mo)"
        fi
        echo "                        gocache ${gc[*]} s (median $mg)"
        echo "                        gocache/sccache $(ratio "$mg" "$ms") (target <= 0.8)"
        if [ -n "$old" ]; then
            echo "                        gocache $baseline/sccache $(ratio "$mo" "$ms")"
            echo "                        gocache/gocache $baseline $(ratio "$mg" "$mo") (new/old)"
            echo "$baseline: $(grep "gocache: " "$work/log-old" | tail -1)"
        fi
        grep "gocache: " "$work/log" | tail -1
    fi
    if [ "$cold" = 1 ]; then
        local pc=() cg=()
        # A B B A A B ...: the second build of a pair can run on a hotter,
        # slower machine, so neither side is always second.
        local plain_cold gocache_cold
        plain_cold() { pc+=("$(cd "$ws" && "$cargo" clean -q && timed_cpu "$work/cpu-cargo-$name" "$cargo" build --release --offline)"); }
        gocache_cold() {
            rm -rf "$work/cold-store"
            cg+=("$(cd "$ws" && "$cargo" clean -q && CARGO_GOCACHE_DIR=$work/cold-store timed_cpu "$work/cpu-gocache-$name" "$gocache" gocache build --release --offline)")
        }
        for i in $(seq "$rounds"); do
            if [ $((i % 2)) = 1 ]; then plain_cold; gocache_cold; else gocache_cold; plain_cold; fi
        done
        local mp mc
        mp=$(printf '%s\n' "${pc[@]}" | median)
        mc=$(printf '%s\n' "${cg[@]}" | median)
        echo "cold: cargo   ${pc[*]} s (median $mp)"
        echo "      gocache ${cg[*]} s (median $mc)"
        echo "      gocache/cargo $(ratio "$mc" "$mp") (target <= 1.03)"
        [ -s "$work/cpu-gocache-$name" ] || return 0
        local cp cc
        cp=$(median <"$work/cpu-cargo-$name")
        cc=$(median <"$work/cpu-gocache-$name")
        echo "cold CPU (user+sys): cargo $(tr '\n' ' ' <"$work/cpu-cargo-$name")s (median $cp)"
        echo "                     gocache $(tr '\n' ' ' <"$work/cpu-gocache-$name")s (median $cc)"
        echo "                     gocache/cargo $(ratio "$cc" "$cp")"
        if command -v perf >/dev/null && perf record -q -e cpu-clock -o "$work/perf-probe" -- true >/dev/null 2>&1; then
            rm -rf "$work/cold-store"
            (cd "$ws" && "$cargo" clean -q && CARGO_GOCACHE_DIR=$work/cold-store perf record -q -e cpu-clock -F 500 -o "$work/perf-$name" -- "$gocache" gocache build --release --offline >>"$work/log" 2>&1)
            perf report -i "$work/perf-$name" --sort comm --stdio -n 2>/dev/null |
                awk '/^ +[0-9]/ {t += $2; if ($3 == "cargo-gocache") w += $2}
                     END {if (t) printf "cold CPU in the wrapper itself (perf, one build): %d of %d samples, %.1f%%\n", w, t, 100 * w / t}'
        fi
    fi
}

one_hit() {
    local itoa
    itoa=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/itoa-1.* 2>/dev/null | tail -1)
    [ -n "$itoa" ] && command -v hyperfine >/dev/null || { echo "one hit: needs hyperfine and itoa in CARGO_HOME"; return; }
    local rustc out
    rustc="$(rustc --print sysroot)/bin/rustc"
    out=$work/one-hit
    mkdir -p "$out/gc" "$out/sc" "$out/old"
    local args="--crate-name itoa --edition=2021 $itoa/src/lib.rs --error-format=json --json=diagnostic-rendered-ansi,artifacts,future-incompat --crate-type lib --emit=dep-info,metadata,link -C embed-bitcode=no -C debuginfo=2 -C metadata=0123456789abcdef -C extra-filename=-0123456789abcdef --cap-lints allow"
    echo
    echo "== one hit: itoa's lib ($itoa)"
    local cmds=("env CARGO_GOCACHE_DIR=$work/store-one $gocache $rustc $args --out-dir $out/gc -L dependency=$out/gc")
    [ -z "$old" ] || cmds+=("env CARGO_GOCACHE_DIR=$work/store-one-old $old $rustc $args --out-dir $out/old -L dependency=$out/old")
    [ -n "$sccache_bin" ] && cmds+=("env SCCACHE_DIR=$work/sccache-one $sccache_bin $rustc $args --out-dir $out/sc -L dependency=$out/sc")
    # Named with the baseline: the two gocache command lines differ only
    # deep inside.
    local names=()
    [ -z "$old" ] || { names=(-n gocache -n "gocache $baseline"); [ -z "$sccache_bin" ] || names+=(-n sccache); }
    (cd "$itoa" && hyperfine -N --warmup 3 --runs 30 "${names[@]}" "${cmds[@]}" 2>&1 | grep -v "^ *$")
    "$sccache_bin" --stop-server >/dev/null 2>&1 || true
    # The stores are primed by hyperfine's runs. Not sccache's: its client
    # hands the work to a server.
    command -v valgrind >/dev/null || return 0
    local n o
    n=$(cd "$itoa" && CARGO_GOCACHE_DIR=$work/store-one instructions "$gocache" "$rustc" $args --out-dir "$out/gc" -L dependency="$out/gc")
    if [ -z "$old" ]; then
        echo "one hit, instructions (callgrind): gocache $n"
        return
    fi
    o=$(cd "$itoa" && CARGO_GOCACHE_DIR=$work/store-one-old instructions "$old" "$rustc" $args --out-dir "$out/old" -L dependency="$out/old")
    echo "one hit, instructions (callgrind): gocache $baseline $o"
    echo "                                   gocache $n"
    echo "                                   gocache/gocache $baseline $(ratio "${n%% *}" "${o%% *}") (new/old)"
}

one_hit
if [ "$only" != heavy ]; then
    bench sys "$repo/examples/mixed-sys"
fi
if [ "$only" != sys ]; then
    heavy_workspace "$work/heavy"
    bench heavy "$work/heavy"
fi
