//! The content-addressed store: Go's `$GOCACHE` layout, for C/C++ outputs.
//!
//! # Layout
//!
//! ```text
//! <root>/README            what this directory is, how to clear it
//! <root>/CACHEDIR.TAG      so backup tools skip it (https://bford.info/cachedir/)
//! <root>/trim.txt          Unix time of the last automatic trim
//! <root>/<xx>/<action>-a   action entry: action ID -> output ID, size, time
//! <root>/<xx>/<action>-k   key inputs of that action, one line each (for `explain`)
//! <root>/<xx>/<output>-d   an output, named by the SHA-256 of its content
//! <root>/receipts/<path>   a placed output's stamp and ID (below), local only
//! ```
//!
//! `<xx>` is the first two hex digits of the 64-digit name, so no directory
//! holds more than 1/256 of the files. An action entry is one fixed-size line
//! (Go's format, [`ENTRY_SIZE`] bytes):
//!
//! ```text
//! v1 <action: 64 hex> <output: 64 hex> <size: %20d> <time: %20d unix nanos>\n
//! ```
//!
//! Identical outputs of different actions are stored once.
//!
//! # Atomicity: why no lock is needed
//!
//! Every file in the store is written whole to a temporary file in the same
//! directory and then renamed onto its final name. `rename(2)` within a
//! directory replaces the name atomically: a reader opens either the old file
//! or the new one, never a half-written one. Outputs are written before the
//! action entry that names them, so an entry that exists names an output that
//! existed when the entry was written. Two processes writing the same name
//! write the same bytes (outputs are named by their content; two compiles of
//! the same action are expected to agree, `--verify` checks that), so the
//! last rename wins harmlessly.
//!
//! Readers still trust nothing: an entry must be exactly [`ENTRY_SIZE`]
//! bytes, well formed, and name the action it is filed under; an output must
//! have the size the entry records and hash to its own name. Anything else
//! (a torn write from a crashed machine, a truncated or zero-length file,
//! garbage, a flipped bit) reads as a miss, and the next put of that action
//! replaces it. No read path returns an error: the worst a damaged store can
//! do is cost a compile. A writer killed mid-write leaves only a temporary
//! file (`.tmp-*`), which readers never open and trim removes after an hour.
//!
//! # A second tier
//!
//! A [`Tier`] (a remote cache: Redis, an HTTP cache) can sit behind the
//! local files. A local miss asks the tier; what it returns is checked
//! exactly as a local file is (an entry must parse and name its action; an
//! output must have the recorded size and hash to its name) and written
//! locally before use, so a tampered or torn remote object is a miss, never
//! a wrong result. Puts go to both. The library defines the trait only: the
//! network clients live in the `cargo-gocache` binary.
//!
//! # Receipts of placed outputs
//!
//! `<root>/receipts/<sha256 of the path>` says "the file placed at this
//! path had this stamp (device, inode, size, mtime and ctime in
//! nanoseconds) and this content ID right after [`Store::place`] wrote
//! it" ([`read_receipt`]). A later step of the same build that must hash
//! that file (a dependent's `--extern` rlib, a link's rlibs, a build
//! script's executable) uses the ID while the stamp is unchanged: the file
//! was just written from checked bytes, so its hash is known without
//! reading it again. This is the one place a stamp younger than the racy
//! window (`crate::fsutil::RACY`) is trusted, and why that is sound: the
//! racy rule guards against a change made in the same clock tick as a
//! *read*; a receipt is taken by the writer itself, right after the rename
//! that made the file, so only a writer that changes the file in place,
//! keeping its size, within the same tick after that could fool it, and
//! nothing in a build writes a file gocache just placed (rustc and linkers
//! write new files and rename them: a new inode). Receipts stay in the
//! local store, never in its tier, and trim removes them after an hour.
//!
//! # Use tracking and trimming
//!
//! A file's mtime is its last use. A hit refreshes the mtime of the entry and
//! the output, but only when it is more than an hour old ([`MTIME_INTERVAL`]),
//! so a warm build does not turn every read into a metadata write.
//!
//! [`Store::trim`] removes files unused for longer than the maximum age
//! (default 5 days), then, while the store is larger than the size cap
//! (default 10 GiB), the least recently used files first; last it removes
//! entries whose output is gone, so every entry left points at an output.
//! [`Store::maybe_trim`] runs it at most once a day, recorded in `trim.txt`
//! (written before trimming, so concurrent builds do not all trim at once).

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::{Error, IoContext, Result};
use crate::key::hash::{ActionId, OutputId};

/// Kept here for the callers that found them in the store first; they live
/// in [`crate::fsutil`] so that [`crate::run`] can use them too.
pub use crate::fsutil::{write_atomic, write_file_atomic};

/// Size of an action entry file in bytes.
pub const ENTRY_SIZE: usize = 2 + 1 + 64 + 1 + 64 + 1 + 20 + 1 + 20 + 1;

/// A used file's mtime is refreshed when it is older than this.
pub const MTIME_INTERVAL: Duration = Duration::from_secs(3600);

/// Automatic trimming runs at most this often.
pub const TRIM_INTERVAL: Duration = Duration::from_secs(24 * 3600);

/// Temporary files older than this are left over from a killed writer.
const TEMP_MAX_AGE: Duration = Duration::from_secs(3600);

const README: &str = "\
This directory holds the build cache of cargo-gocache: compiled C and C++
objects and archives, keyed by a hash of everything that went into them.

It can be removed at any time; gocache recreates it and recompiles what it
needs. To clear it, run `cargo gocache clean` or delete the directory.
To move it, set CARGO_GOCACHE_DIR to an absolute path; `off` disables it.
";

const CACHEDIR_TAG: &str = "\
Signature: 8a477f597d28d172789f06886806bc55
# This file is a cache directory tag created by cargo-gocache.
# For information about cache directory tags see https://bford.info/cachedir/
";

/// A store on disk. Cheap to open; holds no file handles or locks.
#[derive(Clone)]
pub struct Store {
    root: PathBuf,
    /// The current run's used log ([`crate::run`]): where to note each
    /// file used, for `cargo gocache export --used-since-build`.
    used_log: Option<PathBuf>,
    tier: Option<Arc<dyn Tier>>,
    /// How many of the tier's answers this store (and its clones) rejected,
    /// so a lookup can tell a rejected answer from a plain miss.
    rejections: Arc<std::sync::atomic::AtomicU64>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("root", &self.root)
            .field("tier", &self.tier.is_some())
            .finish()
    }
}

/// What a [`Tier`] is asked for: an action entry or an output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TierKey<'a> {
    /// An action entry (its value is the fixed-size entry line).
    Action(&'a ActionId),
    /// An output (its value is the output's bytes).
    Output(&'a OutputId),
}

impl TierKey<'_> {
    /// The key as a path in the bazel-remote / ccache HTTP layout:
    /// `ac/<64 hex>` or `cas/<64 hex>`.
    pub fn path(&self) -> String {
        match self {
            TierKey::Action(a) => format!("ac/{a}"),
            TierKey::Output(o) => format!("cas/{o}"),
        }
    }
}

/// A second tier behind the local store, such as a remote cache.
///
/// Implementations must not fail or block a build: errors and timeouts are
/// the tier's to count and report, and read as a miss.
pub trait Tier: Send + Sync {
    /// The value stored under `key`, or `None` (a miss, or any failure).
    fn get(&self, key: TierKey<'_>) -> Option<Vec<u8>>;
    /// Store `bytes` under `key` (best effort; read-only tiers ignore it).
    fn put(&self, key: TierKey<'_>, bytes: &[u8]);
    /// The store rejected what `get` returned for `key` (wrong size or
    /// hash, malformed entry): count it, warn about it.
    fn rejected(&self, key: TierKey<'_>);
}

/// An action entry read back from the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// The action this entry is filed under.
    pub action: ActionId,
    /// The output the action produced.
    pub output: OutputId,
    /// The output's size in bytes.
    pub size: u64,
    /// When the entry was written, in nanoseconds since the Unix epoch.
    pub time_nanos: u64,
}

/// How much a trim keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrimPolicy {
    /// Files unused for longer than this are removed.
    pub max_age: Duration,
    /// Then the least recently used files are removed until the store is at most this many bytes.
    pub max_size: u64,
}

impl Default for TrimPolicy {
    fn default() -> Self {
        TrimPolicy {
            max_age: Duration::from_secs(5 * 24 * 3600),
            max_size: 10 << 30,
        }
    }
}

/// What a trim removed and left.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TrimReport {
    /// Files removed (entries, outputs, key records, temporaries).
    pub removed_files: u64,
    /// Bytes removed.
    pub removed_bytes: u64,
    /// Action entries left.
    pub entries: u64,
    /// Bytes left.
    pub bytes: u64,
}

/// How big the store is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Number of action entries.
    pub entries: u64,
    /// Number of outputs.
    pub outputs: u64,
    /// Total bytes of all files under the entry directories.
    pub bytes: u64,
}

/// What reading a store file does besides reading it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Use {
    /// Nothing (trim reading entries).
    None,
    /// Its time set to now when stale, so trim keeps it (a memo).
    Touched,
    /// Touched, and noted in the run's used log (a build's lookup).
    Noted,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Action,
    Output,
    KeyInputs,
    Temp,
}

struct FileInfo {
    path: PathBuf,
    name: String,
    kind: Kind,
    mtime: SystemTime,
    size: u64,
}

impl Store {
    /// Open (creating if needed) the store at `root`, which must be absolute.
    pub fn open(root: impl Into<PathBuf>) -> Result<Store> {
        let root = root.into();
        let used_log = crate::run::current(&root).map(|r| r.used.clone());
        let store = Store {
            root,
            used_log,
            tier: None,
            rejections: Arc::default(),
        };
        // One stat on the common path; the marker files are written once.
        if !store.root.join("CACHEDIR.TAG").is_file() {
            fs::create_dir_all(&store.root).with_path("create", &store.root)?;
            write_atomic(&store.root, "README", README.as_bytes())?;
            write_atomic(&store.root, "CACHEDIR.TAG", CACHEDIR_TAG.as_bytes())?;
        }
        Ok(store)
    }

    /// Open the store named by the environment ([`crate::env::cache_dir`]);
    /// `Ok(None)` when caching is off.
    pub fn from_env() -> Result<Option<Store>> {
        match crate::env::cache_dir()? {
            Some(dir) => Store::open(dir).map(Some),
            None => Ok(None),
        }
    }

    /// This store with `tier` behind it.
    pub fn with_tier(mut self, tier: Arc<dyn Tier>) -> Store {
        self.tier = Some(tier);
        self
    }

    /// This store without its tier, for what is of use on this machine
    /// only (the stat memos of `filememo`: device and inode numbers, ctimes).
    pub fn without_tier(&self) -> Store {
        Store {
            tier: None,
            ..self.clone()
        }
    }

    fn reject(&self, tier: &Arc<dyn Tier>, key: TierKey<'_>) {
        tier.rejected(key);
        self.rejections
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// How many answers of the tier were rejected so far (by this store and
    /// its clones): compared before and after a lookup, it says whether the
    /// lookup missed because the remote's answer was rejected.
    pub fn rejections(&self) -> u64 {
        self.rejections.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The store's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn file_path(&self, hex: &str, suffix: &str) -> PathBuf {
        self.root.join(&hex[..2]).join(format!("{hex}-{suffix}"))
    }

    /// Where the entry of `action` lives (it may not exist).
    pub fn action_path(&self, action: &ActionId) -> PathBuf {
        self.file_path(&action.to_hex(), "a")
    }

    /// Where the output `output` lives (it may not exist).
    pub fn output_path(&self, output: &OutputId) -> PathBuf {
        self.file_path(&output.to_hex(), "d")
    }

    fn key_inputs_path(&self, action: &ActionId) -> PathBuf {
        self.file_path(&action.to_hex(), "k")
    }

    /// Look up an action. Any damage or absence is `None`, never an error.
    ///
    /// The entry is not proof the output is intact: read it with
    /// [`Store::read_output`] or [`Store::place`], which check it.
    pub fn get(&self, action: &ActionId) -> Option<Entry> {
        if let Some(e) = self.read_entry(action, Use::Noted) {
            return Some(e);
        }
        let tier = self.tier.as_ref()?;
        let key = TierKey::Action(action);
        let bytes = tier.get(key)?;
        match (bytes.len() == ENTRY_SIZE)
            .then(|| parse_entry(&bytes))
            .flatten()
        {
            Some(e) if e.action == *action => {
                // Keep it locally; if that fails the hit still stands.
                let _ = self.write_in_store(&self.action_path(action), &bytes);
                Some(e)
            }
            _ => {
                self.reject(tier, key);
                None
            }
        }
    }

    /// A memo's bytes (`crate::direct::factmemo`): [`Store::get_bytes`]
    /// from the local files only, checked the same way, touched when stale
    /// (trim keeps what is read) but not noted in the run's used log: a
    /// compile reads a hundred memos, and memos are this machine's, never
    /// exported.
    pub fn get_memo(&self, action: &ActionId) -> Option<Vec<u8>> {
        let entry = self.read_entry(action, Use::Touched)?;
        self.read_output_local(&entry, Use::Touched)
    }

    /// [`Store::get`] from the local files only, marking the entry used
    /// as `how` says: trim reads entries too, and a trim is not a use.
    fn read_entry(&self, action: &ActionId, how: Use) -> Option<Entry> {
        let path = self.action_path(action);
        let mut file = File::open(&path).ok()?;
        let mut buf = [0u8; ENTRY_SIZE + 1];
        let n = read_full(&mut file, &mut buf).ok()?;
        if n != ENTRY_SIZE {
            return None;
        }
        let entry = parse_entry(&buf[..ENTRY_SIZE])?;
        if entry.action != *action {
            return None;
        }
        if how != Use::None {
            if let Ok(meta) = file.metadata() {
                touch_if_stale(&file, &meta);
            }
        }
        if how == Use::Noted {
            self.note_use(&path);
        }
        Some(entry)
    }

    /// The bytes of an entry's output, checked against its size and hash;
    /// `None` if missing or damaged.
    pub fn read_output(&self, entry: &Entry) -> Option<Vec<u8>> {
        if let Some(b) = self.read_output_local(entry, Use::Noted) {
            return Some(b);
        }
        let tier = self.tier.as_ref()?;
        let key = TierKey::Output(&entry.output);
        let bytes = tier.get(key)?;
        if bytes.len() as u64 != entry.size || OutputId::of(&bytes) != entry.output {
            self.reject(tier, key);
            return None;
        }
        let _ = self.write_in_store(&self.output_path(&entry.output), &bytes);
        Some(bytes)
    }

    fn read_output_local(&self, entry: &Entry, how: Use) -> Option<Vec<u8>> {
        let path = self.output_path(&entry.output);
        let mut file = File::open(&path).ok()?;
        let meta = file.metadata().ok()?;
        if meta.len() != entry.size {
            return None;
        }
        let mut bytes = Vec::with_capacity(entry.size as usize);
        file.read_to_end(&mut bytes).ok()?;
        if bytes.len() as u64 != entry.size || OutputId::of(&bytes) != entry.output {
            return None;
        }
        touch_if_stale(&file, &meta);
        if how == Use::Noted {
            self.note_use(&path);
        }
        Some(bytes)
    }

    /// Look up an action and read its checked output.
    pub fn get_bytes(&self, action: &ActionId) -> Option<(Entry, Vec<u8>)> {
        let entry = self.get(action)?;
        let bytes = self.read_output(&entry)?;
        Some((entry, bytes))
    }

    /// Write an entry's output to `dest` atomically (a temporary file beside
    /// it, then a rename), as a new file the caller owns.
    ///
    /// `Ok(false)` if the output is missing or damaged (a miss); `Err` if
    /// `dest` cannot be written.
    ///
    /// The placed file is always a fresh copy. A hard link would let a later
    /// step that edits its output in place (`strip`, `ar` updating an
    /// archive, a user) change the cached bytes for every future build; a
    /// reflink would be safe, but the output is read anyway to check its
    /// hash, and writing the bytes just read costs about the same.
    pub fn place(&self, entry: &Entry, dest: &Path) -> Result<bool> {
        let Some(bytes) = self.read_output(entry) else {
            return Ok(false);
        };
        write_file_atomic(dest, &bytes)?;
        self.write_receipt(dest, &entry.output.to_hex());
        Ok(true)
    }

    /// Where the receipts of placed outputs are (module docs).
    pub fn receipts_dir(&self) -> PathBuf {
        receipts_dir(&self.root)
    }

    /// Record that `dest`, as it is now, holds the output `id` (module
    /// docs). Best effort: without a receipt the file is only hashed.
    pub fn write_receipt(&self, dest: &Path, id: &str) {
        let Ok(meta) = fs::metadata(dest) else { return };
        let Some(stamp) = receipt_stamp(&meta) else {
            return;
        };
        let Some(path) = receipt_path(&self.receipts_dir(), dest) else {
            return;
        };
        let text = format!("{stamp} {id}\n");
        // The directory is made once, by the first receipt that fails.
        if write_file_atomic(&path, text.as_bytes()).is_err() {
            let _ = fs::create_dir_all(self.receipts_dir());
            let _ = write_file_atomic(&path, text.as_bytes());
        }
    }

    /// Store `bytes` as an output (content-addressed); returns its ID.
    pub fn put_output(&self, bytes: &[u8]) -> Result<OutputId> {
        let id = OutputId::of(bytes);
        let path = self.output_path(&id);
        // Already stored and intact? Then only mark it used. Puts follow
        // misses (a compile that took far longer than this read), so checking
        // the existing copy is cheap, and it is how a damaged copy is repaired.
        match fs::metadata(&path) {
            Ok(meta) if meta.len() == bytes.len() as u64 && !damaged(&path, &id) => {
                if let Ok(f) = File::open(&path) {
                    touch_if_stale(&f, &meta);
                }
                // Used by this build as much as if it had been written now:
                // another build's compile may have stored the same bytes.
                self.note_use(&path);
            }
            _ => self.write_in_store(&path, bytes)?,
        }
        if let Some(t) = &self.tier {
            t.put(TierKey::Output(&id), bytes);
        }
        Ok(id)
    }

    /// Record `action` -> `output` (of `size` bytes). Put the output first.
    pub fn put_action(&self, action: &ActionId, output: &OutputId, size: u64) -> Result<()> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos() as u64;
        let line = format_entry(&Entry {
            action: *action,
            output: *output,
            size,
            time_nanos: now,
        });
        self.write_in_store(&self.action_path(action), line.as_bytes())?;
        if let Some(t) = &self.tier {
            t.put(TierKey::Action(action), line.as_bytes());
        }
        Ok(())
    }

    /// Store `bytes` as the output of `action`.
    pub fn put(&self, action: &ActionId, bytes: &[u8]) -> Result<OutputId> {
        let id = self.put_output(bytes)?;
        self.put_action(action, &id, bytes.len() as u64)?;
        Ok(id)
    }

    /// Store the content of the file at `path` as the output of `action`.
    pub fn put_file(&self, action: &ActionId, path: &Path) -> Result<OutputId> {
        let bytes = fs::read(path).with_path("read", path)?;
        self.put(action, &bytes)
    }

    /// Keep the key inputs of `action` (one line each) beside its entry.
    pub fn put_key_inputs(&self, action: &ActionId, record: &str) -> Result<()> {
        self.write_in_store(&self.key_inputs_path(action), record.as_bytes())
    }

    /// The key inputs recorded for `action`, if any.
    pub fn key_inputs(&self, action: &ActionId) -> Option<String> {
        fs::read_to_string(self.key_inputs_path(action)).ok()
    }

    /// Note `path` in the used log, if one is kept. One `O_APPEND` write of
    /// a short line, so concurrent compiles do not interleave.
    fn note_use(&self, path: &Path) {
        let Some(log) = &self.used_log else { return };
        let (Some(name), Some(shard)) =
            (path.file_name(), path.parent().and_then(|p| p.file_name()))
        else {
            return;
        };
        let line = format!("{}/{}\n", shard.to_string_lossy(), name.to_string_lossy());
        let _ = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .and_then(|mut f| f.write_all(line.as_bytes()));
    }

    fn write_in_store(&self, path: &Path, bytes: &[u8]) -> Result<()> {
        self.note_use(path);
        let dir = path.parent().expect("store paths have a parent");
        let name = path
            .file_name()
            .expect("store paths have a name")
            .to_str()
            .expect("ASCII");
        match write_atomic(dir, name, bytes) {
            // The shard directory is made by the first write into it. Do not
            // check whether it is still missing: another process may have
            // made it since our write failed, and the retry must run then
            // too. `create_dir_all` of an existing directory is a no-op.
            Err(e) if e.kind() == crate::error::ErrorKind::Io => {
                fs::create_dir_all(dir).with_path("create", dir)?;
                write_atomic(dir, name, bytes)
            }
            r => r,
        }
    }

    fn scan(&self) -> Result<Vec<FileInfo>> {
        let mut files = Vec::new();
        let top = match fs::read_dir(&self.root) {
            Ok(d) => d,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(files),
            Err(e) => return Err(Error::io("read", &self.root, e)),
        };
        for sub in top.flatten() {
            let sub_name = sub.file_name();
            let Some(sub_name) = sub_name.to_str() else {
                continue;
            };
            if !is_shard_name(sub_name) {
                continue;
            }
            let Ok(dir) = fs::read_dir(sub.path()) else {
                continue;
            };
            for f in dir.flatten() {
                let name = f.file_name().to_string_lossy().into_owned();
                let kind = if name.starts_with(".tmp-") {
                    Kind::Temp
                } else if name.len() == 66 && name.as_bytes()[64] == b'-' {
                    match &name[65..] {
                        "a" => Kind::Action,
                        "d" => Kind::Output,
                        "k" => Kind::KeyInputs,
                        _ => continue,
                    }
                } else {
                    continue;
                };
                let Ok(meta) = f.metadata() else { continue };
                files.push(FileInfo {
                    path: f.path(),
                    name,
                    kind,
                    mtime: meta.modified().unwrap_or(UNIX_EPOCH),
                    size: meta.len(),
                });
            }
        }
        Ok(files)
    }

    /// Count entries, outputs and bytes.
    pub fn usage(&self) -> Result<Usage> {
        let mut u = Usage::default();
        for f in self.scan()? {
            match f.kind {
                Kind::Action => u.entries += 1,
                Kind::Output => u.outputs += 1,
                _ => {}
            }
            u.bytes += f.size;
        }
        Ok(u)
    }

    /// Remove every entry and output; keep the README and CACHEDIR.TAG.
    pub fn clean(&self) -> Result<TrimReport> {
        let mut report = TrimReport::default();
        for f in self.scan()? {
            if remove(&f.path) {
                report.removed_files += 1;
                report.removed_bytes += f.size;
            }
        }
        let _ = fs::remove_file(self.root.join("trim.txt"));
        Ok(report)
    }

    /// Trim now; see the module docs for the policy.
    pub fn trim(&self, policy: &TrimPolicy) -> Result<TrimReport> {
        let now = SystemTime::now();
        let age = |t: SystemTime| now.duration_since(t).unwrap_or_default();
        let mut report = TrimReport::default();
        // Receipts serve the build that placed the files (module docs).
        if let Ok(rd) = fs::read_dir(self.receipts_dir()) {
            for e in rd.flatten() {
                let old = e
                    .metadata()
                    .and_then(|m| m.modified())
                    .is_ok_and(|t| age(t) > TEMP_MAX_AGE);
                if old {
                    let _ = fs::remove_file(e.path());
                }
            }
        }
        let mut kept = Vec::new();
        for f in self.scan()? {
            let expired = match f.kind {
                Kind::Temp => age(f.mtime) > TEMP_MAX_AGE,
                // A key record goes with its entry (below).
                Kind::KeyInputs => false,
                _ => age(f.mtime) > policy.max_age,
            };
            if expired {
                if remove(&f.path) {
                    report.removed_files += 1;
                    report.removed_bytes += f.size;
                }
            } else {
                kept.push(f);
            }
        }
        let mut total: u64 = kept.iter().map(|f| f.size).sum();
        if total > policy.max_size {
            // Least recently used first; ties broken by name for a stable order.
            kept.sort_by(|a, b| a.mtime.cmp(&b.mtime).then_with(|| a.name.cmp(&b.name)));
            // A key record is part of its entry's footprint (often larger
            // than the object file: a line per header): it goes when the
            // entry goes, so the records of removed entries are not counted
            // as kept, which made this loop remove every entry.
            let records: std::collections::HashMap<&str, usize> = kept
                .iter()
                .enumerate()
                .filter(|(_, f)| f.kind == Kind::KeyInputs)
                .map(|(i, f)| (&f.name[..64], i))
                .collect();
            let mut gone = vec![false; kept.len()];
            for (i, f) in kept.iter().enumerate() {
                if total <= policy.max_size {
                    break;
                }
                if !matches!(f.kind, Kind::Action | Kind::Output) || !remove(&f.path) {
                    continue;
                }
                let record = match f.kind {
                    Kind::Action => records.get(&f.name[..64]).copied(),
                    _ => None,
                };
                let record = record.filter(|&k| remove(&kept[k].path));
                for j in std::iter::once(i).chain(record) {
                    report.removed_files += 1;
                    report.removed_bytes += kept[j].size;
                    total -= kept[j].size;
                    gone[j] = true;
                }
            }
            let mut gone = gone.into_iter();
            kept.retain(|_| !gone.next().unwrap());
        }
        // Consistency: every entry left must point at an output that is
        // there, and a key record lives only as long as its entry.
        let live: std::collections::HashSet<&str> = kept
            .iter()
            .filter(|f| f.kind == Kind::Action)
            .filter(|f| {
                ActionId::from_hex(&f.name[..64])
                    .and_then(|id| self.read_entry(&id, Use::None))
                    .is_some_and(|e| self.output_path(&e.output).exists())
            })
            .map(|f| &f.name[..64])
            .collect();
        let mut entries = 0;
        for f in &kept {
            let keep = match f.kind {
                Kind::Action | Kind::KeyInputs => live.contains(&f.name[..64]),
                _ => true,
            };
            if keep {
                entries += (f.kind == Kind::Action) as u64;
                report.bytes += f.size;
            } else if remove(&f.path) {
                report.removed_files += 1;
                report.removed_bytes += f.size;
            }
        }
        report.entries = entries;
        Ok(report)
    }

    /// Trim if the last automatic trim was more than a day ago.
    ///
    /// Returns `Ok(None)` when it was not time yet.
    pub fn maybe_trim(&self, policy: &TrimPolicy) -> Result<Option<TrimReport>> {
        let stamp = self.root.join("trim.txt");
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        if let Ok(text) = fs::read_to_string(&stamp) {
            if let Ok(last) = text.trim().parse::<u64>() {
                if now.saturating_sub(last) < TRIM_INTERVAL.as_secs() {
                    return Ok(None);
                }
            }
        }
        write_atomic(&self.root, "trim.txt", format!("{now}\n").as_bytes())?;
        self.trim(policy).map(Some)
    }
}

/// Where `cargo gocache` keeps the list of files the last build used.
pub fn last_used_log(store: &Store) -> PathBuf {
    store.root().join("stats").join("last-used.log")
}

fn is_shard_name(s: &str) -> bool {
    s.len() == 2
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn damaged(path: &Path, id: &OutputId) -> bool {
    fs::read(path).map_or(true, |b| OutputId::of(&b) != *id)
}

fn remove(path: &Path) -> bool {
    fs::remove_file(path).is_ok()
}

/// Read until `buf` is full or the file ends; the number of bytes read.
pub(crate) fn read_full(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

fn format_entry(e: &Entry) -> String {
    let line = format!(
        "v1 {} {} {:>20} {:>20}\n",
        e.action, e.output, e.size, e.time_nanos
    );
    debug_assert_eq!(line.len(), ENTRY_SIZE);
    line
}

fn parse_entry(buf: &[u8]) -> Option<Entry> {
    let s = std::str::from_utf8(buf).ok()?;
    let s = s.strip_prefix("v1 ")?.strip_suffix('\n')?;
    let (action, rest) = s.split_at_checked(64)?;
    let rest = rest.strip_prefix(' ')?;
    let (output, rest) = rest.split_at_checked(64)?;
    let rest = rest.strip_prefix(' ')?;
    let (size, rest) = rest.split_at_checked(20)?;
    let time = rest.strip_prefix(' ')?;
    if time.len() != 20 {
        return None;
    }
    Some(Entry {
        action: ActionId::from_hex(action)?,
        output: OutputId::from_hex(output)?,
        size: parse_padded(size)?,
        time_nanos: parse_padded(time)?,
    })
}

fn parse_padded(s: &str) -> Option<u64> {
    let digits = s.trim_start_matches(' ');
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn touch_if_stale(file: &File, meta: &fs::Metadata) {
    let now = SystemTime::now();
    let Ok(mtime) = meta.modified() else { return };
    if now.duration_since(mtime).is_ok_and(|d| d > MTIME_INTERVAL) {
        // Best effort: a read-only store still serves hits.
        let _ = file.set_modified(now);
    }
}

/// The receipts of placed outputs of the store at `root` (module docs).
pub fn receipts_dir(root: &Path) -> PathBuf {
    root.join("receipts")
}

/// The stamp a receipt records: device, inode, size, mtime and ctime.
#[cfg(unix)]
fn receipt_stamp(meta: &fs::Metadata) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    Some(format!(
        "{} {} {} {}.{:09} {}.{:09}",
        meta.dev(),
        meta.ino(),
        meta.size(),
        meta.mtime(),
        meta.mtime_nsec(),
        meta.ctime(),
        meta.ctime_nsec()
    ))
}

#[cfg(not(unix))]
fn receipt_stamp(_meta: &fs::Metadata) -> Option<String> {
    None
}

/// The receipt file of `dest` (named by its absolute path's SHA-256).
fn receipt_path(dir: &Path, dest: &Path) -> Option<PathBuf> {
    let abs = std::path::absolute(dest).ok()?;
    let h = crate::key::hash::hash_bytes(abs.as_os_str().as_encoded_bytes());
    Some(dir.join(crate::key::hash::hex(&h)))
}

/// The content hash (hex SHA-256) of `path`, whose metadata is `meta`, if
/// a receipt in `dir` vouches for it: written when the file was placed,
/// with the same stamp (module docs).
pub fn read_receipt(dir: &Path, path: &Path, meta: &fs::Metadata) -> Option<String> {
    let stamp = receipt_stamp(meta)?;
    let text = fs::read_to_string(receipt_path(dir, path)?).ok()?;
    let (recorded, id) = text.trim_end().rsplit_once(' ')?;
    (recorded == stamp && id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::hash::KeyHasher;
    use std::sync::atomic::{AtomicU64, Ordering};

    fn action(s: &str) -> ActionId {
        let mut h = KeyHasher::new("test");
        h.line(s);
        h.id()
    }

    #[test]
    fn entry_format_round_trips() {
        let e = Entry {
            action: action("a"),
            output: OutputId::of(b"x"),
            size: 12345,
            time_nanos: 99,
        };
        let line = format_entry(&e);
        assert_eq!(line.len(), ENTRY_SIZE);
        assert_eq!(parse_entry(line.as_bytes()), Some(e));
        assert_eq!(parse_entry(&line.as_bytes()[..ENTRY_SIZE - 1]), None);
        let mut bad = line.clone().into_bytes();
        bad[100] = b'z';
        assert_eq!(parse_entry(&bad), None);
    }

    #[test]
    fn put_get_place() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("c")).unwrap();
        assert!(store.root().join("CACHEDIR.TAG").is_file());
        let a = action("one");
        assert_eq!(store.get(&a), None);
        let id = store.put(&a, b"hello").unwrap();
        let (e, bytes) = store.get_bytes(&a).unwrap();
        assert_eq!((e.output, bytes.as_slice(), e.size), (id, &b"hello"[..], 5));
        let dest = dir.path().join("out.o");
        assert!(store.place(&e, &dest).unwrap());
        assert_eq!(fs::read(&dest).unwrap(), b"hello");
        // The placed file is not the stored one.
        fs::write(&dest, b"edited").unwrap();
        assert_eq!(store.get_bytes(&a).unwrap().1, b"hello");
    }

    #[test]
    fn a_receipt_vouches_for_a_placed_file_until_it_changes() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("c")).unwrap();
        let a = action("one");
        let id = store.put(&a, b"hello").unwrap();
        let e = store.get(&a).unwrap();
        let dest = dir.path().join("out.rlib");
        assert!(store.place(&e, &dest).unwrap());
        let receipt = |p: &Path| read_receipt(&store.receipts_dir(), p, &fs::metadata(p).unwrap());
        assert_eq!(receipt(&dest), Some(id.to_hex()));
        // Same size, new content, in a later clock tick (the window the
        // module docs accept: the same tick right after the placement):
        // another stamp.
        std::thread::sleep(std::time::Duration::from_millis(25));
        fs::write(&dest, b"jello").unwrap();
        assert_eq!(receipt(&dest), None);
        // Another file at another path has no receipt.
        let other = dir.path().join("other.rlib");
        fs::write(&other, b"hello").unwrap();
        assert_eq!(receipt(&other), None);
        // A rename keeps the content but not the stamp: no receipt until
        // the mover writes one.
        assert!(store.place(&e, &dest).unwrap());
        let moved = dir.path().join("moved.rlib");
        fs::rename(&dest, &moved).unwrap();
        assert_eq!(receipt(&moved), None);
        store.write_receipt(&moved, &id.to_hex());
        assert_eq!(receipt(&moved), Some(id.to_hex()));
    }

    /// A tier in memory that can be told to lie.
    #[derive(Default)]
    struct MemTier {
        map: std::sync::Mutex<std::collections::HashMap<String, Vec<u8>>>,
        rejected: AtomicU64,
    }

    impl Tier for MemTier {
        fn get(&self, key: TierKey<'_>) -> Option<Vec<u8>> {
            self.map.lock().unwrap().get(&key.path()).cloned()
        }
        fn put(&self, key: TierKey<'_>, bytes: &[u8]) {
            self.map.lock().unwrap().insert(key.path(), bytes.to_vec());
        }
        fn rejected(&self, _: TierKey<'_>) {
            self.rejected.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn second_tier_fills_the_local_store_and_tampering_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let tier = Arc::new(MemTier::default());
        let a = Store::open(dir.path().join("a"))
            .unwrap()
            .with_tier(tier.clone());
        let b = Store::open(dir.path().join("b"))
            .unwrap()
            .with_tier(tier.clone());
        let act = action("remote");
        let id = a.put(&act, b"shared object").unwrap();
        assert_eq!(b.get_bytes(&act).unwrap().1, b"shared object");
        // Now local in b: served without the tier.
        let b_alone = Store::open(dir.path().join("b")).unwrap();
        assert_eq!(b_alone.get_bytes(&act).unwrap().1, b"shared object");
        // Tampered in the tier: rejected, never used.
        let c = Store::open(dir.path().join("c"))
            .unwrap()
            .with_tier(tier.clone());
        tier.map
            .lock()
            .unwrap()
            .insert(TierKey::Output(&id).path(), b"shared objecX".to_vec());
        assert!(c.get_bytes(&act).is_none());
        assert_eq!(tier.rejected.load(Ordering::Relaxed), 1);
        // A garbage entry too.
        tier.map
            .lock()
            .unwrap()
            .insert(TierKey::Action(&act).path(), b"v1 nonsense".to_vec());
        let d = Store::open(dir.path().join("d"))
            .unwrap()
            .with_tier(tier.clone());
        assert!(d.get(&act).is_none());
        assert_eq!(tier.rejected.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn damaged_output_is_a_miss_and_put_repairs_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let a = action("x");
        let id = store.put(&a, b"abcdef").unwrap();
        fs::write(store.output_path(&id), b"abcdeX").unwrap();
        assert!(store.get_bytes(&a).is_none());
        store.put(&a, b"abcdef").unwrap();
        assert_eq!(store.get_bytes(&a).unwrap().1, b"abcdef");
    }
}
