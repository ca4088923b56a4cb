//! The maintenance commands: clean, trim, stats, buildid.

use std::collections::BTreeMap;
use std::fs;

use anyhow::{Context, Result};
use gocache_build::stats::{self, Outcome};
use gocache_build::{Store, TrimPolicy};

use crate::config::Config;

use crate::cli::Command;
use crate::human::{format_secs, format_size};

/// The workspace's root `Cargo.toml`, if the command runs inside one.
pub fn workspace_manifest() -> Option<std::path::PathBuf> {
    let cargo = gocache_build::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args(["locate-project", "--workspace", "--message-format", "plain"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().into())
}

/// Run a gocache command; returns the exit code.
pub fn run(command: Command, verify: bool) -> Result<i32> {
    if let Command::Cargo(args) = command {
        return crate::run::run(args, verify);
    }
    // Commands that read files or serve a build, not the store as configured.
    if let Command::Buildid { verbose, files } = &command {
        return Ok(buildid(*verbose, files));
    }
    if let Command::ServeTier = command {
        return serve_tier();
    }
    let manifest = workspace_manifest();
    let config = Config::load(manifest.as_deref())?;
    match &command {
        Command::Config => {
            println!(
                "# each source overrides the ones before it: default, user file, Cargo.toml, environment"
            );
            for (key, value, source) in config.rows() {
                println!("{key:<17} = {value:<40} # {source}");
            }
            return Ok(0);
        }
        Command::Env {
            json,
            github,
            target,
        } => {
            let root = manifest.as_deref().and_then(|m| m.parent());
            let e = crate::ci::ci_env(config.dir.value.as_deref(), root, target.as_deref())?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&e)?);
            } else if *github {
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
            return Ok(0);
        }
        _ => {}
    }
    let Some(store) = config.store()? else {
        eprintln!("gocache: caching is off (CARGO_GOCACHE_DIR=off); nothing to do");
        return Ok(0);
    };
    match command {
        Command::Config | Command::Env { .. } | Command::ServeTier => unreachable!("handled above"),
        Command::Explain { pattern } => explain(&store, pattern.as_deref())?,
        Command::Export {
            file,
            used_since_build,
        } => {
            let only = if used_since_build {
                let used = used_by_last_build(&store)?;
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
            let r = crate::ci::export(&store, &file, only.as_ref())?;
            println!(
                "exported {} files ({}) to {}",
                r.files,
                format_size(r.bytes),
                file.display()
            );
        }
        Command::Import { file } => {
            let r = crate::ci::import(&store, &file)?;
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
        }
        Command::Clean => {
            let r = store
                .clean()
                .with_context(|| format!("failed to clean {}", store.root().display()))?;
            println!(
                "removed {} files ({}) from {}",
                r.removed_files,
                format_size(r.removed_bytes),
                store.root().display()
            );
        }
        Command::Trim { max_size, max_age } => {
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
        }
        Command::Buildid { .. } => unreachable!("handled above"),
        Command::Stats { json, zero } => {
            print_stats(&store, json)?;
            if zero {
                let log = stats::events_log(&store);
                match fs::remove_file(&log) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        return Err(e).with_context(|| format!("failed to reset {}", log.display()))
                    }
                    _ => {}
                }
            }
        }
        Command::Cargo(_) => unreachable!("handled above"),
    }
    Ok(0)
}

/// `buildid`: print each archive's build ID; 1 if any file has none.
fn buildid(verbose: bool, files: &[std::path::PathBuf]) -> i32 {
    let mut code = 0;
    for file in files {
        match gocache_build::archive::read_build_info(file) {
            Ok(info) => {
                if files.len() > 1 {
                    println!("{}: {}", file.display(), info.id);
                } else {
                    println!("{}", info.id);
                }
                if verbose {
                    for source in &info.sources {
                        println!("  {source}");
                    }
                }
            }
            Err(e) => {
                // The message names the file.
                eprintln!("error: {e}");
                code = 1;
            }
        }
    }
    code
}

/// `explain`: every miss of the last run, against the nearest earlier
/// build of the same object.
fn explain(store: &Store, pattern: Option<&str>) -> Result<()> {
    let log = stats::last_run_log(store);
    if !log.exists() {
        anyhow::bail!(
            "no record of a last run ({}): explain reads the misses of the last `cargo gocache` command",
            log.display()
        );
    }
    let mut shown = 0;
    for e in stats::read_events(&log) {
        let (Outcome::Miss, Some(action)) = (&e.outcome, e.action) else {
            continue;
        };
        let x = gocache_build::explain::explain(store, &action);
        let object = x.object.clone().unwrap_or_else(|| e.source.clone());
        if let Some(p) = pattern {
            if !e.source.contains(p) && !object.contains(p) {
                continue;
            }
        }
        shown += 1;
        println!("miss: {object}");
        match (x.against, x.changes.is_empty()) {
            (None, _) => println!("    first build of this object (nothing earlier in the cache)"),
            (Some(_), true) => {
                println!("    same inputs as an earlier build whose result was trimmed or lost")
            }
            (Some(_), false) => {
                for c in &x.changes {
                    println!("    {c}");
                }
            }
        }
    }
    if shown == 0 {
        match pattern {
            Some(p) => println!("no misses matching {p:?} in the last run"),
            None => println!("no misses in the last run"),
        }
    }
    Ok(())
}

/// `serve-tier`: the remote tier for a build script's store, over stdio.
/// Started by `gocache_build::prog::ProgTier` with the build's environment.
fn serve_tier() -> Result<i32> {
    let Some(store) = Store::from_env()? else {
        return Ok(0);
    };
    let (store, tier) = crate::remote::RemoteTier::attach_from_env(store);
    let Some(tier) = tier else { return Ok(0) };
    gocache_build::prog::serve(&*tier, std::io::stdin().lock(), std::io::stdout().lock())?;
    tier.finish(&store);
    Ok(0)
}

/// Counters added up from an event log.
#[derive(Debug, Default, serde::Serialize)]
pub struct Counters {
    pub hits: u64,
    pub misses: u64,
    pub uncacheable: BTreeMap<String, u64>,
    pub errors: u64,
    /// Hits whose fresh compile differed (`--verify`).
    pub nondeterministic: u64,
    pub saved_secs: f64,
    pub spent_secs: f64,
    #[serde(serialize_with = "serialize_remote")]
    pub remote: stats::RemoteCounts,
    /// Rust compiles (the rustc wrapper), counted apart: the fields above
    /// are C/C++ only, except `nondeterministic` and `remote`, which count
    /// both.
    pub rust: RustCounters,
}

/// The Rust side of [`Counters`].
#[derive(Debug, Default, serde::Serialize)]
pub struct RustCounters {
    pub hits: u64,
    pub misses: u64,
    pub uncacheable: BTreeMap<String, u64>,
    pub errors: u64,
    pub saved_secs: f64,
    pub spent_secs: f64,
}

/// `stats --json`'s `remote` object (the library has no serde).
fn serialize_remote<S: serde::Serializer>(
    r: &stats::RemoteCounts,
    s: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut m = s.serialize_map(Some(8))?;
    for (k, v) in [
        ("hits", r.hits),
        ("misses", r.misses),
        ("errors", r.errors),
        // Of `errors`, those never sent: the remote was being skipped
        // after failing several times in a row.
        ("skipped", r.skipped),
        ("rejected", r.rejected),
        ("puts", r.puts),
        ("bytes_down", r.bytes_down),
        ("bytes_up", r.bytes_up),
    ] {
        m.serialize_entry(k, &v)?;
    }
    m.end()
}

impl Counters {
    pub fn from_events(events: &[stats::Event]) -> Counters {
        let mut c = Counters::default();
        for e in events {
            if e.rust {
                let r = &mut c.rust;
                match &e.outcome {
                    Outcome::Hit => r.hits += 1,
                    Outcome::Miss => r.misses += 1,
                    Outcome::Uncacheable(why) => {
                        *r.uncacheable.entry(why.clone()).or_default() += 1
                    }
                    Outcome::Error(_) => r.errors += 1,
                    Outcome::Remote(x) => c.remote.add(x),
                    Outcome::Nondeterministic(_) => c.nondeterministic += 1,
                }
                r.saved_secs += e.saved_secs;
                r.spent_secs += e.spent_secs;
                continue;
            }
            match &e.outcome {
                Outcome::Hit => c.hits += 1,
                Outcome::Miss => c.misses += 1,
                Outcome::Uncacheable(r) => *c.uncacheable.entry(r.clone()).or_default() += 1,
                Outcome::Error(_) => c.errors += 1,
                Outcome::Remote(r) => c.remote.add(r),
                Outcome::Nondeterministic(_) => c.nondeterministic += 1,
            }
            c.saved_secs += e.saved_secs;
            c.spent_secs += e.spent_secs;
        }
        c
    }

    /// The line `cargo gocache <cmd>` ends with, e.g.
    /// `gocache: 412 hits, 3 misses, 9 uncacheable (link 6, -E 3); 2m31s of compiling saved`.
    pub fn summary_line(&self) -> String {
        let mut line = self.c_summary();
        let r = &self.rust;
        let uncacheable: u64 = r.uncacheable.values().sum();
        if r.hits + r.misses + uncacheable + r.errors > 0 {
            let plural =
                |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
            line.push_str(&format!(
                "; Rust: {}, {}, {uncacheable} uncacheable",
                plural(r.hits, "hit", "hits"),
                plural(r.misses, "miss", "misses"),
            ));
            if uncacheable > 0 {
                let mut reasons: Vec<(&String, &u64)> = r.uncacheable.iter().collect();
                reasons.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
                let reasons: Vec<String> =
                    reasons.iter().map(|(r, n)| format!("{r} {n}")).collect();
                line.push_str(&format!(" ({})", reasons.join(", ")));
            }
            if r.errors > 0 {
                line.push_str(&format!(
                    ", {} (cache faults; rustc ran)",
                    plural(r.errors, "error", "errors")
                ));
            }
            line.push_str(&format!(", {} saved", format_secs(r.saved_secs)));
        }
        line
    }

    /// The C/C++ part of the summary line.
    fn c_summary(&self) -> String {
        let uncacheable: u64 = self.uncacheable.values().sum();
        if self.hits + self.misses + uncacheable + self.errors == 0 {
            return "gocache: no C/C++ compiles ran".to_string();
        }
        let plural =
            |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let mut line = format!(
            "gocache: {}, {}, {uncacheable} uncacheable",
            plural(self.hits, "hit", "hits"),
            plural(self.misses, "miss", "misses"),
        );
        if uncacheable > 0 {
            // Most frequent reason first; ties by name, so the line is stable.
            let mut reasons: Vec<(&String, &u64)> = self.uncacheable.iter().collect();
            reasons.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            let reasons: Vec<String> = reasons.iter().map(|(r, n)| format!("{r} {n}")).collect();
            line.push_str(&format!(" ({})", reasons.join(", ")));
        }
        if self.errors > 0 {
            line.push_str(&format!(
                ", {} (cache faults; the compiler ran)",
                plural(self.errors, "error", "errors")
            ));
        }
        line.push_str(&format!(
            "; {} of compiling saved",
            format_secs(self.saved_secs)
        ));
        let r = &self.remote;
        if !r.is_empty() {
            line.push_str(&format!(
                "; remote: {}, {}, {}, {} down, {} up",
                plural(r.hits, "hit", "hits"),
                plural(r.misses, "miss", "misses"),
                // Requests skipped while the remote was off are not errors of their own.
                plural(
                    r.errors - r.skipped.min(r.errors) + r.rejected,
                    "error",
                    "errors"
                ),
                format_size(r.bytes_down),
                format_size(r.bytes_up)
            ));
        }
        if self.nondeterministic > 0 {
            line.push_str(&format!("; {} nondeterministic", self.nondeterministic));
        }
        line
    }
}

/// The store files the last `cargo gocache` build looked up or wrote, from
/// the log the store keeps when `CARGO_GOCACHE_USED_LOG` is set; the log of
/// the last build that used the store at all (a run that compiles nothing
/// keeps the previous one).
///
/// `None` when no build has used this store: in CI, a fresh store holding
/// only the imported bundle, with a target directory restored as well so
/// that no build script ran. All of it is then what the builds use, and
/// exporting less (or failing) would lose the cache for the next job.
fn used_by_last_build(store: &Store) -> Result<Option<std::collections::HashSet<String>>> {
    let log = gocache_build::store::last_used_log(store);
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

fn print_stats(store: &Store, json: bool) -> Result<()> {
    let usage = store.usage()?;
    let counters = Counters::from_events(&stats::read_events(&stats::events_log(store)));
    if json {
        #[derive(serde::Serialize)]
        struct Out<'a> {
            dir: String,
            entries: u64,
            outputs: u64,
            bytes: u64,
            #[serde(flatten)]
            counters: &'a Counters,
        }
        let out = Out {
            dir: store.root().display().to_string(),
            entries: usage.entries,
            outputs: usage.outputs,
            bytes: usage.bytes,
            counters: &counters,
        };
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        let uncacheable: u64 = counters.uncacheable.values().sum();
        println!("cache directory   {}", store.root().display());
        println!("entries           {}", usage.entries);
        println!("outputs           {}", usage.outputs);
        println!("size              {}", format_size(usage.bytes));
        println!("hits              {}", counters.hits);
        println!("misses            {}", counters.misses);
        println!("uncacheable       {uncacheable}");
        for (reason, n) in &counters.uncacheable {
            println!("  {reason:<15} {n}");
        }
        println!("errors            {}", counters.errors);
        let r = &counters.remote;
        if !r.is_empty() {
            println!(
                "remote            {} hits, {} misses, {} errors, {} rejected, {} puts; {} down, {} up",
                r.hits,
                r.misses,
                r.errors,
                r.rejected,
                r.puts,
                format_size(r.bytes_down),
                format_size(r.bytes_up)
            );
        }
        println!("compile time saved {}", format_secs(counters.saved_secs));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_line_names_reasons_by_count() {
        let mut c = Counters {
            hits: 412,
            misses: 3,
            saved_secs: 151.0,
            ..Counters::default()
        };
        c.uncacheable.insert("-E".into(), 3);
        c.uncacheable.insert("link".into(), 6);
        assert_eq!(
            c.summary_line(),
            "gocache: 412 hits, 3 misses, 9 uncacheable (link 6, -E 3); 2m31s of compiling saved"
        );
        c.uncacheable.clear();
        c.hits = 1;
        c.misses = 1;
        c.errors = 2;
        c.saved_secs = 0.25;
        assert_eq!(
            c.summary_line(),
            "gocache: 1 hit, 1 miss, 0 uncacheable, 2 errors (cache faults; the compiler ran); 0.2s of compiling saved"
        );
        assert_eq!(
            Counters::default().summary_line(),
            "gocache: no C/C++ compiles ran"
        );
        let mut c = Counters::default();
        c.rust.hits = 40;
        c.rust.misses = 1;
        c.rust.saved_secs = 12.0;
        c.rust.uncacheable.insert("incremental".into(), 2);
        assert_eq!(
            c.summary_line(),
            "gocache: no C/C++ compiles ran; Rust: 40 hits, 1 miss, 2 uncacheable (incremental 2), 12.0s saved"
        );
    }
}
