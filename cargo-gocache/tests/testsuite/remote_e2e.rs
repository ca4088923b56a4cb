//! The remote tier end to end: real cargo, real gcc, real crates, and the
//! real servers of [`crate::servers`] (Redis, nginx with WebDAV).
//!
//! A "machine" is a local store and a target directory of its own; machines
//! share only the remote. The promises under test (issue 6):
//!
//! * a second machine builds a real `-sys` crate from the remote alone (no
//!   compile misses) into archives byte-identical to the first machine's;
//! * an output tampered with in the remote is rejected and recompiled;
//! * a remote killed in the middle of a build costs a few failed requests,
//!   one warning, and nothing else;
//! * read-only mode never writes;
//! * eight builds at once against one remote all succeed, identically;
//! * a build script using the build.rs helper reaches the remote too
//!   (its server, `cargo-gocache gocache serve-helper`, reaches it as
//!   wrapped compiles do).
//!
//! Counts are asserted, never wall times. The `-sys` crate is zstd-sys at the
//! version `examples/mixed-sys` locks, built `--offline` from the user's
//! `CARGO_HOME`; one cold build per server serves every later machine.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::e2e::{assert_same_archives, count, take_stats};
use crate::servers::{Nginx, Redis};
use crate::support::{archives, copy_tree, example, gocache, run, Run};

/// `FAILURE_LIMIT` in `cargo_gocache::remote`: failures in a row before the
/// remote is skipped.
const FAILURE_LIMIT: u64 = cargo_gocache::remote::FAILURE_LIMIT;

/// The remote under test, whichever server it is.
enum Server {
    Redis(Redis),
    Nginx(Nginx),
}

impl Server {
    fn url(&self) -> String {
        match self {
            Server::Redis(r) => r.url(),
            Server::Nginx(n) => n.url(),
        }
    }

    /// Every value stored, as `ac/<hex>` or `cas/<hex>`.
    fn values(&self) -> Vec<String> {
        match self {
            Server::Redis(r) => r
                .keys()
                .into_iter()
                .map(|k| k.trim_start_matches("gocache/").to_string())
                .collect(),
            Server::Nginx(n) => n.files(),
        }
    }

    /// Change bytes in the middle of the largest output (an object file),
    /// keeping its size, so only the hash check can catch it. Returns its path.
    fn tamper_with_largest_output(&self) -> String {
        let outputs: Vec<String> = self
            .values()
            .into_iter()
            .filter(|v| v.starts_with("cas/"))
            .collect();
        assert!(!outputs.is_empty(), "no outputs in the remote");
        match self {
            Server::Redis(r) => {
                let size = |p: &String| -> u64 {
                    r.cli(&["STRLEN", &format!("gocache/{p}")]).parse().unwrap()
                };
                let largest = outputs.iter().max_by_key(|p| size(p)).unwrap().clone();
                let key = format!("gocache/{largest}");
                let before = r.cli(&["STRLEN", &key]);
                r.cli(&["SETRANGE", &key, "100", "tampered with in the remote"]);
                assert_eq!(r.cli(&["STRLEN", &key]), before, "size kept");
                largest
            }
            Server::Nginx(n) => {
                let size = |p: &String| fs::metadata(n.root().join(p)).unwrap().len();
                let largest = outputs.iter().max_by_key(|p| size(p)).unwrap().clone();
                let path = n.root().join(&largest);
                let mut bytes = fs::read(&path).unwrap();
                let evil = b"tampered with in the remote";
                bytes[100..100 + evil.len()].copy_from_slice(evil);
                fs::write(&path, bytes).unwrap();
                largest
            }
        }
    }

    fn kill(&mut self) {
        match self {
            Server::Redis(r) => r.kill(),
            Server::Nginx(n) => n.kill(),
        }
    }
}

/// One machine: its own local store and target directory.
pub(crate) struct Machine {
    pub(crate) store: PathBuf,
    pub(crate) target: PathBuf,
}

impl Machine {
    pub(crate) fn new(dir: &Path, name: &str) -> Machine {
        Machine {
            store: dir.join(name).join("store"),
            target: dir.join(name).join("target"),
        }
    }

    /// `cargo gocache <args>` in `ws` with `remote`, not yet run.
    pub(crate) fn command(&self, ws: &Path, remote: &str, args: &[&str]) -> std::process::Command {
        let mut cmd = gocache(&self.store);
        cmd.arg("gocache")
            .args(args)
            .current_dir(ws)
            .env("CARGO_TARGET_DIR", &self.target)
            .env("CARGO_GOCACHE_REMOTE", remote);
        cmd
    }

    #[track_caller]
    pub(crate) fn build(&self, ws: &Path, remote: &str, extra_env: &[(&str, &str)]) -> Run {
        let mut cmd = self.command(ws, remote, &["build", "--offline"]);
        cmd.envs(extra_env.iter().copied());
        run(&mut cmd).success()
    }
}

/// A crate with `Cargo.toml` dependencies `deps`, build.rs `build_rs`,
/// files `files`, and the example's lock (cargo drops the entries it does
/// not need, so nothing is resolved against the network).
pub(crate) fn temp_crate(
    dir: &Path,
    name: &str,
    deps: &str,
    build_rs: Option<&str>,
    files: &[(&str, &str)],
) -> PathBuf {
    let ws = dir.join(name);
    fs::create_dir_all(ws.join("src")).unwrap();
    fs::write(
        ws.join("Cargo.toml"),
        format!(
            "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
             [workspace]\n\n{deps}"
        ),
    )
    .unwrap();
    fs::copy(
        example("mixed-sys").join("Cargo.lock"),
        ws.join("Cargo.lock"),
    )
    .unwrap();
    if let Some(b) = build_rs {
        fs::write(ws.join("build.rs"), b).unwrap();
    }
    fs::write(ws.join("src/lib.rs"), "").unwrap();
    for (path, text) in files {
        let p = ws.join(path);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }
    ws
}

/// A crate whose only dependency is zstd-sys, at the example's version.
fn zstd_sys_crate(dir: &Path) -> PathBuf {
    temp_crate(
        dir,
        "uses-zstd-sys",
        "[dependencies]\nzstd-sys = \"=2.1.2\"\n",
        None,
        &[],
    )
}

/// A crate compiling a handful of C files through cc: quick, for the tests
/// that build it many times.
pub(crate) fn small_c_crate(dir: &Path) -> PathBuf {
    let names = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"];
    let sources: Vec<(String, String)> = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            (
                format!("csrc/{n}.c"),
                format!(
                    "#include \"common.h\"\nint small_{n}(int x) {{ return scale(x) + {i}; }}\n\
                     const char *small_{n}_name(void) {{ return __FILE__; }}\n"
                ),
            )
        })
        .collect();
    let mut files: Vec<(&str, &str)> = sources
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    files.push((
        "csrc/common.h",
        "static inline int scale(int x) { return 3 * x; }\n",
    ));
    let list: Vec<String> = names.iter().map(|n| format!("\"csrc/{n}.c\"")).collect();
    let build_rs = format!(
        "fn main() {{ cc::Build::new().files([{}]).include(\"csrc\").compile(\"smallc\"); }}\n",
        list.join(", ")
    );
    temp_crate(
        dir,
        "small-c",
        "[build-dependencies]\ncc = \"1.2\"\n",
        Some(&build_rs),
        &files,
    )
}

pub(crate) fn remote_count(stats: &Value, field: &str) -> u64 {
    stats["remote"][field]
        .as_u64()
        .unwrap_or_else(|| panic!("no remote.{field} in {stats}"))
}

/// Requests that went to the network and failed (errors not skipped).
pub(crate) fn failed_requests(stats: &Value) -> u64 {
    remote_count(stats, "errors") - remote_count(stats, "skipped")
}

/// Wait until the build writing to `store` has recorded its first compile
/// event (its run log under `stats/runs/` is no longer empty).
fn wait_for_first_event(store: &Path, build: &mut std::process::Child) {
    let runs = store.join("stats").join("runs");
    let start = Instant::now();
    loop {
        let started = fs::read_dir(&runs).ok().is_some_and(|rd| {
            rd.flatten().any(|e| {
                e.path().extension().is_some_and(|x| x == "log")
                    && e.metadata().is_ok_and(|m| m.len() > 0)
            })
        });
        if started {
            return;
        }
        if let Ok(Some(status)) = build.try_wait() {
            panic!("the build ended ({status}) before any compile was recorded");
        }
        // Not a timed assertion: a guard against a hung test.
        assert!(
            start.elapsed() < Duration::from_secs(600),
            "no compile recorded in 10 minutes"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The whole story for one server, on zstd-sys: machine A builds cold and
/// fills the remote; B builds from the remote alone; C meets a tampered
/// output; D loses the remote mid-build.
fn sys_crate_through(mut server: Server) {
    let tmp = tempfile::tempdir().unwrap();
    let ws = zstd_sys_crate(tmp.path());
    let url = server.url();

    // A: cold. Every cacheable compile misses and is written to the remote.
    let a = Machine::new(tmp.path(), "a");
    a.build(&ws, &url, &[]);
    let cold = take_stats(&a.store);
    let cacheable = count(&cold, "hits") + count(&cold, "misses");
    assert!(
        count(&cold, "misses") > 10,
        "zstd-sys compiled little\n{cold}"
    );
    assert_eq!(count(&cold, "errors"), 0, "{cold}");
    assert!(remote_count(&cold, "puts") > 0, "{cold}");
    assert_eq!(remote_count(&cold, "errors"), 0, "{cold}");
    let cold_archives = archives(&a.target);
    assert!(
        cold_archives.keys().any(|k| k.ends_with("libzstd.a")),
        "{:?}",
        cold_archives.keys()
    );
    let stored = server.values();
    assert!(
        stored.iter().any(|v| v.starts_with("ac/")) && stored.iter().any(|v| v.starts_with("cas/")),
        "{stored:?}"
    );

    // B: an empty local store. Every compile is a hit, served by the remote.
    let b = Machine::new(tmp.path(), "b");
    let build = b.build(&ws, &url, &[]);
    let warm = take_stats(&b.store);
    assert_eq!(count(&warm, "misses"), 0, "machine B compiled\n{warm}");
    assert_eq!(count(&warm, "hits"), cacheable, "{warm}");
    assert_eq!(count(&warm, "errors"), 0, "{warm}");
    assert!(remote_count(&warm, "hits") > 0, "{warm}");
    assert_eq!(remote_count(&warm, "misses"), 0, "{warm}");
    assert_eq!(remote_count(&warm, "errors"), 0, "{warm}");
    assert_eq!(remote_count(&warm, "rejected"), 0, "{warm}");
    assert!(remote_count(&warm, "bytes_down") > 0, "{warm}");
    // Nothing to write back: stat memos stay local (they once went to the
    // remote, two lookups and four writes per compile).
    assert_eq!(remote_count(&warm, "puts"), 0, "{warm}");
    build.stderr_contains(&format!("gocache: {cacheable} hits, 0 misses"));
    build.stderr_contains("; remote: ");
    assert_same_archives("machine B, from the remote", &cold_archives, &b.target);

    // C: the largest output in the remote was changed (same size). It is
    // rejected with a warning, its compile runs, and the archive is right.
    let tampered = server.tamper_with_largest_output();
    let c = Machine::new(tmp.path(), "c");
    let build = c.build(&ws, &url, &[]);
    let after = take_stats(&c.store);
    assert_eq!(remote_count(&after, "rejected"), 1, "{tampered}\n{after}");
    // The largest output may be a C object or a Rust rlib (`cargo gocache`
    // caches rustc too): exactly one compile, of either kind, is redone.
    let rust_misses = after["rust"]["misses"].as_u64().unwrap_or(0);
    assert_eq!(
        count(&after, "misses") + rust_misses,
        1,
        "recompiled\n{after}"
    );
    assert_eq!(
        count(&after, "hits") + count(&after, "misses"),
        cacheable,
        "{after}"
    );
    assert_eq!(count(&after, "errors"), 0, "{after}");
    // Said once by `cargo gocache` itself: cargo hides the stderr of a build
    // script that succeeded, and so the wrapper's own warning.
    build.stderr_contains("the remote cache returned 1 damaged or tampered value;");
    assert_same_archives("machine C, one output tampered", &cold_archives, &c.target);

    // D: the server dies once the build has recorded its first compile.
    let d = Machine::new(tmp.path(), "d");
    let mut cmd = d.command(&ws, &url, &["build", "--offline", "-j", "2"]);
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_first_event(&d.store, &mut child);
    server.kill();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the build failed:\n{stderr}");
    let warnings = stderr.matches("failed 3 times in a row").count();
    assert_eq!(
        warnings, 1,
        "want one warning about the dead remote:\n{stderr}"
    );
    let dead = take_stats(&d.store);
    assert_eq!(count(&dead, "errors"), 0, "{dead}");
    assert_eq!(
        count(&dead, "hits") + count(&dead, "misses"),
        cacheable,
        "{dead}"
    );
    assert!(
        count(&dead, "misses") > 0,
        "the server died after the build had all it needed\n{dead}"
    );
    // Three failures in a row, plus at most one more from the other compile
    // that -j 2 allows, if it was between its check and its request when
    // the third failed.
    let failed = failed_requests(&dead);
    assert!(
        (FAILURE_LIMIT..=FAILURE_LIMIT + 1).contains(&failed),
        "{failed} requests failed\n{dead}"
    );
    assert!(remote_count(&dead, "skipped") > 0, "{dead}");
    assert_same_archives("machine D, remote killed", &cold_archives, &d.target);
}

#[test]
fn redis_second_machine_builds_from_the_remote_alone_tampering_and_a_killed_server() {
    sys_crate_through(Server::Redis(Redis::start()));
}

#[test]
fn http_second_machine_builds_from_the_remote_alone_tampering_and_a_killed_server() {
    sys_crate_through(Server::Nginx(Nginx::start()));
}

/// Regression: the warning that the remote was given up on went only to
/// the stderr of the compile's build script, which cargo hides for a
/// registry crate (and shows for a path crate, like this one); `cargo
/// gocache` now prints it, once, after the build.
#[test]
fn dead_remote_warning_reaches_the_user_once() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = small_c_crate(tmp.path());
    // A port nothing listens on: every request is refused at once.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let m = Machine::new(tmp.path(), "m");
    let mut cmd = m.command(
        &ws,
        &format!("redis://127.0.0.1:{port}"),
        &["build", "--offline", "-j", "2"],
    );
    let build = run(&mut cmd).success();
    assert_eq!(
        build.stderr().matches("failed 3 times in a row").count(),
        1,
        "{}",
        build.stderr()
    );
    let s = take_stats(&m.store);
    assert_eq!(count(&s, "misses"), 6, "{s}");
    // As for a server killed mid-build: at most one more than the limit.
    let failed = failed_requests(&s);
    assert!(
        (FAILURE_LIMIT..=FAILURE_LIMIT + 1).contains(&failed),
        "{failed} requests failed\n{s}"
    );
    // The run's failure count is gone with the run.
    let runs: Vec<_> = fs::read_dir(m.store.join("stats").join("runs"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(runs.is_empty(), "{runs:?}");
}

/// A remote that accepts connections and never answers: each failed
/// request costs one timeout, and after three (or four, with a second
/// compile in flight) the build stops asking. Counted, not timed.
#[test]
fn hung_remote_is_given_up_after_a_few_requests() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = small_c_crate(tmp.path());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in listener.incoming().flatten() {
            held.push(c); // keep it open, say nothing
        }
    });
    for (name, url) in [
        ("redis", format!("redis://127.0.0.1:{port}")),
        ("http", format!("http://127.0.0.1:{port}/cache")),
    ] {
        let m = Machine::new(tmp.path(), name);
        let mut cmd = m.command(&ws, &url, &["build", "--offline", "-j", "2"]);
        cmd.env("CARGO_GOCACHE_REMOTE_TIMEOUT", "0.3s");
        let build = run(&mut cmd).success();
        assert_eq!(
            build.stderr().matches("failed 3 times in a row").count(),
            1,
            "{name}: {}",
            build.stderr()
        );
        let s = take_stats(&m.store);
        assert_eq!(count(&s, "misses"), 6, "{name}: {s}");
        let failed = failed_requests(&s);
        assert!(
            (FAILURE_LIMIT..=FAILURE_LIMIT + 1).contains(&failed),
            "{name}: {failed} requests failed\n{s}"
        );
        assert!(remote_count(&s, "skipped") > 0, "{name}: {s}");
        assert_eq!(archives(&m.target).len(), 1, "{name}");
    }
}

/// A developer's machine reads what CI wrote and writes nothing: after a
/// build that missed everything, the server is still empty.
#[test]
fn read_only_builds_never_write_to_the_remote() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = small_c_crate(tmp.path());
    for server in [Server::Redis(Redis::start()), Server::Nginx(Nginx::start())] {
        let name = match server {
            Server::Redis(_) => "redis",
            Server::Nginx(_) => "nginx",
        };
        let m = Machine::new(tmp.path(), name);
        m.build(
            &ws,
            &server.url(),
            &[("CARGO_GOCACHE_REMOTE_READ_ONLY", "1")],
        );
        let s = take_stats(&m.store);
        assert_eq!(count(&s, "misses"), 6, "{name}: {s}");
        assert!(remote_count(&s, "misses") > 0, "{name}: it did ask\n{s}");
        assert_eq!(remote_count(&s, "puts"), 0, "{name}: {s}");
        assert_eq!(remote_count(&s, "bytes_up"), 0, "{name}: {s}");
        assert_eq!(server.values(), Vec::<String>::new(), "{name} was written");
    }
}

/// Eight builds at once, each its own machine, against one Redis: they race
/// to read and write the same keys. All succeed with the same archives.
#[test]
fn eight_parallel_builds_share_one_remote() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = small_c_crate(tmp.path());
    let redis = Redis::start();
    let machines: Vec<Machine> = (0..8)
        .map(|i| Machine::new(tmp.path(), &format!("m{i}")))
        .collect();
    let children: Vec<_> = machines
        .iter()
        .map(|m| {
            m.command(&ws, &redis.url(), &["build", "--offline"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut first: Option<BTreeMap<String, Vec<u8>>> = None;
    let (mut hits, mut remote_hits) = (0, 0);
    for (i, (m, child)) in machines.iter().zip(children).enumerate() {
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "build {i} failed:\n{stderr}");
        assert!(!stderr.contains("warning: remote"), "build {i}:\n{stderr}");
        let s = take_stats(&m.store);
        assert_eq!(count(&s, "hits") + count(&s, "misses"), 6, "build {i}: {s}");
        assert_eq!(count(&s, "errors"), 0, "build {i}: {s}");
        assert_eq!(remote_count(&s, "errors"), 0, "build {i}: {s}");
        assert_eq!(remote_count(&s, "rejected"), 0, "build {i}: {s}");
        hits += count(&s, "hits");
        remote_hits += remote_count(&s, "hits");
        let got = archives(&m.target);
        assert!(got.keys().any(|k| k.ends_with("libsmallc.a")), "{got:?}");
        match &first {
            None => first = Some(got),
            Some(want) => assert_same_archives(&format!("build {i}"), want, &m.target),
        }
    }
    // Not asserted (it depends on scheduling), but shown on failure above
    // and with --nocapture: how much the builds shared.
    eprintln!("8 parallel builds: {hits} compile hits, {remote_hits} remote hits");
    assert!(redis.keys().iter().any(|k| k.starts_with("gocache/ac/")));
}

/// The example `helper-lib` caches its C and C++ with the build.rs helper
/// (`CachedBuild`), per archive. Under `cargo gocache` its compiles also go
/// through the wrapper, so machine A caches two archives and four objects.
/// Machine B, with an empty store, hits both archives, so its build script
/// compiles nothing and no wrapper runs: every remote hit it counts came
/// through the helper's server (`cargo-gocache gocache serve-helper`,
/// which reaches the remote as wrapped compiles do).
#[test]
fn build_script_helper_reaches_the_remote_under_cargo_gocache() {
    let tmp = tempfile::tempdir().unwrap();
    let redis = Redis::start();
    // The example names the helper by `../../build-support`, which inherits
    // settings from the workspace: copy the whole checkout.
    let checkout = tmp.path().join("checkout");
    copy_tree(&Path::new(env!("CARGO_MANIFEST_DIR")).join(".."), &checkout);
    let ws = checkout.join("examples").join("helper-lib");
    let a = Machine::new(tmp.path(), "a");
    a.build(&ws, &redis.url(), &[]);
    let cold = take_stats(&a.store);
    assert_eq!(
        count(&cold, "misses"),
        2 + 4,
        "archives and objects\n{cold}"
    );
    assert!(remote_count(&cold, "puts") > 0, "{cold}");
    let cold_archives = archives(&a.target);
    assert!(
        cold_archives.keys().any(|k| k.ends_with("libhelperc.a")),
        "{:?}",
        cold_archives.keys()
    );

    let b = Machine::new(tmp.path(), "b");
    b.build(&ws, &redis.url(), &[]);
    let warm = take_stats(&b.store);
    assert_eq!(count(&warm, "misses"), 0, "{warm}");
    assert_eq!(
        count(&warm, "hits"),
        2,
        "the two archives, nothing else\n{warm}"
    );
    assert!(remote_count(&warm, "hits") > 0, "{warm}");
    assert_eq!(remote_count(&warm, "misses"), 0, "{warm}");
    assert_eq!(remote_count(&warm, "errors"), 0, "{warm}");
    assert_eq!(remote_count(&warm, "puts"), 0, "{warm}");
    assert_same_archives("machine B, helper archives", &cold_archives, &b.target);
}
