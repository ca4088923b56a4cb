//! Store latency: put, and get as a hit costs it (look up the entry, read
//! the output, check its hash, place it as a new file), for a small and a
//! large object.
//!
//! ```text
//! cargo bench -p gocache-build --features engine --bench store
//! GOCACHE_BENCH_DIR=/mnt/disk cargo bench -p gocache-build --features engine --bench store
//! ```
//!
//! `GOCACHE_BENCH_DIR` picks the filesystem (default: the system temp
//! dir). Gets read outputs written moments before, so they come from the
//! page cache, as hits in a rebuild mostly do. Plain `Instant`, no
//! framework: the numbers are for orders of magnitude, not for spotting
//! 2% regressions on a shared machine.

use std::path::Path;
use std::time::{Duration, Instant};

use cargo_gocache::{ActionId, KeyHasher, Store};

const ITERATIONS: usize = 200;
const WARMUP: usize = 10;

fn action(name: &str) -> ActionId {
    let mut h = KeyHasher::new("bench");
    h.line(name);
    h.id()
}

/// `len` bytes that differ for every `n`, so each put stores a new output.
fn object(len: usize, n: usize) -> Vec<u8> {
    let mut bytes: Vec<u8> = (0..len).map(|i| (i * 31 + i / 251) as u8).collect();
    let tag = (n as u64).to_le_bytes();
    let k = tag.len().min(len);
    bytes[..k].copy_from_slice(&tag[..k]);
    bytes
}

struct Summary {
    median: Duration,
    p90: Duration,
}

fn summarize(mut samples: Vec<Duration>) -> Summary {
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    Summary {
        median: at(0.5),
        p90: at(0.9),
    }
}

fn fmt(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 1000.0 {
        format!("{us:.0} µs")
    } else {
        format!("{:.2} ms", us / 1000.0)
    }
}

/// Time `ITERATIONS` puts of new outputs, then as many gets of them.
fn bench_size(store: &Store, scratch: &Path, len: usize) -> [(&'static str, Summary); 3] {
    let label = format!("{len}");
    let objects: Vec<Vec<u8>> = (0..WARMUP + ITERATIONS).map(|n| object(len, n)).collect();
    let actions: Vec<ActionId> = (0..WARMUP + ITERATIONS)
        .map(|n| action(&format!("{label}/{n}")))
        .collect();

    let mut put = Vec::with_capacity(ITERATIONS);
    for (n, (a, bytes)) in actions.iter().zip(&objects).enumerate() {
        let t = Instant::now();
        store.put(a, bytes).expect("put");
        if n >= WARMUP {
            put.push(t.elapsed());
        }
    }

    // A put whose output is already stored (another action, same bytes):
    // it reads and checks the stored copy instead of writing.
    let mut put_again = Vec::with_capacity(ITERATIONS);
    for (n, bytes) in objects.iter().enumerate() {
        let a = action(&format!("{label}/again/{n}"));
        let t = Instant::now();
        store.put(&a, bytes).expect("put");
        if n >= WARMUP {
            put_again.push(t.elapsed());
        }
    }

    let dest = scratch.join("placed.o");
    let mut get = Vec::with_capacity(ITERATIONS);
    for (n, (a, bytes)) in actions.iter().zip(&objects).enumerate() {
        let t = Instant::now();
        let entry = store.get(a).expect("hit");
        let placed = store.place(&entry, &dest).expect("place");
        let elapsed = t.elapsed();
        assert!(placed, "output of {n} missing");
        if n >= WARMUP {
            get.push(elapsed);
        }
        // Outside the timing: the placed file is the stored one.
        if n % 50 == 0 {
            assert!(std::fs::read(&dest).unwrap() == *bytes);
        }
    }
    [
        ("put (new output)", summarize(put)),
        ("put (output already stored)", summarize(put_again)),
        ("get (lookup+read+verify+place)", summarize(get)),
    ]
}

fn main() {
    // `cargo bench` passes `--bench`; a filter or other flags are ignored.
    let parent = std::env::var_os("GOCACHE_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let tmp = tempfile::Builder::new()
        .prefix("gocache-bench-")
        .tempdir_in(&parent)
        .expect("create a temporary directory");
    let store = Store::open(tmp.path().join("store")).expect("open store");

    println!(
        "store in {} ({ITERATIONS} iterations after {WARMUP} warm-up)",
        parent.display()
    );
    println!();
    println!(
        "| {:<32} | {:>7} | {:>9} | {:>9} |",
        "operation", "size", "median", "p90"
    );
    println!("|{:-<34}|{:->9}|{:->11}|{:->11}|", "", ":", ":", ":");
    for (len, name) in [(1 << 10, "1 KiB"), (1 << 20, "1 MiB")] {
        for (op, s) in bench_size(&store, tmp.path(), len) {
            println!(
                "| {op:<32} | {name:>7} | {:>9} | {:>9} |",
                fmt(s.median),
                fmt(s.p90)
            );
        }
    }
}
