//! gocache's own commands, one file each, and [`run`], the one dispatch
//! `match` from a parsed [`Command`] to its file.
//!
//! A command that works on the store as configured gets it from
//! [`open_store`] (which says so and exits 0 when caching is off); the
//! others (`buildid` reads files, `serve-helper` the
//! build's environment, `config` and `env` report settings) do not open it. `build.rs` hands
//! any cargo subcommand to the cargo runner (`crate::runner`).
//!
//! This folder may depend on `runner`, `remote`, `config` and the library;
//! nothing but `cli` depends on it.

use crate::Store;
use anyhow::Result;

use crate::cli::Command;
use crate::config::Config;

mod build;
mod buildid;
mod bundle;
mod clean;
mod config;
mod env;
mod explain;
mod export;
mod import;
mod observe;
mod serve_helper;
mod stats;
mod trim;

/// The workspace's root `Cargo.toml`, if the command runs inside one.
pub fn workspace_manifest() -> Option<std::path::PathBuf> {
    let cargo = crate::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args(["locate-project", "--workspace", "--message-format", "plain"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().into())
}

/// The settings of the workspace the command runs in.
fn load_config() -> Result<Config> {
    Config::load(workspace_manifest().as_deref())
}

/// The store as configured, or `None` (said on stderr) when caching is off.
fn open_store(config: &Config) -> Result<Option<Store>> {
    let store = config.store()?;
    if store.is_none() {
        eprintln!("gocache: caching is off (CARGO_GOCACHE_DIR=off); nothing to do");
    }
    Ok(store)
}

/// Run a gocache command; returns the exit code.
pub fn run(command: Command, verify: bool) -> Result<i32> {
    // Store commands: settings first (their errors come first), then the store.
    let with_store = |f: &dyn Fn(&Store, &Config) -> Result<()>| -> Result<i32> {
        let config = load_config()?;
        if let Some(store) = open_store(&config)? {
            f(&store, &config)?;
        }
        Ok(0)
    };
    match command {
        Command::Cargo(args) => build::run(args, verify),
        Command::Buildid { verbose, files } => Ok(buildid::run(verbose, &files)),
        Command::ServeHelper => serve_helper::run(),
        Command::Observe { summary, command } => observe::run(summary, &command),
        Command::Config => {
            config::run(&load_config()?);
            Ok(0)
        }
        Command::Env {
            json,
            github,
            target,
        } => env::run(json, github, target.as_deref()),
        Command::Explain { pattern } => with_store(&|s, _| explain::run(s, pattern.as_deref())),
        Command::Export {
            file,
            used_since_build,
        } => with_store(&|s, _| export::run(s, &file, used_since_build)),
        Command::Import { file } => with_store(&|s, _| import::run(s, &file)),
        Command::Clean => with_store(&|s, _| clean::run(s)),
        Command::Trim { max_size, max_age } => {
            with_store(&|s, c| trim::run(s, c, max_size, max_age))
        }
        Command::Stats { json, zero } => with_store(&|s, _| stats::run(s, json, zero)),
    }
}
