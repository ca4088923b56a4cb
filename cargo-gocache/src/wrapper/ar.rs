//! The `ar` wrapper: archives made under `cargo gocache` carry build IDs.
//!
//! # Dispatch: however a build calls it
//!
//! `cargo gocache` sets `AR_<target>` to `<store>/bin/gocache-ar`, a link to
//! this binary (see `run::archiver_env` for why a link), and names the real
//! archiver for that target in `CARGO_GOCACHE_AR_<target with _>`
//! ([`real_ar_var`]). The wrapper finds the real archiver there, through
//! cargo's `TARGET` (set for every build script, and inherited by the make,
//! configure and cmake it runs), never from an argument's position, because
//! builds call it every way:
//!
//! | call | who |
//! | --- | --- |
//! | `gocache-ar cq lib.a a.o`, `gocache-ar s lib.a` | cc |
//! | `gocache-ar qc lib.a a.o`, then `ranlib lib.a` | openssl-src (`AR=cc.get_archiver().get_program()`), CMake, make's `$(AR) $(ARFLAGS)` |
//! | `gocache-ar -crs lib.a`, `gocache-ar --plugin x.so rcs ...`, `gocache-ar @args` | autotools, libtool, gcc-ar style |
//! | `gocache-ar /usr/bin/ar cq lib.a ...`, `cargo-gocache llvm-ar ...` | an older `cargo gocache`, or a user: a program first |
//!
//! So a first argument is the real archiver only when it cannot be an `ar`
//! operation: it has a `/`, or is named like an archiver (`ar`, `*-ar`,
//! `llvm-ar-17`, `*ranlib`), or is neither a valid `ar` key nor an option
//! but is a program on `PATH` ([`split_invocation`]). Everything else is the
//! archiver's own arguments, passed on untouched.
//!
//! # What it does
//!
//! It runs the real archiver with the arguments unchanged. cc makes an
//! archive with `cq` in batches, then builds the symbol index with `s`
//! (`cqD`/`sD` where `D` works); so whenever an invocation asks for an index
//! (`s` as the operation, or as a modifier of `q`/`r` as in `crs`), the
//! wrapper then stamps a build ID member ([`crate::archive`]) and
//! rebuilds the index with the real archiver's `s`.
//!
//! The wrapper never sees the sources, so the action part of the ID covers
//! the member objects, names and content (`Archive::members_action`), and
//! `buildid --verbose` lists the members. An archive that already carries
//! a build ID matching its objects (one stamped by the build.rs helper,
//! whose ID covers the sources) is left as it is.
//!
//! # Faults
//!
//! Nothing here may fail a build the real archiver would have built: an
//! invocation the wrapper does not understand (an unreadable `@file`, an
//! odd key) runs the real archiver untouched and stamps nothing; a
//! `CARGO_GOCACHE_AR_*` value that is empty, has whitespace or cannot be
//! started falls back to cc's default `ar`; a failure to stamp is a warning,
//! and the real archiver's archive is kept byte for byte. The wrapper never
//! opens the store, so a broken store cannot reach it.

use std::ffi::{OsStr, OsString};

/// The name the archiver wrapper runs under in `cargo gocache` builds: a
/// link to this binary (see `run::archiver_env` for why not `cargo-gocache`).
pub const AR_NAME: &str = "gocache-ar";
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::archive::{self, Archive};

/// The prefix of the variables naming the real archiver per target.
pub const REAL_AR_PREFIX: &str = "CARGO_GOCACHE_AR_";

/// The variable naming the real archiver for `target`:
/// `CARGO_GOCACHE_AR_x86_64_unknown_linux_gnu` (with `_` for `-` and `.`,
/// so every shell and make passes it on).
pub fn real_ar_var(target: &str) -> String {
    format!("{REAL_AR_PREFIX}{}", target.replace(['-', '.'], "_"))
}

/// The archiver cc uses when nothing names one (for the build machine).
const DEFAULT_AR: &str = "ar";

/// The environment that makes cc's archiver this wrapper, for the runner to
/// set on `cargo build`: `AR="<exe> ar <real ar>"`, where the real archiver
/// is the user's `AR` if set, else `ar`.
///
/// Empty when the user's `AR` holds arguments or spaces (the wrapper could
/// not tell its words from cc's) or `exe`'s path has spaces (cc would split
/// it). For a cross build cc picks `<target>-ar` when `AR` is unset; the
/// runner should then pass that archiver's name in `AR` before calling this.
/// Variables cc prefers to `AR` (`AR_<target>`, `TARGET_AR`) still win.
pub fn ar_env(exe: &Path) -> Vec<(OsString, OsString)> {
    let real = crate::env::var_os("AR")
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "ar".into());
    let has_space = |s: &OsStr| s.to_string_lossy().contains(char::is_whitespace);
    if has_space(&real) || has_space(exe.as_os_str()) {
        return Vec::new();
    }
    let mut value = exe.as_os_str().to_owned();
    value.push(" ");
    value.push(&real);
    vec![("AR".into(), value)]
}

/// Where the real archiver came from.
#[derive(Debug, PartialEq)]
enum Real {
    /// The first argument named it.
    Argument(OsString),
    /// `CARGO_GOCACHE_AR_<target>`, or the default when that is unset.
    Environment(OsString),
}

/// Split an invocation into the real archiver and its arguments (see the
/// module docs). `getenv` reads the environment (a parameter for tests),
/// `on_path` says whether a bare name is a program on `PATH`.
fn split_invocation<'a>(
    args: &'a [OsString],
    getenv: &dyn Fn(&str) -> Option<OsString>,
    on_path: &dyn Fn(&OsStr) -> bool,
) -> (Real, &'a [OsString]) {
    if let Some((first, rest)) = args.split_first() {
        if is_program(first, on_path) {
            return (Real::Argument(first.clone()), rest);
        }
    }
    (Real::Environment(env_archiver(getenv)), args)
}

/// The archiver `cargo gocache` named for this build script's target.
fn env_archiver(getenv: &dyn Fn(&str) -> Option<OsString>) -> OsString {
    getenv("TARGET")
        .and_then(|t| getenv(&real_ar_var(&t.to_string_lossy())))
        .filter(|v| !v.is_empty() && !v.to_string_lossy().contains(char::is_whitespace))
        .unwrap_or_else(|| DEFAULT_AR.into())
}

/// Whether a first argument is the archiver to run rather than an `ar`
/// operation, option or `@file`.
fn is_program(arg: &OsStr, on_path: &dyn Fn(&OsStr) -> bool) -> bool {
    let s = arg.to_string_lossy();
    if s.is_empty() || s.starts_with('-') || s.starts_with('@') {
        return false;
    }
    if s.contains('/') {
        return true; // no key or option has one
    }
    if is_archiver_name(&s) {
        return true;
    }
    !is_ar_key(&s) && on_path(arg)
}

/// `ar`, `gcc-ar`, `x86_64-linux-gnu-ar`, `llvm-ar`, `llvm-ar-17`, `emar`,
/// `ranlib`, `llvm-ranlib`: names of archivers. (`ar` is also a valid key,
/// `r` with the `a` modifier, which needs a member name and an archive
/// after it: `gocache-ar ar lib.a x.o` means the program.)
fn is_archiver_name(name: &str) -> bool {
    let base = name.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    let base = base.strip_suffix('-').unwrap_or(base);
    base == "ar"
        || base.ends_with("-ar")
        || base == "emar"
        || base == "ranlib"
        || base.ends_with("-ranlib")
}

/// A GNU/BSD `ar` key: one operation letter among modifiers (`cq`, `rcs`,
/// `sD`, `t`, `xv`).
fn is_ar_key(s: &str) -> bool {
    let ops = s.chars().filter(|c| "dmpqrstx".contains(*c)).count();
    ops >= 1 && s.chars().all(|c| "dmpqrstxabcDfiPlNoOSTuUvVLh".contains(c))
}

/// Is a bare program name found on `PATH`?
fn on_path(name: &OsStr) -> bool {
    let Some(path) = crate::env::var_os("PATH") else {
        return false;
    };
    std::env::split_paths(&path).any(|d| d.join(name).is_file())
}

/// Run as the archiver: `args` are the archiver's arguments, with or
/// without the real archiver in front. Returns the exit code.
pub fn run(args: &[OsString]) -> i32 {
    let getenv = |name: &str| crate::env::var_os(name);
    let (real, rest) = split_invocation(args, &getenv, &on_path);
    let (real, from_env) = match real {
        Real::Argument(p) => (p, false),
        Real::Environment(p) => (p, true),
    };
    let mut real = real;
    let status = match Command::new(&real).args(rest).status() {
        Ok(s) => s,
        // Ours, not the user's command line: a value that cannot be
        // started falls back to cc's default rather than failing a build.
        Err(e) if from_env && real != DEFAULT_AR => {
            eprintln!(
                "gocache: warning: cannot run archiver {} ({e}); running {DEFAULT_AR}",
                Path::new(&real).display()
            );
            real = DEFAULT_AR.into();
            match Command::new(&real).args(rest).status() {
                Ok(s) => s,
                Err(e) => return spawn_failed(&real, e),
            }
        }
        Err(e) => return spawn_failed(&real, e),
    };
    if !status.success() {
        return status.code().unwrap_or(1);
    }
    if is_ranlib(&real) {
        return 0; // its index is its own; stamping needs `ar`
    }
    let expanded = expand_at_files(rest);
    if let Some(path) = expanded.as_deref().and_then(indexed_archive) {
        if let Err(e) = stamp_if_needed(&path, &real) {
            eprintln!(
                "gocache: warning: no build ID stamped in {}: {e}",
                path.display()
            );
        }
    }
    0
}

fn spawn_failed(real: &OsStr, e: std::io::Error) -> i32 {
    eprintln!(
        "error: failed to run archiver {}: {e}",
        Path::new(real).display()
    );
    if e.kind() == std::io::ErrorKind::NotFound {
        127 // as a shell says for a missing command
    } else {
        1
    }
}

fn is_ranlib(real: &OsStr) -> bool {
    Path::new(real)
        .file_name()
        .is_some_and(|n| n.to_string_lossy().contains("ranlib"))
}

/// The arguments with every `@file` replaced by the file's words, as GNU
/// ar reads them; `None` when one cannot be read (then nothing is
/// stamped: the real archiver has already done what it was told).
fn expand_at_files(args: &[OsString]) -> Option<Vec<OsString>> {
    let mut out = Vec::new();
    for a in args {
        match a.to_str().and_then(|s| s.strip_prefix('@')) {
            Some(file) => {
                let text = std::fs::read_to_string(file).ok()?;
                out.extend(split_words(&text).into_iter().map(OsString::from));
            }
            None => out.push(a.clone()),
        }
    }
    Some(out)
}

/// libiberty's `buildargv` splitting: whitespace, quotes, backslashes.
fn split_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur: Option<String> = None;
    let mut quote = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match (c, quote) {
            ('\\', _) => {
                if let Some(n) = chars.next() {
                    cur.get_or_insert_with(String::new).push(n);
                }
            }
            (q, Some(open)) if q == open => quote = None,
            (_, Some(_)) => cur.get_or_insert_with(String::new).push(c),
            ('\'' | '"', None) => {
                quote = Some(c);
                cur.get_or_insert_with(String::new);
            }
            (c, None) if c.is_whitespace() => words.extend(cur.take()),
            (c, None) => cur.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(cur);
    words
}

/// The archive an invocation writes, if it also asks for a symbol index.
///
/// Reads GNU/BSD ar's command line: options starting with `--` (and
/// `--plugin`'s value) come first, then the key (`cqD`, `-crs`, `sD`: one
/// operation letter and modifiers), then for the `a`/`b`/`i` modifiers a
/// member name and for `N` a count, then the archive.
fn indexed_archive(args: &[OsString]) -> Option<PathBuf> {
    let mut it = args.iter().map(|a| a.to_string_lossy());
    let key = loop {
        let a = it.next()?;
        if a == "--plugin" || a == "--target" || a == "--output" {
            it.next();
        } else if !a.starts_with("--") {
            break a.trim_start_matches('-').to_string();
        }
    };
    if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    let ops: Vec<char> = key.chars().filter(|c| "dmpqrstx".contains(*c)).collect();
    // `s` alone is the operation; with one that changes the members
    // (`q`, `r`, `d`, `m`) it is the modifier.
    let wants_index = match ops.as_slice() {
        ['s'] => true,
        [op, 's'] | ['s', op] => "qrdm".contains(*op),
        _ => false,
    };
    if !wants_index || key.contains('S') {
        return None;
    }
    let skip = key.chars().filter(|c| "abiN".contains(*c)).count();
    let archive = it.nth(skip)?;
    Some(PathBuf::from(archive.as_ref()))
}

fn stamp_if_needed(path: &Path, real: &OsStr) -> gocache_build::Result<()> {
    let original = std::fs::read(path).map_err(|e| gocache_build::Error::io("read", path, e))?;
    let archive = Archive::parse(&original, &path.display().to_string())?;
    if let Some(Ok(info)) = archive.build_info() {
        if info.id.content == archive.content_id() {
            return Ok(());
        }
    }
    let members: Vec<String> = archive.objects().map(|m| m.name.clone()).collect();
    let action = archive.members_action();
    let ar = || Command::new(real);
    archive::stamp(path, &action, &members, &ar)
        .map(|_| ())
        .inspect_err(|_| {
            // Put the real archiver's archive back: an archive without its
            // index would fail the link.
            let _ = crate::store::write_file_atomic(path, &original);
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(args: &[&str]) -> Option<String> {
        let args: Vec<OsString> = args.iter().map(OsString::from).collect();
        indexed_archive(&args).map(|p| p.display().to_string())
    }

    #[test]
    fn finds_the_archive_of_index_writing_invocations() {
        assert_eq!(key(&["cqD", "lib.a", "a.o"]), None);
        assert_eq!(key(&["cq", "lib.a", "a.o"]), None);
        assert_eq!(key(&["sD", "lib.a"]).as_deref(), Some("lib.a"));
        assert_eq!(key(&["s", "lib.a"]).as_deref(), Some("lib.a"));
        assert_eq!(key(&["-crs", "lib.a", "a.o"]).as_deref(), Some("lib.a"));
        assert_eq!(key(&["rcs", "lib.a", "a.o"]).as_deref(), Some("lib.a"));
        assert_eq!(
            key(&["--plugin", "x.so", "sD", "l.a"]).as_deref(),
            Some("l.a")
        );
        assert_eq!(key(&["rbs", "a.o", "l.a", "b.o"]).as_deref(), Some("l.a"));
        assert_eq!(key(&["t", "lib.a"]), None);
        assert_eq!(key(&["rcS", "lib.a", "a.o"]), None);
        assert_eq!(key(&["ds", "lib.a", "a.o"]).as_deref(), Some("lib.a"));
        assert_eq!(key(&["xs", "lib.a"]), None);
    }

    /// `split_invocation` with `TARGET=x86_64-unknown-linux-gnu`, the
    /// real archiver `env_ar` for it, and `path` the programs on `PATH`.
    fn split(args: &[&str], env_ar: Option<&str>, path: &[&str]) -> (Real, Vec<String>) {
        let args: Vec<OsString> = args.iter().map(OsString::from).collect();
        let getenv = |name: &str| match name {
            "TARGET" => Some("x86_64-unknown-linux-gnu".into()),
            "CARGO_GOCACHE_AR_x86_64_unknown_linux_gnu" => env_ar.map(OsString::from),
            _ => None,
        };
        let on_path = |p: &OsStr| path.iter().any(|x| p == *x);
        let (real, rest) = split_invocation(&args, &getenv, &on_path);
        let rest = rest.iter().map(|a| a.to_string_lossy().into()).collect();
        (real, rest)
    }

    fn env(p: &str) -> Real {
        Real::Environment(p.into())
    }

    fn arg(p: &str) -> Real {
        Real::Argument(p.into())
    }

    #[test]
    fn an_operation_first_is_an_operation_whatever_the_real_archiver() {
        // openssl-src: `AR` is cc's archiver program alone, make adds `qc`.
        let ar = Some("/usr/bin/x86_64-linux-gnu-ar");
        for first in [
            "qc", "cq", "cqD", "crs", "rcs", "-r", "-crs", "s", "sD", "t", "x",
        ] {
            let (real, rest) = split(&[first, "lib.a", "a.o"], ar, &["qc", "t"]);
            assert_eq!(real, env("/usr/bin/x86_64-linux-gnu-ar"), "{first}");
            assert_eq!(rest[0], first);
        }
        let (real, rest) = split(&["--plugin", "lto.so", "rcs", "l.a"], ar, &[]);
        assert_eq!((real, rest.len()), (env("/usr/bin/x86_64-linux-gnu-ar"), 4));
        let (real, _) = split(&["@args.rsp"], ar, &[]);
        assert_eq!(real, env("/usr/bin/x86_64-linux-gnu-ar"));
    }

    #[test]
    fn a_program_first_is_the_real_archiver() {
        // cc's `AR_<target>="gocache-ar ar"` from earlier runs, and users.
        for prog in [
            "ar",
            "/usr/bin/ar",
            "llvm-ar",
            "llvm-ar-14",
            "gcc-ar",
            "gcc-ar-12",
            "aarch64-linux-gnu-ar",
            "ranlib",
            "x86_64-linux-gnu-ranlib",
            "./tools/myar",
        ] {
            let (real, rest) = split(&[prog, "cq", "lib.a"], Some("ar"), &[]);
            assert_eq!(real, arg(prog), "{prog}");
            assert_eq!(rest, ["cq", "lib.a"]);
        }
        // A name that is no key, found on PATH.
        let (real, _) = split(&["myarchiver", "cq", "lib.a"], None, &["myarchiver"]);
        assert_eq!(real, arg("myarchiver"));
    }

    #[test]
    fn what_is_not_understood_goes_to_the_real_archiver_untouched() {
        // Neither a key nor a program: the real archiver says what it thinks.
        let (real, rest) = split(&["zz", "lib.a"], None, &[]);
        assert_eq!((real, rest), (env("ar"), vec!["zz".into(), "lib.a".into()]));
        // A garbage or empty variable is the default archiver.
        for garbage in ["", "ar --really", "  "] {
            let (real, _) = split(&["cq", "lib.a"], Some(garbage), &[]);
            assert_eq!(real, env("ar"), "{garbage:?}");
        }
        assert_eq!(split(&[], None, &[]).0, env("ar"));
    }

    #[test]
    fn at_files_are_read_for_the_archive_name() {
        let dir = tempfile::tempdir().unwrap();
        let rsp = dir.path().join("args");
        std::fs::write(&rsp, "crs 'my lib.a'\n a.o\n").unwrap();
        let args = vec![OsString::from(format!("@{}", rsp.display()))];
        let expanded = expand_at_files(&args).unwrap();
        assert_eq!(expanded, ["crs", "my lib.a", "a.o"]);
        assert_eq!(
            indexed_archive(&expanded).unwrap(),
            PathBuf::from("my lib.a")
        );
        assert!(expand_at_files(&["@/no/such/file".into()]).is_none());
    }

    #[test]
    fn real_archiver_variable_names_survive_shells() {
        assert_eq!(
            real_ar_var("thumbv7em-none-eabihf"),
            "CARGO_GOCACHE_AR_thumbv7em_none_eabihf"
        );
        assert_eq!(
            real_ar_var("x86_64-unknown-linux-gnu"),
            "CARGO_GOCACHE_AR_x86_64_unknown_linux_gnu"
        );
    }

    #[test]
    fn ar_env_wraps_ar() {
        let env = ar_env(Path::new("/bin/cargo-gocache"));
        assert_eq!(env.len(), 1);
        assert_eq!(env[0].0, "AR");
        assert!(env[0]
            .1
            .to_string_lossy()
            .starts_with("/bin/cargo-gocache "));
        assert!(ar_env(Path::new("/my dir/cargo-gocache")).is_empty());
    }
}
