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
        let spliced = splice(&bytes);
        let facts = FileFacts {
            state: FactState::File,
            mtime_ns: meta.modified().map(ns_since_epoch).unwrap_or(i128::MAX),
            hash: hex(&hash_bytes(&bytes)),
            scan: scan_spliced(&spliced),
            named: Vec::new(),
        };
        (facts, spliced.into_owned())
    }

    /// These facts with `named` found in `spliced` among `candidates`.
    pub fn naming(mut self, spliced: &[u8], candidates: &[String]) -> FileFacts {
        self.named = names_in(spliced, candidates);
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
            s.include_unknown,
            s.system_header,
        ]
        .iter()
        .map(|&b| if b { '1' } else { '0' })
        .collect();
        out.push(format!("{state} {} {} {flags}", self.mtime_ns, self.hash).into_bytes());
        for list in [
            &s.has_include_names,
            &s.line_names,
            &s.include_names,
            &self.named,
        ] {
            out.push(list.len().to_string().into_bytes());
            out.extend(list.iter().map(|n| n.clone().into_bytes()));
        }
        out.push(s.include_kinds.iter().map(|k| b'0' + k).collect());
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
        let [date_time, timestamp, has_include_macro, hidden_input, include_unknown, system_header] =
            flags[..]
        else {
            return None;
        };
        let mut list = || -> Option<Vec<String>> {
            let n: usize = std::str::from_utf8(&fields.next()?).ok()?.parse().ok()?;
            (0..n)
                .map(|_| String::from_utf8(fields.next()?).ok())
                .collect()
        };
        let (has_include_names, line_names, include_names, named) =
            (list()?, list()?, list()?, list()?);
        let include_kinds: Vec<u8> = fields
            .next()?
            .iter()
            .map(|k| k.checked_sub(b'0').filter(|k| *k <= QUOTED | ANGLE | NEXT))
            .collect::<Option<_>>()?;
        if include_kinds.len() != include_names.len() {
            return None;
        }
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
                include_names,
                include_kinds,
                include_unknown,
                system_header,
            },
            named,
        })
    }
}

/// [`FileFacts::named`]: which of `candidates` the spliced text spells
/// (none asked, none searched for).
pub(crate) fn names_in(spliced: &[u8], candidates: &[String]) -> Vec<String> {
    if candidates.is_empty() {
        return Vec::new();
    }
    identifiers_named(spliced, candidates)
}

/// Which of `names` appear in `bytes` as a whole identifier (not inside a
/// longer one).
pub(crate) fn identifiers_named(bytes: &[u8], names: &[String]) -> Vec<String> {
    // What an identifier is made of (letters, digits, `_`, `$`, and any
    // byte of a UTF-8 sequence), as a table: this runs over every byte of
    // every header a miss read.
    const IDENT: [bool; 256] = {
        let mut t = [false; 256];
        let mut b = 0;
        while b < 256 {
            let c = b as u8;
            t[b] = c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80;
            b += 1;
        }
        t
    };
    // A word is compared only if a name could be it: its first byte and
    // length fit one.
    let mut first = [false; 256];
    let (mut shortest, mut longest) = (usize::MAX, 0);
    for n in names {
        if let Some(&b) = n.as_bytes().first() {
            first[b as usize] = true;
        }
        shortest = shortest.min(n.len());
        longest = longest.max(n.len());
    }
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !IDENT[bytes[i] as usize] {
            i += 1;
            continue;
        }
        let start = i;
        i += bytes[i..]
            .iter()
            .position(|&b| !IDENT[b as usize])
            .unwrap_or(bytes.len() - i);
        let word = &bytes[start..i];
        if !first[word[0] as usize] || word.len() < shortest || word.len() > longest {
            continue;
        }
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
    /// The operands of the `#include`, `#include_next` and `#import`
    /// directives (literal `<...>` or `"..."` ones, as written), and
    /// directive-like text: a superset. With [`Scan::include_unknown`],
    /// what tells whether this file may have included another
    /// ([`include_directives`]).
    pub include_names: Vec<String>,
    /// How each of [`Scan::include_names`] is included, in its order: the
    /// bits [`QUOTED`] (`"..."`), [`ANGLE`] (`<...>`) and [`NEXT`]
    /// (`#include_next`), of every directive naming it.
    pub include_kinds: Vec<u8>,
    /// Some include directive's operand is not a literal name (a macro:
    /// `#include CONFIG_H`), or a comment sits between its `#` and its
    /// name: which file it includes cannot be told from the text.
    pub include_unknown: bool,
    /// What follows in this file may be a system header's text though the
    /// file is not in a system directory: `#pragma GCC system_header`
    /// (spelled `system_header` anywhere, `_Pragma` too) or a linemarker
    /// (`# 12 "x.h" 3`), which may carry the system-header flag.
    pub system_header: bool,
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
    // Only a `\` or a `?` can start one: memchr finds those.
    let next_splice = |from: usize| {
        memchr::memchr2_iter(b'\\', b'?', &bytes[from..])
            .map(|k| from + k)
            .find_map(|i| splice_at(i).map(|end| (i, end)))
    };
    let Some((first, mut end)) = next_splice(0) else {
        return std::borrow::Cow::Borrowed(bytes);
    };
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(&bytes[..first]);
    loop {
        match next_splice(end) {
            Some((at, after)) => {
                out.extend_from_slice(&bytes[end..at]);
                end = after;
            }
            None => {
                out.extend_from_slice(&bytes[end..]);
                break;
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
#[cfg(test)]
pub(crate) fn scan(raw: &[u8]) -> Scan {
    scan_spliced(&splice(raw))
}

/// [`scan`] of text already spliced.
fn scan_spliced(bytes: &[u8]) -> Scan {
    let mut s = Scan::default();
    // The assembler reads `.incbin` and `.include` files (in `.S` files and
    // inline asm; directives are case-insensitive), which no depfile of the
    // compiler lists. String literals may split the name: `".inc" "bin"`.
    // `.include` only as a directive, its name ended (a blank, a quote):
    // not C's `cfg->file.includes` (libgit2), which is no input at all.
    // (Searched in a lowercased copy: one pass, then memmem.)
    let hidden = |text: &[u8]| {
        let lower = text.to_ascii_lowercase();
        memchr::memmem::find(&lower, b"incbin").is_some() || has_include_directive(text, &lower)
    };
    // Joined literals differ from the text only where one literal follows
    // another (see `join_string_literals`): most files have none.
    if hidden(bytes) || (has_adjacent_literals(bytes) && hidden(&join_string_literals(bytes))) {
        s.hidden_input = true;
    }
    // `#pragma GCC dependency "file"` (or through `_Pragma`): compares the
    // file's mtime with the current file's and warns.
    if pragma_dependency(bytes) {
        s.hidden_input = true;
    }
    // Non-overlapping, as `find` from two past each match was.
    for at in memchr::memmem::find_iter(bytes, b"__") {
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
    }
    s.line_names = line_directive_names(bytes);
    (s.include_names, s.include_kinds, s.include_unknown) = include_directives(bytes);
    s.system_header = memchr::memmem::find(bytes, b"system_header").is_some() || linemarker(bytes);
    s
}

/// Blanks inside a directive line (besides comments).
fn blank(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\x0b' | b'\x0c' | b'\r')
}

/// A byte of an identifier (as [`identifiers_named`] counts them).
fn ident_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80
}

/// [`Scan::include_kinds`]: a `"..."` operand.
pub const QUOTED: u8 = 1;
/// [`Scan::include_kinds`]: a `<...>` operand.
pub const ANGLE: u8 = 2;
/// [`Scan::include_kinds`]: `#include_next` (searched from after the
/// includer's own directory, so not where a plain include stops).
pub const NEXT: u8 = 4;

/// The operands of every include directive in `bytes` (spliced), how each
/// is included ([`QUOTED`], [`ANGLE`], [`NEXT`], or'ed over the directives
/// naming it), and whether one could not be read as a literal name.
///
/// The directives are found by [`directives`]; a directive whose name is
/// `include`, `include_next` or `import` gives its operand when that is a
/// `<...>` or `"..."` name ended on its line, and is unknown otherwise
/// (a macro, `#include CONFIG_H`). Never fewer names than gcc sees.
pub(crate) fn include_directives(bytes: &[u8]) -> (Vec<String>, Vec<u8>, bool) {
    let mut names: Vec<String> = Vec::new();
    let mut kinds: Vec<u8> = Vec::new();
    let mut unknown = false;
    for d in directives(bytes) {
        let rest = skip_blanks(d);
        let word_len = rest.iter().take_while(|&&c| ident_byte(c)).count();
        let next = match &rest[..word_len] {
            b"include" | b"import" => 0,
            b"include_next" => NEXT,
            _ => continue,
        };
        let rest = skip_blanks(&rest[word_len..]);
        let (close, kind) = match rest.first() {
            Some(b'<') => (b'>', ANGLE),
            Some(b'"') => (b'"', QUOTED),
            _ => {
                unknown = true;
                continue;
            }
        };
        match rest[1..].iter().position(|&c| c == close || c == b'\n') {
            Some(p) if rest[1 + p] == close => {
                let name = String::from_utf8_lossy(&rest[1..1 + p]).into_owned();
                match names.iter().position(|n| *n == name) {
                    Some(i) => kinds[i] |= kind | next,
                    None => {
                        names.push(name);
                        kinds.push(kind | next);
                    }
                }
            }
            _ => unknown = true,
        }
    }
    (names, kinds, unknown)
}

/// `text` without its leading blanks and comments.
fn skip_blanks(mut text: &[u8]) -> &[u8] {
    loop {
        match text {
            [c, rest @ ..] if blank(*c) => text = rest,
            [b'/', b'*', rest @ ..] => {
                text = match memchr::memmem::find(rest, b"*/") {
                    Some(p) => &rest[p + 2..],
                    None => &[],
                }
            }
            [b'/', b'/', ..] => return &[],
            _ => return text,
        }
    }
}

/// Is there a linemarker (`# 12 "x.h" 3`), which may set the
/// system-header flag? (`#line` cannot.)
fn linemarker(bytes: &[u8]) -> bool {
    directives(bytes)
        .iter()
        .any(|d| skip_blanks(d).first().is_some_and(|c| c.is_ascii_digit()))
}

/// The text of every preprocessing directive in `bytes` (spliced), after
/// its `#`, to the end of its line (a comment in it may run on), found by
/// a minimal lexer: a `#` (or the digraph `%:`, or the trigraph `??=`,
/// counted always) that only blanks and comments precede on its line,
/// outside comments and literals. A literal ends at its quote or at the
/// end of its line, as gcc's lexer ends an unterminated one, so a stray
/// `'` (`don't` in an `#if 0` block) hides nothing; a C++ raw string is
/// lexed as ordinary ones, which can only find more directives than
/// there are. No directive is missed.
fn directives(bytes: &[u8]) -> Vec<&[u8]> {
    let n = bytes.len();
    let mut out = Vec::new();
    // Past a block comment, or the end if it has none.
    let comment_end =
        |from: usize| memchr::memmem::find(&bytes[from..], b"*/").map_or(n, |p| from + p + 2);
    let line_end = |from: usize| memchr::memchr(b'\n', &bytes[from..]).map_or(n, |p| from + p);
    let mut at_line_start = true;
    let mut i = 0;
    while i < n {
        let c = bytes[i];
        let hash = if !at_line_start {
            0
        } else if c == b'#' {
            1
        } else if bytes[i..].starts_with(b"%:") {
            2
        } else if bytes[i..].starts_with(b"??=") {
            3
        } else {
            0
        };
        if hash > 0 {
            // The directive's end: its line's, past any comment in it.
            let start = i + hash;
            let mut j = start;
            while j < n && bytes[j] != b'\n' {
                match bytes[j] {
                    b'/' if bytes.get(j + 1) == Some(&b'*') => j = comment_end(j + 2),
                    b'/' if bytes.get(j + 1) == Some(&b'/') => j = line_end(j),
                    q @ (b'"' | b'\'') => j = literal_end(bytes, j, q),
                    _ => j += 1,
                }
            }
            out.push(&bytes[start..j]);
            i = j;
            continue;
        }
        match c {
            b'\n' => {
                at_line_start = true;
                i += 1;
            }
            c if blank(c) => i += 1,
            b'/' if bytes.get(i + 1) == Some(&b'*') => i = comment_end(i + 2),
            b'/' if bytes.get(i + 1) == Some(&b'/') => i = line_end(i),
            q @ (b'"' | b'\'') => {
                at_line_start = false;
                i = literal_end(bytes, i, q);
            }
            _ => {
                at_line_start = false;
                i += 1;
            }
        }
    }
    out
}

/// Past the literal that opens with the quote `q` at `at`: after its
/// closing quote, or at its line's end (not past the newline).
fn literal_end(bytes: &[u8], at: usize, q: u8) -> usize {
    let mut j = at + 1;
    while j < bytes.len() && bytes[j] != b'\n' {
        if bytes[j] == q {
            return j + 1;
        }
        j += if bytes[j] == b'\\' { 2 } else { 1 };
    }
    j.min(bytes.len())
}

/// The absolute names of `#line N "name"` and `# N "name"` directives
/// (the name as written; escapes are rare in paths and left as they are).
fn line_directive_names(bytes: &[u8]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let blank = |b: &u8| *b == b' ' || *b == b'\t';
    // Each `#` that only blanks precede on its line (memchr finds them).
    for at in memchr::memchr_iter(b'#', bytes) {
        let line_start = memchr::memrchr(b'\n', &bytes[..at]).map_or(0, |n| n + 1);
        if !bytes[line_start..at].iter().all(blank) {
            continue;
        }
        let line_end = memchr::memchr(b'\n', &bytes[at..]).map_or(bytes.len(), |n| at + n);
        let mut rest = &bytes[at + 1..line_end];
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
fn has_include_directive(bytes: &[u8], lower: &[u8]) -> bool {
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
    // `lower` is `bytes` lowercased: the same offsets. Matches may overlap
    // in principle, not for this needle (no proper prefix is a suffix).
    memchr::memmem::find_iter(lower, D).any(|at| {
        bytes
            .get(at + D.len())
            .is_none_or(|c| !(c.is_ascii_alphanumeric() || *c == b'_'))
            && !operandless_literal(at)
    })
}

/// Does a string literal follow another, blanks between (`"a" "b"`)?
/// Exactly when [`join_string_literals`] changes `bytes`.
fn has_adjacent_literals(bytes: &[u8]) -> bool {
    memchr::memchr_iter(b'"', bytes).any(|i| {
        let j = i
            + 1
            + bytes[i + 1..]
                .iter()
                .take_while(|c| c.is_ascii_whitespace())
                .count();
        j > i + 1 && bytes.get(j) == Some(&b'"')
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
    memchr::memmem::find_iter(bytes, b"GCC").any(|at| {
        let mut j = at + 3;
        while j < bytes.len() && bytes[j].is_ascii_whitespace() {
            j += 1;
        }
        j > at + 3 && bytes[j..].starts_with(b"dependency")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scan as it was before memchr: byte by byte, every needle at
    /// every offset. The fast one must agree with it on any text.
    mod reference {
        use super::super::Scan;

        pub fn identifiers_named(bytes: &[u8], names: &[String]) -> Vec<String> {
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

        pub fn splice(bytes: &[u8]) -> std::borrow::Cow<'_, [u8]> {
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

        pub fn scan(raw: &[u8]) -> Scan {
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
                                s.has_include_names.push(
                                    String::from_utf8_lossy(&rest[j + 1..j + 1 + p]).into_owned(),
                                );
                            }
                            _ => s.has_include_macro = true,
                        }
                    }
                }
                i = at + 2;
            }
            s.line_names = line_directive_names(bytes);
            // Not compared here: checked against gcc's own depfiles
            // (`cc`'s `user_headers_without_a_pass_match_gccs`).
            (s.include_names, s.include_kinds, s.include_unknown) =
                super::super::include_directives(bytes);
            s.system_header =
                super::super::linemarker(bytes) || find(bytes, b"system_header").is_some();
            s
        }

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
    }

    /// Texts made of the pieces the scan looks for, cut and joined at
    /// random (xorshift from `seed`, so a failing seed reruns as it was).
    fn text(seed: u64) -> Vec<u8> {
        const PIECES: &[&[u8]] = &[
            b"\\",
            b"\\\n",
            b"\\ \t\n",
            b"\\\r\n",
            b"??/",
            b"??/\n",
            b"?",
            b"??",
            b"\n",
            b" ",
            b"\t",
            b"\"",
            b"\" \"",
            b"\"\n\"",
            b"\"\"",
            b"#",
            b"# ",
            b"#line ",
            b"# 12 ",
            b"#line 7 \"/w/a.c\"",
            b"\"/x/y.h\"",
            b"/",
            b"__",
            b"_",
            b"DATE",
            b"__TI",
            b"ME__",
            b"__has_include",
            b"_next",
            b"(",
            b")",
            b"<a.h>",
            b"<",
            b">",
            b"__has_include(<a/b.h>)",
            b"__has_include_next ( \"c.h\" )",
            b"inc",
            b"bin",
            b".incl",
            b"ude",
            b"x",
            b"GCC",
            b"dependency",
            b",",
            b";",
            b"_Pragma",
            b"9",
            b"\xff",
        ];
        // Rarer: each sets an answer on its own.
        const RARE: &[&[u8]] = &[
            b"__DATE__",
            b"__TIMESTAMP__",
            b"incbin",
            b"INCBIN",
            b".include",
            b".INCLUDE",
            b"GCC dependency",
        ];
        let mut next = crate::testing::picker(seed);
        let mut out = Vec::new();
        for _ in 0..next(60) {
            let piece = match next(40) {
                0 => RARE[next(RARE.len())],
                _ => PIECES[next(PIECES.len())],
            };
            out.extend_from_slice(piece);
        }
        out
    }

    #[test]
    fn fast_scan_agrees_with_the_byte_by_byte_one() {
        // How often each answer came up: the texts must exercise them all.
        let mut seen = [0usize; 7];
        for seed in 0..20_000 {
            let t = text(seed);
            let spliced = splice(&t);
            assert_eq!(
                spliced,
                reference::splice(&t),
                "seed {seed}: {:?}",
                String::from_utf8_lossy(&t)
            );
            let s = scan(&t);
            assert_eq!(
                s,
                reference::scan(&t),
                "seed {seed}: {:?}",
                String::from_utf8_lossy(&t)
            );
            let names = [
                "x".to_string(),
                "DATE".into(),
                "GCC".into(),
                "dependency".into(),
                "__TI".into(),
                "bin".into(),
            ];
            assert_eq!(
                identifiers_named(&spliced, &names),
                reference::identifiers_named(&spliced, &names),
                "seed {seed}"
            );
            let [spl, hidden, dt, ts, names, mac, lines] = &mut seen;
            *spl += usize::from(spliced.len() != t.len());
            *hidden += usize::from(s.hidden_input);
            *dt += usize::from(s.date_time);
            *ts += usize::from(s.timestamp);
            *names += usize::from(!s.has_include_names.is_empty());
            *mac += usize::from(s.has_include_macro);
            *lines += usize::from(!s.line_names.is_empty());
        }
        assert!(seen.iter().all(|&n| n > 100 && n < 19_900), "{seen:?}");
    }

    /// What the include scan finds, and what it must not miss. (Against
    /// gcc's own lists: `cc`'s `user_headers_without_a_pass_match_gccs`.)
    #[test]
    fn include_directives_are_found_where_gcc_finds_them() {
        let scan_kinds = |t: &str| {
            let s = scan(t.as_bytes());
            (s.include_names, s.include_kinds)
        };
        let scan = |t: &str| {
            let s = scan(t.as_bytes());
            (s.include_names, s.include_unknown, s.system_header)
        };
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        // Comments and literals hold no directive; glibc's limits.h says
        // "#include's protect themselves" in one.
        assert_eq!(
            scan("/* #include's protect\n   #include_next through */\nconst char *s = \"#include x\";\n// #include y\n"),
            (names(&[]), false, false)
        );
        // Blanks and comments before and inside a directive.
        assert_eq!(
            scan("  /* c */ # /* d */ include /* e */ <a/b.h>\n\t#include_next \"c.h\"\n%:import <d.h>\n"),
            (names(&["a/b.h", "c.h", "d.h"]), false, false)
        );
        // How each name is included, or'ed over its directives.
        assert_eq!(
            scan_kinds("#include <a.h>\n#include_next \"c.h\"\n#include \"a.h\"\n"),
            (names(&["a.h", "c.h"]), vec![ANGLE | QUOTED, QUOTED | NEXT])
        );
        // A stray quote ends with its line: the directive after it counts.
        assert_eq!(
            scan("#if 0\ndon't\n#endif\n#include <e.h>\n"),
            (names(&["e.h"]), false, false)
        );
        // A comment that runs on from a directive hides what it covers.
        assert_eq!(
            scan("#define X /* a\n#include <no.h>\n*/\n#include <f.h>\n"),
            (names(&["f.h"]), false, false)
        );
        // A name the text does not give; a name not ended on its line.
        assert_eq!(scan("#include CONFIG_H\n"), (names(&[]), true, false));
        assert_eq!(scan("#include <g.h\n"), (names(&[]), true, false));
        // What may make a file a system header.
        assert_eq!(scan("# 12 \"x.h\" 3\n"), (names(&[]), false, true));
        assert_eq!(scan("#line 12 \"x.h\"\n"), (names(&[]), false, false));
        assert_eq!(
            scan("#pragma GCC system_header\n"),
            (names(&[]), false, true)
        );
        assert_eq!(
            scan("_Pragma(\"GCC system_header\")\n"),
            (names(&[]), false, true)
        );
    }
}
