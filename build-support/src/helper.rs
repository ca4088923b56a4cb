//! The build.rs helper: one cache lookup per library, and no compile at all
//! when the archive already in `OUT_DIR` carries the right build ID.
//!
//! ```no_run
//! use gocache_build::CachedBuild;
//! cc::Build::new().file("src/a.c").include("include").cached_compile("foo");
//! ```
//!
//! This side is a thin client. It makes the checks that need the
//! `cc::Build` itself, runs cc, and prints the `cargo:` lines; the cache
//! work (the compiler's identity, the key, the manifests, the store, build
//! IDs, statistics) is done by the `cargo-gocache` binary, in one process
//! per [`cached_compile`](CachedBuild::cached_compile) that lives across
//! the compile: `cargo-gocache gocache serve-helper`
//! (`cargo-gocache/src/commands/serve_helper.rs` documents the key). So
//! the build-dependency every user compiles stays small, and the engine
//! evolves with the binary, not with a user's `Cargo.lock`.
//!
//! # Finding the binary
//!
//! `CARGO_GOCACHE_PROG` (which `cargo gocache` sets to itself for every
//! build), else `cargo-gocache` on `PATH`. With neither, the library is
//! compiled by plain cc, silently: a user of a crate that uses the helper
//! needs no gocache. `CARGO_GOCACHE_DIR=off` is plain cc too.
//!
//! # Protocol
//!
//! Over the server's stdin and stdout; messages as in [`crate::protocol`]
//! (`kind count`, then `tag len` + bytes per field). The helper opens with
//! a line, `-> hello <protocol>\n`, answered `<- ok\n` by a server of the
//! same helper protocol ([`crate::protocol::PROTOCOL`]); any other answer,
//! or none, is one `cargo:warning` and a plain cc compile.
//!
//! ```text
//! -> lookup   name, out-dir, cwd, tool, arg*, tool-env* (K=V), source*,
//!             ar, ar-arg*, ar-env* (K=V), ar-env-remove* (K)
//! <- hit          lib, file*, env*      the archive is in place: print, done
//! <- miss         flag*, env*           compile with cc plus these flags, then:
//!    -> compiled  object*, spent (seconds)
//!    <- done      file*, env*           stamped and stored: print, done
//!    <- warn      message, env*         the archive cc made stands, uncached
//! <- uncacheable  reason, env*          plain cc (the server counted why)
//! <- warn         message, env*         plain cc, after the warning
//!
//! -> uncacheable  name, reason          (a check here refused: the server
//!                                        counts it and answers nothing)
//! ```
//!
//! `file` is a source or header for `cargo:rerun-if-changed`; `env` a
//! variable the server read, for `cargo:rerun-if-env-changed`. The server
//! keeps what it needs across the compile in memory (the pre-key, the
//! manifest, stamps of the inputs taken before the compile). A compile
//! that fails closes the conversation (end of input): the build fails as
//! with cc, and nothing is stored.
//!
//! Any fault of the server before the compile (it cannot start, dies,
//! answers nonsense) is one warning and a plain cc compile; after the
//! compile, one warning and the archive cc made stands, uncached. A cache
//! fault never fails the build.
//!
//! # On each call (in the server)
//!
//! 1. compute the pre-key, load its manifest, and find the header sets that
//!    still hold on disk (hashing the headers they list);
//! 2. if `OUT_DIR/libNAME.a` carries one of their build IDs: nothing to do;
//! 3. else if the store has the archive: place it;
//! 4. else the helper compiles with cc (plus `-MD` for the depfiles and the
//!    relocation flags) and archives with cc's archiver; the server stamps
//!    the build ID and stores the archive and the manifest.
//!
//! Then the helper prints what cc's `compile` prints (through cc's own
//! `try_emit_link_directives`), and `cargo:rerun-if-changed` for every
//! source and header, and for the directory each source is in (so a build
//! script that globs its sources reruns when a file is added there, or
//! removed and put back; see `protocol::rerun` for which directories).

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Instant;

use crate::error::{Error, ErrorKind, Result};
use crate::protocol::{self, Message, PROTOCOL};

/// Archive-level caching for a `cc::Build`.
pub trait CachedBuild {
    /// Like `cc::Build::compile`, cached; exits the build script with cc's
    /// message if the compile fails.
    fn cached_compile(&self, name: &str);
    /// Like `cc::Build::try_compile`, cached. Cache faults never make it
    /// fail: only the compile itself can.
    fn try_cached_compile(&self, name: &str) -> Result<()>;
}

impl CachedBuild for cc::Build {
    fn cached_compile(&self, name: &str) {
        if let Err(e) = self.try_cached_compile(name) {
            // cc's `compile` prints its error this way and exits.
            eprintln!("\n\nerror occurred in cc-rs: {e}\n\n");
            std::process::exit(1);
        }
    }

    fn try_cached_compile(&self, name: &str) -> Result<()> {
        if var_os("CARGO_GOCACHE_DIR").is_some_and(|v| v == "off") {
            return plain(self, name);
        }
        let Some(prog) = find_binary() else {
            return plain(self, name);
        };
        let request = match request(self, name) {
            Ok(r) => r,
            Err(None) => return plain(self, name),
            Err(Some(reason)) => {
                // Counted by the server; a fault there changes nothing here.
                if let Ok(mut server) = Server::start(&prog) {
                    let mut m = Message::new("uncacheable");
                    m.push("name", name).push("reason", &reason);
                    let _ = server.send(&m);
                }
                return plain(self, name);
            }
        };
        let mut server = match Server::start(&prog) {
            Ok(s) => s,
            Err(msg) => {
                warn(&msg);
                return plain(self, name);
            }
        };
        let answer = match server.call(&request) {
            Ok(a) => a,
            Err(e) => {
                warn(&format!(
                    "{} failed ({e}); compiling {name} without the cache",
                    prog.display()
                ));
                return plain(self, name);
            }
        };
        print_env(&answer);
        let sources: Vec<PathBuf> = self.get_files().map(Path::to_path_buf).collect();
        match answer.kind.as_str() {
            "hit" => {
                let lib = answer
                    .get("lib")
                    .map(protocol::os_string)
                    .map(PathBuf::from);
                let lib = lib.unwrap_or_else(|| out_dir().join(archive_name(name)));
                emit(self, &lib, &sources, &files(&answer))
            }
            "miss" => {
                let mut compiling = self.clone();
                compiling.flag("-MD");
                for f in answer.all_os("flag") {
                    compiling.flag(f);
                }
                let timer = Instant::now();
                let objects = compiling.try_compile_intermediates().map_err(cc_err)?;
                let spent = timer.elapsed().as_secs_f64();
                let lib = self.try_create_archive(name, &objects).map_err(cc_err)?;
                let mut done = Message::new("compiled");
                for o in &objects {
                    if done.push_os("object", o.as_os_str()).is_none() {
                        return emit(self, &lib, &sources, &[]);
                    }
                }
                done.push("spent", spent.to_string());
                let files = match server.call(&done) {
                    Ok(a) if a.kind == "done" => {
                        print_env(&a);
                        files(&a)
                    }
                    Ok(a) => {
                        print_env(&a);
                        warn(&a.text("message").unwrap_or_else(|| {
                            format!("unexpected answer {:?}; {name} is not cached", a.kind)
                        }));
                        Vec::new()
                    }
                    Err(e) => {
                        warn(&format!(
                            "{} failed after the compile ({e}); {name} is not cached",
                            prog.display()
                        ));
                        Vec::new()
                    }
                };
                emit(self, &lib, &sources, &files)
            }
            "uncacheable" => plain(self, name),
            "warn" => {
                warn(&answer.text("message").unwrap_or_default());
                plain(self, name)
            }
            other => {
                warn(&format!(
                    "{} answered {other:?}; compiling {name} without the cache",
                    prog.display()
                ));
                plain(self, name)
            }
        }
    }
}

/// Read an environment variable, and tell cargo to rerun the build script
/// when it changes (it decides whether and how the cache is used).
fn var_os(name: &str) -> Option<OsString> {
    println!("cargo:rerun-if-env-changed={name}");
    #[allow(clippy::disallowed_methods)]
    std::env::var_os(name)
}

/// `CARGO_GOCACHE_PROG`, else `cargo-gocache` on `PATH`.
fn find_binary() -> Option<PathBuf> {
    if let Some(prog) = var_os("CARGO_GOCACHE_PROG").filter(|v| !v.is_empty()) {
        return Some(prog.into());
    }
    let name = format!("cargo-gocache{}", std::env::consts::EXE_SUFFIX);
    std::env::split_paths(&var_os("PATH")?)
        .map(|dir| dir.join(&name))
        .find(|p| p.is_file())
}

fn out_dir() -> PathBuf {
    #[allow(clippy::disallowed_methods)]
    std::env::var_os("OUT_DIR")
        .map(PathBuf::from)
        .unwrap_or_default()
}

/// The `lookup` request for `build`: `Err(Some(reason))` when it cannot be
/// cached (a check here refused it), `Err(None)` when cc should run plain
/// (and report its own error, for an OUT_DIR or a compiler it cannot find).
fn request(build: &cc::Build, name: &str) -> std::result::Result<Message, Option<String>> {
    let refuse = |r: &str| Err(Some(r.to_string()));
    // cc has no getters for these settings; its Debug output shows them.
    // A custom `out_dir` moves the archive out of OUT_DIR; prebuilt
    // `object()`s and CUDA device links go into the archive unseen by the key.
    let debug = format!("{build:?}");
    if !debug.contains("out_dir: None") {
        return refuse("custom-out-dir");
    }
    if !debug.contains("objects: []") || !debug.contains("cuda: false") {
        return refuse("extra-archive-members");
    }
    #[allow(clippy::disallowed_methods)]
    let out_dir = std::env::var_os("OUT_DIR").ok_or(None)?;
    let tool = build.try_get_compiler().map_err(|_| None)?;
    if !(tool.is_like_gnu() || tool.is_like_clang()) || tool.is_like_clang_cl() {
        // No `-MD` depfiles to learn headers from.
        return refuse("not-gcc-or-clang");
    }
    // cc leaves out of its command arguments it was told to remove: then
    // `args()` is not the command line the key would describe.
    if !format!("{tool:?}").contains("removed_args: []") {
        return refuse("cc-removed-args");
    }
    let sources: Vec<PathBuf> = build.get_files().map(Path::to_path_buf).collect();
    if sources.is_empty() {
        return refuse("no-sources");
    }
    // cc adds its `asm_flag()`s to assembly sources only, after `-c`: not
    // in `args()`, so not in a key made from them.
    let asm = |s: &PathBuf| s.extension().is_some_and(|e| e == "S" || e == "sx");
    if sources.iter().any(asm) && !debug.contains("asm_flags: []") {
        return refuse("asm-flags");
    }
    // The server stamps the build ID with cc's archiver (its `s` step).
    let ar = build.try_get_archiver().map_err(|_| None)?;
    let cwd = std::env::current_dir().map_err(|_| None)?;

    let mut m = Message::new("lookup");
    let fields = (|| {
        m.push("name", name);
        m.push_os("out-dir", &out_dir)?;
        m.push_os("cwd", cwd.as_os_str())?;
        m.push_os("tool", tool.path().as_os_str())?;
        for a in tool.args() {
            m.push_os("arg", a)?;
        }
        for (k, v) in tool.get_envs() {
            m.push_os("tool-env", &pair(k, v))?;
        }
        for s in &sources {
            m.push_os("source", s.as_os_str())?;
        }
        m.push_os("ar", ar.get_program())?;
        for a in ar.get_args() {
            m.push_os("ar-arg", a)?;
        }
        for (k, v) in ar.get_envs() {
            match v {
                Some(v) => m.push_os("ar-env", &pair(k, v))?,
                None => m.push_os("ar-env-remove", k)?,
            };
        }
        Some(())
    })();
    match fields {
        Some(()) => Ok(m),
        None => refuse("non-utf8-argument"),
    }
}

fn pair(k: &std::ffi::OsStr, v: &std::ffi::OsStr) -> OsString {
    let mut s = k.to_os_string();
    s.push("=");
    s.push(v);
    s
}

/// `cargo-gocache gocache serve-helper`, past the `hello`.
struct Server {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl Server {
    /// Start the server and agree on the protocol; `Err` is the warning.
    fn start(prog: &Path) -> std::result::Result<Server, String> {
        let mut child = Command::new(prog)
            .args(["gocache", "serve-helper"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| {
                format!(
                    "cannot run {} ({e}); compiling without the cache",
                    prog.display()
                )
            })?;
        let mut stdin = child.stdin.take().expect("piped");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
        let mut line = String::new();
        let answered = writeln!(stdin, "hello {PROTOCOL}")
            .and_then(|()| stdin.flush())
            .and_then(|()| stdout.read_line(&mut line));
        if matches!(answered, Ok(n) if n > 0) && line.trim_end() == "ok" {
            return Ok(Server {
                child,
                stdin: Some(stdin),
                stdout,
            });
        }
        let _ = child.kill();
        let _ = child.wait();
        let answer = if line.is_empty() {
            "nothing".to_string()
        } else {
            format!("{:?}", line.trim_end())
        };
        Err(format!(
            "{} speaks another helper protocol than this build script's gocache-build \
             {} (protocol {PROTOCOL}; it answered {answer}); compiling without the cache \
             (update one of them so their versions match)",
            prog.display(),
            env!("CARGO_PKG_VERSION"),
        ))
    }

    fn send(&mut self, m: &Message) -> std::io::Result<()> {
        let stdin = self.stdin.as_mut().ok_or(std::io::ErrorKind::BrokenPipe)?;
        m.write_to(stdin)
    }

    fn call(&mut self, m: &Message) -> std::io::Result<Message> {
        self.send(m)?;
        Message::read_from(&mut self.stdout)?.ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "it exited without answering",
            )
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // End of input: the server finishes (or, after a failed compile,
        // stores nothing) and exits.
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

fn cc_err(e: cc::Error) -> Error {
    Error::new(ErrorKind::Tool, e.to_string())
}

fn warn(msg: &str) {
    println!("cargo:warning=gocache: {msg}");
}

fn plain(build: &cc::Build, name: &str) -> Result<()> {
    build.try_compile(name).map_err(cc_err)
}

/// The archive file name cc gives `name` (`foo` -> `libfoo.a`).
fn archive_name(name: &str) -> String {
    if name.starts_with("lib") && name.ends_with(".a") {
        name.to_string()
    } else {
        format!("lib{name}.a")
    }
}

fn files(answer: &Message) -> Vec<PathBuf> {
    answer.all_os("file").map(PathBuf::from).collect()
}

/// `cargo:rerun-if-env-changed` for the variables the server read.
fn print_env(answer: &Message) {
    for name in answer.all("env") {
        println!(
            "cargo:rerun-if-env-changed={}",
            String::from_utf8_lossy(name)
        );
    }
}

/// Sources and headers, for `cargo:rerun-if-changed`: not those this run
/// generated (under `OUT_DIR`, or newer than the run's start), which would
/// rerun the build script on every build, nor paths cargo cannot read back
/// (see [`crate::protocol::rerun`]). Then the directories the sources are
/// in, so a source added there, or removed and put back, reruns it (with
/// the rules of [`crate::protocol::rerun::watchable_dir`]).
fn print_rerun(sources: &[PathBuf], files: &[PathBuf]) {
    use crate::protocol::rerun;
    let cwd = std::env::current_dir().unwrap_or_default();
    let out_dir = out_dir();
    let started = rerun::run_started(&out_dir);
    if let Some(t) = started {
        for d in rerun::source_dirs(&cwd, sources.iter().map(PathBuf::as_path)) {
            if rerun::watchable_dir(&d, &out_dir, t) {
                if let Some(line) = rerun::directive(&d) {
                    print!("{line}");
                }
            }
        }
    }
    let mut seen = std::collections::HashSet::new();
    for f in sources
        .iter()
        .map(|s| cwd.join(s))
        .chain(files.iter().cloned())
    {
        if !seen.insert(f.clone()) {
            continue;
        }
        if let Some(t) = started {
            if crate::protocol::rerun::generated(&f, &out_dir, t) {
                continue;
            }
        }
        if let Some(line) = crate::protocol::rerun::directive(&f) {
            print!("{line}");
        }
    }
}

/// Print what cc's `compile` prints after archiving, then the files to
/// rerun on. A failure here is cc's failure, as in `compile`.
fn emit(build: &cc::Build, lib: &Path, sources: &[PathBuf], files: &[PathBuf]) -> Result<()> {
    cc::try_emit_link_directives(build, lib).map_err(cc_err)?;
    print_rerun(sources, files);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_names_follow_cc() {
        assert_eq!(archive_name("foo"), "libfoo.a");
        assert_eq!(archive_name("libfoo.a"), "libfoo.a");
    }

    /// The helper reads cc settings it has no getter for from `Debug`; a cc
    /// release that renames them must fail here, not cache wrongly.
    #[test]
    fn cc_debug_output_shows_the_settings_the_helper_checks() {
        let plain = format!("{:?}", cc::Build::new());
        for s in ["out_dir: None", "objects: []", "cuda: false"] {
            assert!(plain.contains(s), "{s} not in {plain}");
        }
        let custom = format!("{:?}", cc::Build::new().out_dir("x").object("y.o"));
        assert!(!custom.contains("out_dir: None") && !custom.contains("objects: []"));
    }
}
