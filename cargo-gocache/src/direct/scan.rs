//! What a compile's key needs of each file it read, found in the file's
//! text: its hash, the time macros, `#line` names, `__has_include`, inputs
//! the assembler reads that no depfile lists, and which macro names it
//! spells ([`FileFacts`]). Read by the wrapper, or inside an observed build
//! script by the observing process for it (`crate::observe::delegate`),
//! which is why this stands apart from the manifest that uses it.

use std::fs;
use std::path::Path;
use std::time::SystemTime;

use crate::key::hash::{hash_bytes, hex};

/// What a compile's key needs of one file it read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FileFacts {
    pub state: FactState,
    /// Modified, in nanoseconds since the epoch.
    pub mtime_ns: i128,
    /// Hex SHA-256 of the content.
    pub hash: String,
    pub scan: Scan,
    /// Which of the asked-for macro names the (spliced) text spells.
    pub named: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FactState {
    #[default]
    File,
    /// Not a regular file (a directory, a device).
    NotFile,
    Unreadable,
}

pub(crate) fn ns_since_epoch(t: SystemTime) -> i128 {
    match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i128,
        Err(e) => -(e.duration().as_nanos() as i128),
    }
}

impl FileFacts {
    /// Read and scan `path` here.
    pub fn of(path: &Path, candidates: &[String]) -> FileFacts {
        let (facts, spliced) = FileFacts::read(path);
        facts.naming(&spliced, candidates)
    }

    /// The facts but `named`, and the spliced text to find names in.
    pub fn read(path: &Path) -> (FileFacts, Vec<u8>) {
        let unreadable = || {
            let facts = FileFacts {
                state: FactState::Unreadable,
                ..FileFacts::default()
            };
            (facts, Vec::new())
        };
        let Ok(meta) = fs::metadata(path) else {
            return unreadable();
        };
        if !meta.is_file() {
            let facts = FileFacts {
                state: FactState::NotFile,
                ..FileFacts::default()
            };
            return (facts, Vec::new());
        }
        let Ok(bytes) = fs::read(path) else {
            return unreadable();
        };
        let facts = FileFacts {
            state: FactState::File,
            mtime_ns: meta.modified().map(ns_since_epoch).unwrap_or(i128::MAX),
            hash: hex(&hash_bytes(&bytes)),
            scan: scan(&bytes),
            named: Vec::new(),
        };
        let spliced = splice(&bytes).into_owned();
        (facts, spliced)
    }

    /// These facts with `named` found in `spliced` among `candidates`.
    pub fn naming(mut self, spliced: &[u8], candidates: &[String]) -> FileFacts {
        if !candidates.is_empty() {
            self.named = identifiers_named(spliced, candidates);
        }
        self
    }

    /// As fields of the observing process's wire format.
    pub fn encode(&self, out: &mut Vec<Vec<u8>>) {
        let state = match self.state {
            FactState::File => "f",
            FactState::NotFile => "n",
            FactState::Unreadable => "u",
        };
        let s = &self.scan;
        let flags: String = [
            s.date_time,
            s.timestamp,
            s.has_include_macro,
            s.hidden_input,
        ]
        .iter()
        .map(|&b| if b { '1' } else { '0' })
        .collect();
        out.push(format!("{state} {} {} {flags}", self.mtime_ns, self.hash).into_bytes());
        for list in [&s.has_include_names, &s.line_names, &self.named] {
            out.push(list.len().to_string().into_bytes());
            out.extend(list.iter().map(|n| n.clone().into_bytes()));
        }
    }

    /// The inverse of [`FileFacts::encode`]; `None` if malformed.
    pub fn decode(fields: &mut impl Iterator<Item = Vec<u8>>) -> Option<FileFacts> {
        let head = String::from_utf8(fields.next()?).ok()?;
        let mut it = head.split(' ');
        let state = match it.next()? {
            "f" => FactState::File,
            "n" => FactState::NotFile,
            "u" => FactState::Unreadable,
            _ => return None,
        };
        let mtime_ns: i128 = it.next()?.parse().ok()?;
        let hash = it.next()?.to_string();
        let flags: Vec<bool> = it.next()?.chars().map(|c| c == '1').collect();
        let [date_time, timestamp, has_include_macro, hidden_input] = flags[..] else {
            return None;
        };
        let mut list = || -> Option<Vec<String>> {
            let n: usize = std::str::from_utf8(&fields.next()?).ok()?.parse().ok()?;
            (0..n)
                .map(|_| String::from_utf8(fields.next()?).ok())
                .collect()
        };
        let (has_include_names, line_names, named) = (list()?, list()?, list()?);
        Some(FileFacts {
            state,
            mtime_ns,
            hash,
            scan: Scan {
                date_time,
                timestamp,
                has_include_names,
                has_include_macro,
                hidden_input,
                line_names,
            },
            named,
        })
    }
}

/// Which of `names` appear in `bytes` as a whole identifier (not inside a
/// longer one).
pub(crate) fn identifiers_named(bytes: &[u8], names: &[String]) -> Vec<String> {
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80;
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !ident(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && ident(bytes[i]) {
            i += 1;
        }
        let word = &bytes[start..i];
        if let Some(n) = names.iter().find(|n| n.as_bytes() == word) {
            if !found.contains(n) {
                found.push(n.clone());
            }
        }
    }
    found
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scan {
    pub date_time: bool,
    pub timestamp: bool,
    pub has_include_names: Vec<String>,
    pub has_include_macro: bool,
    pub hidden_input: bool,
    /// Absolute file names given by `#line N "name"` or a linemarker
    /// (`# N "name"`): the compiler writes them into the object
    /// (`__FILE__`, debug info) through its prefix map.
    pub line_names: Vec<String>,
}

/// `bytes` with every line splice removed, as translation phase 2 does
/// (`\` + newline, with the blanks gcc allows between them, and the
/// trigraph `??/` for the backslash): `__TI\` + newline + `ME__` is
/// `__TIME__`. Borrowed when there is nothing to splice.
pub(crate) fn splice(bytes: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let splice_at = |i: usize| -> Option<usize> {
        let mut j = if bytes[i] == b'\\' {
            i + 1
        } else if bytes[i..].starts_with(b"??/") {
            i + 3
        } else {
            return None;
        };
        while j < bytes.len() && (bytes[j] == b' ' || bytes[j] == b'\t') {
            j += 1;
        }
        if bytes.get(j) == Some(&b'\r') {
            j += 1;
        }
        (bytes.get(j) == Some(&b'\n')).then_some(j + 1)
    };
    let first = (0..bytes.len()).find(|&i| splice_at(i).is_some());
    let Some(first) = first else {
        return std::borrow::Cow::Borrowed(bytes);
    };
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(&bytes[..first]);
    let mut i = first;
    while i < bytes.len() {
        match splice_at(i) {
            Some(next) => i = next,
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Look through a file's bytes for the identifiers that matter to caching.
///
/// A text scan, after line splicing: a time macro made by token pasting
/// (`CAT(__TI, ME__)`) is caught by the compile itself instead (the
/// wrapper compiles a miss with `-Wdate-time`).
pub(crate) fn scan(raw: &[u8]) -> Scan {
    let spliced = splice(raw);
    let bytes: &[u8] = &spliced;
    let mut s = Scan::default();
    let lower_has = |needle: &[u8]| {
        bytes
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
    };
    // The assembler reads `.incbin` and `.include` files (in `.S` files and
    // inline asm; directives are case-insensitive), which no depfile of the
    // compiler lists. String literals may split the name: `".inc" "bin"`.
    // `.include` only as a directive, its name ended (a blank, a quote):
    // not C's `cfg->file.includes` (libgit2), which is no input at all.
    if lower_has(b"incbin") || has_include_directive(bytes) || {
        let joined = join_string_literals(bytes);
        joined.windows(6).any(|w| w.eq_ignore_ascii_case(b"incbin"))
            || has_include_directive(&joined)
    } {
        s.hidden_input = true;
    }
    // `#pragma GCC dependency "file"` (or through `_Pragma`): compares the
    // file's mtime with the current file's and warns.
    if pragma_dependency(bytes) {
        s.hidden_input = true;
    }
    let mut i = 0;
    while let Some(off) = find(&bytes[i..], b"__") {
        let at = i + off;
        let rest = &bytes[at..];
        if rest.starts_with(b"__DATE__") || rest.starts_with(b"__TIME__") {
            s.date_time = true;
        } else if rest.starts_with(b"__TIMESTAMP__") {
            s.timestamp = true;
        } else if rest.starts_with(b"__has_include") {
            let mut j = b"__has_include".len();
            if rest[j..].starts_with(b"_next") {
                j += 5;
            }
            let skip_ws = |j: &mut usize| {
                while rest.get(*j).is_some_and(|c| c.is_ascii_whitespace()) {
                    *j += 1
                }
            };
            skip_ws(&mut j);
            if rest.get(j) == Some(&b'(') {
                j += 1;
                skip_ws(&mut j);
                let close = match rest.get(j) {
                    Some(b'<') => Some(b'>'),
                    Some(b'"') => Some(b'"'),
                    _ => None,
                };
                match close.and_then(|c| {
                    rest[j + 1..]
                        .iter()
                        .position(|&b| b == c || b == b'\n')
                        .map(|p| (c, p))
                }) {
                    Some((c, p)) if rest[j + 1 + p] == c => {
                        s.has_include_names
                            .push(String::from_utf8_lossy(&rest[j + 1..j + 1 + p]).into_owned());
                    }
                    _ => s.has_include_macro = true,
                }
            }
        }
        i = at + 2;
    }
    s.line_names = line_directive_names(bytes);
    s
}

/// The absolute names of `#line N "name"` and `# N "name"` directives
/// (the name as written; escapes are rare in paths and left as they are).
fn line_directive_names(bytes: &[u8]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for line in bytes.split(|&b| b == b'\n') {
        let blank = |b: &u8| *b == b' ' || *b == b'\t';
        let mut rest = line;
        while rest.first().is_some_and(blank) {
            rest = &rest[1..];
        }
        let Some(r) = rest.strip_prefix(b"#") else {
            continue;
        };
        rest = r;
        while rest.first().is_some_and(blank) {
            rest = &rest[1..];
        }
        if let Some(r) = rest.strip_prefix(b"line") {
            rest = r;
            while rest.first().is_some_and(blank) {
                rest = &rest[1..];
            }
        }
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 {
            continue;
        }
        rest = &rest[digits..];
        while rest.first().is_some_and(blank) {
            rest = &rest[1..];
        }
        let Some(r) = rest
            .strip_prefix(b"\"")
            .filter(|r| r.first() == Some(&b'/'))
        else {
            continue;
        };
        let Some(end) = r.iter().position(|&b| b == b'"') else {
            continue;
        };
        let name = String::from_utf8_lossy(&r[..end]).into_owned();
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// Does `bytes` hold the assembler's `.include` directive (any case), that is
/// `.include` not followed by a character of a name?
///
/// Not a C string literal that is `.include` and nothing else, ended by
/// `)`, `,` or `;` (openssl's `conf_def.c` compares a config keyword with
/// `".include"`): such a literal has no operand, and nothing can follow
/// it in the same string, so the assembler would get no file from it. Any
/// other follower (an adjacent literal, a macro that may expand to one) is
/// taken as an operand. Adjacent literals are also joined before a second
/// scan (see [`scan`]), so `"x" ".include"` is `"x.include"`, which does
/// not start with the quote and stays a directive.
fn has_include_directive(bytes: &[u8]) -> bool {
    const D: &[u8] = b".include";
    let operandless_literal = |at: usize| {
        let end = at + D.len();
        if at == 0 || bytes[at - 1] != b'"' || bytes.get(end) != Some(&b'"') {
            return false;
        }
        let rest = &bytes[end + 1..];
        let next = rest.iter().find(|c| !c.is_ascii_whitespace());
        matches!(next, Some(b')' | b',' | b';'))
    };
    bytes.windows(D.len()).enumerate().any(|(at, w)| {
        w.eq_ignore_ascii_case(D)
            && bytes
                .get(at + D.len())
                .is_none_or(|c| !(c.is_ascii_alphanumeric() || *c == b'_'))
            && !operandless_literal(at)
    })
}

/// `bytes` with adjacent string literals joined (`"a" "b"` is `"ab"`):
/// every `"`, blanks, `"` run removed.
fn join_string_literals(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'"' {
            let mut j = i + 1;
            while j < bytes.len() && bytes[j].is_ascii_whitespace() {
                j += 1;
            }
            if j < bytes.len() && bytes[j] == b'"' && j > i + 1 {
                i = j + 1;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// Is there a `GCC`, blanks, then `dependency` (the directive, or the
/// string of a `_Pragma`)?
fn pragma_dependency(bytes: &[u8]) -> bool {
    let mut i = 0;
    while let Some(off) = find(&bytes[i..], b"GCC") {
        let mut j = i + off + 3;
        let ws_start = j;
        while j < bytes.len() && bytes[j].is_ascii_whitespace() {
            j += 1;
        }
        if j > ws_start && bytes[j..].starts_with(b"dependency") {
            return true;
        }
        i = i + off + 3;
    }
    false
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
