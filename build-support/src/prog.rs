//! The remote tier for build scripts, through a helper process (Go's
//! `GOCACHEPROG` idea).
//!
//! The build.rs helper is a build-dependency of its users and must not pull
//! in network clients. Under `cargo gocache`, which sets
//! `CARGO_GOCACHE_PROG` to its own binary, a build script's store gets a
//! [`ProgTier`]: on the first request it starts `$CARGO_GOCACHE_PROG gocache
//! serve-tier` and speaks a small line protocol over its stdin and stdout.
//! The server owns the real remote (Redis, HTTP), its timeouts and its
//! failure count, exactly as for wrapped compiles.
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
                    let stdin = child.stdin.take().expect("piped");
                    let stdout = BufReader::new(child.stdout.take().expect("piped"));
                    State::Running {
                        child,
                        stdin,
                        stdout,
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

/// Serve the protocol on `input`/`output` with `tier` behind it (used by
/// `cargo-gocache gocache serve-tier`). Returns at `close` or end of input.
pub fn serve(tier: &dyn Tier, input: impl Read, mut output: impl Write) -> std::io::Result<()> {
    let mut input = BufReader::new(input);
    loop {
        let mut line = String::new();
        if input.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let line = line.trim_end_matches('\n');
        let mut parts = line.split(' ');
        let op = parts.next().unwrap_or("");
        let key_of = |p: Option<&str>| -> Option<(bool, [u8; 32])> {
            let p = p?;
            let (kind, hex) = p.split_once('/')?;
            let id = crate::hash::ActionId::from_hex(hex)?.0;
            match kind {
                "ac" => Some((true, id)),
                "cas" => Some((false, id)),
                _ => None,
            }
        };
        match op {
            "close" => return Ok(()),
            "get" | "rejected" | "put" => {
                let Some((is_action, id)) = key_of(parts.next()) else {
                    writeln!(output, "err bad request: {line}")?;
                    output.flush()?;
                    if op == "put" {
                        return Err(bad("bad put request; stream is out of sync"));
                    }
                    continue;
                };
                let (a, o) = (crate::hash::ActionId(id), crate::hash::OutputId(id));
                let key = if is_action {
                    TierKey::Action(&a)
                } else {
                    TierKey::Output(&o)
                };
                match op {
                    "get" => match tier.get(key) {
                        Some(bytes) => {
                            writeln!(output, "hit {}", bytes.len())?;
                            output.write_all(&bytes)?;
                        }
                        None => writeln!(output, "miss")?,
                    },
                    "rejected" => {
                        tier.rejected(key);
                        writeln!(output, "ok")?;
                    }
                    _ => {
                        let len: usize = parts
                            .next()
                            .and_then(|n| n.parse().ok())
                            .ok_or_else(|| bad("put without length"))?;
                        let mut buf = vec![0; len];
                        input.read_exact(&mut buf)?;
                        tier.put(key, &buf);
                        writeln!(output, "ok")?;
                    }
                }
                output.flush()?;
            }
            _ => {
                writeln!(output, "err unknown request: {line}")?;
                output.flush()?;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[derive(Default)]
    struct Mem(Mutex<HashMap<String, Vec<u8>>>);
    impl Tier for Mem {
        fn get(&self, key: TierKey<'_>) -> Option<Vec<u8>> {
            self.0.lock().unwrap().get(&key.path()).cloned()
        }
        fn put(&self, key: TierKey<'_>, bytes: &[u8]) {
            self.0.lock().unwrap().insert(key.path(), bytes.to_vec());
        }
        fn rejected(&self, _: TierKey<'_>) {}
    }

    #[test]
    fn protocol_round_trip() {
        let tier = Mem::default();
        let a = crate::hash::ActionId([3; 32]);
        let o = crate::hash::OutputId([4; 32]);
        let mut req = Vec::new();
        req.extend_from_slice(format!("put {} 5\nhello", TierKey::Output(&o).path()).as_bytes());
        req.extend_from_slice(format!("get {}\n", TierKey::Output(&o).path()).as_bytes());
        req.extend_from_slice(format!("get {}\n", TierKey::Action(&a).path()).as_bytes());
        req.extend_from_slice(b"get ../etc/passwd\nclose\n");
        let mut out = Vec::new();
        serve(&tier, req.as_slice(), &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "ok\nhit 5\nhellomiss\nerr bad request: get ../etc/passwd\n"
        );
    }
}
