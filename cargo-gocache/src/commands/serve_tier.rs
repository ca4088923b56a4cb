//! `cargo gocache serve-tier` (hidden): the remote tier served to a build
//! script's helper over stdio. Today's helper asks `serve-helper` instead
//! (which reaches the remote itself); this stays for the older
//! `gocache-build` versions users' lock files may pin.

use std::io::{BufRead, BufReader, Read, Write};

use anyhow::Result;
use gocache_build::engine::version::PROTOCOL;
use gocache_build::engine::{ActionId, OutputId, Store, Tier, TierKey};

/// `serve-tier`: the remote tier for a build script's store, over stdio.
/// Started by `gocache_build::engine::prog::ProgTier` with the build's environment.
pub fn run() -> Result<i32> {
    let Some(store) = Store::from_env()? else {
        return Ok(0);
    };
    let (store, tier) = crate::remote::RemoteTier::attach_from_env(store);
    let Some(tier) = tier else { return Ok(0) };
    serve(&*tier, std::io::stdin().lock(), std::io::stdout().lock())?;
    tier.finish(&store);
    Ok(0)
}

fn bad(msg: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg.to_string())
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
            let id = ActionId::from_hex(hex)?.0;
            match kind {
                "ac" => Some((true, id)),
                "cas" => Some((false, id)),
                _ => None,
            }
        };
        match op {
            "close" => return Ok(()),
            // The client's version check (see `gocache_build::engine::version`).
            "hello" => {
                if parts.next() == Some(PROTOCOL.to_string().as_str()) {
                    writeln!(output, "ok")?;
                } else {
                    writeln!(output, "err protocol {PROTOCOL}")?;
                }
                output.flush()?;
            }
            "get" | "rejected" | "put" => {
                let Some((is_action, id)) = key_of(parts.next()) else {
                    writeln!(output, "err bad request: {line}")?;
                    output.flush()?;
                    if op == "put" {
                        return Err(bad("bad put request; stream is out of sync"));
                    }
                    continue;
                };
                let (a, o) = (ActionId(id), OutputId(id));
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
    use std::sync::Mutex;

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
        let a = ActionId([3; 32]);
        let o = OutputId([4; 32]);
        let mut req = Vec::new();
        req.extend_from_slice(format!("put {} 5\nhello", TierKey::Output(&o).path()).as_bytes());
        req.extend_from_slice(format!("get {}\n", TierKey::Output(&o).path()).as_bytes());
        req.extend_from_slice(format!("get {}\n", TierKey::Action(&a).path()).as_bytes());
        req.extend_from_slice(b"get ../etc/passwd\nhello 1\nhello 999\nclose\n");
        let mut out = Vec::new();
        serve(&tier, req.as_slice(), &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "ok\nhit 5\nhellomiss\nerr bad request: get ../etc/passwd\nok\nerr protocol 1\n"
        );
    }
}
