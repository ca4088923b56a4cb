//! End-to-end tests of the `cargo-gocache` binary: one test binary, one
//! module per area (cargo's `tests/testsuite` layout), sharing [`support`]
//! (the one harness: a sandbox per test with its own `CARGO_GOCACHE_DIR`
//! and `HOME`, one environment scrub list, one command runner, cargo
//! projects built for real, and `require_tool` for tests that need gcc,
//! clang, cmake, redis-server, nginx or SeaweedFS).

mod archiver;
mod asm;
mod build_scripts;
mod buildid;
mod ci_explain;
mod cmake;
mod corpus;
mod cross;
mod e2e;
mod exact_paths;
mod fuzz;
mod helper_key;
mod inputs;
mod key;
mod link;
mod macros;
mod masquerade;
mod native;
mod observer;
mod proc_macros;
mod remote;
mod remote_e2e;
mod remote_s3;
mod rerun;
mod runner;
mod rust;
mod servers;
mod store_cli;
mod support;
mod time_macros;
mod verify;
mod wrapper;
