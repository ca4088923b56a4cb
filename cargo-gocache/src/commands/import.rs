//! `cargo gocache import`: add a bundle's entries to the store.

use std::path::Path;

use crate::Store;
use anyhow::Result;

use crate::human::format_size;

/// Read `file` into `store`, skipping (and counting) what does not check out.
pub fn run(store: &Store, file: &Path) -> Result<()> {
    let r = super::bundle::import(store, file)?;
    println!(
        "imported {} files ({}) into {}",
        r.files,
        format_size(r.bytes),
        store.root().display()
    );
    if r.skipped > 0 {
        eprintln!(
            "gocache: warning: skipped {} damaged or foreign members of {}",
            r.skipped,
            file.display()
        );
    }
    Ok(())
}
