//! Wrapper mode (`cargo-gocache gcc ...`) against real gcc: every cached
//! result is checked against the same compile with the cache off, byte for
//! byte.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cargo_gocache::stats::{read_events, Outcome};

use crate::support::{bin, output_ok as run_ok, require_tool, test_cc, write_settled};

/// A temporary tree with a store in it.
struct Sandbox {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Sandbox {
    fn new() -> Sandbox {
        Sandbox {
            dir: tempfile::tempdir().unwrap(),
            env: Vec::new(),
        }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn store(&self) -> PathBuf {
        self.path("store")
    }

    /// Write a file as an edit before a build is ([`write_settled`]).
    fn write(&self, rel: &str, text: &str) {
        write_settled(&self.path(rel), text);
    }

    fn env(mut self, k: &str, v: &str) -> Sandbox {
        self.env.push((k.into(), v.into()));
        self
    }

    /// `cargo-gocache gcc ARGS` in `cwd` (relative to the sandbox).
    fn gocache(&self, cwd: &str, args: &[&str]) -> Command {
        self.gocache_with(cwd, self.store().to_str().unwrap(), args)
    }

    fn gocache_with(&self, cwd: &str, store: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(bin());
        cmd.arg(test_cc()).args(args).current_dir(self.path(cwd));
        crate::support::scrub(&mut cmd);
        cmd.env("CARGO_GOCACHE_DIR", store);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// The last stats event's kind (`hit`, `miss`, `uncacheable:REASON`, `error:...`).
    fn last_event(&self) -> String {
        let events = read_events(&self.store().join("stats/events.log"));
        match events.last().map(|e| &e.outcome) {
            Some(Outcome::Hit) => "hit".into(),
            Some(Outcome::Miss) => "miss".into(),
            Some(Outcome::Uncacheable(r)) => format!("uncacheable:{r}"),
            Some(Outcome::Error(r)) => format!("error:{r}"),
            Some(Outcome::Remote(_)) => "remote".into(),
            Some(Outcome::Nondeterministic(o)) => format!("nondeterministic:{o}"),
            None => "none".into(),
        }
    }

    /// Compile `args` (which write `object`) through the cache, then the
    /// same with the cache off to `object` + `.ref`; assert the bytes are
    /// equal; return the event the cached compile recorded.
    #[track_caller]
    fn check(&self, cwd: &str, args: &[&str], object: &str) -> String {
        let out = run_ok(&mut self.gocache(cwd, args));
        let event = self.last_event();
        let cached = fs::read(self.path(cwd).join(object)).unwrap();
        let reference = self.reference(cwd, args, object);
        assert!(
            cached == reference.0,
            "{args:?} in {cwd}: cached object ({event}) differs from the uncached one"
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&reference.1.stderr),
            "{args:?}: stderr differs from the uncached compile's"
        );
        event
    }

    /// The same compile with the cache off: (object bytes, output).
    #[track_caller]
    fn reference(&self, cwd: &str, args: &[&str], object: &str) -> (Vec<u8>, Output) {
        let saved = self.path(cwd).join(object);
        let keep = fs::read(&saved).ok();
        let out = run_ok(&mut self.gocache_with(cwd, "off", args));
        let bytes = fs::read(&saved).unwrap();
        if let Some(k) = keep {
            fs::write(&saved, k).unwrap();
        }
        (bytes, out)
    }
}

const MAIN_C: &str = "#include \"x.h\"\nint f(void) { return X; }\n";

#[test]
fn header_edited() {
    require_tool(test_cc());
    let s = Sandbox::new();
    s.write("src/a.c", MAIN_C);
    s.write("inc/x.h", "#define X 1\n");
    let args = ["-O2", "-Iinc", "-c", "src/a.c", "-o", "a.o"];
    assert_eq!(s.check(".", &args, "a.o"), "miss");
    assert_eq!(s.check(".", &args, "a.o"), "hit");
    s.write("inc/x.h", "#define X 2\n");
    assert_eq!(s.check(".", &args, "a.o"), "miss");
    assert_eq!(s.check(".", &args, "a.o"), "hit");
}

#[test]
fn new_header_earlier_in_include_path_shadows_old_one() {
    require_tool(test_cc());
    let s = Sandbox::new();
    s.write("src/a.c", MAIN_C);
    s.write("inc2/x.h", "#define X 2\n");
    let args = ["-Iinc1", "-Iinc2", "-c", "src/a.c", "-o", "a.o"];
    fs::create_dir_all(s.path("inc1")).unwrap();
    assert_eq!(s.check(".", &args, "a.o"), "miss");
    assert_eq!(s.check(".", &args, "a.o"), "hit");
    s.write("inc1/x.h", "#define X 1\n");
    assert_eq!(s.check(".", &args, "a.o"), "miss");
    assert_eq!(s.check(".", &args, "a.o"), "hit");
    // The shadowing header removed again: the first result is right again.
    fs::remove_file(s.path("inc1/x.h")).unwrap();
    assert_eq!(s.check(".", &args, "a.o"), "hit");
}

#[test]
fn new_header_beside_including_file_shadows_old_one() {
    require_tool(test_cc());
    let s = Sandbox::new();
    s.write("src/a.c", MAIN_C);
    s.write("inc/x.h", "#define X 2\n");
    let args = ["-Iinc", "-c", "src/a.c", "-o", "a.o"];
    assert_eq!(s.check(".", &args, "a.o"), "miss");
    assert_eq!(s.check(".", &args, "a.o"), "hit");
    // ccache 4.7's direct mode serves the stale object here.
    s.write("src/x.h", "#define X 1\n");
    assert_eq!(s.check(".", &args, "a.o"), "miss");
    fs::remove_file(s.path("src/x.h")).unwrap();
    assert_eq!(s.check(".", &args, "a.o"), "hit");
}

#[test]
fn define_changed() {
    require_tool(test_cc());
    let s = Sandbox::new();
    s.write("a.c", "int f(void) { return X; }\n");
    assert_eq!(s.check(".", &["-DX=1", "-c", "a.c"], "a.o"), "miss");
    assert_eq!(s.check(".", &["-DX=2", "-c", "a.c"], "a.o"), "miss");
    assert_eq!(s.check(".", &["-DX=1", "-c", "a.c"], "a.o"), "hit");
    // Another spelling of the same definition: the `-D`s are keyed as
    // given where no value holds a machine path (cmdline::macros), so it
    // is another compile; with gcc and a value holding one, the pre-key
    // holds the name and the entry the value, and it would hit.
    assert_eq!(s.check(".", &["-D", "X=2", "-c", "a.c"], "a.o"), "miss");
}

#[test]
fn two_trees_differing_in_one_header_never_share_an_object() {
    require_tool(test_cc());
    // With the working directory relocated both trees have the same
    // pre-key: only the header list tells them apart.
    let s = Sandbox::new().env("CARGO_GOCACHE_MAP_CWD", "1");
    for (tree, x) in [("t1", "1"), ("t2", "2")] {
        s.write(&format!("{tree}/src/a.c"), MAIN_C);
        s.write(&format!("{tree}/inc/x.h"), &format!("#define X {x}\n"));
    }
    let args = ["-Iinc", "-c", "src/a.c", "-o", "a.o"];
    assert_eq!(s.check("t1", &args, "a.o"), "miss");
    assert_eq!(s.check("t2", &args, "a.o"), "miss");
    assert_ne!(
        fs::read(s.path("t1/a.o")).unwrap(),
        fs::read(s.path("t2/a.o")).unwrap()
    );
    assert_eq!(s.check("t1", &args, "a.o"), "hit");
    assert_eq!(s.check("t2", &args, "a.o"), "hit");
}

#[test]
fn include_dot_with_different_working_directories() {
    require_tool(test_cc());
    for relocated in [false, true] {
        let mut s = Sandbox::new();
        if relocated {
            // Same pre-key from both directories: the manifest decides.
            s = s.env("CARGO_GOCACHE_MAP_CWD", "1");
        }
        s.write("common/a.c", "#include <x.h>\nint f(void) { return X; }\n");
        s.write("d1/x.h", "#define X 1\n");
        s.write("d2/x.h", "#define X 2\n");
        let src = s.path("common/a.c");
        let args = ["-I.", "-c", src.to_str().unwrap(), "-o", "a.o"];
        assert_eq!(s.check("d1", &args, "a.o"), "miss");
        assert_eq!(s.check("d2", &args, "a.o"), "miss");
        assert_eq!(s.check("d1", &args, "a.o"), "hit");
        assert_eq!(s.check("d2", &args, "a.o"), "hit");
    }
}

#[test]
fn compile_error_passes_through_exactly() {
    require_tool(test_cc());
    let s = Sandbox::new();
    s.write("a.c", "int f(void) { return undeclared; }\n");
    let args = ["-c", "a.c", "-o", "a.o"];
    let cached = s.gocache(".", &args).output().unwrap();
    let plain = Command::new(test_cc())
        .args(args)
        .current_dir(s.root())
        .output()
        .unwrap();
    assert_eq!(cached.status.code(), plain.status.code());
    assert_ne!(plain.status.code(), Some(0));
    assert_eq!(cached.stdout, plain.stdout);
    assert_eq!(
        String::from_utf8_lossy(&cached.stderr),
        String::from_utf8_lossy(&plain.stderr)
    );
    assert_eq!(s.last_event(), "uncacheable:compile-error");
    // Never cached: the second run compiles (and fails) again.
    let again = s.gocache(".", &args).output().unwrap();
    assert_eq!(again.stderr, plain.stderr);
    assert_eq!(s.last_event(), "uncacheable:compile-error");
}

#[test]
fn depfile_restored_on_hit_names_this_builds_paths() {
    require_tool(test_cc());
    let s = Sandbox::new();
    for tree in ["A", "B"] {
        s.write(&format!("{tree}/src/a.c"), MAIN_C);
        s.write(&format!("{tree}/inc/x.h"), "#define X 1\n");
        fs::create_dir_all(s.path(&format!("{tree}/out"))).unwrap();
    }
    let compile = |tree: &str, dep: &[&str]| {
        let root = s.path(tree);
        let inc = format!("-I{}/inc", root.display());
        let src = format!("{}/src/a.c", root.display());
        let mut args = vec![inc.as_str(), "-c", src.as_str(), "-o", "out/a.o"];
        args.extend(dep);
        let mut cmd = s.gocache(tree, &args);
        cmd.env("CARGO_MANIFEST_DIR", &root)
            .env("CARGO_PKG_NAME", "demo")
            .env("CARGO_PKG_VERSION", "1.0.0");
        run_ok(&mut cmd);
        let text = fs::read_to_string(root.join("out/a.d")).unwrap();
        (
            s.last_event(),
            cargo_gocache::direct::depfile::parse(&text).unwrap(),
        )
    };
    let (event, a) = compile("A", &["-MD", "-MF", "out/a.d", "-MT", "obj/a.o"]);
    assert_eq!(event, "miss");
    let (event, b) = compile("B", &["-MD", "-MF", "out/a.d", "-MT", "obj/a.o"]);
    assert_eq!(event, "hit");
    assert_eq!(b.targets, [PathBuf::from("obj/a.o")]);
    let root_b = s.path("B");
    assert_eq!(b.prerequisites[0], root_b.join("src/a.c"));
    assert!(b.prerequisites.contains(&root_b.join("inc/x.h")), "{b:?}");
    if test_cc() == "gcc" {
        // gcc includes it in every compile; clang does not.
        assert!(b
            .prerequisites
            .contains(&PathBuf::from("/usr/include/stdc-predef.h")));
    }
    assert!(
        !b.prerequisites.iter().any(|p| p.starts_with(s.path("A"))),
        "{b:?}"
    );
    assert_eq!(a.prerequisites.len(), b.prerequisites.len());
    // -MMD leaves out system headers, and the default target is the object.
    // Its list is gcc's to make (a miss of its own; see compile.rs), and a
    // hit replays it.
    let (event, m) = compile("A", &["-MMD"]);
    assert_eq!(event, "miss");
    assert_eq!(m.prerequisites.len(), 2, "{m:?}");
    let (event, m) = compile("B", &["-MMD"]);
    assert_eq!(event, "hit");
    assert_eq!(m.targets, [PathBuf::from("out/a.o")]);
    assert_eq!(
        m.prerequisites,
        [root_b.join("src/a.c"), root_b.join("inc/x.h")]
    );
}

#[test]
fn time_macro_not_served_stale_but_cached_with_source_date_epoch() {
    require_tool(test_cc());
    let s = Sandbox::new();
    s.write("a.c", "const char *t = __TIME__;\n");
    let args = ["-c", "a.c"];
    run_ok(&mut s.gocache(".", &args));
    assert_eq!(s.last_event(), "uncacheable:time-macros");
    run_ok(&mut s.gocache(".", &args));
    assert_eq!(s.last_event(), "uncacheable:time-macros");
    let s = s.env("SOURCE_DATE_EPOCH", "1700000000");
    if honours_source_date_epoch() {
        assert_eq!(s.check(".", &args, "a.o"), "miss");
        assert_eq!(s.check(".", &args, "a.o"), "hit");
    } else {
        // Found running this test with clang 14, which ignores the
        // variable: its `__TIME__` was cached, and a hit served it stale.
        for _ in 0..2 {
            run_ok(&mut s.gocache(".", &args));
            assert_eq!(s.last_event(), "uncacheable:time-macros");
        }
    }
}

/// gcc reads `SOURCE_DATE_EPOCH` (since 7), clang only since 16.
fn honours_source_date_epoch() -> bool {
    let out = Command::new(test_cc()).arg("--version").output().unwrap();
    let v = String::from_utf8_lossy(&out.stdout).to_string();
    match v.split_once("clang version ") {
        Some((_, rest)) => rest
            .split('.')
            .next()
            .and_then(|m| m.parse::<u32>().ok())
            .is_some_and(|m| m >= 16),
        None => true,
    }
}

#[test]
fn warnings_replayed_on_hit() {
    require_tool(test_cc());
    let s = Sandbox::new();
    s.write("a.c", "int f(void) { int unused; return 0; }\n");
    let args = ["-Wall", "-c", "a.c"];
    assert_eq!(s.check(".", &args, "a.o"), "miss");
    let out = run_ok(&mut s.gocache(".", &args));
    assert_eq!(s.last_event(), "hit");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unused variable"), "{stderr}");
    // check() compares the hit's stderr with the uncached compile's.
    assert_eq!(s.check(".", &args, "a.o"), "hit");
}

#[test]
fn preprocessed_assembly_cached() {
    require_tool(test_cc());
    let s = Sandbox::new();
    s.write("n.h", "#define N 42\n");
    s.write(
        "f.S",
        "#include \"n.h\"\n.text\n.globl f\nf:\n  movl $N, %eax\n  ret\n",
    );
    assert_eq!(s.check(".", &["-c", "f.S", "-o", "f.o"], "f.o"), "miss");
    assert_eq!(s.check(".", &["-c", "f.S", "-o", "f.o"], "f.o"), "hit");
    s.write("n.h", "#define N 43\n");
    assert_eq!(s.check(".", &["-c", "f.S", "-o", "f.o"], "f.o"), "miss");
}

#[test]
fn link_and_preprocess_pass_through_with_reason() {
    require_tool(test_cc());
    let s = Sandbox::new();
    s.write("m.c", "int main(void) { return 0; }\n");
    run_ok(&mut s.gocache(".", &["-c", "m.c"]));
    run_ok(&mut s.gocache(".", &["m.o", "-o", "prog"]));
    assert_eq!(s.last_event(), "uncacheable:link");
    assert!(s.path("prog").is_file());
    let pre = run_ok(&mut s.gocache(".", &["-E", "m.c"]));
    assert_eq!(s.last_event(), "uncacheable:-E");
    let plain = Command::new(test_cc())
        .args(["-E", "m.c"])
        .current_dir(s.root())
        .output()
        .unwrap();
    assert_eq!(pre.stdout, plain.stdout);
    let stats = Command::new(bin())
        .args(["gocache", "stats", "--json"])
        .env("CARGO_GOCACHE_DIR", s.store())
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&stats.stdout).unwrap();
    assert_eq!(json["uncacheable"]["link"], 1, "{json}");
    assert_eq!(json["uncacheable"]["-E"], 1, "{json}");
    assert_eq!(json["misses"], 1, "{json}");
}

#[test]
fn damaged_store_still_builds() {
    require_tool(test_cc());
    let s = Sandbox::new();
    s.write("a.c", "int f(void) { return 1; }\n");
    let args = ["-c", "a.c"];
    // Every output damaged: a miss, never a wrong object.
    assert_eq!(s.check(".", &args, "a.o"), "miss");
    for shard in fs::read_dir(s.store()).unwrap().flatten() {
        if shard.path().is_dir() {
            for f in fs::read_dir(shard.path()).unwrap().flatten() {
                if f.file_name().to_string_lossy().ends_with("-d") {
                    fs::write(f.path(), b"garbage").unwrap();
                }
            }
        }
    }
    assert_eq!(s.check(".", &args, "a.o"), "miss");
    assert_eq!(s.check(".", &args, "a.o"), "hit");

    // The store cannot be opened at all (a file where the directory
    // should be): one warning, the build goes on.
    s.write("not-a-dir", "x");
    let bad = s.path("not-a-dir/store");
    fs::remove_file(s.path("a.o")).unwrap();
    let out = run_ok(&mut s.gocache_with(".", bad.to_str().unwrap(), &args));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("gocache: warning: ") && stderr.contains("compiling without the cache"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(s.path("a.o").is_file());

    // Writes fail (the shard directories replaced by files): the compile
    // succeeds, with one warning that the result was not cached.
    let s = Sandbox::new();
    s.write("b.c", "int g(void) { return 2; }\n");
    run_ok(&mut s.gocache(".", &["-c", "b.c"]));
    for shard in fs::read_dir(s.store()).unwrap().flatten() {
        let name = shard.file_name().to_string_lossy().into_owned();
        if shard.path().is_dir() && name.len() == 2 {
            fs::remove_dir_all(shard.path()).unwrap();
            fs::write(shard.path(), b"").unwrap();
        }
    }
    s.write("b.c", "int g(void) { return 3; }\n");
    let out = run_ok(&mut s.gocache(".", &["-c", "b.c"]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("gocache: warning: "), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    let reference = s.reference(".", &["-c", "b.c"], "b.o");
    assert_eq!(fs::read(s.path("b.o")).unwrap(), reference.0);
}

#[test]
fn relocated_objects_are_identical_and_name_no_checkout() {
    require_tool(test_cc());
    let s = Sandbox::new();
    for tree in ["A", "B"] {
        s.write(
            &format!("{tree}/src/a.c"),
            "#include \"x.h\"\n#include <assert.h>\nint f(int a) { assert(a); return X + sizeof(__FILE__); }\n",
        );
        s.write(&format!("{tree}/inc/x.h"), "#define X 1\n");
    }
    let compile = |tree: &str| {
        let root = s.path(tree);
        let inc = format!("-I{}/inc", root.display());
        let src = format!("{}/src/a.c", root.display());
        let args = ["-g", "-O1", inc.as_str(), "-c", src.as_str(), "-o", "a.o"];
        let mut cmd = s.gocache(tree, &args);
        cmd.env("CARGO_MANIFEST_DIR", &root)
            .env("CARGO_PKG_NAME", "demo")
            .env("CARGO_PKG_VERSION", "1.0.0");
        run_ok(&mut cmd);
        (s.last_event(), fs::read(root.join("a.o")).unwrap())
    };
    let (ea, a) = compile("A");
    let (eb, b) = compile("B");
    assert_eq!((ea.as_str(), eb.as_str()), ("miss", "hit"));
    assert!(a == b, "objects built in A and B differ");
    let text = String::from_utf8_lossy(&a);
    assert!(
        !text.contains(s.root().to_str().unwrap()),
        "object names the checkout"
    );
    assert!(text.contains("/gocache/pkg/demo-1.0.0/src/a.c"));
    // And it is what a fresh compile in B with the same mapping produces.
    let root = s.path("B");
    let plain = Command::new(test_cc())
        .arg(format!(
            "-ffile-prefix-map={}=/gocache/pkg/demo-1.0.0",
            root.display()
        ))
        .args(["-g", "-O1"])
        .arg(format!("-I{}/inc", root.display()))
        .arg("-c")
        .arg(root.join("src/a.c"))
        .args(["-o", "plain.o"])
        .current_dir(&root)
        .output()
        .unwrap();
    assert!(plain.status.success());
    assert!(fs::read(root.join("plain.o")).unwrap() == b);
}

/// A fake gcc that records its argv, for exact checks of what the wrapper
/// adds and removes.
fn fake_compiler(s: &Sandbox) -> PathBuf {
    let path = s.path("fakecc");
    s.write(
        "fakecc",
        r#"#!/bin/sh
case "$1" in --version) echo "gcc (fake) 12.0.0"; exit 0;; esac
[ "$1" = "-print-search-dirs" ] && exit 0
for a in "$@"; do [ "$a" = "-v" ] && { [ -n "$FAKECC_NO_SEARCH_LIST" ] && exit 1; printf '#include <...> search starts here:\n /usr/include\nEnd of search list.\n' >&2; exit 0; }; done
# Preprocessing runs (a lookup asks which macros were used) are listed apart.
for a in "$@"; do [ "$a" = "-E" ] && { echo "$*" >> "$(dirname "$0")/preprocess.txt"; exit 0; }; done
printf '%s\n' "$@" > "$(dirname "$0")/argv.txt"
echo compile >> "$(dirname "$0")/calls.txt"
out=""; mf=""; src=""; prev=""
for a in "$@"; do
  case "$prev" in -o) out="$a";; -MF) mf="$a";; esac
  case "$a" in *.c) src="$a";; esac
  prev="$a"
done
echo "object of $src" > "$out"
[ -n "$mf" ] && echo "$out: $src" > "$mf"
exit 0
"#,
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    }
    path
}

#[test]
fn fake_compiler_sees_exact_arguments() {
    let s = Sandbox::new();
    let cc = fake_compiler(&s);
    s.write("a.c", "int x;\n");
    let argv = || fs::read_to_string(s.path("argv.txt")).unwrap();
    let run = |store: &str, args: &[&str]| {
        let mut cmd = Command::new(bin());
        cmd.arg(&cc).args(args).current_dir(s.root());
        crate::support::scrub(&mut cmd);
        cmd.env("CARGO_GOCACHE_DIR", store)
            .env("CARGO_GOCACHE_CARGO_HOME", "/nonexistent-cargo-home");
        run_ok(&mut cmd)
    };
    let store = s.store();
    let store = store.to_str().unwrap();
    // A `-D` holding the mapped cargo home (see the -E -dU run below).
    let with_path_define = [
        "-c",
        "a.c",
        "-o",
        "a.o",
        "-MD",
        "-MF",
        "my.d",
        "-DX=/nonexistent-cargo-home/x",
    ];
    // Off: untouched.
    run("off", &with_path_define);
    assert_eq!(
        argv(),
        "-c\na.c\n-o\na.o\n-MD\n-MF\nmy.d\n-DX=/nonexistent-cargo-home/x\n"
    );
    // Uncacheable: untouched.
    run(store, &["a.c", "-o", "prog", "-MD"]);
    assert_eq!(argv(), "a.c\n-o\nprog\n-MD\n");
    // A miss: relocation first, the caller's dependency options replaced by ours.
    run(store, &with_path_define);
    let got = argv();
    let lines: Vec<&str> = got.lines().collect();
    assert_eq!(
        lines[0],
        "-ffile-prefix-map=/nonexistent-cargo-home=/gocache/cargo-home"
    );
    assert_eq!(
        &lines[1..6],
        ["-c", "a.c", "-o", "a.o", "-DX=/nonexistent-cargo-home/x"]
    );
    // A miss also asks the compiler to say when it expands a time macro.
    assert_eq!(&lines[6..8], ["-Wdate-time", "-Wno-error=date-time"]);
    assert_eq!(lines[8], "-MD");
    assert_eq!(lines[9], "-MF");
    assert!(lines[10].ends_with(".d") && lines[10] != "my.d", "{got}");
    assert_eq!(lines.len(), 11, "{got}");
    assert_eq!(fs::read_to_string(s.path("my.d")).unwrap(), "a.o: a.c\n");
    // With a `-D` whose value holds a mapped directory, a miss that runs
    // no preprocessing for its depfile does not ask gcc which macros the
    // compile used (cmdline::macros): its entry keeps every value.
    assert!(!s.path("preprocess.txt").exists());
    // A hit runs nothing.
    fs::remove_file(s.path("argv.txt")).unwrap();
    fs::remove_file(s.path("a.o")).unwrap();
    run(store, &with_path_define);
    assert!(!s.path("argv.txt").exists());
    assert!(!s.path("preprocess.txt").exists());
    assert_eq!(
        fs::read_to_string(s.path("a.o")).unwrap(),
        "object of a.c\n"
    );
    // Another value (a second checkout): the lookup asks gcc which macros
    // the compile uses, and which it predefines; none (this compiler
    // says nothing), so the entry serves it without a compile.
    let mut other = with_path_define;
    other[7] = "-DX=/nonexistent-cargo-home/other";
    run(store, &other);
    assert!(!s.path("argv.txt").exists());
    let pre = fs::read_to_string(s.path("preprocess.txt")).unwrap();
    assert!(
        pre.lines()
            .any(|l| l.contains("-c a.c -DX=/nonexistent-cargo-home/other -E -dU")),
        "{pre}"
    );
    assert!(
        pre.lines()
            .any(|l| l.ends_with("-c -x c /dev/null -E -dD") && !l.contains("-DX")),
        "{pre}"
    );
    assert_eq!(pre.lines().count(), 2, "{pre}");
    // Recorded again with that value: the next lookup asks nothing.
    run(store, &other);
    assert_eq!(fs::read_to_string(s.path("preprocess.txt")).unwrap(), pre);
    // A `-D` value with no machine path stays in the pre-key: the miss
    // runs no preprocessing.
    run(store, &["-c", "a.c", "-o", "a.o", "-DY=1"]);
    assert!(argv().lines().any(|l| l == "-DY=1"));
    assert_eq!(fs::read_to_string(s.path("preprocess.txt")).unwrap(), pre);
}

/// Files older than the racy-stamp window (2 s) are trusted by stamp: the
/// memo and the steady-hit snapshot must still see every edit, new header
/// and removal.
#[test]
fn settled_files_remembered_by_stamp_still_see_changes() {
    require_tool(test_cc());
    let settle = || std::thread::sleep(std::time::Duration::from_millis(2200));
    let s = Sandbox::new();
    s.write("src/a.c", MAIN_C);
    s.write("inc2/x.h", "#define X 2\n");
    fs::create_dir_all(s.path("inc1")).unwrap();
    let args = ["-Iinc1", "-Iinc2", "-c", "src/a.c", "-o", "a.o"];
    settle();
    assert_eq!(s.check(".", &args, "a.o"), "miss");
    assert_eq!(s.check(".", &args, "a.o"), "hit"); // learns stamps
    assert_eq!(s.check(".", &args, "a.o"), "hit"); // from the snapshot
                                                   // Shadowed earlier in the include path.
    s.write("inc1/x.h", "#define X 1\n");
    assert_eq!(s.check(".", &args, "a.o"), "miss");
    fs::remove_file(s.path("inc1/x.h")).unwrap();
    settle();
    assert_eq!(s.check(".", &args, "a.o"), "hit");
    assert_eq!(s.check(".", &args, "a.o"), "hit");
    // Edited in place, same size.
    s.write("inc2/x.h", "#define X 3\n");
    assert_eq!(s.check(".", &args, "a.o"), "miss");
    settle();
    assert_eq!(s.check(".", &args, "a.o"), "hit");
    assert_eq!(s.check(".", &args, "a.o"), "hit");
    // Shadowed beside the including file.
    s.write("src/x.h", "#define X 4\n");
    assert_eq!(s.check(".", &args, "a.o"), "miss");
    // The source edited.
    settle();
    assert_eq!(s.check(".", &args, "a.o"), "hit");
    s.write(
        "src/a.c",
        "#include \"x.h\"\nint f(void) { return X + 1; }\n",
    );
    assert_eq!(s.check(".", &args, "a.o"), "miss");
}

#[test]
fn panic_in_wrapper_falls_back_to_the_compiler() {
    require_tool(test_cc());
    let s = Sandbox::new().env("CARGO_GOCACHE_DEBUG", "panic");
    s.write("a.c", "int f(void) { return 1; }\n");
    let out = run_ok(&mut s.gocache(".", &["-c", "a.c"]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr,
        "gocache: warning: internal error (panic: injected by CARGO_GOCACHE_DEBUG=panic); \
         compiling without the cache\n"
    );
    assert_eq!(s.last_event(), "error:panic");
    let reference = s.reference(".", &["-c", "a.c"], "a.o");
    assert_eq!(fs::read(s.path("a.o")).unwrap(), reference.0);
}

#[test]
fn forced_include_shadowed_in_working_directory() {
    require_tool(test_cc());
    // gcc looks for an -include file in the working directory first.
    let s = Sandbox::new();
    s.write("src/a.c", "int f(void) { return X; }\n");
    s.write("inc/cfg.h", "#define X 1\n");
    let args = ["-include", "cfg.h", "-Iinc", "-c", "src/a.c", "-o", "a.o"];
    assert_eq!(s.check(".", &args, "a.o"), "miss");
    assert_eq!(s.check(".", &args, "a.o"), "hit");
    s.write("cfg.h", "#define X 2\n");
    assert_eq!(s.check(".", &args, "a.o"), "miss");
}

/// A hit renames a file into place: for `-o /dev/null` that would replace
/// the device node, and for a symlinked depfile it would replace the link
/// that gcc writes through. Such outputs run the compiler untouched. (The
/// test uses a directory and a symlink, never /dev/null itself: a
/// regression must not break the machine.)
#[cfg(unix)]
#[test]
fn outputs_that_are_not_regular_files_are_not_cached() {
    require_tool(test_cc());
    let s = Sandbox::new();
    s.write("a.c", "int f(void) { return 1; }\n");
    fs::create_dir_all(s.path("outdir")).unwrap();
    let out = s
        .gocache(".", &["-c", "a.c", "-o", "outdir"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert_eq!(s.last_event(), "uncacheable:special-output");
    assert!(s.path("outdir").is_dir());

    s.write("real/dep.d", "");
    std::os::unix::fs::symlink(s.path("real/dep.d"), s.path("dep.d")).unwrap();
    for _ in 0..2 {
        run_ok(&mut s.gocache(".", &["-c", "a.c", "-MD", "-MF", "dep.d"]));
        assert_eq!(s.last_event(), "uncacheable:special-output");
        let meta = fs::symlink_metadata(s.path("dep.d")).unwrap();
        assert!(meta.file_type().is_symlink());
        assert!(fs::metadata(s.path("real/dep.d")).unwrap().len() > 0);
    }

    // A symlinked object is replaced by gcc's assembler too: cached alike.
    s.write("real/b.o", "");
    std::os::unix::fs::symlink(s.path("real/b.o"), s.path("b.o")).unwrap();
    assert_eq!(s.check(".", &["-c", "a.c", "-o", "b.o"], "b.o"), "miss");
}

#[test]
fn unknown_search_path_is_not_cached_and_compiles_once() {
    let s = Sandbox::new();
    let cc = fake_compiler(&s);
    s.write("a.c", "int x;\n");
    let mut cmd = Command::new(bin());
    cmd.arg(&cc)
        .args(["-c", "a.c", "-o", "a.o", "-MMD"])
        .current_dir(s.root());
    crate::support::scrub(&mut cmd);
    cmd.env("CARGO_GOCACHE_DIR", s.store())
        .env("FAKECC_NO_SEARCH_LIST", "1");
    let out = run_ok(&mut cmd);
    assert_eq!(out.stderr, b"");
    assert_eq!(s.last_event(), "uncacheable:unknown-search-path");
    assert_eq!(
        fs::read_to_string(s.path("calls.txt")).unwrap(),
        "compile\n"
    );
    assert_eq!(fs::read_to_string(s.path("a.d")).unwrap(), "a.o: a.c\n");
}

/// The depfile gocache adds must never be what fails a compile: with no
/// usable temporary directory it goes beside the object, and is removed.
#[test]
fn unusable_temp_dir_does_not_fail_the_compile() {
    require_tool(test_cc());
    let s = Sandbox::new().env("TMPDIR", "/nonexistent-gocache-tmp");
    s.write("a.c", "int f(void) { return 1; }\n");
    s.write("out/.keep", "");
    assert_eq!(
        s.check(".", &["-c", "a.c", "-o", "out/a.o"], "out/a.o"),
        "miss"
    );
    let mut left: Vec<_> = fs::read_dir(s.path("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, [".keep", "a.o"]);
}

/// openssl's Configure probes the assembler for `--noexecstack` with
/// `cc -Wa,--help -c -o null.$$.o -x assembler /dev/null`: `as` prints its
/// help and exits 0 without writing the object. The wrapper read the missing
/// object and recorded a cache fault; it is an uncacheable compile.
#[test]
fn assembler_help_probe_writes_no_object() {
    require_tool("gcc");
    let sb = Sandbox::new();
    sb.write("w/.keep", "");
    for (args, reason) in [
        // Refused up front: a stale file at `-o` is never its result.
        (
            &[
                "-Wa,--help",
                "-c",
                "-o",
                "null.1.o",
                "-x",
                "assembler",
                "/dev/null",
            ][..],
            "uncacheable:assembler-info",
        ),
        // Any other spelling: `/dev/null` is not a regular source, so the
        // compiler runs untouched (the `no-object` check after a compile is
        // the backstop for regular sources).
        (
            &[
                "-Xassembler",
                "--help",
                "-c",
                "-o",
                "null.2.o",
                "-x",
                "assembler",
                "/dev/null",
            ][..],
            "uncacheable:special-source",
        ),
    ] {
        // gcc's driver and GNU as, whatever GOCACHE_TEST_CC says: this is
        // how openssl's Configure probes gas (clang's integrated assembler
        // rejects `--help`).
        let mut cmd = std::process::Command::new(bin());
        cmd.arg("gcc").args(args).current_dir(sb.path("w"));
        crate::support::scrub(&mut cmd);
        cmd.env("CARGO_GOCACHE_DIR", sb.store());
        let out = run_ok(&mut cmd);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stdout.contains("--noexecstack") || stderr.contains("--noexecstack"),
            "{args:?}: the assembler's help must reach the caller\n{stdout}\n{stderr}"
        );
        assert!(!stderr.contains("gocache:"), "{args:?}: {stderr}");
        assert_eq!(sb.last_event(), reason, "{args:?}");
    }
}
