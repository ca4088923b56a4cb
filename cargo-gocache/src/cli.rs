//! Argument parsing (clap derive) and dispatch.
//!
//! cargo runs a subcommand `cargo gocache ARGS` as `cargo-gocache gocache ARGS`,
//! so the parser has `bin_name = "cargo"` and one `gocache` subcommand, as
//! cargo-nextest does; `cargo-gocache gocache ...` parses the same way.

use std::ffi::OsString;

use anyhow::Result;
use clap::{Parser, Subcommand};

use crate::commands;

#[derive(Parser, Debug)]
#[command(bin_name = "cargo", version, styles = clap::builder::Styles::plain())]
enum Cargo {
    /// Go's build cache for the C and C++ that build scripts compile.
    Gocache(GocacheArgs),
}

#[derive(clap::Args, Debug)]
#[command(
    version,
    after_help = "Any other subcommand runs cargo: `cargo gocache build --release` is \
`cargo build --release` with every C and C++ compile of every build script \
cached. gocache's own commands above take precedence over cargo's of the same \
name: `cargo gocache clean` empties the cache; `cargo gocache cargo clean` runs \
cargo's `clean`."
)]
pub struct GocacheArgs {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Remove every entry from the cache.
    Clean,
    /// Remove entries unused for a while, and the least recently used ones
    /// until the cache fits its size cap.
    Trim {
        /// Keep the cache at most this big (e.g. 500M, 10G).
        #[arg(long, value_name = "SIZE", value_parser = crate::human::parse_size, default_value = "10G")]
        max_size: u64,
        /// Remove entries unused for longer than this (e.g. 12h, 7d).
        #[arg(long, value_name = "DURATION", value_parser = crate::human::parse_duration, default_value = "5d")]
        max_age: std::time::Duration,
    },
    /// Show the cache's size and its hits and misses since the last `--zero`.
    Stats {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Reset the hit and miss counters (after printing them).
        #[arg(long)]
        zero: bool,
    },
    /// Any cargo subcommand (build, check, test, run, ...): run it with the cache.
    #[command(external_subcommand)]
    Cargo(Vec<OsString>),
}

/// Parse `args` (argv, program name first) and run; returns the exit code.
pub fn run(args: Vec<OsString>) -> Result<i32> {
    let mut args = args;
    if args.get(1).is_some_and(|a| !is_gocache_command(a)) {
        return wrapper_placeholder(&args[1..]);
    }
    // `cargo-gocache clean` (no `gocache`) is accepted too.
    if args.get(1).is_none_or(|a| a != "gocache") {
        args.insert(1, "gocache".into());
    }
    let Cargo::Gocache(parsed) = match Cargo::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return Ok(code);
        }
    };
    commands::run(parsed.command)
}

/// Is `arg` (argv[1]) `gocache`, one of its subcommands or a help/version
/// flag? Anything else is a compiler: `cargo-gocache gcc -c a.c`.
fn is_gocache_command(arg: &OsString) -> bool {
    use clap::CommandFactory;
    let Some(arg) = arg.to_str() else {
        return false;
    };
    if matches!(
        arg,
        "gocache" | "help" | "-h" | "--help" | "-V" | "--version"
    ) {
        return true;
    }
    let app = Cargo::command();
    let gocache = app
        .find_subcommand("gocache")
        .expect("the gocache subcommand");
    let found = gocache
        .get_subcommands()
        .any(|c| c.get_name() == arg || c.get_all_aliases().any(|a| a == arg));
    found
}

/// Wrapper mode until the `wrapper` branch lands: run the compiler as asked,
/// uncached, so `cargo gocache build` already builds correctly.
fn wrapper_placeholder(compiler_and_args: &[OsString]) -> Result<i32> {
    use anyhow::Context;
    let status = std::process::Command::new(&compiler_and_args[0])
        .args(&compiler_and_args[1..])
        .status()
        .with_context(|| format!("failed to run {:?}", compiler_and_args[0]))?;
    Ok(status.code().unwrap_or(1))
}
