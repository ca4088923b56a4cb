//! cargo-gocache's integration tests: one test binary, a module per area
//! (as cargo's own `tests/testsuite`), sharing [`support`].

mod e2e;
mod runner;
mod support;
mod wrapper;
