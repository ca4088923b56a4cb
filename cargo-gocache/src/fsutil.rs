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
