//! The `ar` wrapper: archives made under `cargo gocache` carry build IDs.
//!
//! # Dispatch
//!
//! cc reads the archiver from `AR` (or `AR_<target>`, `TARGET_AR`,
//! `HOST_AR`) and splits a value that is not a path on whitespace: the first
//! word is the program, the rest are arguments put before its own. So
//!
//! ```text
//! AR="/path/to/cargo-gocache /usr/bin/ar"
//! ```
//!
//! runs `cargo-gocache /usr/bin/ar cqD libfoo.a a.o b.o` (the same form as
//! the compiler wrapper's `cargo-gocache gcc ...`), and the dispatcher sends
//! every `cargo-gocache <ar> ARGS...` whose program is named `ar` or `*-ar`
//! (`llvm-ar`, `gcc-ar`, `x86_64-linux-gnu-ar`) here. (cc
//! recognises `ccache`-style wrappers by name for `CC` only; for `AR` any
//! first word is the program, which is what we want.) [`ar_env`] builds
//! that setting.
//!
//! # What it does
//!
//! It runs the real archiver with the arguments unchanged. cc makes an
//! archive with `cq` in batches, then builds the symbol index with `s`
//! (`cqD`/`sD` where `D` works); so whenever an invocation asks for an index
//! (`s` as the operation, or as a modifier of `q`/`r` as in `crs`), the
//! wrapper then stamps a build ID member ([`gocache_build::engine::archive`]) and
//! rebuilds the index with the real archiver's `s`.
//!
//! The wrapper never sees the sources, so the action part of the ID covers
//! the member objects, names and content (`Archive::members_action`), and
//! `buildid --verbose` lists the members. An archive that already carries
//! a build ID matching its objects (one stamped by the build.rs helper,
//! whose ID covers the sources) is left as it is.
//!
//! A failure to stamp is a warning: the real archiver's archive is kept
//! byte for byte.

use std::ffi::{OsStr, OsString};

/// The name the archiver wrapper runs under in `cargo gocache` builds: a
/// link to this binary (see `run::archiver_env` for why not `cargo-gocache`).
pub const AR_NAME: &str = "gocache-ar";
use std::path::{Path, PathBuf};
use std::process::Command;

use gocache_build::engine::archive::{self, Archive};

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
    let real = gocache_build::engine::env::var_os("AR")
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

/// Run as the archiver: `args` are `REAL_AR ARGS...`. Returns the exit code.
pub fn run(args: &[OsString]) -> i32 {
    let Some((real, rest)) = args.split_first() else {
        eprintln!("error: usage: cargo-gocache AR ARGS...");
        return 2;
    };
    let status = match Command::new(real).args(rest).status() {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "error: failed to run archiver {}: {e}",
                Path::new(real).display()
            );
            return 1;
        }
    };
    if !status.success() {
        return status.code().unwrap_or(1);
    }
    if let Some(path) = indexed_archive(rest) {
        if let Err(e) = stamp_if_needed(&path, real) {
            eprintln!(
                "gocache: warning: no build ID stamped in {}: {e}",
                path.display()
            );
        }
    }
    0
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
            let _ = gocache_build::engine::store::write_file_atomic(path, &original);
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
