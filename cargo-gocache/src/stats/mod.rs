//! Hit, miss and uncacheable events, appended to logs that `stats` and the
//! end-of-run summary add up.
//!
//! Each cached step (a wrapped compile, a helper's archive) appends one line
//! to `<root>/stats/events.log`, and also to the current `cargo gocache`
//! run's log when there is one (found by [`crate::run::current`]).
//! A line is written with a single `write(2)` on a file opened with
//! `O_APPEND`, which on local filesystems does not interleave with other
//! appenders' lines of this size, so no lock is needed. A line that does
//! not parse (a torn write on a full disk) is skipped by readers.
//!
//! Line format (tab-separated; the source path is last so it may hold tabs):
//!
//! ```text
//! v1 <kind> <reason|-> <spent secs> <saved secs> <action hex|-> <unix secs> <source>
//! ```
//!
//! A Rust compile (the rustc wrapper) writes the same fields headed `r1`
//! instead of `v1`; readers older than that skip those lines.
//!
//! A miss's reason is its [`MissReason::name`] (`-` in lines written before
//! reasons were kept).

pub mod explain;

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::direct::lookup::MissReason;
use crate::key::hash::ActionId;
use crate::store::Store;

/// What happened to one cacheable step.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Served from the cache.
    Hit,
    /// Compiled, then stored.
    Miss,
    /// Run without the cache, for the given reason (`link`, `-E`, `multiple-sources`...).
    Uncacheable(String),
    /// A cache fault made the step fall back to the compiler (reason given).
    Error(String),
    /// One process's traffic with the remote tier.
    Remote(RemoteCounts),
    /// `--verify`: a fresh compile of a hit differed from the cached
    /// result, first at this byte offset.
    Nondeterministic(u64),
}

/// One process's traffic with the remote tier.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RemoteCounts {
    /// Lookups the remote answered.
    pub hits: u64,
    /// Lookups the remote did not have.
    pub misses: u64,
    /// Requests that failed (connection, timeout, server error) or were skipped.
    pub errors: u64,
    /// Of `errors`, the requests never sent because the remote was already
    /// being skipped: `errors - skipped` requests went to the network.
    pub skipped: u64,
    /// Answers rejected by the store's checks (size, hash, format).
    pub rejected: u64,
    /// Values written to the remote.
    pub puts: u64,
    /// Bytes fetched.
    pub bytes_down: u64,
    /// Bytes sent.
    pub bytes_up: u64,
}

impl RemoteCounts {
    fn encode(&self) -> String {
        format!(
            "h={},m={},e={},s={},r={},p={},d={},u={}",
            self.hits,
            self.misses,
            self.errors,
            self.skipped,
            self.rejected,
            self.puts,
            self.bytes_down,
            self.bytes_up
        )
    }

    fn decode(s: &str) -> Option<RemoteCounts> {
        let mut c = RemoteCounts::default();
        for kv in s.split(',') {
            let (k, v) = kv.split_once('=')?;
            let v: u64 = v.parse().ok()?;
            match k {
                "h" => c.hits = v,
                "m" => c.misses = v,
                "e" => c.errors = v,
                "s" => c.skipped = v,
                "r" => c.rejected = v,
                "p" => c.puts = v,
                "d" => c.bytes_down = v,
                "u" => c.bytes_up = v,
                _ => {}
            }
        }
        Some(c)
    }

    /// Add another process's counts.
    pub fn add(&mut self, o: &RemoteCounts) {
        self.hits += o.hits;
        self.misses += o.misses;
        self.errors += o.errors;
        self.skipped += o.skipped;
        self.rejected += o.rejected;
        self.puts += o.puts;
        self.bytes_down += o.bytes_down;
        self.bytes_up += o.bytes_up;
    }

    /// Nothing happened.
    pub fn is_empty(&self) -> bool {
        *self == RemoteCounts::default()
    }
}

/// One event line.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// What happened.
    pub outcome: Outcome,
    /// Seconds spent compiling (misses, uncacheable steps).
    pub spent_secs: f64,
    /// Seconds saved (hits: the compile time recorded when the entry was made).
    pub saved_secs: f64,
    /// The action's ID, when one was computed.
    pub action: Option<ActionId>,
    /// When, in seconds since the Unix epoch.
    pub time: u64,
    /// The source file or library name it concerns, for people.
    pub source: String,
    /// A Rust compile (the rustc wrapper), not a C/C++ one: written as an
    /// `r1` line instead of `v1`, so the summary counts the two apart.
    pub rust: bool,
    /// A build-script run (`wrapper::buildscript`): a `b1` line.
    pub build_script: bool,
    /// For a miss, why the lookup missed (written in the reason column).
    pub miss: Option<MissReason>,
}

impl Event {
    /// A new event stamped now.
    pub fn new(outcome: Outcome, source: impl Into<String>) -> Event {
        let time = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        Event {
            outcome,
            spent_secs: 0.0,
            saved_secs: 0.0,
            action: None,
            time,
            source: source.into(),
            rust: false,
            build_script: false,
            miss: None,
        }
    }

    /// A new event of a build-script run, stamped now.
    pub fn build_script(outcome: Outcome, source: impl Into<String>) -> Event {
        Event {
            build_script: true,
            ..Event::new(outcome, source)
        }
    }

    /// A new event of a Rust compile, stamped now.
    pub fn rust(outcome: Outcome, source: impl Into<String>) -> Event {
        Event {
            rust: true,
            ..Event::new(outcome, source)
        }
    }

    /// A miss event, with why the lookup missed.
    pub fn miss(why: MissReason, source: impl Into<String>) -> Event {
        let mut e = Event::new(Outcome::Miss, source);
        e.miss = Some(why);
        e
    }

    fn to_line(&self) -> String {
        let remote;
        let (kind, reason) = match &self.outcome {
            Outcome::Hit => ("hit", "-"),
            Outcome::Miss => ("miss", self.miss.map_or("-", MissReason::name)),
            Outcome::Uncacheable(r) => ("uncacheable", r.as_str()),
            Outcome::Error(r) => ("error", r.as_str()),
            Outcome::Remote(c) => {
                remote = c.encode();
                ("remote", remote.as_str())
            }
            Outcome::Nondeterministic(offset) => {
                remote = offset.to_string();
                ("nondeterministic", remote.as_str())
            }
        };
        let clean = |s: &str| s.replace(['\t', '\n'], " ");
        format!(
            "{}\t{kind}\t{}\t{:.3}\t{:.3}\t{}\t{}\t{}\n",
            if self.build_script {
                "b1"
            } else if self.rust {
                "r1"
            } else {
                "v1"
            },
            clean(reason),
            self.spent_secs,
            self.saved_secs,
            self.action.map_or("-".to_string(), |a| a.to_hex()),
            self.time,
            clean(&self.source)
        )
    }

    fn parse(line: &str) -> Option<Event> {
        let mut f = line.splitn(8, '\t');
        let (rust, build_script) = match f.next()? {
            "v1" => (false, false),
            "r1" => (true, false),
            "b1" => (false, true),
            _ => return None,
        };
        let kind = f.next()?;
        let reason = f.next()?.to_string();
        let miss = match kind {
            "miss" => MissReason::from_name(&reason),
            _ => None,
        };
        let outcome = match kind {
            "hit" => Outcome::Hit,
            "miss" => Outcome::Miss,
            "uncacheable" => Outcome::Uncacheable(reason),
            "error" => Outcome::Error(reason),
            "remote" => Outcome::Remote(RemoteCounts::decode(&reason)?),
            "nondeterministic" => Outcome::Nondeterministic(reason.parse().ok()?),
            _ => return None,
        };
        let spent_secs = f.next()?.parse().ok()?;
        let saved_secs = f.next()?.parse().ok()?;
        let action = match f.next()? {
            "-" => None,
            h => Some(ActionId::from_hex(h)?),
        };
        let time = f.next()?.parse().ok()?;
        let source = f.next()?.to_string();
        Some(Event {
            miss,
            outcome,
            spent_secs,
            saved_secs,
            action,
            time,
            source,
            rust,
            build_script,
        })
    }
}

/// The store's cumulative event log.
pub fn events_log(store: &Store) -> PathBuf {
    store.root().join("stats").join("events.log")
}

/// Where `cargo gocache` keeps the last run's events (for `explain`).
pub fn last_run_log(store: &Store) -> PathBuf {
    store.root().join("stats").join("last-run.log")
}

/// Append `event` to the store's log and to the current run's log, if any.
/// Best effort: statistics never fail a build.
pub fn record(store: &Store, event: &Event) {
    let line = event.to_line();
    let log = events_log(store);
    if append(&log, &line).is_err() {
        let _ = fs::create_dir_all(log.parent().unwrap());
        let _ = append(&log, &line);
    }
    if let Some(run) = crate::run::current(store.root()) {
        let _ = append(&run.log, &line);
    }
}

/// Append `event` to the current run's log only: for faults where the
/// store itself cannot be opened. Best effort.
pub fn record_run_only(event: &Event) {
    let Ok(Some(root)) = crate::env::cache_dir() else {
        return;
    };
    if let Some(run) = crate::run::current(&root) {
        let _ = append(&run.log, &event.to_line());
    }
}

fn append(path: &Path, line: &str) -> std::io::Result<()> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?
        .write_all(line.as_bytes())
}

/// Read every well-formed event of a log; a missing log has none.
pub fn read_events(path: &Path) -> Vec<Event> {
    fs::read_to_string(path)
        .map(|text| text.lines().filter_map(Event::parse).collect())
        .unwrap_or_default()
}

/// A log's events added up: what `stats` and the end-of-run summary print.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Counters {
    /// Steps served from the cache.
    pub hits: u64,
    /// Steps compiled, then stored.
    pub misses: u64,
    /// Steps run without the cache, by reason.
    pub uncacheable: std::collections::BTreeMap<String, u64>,
    /// Cache faults (the compiler ran).
    pub errors: u64,
    /// Hits whose fresh compile differed (`--verify`).
    pub nondeterministic: u64,
    /// Compile time the hits saved.
    pub saved_secs: f64,
    /// Time the steps took.
    pub spent_secs: f64,
    /// The remote tier's traffic, all processes together.
    pub remote: RemoteCounts,
    /// Rust compiles (the rustc wrapper), counted apart: the fields above
    /// are C/C++ only, except `nondeterministic` and `remote`, which count
    /// both.
    pub rust: RustCounters,
    /// Build-script runs: `hits` restored, `misses` run and stored,
    /// `uncacheable` run for the reason given.
    pub build_scripts: RustCounters,
}

/// The Rust side of [`Counters`].
#[derive(Debug, Default, Clone, PartialEq)]
pub struct RustCounters {
    /// Compiles served from the cache.
    pub hits: u64,
    /// Compiles run, then stored.
    pub misses: u64,
    /// Compiles run without the cache, by reason.
    pub uncacheable: std::collections::BTreeMap<String, u64>,
    /// Cache faults (rustc ran).
    pub errors: u64,
    /// Compile time the hits saved.
    pub saved_secs: f64,
    /// Time the compiles took.
    pub spent_secs: f64,
}

impl Counters {
    /// Add up `events`.
    pub fn from_events(events: &[Event]) -> Counters {
        let mut c = Counters::default();
        for e in events {
            if e.rust || e.build_script {
                let r = if e.rust {
                    &mut c.rust
                } else {
                    &mut c.build_scripts
                };
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip() {
        let mut e = Event::new(Outcome::Uncacheable("link".into()), "src/a b.c");
        e.spent_secs = 1.5;
        assert_eq!(Event::parse(e.to_line().trim_end()), Some(e.clone()));
        e.outcome = Outcome::Hit;
        e.action = Some(ActionId([7; 32]));
        assert_eq!(Event::parse(e.to_line().trim_end()), Some(e.clone()));
        let r = Event::rust(Outcome::Uncacheable("incremental".into()), "foo");
        assert!(r.to_line().starts_with("r1\t"));
        assert_eq!(Event::parse(r.to_line().trim_end()), Some(r));
        assert_eq!(Event::parse("v1\tbogus"), None);
        for why in MissReason::ALL {
            let mut m = Event::miss(why, "a.c");
            m.action = Some(ActionId([9; 32]));
            assert_eq!(Event::parse(m.to_line().trim_end()), Some(m));
        }
        // A miss written before reasons were kept reads as one without.
        e.outcome = Outcome::Miss;
        assert_eq!(Event::parse(e.to_line().trim_end()), Some(e));
        let r = RemoteCounts {
            hits: 3,
            errors: 5,
            skipped: 2,
            bytes_down: 1000,
            ..Default::default()
        };
        let e = Event::new(Outcome::Remote(r), "redis://x");
        assert_eq!(Event::parse(e.to_line().trim_end()), Some(e));
        // A line written before `s=` existed still reads, as none skipped.
        assert_eq!(
            RemoteCounts::decode("h=1,m=0,e=4,r=0,p=0,d=9,u=0").map(|c| (c.errors, c.skipped)),
            Some((4, 0))
        );
    }
}
