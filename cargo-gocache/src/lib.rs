//! `cargo gocache`: the command line of gocache. The cache itself lives in
//! the `gocache-build` library; this crate parses arguments, runs cargo and
//! the maintenance commands, and holds the heavy dependencies.
//!
//! Exit codes: 0 success; 1 an error (printed once as `error: ...`);
//! 2 bad usage (from clap). In wrapper mode, the compiler's own exit code.

use std::ffi::OsString;

mod cli;
mod commands;
pub mod human;
mod run;

/// Run with the process's arguments; returns the exit code.
pub fn main() -> i32 {
    let args: Vec<OsString> = std::env::args_os().collect();
    match cli::run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    }
}
