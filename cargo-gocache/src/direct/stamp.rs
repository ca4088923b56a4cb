//! Did a compile's inputs change while it ran? Full stamps before and after.
//!
//! The result of a compile is stored under the hashes of its inputs taken
//! *after* it ran (the headers are only known from its depfile). If a file
//! was replaced while the compiler ran, the object was built from the old
//! content and would be stored under the new content's hash, and served
//! from then on. An mtime check alone misses a replacement that keeps the
//! old mtime (`cp -p`, `rsync -a`, `tar x`), so, before the compile, every
//! input known then (the source, and every header the manifest of this
//! pre-key lists) gets a full [`Stamp`] (device, inode, size, mtime and
//! ctime; ctime cannot be set back by anyone), and after the compile (and
//! after its inputs were read and hashed for the manifest) every file the
//! depfile lists is stamped again:
//!
//! * a file stamped before must have the very same stamp;
//! * a file not known before must have its mtime and ctime older than the
//!   compile's start.
//!
//! A file known before may carry a time from the compile's own clock tick
//! (`configure` writes `conftest.c` and compiles it at once): the stamp
//! alone cannot tell a write in that tick before the stamp from one after
//! it, so the source is also read again after its first stamp and before
//! the compile, and must be what the pre-key hashed; `manifest::observe`
//! then takes such a fresh file only if the bytes it hashes after the
//! compile are those same bytes (`ObserveOptions::held`).
//!
//! Any difference makes the result uncacheable
//! ([`NotCacheable::ModifiedDuringCompile`], counted as
//! `modified-during-compile`). Stamping after the hashing closes the last
//! window: a file replaced after its second stamp was hashed before the
//! replacement, so what was hashed is what was compiled.
//!
//! The compile's start is read from the file system's own clock (a file
//! created just before, see [`Before::take`]), because file times advance
//! by kernel ticks and may read earlier than `SystemTime::now()`.
//!
//! Limit: on file systems with whole-second timestamps, a replacement within
//! the same second as the first stamp that keeps size, inode and mtime is
//! not seen (ext4, xfs, btrfs, tmpfs and APFS keep nanoseconds).

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::direct::manifest::NotCacheable;

pub use crate::fsutil::Stamp;

impl Stamp {
    /// [`Stamp::of`] each path: by the observing process when this one
    /// runs inside an observed build script (see
    /// `crate::observe::stamps_beside`), else here.
    pub fn of_many(paths: &[PathBuf]) -> Vec<Option<Stamp>> {
        if let Some(stamps) = crate::observe::stamps_beside(paths) {
            return stamps
                .into_iter()
                .map(|s| {
                    s.map(|(dev, ino, size, mtime_ns, ctime_ns)| Stamp {
                        dev,
                        ino,
                        size,
                        mtime_ns,
                        ctime_ns,
                    })
                })
                .collect();
        }
        paths.iter().map(|p| Stamp::of(p)).collect()
    }
}

/// The time as the kernel stamps files now: a file created in `dir`, its
/// ctime read, the file removed. Stamps come from a clock that advances by
/// ticks (milliseconds), so a file changed just after `SystemTime::now()`
/// can carry a time before it; compared with this reading instead, any
/// change made from now on has a ctime at or after it. (A change made
/// earlier in the same tick counts too: at worst a compile not cached.)
fn fs_now(dir: &Path) -> Option<i128> {
    let nonce = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .ok()?
        .subsec_nanos();
    let path = dir.join(format!(".gocache-clock-{}-{nonce:x}", std::process::id()));
    let file = fs::File::create_new(&path).ok()?;
    let stamp = file.metadata().ok().map(|m| Stamp::of_meta(&m).ctime_ns);
    drop(file);
    let _ = fs::remove_file(&path);
    stamp
}

fn nanos(t: SystemTime) -> i128 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i128,
        Err(e) => -(e.duration().as_nanos() as i128),
    }
}

/// The stamps taken before a compile; see the module docs.
#[derive(Debug, Clone)]
pub struct Before {
    started: i128,
    stamps: HashMap<PathBuf, Option<Stamp>>,
}

impl Before {
    /// Note the time, then stamp `known` (absolute paths): call it just
    /// before running the compiler. `clock_dir`, a writable directory, is
    /// where the file system's own clock is read (the module docs say why).
    pub fn take(known: impl IntoIterator<Item = PathBuf>, clock_dir: Option<&Path>) -> Before {
        let fine = nanos(SystemTime::now());
        let started = clock_dir.and_then(fs_now).map_or(fine, |t| t.min(fine));
        let known: Vec<PathBuf> = known.into_iter().collect();
        let stamps = Stamp::of_many(&known);
        Before {
            started,
            stamps: known.into_iter().zip(stamps).collect(),
        }
    }

    /// When the compile started.
    pub fn started(&self) -> SystemTime {
        let d = std::time::Duration::from_nanos(self.started.max(0) as u64);
        SystemTime::UNIX_EPOCH + d
    }

    /// The stamp taken of `path` before the compile, if it was known then.
    pub fn stamp(&self, path: &Path) -> Option<Stamp> {
        self.stamps.get(path).copied().flatten()
    }

    /// After the compile, and after `files` (absolute, as the depfile
    /// lists them) were read and hashed: did any of them change since the
    /// compile started?
    pub fn check(&self, files: &[PathBuf]) -> Result<(), NotCacheable> {
        for (f, now) in files.iter().zip(Stamp::of_many(files)) {
            let Some(now) = now else {
                return Err(NotCacheable::Unreadable(f.clone()));
            };
            let changed = match self.stamps.get(f) {
                Some(before) => *before != Some(now),
                None => now.mtime_ns >= self.started || now.ctime_ns >= self.started,
            };
            if changed {
                return Err(NotCacheable::ModifiedDuringCompile(f.clone()));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Set a file's mtime to a fixed past time, as `cp -p` does.
    fn set_old_mtime(path: &Path) {
        let old = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_500_000_000);
        fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(old)
            .unwrap();
    }

    #[test]
    fn a_replacement_that_keeps_size_and_mtime_is_seen() {
        let d = tempfile::tempdir().unwrap();
        let (known, unknown, calm) = (
            d.path().join("k.h"),
            d.path().join("u.h"),
            d.path().join("c.h"),
        );
        for p in [&known, &unknown, &calm] {
            fs::write(p, "int a;\n").unwrap();
            set_old_mtime(p);
        }
        // Old enough that its ctime is before the start on any clock.
        std::thread::sleep(std::time::Duration::from_millis(30));
        let before = Before::take([known.clone(), calm.clone()], Some(d.path()));
        assert!(before
            .check(&[known.clone(), unknown.clone(), calm.clone()])
            .is_ok());
        // What `cp -p new.h u.h` does: same size, the old mtime restored.
        for p in [&known, &unknown] {
            fs::write(p, "int b;\n").unwrap();
            set_old_mtime(p);
        }
        for p in [&known, &unknown] {
            assert_eq!(
                before.check(std::slice::from_ref(p)).unwrap_err(),
                NotCacheable::ModifiedDuringCompile(p.clone())
            );
        }
        assert!(before.check(std::slice::from_ref(&calm)).is_ok());
        fs::remove_file(&calm).unwrap();
        assert_eq!(
            before
                .check(std::slice::from_ref(&calm))
                .unwrap_err()
                .reason(),
            "unreadable-input"
        );
    }
}
