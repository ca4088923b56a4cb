//! The remote tier: a [`Tier`] on Redis, an HTTP cache or an S3-compatible
//! bucket, behind the local store.
//!
//! This folder owns the tier ([`RemoteTier`]: settings, counting, the
//! warning), one file per backend behind the small `Backend` trait
//! (`redis.rs`, `http.rs`, `s3.rs`), and the cross-process breaker
//! (`breaker.rs`); which builds write is `crate::trust`'s.
//! It may not depend on `commands`, `runner` or `cli`: the wrappers and
//! `serve-helper` use it.
//!
//! # Layout on the remote
//!
//! The store's two kinds of values, under the names bazel-remote and
//! ccache's HTTP backend use:
//!
//! | value | HTTP (`http[s]://host[:port]/prefix`) | Redis (`redis://[user:pass@]host:port[/db]`) | S3 (`s3://bucket[/prefix]`) |
//! | --- | --- | --- | --- |
//! | action entry (the 175-byte line) | `PUT/GET <prefix>/ac/<64 hex>` | key `gocache/ac/<64 hex>` | object `<prefix>/ac/<64 hex>` |
//! | output (its bytes) | `PUT/GET <prefix>/cas/<64 hex>` | key `gocache/cas/<64 hex>` | object `<prefix>/cas/<64 hex>` |
//!
//! Nothing fetched is trusted: the store checks every entry and every
//! output's size and SHA-256 before use (see `crate::store`).
//!
//! # Never slow a build for long
//!
//! * Nothing connects until a local miss needs the remote: a warm local
//!   build never touches the network.
//! * Every request has a timeout (`remote-timeout`, default 2 s); an upload
//!   gets one more second per MiB ([`upload_timeout`]).
//! * A failed request (refused, timed out, a 5xx) is counted in a file
//!   shared by all processes of the build (`<run log>.remote-failures`, or
//!   `<store>/stats/remote-failures` outside `cargo gocache`); a success
//!   resets it. After [`FAILURE_LIMIT`] failures in a row every process
//!   skips the remote for the rest of the build, and exactly one warning is
//!   printed: by `cargo gocache` after the build (cargo shows a build
//!   script's stderr only for path crates, or when it fails), or by the one
//!   wrapper that opened the breaker outside `cargo gocache`, where the skip
//!   expires after [`SKIP_EXPIRY`] so a standalone wrapper retries later.
//! * Read-only mode (`remote-read-only`, or `remote-write = "never"`)
//!   never writes: for developers who read what CI wrote. In CI the
//!   default (`ci-protected`, see `crate::trust`) writes only from a push to a
//!   protected branch. An S3 remote without credentials is read-only.
//! * A write the server refuses (S3 `403 AccessDenied` on a `PUT`: a
//!   read-only identity) is not a failure of the remote: reads go on, the
//!   run stops writing (`<run log>.remote-write-refused`, or
//!   `<store>/stats/remote-write-refused` outside `cargo gocache`, expiring
//!   as the breaker does), and one warning says so.
//!
//! # Why these clients
//!
//! A wrapper is a process per compile, so start-up cost counts on every
//! miss: both clients are blocking (no async runtime to start), connect
//! lazily, and keep one connection for the process's few requests. `redis`
//! without default features is the plain RESP client; `ureq` is a small
//! HTTP/1.1 client with rustls for https, and carries S3's requests too,
//! signed by `rusty-s3` (a signer without I/O).

use std::fs;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::stats::{self, Event, Outcome, RemoteCounts};
use crate::{Store, Tier, TierKey};
use anyhow::{anyhow, bail, Result};

mod breaker;
mod http;
mod redis;
mod s3;

use crate::trust::WritePolicy;
use breaker::{run_failures_file, Breaker};

/// Failures in a row after which the remote is skipped.
pub const FAILURE_LIMIT: u64 = 3;

/// Outside a `cargo gocache` run, a skipped remote is tried again after this.
pub const SKIP_EXPIRY: Duration = Duration::from_secs(600);

/// Remote settings, as `cargo gocache` hands them down in the environment.
#[derive(Debug, Clone)]
pub struct RemoteSettings {
    pub url: String,
    pub timeout: Duration,
    pub read_only: bool,
}

/// The time an upload of `bytes` may take: the remote's timeout, plus one
/// second per MiB (a floor of 1 MiB/s). The timeout alone (2 s by default)
/// is how long a remote may take to answer, not to receive a 40 MB rlib:
/// on a loaded CI machine uploads of a few megabytes timed out on
/// loopback, and on a slow uplink every large upload would, so the remote
/// would never hold them. (Redis' timeouts are per socket read and write,
/// so it needs none of this.)
pub(crate) fn upload_timeout(base: Duration, bytes: usize) -> Duration {
    base + Duration::from_secs_f64(bytes as f64 / (1024.0 * 1024.0))
}

impl RemoteSettings {
    /// Read `CARGO_GOCACHE_REMOTE`, `_REMOTE_TIMEOUT`, `_REMOTE_READ_ONLY`
    /// and `_REMOTE_WRITE` (read-only unless the write policy says this
    /// build writes); `Ok(None)` when no remote is set.
    pub fn from_env() -> Result<Option<RemoteSettings>> {
        let Some(url) =
            crate::env::var("CARGO_GOCACHE_REMOTE").filter(|u| !u.is_empty() && u != "off")
        else {
            return Ok(None);
        };
        let timeout =
            match crate::env::var("CARGO_GOCACHE_REMOTE_TIMEOUT").filter(|v| !v.is_empty()) {
                Some(v) => crate::human::parse_duration(&v)
                    .map_err(|e| anyhow!("CARGO_GOCACHE_REMOTE_TIMEOUT: {e}"))?,
                None => Duration::from_secs(2),
            };
        let read_only = crate::settings::bool_var("CARGO_GOCACHE_REMOTE_READ_ONLY")
            || !WritePolicy::from_env().writes();
        Ok(Some(RemoteSettings {
            url,
            timeout,
            read_only,
        }))
    }
}

/// A failure no retry in this build can mend (a missing bucket, unknown
/// credentials): the breaker opens at once.
#[derive(Debug)]
struct Fatal(String);

impl std::fmt::Display for Fatal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Fatal {}

/// The server refused a write it understood (S3's `403 AccessDenied` on a
/// `PUT`): the credentials may read, not write. Not a failure of the
/// remote, so not counted by the breaker; the tier stops writing instead.
#[derive(Debug)]
struct WriteRefused(String);

impl std::fmt::Display for WriteRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for WriteRefused {}

/// One remote protocol: a get and a put of one value by its path on the
/// remote (`ac/<hex>` or `cas/<hex>`). Errors are the request's failures
/// (refused, timed out, a server error), which the breaker counts; a value
/// the remote does not have is `Ok(None)`.
trait Backend: Send {
    fn get(&mut self, path: &str) -> Result<Option<Vec<u8>>>;
    fn put(&mut self, path: &str, bytes: &[u8]) -> Result<()>;
    /// Can it write at all? (An S3 remote without credentials cannot.)
    fn can_write(&self) -> bool {
        true
    }
    /// Does an action's object carry the outputs put with it (see
    /// [`Bundles`])? Only where no older gocache reads the same remote:
    /// one would take the longer entry for a damaged one.
    fn bundles(&self) -> bool {
        false
    }
}

/// Outputs travel inside their action's object up to this many bytes in
/// all; a larger output goes to `cas/<hex>` on its own.
const BUNDLE_MAX: usize = 64 << 20;

/// One request per lookup instead of two (or five for a compile hit: its
/// manifest's entry and output, its result's entry, record and object).
///
/// A process puts a compile's outputs, then the action entry that leads
/// to them (`Store::put`: output, then entry; a compile's record names its
/// object, stdout, stderr and depfile, put before it). With bundles, the
/// outputs wait in `pending` and go up inside the entry's object:
///
/// ```text
/// ac/<action hex> = <the 175-byte entry line>
///                   (<64 hex output ID> <20-digit size>\n <size bytes>)*
/// ```
///
/// A lookup reads that one object, hands the store the entry line, and
/// keeps the outputs in `fetched` for the store's next asks. Nothing is
/// trusted more for it: the store checks every output against the entry or
/// record naming it, by size and SHA-256, as it checks one from `cas/`.
/// An entry without outputs (an output over [`BUNDLE_MAX`]) still finds
/// them under `cas/<hex>`.
#[derive(Default)]
struct Bundles {
    /// `(hex, bytes)` put since the last entry put.
    pending: Vec<(String, Vec<u8>)>,
    pending_bytes: usize,
    /// `cas/<hex>` -> bytes, read inside entries, not yet asked for.
    fetched: std::collections::HashMap<String, Vec<u8>>,
}

/// An entry line followed by outputs, as [`Bundles`] lays them out.
fn pack(line: &[u8], outputs: &[(String, Vec<u8>)]) -> Vec<u8> {
    let size: usize = outputs.iter().map(|(_, b)| 86 + b.len()).sum();
    let mut v = Vec::with_capacity(line.len() + size);
    v.extend_from_slice(line);
    for (hex, bytes) in outputs {
        v.extend_from_slice(format!("{hex} {:>20}\n", bytes.len()).as_bytes());
        v.extend_from_slice(bytes);
    }
    v
}

/// The entry line and the `(cas path, bytes)` outputs after it; the
/// outputs up to the first malformed one (the store judges the rest).
fn unpack(mut object: Vec<u8>) -> (Vec<u8>, Vec<(String, Vec<u8>)>) {
    let entry_size = crate::store::ENTRY_SIZE;
    if object.len() <= entry_size {
        return (object, Vec::new());
    }
    let rest = object.split_off(entry_size);
    let mut outputs = Vec::new();
    let mut at = 0;
    while let Some(header) = rest.get(at..at + 86) {
        let Ok(header) = std::str::from_utf8(header) else {
            break;
        };
        let (hex, size) = header.split_at(64);
        let size = size.strip_prefix(' ').and_then(|s| s.strip_suffix('\n'));
        let Some(size) = size.and_then(|s| s.trim_start().parse::<usize>().ok()) else {
            break;
        };
        if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            break;
        }
        let Some(bytes) = rest.get(at + 86..at + 86 + size) else {
            break;
        };
        outputs.push((format!("cas/{hex}"), bytes.to_vec()));
        at += 86 + size;
    }
    (object, outputs)
}

/// The backend for `s.url`'s scheme.
fn open_backend(s: &RemoteSettings) -> Result<Box<dyn Backend>> {
    if s.url.starts_with("redis://") || s.url.starts_with("rediss://") {
        Ok(Box::new(redis::Redis::open(s)?))
    } else if s.url.starts_with("http://") || s.url.starts_with("https://") {
        Ok(Box::new(http::Http::open(s)))
    } else if s.url.starts_with("s3://") {
        Ok(Box::new(s3::S3::open(s)?))
    } else {
        bail!("unsupported remote {}: expected redis://host[:port][/db], http[s]://host[:port]/prefix or s3://bucket[/prefix]", redact(&s.url))
    }
}

/// The warning a process of the run printed when it gave up on the remote,
/// if one did; the run's failure files are removed.
///
/// `cargo gocache` repeats it once the build is done: a wrapped compile's
/// stderr goes to its build script's, which cargo shows only when the build
/// script fails, so without this the user never learns the remote was dead.
///
/// One warning at most: that the remote was given up on, else that it
/// refused this run's writes.
pub fn take_run_warning(run_log: &Path) -> Option<String> {
    let file = run_failures_file(run_log);
    let marker = file.with_extension("warned");
    let refused = write_refused_file(&file);
    let read = |p: &Path| {
        let msg = fs::read_to_string(p).ok();
        let _ = fs::remove_file(p);
        msg.map(|m| m.trim().to_string()).filter(|m| !m.is_empty())
    };
    let given_up = read(&marker);
    let refused = read(&refused);
    let _ = fs::remove_file(&file);
    given_up.or(refused)
}

/// Beside the failure count: the marker that the remote refused a write,
/// and why (see [`RemoteTier::put`]).
fn write_refused_file(failures: &Path) -> std::path::PathBuf {
    failures.with_extension("remote-write-refused")
}

/// A remote cache as the store's second tier.
pub struct RemoteTier {
    url: String,
    read_only: bool,
    backend: Mutex<Box<dyn Backend>>,
    /// `Some` where the backend [`Backend::bundles`].
    bundles: Option<Mutex<Bundles>>,
    breaker: Breaker,
    /// Exists once the remote refused a write (see [`write_refused_file`]).
    write_refused: std::path::PathBuf,
    counts: Mutex<RemoteCounts>,
    /// Requests actually sent (not skipped by the breaker).
    attempts: AtomicU64,
    finished: AtomicBool,
}

impl RemoteTier {
    /// A tier for `settings`; connects on first use. `store_root` and the
    /// run log (if any) locate the shared failure count.
    pub fn new(
        settings: &RemoteSettings,
        store_root: &Path,
        run_log: Option<&Path>,
    ) -> Result<RemoteTier> {
        let backend = open_backend(settings)?;
        let breaker = match run_log {
            Some(log) => Breaker {
                file: run_failures_file(log),
                expires: false,
            },
            None => Breaker {
                file: store_root.join("stats").join("remote-failures"),
                expires: true,
            },
        };
        Ok(RemoteTier {
            url: redact(&settings.url),
            read_only: settings.read_only || !backend.can_write(),
            bundles: backend.bundles().then(Mutex::default),
            backend: Mutex::new(backend),
            write_refused: write_refused_file(&breaker.file),
            breaker,
            counts: Mutex::new(RemoteCounts::default()),
            attempts: AtomicU64::new(0),
            finished: AtomicBool::new(false),
        })
    }

    /// Put a remote behind `store` if the environment names one. A bad
    /// setting is a warning here (a compile must not fail over it; `cargo
    /// gocache` itself reports it as an error before the build starts).
    pub fn attach_from_env(store: Store) -> (Store, Option<Arc<RemoteTier>>) {
        let settings = match RemoteSettings::from_env() {
            Ok(Some(s)) => s,
            Ok(None) => return (store, None),
            Err(e) => {
                eprintln!("gocache: warning: {e:#}; not using the remote cache");
                return (store, None);
            }
        };
        let run_log = crate::run::current(store.root()).map(|r| r.log.as_path());
        match RemoteTier::new(&settings, store.root(), run_log) {
            Ok(t) => {
                let t = Arc::new(t);
                (store.with_tier(t.clone()), Some(t))
            }
            Err(e) => {
                eprintln!("gocache: warning: {e:#}; not using the remote cache");
                (store, None)
            }
        }
    }

    /// This process's traffic so far.
    pub fn counts(&self) -> RemoteCounts {
        *self.counts.lock().unwrap()
    }

    /// Requests this process actually sent to the remote.
    pub fn attempts(&self) -> u64 {
        self.attempts.load(Ordering::Relaxed)
    }

    /// Record this process's traffic in the stats logs (once).
    pub fn finish(&self, store: &Store) {
        if self.finished.swap(true, Ordering::Relaxed) {
            return;
        }
        let c = self.counts();
        if !c.is_empty() {
            stats::record(store, &Event::new(Outcome::Remote(c), self.url.clone()));
        }
    }

    /// Has the remote refused a write of this run (or, outside `cargo
    /// gocache`, in the last [`SKIP_EXPIRY`])?
    fn writes_refused(&self) -> bool {
        match fs::metadata(&self.write_refused) {
            Ok(m) => {
                !self.breaker.expires
                    || m.modified()
                        .ok()
                        .and_then(|t| std::time::SystemTime::now().duration_since(t).ok())
                        .is_none_or(|d| d <= SKIP_EXPIRY)
            }
            Err(_) => false,
        }
    }

    /// The remote refused a write: stop writing for the run, and leave the
    /// warning for `cargo gocache` to print (or print it, outside it), once.
    fn refused_write(&self, e: &WriteRefused) {
        self.counts.lock().unwrap().errors += 1;
        if self.breaker.expires && !self.writes_refused() {
            let _ = fs::remove_file(&self.write_refused);
        }
        if let Some(d) = self.write_refused.parent() {
            let _ = fs::create_dir_all(d);
        }
        let won = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&self.write_refused);
        if let Ok(mut f) = won {
            let msg = format!(
                "remote cache {} refused a write ({e}); reading only for the rest of this build \
                 (set remote-write = \"never\" for read-only credentials)",
                self.url
            );
            if self.breaker.expires {
                eprintln!("gocache: warning: {msg}");
            }
            let _ = writeln!(f, "{msg}");
        }
    }

    fn request<T>(&self, f: impl FnOnce(&mut dyn Backend) -> Result<T>) -> Option<T> {
        if self.breaker.open() {
            let mut c = self.counts.lock().unwrap();
            c.errors += 1;
            c.skipped += 1;
            return None;
        }
        self.attempts.fetch_add(1, Ordering::Relaxed);
        let result = f(&mut **self.backend.lock().unwrap());
        match result {
            Ok(v) => {
                self.breaker.success();
                Some(v)
            }
            Err(e) => {
                self.counts.lock().unwrap().errors += 1;
                let fatal = e.is::<Fatal>();
                if let Some(mut marker) = self.breaker.failure(fatal) {
                    let msg = if fatal {
                        format!(
                            "remote cache {}: {e}; using the local cache only for the rest of this build",
                            self.url
                        )
                    } else {
                        format!(
                            "remote cache {} failed {FAILURE_LIMIT} times in a row (last: {e}); \
                             using the local cache only for the rest of this build",
                            self.url
                        )
                    };
                    // Under `cargo gocache` the run prints it, once (see
                    // `take_run_warning`); cargo would show ours for a path
                    // crate's build script and hide it for a registry crate's.
                    if self.breaker.expires {
                        eprintln!("gocache: warning: {msg}");
                    }
                    let _ = writeln!(marker, "{msg}");
                }
                None
            }
        }
    }
}

impl Tier for RemoteTier {
    fn get(&self, key: TierKey<'_>) -> Option<Vec<u8>> {
        let path = key.path();
        if let (Some(bundles), TierKey::Output(_)) = (&self.bundles, key) {
            // Came with its entry: no request (counted with the entry's).
            if let Some(bytes) = bundles.lock().unwrap().fetched.remove(&path) {
                return Some(bytes);
            }
        }
        match self.request(|b| b.get(&path))? {
            Some(bytes) => {
                {
                    let mut c = self.counts.lock().unwrap();
                    c.hits += 1;
                    c.bytes_down += bytes.len() as u64;
                }
                match (&self.bundles, key) {
                    (Some(bundles), TierKey::Action(_)) => {
                        let (entry, outputs) = unpack(bytes);
                        bundles.lock().unwrap().fetched.extend(outputs);
                        Some(entry)
                    }
                    _ => Some(bytes),
                }
            }
            None => {
                self.counts.lock().unwrap().misses += 1;
                None
            }
        }
    }

    fn put(&self, key: TierKey<'_>, bytes: &[u8]) {
        if self.read_only || self.writes_refused() {
            return;
        }
        let path = key.path();
        let packed;
        let bytes = match (&self.bundles, key) {
            (Some(bundles), TierKey::Output(o)) => {
                let mut b = bundles.lock().unwrap();
                if b.pending_bytes + bytes.len() <= BUNDLE_MAX {
                    b.pending_bytes += bytes.len();
                    b.pending.push((o.to_string(), bytes.to_vec()));
                    return; // goes up with its entry
                }
                bytes
            }
            (Some(bundles), TierKey::Action(_)) => {
                let mut b = bundles.lock().unwrap();
                b.pending_bytes = 0;
                let outputs = std::mem::take(&mut b.pending);
                drop(b);
                packed = pack(bytes, &outputs);
                &packed[..]
            }
            _ => bytes,
        };
        let mut refused = None;
        let sent = self.request(|b| match b.put(&path, bytes) {
            // A refusal is an answer, not a failure: the breaker's count of
            // failures in a row is reset, as by any answer.
            Err(e) => match e.downcast::<WriteRefused>() {
                Ok(r) => {
                    refused = Some(r);
                    Ok(false)
                }
                Err(e) => Err(e),
            },
            Ok(()) => Ok(true),
        });
        if let Some(r) = refused {
            self.refused_write(&r);
        } else if sent == Some(true) {
            let mut c = self.counts.lock().unwrap();
            c.puts += 1;
            c.bytes_up += bytes.len() as u64;
        }
    }

    fn rejected(&self, key: TierKey<'_>) {
        self.counts.lock().unwrap().rejected += 1;
        eprintln!(
            "gocache: warning: remote cache {} returned a damaged or tampered {}; ignored it",
            self.url,
            key.path()
        );
    }
}

/// The URL without its password, for messages.
pub fn redact(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        if let Some((cred, host)) = rest.split_once('@') {
            if let Some((user, _)) = cred.split_once(':') {
                return format!("{scheme}://{user}:***@{host}");
            }
        }
    }
    url.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upload_gets_a_second_per_mib_beyond_the_timeout() {
        let base = Duration::from_secs(2);
        assert_eq!(upload_timeout(base, 0), base);
        assert_eq!(upload_timeout(base, 40 << 20), Duration::from_secs(42));
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(redact("redis://u:secret@h:1/0"), "redis://u:***@h:1/0");
        assert_eq!(redact("http://h/x"), "http://h/x");
    }

    #[test]
    fn bundles_round_trip_and_stop_at_damage() {
        let line = vec![b'e'; crate::store::ENTRY_SIZE];
        let (a, b) = ("a".repeat(64), "b".repeat(64));
        let outputs = vec![(a.clone(), b"first".to_vec()), (b.clone(), Vec::new())];
        let packed = pack(&line, &outputs);
        let (entry, got) = unpack(packed.clone());
        assert_eq!(entry, line);
        assert_eq!(
            got,
            vec![
                (format!("cas/{a}"), b"first".to_vec()),
                (format!("cas/{b}"), Vec::new())
            ]
        );
        // An entry alone (an older writer, or outputs over the limit).
        assert_eq!(unpack(line.clone()), (line.clone(), Vec::new()));
        // Cut short: the outputs before the cut.
        let (_, got) = unpack(packed[..packed.len() - 80].to_vec());
        assert_eq!(got.len(), 1);
        let (_, got) = unpack(packed[..line.len() + 86 + 2].to_vec());
        assert!(got.is_empty());
    }

    #[test]
    fn bad_urls_are_errors() {
        let s = RemoteSettings {
            url: "ftp://x".into(),
            timeout: Duration::from_secs(1),
            read_only: false,
        };
        assert!(open_backend(&s).is_err());
    }

    #[test]
    fn dead_remote_opens_the_breaker_once() {
        // A port nothing listens on: connection refused at once.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        let dir = tempfile::tempdir().unwrap();
        let s = RemoteSettings {
            url: format!("redis://127.0.0.1:{port}"),
            timeout: Duration::from_millis(300),
            read_only: false,
        };
        let run_log = dir.path().join("run.log");
        let t = RemoteTier::new(&s, dir.path(), Some(&run_log)).unwrap();
        let id = crate::ActionId([1; 32]);
        for _ in 0..10 {
            assert!(t.get(TierKey::Action(&id)).is_none());
        }
        assert_eq!(t.counts().errors, 10);
        assert!(t.breaker.open());
        // A second process of the same build sees the breaker open at once.
        let t2 = RemoteTier::new(&s, dir.path(), Some(&run_log)).unwrap();
        assert!(t2.breaker.open());
        // The warning is kept for `cargo gocache` to repeat, once.
        let w = take_run_warning(&run_log).expect("a warning kept for the run");
        assert!(w.contains("failed 3 times in a row"), "{w}");
        assert_eq!(take_run_warning(&run_log), None);
    }
}
