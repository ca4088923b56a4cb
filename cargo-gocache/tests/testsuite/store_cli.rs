//! The store through the command line: where it is (`CARGO_GOCACHE_DIR`),
//! and the maintenance commands `stats`, `clean` and `trim`.

use std::fs;

use cargo_gocache::stats::{self, Event, Outcome};
use cargo_gocache::store::ENTRY_SIZE;
use cargo_gocache::{ActionId, KeyHasher, Store};

use crate::support::Sandbox;

fn action(name: &str) -> ActionId {
    let mut h = KeyHasher::new("cli-test");
    h.line(name);
    h.id()
}

/// Put `n` entries with distinct outputs of `size` bytes; returns their actions.
fn put_entries(store: &Store, n: usize, size: usize) -> Vec<ActionId> {
    (0..n)
        .map(|i| {
            let a = action(&format!("entry-{i}"));
            store.put(&a, &vec![i as u8; size]).unwrap();
            a
        })
        .collect()
}

/// `stats --json`, parsed; fails the test if the command fails.
#[track_caller]
fn stats_json(sb: &Sandbox) -> serde_json::Value {
    sb.gocache()
        .args(["stats", "--json"])
        .run()
        .assert_success()
        .stdout_json()
}

#[test]
fn stats_json_counts_entries_and_bytes() {
    let sb = Sandbox::new();
    let empty = stats_json(&sb);
    assert_eq!(empty["entries"], 0, "{empty}");
    assert_eq!(empty["bytes"], 0, "{empty}");
    assert_eq!(empty["dir"], sb.cache_dir().to_str().unwrap());

    // Three actions, two of them with the same output (stored once).
    let store = sb.store();
    store.put(&action("a"), &[1; 1000]).unwrap();
    store.put(&action("b"), &[1; 1000]).unwrap();
    store.put(&action("c"), &[2; 500]).unwrap();

    let after = stats_json(&sb);
    assert_eq!(after["entries"], 3, "{after}");
    assert_eq!(after["outputs"], 2, "{after}");
    assert_eq!(after["bytes"], 3 * ENTRY_SIZE as u64 + 1500, "{after}");
}

#[test]
fn stats_text_shows_the_directory_and_counts() {
    let sb = Sandbox::new();
    put_entries(&sb.store(), 2, 10);
    sb.gocache()
        .arg("stats")
        .run()
        .assert_success()
        .stdout_contains(&format!("cache directory   {}", sb.cache_dir().display()))
        .stdout_contains("entries           2");
}

#[test]
fn stats_zero_prints_then_resets_the_counters() {
    let sb = Sandbox::new();
    let store = sb.store();
    put_entries(&store, 1, 10);
    stats::record(&store, &Event::new(Outcome::Hit, "a.c"));
    stats::record(&store, &Event::new(Outcome::Hit, "b.c"));
    stats::record(&store, &Event::new(Outcome::Miss, "c.c"));

    let before = stats_json(&sb);
    assert_eq!(
        (before["hits"].as_u64(), before["misses"].as_u64()),
        (Some(2), Some(1))
    );

    // --zero prints the counters it is about to reset.
    let zeroed = sb
        .gocache()
        .args(["stats", "--json", "--zero"])
        .run()
        .assert_success()
        .stdout_json();
    assert_eq!(zeroed["hits"], 2, "{zeroed}");

    let after = stats_json(&sb);
    assert_eq!(
        (after["hits"].as_u64(), after["misses"].as_u64()),
        (Some(0), Some(0))
    );
    // Counters only: the entries stay.
    assert_eq!(after["entries"], 1, "{after}");
}

#[test]
fn clean_empties_the_store() {
    let sb = Sandbox::new();
    let store = sb.store();
    let actions = put_entries(&store, 5, 100);
    sb.gocache()
        .arg("clean")
        .run()
        .assert_success()
        .stdout_contains("removed 10 files");

    let after = stats_json(&sb);
    assert_eq!(
        (after["entries"].as_u64(), after["bytes"].as_u64()),
        (Some(0), Some(0))
    );
    assert!(actions.iter().all(|a| store.get(a).is_none()));
    // The markers stay, so backup tools still skip the directory.
    assert!(sb.cache_dir().join("CACHEDIR.TAG").is_file());
    assert!(sb.cache_dir().join("README").is_file());
}

#[test]
fn trim_max_size_removes_entries() {
    let sb = Sandbox::new();
    put_entries(&sb.store(), 5, 1000);
    assert_eq!(stats_json(&sb)["entries"], 5);

    sb.gocache()
        .args(["trim", "--max-size", "1K"])
        .run()
        .assert_success()
        .stdout_contains("removed");

    let after = stats_json(&sb);
    assert!(after["entries"].as_u64().unwrap() < 5, "{after}");
    assert!(after["bytes"].as_u64().unwrap() <= 1024, "{after}");
}

#[test]
fn trim_with_a_bad_max_size_is_a_usage_error() {
    let sb = Sandbox::new();
    put_entries(&sb.store(), 2, 100);
    sb.gocache()
        .args(["trim", "--max-size", "10X"])
        .run()
        .assert_code(2)
        .assert_error_once("invalid size")
        .stdout_is_empty();
    assert_eq!(stats_json(&sb)["entries"], 2, "a bad trim removed entries");
}

#[test]
fn cache_dir_off_disables_every_command() {
    let sb = Sandbox::new();
    for args in [&["stats"][..], &["stats", "--json"], &["clean"], &["trim"]] {
        sb.gocache()
            .args(args)
            .env("CARGO_GOCACHE_DIR", "off")
            .run()
            .assert_success()
            .stderr_contains("caching is off");
    }
    // Nothing was created, neither the store nor the default location.
    assert!(!sb.cache_dir().exists());
    assert_eq!(fs::read_dir(sb.home()).unwrap().count(), 0);
}

#[test]
fn relative_cache_dir_is_an_error_and_creates_nothing() {
    let sb = Sandbox::new();
    for args in [&["stats"][..], &["clean"], &["trim"]] {
        sb.gocache()
            .args(args)
            .env("CARGO_GOCACHE_DIR", "rel/cache")
            .run()
            .assert_code(1)
            .assert_error_once("CARGO_GOCACHE_DIR must be an absolute path")
            .stderr_contains("rel/cache")
            .stdout_is_empty();
    }
    assert_eq!(fs::read_dir(sb.work()).unwrap().count(), 0);
}

#[test]
fn a_store_that_cannot_be_created_is_one_error() {
    let sb = Sandbox::new();
    let file = sb.write("not-a-dir", "x");
    sb.gocache()
        .arg("stats")
        .env("CARGO_GOCACHE_DIR", file.join("cache"))
        .run()
        .assert_code(1)
        .assert_error_once("not-a-dir/cache")
        .stdout_is_empty();
}

/// Unset or empty `CARGO_GOCACHE_DIR`: `$XDG_CACHE_HOME/cargo-gocache` if
/// that is absolute, else `$HOME/.cache/cargo-gocache` (Linux and other
/// Unix; macOS and Windows have their own places).
#[cfg(all(unix, not(target_os = "macos")))]
#[test]
fn default_cache_dir_follows_xdg_then_home() {
    let sb = Sandbox::new();
    let home_cache = sb.home().join(".cache/cargo-gocache");
    let dir_of = |run: &crate::support::Run| run.stdout_json()["dir"].clone();

    let run = sb
        .gocache()
        .args(["stats", "--json"])
        .env_remove("CARGO_GOCACHE_DIR")
        .run();
    assert_eq!(dir_of(run.assert_success()), home_cache.to_str().unwrap());

    let run = sb
        .gocache()
        .args(["stats", "--json"])
        .env("CARGO_GOCACHE_DIR", "")
        .run();
    assert_eq!(dir_of(run.assert_success()), home_cache.to_str().unwrap());

    let xdg = sb.path("xdg");
    let run = sb
        .gocache()
        .args(["stats", "--json"])
        .env_remove("CARGO_GOCACHE_DIR")
        .env("XDG_CACHE_HOME", &xdg)
        .run();
    assert_eq!(
        dir_of(run.assert_success()),
        xdg.join("cargo-gocache").to_str().unwrap()
    );

    // The XDG spec says to ignore a relative XDG_CACHE_HOME.
    let run = sb
        .gocache()
        .args(["stats", "--json"])
        .env_remove("CARGO_GOCACHE_DIR")
        .env("XDG_CACHE_HOME", "relative")
        .run();
    assert_eq!(dir_of(run.assert_success()), home_cache.to_str().unwrap());
}

#[test]
fn commands_parse_with_and_without_the_gocache_word() {
    let sb = Sandbox::new();
    // As cargo runs it (`cargo gocache stats`) and as a person may.
    for args in [&["gocache", "stats"][..], &["stats"]] {
        sb.gocache()
            .args(args)
            .run()
            .assert_success()
            .stdout_contains("entries");
    }
}

/// `cargo gocache stats | true`: the reader is gone before gocache writes.
/// A Unix tool ends on SIGPIPE, quietly; Rust's default (SIGPIPE ignored,
/// then println! panics on the broken pipe) printed a panic.
#[test]
fn a_closed_stdout_ends_quietly_without_a_panic() {
    let sb = Sandbox::new();
    let bin = crate::support::bin();
    let script = format!(
        "{{ sleep 0.3; '{}' gocache stats; echo \"status $?\" >&2; }} | true",
        bin.display()
    );
    let r = sb.cmd("sh").args(["-c", &script]).run();
    r.assert_success();
    let stderr = r.stderr();
    assert!(!stderr.contains("panicked"), "{stderr}");
    // 141 = 128 + SIGPIPE: killed by the signal, as `cat` would be.
    assert!(stderr.contains("status 141"), "{stderr}");
}
