//! Issue 12: under `cargo gocache`, an edit to a header or C source of a
//! path crate's plain `cc::Build` reruns its build script (the wrapper
//! prints `cargo:rerun-if-changed` for what each compile read), and nothing
//! else reruns: not a header generated during the run, not a registry
//! `-sys` crate, not a build with nothing changed. Real cargo, cc and gcc.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use crate::support::{cargo, example, gocache, require_tool, run, Run};

/// A workspace: `app` (a binary printing `knob::value()`) and the path
/// crate `knob`, whose build script is plain cc with two `-I` directories
/// and a header it generates into `OUT_DIR` on every run, plus one it
/// rewrites in the workspace (outside the package) on every run. With
/// `zsys`, `knob` also depends on the registry's `libz-sys` (built from
/// its C sources).
fn workspace(root: &Path, zsys: bool) -> PathBuf {
    let ws = root.join("ws");
    let w = |rel: &str, text: &str| {
        let p = ws.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    };
    w(
        "Cargo.toml",
        "[workspace]\nmembers = [\"app\", \"knob\"]\nresolver = \"2\"\n",
    );
    w(
        "app/Cargo.toml",
        "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
         [dependencies]\nknob = { path = \"../knob\" }\n",
    );
    w(
        "app/src/main.rs",
        "fn main() { println!(\"{}\", knob::value()); }\n",
    );
    let z = if zsys {
        "libz-sys = { version = \"=1.1.33\", default-features = false, features = [\"static\"] }\n"
    } else {
        ""
    };
    w(
        "knob/Cargo.toml",
        &format!(
            "[package]\nname = \"knob\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
             [dependencies]\n{z}\n[build-dependencies]\ncc = \"1\"\n"
        ),
    );
    w(
        "knob/build.rs",
        r##"fn main() {
    let out = std::env::var("OUT_DIR").unwrap();
    // Generated on every run: never a reason to run again.
    std::fs::write(format!("{out}/gen.h"), "#define GEN 100\n").unwrap();
    let ws = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    std::fs::create_dir_all(ws.join("generated")).unwrap();
    std::fs::write(ws.join("generated/fresh.h"), "#define FRESH 1000\n").unwrap();
    cc::Build::new()
        .include("include")
        .include("include two")
        .include(&out)
        .include(ws.join("generated"))
        .file("src/e.c")
        .compile("e");
}
"##,
    );
    w("knob/include/knob.h", "#define KNOB 1\n");
    w("knob/include two/other.h", "#define OTHER 10\n");
    w(
        "knob/src/e.c",
        "#include \"knob.h\"\n#include \"other.h\"\n#include \"gen.h\"\n#include \"fresh.h\"\n\
         int e(void) { return KNOB + OTHER + GEN + FRESH; }\n",
    );
    w(
        "knob/src/lib.rs",
        "extern \"C\" { fn e() -> i32; }\npub fn value() -> i32 { unsafe { e() } }\n",
    );
    // The example's lock pins cc (already in the user's CARGO_HOME).
    fs::copy(
        example("mixed-sys").join("Cargo.lock"),
        ws.join("Cargo.lock"),
    )
    .unwrap();
    ws
}

/// `cargo gocache build -v` (or plain `cargo build -v`), then the value the
/// binary prints.
#[track_caller]
fn build(store: Option<&Path>, ws: &Path, target: &Path) -> (Run, String) {
    let mut cmd = match store {
        Some(store) => {
            let mut c = gocache(store);
            c.arg("gocache");
            c
        }
        None => cargo(),
    };
    cmd.args(["build", "-v"])
        .current_dir(ws)
        .env("CARGO_TARGET_DIR", target);
    let r = run(&mut cmd).success();
    let value = run(&mut std::process::Command::new(target.join("debug/app"))).success();
    (r, value.stdout().trim().to_string())
}

/// The packages whose build script ran (`Running `.../build/<pkg>-<hash>/build-script-build``).
fn build_scripts_run(r: &Run) -> Vec<String> {
    r.stderr()
        .lines()
        .filter(|l| l.trim_start().starts_with("Running `") && l.contains("/build-script-build`"))
        .filter_map(|l| {
            let dir = l.split("/build/").nth(1)?.split('/').next()?;
            Some(dir.rsplit_once('-')?.0.to_string())
        })
        .collect()
}

/// The `rerun-if-changed` paths in `pkg`'s build script output.
fn reported(target: &Path, pkg: &str) -> BTreeSet<String> {
    let build = target.join("debug/build");
    let mut out = BTreeSet::new();
    for e in fs::read_dir(&build).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.rsplit_once('-').is_some_and(|(p, _)| p == pkg) {
            if let Ok(text) = fs::read_to_string(e.path().join("output")) {
                out.extend(
                    text.lines()
                        .filter_map(|l| l.strip_prefix("cargo:rerun-if-changed="))
                        .map(str::to_string),
                );
            }
        }
    }
    out
}

/// Every file under `dir` (relative), for "nothing written into the package".
fn files(dir: &Path) -> BTreeSet<PathBuf> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeSet<PathBuf>) {
        for e in fs::read_dir(dir).unwrap().flatten() {
            if e.file_type().unwrap().is_dir() {
                walk(base, &e.path(), out);
            } else {
                out.insert(e.path().strip_prefix(base).unwrap().to_path_buf());
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(dir, dir, &mut out);
    out
}

/// Change `rel` under `ws` from `from` to `to` (the text must be there).
fn edit(ws: &Path, rel: &str, from: &str, to: &str) {
    let p = ws.join(rel);
    let text = fs::read_to_string(&p).unwrap();
    assert!(text.contains(from), "{rel} lacks {from:?}");
    fs::write(&p, text.replace(from, to)).unwrap();
}

#[test]
fn edits_to_a_path_crates_c_rebuild_it_and_nothing_else_reruns() {
    require_tool("gcc");
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let ws = workspace(tmp.path(), false);
    let target = ws.join("target");
    let package_before = files(&ws.join("knob"));

    let (r, v) = build(Some(&store), &ws, &target);
    assert_eq!(v, "1111");
    assert_eq!(build_scripts_run(&r), ["knob"], "{}", r.stderr());
    let lines = reported(&target, "knob");
    let knob = ws.join("knob");
    for f in ["include/knob.h", "include two/other.h", "src/e.c"] {
        let p = knob.join(f).canonicalize().unwrap();
        assert!(
            lines
                .iter()
                .any(|l| Path::new(l).canonicalize().ok() == Some(p.clone())),
            "{f} not reported: {lines:#?}"
        );
    }
    // Generated during the run: in OUT_DIR, or newer than the run's start.
    assert!(
        !lines
            .iter()
            .any(|l| l.ends_with("gen.h") || l.ends_with("fresh.h")),
        "{lines:#?}"
    );
    // No system headers, nothing from the registry.
    assert!(
        lines.iter().all(|l| Path::new(l).starts_with(&ws)),
        "{lines:#?}"
    );

    let (r, v) = build(Some(&store), &ws, &target);
    assert_eq!(v, "1111");
    assert!(
        build_scripts_run(&r).is_empty(),
        "nothing changed, yet: {}",
        r.stderr()
    );

    for (rel, from, to, want) in [
        ("knob/include/knob.h", "KNOB 1", "KNOB 2", "1112"),
        ("knob/src/e.c", "+ FRESH;", "+ FRESH + 5;", "1117"),
        ("knob/include two/other.h", "OTHER 10", "OTHER 20", "1127"),
    ] {
        edit(&ws, rel, from, to);
        let (r, v) = build(Some(&store), &ws, &target);
        assert_eq!(v, want, "after editing {rel}");
        assert_eq!(build_scripts_run(&r), ["knob"], "{rel}: {}", r.stderr());
        let (r, v) = build(Some(&store), &ws, &target);
        assert_eq!(v, want);
        assert!(
            build_scripts_run(&r).is_empty(),
            "nothing changed after {rel}, yet: {}",
            r.stderr()
        );
    }
    // A hit reports from its stored header list: the same lines.
    let again = ws.join("target-again");
    let (r, v) = build(Some(&store), &ws, &again);
    assert_eq!(v, "1127");
    r.stderr_contains("gocache: 1 hit, 0 misses");
    assert_eq!(reported(&again, "knob"), reported(&target, "knob"));

    // Nothing written into the package by gocache.
    assert_eq!(files(&ws.join("knob")), package_before);

    // Plain cargo of the same tree: cargo's own behaviour, no line of ours.
    let plain = ws.join("target-plain");
    let (_, v) = build(None, &ws, &plain);
    assert_eq!(v, "1127");
    assert!(reported(&plain, "knob").is_empty());
}

/// A registry `-sys` crate (libz-sys, zlib built from source by cc) gets
/// no line from gocache: its build script output is the same as under
/// plain cargo, and a build with nothing changed runs no build script.
#[test]
fn a_registry_sys_crate_is_not_made_to_rerun() {
    require_tool("gcc");
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let ws = workspace(tmp.path(), true);
    let target = ws.join("target");
    let (r, _) = build(Some(&store), &ws, &target);
    let mut ran = build_scripts_run(&r);
    ran.sort();
    assert_eq!(ran, ["knob", "libz-sys"], "{}", r.stderr());
    let (r, _) = build(Some(&store), &ws, &target);
    assert!(build_scripts_run(&r).is_empty(), "{}", r.stderr());

    let plain = ws.join("target-plain");
    build(None, &ws, &plain);
    assert_eq!(reported(&target, "libz-sys"), reported(&plain, "libz-sys"));
}

/// `cmake`: a path crate built by the `cmake` crate, its compiles through
/// the wrapper (`CMAKE_C_COMPILER_LAUNCHER`, which `cargo gocache` sets). Its build
/// script prints no `rerun-if` line, so cargo's default (rerun on any edit
/// of the package) is on, and gocache must print nothing that would narrow
/// it: edits of a header, a source and `CMakeLists.txt` all rebuild, a header
/// generated into `OUT_DIR` causes no rerun, and a build with nothing
/// changed runs no build script.
#[test]
fn a_cmake_path_crate_keeps_cargos_default_and_rebuilds_on_edits() {
    require_tool("gcc");
    require_tool("cmake");
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let ws = tmp.path().join("ws");
    let w = |rel: &str, text: &str| {
        let p = ws.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    };
    w(
        "Cargo.toml",
        "[workspace]\nmembers = [\"app\", \"knob\"]\nresolver = \"2\"\n",
    );
    w(
        "app/Cargo.toml",
        "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
         [dependencies]\nknob = { path = \"../knob\" }\n",
    );
    w(
        "app/src/main.rs",
        "fn main() { println!(\"{}\", knob::value()); }\n",
    );
    w(
        "knob/Cargo.toml",
        "[package]\nname = \"knob\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
         [build-dependencies]\ncmake = \"=0.1.58\"\n",
    );
    w(
        "knob/build.rs",
        r##"fn main() {
    let out = std::env::var("OUT_DIR").unwrap();
    std::fs::create_dir_all(format!("{out}/gen")).unwrap();
    std::fs::write(format!("{out}/gen/gen.h"), "#define GEN 100\n").unwrap();
    let dst = cmake::Config::new(".")
        .define("GEN_DIR", format!("{out}/gen"))
        .build();
    println!("cargo:rustc-link-search=native={}/lib", dst.display());
    println!("cargo:rustc-link-lib=static=e");
}
"##,
    );
    w(
        "knob/CMakeLists.txt",
        "cmake_minimum_required(VERSION 3.10)\nproject(e C)\n\
         include_directories(include \"include two\" ${GEN_DIR})\n\
         add_library(e STATIC src/e.c)\nset(EXTRA 0)\ntarget_compile_definitions(e PRIVATE EXTRA=${EXTRA})\n\
         install(TARGETS e DESTINATION lib)\n",
    );
    w("knob/include/knob.h", "#define KNOB 1\n");
    w("knob/include two/other.h", "#define OTHER 10\n");
    w(
        "knob/src/e.c",
        "#include \"knob.h\"\n#include \"other.h\"\n#include \"gen.h\"\n\
         int e(void) { return KNOB + OTHER + GEN + EXTRA; }\n",
    );
    w(
        "knob/src/lib.rs",
        "extern \"C\" { fn e() -> i32; }\npub fn value() -> i32 { unsafe { e() } }\n",
    );
    fs::copy(
        example("mixed-sys").join("Cargo.lock"),
        ws.join("Cargo.lock"),
    )
    .unwrap();
    let target = ws.join("target");
    let build = || {
        let mut cmd = gocache(&store);
        cmd.args(["gocache", "build", "-v"])
            .current_dir(&ws)
            .env("CARGO_TARGET_DIR", &target);
        let r = run(&mut cmd).success();
        let v = run(&mut std::process::Command::new(target.join("debug/app"))).success();
        (r, v.stdout().trim().to_string())
    };

    let (r, v) = build();
    assert_eq!(v, "111");
    assert_eq!(build_scripts_run(&r), ["knob"], "{}", r.stderr());
    // The compile went through the wrapper (a miss), and printed nothing.
    let misses = r.stderr();
    let misses = misses
        .split("gocache: slowest misses:")
        .nth(1)
        .unwrap_or("");
    assert!(misses.contains("src/e.c"), "{}", r.stderr());
    assert!(reported(&target, "knob").is_empty());
    let (r, _) = build();
    assert!(build_scripts_run(&r).is_empty(), "{}", r.stderr());

    for (rel, from, to, want) in [
        ("knob/include/knob.h", "KNOB 1", "KNOB 2", "112"),
        ("knob/src/e.c", "+ EXTRA;", "+ EXTRA + 5;", "117"),
        ("knob/include two/other.h", "OTHER 10", "OTHER 20", "127"),
        (
            "knob/CMakeLists.txt",
            "set(EXTRA 0)",
            "set(EXTRA 1000)",
            "1127",
        ),
    ] {
        // CMake's install step copies `libe.a` only when its mtime differs
        // from the installed copy's by a second or more (`cmFileCopier`,
        // `cmFileTime::DifferS`): a rebuild within a second of the last one
        // installs the stale archive, under plain cargo as under gocache
        // (seen with `cargo build`: edits 113..117 in a loop gave 113, 113,
        // 115, 115, 117). A user edits more slowly than that; the test waits.
        std::thread::sleep(std::time::Duration::from_millis(1100));
        edit(&ws, rel, from, to);
        let (r, v) = build();
        assert_eq!(v, want, "after editing {rel}: {}", r.stderr());
        let (r, v) = build();
        assert_eq!(v, want);
        assert!(
            build_scripts_run(&r).is_empty(),
            "nothing changed after {rel}, yet: {}",
            r.stderr()
        );
    }
}

/// One package at the workspace root, its target directory inside it and a
/// header generated into `OUT_DIR`: the package's files are reported, the
/// target directory's never (so no perpetual rerun).
#[test]
fn a_root_package_with_its_target_inside_reports_its_files_not_the_target() {
    require_tool("gcc");
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let ws = tmp.path().join("solo");
    let w = |rel: &str, text: &str| {
        let p = ws.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    };
    w(
        "Cargo.toml",
        "[package]\nname = \"solo\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
         [workspace]\n\n[build-dependencies]\ncc = \"1\"\n",
    );
    w(
        "build.rs",
        r##"fn main() {
    let out = std::env::var("OUT_DIR").unwrap();
    std::fs::write(format!("{out}/gen.h"), "#define GEN 100\n").unwrap();
    cc::Build::new().include("include").include(&out).file("src/e.c").compile("e");
}
"##,
    );
    w("include/knob.h", "#define KNOB 1\n");
    w(
        "src/e.c",
        "#include \"knob.h\"\n#include \"gen.h\"\nint e(void) { return KNOB + GEN; }\n",
    );
    w(
        "src/main.rs",
        "extern \"C\" { fn e() -> i32; }\nfn main() { println!(\"{}\", unsafe { e() }); }\n",
    );
    fs::copy(
        example("mixed-sys").join("Cargo.lock"),
        ws.join("Cargo.lock"),
    )
    .unwrap();
    let target = ws.join("target");
    let build = || {
        let r = run(gocache(&store)
            .args(["gocache", "build", "-v"])
            .current_dir(&ws)
            .env("CARGO_TARGET_DIR", &target))
        .success();
        let v = run(&mut std::process::Command::new(target.join("debug/solo"))).success();
        (r, v.stdout().trim().to_string())
    };
    let (_, v) = build();
    assert_eq!(v, "101");
    let lines = reported(&target, "solo");
    assert!(!lines.is_empty());
    assert!(
        lines.iter().all(|l| !Path::new(l).starts_with(&target)),
        "{lines:#?}"
    );
    let (r, _) = build();
    assert!(build_scripts_run(&r).is_empty(), "{}", r.stderr());
    edit(&ws, "include/knob.h", "KNOB 1", "KNOB 2");
    let (r, v) = build();
    assert_eq!(v, "102");
    assert_eq!(build_scripts_run(&r), ["solo"]);
}

/// Issue 21: a build script that globs `csrc/` for plain cc (no rerun line
/// of its own; cc's `rerun-if-env-changed` lines turn cargo's default off)
/// reruns when a source is removed, when it is put back (before, only the
/// remaining files were watched: the archive kept lacking it) and when one
/// is added, because the wrapper also names the directory each source is
/// in. Each rerun's compiles hit where they can; a build with nothing
/// changed reruns nothing, and a swap file an editor leaves there costs one
/// rerun that compiles nothing.
#[test]
fn a_source_put_back_into_a_globbed_directory_reruns_the_build_script() {
    require_tool("gcc");
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let ws = tmp.path().join("globbed");
    let w = |rel: &str, text: &str| {
        let p = ws.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    };
    w(
        "Cargo.toml",
        "[package]\nname = \"globbed\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
         [workspace]\n\n[build-dependencies]\ncc = \"1\"\n",
    );
    w(
        "build.rs",
        r##"fn main() {
    let mut files: Vec<_> = std::fs::read_dir("csrc")
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "c"))
        .collect();
    files.sort();
    cc::Build::new().files(files).compile("g");
}
"##,
    );
    w("csrc/a.c", "int f_a(void) { return 1; }\n");
    w("csrc/b.c", "int f_b(void) { return 2; }\n");
    w("csrc/c.c", "int f_c(void) { return 3; }\n");
    w(
        "src/main.rs",
        "extern \"C\" { fn f_a() -> i32; }\nfn main() { println!(\"{}\", unsafe { f_a() }); }\n",
    );
    fs::copy(
        example("mixed-sys").join("Cargo.lock"),
        ws.join("Cargo.lock"),
    )
    .unwrap();
    let target = tmp.path().join("target");
    let build = || {
        run(gocache(&store)
            .args(["gocache", "build", "-v"])
            .current_dir(&ws)
            .env("CARGO_TARGET_DIR", &target))
        .success()
    };
    let objects = || {
        let out = fs::read_dir(target.join("debug/build"))
            .unwrap()
            .flatten()
            .map(|e| e.path().join("out/libg.a"))
            .find(|p| p.is_file())
            .unwrap();
        let t = run(std::process::Command::new("ar").arg("t").arg(&out)).success();
        t.stdout()
            .lines()
            .filter(|l| l.ends_with(".o"))
            .map(|l| l.rsplit('-').next().unwrap().to_string())
            .collect::<BTreeSet<String>>()
    };
    let set = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<BTreeSet<_>>();
    build();
    assert_eq!(objects(), set(&["a.o", "b.o", "c.o"]));
    let lines = reported(&target, "globbed");
    assert!(
        lines.iter().any(|l| Path::new(l) == ws.join("csrc")),
        "the sources' directory is not watched: {lines:#?}"
    );
    let r = build();
    assert!(build_scripts_run(&r).is_empty(), "{}", r.stderr());

    fs::remove_file(ws.join("csrc/c.c")).unwrap();
    assert_eq!(build_scripts_run(&build()), ["globbed"]);
    assert_eq!(objects(), set(&["a.o", "b.o"]));

    fs::write(ws.join("csrc/c.c"), "int f_c(void) { return 3; }\n").unwrap();
    let r = build();
    assert_eq!(
        build_scripts_run(&r),
        ["globbed"],
        "c.c put back, yet the build script did not rerun"
    );
    assert_eq!(objects(), set(&["a.o", "b.o", "c.o"]));
    r.stderr_contains("gocache: 3 hits, 0 misses");

    fs::write(ws.join("csrc/d.c"), "int f_d(void) { return 4; }\n").unwrap();
    assert_eq!(build_scripts_run(&build()), ["globbed"]);
    assert_eq!(objects(), set(&["a.o", "b.o", "c.o", "d.o"]));

    // An editor's swap file: one rerun, every compile a hit.
    fs::write(ws.join("csrc/.a.c.swp"), "").unwrap();
    let r = build();
    assert_eq!(build_scripts_run(&r), ["globbed"]);
    r.stderr_contains("gocache: 4 hits, 0 misses");
    let r = build();
    assert!(build_scripts_run(&r).is_empty(), "{}", r.stderr());
}
