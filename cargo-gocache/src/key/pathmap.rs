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

    /// Would the compiler's `-ffile-prefix-map`, which compares strings
    /// (gcc's `remap_filename`, LLVM's `replace_path_prefix`), rewrite
    /// `path` other than [`PathMap::map`] does, which compares path
    /// components? `/w/ch2/a.c` beside a mapped `/w/ch` would become
    /// `<name>2/a.c` in the object. The compiler tries the longest prefix
    /// first (see `prefix_map_args`), as the entries are ordered.
    pub fn string_clash(&self, path: &Path) -> bool {
        let s = path.as_os_str().as_encoded_bytes();
        let by_string = self
            .entries
            .iter()
            .position(|(real, _)| s.starts_with(real.as_os_str().as_encoded_bytes()));
        let by_component = self
            .entries
            .iter()
            .position(|(real, _)| path.starts_with(real));
        by_string != by_component
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

    #[test]
    fn string_prefix_siblings_clash() {
        let mut m = PathMap::new();
        m.add("/w/ch", "/gocache/cargo-home");
        m.add("/w/ws", "/gocache/workspace");
        m.add("/w/ws/target/out", "/gocache/out");
        assert!(m.string_clash(Path::new("/w/ch2/a.c")));
        assert!(m.string_clash(Path::new("/w/ws/target/outx/a.c")));
        assert!(!m.string_clash(Path::new("/w/ch/a.c")));
        assert!(!m.string_clash(Path::new("/w/ch")));
        assert!(!m.string_clash(Path::new("/w/ws/target/out/a.c")));
        assert!(!m.string_clash(Path::new("/w/other/a.c")));
        assert!(!m.string_clash(Path::new("/w/c")));
    }
}
