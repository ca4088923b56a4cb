//! `__DATE__`/`__TIME__` by the user's choice (issue 11 item 4): by
//! default uncacheable and named, with how to opt in; with
//! `time-macros = "pin"` cached, the miss compiled with `SOURCE_DATE_EPOCH`
//! fixed and the epoch kept in the result, so a hit returns exactly the
//! bytes the compiler made with that epoch; a user's own
//! `SOURCE_DATE_EPOCH` works as before. Real gcc (and clang when
//! installed: clang 14 ignores the variable, so pinning does not apply).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use cargo_gocache::stats::{read_events, Outcome};

use crate::e2e::{count, take_stats};
use crate::support::{bin, cargo, clean_command, gocache, run};

const STAMP_C: &str = "const char *stamp(void) { return \"built \" __DATE__ \" \" __TIME__; }\n";

struct T {
    dir: tempfile::TempDir,
    cc: &'static str,
}

impl T {
    fn new(cc: &'static str) -> T {
        let t = T {
            dir: tempfile::tempdir().unwrap(),
            cc,
        };
        fs::write(t.p("stamp.c"), STAMP_C).unwrap();
        t
    }

    fn p(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// `cargo-gocache <cc> -c stamp.c -o stamp.o` with `env`; the event.
    #[track_caller]
    fn compile(&self, env: &[(&str, &str)]) -> String {
        let mut cmd = clean_command(bin());
        cmd.arg(self.cc)
            .args(["-c", "stamp.c", "-o", "stamp.o"])
            .current_dir(self.dir.path())
            .env("CARGO_GOCACHE_DIR", self.p("store"))
            .env_remove("CARGO_GOCACHE_RUN_LOG")
            .env_remove("CARGO_GOCACHE_TIME_MACROS")
            .env_remove("SOURCE_DATE_EPOCH");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let events = read_events(&self.p("store/stats/events.log"));
        match events.last().map(|e| &e.outcome) {
            Some(Outcome::Hit) => "hit".into(),
            Some(Outcome::Miss) => "miss".into(),
            Some(Outcome::Uncacheable(r)) => format!("uncacheable:{r}"),
            other => format!("{other:?}"),
        }
    }

    fn object(&self) -> Vec<u8> {
        fs::read(self.p("stamp.o")).unwrap()
    }

    /// The same compile, uncached, with `SOURCE_DATE_EPOCH=epoch`.
    fn reference(&self, epoch: u64) -> Vec<u8> {
        let st = Command::new(self.cc)
            .args(["-c", "stamp.c", "-o", "ref.o"])
            .current_dir(self.dir.path())
            .env("SOURCE_DATE_EPOCH", epoch.to_string())
            .status()
            .unwrap();
        assert!(st.success());
        fs::read(self.p("ref.o")).unwrap()
    }
}

/// The epochs kept in the store's result records.
fn recorded_epochs(store: &Path) -> Vec<u64> {
    fn walk(dir: &Path, out: &mut Vec<u64>) {
        for e in fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if let Ok(text) = fs::read_to_string(&p) {
                if text.starts_with("gocache-result v1\n") {
                    out.extend(
                        text.lines()
                            .filter_map(|l| l.strip_prefix("epoch "))
                            .filter_map(|v| v.parse::<u64>().ok()),
                    );
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(store, &mut out);
    out
}

#[test]
fn time_macros_are_uncacheable_by_default_and_pinned_by_choice() {
    let t = T::new("gcc");
    assert_eq!(t.compile(&[]), "uncacheable:time-macros");
    assert_eq!(t.compile(&[]), "uncacheable:time-macros");

    let pin = [("CARGO_GOCACHE_TIME_MACROS", "pin")];
    assert_eq!(t.compile(&pin), "miss");
    let first = t.object();
    let epochs = recorded_epochs(&t.p("store"));
    assert_eq!(epochs.len(), 1, "the epoch is kept in the result");
    // What the compiler makes with that epoch, byte for byte.
    assert!(
        first == t.reference(epochs[0]),
        "the pinned miss is not the compiler's output for its epoch"
    );
    // A second later, the clock has moved on; the hit has not.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_eq!(t.compile(&pin), "hit");
    assert!(
        t.object() == first,
        "the hit differs from the pinned compile"
    );

    // Without the opt-in, the pinned result is never served.
    assert_eq!(t.compile(&[]), "uncacheable:time-macros");

    // A user's SOURCE_DATE_EPOCH works as before, in either mode.
    let user = [("SOURCE_DATE_EPOCH", "1000000000")];
    assert_eq!(t.compile(&user), "miss");
    assert_eq!(t.compile(&user), "hit");
    assert!(t.object() == t.reference(1_000_000_000));
    let both = [
        ("SOURCE_DATE_EPOCH", "1000000000"),
        ("CARGO_GOCACHE_TIME_MACROS", "pin"),
    ];
    assert_eq!(t.compile(&both), "hit");
}

/// clang 14 ignores `SOURCE_DATE_EPOCH`: pinning would not fix its
/// `__DATE__`, so the compile stays uncacheable.
#[test]
fn pinning_is_refused_for_a_compiler_that_ignores_source_date_epoch() {
    crate::support::require_tool("clang");
    let version = Command::new("clang").arg("--version").output().unwrap();
    let version = String::from_utf8_lossy(&version.stdout).to_string();
    let major: u32 = version
        .split("version ")
        .nth(1)
        .and_then(|v| v.split('.').next()?.parse().ok())
        .unwrap();
    let t = T::new("clang");
    let pin = [("CARGO_GOCACHE_TIME_MACROS", "pin")];
    if major < 16 {
        assert_eq!(t.compile(&pin), "uncacheable:time-macros", "{version}");
    } else {
        assert_eq!(t.compile(&pin), "miss", "{version}");
        assert_eq!(t.compile(&pin), "hit", "{version}");
    }
}

/// Under `cargo gocache`: the summary names the compile and says how to
/// opt in, `explain` too; with the opt-in, the warm build after
/// `cargo clean` hits and the binary prints the first build's stamp.
#[test]
fn cargo_gocache_names_time_macro_sources_and_pins_on_request() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("stamp");
    crate::support::build_dep_crate(&ws, "stamp", "cc");
    fs::write(ws.join("src/stamp.c"), STAMP_C).unwrap();
    fs::write(
        ws.join("build.rs"),
        "fn main() { cc::Build::new().file(\"src/stamp.c\").compile(\"stamp\"); }\n",
    )
    .unwrap();
    fs::write(
        ws.join("src/main.rs"),
        "extern \"C\" { fn stamp() -> *const std::ffi::c_char; }\n\
         fn main() { println!(\"{}\", unsafe { std::ffi::CStr::from_ptr(stamp()) }.to_str().unwrap()); }\n",
    )
    .unwrap();
    let store = tmp.path().join("store");
    let target = ws.join("target");
    let build = |pin: bool| {
        let mut cmd = gocache(&store);
        cmd.args(["gocache", "build"])
            .current_dir(&ws)
            .env("CARGO_TARGET_DIR", &target)
            .env_remove("SOURCE_DATE_EPOCH");
        if pin {
            cmd.env("CARGO_GOCACHE_TIME_MACROS", "pin");
        } else {
            cmd.env_remove("CARGO_GOCACHE_TIME_MACROS");
        }
        run(&mut cmd).success()
    };
    let clean = || {
        run(cargo()
            .arg("clean")
            .current_dir(&ws)
            .env("CARGO_TARGET_DIR", &target))
        .success();
    };
    let stamp = || {
        let out = Command::new(target.join("debug/stamp")).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };

    let b = build(false);
    b.stderr_contains("uncacheable (time-macros 1)");
    b.stderr_contains("use __DATE__/__TIME__: ");
    b.stderr_contains("stamp.c");
    b.stderr_contains("CARGO_GOCACHE_TIME_MACROS=pin");
    let explain = run(gocache(&store).args(["gocache", "explain"])).success();
    assert!(
        explain.stdout().contains("__DATE__/__TIME__") && explain.stdout().contains("stamp.c"),
        "{}",
        explain.stdout()
    );
    take_stats(&store);

    clean();
    build(true);
    let cold = take_stats(&store);
    assert_eq!(count(&cold, "misses"), 1, "{cold}");
    let first = stamp();
    assert!(first.starts_with("built "), "{first}");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    clean();
    let b = build(true);
    let warm = take_stats(&store);
    assert_eq!(count(&warm, "hits"), 1, "{warm}");
    assert_eq!(count(&warm, "misses"), 0, "{warm}");
    assert!(!b.stderr().contains("__DATE__/__TIME__"), "{}", b.stderr());
    assert_eq!(stamp(), first);
}
