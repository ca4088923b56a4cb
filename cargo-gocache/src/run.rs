//! `cargo gocache <cargo subcommand> [args]`: run cargo so that every C and
//! C++ compile of every build script goes through the compiler wrapper.
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
//! (a line scan of `.cargo/config.toml` from the working directory up, and
//! `$CARGO_HOME/config.toml`).
//!
//! Not covered (those compiles run uncached, unchanged): a target spelled
//! in a config in a way the line scan misses (a multi-line array), MSVC
//! targets, and a compiler or binary path that contains whitespace (cc
//! splits `CC` on whitespace).
//!
//! # What the wrapper is told
//!
//! | variable | value |
//! | --- | --- |
//! | `CARGO_GOCACHE_DIR` | the store, absolute, so every wrapper uses the same one |
//! | `CARGO_GOCACHE_WORKSPACE` | the workspace root (`cargo locate-project --workspace`) |
//! | `CARGO_GOCACHE_CARGO_HOME` | `$CARGO_HOME`, else `~/.cargo` |
//! | `CARGO_GOCACHE_RUN_LOG` | a fresh file under `<store>/stats/runs/` the wrapper appends its events to |
//!
//! At the end the run's events are added up into one summary line on
//! stderr, the log is kept as `<store>/stats/last-run.log`, and the store is
//! trimmed if the last trim was a day ago (as `go build` does). Cargo's exit
//! code is passed through.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use gocache_build::stats;
use gocache_build::Store;

use crate::commands::Counters;
use crate::config::Config;

/// Wrappers that cc recognises by name; a user's `CC` starting with one of
/// them is unwrapped so gocache replaces it.
const CC_KNOWN_WRAPPERS: &[&str] = &[
    "ccache",
    "distcc",
    "sccache",
    "icecc",
    "cachepot",
    "buildcache",
    "kache",
];

/// Run log files older than this were left by a run that was killed.
const STALE_RUN_LOG: Duration = Duration::from_secs(24 * 3600);

/// Run `cargo <args>` (args[0] is the cargo subcommand) with the wrapper
/// set up; returns cargo's exit code.
pub fn run(mut args: Vec<OsString>, verify: bool) -> Result<i32> {
    // `cargo gocache cargo clean` reaches cargo's own `clean`, which
    // `cargo gocache clean` (the cache's) shadows.
    if args.first().is_some_and(|a| a == "cargo") {
        args.remove(0);
    }
    let cargo = gocache_build::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());

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
    let setup = match Setup::new(&store, &cargo, &args, ws.as_deref(), &config, verify) {
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
    eprintln!("{}", counters.summary_line());
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
    let _ = fs::rename(&setup.used_log, gocache_build::store::last_used_log(&store));
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
                .and_then(gocache_build::explain::record_object)
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
        cargo: &OsStr,
        args: &[OsString],
        workspace: Option<&Path>,
        config: &Config,
        verify: bool,
    ) -> Result<Setup> {
        let _ = cargo;
        let exe = std::env::current_exe().context("cannot find the running cargo-gocache")?;
        let host = host_triple()?;
        let cwd = std::env::current_dir().context("cannot read the working directory")?;
        let targets = targets(
            args,
            gocache_build::env::var("CARGO_BUILD_TARGET"),
            &config_texts(&cwd, cargo_home().as_deref()),
            &host,
        );

        // ---- The environment given to cargo: assembled here, in one place.
        let getenv = |name: &str| gocache_build::env::var(name);
        let mut env = compiler_env(&exe, &host, &targets, &getenv)?;
        env.extend(rustc_wrapper_env(&exe));
        // The archiver runs as `gocache-ar`, a link to this binary: see
        // `archiver_env` for why not `cargo-gocache` itself.
        match ar_link(store, &exe) {
            Ok(link) => env.extend(archiver_env(&link, &host, &targets, &getenv)),
            Err(e) => eprintln!("gocache: warning: archives get no build IDs this run: {e:#}"),
        }
        // The settings, resolved once here; wrapped compiles and build
        // scripts read only these variables.
        for (k, v) in config.to_env() {
            env.push((k.into(), v.into()));
        }
        env.push(("CARGO_GOCACHE_DIR".into(), store.root().into()));
        if verify {
            env.push(("CARGO_GOCACHE_VERIFY".into(), "1".into()));
        }
        if config.remote.value.is_some() {
            // Build scripts reach the remote through this binary (see
            // `gocache_build::prog`).
            env.push(("CARGO_GOCACHE_PROG".into(), exe.clone().into()));
        }
        if let Some(ws) = workspace {
            env.push(("CARGO_GOCACHE_WORKSPACE".into(), ws.into()));
        }
        if let Some(home) = cargo_home() {
            env.push(("CARGO_GOCACHE_CARGO_HOME".into(), home.into()));
        }
        let run_log = new_run_log(store)?;
        env.push(("CARGO_GOCACHE_RUN_LOG".into(), run_log.clone().into()));
        let used_log = run_log.with_extension("used");
        env.push(("CARGO_GOCACHE_USED_LOG".into(), used_log.clone().into()));
        // ----

        if gocache_build::env::debug("run") {
            for (k, v) in &env {
                eprintln!("gocache: {}={}", k.to_string_lossy(), v.to_string_lossy());
            }
        }
        Ok(Setup {
            env,
            run_log,
            used_log,
        })
    }
}

/// `RUSTC_WRAPPER` (and cargo's config spelling of it) set to this binary,
/// so every rustc invocation goes through the Rust wrapper
/// (`wrapper::rust`). A user's own `RUSTC_WRAPPER` (sccache) is replaced,
/// as a caching `CC` wrapper is; `RUSTC_WORKSPACE_WRAPPER` (clippy) is
/// left alone: cargo runs it inside ours, and the wrapper runs it untouched.
fn rustc_wrapper_env(exe: &Path) -> Vec<(OsString, OsString)> {
    vec![
        ("RUSTC_WRAPPER".into(), exe.into()),
        ("CARGO_BUILD_RUSTC_WRAPPER".into(), exe.into()),
    ]
}

/// The `CC_<target>`, `CXX_<target>` and `CC_KNOWN_WRAPPER_CUSTOM`
/// variables that route every compile for `targets` through `exe`.
///
/// `getenv` reads the user's environment (a parameter so tests can fake it).
fn compiler_env(
    exe: &Path,
    host: &str,
    targets: &[String],
    getenv: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<(OsString, OsString)>> {
    let exe_str = exe
        .to_str()
        .filter(|s| !s.contains(char::is_whitespace))
        .with_context(|| {
            format!(
                "the path of cargo-gocache, {:?}, has whitespace or is not UTF-8, \
                 and cc splits CC on whitespace; install it elsewhere",
                exe.display()
            )
        })?;
    let exe_name = exe
        .file_stem()
        .and_then(OsStr::to_str)
        .context("cargo-gocache's path has no file name")?
        .to_string();

    let mut known: Vec<String> = CC_KNOWN_WRAPPERS.iter().map(|s| s.to_string()).collect();
    known.push(exe_name.clone());
    if let Some(custom) = getenv("CC_KNOWN_WRAPPER_CUSTOM").filter(|s| !s.is_empty()) {
        known.push(custom);
    }

    let mut env: Vec<(OsString, OsString)> = Vec::new();
    for target in targets {
        if target.contains("-msvc") {
            continue; // cl.exe command lines are not the wrapper's business.
        }
        let kind = if target == host { "HOST" } else { "TARGET" };
        for tool in ["CC", "CXX"] {
            let compiler = match user_tool(getenv, tool, target, kind) {
                Some(value) => match unwrap_user_tool(&value, &known) {
                    Some(c) => c,
                    None => {
                        eprintln!(
                            "gocache: warning: {tool} for {target} ({value:?}) has a path with \
                             whitespace; its compiles run uncached"
                        );
                        continue;
                    }
                },
                None => match default_compiler(target, host, tool == "CXX") {
                    Some(c) => c,
                    None => continue,
                },
            };
            env.push((
                format!("{tool}_{target}").into(),
                format!("{exe_str} {compiler}").into(),
            ));
        }
    }
    env.push(("CC_KNOWN_WRAPPER_CUSTOM".into(), exe_name.into()));
    Ok(env)
}

/// `<store>/bin/gocache-ar`, a symbolic link to this binary, (re)made if it
/// does not point at `exe`.
fn ar_link(store: &Store, exe: &Path) -> Result<PathBuf> {
    let dir = store.root().join("bin");
    let link = dir.join(crate::ar::AR_NAME);
    if fs::read_link(&link).is_ok_and(|t| t == exe) {
        return Ok(link);
    }
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    // A new link beside it, renamed over: concurrent runs never see none.
    let tmp = dir.join(format!(".{}-{}", crate::ar::AR_NAME, std::process::id()));
    let _ = fs::remove_file(&tmp);
    #[cfg(unix)]
    std::os::unix::fs::symlink(exe, &tmp)
        .with_context(|| format!("cannot create the link {}", tmp.display()))?;
    #[cfg(not(unix))]
    fs::copy(exe, &tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    fs::rename(&tmp, &link).with_context(|| format!("cannot create {}", link.display()))?;
    Ok(link)
}

/// `AR_<target>` = `<link> <the archiver cc would use>` for every target.
///
/// Why a link named `gocache-ar` rather than `cargo-gocache ar`: cc reads
/// `AR` through the same `env_tool` as `CC`, which treats a first word named
/// like a known wrapper (and `CC_KNOWN_WRAPPER_CUSTOM=cargo-gocache` makes
/// ours one) as a wrapper to drop for the archiver: `cargo-gocache ar`
/// would silently run plain `ar`. A first word cc does not know is run as
/// the program, with the rest as its first arguments.
fn archiver_env(
    link: &Path,
    host: &str,
    targets: &[String],
    getenv: &dyn Fn(&str) -> Option<String>,
) -> Vec<(OsString, OsString)> {
    let Some(link) = link.to_str().filter(|s| !s.contains(char::is_whitespace)) else {
        return Vec::new();
    };
    let mut env = Vec::new();
    for target in targets {
        if target.contains("-msvc") {
            continue;
        }
        let kind = if target == host { "HOST" } else { "TARGET" };
        let real = match user_tool(getenv, "AR", target, kind) {
            Some(v) if !v.contains(char::is_whitespace) => v,
            Some(_) => continue, // arguments or spaces: leave it as the user set it
            None => match default_archiver(target, host) {
                Some(a) => a,
                None => continue,
            },
        };
        env.push((
            format!("AR_{target}").into(),
            format!("{link} {real}").into(),
        ));
    }
    env
}

/// A `cc::Build` for asking cc which tools it would pick for `target`
/// (quietly: no cargo directives printed).
fn cc_for(target: &str, host: &str) -> cc::Build {
    let mut b = cc::Build::new();
    b.target(target)
        .host(host)
        .opt_level(0)
        .debug(false)
        .cargo_metadata(false)
        .cargo_warnings(false);
    b
}

/// The archiver cc picks for `target` when no variable names one.
fn default_archiver(target: &str, host: &str) -> Option<String> {
    if target == host {
        return Some("ar".to_string());
    }
    let cmd = cc_for(target, host).try_get_archiver().ok()?;
    let prog = cmd.get_program().to_str()?;
    (!prog.contains(char::is_whitespace)).then(|| prog.to_string())
}

/// The user's value for `tool` on `target`, looked up as cc does: the first
/// variable that is set wins, even if empty (cc then uses its default).
fn user_tool(
    getenv: &dyn Fn(&str) -> Option<String>,
    tool: &str,
    target: &str,
    kind: &str,
) -> Option<String> {
    let target_u = target.replace(['-', '.'], "_");
    [
        format!("{tool}_{target}"),
        format!("{tool}_{target_u}"),
        format!("{kind}_{tool}"),
        tool.to_string(),
    ]
    .iter()
    .find_map(|name| getenv(name))
    .map(|v| v.trim().to_string())
    .filter(|v| !v.is_empty())
}

/// The compiler and its arguments from a user's `CC` value, with a leading
/// known wrapper dropped. `None` when the value can't be passed through cc's
/// whitespace split (an existing path with spaces in it).
fn unwrap_user_tool(value: &str, known_wrappers: &[String]) -> Option<String> {
    if value.contains(char::is_whitespace) && Path::new(value).is_file() {
        return None;
    }
    let mut words: Vec<&str> = value.split_whitespace().collect();
    let is_wrapper = |w: &str| {
        let stem = Path::new(w)
            .file_stem()
            .and_then(OsStr::to_str)
            .unwrap_or("");
        known_wrappers.iter().any(|k| k.eq_ignore_ascii_case(stem))
    };
    while words.len() > 1 && is_wrapper(words[0]) {
        words.remove(0);
    }
    Some(words.join(" "))
}

/// The compiler cc picks for `target` when no variable names one.
fn default_compiler(target: &str, host: &str, cxx: bool) -> Option<String> {
    if target == host {
        // cc's native default (`traditional` in `get_base_compiler`).
        let c = match (cfg!(any(target_os = "solaris", target_os = "illumos")), cxx) {
            (false, false) => "cc",
            (false, true) => "c++",
            (true, false) => "gcc",
            (true, true) => "g++",
        };
        return Some(c.to_string());
    }
    // Cross: cc's own table of prefixes (`aarch64-linux-gnu-gcc`...),
    // `CROSS_COMPILE` and the rest; asking cc keeps us in step with it.
    let tool = cc_for(target, host).cpp(cxx).try_get_compiler().ok()?;
    let path = tool.path().to_str()?;
    (!path.contains(char::is_whitespace)).then(|| path.to_string())
}

/// The host triple, from `rustc -vV` (what cargo passes build scripts as `HOST`).
fn host_triple() -> Result<String> {
    let rustc = gocache_build::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
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

/// Every target cargo may build for: the host, each `--target`,
/// `CARGO_BUILD_TARGET`, and `build.target` from `--config` arguments and
/// from the config files cargo reads (`config_texts`). A union, not cargo's
/// precedence: a `CC_<target>` for a target that is not built is never
/// read, so too many is harmless, while a missing one leaves that
/// target's compiles uncached.
fn targets(
    args: &[OsString],
    env_target: Option<String>,
    config_texts: &[String],
    host: &str,
) -> Vec<String> {
    let mut found = option_values(args, "--target");
    // CARGO_BUILD_TARGET may be a list in newer cargo; take the names.
    found.extend(env_target.iter().flat_map(|t| quoted_or_bare(t)));
    for c in option_values(args, "--config") {
        if c.contains('=') {
            found.extend(config_build_targets(&c));
        } else if let Ok(text) = fs::read_to_string(&c) {
            found.extend(config_build_targets(&text));
        }
    }
    for text in config_texts {
        found.extend(config_build_targets(text));
    }
    let mut targets = vec![host.to_string()];
    for t in found {
        // A custom target spec `path/to/foo.json` is `foo` to build scripts.
        let t = if t.ends_with(".json") {
            Path::new(&t)
                .file_stem()
                .map_or(t.clone(), |s| s.to_string_lossy().into_owned())
        } else {
            t
        };
        if !t.is_empty() && !targets.contains(&t) {
            targets.push(t);
        }
    }
    targets
}

/// The config files cargo reads, from `cwd` up to the root, then
/// `$CARGO_HOME`: their texts (missing ones skipped).
fn config_texts(cwd: &Path, cargo_home: Option<&Path>) -> Vec<String> {
    let mut dirs: Vec<PathBuf> = cwd.ancestors().map(|d| d.join(".cargo")).collect();
    dirs.extend(cargo_home.map(Path::to_path_buf));
    dirs.iter()
        .flat_map(|d| [d.join("config.toml"), d.join("config")])
        .filter_map(|f| fs::read_to_string(f).ok())
        .collect()
}

/// `build.target` values in a cargo config text: `[build]` then
/// `target = "..."` or `target = ["...", ...]`, or a dotted
/// `build.target = ...`, on one line. A line scan, not a TOML parser:
/// enough for how configs spell it; anything it misses is only uncached.
fn config_build_targets(text: &str) -> Vec<String> {
    let mut table = String::new();
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.starts_with('[') {
            table = line.trim_matches(['[', ']', ' ']).to_string();
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let key: String = key.split_whitespace().collect();
        let full = if table.is_empty() {
            key
        } else {
            format!("{table}.{key}")
        };
        if full == "build.target" {
            out.extend(quoted_or_bare(value));
        }
    }
    out
}

/// The quoted strings in `v` (`"a"`, `['a', "b"]`), or `v` itself when it
/// has no quotes (`CARGO_BUILD_TARGET=aarch64-unknown-linux-gnu`).
fn quoted_or_bare(v: &str) -> Vec<String> {
    let v = v.trim();
    if !v.contains(['"', '\'']) {
        return v
            .split([',', '[', ']', ' '])
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
    }
    let mut out = Vec::new();
    let mut rest = v;
    while let Some(start) = rest.find(['"', '\'']) {
        let quote = rest.as_bytes()[start] as char;
        let after = &rest[start + 1..];
        let Some(end) = after.find(quote) else { break };
        out.push(after[..end].to_string());
        rest = &after[end + 1..];
    }
    out
}

/// Every value of `--name V` / `--name=V` before a `--`.
fn option_values(args: &[OsString], name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut it = args.iter().map(|a| a.to_string_lossy());
    while let Some(a) = it.next() {
        if a == "--" {
            break;
        }
        if a == name {
            if let Some(v) = it.next() {
                out.push(v.into_owned());
            }
        } else if let Some(v) = a.strip_prefix(name).and_then(|r| r.strip_prefix('=')) {
            out.push(v.to_string());
        }
    }
    out
}

/// The workspace root, or `None` outside a workspace (`cargo new`, `cargo install`).
fn workspace_root(cargo: &OsStr, args: &[OsString]) -> Option<PathBuf> {
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

/// `$CARGO_HOME`, else `~/.cargo` (cargo's own rule), made absolute.
fn cargo_home() -> Option<PathBuf> {
    let home = gocache_build::env::var_os("CARGO_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| gocache_build::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))?;
    std::path::absolute(home).ok()
}

/// Create a fresh, empty log for this run under `<store>/stats/runs/`, and
/// remove logs that killed runs left behind.
fn new_run_log(store: &Store) -> Result<PathBuf> {
    let dir = store.root().join("stats").join("runs");
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let now = SystemTime::now();
    if let Ok(entries) = fs::read_dir(&dir) {
        for e in entries.flatten() {
            let stale = e
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| now.duration_since(t).unwrap_or_default() > STALE_RUN_LOG);
            if stale {
                let _ = fs::remove_file(e.path());
            }
        }
    }
    let stamp = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let path = dir.join(format!(
        "{}.{:09}-{}.log",
        stamp.as_secs(),
        stamp.subsec_nanos(),
        std::process::id()
    ));
    fs::File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const HOST: &str = "x86_64-unknown-linux-gnu";

    fn env_of(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name: &str| map.get(name).cloned()
    }

    fn assembled(vars: &[(&str, &str)], targets: &[&str]) -> HashMap<String, String> {
        let targets: Vec<String> = targets.iter().map(|s| s.to_string()).collect();
        compiler_env(
            Path::new("/opt/bin/cargo-gocache"),
            HOST,
            &targets,
            &env_of(vars),
        )
        .unwrap()
        .into_iter()
        .map(|(k, v)| (k.into_string().unwrap(), v.into_string().unwrap()))
        .collect()
    }

    #[test]
    fn native_build_wraps_cc_defaults() {
        let env = assembled(&[], &[HOST]);
        assert_eq!(
            env["CC_x86_64-unknown-linux-gnu"],
            "/opt/bin/cargo-gocache cc"
        );
        assert_eq!(
            env["CXX_x86_64-unknown-linux-gnu"],
            "/opt/bin/cargo-gocache c++"
        );
        assert_eq!(env["CC_KNOWN_WRAPPER_CUSTOM"], "cargo-gocache");
    }

    #[test]
    fn user_compiler_stays_the_compiler_with_its_args() {
        let env = assembled(&[("CC", "/usr/bin/clang -m64"), ("CXX", "g++-12")], &[HOST]);
        assert_eq!(
            env["CC_x86_64-unknown-linux-gnu"],
            "/opt/bin/cargo-gocache /usr/bin/clang -m64"
        );
        assert_eq!(
            env["CXX_x86_64-unknown-linux-gnu"],
            "/opt/bin/cargo-gocache g++-12"
        );
    }

    #[test]
    fn target_specific_variables_win_in_cc_order() {
        let env = assembled(
            &[
                ("CC", "plain-cc"),
                ("HOST_CC", "host-cc"),
                ("CC_x86_64_unknown_linux_gnu", "underscored-cc"),
            ],
            &[HOST],
        );
        assert_eq!(
            env["CC_x86_64-unknown-linux-gnu"],
            "/opt/bin/cargo-gocache underscored-cc"
        );
        let env = assembled(&[("CC", "plain-cc"), ("HOST_CC", "host-cc")], &[HOST]);
        assert_eq!(
            env["CC_x86_64-unknown-linux-gnu"],
            "/opt/bin/cargo-gocache host-cc"
        );
    }

    #[test]
    fn host_and_target_compilers_stay_distinct_when_cross_compiling() {
        let env = assembled(
            &[
                ("HOST_CC", "gcc"),
                ("TARGET_CC", "aarch64-linux-gnu-gcc"),
                ("CXX_aarch64_unknown_linux_gnu", "aarch64-linux-gnu-g++"),
            ],
            &[HOST, "aarch64-unknown-linux-gnu"],
        );
        assert_eq!(
            env["CC_x86_64-unknown-linux-gnu"],
            "/opt/bin/cargo-gocache gcc"
        );
        assert_eq!(
            env["CC_aarch64-unknown-linux-gnu"],
            "/opt/bin/cargo-gocache aarch64-linux-gnu-gcc"
        );
        assert_eq!(
            env["CXX_aarch64-unknown-linux-gnu"],
            "/opt/bin/cargo-gocache aarch64-linux-gnu-g++"
        );
        // The host's C++ compiler is cc's default, not the target's.
        assert_eq!(
            env["CXX_x86_64-unknown-linux-gnu"],
            "/opt/bin/cargo-gocache c++"
        );
    }

    #[test]
    fn cross_default_comes_from_cc() {
        let env = assembled(&[], &[HOST, "aarch64-unknown-linux-gnu"]);
        assert_eq!(
            env["CC_aarch64-unknown-linux-gnu"],
            "/opt/bin/cargo-gocache aarch64-linux-gnu-gcc"
        );
    }

    #[test]
    fn a_users_caching_wrapper_is_replaced_not_chained() {
        let env = assembled(
            &[
                ("CC", "ccache gcc -O1"),
                ("CXX", "/usr/local/bin/cargo-gocache g++"),
            ],
            &[HOST],
        );
        assert_eq!(
            env["CC_x86_64-unknown-linux-gnu"],
            "/opt/bin/cargo-gocache gcc -O1"
        );
        assert_eq!(
            env["CXX_x86_64-unknown-linux-gnu"],
            "/opt/bin/cargo-gocache g++"
        );
        let env = assembled(
            &[
                ("CC", "mywrap clang"),
                ("CC_KNOWN_WRAPPER_CUSTOM", "mywrap"),
            ],
            &[HOST],
        );
        assert_eq!(
            env["CC_x86_64-unknown-linux-gnu"],
            "/opt/bin/cargo-gocache clang"
        );
        assert_eq!(env["CC_KNOWN_WRAPPER_CUSTOM"], "cargo-gocache");
    }

    #[test]
    fn empty_user_variable_means_cc_default() {
        let env = assembled(&[("CC", "  ")], &[HOST]);
        assert_eq!(
            env["CC_x86_64-unknown-linux-gnu"],
            "/opt/bin/cargo-gocache cc"
        );
    }

    #[test]
    fn binary_path_with_spaces_is_refused() {
        let r = compiler_env(
            Path::new("/opt/my bin/cargo-gocache"),
            HOST,
            &[HOST.to_string()],
            &env_of(&[]),
        );
        assert!(r.is_err());
    }

    #[test]
    fn targets_from_args_and_env() {
        let args: Vec<OsString> = [
            "build",
            "--target",
            "aarch64-unknown-linux-gnu",
            "--target=x86_64-unknown-linux-gnu",
            "--",
            "--target",
            "nope",
        ]
        .iter()
        .map(OsString::from)
        .collect();
        assert_eq!(
            targets(&args, None, &[], HOST),
            [HOST, "aarch64-unknown-linux-gnu"]
        );
        let args: Vec<OsString> = vec!["build".into()];
        assert_eq!(
            targets(&args, Some("riscv64gc-unknown-linux-gnu".into()), &[], HOST),
            [HOST, "riscv64gc-unknown-linux-gnu"]
        );
        let args: Vec<OsString> = ["build", "--target", "specs/my-board.json"]
            .iter()
            .map(OsString::from)
            .collect();
        assert_eq!(targets(&args, None, &[], HOST), [HOST, "my-board"]);
    }

    #[test]
    fn targets_from_cargo_config() {
        let none: Vec<OsString> = vec!["build".into()];
        let configs = [
            "# embedded\n[build]\ntarget = \"thumbv7em-none-eabihf\" # the board\n\n[target.x]\ntarget = \"not-this\"\n".to_string(),
            "build.target = ['aarch64-unknown-linux-gnu', \"wasm32-wasip1\"]\n".to_string(),
            "[ build ]\njobs = 2\n".to_string(),
        ];
        assert_eq!(
            targets(&none, None, &configs, HOST),
            [
                HOST,
                "thumbv7em-none-eabihf",
                "aarch64-unknown-linux-gnu",
                "wasm32-wasip1"
            ]
        );
        let args: Vec<OsString> = [
            "build",
            "--config",
            "build.target=\"riscv64gc-unknown-linux-gnu\"",
        ]
        .iter()
        .map(OsString::from)
        .collect();
        assert_eq!(
            targets(
                &args,
                Some("[\"i686-unknown-linux-gnu\"]".into()),
                &[],
                HOST
            ),
            [
                HOST,
                "i686-unknown-linux-gnu",
                "riscv64gc-unknown-linux-gnu"
            ]
        );
    }
}
