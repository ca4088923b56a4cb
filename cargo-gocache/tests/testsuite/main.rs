//! cargo-gocache's integration tests: one test binary, a module per area
//! (as cargo's own `tests/testsuite`), sharing [`support`].

mod buildid;
mod remote;
mod servers;
mod support;
mod wrapper;
