//! What this library and the `cargo-gocache` binary must agree on; for the
//! binary, of no use to a build script.
//!
//! * The helper protocol's messages, shared by the client ([`CachedBuild`])
//!   and the server in the binary (`cargo-gocache gocache serve-helper`).
//! * [`rerun`]: the `cargo:rerun-if-changed` lines both print.
//!
//! [`CachedBuild`]: crate::CachedBuild
//!
//! After the `hello` line (the helper's module docs list the requests and
//! answers), every message is a
//! header line naming its kind and how many fields follow, then each field
//! as a tag, a byte count and the bytes raw, then a newline:
//!
//! ```text
//! <kind> <number of fields>\n
//! <tag> <len>\n<len bytes>\n        (once per field, in order)
//! ```
//!
//! Values are bytes, so paths and arguments that are not UTF-8, or hold a
//! newline, pass unchanged (on Unix; elsewhere a value must be UTF-8, or
//! the helper compiles without the cache).

pub mod rerun;

use std::ffi::{OsStr, OsString};
use std::io::{self, BufRead, Read, Write};

/// The helper protocol's version: bump it with any change to the requests
/// or answers (the helper's module docs list them). A server of another version
/// answers `hello` with something other than `ok`, and the build script
/// compiles with plain cc after one warning.
pub const PROTOCOL: u32 = 1;

/// The longest field read (a guard against a peer out of sync).
const MAX_FIELD: usize = 1 << 30;

/// One message: its kind and its fields, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// What the message is (`lookup`, `hit`, `miss`, ...).
    pub kind: String,
    /// Its fields, `(tag, value)`; a tag may repeat (`arg`, `source`).
    pub fields: Vec<(String, Vec<u8>)>,
}

impl Message {
    /// An empty message of `kind`.
    pub fn new(kind: &str) -> Message {
        Message {
            kind: kind.to_string(),
            fields: Vec::new(),
        }
    }

    /// Add a field.
    pub fn push(&mut self, tag: &str, value: impl AsRef<[u8]>) -> &mut Message {
        self.fields.push((tag.to_string(), value.as_ref().to_vec()));
        self
    }

    /// Add a field holding an OS string; `None` if it cannot be sent as
    /// bytes (not UTF-8 outside Unix).
    pub fn push_os(&mut self, tag: &str, value: &OsStr) -> Option<&mut Message> {
        let bytes = os_bytes(value)?;
        Some(self.push(tag, bytes))
    }

    /// Every value of `tag`, in order.
    pub fn all<'a>(&'a self, tag: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.fields
            .iter()
            .filter(move |(t, _)| t == tag)
            .map(|(_, v)| v.as_slice())
    }

    /// Every value of `tag`, as OS strings.
    pub fn all_os<'a>(&'a self, tag: &'a str) -> impl Iterator<Item = OsString> + 'a {
        self.all(tag).map(os_string)
    }

    /// The first value of `tag`.
    pub fn get(&self, tag: &str) -> Option<&[u8]> {
        self.fields
            .iter()
            .find(|(t, _)| t == tag)
            .map(|(_, v)| v.as_slice())
    }

    /// The first value of `tag`, as text (lossy).
    pub fn text(&self, tag: &str) -> Option<String> {
        self.get(tag)
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }

    /// Write the message and flush.
    pub fn write_to(&self, w: &mut impl Write) -> io::Result<()> {
        let mut buf = format!("{} {}\n", self.kind, self.fields.len()).into_bytes();
        for (tag, value) in &self.fields {
            buf.extend_from_slice(format!("{tag} {}\n", value.len()).as_bytes());
            buf.extend_from_slice(value);
            buf.push(b'\n');
        }
        w.write_all(&buf)?;
        w.flush()
    }

    /// Read one message; `None` at the end of input before it starts.
    pub fn read_from(r: &mut impl BufRead) -> io::Result<Option<Message>> {
        let Some((kind, count)) = header(r)? else {
            return Ok(None);
        };
        let mut msg = Message::new(&kind);
        for _ in 0..count {
            let (tag, len) = header(r)?.ok_or_else(|| bad("message cut short"))?;
            if len > MAX_FIELD {
                return Err(bad("field too long"));
            }
            // Grown as the bytes arrive, not allocated up front from the
            // length a peer claims (a corrupt one could claim MAX_FIELD).
            let mut value = Vec::new();
            r.by_ref().take(len as u64 + 1).read_to_end(&mut value)?;
            if value.len() != len + 1 {
                return Err(bad("message cut short"));
            }
            if value.pop() != Some(b'\n') {
                return Err(bad("field not followed by a newline"));
            }
            msg.fields.push((tag, value));
        }
        Ok(Some(msg))
    }
}

fn bad(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

/// A `<word> <number>` line; `None` at the end of input.
fn header(r: &mut impl BufRead) -> io::Result<Option<(String, usize)>> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let line = line.trim_end_matches('\n');
    let (word, n) = line
        .split_once(' ')
        .ok_or_else(|| bad(&format!("not a message header: {line:?}")))?;
    let n = n
        .parse()
        .map_err(|_| bad(&format!("not a message header: {line:?}")))?;
    Ok(Some((word.to_string(), n)))
}

/// The bytes of an OS string as sent (see the module docs).
pub fn os_bytes(s: &OsStr) -> Option<&[u8]> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        Some(s.as_bytes())
    }
    #[cfg(not(unix))]
    {
        s.to_str().map(str::as_bytes)
    }
}

/// An OS string from bytes sent by [`os_bytes`].
pub fn os_string(b: &[u8]) -> OsString {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        OsStr::from_bytes(b).to_os_string()
    }
    #[cfg(not(unix))]
    {
        String::from_utf8_lossy(b).into_owned().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_any_bytes() {
        let mut m = Message::new("lookup");
        m.push("name", "foo")
            .push("arg", "-DX=\"a b\"\nc")
            .push("arg", b"\xff\n")
            .push("empty", "");
        let mut buf = Vec::new();
        m.write_to(&mut buf).unwrap();
        Message::new("end").write_to(&mut buf).unwrap();
        let mut r = buf.as_slice();
        assert_eq!(Message::read_from(&mut r).unwrap(), Some(m.clone()));
        assert_eq!(Message::read_from(&mut r).unwrap().unwrap().kind, "end");
        assert_eq!(Message::read_from(&mut r).unwrap(), None);
        assert_eq!(m.all("arg").count(), 2);
        assert_eq!(m.text("name").as_deref(), Some("foo"));
    }

    #[test]
    fn a_peer_out_of_sync_is_an_error_not_a_panic() {
        for input in [&b"hit\n"[..], b"hit 1\n", b"hit 1\nx 99\nab", b"hit x\n"] {
            let mut r = input;
            assert!(Message::read_from(&mut r).is_err(), "{input:?}");
        }
    }
}
