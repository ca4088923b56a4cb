//! The archiver wrapper called every way real builds call it (issue 11
//! item 1): cc's `gocache-ar cq`, openssl-src's `AR=<cc's archiver program>`
//! with make's `$(AR) $(ARFLAGS)` and `$(RANLIB)`, `@file` arguments, and
//! faults (a broken store, a garbage real-archiver value) that must still
//! archive with the real tool.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::e2e::{count, take_stats};
use crate::support::{bin, cargo, clean_command, gocache, run};

const HOST: &str = "x86_64-unknown-linux-gnu";

/// A `gocache-ar` link to the binary under test, in `dir`.
fn ar_link(dir: &Path) -> PathBuf {
    let link = dir.join("gocache-ar");
    std::os::unix::fs::symlink(bin(), &link).unwrap();
    link
}

/// Two objects compiled by gcc in `dir`.
fn objects(dir: &Path) -> Vec<PathBuf> {
    let mut objs = Vec::new();
    for (name, body) in [
        ("a", "int a(void) { return 1; }\n"),
        ("b", "int b(void) { return 2; }\n"),
    ] {
        let src = dir.join(format!("{name}.c"));
        fs::write(&src, body).unwrap();
        let obj = dir.join(format!("{name}.o"));
        let st = Command::new("gcc")
            .arg("-c")
            .arg(&src)
            .arg("-o")
            .arg(&obj)
            .status()
            .expect("gcc not found: run bash tests/run.sh to install");
        assert!(st.success());
        objs.push(obj);
    }
    objs
}

/// `gocache-ar ARGS` as a build script's make would run it: `TARGET` set,
/// the store broken (a file where the directory should be), and `real` as
/// `CARGO_GOCACHE_AR_<target>`.
fn wrapped_ar(link: &Path, dir: &Path, real: Option<&str>, args: &[&str]) -> std::process::Output {
    let mut cmd = clean_command(link);
    cmd.current_dir(dir)
        .env("TARGET", HOST)
        .env("CARGO_GOCACHE_DIR", dir.join("not-a-store/inside-a-file"))
        .env_remove("CARGO_GOCACHE_AR_x86_64_unknown_linux_gnu")
        .args(args);
    if let Some(real) = real {
        cmd.env("CARGO_GOCACHE_AR_x86_64_unknown_linux_gnu", real);
    }
    cmd.output().unwrap()
}

fn plain_ar(dir: &Path, args: &[&str]) {
    let st = Command::new("ar")
        .current_dir(dir)
        .args(args)
        .status()
        .unwrap();
    assert!(st.success(), "ar {args:?}");
}

/// openssl-src's make runs `$(AR) $(ARFLAGS) lib.a objs` with `AR` the
/// wrapper alone and `ARFLAGS=qc`; before the fix that ran a program `qc`.
/// With a broken store and a garbage real-archiver value the archive is
/// still made, byte for byte what `ar` makes.
#[test]
fn openssl_style_qc_without_an_archiver_argument_archives_with_the_real_ar() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    fs::write(dir.join("not-a-store"), "").unwrap();
    let link = ar_link(dir);
    objects(dir);
    for real in [
        None,
        Some("ar"),
        Some("/no/such/archiver"),
        Some("ar --garbage"),
        Some(""),
    ] {
        let _ = fs::remove_file(dir.join("lib.a"));
        let out = wrapped_ar(&link, dir, real, &["qc", "lib.a", "a.o", "b.o"]);
        assert!(
            out.status.success(),
            "real={real:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        plain_ar(dir, &["qc", "plain.a", "a.o", "b.o"]);
        assert_eq!(
            fs::read(dir.join("lib.a")).unwrap(),
            fs::read(dir.join("plain.a")).unwrap(),
            "real={real:?}"
        );
        fs::remove_file(dir.join("plain.a")).unwrap();
    }
    // make's `$(AR) t`, `x` and an `@file` pass through as well.
    let out = wrapped_ar(&link, dir, Some("ar"), &["t", "lib.a"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "a.o\nb.o\n");
    fs::write(dir.join("args.rsp"), "rcs at.a a.o b.o\n").unwrap();
    let out = wrapped_ar(&link, dir, Some("ar"), &["@args.rsp"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // `rcs` asks for an index: the archive got a build ID too.
    let members = Command::new("ar")
        .current_dir(dir)
        .args(["t", "at.a"])
        .output()
        .unwrap();
    let members = String::from_utf8_lossy(&members.stdout);
    assert!(
        members.contains("a.o") && members.lines().count() == 3,
        "{members}"
    );
}

/// cc's own form, `gocache-ar <real ar> ARGS`, still works, and a
/// ranlib-style `s` stamps the archive.
#[test]
fn cc_style_program_first_and_ranlib_style_index() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let link = ar_link(dir);
    objects(dir);
    let out = wrapped_ar(
        &link,
        dir,
        Some("/no/such/ar"),
        &["ar", "cqD", "lib.a", "a.o", "b.o"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = wrapped_ar(&link, dir, None, &["sD", "lib.a"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let buildid = run(gocache(&dir.join("store"))
        .args(["gocache", "buildid"])
        .arg(dir.join("lib.a")))
    .success();
    assert!(!buildid.stdout().trim().is_empty());
    // `ranlib` named first runs ranlib, and leaves its index alone.
    let out = wrapped_ar(&link, dir, None, &["ranlib", "lib.a"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A crate whose build script calls the archiver the way openssl-src does
/// (`AR` = `cc.get_archiver().get_program()`, `RANLIB` from cc, make with
/// `$(AR) $(ARFLAGS) $@ $?`) builds under `cargo gocache`, with its C
/// compiles cached, and its binary runs.
#[test]
fn openssl_src_style_build_script_builds_under_cargo_gocache() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("arstyle");
    crate::support::build_dep_crate(&ws, "arstyle", "cc");
    fs::create_dir_all(ws.join("csrc")).unwrap();
    fs::write(
        ws.join("csrc/Makefile"),
        "OBJS = one.o two.o\n\
         libx.a: $(OBJS)\n\t$(RM) $@\n\t$(AR) $(ARFLAGS) $@ $?\n\t$(RANLIB) $@\n\
         %.o: $(SRC)/%.c\n\t$(CC) $(CFLAGS) -c $< -o $@\n",
    )
    .unwrap();
    fs::write(ws.join("csrc/one.c"), "int one(void) { return 1; }\n").unwrap();
    fs::write(ws.join("csrc/two.c"), "int two(void) { return 2; }\n").unwrap();
    fs::write(
        ws.join("build.rs"),
        r#"use std::process::Command;
fn main() {
    let out = std::env::var("OUT_DIR").unwrap();
    let src = format!("{}/csrc", std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let cc = cc::Build::new();
    let compiler = cc.get_compiler();
    let mut cc_env = compiler.cc_env();
    if cc_env.is_empty() {
        cc_env = compiler.path().to_path_buf().into_os_string();
    }
    // As openssl-src's `src/lib.rs`: the archiver program only.
    let ar = cc.get_archiver();
    let ranlib = cc.get_ranlib();
    let st = Command::new("make")
        .current_dir(&out)
        .arg("-f").arg(format!("{src}/Makefile"))
        .arg(format!("SRC={src}"))
        .arg("ARFLAGS=qc")
        .env("CC", cc_env)
        .env("AR", ar.get_program())
        .env("RANLIB", ranlib.get_program())
        .status()
        .unwrap();
    assert!(st.success(), "make failed");
    println!("cargo:rustc-link-search=native={out}");
    println!("cargo:rustc-link-lib=static=x");
    println!("cargo:rerun-if-changed=csrc");
}
"#,
    )
    .unwrap();
    fs::write(
        ws.join("src/main.rs"),
        "extern \"C\" { fn one() -> i32; fn two() -> i32; }\n\
         fn main() { println!(\"{}\", unsafe { one() + two() }); }\n",
    )
    .unwrap();
    let store = tmp.path().join("store");
    let target = ws.join("target");
    let build = || {
        let mut cmd = gocache(&store);
        cmd.args(["gocache", "build"])
            .current_dir(&ws)
            .env("CARGO_TARGET_DIR", &target);
        run(&mut cmd).success()
    };
    build();
    let cold = take_stats(&store);
    assert_eq!(count(&cold, "misses"), 2, "{cold}");
    let out = Command::new(target.join("debug/arstyle")).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "3\n");
    run(cargo()
        .arg("clean")
        .current_dir(&ws)
        .env("CARGO_TARGET_DIR", &target))
    .success();
    build();
    let warm = take_stats(&store);
    assert_eq!(count(&warm, "hits"), 2, "{warm}");
    assert_eq!(count(&warm, "misses"), 0, "{warm}");
    let out = Command::new(target.join("debug/arstyle")).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "3\n");
}
