//! End-to-end tests of the `cargo-gocache` binary: one test binary, one
//! module per area (cargo's `tests/testsuite` layout), sharing [`support`]
//! (a sandbox per test: its own `CARGO_GOCACHE_DIR` and `HOME`) and
//! [`project`] (cargo projects built for real).

mod archiver;
mod asm;
mod buildid;
mod ci_explain;
mod cmake;
mod corpus;
mod cross;
mod e2e;
mod fuzz;
mod helper_key;
mod key;
mod project;
mod remote;
mod remote_e2e;
mod rerun;
mod runner;
mod rust;
mod servers;
mod store_cli;
mod support;
mod time_macros;
mod verify;
mod wrapper;
