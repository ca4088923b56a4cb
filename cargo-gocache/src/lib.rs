//! `cargo gocache`: the command line of gocache. The cache itself lives in
//! the `gocache-build` library; this crate parses arguments, runs cargo and
//! the maintenance commands, and holds the heavy dependencies.
//!
//! Three modes, chosen by the first argument: gocache's own commands
//! (`gocache`, or a subcommand name such as `stats`); the compiler wrapper
//! (`cargo-gocache gcc -c a.c`, as `ccache gcc ...`); and, reserved for the
//! build-ID work, the archiver (`ar`, `*-ar`).
//!
//! Exit codes: 0 success; 1 an error (printed once as `error: ...`);
//! 2 bad usage (from clap). In wrapper mode, the compiler's own exit code.

use std::ffi::OsString;

mod cli;
mod commands;
pub mod human;
mod run;
mod wrapper;

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
