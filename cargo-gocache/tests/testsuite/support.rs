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

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};

use cargo_gocache::Store;

/// The binary under test, built by cargo for this test run.
pub const GOCACHE_BIN: &str = env!("CARGO_BIN_EXE_cargo-gocache");

/// Variables of the test runner's environment that must not reach a
/// command under test: cargo's own for this test binary, compiler and
/// flag choices, search-path and depfile variables gcc reads, and the
/// cargo runner's choices. One list for every module (issue 9): a variable
/// that leaks into one harness and not another makes a test pass or fail
/// by where it runs.
pub const SCRUB_ENV: &[&str] = &[
    "CARGO_MANIFEST_DIR",
    "CARGO_PKG_NAME",
    "CARGO_PKG_VERSION",
    "OUT_DIR",
    "TARGET",
    "HOST",
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET",
    "RUSTC_WRAPPER",
    "CC",
    "CXX",
    "AR",
    "HOST_CC",
    "HOST_CXX",
    "TARGET_CC",
    "TARGET_CXX",
    "CC_KNOWN_WRAPPER_CUSTOM",
    "CFLAGS",
    "CXXFLAGS",
    "CPPFLAGS",
    "SOURCE_DATE_EPOCH",
    "CPATH",
    "C_INCLUDE_PATH",
    "CPLUS_INCLUDE_PATH",
    "DEPENDENCIES_OUTPUT",
    "SUNPRO_DEPENDENCIES",
    "GCC_COLORS",
    "GCC_EXEC_PREFIX",
    "COMPILER_PATH",
    "GCC_EXTRA_DIAGNOSTIC_OUTPUT",
    "GCC_URLS",
    "TERM_URLS",
    "XDG_CACHE_HOME",
    // CI detection decides the remote write policy (`remote-write`).
    "CI",
    "GITLAB_CI",
    "CI_COMMIT_REF_PROTECTED",
    "CI_PIPELINE_SOURCE",
    "CI_MERGE_REQUEST_IID",
];

/// Prefixes of variables removed as [`SCRUB_ENV`] is: every gocache
/// setting, cc-rs's per-target compilers and flags, cargo's `cfg`s, and
/// the S3 remote's credentials and GitHub Actions' job variables.
pub const SCRUB_PREFIXES: &[&str] = &[
    "AWS_",
    "GITHUB_",
    "CARGO_GOCACHE_",
    "CARGO_CFG_",
    "CC_",
    "CXX_",
    "CFLAGS_",
    "AR_",
];

/// The names [`scrub`] removes from the test runner's environment.
pub fn scrubbed_names() -> Vec<OsString> {
    let mut names: Vec<OsString> = SCRUB_ENV.iter().map(OsString::from).collect();
    for (name, _) in std::env::vars_os() {
        let n = name.to_string_lossy();
        if SCRUB_PREFIXES.iter().any(|p| n.starts_with(p)) {
            names.push(name);
        }
    }
    names
}

/// Remove [`SCRUB_ENV`] and every [`SCRUB_PREFIXES`] variable from `cmd`.
pub fn scrub(cmd: &mut Command) -> &mut Command {
    for name in scrubbed_names() {
        cmd.env_remove(name);
    }
    cmd
}

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
        write_settled(&path, contents);
        path
    }

    /// `cargo-gocache` with the sandbox's environment; add arguments and run.
    pub fn gocache(&self) -> Cmd {
        self.cmd(GOCACHE_BIN)
    }

    /// Any program with the sandbox's environment.
    ///
    /// The environment is the test's own minus what [`scrub`] removes,
    /// plus `CARGO_GOCACHE_DIR=<cache>` and
    /// `HOME=<home>`. Override any of it with [`Cmd::env`] or
    /// [`Cmd::env_remove`].
    pub fn cmd(&self, program: impl AsRef<OsStr>) -> Cmd {
        let mut cmd = Cmd {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            env: Vec::new(),
            cwd: self.work(),
        };
        for name in scrubbed_names() {
            cmd.env.push((name, None));
        }
        cmd.env("HOME", self.home())
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
        Run::from_output(self.display(), self.cwd.clone(), out)
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
    fn from_output(command: String, cwd: PathBuf, out: Output) -> Run {
        Run {
            command,
            cwd,
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Its stdout, owned (for callers that chain on a temporary).
    pub fn stdout(&self) -> String {
        self.stdout.clone()
    }

    /// Its stderr, owned.
    pub fn stderr(&self) -> String {
        self.stderr.clone()
    }

    /// It exited with 0; keeps the run (by value, to chain on [`run`]).
    #[track_caller]
    pub fn success(self) -> Run {
        self.assert_success();
        self
    }

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

// ---- cargo projects built for real (was `project.rs`) ----

/// Write `text` to `path` (parents created) as an edit before a build is:
/// in an earlier tick of the file system's clock than the next compile's
/// start. The wrapper takes a file stamped in its start's tick as modified
/// during the compile (as ccache does), so without the wait a fast wrapper
/// started right after the write sees `modified-during-compile`; on a fast
/// machine that happened in `asm`, `key` and `wrapper` tests. Costs a tick
/// (a few milliseconds) per write.
pub fn write_settled(path: &Path, text: impl AsRef<[u8]>) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    let written = fs::metadata(path).unwrap().modified().unwrap();
    let probe = path.with_extension("clock-probe");
    loop {
        fs::write(&probe, "").unwrap();
        let now = fs::metadata(&probe).unwrap().modified().unwrap();
        fs::remove_file(&probe).unwrap();
        if now > written {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

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

/// A command with [`scrub`]bed environment (nothing of the test runner's
/// own setup leaks: a target dir, a compiler, flags, a gocache run), and
/// under `GOCACHE_TEST_CC=clang` the `CC`/`CXX` a user of clang would set.
pub fn clean_command(program: impl AsRef<OsStr>) -> Command {
    let mut cmd = Command::new(program);
    scrub(&mut cmd);
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

/// `$CARGO` (the cargo running the tests), else `cargo`, with
/// `CARGO_GOCACHE_PROG` naming the binary under test: a build script's
/// `gocache-build` helper does its caching through it (as under `cargo
/// gocache`, which sets the variable to itself).
pub fn cargo() -> Command {
    let mut cmd = clean_command(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.env("CARGO_GOCACHE_PROG", bin());
    cmd
}

/// Run a [`Command`] (one made by [`clean_command`], [`gocache`], [`cargo`],
/// or scrubbed with [`scrub`]) and keep its output for [`Run`]'s asserts.
#[track_caller]
pub fn run(cmd: &mut Command) -> Run {
    let (command, cwd, out) = spawn(cmd);
    Run::from_output(command, cwd, out)
}

/// Run `cmd` to the end: its printed form, its working directory, its output.
#[track_caller]
fn spawn(cmd: &mut Command) -> (String, PathBuf, Output) {
    let command = format!("{cmd:?}");
    let cwd = cmd
        .get_current_dir()
        .map_or_else(|| std::env::current_dir().unwrap(), Path::to_path_buf);
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command}: {e}"));
    (command, cwd, out)
}

/// Run `cmd`, assert it exited with 0 (printing the whole run as [`Run`]
/// does when not), and return its raw [`Output`], for tests that compare
/// bytes (diagnostics, objects written to stdout).
#[track_caller]
pub fn output_ok(cmd: &mut Command) -> Output {
    let (command, cwd, out) = spawn(cmd);
    if !out.status.success() {
        Run::from_output(command, cwd, out.clone()).assert_success();
    }
    out
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

/// A one-package workspace `name` at `ws` (`src/` made) whose build script
/// depends on `build_dep` (`cc` or `cmake`), locked with the example's
/// `Cargo.lock`: it pins cc, cmake and their dependencies, which the user's
/// `CARGO_HOME` already has, and cargo drops the entries this crate lacks.
/// The caller writes `build.rs` and the sources.
pub fn build_dep_crate(ws: &Path, name: &str, build_dep: &str) {
    fs::create_dir_all(ws.join("src")).unwrap();
    let version = match build_dep {
        "cmake" => "0.1",
        _ => "1.2",
    };
    fs::write(
        ws.join("Cargo.toml"),
        format!(
            "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
             [workspace]\n\n[build-dependencies]\n{build_dep} = \"{version}\"\n"
        ),
    )
    .unwrap();
    fs::copy(
        example("mixed-sys").join("Cargo.lock"),
        ws.join("Cargo.lock"),
    )
    .unwrap();
}
