//! `cargo gocache <cargo subcommand> [args]`: run cargo so that every C and
//! C++ compile of every build script goes through the compiler wrapper.
//!
//! This folder is the cargo runner: this file runs cargo and prints the
//! summary ([`summary`]), `env.rs` assembles the tool variables (`CC_*`,
//! `CXX_*`, `AR_*`, known wrappers), `targets.rs` finds the targets. It may
//! not depend on `commands` or `cli`; it uses `config`, `remote` (the run's
//! warning) and `wrapper::ar` (the archiver link's name).
//!
//! # How the compiles reach the wrapper
//!
//! Build scripts compile C through the `cc` crate, which picks its compiler
//! from environment variables (`env_tool` and `getenv_with_target_prefixes`
//! in cc's `lib.rs`), first set wins:
//!
//! | order | variable | example |
//! | --- | --- | --- |
//! | 1 | `CC_<target>` | `CC_x86_64-unknown-linux-gnu` |
//! | 2 | `CC_<target with _>` | `CC_x86_64_unknown_linux_gnu` |
//! | 3 | `HOST_CC` when target = host, else `TARGET_CC` | |
//! | 4 | `CC` | |
//!
//! (and the same with `CXX`). A value whose first word is a *known wrapper*
//! (ccache, sccache, ..., or the name in `CC_KNOWN_WRAPPER_CUSTOM`) is split
//! into wrapper and compiler, and cc runs `wrapper compiler args...` while
//! still introspecting the real compiler: family detection (`-E` on a
//! probe file) and flag probes (`is_flag_supported`, `flag_check.c`) run
//! the compiler itself, never the wrapper, so a gcc or clang behind the
//! wrapper is detected as it would be without it, and those probes are
//! neither cached nor counted.
//!
//! So for the host triple and for every `--target`, this module resolves
//! the compiler cc would have used (the user's variable if one is set, else
//! cc's default), and sets the highest-priority variable, `CC_<target>`, to
//! `<this binary> <that compiler> [its args]`, with
//! `CC_KNOWN_WRAPPER_CUSTOM=<this binary's name>`. The user's choice stays
//! the compiler, wrapped, and host and target compilers stay distinct when
//! cross-compiling. A user's own caching wrapper (`CC="ccache gcc"`) is
//! replaced, not chained: gocache does its job.
//!
//! The targets are the host, each `--target`, `CARGO_BUILD_TARGET`, and
//! `build.target` from `--config` and from the config files cargo reads
//! (parsed as TOML: `.cargo/config.toml` and `.cargo/config` from the
//! working directory up, and `$CARGO_HOME`'s).
//!
//! A build script that hands its own build system cc's `Tool::path()` (the
//! compiler without the wrapper: tikv-jemalloc-sys's `configure`) is
//! reached another way: the bare compiler names set above get links to
//! this binary in `<store>/bin/masq`, first on `PATH`, as ccache's
//! masquerade directory (`wrapper::masquerade` says which starts through
//! them are cached, and why nothing else is wrapped twice or loops).
//! CMake gets its compiler launchers (`env::cmake_launcher_env`).
//!
//! Not covered (those compiles run uncached, unchanged): MSVC targets, a
//! compiler or binary path that contains whitespace (cc splits `CC` on
//! whitespace), and a compiler given by absolute path to a build system
//! that does not go through cc.
//!
//! # What the wrapper is told
//!
//! | variable | value |
//! | --- | --- |
//! | `CARGO_GOCACHE_DIR` | the store, absolute, so every wrapper uses the same one |
//! | `CARGO_GOCACHE_WORKSPACE` | the workspace root (`cargo locate-project --workspace`) |
//! | `CARGO_GOCACHE_CARGO_HOME` | `$CARGO_HOME`, else `~/.cargo` |
//! | `CARGO_GOCACHE_MASQUERADE`, `PATH` | the masquerade directory, and `PATH` with it first |
//! | `CARGO_GOCACHE_PROG` | this binary: build scripts' `gocache-build` helpers do their caching through it (`gocache serve-helper`), with or without a remote |
//! | `CARGO_GOCACHE_OWN_BINARY` | this binary's device, inode, size, mtime and SHA-256, so that a build-script launcher (a hard link to it) is not hashed again by every lookup |
//!
//! Every variable set here is the same from one run to the next for the
//! same project, store and settings: sccache hashes the `CARGO_*` variables
//! rustc sees, and build scripts and cargo key on what they read. The run's
//! own files (its event log, the store files it used) are found by the
//! wrappers from the process tree instead ([`crate::run`]); the
//! test `runner::rustc_sees_the_same_environment_every_run` holds it.
//!
//! At the end the run's events are added up into one summary line on
//! stderr, the log is kept as `<store>/stats/last-run.log`, and the store is
//! trimmed if the last trim was a day ago (as `go build` does). Cargo's exit
//! code is passed through.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

use crate::stats;
use crate::Store;
use anyhow::{Context, Result};

use crate::config::Config;
use crate::stats::Counters;
use crate::version::FORMATS_VAR;

mod env;
mod summary;
pub use summary::time_macro_hint;
mod targets;

use env::{
    ar_link, archiver_env, cmake_launcher_env, compiler_env, masquerade_env, rustc_wrapper_env,
};
use targets::{config_texts, option_values, targets};

/// Run `cargo <args>` (args[0] is the cargo subcommand) with the wrapper
/// set up; returns cargo's exit code.
pub fn run(mut args: Vec<OsString>, verify: bool) -> Result<i32> {
    // `cargo gocache cargo clean` reaches cargo's own `clean`, which
    // `cargo gocache clean` (the cache's) shadows.
    if args.first().is_some_and(|a| a == "cargo") {
        args.remove(0);
    }
    let cargo = crate::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    // Bad configuration is an error before anything runs: a build that
    // silently ignores a typo in the settings is worse than one that stops.
    let ws = workspace_root(&cargo, &args);
    let config = Config::load(ws.as_ref().map(|w| w.join("Cargo.toml")).as_deref())?;
    let verify = verify || config.verify.value;
    // Without a store, build scripts using the helper must not open one of
    // their own either: caching is off for the whole build.
    let without_cache = |why: Option<String>| {
        if let Some(why) = why {
            eprintln!("gocache: warning: building without the cache: {why}");
        }
        run_cargo(
            Command::new(&cargo)
                .args(&args)
                .env("CARGO_GOCACHE_DIR", "off"),
        )
    };
    let store = match config.store() {
        Ok(Some(store)) => store,
        Ok(None) => return without_cache(None),
        Err(e) => return without_cache(Some(format!("{e:#}"))),
    };
    let host = host_triple(&store);
    let setup = match Setup::new(&store, host, &args, ws.as_deref(), &config, verify) {
        Ok(setup) => setup,
        Err(e) => return without_cache(Some(format!("{e:#}"))),
    };

    let mut cmd = Command::new(&cargo);
    cmd.args(&args);
    for (k, v) in &setup.env {
        cmd.env(k, v);
    }
    let code = match run_cargo(&mut cmd) {
        Ok(code) => code,
        Err(e) => {
            let _ = fs::remove_file(&setup.run_log);
            let _ = fs::remove_file(&setup.used_log);
            return Err(e);
        }
    };

    let events = stats::read_events(&setup.run_log);
    let counters = Counters::from_events(&events);
    // Remote faults, repeated here: cargo shows a build script's stderr
    // (and so a wrapped compile's warnings) only when the script fails.
    if let Some(w) = crate::remote::take_run_warning(&setup.run_log) {
        eprintln!("gocache: warning: {w}");
    }
    if counters.remote.rejected > 0 {
        eprintln!(
            "gocache: warning: the remote cache returned {} damaged or tampered value{}; \
             not used (compiled here instead)",
            counters.remote.rejected,
            if counters.remote.rejected == 1 {
                ""
            } else {
                "s"
            }
        );
    }
    eprintln!("{}", summary::summary_line(&counters));
    if let Some(hint) = summary::time_macro_hint(&events) {
        eprintln!("{hint}");
    }
    for line in slowest_misses(&events, 5) {
        eprintln!("{line}");
    }
    let last = stats::last_run_log(&store);
    if let Err(e) = fs::rename(&setup.run_log, &last) {
        eprintln!(
            "gocache: warning: cannot keep the run log as {}: {e}",
            last.display()
        );
    }
    let _ = fs::rename(&setup.used_log, crate::store::last_used_log(&store));
    if let Err(e) = store.maybe_trim(&config.trim_policy()) {
        eprintln!("gocache: warning: trimming the cache failed: {e}");
    }
    if counters.nondeterministic > 0 {
        for line in nondeterministic(&store, &events) {
            eprintln!("{line}");
        }
        eprintln!(
            "gocache: error: --verify found {} nondeterministic result{} (listed above)",
            counters.nondeterministic,
            if counters.nondeterministic == 1 {
                ""
            } else {
                "s"
            }
        );
        return Ok(if code == 0 { 1 } else { code });
    }
    Ok(code)
}

/// `gocache: slowest misses:` and up to `n` lines, slowest first, when
/// there were misses.
fn slowest_misses(events: &[stats::Event], n: usize) -> Vec<String> {
    let mut misses: Vec<&stats::Event> = events
        .iter()
        .filter(|e| e.outcome == stats::Outcome::Miss)
        .collect();
    if misses.is_empty() {
        return Vec::new();
    }
    misses.sort_by(|a, b| b.spent_secs.total_cmp(&a.spent_secs));
    let mut lines = vec!["gocache: slowest misses:".to_string()];
    for e in misses.iter().take(n) {
        lines.push(format!(
            "    {:>7} {}",
            crate::human::format_secs(e.spent_secs),
            e.source
        ));
    }
    lines
}

/// A `gocache: nondeterministic:` line per result `--verify` found
/// differing, naming the object (from its key record) and the first
/// differing byte. The wrapper reports each one too, but on the build
/// script's stderr, which cargo shows only as a warning of a local crate:
/// for a crates.io dependency the run would fail naming nothing.
fn nondeterministic(store: &Store, events: &[stats::Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| {
            let stats::Outcome::Nondeterministic(offset) = e.outcome else {
                return None;
            };
            let record = e.action.and_then(|a| store.key_inputs(&a));
            let object = record
                .as_deref()
                .and_then(crate::stats::explain::record_object)
                .unwrap_or(&e.source);
            Some(format!(
                "gocache: nondeterministic: {object}: the fresh compile differs from the cached result at byte {offset}"
            ))
        })
        .collect()
}

fn run_cargo(cmd: &mut Command) -> Result<i32> {
    let status = cmd
        .status()
        .with_context(|| format!("failed to run {:?}", cmd.get_program()))?;
    Ok(exit_code(status))
}

/// The exit code to pass on: cargo's, or 128 + the signal that killed it
/// (as a shell reports it).
fn exit_code(status: ExitStatus) -> i32 {
    if let Some(code) = status.code() {
        return code;
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            return 128 + sig;
        }
    }
    1
}

/// Everything decided before cargo starts.
struct Setup {
    env: Vec<(OsString, OsString)>,
    run_log: PathBuf,
    /// The store files this run used (`export --used-since-build`).
    used_log: PathBuf,
}

impl Setup {
    fn new(
        store: &Store,
        host: Result<String>,
        args: &[OsString],
        workspace: Option<&Path>,
        config: &Config,
        verify: bool,
    ) -> Result<Setup> {
        let exe = std::env::current_exe().context("cannot find the running cargo-gocache")?;
        let host = host?;
        let cwd = std::env::current_dir().context("cannot read the working directory")?;
        let targets = targets(
            args,
            crate::env::var("CARGO_BUILD_TARGET"),
            &config_texts(&cwd, cargo_home().as_deref()),
            &host,
        );

        // ---- The environment given to cargo: assembled here, in one place.
        let getenv = |name: &str| crate::env::var(name);
        let mut env = compiler_env(&exe, &host, &targets, &getenv)?;
        env.extend(rustc_wrapper_env(&exe));
        // The archiver runs as `gocache-ar`, a link to this binary: see
        // `archiver_env` for why not `cargo-gocache` itself.
        match ar_link(store, &exe) {
            Ok(link) => env.extend(archiver_env(&link, &host, &targets, &getenv)),
            Err(e) => eprintln!("gocache: warning: archives get no build IDs this run: {e:#}"),
        }
        env.extend(cmake_launcher_env(&exe, &getenv));
        // Build systems handed the bare compiler (jemalloc's configure,
        // CMake) find the wrapper first on PATH: `wrapper::masquerade`.
        match masquerade_env(store, &exe, &env, std::env::var_os("PATH"), &getenv) {
            Ok(vars) => env.extend(vars),
            Err(e) => eprintln!(
                "gocache: warning: compilers that build systems find on PATH run uncached: {e:#}"
            ),
        }
        // The settings, resolved once here; wrapped compiles and build
        // scripts read only these variables.
        for (k, v) in config.to_env() {
            env.push((k.into(), v.into()));
        }
        env.push(("CARGO_GOCACHE_DIR".into(), store.root().into()));
        // What the helper's server checks its own store format against.
        env.push((FORMATS_VAR.into(), binary_formats().into()));
        if verify {
            env.push(("CARGO_GOCACHE_VERIFY".into(), "1".into()));
        }
        // Every build script's helper does its caching through this binary
        // (`gocache-build`'s helper runs `$CARGO_GOCACHE_PROG gocache
        // serve-helper`), so it is set for every build, remote or not.
        env.push(("CARGO_GOCACHE_PROG".into(), exe.clone().into()));
        // This binary's stamp and hash, for the build-script launchers
        // linked to it (`FileMemo`'s own-binary rule): they need not read it.
        if let Some(line) = crate::wrapper::filememo::own_binary_line(store, &exe) {
            env.push((crate::wrapper::filememo::OWN_BINARY_VAR.into(), line.into()));
        }
        if let Some(ws) = workspace {
            env.push(("CARGO_GOCACHE_WORKSPACE".into(), ws.into()));
        }
        if let Some(home) = cargo_home() {
            env.push(("CARGO_GOCACHE_CARGO_HOME".into(), home.into()));
        }
        // ---- (Nothing per run: see the module docs.)
        let run = crate::run::start(store.root()).with_context(|| {
            format!(
                "cannot create the run log under {}",
                crate::run::runs_dir(store.root()).display()
            )
        })?;

        if crate::env::debug("run") {
            for (k, v) in &env {
                eprintln!("gocache: {}={}", k.to_string_lossy(), v.to_string_lossy());
            }
        }
        Ok(Setup {
            env,
            run_log: run.log,
            used_log: run.used,
        })
    }
}

/// The host triple (what cargo passes build scripts as `HOST`): from the
/// store's memo of this rustc's identity, else from `rustc -vV`.
fn host_triple(store: &Store) -> Result<String> {
    let rustc = crate::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    if let Ok(host) = crate::wrapper::rust::host_triple(store, Path::new(&rustc)) {
        return Ok(host);
    }
    let out = Command::new(&rustc)
        .arg("-vV")
        .output()
        .with_context(|| format!("failed to run {rustc:?} -vV"))?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(|s| s.trim().to_string())
        .with_context(|| format!("{rustc:?} -vV printed no host line"))
}

/// The workspace root, or `None` outside a workspace (`cargo new`, `cargo install`).
fn workspace_root(cargo: &OsStr, args: &[OsString]) -> Option<PathBuf> {
    let manifest = option_values(args, "--manifest-path").pop();
    if let Some(root) = obvious_workspace_root(manifest.as_deref().map(Path::new)) {
        return Some(root);
    }
    let mut cmd = Command::new(cargo);
    cmd.args(["locate-project", "--workspace", "--message-format", "plain"]);
    if let Some(m) = option_values(args, "--manifest-path").pop() {
        cmd.args(["--manifest-path", &m]);
    }
    let out = cmd.stderr(std::process::Stdio::null()).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let manifest = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    manifest.parent().map(Path::to_path_buf)
}

/// The workspace root where cargo's answer cannot be another, read from
/// the manifests themselves: `cargo locate-project` costs every build,
/// warm ones above all, a cargo start-up (tens of milliseconds) before
/// cargo itself starts. The nearest `Cargo.toml` at or above the working
/// directory (or the `--manifest-path` given) is the root if it has a
/// `[workspace]` table, or if it names no `package.workspace` and no
/// directory above it holds a `Cargo.toml` at all (cargo searches those for
/// a workspace that takes it in). Anything else, and anything unreadable,
/// is left to cargo (`None`).
fn obvious_workspace_root(manifest_path: Option<&Path>) -> Option<PathBuf> {
    let manifest = match manifest_path {
        Some(m) => std::path::absolute(m).ok()?,
        None => {
            let cwd = std::env::current_dir().ok()?;
            cwd.ancestors()
                .map(|d| d.join("Cargo.toml"))
                .find(|m| m.is_file())?
        }
    };
    let dir = manifest.parent()?.to_path_buf();
    let doc: toml::Table = std::fs::read_to_string(&manifest).ok()?.parse().ok()?;
    if doc.contains_key("workspace") {
        return Some(dir);
    }
    let package = doc.get("package")?.as_table()?;
    if package.contains_key("workspace") {
        return None;
    }
    let above = dir
        .ancestors()
        .skip(1)
        .any(|d| d.join("Cargo.toml").exists());
    (!above).then_some(dir)
}

/// `$CARGO_HOME`, else `~/.cargo` (cargo's own rule), made absolute.
fn cargo_home() -> Option<PathBuf> {
    let home = crate::env::var_os("CARGO_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| crate::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))?;
    std::path::absolute(home).ok()
}

/// This binary's formats and version, as build scripts are told them
/// (see `crate::version`).
fn binary_formats() -> String {
    format!(
        "{} cargo-gocache {}",
        crate::version::formats(),
        env!("CARGO_PKG_VERSION")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where the manifests settle the root, the answer is cargo's own;
    /// elsewhere cargo is asked.
    #[test]
    fn obvious_workspace_roots_are_cargos() {
        let d = tempfile::tempdir().unwrap();
        let w = |rel: &str, text: &str| {
            let p = d.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, text).unwrap();
            p
        };
        let lib = "[package]\nname = \"m\"\nversion = \"0.1.0\"\nedition = \"2021\"\n";
        w("ws/src/lib.rs", "");
        let ws = w("ws/Cargo.toml", "[workspace]\nmembers = [\"m\"]\n");
        w("ws/m/src/lib.rs", "");
        let member = w("ws/m/Cargo.toml", lib);
        w("alone/src/lib.rs", "");
        let alone = w("alone/Cargo.toml", lib);
        let pointed = w(
            "other/p/Cargo.toml",
            &format!("{lib}workspace = \"../../ws\"\n"),
        );
        let cargo_says = |m: &Path| {
            let out = Command::new("cargo")
                .args(["locate-project", "--workspace", "--message-format", "plain"])
                .arg("--manifest-path")
                .arg(m)
                .output()
                .unwrap();
            assert!(out.status.success(), "{out:?}");
            PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
                .parent()
                .unwrap()
                .to_path_buf()
        };
        assert_eq!(obvious_workspace_root(Some(&ws)), Some(cargo_says(&ws)));
        // (Unless the temporary directory itself is inside a package.)
        let above = d.path().ancestors().any(|a| a.join("Cargo.toml").exists());
        let expected = (!above).then(|| cargo_says(&alone));
        assert_eq!(obvious_workspace_root(Some(&alone)), expected);
        // A member, and a package naming its workspace: cargo decides.
        assert_eq!(obvious_workspace_root(Some(&member)), None);
        assert_eq!(obvious_workspace_root(Some(&pointed)), None);
        // Not TOML: cargo decides (and reports it).
        let broken = w("broken/Cargo.toml", "[package\n");
        assert_eq!(obvious_workspace_root(Some(&broken)), None);
    }

    #[test]
    fn build_scripts_are_told_formats_this_library_agrees_with() {
        assert_eq!(crate::version::check(&binary_formats()), Ok(()));
    }
}
