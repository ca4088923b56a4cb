//! The pre-key of a rustc compile: the table in the parent module's docs,
//! line by line ([`pre_key`]).

use super::*;
use crate::key::native::{is_native_rustc_codegen, resolve_rustc};

/// The start of the error `pre_key` gives when `native` cannot be
/// resolved: the compile is then uncacheable (`native-unresolved`).
pub(super) const NATIVE_UNRESOLVED: &str = "native-unresolved";

/// Environment variables in the pre-key (see the module docs).
pub(super) fn env_in_key(name: &str, links: bool) -> bool {
    const EXACT: &[&str] = &[
        "CARGO_CRATE_NAME",
        "CARGO_BIN_NAME",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_MANIFEST_DIR",
        "CARGO_MANIFEST_PATH",
        "CARGO_MANIFEST_LINKS",
        "OUT_DIR",
        "CARGO_TARGET_TMPDIR",
        "CARGO_RUSTC_CURRENT_DIR",
        "RUSTC_BOOTSTRAP",
        "RUSTC_FORCE_RUSTC_VERSION",
        "RUSTC_LOG",
    ];
    const LINK: &[&str] = &["LIBRARY_PATH", "GCC_EXEC_PREFIX", "COMPILER_PATH"];
    EXACT.contains(&name)
        || name.starts_with("CARGO_PKG_")
        || name.starts_with("CARGO_BIN_EXE_")
        || (links && LINK.contains(&name))
}

/// Files hashed for the key, through the stat memo.
pub(super) struct Hashing<'a> {
    pub(super) memo: &'a mut FileMemo,
}

impl Hashing<'_> {
    pub(super) fn hash(&mut self, p: &Path) -> Result<String> {
        self.memo
            .hash(p)
            .with_context(|| format!("failed to read {}", p.display()))
    }
}

/// Cargo's `-C extra-filename` suffixes (`-` and 16 hex digits) in `bytes`.
pub(super) fn cargo_suffixes(bytes: &[u8], out: &mut BTreeSet<String>) {
    let hexd = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
    let mut i = 0;
    while let Some(off) = memchr::memchr(b'-', &bytes[i..]) {
        let at = i + off;
        let end = at + 17;
        if end <= bytes.len()
            && bytes[at + 1..end].iter().all(|&b| hexd(b))
            && bytes.get(end).is_none_or(|&b| !hexd(b))
        {
            out.insert(String::from_utf8_lossy(&bytes[at..end]).into_owned());
            i = end;
        } else {
            i = at + 1;
        }
    }
}

/// Does `hay` hold `needle`? (The `memchr` crate's SIMD search: a link
/// scans every transitive rlib, megabytes, on every hit.)
pub(super) fn contains(hay: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(hay, needle).is_some()
}

/// The pre-key of a compile.
pub(super) fn pre_key(
    store: &Store,
    c: &RustCompile,
    id: &RustcIdentity,
    reloc: &Relocation,
    hashing: &mut Hashing,
) -> Result<KeyHasher> {
    let map = &reloc.map;
    let mut h = KeyHasher::new("rust");
    // Links keep what the linker read in their manifest entries since v2,
    // and every compile what its proc-macros read since v3 (links) and v2:
    // an entry from before would match without it.
    h.line(if c.links() {
        "salt gocache-rust-link v3"
    } else {
        "salt gocache-rust v2"
    });
    h.line(format!("compiler-version {}", id.version));
    h.line(format!("compiler {}", id.id));
    h.line(format!(
        "target {}",
        c.target.as_deref().unwrap_or(id.host.as_str())
    ));
    // The working directory and the crate root reach the outputs (debug
    // info, `file!()`, panic locations) only through the directories the
    // relocation's `--remap-path-prefix` rewrites: the workspace (cwd),
    // the package and its `OUT_DIR` (the crate root is in one of them).
    // With the user's own remaps the map is empty: keyed as written.
    h.line(format!("cwd {}", map.map_path(&c.cwd)));
    h.line(format!("input {}", map.map(&c.input.display().to_string())));
    for a in &c.key_args {
        match a {
            KeyArg::AsWritten(a) => h.line(format!("arg {a}")),
            // Why each of these may be mapped is said where it is parsed.
            KeyArg::Locates(a) => h.line(format!("arg {}", map.map(a))),
        }
    }
    if c.key_args.iter().any(|a| {
        a.text()
            .strip_prefix("-C ")
            .is_some_and(is_native_rustc_codegen)
    }) {
        let native = resolve_rustc(Some(store), &id.binary, &id.id, c.target.as_deref())
            .map_err(|e| anyhow::anyhow!("{NATIVE_UNRESOLVED}: {e}"))?;
        h.line(format!("native {native}"));
    }
    // gocache's own remaps, `--remap-path-prefix=REAL=NAME`: REAL is a
    // mapped directory itself (so it maps to its stable name) and NAME
    // holds no machine path.
    for r in &reloc.remap_args {
        h.line(format!("relocation {}", map.map(r)));
    }
    for (name, path) in &c.externs {
        let file = path.file_name().unwrap_or_default().to_string_lossy();
        h.line(format!("extern:{name} {} {file}", hashing.hash(path)?));
    }
    let links = c.links();
    // Native libraries named by `-l`, found as the linker finds them.
    let search: Vec<&PathBuf> = c
        .lib_dirs
        .iter()
        .filter(|(k, _)| k != "dependency" && k != "crate")
        .map(|(_, d)| d)
        .collect();
    let mut natives: BTreeSet<PathBuf> = BTreeSet::new();
    for (kind, name) in &c.libs {
        let name = name.split(':').next().unwrap_or(name);
        let candidates: Vec<String> = if kind.starts_with("static") {
            vec![format!("lib{name}.a")]
        } else {
            vec![format!("lib{name}.so"), format!("lib{name}.a")]
        };
        let found = search
            .iter()
            .flat_map(|d| candidates.iter().map(move |f| d.join(f)))
            .find(|p| p.is_file());
        match found {
            Some(p) => {
                natives.insert(p);
            }
            None if kind.starts_with("static") => {
                // rustc would look in the system directories, unhashed here.
                bail!("native library {name} not found in a -L directory");
            }
            // A system library (libc, libssl from the system): see the
            // module docs on what comes with the toolchain.
            None => {}
        }
    }
    // Every library a compile can take in from its native directories: a
    // link reads static and shared ones; an rlib bundles the static ones
    // its source names with `#[link(name = ..., kind = "static")]`, which
    // the command line does not show.
    for (kind, dir) in &c.lib_dirs {
        if kind != "native" && kind != "all" {
            continue;
        }
        let Ok(rd) = fs::read_dir(dir) else { continue };
        for e in rd.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.starts_with("lib")
                && (n.ends_with(".a") || (links && n.contains(".so")))
                && e.path().is_file()
            {
                natives.insert(e.path());
            }
        }
    }
    for p in &natives {
        h.line(format!("native:{} {}", map.map_path(p), hashing.hash(p)?));
    }
    if links {
        for (file, hash) in transitive_rlibs(c, hashing)? {
            h.line(format!("rlib:{file} {hash}"));
        }
        let linker = c.linker.clone().unwrap_or_else(|| PathBuf::from("cc"));
        let lid = crate::key::compiler::identify(Some(store), &linker)?;
        h.line(format!("linker {} {}", lid.id, lid.version));
    }
    // Values mapped: what code reads of them at compile time comes through
    // `env!`/`option_env!`, which rustc reports and the final key holds as
    // written (see `env-mapped` for the one exception); rustc reads none
    // of the paths itself, and the linker's variables only locate files
    // it reports reading.
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in std::env::vars_os() {
        let Some(k) = k.to_str() else { continue };
        if env_in_key(k, links) {
            env.insert(k.to_string(), map.map(&v.to_string_lossy()));
        }
    }
    for (k, v) in env {
        h.line(format!("env {k}={v}"));
    }
    Ok(h)
}

/// For a link: every rlib of the dependency directories whose cargo
/// suffix appears in an `--extern` file or in an rlib already taken
/// (see the key table). Returns (file name, content hash), sorted.
pub(super) fn transitive_rlibs(
    c: &RustCompile,
    hashing: &mut Hashing,
) -> Result<Vec<(String, String)>> {
    let mut by_suffix: HashMap<String, Vec<PathBuf>> = HashMap::new();
    for (kind, dir) in &c.lib_dirs {
        if kind != "dependency" && kind != "all" && kind != "crate" {
            continue;
        }
        let Ok(rd) = fs::read_dir(dir) else { continue };
        for e in rd.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            let Some(stem) = n.strip_suffix(".rlib") else {
                continue;
            };
            if stem.len() > 17 && stem.is_char_boundary(stem.len() - 17) {
                by_suffix
                    .entry(stem[stem.len() - 17..].to_string())
                    .or_default()
                    .push(e.path());
            }
        }
    }
    let mut seen_suffix: BTreeSet<String> = BTreeSet::new();
    let mut taken: BTreeMap<String, String> = BTreeMap::new();
    let mut queue: Vec<PathBuf> = c.externs.iter().map(|(_, p)| p.clone()).collect();
    let mut visited: BTreeSet<PathBuf> = BTreeSet::new();
    while let Some(p) = queue.pop() {
        if !visited.insert(p.clone()) {
            continue;
        }
        let bytes = fs::read(&p).with_context(|| format!("failed to read {}", p.display()))?;
        if p.extension().is_some_and(|e| e == "rlib") {
            let name = p
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            // Read anyway (its suffixes below); hashed unless placed by
            // this build's hit (a receipt, `crate::store`).
            taken.insert(name, hashing.memo.hash_read(&p, &bytes));
        }
        let mut found = BTreeSet::new();
        cargo_suffixes(&bytes, &mut found);
        for s in found {
            if seen_suffix.insert(s.clone()) {
                if let Some(files) = by_suffix.get(&s) {
                    queue.extend(files.iter().cloned());
                }
            }
        }
    }
    Ok(taken.into_iter().collect())
}
