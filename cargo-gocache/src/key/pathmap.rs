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
        // The compiler's choice: the first (longest) prefix by string.
        // Ours is the same entry exactly when that match ends at a
        // component boundary (no earlier, longer entry can match by
        // component without matching by string).
        match self
            .entries
            .iter()
            .find(|(real, _)| s.starts_with(real.as_os_str().as_encoded_bytes()))
        {
            Some((real, _)) => !path.starts_with(real),
            None => false,
        }
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

/// Machine directories and their stable names, applied to text at
/// path-component boundaries: the Rust wrapper's keys, stored stderr and
/// dep-info, and a build-script run's environment and output.
#[derive(Debug, Default, Clone)]
pub struct TextMap {
    /// (real, token), longest real first.
    pub pairs: Vec<(String, String)>,
}

impl TextMap {
    /// Map `real` (absolute, no whitespace or quoting characters) to `token`.
    pub fn add(&mut self, real: &Path, token: &str) {
        let Some(s) = real.to_str() else { return };
        // Only paths that read the same in JSON, dep-info and our lines.
        if s.len() < 2
            || !s.starts_with('/')
            || s.contains(|c: char| c.is_whitespace() || matches!(c, '"' | '\\' | '=' | ':'))
        {
            return;
        }
        let s = s.trim_end_matches('/').to_string();
        if self.pairs.iter().any(|(r, _)| *r == s) {
            return;
        }
        self.pairs.push((s, token.to_string()));
        self.pairs.sort_by_key(|p| std::cmp::Reverse(p.0.len()));
    }

    /// `text` with every real directory replaced by its token.
    pub fn map(&self, text: &str) -> String {
        replace_paths(
            text,
            self.pairs.iter().map(|(r, t)| (r.as_str(), t.as_str())),
        )
    }

    /// `text` with every token replaced by its real directory.
    pub fn unmap(&self, text: &str) -> String {
        let mut by_token: Vec<(&str, &str)> = self
            .pairs
            .iter()
            .map(|(r, t)| (t.as_str(), r.as_str()))
            .collect();
        by_token.sort_by_key(|p| std::cmp::Reverse(p.0.len()));
        replace_paths(text, by_token.into_iter())
    }

    /// [`TextMap::map`] of a path.
    pub fn map_path(&self, p: &Path) -> String {
        self.map(&p.display().to_string())
    }

    /// [`TextMap::unmap`] to a path.
    pub fn unmap_path(&self, s: &str) -> PathBuf {
        PathBuf::from(self.unmap(s))
    }
}

/// Replace each `from` in `text` where it is a whole path prefix: not
/// preceded by a path character, followed by `/` or a non-path character.
/// The pairs are tried longest first at each position.
pub fn replace_paths<'a>(text: &str, pairs: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let pairs: Vec<(&str, &str)> = pairs.collect();
    if pairs.is_empty() {
        return text.to_string();
    }
    let path_char =
        |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'/' | b'.' | b'_' | b'-' | b'+' | b'~');
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut copied = 0;
    while i < bytes.len() {
        if bytes[i] == b'/' && (i == 0 || !path_char(bytes[i - 1])) {
            if let Some((from, to)) = pairs.iter().find(|(from, _)| {
                text[i..].starts_with(from)
                    && bytes
                        .get(i + from.len())
                        .is_none_or(|&c| c == b'/' || !path_char(c))
            }) {
                out.push_str(&text[copied..i]);
                out.push_str(to);
                i += from.len();
                copied = i;
                continue;
            }
        }
        i += 1;
    }
    out.push_str(&text[copied..]);
    out
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
