#!/usr/bin/env bash
# The whole test suite, from a fresh machine with only the Rust toolchain:
# installs what the tests need when it is missing, then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

# The end-to-end tests build examples/mixed-sys, whose C++ needs g++.
if ! command -v gcc >/dev/null || ! command -v g++ >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq && apt-get install -y -qq gcc g++
    else
        echo "tests/run.sh: the tests need gcc and g++; install them" >&2
        exit 1
    fi
fi

exec cargo test --workspace --locked
