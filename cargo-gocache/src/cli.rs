//! Argument parsing (clap derive) and mode selection: which of the binary's
//! three jobs an argv asks for ([`parse`]). Nothing runs here; `main` hands
//! the [`Job`] to `commands` or `wrapper`, so this file depends on no other
//! room of the binary.
//!
//! cargo runs a subcommand `cargo gocache ARGS` as `cargo-gocache gocache ARGS`,
//! so the parser has `bin_name = "cargo"` and one `gocache` subcommand, as
//! cargo-nextest does; `cargo-gocache gocache ...` parses the same way.

use std::ffi::OsString;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(bin_name = "cargo", version, styles = clap::builder::Styles::plain())]
enum Cargo {
    /// Go's build cache for cargo builds: every C/C++ compile of every build
    /// script and every rustc run, cached.
    Gocache(GocacheArgs),
}

#[derive(clap::Args, Debug)]
#[command(
    version,
    after_help = "Any other subcommand runs cargo: `cargo gocache build --release` is \
`cargo build --release` with every C and C++ compile of every build script \
(cc, CMake, configure + make) and every rustc invocation looked up in the cache first. gocache's own commands above take precedence over cargo's of the same \
name: `cargo gocache clean` empties the cache; `cargo gocache cargo clean` runs \
cargo's `clean`."
)]
pub struct GocacheArgs {
    /// Compile every cache hit too, and fail the run if a result differs
    /// from the cached one (also `CARGO_GOCACHE_VERIFY=1`).
    #[arg(long)]
    pub verify: bool,
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
        /// [default: the `max-size` setting, 10G]
        #[arg(long, value_name = "SIZE", value_parser = crate::human::parse_size)]
        max_size: Option<u64>,
        /// Remove entries unused for longer than this (e.g. 12h, 7d).
        /// [default: the `max-age` setting, 5d]
        #[arg(long, value_name = "DURATION", value_parser = crate::human::parse_duration)]
        max_age: Option<std::time::Duration>,
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
    /// Print the build ID of each archive, last on its line (`FILE: ID`
    /// when several are given), like `go tool buildid`.
    Buildid {
        /// Also list the sources each archive was built from, one per line.
        #[arg(long, short)]
        verbose: bool,
        /// Static archives (`lib*.a`).
        #[arg(required = true, value_name = "FILE")]
        files: Vec<std::path::PathBuf>,
    },
    /// Explain each miss of the last `cargo gocache` run: the key inputs
    /// that differ from the nearest earlier build of the same object.
    Explain {
        /// Only misses whose source path or crate name contains PATTERN.
        pattern: Option<String>,
    },
    /// Print each effective setting and where it came from.
    Config,
    /// Print the cache directory and a cache key for CI caches.
    ///
    /// The key hashes Cargo.lock, the rustc and C compiler versions and the
    /// target; `restore-key` is its prefix, for a fallback to the newest
    /// cache of the same target.
    Env {
        /// Print JSON.
        #[arg(long, conflicts_with = "github")]
        json: bool,
        /// Print `name=value` lines for `$GITHUB_OUTPUT`.
        #[arg(long)]
        github: bool,
        /// The target triple (default: the host's).
        #[arg(long, value_name = "TRIPLE")]
        target: Option<String>,
    },
    /// Write the cache to FILE as one compressed bundle (tar + zstd).
    Export {
        /// The bundle to write.
        file: std::path::PathBuf,
        /// Only the entries the last `cargo gocache` build used (all of
        /// them if no build has used this cache yet).
        #[arg(long)]
        used_since_build: bool,
    },
    /// Do the caching for a build script's `gocache_build::CachedBuild`
    /// over stdin/stdout (internal; see `commands/serve_helper.rs`).
    #[command(hide = true)]
    ServeHelper,
    /// Run a command under the build-script observer and print every path
    /// it touched (diagnostics; Linux x86_64).
    #[command(hide = true)]
    Observe {
        /// Print only the counts and the time.
        #[arg(long)]
        summary: bool,
        /// The program and its arguments.
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<OsString>,
    },
    /// Add the entries of a bundle written by `export` to the cache.
    Import {
        /// The bundle to read.
        file: std::path::PathBuf,
    },
    /// Any cargo subcommand (build, check, test, run, ...): run it with the cache.
    #[command(external_subcommand)]
    Cargo(Vec<OsString>),
}

/// Which of the binary's three jobs an argv asks for.
#[derive(Debug, PartialEq, Eq)]
enum Mode {
    /// `cargo gocache ...` / `cargo-gocache gocache ...` / `cargo-gocache stats`.
    Commands,
    /// `cargo-gocache ar ...` (or any `*-ar`): the archive wrapper.
    Archiver,
    /// `cargo-gocache <compiler> [args...]`.
    Compiler,
}

fn mode(args: &[OsString]) -> Mode {
    let Some(first) = args.get(1) else {
        return Mode::Commands;
    };
    let first = first.to_string_lossy();
    if first == "gocache" || first.starts_with('-') || is_command_name(&first) {
        return Mode::Commands;
    }
    let name = std::path::Path::new(first.as_ref())
        .file_name()
        .map_or(first.to_string(), |n| n.to_string_lossy().into_owned());
    if name == "ar" || name.ends_with("-ar") {
        return Mode::Archiver;
    }
    Mode::Compiler
}

/// gocache's own subcommand names (and clap's `help`). A list rather than
/// a look into the parser because the dispatcher runs on every wrapped
/// compile, and building clap's whole command tree there costs a hit time
/// for nothing; `command_names_match_the_parser` keeps the two equal.
const COMMAND_NAMES: &[&str] = &[
    "buildid",
    "clean",
    "config",
    "env",
    "explain",
    "export",
    "help",
    "import",
    "observe",
    "serve-helper",
    "stats",
    "trim",
];

fn is_command_name(name: &str) -> bool {
    COMMAND_NAMES.contains(&name)
}

/// What `main` is to do with an argv.
pub enum Job {
    /// gocache's own command (or cargo under the cache), parsed.
    Command(GocacheArgs),
    /// The archiver wrapper, with its arguments (the real archiver first).
    Archiver(Vec<OsString>),
    /// The compiler wrapper, with the whole argv.
    Compiler(Vec<OsString>),
    /// Usage printed (help, version, or a clap error): exit with this code.
    Exit(i32),
}

/// Select the mode of `args` (argv, program name first) and parse a
/// command line; nothing runs here, so `cli` depends on no other room.
pub fn parse(args: Vec<OsString>) -> Job {
    let mut args = args;
    match mode(&args) {
        Mode::Commands => {}
        // The archive wrapper, which stamps build IDs.
        Mode::Archiver => return Job::Archiver(args.split_off(1)),
        Mode::Compiler => return Job::Compiler(args),
    }
    // `cargo-gocache clean` (no `gocache`) is accepted too.
    if args.get(1).is_none_or(|a| a != "gocache") {
        args.insert(1, "gocache".into());
    }
    match Cargo::try_parse_from(args) {
        Ok(Cargo::Gocache(parsed)) => Job::Command(parsed),
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            Job::Exit(code)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispatch() {
        let m = |args: &[&str]| {
            let mut v: Vec<OsString> = vec!["cargo-gocache".into()];
            v.extend(args.iter().map(OsString::from));
            mode(&v)
        };
        assert_eq!(m(&[]), Mode::Commands);
        assert_eq!(m(&["gocache", "stats"]), Mode::Commands);
        assert_eq!(m(&["stats", "--json"]), Mode::Commands);
        assert_eq!(m(&["clean"]), Mode::Commands);
        assert_eq!(m(&["help"]), Mode::Commands);
        assert_eq!(m(&["--help"]), Mode::Commands);
        assert_eq!(m(&["gcc", "-c", "a.c"]), Mode::Compiler);
        assert_eq!(
            m(&["/usr/bin/x86_64-linux-gnu-gcc-12", "-c", "a.c"]),
            Mode::Compiler
        );
        assert_eq!(m(&["ar", "crs", "libx.a"]), Mode::Archiver);
        assert_eq!(m(&["/usr/bin/llvm-ar", "crs", "libx.a"]), Mode::Archiver);
        assert_eq!(m(&["gcc-ar"]), Mode::Archiver);
    }

    #[test]
    fn command_names_match_the_parser() {
        use clap::CommandFactory;
        let cargo = Cargo::command();
        let gocache = cargo.find_subcommand("gocache").unwrap();
        let mut names: Vec<String> = gocache
            .get_subcommands()
            .flat_map(|c| {
                std::iter::once(c.get_name().to_string())
                    .chain(c.get_all_aliases().map(str::to_string))
            })
            .collect();
        names.push("help".into());
        names.sort();
        names.dedup();
        assert_eq!(
            names, COMMAND_NAMES,
            "update COMMAND_NAMES to the parser's subcommands"
        );
    }
}
