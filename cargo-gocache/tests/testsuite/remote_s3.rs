//! The S3 remote end to end (issue 23): real cargo, real gcc, real crates,
//! and a real S3-compatible store, SeaweedFS on loopback
//! ([`crate::servers::SeaweedFs`]), with two identities: a writer (CI on
//! the main branch) and a read-only one (everyone else).
//!
//! * machine A (writer) builds zstd-sys (a cc `-sys` crate) and a Rust
//!   dependency (libc) into a binary; machine B (another store, the
//!   read-only identity) builds the same from remote hits alone, with no
//!   C or Rust miss, and its binary runs;
//! * an object changed in the bucket is a miss, counted `rejected`; a
//!   write the read-only identity is refused is one warning;
//! * a wrong secret, a missing bucket and a stopped server each give a
//!   passing build with one warning line;
//! * `remote-write = "ci-protected"` (the default in CI) writes only on a
//!   push to a protected branch;
//! * without credentials, a public bucket is read and never written.
//!
//! Counts are asserted, never wall times.

use std::path::Path;

use serde_json::Value;

use crate::e2e::{assert_same_archives, count, take_stats};
use crate::remote_e2e::{failed_requests, remote_count, small_c_crate, temp_crate, Machine};
use crate::servers::{Identity, SeaweedFs};
use crate::support::{archives, run, Run};

const BUCKET: &str = "gocache";
const URL: &str = "s3://gocache/team";

/// The server with the bucket made.
fn seaweedfs() -> SeaweedFs {
    let s = SeaweedFs::start();
    s.create_bucket(BUCKET);
    s
}

/// `(name, value)` pairs as `Machine::build` takes them.
fn pairs<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// Build `ws` on `m` against the S3 remote `url`, signing as `who`, with
/// `extra` variables.
#[track_caller]
fn build_as(
    m: &Machine,
    ws: &Path,
    s3: &SeaweedFs,
    url: &str,
    who: Identity,
    extra: &[(&'static str, &str)],
) -> Run {
    let env = s3.env(who);
    let mut all = pairs(&env);
    // These tests count remote errors, and run beside heavy builds: an
    // answer can take over the default 2 s on loopback (CI saw one such
    // GET or PUT in ninety). What a timeout does is tested apart
    // (remote_e2e, 0.3 s against a stalled server).
    all.push(("CARGO_GOCACHE_REMOTE_TIMEOUT", "20s"));
    all.extend_from_slice(extra);
    m.build(ws, url, &all)
}

/// The `gocache: warning:` lines of a build.
fn warnings(build: &Run) -> Vec<String> {
    build
        .stderr()
        .lines()
        .filter(|l| l.contains("gocache: warning:"))
        .map(str::to_string)
        .collect()
}

/// Objects under `s3://gocache/team/<kind>`.
fn objects(s3: &SeaweedFs, kind: &str) -> Vec<(String, u64)> {
    s3.objects(&format!("{BUCKET}/team/{kind}"))
}

fn rust_misses(stats: &Value) -> u64 {
    stats["rust"]["misses"].as_u64().unwrap_or(0)
}

/// Where the largest output bundled in an entry object starts, and its
/// size (the layout: the 175-byte entry line, then `<64 hex> <20-digit
/// size>\n` and the bytes, per output).
fn largest_bundled_output(object: &[u8]) -> (usize, usize) {
    let mut at = 175;
    let mut largest = (0, 0);
    while at + 86 <= object.len() {
        let header = std::str::from_utf8(&object[at..at + 86]).unwrap();
        let size: usize = header[65..85].trim().parse().unwrap();
        if size > largest.1 {
            largest = (at + 86, size);
        }
        at += 86 + size;
    }
    assert_eq!(at, object.len(), "a malformed entry object");
    assert!(largest.1 > 100, "no output to tamper with");
    largest
}

/// A binary using zstd-sys (C compiled by its build script through cc)
/// and libc (a Rust dependency with a build script of its own).
fn app_crate(dir: &Path) -> std::path::PathBuf {
    temp_crate(
        dir,
        "s3-app",
        "[dependencies]\nzstd-sys = \"=2.1.2\"\nlibc = \"0.2\"\n",
        None,
        &[(
            "src/main.rs",
            "fn main() {\n    let v = unsafe { zstd_sys::ZSTD_versionNumber() };\n    \
             let pid = unsafe { libc::getpid() };\n    assert!(pid > 0);\n    \
             println!(\"zstd {v}\");\n}\n",
        )],
    )
}

#[test]
fn s3_read_only_machine_builds_from_the_writers_objects_alone_and_its_binary_runs() {
    let s3 = seaweedfs();
    let tmp = tempfile::tempdir().unwrap();
    let ws = app_crate(tmp.path());

    // A, the writer: cold; C and Rust compiles miss and are written.
    let a = Machine::new(tmp.path(), "a");
    let build = build_as(&a, &ws, &s3, URL, SeaweedFs::WRITER, &[]);
    assert_eq!(warnings(&build), Vec::<String>::new());
    let cold = take_stats(&a.store);
    let cacheable = count(&cold, "hits") + count(&cold, "misses");
    assert!(
        count(&cold, "misses") > 10,
        "zstd-sys compiled little\n{cold}"
    );
    assert!(rust_misses(&cold) > 0, "no rustc cached\n{cold}");
    assert_eq!(count(&cold, "errors"), 0, "{cold}");
    assert!(remote_count(&cold, "puts") > 0, "{cold}");
    assert_eq!(remote_count(&cold, "errors"), 0, "{cold}");
    let cold_archives = archives(&a.target);
    assert!(
        cold_archives.keys().any(|k| k.ends_with("libzstd.a")),
        "{:?}",
        cold_archives.keys()
    );
    // The layout the README promises, for lifecycle rules: entries, each
    // with the outputs put with it, under <prefix>/ac/; an output over the
    // bundle limit (64 MiB) would be under <prefix>/cas/; nothing else.
    let entries = objects(&s3, "ac");
    assert!(!entries.is_empty());
    assert!(entries.iter().all(|(_, size)| *size >= 175), "{entries:?}");
    assert!(
        entries.iter().any(|(_, size)| *size > 175 + 86),
        "no outputs bundled: {entries:?}"
    );
    let top: Vec<String> = s3
        .objects(&format!("{BUCKET}/team"))
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(top, ["ac"]);

    // B, the read-only identity, an empty store: every compile is a remote
    // hit, nothing is written, and the binary runs.
    let b = Machine::new(tmp.path(), "b");
    let build = build_as(&b, &ws, &s3, URL, SeaweedFs::READER, &[]);
    assert_eq!(warnings(&build), Vec::<String>::new());
    let warm = take_stats(&b.store);
    assert_eq!(count(&warm, "misses"), 0, "machine B compiled C\n{warm}");
    assert_eq!(rust_misses(&warm), 0, "machine B compiled Rust\n{warm}");
    assert_eq!(count(&warm, "hits"), cacheable, "{warm}");
    assert_eq!(count(&warm, "errors"), 0, "{warm}");
    assert!(remote_count(&warm, "hits") > 0, "{warm}");
    assert_eq!(remote_count(&warm, "misses"), 0, "{warm}");
    assert_eq!(remote_count(&warm, "errors"), 0, "{warm}");
    assert_eq!(remote_count(&warm, "rejected"), 0, "{warm}");
    assert_eq!(remote_count(&warm, "puts"), 0, "{warm}");
    // One request per lookup, two per compile hit (its manifest, its
    // result with the outputs inside): it was 5 or more with the outputs
    // apart.
    let compile_hits = count(&warm, "hits") + warm["rust"]["hits"].as_u64().unwrap_or(0);
    assert!(
        remote_count(&warm, "hits") <= 2 * compile_hits,
        "{compile_hits} compile hits\n{warm}"
    );
    build.stderr_contains(&format!("gocache: {cacheable} hits, 0 misses"));
    assert_same_archives("machine B, from S3", &cold_archives, &b.target);
    let out = run(&mut std::process::Command::new(
        b.target.join("debug").join("s3-app"),
    ))
    .success();
    assert!(out.stdout().starts_with("zstd 1"), "{}", out.stdout());

    // C: the largest output was changed in the bucket (same size), inside
    // the entry that carries it. It is a miss, counted `rejected`; the
    // read-only identity's write of the recompiled output is refused: one
    // warning for that, one for the rejection, and the build is right.
    let (largest, _) = entries.iter().max_by_key(|(_, size)| *size).unwrap();
    let key = format!("{BUCKET}/team/ac/{largest}");
    let mut bytes = s3.read_object(&key);
    let (start, len) = largest_bundled_output(&bytes);
    let evil = b"tampered with in the bucket";
    let at = start + len / 2;
    bytes[at..at + evil.len()].copy_from_slice(evil);
    s3.put_object(&key, &bytes);
    let c = Machine::new(tmp.path(), "c");
    let build = build_as(&c, &ws, &s3, URL, SeaweedFs::READER, &[]);
    let after = take_stats(&c.store);
    assert_eq!(remote_count(&after, "rejected"), 1, "{key}\n{after}");
    assert_eq!(
        count(&after, "misses") + rust_misses(&after),
        1,
        "recompiled\n{after}"
    );
    assert_eq!(count(&after, "errors"), 0, "{after}");
    assert_eq!(remote_count(&after, "puts"), 0, "{after}");
    // (A rustc's own warning about the rejected object may show too: cargo
    // shows rustc's stderr, and the largest output may be an rlib.)
    let w = warnings(&build);
    let said = |what: &str| w.iter().filter(|l| l.contains(what)).count();
    assert_eq!(said("refused a write"), 1, "{w:#?}");
    assert_eq!(
        said("the remote cache returned 1 damaged or tampered value"),
        1,
        "{w:#?}"
    );
    assert_same_archives("machine C, one object tampered", &cold_archives, &c.target);
    // Nothing the reader did reached the bucket.
    assert_eq!(s3.read_object(&key), bytes);
}

#[test]
fn s3_wrong_secret_missing_bucket_and_stopped_server_each_cost_one_warning() {
    let mut s3 = seaweedfs();
    let tmp = tempfile::tempdir().unwrap();
    let ws = small_c_crate(tmp.path());
    let limit = cargo_gocache::remote::FAILURE_LIMIT;
    let cases: [(&str, &str, Identity); 2] = [
        ("wrong-secret", URL, (SeaweedFs::WRITER.0, "not-the-secret")),
        (
            "missing-bucket",
            "s3://no-such-bucket/team",
            SeaweedFs::WRITER,
        ),
    ];
    for (name, url, who) in cases {
        let m = Machine::new(tmp.path(), name);
        let build = build_as(&m, &ws, &s3, url, who, &[("CARGO_BUILD_JOBS", "2")]);
        let w = warnings(&build);
        assert_eq!(w.len(), 1, "{name}: {w:#?}");
        assert!(
            w[0].contains("using the local cache only for the rest of this build"),
            "{name}: {w:#?}"
        );
        let s = take_stats(&m.store);
        assert_eq!(count(&s, "misses"), 6, "{name}: {s}");
        assert_eq!(count(&s, "errors"), 0, "{name}: {s}");
        // No retry mends these: the first answer turns the remote off (one
        // more from the other compile -j 2 allows).
        let failed = failed_requests(&s);
        assert!((1..=2).contains(&failed), "{name}: {failed} failed\n{s}");
        assert_eq!(archives(&m.target).len(), 1, "{name}");
    }
    // The missing bucket was not made by a write (SeaweedFS makes a bucket
    // on the first PUT into it).
    assert_eq!(s3.objects("no-such-bucket"), Vec::new());
    assert!(objects(&s3, "ac").is_empty(), "the wrong secret wrote");

    s3.kill();
    let m = Machine::new(tmp.path(), "stopped");
    let build = build_as(
        &m,
        &ws,
        &s3,
        URL,
        SeaweedFs::WRITER,
        &[("CARGO_BUILD_JOBS", "2")],
    );
    let w = warnings(&build);
    assert_eq!(w.len(), 1, "{w:#?}");
    assert!(w[0].contains("failed 3 times in a row"), "{w:#?}");
    let s = take_stats(&m.store);
    assert_eq!(count(&s, "misses"), 6, "{s}");
    let failed = failed_requests(&s);
    assert!(
        (limit..=limit + 1).contains(&failed),
        "{failed} failed\n{s}"
    );
    assert!(remote_count(&s, "skipped") > 0, "{s}");
}

/// Variables for a build.
type Env = Vec<(&'static str, &'static str)>;

#[test]
fn s3_ci_protected_writes_only_on_a_push_to_a_protected_branch() {
    let s3 = seaweedfs();
    let tmp = tempfile::tempdir().unwrap();
    let ws = small_c_crate(tmp.path());
    let github = |event: &'static str, protected: &'static str| {
        vec![
            ("CI", "true"),
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_EVENT_NAME", event),
            ("GITHUB_REF_PROTECTED", protected),
        ]
    };
    let policy = ("CARGO_GOCACHE_REMOTE_WRITE", "ci-protected");
    let mut readers: Vec<(&str, Env)> = vec![
        ("not in CI", vec![policy]),
        ("pull request", {
            let mut v = github("pull_request", "true");
            v.push(policy);
            v
        }),
        ("push, unprotected branch", {
            let mut v = github("push", "false");
            v.push(policy);
            v
        }),
        // No setting: in CI the default is ci-protected.
        (
            "default in CI, pull request",
            github("pull_request", "false"),
        ),
        (
            "GitLab merge request pipeline",
            vec![
                ("CI", "true"),
                ("GITLAB_CI", "true"),
                ("CI_COMMIT_REF_PROTECTED", "true"),
                ("CI_PIPELINE_SOURCE", "merge_request_event"),
                policy,
            ],
        ),
        (
            "read-only beats always",
            vec![
                ("CARGO_GOCACHE_REMOTE_WRITE", "always"),
                ("CARGO_GOCACHE_REMOTE_READ_ONLY", "1"),
            ],
        ),
    ];
    for (i, (name, env)) in readers.drain(..).enumerate() {
        let m = Machine::new(tmp.path(), &format!("r{i}"));
        let build = build_as(&m, &ws, &s3, URL, SeaweedFs::WRITER, &env);
        assert_eq!(warnings(&build), Vec::<String>::new(), "{name}");
        let s = take_stats(&m.store);
        assert_eq!(count(&s, "misses"), 6, "{name}: {s}");
        assert!(remote_count(&s, "misses") > 0, "{name}: it did read\n{s}");
        assert_eq!(remote_count(&s, "puts"), 0, "{name}: {s}");
        assert!(objects(&s3, "ac").is_empty(), "{name} wrote");
    }
    // What `cargo gocache config` says about it.
    let mut cmd = Machine::new(tmp.path(), "config").command(&ws, URL, &["config"]);
    cmd.envs(github("pull_request", "false"));
    let config = run(&mut cmd).success();
    assert!(
        config.stdout().contains("ci-protected (reads only"),
        "{}",
        config.stdout()
    );

    // The trusted builds: a push to a protected branch, on GitHub (the
    // default policy in CI) and on GitLab.
    let writers: [(&str, &str, Env); 2] = [
        (
            "GitHub push, protected branch",
            "github",
            github("push", "true"),
        ),
        (
            "GitLab protected branch pipeline",
            "gitlab",
            vec![
                ("CI", "true"),
                ("GITLAB_CI", "true"),
                ("CI_COMMIT_REF_PROTECTED", "true"),
                ("CI_PIPELINE_SOURCE", "push"),
            ],
        ),
    ];
    for (name, prefix, env) in writers {
        let m = Machine::new(tmp.path(), prefix);
        let url = format!("s3://{BUCKET}/{prefix}");
        build_as(&m, &ws, &s3, &url, SeaweedFs::WRITER, &env);
        let s = take_stats(&m.store);
        assert!(remote_count(&s, "puts") > 0, "{name}: {s}");
        assert!(
            !s3.objects(&format!("{BUCKET}/{prefix}/ac")).is_empty(),
            "{name}"
        );
    }
}

/// No credentials: anonymous requests, which read a public bucket, and no
/// write is ever tried (no request, no warning).
#[test]
fn s3_without_credentials_reads_a_public_bucket_and_never_writes() {
    let s3 = SeaweedFs::start();
    s3.create_bucket("public");
    let tmp = tempfile::tempdir().unwrap();
    let ws = small_c_crate(tmp.path());
    let url = "s3://public/team";
    let w = Machine::new(tmp.path(), "writer");
    build_as(&w, &ws, &s3, url, SeaweedFs::WRITER, &[]);
    assert!(remote_count(&take_stats(&w.store), "puts") > 0);
    let written = settled_objects(&s3, "public/team/ac");

    let anonymous = s3.anonymous_env();
    let mut anonymous = pairs(&anonymous);
    anonymous.push(("CARGO_GOCACHE_REMOTE_TIMEOUT", "20s")); // as in build_as
    let m = Machine::new(tmp.path(), "anonymous");
    let build = m.build(&ws, url, &anonymous);
    assert_eq!(warnings(&build), Vec::<String>::new());
    let s = take_stats(&m.store);
    assert_eq!(count(&s, "hits"), 6, "{s}");
    assert_eq!(remote_count(&s, "errors"), 0, "{s}");
    assert_eq!(remote_count(&s, "puts"), 0, "{s}");

    // A crate nobody built: compiled here, and not written.
    let other = temp_crate(
        tmp.path(),
        "other-c",
        "[build-dependencies]\ncc = \"1.2\"\n",
        Some("fn main() { cc::Build::new().file(\"c/other.c\").compile(\"other\"); }\n"),
        &[("c/other.c", "int other(int x) { return x - 1; }\n")],
    );
    let build = m.build(&other, url, &anonymous);
    assert_eq!(warnings(&build), Vec::<String>::new());
    let s = take_stats(&m.store);
    assert_eq!(count(&s, "misses"), 1, "{s}");
    assert!(remote_count(&s, "misses") > 0, "{s}");
    assert_eq!(remote_count(&s, "errors"), 0, "{s}");
    assert_eq!(remote_count(&s, "puts"), 0, "{s}");
    let now = s3.objects("public/team/ac");
    let new: Vec<_> = now.iter().filter(|o| !written.contains(o)).collect();
    assert!(new.is_empty(), "written without credentials: {new:?}");
}

/// The objects under `dir` once the listing stops changing. A PUT the
/// client gave up on (its 2 s timeout, on a loaded machine) may still be
/// applied by the server after the build has ended: CI once listed 18
/// objects after the writer's build and 19 later, with no write counted
/// anywhere. Waits until two listings half a second apart agree (at most
/// 20 s).
fn settled_objects(s3: &SeaweedFs, dir: &str) -> Vec<(String, u64)> {
    let mut last = s3.objects(dir);
    for _ in 0..40 {
        std::thread::sleep(std::time::Duration::from_millis(500));
        let now = s3.objects(dir);
        if now == last {
            break;
        }
        last = now;
    }
    last
}
