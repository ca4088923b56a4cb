//! `cargo gocache env`: the cache directory and a cache key for CI caches.

use std::fs;
use std::path::Path;
use std::process::Command;

use crate::key::hash::{hash_bytes, hex};
use anyhow::{Context, Result};

/// Print the CI key in the asked format.
pub fn run(json: bool, github: bool, target: Option<&str>) -> Result<i32> {
    let manifest = super::workspace_manifest();
    let config = crate::config::Config::load(manifest.as_deref())?;
    let root = manifest.as_deref().and_then(|m| m.parent());
    let e = ci_env(config.dir.value.as_deref(), root, target)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&e)?);
    } else if github {
        println!(
            "dir={}\nkey={}\nrestore-key={}",
            e.dir, e.key, e.restore_key
        );
    } else {
        println!(
            "dir:         {}\nkey:         {}\nrestore-key: {}",
            e.dir, e.key, e.restore_key
        );
    }
    Ok(0)
}

/// What `cargo gocache env` reports.
#[derive(Debug, serde::Serialize)]
pub struct CiEnv {
    pub dir: String,
    pub key: String,
    pub restore_key: String,
    pub inputs: CiInputs,
}

/// The inputs hashed into the CI key.
#[derive(Debug, serde::Serialize)]
pub struct CiInputs {
    /// SHA-256 of the workspace's Cargo.lock (or `none`).
    pub cargo_lock: String,
    /// `rustc -vV`'s `release:` line.
    pub rustc: String,
    /// The C compiler's first `--version` line.
    pub cc: String,
    pub target: String,
}

/// Compute the CI key for the workspace whose root is `workspace_root`.
pub fn ci_env(
    dir: Option<&Path>,
    workspace_root: Option<&Path>,
    target: Option<&str>,
) -> Result<CiEnv> {
    let lock = workspace_root.map(|r| r.join("Cargo.lock"));
    let cargo_lock = match lock.as_deref().map(fs::read) {
        Some(Ok(bytes)) => hex(&hash_bytes(&bytes)),
        _ => "none".into(),
    };
    let rustc_prog = crate::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let vv = Command::new(&rustc_prog)
        .arg("-vV")
        .output()
        .context("failed to run `rustc -vV`")?;
    let vv = String::from_utf8_lossy(&vv.stdout).into_owned();
    let field = |name: &str| {
        vv.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    let rustc = field("release:");
    let target = target.map(str::to_string).unwrap_or_else(|| field("host:"));
    let cc_prog = crate::env::var("CC")
        .and_then(|c| c.split_whitespace().last().map(str::to_string))
        .unwrap_or_else(|| "cc".into());
    let cc = Command::new(&cc_prog)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .map(|l| l.trim().to_string())
        })
        .unwrap_or_else(|| "none".into());
    let material =
        format!("gocache-ci v1\nlock {cargo_lock}\nrustc {rustc}\ncc {cc}\ntarget {target}\n");
    let restore_key = format!("gocache-{target}-");
    Ok(CiEnv {
        dir: dir.map_or("off".into(), |d| d.display().to_string()),
        key: format!(
            "{restore_key}{}",
            &hex(&hash_bytes(material.as_bytes()))[..20]
        ),
        restore_key,
        inputs: CiInputs {
            cargo_lock,
            rustc,
            cc,
            target,
        },
    })
}
