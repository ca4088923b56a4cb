//! The engine's errors: the [`gocache_build::Error`] type the build.rs
//! helper reports too (one type for "a setting is wrong", "the store could
//! not be read", "a file is not an archive", "a tool failed"), and a way to
//! attach a path to an `io::Result`.
//!
//! Nothing here fails a build: the wrappers turn every engine error into a
//! warning and run the real tool; the maintenance commands print it once
//! (`error: ...`).

use std::io;
use std::path::PathBuf;

pub use gocache_build::{Error, ErrorKind, Result};

/// Attach what was being done and to which path to an `io::Result`.
pub trait IoContext<T> {
    /// `failed to {what} {path}: {the io error}`.
    fn with_path(self, what: &str, path: impl Into<PathBuf>) -> Result<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn with_path(self, what: &str, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|e| Error::io(what, &path.into(), e))
    }
}
