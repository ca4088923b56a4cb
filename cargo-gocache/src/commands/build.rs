//! `cargo gocache <cargo subcommand>`: run cargo with the cache (the cargo
//! runner lives in `crate::runner`).

use std::ffi::OsString;

use anyhow::Result;

/// Run cargo with `args`; returns cargo's exit code.
pub fn run(args: Vec<OsString>, verify: bool) -> Result<i32> {
    crate::runner::run(args, verify)
}
