//! The build.rs helper's key is the wrapper's: through real cargo and gcc,
//! a `-D` value naming the checkout is hashed as it is (never path-mapped),
//! the options the wrapper refuses are refused, and the environment list is
//! the wrapper's. Crates share one target directory (as in `buildid`), each
//! test has its own store.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{cargo, copy_tree, gocache, run};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .unwrap()
}

fn shared_target() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("helper-key-crates")
}

#[track_caller]
fn need_gcc() {
    crate::support::require_tool("gcc");
}

/// Write crate `name` at `root`: the helper and cc as build-dependencies,
/// the workspace's lock file.
fn write_crate(root: &Path, name: &str, build_rs: &str, main_rs: &str, files: &[(&str, &str)]) {
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
        fs::write(root.join(path), text).unwrap();
    }
}

fn cargo_in(root: &Path, store: &Path, args: &[&str]) -> Command {
    let mut cmd = cargo();
    cmd.args(args)
        .current_dir(root)
        .env("CARGO_TARGET_DIR", shared_target())
        .env("CARGO_GOCACHE_DIR", store);
    for k in cargo_gocache::cmdline::KEY_ENV {
        cmd.env_remove(k);
    }
    cmd
}

fn stats(store: &Path) -> serde_json::Value {
    let out = run(gocache(store).args(["stats", "--json"]))
        .success()
        .stdout();
    serde_json::from_str(&out).unwrap()
}

fn hits_misses(store: &Path) -> (u64, u64) {
    let v = stats(store);
    (v["hits"].as_u64().unwrap(), v["misses"].as_u64().unwrap())
}

const DIR_BUILD_RS: &str = r#"
use gocache_build::CachedBuild;

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap();
    cc::Build::new()
        .file("src/d.c")
        .define("DIR", format!("\"{dir}/data\"").as_str())
        .cached_compile("d");
}
"#;

const DIR_MAIN_RS: &str = r#"
extern "C" {
    fn gocache_dir() -> *const std::os::raw::c_char;
}

fn main() {
    let s = unsafe { std::ffi::CStr::from_ptr(gocache_dir()) };
    println!("{}", s.to_str().unwrap());
}
"#;

/// Issue 10's reproduction: `.define("DIR", "\"<CARGO_MANIFEST_DIR>/data\"")`
/// built in checkout `a`, copied to `b` and built there with the same
/// store: `b`'s binary must print `b/data` (the helper used to map the
/// checkout out of the `-D` value and serve `a`'s object).
#[test]
fn define_naming_the_checkout_is_not_served_to_another_checkout() {
    need_gcc();
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let a = dir.path().join("a");
    write_crate(
        &a,
        "dirdefine",
        DIR_BUILD_RS,
        DIR_MAIN_RS,
        &[("src/d.c", "const char *gocache_dir(void) { return DIR; }\n")],
    );
    let printed = |root: &Path| {
        run(&mut cargo_in(root, &store, &["run", "-q"]))
            .success()
            .stdout()
            .trim()
            .to_string()
    };
    assert_eq!(printed(&a), format!("{}/data", a.display()));
    assert_eq!(hits_misses(&store), (0, 1));
    let b = dir.path().join("b");
    copy_tree(&a, &b);
    assert_eq!(printed(&b), format!("{}/data", b.display()));
    // b compiled its own: a miss.
    assert_eq!(hits_misses(&store), (0, 2));
}

/// Options the wrapper refuses, given through `.flag()`: the helper
/// compiles without the cache (cc's plain compile), counted with the
/// wrapper's reason.
#[test]
fn options_the_wrapper_refuses_make_the_helper_compile_uncached() {
    need_gcc();
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let root = dir.path().join("refuse");
    // The compiles themselves may fail (no such plugin): the build script
    // only tries, so the test sees what the helper decided.
    let build_rs = r#"
use gocache_build::CachedBuild;

fn main() {
    for (lib, flag) in [
        ("p1", "-fprofile-use=prof.gcda"),
        ("p2", "-B/nonexistent/"),
        ("p3", "-fplugin=./no-such-plugin.so"),
    ] {
        let r = cc::Build::new()
            .file("src/p.c")
            .flag(flag)
            .cargo_warnings(false)
            .try_cached_compile(lib);
        println!("cargo:warning={lib}: {}", if r.is_ok() { "ok" } else { "failed" });
    }
    // Refused by the helper's own check (cc's settings, before the server
    // is asked to look anything up), counted by the server all the same.
    let out = std::env::var("OUT_DIR").unwrap();
    let r = cc::Build::new()
        .file("src/p.c")
        .out_dir(format!("{out}/custom"))
        .cargo_warnings(false)
        .try_cached_compile("p4");
    println!("cargo:warning=p4: {}", if r.is_ok() { "ok" } else { "failed" });
}
"#;
    write_crate(
        &root,
        "refuse",
        build_rs,
        "fn main() {}\n",
        &[("src/p.c", "int p(void) { return 1; }\n")],
    );
    run(&mut cargo_in(&root, &store, &["build"])).success();
    let v = stats(&store);
    assert_eq!(
        (v["hits"].as_u64(), v["misses"].as_u64()),
        (Some(0), Some(0)),
        "{v}"
    );
    let unc = &v["uncacheable"];
    for reason in [
        "unsupported-option:-fprofile-use=prof.gcda",
        "unsupported-option:-B",
        "unsupported-option:-fplugin=./no-such-plugin.so",
        "custom-out-dir",
    ] {
        assert_eq!(unc[reason].as_u64(), Some(1), "{reason} not counted: {v}");
    }
}

/// The prefix gcc finds its programs under (`/usr/lib/gcc/` on Debian).
fn gcc_exec_prefix() -> String {
    let out = Command::new("gcc")
        .arg("-print-prog-name=cc1")
        .output()
        .unwrap();
    let cc1 = String::from_utf8(out.stdout).unwrap();
    let at = cc1.find("/gcc/").expect("cc1 under a gcc/ directory");
    cc1[..at + 5].to_string()
}

/// Every variable of the wrapper's list ([`cargo_gocache::cmdline::KEY_ENV`])
/// changes the helper's key too: set one at a time, each build misses.
#[test]
fn helper_hashes_the_wrapper_environment_list() {
    need_gcc();
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let root = dir.path().join("envlist");
    let build_rs = r#"
use gocache_build::CachedBuild;

fn main() {
    cc::Build::new().file("src/e.c").cached_compile("e");
}
"#;
    write_crate(
        &root,
        "envlist",
        build_rs,
        "fn main() {}\n",
        &[("src/e.c", "int e(void) { return 1; }\n")],
    );
    run(&mut cargo_in(&root, &store, &["build"])).success();
    assert_eq!(hits_misses(&store), (0, 1));
    let empty = dir.path().join("empty");
    fs::create_dir_all(&empty).unwrap();
    for (i, name) in cargo_gocache::cmdline::KEY_ENV.iter().enumerate() {
        // A value that leaves gcc working: a directory with nothing in it,
        // a locale every system has, compare-debug off.
        let value = match *name {
            "LANG" | "LC_ALL" | "LC_CTYPE" | "LC_MESSAGES" => "C".to_string(),
            "GCC_COMPARE_DEBUG" => "0".to_string(),
            "SOURCE_DATE_EPOCH" => "1".to_string(),
            // gcc's own prefix, which gcc finds cc1 under either way.
            "GCC_EXEC_PREFIX" => gcc_exec_prefix(),
            _ => empty.display().to_string(),
        };
        let mut cmd = cargo_in(&root, &store, &["build"]);
        cmd.env(name, &value);
        run(&mut cmd).success();
        assert_eq!(
            hits_misses(&store),
            (0, i as u64 + 2),
            "{name}={value} did not change the helper's key"
        );
    }
}

/// Issue 22 through the helper (one key per library): a build script
/// passes `-DDATADIR="<OUT_DIR>/x"` to two libraries, one of whose sources
/// prints it (the other has three sources, none using it: each source's
/// preprocessing is asked). In a second checkout the other library hits, the printing
/// one misses, and the binary prints the second checkout's path.
#[test]
fn a_define_naming_the_checkout_misses_only_the_library_that_uses_it() {
    need_gcc();
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let a = dir.path().join("a");
    let build_rs = r#"
use gocache_build::CachedBuild;

fn main() {
    let out = std::env::var("OUT_DIR").unwrap();
    let define = format!("\"{out}/x\"");
    let libs: [(&str, &[&str]); 2] = [
        ("ddprint", &["src/print.c"]),
        ("ddother", &["src/other.c", "src/other2.c", "src/other3.c"]),
    ];
    for (lib, srcs) in libs {
        cc::Build::new()
            .files(srcs)
            .define("DATADIR", define.as_str())
            .cached_compile(lib);
    }
}
"#;
    let main_rs = r#"
extern "C" {
    fn datadir() -> *const std::os::raw::c_char;
    fn other() -> i32;
}

fn main() {
    let s = unsafe { std::ffi::CStr::from_ptr(datadir()) };
    println!("{} {}", s.to_str().unwrap(), unsafe { other() });
}
"#;
    write_crate(
        &a,
        "helperdatadir",
        build_rs,
        main_rs,
        &[
            (
                "src/print.c",
                "const char *datadir(void) { return DATADIR; }\n",
            ),
            ("src/other.c", "int other(void) { return 42; }\n"),
            ("src/other2.c", "int other2(void) { return 2; }\n"),
            ("src/other3.c", "int other3(void) { return 3; }\n"),
        ],
    );
    // Each checkout its own target directory: the helper's archives are
    // found in OUT_DIR, which names it.
    let printed = |root: &Path| {
        let mut cmd = cargo_in(root, &store, &["run", "-q"]);
        cmd.env("CARGO_TARGET_DIR", root.join("target"));
        run(&mut cmd).success().stdout().trim().to_string()
    };
    let out = printed(&a);
    assert!(
        out.starts_with(&a.display().to_string()) && out.ends_with("/out/x 42"),
        "{out}"
    );
    assert_eq!(hits_misses(&store), (0, 2));
    let b = dir.path().join("b");
    copy_tree(&a, &b);
    let out = printed(&b);
    assert!(
        out.starts_with(&b.display().to_string()) && out.ends_with("/out/x 42"),
        "the second checkout's binary prints its own path: {out}"
    );
    // ddother hit, ddprint missed.
    assert_eq!(hits_misses(&store), (1, 3));
}
