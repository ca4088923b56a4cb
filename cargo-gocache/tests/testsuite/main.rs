//! End-to-end tests of the `cargo-gocache` binary: one test binary, one
//! module per area (cargo's `tests/testsuite` layout), sharing [`support`].
//!
//! Every test runs in its own [`support::Sandbox`]: a temporary directory
//! with its own `CARGO_GOCACHE_DIR` and `HOME`, so no test sees another's
//! cache or the cache of the person running the tests.

mod store_cli;
mod support;
