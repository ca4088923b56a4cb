//! The cross-process breaker: failures in a row, counted in a file shared by
//! every process of one build, after which the remote is skipped (see the
//! module docs of [`super`]).

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::{FAILURE_LIMIT, SKIP_EXPIRY};

/// The failure count shared by the processes of one build.
pub(super) struct Breaker {
    pub(super) file: PathBuf,
    /// Expire a skip after [`SKIP_EXPIRY`] (standalone use).
    pub(super) expires: bool,
}

impl Breaker {
    pub(super) fn failures(&self) -> u64 {
        match fs::metadata(&self.file) {
            Ok(m) => {
                let stale = self.expires
                    && m.modified()
                        .ok()
                        .and_then(|t| SystemTime::now().duration_since(t).ok())
                        .is_some_and(|d| d > SKIP_EXPIRY);
                if stale {
                    0
                } else {
                    m.len()
                }
            }
            Err(_) => 0,
        }
    }

    pub(super) fn open(&self) -> bool {
        self.failures() >= FAILURE_LIMIT
    }

    /// Count a failure (a `fatal` one, which no retry can mend, as
    /// [`FAILURE_LIMIT`] of them); if this one opened the breaker, the
    /// marker file this process won: it prints the warning and writes it
    /// there too.
    pub(super) fn failure(&self, fatal: bool) -> Option<fs::File> {
        if let Some(d) = self.file.parent() {
            let _ = fs::create_dir_all(d);
        }
        if self.expires && self.failures() == 0 {
            let _ = fs::remove_file(&self.file);
        }
        // One byte per failure: O_APPEND keeps concurrent counts exact.
        let count = if fatal { FAILURE_LIMIT as usize } else { 1 };
        let _ = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.file)
            .and_then(|mut f| f.write_all(&b"x".repeat(count)));
        if self.failures() < FAILURE_LIMIT {
            return None;
        }
        // Exactly one process of the build wins the marker and warns.
        let marker = self.file.with_extension("warned");
        if self.expires {
            if let Ok(m) = fs::metadata(&marker) {
                if m.modified()
                    .ok()
                    .and_then(|t| SystemTime::now().duration_since(t).ok())
                    .is_some_and(|d| d > SKIP_EXPIRY)
                {
                    let _ = fs::remove_file(&marker);
                }
            }
        }
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&marker)
            .ok()
    }

    pub(super) fn success(&self) {
        if fs::metadata(&self.file).is_ok_and(|m| m.len() > 0) {
            let _ = OpenOptions::new()
                .write(true)
                .open(&self.file)
                .and_then(|f| f.set_len(0));
        }
    }
}

/// The failure count shared by the processes of the `cargo gocache` run
/// whose log is `run_log`.
pub(super) fn run_failures_file(run_log: &Path) -> PathBuf {
    let mut name = run_log.as_os_str().to_owned();
    name.push(".remote-failures");
    PathBuf::from(name)
}
