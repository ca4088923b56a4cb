//! `cargo:rerun-if-changed` for the sources and headers of a build
//! script's compiles, so an edit to your own C rebuilds it (issue 12).
//!
//! # Why
//!
//! A build script that prints any `rerun-if-*` line turns off cargo's
//! default (rerun when any file of the package changes). `cc` prints
//! `rerun-if-env-changed` for `CC`, `CFLAGS` and the like, but never
//! `rerun-if-changed` for what it compiles: with plain cargo, an edit to a
//! header or a C source of a crate's own C is not rebuilt. The wrapper sees
//! every file of every compile (the depfile of a miss, the stored header
//! list of a hit), so under `cargo gocache` it prints them.
//!
//! # How the lines reach cargo
//!
//! `cc` runs the compiler with its stdout inherited from the build script
//! (`OutputKind::Forward`, the default, in cc's `command_helpers.rs`), and
//! cargo reads the build script's stdout for directives. The wrapper
//! writes one `cargo:rerun-if-changed=PATH` line per `write(2)` on fd 1:
//! a pipe write of at most `PIPE_BUF` bytes is atomic, so the lines of
//! parallel compiles never interleave. The lines go before the compiler's
//! own stdout is replayed, so a compiler output without a final newline
//! cannot run into them. (`cargo_output(false)` sends the compiler's stdout
//! to `/dev/null`: nothing reaches cargo, as without gocache.)
//!
//! # When (every condition must hold; otherwise nothing is printed)
//!
//! - **Under `cargo gocache`**: the process belongs to a run
//!   ([`crate::run::current`]); a wrapper used on its own prints
//!   nothing.
//! - **In a build script, run by cc**: `CARGO_MANIFEST_DIR` and `OUT_DIR`
//!   are set and the wrapper's parent process is the build script itself
//!   (its executable is `build-script-*`, read from `/proc`). cc, unless
//!   told `cargo_metadata(false)`, has by then printed its
//!   `rerun-if-env-changed` lines, so cargo's default is already off and
//!   these lines only add to what it watches. Compiles run by make or
//!   CMake are not reported: their build scripts (the `cmake` crate prints
//!   no `rerun-if` line) usually keep cargo's default, which already reruns
//!   them on any edit of the package, and a line from us would narrow it to
//!   the C files, so an edit of `CMakeLists.txt` would be missed. Off Linux
//!   (no `/proc`) nothing is reported. The one case this rule gets wrong: a
//!   build script that turns cc's metadata off and prints no `rerun-if`
//!   line of its own is narrowed to its C files.
//! - **A path package**: the build script's package is not under the
//!   cargo home (registry and git sources) and has no `.cargo-ok` or
//!   `.cargo-checksum.json` (registry and vendored sources). Its files do
//!   not change, so watching them costs cargo stats for nothing.
//! - **The run's start is known**: cargo writes `invoked.timestamp` beside
//!   `OUT_DIR` as the build script starts and compares every
//!   `rerun-if-changed` path's mtime with it on the next build.
//!
//! # Which files
//!
//! Only files that can be edited and matter: under the build script's
//! package or the workspace root, not under the target directory (the
//! nearest ancestor of `OUT_DIR` holding cargo's `CACHEDIR.TAG`, so every
//! `OUT_DIR` of the build is out), not under the cargo home, and **older
//! than the run's start**: a file the build script generated (or touched)
//! during this run would be newer than `invoked.timestamp` on every next
//! build, and cargo would rerun the script forever. System headers are
//! outside those trees. Paths cargo cannot take are skipped: not UTF-8
//! (cargo reads directives as UTF-8), holding a line break (the line would
//! split), or ending in whitespace (cargo trims the line); spaces inside a
//! path are fine, as cargo takes the rest of the line after `=`.
//!
//! And the directory of the compile's source, so a source added there (a
//! build script that globs), or removed and put back, reruns the build
//! script: under the same roots and exclusions, and never a directory
//! holding an excluded one (a package root with its `target/`), with the
//! rules for directories of `gocache_build::protocol::rerun` (old, small,
//! not a repository's root).
//!
//! A hit reports from its stored header list, a miss (cached or found
//! uncacheable after compiling) from the depfile it made; a compile that
//! fails, or that is not a cacheable compile (link, `-E`...), reports
//! nothing: a wrong list is worse than none, and a failed build script
//! reruns anyway.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::SystemTime;

use crate::Store;
use gocache_build::protocol::rerun::{
    directive, normalize, run_started, source_dirs, watchable_dir,
};

/// What decides whether and which files are reported; found once per
/// process.
#[derive(Debug)]
pub struct Reporter {
    /// Files under these are reported...
    roots: Vec<PathBuf>,
    /// ...unless under these.
    excluded: Vec<PathBuf>,
    /// The build script's `OUT_DIR` (a directory holding it is never listed).
    out_dir: PathBuf,
    /// The build script's start (`invoked.timestamp`).
    started: SystemTime,
}

/// The reporter for this process, or `None` when nothing is to be reported
/// (see the module docs).
pub fn reporter(store: &Store) -> Option<&'static Reporter> {
    static R: OnceLock<Option<Reporter>> = OnceLock::new();
    R.get_or_init(|| Reporter::new(store)).as_ref()
}

impl Reporter {
    fn new(store: &Store) -> Option<Reporter> {
        crate::run::current(store.root())?;
        let var = |n: &str| crate::env::var_os(n).filter(|v| !v.is_empty());
        let manifest_dir = normalize(Path::new(&var("CARGO_MANIFEST_DIR")?));
        let out_dir = normalize(Path::new(&var("OUT_DIR")?));
        if !parent_is_build_script() {
            return None;
        }
        let cargo_home = var("CARGO_GOCACHE_CARGO_HOME").map(|h| normalize(Path::new(&h)));
        let foreign = cargo_home
            .as_ref()
            .is_some_and(|h| manifest_dir.starts_with(h))
            || manifest_dir.join(".cargo-ok").exists()
            || manifest_dir.join(".cargo-checksum.json").exists();
        if foreign {
            return None;
        }
        let started = run_started(&out_dir)?;
        let target_dir = out_dir
            .ancestors()
            .find(|d| d.join("CACHEDIR.TAG").is_file())?
            .to_path_buf();
        let mut roots = vec![manifest_dir];
        roots.extend(var("CARGO_GOCACHE_WORKSPACE").map(|w| normalize(Path::new(&w))));
        let mut excluded = vec![target_dir, out_dir.clone()];
        excluded.extend(cargo_home);
        Some(Reporter {
            roots,
            excluded,
            out_dir,
            started,
        })
    }

    /// Print the lines for the directory of `source` and for `files`
    /// (relative ones are relative to `cwd`).
    pub fn report<P: AsRef<Path>>(
        &self,
        cwd: &Path,
        source: &Path,
        files: impl IntoIterator<Item = P>,
    ) {
        for dir in source_dirs(cwd, [source]) {
            if self.wanted_dir(&dir) {
                if let Some(line) = directive(&dir) {
                    write_line(line.as_bytes());
                }
            }
        }
        let mut seen = HashSet::new();
        for f in files {
            let path = normalize(&crate::cmdline::absolute(cwd, f.as_ref()));
            if !seen.insert(path.clone()) || !self.wanted(&path) {
                continue;
            }
            if let Some(line) = directive(&path) {
                write_line(line.as_bytes());
            }
        }
    }

    /// A source's directory: under a root, apart from every excluded
    /// directory (neither under one nor holding one: a package root with
    /// its `target/` inside), and old, small and quiet enough for cargo to
    /// watch ([`watchable_dir`]).
    fn wanted_dir(&self, dir: &Path) -> bool {
        self.roots.iter().any(|r| dir.starts_with(r))
            && !self
                .excluded
                .iter()
                .any(|e| dir.starts_with(e) || e.starts_with(dir))
            && watchable_dir(dir, &self.out_dir, self.started)
    }

    fn wanted(&self, path: &Path) -> bool {
        if !self.roots.iter().any(|r| path.starts_with(r))
            || self.excluded.iter().any(|e| path.starts_with(e))
        {
            return false;
        }
        // Strictly older than the run: a file generated or rewritten during
        // it (even in the same clock tick) is not reported.
        std::fs::metadata(path)
            .and_then(|m| m.modified())
            .is_ok_and(|t| t < self.started)
    }
}

/// One `write(2)` of the whole line on fd 1 (`Stdout` may split a line
/// into several writes around its buffer). Best effort: a closed stdout
/// must not fail the compile.
#[cfg(unix)]
fn write_line(line: &[u8]) {
    use std::io::Write;
    use std::mem::ManuallyDrop;
    use std::os::fd::FromRawFd;
    // Anything buffered in Rust's stdout goes first, in order.
    let _ = std::io::stdout().flush();
    // SAFETY: fd 1 stays open for the life of the process; ManuallyDrop
    // keeps this handle from closing it.
    let mut out = ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(1) });
    let _ = out.write_all(line);
}

#[cfg(not(unix))]
fn write_line(line: &[u8]) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(line);
    let _ = out.flush();
}

/// Is the parent process a cargo build script (cc's compile, not one run
/// by make or CMake)? Cargo names it `build-script-<name>` (its hard link)
/// or `build_script_<name>-<hash>`.
pub(crate) fn parent_is_build_script() -> bool {
    parent_program()
        .is_some_and(|n| n.starts_with("build-script-") || n.starts_with("build_script_"))
}

/// The file name of the parent process's program (`/proc/<ppid>/exe`).
#[cfg(target_os = "linux")]
pub(crate) fn parent_program() -> Option<String> {
    let ppid = std::os::unix::process::parent_id();
    std::fs::read_link(format!("/proc/{ppid}/exe"))
        .ok()?
        .file_name()?
        .to_str()
        .map(str::to_string)
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn parent_program() -> Option<String> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fs_dir(d: &Path) {
        std::fs::create_dir_all(d).unwrap();
        std::fs::write(d.join("a.c"), "").unwrap();
    }

    #[test]
    fn only_old_files_under_the_roots_and_outside_the_exclusions() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("pkg");
        let target = root.join("target");
        std::fs::create_dir_all(&target).unwrap();
        let old = root.join("old.h");
        let in_target = target.join("gen.h");
        let outside = tmp.path().join("outside.h");
        for f in [&old, &in_target, &outside] {
            std::fs::write(f, "").unwrap();
        }
        let started = SystemTime::now() + std::time::Duration::from_secs(5);
        let r = Reporter {
            roots: vec![root.clone()],
            excluded: vec![target.clone()],
            out_dir: target.join("debug/build/x/out"),
            started,
        };
        assert!(r.wanted(&old));
        assert!(!r.wanted(&in_target));
        assert!(!r.wanted(&outside));
        assert!(!r.wanted(&root.join("missing.h")));
        // Directories: a source's own, not the package root holding the
        // target directory, nothing outside the roots.
        fs_dir(&root.join("csrc"));
        assert!(r.wanted_dir(&root.join("csrc")));
        assert!(!r.wanted_dir(&root));
        assert!(!r.wanted_dir(tmp.path()));
        // A file newer than the run's start: generated by this run.
        let r = Reporter {
            started: SystemTime::UNIX_EPOCH,
            ..r
        };
        assert!(!r.wanted(&old));
    }
}
