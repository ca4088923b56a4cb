//! A run's result: its `OUT_DIR`, stdout and stderr, stored and restored.
//!
//! # The record (layout)
//!
//! ```text
//! gocache-build-script-result v1
//! secs <run seconds>
//! stdout <output id> <size>        (machine directories mapped)
//! stderr <output id> <size>        (machine directories mapped)
//! machine-paths <0|1>              (an OUT_DIR file holds a machine directory)
//! d <mode octal>\t<path in OUT_DIR>
//! f <mode octal> <output id> <size>\t<path in OUT_DIR>
//! l <target>\t<path in OUT_DIR>
//! ```
//!
//! Files are stored as they are: a file holding a machine directory is
//! never rewritten (a path inside generated code, a CMake cache, a `.pc`
//! file may be used as it is), so such a run's entry pins those
//! directories instead (`machine-paths 1`, see [`super::key::Context::pins`]).
//! Stdout and stderr are text for cargo and people, and are mapped.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::key::hash::OutputId;
use crate::Store;

use super::key::Context;

const HEADER: &str = "gocache-build-script-result v1";

/// Is `dir` an empty directory (or missing)?
pub(super) fn is_empty(dir: &Path) -> bool {
    match fs::read_dir(dir) {
        Ok(mut rd) => rd.next().is_none(),
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
    }
}

/// Empty `dir` again after a failed restore.
pub(super) fn empty(dir: &Path) {
    let _ = fs::remove_dir_all(dir);
    let _ = fs::create_dir_all(dir);
}

enum Item {
    Dir {
        mode: u32,
        path: String,
    },
    File {
        mode: u32,
        id: OutputId,
        size: u64,
        path: String,
    },
    Link {
        target: String,
        path: String,
    },
}

pub(super) struct Record {
    pub(super) secs: f64,
    pub(super) stdout: String,
    pub(super) stderr: String,
    pub(super) holds_machine_paths: bool,
    /// The volatile variables ([`super::key::is_volatile`]) whose value the
    /// run's output holds (not part of the record).
    pub(super) volatile_found: Vec<String>,
    items: Vec<Item>,
    /// Where stdout and stderr are in the store (from a parsed record).
    stdout_ids: Vec<(OutputId, u64)>,
}

#[cfg(unix)]
fn mode_of(m: &fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    m.permissions().mode() & 0o7777
}

/// `bytes` with every occurrence of `text` cut out (`bytes` as they are
/// without one).
fn without<'a>(bytes: &'a [u8], text: Option<&str>) -> std::borrow::Cow<'a, [u8]> {
    let Some(text) = text.filter(|t| !t.is_empty()) else {
        return bytes.into();
    };
    let finder = memchr::memmem::Finder::new(text.as_bytes());
    if finder.find(bytes).is_none() {
        return bytes.into();
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    for i in finder.find_iter(bytes) {
        if i < at {
            continue;
        }
        out.extend_from_slice(&bytes[at..i]);
        // A byte no path holds, so that the text around it does not join.
        out.push(0);
        at = i + text.len();
    }
    out.extend_from_slice(&bytes[at..]);
    out.into()
}

impl Record {
    /// Store the run's `OUT_DIR` and output. `Err` is the refusal reason.
    /// `volatile`: (name, the text forms of its value) of each volatile
    /// variable, searched for in every output (`volatile_found`).
    pub(super) fn capture(
        store: &Store,
        cx: &Context,
        stdout: &[u8],
        stderr: &[u8],
        secs: f64,
        volatile: &[(String, Vec<String>)],
    ) -> Result<Record, String> {
        let (Ok(out), Ok(err)) = (std::str::from_utf8(stdout), std::str::from_utf8(stderr)) else {
            return Err("odd-file-name".into());
        };
        let needles: Vec<&str> = cx.map.pairs.iter().map(|(r, _)| r.as_str()).collect();
        let needle_bytes: Vec<&[u8]> = needles.iter().map(|n| n.as_bytes()).collect();
        let mut rec = Record {
            secs,
            stdout: cx.map.map(out),
            stderr: cx.map.map(err),
            holds_machine_paths: false,
            volatile_found: Vec::new(),
            items: Vec::new(),
            stdout_ids: Vec::new(),
        };
        let mut unseen: Vec<&(String, Vec<String>)> = volatile.iter().collect();
        let mut search = |bytes: &[u8], found: &mut Vec<String>| {
            unseen.retain(|(name, forms)| {
                let hit = forms
                    .iter()
                    .any(|f| memchr::memmem::find(bytes, f.as_bytes()).is_some());
                if hit {
                    found.push(name.clone());
                }
                !hit
            });
        };
        // gocache's own path is in the run's `CC` (and `CXX`, `AR`), which
        // cc prints (`CC_x86_64-unknown-linux-gnu = Some(/home/u/.cargo/
        // bin/cargo-gocache cc)`): those variables are keyed as they are,
        // so the path explains itself. Searched, it would key nearly every
        // cc run on `OLDPWD` whenever the user came from a directory above
        // the binary (their home): a second checkout, or the same one
        // entered from elsewhere, would run every build script again.
        let own = crate::env::var("CARGO_GOCACHE_PROG").filter(|p| p.len() >= 4);
        search(&without(stdout, own.as_deref()), &mut rec.volatile_found);
        search(&without(stderr, own.as_deref()), &mut rec.volatile_found);
        let mut stack = vec![cx.out_dir.clone()];
        while let Some(dir) = stack.pop() {
            let mut entries: Vec<PathBuf> = fs::read_dir(&dir)
                .map_err(|_| "unreadable-input".to_string())?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .collect();
            entries.sort();
            for p in entries {
                let rel = p
                    .strip_prefix(&cx.out_dir)
                    .map_err(|_| "odd-file-name".to_string())?
                    .to_str()
                    .ok_or("odd-file-name")?
                    .to_string();
                if rel.contains(['\t', '\n']) {
                    return Err("odd-file-name".into());
                }
                search(rel.as_bytes(), &mut rec.volatile_found);
                let m = fs::symlink_metadata(&p).map_err(|_| "unreadable-input".to_string())?;
                if m.file_type().is_symlink() {
                    let t = fs::read_link(&p).map_err(|_| "unreadable-input".to_string())?;
                    let t = t.to_str().ok_or("odd-file-name")?.to_string();
                    if t.contains(['\t', '\n']) {
                        return Err("odd-file-name".into());
                    }
                    if needles.iter().any(|n| t.contains(n)) {
                        rec.holds_machine_paths = true;
                    }
                    search(t.as_bytes(), &mut rec.volatile_found);
                    rec.items.push(Item::Link {
                        target: t,
                        path: rel,
                    });
                } else if m.is_dir() {
                    rec.items.push(Item::Dir {
                        mode: mode_of(&m),
                        path: rel,
                    });
                    stack.push(p);
                } else if m.is_file() {
                    let bytes = fs::read(&p).map_err(|_| "unreadable-input".to_string())?;
                    if !rec.holds_machine_paths && contains_any(&bytes, &needle_bytes) {
                        rec.holds_machine_paths = true;
                    }
                    search(&bytes, &mut rec.volatile_found);
                    let id = store
                        .put_output(&bytes)
                        .map_err(|_| "store-full".to_string())?;
                    rec.items.push(Item::File {
                        mode: mode_of(&m),
                        id,
                        size: bytes.len() as u64,
                        path: rel,
                    });
                } else {
                    return Err("special-file".into());
                }
            }
        }
        // Directories before what they hold, on restore.
        rec.items.sort_by(|a, b| item_path(a).cmp(item_path(b)));
        for text in [&rec.stdout, &rec.stderr] {
            let id = store
                .put_output(text.as_bytes())
                .map_err(|_| "store-full".to_string())?;
            rec.stdout_ids.push((id, text.len() as u64));
        }
        Ok(rec)
    }

    pub(super) fn render(&self) -> String {
        let mut s = format!("{HEADER}\nsecs {:.3}\n", self.secs);
        for (name, text) in [("stdout", &self.stdout), ("stderr", &self.stderr)] {
            s.push_str(&format!(
                "{name} {} {}\n",
                OutputId::of(text.as_bytes()),
                text.len()
            ));
        }
        s.push_str(&format!(
            "machine-paths {}\n",
            self.holds_machine_paths as u8
        ));
        for i in &self.items {
            match i {
                Item::Dir { mode, path } => s.push_str(&format!("d {mode:o}\t{path}\n")),
                Item::File {
                    mode,
                    id,
                    size,
                    path,
                } => s.push_str(&format!("f {mode:o} {id} {size}\t{path}\n")),
                Item::Link { target, path } => s.push_str(&format!("l {target}\t{path}\n")),
            }
        }
        s
    }

    /// A stored record; `None` if damaged. Its stdout and stderr are read
    /// back from the store by [`Record::restore`].
    pub(super) fn parse(bytes: &[u8]) -> Option<Record> {
        let text = std::str::from_utf8(bytes).ok()?;
        let mut lines = text.lines();
        if lines.next()? != HEADER {
            return None;
        }
        let secs = lines.next()?.strip_prefix("secs ")?.parse().ok()?;
        let mut rec = Record {
            secs,
            stdout: String::new(),
            stderr: String::new(),
            holds_machine_paths: false,
            volatile_found: Vec::new(),
            items: Vec::new(),
            stdout_ids: Vec::new(),
        };
        let mut streams = Vec::new();
        for name in ["stdout", "stderr"] {
            let rest = lines.next()?.strip_prefix(name)?.trim_start();
            let (id, size) = rest.split_once(' ')?;
            streams.push((OutputId::from_hex(id)?, size.parse::<u64>().ok()?));
        }
        rec.holds_machine_paths = lines.next()?.strip_prefix("machine-paths ")? == "1";
        for l in lines {
            let (head, path) = l.split_once('\t')?;
            let path = path.to_string();
            let (kind, rest) = head.split_once(' ')?;
            rec.items.push(match kind {
                "d" => Item::Dir {
                    mode: u32::from_str_radix(rest, 8).ok()?,
                    path,
                },
                "f" => {
                    let mut f = rest.split(' ');
                    let mode = u32::from_str_radix(f.next()?, 8).ok()?;
                    let id = OutputId::from_hex(f.next()?)?;
                    let size = f.next()?.parse().ok()?;
                    Item::File {
                        mode,
                        id,
                        size,
                        path,
                    }
                }
                "l" => Item::Link {
                    target: rest.to_string(),
                    path,
                },
                _ => return None,
            });
        }
        rec.stdout_ids = streams;
        Some(rec)
    }

    /// Make `OUT_DIR` what the run left, read its stdout and stderr back.
    /// `None`: a missing or damaged output, or `OUT_DIR` changed meanwhile;
    /// nothing is left behind.
    pub(super) fn restore(&mut self, store: &Store, cx: &Context) -> Option<()> {
        let read = |id: &OutputId, size: u64| -> Option<Vec<u8>> {
            let entry = crate::Entry {
                action: crate::ActionId([0; 32]),
                output: *id,
                size,
                time_nanos: 0,
            };
            store.read_output(&entry)
        };
        let [(oid, osize), (eid, esize)] = self.stdout_ids.as_slice() else {
            return None;
        };
        self.stdout = String::from_utf8(read(oid, *osize)?).ok()?;
        self.stderr = String::from_utf8(read(eid, *esize)?).ok()?;
        let parent = cx.out_dir.parent()?;
        let tmp = parent.join(format!(".gocache-out-{}", std::process::id()));
        let _ = fs::remove_dir_all(&tmp);
        let made = (|| -> Option<()> {
            fs::create_dir(&tmp).ok()?;
            for i in &self.items {
                match i {
                    Item::Dir { path, .. } => fs::create_dir_all(tmp.join(path)).ok()?,
                    Item::File { id, size, path, .. } => {
                        let bytes = read(id, *size)?;
                        fs::write(tmp.join(path), bytes).ok()?;
                    }
                    Item::Link { target, path } => {
                        #[cfg(unix)]
                        std::os::unix::fs::symlink(target, tmp.join(path)).ok()?;
                    }
                }
            }
            // Modes last: a directory made read-only first could not be
            // filled.
            #[cfg(unix)]
            for i in self.items.iter().rev() {
                use std::os::unix::fs::PermissionsExt;
                match i {
                    Item::Dir { mode, path } | Item::File { mode, path, .. } => {
                        fs::set_permissions(tmp.join(path), fs::Permissions::from_mode(*mode))
                            .ok()?
                    }
                    Item::Link { .. } => {}
                }
            }
            Some(())
        })();
        // An empty OUT_DIR is replaced in one rename; one that is no longer
        // empty makes the rename fail, and the run goes on for real.
        if made.is_none() || fs::rename(&tmp, &cx.out_dir).is_err() {
            let _ = fs::remove_dir_all(&tmp);
            return None;
        }
        // The libraries the package's compile and the links hash next
        // (crate::store: receipts); small files hash faster than a receipt
        // is written.
        for i in &self.items {
            if let Item::File { id, size, path, .. } = i {
                if *size >= 64 << 10 {
                    store.write_receipt(&cx.out_dir.join(path), &id.to_hex());
                }
            }
        }
        Some(())
    }
}

fn item_path(i: &Item) -> &str {
    match i {
        Item::Dir { path, .. } | Item::File { path, .. } | Item::Link { path, .. } => path,
    }
}

/// Does `hay` hold any of `needles`? One pass over `hay`: at each byte
/// that starts some needle, the needles starting with it are compared (the
/// needles here are a dozen paths, or a few hundred clock strings that
/// start with a digit or a month's capital).
fn contains_any(hay: &[u8], needles: &[&[u8]]) -> bool {
    let mut by_first: [Vec<&[u8]>; 256] = std::array::from_fn(|_| Vec::new());
    for n in needles {
        match n.first() {
            Some(&b) => by_first[b as usize].push(n),
            None => return true,
        }
    }
    hay.iter()
        .enumerate()
        .any(|(i, &b)| by_first[b as usize].iter().any(|n| hay[i..].starts_with(n)))
}

/// Does the run's output hold the time it ran? Its `OUT_DIR` files and
/// stdout are searched for the run's clock as programs print it: each
/// second of the run as `HH:MM:SS` (local time and UTC) and as Unix
/// seconds, and its days as `YYYY-MM-DD`, `Mon DD YYYY` (`__DATE__`) and
/// `DD Mon YYYY`. What this cannot see: a time in a binary form, or in
/// another format; a date-only stamp written on another day than the run
/// (a run across midnight is searched for both days).
pub(super) fn embeds_clock(
    out_dir: &Path,
    stdout: &[u8],
    start: SystemTime,
    end: SystemTime,
) -> bool {
    let secs = |t: SystemTime| {
        t.duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)
    };
    let (from, to) = (secs(start) - 1, secs(end) + 1);
    let mut needles: Vec<Vec<u8>> = Vec::new();
    let mut t = from;
    while t <= to {
        needles.push(t.to_string().into_bytes());
        for utc in [false, true] {
            if let Some(tm) = broken_down(t, utc) {
                needles.push(
                    format!("{:02}:{:02}:{:02}", tm.tm_hour, tm.tm_min, tm.tm_sec).into_bytes(),
                );
            }
        }
        t += 1;
    }
    for t in [from, to] {
        for utc in [false, true] {
            if let Some(tm) = broken_down(t, utc) {
                const MONTHS: [&str; 12] = [
                    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                    "Dec",
                ];
                let (y, m, d) = (tm.tm_year + 1900, tm.tm_mon, tm.tm_mday);
                let mon = MONTHS[m as usize % 12];
                needles.push(format!("{y}-{:02}-{d:02}", m + 1).into_bytes());
                needles.push(format!("{mon} {d:>2} {y}").into_bytes());
                needles.push(format!("{mon} {d} {y}").into_bytes());
                needles.push(format!("{d} {mon} {y}").into_bytes());
            }
        }
    }
    needles.sort();
    needles.dedup();
    let needles: Vec<&[u8]> = needles.iter().map(Vec::as_slice).collect();
    let found = |bytes: &[u8]| contains_any(bytes, &needles);
    if found(stdout) {
        return true;
    }
    let mut stack = vec![out_dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(rd) = fs::read_dir(&dir) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(p),
                Ok(t) if t.is_file() && fs::read(&p).is_ok_and(|b| found(&b)) => return true,
                _ => {}
            }
        }
    }
    false
}

fn broken_down(t: i64, utc: bool) -> Option<libc::tm> {
    // SAFETY: a zeroed `tm` filled by the reentrant conversions.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        let t = t as libc::time_t;
        let r = if utc {
            libc::gmtime_r(&t, &mut tm)
        } else {
            libc::localtime_r(&t, &mut tm)
        };
        (!r.is_null()).then_some(tm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_cuts_every_occurrence_and_nothing_else() {
        assert_eq!(
            &*without(b"a /p/bin/g cc; /p/bin/g", Some("/p/bin/g")),
            b"a \0 cc; \0"
        );
        assert_eq!(&*without(b"aaaaa", Some("aa")), b"\0\0a");
        assert_eq!(&*without(b"text", None), b"text");
        assert_eq!(&*without(b"text", Some("")), b"text");
        assert_eq!(&*without(b"", Some("x")), b"");
    }

    fn contains(hay: &[u8], needle: &[u8]) -> bool {
        contains_any(hay, &[needle])
    }

    #[test]
    fn finds_a_needle_anywhere() {
        assert!(contains(b"abc/x/y", b"/x/y"));
        assert!(contains(b"/x/y", b"/x/y"));
        assert!(!contains(b"/x/", b"/x/y"));
        assert!(!contains(b"", b"/"));
    }

    #[test]
    fn a_clock_in_the_output_is_seen() {
        let d = tempfile::tempdir().unwrap();
        let now = SystemTime::now();
        let t = now.duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
        let tm = broken_down(t, false).unwrap();
        fs::create_dir(d.path().join("sub")).unwrap();
        fs::write(d.path().join("sub/a.h"), "#define X 1\n").unwrap();
        assert!(!embeds_clock(d.path(), b"cargo:rustc-cfg=x\n", now, now));
        fs::write(
            d.path().join("sub/b.h"),
            format!(
                "#define BUILT \"{:02}:{:02}:{:02}\"\n",
                tm.tm_hour, tm.tm_min, tm.tm_sec
            ),
        )
        .unwrap();
        assert!(embeds_clock(d.path(), b"", now, now));
        assert!(embeds_clock(
            tempfile::tempdir().unwrap().path(),
            format!("cargo:rustc-env=T={t}\n").as_bytes(),
            now,
            now
        ));
    }
}
