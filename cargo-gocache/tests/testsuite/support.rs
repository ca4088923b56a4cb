//! What every test module needs: a sandbox per test, a way to run the
//! binary under test (or any program) in it, and assertions that on
//! failure print the whole run: command, working directory, exit status,
//! stdout and stderr.
//!
//! ```ignore
//! let sb = Sandbox::new();
//! sb.gocache().args(["stats", "--json"]).run().assert_success();
//! sb.gocache()
//!     .args(["trim", "--max-size", "lots"])
//!     .run()
//!     .assert_code(2)
//!     .assert_error_once("invalid size");
//! ```

// Shared by every module; not each one uses every helper.
#![allow(dead_code)]

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

use gocache_build::engine::Store;

/// The binary under test, built by cargo for this test run.
pub const GOCACHE_BIN: &str = env!("CARGO_BIN_EXE_cargo-gocache");

/// A temporary directory for one test, removed when it is dropped.
///
/// Layout: `cache/` is the store (`CARGO_GOCACHE_DIR`, created on first
/// use by the binary or by [`Sandbox::store`]), `home/` is `HOME` (so the
/// default cache location lands inside the sandbox), and `work/` is the
/// working directory of every command.
pub struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    /// A fresh sandbox with empty `home/` and `work/` directories.
    pub fn new() -> Sandbox {
        let dir = tempfile::Builder::new()
            .prefix("gocache-test-")
            .tempdir()
            .expect("create a temporary directory");
        let sb = Sandbox { dir };
        fs::create_dir(sb.home()).unwrap();
        fs::create_dir(sb.work()).unwrap();
        sb
    }

    /// The sandbox's root directory.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// A path inside the sandbox.
    pub fn path(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.root().join(rel)
    }

    /// The store directory every command gets as `CARGO_GOCACHE_DIR`.
    pub fn cache_dir(&self) -> PathBuf {
        self.path("cache")
    }

    /// `HOME` for every command.
    pub fn home(&self) -> PathBuf {
        self.path("home")
    }

    /// The working directory of every command.
    pub fn work(&self) -> PathBuf {
        self.path("work")
    }

    /// The sandbox's store, opened (and created) through the library, to
    /// set up or inspect what a command sees.
    pub fn store(&self) -> Store {
        Store::open(self.cache_dir()).expect("open the sandbox's store")
    }

    /// Write `contents` to `rel` in the sandbox, creating parent directories.
    pub fn write(&self, rel: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, contents).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        path
    }

    /// `cargo-gocache` with the sandbox's environment; add arguments and run.
    pub fn gocache(&self) -> Cmd {
        self.cmd(GOCACHE_BIN)
    }

    /// Any program with the sandbox's environment.
    ///
    /// The environment is the test's own minus every `CARGO_GOCACHE_*`
    /// variable and `XDG_CACHE_HOME`, plus `CARGO_GOCACHE_DIR=<cache>` and
    /// `HOME=<home>`. Override any of it with [`Cmd::env`] or
    /// [`Cmd::env_remove`].
    pub fn cmd(&self, program: impl AsRef<OsStr>) -> Cmd {
        let mut cmd = Cmd {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            env: Vec::new(),
            cwd: self.work(),
        };
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("CARGO_GOCACHE_") {
                cmd.env.push((name, None));
            }
        }
        cmd.env_remove("XDG_CACHE_HOME")
            .env("HOME", self.home())
            .env("CARGO_GOCACHE_DIR", self.cache_dir());
        cmd
    }
}

/// A command to run: a [`std::process::Command`] that can print itself.
pub struct Cmd {
    program: OsString,
    args: Vec<OsString>,
    /// Changes to the inherited environment, in order: `None` removes.
    env: Vec<(OsString, Option<OsString>)>,
    cwd: PathBuf,
}

impl Cmd {
    /// Add an argument.
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Cmd {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Add arguments.
    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(&mut self, args: I) -> &mut Cmd {
        for a in args {
            self.arg(a);
        }
        self
    }

    /// Set an environment variable.
    pub fn env(&mut self, name: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut Cmd {
        self.set_env(name.as_ref(), Some(value.as_ref().to_owned()));
        self
    }

    /// Unset an environment variable.
    pub fn env_remove(&mut self, name: impl AsRef<OsStr>) -> &mut Cmd {
        self.set_env(name.as_ref(), None);
        self
    }

    fn set_env(&mut self, name: &OsStr, value: Option<OsString>) {
        self.env.retain(|(n, _)| n != name);
        self.env.push((name.to_owned(), value));
    }

    /// Run in `dir` instead of the sandbox's `work/`.
    pub fn cwd(&mut self, dir: impl AsRef<Path>) -> &mut Cmd {
        self.cwd = dir.as_ref().to_owned();
        self
    }

    /// Run to completion, capturing stdout and stderr. Panics only if the
    /// program cannot be started; judge the result with [`Run`]'s asserts.
    #[track_caller]
    pub fn run(&self) -> Run {
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args)
            .current_dir(&self.cwd)
            .stdin(Stdio::null());
        for (name, value) in &self.env {
            match value {
                Some(v) => cmd.env(name, v),
                None => cmd.env_remove(name),
            };
        }
        let out = cmd
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.display()));
        Run {
            command: self.display(),
            cwd: self.cwd.clone(),
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// The command as a shell line: variables set, then program and arguments.
    fn display(&self) -> String {
        let mut parts = Vec::new();
        for (name, value) in &self.env {
            match value {
                Some(v) => parts.push(format!("{}={}", name.to_string_lossy(), quote(v))),
                None => parts.push(format!("-u {}", name.to_string_lossy())),
            }
        }
        if !parts.is_empty() {
            parts.insert(0, "env".to_string());
        }
        parts.push(quote(&self.program));
        parts.extend(self.args.iter().map(|a| quote(a)));
        parts.join(" ")
    }
}

fn quote(s: &OsStr) -> String {
    let s = s.to_string_lossy();
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
    {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// A finished command: its exit status and output.
pub struct Run {
    /// The command line, with the environment changes it ran with.
    pub command: String,
    /// Where it ran.
    pub cwd: PathBuf,
    /// How it exited.
    pub status: ExitStatus,
    /// Its standard output (lossy UTF-8).
    pub stdout: String,
    /// Its standard error (lossy UTF-8).
    pub stderr: String,
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "command: {}", self.command)?;
        writeln!(f, "cwd:     {}", self.cwd.display())?;
        writeln!(f, "status:  {}", self.status)?;
        writeln!(f, "--- stdout\n{}", self.stdout)?;
        write!(f, "--- stderr\n{}", self.stderr)
    }
}

impl Run {
    /// The exit code (`None` if killed by a signal).
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    #[track_caller]
    fn fail(&self, why: impl fmt::Display) -> ! {
        panic!("{why}\n{self}")
    }

    /// It exited with 0.
    #[track_caller]
    pub fn assert_success(&self) -> &Run {
        if !self.status.success() {
            self.fail("expected success");
        }
        self
    }

    /// It exited, with a code other than 0 (not killed by a signal: a
    /// crash is not the failure a test expects).
    #[track_caller]
    pub fn assert_failure(&self) -> &Run {
        match self.code() {
            Some(0) => self.fail("expected failure"),
            None => self.fail("expected a failing exit code, got a signal"),
            Some(_) => self,
        }
    }

    /// It exited with `code`.
    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Run {
        if self.code() != Some(code) {
            self.fail(format_args!("expected exit code {code}"));
        }
        self
    }

    /// Its stdout contains `needle`.
    #[track_caller]
    pub fn stdout_contains(&self, needle: &str) -> &Run {
        if !self.stdout.contains(needle) {
            self.fail(format_args!("expected stdout to contain {needle:?}"));
        }
        self
    }

    /// Its stderr contains `needle`.
    #[track_caller]
    pub fn stderr_contains(&self, needle: &str) -> &Run {
        if !self.stderr.contains(needle) {
            self.fail(format_args!("expected stderr to contain {needle:?}"));
        }
        self
    }

    /// Its stdout is empty.
    #[track_caller]
    pub fn stdout_is_empty(&self) -> &Run {
        if !self.stdout.is_empty() {
            self.fail("expected empty stdout");
        }
        self
    }

    /// Its stderr has exactly one line starting `error:`, and that line
    /// contains `needle`: errors are printed once, at the top.
    #[track_caller]
    pub fn assert_error_once(&self, needle: &str) -> &Run {
        let errors: Vec<&str> = self
            .stderr
            .lines()
            .filter(|l| l.starts_with("error:"))
            .collect();
        match errors[..] {
            [line] if line.contains(needle) => self,
            [_] => self.fail(format_args!(
                "expected the error line to contain {needle:?}"
            )),
            _ => self.fail(format_args!(
                "expected one `error:` line, found {}",
                errors.len()
            )),
        }
    }

    /// Its stdout parsed as JSON.
    #[track_caller]
    pub fn stdout_json(&self) -> serde_json::Value {
        match serde_json::from_str(&self.stdout) {
            Ok(v) => v,
            Err(e) => self.fail(format_args!("stdout is not JSON: {e}")),
        }
    }
}
