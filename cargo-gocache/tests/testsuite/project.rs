//! Cargo projects for the end-to-end tests: copies of the examples and temp crates,
//! cargo and `cargo-gocache` commands with a clean environment, archive comparison.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `cargo-gocache` binary built for these tests.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_cargo-gocache"))
}

/// The repository's `examples/<name>`.
pub fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("examples")
        .join(name)
}

/// The C compiler the end-to-end tests run: gcc, or the one named by
/// `GOCACHE_TEST_CC` (`tests/run.sh` runs the gcc tests again with
/// `GOCACHE_TEST_CC=clang` when clang is installed).
pub fn test_cc() -> &'static str {
    match std::env::var("GOCACHE_TEST_CC").as_deref() {
        Ok("clang") => "clang",
        Ok("gcc") | Err(_) => "gcc",
        Ok(other) => panic!("GOCACHE_TEST_CC={other}: expected gcc or clang"),
    }
}

/// The C++ compiler that goes with [`test_cc`].
pub fn test_cxx() -> &'static str {
    match test_cc() {
        "clang" => "clang++",
        _ => "g++",
    }
}

/// A command with the variables that would leak the test runner's own
/// setup (a target dir, a compiler, a gocache run) removed.
pub fn clean_command(program: impl AsRef<OsStr>) -> Command {
    let mut cmd = Command::new(program);
    for var in [
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_GOCACHE_DIR",
        "CARGO_GOCACHE_RUN_LOG",
        "CARGO_GOCACHE_WORKSPACE",
        "CARGO_GOCACHE_CARGO_HOME",
        "CARGO_GOCACHE_DEBUG",
        "CC",
        "CXX",
        "HOST_CC",
        "HOST_CXX",
        "TARGET_CC",
        "TARGET_CXX",
        "CC_KNOWN_WRAPPER_CUSTOM",
        "RUSTC_WRAPPER",
    ] {
        cmd.env_remove(var);
    }
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy();
        if k.starts_with("CC_") || k.starts_with("CXX_") {
            cmd.env_remove(&*k);
        }
    }
    // Under `GOCACHE_TEST_CC=clang`, builds use clang as a user's CC would.
    if test_cc() != "gcc" {
        cmd.env("CC", test_cc()).env("CXX", test_cxx());
    }
    cmd
}

/// `cargo-gocache` with a clean environment and its own store.
pub fn gocache(store: &Path) -> Command {
    let mut cmd = clean_command(bin());
    cmd.env("CARGO_GOCACHE_DIR", store);
    cmd
}

/// `$CARGO` (the cargo running the tests), else `cargo`.
pub fn cargo() -> Command {
    clean_command(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// A finished command, kept for assertions.
pub struct Run {
    pub what: String,
    pub output: Output,
}

impl Run {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    fn report(&self) -> String {
        format!(
            "{}\nexit: {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.what,
            self.output.status,
            self.stdout(),
            self.stderr()
        )
    }

    #[track_caller]
    pub fn success(self) -> Run {
        assert!(
            self.output.status.success(),
            "command failed:\n{}",
            self.report()
        );
        self
    }

    #[track_caller]
    pub fn stderr_contains(&self, needle: &str) -> &Run {
        assert!(
            self.stderr().contains(needle),
            "stderr lacks {needle:?}:\n{}",
            self.report()
        );
        self
    }
}

/// Run `cmd` and keep its output.
#[track_caller]
pub fn run(cmd: &mut Command) -> Run {
    let what = format!(
        "command: {:?}\ncwd: {}",
        cmd,
        cmd.get_current_dir()
            .map_or_else(|| "(inherited)".to_string(), |d| d.display().to_string())
    );
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    Run { what, output }
}

/// Copy the tree `from` to `to`, leaving out `target` directories.
pub fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        let ty = entry.file_type().unwrap();
        if ty.is_dir() {
            if entry.file_name() != "target" {
                copy_tree(&entry.path(), &dest);
            }
        } else {
            fs::copy(entry.path(), &dest).unwrap();
        }
    }
}

/// Every `lib*.a` under `dir`, keyed so that the same archive of the same
/// crate matches across target directories and checkouts: cargo's hashed
/// directory names (`build/zstd-sys-1a2b.../out/libzstd.a`) lose the hash.
pub fn archives(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "a")
                && p.file_name().unwrap().to_string_lossy().starts_with("lib")
            {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(dir, &mut files);
    files
        .into_iter()
        .map(|p| {
            let key: Vec<String> = p
                .strip_prefix(dir)
                .unwrap()
                .components()
                .map(|c| {
                    let s = c.as_os_str().to_string_lossy();
                    match s.rsplit_once('-') {
                        Some((name, hash))
                            if hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()) =>
                        {
                            name.to_string()
                        }
                        _ => s.into_owned(),
                    }
                })
                .collect();
            (key.join("/"), fs::read(&p).unwrap())
        })
        .collect()
}

/// Fail (not skip) when a tool the test needs is missing: a test that
/// passes without its tool proves nothing.
#[track_caller]
pub fn require_tool(name: &str) {
    let ok = Command::new(name)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(ok, "{name} not found: run bash tests/run.sh to install");
}
