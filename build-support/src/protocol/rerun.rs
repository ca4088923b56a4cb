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
