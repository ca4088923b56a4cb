//! The remote tier for build scripts, through a helper process (Go's
//! `GOCACHEPROG` idea): the client older `gocache-build` helpers use.
//!
//! The build.rs helper is a build-dependency of its users and must not pull
//! in network clients. Before the helper handed all its caching to the
//! binary (`serve-helper`, see `helper.rs`), it opened the store itself and,
//! under `cargo gocache`, which sets `CARGO_GOCACHE_PROG` to its own binary,
//! its store got a [`ProgTier`]: on the first request it starts
//! `$CARGO_GOCACHE_PROG gocache serve-tier` and speaks a small line protocol
//! over its stdin and stdout. Today's helper does not use it (its server
//! reaches the remote directly); the binary still serves `serve-tier` for
//! the helpers in users' lock files, and this client stays as the
//! reference its tests speak. The server owns the real remote (Redis,
//! HTTP), its timeouts and its failure count, exactly as for wrapped
//! compiles.
//!
//! # Protocol
//!
//! One request, then one response, in turn. Paths are `ac/<64 hex>` or
//! `cas/<64 hex>` ([`TierKey::path`]); lengths are decimal byte counts and
//! the bytes follow the newline raw.
//!
//! ```text
//! -> get <path>\n                  <- hit <len>\n<bytes> | miss\n | err <message>\n
//! -> put <path> <len>\n<bytes>     <- ok\n | err <message>\n
//! -> rejected <path>\n             <- ok\n
//! -> close\n                       (the server records its statistics and exits)
//! ```
//!
//! The client opens with `-> hello <protocol>\n`, answered `<- ok\n` by a
//! server of the same protocol ([`crate::version::PROTOCOL`]); any other
//! answer (an older server's `err unknown request`) turns the tier off with
//! one warning. The server (`cargo-gocache`'s `serve-tier` command) lives in
//! the binary.
//!
//! Any failure of the helper process (it cannot start, it dies, it answers
//! nonsense) turns this tier off for the rest of the build script: the
//! local store goes on alone.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Mutex;

use crate::store::{Tier, TierKey};

/// A [`Tier`] served by `cargo-gocache gocache serve-tier`.
pub struct ProgTier {
    program: PathBuf,
    env: Vec<(std::ffi::OsString, std::ffi::OsString)>,
    state: Mutex<State>,
}

enum State {
    NotStarted,
    Running {
        child: Child,
        stdin: ChildStdin,
        stdout: BufReader<ChildStdout>,
    },
    Broken,
}

impl ProgTier {
    /// A tier that will run `program gocache serve-tier` on first use.
    pub fn new(program: impl Into<PathBuf>) -> ProgTier {
        ProgTier {
            program: program.into(),
            env: Vec::new(),
            state: Mutex::new(State::NotStarted),
        }
    }

    /// Set a variable in the server's environment (it inherits the rest).
    pub fn env(
        mut self,
        key: impl Into<std::ffi::OsString>,
        value: impl Into<std::ffi::OsString>,
    ) -> ProgTier {
        self.env.push((key.into(), value.into()));
        self
    }

    /// The tier `cargo gocache` asks for through the environment: set when
    /// both `CARGO_GOCACHE_PROG` and `CARGO_GOCACHE_REMOTE` are.
    pub fn from_env() -> Option<ProgTier> {
        crate::env::var_os("CARGO_GOCACHE_REMOTE").filter(|v| !v.is_empty() && v != "off")?;
        let prog = crate::env::var_os("CARGO_GOCACHE_PROG").filter(|v| !v.is_empty())?;
        Some(ProgTier::new(prog))
    }

    fn call<T>(
        &self,
        f: impl FnOnce(&mut ChildStdin, &mut BufReader<ChildStdout>) -> std::io::Result<T>,
    ) -> Option<T> {
        let mut state = self.state.lock().ok()?;
        if let State::NotStarted = *state {
            *state = match Command::new(&self.program)
                .args(["gocache", "serve-tier"])
                .envs(self.env.iter().map(|(k, v)| (k, v)))
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
            {
                Ok(mut child) => {
                    let mut stdin = child.stdin.take().expect("piped");
                    let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
                    match hello(&mut stdin, &mut stdout) {
                        Ok(()) => State::Running {
                            child,
                            stdin,
                            stdout,
                        },
                        Err(answer) => {
                            if let Some(answer) = answer {
                                println!(
                                    "cargo:warning=gocache: {} speaks another serve-tier protocol \
                                     than this build script's gocache-build (protocol {}; it \
                                     answered {answer:?}); not using the remote cache",
                                    self.program.display(),
                                    crate::version::PROTOCOL
                                );
                            }
                            let _ = child.kill();
                            let _ = child.wait();
                            State::Broken
                        }
                    }
                }
                Err(_) => State::Broken,
            };
        }
        let State::Running { stdin, stdout, .. } = &mut *state else {
            return None;
        };
        match f(stdin, stdout) {
            Ok(v) => Some(v),
            Err(_) => {
                *state = State::Broken;
                None
            }
        }
    }
}

/// Open the conversation: `Err(Some(answer))` when the server answered
/// something other than `ok` (another protocol), `Err(None)` when it
/// answered nothing (it exited: no remote for it to serve).
fn hello(w: &mut ChildStdin, r: &mut BufReader<ChildStdout>) -> Result<(), Option<String>> {
    writeln!(w, "hello {}", crate::version::PROTOCOL)
        .and_then(|()| w.flush())
        .map_err(|_| None)?;
    match read_line(r) {
        Ok(line) if line == "ok" => Ok(()),
        Ok(line) => Err(Some(line)),
        Err(_) => Err(None),
    }
}

fn bad(msg: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg.to_string())
}

fn read_line(r: &mut impl BufRead) -> std::io::Result<String> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Err(bad("tier server closed its output"));
    }
    Ok(line.trim_end_matches('\n').to_string())
}

impl Tier for ProgTier {
    fn get(&self, key: TierKey<'_>) -> Option<Vec<u8>> {
        self.call(|w, r| {
            writeln!(w, "get {}", key.path())?;
            w.flush()?;
            let line = read_line(r)?;
            if line == "miss" || line.starts_with("err ") {
                return Ok(None);
            }
            let len: usize = line
                .strip_prefix("hit ")
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| bad(&line))?;
            let mut buf = vec![0; len];
            r.read_exact(&mut buf)?;
            Ok(Some(buf))
        })
        .flatten()
    }

    fn put(&self, key: TierKey<'_>, bytes: &[u8]) {
        self.call(|w, r| {
            writeln!(w, "put {} {}", key.path(), bytes.len())?;
            w.write_all(bytes)?;
            w.flush()?;
            read_line(r).map(|_| ())
        });
    }

    fn rejected(&self, key: TierKey<'_>) {
        self.call(|w, r| {
            writeln!(w, "rejected {}", key.path())?;
            w.flush()?;
            read_line(r).map(|_| ())
        });
    }
}

impl Drop for ProgTier {
    fn drop(&mut self) {
        if let Ok(State::Running { child, stdin, .. }) = self.state.get_mut() {
            let _ = stdin.write_all(b"close\n");
            let _ = stdin.flush();
            let _ = child.wait();
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::hash::ActionId;
    use std::os::unix::fs::PermissionsExt;

    /// A stand-in for `cargo-gocache` that answers `hello` with `answer`
    /// and every request after it with `miss`.
    fn fake_server(dir: &std::path::Path, answer: &str) -> PathBuf {
        let path = dir.join("fake-gocache");
        std::fs::write(
            &path,
            format!("#!/bin/sh\nread l\necho '{answer}'\nwhile read l; do [ \"$l\" = close ] && exit 0; echo miss; done\n"),
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    #[test]
    fn a_server_of_another_protocol_turns_the_tier_off() {
        let d = tempfile::tempdir().unwrap();
        let t = ProgTier::new(fake_server(d.path(), "err unknown request: hello 1"));
        assert_eq!(t.get(TierKey::Action(&ActionId([1; 32]))), None);
        assert!(matches!(*t.state.lock().unwrap(), State::Broken));
    }

    #[test]
    fn a_server_of_this_protocol_is_used() {
        let d = tempfile::tempdir().unwrap();
        let t = ProgTier::new(fake_server(d.path(), "ok"));
        assert_eq!(t.get(TierKey::Action(&ActionId([1; 32]))), None);
        assert!(matches!(*t.state.lock().unwrap(), State::Running { .. }));
    }
}
