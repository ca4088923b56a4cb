//! Machine-specific directory prefixes mapped to stable names.
//!
//! Keys and manifests must not name the checkout, the target directory or
//! the user's `$CARGO_HOME`, or a second checkout (or another user, or a CI
//! runner) could never hit. A [`PathMap`] replaces each known prefix by a
//! name such as `$WORKSPACE`; the compile itself is given the same mapping
//! through `-ffile-prefix-map`, so the object is the same bytes wherever it
//! was built.

use std::path::{Path, PathBuf};

/// An ordered set of `real prefix -> stable name` mappings; the longest
/// matching prefix wins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathMap {
    entries: Vec<(PathBuf, String)>,
}

impl PathMap {
    /// An empty map (every path maps to itself).
    pub fn new() -> PathMap {
        PathMap::default()
    }

    /// Map the directory `real` (absolute) to `name` (e.g. `/gocache/workspace`).
    pub fn add(&mut self, real: impl Into<PathBuf>, name: impl Into<String>) {
        let real = real.into();
        let name = name.into();
        self.entries.retain(|(r, _)| *r != real);
        self.entries.push((real, name));
        // Longest prefix first, so nested mappings (OUT_DIR inside the
        // workspace's target directory) take precedence.
        self.entries
            .sort_by_key(|e| std::cmp::Reverse(e.0.as_os_str().len()));
    }

    /// The mappings, longest prefix first.
    pub fn entries(&self) -> &[(PathBuf, String)] {
        &self.entries
    }

    /// `path` with its longest known prefix replaced by that prefix's name.
    pub fn map(&self, path: &Path) -> String {
        for (real, name) in &self.entries {
            if let Ok(rest) = path.strip_prefix(real) {
                return if rest.as_os_str().is_empty() {
                    name.clone()
                } else {
                    format!("{name}/{}", rest.display())
                };
            }
        }
        path.display().to_string()
    }

    /// The inverse of [`PathMap::map`] for this machine's prefixes.
    pub fn unmap(&self, mapped: &str) -> PathBuf {
        for (real, name) in &self.entries {
            if let Some(rest) = mapped.strip_prefix(name.as_str()) {
                if rest.is_empty() {
                    return real.clone();
                }
                if let Some(rest) = rest.strip_prefix('/') {
                    return real.join(rest);
                }
            }
        }
        PathBuf::from(mapped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_prefix_wins_and_round_trips() {
        let mut m = PathMap::new();
        m.add("/home/u/ws", "/gocache/ws");
        m.add("/home/u/ws/target/debug/build/x/out", "/gocache/out");
        let p = Path::new("/home/u/ws/target/debug/build/x/out/a.o");
        assert_eq!(m.map(p), "/gocache/out/a.o");
        assert_eq!(m.unmap("/gocache/out/a.o"), p);
        assert_eq!(m.map(Path::new("/home/u/ws")), "/gocache/ws");
        assert_eq!(m.map(Path::new("/home/u/wsx/a.c")), "/home/u/wsx/a.c");
        assert_eq!(
            m.unmap("/usr/include/stdio.h"),
            Path::new("/usr/include/stdio.h")
        );
    }
}
