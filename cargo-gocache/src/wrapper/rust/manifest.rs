//! Direct mode for rustc: what the compiles under one pre-key read (rustc's
//! dep-info: files and `env!` variables; for a compile that loaded a
//! proc-macro, what the observer saw it read and the variables its
//! libraries name: [`super::procmacro`]), kept as a manifest of observed
//! sets, each checked against the disk on lookup.

use super::*;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Observed {
    /// (mapped path, hex hash)
    pub(super) files: Vec<(String, String)>,
    /// (mapped path, present)
    pub(super) probes: Vec<(String, bool)>,
    /// `# env-dep:` variables, with the value rustc saw.
    pub(super) env: Vec<(String, EnvValue)>,
    /// The proc-macro libraries the compile loaded: (mapped path, hex hash).
    pub(super) macros: Vec<(String, String)>,
    /// What the observer saw the compile read beyond the rest of the key.
    pub(super) reads: Vec<procmacro::Read>,
    /// Every variable set in rustc's environment whose name the loaded
    /// libraries hold, with its value.
    pub(super) macro_env: Vec<(String, EnvValue)>,
}

/// The value of an environment variable the crate read (`env!`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum EnvValue {
    Unset,
    /// Compared as is: the value may be in the output.
    Raw(String),
    /// A value naming a machine directory (`OUT_DIR`, `CARGO_MANIFEST_DIR`
    /// in `include!(concat!(env!("OUT_DIR"), ...))`), compared mapped: the
    /// miss found the value in none of the outputs, so it only located
    /// files, which are keyed on their own (and remapped in the outputs).
    Mapped(String),
}

impl Observed {
    pub(super) fn key(&self, pre: &ActionId) -> KeyHasher {
        let mut h = KeyHasher::new("rust-final");
        h.line(format!("pre {pre}"));
        // The files and probes are C's key lines, so `explain` reads them
        // as it reads a compile's headers.
        for (p, hash) in &self.files {
            h.push(&KeyLine::Header {
                hash: hash.clone(),
                path: p.clone(),
            });
        }
        for (p, x) in &self.probes {
            h.push(&KeyLine::Probe {
                path: p.clone(),
                present: *x,
            });
        }
        for (k, v) in &self.env {
            match v {
                EnvValue::Raw(v) => h.line(format!("env {k}={v}")),
                EnvValue::Mapped(v) => h.line(format!("env-mapped {k}={v}")),
                EnvValue::Unset => h.line(format!("env-unset {k}")),
            }
        }
        for (p, hash) in &self.macros {
            h.line(format!("macro {hash} {p}"));
        }
        for (kind, p, state) in &self.reads {
            h.line(format!("read {kind} {state} {p}"));
        }
        for (k, v) in &self.macro_env {
            match v {
                EnvValue::Raw(v) => h.line(format!("macro-env {k}={v}")),
                EnvValue::Mapped(v) => h.line(format!("macro-env-mapped {k}={v}")),
                EnvValue::Unset => h.line(format!("macro-env-unset {k}")),
            }
        }
        h
    }

    pub(super) fn matches(&self, store: &Store, map: &TextMap, memo: &mut FileMemo) -> bool {
        self.files
            .iter()
            .all(|(p, want)| memo.hash(&map.unmap_path(p)).as_deref() == Some(want.as_str()))
            && self
                .probes
                .iter()
                .all(|(p, x)| memo.is_file(&map.unmap_path(p)) == *x)
            && self.env.iter().all(|(k, want)| env_holds(k, want, map))
            && self.macros_hold(store, map, memo)
    }

    /// The proc-macro part of the entry: the same libraries, the same
    /// reads, and every variable set now that they name recorded with the
    /// value it has now.
    fn macros_hold(&self, store: &Store, map: &TextMap, memo: &mut FileMemo) -> bool {
        if self.macros.is_empty() {
            return true;
        }
        if !self
            .macros
            .iter()
            .all(|(p, want)| memo.hash(&map.unmap_path(p)).as_deref() == Some(want.as_str()))
        {
            return false;
        }
        if !self.reads.iter().all(|(kind, p, state)| {
            procmacro::state_of(*kind, &map.unmap_path(p), map, memo) == *state
        }) {
            return false;
        }
        let names = procmacro::env_names_now();
        let Some(found) = procmacro::found_names(store, &self.scanned(map), &names) else {
            return false;
        };
        if !found
            .iter()
            .all(|n| self.macro_env.iter().any(|(k, _)| k == n))
        {
            return false;
        }
        self.macro_env
            .iter()
            .all(|(k, want)| env_holds(k, want, map))
    }
}

impl Observed {
    /// The files scanned for variable names: the sources, then the
    /// proc-macro libraries (real paths, hex hashes).
    pub(super) fn scanned(&self, map: &TextMap) -> Vec<(PathBuf, String)> {
        // A link's inputs are in `files` too: objects and libraries hold
        // the C library's strings and std's, not a macro's input.
        let compiled = |p: &str| {
            let name = p.rsplit('/').next().unwrap_or(p);
            [".rlib", ".rmeta", ".a", ".o", ".so"]
                .iter()
                .any(|x| name.ends_with(x))
                || name.contains(".so.")
        };
        self.files
            .iter()
            .filter(|(p, _)| !compiled(p))
            .chain(&self.macros)
            .map(|(p, h)| (map.unmap_path(p), h.clone()))
            .collect()
    }
}

/// Does variable `k` have the value recorded as `want`?
fn env_holds(k: &str, want: &EnvValue, map: &TextMap) -> bool {
    let now = crate::env::var_os(k);
    // rustc escapes `\`, newlines and returns in the values it reports;
    // none were recorded (see the miss), so a value holding one is another
    // value.
    let plain = |n: &OsString| {
        n.to_str()
            .filter(|n| !n.contains(['\\', '\n', '\r']))
            .map(str::to_string)
    };
    match (want, now.as_ref().and_then(plain)) {
        (EnvValue::Unset, None) => now.is_none(),
        (EnvValue::Raw(w), Some(n)) => n == *w,
        (EnvValue::Mapped(w), Some(n)) => map.map(&n) == *w,
        _ => false,
    }
}

pub(super) fn manifest_key(pre: &ActionId) -> ActionId {
    let mut h = KeyHasher::new("rust-manifest");
    h.line(format!("manifest {pre}"));
    h.id()
}

pub(super) fn load_manifest(store: &Store, pre: &ActionId) -> Vec<Observed> {
    let Some(text) = store
        .get_bytes(&manifest_key(pre))
        .and_then(|(_, b)| String::from_utf8(b).ok())
    else {
        return Vec::new();
    };
    let mut lines = text.lines();
    if lines.next() != Some(MANIFEST_HEADER) {
        return Vec::new();
    }
    let mut out: Vec<Observed> = Vec::new();
    for l in lines {
        if l == "entry" {
            out.push(Observed::default());
            continue;
        }
        let Some(cur) = out.last_mut() else {
            return Vec::new();
        };
        let (kind, rest) = l.split_once(' ').unwrap_or((l, ""));
        match kind {
            "file" => {
                let Some((h, p)) = rest.split_once(' ') else {
                    return Vec::new();
                };
                cur.files.push((p.into(), h.into()));
            }
            "probe" => {
                let Some((x, p)) = rest.split_once(' ') else {
                    return Vec::new();
                };
                cur.probes.push((p.into(), x == "1"));
            }
            "env" | "env-mapped" => {
                let (k, v) = rest.split_once('=').unwrap_or((rest, ""));
                let v = match kind {
                    "env" => EnvValue::Raw(v.into()),
                    _ => EnvValue::Mapped(v.into()),
                };
                cur.env.push((k.into(), v));
            }
            "env-unset" => cur.env.push((rest.into(), EnvValue::Unset)),
            "macro" => {
                let Some((h, p)) = rest.split_once(' ') else {
                    return Vec::new();
                };
                cur.macros.push((p.into(), h.into()));
            }
            "read" => {
                let mut f = rest.splitn(3, '\t');
                let (Some(k), Some(state), Some(p)) = (f.next(), f.next(), f.next()) else {
                    return Vec::new();
                };
                let Some(k) = k.chars().next() else {
                    return Vec::new();
                };
                cur.reads.push((k, p.into(), state.into()));
            }
            "macro-env" | "macro-env-mapped" => {
                let (k, v) = rest.split_once('=').unwrap_or((rest, ""));
                let v = match kind {
                    "macro-env" => EnvValue::Raw(v.into()),
                    _ => EnvValue::Mapped(v.into()),
                };
                cur.macro_env.push((k.into(), v));
            }
            "macro-env-unset" => cur.macro_env.push((rest.into(), EnvValue::Unset)),
            _ => return Vec::new(),
        }
    }
    out
}

pub(super) fn save_manifest(store: &Store, pre: &ActionId, obs: Observed) -> Result<()> {
    let mut m = load_manifest(store, pre);
    m.retain(|e| *e != obs);
    m.insert(0, obs);
    m.truncate(MAX_ENTRIES);
    let mut s = format!("{MANIFEST_HEADER}\n");
    for e in &m {
        s.push_str("entry\n");
        for (p, h) in &e.files {
            s.push_str(&format!("file {h} {p}\n"));
        }
        for (p, x) in &e.probes {
            s.push_str(&format!("probe {} {p}\n", *x as u8));
        }
        for (k, v) in &e.env {
            match v {
                EnvValue::Raw(v) => s.push_str(&format!("env {k}={v}\n")),
                EnvValue::Mapped(v) => s.push_str(&format!("env-mapped {k}={v}\n")),
                EnvValue::Unset => s.push_str(&format!("env-unset {k}\n")),
            }
        }
        for (p, h) in &e.macros {
            s.push_str(&format!("macro {h} {p}\n"));
        }
        for (k, p, state) in &e.reads {
            s.push_str(&format!("read {k}\t{state}\t{p}\n"));
        }
        for (k, v) in &e.macro_env {
            match v {
                EnvValue::Raw(v) => s.push_str(&format!("macro-env {k}={v}\n")),
                EnvValue::Mapped(v) => s.push_str(&format!("macro-env-mapped {k}={v}\n")),
                EnvValue::Unset => s.push_str(&format!("macro-env-unset {k}\n")),
            }
        }
    }
    store.put(&manifest_key(pre), s.as_bytes())?;
    Ok(())
}

/// rustc's dep-info: the files of the first rule and the `# env-dep:` lines.
#[derive(Debug, Default, PartialEq)]
pub(super) struct DepInfo {
    pub(super) files: Vec<String>,
    pub(super) env: Vec<(String, Option<String>)>,
}

pub(super) fn parse_dep_info(text: &str) -> Option<DepInfo> {
    let mut d = DepInfo::default();
    let mut first = true;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# env-dep:") {
            match rest.split_once('=') {
                Some((k, v)) => d.env.push((k.to_string(), Some(v.to_string()))),
                None => d.env.push((rest.to_string(), None)),
            }
            continue;
        }
        if line.is_empty() || line.starts_with('#') || !first {
            continue;
        }
        // `target: dep dep...`, spaces in paths escaped as `\ `.
        let words = split_escaped(line);
        let mut it = words.into_iter();
        let t = it.next()?;
        if !t.ends_with(':') {
            return None;
        }
        d.files.extend(it);
        first = false;
    }
    (!first).then_some(d)
}

pub(super) fn split_escaped(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    while let Some(ch) = chars.next() {
        match ch {
            '\\' if chars.peek() == Some(&' ') => {
                cur.push(' ');
                chars.next();
            }
            ' ' => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            _ => cur.push(ch),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The other places rustc would have looked for a module file: a file
/// there makes `mod foo;` ambiguous (an error), so it is probed.
pub(super) fn module_alternatives(p: &Path) -> Vec<PathBuf> {
    if p.extension().is_none_or(|e| e != "rs") {
        return Vec::new();
    }
    if p.file_name().is_some_and(|n| n == "mod.rs") {
        // dir/foo/mod.rs <-> dir/foo.rs
        return p
            .parent()
            .map(|d| vec![d.with_extension("rs")])
            .unwrap_or_default();
    }
    vec![p.with_extension("").join("mod.rs")]
}
