//! File hashes and probe answers remembered by stat, so that a hit reads
//! and hashes only what changed.
//!
//! A hit must check every header the compile read (its hash) and every
//! probe (does a shadowing header exist?). For a large C file that is a
//! megabyte of SHA-256 and a thousand `stat`s, most of the hit's time. As
//! Go's build cache and ccache's inode cache do, a [`FileMemo`] keeps, per
//! command line:
//!
//! * for a file: its *stamp* (device, inode, size, mtime and ctime in
//!   nanoseconds) and content hash. Same stamp, same content;
//! * for a directory holding probed names: its stamp and which of those
//!   names were files. Creating, removing or renaming an entry changes the
//!   directory's mtime and ctime, so with the stamp unchanged the answers
//!   are too. Names that are symlinks are never remembered (their target
//!   can change without touching the directory).
//!
//! **The racy-stamp rule.** A stamp is remembered only if the file's (or
//! directory's) mtime and ctime are more than [`RACY`] in the past when it
//! is taken. A later change then sets a ctime that is certainly newer, even
//! on file systems with coarse timestamps, so the stamp cannot match again.
//! (ctime cannot be set by `touch`, so an edit that restores the mtime is
//! caught too.)
//!
//! The memo is kept in the store as an ordinary output under a key of the
//! command line and working directory, written only when it learned
//! something, so a steady run of hits writes nothing. A damaged or foreign
//! memo (another checkout sharing the store) only costs rehashing.
//! Memos and snapshots stay in the local store, never in its remote tier:
//! stamps are of this machine's files, so another machine could only ever
//! rehash, after paying for the round trips.
//! On platforms without inode numbers nothing is remembered.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::direct::manifest::Disk;
use crate::key::hash::{hash_bytes, hex, ActionId, KeyHasher};
use crate::store::Store;

/// Stamps younger than this are not remembered (see the module docs).
pub const RACY: Duration = crate::fsutil::RACY;

const HEADER: &str = "gocache-filememo v1";

/// What identifies one version of a file or directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
}

impl Stamp {
    #[cfg(unix)]
    fn of(meta: &fs::Metadata) -> Option<Stamp> {
        use std::os::unix::fs::MetadataExt;
        Some(Stamp {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime_ns: meta.mtime() as i128 * 1_000_000_000 + meta.mtime_nsec() as i128,
            ctime_ns: meta.ctime() as i128 * 1_000_000_000 + meta.ctime_nsec() as i128,
        })
    }

    #[cfg(not(unix))]
    fn of(_meta: &fs::Metadata) -> Option<Stamp> {
        None
    }

    /// Old enough to remember at `now_ns`?
    fn settled(&self, now_ns: i128) -> bool {
        let cutoff = now_ns - RACY.as_nanos() as i128;
        self.mtime_ns < cutoff && self.ctime_ns < cutoff
    }

    fn render(&self) -> String {
        format!(
            "{} {} {} {} {}",
            self.dev, self.ino, self.size, self.mtime_ns, self.ctime_ns
        )
    }

    fn parse<'a>(it: &mut impl Iterator<Item = &'a str>) -> Option<Stamp> {
        Some(Stamp {
            dev: it.next()?.parse().ok()?,
            ino: it.next()?.parse().ok()?,
            size: it.next()?.parse().ok()?,
            mtime_ns: it.next()?.parse().ok()?,
            ctime_ns: it.next()?.parse().ok()?,
        })
    }
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct DirMemo {
    stamp: Option<Stamp>,
    /// Probed names in this directory: was each a file? (Under
    /// [`ABSENT_MARK`] and the name: was there nothing at all?)
    names: HashMap<String, bool>,
}

/// What a probe asks of a path.
#[derive(Clone, Copy)]
enum Probe {
    File,
    Absent,
}

/// Before a name in [`DirMemo::names`], the answer to [`Probe::Absent`]:
/// NUL, the one byte no path holds, so no name can be taken for another.
const ABSENT_MARK: char = '\0';

/// A memo of file hashes and probe answers; see the module docs.
#[derive(Debug)]
pub struct FileMemo {
    files: HashMap<PathBuf, (Stamp, String)>,
    dirs: HashMap<PathBuf, DirMemo>,
    /// Directory stamps taken during this run (one `stat` per directory).
    fresh_dirs: HashMap<PathBuf, Option<Stamp>>,
    /// Missing directories of probes found to be names at all (a dangling
    /// symlink), looked at once per run as [`Self::fresh_dirs`]: hundreds of
    /// probes share them (`/usr/local/include/x86_64-linux-gnu/...`).
    /// (`None`: no such name; else whether it is a symlink.)
    fresh_names: HashMap<PathBuf, Option<bool>>,
    /// Files hashed during this run, with their stamps (for a [`Snapshot`]).
    touched: Vec<(PathBuf, Stamp, String)>,
    /// Files hashed during this run that are too fresh to remember: a
    /// second look in the same run (a build script's own executable, in
    /// its pre-key and among its inputs) reads them once.
    this_run: HashMap<PathBuf, (Stamp, String)>,
    /// Something looked at in this run was too fresh to remember, or a
    /// symlink: no [`Snapshot`] can vouch for this lookup.
    unsettled: bool,
    now_ns: i128,
    changed: bool,
    /// The store's receipts of placed outputs (`crate::store::read_receipt`):
    /// a file gocache just placed is not read again to be hashed.
    receipts: Option<PathBuf>,
}

impl Default for FileMemo {
    fn default() -> FileMemo {
        FileMemo::empty()
    }
}

/// The store key of the memo for one command line (`compiler`, `args`) in
/// one directory.
pub fn memo_key(cwd: &Path, compiler: &Path, args: &[std::ffi::OsString]) -> ActionId {
    memo_hasher(cwd, compiler, args).id()
}

/// [`memo_key`] of a C compile, whose lookup also depends on the
/// relocation map (an entry naming a path that clashes with it never
/// holds, see [`crate::direct::manifest::Observed::matches`]): a snapshot
/// taken under one map must not answer under another.
pub fn memo_key_mapped(
    cwd: &Path,
    compiler: &Path,
    args: &[std::ffi::OsString],
    map: &crate::key::pathmap::PathMap,
) -> ActionId {
    let mut h = memo_hasher(cwd, compiler, args);
    for (real, name) in map.entries() {
        h.line(format!("map {} {name}", real.display()));
    }
    h.id()
}

fn memo_hasher(cwd: &Path, compiler: &Path, args: &[std::ffi::OsString]) -> KeyHasher {
    let mut h = KeyHasher::new("filememo");
    h.line(HEADER);
    h.line(format!("cwd {}", cwd.display()));
    h.line(format!("compiler {}", compiler.display()));
    for a in args {
        h.line(format!("arg {}", a.to_string_lossy()));
    }
    h
}

impl FileMemo {
    /// A memo that knows nothing.
    pub fn empty() -> FileMemo {
        let now_ns = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos() as i128;
        FileMemo {
            files: HashMap::new(),
            dirs: HashMap::new(),
            fresh_dirs: HashMap::new(),
            fresh_names: HashMap::new(),
            touched: Vec::new(),
            this_run: HashMap::new(),
            unsettled: false,
            now_ns,
            changed: false,
            receipts: None,
        }
    }

    /// The memo stored under `key`; empty if missing or damaged.
    pub fn load(store: &Store, key: &ActionId) -> FileMemo {
        let mut memo = FileMemo::empty();
        if let Some(text) = store
            .without_tier()
            .get_bytes(key)
            .and_then(|(_, b)| String::from_utf8(b).ok())
        {
            if memo.parse(&text).is_none() {
                memo = FileMemo::empty();
            }
        }
        memo.receipts = Some(store.receipts_dir());
        memo
    }

    /// The hash of `path` from a receipt of its placement, if one holds
    /// for `meta` (remembered for this run only, as a fresh file is).
    fn hash_by_receipt(&mut self, path: &Path, meta: &fs::Metadata) -> Option<String> {
        let hash = crate::store::read_receipt(self.receipts.as_ref()?, path, meta)?;
        if let Some(stamp) = Stamp::of(meta) {
            self.unsettled = true;
            self.this_run
                .insert(path.to_path_buf(), (stamp, hash.clone()));
            self.touched.push((path.to_path_buf(), stamp, hash.clone()));
        }
        Some(hash)
    }

    /// The hash of `path` when it is this build's `cargo-gocache` binary
    /// under another name (a build script's launcher is a hard link to it:
    /// `crate::wrapper::buildscript`), as `cargo gocache` found it
    /// ([`OWN_BINARY_VAR`]). A launcher's stamp is always fresh (cargo links
    /// it anew for every run), so without this every lookup of a
    /// build-script run read and hashed the 9 MB binary again.
    fn hash_of_own_binary(&mut self, path: &Path, meta: &fs::Metadata) -> Option<String> {
        let hash = own_binary_hash(meta)?;
        if let Some(stamp) = Stamp::of(meta) {
            if !stamp.settled(self.now_ns) {
                self.unsettled = true;
            }
            self.this_run
                .insert(path.to_path_buf(), (stamp, hash.to_string()));
            self.touched
                .push((path.to_path_buf(), stamp, hash.to_string()));
        }
        Some(hash.to_string())
    }

    /// The hash of `bytes`, just read from `path` by the caller (which
    /// needs them anyway): from a receipt when one holds, else computed.
    pub fn hash_read(&mut self, path: &Path, bytes: &[u8]) -> String {
        if let Ok(meta) = fs::metadata(path) {
            // Read, then stat: a change after the read shows as another
            // stamp than the receipt's.
            if let Some(h) = self.hash_by_receipt(path, &meta) {
                return h;
            }
        }
        hex(&hash_bytes(bytes))
    }

    /// Save if this run learned something. Best effort by design: callers
    /// may ignore the error (the cost is rehashing next time).
    pub fn save_if_changed(&self, store: &Store, key: &ActionId) -> gocache_build::Result<()> {
        if !self.changed {
            return Ok(());
        }
        store
            .without_tier()
            .put(key, self.render().as_bytes())
            .map(|_| ())
    }

    fn render(&self) -> String {
        let mut s = format!("{HEADER}\n");
        for (path, (stamp, hash)) in &self.files {
            let _ = writeln!(s, "f {hash} {} {}", stamp.render(), path.display());
        }
        for (path, d) in &self.dirs {
            let Some(stamp) = d.stamp else { continue };
            let _ = writeln!(s, "d {} {}", stamp.render(), path.display());
            for (name, is_file) in &d.names {
                let _ = writeln!(s, "p {} {name}", *is_file as u8);
            }
        }
        s
    }

    fn parse(&mut self, text: &str) -> Option<()> {
        let mut lines = text.lines();
        if lines.next()? != HEADER {
            return None;
        }
        let mut cur_dir: Option<PathBuf> = None;
        for line in lines {
            let (kind, rest) = line.split_once(' ')?;
            match kind {
                "f" => {
                    let (path, stamp, hash) = parse_file_line(rest)?;
                    self.files.insert(path, (stamp, hash));
                }
                "d" => {
                    let (path, stamp) = parse_dir_line(rest)?;
                    self.dirs.insert(
                        path.clone(),
                        DirMemo {
                            stamp: Some(stamp),
                            names: HashMap::new(),
                        },
                    );
                    cur_dir = Some(path);
                }
                "p" => {
                    let (x, name) = rest.split_once(' ')?;
                    let dir = self.dirs.get_mut(cur_dir.as_ref()?)?;
                    dir.names.insert(name.to_string(), x == "1");
                }
                _ => return None,
            }
        }
        Some(())
    }

    /// The hex SHA-256 of `path`'s content, from the memo when its stamp
    /// is unchanged; `None` if unreadable.
    pub fn hash(&mut self, path: &Path) -> Option<String> {
        // Stamp first, then read: a change after the stat shows in the
        // next stat, never under the old stamp.
        let meta = fs::metadata(path).ok();
        if let Some(hash) = meta.as_ref().and_then(|m| self.hash_of_own_binary(path, m)) {
            return Some(hash);
        }
        let stamp = meta.as_ref().and_then(Stamp::of);
        if let Some(stamp) = stamp {
            let same = |e: &&(Stamp, String)| e.0 == stamp;
            if let Some((_, hash)) = self.files.get(path).filter(same) {
                let hash = hash.clone();
                self.touched.push((path.to_path_buf(), stamp, hash.clone()));
                return Some(hash);
            }
            if let Some((_, hash)) = self.this_run.get(path).filter(same) {
                let hash = hash.clone();
                if stamp.settled(self.now_ns) {
                    self.files.insert(path.to_path_buf(), (stamp, hash.clone()));
                    self.changed = true;
                } else {
                    self.unsettled = true;
                }
                self.touched.push((path.to_path_buf(), stamp, hash.clone()));
                return Some(hash);
            }
            if !stamp.settled(self.now_ns) {
                if let Some(hash) = meta.as_ref().and_then(|m| self.hash_by_receipt(path, m)) {
                    return Some(hash);
                }
            }
        }
        let Some(bytes) = crate::direct::manifest::read_regular(path) else {
            self.unsettled = true;
            return None;
        };
        let hash = hex(&hash_bytes(&bytes));
        match stamp {
            Some(stamp) if stamp.settled(self.now_ns) => {
                self.files.insert(path.to_path_buf(), (stamp, hash.clone()));
                self.touched.push((path.to_path_buf(), stamp, hash.clone()));
                self.changed = true;
            }
            _ => {
                self.unsettled = true;
                if self.files.remove(path).is_some() {
                    self.changed = true;
                }
                if let Some(stamp) = stamp {
                    self.this_run
                        .insert(path.to_path_buf(), (stamp, hash.clone()));
                }
            }
        }
        Some(hash)
    }

    /// `hash` of `path`, as read by the caller after a `stat` that gave
    /// `meta`: used for the rest of this run while the stamp holds (never
    /// remembered past it: the caller's read is not this memo's).
    pub fn seed_this_run(&mut self, path: &Path, meta: &fs::Metadata, hash: String) {
        if let Some(stamp) = Stamp::of(meta) {
            if !stamp.settled(self.now_ns) {
                self.unsettled = true; // as `hash` would have found it
            }
            self.this_run.insert(path.to_path_buf(), (stamp, hash));
        }
    }

    fn dir_stamp(&mut self, dir: &Path) -> Option<Stamp> {
        if let Some(s) = self.fresh_dirs.get(dir) {
            return *s;
        }
        let s = fs::metadata(dir).ok().and_then(|m| Stamp::of(&m));
        self.fresh_dirs.insert(dir.to_path_buf(), s);
        s
    }

    /// What `path` names, without following a final symlink: `None`
    /// nothing, else whether it is a symlink. Once per run and path. A
    /// failure that is not the name's absence (no permission to search a
    /// directory above it) counts as a name that is no symlink: nothing is
    /// concluded from its absence.
    fn lstat_kind(&mut self, path: &Path) -> Option<bool> {
        if let Some(&known) = self.fresh_names.get(path) {
            return known;
        }
        let known = match fs::symlink_metadata(path) {
            Ok(m) => Some(m.file_type().is_symlink()),
            Err(e) => match e.kind() {
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory => None,
                _ => Some(false),
            },
        };
        self.fresh_names.insert(path.to_path_buf(), known);
        known
    }

    /// Is there a file (not a directory) at `path`? From the memo when the
    /// nearest existing directory above it is unchanged.
    ///
    /// Most probes name a file in a directory that does not exist at all
    /// (`/usr/include/common/x.h`); their answer is remembered under the
    /// nearest directory that does exist, whose stamp changes when the
    /// missing one is created.
    pub fn is_file(&mut self, path: &Path) -> bool {
        self.probe(path, Probe::File)
    }

    /// Is there no name at all at `path` (`lstat` fails: not a file, a
    /// directory, nor a symlink, dangling or not)? Remembered as
    /// [`Self::is_file`]'s answers are. A build-script run's inputs are
    /// mostly such paths: the compiles' search probes, thousands a run.
    pub fn is_absent(&mut self, path: &Path) -> bool {
        self.probe(path, Probe::Absent)
    }

    fn probe(&mut self, path: &Path, probe: Probe) -> bool {
        let real = || match probe {
            Probe::File => crate::direct::manifest::probe_present(path),
            Probe::Absent => fs::symlink_metadata(path).is_err_and(|e| {
                matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
                )
            }),
        };
        let mut dir = path;
        let stamp = loop {
            let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) else {
                self.unsettled = true;
                return real();
            };
            // A missing directory that is a (dangling) symlink can come
            // to exist without its parent changing: nothing below it can be
            // remembered.
            if dir != path && self.lstat_kind(dir).is_some() {
                self.unsettled = true;
                return real();
            }
            dir = parent;
            if let Some(stamp) = self.dir_stamp(dir) {
                break stamp;
            }
        };
        let Some(name) = path.strip_prefix(dir).ok().and_then(|n| n.to_str()) else {
            self.unsettled = true;
            return real();
        };
        // The two kinds of answer live apart: a name that is a directory
        // is no file, and not absent either.
        let key = match probe {
            Probe::File => name.to_string(),
            Probe::Absent => format!("{ABSENT_MARK}{name}"),
        };
        let now_ns = self.now_ns;
        let memo = self.dirs.entry(dir.to_path_buf()).or_default();
        if memo.stamp == Some(stamp) {
            if let Some(known) = memo.names.get(&key) {
                return *known;
            }
        } else {
            memo.stamp = stamp.settled(now_ns).then_some(stamp);
            memo.names.clear();
            self.changed = true;
        }
        // Nothing between `dir` and `path` exists (`lstat` above): then no
        // `stat` of `path` can find it either (resolving it resolves its
        // directory first), and most probes are such names.
        let answer = if Some(dir) == path.parent() {
            real()
        } else {
            matches!(probe, Probe::Absent)
        };
        // A symlink's target can change behind the directory's back: the
        // name itself (dangling or not) or, for a deeper name, its first
        // component, a dangling symlink to a directory (`ln/x.h` with
        // `ln -> gone`): `dir` is the nearest directory that resolves, so
        // nothing between it and `path` resolves but such a link.
        let first = Path::new(name).components().next();
        let dir = dir.to_path_buf();
        let is_link = first.is_some_and(|c| self.lstat_kind(&dir.join(c)) == Some(true));
        let memo = self.dirs.entry(dir).or_default();
        if memo.stamp.is_some() && !is_link {
            memo.names.insert(key, answer);
            self.changed = true;
        } else {
            self.unsettled = true;
        }
        answer
    }

    /// A [`Snapshot`] of this run's lookup, which found `found` under
    /// `pre`: `None` if anything looked at was too fresh or a symlink.
    pub fn snapshot(&self, pre: ActionId, found: ActionId) -> Option<Snapshot> {
        if self.unsettled {
            return None;
        }
        let mut dirs = Vec::new();
        for (dir, stamp) in &self.fresh_dirs {
            match stamp {
                Some(s) if s.settled(self.now_ns) => dirs.push((dir.clone(), *s)),
                Some(_) => return None,
                // Missing: covered by the nearest existing directory above.
                None => {}
            }
        }
        let mut files = self.touched.clone();
        files.sort_by(|a, b| a.0.cmp(&b.0));
        files.dedup_by(|a, b| a.0 == b.0);
        dirs.sort_by(|a, b| a.0.cmp(&b.0));
        Some(Snapshot {
            pre,
            found,
            files,
            dirs,
            stale: false,
        })
    }
}

/// The shortcut of a steady hit: the last lookup that found a result,
/// with the stamp of every file it hashed and every directory it probed.
///
/// If the pre-key is the same and every stamp is unchanged, every hash and
/// every probe answer is unchanged (see the module docs), so the same
/// result is found again: a hit costs one `stat` per file and directory
/// instead of reading the manifest, hashing headers and probing names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pre: ActionId,
    found: ActionId,
    files: Vec<(PathBuf, Stamp, String)>,
    dirs: Vec<(PathBuf, Stamp)>,
    /// A file asked for through [`Disk::hash`] was not vouched for.
    stale: bool,
}

const SNAPSHOT_HEADER: &str = "gocache-snapshot v1";

/// The store key of the snapshot that goes with the memo under `memo_key`.
pub fn snapshot_key(memo_key: &ActionId) -> ActionId {
    let mut h = KeyHasher::new("snapshot");
    h.line(SNAPSHOT_HEADER);
    h.line(format!("memo {memo_key}"));
    h.id()
}

impl Snapshot {
    /// The snapshot stored under `key`, if any and well formed.
    pub fn load(store: &Store, key: &ActionId) -> Option<Snapshot> {
        let text = String::from_utf8(store.without_tier().get_bytes(key)?.1).ok()?;
        let mut lines = text.lines();
        if lines.next()? != SNAPSHOT_HEADER {
            return None;
        }
        let pre = ActionId::from_hex(lines.next()?.strip_prefix("pre ")?)?;
        let found = ActionId::from_hex(lines.next()?.strip_prefix("found ")?)?;
        let mut snap = Snapshot {
            pre,
            found,
            files: Vec::new(),
            dirs: Vec::new(),
            stale: false,
        };
        for line in lines {
            let (kind, rest) = line.split_once(' ')?;
            match kind {
                "f" => snap.files.push(parse_file_line(rest)?),
                "d" => snap.dirs.push(parse_dir_line(rest)?),
                _ => return None,
            }
        }
        Some(snap)
    }

    /// Save under `key`.
    pub fn save(&self, store: &Store, key: &ActionId) -> gocache_build::Result<()> {
        let mut s = format!(
            "{SNAPSHOT_HEADER}\npre {}\nfound {}\n",
            self.pre, self.found
        );
        for (path, stamp, hash) in &self.files {
            let _ = writeln!(s, "f {hash} {} {}", stamp.render(), path.display());
        }
        for (path, stamp) in &self.dirs {
            let _ = writeln!(s, "d {} {}", stamp.render(), path.display());
        }
        store.without_tier().put(key, s.as_bytes()).map(|_| ())
    }

    /// The result found last time, if `pre` is the same and nothing looked
    /// at has changed.
    pub fn check(&self, pre: &ActionId) -> Option<ActionId> {
        if self.stale || self.pre != *pre {
            return None;
        }
        let same = |path: &Path, want: &Stamp| {
            fs::metadata(path)
                .ok()
                .and_then(|m| Stamp::of(&m))
                .is_some_and(|s| s == *want)
        };
        let files = self.files.iter().all(|(p, st, _)| same(p, st));
        (files && self.dirs.iter().all(|(p, st)| same(p, st))).then_some(self.found)
    }
}

/// A snapshot hashes the source for the pre-key from its stamps; a file it
/// does not vouch for is hashed for real and makes it [stale](Snapshot::check).
impl Disk for Snapshot {
    fn hash(&mut self, path: &Path) -> Option<String> {
        let stamp = fs::metadata(path).ok().and_then(|m| Stamp::of(&m));
        if let Some((_, _, hash)) = self
            .files
            .iter()
            .find(|(p, st, _)| p == path && Some(*st) == stamp)
        {
            return Some(hash.clone());
        }
        self.stale = true;
        crate::direct::manifest::read_regular(path).map(|b| hex(&hash_bytes(&b)))
    }

    fn is_file(&mut self, path: &Path) -> bool {
        self.stale = true;
        crate::direct::manifest::probe_present(path)
    }
}

impl Disk for FileMemo {
    fn hash(&mut self, path: &Path) -> Option<String> {
        FileMemo::hash(self, path)
    }

    fn is_file(&mut self, path: &Path) -> bool {
        FileMemo::is_file(self, path)
    }
}

/// `f <hash> <stamp> <path>`, as memos and snapshots write a file (the
/// path last: it may hold spaces).
fn parse_file_line(rest: &str) -> Option<(PathBuf, Stamp, String)> {
    let mut it = rest.splitn(7, ' ');
    let hash = it.next()?.to_string();
    let stamp = Stamp::parse(&mut it)?;
    Some((PathBuf::from(it.next()?), stamp, hash))
}

/// Set by `cargo gocache` for its build: `<dev> <ino> <size> <mtime_ns>
/// <sha256>` of its own binary (`crate::runner`).
pub const OWN_BINARY_VAR: &str = "CARGO_GOCACHE_OWN_BINARY";

/// The file `meta` describes is `cargo gocache`'s own binary, unchanged:
/// its SHA-256. Same device, inode, size and mtime: the hash was taken
/// when that mtime was older than [`RACY`] ([`own_binary_line`]), so a
/// later write would have set another one; linking (what makes a
/// launcher) changes only the ctime, which is why it is left out. (A
/// binary rewritten in place with its old mtime put back is not seen;
/// installs replace the file.)
fn own_binary_hash(meta: &fs::Metadata) -> Option<&'static str> {
    use std::sync::OnceLock;
    // Parsed once: this is asked of every file a lookup hashes.
    static OWN: OnceLock<Option<OwnBinary>> = OnceLock::new();
    OWN.get_or_init(|| OwnBinary::parse(&crate::env::var(OWN_BINARY_VAR)?))
        .as_ref()?
        .hash_of(meta)
}

/// An [`OWN_BINARY_VAR`] value.
struct OwnBinary {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
    hash: String,
}

impl OwnBinary {
    fn parse(line: &str) -> Option<OwnBinary> {
        let mut it = line.split_whitespace();
        let mut n = || it.next()?.parse::<u64>().ok();
        let (dev, ino, size) = (n()?, n()?, n()?);
        let mtime_ns = it.next()?.parse().ok()?;
        let hash = it.next().filter(|h| h.len() == 64)?.to_string();
        it.next().is_none().then_some(OwnBinary {
            dev,
            ino,
            size,
            mtime_ns,
            hash,
        })
    }

    /// The hash, if `meta` has this stamp.
    fn hash_of(&self, meta: &fs::Metadata) -> Option<&str> {
        let s = Stamp::of(meta)?;
        (s.dev == self.dev
            && s.ino == self.ino
            && s.size == self.size
            && s.mtime_ns == self.mtime_ns)
            .then_some(self.hash.as_str())
    }
}

/// `<dev> <ino> <size> <mtime_ns>` of a file.
fn own_binary_stamp(meta: &fs::Metadata) -> Option<String> {
    let s = Stamp::of(meta)?;
    Some(format!("{} {} {} {}", s.dev, s.ino, s.size, s.mtime_ns))
}

/// [`OWN_BINARY_VAR`]'s value for `exe`, the running binary: `None` while
/// its mtime is younger than [`RACY`] (just built: a write in the same
/// tick would not show). The hash is kept in `<store>/compilers/own` for
/// the next build, by the same stamp.
pub fn own_binary_line(store: &Store, exe: &Path) -> Option<String> {
    let meta = fs::metadata(exe).ok()?;
    let stamp = own_binary_stamp(&meta)?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()?
        .as_nanos() as i128;
    if Stamp::of(&meta)?.mtime_ns >= now - RACY.as_nanos() as i128 {
        return None;
    }
    let memo = store.root().join("compilers").join("own");
    if let Some(line) = fs::read_to_string(&memo)
        .ok()
        .filter(|l| OwnBinary::parse(l).is_some_and(|own| own.hash_of(&meta).is_some()))
    {
        return Some(line.trim().to_string());
    }
    let hash = hex(&crate::key::hash::hash_file(exe).ok()?);
    // The stamp again: the hash is of what the stamp describes only if it
    // did not change while the file was read.
    if own_binary_stamp(&fs::metadata(exe).ok()?)? != stamp {
        return None;
    }
    let line = format!("{stamp} {hash}");
    let _ = fs::create_dir_all(memo.parent()?);
    let _ = crate::fsutil::write_file_atomic(&memo, line.as_bytes());
    Some(line)
}

/// `d <stamp> <path>`, as memos and snapshots write a directory.
fn parse_dir_line(rest: &str) -> Option<(PathBuf, Stamp)> {
    let mut it = rest.splitn(6, ' ');
    let stamp = Stamp::parse(&mut it)?;
    Some((PathBuf::from(it.next()?), stamp))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn age(path: &Path) {
        let old = SystemTime::now() - Duration::from_secs(60);
        fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(old)
            .unwrap();
    }

    #[test]
    fn remembers_settled_files_and_sees_edits() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("s")).unwrap();
        let f = dir.path().join("x.h");
        fs::write(&f, "one").unwrap();
        let key = ActionId([3; 32]);
        let mut m = FileMemo::load(&store, &key);
        // Just written: its ctime is fresh, so it is hashed, not remembered.
        assert_eq!(m.hash(&f), Some(hex(&hash_bytes(b"one"))));
        assert!(m.files.is_empty());
        // Pretend time has passed.
        m.now_ns += 10_000_000_000;
        assert_eq!(m.hash(&f), Some(hex(&hash_bytes(b"one"))));
        assert_eq!(m.files.len(), 1);
        m.save_if_changed(&store, &key).unwrap();
        let mut m2 = FileMemo::load(&store, &key);
        assert_eq!(m2.files, m.files);
        // An edit that keeps the size and restores the mtime still changes the ctime.
        fs::write(&f, "two").unwrap();
        age(&f);
        assert_eq!(m2.hash(&f), Some(hex(&hash_bytes(b"two"))));
    }

    #[test]
    fn snapshot_holds_until_a_stamp_changes() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("s")).unwrap();
        let inc = dir.path().join("inc");
        fs::create_dir(&inc).unwrap();
        let f = inc.join("x.h");
        fs::write(&f, "x").unwrap();
        let mut m = FileMemo::empty();
        m.now_ns += 10_000_000_000;
        let (pre, found) = (ActionId([1; 32]), ActionId([2; 32]));
        m.hash(&f);
        assert!(!m.is_file(&inc.join("y.h")));
        let snap = m.snapshot(pre, found).unwrap();
        let key = snapshot_key(&ActionId([9; 32]));
        snap.save(&store, &key).unwrap();
        let loaded = Snapshot::load(&store, &key).unwrap();
        assert_eq!(loaded, snap);
        assert_eq!(loaded.check(&pre), Some(found));
        assert_eq!(loaded.check(&ActionId([7; 32])), None, "another pre-key");
        fs::write(inc.join("y.h"), "").unwrap();
        assert_eq!(loaded.check(&pre), None, "a new file in a probed directory");
        // Too fresh to vouch for: no snapshot at all.
        let mut fresh = FileMemo::empty();
        fresh.hash(&f);
        assert!(fresh.snapshot(pre, found).is_none());
    }

    #[test]
    fn probe_answers_follow_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("inc");
        fs::create_dir(&d).unwrap();
        let mut m = FileMemo::empty();
        m.now_ns += 10_000_000_000;
        let p = d.join("x.h");
        assert!(!m.is_file(&p));
        assert_eq!(m.dirs[&d].names.get("x.h"), Some(&false));
        assert!(!m.is_file(&p), "answered from the memo");
        fs::write(&p, "").unwrap();
        // A new run (fresh directory stamps) sees the directory changed.
        m.fresh_dirs.clear();
        m.fresh_names.clear();
        assert!(m.is_file(&p));
        // Under a missing directory: remembered under the nearest one that exists.
        let deep = d.join("sub/y.h");
        assert!(!m.is_file(&deep));
        assert_eq!(m.dirs[&d].names.get("sub/y.h"), Some(&false));
        fs::create_dir(d.join("sub")).unwrap();
        fs::write(&deep, "").unwrap();
        m.fresh_dirs.clear();
        m.fresh_names.clear();
        assert!(m.is_file(&deep));
    }

    #[test]
    fn absence_answers_follow_the_directory_and_never_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("inc");
        fs::create_dir(&d).unwrap();
        let mut m = FileMemo::empty();
        m.now_ns += 10_000_000_000;
        let new_run = |m: &mut FileMemo| {
            m.fresh_dirs.clear();
            m.fresh_names.clear();
        };
        let p = d.join("x.h");
        assert!(m.is_absent(&p));
        assert!(!m.is_file(&p));
        // Both answers kept, apart.
        assert_eq!(m.dirs[&d].names.get("\0x.h"), Some(&true));
        assert_eq!(m.dirs[&d].names.get("x.h"), Some(&false));
        // A directory made there is no file, and not absent either.
        fs::create_dir(&p).unwrap();
        new_run(&mut m);
        assert!(!m.is_absent(&p));
        assert!(!m.is_file(&p));
        fs::remove_dir(&p).unwrap();
        // A dangling symlink: a name, and never remembered.
        std::os::unix::fs::symlink(d.join("gone"), &p).unwrap();
        new_run(&mut m);
        assert!(!m.is_absent(&p));
        assert!(!m.dirs[&d].names.contains_key("\0x.h"));
        // Under a missing directory, then that directory made.
        let deep = d.join("sub/y.h");
        assert!(m.is_absent(&deep));
        fs::create_dir(d.join("sub")).unwrap();
        fs::write(&deep, "").unwrap();
        new_run(&mut m);
        assert!(!m.is_absent(&deep));
        // What the memo holds survives a save and a load.
        let store = Store::open(dir.path().join("s")).unwrap();
        let key = ActionId([5; 32]);
        let q = d.join("z.h");
        assert!(m.is_absent(&q));
        m.save_if_changed(&store, &key).unwrap();
        let mut m2 = FileMemo::load(&store, &key);
        assert_eq!(m2.dirs[&d].names.get("\0z.h"), Some(&true));
        m2.now_ns = m.now_ns;
        assert!(m2.is_absent(&q));
    }

    /// The memo's probe answers, and `probe_many`'s (which spare the `stat`
    /// of a name whose directory is missing), must be what a plain `stat`
    /// or `lstat` says: on random trees of directories, files, symlinks
    /// (dangling or not) and names with `..`, then again after random
    /// changes to the tree, with the memo of the first run kept.
    #[test]
    fn probe_answers_equal_the_disk_on_random_trees() {
        use crate::direct::manifest::{probe_many, probe_present};
        for seed in 0..150u64 {
            let mut next = crate::testing::picker(seed);
            let tmp = tempfile::tempdir().unwrap();
            let root = tmp.path().join("r");
            fs::create_dir(&root).unwrap();
            let tree = crate::testing::RandomTree { root: root.clone() };
            for _ in 0..6 {
                let p = tree.path(&mut next, false);
                tree.make(&p, &mut next);
            }
            let probes: Vec<PathBuf> = (0..40).map(|_| tree.path(&mut next, true)).collect();
            let absent = |p: &Path| {
                fs::symlink_metadata(p).is_err_and(|e| {
                    matches!(
                        e.kind(),
                        std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
                    )
                })
            };
            let mut m = FileMemo::empty();
            m.now_ns += 10_000_000_000;
            for round in 0..2 {
                let many = probe_many(&probes);
                for (p, got) in probes.iter().zip(many) {
                    assert_eq!(got, probe_present(p), "seed {seed} round {round}: {p:?}");
                    assert_eq!(
                        m.is_file(p),
                        probe_present(p),
                        "seed {seed} round {round}: {p:?}"
                    );
                    assert_eq!(
                        m.is_absent(p),
                        absent(p),
                        "seed {seed} round {round}: {p:?}"
                    );
                }
                // Change the tree; a new run keeps what the memo learned.
                // (In a later tick of the file system's clock than the
                // stamps learned: the memo's clock, moved on above, takes
                // them as settled, which real ones would be.)
                std::thread::sleep(Duration::from_millis(20));
                for _ in 0..4 {
                    tree.change(&mut next);
                }
                m.fresh_dirs.clear();
                m.fresh_names.clear();
            }
        }
    }

    /// The own-binary rule: a hard link of the binary (what a launcher
    /// is) keeps its hash though its ctime moves; a rewrite, even of the
    /// same size, does not; a binary younger than the racy window gets no
    /// line at all.
    #[test]
    fn own_binary_hash_follows_links_and_not_rewrites() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("s")).unwrap();
        let exe = dir.path().join("cargo-gocache");
        fs::write(&exe, "binary one").unwrap();
        assert_eq!(own_binary_line(&store, &exe), None, "just written");
        age(&exe);
        let line = own_binary_line(&store, &exe).unwrap();
        let want = hex(&hash_bytes(b"binary one"));
        assert!(line.ends_with(&want), "{line}");
        // Kept for the next build, by the same stamp.
        assert_eq!(
            own_binary_line(&store, &exe).as_deref(),
            Some(line.as_str())
        );
        let launcher = dir.path().join("build-script-build");
        fs::hard_link(&exe, &launcher).unwrap();
        let meta = fs::metadata(&launcher).unwrap();
        assert_eq!(
            OwnBinary::parse(&line).unwrap().hash_of(&meta),
            Some(want.as_str())
        );
        // Another file with the same content is not the binary: hashed as any.
        let copy = dir.path().join("copy");
        fs::copy(&exe, &copy).unwrap();
        assert_eq!(
            OwnBinary::parse(&line)
                .unwrap()
                .hash_of(&fs::metadata(&copy).unwrap()),
            None
        );
        // Rewritten in place, same size: another mtime, no match.
        fs::write(&exe, "binary two").unwrap();
        assert_eq!(
            OwnBinary::parse(&line)
                .unwrap()
                .hash_of(&fs::metadata(&launcher).unwrap()),
            None
        );
        assert_eq!(own_binary_line(&store, &exe), None, "just rewritten");
        age(&exe);
        let two = own_binary_line(&store, &exe).unwrap();
        assert!(two.ends_with(&hex(&hash_bytes(b"binary two"))), "{two}");
        // A damaged value or memo is no match and no panic.
        for bad in [
            "",
            "1 2 3",
            "a b c d e",
            "1 2 3 4 abc",
            &format!("{two} extra"),
        ] {
            assert!(OwnBinary::parse(bad).is_none(), "{bad:?}");
        }
        fs::write(store.root().join("compilers/own"), "garbage").unwrap();
        assert_eq!(own_binary_line(&store, &exe).as_deref(), Some(two.as_str()));
    }

    use crate::store::{Tier, TierKey};
    use std::sync::{Arc, Mutex};

    /// A tier that records every request and has nothing.
    #[derive(Default)]
    struct Recorder(Mutex<Vec<String>>);

    impl Tier for Recorder {
        fn get(&self, key: TierKey<'_>) -> Option<Vec<u8>> {
            self.0.lock().unwrap().push(format!("get {}", key.path()));
            None
        }
        fn put(&self, key: TierKey<'_>, _: &[u8]) {
            self.0.lock().unwrap().push(format!("put {}", key.path()));
        }
        fn rejected(&self, _: TierKey<'_>) {}
    }

    /// Regression: memos and snapshots went to the remote tier, costing
    /// every wrapped compile two remote lookups and four remote writes of
    /// stamps no other machine can use.
    #[test]
    fn stat_memos_and_snapshots_never_reach_the_remote_tier() {
        let dir = tempfile::tempdir().unwrap();
        let tier = Arc::new(Recorder::default());
        let store = Store::open(dir.path()).unwrap().with_tier(tier.clone());
        let key = ActionId([1; 32]);
        assert!(Snapshot::load(&store, &snapshot_key(&key)).is_none());
        let _ = FileMemo::load(&store, &key);
        let mut memo = FileMemo::empty();
        memo.changed = true;
        memo.save_if_changed(&store, &key).unwrap();
        let snap = Snapshot {
            pre: key,
            found: key,
            files: Vec::new(),
            dirs: Vec::new(),
            stale: false,
        };
        snap.save(&store, &snapshot_key(&key)).unwrap();
        assert!(Snapshot::load(&store, &snapshot_key(&key)).is_some());
        assert_eq!(*tier.0.lock().unwrap(), Vec::<String>::new());
    }
}
