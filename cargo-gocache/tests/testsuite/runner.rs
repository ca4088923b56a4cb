//! `cargo gocache <cargo subcommand>`: what cargo and its build scripts are
//! given, with caching off, and the exit code. Tiny crates without
//! dependencies, so these take seconds and need no C compiler.

use std::fs;
use std::path::{Path, PathBuf};

use crate::project::{bin, gocache, run};

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
fn build_scripts_get_the_wrapped_compilers_and_the_run_log() {
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
    let run_log = PathBuf::from(&env["CARGO_GOCACHE_RUN_LOG"]);
    assert!(
        run_log.starts_with(store.join("stats").join("runs")),
        "{run_log:?}"
    );
    // The run's log ends as last-run.log, not left under runs/.
    assert!(!run_log.exists());
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
    assert_eq!(r.output.status.code(), Some(101), "{}", r.stderr());
    r.stderr_contains("mismatched types")
        .stderr_contains("gocache: no C/C++ compiles ran");

    // An unknown cargo subcommand: cargo's own error and exit code.
    let r = run(gocache(&store)
        .args(["gocache", "no-such-subcommand"])
        .current_dir(&ws));
    assert_eq!(r.output.status.code(), Some(101), "{}", r.stderr());
    r.stderr_contains("no such command");
}

#[test]
fn help_says_gocache_commands_take_precedence() {
    let r = run(gocache(Path::new("off")).args(["gocache", "--help"])).success();
    let help = r.stdout();
    assert!(help.contains("take precedence"), "{help}");
    assert!(help.contains("cargo gocache cargo clean"), "{help}");
}
