//! The maintenance commands: clean, trim, stats, buildid.

use std::collections::BTreeMap;
use std::fs;

use anyhow::{Context, Result};
use gocache_build::stats::{self, Outcome};
use gocache_build::{Store, TrimPolicy};

use crate::cli::Command;
use crate::human::{format_secs, format_size};

/// Run a gocache command; returns the exit code.
pub fn run(command: Command) -> Result<i32> {
    // Commands that read files, not the store.
    if let Command::Buildid { verbose, files } = &command {
        return Ok(buildid(*verbose, files));
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
