//! `cargo gocache stats`: the cache's size and its counters since `--zero`.

use std::fs;

use crate::stats::{self, Counters, RemoteCounts};
use crate::Store;
use anyhow::{Context, Result};

use crate::human::{format_secs, format_size};

/// Print the stats; with `zero`, reset the counters after.
pub fn run(store: &Store, json: bool, zero: bool) -> Result<()> {
    print_stats(store, json)?;
    if zero {
        let log = stats::events_log(store);
        match fs::remove_file(&log) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).with_context(|| format!("failed to reset {}", log.display()))
            }
            _ => {}
        }
    }
    Ok(())
}

/// `stats --json`'s counters (the library has no serde); fields in this
/// order, as before the counters moved to the library.
#[derive(serde::Serialize)]
struct CountersJson<'a> {
    hits: u64,
    misses: u64,
    uncacheable: &'a std::collections::BTreeMap<String, u64>,
    errors: u64,
    /// Hits whose fresh compile differed (`--verify`).
    nondeterministic: u64,
    saved_secs: f64,
    spent_secs: f64,
    #[serde(serialize_with = "serialize_remote")]
    remote: &'a RemoteCounts,
    /// Rust compiles, counted apart from the C/C++ ones above.
    rust: RustJson<'a>,
    /// Build-script runs (`build-scripts = "cache"`): `hits` restored,
    /// `misses` run and stored, `uncacheable` run and refused, by reason.
    build_scripts: RustJson<'a>,
}

#[derive(serde::Serialize)]
struct RustJson<'a> {
    hits: u64,
    misses: u64,
    uncacheable: &'a std::collections::BTreeMap<String, u64>,
    errors: u64,
    saved_secs: f64,
    spent_secs: f64,
}

impl<'a> RustJson<'a> {
    fn of(c: &'a stats::RustCounters) -> RustJson<'a> {
        RustJson {
            hits: c.hits,
            misses: c.misses,
            uncacheable: &c.uncacheable,
            errors: c.errors,
            saved_secs: c.saved_secs,
            spent_secs: c.spent_secs,
        }
    }
}

impl<'a> CountersJson<'a> {
    fn of(c: &'a Counters) -> CountersJson<'a> {
        CountersJson {
            hits: c.hits,
            misses: c.misses,
            uncacheable: &c.uncacheable,
            errors: c.errors,
            nondeterministic: c.nondeterministic,
            saved_secs: c.saved_secs,
            spent_secs: c.spent_secs,
            remote: &c.remote,
            rust: RustJson::of(&c.rust),
            build_scripts: RustJson::of(&c.build_scripts),
        }
    }
}

/// `stats --json`'s `remote` object.
fn serialize_remote<S: serde::Serializer>(r: &&RemoteCounts, s: S) -> Result<S::Ok, S::Error> {
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
            counters: CountersJson<'a>,
        }
        let out = Out {
            dir: store.root().display().to_string(),
            entries: usage.entries,
            outputs: usage.outputs,
            bytes: usage.bytes,
            counters: CountersJson::of(&counters),
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
        let rs = &counters.rust;
        let rust_uncacheable: u64 = rs.uncacheable.values().sum();
        if rs.hits + rs.misses + rust_uncacheable + rs.errors > 0 {
            println!("rust hits         {}", rs.hits);
            println!("rust misses       {}", rs.misses);
            println!("rust uncacheable  {rust_uncacheable}");
            for (reason, n) in &rs.uncacheable {
                println!("  {reason:<15} {n}");
            }
            println!("rust errors       {}", rs.errors);
        }
        let bs = &counters.build_scripts;
        let bs_refused: u64 = bs.uncacheable.values().sum();
        if bs.hits + bs.misses + bs_refused + bs.errors > 0 {
            println!(
                "build scripts     {} restored, {} run and stored, {bs_refused} run and refused, {} errors",
                bs.hits, bs.misses, bs.errors
            );
            for (reason, n) in &bs.uncacheable {
                println!("  {reason:<15} {n}");
            }
        }
        println!(
            "compile time saved {}",
            format_secs(counters.saved_secs + rs.saved_secs)
        );
        if bs.saved_secs > 0.0 {
            println!("build-script time saved {}", format_secs(bs.saved_secs));
        }
    }
    Ok(())
}
