//! Build systems handed the bare compiler (issue 11: tikv-jemalloc-sys runs
//! `configure` with `CC=<cc's Tool::path()>`) reach the cache through the
//! masquerade links `cargo gocache` puts first on `PATH`
//! (`wrapper::masquerade`), and nothing else is wrapped by them.

use std::fs;
use std::path::{Path, PathBuf};

use crate::e2e::{count, take_stats};
use crate::support::{cargo, gocache, require_tool, run, test_cc};

/// How the build script hands make its compiler.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Handed {
    /// As tikv-jemalloc-sys: cc's compiler *path* (the wrapper dropped),
    /// a bare name.
    Name,
    /// As luajit-src: that name resolved on `PATH` first (its
    /// `which::which`), so make gets the absolute path of the link.
    Path,
    /// As LuaJIT's Makefile for its host tools: `gcc` (its `DEFAULT_CC`),
    /// whatever cc's compiler is.
    Gnu,
}

/// A crate whose build.rs runs make on one C file, handing it a compiler
/// as `handed` says.
fn make_crate(ws: &Path, handed: Handed) {
    crate::support::build_dep_crate(ws, "masq", "cc");
    fs::create_dir_all(ws.join("csrc")).unwrap();
    fs::write(
        ws.join("csrc/Makefile"),
        "libm.a: m.o\n\tar crs $@ $^\n\nm.o: m.c\n\t$(CC) -O2 -c m.c -o m.o\n",
    )
    .unwrap();
    fs::write(
        ws.join("csrc/m.c"),
        "int masq_answer(void) { return 42; }\n",
    )
    .unwrap();
    fs::write(
        ws.join("build.rs"),
        format!("const HANDED: &str = \"{handed:?}\";\n")
            + r#"use std::process::Command;
fn main() {
    let tool = cc::Build::new().get_compiler();
    // The compiler alone, as jemalloc's build.rs passes it to configure.
    assert!(tool.path().components().count() == 1, "{:?}", tool.path());
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("csrc");
    for f in ["Makefile", "m.c"] {
        std::fs::copy(src.join(f), out.join(f)).unwrap();
    }
    let mut cc = tool.path().to_path_buf();
    if HANDED == "Gnu" {
        cc = "gcc".into();
    }
    if HANDED == "Path" {
        let path = std::env::var_os("PATH").unwrap();
        cc = std::env::split_paths(&path)
            .map(|d| d.join(tool.path()))
            .find(|p| p.is_file())
            .unwrap();
    }
    let status = Command::new("make")
        .arg("-C")
        .arg(&out)
        .arg(format!("CC={}", cc.display()))
        .status()
        .unwrap();
    assert!(status.success());
    println!("cargo:rustc-link-search=native={}", out.display());
    println!("cargo:rustc-link-lib=static=m");
}
"#,
    )
    .unwrap();
    fs::write(
        ws.join("src/main.rs"),
        "extern \"C\" { fn masq_answer() -> i32; }\n\
         fn main() { println!(\"{}\", unsafe { masq_answer() }); }\n",
    )
    .unwrap();
}

/// Cold: make's compile is a miss; after `cargo clean`: a hit, and the
/// program still runs. rustc's links (its linker is `cc`, on the same
/// `PATH`) never go through the links: nothing is counted for them.
#[test]
fn a_compiler_handed_to_make_by_name_is_cached_and_links_are_not_wrapped() {
    cached_through_make(Handed::Name);
}

/// The same when the build script hands make the link's absolute path
/// (luajit-src resolves cc's `cc` on `PATH` with `which`, so make ran
/// `<store>/bin/masq/<set>/cc` and all of LuaJIT bypassed the cache).
#[test]
fn a_compiler_resolved_on_path_by_the_build_script_is_cached_from_make() {
    cached_through_make(Handed::Path);
}

/// With no `CC` set (cc's compiler is `cc`), make handed `gcc`, the
/// name make and autoconf fall back to, is cached too: LuaJIT builds its
/// host tools (minilua, buildvm) with `HOST_CC=gcc`.
#[test]
fn gcc_handed_to_make_beside_cc_default_is_cached() {
    require_tool("gcc");
    require_tool("cc");
    cached_through_make(Handed::Gnu);
}

fn cached_through_make(handed: Handed) {
    require_tool("make");
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("masq");
    make_crate(&ws, handed);
    let store = tmp.path().join("store");
    let target = ws.join("target");
    let build = || {
        let mut cmd = gocache(&store);
        cmd.args(["gocache", "build", "--offline"])
            .current_dir(&ws)
            .env("CARGO_TARGET_DIR", &target);
        if handed == Handed::Gnu {
            cmd.env_remove("CC");
        } else {
            cmd.env("CC", test_cc());
        }
        run(&mut cmd).success()
    };
    let program = || run(&mut std::process::Command::new(target.join("debug/masq"))).success();

    build();
    let cold = take_stats(&store);
    assert_eq!(count(&cold, "misses"), 1, "make's m.c\n{cold}");
    assert_eq!(count(&cold, "errors"), 0, "{cold}");
    assert_eq!(
        cold["uncacheable"].as_object().map_or(0, |o| o.len()),
        0,
        "rustc's links (or anything else) went through a masquerade link\n{cold}"
    );
    let log = fs::read_to_string(store.join("stats/last-run.log")).unwrap();
    assert!(log.contains("m.c"), "{log}");
    assert_eq!(program().stdout(), "42\n");

    run(cargo()
        .args(["clean", "--offline"])
        .current_dir(&ws)
        .env("CARGO_TARGET_DIR", &target))
    .success();
    build();
    let warm = take_stats(&store);
    assert_eq!(
        (count(&warm, "hits"), count(&warm, "misses")),
        (1, 0),
        "{warm}"
    );
    assert_eq!(program().stdout(), "42\n");
    // The links are there for the build only: the binary's own PATH lookup
    // of the compiler, outside cargo gocache, is the real compiler.
    let sets: Vec<_> = fs::read_dir(store.join("bin/masq"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(sets.len(), 1, "one set of names: {sets:?}");
    let linked = if handed == Handed::Gnu {
        "gcc"
    } else {
        test_cc()
    };
    assert!(
        fs::symlink_metadata(sets[0].join(linked)).is_ok(),
        "{sets:?}"
    );
}

/// A masquerade link run by its absolute path behind the wrapper (CMake
/// resolves `gcc` on `PATH` to it and runs it behind its launcher) runs the
/// real compiler once, cached; run by name from make, cached; run by path
/// from a process that is not make, ninja or a shell (here the test
/// itself, as CMake runs it for its compiler identification), the real
/// compiler uncounted. The objects are the real compiler's,
/// and nothing loops.
#[test]
fn the_link_run_by_path_behind_the_wrapper_runs_the_real_compiler() {
    require_tool(test_cc());
    let tmp = tempfile::tempdir().unwrap();
    let masq = tmp.path().join("masq");
    fs::create_dir_all(&masq).unwrap();
    std::os::unix::fs::symlink(crate::support::bin(), masq.join(test_cc())).unwrap();
    fs::write(tmp.path().join("a.c"), "int a(void) { return 1; }\n").unwrap();
    let path = std::env::join_paths(
        std::iter::once(masq.clone())
            .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
    )
    .unwrap();
    let store = tmp.path().join("store");
    // As CMake runs it: `<launcher> <absolute compiler> args`.
    run(gocache(&store)
        .arg(masq.join(test_cc()))
        .args(["-c", "a.c", "-o", "a.o"])
        .current_dir(tmp.path())
        .env("PATH", &path)
        .env("CARGO_GOCACHE_MASQUERADE", &masq))
    .success();
    // And as make runs it: found on PATH by name, argv[0] = the name.
    let r = run(crate::support::clean_command(test_cc())
        .args(["-c", "a.c", "-o", "b.o"])
        .current_dir(tmp.path())
        .env("CARGO_GOCACHE_DIR", &store)
        .env("PATH", &path)
        .env("CARGO_GOCACHE_MASQUERADE", &masq))
    .success();
    assert_eq!(r.stderr(), "");
    // Run by its absolute path without the wrapper in front, by neither
    // make nor a shell (CMake's compiler identification, or a user's own
    // launcher): the real compiler, uncounted.
    run(crate::support::clean_command(masq.join(test_cc()))
        .args(["-c", "a.c", "-o", "c.o"])
        .current_dir(tmp.path())
        .env("CARGO_GOCACHE_DIR", &store)
        .env("PATH", &path)
        .env("CARGO_GOCACHE_MASQUERADE", &masq))
    .success();
    // Started through the link with gocache's variables gone but PATH
    // kept (a nested cargo that scrubbed CARGO_*; a saved link path): the
    // real compiler, never gocache's command line.
    for program in [PathBuf::from(test_cc()), masq.join(test_cc())] {
        let r = run(crate::support::clean_command(&program)
            .args(["-c", "a.c", "-o", "d.o"])
            .current_dir(tmp.path())
            .env("CARGO_GOCACHE_DIR", &store)
            .env("PATH", &path)
            .env_remove("CARGO_GOCACHE_MASQUERADE"))
        .success();
        assert_eq!(r.stderr(), "", "{}", program.display());
        assert_eq!(
            fs::read(tmp.path().join("d.o")).unwrap(),
            fs::read(tmp.path().join("a.o")).unwrap()
        );
        fs::remove_file(tmp.path().join("d.o")).unwrap();
    }
    let stats = take_stats(&store);
    assert_eq!(
        (count(&stats, "misses"), count(&stats, "hits")),
        (1, 1),
        "{stats}"
    );
    let a = fs::read(tmp.path().join("a.o")).unwrap();
    assert_eq!(a, fs::read(tmp.path().join("b.o")).unwrap());
    assert_eq!(a, fs::read(tmp.path().join("c.o")).unwrap());
}
