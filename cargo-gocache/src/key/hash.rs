//! Action and output IDs, and the line-by-line hasher that builds keys.
//!
//! An action ID is the SHA-256 of a list of lines, each naming one input of
//! the action (`compiler-version gcc 12.2.0`, `arg -O2`, `file src/a.c <hash>`).
//! Hashing named lines rather than raw bytes has two uses: the same lines are
//! kept beside the entry (the *key inputs* record) so that `explain` can diff
//! them, and with `CARGO_GOCACHE_DEBUG=hash` every line is printed as it is
//! hashed, as Go's `GODEBUG=gocachehash=1` does.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use sha2::{Digest, Sha256};

/// Length of an ID in bytes (SHA-256).
pub const ID_LEN: usize = 32;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub [u8; ID_LEN]);

        impl $name {
            /// The ID as 64 lowercase hex digits.
            pub fn to_hex(&self) -> String {
                hex(&self.0)
            }

            /// Parse 64 hex digits; `None` for anything else.
            pub fn from_hex(s: &str) -> Option<Self> {
                parse_hex(s).map($name)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_hex())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), &self.to_hex()[..12])
            }
        }
    };
}

id_type!(
    /// The key of an action: a hash of every input that can change its output.
    ActionId
);
id_type!(
    /// The name of an output: the SHA-256 of its bytes.
    OutputId
);

impl OutputId {
    /// The ID of `bytes`.
    pub fn of(bytes: &[u8]) -> OutputId {
        OutputId(hash_bytes(bytes))
    }
}

/// SHA-256 of a file's content, read in chunks.
pub fn hash_file(path: &Path) -> io::Result<[u8; ID_LEN]> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().into())
}

/// SHA-256 of some bytes.
pub fn hash_bytes(bytes: &[u8]) -> [u8; ID_LEN] {
    Sha256::digest(bytes).into()
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

fn parse_hex(s: &str) -> Option<[u8; ID_LEN]> {
    let s = s.as_bytes();
    if s.len() != ID_LEN * 2 {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; ID_LEN];
    for (i, pair) in s.chunks(2).enumerate() {
        out[i] = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(out)
}

/// Builds an [`ActionId`] from named lines, keeping them for the key record.
///
/// Each line is hashed followed by `\n`; a line must therefore not contain a
/// newline itself ([`KeyHasher::line`] escapes one, so two different inputs
/// can never produce the same sequence of lines).
#[derive(Clone)]
pub struct KeyHasher {
    name: &'static str,
    sha: Sha256,
    lines: Vec<String>,
    debug: bool,
}

impl KeyHasher {
    /// A new hasher; `name` labels its debug output (`HASH[compile]: ...`).
    pub fn new(name: &'static str) -> KeyHasher {
        KeyHasher {
            name,
            sha: Sha256::new(),
            lines: Vec::new(),
            debug: crate::env::debug("hash"),
        }
    }

    /// Add one line, e.g. `line(format!("arg {arg}"))`.
    pub fn line(&mut self, line: impl Into<String>) {
        let mut line = line.into();
        if line.contains(['\n', '\\']) {
            line = line.replace('\\', "\\\\").replace('\n', "\\n");
        }
        if self.debug {
            eprintln!("HASH[{}]: {}", self.name, line);
        }
        self.sha.update(line.as_bytes());
        self.sha.update(b"\n");
        self.lines.push(line);
    }

    /// Add one typed key line (already escaped by [`KeyLine::render`]).
    ///
    /// [`KeyLine::render`]: crate::key::line::KeyLine::render
    pub fn push(&mut self, line: &crate::key::line::KeyLine) {
        let line = line.render();
        if self.debug {
            eprintln!("HASH[{}]: {}", self.name, line);
        }
        self.sha.update(line.as_bytes());
        self.sha.update(b"\n");
        self.lines.push(line);
    }

    /// The lines added so far.
    pub fn lines(&self) -> &[String] {
        &self.lines
    }

    /// The ID of the lines added so far (the hasher can go on being used).
    pub fn id(&self) -> ActionId {
        let id = ActionId(self.sha.clone().finalize().into());
        if self.debug {
            eprintln!("HASH[{}]: => {}", self.name, id);
        }
        id
    }

    /// The lines joined as the key-inputs record kept beside an entry.
    pub fn record(&self) -> String {
        let mut s = String::new();
        for l in &self.lines {
            s.push_str(l);
            s.push('\n');
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips() {
        let id = OutputId::of(b"hello");
        assert_eq!(OutputId::from_hex(&id.to_hex()), Some(id));
        assert_eq!(
            id.to_hex(),
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        assert_eq!(OutputId::from_hex("zz"), None);
        assert_eq!(OutputId::from_hex(&"G".repeat(64)), None);
    }

    #[test]
    fn lines_are_unambiguous() {
        let mut a = KeyHasher::new("t");
        a.line("x\ny");
        let mut b = KeyHasher::new("t");
        b.line("x");
        b.line("y");
        assert_ne!(a.id(), b.id());
        assert_eq!(a.record(), "x\\ny\n");
    }
}
