//! `cargo gocache <cargo subcommand>`: what cargo and its build scripts are
//! given, with caching off, and the exit code. Tiny crates without
//! dependencies, so these take seconds and need no C compiler.

use std::fs;
use std::path::{Path, PathBuf};

use crate::support::{bin, gocache, run};

/// A crate whose build script writes the variables the runner sets to
/// `<ws>/seen.txt`, one `NAME=value` a line (`NAME=` when unset).
fn env_probe_crate(root: &Path) -> PathBuf {
    let ws = root.join("probe");
    fs::create_dir_all(ws.join("src")).unwrap();
    fs::write(
        ws.join("Cargo.toml"),
        "[package]\nname = \"probe\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n",
    )
    .unwrap();
    fs::write(ws.join("src/lib.rs"), "").unwrap();
    fs::write(
        ws.join("build.rs"),
        r#"fn main() {
    let host = std::env::var("HOST").unwrap();
    let mut out = String::new();
    for name in [
        format!("CC_{host}"),
        format!("CXX_{host}"),
        "CC_KNOWN_WRAPPER_CUSTOM".to_string(),
        "CARGO_GOCACHE_DIR".to_string(),
        "CARGO_GOCACHE_WORKSPACE".to_string(),
        "CARGO_GOCACHE_CARGO_HOME".to_string(),
        "CARGO_GOCACHE_RUN_LOG".to_string(),
    ] {
        let value = std::env::var(&name).unwrap_or_default();
        out.push_str(&format!("{}={value}\n", name.replace(&host, "HOST")));
    }
    let ws = std::path::Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap()).to_path_buf();
    std::fs::write(ws.join("seen.txt"), out).unwrap();
}
"#,
    )
    .unwrap();
    ws
}

fn seen(ws: &Path) -> std::collections::BTreeMap<String, String> {
    fs::read_to_string(ws.join("seen.txt"))
        .expect("the build script ran")
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn build_scripts_get_the_wrapped_compilers_and_no_per_run_variable() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let ws = env_probe_crate(tmp.path());
    let r = run(gocache(&store)
        .args(["gocache", "build"])
        .current_dir(&ws)
        .env("CARGO_TARGET_DIR", ws.join("target"))
        .env("CXX", "ccache g++-12 -m64"))
    .success();
    r.stderr_contains("gocache: no C/C++ compiles ran");

    let env = seen(&ws);
    let exe = bin().canonicalize().unwrap();
    let exe = exe.to_str().unwrap();
    assert_eq!(env["CC_HOST"], format!("{exe} cc"));
    // The user's compiler stays the compiler; their ccache is replaced.
    assert_eq!(env["CXX_HOST"], format!("{exe} g++-12 -m64"));
    assert_eq!(env["CC_KNOWN_WRAPPER_CUSTOM"], "cargo-gocache");
    assert_eq!(Path::new(&env["CARGO_GOCACHE_DIR"]), store);
    assert_eq!(
        Path::new(&env["CARGO_GOCACHE_WORKSPACE"])
            .canonicalize()
            .unwrap(),
        ws.canonicalize().unwrap()
    );
    assert!(Path::new(&env["CARGO_GOCACHE_CARGO_HOME"]).is_absolute());
    // No per-run variable (issue 15): the run's log is found from the
    // process tree, and it ends as last-run.log, not left under runs/.
    assert_eq!(env["CARGO_GOCACHE_RUN_LOG"], "");
    let left: Vec<PathBuf> = fs::read_dir(store.join("stats").join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(left.is_empty(), "{left:?}");
    assert!(store.join("stats").join("last-run.log").is_file());
}

#[test]
fn caching_off_runs_cargo_unchanged() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = env_probe_crate(tmp.path());
    let r = run(gocache(Path::new("off"))
        .args(["gocache", "build"])
        .current_dir(&ws)
        .env("CARGO_TARGET_DIR", ws.join("target")))
    .success();
    assert!(!r.stderr().contains("gocache:"), "{}", r.stderr());
    let env = seen(&ws);
    for (name, value) in &env {
        if name != "CARGO_GOCACHE_DIR" {
            assert_eq!(value, "", "{name} set with caching off");
        }
    }
}

#[test]
fn cargo_exit_code_passes_through() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let ws = tmp.path().join("broken");
    fs::create_dir_all(ws.join("src")).unwrap();
    fs::write(
        ws.join("Cargo.toml"),
        "[package]\nname = \"broken\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n",
    )
    .unwrap();
    fs::write(ws.join("src/lib.rs"), "pub fn f() -> u8 { \"not a u8\" }\n").unwrap();
    let r = run(gocache(&store)
        .args(["gocache", "check"])
        .current_dir(&ws)
        .env("CARGO_TARGET_DIR", ws.join("target")));
    assert_eq!(r.status.code(), Some(101), "{}", r.stderr());
    r.stderr_contains("mismatched types")
        .stderr_contains("gocache: no C/C++ compiles ran");

    // An unknown cargo subcommand: cargo's own error and exit code.
    let r = run(gocache(&store)
        .args(["gocache", "no-such-subcommand"])
        .current_dir(&ws));
    assert_eq!(r.status.code(), Some(101), "{}", r.stderr());
    r.stderr_contains("no such command");
}

#[test]
fn help_says_gocache_commands_take_precedence() {
    let r = run(gocache(Path::new("off")).args(["gocache", "--help"])).success();
    let help = r.stdout();
    assert!(help.contains("take precedence"), "{help}");
    assert!(help.contains("cargo gocache cargo clean"), "{help}");
}

/// A crate with a dependency and a build script, built with a fake
/// `RUSTC_WORKSPACE_WRAPPER` that records the environment of every rustc it runs,
/// one file per crate and run; the build script records its own.
fn env_recording_workspace(root: &Path) -> (PathBuf, PathBuf) {
    let ws = root.join("app");
    fs::create_dir_all(ws.join("src")).unwrap();
    fs::create_dir_all(ws.join("dep/src")).unwrap();
    fs::write(
        ws.join("Cargo.toml"),
        "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
         [dependencies]\ndep = { path = \"dep\" }\n\n[workspace]\n",
    )
    .unwrap();
    fs::write(ws.join("src/main.rs"), "fn main() { dep::f(); }\n").unwrap();
    fs::write(
        ws.join("build.rs"),
        r#"fn main() {
    let mut vars: Vec<String> = std::env::vars().map(|(k, v)| format!("{k}={v}")).collect();
    vars.sort();
    let dir = std::env::var("RECORD_DIR").unwrap();
    let run = std::env::var("RECORD_RUN").unwrap();
    std::fs::write(format!("{dir}/{run}.build-script"), vars.join("\n")).unwrap();
}
"#,
    )
    .unwrap();
    fs::write(
        ws.join("dep/Cargo.toml"),
        "[package]\nname = \"dep\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    )
    .unwrap();
    fs::write(ws.join("dep/src/lib.rs"), "pub fn f() {}\n").unwrap();
    let wrapper = root.join("record-rustc");
    fs::write(
        &wrapper,
        r#"#!/bin/sh
# RUSTC_WORKSPACE_WRAPPER: $1 is rustc. Record the environment of real compiles
# (not cargo's `rustc -vV` probes), named by crate and run.
name=""
prev=""
for a in "$@"; do
    [ "$prev" = "--crate-name" ] && name="$a"
    prev="$a"
done
if [ -n "$name" ]; then
    env | sort > "$RECORD_DIR/$RECORD_RUN.$name"
fi
exec "$@"
"#,
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&wrapper, fs::Permissions::from_mode(0o755)).unwrap();
    }
    (ws, wrapper)
}

/// Issue 15: sccache (and anything else keyed on the environment) got a
/// new key every run because `cargo gocache` put a fresh run-log path in
/// the environment. Two runs of the same project and store must give
/// rustc and build scripts the same environment, apart from what cargo
/// itself changes (`CARGO_MAKEFLAGS` names jobserver descriptors).
#[test]
fn rustc_sees_the_same_environment_every_run() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let record = tmp.path().join("record");
    fs::create_dir_all(&record).unwrap();
    let (ws, wrapper) = env_recording_workspace(tmp.path());
    for run_no in ["1", "2"] {
        // A clean target each time, so every crate compiles again.
        let _ = fs::remove_dir_all(ws.join("target"));
        run(gocache(&store)
            .args(["gocache", "build"])
            .current_dir(&ws)
            .env("CARGO_TARGET_DIR", ws.join("target"))
            // `cargo gocache` puts itself in RUSTC_WRAPPER (the Rust cache),
            // replacing a user's; the workspace wrapper is kept, and sees
            // the environment rustc gets.
            .env("RUSTC_WORKSPACE_WRAPPER", &wrapper)
            .env("RECORD_DIR", &record)
            .env("RECORD_RUN", run_no))
        .success();
    }
    let read = |run_no: &str, what: &str| -> Vec<String> {
        let path = record.join(format!("{run_no}.{what}"));
        fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .lines()
            .filter(|l| !l.starts_with("CARGO_MAKEFLAGS=") && !l.starts_with("RECORD_RUN="))
            .map(str::to_string)
            .collect()
    };
    for what in ["app", "dep", "build_script_build", "build-script"] {
        let (first, second) = (read("1", what), read("2", what));
        let differ: Vec<&String> = first
            .iter()
            .filter(|l| !second.contains(l))
            .chain(second.iter().filter(|l| !first.contains(l)))
            .collect();
        assert!(
            differ.is_empty(),
            "{what}: the environment changed between runs: {differ:#?}"
        );
        // The wrapped compilers are there: this is a gocache run.
        assert!(
            first
                .iter()
                .any(|l| l.starts_with("CC_KNOWN_WRAPPER_CUSTOM=")),
            "{what}: {first:#?}"
        );
    }
}

/// A crate whose build script compiles `n` C files through the wrapper
/// named in `CC_<host>` (as cc would), after waiting `wait_ms`, so that two
/// runs started together compile at the same time.
fn c_compiling_crate(root: &Path, name: &str, n: usize, wait_ms: u64) -> PathBuf {
    let ws = root.join(name);
    fs::create_dir_all(ws.join("src")).unwrap();
    fs::write(
        ws.join("Cargo.toml"),
        format!("[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n"),
    )
    .unwrap();
    fs::write(ws.join("src/lib.rs"), "").unwrap();
    for i in 0..n {
        fs::write(
            ws.join(format!("c{i}.c")),
            format!("int {name}_{i}(void) {{ return {i}; }}\n"),
        )
        .unwrap();
    }
    fs::write(
        ws.join("build.rs"),
        format!(
            r#"fn main() {{
    std::thread::sleep(std::time::Duration::from_millis({wait_ms}));
    let host = std::env::var("HOST").unwrap();
    let cc = std::env::var(format!("CC_{{host}}")).unwrap();
    let mut words = cc.split_whitespace();
    let (wrapper, compiler) = (words.next().unwrap(), words.next().unwrap());
    let out = std::env::var("OUT_DIR").unwrap();
    for i in 0..{n} {{
        let ok = std::process::Command::new(wrapper)
            .args([compiler, "-c", &format!("c{{i}}.c"), "-o", &format!("{{out}}/c{{i}}.o")])
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }}
}}
"#
        ),
    )
    .unwrap();
    ws
}

/// Two `cargo gocache` runs at once on one store: each run's summary counts
/// its own compiles only (each wrapper finds its own run's log).
#[test]
fn two_runs_at_once_on_one_store_keep_their_own_counts() {
    crate::support::require_tool("gcc");
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let one = c_compiling_crate(tmp.path(), "one", 1, 1500);
    let three = c_compiling_crate(tmp.path(), "three", 3, 1500);
    let spawn = |ws: &Path| {
        gocache(&store)
            .args(["gocache", "build"])
            .current_dir(ws)
            .env("CARGO_TARGET_DIR", ws.join("target"))
            .env("CC", "gcc")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(&one), spawn(&three));
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let (ea, eb) = (
        String::from_utf8_lossy(&a.stderr),
        String::from_utf8_lossy(&b.stderr),
    );
    assert!(a.status.success() && b.status.success(), "{ea}\n{eb}");
    assert!(ea.contains("gocache: 0 hits, 1 miss"), "{ea}");
    assert!(eb.contains("gocache: 0 hits, 3 misses"), "{eb}");
}
