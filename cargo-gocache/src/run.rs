//! The current `cargo gocache` run, found from the process tree, not from
//! the environment.
//!
//! # Why not an environment variable
//!
//! Tools that key on the environment must see the same one from one run to
//! the next: sccache hashes every `CARGO_*` variable in rustc's environment,
//! build scripts print `rerun-if-env-changed`, cargo fingerprints those. A
//! per-run log path in the environment (`CARGO_GOCACHE_RUN_LOG`, as it
//! was) made every sccache key new on every run (issue 15). So everything
//! `cargo gocache` sets is the same for every run of one project and store,
//! and the per-run files are found here instead.
//!
//! # Layout
//!
//! ```text
//! <store>/stats/runs/<pid>-<start>.log    the run's events (stats::record appends)
//! <store>/stats/runs/<pid>-<start>.used   the store files the run used (export --used-since-build)
//! <store>/stats/runs/current              off Linux only: the name (<pid>-<start>) of the latest run
//! ```
//!
//! `<pid>` is the `cargo gocache` process and `<start>` its start time
//! (clock ticks since boot, field 22 of `/proc/<pid>/stat`), so a reused
//! pid never names an older run.
//!
//! # Finding the run
//!
//! Every wrapped compile, build script and helper is a descendant of the
//! `cargo gocache` process (`cargo gocache` → cargo → build script →
//! [make → sh →] wrapper). [`current`] walks up the parents through
//! `/proc/<pid>/stat`; the first ancestor that has a log under `runs/` is
//! the run. Two runs at once on one store (two projects, or `build` and
//! `test` of one) each find their own; a run inside a run finds the inner
//! one. A killed run leaves its files behind, and its process is gone: the
//! next run removes them ([`start`]). A process outside any run finds none
//! and records only into the store's cumulative log.
//!
//! Off Linux there is no `/proc`: `runs/current` names the latest run
//! started, so two runs at once on one store share a log there (the
//! summary counts of both are mixed; builds are not affected).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

/// The files of one `cargo gocache` run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// Its event log (see [`crate::stats`]).
    pub log: PathBuf,
    /// The store files it used, one `<shard>/<name>` a line.
    pub used: PathBuf,
}

/// Files of a run older than this are removed whatever their name says
/// (a run never lasts a day; off Linux it is the only way to tell).
const STALE: Duration = Duration::from_secs(24 * 3600);

/// Parents walked at most: the deepest real chain is about ten
/// (`cargo gocache`, rustup's proxy, cargo, build script, cmake, make,
/// sh...); a loop in a broken `/proc` must not hang a compile.
const MAX_DEPTH: usize = 64;

/// `<store>/stats/runs`.
pub fn runs_dir(store_root: &Path) -> PathBuf {
    store_root.join("stats").join("runs")
}

fn run_in(dir: &Path, name: &str) -> Run {
    Run {
        log: dir.join(format!("{name}.log")),
        used: dir.join(format!("{name}.used")),
    }
}

/// Start a run for this process: create its empty log, and remove the
/// files of runs that ended without cleaning up (killed). Called by
/// `cargo gocache` before cargo starts; the caller moves or removes the
/// files when the run ends.
pub fn start(store_root: &Path) -> io::Result<Run> {
    let dir = runs_dir(store_root);
    fs::create_dir_all(&dir)?;
    remove_stale(&dir);
    let name = own_name();
    let run = run_in(&dir, &name);
    fs::File::create(&run.log)?;
    #[cfg(not(target_os = "linux"))]
    crate::fsutil::write_atomic(&dir, "current", format!("{name}\n").as_bytes())
        .map_err(|e| io::Error::other(e.to_string()))?;
    Ok(run)
}

/// The run this process belongs to, if any (see the module docs).
/// Looked up once per process.
pub fn current(store_root: &Path) -> Option<&'static Run> {
    static FOUND: OnceLock<(PathBuf, Option<Run>)> = OnceLock::new();
    let (root, run) = FOUND.get_or_init(|| (store_root.to_path_buf(), find(store_root)));
    if root == store_root {
        return run.as_ref();
    }
    // A second store in one process (tests): not memoized.
    Box::leak(Box::new(find(store_root))).as_ref()
}

/// `<pid>-<start>` of this process.
fn own_name() -> String {
    let pid = std::process::id();
    match process(pid) {
        Some((_, start)) => format!("{pid}-{start}"),
        // No /proc: the pid and the wall clock are unique enough, and
        // nothing walks to it (off Linux `current` names it).
        None => {
            let t = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default();
            format!("{pid}-t{}{:09}", t.as_secs(), t.subsec_nanos())
        }
    }
}

#[cfg(target_os = "linux")]
fn find(store_root: &Path) -> Option<Run> {
    let dir = runs_dir(store_root);
    // One directory read; usually one or two runs are live. An empty or
    // missing directory (no run at all) costs no walk.
    let names: Vec<String> = fs::read_dir(&dir)
        .ok()?
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_suffix(".log")
                .map(str::to_string)
        })
        .collect();
    if names.is_empty() {
        return None;
    }
    let mut pid = std::process::id();
    for _ in 0..MAX_DEPTH {
        let (parent, start) = process(pid)?;
        let name = format!("{pid}-{start}");
        if names.contains(&name) {
            return Some(run_in(&dir, &name));
        }
        if parent <= 1 {
            return None;
        }
        pid = parent;
    }
    None
}

#[cfg(not(target_os = "linux"))]
fn find(store_root: &Path) -> Option<Run> {
    let dir = runs_dir(store_root);
    let name = fs::read_to_string(dir.join("current")).ok()?;
    let run = run_in(&dir, name.trim());
    run.log.is_file().then_some(run)
}

/// `(parent pid, start time)` of a live process, from `/proc/<pid>/stat`.
#[cfg(target_os = "linux")]
fn process(pid: u32) -> Option<(u32, u64)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&stat)
}

#[cfg(not(target_os = "linux"))]
fn process(_pid: u32) -> Option<(u32, u64)> {
    None
}

/// Fields 4 (ppid) and 22 (starttime) of a `/proc/<pid>/stat` line. The
/// command name (field 2) is in parentheses and may hold spaces and
/// parentheses itself, so fields are counted after the last `)`.
fn parse_stat(stat: &str) -> Option<(u32, u64)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is field 3 (state).
    Some((fields.get(1)?.parse().ok()?, fields.get(19)?.parse().ok()?))
}

/// Remove the files of runs whose process is gone (or whose pid now
/// belongs to another process), and any older than a day.
fn remove_stale(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let now = SystemTime::now();
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        if name == "current" {
            continue;
        }
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| now.duration_since(t).unwrap_or_default() > STALE);
        if old || ended(name) {
            let _ = fs::remove_file(e.path());
        }
    }
}

/// Does the run file `name` (`<pid>-<start>.<ext>`) belong to a process
/// that is no longer running? `false` when it cannot be told.
fn ended(name: &str) -> bool {
    if cfg!(not(target_os = "linux")) {
        return false;
    }
    let stem = name.split('.').next().unwrap_or("");
    let Some((pid, start)) = stem.split_once('-') else {
        return false;
    };
    let (Ok(pid), Ok(start)) = (pid.parse::<u32>(), start.parse::<u64>()) else {
        return false;
    };
    process(pid).is_none_or(|(_, s)| s != start)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_after_a_command_name_with_spaces_and_parens() {
        let stat =
            "4242 (a (b) c) S 17 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 200";
        assert_eq!(parse_stat(stat), Some((17, 987654)));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_process_finds_the_run_it_started_and_a_dead_run_is_removed() {
        let tmp = std::env::temp_dir().join(format!("gocache-run-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&tmp);
        let dir = runs_dir(&tmp);
        fs::create_dir_all(&dir).unwrap();
        // A run whose process is gone (pid 1 never has this start time).
        fs::write(dir.join("1-1.log"), "").unwrap();
        fs::write(dir.join("1-1.used"), "").unwrap();
        let run = start(&tmp).unwrap();
        assert!(run.log.is_file());
        assert!(!dir.join("1-1.log").exists() && !dir.join("1-1.used").exists());
        // This test process is its own run's process: it finds it.
        assert_eq!(find(&tmp), Some(run.clone()));
        // A child process finds its parent's run too: the walk.
        let (parent, _) = process(std::process::id()).unwrap();
        assert!(process(parent).is_some());
        fs::remove_file(&run.log).unwrap();
        assert_eq!(find(&tmp), None);
        let _ = fs::remove_dir_all(&tmp);
    }
}
