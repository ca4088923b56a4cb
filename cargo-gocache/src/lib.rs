//! `cargo gocache`: the command line of gocache. The cache itself lives in
//! the `gocache-build` library; this crate parses arguments, runs cargo and
//! the maintenance commands, and holds the heavy dependencies.
//!
//! Three modes, chosen by the first argument: gocache's own commands
//! (`gocache`, or a subcommand name such as `stats`); the compiler wrapper
//! (`cargo-gocache gcc -c a.c`, as `ccache gcc ...`); and the archiver
//! wrapper (`cargo-gocache ar cq libfoo.a ...`, for any `ar` or `*-ar`),
//! which stamps build IDs (see [`wrapper::ar`]).
//!
//! Exit codes: 0 success; 1 an error (printed once as `error: ...`);
//! 2 bad usage (from clap). In wrapper mode, the compiler's own exit code.

mod cli;
mod commands;
pub mod config;
pub mod human;
pub mod remote;
mod runner;
mod wrapper;

// The archiver wrapper's entry points, used by the testsuite.
pub use wrapper::ar;

/// Run with the process's arguments; returns the exit code.
pub fn main() -> i32 {
    // Under `cargo gocache`, before anything runs: PATH without the
    // masquerade links, and a start through one of them as the wrapper.
    let args = match wrapper::masquerade::enter(std::env::args_os().collect()) {
        wrapper::masquerade::Start::Args(args) => args,
        wrapper::masquerade::Start::Exit(code) => return code,
    };
    // Run as `gocache-ar REAL_AR ARGS...` (the archiver under `cargo gocache`).
    if args
        .first()
        .and_then(|a| std::path::Path::new(a).file_name())
        .is_some_and(|n| n == ar::AR_NAME)
    {
        return ar::run(&args[1..]);
    }
    let result = match cli::parse(args) {
        cli::Job::Command(parsed) => {
            // Only for gocache's own output: a wrapper's stdout is the
            // compiler's, and it is passed through as it is.
            #[cfg(unix)]
            // SAFETY: setting a signal disposition to its default, before
            // any thread is started.
            unsafe {
                libc::signal(libc::SIGPIPE, libc::SIG_DFL);
            }
            commands::run(parsed.command, parsed.verify)
        }
        cli::Job::Archiver(args) => Ok(ar::run(&args)),
        // `RUSTC_WRAPPER`: cargo runs `cargo-gocache <rustc> ARGS`.
        cli::Job::Compiler(args) if wrapper::rust::is_rustc(&args) => Ok(wrapper::rust::run(args)),
        cli::Job::Compiler(args) => Ok(wrapper::cc::run(args)),
        cli::Job::Exit(code) => Ok(code),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    }
}
