//! The library's error type: what went wrong, and where.

use std::fmt;
use std::io;
use std::path::Path;

/// An error from the cache library, carrying the path or setting it concerns.
///
/// Callers in the compile path never turn these into failed builds: a cache
/// fault is reported as a warning and the real compiler runs (see the crate
/// docs). They become hard errors only in maintenance commands and for bad
/// configuration.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    source: Option<io::Error>,
}

/// What kind of failure an [`Error`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A setting (environment variable, config file) has a value that is not allowed.
    Config,
    /// Reading or writing the cache directory failed.
    Io,
    /// A file is not in the format expected (an archive, an entry, a depfile).
    Format,
    /// Running a tool (the compiler, `ar`) failed.
    Tool,
}

impl Error {
    /// A new error of `kind` with a one-line message.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// An I/O error on `path`, with what was being done (`"create"`, `"read"`, ...).
    pub fn io(what: &str, path: &Path, err: io::Error) -> Error {
        Error {
            kind: ErrorKind::Io,
            message: format!("failed to {what} {}", path.display()),
            source: Some(err),
        }
    }

    /// This error's kind.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            // Printed on one line: "failed to read /x: No such file or directory".
            Some(e) => write!(f, "{}: {e}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_ref().map(|e| e as _)
    }
}

/// Result with the library's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
