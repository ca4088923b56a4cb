//! `cargo:rerun-if-changed` lines that cargo can read back and that never
//! make a build script rerun forever: shared by the build.rs helper and the
//! compiler wrapper (which prints them for cc's compiles under
//! `cargo gocache`; see `cargo-gocache/src/wrapper/rerun.rs`).
//!
//! Cargo reruns a build script when a listed path's mtime is newer than
//! `invoked.timestamp`, the file it writes beside `OUT_DIR` as the script
//! starts. A file the script itself writes during its run (a header
//! generated into `OUT_DIR`, or anywhere) is always newer: listing it would
//! rerun the script on every build. So files under `OUT_DIR`, and files
//! not strictly older than the run's start, are never listed.
//!
//! # Directories
//!
//! The directory each source was found in is listed too ([`watchable_dir`]),
//! so a source added to it (a build script that globs), or removed and put
//! back, reruns the build script: the files listed alone say nothing of a
//! file that is not among them. Given a directory, cargo takes the newest
//! mtime of the directory and of everything below it, recursively,
//! following symlinks (`paths::mtime_recursive` in its fingerprint): an
//! entry added, removed or renamed changes the directory's own mtime, an
//! edit the file's. So the same rule holds for the whole tree: a directory
//! is listed only if it and everything in it is strictly older than the
//! run's start, and never a directory holding `OUT_DIR` (a package root
//! with its `target/` inside) or under it. Nor a repository's root (it
//! holds `.git`, which every git command writes to), nor a tree of more
//! than [`MAX_WATCHED_ENTRIES`] entries (cargo would walk it on every
//! build), nor one with a symlinked directory in it (cargo follows it).
//!
//! The cost: the build script reruns whenever anything in such a directory
//! changes, an editor's swap or backup file included. Under `cargo
//! gocache` such a rerun compiles nothing (every archive's build ID still
//! matches), so it costs the build script's run and its dependents' hits.

use std::path::{Component, Path, PathBuf};
use std::time::SystemTime;

/// The longest line written in one piece: POSIX guarantees atomic pipe
/// writes up to `PIPE_BUF`, 512 bytes at least, 4096 on Linux.
pub const PIPE_BUF: usize = 4096;

/// The start of the current build script's run: the mtime of
/// `invoked.timestamp` beside `out_dir`.
pub fn run_started(out_dir: &Path) -> Option<SystemTime> {
    out_dir
        .parent()?
        .join("invoked.timestamp")
        .metadata()
        .and_then(|m| m.modified())
        .ok()
}

/// Was `path` made (or rewritten) by this run, or is it missing? Under
/// `out_dir`, or not strictly older than `started` (a file written in the
/// same clock tick as the start counts as this run's).
pub fn generated(path: &Path, out_dir: &Path, started: SystemTime) -> bool {
    normalize(path).starts_with(normalize(out_dir))
        || !std::fs::metadata(path)
            .and_then(|m| m.modified())
            .is_ok_and(|t| t < started)
}

/// The most entries (files and directories, recursively) a directory may
/// hold to be listed: cargo walks it on every build.
pub const MAX_WATCHED_ENTRIES: usize = 2048;

/// May `dir`, the directory a source was found in, be listed (see the
/// module docs)? Not under `out_dir` nor holding it, not a repository's
/// root, and it and everything below it strictly older than `started`.
pub fn watchable_dir(dir: &Path, out_dir: &Path, started: SystemTime) -> bool {
    let dir = normalize(dir);
    let out = normalize(out_dir);
    if dir.starts_with(&out) || out.starts_with(&dir) || dir.join(".git").exists() {
        return false;
    }
    let old = |m: &std::fs::Metadata| m.modified().is_ok_and(|t| t < started);
    match std::fs::metadata(&dir) {
        Ok(m) if m.is_dir() && old(&m) => {}
        _ => return false,
    }
    let mut dirs = vec![dir];
    let mut entries = 0;
    while let Some(d) = dirs.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            return false;
        };
        for e in rd {
            entries += 1;
            let Ok(e) = e else { return false };
            let Ok(kind) = e.file_type() else {
                return false;
            };
            let Ok(m) = std::fs::metadata(e.path()) else {
                // A dangling symlink: cargo cannot take its mtime either.
                return false;
            };
            if entries > MAX_WATCHED_ENTRIES || !old(&m) || (kind.is_symlink() && m.is_dir()) {
                return false;
            }
            if m.is_dir() {
                dirs.push(e.path());
            }
        }
    }
    true
}

/// The directories `sources` are in (relative ones against `cwd`), each
/// once, in order.
pub fn source_dirs<'a>(cwd: &Path, sources: impl IntoIterator<Item = &'a Path>) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    for s in sources {
        if let Some(d) = normalize(&cwd.join(s)).parent() {
            if !dirs.iter().any(|x| x == d) {
                dirs.push(d.to_path_buf());
            }
        }
    }
    dirs
}

/// `cargo:rerun-if-changed=PATH\n`, or `None` for a path cargo cannot take
/// back: not UTF-8 (cargo reads its directives as UTF-8), holding a line
/// break (the line would split), ending in whitespace (cargo trims the
/// line), or too long for one atomic pipe write. Spaces inside a path are
/// fine: cargo takes the rest of the line after `=`.
pub fn directive(path: &Path) -> Option<String> {
    let s = path.to_str()?;
    if s.contains(['\n', '\r']) || s.ends_with(char::is_whitespace) {
        return None;
    }
    // The old `cargo:` spelling: `cargo::` needs cargo 1.77 and is refused
    // for packages declaring an older `rust-version`.
    let line = format!("cargo:rerun-if-changed={s}\n");
    (line.len() <= PIPE_BUF).then_some(line)
}

/// `path` with `.` and `..` resolved lexically, so `inc/../../x.h` is not
/// taken for a file under `inc`. (A symlinked directory followed by `..`
/// resolves differently on disk: such a path is then either outside the
/// trees compared with, or names the file the compiler read.)
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push(c);
                }
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directives_for_paths_cargo_can_read_back() {
        assert_eq!(
            directive(Path::new("/w/my crate/inc/a b.h")).as_deref(),
            Some("cargo:rerun-if-changed=/w/my crate/inc/a b.h\n")
        );
        assert_eq!(directive(Path::new("/w/x\n.h")), None);
        assert_eq!(directive(Path::new("/w/trailing ")), None);
        #[cfg(unix)]
        {
            use std::ffi::OsStr;
            use std::os::unix::ffi::OsStrExt;
            assert_eq!(directive(Path::new(OsStr::from_bytes(b"/w/\xff.h"))), None);
        }
        assert_eq!(directive(&Path::new("/").join("a".repeat(PIPE_BUF))), None);
    }

    #[test]
    fn normalize_resolves_dots_lexically() {
        assert_eq!(
            normalize(Path::new("/w/pkg/./inc/../../other/x.h")),
            Path::new("/w/other/x.h")
        );
    }

    #[test]
    fn watched_dirs_are_old_small_and_apart_from_out_dir() {
        let tmp = std::env::temp_dir().join(format!("gocache-rerun-dirs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        let src = tmp.join("pkg/csrc");
        let out = tmp.join("pkg/target/debug/build/x/out");
        std::fs::create_dir_all(src.join("sub")).unwrap();
        std::fs::create_dir_all(&out).unwrap();
        std::fs::write(src.join("a.c"), "").unwrap();
        std::fs::write(src.join("sub/b.c"), "").unwrap();
        let later = SystemTime::now() + std::time::Duration::from_secs(5);
        assert!(watchable_dir(&src, &out, later));
        // Holding OUT_DIR (its target directory inside), or under it.
        assert!(!watchable_dir(&tmp.join("pkg"), &out, later));
        assert!(!watchable_dir(&out, &out, later));
        assert!(!watchable_dir(&out.join("gen"), &out, later));
        // Something in it as new as the run (generated by it).
        assert!(!watchable_dir(&src, &out, SystemTime::UNIX_EPOCH));
        // A repository's root.
        std::fs::create_dir_all(src.join(".git")).unwrap();
        assert!(!watchable_dir(&src, &out, later));
        std::fs::remove_dir_all(src.join(".git")).unwrap();
        // Too big to walk on every build.
        for i in 0..=MAX_WATCHED_ENTRIES {
            std::fs::write(src.join(format!("f{i}.c")), "").unwrap();
        }
        assert!(!watchable_dir(&src, &out, later));
        assert_eq!(
            source_dirs(
                &tmp,
                [
                    Path::new("pkg/csrc/a.c"),
                    Path::new("pkg/csrc/./x.c"),
                    Path::new("/o/y.c")
                ]
            ),
            [src.clone(), PathBuf::from("/o")]
        );
        let _ = std::fs::remove_dir_all(&tmp);
    }

    #[test]
    fn generated_means_under_out_dir_or_not_older_than_the_run() {
        let tmp = std::env::temp_dir().join(format!("gocache-rerun-{}", std::process::id()));
        let out = tmp.join("out");
        std::fs::create_dir_all(&out).unwrap();
        let (old, gen) = (tmp.join("old.h"), out.join("gen.h"));
        std::fs::write(&old, "").unwrap();
        std::fs::write(&gen, "").unwrap();
        let later = SystemTime::now() + std::time::Duration::from_secs(5);
        assert!(!generated(&old, &out, later));
        assert!(generated(&gen, &out, later));
        assert!(generated(&out.join("../out/gen.h"), &out, later));
        assert!(generated(&tmp.join("missing.h"), &out, later));
        assert!(generated(&old, &out, SystemTime::UNIX_EPOCH));
        let _ = std::fs::remove_dir_all(&tmp);
    }
}
