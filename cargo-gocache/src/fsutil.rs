//! Writing files so that no reader ever sees part of one: a temporary
//! file beside the destination, then a rename. Its own module so that the
//! store and the run registry ([`crate::run`]) both use it without
//! depending on each other (issue 9: `store` reads `run::current`, and
//! `run` wrote `runs/current` through `store`).

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Error, IoContext, Result};

/// File stamps (size, mtime, ctime) younger than this are not taken to
/// stand for a file's content: a later change in the same tick of the file
/// system's clock could leave them as they are. The racy-stamp rule of
/// `crate::wrapper::filememo`, and of what the observing process remembers
/// for a run (`crate::observe::delegate`).
pub const RACY: std::time::Duration = std::time::Duration::from_secs(2);

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

fn temp_name(final_name: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos();
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(
        ".tmp-{}-{}-{nanos:x}-{n}-{final_name}",
        std::process::id(),
        thread_id()
    )
}

fn thread_id() -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    std::thread::current().id().hash(&mut h);
    h.finish() & 0xffff
}

/// Write `bytes` to `dir/name` atomically: a temporary file in `dir`, then
/// a rename over the old file, so a concurrent reader opens the old file or
/// the new one, never none (how the store replaces its own files).
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    write_then_rename(dir, name, bytes, false)
}

fn write_then_rename(dir: &Path, name: &str, bytes: &[u8], unlink_first: bool) -> Result<()> {
    let tmp = dir.join(temp_name(name));
    let result = (|| {
        let mut f = File::create_new(&tmp).with_path("create", &tmp)?;
        f.write_all(bytes).with_path("write", &tmp)?;
        drop(f);
        let dest = dir.join(name);
        if unlink_first && fs::symlink_metadata(&dest).is_ok_and(|m| m.is_file()) {
            let _ = fs::remove_file(&dest);
        }
        fs::rename(&tmp, &dest).with_path("rename into place", &dest)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Write `bytes` to `path`, never leaving it partly written; the directory
/// must exist.
///
/// The file is written beside `path` and renamed onto it, after removing an
/// existing regular file of that name: `path` is then briefly absent, but
/// never holds part of the new bytes. Why remove first: on ext4 (and others
/// with the same safeguard) renaming over an existing file forces the new
/// file's data to disk before the rename returns (`auto_da_alloc`), which
/// cost a hit 0.3 to 0.7 ms here, a quarter of its time, where a rename onto
/// a free name costs microseconds. Outputs placed in a build's tree are not
/// read while the step that makes them runs, so the gap is not observable
/// there; the store's own files, which other processes read at any time,
/// are replaced by a plain rename ([`write_atomic`]).
pub fn write_file_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path.file_name().ok_or_else(|| {
        Error::new(
            crate::error::ErrorKind::Io,
            format!("not a file path: {}", path.display()),
        )
    })?;
    write_then_rename(dir, &name.to_string_lossy(), bytes, true)
}

/// [`std::fs::canonicalize`] for a wrapper process, which canonicalises
/// the same directories over and over (the relocation map's, every search
/// directory, every system directory) and runs traced inside an observed
/// build script, where each `readlink` is a stop: a `realpath` makes one
/// per component, about a hundred a compile. Here each component is
/// resolved once per process: a memo keyed by the resolved parent and the
/// name, so `/usr/lib/gcc/x86_64-linux-gnu/12/include` and `.../include-fixed`
/// share their first five.
///
/// The memo lives as long as the process, and is on only in a process
/// that turned it on ([`memoise_canonical`]): a compiler wrapper, which
/// lives for one compile. Never in one that outlives a build step in which
/// links may change (the observing process, `cargo gocache` itself, the
/// unit tests' one process). Relative paths are resolved against the
/// working directory by `std`, unmemoised.
pub fn canonicalize_memo(path: &Path) -> std::io::Result<std::path::PathBuf> {
    #[cfg(unix)]
    if path.is_absolute() && MEMOISE.load(Ordering::Relaxed) {
        static MEMO: std::sync::Mutex<Option<Memo>> = std::sync::Mutex::new(None);
        let mut guard = MEMO.lock().unwrap_or_else(|e| e.into_inner());
        let memo = guard.get_or_insert_with(Memo::default);
        return memo.canonicalize(path);
    }
    fs::canonicalize(path)
}

static MEMOISE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Turn [`canonicalize_memo`]'s memo on for the rest of this process
/// (and `PATH` searches': [`memoising`]).
pub fn memoise_canonical() {
    MEMOISE.store(true, Ordering::Relaxed);
}

/// Did this process turn the memos of [`memoise_canonical`] on: a compiler
/// wrapper, which lives for one compile?
pub fn memoising() -> bool {
    MEMOISE.load(Ordering::Relaxed)
}

/// Resolved components, and the resolved paths known to be directories.
#[cfg(unix)]
#[derive(Default)]
struct Memo {
    resolved: std::collections::HashMap<std::path::PathBuf, std::path::PathBuf>,
    dirs: std::collections::HashSet<std::path::PathBuf>,
}

#[cfg(unix)]
impl Memo {
    /// `path` (absolute) canonicalised, through and into the memo.
    fn canonicalize(&mut self, path: &Path) -> std::io::Result<std::path::PathBuf> {
        resolve(self, path, &mut 40)
    }
}

/// `path` (absolute) resolved as `realpath` does, a `readlink` per
/// component not in the memo, following at most `budget` more links
/// (ELOOP past it, as the kernel's 40).
#[cfg(unix)]
fn resolve(memo: &mut Memo, path: &Path, budget: &mut u32) -> std::io::Result<std::path::PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    use std::path::{Component, PathBuf};
    fn not_dir() -> std::io::Error {
        std::io::Error::from_raw_os_error(libc::ENOTDIR)
    }
    // `..` (and a trailing `/` or `/.`, which `Path` drops) needs what is
    // before it to be a directory; a name after a file fails its own
    // `readlink` (ENOTDIR) without being asked.
    fn need_dir(memo: &mut Memo, p: &Path) -> std::io::Result<()> {
        if p == Path::new("/") || memo.dirs.contains(p) {
            return Ok(());
        }
        if fs::metadata(p)?.is_dir() {
            memo.dirs.insert(p.to_path_buf());
            Ok(())
        } else {
            Err(not_dir())
        }
    }
    {
        let mut resolved = PathBuf::from("/");
        for c in path.components() {
            match c {
                Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
                Component::ParentDir => {
                    need_dir(memo, &resolved)?;
                    resolved.pop();
                }
                Component::Normal(name) => {
                    let at = resolved.join(name);
                    if let Some(known) = memo.resolved.get(&at) {
                        resolved = known.clone();
                        continue;
                    }
                    match fs::read_link(&at) {
                        Ok(target) => {
                            if *budget == 0 {
                                return Err(std::io::Error::from_raw_os_error(libc::ELOOP));
                            }
                            *budget -= 1;
                            // A relative target is read from the link's directory.
                            let real = resolve(memo, &resolved.join(target), budget)?;
                            memo.resolved.insert(at, real.clone());
                            resolved = real;
                        }
                        // Not a link: this component resolves to itself.
                        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                            memo.resolved.insert(at.clone(), at.clone());
                            resolved = at;
                        }
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        let raw = path.as_os_str().as_bytes();
        if raw.ends_with(b"/") || raw.ends_with(b"/.") {
            need_dir(memo, &resolved)?;
        }
        Ok(resolved)
    }
}

/// What identifies one version of a file: compared by `crate::direct::stamp`
/// (inputs held still during a compile) and `crate::direct::factmemo`. Here,
/// below both: `stamp` reports through `manifest`, which calls `factmemo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// Device.
    pub dev: u64,
    /// Inode.
    pub ino: u64,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, nanoseconds since the epoch.
    pub mtime_ns: i128,
    /// Status change time, nanoseconds since the epoch.
    pub ctime_ns: i128,
}

impl Stamp {
    /// The stamp of the file at `path` (following symlinks); `None` if it
    /// cannot be read.
    pub fn of(path: &Path) -> Option<Stamp> {
        fs::metadata(path).ok().map(|m| Stamp::of_meta(&m))
    }

    /// The stamp `meta` gives.
    #[cfg(unix)]
    pub fn of_meta(meta: &fs::Metadata) -> Stamp {
        use std::os::unix::fs::MetadataExt;
        Stamp {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime_ns: meta.mtime() as i128 * 1_000_000_000 + meta.mtime_nsec() as i128,
            ctime_ns: meta.ctime() as i128 * 1_000_000_000 + meta.ctime_nsec() as i128,
        }
    }

    /// Without inodes and ctimes, the mtime stands in for both.
    #[cfg(not(unix))]
    pub fn of_meta(meta: &fs::Metadata) -> Stamp {
        let mtime_ns =
            meta.modified()
                .ok()
                .map_or(0, |t| match t.duration_since(std::time::UNIX_EPOCH) {
                    Ok(d) => d.as_nanos() as i128,
                    Err(e) => -(e.duration().as_nanos() as i128),
                });
        Stamp {
            dev: 0,
            ino: 0,
            size: meta.len(),
            mtime_ns,
            ctime_ns: mtime_ns,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The memoised canonicalisation gives what `std`'s does (or fails
    /// where it fails), on random trees of directories, files and links
    /// (absolute, relative, dangling, through `..`), asked twice so that
    /// the second answer comes from the memo.
    #[test]
    fn canonicalize_memo_agrees_with_realpath() {
        let dir = tempfile::tempdir().unwrap();
        let mut agreed = 0;
        for seed in 0..60u64 {
            let mut next = crate::testing::picker(seed);
            let root = dir.path().join(seed.to_string());
            fs::create_dir_all(&root).unwrap();
            let tree = crate::testing::RandomTree { root: root.clone() };
            let mut memo = Memo::default();
            for _ in 0..30 {
                let p = tree.path(&mut next, false);
                tree.make(&p, &mut next);
            }
            // Relative links too, some through `..`, one a loop.
            for (name, target) in [
                ("r1", "a"),
                ("r2", "../a/.."),
                ("r3", "b/../c.h"),
                ("r4", "r4"),
            ] {
                let at = tree.path(&mut next, false).with_file_name(name);
                let _ = fs::create_dir_all(at.parent().unwrap());
                let _ = std::os::unix::fs::symlink(target, &at);
            }
            for _ in 0..40 {
                let p = tree.path(&mut next, true);
                for _ in 0..2 {
                    let want = fs::canonicalize(&p).ok();
                    let got = memo.canonicalize(&p).ok();
                    assert_eq!(got, want, "seed {seed}: {}", p.display());
                    agreed += usize::from(want.is_some());
                }
            }
        }
        assert!(agreed > 500, "only {agreed} paths resolved");
    }
}
