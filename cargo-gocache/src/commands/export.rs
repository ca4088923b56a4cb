//! `cargo gocache export`: the store (or what the last build used) as one bundle.

use std::fs;
use std::path::Path;

use crate::Store;
use anyhow::{Context, Result};

use crate::human::format_size;

/// Write `file`; with `used_since_build`, only what the last build used.
pub fn run(store: &Store, file: &Path, used_since_build: bool) -> Result<()> {
    let only = if used_since_build {
        let used = used_by_last_build(store)?;
        if used.is_none() {
            eprintln!(
                "gocache: warning: no `cargo gocache` build has used this cache yet \
                 (none ran a C/C++ compile since it was created or imported); \
                 exporting all of it"
            );
        }
        used
    } else {
        None
    };
    let r = super::bundle::export(store, file, only.as_ref())?;
    println!(
        "exported {} files ({}) to {}",
        r.files,
        format_size(r.bytes),
        file.display()
    );
    Ok(())
}

/// The store files the last `cargo gocache` build looked up or wrote, from
/// the used log the store keeps during a run (`crate::run`); the log of
/// the last build that used the store at all (a run that compiles nothing
/// keeps the previous one).
///
/// `None` when no build has used this store: in CI, a fresh store holding
/// only the imported bundle, with a target directory restored as well so
/// that no build script ran. All of it is then what the builds use, and
/// exporting less (or failing) would lose the cache for the next job.
fn used_by_last_build(store: &Store) -> Result<Option<std::collections::HashSet<String>>> {
    let log = crate::store::last_used_log(store);
    let text = match fs::read_to_string(&log) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("failed to read {}", log.display())),
    };
    let mut names: std::collections::HashSet<String> = text.lines().map(str::to_string).collect();
    // An entry's key record goes with it.
    let keys: Vec<String> = names
        .iter()
        .filter_map(|n| n.strip_suffix("-a").map(|b| format!("{b}-k")))
        .collect();
    names.extend(keys);
    Ok(Some(names))
}
