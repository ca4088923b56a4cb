//! The Rust wrapper end to end: real cargo, real rustc, real crates from
//! crates.io (serde with `serde_derive`, a proc-macro built on syn; build
//! scripts; a `bin`; tests), each stage checking both sides of the
//! promise: what is unchanged hits, and what changed is rebuilt (the
//! program's output is what the change makes it, never the old one).
//!
//! `CARGO_INCREMENTAL=0` throughout: the dev profile compiles workspace
//! members incrementally, which the wrapper does not cache (counted
//! `incremental`); without it every rustc invocation of the graph is
//! cacheable.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde_json::Value;

use crate::e2e::take_stats;
use crate::support::{cargo, copy_tree, gocache, run, Run};

fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

/// A workspace: `app` (bin with a build script and a test, serde derive)
/// and `lib1` (a path dependency with a module, an `include_str!` file,
/// an `env!`, a feature).
fn workspace(ws: &Path) {
    write(
        &ws.join("Cargo.toml"),
        "[workspace]\nmembers = [\"app\", \"lib1\"]\nresolver = \"2\"\n",
    );
    write(
        &ws.join("app/Cargo.toml"),
        r#"[package]
name = "app"
version = "0.1.0"
edition = "2021"

[dependencies]
lib1 = { path = "../lib1" }
serde = { version = "1", features = ["derive"] }
"#,
    );
    write(
        &ws.join("app/build.rs"),
        "fn main() { println!(\"cargo:rustc-env=FROM_BUILD=built\"); }\n",
    );
    write(
        &ws.join("app/src/main.rs"),
        r#"#[derive(serde::Serialize, Debug)]
struct P { x: i32 }

fn main() {
    let p = P { x: lib1::answer() };
    println!(
        "{:?} {} {} {} {} {}",
        p,
        lib1::text().trim(),
        option_env!("APP_FLAVOR").unwrap_or("plain"),
        env!("FROM_BUILD"),
        cfg!(gocache_flag),
        lib1::version(),
    );
}

#[test]
fn answer_is_positive() {
    assert!(lib1::answer() > 0);
}
"#,
    );
    write(
        &ws.join("lib1/Cargo.toml"),
        "[package]\nname = \"lib1\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[features]\nbig = []\n",
    );
    write(
        &ws.join("lib1/src/lib.rs"),
        r#"mod inner;
pub fn answer() -> i32 { if cfg!(feature = "big") { 1000 } else { inner::value() } }
pub fn text() -> &'static str { include_str!("data.txt") }
pub fn version() -> &'static str { env!("CARGO_PKG_VERSION") }
"#,
    );
    write(
        &ws.join("lib1/src/inner.rs"),
        "pub fn value() -> i32 { 42 }\n",
    );
    write(&ws.join("lib1/src/data.txt"), "some text\n");
}

struct Env<'a> {
    store: &'a Path,
    ws: PathBuf,
    target: PathBuf,
}

impl Env<'_> {
    #[track_caller]
    fn gocache(&self, args: &[&str], extra: &[(&str, &str)]) -> Run {
        let mut cmd = gocache(self.store);
        cmd.arg("gocache")
            .args(args)
            .arg("--offline")
            .current_dir(&self.ws)
            .env("CARGO_TARGET_DIR", &self.target)
            .env("CARGO_INCREMENTAL", "0");
        for (k, v) in extra {
            cmd.env(k, v);
        }
        run(&mut cmd).success()
    }

    /// `cargo gocache build` then the program's output.
    #[track_caller]
    fn build_and_run(&self, extra_args: &[&str], extra: &[(&str, &str)]) -> (Value, String) {
        self.build_and_run_checked(extra_args, extra, |_| {})
    }

    #[track_caller]
    fn build_and_run_checked(
        &self,
        extra_args: &[&str],
        extra: &[(&str, &str)],
        check: impl Fn(&Run),
    ) -> (Value, String) {
        let mut args = vec!["build"];
        args.extend(extra_args);
        check(&self.gocache(&args, extra));
        let out = run(&mut std::process::Command::new(
            self.target.join("debug/app"),
        ))
        .success();
        (take_stats(self.store)["rust"].clone(), out.stdout())
    }

    #[track_caller]
    fn cargo_clean(&self) {
        run(cargo()
            .args(["clean", "--offline"])
            .current_dir(&self.ws)
            .env("CARGO_TARGET_DIR", &self.target))
        .success();
    }
}

fn n(v: &Value, f: &str) -> u64 {
    v[f].as_u64().unwrap_or_else(|| panic!("no {f} in {v}"))
}

#[track_caller]
fn assert_all_hit(stage: &str, cold: &Value, now: &Value) {
    assert_eq!(n(now, "misses"), 0, "{stage}: misses\n{now}");
    assert_eq!(n(now, "errors"), 0, "{stage}: errors\n{now}");
    assert_eq!(
        n(now, "hits"),
        n(cold, "hits") + n(cold, "misses"),
        "{stage}: hits\n{now}"
    );
}

/// Only what the change touches is compiled again, and at least once.
#[track_caller]
fn assert_rebuilt(stage: &str, now: &Value, at_most: u64) {
    assert_eq!(n(now, "errors"), 0, "{stage}: errors\n{now}");
    let m = n(now, "misses");
    assert!(m >= 1 && m <= at_most, "{stage}: {m} misses\n{now}");
}

const PLAIN: &str = "P { x: 42 } some text plain built false 0.1.0\n";

#[test]
fn rust_graph_hits_everywhere_and_rebuilds_what_changed() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let e = Env {
        store: &store,
        ws: dir.path().join("ws"),
        target: dir.path().join("target"),
    };
    workspace(&e.ws);

    // Cold: everything compiled once, every compile cacheable (the
    // compile-error ones are build scripts' feature probes).
    let (cold, out) = e.build_and_run(&[], &[]);
    assert_eq!(out, PLAIN);
    assert_eq!(n(&cold, "hits"), 0, "{cold}");
    assert!(n(&cold, "misses") >= 8, "{cold}");
    assert_eq!(n(&cold, "errors"), 0, "{cold}");
    let probes = cold["uncacheable"]["compile-error"].as_u64().unwrap_or(0);
    let uncacheable: u64 = cold["uncacheable"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(uncacheable, probes, "only feature probes fail: {cold}");
    let t = e.gocache(&["test"], &[]);
    assert!(
        t.stdout().contains("test answer_is_positive ... ok"),
        "{}",
        t.stdout()
    );
    let cold_tests = take_stats(&store)["rust"].clone();

    // Warm after `cargo clean`: every compile hits, the program runs.
    e.cargo_clean();
    let (warm, out) = e.build_and_run_checked(&[], &[], |b| {
        // rustc's warning, replayed from the cache (cargo renders it from
        // the JSON diagnostics).
        b.stderr_contains("unexpected `cfg` condition name: `gocache_flag`");
    });
    assert_eq!(out, PLAIN);
    assert_all_hit("cargo clean", &cold, &warm);
    let t = e.gocache(&["test"], &[]);
    assert!(
        t.stdout().contains("test answer_is_positive ... ok"),
        "{}",
        t.stdout()
    );
    assert_all_hit(
        "cargo clean, tests",
        &cold_tests,
        &take_stats(&store)["rust"],
    );

    // A second checkout with a second target directory hits as well.
    let other = Env {
        store: &store,
        ws: dir.path().join("elsewhere/checkout2"),
        target: dir.path().join("elsewhere/target2"),
    };
    copy_tree(&e.ws, &other.ws);
    let (now, out) = other.build_and_run(&[], &[]);
    assert_eq!(out, PLAIN);
    assert_all_hit("second checkout and target dir", &cold, &now);
    assert_eq!(
        fs::read(other.target.join("debug/app")).unwrap(),
        fs::read(e.target.join("debug/app")).unwrap(),
        "the same program bytes in both checkouts"
    );

    // A source edit in a path dependency: lib1 and app again, nothing stale.
    write(
        &e.ws.join("lib1/src/inner.rs"),
        "pub fn value() -> i32 { 43 }\n",
    );
    let (now, out) = e.build_and_run(&[], &[]);
    assert_eq!(out, PLAIN.replace("42", "43"));
    assert_rebuilt("source edit", &now, 2);
    // `explain` names the crate and the edited file: the nearest earlier
    // compile of `lib1` differs in that source alone.
    let explain = run(gocache(e.store)
        .args(["gocache", "explain", "lib1"])
        .current_dir(&e.ws))
    .success()
    .stdout();
    let lib1 = explain
        .split("miss: ")
        .find(|m| m.starts_with("rustc lib1@0.1.0 lib1 (lib) "))
        .unwrap_or_else(|| panic!("no miss of lib1 in:\n{explain}"));
    let changes: Vec<&str> = lib1.lines().skip(1).map(str::trim).collect();
    assert!(
        changes
            .iter()
            .any(|c| c.ends_with("inner.rs: content changed")),
        "{explain}"
    );
    assert!(
        !changes.iter().any(|c| c.starts_with("first build")),
        "{explain}"
    );
    // Back as it was: served from the cache again.
    write(
        &e.ws.join("lib1/src/inner.rs"),
        "pub fn value() -> i32 { 42 }\n",
    );
    let (now, out) = e.build_and_run(&[], &[]);
    assert_eq!(out, PLAIN);
    assert_eq!(n(&now, "misses"), 0, "source reverted: {now}");

    // An include_str! file.
    write(&e.ws.join("lib1/src/data.txt"), "other text\n");
    let (now, out) = e.build_and_run(&[], &[]);
    assert_eq!(out, PLAIN.replace("some text", "other text"));
    assert_rebuilt("include_str file", &now, 2);

    // An env! / option_env! variable.
    let (now, out) = e.build_and_run(&[], &[("APP_FLAVOR", "spicy")]);
    assert_eq!(
        out,
        PLAIN
            .replace("some text", "other text")
            .replace("plain", "spicy")
    );
    assert_rebuilt("option_env variable", &now, 1);

    // A feature.
    let (now, out) = e.build_and_run(&["--features", "lib1/big"], &[]);
    assert!(out.starts_with("P { x: 1000 }"), "{out}");
    assert_rebuilt("feature", &now, 2);

    // RUSTFLAGS: everything is compiled with them, the program sees it.
    let (now, out) = e.build_and_run(&[], &[("RUSTFLAGS", "--cfg gocache_flag")]);
    assert!(out.contains(" true "), "{out}");
    assert!(n(&now, "misses") >= 3, "RUSTFLAGS: {now}");

    // A changed dependency (lib1's version, which app prints).
    let manifest = e.ws.join("lib1/Cargo.toml");
    let text = fs::read_to_string(&manifest).unwrap();
    write(&manifest, &text.replace("0.1.0", "0.2.0"));
    let (now, out) = e.build_and_run(&[], &[]);
    assert!(out.trim_end().ends_with("0.2.0"), "{out}");
    assert_rebuilt("changed dependency", &now, 3);

    // A rustc that reports another version is another compiler: nothing
    // compiled by the real one is served for it.
    let real = String::from_utf8(
        std::process::Command::new("rustc")
            .args(["--print", "sysroot"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let real = PathBuf::from(real.trim()).join("bin/rustc");
    let fake = dir.path().join("fake/rustc");
    write(
        &fake,
        &format!(
            "#!/bin/sh\nif [ \"$1\" = -vV ]; then \"{0}\" -vV | sed 's/^release: .*/release: 1.95.99-gocache/'; exit 0; fi\nexec \"{0}\" \"$@\"\n",
            real.display()
        ),
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&fake, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let fake_str = fake.display().to_string();
    let (now, out) = e.build_and_run(&[], &[("RUSTC", &fake_str)]);
    assert!(out.trim_end().ends_with("0.2.0"), "{out}");
    assert_eq!(n(&now, "hits"), 0, "another rustc: {now}");
    assert!(
        n(&now, "misses") >= n(&cold, "misses"),
        "another rustc: {now}"
    );

    // --verify on a warm build: every hit compiled again, no difference.
    e.cargo_clean();
    let r = e.gocache(&["--verify", "build"], &[]);
    assert!(!r.stderr().contains("nondeterministic"), "{}", r.stderr());
    let now = take_stats(&store)["rust"].clone();
    assert_eq!(n(&now, "misses"), 0, "--verify: {now}");
    assert!(n(&now, "hits") >= n(&cold, "misses"), "--verify: {now}");
}

/// The real rustc's sysroot.
fn real_sysroot() -> PathBuf {
    let out = std::process::Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .unwrap();
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// A toolchain of links to the real one, with `--sysroot` pointing at
/// itself, and one file of its own in the target library directory.
/// Returns its `rustc` and that file.
fn linked_toolchain(root: &Path) -> (PathBuf, PathBuf) {
    let real = real_sysroot();
    let host = rustc_host();
    let target_lib = Path::new("lib/rustlib").join(&host).join("lib");
    for dir in [Path::new("lib"), target_lib.as_path()] {
        fs::create_dir_all(root.join(dir)).unwrap();
        for e in fs::read_dir(real.join(dir)).unwrap().flatten() {
            if e.path().is_file() {
                std::os::unix::fs::symlink(e.path(), root.join(dir).join(e.file_name())).unwrap();
            }
        }
    }
    let rustc = root.join("bin/rustc");
    write(
        &rustc,
        &format!(
            "#!/bin/sh\nexec \"{}\" --sysroot \"{}\" \"$@\"\n",
            real.join("bin/rustc").display(),
            root.display()
        ),
    );
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&rustc, fs::Permissions::from_mode(0o755)).unwrap();
    let own = root.join(target_lib).join("gocache-test-part");
    write(&own, "version one\n");
    (rustc, own)
}

/// Compile a one-line lib in `dir` through the wrapper with `rustc` (its
/// store is `dir/store`); the Rust stats of that compile.
fn compile_lib(dir: &Path, rustc: &Path, env: &[(&str, &Path)]) -> Value {
    let store = dir.join("store");
    let src = dir.join("src/lib.rs");
    if !src.exists() {
        write(&src, "pub fn answer() -> u32 { 42 }\n");
    }
    let out = dir.join("out");
    fs::create_dir_all(&out).unwrap();
    let mut cmd = gocache(&store);
    cmd.arg(rustc)
        .args(["--crate-name", "answer", "--edition=2021"])
        .arg(&src)
        .args(["--crate-type", "lib", "--emit=dep-info,metadata,link"])
        .args(["-C", "metadata=0123456789abcdef"])
        .args(["-C", "extra-filename=-0123456789abcdef"])
        .arg("--out-dir")
        .arg(&out)
        .current_dir(dir);
    // The fake proxies here pick by their own variable; rustup's picks by
    // `RUSTUP_TOOLCHAIN` first, which gocache reads to skip asking it
    // (cargo test run by rustup has it set).
    cmd.env_remove("RUSTUP_TOOLCHAIN");
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(&mut cmd).success();
    take_stats(&store)["rust"].clone()
}

/// `RUSTC=~/.cargo/bin/rustc`: rustup's proxy (rustup itself under
/// another name) picks the toolchain per call, so one binary is many
/// compilers. Here a proxy of the same shape (a script hard-linked as
/// `rustup`) picks by `TEST_TOOLCHAIN`: a compile for the second toolchain
/// must not be served the first one's object.
#[test]
#[cfg(unix)]
fn rustups_proxy_is_resolved_to_the_toolchain_it_picks() {
    let dir = tempfile::tempdir().unwrap();
    let (linked, _) = linked_toolchain(&dir.path().join("tc"));
    let linked_root = dir.path().join("tc");
    let real_root = real_sysroot();
    let proxy = dir.path().join("cargo-bin/rustc");
    write(
        &proxy,
        "#!/bin/sh\nexec \"$TEST_TOOLCHAIN/bin/rustc\" \"$@\"\n",
    );
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&proxy, fs::Permissions::from_mode(0o755)).unwrap();
    fs::hard_link(&proxy, dir.path().join("cargo-bin/rustup")).unwrap();
    assert!(linked.is_file());
    // Past the racy window, so that identities are memoised (a memo keyed
    // by the proxy alone would then answer for the other toolchain).
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let with = |root: &Path| compile_lib(dir.path(), &proxy, &[("TEST_TOOLCHAIN", root)]);
    let first = with(&real_root);
    assert_eq!((n(&first, "hits"), n(&first, "misses")), (0, 1), "{first}");
    assert_eq!(n(&with(&real_root), "hits"), 1);
    let other = with(&linked_root);
    assert_eq!(
        (n(&other, "hits"), n(&other, "misses")),
        (0, 1),
        "the proxy's other toolchain was served the first one's object: {other}"
    );
    assert_eq!(n(&with(&linked_root), "hits"), 1);
    assert_eq!(n(&with(&real_root), "hits"), 1);
}

/// rustc's identity covers the *content* of its sysroot's libraries: a
/// toolchain rebuilt in place keeps its file names, and a change to std
/// can keep every size. A sysroot file rewritten with other bytes of the
/// same size (its mtime set back) is another compiler: nothing compiled
/// before is served. For a toolchain rustup installed, its channel
/// manifest (the tarballs' hashes) stands for that content.
#[test]
#[cfg(unix)]
fn a_sysroot_file_changed_in_place_with_its_size_kept_is_another_rustc() {
    let dir = tempfile::tempdir().unwrap();
    let (rustc, own) = linked_toolchain(&dir.path().join("tc"));
    let compile = || compile_lib(dir.path(), &rustc, &[]);
    let first = compile();
    assert_eq!((n(&first, "hits"), n(&first, "misses")), (0, 1), "{first}");
    let again = compile();
    assert_eq!((n(&again, "hits"), n(&again, "misses")), (1, 0), "{again}");

    // Same size, other bytes, the old mtime restored: only the content
    // (and the ctime, which the identity memo sees) tells.
    let mtime = fs::metadata(&own).unwrap().modified().unwrap();
    write(&own, "version two\n");
    fs::File::options()
        .write(true)
        .open(&own)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    let changed = compile();
    assert_eq!(
        (n(&changed, "hits"), n(&changed, "misses")),
        (0, 1),
        "a changed sysroot file: {changed}"
    );
    // And back: the first compiler again, whose entry is still there.
    write(&own, "version one\n");
    let back = compile();
    assert_eq!((n(&back, "hits"), n(&back, "misses")), (1, 0), "{back}");
    // Past the racy window, so the identity is memoised: a memo that does
    // not see the channel manifest appear would answer for the old
    // toolchain (this step failed under load, when a compile took that
    // long by itself).
    std::thread::sleep(std::time::Duration::from_millis(2100));
    assert_eq!(n(&compile(), "hits"), 1);

    // Installed by rustup: its channel manifest stands for the files'
    // content, and another manifest is another toolchain.
    let manifest = dir
        .path()
        .join("tc/lib/rustlib/multirust-channel-manifest.toml");
    write(&manifest, "[pkg.rustc]\nhash = \"1111\"\n");
    let rustup = compile();
    assert_eq!(
        (n(&rustup, "hits"), n(&rustup, "misses")),
        (0, 1),
        "{rustup}"
    );
    assert_eq!(n(&compile(), "hits"), 1);
    write(&manifest, "[pkg.rustc]\nhash = \"2222\"\n");
    let other = compile();
    assert_eq!((n(&other, "hits"), n(&other, "misses")), (0, 1), "{other}");
}

/// cargo's questions before a build in a new target directory (`rustc -vV`,
/// `rustc - --print=...`) are answered from the store after the first time,
/// byte for byte what rustc answers; a question whose key differs (another
/// flag, `RUSTC_BOOTSTRAP`, another toolchain) is asked again, and so is one
/// whose standard input could hold a crate, or whose `--target` a JSON file
/// could define.
#[test]
#[cfg(unix)]
fn cargos_questions_to_rustc_are_answered_from_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let (rustc, own) = linked_toolchain(&dir.path().join("tc"));
    // The same toolchain, counting the times rustc is asked.
    let script = fs::read_to_string(&rustc).unwrap();
    let count_file = dir.path().join("asked");
    write(
        &rustc,
        &script.replacen(
            "exec ",
            &format!("echo x >> \"{}\"\nexec ", count_file.display()),
            1,
        ),
    );
    let asked = || {
        fs::read_to_string(&count_file)
            .map(|t| t.lines().count())
            .unwrap_or(0)
    };
    // Past the racy window, so that the toolchain's identity is memoised
    // (else identifying it asks rustc each time).
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let store = dir.path().join("store");
    let cwd = dir.path().join("ws");
    fs::create_dir_all(&cwd).unwrap();
    let ask = |args: &[&str], env: &[(&str, &str)], stdin: Stdio| {
        let mut cmd = gocache(&store);
        cmd.arg(&rustc).args(args).current_dir(&cwd).stdin(stdin);
        cmd.env_remove("RUSTUP_TOOLCHAIN");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{args:?}: {out:?}");
        (out.stdout, out.stderr)
    };
    let direct = |args: &[&str], env: &[(&str, &str)]| {
        let mut cmd = std::process::Command::new(&rustc);
        cmd.args(args).current_dir(&cwd).stdin(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        (out.stdout, out.stderr)
    };
    let print = [
        "-",
        "--crate-name",
        "___",
        "--print=file-names",
        "--crate-type",
        "bin",
        "--crate-type",
        "rlib",
        "--crate-type",
        "proc-macro",
        "--print=sysroot",
        "--print=split-debuginfo",
        "--print=crate-name",
        "--print=cfg",
        "-Wwarnings",
    ];
    let with =
        |extra: &[&'static str]| -> Vec<&str> { print.iter().chain(extra).copied().collect() };
    let answered_from_store = |args: &[&str], env: &[(&str, &str)]| {
        let want = direct(args, env);
        let before = asked();
        assert_eq!(
            ask(args, env, Stdio::null()),
            want,
            "{args:?}: first answer"
        );
        assert!(
            asked() > before,
            "{args:?} {env:?}: not asked of rustc the first time"
        );
        let before = asked();
        assert_eq!(
            ask(args, env, Stdio::null()),
            want,
            "{args:?}: second answer"
        );
        assert_eq!(
            asked(),
            before,
            "{args:?} {env:?}: asked again, not answered from the store"
        );
        want
    };
    let vv = answered_from_store(&["-vV"], &[]);
    assert!(String::from_utf8_lossy(&vv.0).contains("host: "));
    let plain = answered_from_store(&print, &[]);
    assert!(String::from_utf8_lossy(&plain.0).contains("___"));
    // Each of these is another question with another answer.
    let abort = answered_from_store(&with(&["-C", "panic=abort"]), &[]);
    assert_ne!(abort, plain);
    assert!(String::from_utf8_lossy(&abort.0).contains("panic=\"abort\""));
    let feature = answered_from_store(&with(&["-Ctarget-feature=+avx2"]), &[]);
    assert!(String::from_utf8_lossy(&feature.0).contains("target_feature=\"avx2\""));
    let target: &'static str = Box::leak(rustc_host().into_boxed_str());
    answered_from_store(&with(&["--target", target]), &[]);
    // Not a flag but the environment: nightly options unlocked.
    answered_from_store(&print, &[("RUSTC_BOOTSTRAP", "1")]);

    // Not answered from the store: standard input that could hold a crate,
    // a target a JSON file in the working directory could define, the
    // host's CPU.
    for (args, stdin_file, json) in [
        (print.to_vec(), true, false),
        (with(&["--target", target]), false, true),
        (with(&["-C", "target-cpu=native"]), false, false),
    ] {
        let json_path = cwd.join(format!("{target}.json"));
        if json {
            write(&json_path, "{}\n");
        }
        for _ in 0..2 {
            let stdin = if stdin_file {
                let empty = dir.path().join("empty.rs");
                write(&empty, "");
                Stdio::from(fs::File::open(&empty).unwrap())
            } else {
                Stdio::null()
            };
            let before = asked();
            ask(&args, &[], stdin);
            assert!(asked() > before, "{args:?}: answered from the store");
        }
        let _ = fs::remove_file(&json_path);
    }

    // Another toolchain (a sysroot library changed): asked again.
    std::thread::sleep(std::time::Duration::from_millis(10));
    write(&own, "version two, longer\n");
    let before = asked();
    assert_eq!(ask(&["-vV"], &[], Stdio::null()), vv);
    assert!(
        asked() > before,
        "another toolchain answered from the old one's entry"
    );
}

/// The host triple of the rustc running the tests.
fn rustc_host() -> String {
    String::from_utf8(
        std::process::Command::new("rustc")
            .arg("-vV")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .lines()
    .find_map(|l| l.strip_prefix("host: ").map(str::to_string))
    .unwrap()
}
