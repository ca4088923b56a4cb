//! End to end: real cargo, real gcc, real `-sys` crates from crates.io
//! (`examples/mixed-sys`), each test with its own store and the user's
//! `CARGO_HOME` (so crates are not downloaded again).
//!
//! The promise under test: after a cold build, a build with nothing left in
//! `target/` compiles no C at all (every cacheable compile hits) and ends
//! with archives byte-identical to the cold build's, whether it is the same
//! target directory after `cargo clean`, another target directory, another
//! user's `CARGO_HOME` (registry sources unpacked elsewhere), or a copy of
//! the workspace at another path.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::{archives, cargo, copy_tree, example, gocache, run, Run};

/// `cargo gocache <args>` in `ws` with `target` as the target directory.
#[track_caller]
fn cargo_gocache(store: &Path, ws: &Path, target: &Path, args: &[&str]) -> Run {
    let mut cmd = gocache(store);
    cmd.arg("gocache")
        .args(args)
        .current_dir(ws)
        .env("CARGO_TARGET_DIR", target);
    run(&mut cmd).success()
}

/// The counters since the last call (`stats --json --zero`).
#[track_caller]
pub(crate) fn take_stats(store: &Path) -> Value {
    let r = run(gocache(store).args(["gocache", "stats", "--json", "--zero"])).success();
    serde_json::from_str(&r.stdout()).unwrap_or_else(|e| panic!("bad JSON ({e}): {}", r.stdout()))
}

pub(crate) fn count(v: &Value, field: &str) -> u64 {
    v[field]
        .as_u64()
        .unwrap_or_else(|| panic!("no {field} in {v}"))
}

/// Every compile that the cold build cached is a hit now, nothing missed,
/// nothing failed, and the summary line says so.
#[track_caller]
fn assert_all_hit(stage: &str, cold: &Value, now: &Value, build: &Run) {
    let cacheable = count(cold, "hits") + count(cold, "misses");
    assert_eq!(count(now, "misses"), 0, "{stage}: misses\n{now}");
    assert_eq!(count(now, "errors"), 0, "{stage}: errors\n{now}");
    assert_eq!(count(now, "hits"), cacheable, "{stage}: hits\n{now}");
    assert_eq!(
        now["uncacheable"], cold["uncacheable"],
        "{stage}: uncacheable"
    );
    build.stderr_contains(&format!("gocache: {cacheable} hits, 0 misses"));
}

#[track_caller]
pub(crate) fn assert_same_archives(stage: &str, cold: &BTreeMap<String, Vec<u8>>, target: &Path) {
    let now = archives(target);
    assert_eq!(
        now.keys().collect::<Vec<_>>(),
        cold.keys().collect::<Vec<_>>(),
        "{stage}: the archives built differ"
    );
    for (name, bytes) in cold {
        assert!(
            now[name] == *bytes,
            "{stage}: {name} differs from the cold build's ({} vs {} bytes)",
            now[name].len(),
            bytes.len()
        );
    }
}

/// No archive may name a directory of this machine: the temp dir holding
/// the checkouts and target dirs, or the cargo home holding the registry
/// sources (debug info, `__FILE__` and STT_FILE are relocated).
#[track_caller]
fn assert_no_machine_paths(stage: &str, archives: &BTreeMap<String, Vec<u8>>, dirs: &[&Path]) {
    for (name, bytes) in archives {
        for dir in dirs {
            let needle = dir.to_str().unwrap().as_bytes();
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "{stage}: {name} names {}",
                dir.display()
            );
        }
    }
}

fn cargo_home() -> PathBuf {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cargo"))
}

/// A cargo home at `home` holding what building with `lock` offline needs:
/// the registry index cache and the `.crate` files of the locked packages,
/// copied from the user's. Cargo unpacks the sources there itself.
fn other_cargo_home(home: &Path, lock: &Path) {
    let user = cargo_home().join("registry");
    copy_tree(&user.join("index"), &home.join("registry").join("index"));
    let lock = fs::read_to_string(lock).unwrap();
    let mut copied = 0;
    for package in lock.split("[[package]]").skip(1) {
        let field = |name: &str| {
            package.lines().find_map(|l| {
                l.strip_prefix(name)
                    .and_then(|r| r.trim().strip_prefix('='))
                    .map(|v| v.trim().trim_matches('"').to_string())
            })
        };
        let (Some(name), Some(version), Some(source)) =
            (field("name"), field("version"), field("source"))
        else {
            continue;
        };
        if !source.starts_with("registry+") {
            continue;
        }
        for registry in fs::read_dir(user.join("cache")).unwrap().flatten() {
            let file = registry.path().join(format!("{name}-{version}.crate"));
            if file.is_file() {
                let dest = home
                    .join("registry")
                    .join("cache")
                    .join(registry.file_name());
                fs::create_dir_all(&dest).unwrap();
                fs::copy(&file, dest.join(file.file_name().unwrap())).unwrap();
                copied += 1;
            }
        }
    }
    assert!(copied > 0, "no .crate files found under {}", user.display());
}

/// One cold build serves every warm case, to keep the suite to a few
/// minutes on two cores (debug profile).
#[test]
fn warm_builds_hit_every_compile_and_rebuild_identical_archives() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let ws = tmp.path().join("one").join("mixed-sys");
    copy_tree(&example("mixed-sys"), &ws);
    let target = ws.join("target");

    let build = cargo_gocache(&store, &ws, &target, &["build", "--locked"]);
    let cold = take_stats(&store);
    assert!(
        count(&cold, "misses") > 0,
        "the cold build cached nothing\n{cold}"
    );
    assert_eq!(count(&cold, "errors"), 0, "{cold}");
    build.stderr_contains("gocache: ");
    let cold_archives = archives(&target);
    assert_no_machine_paths("cold", &cold_archives, &[tmp.path(), &cargo_home()]);
    for lib in [
        "libzstd.a",
        "libsqlite3.a",
        "libmixed_c.a",
        "libmixed_cpp.a",
    ] {
        assert!(
            cold_archives.keys().any(|k| k.ends_with(lib)),
            "no {lib} in {:?}",
            cold_archives.keys()
        );
    }

    // Under `cargo gocache`, every archive cc made carries a build ID (the
    // archiver runs through the `gocache-ar` wrapper).
    for (lib, bytes) in &cold_archives {
        let path = tmp.path().join("archive-under-test.a");
        fs::write(&path, bytes).unwrap();
        let r = run(gocache(&store).args(["gocache", "buildid"]).arg(&path)).success();
        assert!(
            !r.stdout().trim().is_empty(),
            "no build ID printed for {lib}"
        );
    }

    // The same target directory after `cargo clean`.
    run(cargo()
        .arg("clean")
        .current_dir(&ws)
        .env("CARGO_TARGET_DIR", &target))
    .success();
    let build = cargo_gocache(&store, &ws, &target, &["build", "--locked"]);
    assert_all_hit("after cargo clean", &cold, &take_stats(&store), &build);
    assert_same_archives("after cargo clean", &cold_archives, &target);

    // Another target directory.
    let target2 = tmp.path().join("target2");
    let build = cargo_gocache(&store, &ws, &target2, &["build", "--locked"]);
    assert_all_hit("second target dir", &cold, &take_stats(&store), &build);
    assert_same_archives("second target dir", &cold_archives, &target2);

    // Another user's CARGO_HOME: the same crates unpacked under another
    // home (from the index and .crate files already downloaded, offline).
    let home2 = tmp.path().join("other-user").join(".cargo");
    other_cargo_home(&home2, &ws.join("Cargo.lock"));
    let target4 = tmp.path().join("target4");
    let mut cmd = gocache(&store);
    cmd.args(["gocache", "build", "--locked", "--offline"])
        .current_dir(&ws)
        .env("CARGO_TARGET_DIR", &target4)
        .env("CARGO_HOME", &home2);
    let build = run(&mut cmd).success();
    assert_all_hit("another CARGO_HOME", &cold, &take_stats(&store), &build);
    assert_same_archives("another CARGO_HOME", &cold_archives, &target4);
    assert!(
        home2.join("registry").join("src").is_dir(),
        "cargo did not unpack the crates under the other home"
    );

    // A copy of the workspace at another path (another depth, too), built
    // and tested: the example's test calls into every cached library.
    let ws3 = tmp
        .path()
        .join("elsewhere")
        .join("deeper")
        .join("mixed-sys");
    copy_tree(&example("mixed-sys"), &ws3);
    let target3 = ws3.join("target");
    let build = cargo_gocache(&store, &ws3, &target3, &["test", "--locked"]);
    assert_all_hit("copy at another path", &cold, &take_stats(&store), &build);
    assert_same_archives("copy at another path", &cold_archives, &target3);
    assert!(
        build.stdout().contains("test result: ok. 3 passed"),
        "the example's tests did not pass:\n{}",
        build.stdout()
    );
}

/// A compiler the user chose (`CC`) stays the compiler, wrapped: its
/// compiles run under cargo-gocache, are cached, and a hit runs no compile.
#[test]
fn user_cc_stays_the_compiler_wrapped() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let ws = tmp.path().join("usercc");
    crate::support::build_dep_crate(&ws, "usercc", "cc");
    fs::write(
        ws.join("build.rs"),
        "fn main() { cc::Build::new().file(\"src/hello.c\").compile(\"hello\"); }\n",
    )
    .unwrap();
    fs::write(ws.join("src/hello.c"), "int hello(void) { return 42; }\n").unwrap();
    fs::write(
        ws.join("src/lib.rs"),
        "extern \"C\" { fn hello() -> i32; }\npub fn h() -> i32 { unsafe { hello() } }\n",
    )
    .unwrap();

    let marker = tmp.path().join("mycc.log");
    let mycc = tmp.path().join("mycc");
    fs::write(
        &mycc,
        format!(
            "#!/bin/sh\n# Records each compile with the name of the process that ran it.\n\
             case \" $* \" in *\" -c \"*) echo \"$(cat /proc/$PPID/comm) $*\" >> '{}';; esac\n\
             exec gcc \"$@\"\n",
            marker.display()
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&mycc, fs::Permissions::from_mode(0o755)).unwrap();
    }

    let target = ws.join("target");
    let build = |store: &Path| {
        let mut cmd = gocache(store);
        cmd.args(["gocache", "build"])
            .current_dir(&ws)
            .env("CARGO_TARGET_DIR", &target)
            .env("CC", &mycc);
        run(&mut cmd).success()
    };
    build(&store);
    let compiles = fs::read_to_string(&marker).expect("the user's CC was never run");
    // cc's own flag probes (`flag_check.c`) run the compiler directly; the
    // crate's sources must go through the wrapper.
    let lines: Vec<&str> = compiles.lines().filter(|l| l.contains("hello.c")).collect();
    assert!(
        !lines.is_empty(),
        "hello.c never compiled by the user's CC:\n{compiles}"
    );
    for line in &lines {
        assert!(
            line.starts_with("cargo-gocache "),
            "a compile not run by the wrapper: {line}"
        );
    }
    let first = take_stats(&store);
    assert_eq!(count(&first, "misses"), 1, "{first}");

    run(cargo()
        .arg("clean")
        .current_dir(&ws)
        .env("CARGO_TARGET_DIR", &target))
    .success();
    build(&store);
    let second = take_stats(&store);
    assert_eq!(count(&second, "hits"), 1, "{second}");
    assert_eq!(count(&second, "misses"), 0, "{second}");
    assert_eq!(
        fs::read_to_string(&marker)
            .unwrap()
            .lines()
            .filter(|l| l.contains("hello.c"))
            .count(),
        lines.len(),
        "a hit ran the compiler"
    );
}
