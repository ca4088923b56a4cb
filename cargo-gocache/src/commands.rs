//! The maintenance commands: clean, trim, stats.

use std::collections::BTreeMap;
use std::fs;

use anyhow::{Context, Result};
use gocache_build::stats::{self, Outcome};
use gocache_build::{Store, TrimPolicy};

use crate::cli::Command;
use crate::human::{format_secs, format_size};

/// Run a gocache command; returns the exit code.
pub fn run(command: Command) -> Result<i32> {
    if let Command::Cargo(args) = command {
        return crate::run::run(args);
    }
    let Some(store) = Store::from_env()? else {
        eprintln!("gocache: caching is off (CARGO_GOCACHE_DIR=off); nothing to do");
        return Ok(0);
    };
    match command {
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

/// Counters added up from an event log.
#[derive(Debug, Default, serde::Serialize)]
pub struct Counters {
    pub hits: u64,
    pub misses: u64,
    pub uncacheable: BTreeMap<String, u64>,
    pub errors: u64,
    pub saved_secs: f64,
    pub spent_secs: f64,
}

impl Counters {
    pub fn from_events(events: &[stats::Event]) -> Counters {
        let mut c = Counters::default();
        for e in events {
            match &e.outcome {
                Outcome::Hit => c.hits += 1,
                Outcome::Miss => c.misses += 1,
                Outcome::Uncacheable(r) => *c.uncacheable.entry(r.clone()).or_default() += 1,
                Outcome::Error(_) => c.errors += 1,
            }
            c.saved_secs += e.saved_secs;
            c.spent_secs += e.spent_secs;
        }
        c
    }

    /// The line `cargo gocache <cmd>` ends with, e.g.
    /// `gocache: 412 hits, 3 misses, 9 uncacheable (link 6, -E 3); 2m31s of compiling saved`.
    pub fn summary_line(&self) -> String {
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
        line
    }
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
    }
}
