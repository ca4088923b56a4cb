//! `cargo gocache clean`: empty the cache.

use crate::Store;
use anyhow::{Context, Result};

use crate::human::format_size;

/// Remove every entry of `store`.
pub fn run(store: &Store) -> Result<()> {
    let r = store
        .clean()
        .with_context(|| format!("failed to clean {}", store.root().display()))?;
    println!(
        "removed {} files ({}) from {}",
        r.removed_files,
        format_size(r.removed_bytes),
        store.root().display()
    );
    Ok(())
}
