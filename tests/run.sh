#!/usr/bin/env bash
# The whole test suite, from a fresh machine with only the Rust toolchain:
# installs what the tests need when it is missing, then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo test --workspace --locked
