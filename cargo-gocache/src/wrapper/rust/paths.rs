//! Machine paths: the directories this build lives in, mapped to stable
//! names in arguments, diagnostics and dep-info (`--remap-path-prefix`; see
//! the parent module's *Relocation*).

use super::*;
pub(super) use crate::key::pathmap::TextMap;

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
    // `paths = "exact"`: rustc's paths as plain cargo gives them (`file!()`,
    // panic locations, debug info), and keyed as they are. Likewise when
    // the arguments remap paths already (`--remap-path-prefix` in
    // RUSTFLAGS): gocache adds no remaps then, so the checkout's paths
    // reach the outputs as written and must be keyed as written.
    if crate::settings::exact_paths() || c.user_remaps {
        return Relocation {
            map,
            remap_args: Vec::new(),
        };
    }
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
    Relocation { map, remap_args }
}
