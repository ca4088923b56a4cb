//! Static archives (`ar`) and the build ID stamped into them.
//!
//! # Build IDs
//!
//! As in Go (`cmd/go/internal/work/buildid.go`), a build ID has two parts,
//! `actionID/contentID`, each the first 15 bytes of a SHA-256 written as 20
//! characters of unpadded base64url:
//!
//! * the **action ID** covers what the archive was built *from*: for the
//!   build.rs helper, the sorted source names (mapped to path-independent
//!   names) with their content hashes, the compiler and its flags, and the
//!   headers each source read; for the `ar` wrapper, which never sees the
//!   sources, the names and content of the member objects;
//! * the **content ID** covers what the archive *holds*: the name and
//!   SHA-256 of every member except the build ID member itself and the
//!   symbol index.
//!
//! A later build recomputes the action ID from what it sees now and compares
//! it with the archive's: a removed source changes the list, and so the ID,
//! although every remaining file is older than the archive.
//!
//! # Layout of the build ID member
//!
//! The ID lives in a member named [`BUILD_ID_MEMBER`] (`__.GOCACHE_ID`,
//! short enough for the 16-byte name field of both GNU and BSD headers, so
//! no long-name table is involved), placed first among the members, right
//! after the symbol index. Its payload is text:
//!
//! ```text
//! gocache-buildid v1
//! id <action>/<content>
//! source <mapped source name>      (one line per source, sorted)
//! end
//! ```
//!
//! When the archive's objects are ELF, the payload is wrapped in a minimal
//! ELF relocatable object of the same class, byte order, machine and flags,
//! holding no symbols and one section, `.gocache.buildid`, marked
//! `SHF_EXCLUDE`. A plain text member is fine for an ordinary link (the
//! symbol index never names it, so the linker never loads it) but GNU ld
//! rejects it under `--whole-archive` (`member ... is not an object`), which
//! rustc passes for `+whole-archive` libraries. The ELF member is loaded
//! there, contributes nothing, and its section is dropped from the output.
//! `ar t` lists it; `nm` lists no symbols for it.
//!
//! # Determinism
//!
//! [`Archive::to_bytes`] writes every member header with zero time, uid and
//! gid and mode 644 (what `ar D` does), and no symbol index: after a write,
//! the caller runs the archiver's `s` operation (see [`stamp`]) so the index
//! is the archiver's own. Same members, same bytes.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::error::{Error, ErrorKind, IoContext, Result};
use crate::key::hash::{hash_bytes, hex, ActionId};
use crate::store::read_full;

/// The name of the member that holds the build ID.
pub const BUILD_ID_MEMBER: &str = "__.GOCACHE_ID";

const MAGIC: &[u8; 8] = b"!<arch>\n";
const THIN_MAGIC: &[u8; 8] = b"!<thin>\n";
const HEADER_LEN: usize = 60;
const PAYLOAD_HEADER: &str = "gocache-buildid v1\n";
const SECTION_NAME: &str = ".gocache.buildid";

/// The two header flavours in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// GNU/System V: `name/`, long names in a `//` table, index `/`.
    Gnu,
    /// BSD/macOS: `#1/<len>` long names stored before the data, index `__.SYMDEF`.
    Bsd,
}

/// One member: its name and bytes (header metadata is not kept: writes are
/// deterministic).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The member's file name.
    pub name: String,
    /// Its content.
    pub data: Vec<u8>,
}

/// An archive's members, without its symbol index and long-name table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Archive {
    /// Which header flavour to write.
    pub format: Format,
    /// The members, in order.
    pub members: Vec<Member>,
}

/// A build ID: `action/content`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildId {
    /// What the archive was built from (20 characters).
    pub action: String,
    /// What the archive holds (20 characters).
    pub content: String,
}

impl std::fmt::Display for BuildId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.action, self.content)
    }
}

/// What the build ID member holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildInfo {
    /// The ID.
    pub id: BuildId,
    /// The sources the archive was built from (mapped names, sorted); for an
    /// archive stamped by the `ar` wrapper, its member objects.
    pub sources: Vec<String>,
}

/// The short printable form of a hash: its first 15 bytes in unpadded
/// base64url, 20 characters (Go's `hashToString`).
pub fn short_hash(hash: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(20);
    for chunk in hash[..15].chunks(3) {
        let n = (chunk[0] as u32) << 16 | (chunk[1] as u32) << 8 | chunk[2] as u32;
        for shift in [18, 12, 6, 0] {
            out.push(ALPHABET[(n >> shift & 63) as usize] as char);
        }
    }
    out
}

/// The short form of an action ID, as it appears in a build ID.
pub fn short_action(action: &ActionId) -> String {
    short_hash(&action.0)
}

fn format_err(msg: String) -> Error {
    Error::new(ErrorKind::Format, msg)
}

/// Is this member the symbol index (GNU `/`, `/SYM64/`; BSD `__.SYMDEF*`)?
fn is_symbol_index(name: &str) -> bool {
    name == "/" || name == "/SYM64/" || name.starts_with("__.SYMDEF")
}

fn parse_decimal(field: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(field).ok()?.trim_end_matches(' ');
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// A raw header: its name field (trimmed) and data size.
fn parse_header(h: &[u8], what: &str) -> Result<(String, u64)> {
    if h.len() != HEADER_LEN || &h[58..60] != b"`\n" {
        return Err(format_err(format!("{what}: damaged archive member header")));
    }
    let name = String::from_utf8_lossy(&h[..16])
        .trim_end_matches(' ')
        .to_string();
    let size =
        parse_decimal(&h[48..58]).ok_or_else(|| format_err(format!("{what}: bad member size")))?;
    Ok((name, size))
}

fn check_magic(magic: &[u8], what: &str) -> Result<()> {
    if magic == THIN_MAGIC {
        return Err(format_err(format!(
            "{what}: thin archives are not supported"
        )));
    }
    if magic != MAGIC {
        return Err(format_err(format!("{what}: not an ar archive")));
    }
    Ok(())
}

impl Archive {
    /// An empty archive.
    pub fn new(format: Format) -> Archive {
        Archive {
            format,
            members: Vec::new(),
        }
    }

    /// Read the archive at `path`.
    pub fn read(path: &Path) -> Result<Archive> {
        let bytes = std::fs::read(path).with_path("read", path)?;
        Archive::parse(&bytes, &path.display().to_string())
    }

    /// Parse archive bytes; `what` names them in errors.
    pub fn parse(bytes: &[u8], what: &str) -> Result<Archive> {
        check_magic(bytes.get(..8).unwrap_or(bytes), what)?;
        let mut format = None;
        let mut long_names: &[u8] = &[];
        let mut members = Vec::new();
        let mut at = 8;
        while at < bytes.len() {
            if bytes.len() - at < HEADER_LEN {
                // GNU ar may pad with a final newline; anything else is damage.
                if bytes[at..].iter().all(|&b| b == b'\n') {
                    break;
                }
                return Err(format_err(format!("{what}: truncated archive")));
            }
            let (raw_name, size) = parse_header(&bytes[at..at + HEADER_LEN], what)?;
            let start = at + HEADER_LEN;
            let end = start
                .checked_add(size as usize)
                .filter(|&e| e <= bytes.len())
                .ok_or_else(|| format_err(format!("{what}: truncated archive member")))?;
            let mut data = &bytes[start..end];
            at = end + (size as usize & 1);
            let name = if let Some(len) = raw_name.strip_prefix("#1/") {
                format = Some(Format::Bsd);
                let len: usize = len
                    .parse()
                    .ok()
                    .filter(|&l| l <= data.len())
                    .ok_or_else(|| format_err(format!("{what}: bad BSD member name")))?;
                let name = String::from_utf8_lossy(&data[..len])
                    .trim_end_matches('\0')
                    .to_string();
                data = &data[len..];
                name
            } else if raw_name == "//" {
                long_names = data;
                format = Some(Format::Gnu);
                continue;
            } else if is_symbol_index(&raw_name) {
                if raw_name.starts_with("__.SYMDEF") {
                    format = Some(Format::Bsd);
                }
                continue;
            } else if let Some(off) = raw_name.strip_prefix('/') {
                format = Some(Format::Gnu);
                let off: usize = off
                    .parse()
                    .ok()
                    .filter(|&o| o < long_names.len())
                    .ok_or_else(|| format_err(format!("{what}: bad long member name")))?;
                let rest = &long_names[off..];
                let end = rest
                    .windows(2)
                    .position(|w| w == b"/\n")
                    .ok_or_else(|| format_err(format!("{what}: bad long member name")))?;
                String::from_utf8_lossy(&rest[..end]).into_owned()
            } else if let Some(n) = raw_name.strip_suffix('/') {
                format = Some(Format::Gnu);
                n.to_string()
            } else {
                raw_name
            };
            if is_symbol_index(&name) {
                continue;
            }
            members.push(Member {
                name,
                data: data.to_vec(),
            });
        }
        Ok(Archive {
            format: format.unwrap_or(Format::Gnu),
            members,
        })
    }

    /// The archive as bytes: deterministic headers, no symbol index.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        let header = |out: &mut Vec<u8>, name: &str, size: usize| {
            let start = out.len();
            out.extend_from_slice(
                format!("{name:<16}{:<12}{:<6}{:<6}{:<8}{size:<10}`\n", 0, 0, 0, 644).as_bytes(),
            );
            debug_assert_eq!(out.len() - start, HEADER_LEN);
        };
        let pad = |out: &mut Vec<u8>| {
            if out.len() % 2 == 1 {
                out.push(b'\n');
            }
        };
        match self.format {
            Format::Gnu => {
                let mut table = Vec::new();
                let mut names = Vec::new();
                for m in &self.members {
                    if m.name.len() <= 15 && !m.name.contains('/') {
                        names.push(format!("{}/", m.name));
                    } else {
                        names.push(format!("/{}", table.len()));
                        table.extend_from_slice(m.name.as_bytes());
                        table.extend_from_slice(b"/\n");
                    }
                }
                if !table.is_empty() {
                    header(&mut out, "//", table.len());
                    out.extend_from_slice(&table);
                    pad(&mut out);
                }
                for (m, name) in self.members.iter().zip(names) {
                    header(&mut out, &name, m.data.len());
                    out.extend_from_slice(&m.data);
                    pad(&mut out);
                }
            }
            Format::Bsd => {
                for m in &self.members {
                    if m.name.len() <= 16 && !m.name.contains(' ') && !m.name.starts_with("#1/") {
                        header(&mut out, &m.name, m.data.len());
                    } else {
                        // Pad the name so the data stays 8-byte aligned, as Apple's ar does.
                        let mut name = m.name.as_bytes().to_vec();
                        name.resize(name.len().div_ceil(8) * 8, 0);
                        header(
                            &mut out,
                            &format!("#1/{}", name.len()),
                            name.len() + m.data.len(),
                        );
                        out.extend_from_slice(&name);
                    }
                    out.extend_from_slice(&m.data);
                    pad(&mut out);
                }
            }
        }
        out
    }

    /// The members other than the build ID member.
    pub fn objects(&self) -> impl Iterator<Item = &Member> {
        self.members.iter().filter(|m| m.name != BUILD_ID_MEMBER)
    }

    /// The content ID: the name and SHA-256 of every member but the build ID.
    pub fn content_id(&self) -> String {
        let mut h = Sha256::new();
        for m in self.objects() {
            h.update(format!("member {} {}\n", hex(&hash_bytes(&m.data)), m.name).as_bytes());
        }
        short_hash(&h.finalize())
    }

    /// The action ID the `ar` wrapper gives an archive whose sources it
    /// cannot see: a hash of its member objects' names and content.
    pub fn members_action(&self) -> ActionId {
        let mut h = crate::key::hash::KeyHasher::new("ar");
        h.line("gocache-ar v1");
        for m in self.objects() {
            h.line(format!("member {} {}", hex(&hash_bytes(&m.data)), m.name));
        }
        h.id()
    }

    /// The build ID and sources recorded in the archive.
    pub fn build_info(&self) -> Option<Result<BuildInfo>> {
        self.members
            .iter()
            .find(|m| m.name == BUILD_ID_MEMBER)
            .map(|m| parse_payload(&m.data))
    }

    /// Put a build ID member first, replacing any old one. The content ID
    /// is computed here from the other members.
    pub fn set_build_id(&mut self, action: &ActionId, sources: &[String]) -> BuildInfo {
        self.members.retain(|m| m.name != BUILD_ID_MEMBER);
        let mut sources = sources.to_vec();
        sources.sort();
        let info = BuildInfo {
            id: BuildId {
                action: short_action(action),
                content: self.content_id(),
            },
            sources,
        };
        let text = render_payload(&info);
        let data = match self.members.iter().find_map(|m| ElfIdent::of(&m.data)) {
            Some(ident) => ident.wrap(text.as_bytes()),
            None => text.into_bytes(),
        };
        self.members.insert(
            0,
            Member {
                name: BUILD_ID_MEMBER.to_string(),
                data,
            },
        );
        info
    }
}

fn render_payload(info: &BuildInfo) -> String {
    let mut s = format!("{PAYLOAD_HEADER}id {}\n", info.id);
    for src in &info.sources {
        s.push_str(&format!("source {}\n", src.replace('\n', " ")));
    }
    s.push_str("end\n");
    s
}

fn parse_payload(data: &[u8]) -> Result<BuildInfo> {
    let bad = || format_err(format!("damaged {BUILD_ID_MEMBER} member"));
    let start = data
        .windows(PAYLOAD_HEADER.len())
        .position(|w| w == PAYLOAD_HEADER.as_bytes())
        .ok_or_else(bad)?;
    // Inside an ELF wrapper the payload ends at a NUL.
    let rest = &data[start + PAYLOAD_HEADER.len()..];
    let rest = &rest[..rest.iter().position(|&b| b == 0).unwrap_or(rest.len())];
    let text = std::str::from_utf8(rest).map_err(|_| bad())?;
    let mut lines = text.lines();
    let id = lines
        .next()
        .and_then(|l| l.strip_prefix("id "))
        .ok_or_else(bad)?;
    let (action, content) = id.split_once('/').ok_or_else(bad)?;
    let mut sources = Vec::new();
    for line in lines {
        if line == "end" {
            return Ok(BuildInfo {
                id: BuildId {
                    action: action.to_string(),
                    content: content.to_string(),
                },
                sources,
            });
        }
        sources.push(line.strip_prefix("source ").ok_or_else(bad)?.to_string());
    }
    Err(bad())
}

/// Read the build ID of the archive at `path`, looking only at member
/// headers (seeking over member data) until the build ID member.
///
/// A file that is not an archive, or an archive without a build ID, is an
/// error of kind [`ErrorKind::Format`] saying so.
pub fn read_build_info(path: &Path) -> Result<BuildInfo> {
    let what = path.display().to_string();
    let mut f = File::open(path).with_path("open", path)?;
    let mut magic = [0u8; 8];
    let n = read_full(&mut f, &mut magic).with_path("read", path)?;
    check_magic(&magic[..n], &what)?;
    let mut header = [0u8; HEADER_LEN];
    loop {
        let n = read_full(&mut f, &mut header).with_path("read", path)?;
        if n < HEADER_LEN {
            return Err(format_err(format!(
                "{what}: no build ID (no {BUILD_ID_MEMBER} member)"
            )));
        }
        let (raw, size) = parse_header(&header, &what)?;
        let mut name_len = 0;
        let name = if let Some(len) = raw.strip_prefix("#1/") {
            name_len = len
                .parse::<u64>()
                .ok()
                .filter(|&l| l <= size && l < 4096)
                .ok_or_else(|| format_err(format!("{what}: bad BSD member name")))?;
            let mut buf = vec![0u8; name_len as usize];
            f.read_exact(&mut buf).with_path("read", path)?;
            String::from_utf8_lossy(&buf)
                .trim_end_matches('\0')
                .to_string()
        } else {
            raw.strip_suffix('/')
                .filter(|n| !n.is_empty())
                .unwrap_or(&raw)
                .to_string()
        };
        let size = size - name_len;
        if name == BUILD_ID_MEMBER {
            let mut data = vec![0u8; size as usize];
            f.read_exact(&mut data).with_path("read", path)?;
            return parse_payload(&data).map_err(|e| format_err(format!("{what}: {e}")));
        }
        f.seek(SeekFrom::Current((size + ((size + name_len) & 1)) as i64))
            .with_path("seek", path)?;
    }
}

/// Stamp the archive at `path` with a build ID for `action` and `sources`,
/// then rebuild its symbol index with `ar`'s `s` operation, as cc does after
/// creating an archive (`sD`, falling back to `s` with `ZERO_AR_DATE=1` for
/// archivers without `D`). `ar` makes a fresh archiver command each call.
///
/// Both steps run on a copy beside `path`, renamed over it only when both
/// succeeded: an archiver that fails (or is killed) leaves the archive as it
/// was, with its index, never stamped but unindexed (the linker would
/// refuse it: a cache fault would fail the build).
pub fn stamp(
    path: &Path,
    action: &ActionId,
    sources: &[String],
    ar: &dyn Fn() -> Command,
) -> Result<BuildInfo> {
    let mut archive = Archive::read(path)?;
    let info = archive.set_build_id(action, sources);
    let name = path
        .file_name()
        .ok_or_else(|| format_err(format!("not a file path: {}", path.display())))?;
    let tmp = path.with_file_name(format!(
        ".{}.stamp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = crate::store::write_file_atomic(&tmp, &archive.to_bytes())
        .and_then(|()| rebuild_index(&tmp, ar))
        .and_then(|()| std::fs::rename(&tmp, path).with_path("rename into place", path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map(|()| info)
}

/// Run the archiver's `s` operation on `path` (deterministic where it can be).
pub fn rebuild_index(path: &Path, ar: &dyn Fn() -> Command) -> Result<()> {
    let run = |mut cmd: Command| -> Result<()> {
        let shown = format!("{cmd:?}");
        let out = cmd
            .output()
            .map_err(|e| Error::new(ErrorKind::Tool, format!("failed to run {shown}: {e}")))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(Error::new(
                ErrorKind::Tool,
                format!(
                    "{shown} failed ({}): {}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
            ))
        }
    };
    let mut cmd = ar();
    cmd.arg("sD").arg(path);
    if run(cmd).is_ok() {
        return Ok(());
    }
    let mut cmd = ar();
    cmd.env("ZERO_AR_DATE", "1").arg("s").arg(path);
    run(cmd)
}

/// The parts of an ELF header a build ID object must share with the
/// archive's other objects for a linker to accept it.
#[derive(Debug, Clone, Copy)]
struct ElfIdent {
    class64: bool,
    big_endian: bool,
    osabi: u8,
    machine: u16,
    flags: u32,
}

impl ElfIdent {
    fn of(data: &[u8]) -> Option<ElfIdent> {
        if data.len() < 52 || &data[..4] != b"\x7fELF" {
            return None;
        }
        let class64 = match data[4] {
            1 => false,
            2 => true,
            _ => return None,
        };
        let big_endian = match data[5] {
            1 => false,
            2 => true,
            _ => return None,
        };
        if class64 && data.len() < 64 {
            return None;
        }
        let u16_at = |o: usize| {
            let b = [data[o], data[o + 1]];
            if big_endian {
                u16::from_be_bytes(b)
            } else {
                u16::from_le_bytes(b)
            }
        };
        let flags_at = if class64 { 48 } else { 36 };
        let b: [u8; 4] = data[flags_at..flags_at + 4].try_into().ok()?;
        let flags = if big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        };
        Some(ElfIdent {
            class64,
            big_endian,
            osabi: data[7],
            machine: u16_at(18),
            flags,
        })
    }

    /// A relocatable object holding `payload` (NUL-terminated) in an
    /// excluded, non-allocated section, and nothing else.
    fn wrap(&self, payload: &[u8]) -> Vec<u8> {
        const SHT_PROGBITS: u32 = 1;
        const SHT_STRTAB: u32 = 3;
        const SHF_EXCLUDE: u64 = 0x8000_0000;
        let be = self.big_endian;
        let word = |out: &mut Vec<u8>, v: u64, bytes: usize| {
            let all = if be { v.to_be_bytes() } else { v.to_le_bytes() };
            if be {
                out.extend_from_slice(&all[8 - bytes..]);
            } else {
                out.extend_from_slice(&all[..bytes]);
            }
        };
        let addr = if self.class64 { 8 } else { 4 };
        let ehsize = if self.class64 { 64 } else { 52 };
        let shentsize = if self.class64 { 64 } else { 40 };

        let mut data = payload.to_vec();
        data.push(0);
        let shstrtab = format!("\0{SECTION_NAME}\0.shstrtab\0");
        let data_off = ehsize;
        let strtab_off = data_off + data.len();
        let sh_off = (strtab_off + shstrtab.len()).div_ceil(8) * 8;

        let mut out = Vec::with_capacity(sh_off + 3 * shentsize);
        out.extend_from_slice(b"\x7fELF");
        out.push(if self.class64 { 2 } else { 1 });
        out.push(if be { 2 } else { 1 });
        out.push(1); // EV_CURRENT
        out.push(self.osabi);
        out.extend_from_slice(&[0; 8]);
        word(&mut out, 1, 2); // ET_REL
        word(&mut out, self.machine as u64, 2);
        word(&mut out, 1, 4); // e_version
        word(&mut out, 0, addr); // e_entry
        word(&mut out, 0, addr); // e_phoff
        word(&mut out, sh_off as u64, addr);
        word(&mut out, self.flags as u64, 4);
        word(&mut out, ehsize as u64, 2);
        word(&mut out, 0, 2); // e_phentsize
        word(&mut out, 0, 2); // e_phnum
        word(&mut out, shentsize as u64, 2);
        word(&mut out, 3, 2); // e_shnum
        word(&mut out, 2, 2); // e_shstrndx
        debug_assert_eq!(out.len(), ehsize);
        out.extend_from_slice(&data);
        out.extend_from_slice(shstrtab.as_bytes());
        out.resize(sh_off, 0);
        let mut section = |name: u64, kind: u32, flags: u64, off: usize, size: usize| {
            word(&mut out, name, 4);
            word(&mut out, kind as u64, 4);
            word(&mut out, flags, addr);
            word(&mut out, 0, addr); // sh_addr
            word(&mut out, off as u64, addr);
            word(&mut out, size as u64, addr);
            word(&mut out, 0, 4); // sh_link
            word(&mut out, 0, 4); // sh_info
            word(&mut out, 1, addr); // sh_addralign
            word(&mut out, 0, addr); // sh_entsize
        };
        section(0, 0, 0, 0, 0);
        section(1, SHT_PROGBITS, SHF_EXCLUDE, data_off, data.len());
        section(
            1 + SECTION_NAME.len() as u64 + 1,
            SHT_STRTAB,
            0,
            strtab_off,
            shstrtab.len(),
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Archive {
        let mut a = Archive::new(Format::Gnu);
        a.members.push(Member {
            name: "a.o".into(),
            data: b"first object".to_vec(),
        });
        a.members.push(Member {
            name: "0123456789abcdef-long-name.o".into(),
            data: b"odd".to_vec(),
        });
        a
    }

    fn action(s: &str) -> ActionId {
        let mut h = crate::key::hash::KeyHasher::new("test");
        h.line(s);
        h.id()
    }

    #[test]
    fn round_trips_gnu_and_bsd() {
        for format in [Format::Gnu, Format::Bsd] {
            let mut a = sample();
            a.format = format;
            let bytes = a.to_bytes();
            assert_eq!(Archive::parse(&bytes, "t").unwrap(), a, "{format:?}");
        }
    }

    #[test]
    fn build_id_round_trips_and_is_deterministic() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = sample();
        let srcs = vec!["$M/src/b.c".to_string(), "$M/src/a.c".to_string()];
        let info = a.set_build_id(&action("x"), &srcs);
        assert_eq!(info.id.action.len(), 20);
        assert_eq!(info.id.content.len(), 20);
        assert_eq!(info.sources, ["$M/src/a.c", "$M/src/b.c"]);
        assert_eq!(a.members[0].name, BUILD_ID_MEMBER);
        let p = dir.path().join("libx.a");
        std::fs::write(&p, a.to_bytes()).unwrap();
        assert_eq!(read_build_info(&p).unwrap(), info);
        assert_eq!(a.build_info().unwrap().unwrap(), info);

        // Restamping replaces the member; same inputs give the same bytes.
        let mut b = Archive::parse(&a.to_bytes(), "t").unwrap();
        b.set_build_id(&action("x"), &srcs);
        assert_eq!(b.to_bytes(), a.to_bytes());
        assert_eq!(b.members.len(), 3);
        // The content ID ignores the build ID member; the action part differs.
        let other = b.set_build_id(&action("y"), &srcs);
        assert_eq!(other.id.content, info.id.content);
        assert_ne!(other.id.action, info.id.action);
    }

    #[test]
    fn not_an_archive_and_missing_id_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.txt");
        std::fs::write(&p, "hello").unwrap();
        let e = read_build_info(&p).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Format);
        assert!(e.to_string().contains("not an ar archive"), "{e}");
        std::fs::write(&p, sample().to_bytes()).unwrap();
        let e = read_build_info(&p).unwrap_err();
        assert!(e.to_string().contains("no build ID"), "{e}");
        assert!(Archive::parse(b"!<arch>\nshort", "t").is_err());
    }

    #[test]
    fn elf_objects_get_an_elf_build_id_member() {
        // A minimal little-endian ELF64 x86-64 header is enough to copy.
        let mut elf = vec![0u8; 64];
        elf[..4].copy_from_slice(b"\x7fELF");
        elf[4] = 2;
        elf[5] = 1;
        elf[18] = 62;
        let mut a = Archive::new(Format::Gnu);
        a.members.push(Member {
            name: "a.o".into(),
            data: elf,
        });
        let info = a.set_build_id(&action("e"), &[]);
        let m = &a.members[0];
        assert_eq!(&m.data[..4], b"\x7fELF");
        assert_eq!(u16::from_le_bytes([m.data[18], m.data[19]]), 62);
        assert_eq!(parse_payload(&m.data).unwrap(), info);
    }

    /// With real gcc, ar, nm and ld: the stamped archive keeps its index,
    /// `ar t` and `nm` list it, and ld links it, even with `--whole-archive`.
    #[test]
    fn real_tools_accept_the_build_id_member() {
        let have = |p: &str| crate::key::compiler::find_program(Path::new(p)).is_some();
        if !["gcc", "ar", "nm", "ld"].iter().all(|t| have(t)) {
            eprintln!("skipped: needs gcc, ar, nm and ld");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let sh = |cmd: &mut Command| {
            let out = cmd.current_dir(d).output().unwrap();
            assert!(out.status.success(), "{cmd:?}: {out:?}");
            (
                String::from_utf8(out.stdout).unwrap(),
                String::from_utf8(out.stderr).unwrap(),
            )
        };
        std::fs::write(d.join("a.c"), "int a(void) { return 7; }\n").unwrap();
        std::fs::write(
            d.join("m.c"),
            "int a(void);\nint main(void) { return a() != 7; }\n",
        )
        .unwrap();
        sh(Command::new("gcc").args(["-c", "a.c", "-o", "a.o"]));
        sh(Command::new("ar").args(["cqD", "liba.a", "a.o"]));
        let lib = d.join("liba.a");
        let ar = || Command::new("ar");
        let info = stamp(&lib, &action("real"), &["a.c".into()], &ar).unwrap();
        let first = std::fs::read(&lib).unwrap();
        assert_eq!(read_build_info(&lib).unwrap(), info);
        // Stamping again with the same inputs gives the same bytes.
        stamp(&lib, &action("real"), &["a.c".into()], &ar).unwrap();
        assert_eq!(std::fs::read(&lib).unwrap(), first);

        assert_eq!(
            sh(Command::new("ar").args(["t", "liba.a"])).0,
            "__.GOCACHE_ID\na.o\n"
        );
        let (nm, nm_err) = sh(Command::new("nm").arg("liba.a"));
        assert!(nm.contains(" T a"), "{nm}");
        assert!(!nm_err.contains("not recognized"), "{nm_err}");
        sh(Command::new("gcc").args(["m.c", "-L.", "-la", "-o", "m"]));
        sh(&mut Command::new(d.join("m")));
        sh(Command::new("ld").args(["-r", "-o", "all.o", "--whole-archive", "liba.a"]));
        sh(Command::new("gcc").args([
            "m.c",
            "-o",
            "m2",
            "-Wl,--whole-archive",
            "liba.a",
            "-Wl,--no-whole-archive",
        ]));
        sh(&mut Command::new(d.join("m2")));
        // The build ID section is dropped from the linked program.
        let (headers, _) = sh(Command::new("objdump").args(["-h", "m2"]));
        assert!(!headers.contains(SECTION_NAME), "{headers}");
    }

    #[test]
    fn short_hash_is_go_style() {
        assert_eq!(short_hash(&[0; 32]), "AAAAAAAAAAAAAAAAAAAA");
        assert_eq!(short_hash(&[0xff; 32]), "____________________");
    }
}
