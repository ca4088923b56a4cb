//! `cargo gocache trim`: remove old entries, then the least recently used
//! until the cache fits its cap.

use std::time::Duration;

use crate::{Store, TrimPolicy};
use anyhow::Result;

use crate::config::Config;
use crate::human::format_size;

/// Trim `store`; a flag overrides the configured limit.
pub fn run(
    store: &Store,
    config: &Config,
    max_size: Option<u64>,
    max_age: Option<Duration>,
) -> Result<()> {
    let max_size = max_size.unwrap_or(config.max_size.value);
    let max_age = max_age.unwrap_or(config.max_age.value);
    let r = store.trim(&TrimPolicy { max_age, max_size })?;
    println!(
        "removed {} files ({}); {} entries ({}) left in {}",
        r.removed_files,
        format_size(r.removed_bytes),
        r.entries,
        format_size(r.bytes),
        store.root().display()
    );
    Ok(())
}
