//! `cargo gocache explain`: why each miss of the last run missed: the
//! lookup's own reason (kept in the event), then the key lines that differ
//! from the nearest earlier build of the same object.

use anyhow::Result;
use gocache_build::stats::{self, Outcome};
use gocache_build::Store;

/// `explain`: every miss of the last run, against the nearest earlier
/// build of the same object.
pub fn run(store: &Store, pattern: Option<&str>) -> Result<()> {
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
        // Why the lookup missed, as it decided (older logs have no reason).
        if let Some(why) = e.miss {
            println!("    lookup: {why}");
        }
        match (x.against, x.changes.is_empty()) {
            (None, _) => println!("    first build of this object (nothing earlier in the cache)"),
            (Some(_), true) => match e.miss {
                Some(why) => println!("    same inputs as an earlier build ({why})"),
                None => println!("    same inputs as an earlier build"),
            },
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
