//! Machine paths: the directories this build lives in, mapped to stable
//! names in arguments, diagnostics and dep-info (`--remap-path-prefix`; see
//! the parent module's *Relocation*).

use super::*;

/// Machine directories and their stable names, applied to text (keys,
/// stored stderr and dep-info) at path-component boundaries.
#[derive(Debug, Default, Clone)]
pub(super) struct TextMap {
    /// (real, token), longest real first.
    pub(super) pairs: Vec<(String, String)>,
}

impl TextMap {
    pub(super) fn add(&mut self, real: &Path, token: &str) {
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

    pub(super) fn map(&self, text: &str) -> String {
        replace_paths(
            text,
            self.pairs.iter().map(|(r, t)| (r.as_str(), t.as_str())),
        )
    }

    pub(super) fn unmap(&self, text: &str) -> String {
        let mut by_token: Vec<(&str, &str)> = self
            .pairs
            .iter()
            .map(|(r, t)| (t.as_str(), r.as_str()))
            .collect();
        by_token.sort_by_key(|p| std::cmp::Reverse(p.0.len()));
        replace_paths(text, by_token.into_iter())
    }

    pub(super) fn map_path(&self, p: &Path) -> String {
        self.map(&p.display().to_string())
    }

    pub(super) fn unmap_path(&self, s: &str) -> PathBuf {
        PathBuf::from(self.unmap(s))
    }
}

/// Replace each `from` in `text` where it is a whole path prefix: not
/// preceded by a path character, followed by `/` or a non-path character.
/// The pairs are tried longest first at each position.
pub(super) fn replace_paths<'a>(
    text: &str,
    pairs: impl Iterator<Item = (&'a str, &'a str)>,
) -> String {
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

/// The directories of this compile: the key's stable names, and the
/// `--remap-path-prefix` flags that make rustc's outputs independent of them.
pub(super) struct Relocation {
    pub(super) map: TextMap,
    pub(super) remap_args: Vec<String>,
}

pub(super) fn env_path(name: &str) -> Option<PathBuf> {
    crate::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
}

pub(super) fn relocation(c: &RustCompile) -> Relocation {
    let mut map = TextMap::default();
    let workspace = env_path("CARGO_GOCACHE_WORKSPACE");
    let cargo_home = env_path("CARGO_GOCACHE_CARGO_HOME").or_else(|| env_path("CARGO_HOME"));
    let manifest_dir = env_path("CARGO_MANIFEST_DIR");
    let out_env = env_path("OUT_DIR");
    map.add(&c.out_dir, "/gocache/out-dir");
    if let Some(d) = &out_env {
        map.add(d, "/gocache/out");
    }
    if let Some(d) = &manifest_dir {
        map.add(d, "/gocache/pkg");
    }
    if let Some(d) = &workspace {
        map.add(d, "/gocache/workspace");
    }
    if let Some(d) = &cargo_home {
        map.add(d, "/gocache/cargo-home");
    }
    // The target directory's profile directories (`-L dependency=` is
    // `<target>/<profile>/deps`): holds other crates' `OUT_DIR`s (`-L
    // native=`) and `--extern` files.
    let mut n = 0;
    for (kind, dir) in &c.lib_dirs {
        if kind == "dependency" {
            if let Some(profile) = dir.parent() {
                map.add(profile, &format!("/gocache/profile{n}"));
                n += 1;
            }
        }
    }
    let mut remap_args = Vec::new();
    if !c.user_remaps {
        let pkg = format!(
            "{}-{}",
            crate::env::var("CARGO_PKG_NAME").unwrap_or_else(|| c.crate_name.clone()),
            crate::env::var("CARGO_PKG_VERSION").unwrap_or_else(|| "0.0.0".into())
        );
        let ok = |p: &Path| p.to_str().is_some_and(|s| !s.contains('=') && s != "/");
        let mut remaps: Vec<(PathBuf, String)> = Vec::new();
        // rustc applies the last matching prefix: general ones first.
        if let Some(ws) = workspace.as_ref().filter(|w| ok(w)) {
            remaps.push((ws.clone(), ".".into()));
        }
        if let Some(md) = manifest_dir.as_ref().filter(|d| ok(d)) {
            if workspace.as_ref().is_none_or(|ws| !md.starts_with(ws)) {
                remaps.push((md.clone(), pkg.clone()));
            }
        }
        if let Some(out) = out_env.as_ref().filter(|d| ok(d)) {
            remaps.push((out.clone(), format!("{pkg}/out")));
        }
        if !remaps.is_empty() {
            for (from, to) in remaps {
                remap_args.push(format!("--remap-path-prefix={}={to}", from.display()));
            }
        }
    }
    Relocation { map, remap_args }
}
