//! The wrapper masquerading as the compiler, as ccache does with a
//! directory of links named `gcc`, `cc`, ... first on `PATH`.
//!
//! # Why
//!
//! `CC_<target>=cargo-gocache gcc` reaches every compile cc runs itself,
//! and cc's `Tool::cc_env()` (openssl-src's `CC`), but a build script that
//! hands its own build system `cc::Tool::path()` hands over the compiler
//! alone: tikv-jemalloc-sys runs `configure` with `CC=gcc`, the `cmake`
//! crate passes `-DCMAKE_C_COMPILER=gcc`. Those compiles would bypass the
//! cache (they bypass ccache and sccache too). When that path is a bare
//! name, its build system finds it on `PATH`: so `cargo gocache` puts
//! `<store>/bin/masq` first on `PATH`, holding a link to this binary for
//! each bare compiler name it set in a `CC_<target>` or `CXX_<target>`
//! (`gcc`, `cc`, `clang++`, `aarch64-linux-gnu-gcc`...), with `gcc` and
//! `g++` beside cc's defaults `cc` and `c++` (make's and autoconf's
//! defaults: `runner::env::masquerade_names`), and names that directory
//! in [`DIR_VAR`].
//!
//! # The two rules that keep it safe
//!
//! 1. **Nothing this process runs sees the directory**: [`enter`] takes it
//!    out of `PATH` at the start of every process of this binary, so the
//!    compiler (and the `as`, `collect2` it runs), rustc (and its linker
//!    `cc`) and the archiver find the real tools. Only cargo and what cargo
//!    runs directly (build scripts and their `configure`, `make`, `cmake`)
//!    see the links.
//! 2. **A compiler that is this binary is replaced by the real one**
//!    ([`real_compiler`]): CMake resolves `gcc` to the link's absolute path
//!    and runs it behind its launcher (`cargo-gocache <store>/bin/masq/gcc
//!    ...`); the wrapper then runs the first `gcc` on `PATH` that is not
//!    itself, never itself, so a compile is never wrapped twice and never
//!    loops.
//!
//! # Which starts through a link are cached
//!
//! Only the gap is filled: a link started **by its bare name** (make or
//! a shell found it on `PATH`: `argv[0]` is `gcc`) **by a process that is
//! not a build script** (configure, make, a script), or **by its absolute
//! path in the masquerade directory from make, ninja or a shell**: a build
//! script that resolved the name on `PATH` itself before handing it over
//! (luajit-src runs `which("cc")` and gives make
//! `STATIC_CC=<store>/bin/masq/<set>/cc`, so every LuaJIT compile
//! bypassed the cache). Every other start runs the real compiler at once
//! (`exec`), uncounted, as it would run without gocache:
//!
//! - by a build script itself: cc's own probes (family detection with
//!   `-E`, `is_flag_supported`) call `Tool::path()`; cc's compiles come
//!   through `CC_<target>` already, and a build script's own
//!   `Command::new("gcc")` was never cached;
//! - by absolute path from anything but make, ninja or a shell: CMake
//!   resolved `gcc` to the link, and runs it itself for its compiler
//!   identification, or behind a launcher the user chose
//!   (`CMAKE_C_COMPILER_LAUNCHER=ccache` in a build script's `define`):
//!   the user's launcher does the caching. (Behind gocache's own launcher
//!   the link is the launcher's compiler argument, which rule 2 replaces.)
//!   CMake's link steps, which make runs by the compiler's absolute path
//!   without the launcher, are counted as `link` like any other.
//!
//! A compiler given by absolute path (`CC=/usr/bin/clang`) cannot be
//! masqueraded: such a build script's own build system still bypasses the
//! cache, as before.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

/// Where `cargo gocache` tells its processes the masquerade directory is.
pub const DIR_VAR: &str = "CARGO_GOCACHE_MASQUERADE";

/// How this process goes on after [`enter`].
pub enum Start {
    /// As `argv` says (for a start through a link: `cargo-gocache gcc
    /// ARGS...`, the compiler wrapper).
    Args(Vec<OsString>),
    /// The real compiler ran (or could not be run): exit with this code.
    Exit(i32),
}

/// Take the masquerade directory out of this process's `PATH` (rule 1);
/// then, if this process was started through a link to it (`argv[0]` is
/// `gcc`, not `cargo-gocache`), either the argv the compiler wrapper takes
/// or, for the starts that are not cached (see the module docs), the real
/// compiler run in its place.
///
/// A start through a link is recognised by what `argv[0]` resolves to
/// (this binary), not only by [`DIR_VAR`]: a process that dropped the
/// `CARGO_GOCACHE_*` variables but kept `PATH` (a nested `cargo build`
/// whose rustc links with `cc`), or a build directory that saved the
/// link's path, must still get the real compiler, never gocache's command
/// line parser.
pub fn enter(args: Vec<OsString>) -> Start {
    let dir = std::env::var_os(DIR_VAR)
        .filter(|d| !d.is_empty())
        .map(PathBuf::from);
    if let Some(dir) = &dir {
        strip_from_path(dir);
    }
    let Some(argv0) = args.first().map(PathBuf::from) else {
        return Start::Args(args);
    };
    let Some(name) = argv0.file_name().map(|n| n.to_os_string()) else {
        return Start::Args(args);
    };
    // This binary by its own name (`cargo-gocache`, as installed, or as
    // cargo runs it) or the archiver link: not a compiler link. The cheap
    // check first: it is every start but the links'.
    if name.to_string_lossy().starts_with("cargo-gocache") || name == super::ar::AR_NAME {
        return Start::Args(args);
    }
    let by_name = argv0.components().count() == 1;
    let in_dir = dir.as_ref().is_some_and(|d| {
        if by_name {
            fs::symlink_metadata(d.join(&name)).is_ok()
        } else {
            argv0.parent() == Some(d.as_path()) && parent_is_make_or_a_shell()
        }
    });
    if !in_dir && !resolves_to_this_binary(&argv0) {
        return Start::Args(args);
    }
    if in_dir && !super::rerun::parent_is_build_script() {
        let mut argv = Vec::with_capacity(args.len() + 1);
        argv.push(args[0].clone());
        argv.push(name);
        argv.extend(args.into_iter().skip(1));
        return Start::Args(argv);
    }
    match real_compiler(&argv0) {
        Ok(real) => Start::Exit(super::cc::pass_through(&real, &args[1..])),
        Err(msg) => {
            eprintln!("gocache: error: {msg}");
            Start::Exit(127)
        }
    }
}

/// Is the parent process make, ninja or a shell (a recipe's command), the
/// only parents whose start of a link by its absolute path is cached?
/// Not CMake itself (its compiler identification), not a launcher
/// (`ccache /abs/masq/gcc`: the launcher caches), not a build script.
fn parent_is_make_or_a_shell() -> bool {
    super::rerun::parent_program()
        .is_some_and(|n| ["make", "gmake", "ninja", "sh", "bash", "dash"].contains(&n.as_str()))
}

/// `PATH` without `dir`, however it is spelled there (a trailing `/`, a
/// path through a symbolic link to the store). Runs on every wrapped
/// compile, so only an entry with the directory's own last name (its
/// hash, which any spelling of it keeps) costs a `realpath`.
fn strip_from_path(dir: &Path) {
    let Some(path) = std::env::var_os("PATH") else {
        return;
    };
    let canonical = std::cell::OnceCell::new();
    let dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    let kept: Vec<&PathBuf> = dirs
        .iter()
        .filter(|d| {
            if **d == dir {
                return false;
            }
            if d.file_name() != dir.file_name() {
                return true;
            }
            let c = canonical.get_or_init(|| fs::canonicalize(dir).ok());
            c.is_none() || fs::canonicalize(d).ok() != *c
        })
        .collect();
    if kept.len() != dirs.len() {
        if let Ok(joined) = std::env::join_paths(kept) {
            // Single-threaded here: the first thing `main` does.
            std::env::set_var("PATH", joined);
        }
    }
}

/// Is `program` (a path, or a name found on `PATH`) this binary?
fn resolves_to_this_binary(program: &Path) -> bool {
    let Ok(me) = std::env::current_exe().and_then(fs::canonicalize) else {
        return false;
    };
    crate::key::compiler::find_program(program)
        .and_then(|p| fs::canonicalize(p).ok())
        .is_some_and(|p| p == me)
}

/// The compiler to run for `compiler` (rule 2): `compiler` itself, unless it
/// is this binary (a masquerade link, by name or by path), then the first
/// program of its name in an absolute `PATH` directory that is not. `Err`
/// when there is none: the message for the one-line error (running
/// "itself" would loop).
pub fn real_compiler(compiler: &Path) -> Result<PathBuf, String> {
    if !resolves_to_this_binary(compiler) {
        // Not found: running it gives the shell's own "not found" error.
        return Ok(compiler.to_path_buf());
    }
    let name = compiler
        .file_name()
        .ok_or_else(|| format!("{} has no file name", compiler.display()))?;
    let path = std::env::var_os("PATH").unwrap_or_default();
    // Only absolute directories: an empty or relative entry would give a
    // name that is looked up on PATH again, and could lead back here.
    std::env::split_paths(&path)
        .filter(|d| d.is_absolute())
        .map(|d| d.join(name))
        .find(|p| crate::key::compiler::find_program(p).is_some() && !resolves_to_this_binary(p))
        .ok_or_else(|| {
            format!(
                "cannot find the real {} on PATH: {} is cargo-gocache itself",
                Path::new(name).display(),
                compiler.display()
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_compiler_that_is_not_this_binary_is_kept() {
        assert_eq!(
            real_compiler(Path::new("no-such-compiler-xyz")).unwrap(),
            PathBuf::from("no-such-compiler-xyz")
        );
        assert_eq!(
            real_compiler(Path::new("/bin/sh")).unwrap(),
            PathBuf::from("/bin/sh")
        );
    }

    #[test]
    #[cfg(unix)]
    fn a_link_to_this_binary_is_replaced_by_the_real_program_or_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let me = std::env::current_exe().unwrap();
        // A link named like a program that is on PATH (`sh`), and one that is not.
        let sh = tmp.path().join("sh");
        std::os::unix::fs::symlink(&me, &sh).unwrap();
        let real = real_compiler(&sh).unwrap();
        assert_ne!(
            fs::canonicalize(&real).unwrap(),
            fs::canonicalize(&me).unwrap()
        );
        assert_eq!(real.file_name().unwrap(), "sh");
        let odd = tmp.path().join("gocache-no-such-cc");
        std::os::unix::fs::symlink(&me, &odd).unwrap();
        let err = real_compiler(&odd).unwrap_err();
        assert!(
            err.contains("cannot find the real gocache-no-such-cc"),
            "{err}"
        );
    }
}
