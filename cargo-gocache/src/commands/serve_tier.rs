//! `cargo gocache serve-tier` (hidden): the remote tier served to a build
//! script's helper over stdio.

use anyhow::Result;
use gocache_build::engine::Store;

/// `serve-tier`: the remote tier for a build script's store, over stdio.
/// Started by `gocache_build::engine::prog::ProgTier` with the build's environment.
pub fn run() -> Result<i32> {
    let Some(store) = Store::from_env()? else {
        return Ok(0);
    };
    let (store, tier) = crate::remote::RemoteTier::attach_from_env(store);
    let Some(tier) = tier else { return Ok(0) };
    gocache_build::engine::prog::serve(&*tier, std::io::stdin().lock(), std::io::stdout().lock())?;
    tier.finish(&store);
    Ok(0)
}
