//! The integration tests: one binary, a module per area (as cargo's
//! `tests/testsuite`).

mod support;
mod wrapper;
