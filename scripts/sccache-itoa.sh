#!/usr/bin/env bash
# Issue 15's reproduction: does a user's `RUSTC_WRAPPER=sccache` still hit
# under `cargo gocache`? A crate with one dependency (itoa) is built, cleaned
# and built again, under plain cargo and under `cargo gocache`, each with its
# own fresh sccache directory; the second build's sccache hits and misses are
# printed for both.
#
#   cargo build -p cargo-gocache
#   scripts/sccache-itoa.sh
#
# sccache hashes every `CARGO_*` variable in rustc's environment, so a
# variable `cargo gocache` changed from run to run made every Rust key new.
# Since issue 13, `cargo gocache` replaces a user's RUSTC_WRAPPER (it caches
# rustc itself): on the gocache side sccache then sees no compile, and the
# environment check lives in runner::rustc_sees_the_same_environment_every_run
# (through RUSTC_WORKSPACE_WRAPPER). Kept for the plain-cargo baseline.
# Needs sccache (Debian: `apt-get install sccache`) and crates.io (or itoa in
# the local registry cache).
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${BIN:-${CARGO_TARGET_DIR:-target}/debug/cargo-gocache}
SCCACHE=${SCCACHE:-$(command -v sccache || true)}
if [ -z "$SCCACHE" ]; then
    echo "no sccache: apt-get install sccache (or cargo install sccache --locked)" >&2
    exit 2
fi
if [ ! -x "$BIN" ]; then
    echo "no $BIN: run cargo build -p cargo-gocache" >&2
    exit 2
fi
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")

work=$(mktemp -d)
trap '"$SCCACHE" --stop-server >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
unset CARGO_TARGET_DIR CARGO_BUILD_TARGET RUSTC_WRAPPER CARGO_GOCACHE_DIR

mkdir -p "$work/app/src"
cat >"$work/app/Cargo.toml" <<'EOF'
[package]
name = "app"
version = "0.1.0"
edition = "2021"

[dependencies]
itoa = "1"

[workspace]
EOF
echo 'fn main() { println!("{}", itoa::Buffer::new().format(42)); }' >"$work/app/src/main.rs"

# `sccache --show-stats` for the second build: "hits misses".
second_build() { # label, command prefix...
    local label=$1
    shift
    export SCCACHE_DIR="$work/sccache-$label"
    "$SCCACHE" --stop-server >/dev/null 2>&1 || true
    SCCACHE_DIR="$SCCACHE_DIR" "$SCCACHE" --start-server >/dev/null
    (cd "$work/app" && RUSTC_WRAPPER="$SCCACHE" "$@" build -q)
    (cd "$work/app" && cargo clean -q)
    "$SCCACHE" --zero-stats >/dev/null
    (cd "$work/app" && RUSTC_WRAPPER="$SCCACHE" "$@" build -q)
    local stats hits misses
    stats=$("$SCCACHE" --show-stats)
    hits=$(awk '/^Cache hits +[0-9]/ {print $3; exit}' <<<"$stats")
    misses=$(awk '/^Cache misses +[0-9]/ {print $3; exit}' <<<"$stats")
    printf '%-14s second build: sccache %s hits, %s misses\n' "$label" "${hits:-?}" "${misses:-?}"
    (cd "$work/app" && cargo clean -q)
}

second_build cargo cargo
CARGO_GOCACHE_DIR="$work/gocache" second_build cargo-gocache "$BIN" gocache 2> >(grep -v '^gocache: no C' >&2)
