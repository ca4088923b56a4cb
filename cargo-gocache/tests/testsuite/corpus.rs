//! The corpus (issue 11): real `-sys` crates from crates.io, built every way build scripts
//! build native code in the wild, under plain cargo and under `cargo gocache`.
//!
//! `tests/corpus` is one workspace (one binary crate, its own `Cargo.lock`) depending on:
//!
//! | crate | how its native code is built |
//! | --- | --- |
//! | openssl-sys `vendored` (openssl-src) | perl `Configure` + make, perlasm `.s`, `$(AR)` = the archiver program only |
//! | tikv-jemalloc-sys | autotools: `configure` (probe compiles) + make |
//! | libz-ng-sys | the `cmake` crate (CMake's Makefile generator) |
//! | ring | cc, with pregenerated assembly |
//! | libgit2-sys `vendored` (and libz-sys) | cc, a long source list |
//! | libmimalloc-sys | cc, one `static.c` at `-O3` using `__DATE__`/`__TIME__` |
//! | cxx | cc in C++ (`cpp(true)`) |
//!
//! (cxx is the C++ crate: the lightest widely used one that compiles C++ through cc, one
//! `cxx.cc`, with no system library to find.) The binary calls a function of each library
//! and prints what it computed, the same on any machine, so "the binaries run the same" is a
//! byte comparison of their output.
//!
//! These tests build about two thousand C files in release mode, three times over for the
//! corpus and once more for openssl-src, so they are `#[ignore]`d: `cargo test` alone skips
//! them, and `bash tests/run.sh` (CI's command) runs them explicitly with `--ignored`
//! (`GOCACHE_CORPUS=0` leaves them out). The test binary's `cargo-gocache` is a debug build;
//! the workspace optimizes its engine crates even in dev builds (the root `Cargo.toml`), or
//! the wrapper alone would cost more than gcc per openssl compile. Each tool has one target
//! directory for the
//! whole corpus; cargo's registry downloads come from the user's `CARGO_HOME`.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::e2e::{count, take_stats};
use crate::support::{cargo, copy_tree, gocache, run, Run};

/// The corpus workspace in the repository.
fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("tests")
        .join("corpus")
}

/// The tools the corpus needs besides gcc: a missing one fails the test with the hint,
/// never skips it.
#[track_caller]
fn require_tools() {
    for tool in ["cmake", "perl", "make", "g++"] {
        crate::support::require_tool(tool);
    }
}

/// A copy of the corpus workspace under `tmp` (the repository's stays untouched).
fn corpus_copy(tmp: &Path) -> PathBuf {
    let ws = tmp.join("corpus");
    copy_tree(&corpus_dir(), &ws);
    ws
}

/// `cargo build --release --locked` of `ws` into `target`, under cargo or `cargo gocache`.
#[track_caller]
fn build(store: Option<&Path>, ws: &Path, target: &Path, extra: &[&str]) -> Run {
    build_env(store, ws, target, extra, &[])
}

/// [`build`], with variables set for it.
#[track_caller]
fn build_env(
    store: Option<&Path>,
    ws: &Path,
    target: &Path,
    extra: &[&str],
    env: &[(&str, &str)],
) -> Run {
    let mut cmd = match store {
        Some(store) => {
            let mut cmd = gocache(store);
            cmd.args(["gocache", "build"]);
            cmd
        }
        None => {
            let mut cmd = cargo();
            cmd.arg("build");
            cmd
        }
    };
    cmd.args(["--release", "--locked"])
        .args(extra)
        .current_dir(ws)
        .env("CARGO_TARGET_DIR", target)
        .envs(env.iter().copied());
    run(&mut cmd).success()
}

/// The build-script events of the last run: (outcome, reason, package), from
/// `<store>/stats/last-run.log` (`b1` lines).
fn build_scripts_of_last_run(store: &Path) -> Vec<(String, String, String)> {
    let log = store.join("stats").join("last-run.log");
    let text = fs::read_to_string(&log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
    text.lines()
        .filter(|l| l.starts_with("b1\t"))
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (
                f[1].to_string(),
                f[2].to_string(),
                f.last()
                    .unwrap()
                    .trim_end_matches(" (build script)")
                    .to_string(),
            )
        })
        .collect()
}

/// Build-script runs of the corpus that are not restored after `cargo clean`, and why: none.
/// (openssl's run embeds the clock in `buildinf.h`; the corpus opts in to `time-macros =
/// "pin"`, which replays it as of its first run.)
const EXPECTED_SCRIPT_RUNS_AFTER_CLEAN: &[(&str, &str)] = &[];

/// What the corpus binary in `target` prints.
#[track_caller]
fn corpus_output(target: &Path) -> String {
    let exe = target.join("release").join("gocache-corpus");
    let r = run(&mut std::process::Command::new(&exe)).success();
    r.stdout()
}

/// The uncacheable compiles of a corpus build and why each reason is expected. A reason not
/// listed here fails the test: every compile that is not cached has a stated reason.
///
/// Not here on purpose: `time-macros` (the corpus opts in to `time-macros = "pin"`, so
/// mimalloc's `static.c` must be cached), `assembler` and `assembler-with-cpp` (openssl's
/// perlasm `.s` and ring's `.S` are cached), and every fault (`unknown-search-path`,
/// `modified-during-compile`, `unreadable-input`, ...).
const EXPECTED_UNCACHEABLE: &[(&str, &str)] = &[
    (
        "link",
        "configure's and cc's link checks (and link-cplusplus's probe) link through the \
         wrapper; a link is not a compile, and its output is not cached",
    ),
    (
        "-E",
        "configure's preprocessor checks (`$CPP`, `cc -E`): preprocessed text to stdout, as \
         cheap to redo as to look up",
    ),
    (
        "compile-error",
        "configure's probes that fail on purpose (a missing header or function); a failure \
         is never cached",
    ),
    (
        "probe:cmake-try-compile",
        "CMake's try_compile scratch projects run uncached, so they do not fill the store \
         (breadth's choice, wrapper/probe.rs)",
    ),
    (
        "no-input",
        "compiler queries with no source (`-v`, `-dumpversion`, `-print-*`) from configure \
         and Configure",
    ),
    (
        "--version",
        "compiler identification by configure and CMake",
    ),
    (
        "stdin",
        "probes that compile from standard input (`echo ... | cc -x c -`), which has no \
         file to hash",
    ),
    (
        "special-output",
        "openssl's perlasm scripts (crypto/*/asm/*-x86_64.pl, one run per generated .s) ask \
         `$CC -Wa,-v -c -o /dev/null -x assembler /dev/null` for the assembler's version: \
         a device is not a file a hit can make, and the answer is on stderr (41 in a cold \
         build of openssl-sys vendored)",
    ),
    (
        "assembler-info",
        "openssl's Configure asks `$CC -Wa,--help -c -o null.$$.o -x assembler /dev/null` \
         whether `--noexecstack` exists: `as` prints and writes no object",
    ),
    (
        "no-object",
        "a compile that exits 0 without writing its object (another spelling of the \
         assembler help probe)",
    ),
    (
        "-M",
        "jemalloc's make writes each source's dependencies with `$(CC) -MM` (preprocessor \
         only, 186 in a cold build), beside the compile, which is cached",
    ),
    (
        "special-source",
        "openssl's perlasm assembler-version probes compile `/dev/null` \
         (`-x assembler /dev/null`): a device is no source to hash",
    ),
    (
        "missing-argument:-V",
        "configure's compiler version probes (`$CC -V`, which gcc rejects)",
    ),
    (
        "output-to-stdout",
        "probes that write their output to stdout (`-o -`, `-dM -E`)",
    ),
    (
        RACY,
        "a build system that writes a header and compiles its includer at once (a header \
         make has just generated) can stamp it in the compile's own clock tick: the wrapper \
         cannot tell that from an edit during the compile, so it does not cache it (as ccache \
         leaves direct mode for a file that new). Such a compile may miss after `cargo clean`. \
         A *source* that new (configure's `conftest.c`, 6 to 28 per cold build on a fast \
         machine) is cached since its bytes are checked before and after the compile \
         (`ObserveOptions::held`): 0 in the cold build and 0 after `cargo clean` since",
    ),
];

/// The reason a compile whose input was stamped in its own start's clock tick is not cached.
const RACY: &str = "modified-during-compile";

/// The compiles that miss after `cargo clean`, each because its inputs really changed: a
/// build script generated a header with the time in it. A hit would be a wrong object.
const EXPECTED_WARM_MISSES: &[(&str, &str)] = &[
    (
        "crypto/info.c",
        "openssl's make generates `crypto/buildinf.h` with `util/mkbuildinf.pl`, whose `DATE` \
         is `built on: <now>` (unless SOURCE_DATE_EPOCH is set): after `cargo clean` the header \
         is new, so the object is (`cargo gocache explain info.c` says `buildinf.h: content \
         changed`); ccache misses it the same way",
    ),
    (
        "crypto/cversion.c",
        "the other includer of `buildinf.h` (`OpenSSL_version(OPENSSL_BUILT_ON)`): new \
         after `cargo clean` for the same reason",
    ),
];

/// The C misses of the last run, by source, from `<store>/stats/last-run.log`.
fn misses_of_last_run(store: &Path) -> Vec<String> {
    sources_of_last_run(store, "v1\tmiss\t")
}

/// The sources of the last run's C events whose line starts with `prefix`.
fn sources_of_last_run(store: &Path, prefix: &str) -> Vec<String> {
    let log = store.join("stats").join("last-run.log");
    let text = fs::read_to_string(&log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit('\t').next().map(str::to_string))
        .collect()
}

/// The sources the last run did not cache because an input was stamped in the compile's tick.
fn racy_of_last_run(store: &Path) -> Vec<String> {
    sources_of_last_run(store, &format!("v1\tuncacheable\t{RACY}\t"))
}

#[track_caller]
fn assert_uncacheable_reasons(stage: &str, stats: &Value) {
    let allowed: BTreeSet<&str> = EXPECTED_UNCACHEABLE.iter().map(|(r, _)| *r).collect();
    let reasons: BTreeSet<String> = stats["uncacheable"]
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    let unexpected: Vec<&String> = reasons
        .iter()
        .filter(|r| !allowed.contains(r.as_str()))
        .collect();
    assert!(
        unexpected.is_empty(),
        "{stage}: uncacheable for reasons nobody stated: {unexpected:?}\n{stats}"
    );
}

/// A source of each crate's native code, as the wrapper's events name it (the last field of
/// a line of `<store>/stats/last-run.log`): each crate's compiles reached the cache.
/// tikv-jemalloc-sys runs `configure` with `CC=cc::Build::get_compiler().path()`, the
/// compiler without cc's wrapper: its compiles come through the masquerade links
/// (`wrapper::masquerade`).
const CRATE_SOURCES: &[(&str, &str)] = &[
    ("openssl-src (C)", "crypto/sha/sha256.c"),
    ("tikv-jemalloc-sys (configure + make)", "src/jemalloc.c"),
    ("openssl-src (perlasm .s)", "sha256-x86_64.s"),
    ("ring", "crypto/curve25519/curve25519.c"),
    ("libz-ng-sys (cmake)", "deflate_medium.c"),
    ("libgit2-sys", "libgit2/src/"),
    ("libmimalloc-sys", "static.c"),
    ("cxx (C++)", "cxx.cc"),
];

#[track_caller]
fn assert_each_crate_went_through_the_wrapper(store: &Path) {
    let log = store.join("stats").join("last-run.log");
    let text = fs::read_to_string(&log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
    for (krate, source) in CRATE_SOURCES {
        assert!(
            text.lines()
                .any(|l| l.rsplit('\t').next().is_some_and(|s| s.contains(source))),
            "no compile of {krate} ({source}) reached the wrapper; the run's events:\n{text}"
        );
    }
}

/// Every crate of the corpus builds under cargo and under `cargo gocache`, the binaries
/// print the same, and after `cargo clean` every cacheable compile hits.
#[test]
#[ignore = "builds the corpus of real -sys crates (minutes); bash tests/run.sh runs it"]
fn corpus_builds_the_same_and_hits_every_compile_after_cargo_clean() {
    require_tools();
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let ws = corpus_copy(tmp.path());
    let store = tmp.path().join("store");

    let plain = tmp.path().join("target-cargo");
    build(None, &ws, &plain, &[]);
    let expected = corpus_output(&plain);
    for line in [
        "openssl ",
        "ring sha256 ",
        "zlib-ng ",
        "libgit2 ",
        "jemalloc ",
        "mimalloc ",
        "cxx len ",
    ] {
        assert!(
            expected.lines().any(|l| l.starts_with(line)),
            "the corpus binary printed no {line:?} line:\n{expected}"
        );
    }

    let target = tmp.path().join("target-gocache");
    let cold_build = build(Some(&store), &ws, &target, &[]);
    let cold = take_stats(&store);
    assert_each_crate_went_through_the_wrapper(&store);
    let cold_racy = racy_of_last_run(&store);
    eprintln!("cold: {RACY}: {cold_racy:?}");
    assert!(
        count(&cold, "misses") > 0,
        "the cold build cached nothing\n{cold}"
    );
    assert_eq!(count(&cold, "errors"), 0, "cold: cache faults\n{cold}");
    assert_uncacheable_reasons("cold", &cold);
    cold_build.stderr_contains("gocache: ");
    assert_eq!(
        corpus_output(&target),
        expected,
        "the binary built by cargo gocache prints something else than cargo's"
    );

    run(cargo()
        .arg("clean")
        .current_dir(&ws)
        .env("CARGO_TARGET_DIR", &target))
    .success();
    let warm_build = build(Some(&store), &ws, &target, &[]);
    let warm = take_stats(&store);
    // Every compile that took the cache's path, cached or not for a racy stamp: the same
    // compiles in both builds.
    let racy = |stats: &Value| stats["uncacheable"][RACY].as_u64().unwrap_or(0);
    let cacheable = count(&cold, "hits") + count(&cold, "misses") + racy(&cold);
    let misses = misses_of_last_run(&store);
    eprintln!("after cargo clean: {RACY}: {:?}", racy_of_last_run(&store));
    // Only the stated misses, and compiles the cold build could not cache (nothing stored).
    let unexpected: Vec<&String> = misses
        .iter()
        .filter(|m| !EXPECTED_WARM_MISSES.iter().any(|(src, _)| m.ends_with(src)))
        .filter(|m| !cold_racy.contains(m))
        .collect();
    assert!(
        unexpected.is_empty(),
        "after cargo clean: misses nobody explained: {unexpected:?}\n{warm}"
    );
    assert!(
        misses.len() <= EXPECTED_WARM_MISSES.len() + cold_racy.len(),
        "{misses:?}"
    );
    assert_eq!(
        count(&warm, "errors"),
        0,
        "after cargo clean: errors\n{warm}"
    );
    assert_eq!(
        count(&warm, "hits") + count(&warm, "misses") + racy(&warm),
        cacheable,
        "after cargo clean: hits\n{warm}"
    );
    assert_uncacheable_reasons("after cargo clean", &warm);
    warm_build.stderr_contains(&format!(
        "gocache: {} hits, {} misses",
        count(&warm, "hits"),
        misses.len()
    ));
    assert_eq!(
        corpus_output(&target),
        expected,
        "after cargo clean, the binary built by cargo gocache prints something else"
    );

    // Issue 24: build-script runs cached (`build-scripts = "cache"`). The first such build
    // runs every script under the observer (its compiles hit the store filled above) and
    // stores each run; after `cargo clean` no script runs, and the binary is the same.
    let scripts_env = [("CARGO_GOCACHE_BUILD_SCRIPTS", "cache")];
    let bs_target = tmp.path().join("target-scripts");
    let first = build_env(Some(&store), &ws, &bs_target, &[], &scripts_env);
    let events = build_scripts_of_last_run(&store);
    eprintln!("build scripts, first run: {events:?}");
    assert!(
        events.iter().any(|(kind, _, _)| kind == "miss"),
        "no build-script run was stored: {events:?}\n{}",
        first.stderr()
    );
    assert_eq!(
        corpus_output(&bs_target),
        expected,
        "build scripts observed: another binary"
    );
    let _ = fs::remove_dir_all(&bs_target);
    let restored = build_env(Some(&store), &ws, &bs_target, &[], &scripts_env);
    let events = build_scripts_of_last_run(&store);
    eprintln!("build scripts after cargo clean: {events:?}");
    let ran: Vec<&(String, String, String)> = events
        .iter()
        .filter(|(kind, _, _)| kind != "hit")
        .filter(|(_, _, pkg)| {
            !EXPECTED_SCRIPT_RUNS_AFTER_CLEAN
                .iter()
                .any(|(p, _)| pkg.starts_with(p))
        })
        .collect();
    assert!(
        ran.is_empty() && events.iter().any(|(kind, _, _)| kind == "hit"),
        "after cargo clean, build scripts ran: {ran:?}\n{}",
        restored.stderr()
    );
    for pkg in [
        "tikv-jemalloc-sys",
        "openssl-sys",
        "ring",
        "libgit2-sys",
        "libz-ng-sys",
    ] {
        assert!(
            events
                .iter()
                .any(|(kind, _, p)| kind == "hit" && p.starts_with(pkg)),
            "{pkg}'s build script was not restored: {events:?}"
        );
    }
    assert_eq!(
        corpus_output(&bs_target),
        expected,
        "build scripts restored: the binary prints something else"
    );

    // A second checkout at another path, another target directory: the cc-only runs name no
    // machine path and are restored; a run whose OUT_DIR holds its paths runs (pinned).
    let ws2 = tmp.path().join("second").join("corpus");
    copy_tree(&ws, &ws2);
    let _ = fs::remove_dir_all(ws2.join("target"));
    let second_target = tmp.path().join("target-second");
    let second = build_env(Some(&store), &ws2, &second_target, &[], &scripts_env);
    let events = build_scripts_of_last_run(&store);
    eprintln!("build scripts in a second checkout: {events:?}");
    for pkg in ["ring", "libgit2-sys", "libmimalloc-sys", "cxx"] {
        assert!(
            events
                .iter()
                .any(|(kind, _, p)| kind == "hit" && p.starts_with(pkg)),
            "{pkg}'s build script was not restored in a second checkout: {events:?}\n{}",
            second.stderr()
        );
    }
    assert_eq!(
        corpus_output(&second_target),
        expected,
        "second checkout, build scripts cached: the binary prints something else"
    );
}

/// A fault anywhere in the archiver or compiler path runs the real tool (issue 11): openssl-src
/// (perl Configure, make, perlasm, `$(AR)` = cc's archiver program alone) still builds under
/// `cargo gocache` with both faults at once:
///
/// - a broken store: it opens (its root and `bin/` are fine, so the runner sets every wrapper
///   up), but each of its 256 shard directories is a regular file, so every lookup and every
///   store of a compile fails and must fall back to the real compiler;
/// - a garbage-looking `AR`: the archiver is a program named `qc` on `PATH`, the very `ar` key
///   openssl's make passes first, which the wrapper must not take for an operation or the
///   other way round.
#[test]
#[ignore = "builds openssl-src (minutes); bash tests/run.sh runs it"]
fn openssl_src_builds_with_a_broken_store_and_an_archiver_named_like_an_ar_key() {
    require_tools();
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let ws = corpus_copy(tmp.path());

    let store = tmp.path().join("store");
    fs::create_dir_all(&store).unwrap();
    fs::write(
        store.join("CACHEDIR.TAG"),
        "Signature: 8a477f597d28d172789f06886806bc55\n",
    )
    .unwrap();
    for shard in 0..=255u8 {
        fs::write(store.join(format!("{shard:02x}")), "not a directory\n").unwrap();
    }

    let bin = tmp.path().join("bin");
    fs::create_dir_all(&bin).unwrap();
    let ar = String::from_utf8(
        std::process::Command::new("sh")
            .args(["-c", "command -v ar"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(ar.trim(), bin.join("qc")).unwrap();
    let path = std::env::join_paths(
        std::iter::once(bin.clone())
            .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
    )
    .unwrap();

    let target = tmp.path().join("target");
    let mut cmd = gocache(&store);
    cmd.args([
        "gocache",
        "build",
        "--release",
        "--locked",
        "-p",
        "openssl-sys",
    ])
    .current_dir(&ws)
    .env("CARGO_TARGET_DIR", &target)
    .env("PATH", &path)
    .env("AR", "qc");
    let r = run(&mut cmd).success();
    let stats = take_stats(&store);
    assert!(
        count(&stats, "errors") > 0,
        "no cache faults counted: the compiles did not go through the broken store\n{stats}\n{}",
        r.stderr()
    );
    assert_eq!(
        count(&stats, "hits"),
        0,
        "a hit from a broken store\n{stats}"
    );
    let libs = crate::support::archives(&target);
    for lib in ["libcrypto.a", "libssl.a"] {
        assert!(
            libs.keys().any(|k| k.ends_with(lib)),
            "openssl-src made no {lib}: {:?}",
            libs.keys()
        );
    }
}
