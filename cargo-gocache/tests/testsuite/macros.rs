//! Command-line macros (issue 22): the value of a `-D` is in a compile's
//! key only where the compile uses the macro (gcc's `-E -dU` says which;
//! see `cmdline::macros`). Every test here compares the cached result with
//! the same compile run without the cache (object bytes and diagnostics),
//! so a corner that the key got wrong shows as a wrong object or a wrong
//! warning, whatever the expected hit or miss says.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cargo_gocache::stats::{read_events, Outcome};

use crate::support::{bin, output_ok, require_tool, write_settled};

/// A cargo home nothing else names: mapped by the key, and absent from
/// the debug info of a sandbox's objects, so they stay equal to uncached
/// ones.
const MAPPED_HOME: &str = "/gocache-test-cargo-home";

struct Sandbox {
    dir: tempfile::TempDir,
    compiler: &'static str,
    /// Name [`MAPPED_HOME`] as the cargo home, a directory the key maps.
    mapped: bool,
}

impl Sandbox {
    fn new(compiler: &'static str) -> Sandbox {
        require_tool(compiler);
        Sandbox {
            dir: tempfile::tempdir().unwrap(),
            compiler,
            mapped: false,
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn write(&self, rel: &str, text: &str) {
        write_settled(&self.path(rel), text);
    }

    fn command(&self, store: &Path, args: &[impl AsRef<std::ffi::OsStr>]) -> Command {
        let mut cmd = Command::new(bin());
        cmd.arg(self.compiler)
            .args(args)
            .current_dir(self.dir.path());
        crate::support::scrub(&mut cmd);
        cmd.env("CARGO_GOCACHE_DIR", store);
        if self.mapped {
            cmd.env("CARGO_GOCACHE_CARGO_HOME", MAPPED_HOME);
        }
        cmd
    }

    fn last_event(&self) -> String {
        let events = read_events(&self.path("store/stats/events.log"));
        match events.last().map(|e| &e.outcome) {
            Some(Outcome::Hit) => "hit".into(),
            Some(Outcome::Miss) => "miss".into(),
            Some(Outcome::Uncacheable(r)) => format!("uncacheable:{r}"),
            Some(other) => format!("{other:?}"),
            None => "none".into(),
        }
    }

    /// Compile `args` (writing `a.o`) through the cache, then without it;
    /// assert the object and stderr are the same; the cached compile's event.
    #[track_caller]
    fn check(&self, args: &[impl AsRef<std::ffi::OsStr> + std::fmt::Debug]) -> String {
        let out = output_ok(&mut self.command(&self.path("store"), args));
        let event = self.last_event();
        let cached = fs::read(self.path("a.o")).unwrap();
        let reference: Output = output_ok(&mut self.command(Path::new("off"), args));
        let plain = fs::read(self.path("a.o")).unwrap();
        assert!(
            cached == plain,
            "{args:?}: the cached object ({event}) differs from the uncached one"
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&reference.stderr),
            "{args:?}: stderr ({event}) differs from the uncached compile's"
        );
        event
    }
}

/// One corner: files, then the same compile with two command lines.
struct Corner {
    name: &'static str,
    files: &'static [(&'static str, &'static str)],
    first: &'static [&'static str],
    second: &'static [&'static str],
    /// What the second compile must be.
    expect: &'static str,
}

const CORNERS: &[Corner] = &[
    Corner {
        name: "a value no line uses does not split the cache",
        files: &[("a.c", "int f(void) { return 1; }\n")],
        first: &["-DDATADIR=\"/one/x\""],
        second: &["-DDATADIR=\"/two/x\""],
        expect: "hit",
    },
    Corner {
        name: "a value the source expands",
        files: &[("a.c", "const char *d(void) { return DATADIR; }\n")],
        first: &["-DDATADIR=\"/one/x\""],
        second: &["-DDATADIR=\"/two/x\""],
        expect: "miss",
    },
    Corner {
        name: "a macro made by token pasting",
        files: &[(
            "a.c",
            "#define CAT(a, b) a##b\nconst char *d(void) { return CAT(DATA, DIR); }\n",
        )],
        first: &["-DDATADIR=\"/one/x\""],
        second: &["-DDATADIR=\"/two/x\""],
        expect: "miss",
    },
    Corner {
        // gcc does not report it (stringizing does not expand), but the
        // name is spelled in a file read, where a `#define` of it would
        // compare with the command line's value: kept, by the textual rule.
        name: "a name stringized, never expanded, but spelled in the source",
        files: &[(
            "a.c",
            "#define STR(x) #x\nconst char *d(void) { return STR(DATADIR); }\n",
        )],
        first: &["-DDATADIR=\"/one/x\""],
        second: &["-DDATADIR=\"/two/x\""],
        expect: "miss",
    },
    Corner {
        name: "a name stringized where it is not spelled: unused, not keyed",
        files: &[(
            "a.c",
            "#define STR(x) #x\n#define NAME(a, b) STR(a##b)\nconst char *d(void) { return NAME(DATA, DIR); }\n",
        )],
        first: &["-DDATADIR=\"/one/x\""],
        second: &["-DDATADIR=\"/two/x\""],
        expect: "hit",
    },
    Corner {
        name: "a macro expanded through another's argument (XSTR)",
        files: &[(
            "a.c",
            "#define STR(x) #x\n#define XSTR(x) STR(x)\nconst char *d(void) { return XSTR(LEVEL); }\n",
        )],
        first: &["-DLEVEL=1"],
        second: &["-DLEVEL=2"],
        expect: "miss",
    },
    Corner {
        name: "a macro reached only through another command-line macro",
        files: &[("a.c", "int f(void) { return A; }\n")],
        first: &["-DA=B", "-DB=1"],
        second: &["-DA=B", "-DB=2"],
        expect: "miss",
    },
    Corner {
        name: "#if in a header",
        files: &[
            ("a.c", "#include \"h.h\"\nint f(void) { return V; }\n"),
            ("h.h", "#if LEVEL > 1\n#define V 2\n#else\n#define V 1\n#endif\n"),
        ],
        first: &["-DLEVEL=1"],
        second: &["-DLEVEL=2"],
        expect: "miss",
    },
    Corner {
        name: "#ifdef in a header",
        files: &[
            ("a.c", "#include \"h.h\"\nint f(void) { return V; }\n"),
            ("h.h", "#ifdef FEATURE\n#define V FEATURE\n#else\n#define V 0\n#endif\n"),
        ],
        first: &["-DFEATURE=1"],
        second: &["-DFEATURE=2"],
        expect: "miss",
    },
    Corner {
        name: "defined() in #if, value changed",
        files: &[("a.c", "#if defined(FEATURE) && FEATURE > 1\nint f(void) { return 2; }\n#else\nint f(void) { return 1; }\n#endif\n")],
        first: &["-DFEATURE=1"],
        second: &["-DFEATURE=2"],
        expect: "miss",
    },
    Corner {
        name: "a name given twice: the last wins",
        files: &[("a.c", "int f(void) { return X; }\n")],
        first: &["-DX=1", "-DX=2"],
        second: &["-DX=1", "-DX=3"],
        expect: "miss",
    },
    Corner {
        name: "a name given twice and unused: the redefinition warning depends on both values",
        files: &[("a.c", "int f(void) { return 0; }\n")],
        first: &["-DX=2", "-DX=2"],
        second: &["-DX=1", "-DX=2"],
        expect: "miss",
    },
    Corner {
        name: "-U after -D",
        files: &[("a.c", "#ifdef X\nint f(void) { return X; }\n#else\nint f(void) { return 0; }\n#endif\n")],
        first: &["-DX=1", "-UX"],
        second: &["-DX=2", "-UX"],
        expect: "miss",
    },
    Corner {
        name: "an -include file that tests the macro",
        files: &[
            ("a.c", "int f(void) { return V; }\n"),
            ("cfg.h", "#if LEVEL > 1\n#define V 2\n#else\n#define V 1\n#endif\n"),
        ],
        first: &["-include", "cfg.h", "-DLEVEL=1"],
        second: &["-include", "cfg.h", "-DLEVEL=2"],
        expect: "miss",
    },
    Corner {
        name: "an -imacros file that tests the macro",
        files: &[
            ("a.c", "int f(void) { return V; }\n"),
            ("m.h", "#if LEVEL > 1\n#define V 2\n#else\n#define V 1\n#endif\n"),
        ],
        first: &["-imacros", "m.h", "-DLEVEL=1"],
        second: &["-imacros", "m.h", "-DLEVEL=2"],
        expect: "miss",
    },
    Corner {
        name: "redefined in the source, never used: the warning depends on the value",
        files: &[("a.c", "#define R 5\nint f(void) { return 0; }\n")],
        first: &["-DR=5"],
        second: &["-DR=4"],
        expect: "miss",
    },
    Corner {
        name: "tested, then redefined in the source",
        files: &[(
            "a.c",
            "#if R > 1\nint g(void) { return 2; }\n#endif\n#undef R\n#define R 7\nint f(void) { return R; }\n",
        )],
        first: &["-DR=1"],
        second: &["-DR=2"],
        expect: "miss",
    },
    Corner {
        name: "redefining a predefined macro: silent with its value, a warning with another",
        files: &[("a.c", "int f(void) { return 0; }\n")],
        first: &["-std=gnu11", "-Dlinux=1"],
        second: &["-std=gnu11", "-Dlinux=2"],
        expect: "miss",
    },
    Corner {
        name: "function-like against object-like: the source's plain name expands only then",
        files: &[("a.c", "int F;\nint f(void) { return F; }\n")],
        first: &["-DF(x)=x"],
        second: &["-DF=g"],
        expect: "miss",
    },
    Corner {
        name: "an expanding pragma (#pragma message)",
        files: &[("a.c", "#pragma message MSG\nint f(void) { return 0; }\n")],
        first: &["-DMSG=\"one\""],
        second: &["-DMSG=\"two\""],
        expect: "miss",
    },
    Corner {
        name: "_Pragma in a macro",
        files: &[(
            "a.c",
            "#define DO(x) _Pragma(#x)\nDO(message(MSG))\nint f(void) { return 0; }\n",
        )],
        first: &["-DMSG=\"one\""],
        second: &["-DMSG=\"two\""],
        expect: "miss",
    },
    Corner {
        name: "-g3 writes every definition into the object",
        files: &[("a.c", "int f(void) { return 0; }\n")],
        first: &["-g3", "-DDATADIR=\"/one/x\""],
        second: &["-g3", "-DDATADIR=\"/two/x\""],
        expect: "miss",
    },
    Corner {
        name: "a name only in a comment of a header still keeps its value (the scan is textual)",
        files: &[
            ("a.c", "#include \"h.h\"\nint f(void) { return 0; }\n"),
            ("h.h", "/* DATADIR is where data goes */\n"),
        ],
        first: &["-DDATADIR=\"/one/x\""],
        second: &["-DDATADIR=\"/two/x\""],
        expect: "miss",
    },
    Corner {
        name: "assembly through the preprocessor",
        files: &[("a.S", ".globl f\nf:\n.long LEVEL\n")],
        first: &["-DLEVEL=1", "-DUNUSED=1"],
        second: &["-DLEVEL=2", "-DUNUSED=1"],
        expect: "miss",
    },
    Corner {
        name: "assembly through the preprocessor, an unused value",
        files: &[("a.S", ".globl f\nf:\n.long LEVEL\n")],
        first: &["-DLEVEL=1", "-DUNUSED=1"],
        second: &["-DLEVEL=1", "-DUNUSED=2"],
        expect: "hit",
    },
    Corner {
        name: "plain assembly: not preprocessed, gcc hands no -D to as",
        files: &[("a.s", ".globl f\nf:\n.long 1\n")],
        first: &["-g", "-DDATADIR=\"/one/x\"", "-DX=1", "-DX=2", "-D__GNUC__=1"],
        second: &["-g", "-DDATADIR=\"/two/x\"", "-DX=3", "-DX=2", "-D__GNUC__=2"],
        expect: "hit",
    },
];

/// Every corner with real gcc: the first command line compiled (a miss),
/// then the second; each result equal to the uncached compile's, and the
/// second a hit or a miss as the corner says.
///
/// Every command line also defines a macro holding a path the key maps
/// ([`MAPPED_HOME`], named as the cargo home), as
/// openssl's `-DENGINESDIR=<OUT_DIR>/...` does: only then are the values
/// left to the final key (`Compile::keep_macro_values_without_paths`).
#[test]
fn every_macro_corner_with_gcc_matches_the_uncached_compile() {
    let mut failures = Vec::new();
    for c in CORNERS {
        let mut s = Sandbox::new("gcc");
        s.mapped = true;
        for (path, text) in c.files {
            s.write(path, text);
        }
        let source = c.files[0].0;
        let here = format!("-DGOCACHE_SANDBOX=\"{MAPPED_HOME}/data\"");
        let args = |defs: &[&'static str]| -> Vec<String> {
            let mut a = vec!["-O2".to_string(), "-c".to_string(), here.clone()];
            a.extend(defs.iter().map(|d| d.to_string()));
            a.extend([source, "-o", "a.o"].map(String::from));
            a
        };
        assert_eq!(s.check(&args(c.first)), "miss", "{}: first compile", c.name);
        assert_eq!(s.check(&args(c.first)), "hit", "{}: same again", c.name);
        let got = s.check(&args(c.second));
        if got != c.expect {
            failures.push(format!("{}: {got}, expected {}", c.name, c.expect));
        }
        // And back: the first result is still there, and right.
        s.check(&args(c.first));
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Where no `-D` value holds a directory the key maps, every value stays
/// in the pre-key (no preprocessing run on a miss to learn which were
/// used): an unused value that changes is a miss, and both results equal
/// the uncached compile's.
#[test]
fn values_without_a_machine_path_stay_in_the_pre_key() {
    let s = Sandbox::new("gcc");
    s.write("a.c", "int f(void) { return LEVEL; }\n");
    let args = |unused: &'static str| ["-O2", "-c", "-DLEVEL=1", unused, "a.c", "-o", "a.o"];
    assert_eq!(s.check(&args("-DUNUSED=\"/one/x\"")), "miss");
    assert_eq!(s.check(&args("-DUNUSED=\"/one/x\"")), "hit");
    assert_eq!(s.check(&args("-DUNUSED=\"/two/x\"")), "miss");
    assert_eq!(s.check(&args("-DUNUSED=\"/one/x\"")), "hit");
}

/// A compiler that cannot say which macros it used (clang 14 prints
/// nothing for `-dU`) keeps every value in the key.
#[test]
fn clang_keeps_every_value_in_the_key() {
    let s = Sandbox::new("clang");
    s.write("a.c", "int f(void) { return 1; }\n");
    let args = |v: &'static str| vec!["-O2", "-c", v, "a.c", "-o", "a.o"];
    assert_eq!(s.check(&args("-DDATADIR=\"/one/x\"")), "miss");
    assert_eq!(s.check(&args("-DDATADIR=\"/one/x\"")), "hit");
    assert_eq!(s.check(&args("-DDATADIR=\"/two/x\"")), "miss");
}

/// `__has_include` with a macro argument cannot be probed: uncacheable,
/// whatever the macro's value.
#[test]
fn has_include_with_a_macro_argument_is_not_cached() {
    let s = Sandbox::new("gcc");
    s.write(
        "a.c",
        "#if __has_include(HI)\nint f(void) { return 1; }\n#endif\n",
    );
    s.write("h.h", "\n");
    let args = ["-c", "-DHI=\"h.h\"", "a.c", "-o", "a.o"];
    assert_eq!(s.check(&args), "uncacheable:has-include-macro");
}

const DATADIR_BUILD_RS: &str = r#"
fn main() {
    let out = std::env::var("OUT_DIR").unwrap();
    cc::Build::new()
        .file("src/print.c")
        .file("src/other.c")
        .define("DATADIR", format!("\"{out}/x\"").as_str())
        .define("MODULESDIR", format!("\"{out}/m\"").as_str())
        .compile("dd");
}
"#;

const DATADIR_MAIN_RS: &str = r#"
extern "C" {
    fn datadir() -> *const std::os::raw::c_char;
    fn other() -> i32;
}

fn main() {
    let s = unsafe { std::ffi::CStr::from_ptr(datadir()) };
    println!("{} {}", s.to_str().unwrap(), unsafe { other() });
}
"#;

/// Issue 22's test: a build script passes `-DDATADIR="<OUT_DIR>/x"` (and
/// an unused `-DMODULESDIR`) to two sources, one of which prints it. In a
/// second checkout (a copy of the tree, the same store) the other source
/// hits, the printing one misses, the binary prints the second checkout's
/// path, and `explain` says which macro mattered and which did not.
#[test]
fn a_define_naming_the_checkout_misses_only_where_it_is_used() {
    require_tool("gcc");
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let a = dir.path().join("a");
    crate::support::build_dep_crate(&a, "datadir", "cc");
    fs::write(a.join("build.rs"), DATADIR_BUILD_RS).unwrap();
    fs::write(a.join("src/main.rs"), DATADIR_MAIN_RS).unwrap();
    fs::write(
        a.join("src/print.c"),
        "const char *datadir(void) { return DATADIR; }\n",
    )
    .unwrap();
    fs::write(a.join("src/other.c"), "int other(void) { return 42; }\n").unwrap();
    let build = |ws: &Path| {
        let mut cmd = crate::support::gocache(&store);
        cmd.args(["gocache", "build", "--offline"])
            .current_dir(ws)
            .env("CARGO_TARGET_DIR", ws.join("target"));
        crate::support::run(&mut cmd).success();
        let out = crate::support::run(&mut Command::new(ws.join("target/debug/datadir")))
            .success()
            .stdout();
        let stats = crate::e2e::take_stats(&store);
        (out.trim().to_string(), stats)
    };
    let (printed, cold) = build(&a);
    assert!(
        printed.starts_with(&format!("{}/target/debug/build/datadir-", a.display()))
            && printed.ends_with("/out/x 42"),
        "{printed}"
    );
    assert_eq!(
        (cold["hits"].as_u64(), cold["misses"].as_u64()),
        (Some(0), Some(2)),
        "{cold}"
    );

    let b = dir.path().join("b");
    crate::support::copy_tree(&a, &b);
    let (printed, now) = build(&b);
    assert!(
        printed.starts_with(&format!("{}/target/debug/build/datadir-", b.display()))
            && printed.ends_with("/out/x 42"),
        "the second checkout's binary prints its own path: {printed}"
    );
    assert_eq!(
        (now["hits"].as_u64(), now["misses"].as_u64()),
        (Some(1), Some(1)),
        "other.c hits, print.c misses: {now}"
    );
    let explain = crate::support::run(
        crate::support::gocache(&store)
            .args(["gocache", "explain"])
            .current_dir(&b),
    )
    .success()
    .stdout();
    let miss = explain
        .split("miss: ")
        .find(|m| m.contains("print.c"))
        .unwrap_or_else(|| panic!("no miss of print.c in:\n{explain}"));
    assert!(!explain.contains("other.c"), "{explain}");
    let changes: Vec<&str> = miss.lines().skip(1).map(str::trim).collect();
    let used = format!(
        "macro DATADIR changed: \"{}/target/debug/build/",
        a.display()
    );
    assert!(
        changes
            .iter()
            .any(|c| c.starts_with(&used) && c.ends_with("/out/x\" (used by this compile)")),
        "{explain}"
    );
    assert!(
        changes
            .iter()
            .any(|c| c.starts_with("macro MODULESDIR changed: ")
                && c.ends_with("(not used by this compile: did not matter)")),
        "{explain}"
    );

    // Back in the first checkout, after `cargo clean`: both hit, and the
    // binary prints the first checkout's path again.
    fs::remove_dir_all(a.join("target")).unwrap();
    let (printed, again) = build(&a);
    assert!(printed.starts_with(&a.display().to_string()), "{printed}");
    assert_eq!(
        (again["hits"].as_u64(), again["misses"].as_u64()),
        (Some(2), Some(0)),
        "{again}"
    );
}

/// A miss that runs no preprocessing pass keeps every value in its entry
/// (see `Miss::run`): the first lookup with other values asks gcc then
/// (the `values-asked` step) and, for unused values, serves the entry and
/// records it again without them, so that no value of theirs asks again. A used value is never served across, and a
/// name a header spells keeps its value whatever gcc says.
#[test]
fn a_lookup_with_other_values_asks_once_then_hits_directly() {
    let mut s = Sandbox::new("gcc");
    s.mapped = true;
    s.write("a.c", "#include \"h.h\"\nint f(void) { return USED; }\n");
    s.write("h.h", "/* SPELLED is named here */\n");
    let store = s.path("store");
    let run = |unused: &str, spelled: &str, used: &str| -> (String, bool) {
        let args = [
            "-O2".to_string(),
            "-c".to_string(),
            format!("-DHERE=\"{MAPPED_HOME}/{unused}\""),
            format!("-DSPELLED=\"{MAPPED_HOME}/{spelled}\""),
            format!("-DUSED={used}"),
            "a.c".to_string(),
            "-o".to_string(),
            "a.o".to_string(),
        ];
        let out = output_ok(
            s.command(&store, &args)
                .env("CARGO_GOCACHE_DEBUG", "miss-phases"),
        );
        let asked = String::from_utf8_lossy(&out.stderr).contains("gocache: phase values-asked");
        let cached = fs::read(s.path("a.o")).unwrap();
        output_ok(&mut s.command(Path::new("off"), &args));
        assert_eq!(cached, fs::read(s.path("a.o")).unwrap(), "{args:?}");
        (s.last_event(), asked)
    };
    // The three -D values; then the event, whether gcc was asked, and why.
    #[rustfmt::skip]
    let steps = [
        ("one", "x", "1", "miss", false, "the first compile"),
        ("two", "x", "1", "hit", true, "asked, then served"),
        ("two", "x", "1", "hit", false, "recorded again: nothing asked"),
        ("one", "x", "1", "hit", false, "the first entry still holds"),
        ("three", "x", "1", "hit", false, "recorded without the unused value: any one hits"),
        ("two", "y", "1", "miss", true, "a spelled name keeps its value"),
        ("three", "x", "2", "miss", true, "a used value is never served across"),
    ];
    for (unused, spelled, used, event, asked, why) in steps {
        let got = run(unused, spelled, used);
        assert_eq!(got, (event.to_string(), asked), "{why}");
    }
}
