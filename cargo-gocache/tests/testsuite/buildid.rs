//! Build IDs in archives and the build.rs helper, with real cargo, gcc and ar.
//!
//! The temp crates share one target directory (under `CARGO_TARGET_TMPDIR`)
//! so `cc`, `sha2` and `gocache-build` compile once for all of them; each
//! has its own store, so its stats are its own. A crate's `OUT_DIR` is read
//! from cargo's `build-script-executed` message.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{cargo, copy_tree, gocache, run, Run};

/// A temp crate with its own store.
struct Crate {
    _dir: tempfile::TempDir,
    root: PathBuf,
    store: PathBuf,
    name: &'static str,
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .unwrap()
}

fn shared_target() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("buildid-crates")
}

impl Crate {
    /// A crate `name` whose build.rs is `build_rs`, with the helper and cc
    /// as build-dependencies and the workspace's lock file (same versions,
    /// nothing to resolve).
    fn new(name: &'static str, build_rs: &str, main_rs: &str, files: &[(&str, &str)]) -> Crate {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join(name);
        fs::create_dir_all(root.join("src")).unwrap();
        fs::write(
            root.join("Cargo.toml"),
            format!(
                "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
                 [workspace]\n\n[build-dependencies]\n\
                 gocache-build = {{ path = {:?} }}\ncc = \"1.2\"\n",
                workspace().join("build-support").display().to_string()
            ),
        )
        .unwrap();
        fs::copy(workspace().join("Cargo.lock"), root.join("Cargo.lock")).unwrap();
        fs::write(root.join("build.rs"), build_rs).unwrap();
        fs::write(root.join("src/main.rs"), main_rs).unwrap();
        for (path, text) in files {
            fs::create_dir_all(root.join(path).parent().unwrap()).unwrap();
            fs::write(root.join(path), text).unwrap();
        }
        let store = dir.path().join("store");
        Crate {
            _dir: dir,
            root,
            store,
            name,
        }
    }

    fn cargo(&self, args: &[&str]) -> Command {
        let mut cmd = cargo();
        cmd.args(args)
            .current_dir(&self.root)
            .env("CARGO_TARGET_DIR", shared_target())
            .env("CARGO_GOCACHE_DIR", &self.store);
        cmd
    }

    /// `cargo build`; returns this crate's OUT_DIR.
    #[track_caller]
    fn build(&self) -> PathBuf {
        let r = run(&mut self.cargo(&["build", "--message-format=json"])).success();
        out_dir(&r, self.name)
    }

    /// `cargo run`; returns its stdout.
    #[track_caller]
    fn run(&self) -> String {
        run(&mut self.cargo(&["run", "-q"])).success().stdout()
    }

    fn gocache(&self, args: &[&str]) -> Run {
        let mut cmd = gocache(&self.store);
        cmd.args(args);
        run(&mut cmd)
    }

    /// (hits, misses) from `cargo gocache stats --json`.
    #[track_caller]
    fn stats(&self) -> (u64, u64) {
        let out = self.gocache(&["stats", "--json"]).success().stdout();
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        (v["hits"].as_u64().unwrap(), v["misses"].as_u64().unwrap())
    }

    #[track_caller]
    fn build_id(&self, lib: &Path) -> String {
        let r = self.gocache(&["buildid", lib.to_str().unwrap()]).success();
        r.stdout().trim().to_string()
    }
}

#[track_caller]
fn out_dir(r: &Run, package: &str) -> PathBuf {
    for line in r.stdout().lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if v["reason"] == "build-script-executed"
            && v["package_id"].as_str().is_some_and(|id| {
                id.contains(&format!("#{package}@")) || id.contains(&format!("/{package}#"))
            })
        {
            return PathBuf::from(v["out_dir"].as_str().unwrap());
        }
    }
    panic!(
        "no build-script-executed message for {package}:\n{}",
        r.stdout()
    );
}

#[track_caller]
fn tool(args: &[&str], cwd: &Path) -> String {
    let mut cmd = Command::new(args[0]);
    cmd.args(&args[1..]).current_dir(cwd);
    run(&mut cmd).success().stdout()
}

/// The seed crate: build.rs compiles every `src/*.c` it finds.
const GLOB_BUILD_RS: &str = r#"
use gocache_build::CachedBuild;

fn main() {
    // It globs src/, so it must rerun when a file appears there.
    println!("cargo:rerun-if-changed=src");
    let mut files: Vec<_> = std::fs::read_dir("src")
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "c"))
        .collect();
    files.sort();
    cc::Build::new().files(files).include("include").cached_compile("seed");
}
"#;

const SEED_MAIN: &str = r#"
extern "C" {
    fn f_a() -> i32;
    fn f_b() -> i32;
}
fn main() {
    println!("{}", unsafe { f_a() + f_b() });
}
"#;

const C_C: &str = "int f_c(void) { return 100; }\n";

fn seed_crate(name: &'static str) -> Crate {
    let c = Crate::new(
        name,
        GLOB_BUILD_RS,
        SEED_MAIN,
        &[
            (
                "src/a.c",
                "#include \"seed.h\"\nint f_a(void) { return SEED; }\n",
            ),
            ("src/b.c", "int f_b(void) { return 2; }\n"),
            ("src/c.c", C_C),
        ],
    );
    fs::create_dir_all(c.root.join("include")).unwrap();
    fs::write(c.root.join("include/seed.h"), "#define SEED 40\n").unwrap();
    c
}

fn members(lib: &Path) -> Vec<String> {
    tool(&["ar", "t", lib.to_str().unwrap()], lib.parent().unwrap())
        .lines()
        .map(str::to_string)
        .collect()
}

/// Version handshake: a `cargo-gocache` whose cache format differs from the
/// build script's `gocache-build` (its value of `CARGO_GOCACHE_FORMATS`)
/// gets one warning line and a plain cc compile, uncached; the same build
/// without the mismatch uses the cache.
#[test]
fn helper_under_a_binary_of_another_cache_format_compiles_uncached_with_one_warning() {
    let c = Crate::new(
        "skew",
        "use gocache_build::CachedBuild;\nfn main() { cc::Build::new().file(\"src/a.c\").cached_compile(\"skew\"); }\n",
        "extern \"C\" { fn f_a() -> i32; }\nfn main() { println!(\"{}\", unsafe { f_a() }); }\n",
        &[("src/a.c", "int f_a(void) { return 42; }\n")],
    );
    let r = run(c.cargo(&["build"]).env(
        "CARGO_GOCACHE_FORMATS",
        "store 999 protocol 1 cargo-gocache 9.9.9",
    ))
    .success();
    let stderr = r.stderr();
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("do not share a cache format"))
        .collect();
    assert_eq!(warnings.len(), 1, "one line:\n{stderr}");
    assert!(
        warnings[0].contains("store 999 protocol 1 cargo-gocache 9.9.9"),
        "{}",
        warnings[0]
    );
    assert!(warnings[0].contains("compiling without the cache"));
    assert_eq!(c.stats(), (0, 0), "nothing looked up or stored");
    // Without the variable (a build without `cargo gocache`): the cache is
    // used, and the program is right.
    assert_eq!(c.run().trim(), "42");
    assert_eq!(c.stats(), (0, 1));
    // This binary's own formats agree: the script reruns (the variable
    // changed) and hits.
    let mut cmd = c.cargo(&["build"]);
    cmd.env("CARGO_GOCACHE_FORMATS", cargo_gocache::version::formats());
    let r = run(&mut cmd).success();
    assert!(!r.stderr().contains("cache format"), "{}", r.stderr());
    assert_eq!(c.stats(), (1, 1));
}

/// A one-file crate for the tests of finding and talking to the binary.
fn skew_crate(name: &'static str) -> Crate {
    Crate::new(
        name,
        &format!(
            "use gocache_build::CachedBuild;\nfn main() {{ cc::Build::new().file(\"src/a.c\").cached_compile(\"{name}\"); }}\n"
        ),
        "extern \"C\" { fn f_a() -> i32; }\nfn main() { println!(\"{}\", unsafe { f_a() }); }\n",
        &[("src/a.c", "int f_a(void) { return 42; }\n")],
    )
}

/// The build script's `cargo:warning` lines from gocache (as cargo shows
/// them, on stderr; stdout too, for `--message-format=json`).
fn gocache_warnings(r: &Run) -> Vec<String> {
    r.stderr()
        .lines()
        .chain(r.stdout.lines())
        .filter(|l| l.contains("warning") && l.contains("gocache:"))
        .map(str::to_string)
        .collect()
}

/// `PATH` without any directory holding a `cargo-gocache`.
fn path_without_gocache() -> std::ffi::OsString {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::join_paths(std::env::split_paths(&path).filter(|d| !d.join("cargo-gocache").exists()))
        .unwrap()
}

/// A user without gocache: neither `CARGO_GOCACHE_PROG` nor a
/// `cargo-gocache` on `PATH`. The helper is plain cc, silently: no
/// warning, nothing stored, the program right.
#[test]
fn helper_without_a_binary_is_plain_cc_without_a_warning() {
    let c = skew_crate("nobin");
    let mut cmd = c.cargo(&["build"]);
    cmd.env_remove("CARGO_GOCACHE_PROG")
        .env("PATH", path_without_gocache());
    let r = run(&mut cmd).success();
    assert_eq!(gocache_warnings(&r), Vec::<String>::new(), "{r}");
    let mut cmd = c.cargo(&["run", "-q"]);
    cmd.env_remove("CARGO_GOCACHE_PROG")
        .env("PATH", path_without_gocache());
    assert_eq!(run(&mut cmd).success().stdout().trim(), "42");
    assert!(!c.store.exists(), "no store is created");
}

/// A stand-in `cargo-gocache` at `dir/name` running the shell `script`.
fn fake_binary(dir: &Path, script: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("fake-cargo-gocache");
    fs::write(&path, format!("#!/bin/sh\n{script}\n")).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// Version handshake: a binary that speaks another helper protocol
/// (answers `hello` with an error) gets one warning line, and the library
/// is compiled by plain cc: the build works.
#[test]
fn helper_under_a_binary_of_another_helper_protocol_warns_once_and_builds_plain() {
    let c = skew_crate("otherproto");
    let fake = fake_binary(
        c.root.parent().unwrap(),
        "read hello; echo 'err helper protocol 999'",
    );
    let r = run(c.cargo(&["build"]).env("CARGO_GOCACHE_PROG", &fake)).success();
    let warnings = gocache_warnings(&r);
    assert_eq!(warnings.len(), 1, "one line:\n{r}");
    assert!(
        warnings[0].contains("another helper protocol")
            && warnings[0].contains("err helper protocol 999")
            && warnings[0].contains("compiling without the cache"),
        "{}",
        warnings[0]
    );
    let out = run(c.cargo(&["run", "-q"]).env("CARGO_GOCACHE_PROG", &fake)).success();
    assert_eq!(out.stdout().trim(), "42");
}

/// A server that dies after answering `miss` (before the helper reports
/// the compile): one warning, and the archive cc made stands, uncached.
#[test]
fn helper_server_gone_after_the_compile_leaves_cc_archive_with_one_warning() {
    let c = skew_crate("gone");
    let fake = fake_binary(
        c.root.parent().unwrap(),
        // Alive a moment, so the request is written before it exits.
        "read hello; echo ok; echo 'miss 0'; sleep 2",
    );
    let r = run(c
        .cargo(&["build", "--message-format=json"])
        .env("CARGO_GOCACHE_PROG", &fake))
    .success();
    let warnings = gocache_warnings(&r);
    assert_eq!(warnings.len(), 1, "one line:\n{r}");
    assert!(warnings[0].contains("not cached"), "{}", warnings[0]);
    let lib = out_dir(&r, "gone").join("libgone.a");
    assert!(!members(&lib).contains(&"__.GOCACHE_ID".to_string()));
    let out = run(c.cargo(&["run", "-q"]).env("CARGO_GOCACHE_PROG", &fake)).success();
    assert_eq!(out.stdout().trim(), "42");
}

/// Go's reason for build IDs: deleting a source leaves every remaining file
/// older than the archive, yet the archive is stale.
#[test]
fn removed_source_changes_the_build_id_and_restoring_it_hits_the_store() {
    let c = seed_crate("seed");
    let out = c.build();
    let lib = out.join("libseed.a");
    let id1 = c.build_id(&lib);
    assert_eq!(c.stats(), (0, 1), "first build compiles");
    let m = members(&lib);
    assert_eq!(m.len(), 4, "{m:?}");
    assert_eq!(m[0], "__.GOCACHE_ID");
    assert!(m.iter().any(|n| n.ends_with("-c.o")), "{m:?}");

    // Delete c.c and nothing else.
    fs::remove_file(c.root.join("src/c.c")).unwrap();
    assert_eq!(c.run().trim(), "42", "the binary runs");
    let m = members(&lib);
    assert_eq!(m.len(), 3, "rebuilt without c.o: {m:?}");
    assert!(!m.iter().any(|n| n.ends_with("-c.o")), "{m:?}");
    let id2 = c.build_id(&lib);
    assert_ne!(id2, id1);
    let verbose = c
        .gocache(&["buildid", "--verbose", lib.to_str().unwrap()])
        .success()
        .stdout();
    let lines: Vec<&str> = verbose.lines().collect();
    assert_eq!(lines.len(), 3, "the ID and two sources:\n{verbose}");
    assert_eq!(lines[0], id2);
    assert!(lines[1].trim().ends_with("src/a.c"), "{verbose}");
    assert!(lines[2].trim().ends_with("src/b.c"), "{verbose}");
    assert!(
        !verbose.contains(c.root.to_str().unwrap()),
        "sources are recorded path-independently:\n{verbose}"
    );
    assert_eq!(c.stats(), (0, 2));

    // Restore it: the first ID again, placed from the store, no compile.
    fs::write(c.root.join("src/c.c"), C_C).unwrap();
    c.build();
    assert_eq!(c.build_id(&lib), id1);
    assert_eq!(c.stats(), (1, 2), "served from the store");
    assert_eq!(members(&lib).len(), 4);
}

/// The seed's scenario one step on (issue 21), with no rerun line of the
/// build script's own: it globs `csrc/` and leaves the rerun lines to the
/// helper, which also names the directory its sources are in. Removing a
/// source rebuilds without it (a new build ID, the source gone from the
/// archive); putting it back reruns the build script too (before, only the
/// two remaining files were watched: nothing reran and the archive kept the
/// two-source ID), and brings the first archive and ID back from the store
/// without a compile. A source added to the directory is seen as well.
#[test]
fn removed_source_put_back_brings_the_first_build_id_back_without_a_rerun_line_of_its_own() {
    const BUILD_RS: &str = r#"
use gocache_build::CachedBuild;

fn main() {
    let mut files: Vec<_> = std::fs::read_dir("csrc")
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "c"))
        .collect();
    files.sort();
    cc::Build::new().files(files).cached_compile("seed");
}
"#;
    let c = Crate::new(
        "seedback",
        BUILD_RS,
        SEED_MAIN,
        &[
            ("csrc/a.c", "int f_a(void) { return 40; }\n"),
            ("csrc/b.c", "int f_b(void) { return 2; }\n"),
            ("csrc/c.c", C_C),
        ],
    );
    let lib = c.build().join("libseed.a");
    let id1 = c.build_id(&lib);
    assert_eq!(c.stats(), (0, 1), "first build compiles");
    assert_eq!(members(&lib).len(), 4);
    c.build();
    assert_eq!(
        c.stats(),
        (0, 1),
        "nothing changed: the build script did not rerun"
    );

    fs::remove_file(c.root.join("csrc/c.c")).unwrap();
    assert_eq!(c.run().trim(), "42");
    let id2 = c.build_id(&lib);
    assert_ne!(id2, id1);
    let m = members(&lib);
    assert_eq!(m.len(), 3, "rebuilt without c.o: {m:?}");
    let verbose = c
        .gocache(&["buildid", "--verbose", lib.to_str().unwrap()])
        .success()
        .stdout();
    assert!(!verbose.contains("c.c"), "{verbose}");
    assert_eq!(verbose.lines().count(), 3, "{verbose}");
    assert_eq!(c.stats(), (0, 2));

    fs::write(c.root.join("csrc/c.c"), C_C).unwrap();
    c.build();
    assert_eq!(
        c.build_id(&lib),
        id1,
        "c.c put back: the archive kept the two-source ID"
    );
    assert_eq!(c.stats(), (1, 2), "served from the store, no compile");
    assert_eq!(members(&lib).len(), 4);

    fs::write(c.root.join("csrc/d.c"), "int f_d(void) { return 7; }\n").unwrap();
    c.build();
    assert_eq!(members(&lib).len(), 5, "a source added to the directory");
    assert_eq!(c.stats(), (1, 3));
}

/// A rerun of the build script after `touch` on every file compiles
/// nothing and leaves the archive as it is: the build ID decides, not mtimes.
#[test]
fn touched_but_unchanged_inputs_compile_nothing() {
    let c = seed_crate("touched");
    let lib = c.build().join("libseed.a");
    let before = fs::metadata(&lib).unwrap().modified().unwrap();
    let bytes = fs::read(&lib).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    for f in [
        "build.rs",
        "src/a.c",
        "src/b.c",
        "src/c.c",
        "include/seed.h",
        "src/main.rs",
    ] {
        let file = fs::File::options()
            .append(true)
            .open(c.root.join(f))
            .unwrap();
        file.set_modified(std::time::SystemTime::now()).unwrap();
    }
    c.build();
    assert_eq!(
        c.stats(),
        (1, 1),
        "the build script ran and found its archive current"
    );
    assert_eq!(
        fs::metadata(&lib).unwrap().modified().unwrap(),
        before,
        "not rewritten"
    );
    assert_eq!(fs::read(&lib).unwrap(), bytes);

    // A header edit is a change: it recompiles.
    fs::write(c.root.join("include/seed.h"), "#define SEED 41\n").unwrap();
    assert_eq!(c.run().trim(), "43");
    assert_eq!(c.stats(), (1, 2));
}

/// The stamped archive links into a Rust binary, and GNU tools read it:
/// `ar t` lists the member, `nm` the symbols, `ld --whole-archive` (what
/// rustc passes for `+whole-archive`) accepts the build ID member.
#[test]
fn archive_with_build_id_links_and_binutils_read_it() {
    let c = seed_crate("linked");
    let out = c.build();
    let lib = out.join("libseed.a");
    assert_eq!(c.run().trim(), "42");
    let nm = tool(&["nm", lib.to_str().unwrap()], &out);
    for sym in ["T f_a", "T f_b", "T f_c"] {
        assert!(nm.contains(sym), "{nm}");
    }
    let scratch = tempfile::tempdir().unwrap();
    tool(
        &[
            "ld",
            "-r",
            "-o",
            "all.o",
            "--whole-archive",
            lib.to_str().unwrap(),
        ],
        scratch.path(),
    );
    let all = tool(&["nm", "all.o"], scratch.path());
    assert!(all.contains("T f_c"), "{all}");
}

/// `CARGO_GOCACHE_DIR=off`: the helper is cc's `compile`, nothing more.
#[test]
fn cache_off_is_plain_cc() {
    let c = seed_crate("off");
    let mut cmd = c.cargo(&["build", "--message-format=json"]);
    cmd.env("CARGO_GOCACHE_DIR", "off");
    let out = out_dir(&run(&mut cmd).success(), "off");
    let lib = out.join("libseed.a");
    assert!(!members(&lib).contains(&"__.GOCACHE_ID".to_string()));
    let r = c.gocache(&["buildid", lib.to_str().unwrap()]);
    assert!(!r.status.success());
    r.stderr_contains("no build ID");
    assert_eq!(r.stderr().lines().count(), 1, "one line: {}", r.stderr());
    assert!(!c.store.exists(), "no store is created");
}

/// `buildid` on a file that is not an archive: one line, non-zero exit.
#[test]
fn buildid_of_a_non_archive_is_a_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("notes.txt");
    fs::write(&f, "not an archive").unwrap();
    let r = run(gocache(&dir.path().join("store")).args(["buildid", f.to_str().unwrap()]));
    assert_eq!(r.status.code(), Some(1));
    r.stderr_contains("not an ar archive");
    assert_eq!(r.stderr().lines().count(), 1, "{}", r.stderr());
}

/// Archives cc makes through the `ar` wrapper carry build IDs too (over
/// their member objects), link, and stay deterministic.
#[test]
fn ar_wrapper_stamps_archives_of_plain_cc() {
    let c = Crate::new(
        "plainar",
        "fn main() { cc::Build::new().file(\"src/a.c\").file(\"src/b.c\").compile(\"plain\"); }\n",
        SEED_MAIN,
        &[
            ("src/a.c", "int f_a(void) { return 40; }\n"),
            ("src/b.c", "int f_b(void) { return 2; }\n"),
        ],
    );
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_cargo-gocache"));
    let with_ar = |args: &[&str]| {
        let mut cmd = c.cargo(args);
        for (k, v) in cargo_gocache::ar::ar_env(&bin) {
            cmd.env(k, v);
        }
        cmd
    };
    let out = out_dir(
        &run(&mut with_ar(&["build", "--message-format=json"])).success(),
        "plainar",
    );
    let lib = out.join("libplain.a");
    let verbose = c
        .gocache(&["buildid", "-v", lib.to_str().unwrap()])
        .success()
        .stdout();
    let lines: Vec<&str> = verbose.lines().collect();
    assert_eq!(lines.len(), 3, "{verbose}");
    assert!(
        lines[1].trim().ends_with("-a.o") && lines[2].trim().ends_with("-b.o"),
        "{verbose}"
    );
    let first = fs::read(&lib).unwrap();
    assert_eq!(
        run(&mut with_ar(&["run", "-q"])).success().stdout().trim(),
        "42"
    );

    // Rebuild from scratch: the same bytes.
    fs::write(
        c.root.join("build.rs"),
        format!("{}\n", fs::read_to_string(c.root.join("build.rs")).unwrap()),
    )
    .unwrap();
    run(&mut with_ar(&["build"])).success();
    assert_eq!(fs::read(&lib).unwrap(), first, "deterministic");
}

/// The example crate's own tests pass with the helper, and a second, fresh
/// build of it (another checkout, same store) compiles nothing.
#[test]
fn example_helper_lib_tests_pass_and_a_second_checkout_hits() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let stats = || {
        let out = run(gocache(&store).args(["stats", "--json"]))
            .success()
            .stdout();
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        (v["hits"].as_u64().unwrap(), v["misses"].as_u64().unwrap())
    };
    for (i, checkout) in ["one", "two"].iter().enumerate() {
        // The example names the helper by `../../build-support`, which
        // inherits settings from the workspace: copy the whole checkout.
        copy_tree(&workspace(), &dir.path().join(checkout));
        let root = dir.path().join(checkout).join("examples/helper-lib");
        run(cargo()
            .args(["test", "-q"])
            .current_dir(&root)
            .env("CARGO_TARGET_DIR", shared_target())
            .env("CARGO_GOCACHE_DIR", &store))
        .success();
        let want = if i == 0 { (0, 2) } else { (2, 2) };
        assert_eq!(stats(), want, "after checkout {checkout}");
    }
}

/// The helper printed `rerun-if-changed` for every header, a header it
/// generates into `OUT_DIR` on every run too, so cargo reran the build
/// script on every build: a build with nothing changed must run none.
#[test]
fn helper_header_generated_into_out_dir_causes_no_rerun() {
    let c = Crate::new(
        "genhdr",
        r##"
use gocache_build::CachedBuild;

fn main() {
    let out = std::env::var("OUT_DIR").unwrap();
    std::fs::write(format!("{out}/gen.h"), "#define GEN 7\n").unwrap();
    cc::Build::new().file("src/a.c").include(&out).cached_compile("genhdr");
}
"##,
        "extern \"C\" { fn f_a() -> i32; }\nfn main() { println!(\"{}\", unsafe { f_a() }); }\n",
        &[(
            "src/a.c",
            "#include \"gen.h\"\nint f_a(void) { return GEN; }\n",
        )],
    );
    let ran = |r: &Run| {
        r.stderr().lines().any(|l| {
            l.contains("Running `")
                && l.contains("/build/genhdr-")
                && l.contains("/build-script-build`")
        })
    };
    let first = run(&mut c.cargo(&["build", "-v"])).success();
    assert!(ran(&first), "{}", first.stderr());
    let second = run(&mut c.cargo(&["build", "-v"])).success();
    assert!(!ran(&second), "nothing changed, yet: {}", second.stderr());
    assert_eq!(c.run().trim(), "7");
}
