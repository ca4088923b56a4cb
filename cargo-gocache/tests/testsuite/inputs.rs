//! Every input of a compile, one by one (issue 10 items 2, 3, 4 and 7):
//! each case is compiled through the wrapper twice and compared, byte for
//! byte, with the same compile uncached: every file the compile makes (the
//! object, the depfile, and any other file that appears), stdout, stderr
//! and the exit status. A case that changes the world between compiles
//! (a header appears, a tool is replaced) checks again after the change,
//! against the store that holds the result from before.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use cargo_gocache::stats::{read_events, Outcome};

use crate::support::{bin, write_settled};

#[track_caller]
fn need(tool: &str) {
    crate::support::require_tool(tool);
}

/// One run's results: every file it made (path relative to `work/`, bytes),
/// stdout, stderr, exit code.
#[derive(Debug, PartialEq, Eq)]
struct Made {
    files: Vec<(String, Vec<u8>)>,
    stdout: String,
    stderr: String,
    code: Option<i32>,
}

/// A sandbox: `work/` (the working directory), `store/`, `home/`.
struct Lab {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Lab {
    fn new() -> Lab {
        let dir = tempfile::Builder::new()
            .prefix("gocache-inputs-")
            .tempdir()
            .unwrap();
        fs::create_dir_all(dir.path().join("work")).unwrap();
        fs::create_dir_all(dir.path().join("home")).unwrap();
        Lab {
            dir,
            env: Vec::new(),
        }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    /// A path under `work/`.
    fn p(&self, rel: &str) -> PathBuf {
        self.root().join("work").join(rel)
    }

    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.p(rel);
        write_settled(&p, text);
        p
    }

    fn set(&mut self, k: &str, v: &str) {
        self.env.retain(|(n, _)| n != k);
        self.env.push((k.into(), v.into()));
    }

    fn unset(&mut self, k: &str) {
        self.env.retain(|(n, _)| n != k);
    }

    fn store(&self) -> PathBuf {
        self.root().join("store")
    }

    fn command(&self, store: &str, compiler: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(bin());
        cmd.arg(compiler)
            .args(args)
            .current_dir(self.p(""))
            .stdin(Stdio::null());
        crate::support::scrub(&mut cmd);
        // Not in the shared list (cargo commands need the runner's cargo
        // home): the wrapper relocates CARGO_HOME, so it must not leak here.
        cmd.env_remove("CARGO_HOME");
        cmd.env("HOME", self.root().join("home"))
            .env("CARGO_GOCACHE_DIR", store);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    fn listing(&self) -> Vec<String> {
        fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
            for e in fs::read_dir(dir).unwrap() {
                let e = e.unwrap();
                let p = e.path();
                let ft = fs::symlink_metadata(&p).unwrap().file_type();
                if ft.is_dir() {
                    walk(base, &p, out);
                } else {
                    out.push(p.strip_prefix(base).unwrap().display().to_string());
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.p(""), &self.p(""), &mut out);
        out.sort();
        out
    }

    /// Run one compile and collect what it made (then remove it, so the
    /// next run starts from the same state).
    fn run(&self, mut cmd: Command) -> Made {
        let before = self.listing();
        let out = cmd.output().unwrap();
        self.made(before, out)
    }

    fn made(&self, before: Vec<String>, out: Output) -> Made {
        let mut files = Vec::new();
        for f in self.listing() {
            if !before.contains(&f) {
                let p = self.p(&f);
                files.push((f, fs::read(&p).unwrap_or_default()));
                fs::remove_file(p).unwrap();
            }
        }
        Made {
            files,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            code: out.status.code(),
        }
    }

    fn last_event(&self) -> String {
        let events = read_events(&self.store().join("stats/events.log"));
        match events.last().map(|e| &e.outcome) {
            Some(Outcome::Hit) => "hit".into(),
            Some(Outcome::Miss) => "miss".into(),
            Some(Outcome::Uncacheable(r)) => format!("uncacheable:{r}"),
            Some(Outcome::Error(r)) => format!("error:{r}"),
            Some(o) => format!("{o:?}"),
            None => "none".into(),
        }
    }

    /// The compile uncached, then twice through the store: each cached run
    /// must make what the uncached one made. Returns the two events.
    #[track_caller]
    fn check(&self, compiler: &str, args: &[&str]) -> [String; 2] {
        let want = self.run(self.command("off", compiler, args));
        let mut events = [String::new(), String::new()];
        for ev in &mut events {
            let store = self.store();
            let got = self.run(self.command(store.to_str().unwrap(), compiler, args));
            *ev = self.last_event();
            if got != want {
                panic!(
                    "{compiler} {args:?} ({ev}): the cached compile made something else than the uncached one\n{}",
                    diff(&got, &want)
                );
            }
        }
        events
    }
}

impl Lab {
    /// For compiles that are not cached and whose outputs differ from run to
    /// run (a `.gcno` holds a stamp): the same files made, the same output
    /// and exit status, cached or not. Returns the event.
    #[track_caller]
    fn check_shape(&self, compiler: &str, args: &[&str]) -> String {
        let shape = |m: Made| {
            let names: Vec<String> = m.files.into_iter().map(|(n, _)| n).collect();
            (names, m.stdout, m.stderr, m.code)
        };
        let want = shape(self.run(self.command("off", compiler, args)));
        let store = self.store();
        let got = shape(self.run(self.command(store.to_str().unwrap(), compiler, args)));
        assert_eq!(got, want, "{compiler} {args:?}");
        self.last_event()
    }
}

/// What differs between two runs, readably.
fn diff(got: &Made, want: &Made) -> String {
    let mut out = String::new();
    let names = |m: &Made| {
        m.files
            .iter()
            .map(|(n, b)| format!("{n} ({} bytes)", b.len()))
            .collect::<Vec<_>>()
    };
    out.push_str(&format!(
        "cached made:   {:?}\nuncached made: {:?}\n",
        names(got),
        names(want)
    ));
    for (n, b) in &got.files {
        if let Some((_, w)) = want.files.iter().find(|(m, _)| m == n) {
            if b != w {
                let at = b
                    .iter()
                    .zip(w)
                    .position(|(x, y)| x != y)
                    .unwrap_or(b.len().min(w.len()));
                out.push_str(&format!("{n} differs at byte {at}\n"));
                if n.ends_with(".d") || n.ends_with(".txt") || n.ends_with(".lst") {
                    out.push_str(&format!(
                        "--- cached {n}\n{}--- uncached {n}\n{}",
                        String::from_utf8_lossy(b),
                        String::from_utf8_lossy(w)
                    ));
                }
            }
        }
    }
    if got.code != want.code {
        out.push_str(&format!(
            "exit: cached {:?}, uncached {:?}\n",
            got.code, want.code
        ));
    }
    if got.stdout != want.stdout {
        out.push_str(&format!(
            "--- cached stdout\n{}\n--- uncached stdout\n{}\n",
            got.stdout, want.stdout
        ));
    }
    if got.stderr != want.stderr {
        out.push_str(&format!(
            "--- cached stderr\n{}\n--- uncached stderr\n{}\n",
            got.stderr, want.stderr
        ));
    }
    out
}

fn events(e: &[String; 2]) -> [&str; 2] {
    [e[0].as_str(), e[1].as_str()]
}

const USES_X: &str = "#include \"x.h\"\nint f(void) { return X; }\n";
const USES_SYS_X: &str = "#include <x.h>\nint f(void) { return X; }\n";

// ---- option spellings ----------------------------------------------------

#[test]
fn long_include_directory_spellings_see_a_new_shadowing_header() {
    need("gcc");
    let lab = Lab::new();
    lab.write("a.c", USES_SYS_X);
    lab.write("inc2/x.h", "#define X 2\n");
    fs::create_dir_all(lab.p("inc1")).unwrap();
    let args = [
        "--include-directory=inc1",
        "--include-directory",
        "inc2",
        "-c",
        "a.c",
        "-o",
        "a.o",
    ];
    assert_eq!(events(&lab.check("gcc", &args)), ["miss", "hit"]);
    lab.write("inc1/x.h", "#define X 1\n");
    assert_eq!(events(&lab.check("gcc", &args)), ["miss", "hit"]);
}

#[test]
fn long_output_include_and_dependency_spellings() {
    need("gcc");
    let lab = Lab::new();
    lab.write("a.c", "int f(void) { return X; }\n");
    lab.write("cfg.h", "#define X 1\n");
    let args = [
        "--include=cfg.h",
        "--compile",
        "a.c",
        "--output=out.o",
        "--write-dependencies",
    ];
    assert_eq!(events(&lab.check("gcc", &args)), ["miss", "hit"]);
    lab.write("cfg.h", "#define X 2\n");
    assert_eq!(events(&lab.check("gcc", &args)), ["miss", "hit"]);
    // The short spellings are the same compile: the same key, and each
    // hit makes the files its own spelling names. (-MMD has its own key:
    // which headers it leaves out is gcc's to say.)
    let args = [
        "--output",
        "o2.o",
        "-c",
        "a.c",
        "--write-user-dependencies",
        "--include",
        "cfg.h",
    ];
    assert_eq!(events(&lab.check("gcc", &args)), ["miss", "hit"]);
    let args = ["-o", "o3.o", "-c", "a.c", "-MD", "-include", "cfg.h"];
    assert_eq!(events(&lab.check("gcc", &args)), ["hit", "hit"]);
}

#[test]
fn long_spellings_of_refused_options_are_refused() {
    need("gcc");
    let lab = Lab::new();
    lab.write("a.c", "int x;\n");
    for args in [
        &["--prefix=/nonexistent/", "-c", "a.c"][..],
        &["--prefix", "/nonexistent/", "-c", "a.c"],
        &["--save-temps", "-c", "a.c"],
        &["--dump-tree-original", "-c", "a.c"],
        &["--profile-use=p.gcda", "-c", "a.c"],
        &["--coverage", "-c", "a.c"],
    ] {
        let e = lab.check_shape("gcc", args);
        assert!(
            e.starts_with("uncacheable:unsupported-option"),
            "{args:?}: {e:?}"
        );
    }
}

#[test]
fn sysroot_relative_include_directory() {
    need("gcc");
    let lab = Lab::new();
    lab.write("a.c", USES_SYS_X);
    lab.write("sr/inc2/x.h", "#define X 2\n");
    fs::create_dir_all(lab.p("sr/inc1")).unwrap();
    let sr = format!("--sysroot={}", lab.p("sr").display());
    let args = [sr.as_str(), "-I=/inc1", "-I$SYSROOT/inc2", "-c", "a.c"];
    assert_eq!(events(&lab.check("gcc", &args)), ["miss", "hit"]);
    lab.write("sr/inc1/x.h", "#define X 1\n");
    assert_eq!(events(&lab.check("gcc", &args)), ["miss", "hit"]);
    // Without a sysroot the meaning is the compiler's: not cached.
    let e = lab.check("gcc", &["-I=inc1", "-c", "a.c"]);
    assert_eq!(e[0], "uncacheable:sysroot-relative-include");
}

#[test]
fn response_file_with_unicode_spaces() {
    need("gcc");
    let lab = Lab::new();
    lab.write("a.c", "int f(void) { return X; }\n");
    // A no-break space is part of the define, not a separator: the value
    // is `1\u{a0}+1`, which does not compile... as gcc decides.
    lab.write("r1", "-c a.c -DX=1\u{a0}+1");
    let e = lab.check("gcc", &["@r1"]);
    assert_ne!(e[1], "hit", "{e:?}");
    lab.write("r2", "-c a.c -DX=2\u{2003}-DY");
    lab.check("gcc", &["@r2"]);
    lab.write("r3", "-c\ta.c\n-DX=3\r\n");
    assert_eq!(events(&lab.check("gcc", &["@r3"])), ["miss", "hit"]);
}

// ---- search-path state ----------------------------------------------------

#[test]
fn cpath_directory_created_after_the_first_compile() {
    need("gcc");
    let mut lab = Lab::new();
    lab.write("a.c", USES_SYS_X);
    lab.write("after/x.h", "#define X 2\n");
    lab.set("CPATH", lab.p("cp").to_str().unwrap());
    let args = ["-idirafter", "after", "-c", "a.c", "-MMD"];
    assert_eq!(events(&lab.check("gcc", &args)), ["miss", "hit"]);
    lab.write("cp/x.h", "#define X 1\n");
    assert_eq!(events(&lab.check("gcc", &args)), ["miss", "hit"]);
}

#[test]
fn sysroot_system_directory_created_after_the_first_compile() {
    need("gcc");
    let lab = Lab::new();
    lab.write("a.c", USES_SYS_X);
    lab.write("sr/usr/include/x.h", "#define X 2\n");
    let sr = format!("--sysroot={}", lab.p("sr").display());
    let args = [sr.as_str(), "-c", "a.c"];
    assert_eq!(events(&lab.check("gcc", &args)), ["miss", "hit"]);
    lab.write("sr/usr/local/include/x.h", "#define X 1\n");
    assert_eq!(events(&lab.check("gcc", &args)), ["miss", "hit"]);
}

/// Stamps are remembered once older than the racy window (2 s).
fn settle() {
    std::thread::sleep(std::time::Duration::from_millis(2200));
}

#[test]
fn dangling_symlink_to_a_header_whose_target_appears() {
    need("gcc");
    let lab = Lab::new();
    lab.write("a.c", USES_SYS_X);
    lab.write("inc2/x.h", "#define X 2\n");
    fs::create_dir_all(lab.p("inc1")).unwrap();
    fs::create_dir_all(lab.p("elsewhere")).unwrap();
    std::os::unix::fs::symlink(lab.p("elsewhere/x.h"), lab.p("inc1/x.h")).unwrap();
    let args = ["-Iinc1", "-Iinc2", "-c", "a.c"];
    settle();
    assert_eq!(events(&lab.check("gcc", &args)), ["miss", "hit"]);
    assert_eq!(events(&lab.check("gcc", &args)), ["hit", "hit"]);
    lab.write("elsewhere/x.h", "#define X 1\n");
    assert_eq!(events(&lab.check("gcc", &args)), ["miss", "hit"]);
}

#[test]
fn dangling_symlink_to_an_include_directory_whose_target_appears() {
    need("gcc");
    let lab = Lab::new();
    lab.write("a.c", USES_SYS_X);
    lab.write("inc2/x.h", "#define X 2\n");
    fs::create_dir_all(lab.p("elsewhere")).unwrap();
    std::os::unix::fs::symlink(lab.p("elsewhere/d"), lab.p("link")).unwrap();
    let args = ["-Ilink", "-Iinc2", "-c", "a.c"];
    settle();
    assert_eq!(events(&lab.check("gcc", &args)), ["miss", "hit"]);
    assert_eq!(events(&lab.check("gcc", &args)), ["hit", "hit"]);
    lab.write("elsewhere/d/x.h", "#define X 1\n");
    assert_eq!(events(&lab.check("gcc", &args)), ["miss", "hit"]);
}

#[test]
fn symlinked_isystem_directory_and_system_directory_as_include() {
    need("gcc");
    let lab = Lab::new();
    lab.write(
        "a.c",
        "#include <x.h>\n#include <stdio.h>\nint f(void) { return X; }\n",
    );
    lab.write("real/x.h", "#define X 2\n");
    std::os::unix::fs::symlink(lab.p("real"), lab.p("sys")).unwrap();
    let args = ["-isystem", "sys", "-I/usr/include", "-c", "a.c", "-MMD"];
    assert_eq!(events(&lab.check("gcc", &args)), ["miss", "hit"]);
    lab.write("real/x.h", "#define X 3\n");
    assert_eq!(events(&lab.check("gcc", &args)), ["miss", "hit"]);
    // Retargeted.
    lab.write("real2/x.h", "#define X 4\n");
    fs::remove_file(lab.p("sys")).unwrap();
    std::os::unix::fs::symlink(lab.p("real2"), lab.p("sys")).unwrap();
    assert_eq!(events(&lab.check("gcc", &args)), ["miss", "hit"]);
}

/// Issue 21, item 8a: `-I` of a directory that is also a system one. gcc
/// drops the `-I` and searches the directory in its system place, after
/// every `-I`: a header made in a later `-I` directory shadows the
/// system one. Before, the probes took the `-I` place (nothing before it)
/// and the old object was served.
#[test]
fn include_directory_that_is_a_system_one_gains_a_shadowing_header() {
    need("gcc");
    // The compiler's own /usr/include, and an -isystem directory given
    // again with -I.
    let cases: [(&[&str], &str); 2] = [
        (&["-I/usr/include", "-Ilocal"], "local/stdio.h"),
        (&["-Isys", "-Ilocal", "-isystem", "sys"], "local/x.h"),
    ];
    for (dirs, shadow) in cases {
        let lab = Lab::new();
        lab.write(
            "a.c",
            "#include <stdio.h>\n#include <x.h>\n#ifndef Y\n#define Y 1\n#endif\nint f(void) { return X + Y; }\n",
        );
        lab.write("sys/x.h", "#define X 2\n");
        fs::create_dir_all(lab.p("local")).unwrap();
        let mut args: Vec<&str> = dirs.to_vec();
        args.extend(["-Isys", "-c", "a.c"]);
        args.dedup();
        settle();
        assert_eq!(
            events(&lab.check("gcc", &args)),
            ["miss", "hit"],
            "{dirs:?}"
        );
        lab.write(shadow, "#define X 5\n#define Y 7\n");
        settle();
        // `check` fails on any difference from the compile uncached.
        assert_eq!(
            events(&lab.check("gcc", &args)),
            ["miss", "hit"],
            "{dirs:?}"
        );
    }
}

/// Issue 21, item 8c: an `-isystem` directory reached through a symlink
/// whose target is shorter. gcc names the headers it finds there by their
/// resolved path (`-fcanonical-system-headers`), so the depfile lists
/// `real/x.h`, under no search directory as given; a header made in an
/// `-I` directory searched before must still be seen. Before, the old
/// object was served.
#[test]
fn symlinked_isystem_directory_gains_a_shadowing_header_searched_before_it() {
    need("gcc");
    let lab = Lab::new();
    lab.write("a.c", USES_SYS_X);
    lab.write("r/x.h", "#define X 2\n");
    fs::create_dir_all(lab.p("inc")).unwrap();
    let link = lab.p("a-longer-name-for-the-system-directory");
    std::os::unix::fs::symlink(lab.p("r"), &link).unwrap();
    let args = [
        "-Iinc",
        "-isystem",
        link.to_str().unwrap(),
        "-c",
        "a.c",
        "-MD",
    ];
    settle();
    assert_eq!(events(&lab.check("gcc", &args)), ["miss", "hit"]);
    lab.write("inc/x.h", "#define X 3\n");
    settle();
    assert_eq!(events(&lab.check("gcc", &args)), ["miss", "hit"]);
}

// ---- inputs that are not headers ----------------------------------------

#[test]
fn incbin_and_include_of_the_assembler_are_not_cached() {
    need("gcc");
    need("clang");
    let lab = Lab::new();
    lab.write("blob.bin", "hello\n");
    lab.write("m.s", ".byte 1\n");
    lab.write(
        "a.c",
        "asm(\".section .rodata\\n.incbin \\\"blob.bin\\\"\\n\");\nint x;\n",
    );
    lab.write(
        "b.c",
        "asm(\".section .rodata\\n.inc\" \"bin \\\"blob.bin\\\"\\n\");\nint y;\n",
    );
    lab.write("c.S", ".include \"m.s\"\n");
    for cc in ["gcc", "clang"] {
        for src in ["a.c", "b.c", "c.S"] {
            let e = lab.check(cc, &["-c", src]);
            assert_eq!(
                e,
                ["uncacheable:hidden-input", "uncacheable:hidden-input"],
                "{cc} {src}"
            );
        }
    }
}

#[test]
fn profile_data_and_allow_lists_are_refused() {
    need("gcc");
    need("clang");
    let lab = Lab::new();
    lab.write("a.c", "int f(int x) { return x ? 1 : 2; }\n");
    lab.write("list.txt", "fun:f\n");
    for (cc, args) in [
        ("gcc", &["-fbranch-probabilities", "-c", "a.c"][..]),
        ("gcc", &["-fprofile-use", "-c", "a.c"]),
        ("gcc", &["-fprofile-use=prof", "-c", "a.c"]),
        (
            "clang",
            &[
                "-fsanitize=address",
                "-fsanitize-ignorelist=list.txt",
                "-c",
                "a.c",
            ],
        ),
        (
            "clang",
            &[
                "-fsanitize-coverage=trace-pc",
                "-fsanitize-coverage-allowlist=list.txt",
                "-c",
                "a.c",
            ],
        ),
        (
            "clang",
            &[
                "-fxray-instrument",
                "-fxray-always-instrument=list.txt",
                "-c",
                "a.c",
            ],
        ),
    ] {
        let e = lab.check(cc, args);
        assert!(
            e[0].starts_with("uncacheable:unsupported-option"),
            "{cc} {args:?}: {e:?}"
        );
    }
}

#[test]
fn pragma_gcc_dependency_is_not_cached() {
    need("gcc");
    let lab = Lab::new();
    lab.write("dep.txt", "x\n");
    lab.write("a.c", "#pragma GCC dependency \"dep.txt\"\nint x;\n");
    lab.write(
        "b.c",
        "_Pragma(\"GCC dependency \\\"dep.txt\\\"\")\nint y;\n",
    );
    for src in ["a.c", "b.c"] {
        let e = lab.check("gcc", &["-c", src]);
        assert_eq!(e[1], "uncacheable:hidden-input", "{src}");
    }
}

#[test]
fn precompiled_header_appearing_beside_the_header() {
    need("gcc");
    // A valid precompiled header (same options) appearing as a file, or in
    // a directory of them, beside the header: gcc uses it.
    for pch in ["inc/x.h.gch", "inc/x.h.gch/one"] {
        let lab = Lab::new();
        lab.write("a.c", USES_X);
        lab.write("inc/x.h", "#define X 2\nint from_header;\n");
        let args = ["-Iinc", "-c", "a.c", "-MD"];
        assert_eq!(events(&lab.check("gcc", &args)), ["miss", "hit"]);
        fs::create_dir_all(lab.p(pch).parent().unwrap()).unwrap();
        let out = lab
            .command(
                "off",
                "gcc",
                &["-Iinc", "-x", "c-header", "inc/x.h", "-o", pch],
            )
            .output()
            .unwrap();
        assert!(out.status.success());
        // Not served from before (a miss, or not cached if gcc used it),
        // and what the compiler makes now.
        let e = lab.check("gcc", &args);
        assert_ne!(e[0], "hit", "{pch}");
    }
}

#[test]
fn assembler_found_through_path() {
    need("gcc");
    let mut lab = Lab::new();
    lab.write("a.c", "int x = 1;\n");
    fs::create_dir_all(lab.p("bin")).unwrap();
    let path = format!(
        "{}:{}",
        lab.p("bin").display(),
        std::env::var("PATH").unwrap()
    );
    lab.set("PATH", &path);
    let args = ["-c", "a.c"];
    assert_eq!(events(&lab.check("gcc", &args)), ["miss", "hit"]);
    // An `as` earlier in PATH that defines one more symbol.
    let real = String::from_utf8(
        Command::new("sh")
            .args(["-c", "command -v as"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let script = lab.write(
        "bin/as",
        &format!(
            "#!/bin/sh\nexec {} --defsym from_path_as=1 \"$@\"\n",
            real.trim()
        ),
    );
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(events(&lab.check("gcc", &args)), ["miss", "hit"]);
}

/// Issue 21, item 8d: a `.gch` beside a header that gcc does not take (not
/// a valid precompiled header for this compile), rebuilt in place from
/// other code: gcc then takes it silently. And one made in a directory
/// searched before the header's. Neither may be served the object from
/// before: a `.gch` where gcc looks makes the compile uncacheable.
#[test]
fn precompiled_header_rebuilt_in_place_or_made_earlier_in_the_search() {
    need("gcc");
    let build_gch = |lab: &Lab, to: &str| {
        lab.write("other.h", "#define X 9\nint from_pch;\n");
        fs::create_dir_all(lab.p(to).parent().unwrap()).unwrap();
        let out = lab
            .command("off", "gcc", &["-x", "c-header", "other.h", "-o", to])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    };
    // Present but not valid at the first compile, then rebuilt.
    let lab = Lab::new();
    lab.write("a.c", USES_X);
    lab.write("inc/x.h", "#define X 2\n");
    lab.write("inc/x.h.gch", "not a precompiled header\n");
    let args = ["-Iinc", "-c", "a.c", "-MD"];
    settle();
    assert_eq!(
        events(&lab.check("gcc", &args)),
        [
            "uncacheable:precompiled-header",
            "uncacheable:precompiled-header"
        ]
    );
    build_gch(&lab, "inc/x.h.gch");
    settle();
    let e = lab.check("gcc", &args);
    assert_ne!(e[0], "hit");
    // Made in a directory searched before the header's.
    let lab = Lab::new();
    lab.write("a.c", USES_X);
    lab.write("inc/x.h", "#define X 2\n");
    fs::create_dir_all(lab.p("first")).unwrap();
    let args = ["-Ifirst", "-Iinc", "-c", "a.c", "-MD"];
    settle();
    assert_eq!(events(&lab.check("gcc", &args)), ["miss", "hit"]);
    build_gch(&lab, "first/x.h.gch");
    settle();
    let e = lab.check("gcc", &args);
    assert_ne!(e[0], "hit");
}

// ---- identity ----------------------------------------------------------

#[test]
fn compiler_script_rewritten_with_size_and_mtime_kept() {
    need("gcc");
    let lab = Lab::new();
    lab.write("a.c", "int f(void) { return V; }\n");
    let script = lab.write("cc.sh", "#!/bin/sh\nexec gcc -DV=1 \"$@\"\n");
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    let cc = script.to_str().unwrap();
    assert_eq!(events(&lab.check(cc, &["-c", "a.c"])), ["miss", "hit"]);
    let mtime = fs::metadata(&script).unwrap().modified().unwrap();
    fs::write(&script, "#!/bin/sh\nexec gcc -DV=2 \"$@\"\n").unwrap();
    fs::File::options()
        .write(true)
        .open(&script)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    assert_eq!(events(&lab.check(cc, &["-c", "a.c"])), ["miss", "hit"]);
}

#[test]
fn clang_and_clangxx_share_a_binary_but_not_a_behaviour() {
    need("clang");
    let lab = Lab::new();
    lab.write("a.c", "int f(void) { return 1; }\n");
    let real = String::from_utf8(
        Command::new("sh")
            .args(["-c", "readlink -f \"$(command -v clang)\""])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    fs::create_dir_all(lab.p("bin")).unwrap();
    for name in ["clang", "clang++", "aarch64-linux-gnu-clang"] {
        std::os::unix::fs::symlink(real.trim(), lab.p("bin").join(name)).unwrap();
    }
    let cc = lab.p("bin/clang");
    let cxx = lab.p("bin/clang++");
    assert_eq!(
        events(&lab.check(cc.to_str().unwrap(), &["-c", "a.c"])),
        ["miss", "hit"]
    );
    assert_eq!(
        events(&lab.check(cxx.to_str().unwrap(), &["-c", "a.c"])),
        ["miss", "hit"]
    );
    let cross = lab.p("bin/aarch64-linux-gnu-clang");
    let e = lab.check(cross.to_str().unwrap(), &["-c", "a.c"]);
    assert_ne!(e[0], "hit", "{e:?}");
}

// ---- time macros -------------------------------------------------------

#[test]
fn time_macros_spelled_around_the_text_scan() {
    need("gcc");
    need("clang");
    let lab = Lab::new();
    lab.write("splice.c", "const char *t = __TI\\\nME__;\n");
    lab.write(
        "paste.c",
        "#define CAT(a, b) a##b\n#define X(a, b) CAT(a, b)\nconst char *t = X(__TI, ME__);\n",
    );
    lab.write(
        "paste_h.c",
        "#include \"p.h\"\nconst char *d = X(__DA, TE__);\n",
    );
    lab.write("p.h", "#define CAT(a, b) a##b\n#define X(a, b) CAT(a, b)\n");
    lab.write("trigraph.c", "const char *t = __TI??/\nME__;\n");
    // The objects hold the time: compared by what was decided, and by the
    // diagnostics and exit status, which must be the compiler's own.
    let decide = |cc: &str, args: &[&str]| {
        let want = lab.run(lab.command("off", cc, args));
        let got = lab.run(lab.command(lab.store().to_str().unwrap(), cc, args));
        assert_eq!(
            (&got.stderr, got.code),
            (&want.stderr, want.code),
            "{cc} {args:?}"
        );
        lab.last_event()
    };
    for cc in ["gcc", "clang"] {
        for src in ["splice.c", "paste.c", "paste_h.c"] {
            for _ in 0..2 {
                let e = decide(cc, &["-c", src]);
                assert_eq!(e, "uncacheable:time-macros", "{cc} {src}");
            }
        }
        // With -Werror, the warning gocache adds must not fail the compile;
        // with -Werror=date-time asked for, the caller's error is shown.
        for w in ["-Werror", "-Werror=date-time"] {
            let e = decide(cc, &[w, "-Wall", "-c", "paste.c"]);
            assert_eq!(e, "uncacheable:time-macros", "{cc} {w}");
        }
    }
    let e = decide("gcc", &["-std=c11", "-trigraphs", "-c", "trigraph.c"]);
    assert_eq!(e, "uncacheable:time-macros");
}

// ---- relocation --------------------------------------------------------

#[test]
fn relocation_prefix_matched_by_path_component() {
    need("gcc");
    let mut lab = Lab::new();
    lab.write("ch2/a.c", "const char *f = __FILE__;\nint x;\n");
    fs::create_dir_all(lab.p("ch")).unwrap();
    fs::create_dir_all(lab.p("c")).unwrap();
    let src = lab.p("ch2/a.c");
    let args = ["-g", "-c", src.to_str().unwrap(), "-o", "a.o"];
    // With CARGO_HOME=ch, gcc's string-compared prefix map would rewrite
    // ch2/a.c as <cargo-home>2/a.c; with CARGO_HOME=c as <cargo-home>h2.
    lab.set("CARGO_HOME", lab.p("ch").to_str().unwrap());
    let first = lab.run(lab.command(lab.store().to_str().unwrap(), "gcc", &args));
    assert_eq!(first.code, Some(0));
    assert_eq!(lab.last_event(), "uncacheable:relocation-clash");
    lab.set("CARGO_HOME", lab.p("c").to_str().unwrap());
    let fresh = lab.root().join("fresh-store");
    let want = lab.run(lab.command(fresh.to_str().unwrap(), "gcc", &args));
    let got = lab.run(lab.command(lab.store().to_str().unwrap(), "gcc", &args));
    assert_eq!(got, want, "{}", lab.last_event());
    assert_ne!(lab.last_event(), "hit");
    lab.unset("CARGO_HOME");
}

/// Issue 21, item 8b: the compiler's prefix map compares strings, so with
/// `CARGO_HOME=ch` a path in `ch2/` is written as `<cargo-home>2/...`.
/// Where that happens must be decided on every lookup, not only when a
/// result is stored: a result stored under a map the path did not clash
/// with (another `CARGO_HOME`) must not be served where it clashes. Three
/// ways the path reaches the object: the source, the working directory
/// (`DW_AT_comp_dir`) and a `#line` name.
#[test]
fn relocation_clash_is_decided_on_every_lookup() {
    need("gcc");
    let cases = ["source", "cwd", "line"];
    for case in cases {
        let mut lab = Lab::new();
        fs::create_dir_all(lab.p("ch")).unwrap();
        fs::create_dir_all(lab.p("elsewhere")).unwrap();
        let gen = lab.p("ch2/gen.y");
        let src = match case {
            "source" => lab.write("ch2/a.c", "const char *f = __FILE__;\nint x;\n"),
            "cwd" => {
                fs::create_dir_all(lab.p("ch2")).unwrap();
                lab.write("src/a.c", "int x;\n")
            }
            _ => lab.write(
                "src/a.c",
                &format!("#line 1 \"{}\"\nconst char *f = __FILE__;\n", gen.display()),
            ),
        };
        let args = ["-g", "-c", src.to_str().unwrap(), "-o", "a.o"];
        let command = |lab: &Lab, store: &Path| {
            let mut cmd = lab.command(store.to_str().unwrap(), "gcc", &args);
            if case == "cwd" {
                cmd.current_dir(lab.p("ch2"));
            }
            cmd
        };
        // Stored where nothing clashes.
        lab.set("CARGO_HOME", lab.p("elsewhere").to_str().unwrap());
        settle();
        let first = lab.run(command(&lab, &lab.store()));
        assert_eq!(first.code, Some(0), "{case}");
        assert_eq!(lab.last_event(), "miss", "{case}");
        // Looked up where it clashes: what a fresh store makes.
        lab.set("CARGO_HOME", lab.p("ch").to_str().unwrap());
        let fresh = lab.root().join("fresh-store");
        let want = lab.run(command(&lab, &fresh));
        let got = lab.run(command(&lab, &lab.store()));
        assert!(
            got == want,
            "{case} ({}): the cached compile made something else than a fresh one\n{}",
            lab.last_event(),
            diff(&got, &want)
        );
        assert_eq!(lab.last_event(), "uncacheable:relocation-clash", "{case}");
    }
}

// ---- outputs a hit does not make ---------------------------------------

#[test]
fn outputs_beside_the_object_are_made_on_every_run() {
    need("gcc");
    need("clang");
    let lab = Lab::new();
    lab.write(
        "a.c",
        "int f(int *p, int n) { int s = 0; for (int i = 0; i < n; i++) s += p[i]; return s; }\n",
    );
    for (cc, args) in [
        ("gcc", &["-Wa,-adhln=a.lst", "-c", "a.c"][..]),
        ("gcc", &["-aux-info", "proto.h", "-c", "a.c"]),
        ("gcc", &["-O2", "-fopt-info-vec-all=opt.txt", "-c", "a.c"]),
        ("gcc", &["-da", "-c", "a.c"]),
        ("gcc", &["-coverage", "-c", "a.c"]),
        ("gcc", &["-gsplit-dwarf", "-g", "-c", "a.c"]),
        ("clang", &["-gsplit-dwarf=split", "-g", "-c", "a.c"]),
        ("gcc", &["-fstack-usage", "-c", "a.c"]),
        ("gcc", &["-MD", "-MF", "-", "-c", "a.c"]),
    ] {
        let e = lab.check_shape(cc, args);
        assert!(e.starts_with("uncacheable:"), "{cc} {args:?}: {e:?}");
    }
}

#[test]
fn depfile_lists_what_gcc_lists() {
    need("gcc");
    need("clang");
    let mut lab = Lab::new();
    lab.write(
        "src/a.c",
        "#include <c.h>\n#include \"u.h\"\n#include <s.h>\n#include <stdio.h>\nint x;\n",
    );
    lab.write("cp/c.h", "int c;\n");
    lab.write("sys/s.h", "int s;\n");
    lab.write("sys/sub/u.h", "int u;\n");
    lab.set("CPATH", lab.p("cp").to_str().unwrap());
    // A CPATH header, an -I directory below a system one, the source in an
    // -isystem directory, long lines, -MP, targets quoted and not.
    let cases: [&[&str]; 4] = [
        &[
            "-isystem",
            "sys",
            "-Isys/sub",
            "-isystem",
            "src",
            "-c",
            "src/a.c",
            "-o",
            "a.o",
            "-MMD",
        ],
        &[
            "-isystem",
            "sys",
            "-Isys/sub",
            "-c",
            "src/a.c",
            "-o",
            "a.o",
            "-MD",
            "-MP",
        ],
        &[
            "-isystem",
            "sys",
            "-Isys/sub",
            "-c",
            "src/a.c",
            "-MMD",
            "-MP",
            "-MT",
            "x y",
            "-MQ",
            "$z",
        ],
        // -I of a system directory is that system directory.
        &[
            "-I/usr/include",
            "-Isys/sub",
            "-isystem",
            "sys",
            "-c",
            "src/a.c",
            "-MMD",
        ],
    ];
    for cc in ["gcc", "clang"] {
        for args in cases {
            lab.check(cc, args);
            assert_eq!(lab.check(cc, args), ["hit", "hit"], "{cc} {args:?}");
        }
    }
}

#[test]
fn depfile_names_with_backslashes_and_spaces() {
    need("gcc");
    let lab = Lab::new();
    lab.write("a.c", "#include \"x\\y.h\"\n#include \"s p.h\"\nint x;\n");
    lab.write("x\\y.h", "int y;\n");
    lab.write("s p.h", "int z;\n");
    let args = ["-c", "a.c", "-MD"];
    assert_eq!(events(&lab.check("gcc", &args)), ["miss", "hit"]);
}

// ---- not a regular file -------------------------------------------------

#[test]
fn stdin_and_fifo_sources_run_untouched_and_never_hang() {
    need("gcc");
    let lab = Lab::new();
    let run_with_stdin = |store: &str| {
        let before = lab.listing();
        let mut cmd = lab.command(store, "gcc", &["-x", "c", "-c", "/dev/stdin", "-o", "a.o"]);
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"int from_stdin = 3;\n")
            .unwrap();
        let out = wait_or_kill(child);
        lab.made(before, out)
    };
    let want = run_with_stdin("off");
    let store = lab.store();
    for _ in 0..2 {
        assert_eq!(run_with_stdin(store.to_str().unwrap()), want);
        assert_eq!(lab.last_event(), "uncacheable:special-source");
    }
    // A FIFO, with a writer that writes once per open.
    let fifo = lab.p("f.c");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let run_fifo = |store: &str| {
        let before = lab.listing();
        let f = fifo.clone();
        let writer = std::thread::spawn(move || {
            let _ = fs::write(&f, "int from_fifo = 4;\n");
        });
        let mut cmd = lab.command(store, "gcc", &["-c", "f.c", "-o", "a.o"]);
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let out = wait_or_kill(cmd.spawn().unwrap());
        writer.join().unwrap();
        let mut m = lab.made(before, out);
        m.files.retain(|(n, _)| n != "f.c");
        m
    };
    let want = run_fifo("off");
    assert_eq!(want.code, Some(0), "{want:?}");
    assert_eq!(run_fifo(store.to_str().unwrap()), want);
    assert_eq!(lab.last_event(), "uncacheable:special-source");
}

#[test]
fn fifo_header_never_hangs() {
    need("gcc");
    let lab = Lab::new();
    lab.write("a.c", "#include \"f.h\"\nint x;\n");
    let fifo = lab.p("f.h");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let store = lab.store();
    for s in ["off", store.to_str().unwrap()] {
        let f = fifo.clone();
        let writer = std::thread::spawn(move || {
            let _ = fs::write(&f, "int from_fifo;\n");
        });
        let mut cmd = lab.command(s, "gcc", &["-c", "a.c"]);
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let out = wait_or_kill(cmd.spawn().unwrap());
        writer.join().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(lab.last_event(), "uncacheable:special-input");
}

fn wait_or_kill(mut child: std::process::Child) -> Output {
    let start = std::time::Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if start.elapsed() > std::time::Duration::from_secs(30) {
            let _ = child.kill();
            panic!("the compile hung");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

// ---- diagnostics ---------------------------------------------------------

/// Run `cargo-gocache ARGS` on a terminal (`script` gives it a pty).
fn on_terminal(lab: &Lab, store: &str, compiler: &str, args: &[&str], term: &str) -> Made {
    let mut line = format!("{} {compiler}", bin().display());
    for a in args {
        line.push(' ');
        line.push_str(a);
    }
    let mut cmd = lab.command(store, "unused", &[]);
    let mut script = Command::new("script");
    script
        .args(["-qec", &line, "/dev/null"])
        .current_dir(lab.p(""))
        .stdin(Stdio::null());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => script.env(k, v),
            None => script.env_remove(k),
        };
    }
    let _ = &mut cmd;
    script.env("TERM", term);
    let before = lab.listing();
    let out = script.output().unwrap();
    let mut m = lab.made(before, out);
    m.files.retain(|(n, _)| !n.ends_with("typescript"));
    m
}

#[test]
fn colours_when_stderr_is_a_terminal() {
    need("gcc");
    need("clang");
    need("script");
    let lab = Lab::new();
    lab.write("a.c", "int f(void) { int unused; return 0; }\n");
    let store = lab.store();
    for cc in ["gcc", "clang"] {
        for term in ["xterm-256color", "dumb"] {
            let args = ["-Wall", "-c", "a.c"];
            let want = on_terminal(&lab, "off", cc, &args, term);
            if term != "dumb" {
                assert!(
                    want.stdout.contains("\x1b["),
                    "{cc} {term}: no colours: {want:?}"
                );
            }
            for _ in 0..2 {
                let got = on_terminal(&lab, store.to_str().unwrap(), cc, &args, term);
                assert_eq!(got, want, "{cc} TERM={term} ({})", lab.last_event());
            }
            assert_eq!(lab.last_event(), "hit", "{cc} {term}");
        }
    }
}

#[test]
fn gcc_extra_diagnostic_output_changes_the_key() {
    need("gcc");
    let mut lab = Lab::new();
    lab.write("a.c", "struct s { int color; };\nint f(struct s *p) { return p->colour; }\nint g(void) { return 0 }\n");
    lab.check("gcc", &["-c", "a.c"]);
    lab.set("GCC_EXTRA_DIAGNOSTIC_OUTPUT", "fixits-v2");
    lab.check("gcc", &["-c", "a.c"]);
    lab.write(
        "b.c",
        "#include <stdio.h>\nint f(void) { int unused; return 0; }\n",
    );
    lab.unset("GCC_EXTRA_DIAGNOSTIC_OUTPUT");
    assert_eq!(
        events(&lab.check("gcc", &["-Wall", "-c", "b.c"])),
        ["miss", "hit"]
    );
    lab.set("GCC_EXTRA_DIAGNOSTIC_OUTPUT", "fixits-v2");
    assert_eq!(
        events(&lab.check("gcc", &["-Wall", "-c", "b.c"])),
        ["miss", "hit"]
    );
}

#[test]
fn missing_include_dir_warning_after_the_directory_went_away() {
    need("gcc");
    let lab = Lab::new();
    lab.write("a.c", "int x;\n");
    fs::create_dir_all(lab.p("inc")).unwrap();
    for w in ["-Werror=missing-include-dirs", "-Wmissing-include-dirs"] {
        let args = [w, "-Iinc", "-c", "a.c"];
        assert_eq!(events(&lab.check("gcc", &args)), ["miss", "hit"]);
        fs::remove_dir(lab.p("inc")).unwrap();
        let e = lab.check("gcc", &args);
        assert_ne!(e[0], "hit", "{w}");
        fs::create_dir_all(lab.p("inc")).unwrap();
        assert_eq!(events(&lab.check("gcc", &args)), ["hit", "hit"]);
    }
}

// ---- item 7: input by input ---------------------------------------------

#[test]
fn each_variable_of_the_environment_list_changes_the_key() {
    need("gcc");
    let mut lab = Lab::new();
    lab.write("a.c", "int x;\n");
    let value = |name: &str| match name {
        "SOURCE_DATE_EPOCH" => "1700000000",
        "LANG" | "LC_ALL" | "LC_CTYPE" | "LC_MESSAGES" => "C",
        "GCC_COMPARE_DEBUG" => "0",
        "GCC_EXTRA_DIAGNOSTIC_OUTPUT" => "fixits-v1",
        "GCC_COLORS" => "error=01;31",
        "GCC_URLS" | "TERM_URLS" => "no",
        "CCC_OVERRIDE_OPTIONS" => "#",
        "GCC_EXEC_PREFIX" => "/usr/lib/gcc/",
        _ => "/nonexistent/dir",
    };
    let args = ["-c", "a.c"];
    assert_eq!(lab.check("gcc", &args)[1], "hit");
    for name in cargo_gocache::cmdline::KEY_ENV {
        lab.set(name, value(name));
        let e = lab.check("gcc", &args);
        assert_ne!(e[0], "hit", "{name}");
        lab.unset(name);
    }
}

#[test]
fn each_unsupported_option_is_refused_by_the_wrapper() {
    let lab = Lab::new();
    lab.write("a.c", "int x;\n");
    let store = lab.store();
    let options = cargo_gocache::cmdline::unsupported_options();
    assert!(options.len() > 80, "{}", options.len());
    for (spelled, _why) in options {
        let mut args: Vec<String> = vec!["-c".into(), "a.c".into()];
        args.extend(spelled.split(' ').map(String::from));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        // A compiler that does nothing: the wrapper's decision is the test.
        let out = lab
            .command(store.to_str().unwrap(), "true", &args)
            .output()
            .unwrap();
        assert!(out.status.success());
        let e = lab.last_event();
        assert!(
            e.starts_with("uncacheable:") && e != "uncacheable:link",
            "{spelled}: {e}"
        );
    }
}

// ---- more cases of each class --------------------------------------------

#[test]
fn more_long_spellings_follow_the_search() {
    need("gcc");
    let lab = Lab::new();
    lab.write("a.c", USES_SYS_X);
    lab.write("after/x.h", "#define X 3\n");
    lab.write("m.h", "#define M 1\n");
    fs::create_dir_all(lab.p("q")).unwrap();
    let args = [
        "--include-directory-after=after",
        "--imacros=m.h",
        "-iquote",
        "q",
        "--language=c",
        "-c",
        "a.c",
    ];
    assert_eq!(events(&lab.check("gcc", &args)), ["miss", "hit"]);
    // A header appearing in an -iquote directory shadows the -idirafter one
    // for a quoted include.
    lab.write("a.c", USES_X);
    assert_eq!(events(&lab.check("gcc", &args)), ["miss", "hit"]);
    lab.write("q/x.h", "#define X 4\n");
    assert_eq!(events(&lab.check("gcc", &args)), ["miss", "hit"]);
    lab.write("m.h", "#define M 2\n");
    assert_eq!(events(&lab.check("gcc", &args)), ["miss", "hit"]);
}

#[test]
fn clang_sysroot_relative_include_and_cc1_options() {
    need("clang");
    let lab = Lab::new();
    lab.write("a.c", USES_SYS_X);
    lab.write("sr/inc2/x.h", "#define X 2\n");
    fs::create_dir_all(lab.p("sr/inc1")).unwrap();
    let sr = format!("--sysroot={}", lab.p("sr").display());
    let args = [sr.as_str(), "-I=/inc1", "-I=/inc2", "-c", "a.c"];
    assert_eq!(events(&lab.check("clang", &args)), ["miss", "hit"]);
    lab.write("sr/inc1/x.h", "#define X 1\n");
    assert_eq!(events(&lab.check("clang", &args)), ["miss", "hit"]);
    // A harmless cc1 option is cached; one that loads a file is not.
    let args = [
        "-Xclang",
        "-fno-pch-timestamp",
        "-I",
        "sr/inc1",
        "-c",
        "a.c",
    ];
    assert_eq!(events(&lab.check("clang", &args)), ["miss", "hit"]);
    let e = lab.check_shape(
        "clang",
        &["-Xclang", "-load", "-Xclang", "none.so", "-c", "a.c"],
    );
    assert_eq!(e, "uncacheable:unsupported-option:-Xclang -load");
}

#[test]
fn hidden_inputs_in_a_header_and_pasted_timestamp() {
    need("gcc");
    let lab = Lab::new();
    lab.write("blob.bin", "x");
    lab.write(
        "inc/embed.h",
        "__asm__(\".pushsection .rodata\\n.incbin \\\"blob.bin\\\"\\n.popsection\");\n",
    );
    lab.write("a.c", "#include \"embed.h\"\nint x;\n");
    let e = lab.check("gcc", &["-Iinc", "-c", "a.c"]);
    assert_eq!(e, ["uncacheable:hidden-input", "uncacheable:hidden-input"]);
    lab.write(
        "t.c",
        "#define C(a, b) a##b\n#define E(a, b) C(a, b)\nconst char *s = E(__TIME, STAMP__);\n",
    );
    let want = lab.run(lab.command("off", "gcc", &["-c", "t.c"]));
    let got = lab.run(lab.command(lab.store().to_str().unwrap(), "gcc", &["-c", "t.c"]));
    assert_eq!((got.code, &got.stderr), (want.code, &want.stderr));
    assert_eq!(lab.last_event(), "uncacheable:time-macros");
}

#[test]
fn devices_as_sources() {
    need("gcc");
    let lab = Lab::new();
    for args in [
        &["-x", "c", "-c", "/dev/null", "-o", "n.o"][..],
        &["-x", "c", "-c", "/dev/stdin", "-o", "s.o"],
        &["-c", "missing.c"],
    ] {
        let e = lab.check_shape("gcc", args);
        assert!(e.starts_with("uncacheable:"), "{args:?}: {e}");
    }
}

#[test]
fn cpath_empty_element_is_the_working_directory_and_c_include_path_appears() {
    need("gcc");
    let mut lab = Lab::new();
    lab.write("src/a.c", USES_SYS_X);
    lab.write("after/x.h", "#define X 2\n");
    lab.set("CPATH", ":");
    let args = ["-idirafter", "after", "-c", "src/a.c", "-MMD"];
    assert_eq!(events(&lab.check("gcc", &args)), ["miss", "hit"]);
    lab.write("x.h", "#define X 1\n");
    assert_eq!(events(&lab.check("gcc", &args)), ["miss", "hit"]);
    fs::remove_file(lab.p("x.h")).unwrap();
    lab.unset("CPATH");
    lab.set("C_INCLUDE_PATH", lab.p("cip").to_str().unwrap());
    assert_eq!(events(&lab.check("gcc", &args)), ["miss", "hit"]);
    lab.write("cip/x.h", "#define X 5\n");
    assert_eq!(events(&lab.check("gcc", &args)), ["miss", "hit"]);
}
