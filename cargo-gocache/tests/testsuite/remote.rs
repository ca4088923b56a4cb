//! The remote tier against real servers: two machines (two local stores)
//! sharing one remote, tampering, read-only mode, a dead remote.

use std::sync::Arc;
use std::time::Duration;

use cargo_gocache::remote::{RemoteSettings, RemoteTier};
use cargo_gocache::{ActionId, Store, Tier, TierKey};

use crate::servers::{Nginx, Redis};

fn tier(url: &str, root: &std::path::Path, read_only: bool) -> Arc<RemoteTier> {
    let s = RemoteSettings {
        url: url.to_string(),
        timeout: Duration::from_secs(2),
        read_only,
    };
    Arc::new(RemoteTier::new(&s, root, Some(&root.join("run.log"))).unwrap())
}

fn action(n: u8) -> ActionId {
    ActionId([n; 32])
}

/// Machine A writes; machine B, with an empty local store, reads it all
/// from the remote, and then has it locally.
fn shared_between_two_stores(url: &str) {
    let d = tempfile::tempdir().unwrap();
    let ta = tier(url, &d.path().join("a"), false);
    let a = Store::open(d.path().join("a"))
        .unwrap()
        .with_tier(ta.clone());
    let big = vec![7u8; 3 << 20];
    a.put(&action(1), b"small object").unwrap();
    a.put(&action(2), &big).unwrap();
    assert_eq!(ta.counts().puts, 4, "two entries and two outputs written");

    let tb = tier(url, &d.path().join("b"), false);
    let b = Store::open(d.path().join("b"))
        .unwrap()
        .with_tier(tb.clone());
    assert_eq!(b.get_bytes(&action(1)).unwrap().1, b"small object");
    assert_eq!(b.get_bytes(&action(2)).unwrap().1, big);
    assert!(b.get(&action(3)).is_none());
    let c = tb.counts();
    assert_eq!(
        (c.hits, c.misses, c.errors, c.rejected),
        (4, 1, 0, 0),
        "{c:?}"
    );
    assert!(c.bytes_down >= big.len() as u64);
    // Now served locally, with no remote behind it at all.
    let b_local = Store::open(d.path().join("b")).unwrap();
    assert_eq!(b_local.get_bytes(&action(2)).unwrap().1, big);
}

#[test]
fn redis_shares_entries_between_two_stores() {
    let r = Redis::start();
    shared_between_two_stores(&r.url());
}

#[test]
fn http_webdav_shares_entries_between_two_stores() {
    let n = Nginx::start();
    shared_between_two_stores(&n.url());
    assert!(
        n.files().iter().any(|f| f.starts_with("ac/"))
            && n.files().iter().any(|f| f.starts_with("cas/"))
    );
}

#[test]
fn tampered_remote_output_is_rejected() {
    let r = Redis::start();
    let d = tempfile::tempdir().unwrap();
    let a = Store::open(d.path().join("a")).unwrap().with_tier(tier(
        &r.url(),
        &d.path().join("a"),
        false,
    ));
    let out = a.put(&action(1), b"genuine bytes").unwrap();
    r.cli(&[
        "SET",
        &format!("gocache/{}", TierKey::Output(&out).path()),
        "evil! bytes",
    ]);
    let tb = tier(&r.url(), &d.path().join("b"), false);
    let b = Store::open(d.path().join("b"))
        .unwrap()
        .with_tier(tb.clone());
    assert!(
        b.get_bytes(&action(1)).is_none(),
        "a tampered output must never be used"
    );
    assert_eq!(tb.counts().rejected, 1);
    // Same size, different bytes: still rejected (hash check, not only size).
    r.cli(&[
        "SET",
        &format!("gocache/{}", TierKey::Output(&out).path()),
        "genuine bytez",
    ]);
    assert!(b.get_bytes(&action(1)).is_none());
    assert_eq!(tb.counts().rejected, 2);
}

#[test]
fn tampered_http_output_is_rejected() {
    let n = Nginx::start();
    let d = tempfile::tempdir().unwrap();
    let a = Store::open(d.path().join("a")).unwrap().with_tier(tier(
        &n.url(),
        &d.path().join("a"),
        false,
    ));
    let out = a.put(&action(9), b"genuine bytes").unwrap();
    std::fs::write(
        n.root().join(TierKey::Output(&out).path()),
        b"genuine bytez",
    )
    .unwrap();
    let tb = tier(&n.url(), &d.path().join("b"), false);
    let b = Store::open(d.path().join("b"))
        .unwrap()
        .with_tier(tb.clone());
    assert!(b.get_bytes(&action(9)).is_none());
    assert_eq!(tb.counts().rejected, 1);
}

#[test]
fn read_only_never_writes() {
    let r = Redis::start();
    let n = Nginx::start();
    let d = tempfile::tempdir().unwrap();
    for url in [r.url(), n.url()] {
        let t = tier(&url, d.path(), true);
        let s = Store::open(d.path()).unwrap().with_tier(t.clone());
        s.put(&action(5), b"local only").unwrap();
        assert_eq!(s.get_bytes(&action(5)).unwrap().1, b"local only");
        assert_eq!(t.counts().puts, 0);
    }
    assert_eq!(r.keys(), Vec::<String>::new());
    assert_eq!(n.files(), Vec::<String>::new());
}

#[test]
fn killed_remote_is_skipped_after_a_few_failures() {
    let mut r = Redis::start();
    let d = tempfile::tempdir().unwrap();
    let t = tier(&r.url(), d.path(), false);
    let s = Store::open(d.path()).unwrap().with_tier(t.clone());
    s.put(&action(1), b"before the crash").unwrap();
    r.kill();
    for n in 10..40 {
        assert!(s.get(&action(n)).is_none());
        s.put(&action(n), b"after the crash").unwrap();
    }
    let c = t.counts();
    // 30 lookups and 30 puts (output + entry each) failed or were skipped...
    assert_eq!(c.errors, 90, "{c:?}");
    assert_eq!(c.puts, 2);
    // ...but only the first three after the crash went to the network: the
    // rest were skipped without waiting for a timeout.
    assert_eq!(t.attempts(), 2 + 3);
    // The stats say the same: of the 90 errors, 87 were never sent.
    assert_eq!(c.skipped, 87, "{c:?}");
    // The local store carried on.
    assert_eq!(
        Store::open(d.path())
            .unwrap()
            .get_bytes(&action(39))
            .unwrap()
            .1,
        b"after the crash"
    );
    // A new process of the same build skips the remote from the start.
    let t2 = tier(&r.url(), d.path(), false);
    assert!(t2.get(TierKey::Action(&action(1))).is_none());
    assert_eq!(
        (t2.counts().errors, t2.counts().skipped, t2.attempts()),
        (1, 1, 0)
    );
}

/// A server that accepts connections and never answers: each request costs
/// one timeout, and after three the remote is no longer tried.
#[test]
fn hung_remote_costs_at_most_three_timeouts() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in listener.incoming().flatten() {
            held.push(c); // keep it open, say nothing
        }
    });
    for url in [
        format!("redis://127.0.0.1:{port}"),
        format!("http://127.0.0.1:{port}/cache"),
    ] {
        let d = tempfile::tempdir().unwrap();
        let s = RemoteSettings {
            url,
            timeout: Duration::from_millis(200),
            read_only: false,
        };
        let t = Arc::new(RemoteTier::new(&s, d.path(), Some(&d.path().join("run.log"))).unwrap());
        let store = Store::open(d.path()).unwrap().with_tier(t.clone());
        for n in 0..10 {
            assert!(store.get(&action(n)).is_none());
        }
        store.put(&action(1), b"still stored locally").unwrap();
        assert_eq!(t.attempts(), 3, "{}", s.url);
        assert_eq!(
            store.get_bytes(&action(1)).unwrap().1,
            b"still stored locally"
        );
    }
}
