//! What a miss read of each header, remembered across compiles by the
//! header's stamp.
//!
//! A miss hashes and scans every file the compile read
//! ([`FileFacts::of`]: the content hash, the include directives, the time
//! macros, the `-D` names it spells). An openssl compile reads about 150
//! headers, 2 MB, and every one of its thousand compiles reads mostly the
//! same ones: about 15 ms a miss, a third of the wrapper's time on a cold
//! build. Inside an observed build script the observing process remembers
//! them for the whole run (`crate::observe::delegate`); a wrapper outside
//! one lives for one compile, so it keeps them here, in the store, as
//! ccache's inode cache keeps hashes and [`crate::wrapper`]'s file memo
//! keeps a hit's:
//!
//! * keyed by the file's path and the `-D` names asked about (the names
//!   found depend on them);
//! * holding the file's *stamp* (device, inode, size, mtime and ctime in
//!   nanoseconds) and its facts. A lookup `stat`s the file: same stamp,
//!   same content, same facts;
//! * written only for a file whose mtime and ctime are older than
//!   [`crate::fsutil::RACY`] when read, and whose stamp did not change
//!   while it was read (the racy-stamp rule, as the file memo's module docs
//!   explain: a later change sets a ctime that cannot match again, and
//!   `touch` cannot set a ctime back);
//! * only for headers of [`MIN_SIZE`] bytes or more (a smaller one costs
//!   less to read than its memo), never the compile's source (read once).
//!
//! Kept in the local store only (stamps are of this machine's files, as
//! the file memos are), read without noting a use: a compile reads a
//! hundred of them. A damaged, foreign or missing memo only costs the
//! read it would have saved.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::OnceLock;

use crate::direct::scan::{ns_since_epoch, FileFacts};
use crate::fsutil::Stamp;
use crate::key::hash::{hash_bytes, ActionId};
use crate::store::Store;

/// The salt of every memo's key, and the first line of its bytes.
const HEADER: &[u8] = b"gocache-facts v1\n";

/// Headers smaller than this are read, not looked up: a memo costs about
/// ten system calls, a read of 4 KB about as much as the hash and scan.
pub const MIN_SIZE: u64 = 4096;

/// The store the memo lives in, for this process ([`enable`]).
static STORE: OnceLock<Store> = OnceLock::new();

/// Remember facts in `store` for the rest of this process: called by the
/// C wrapper, once it has its store. Off in every other process (the
/// observing process remembers its own, the tests ask [`facts_in`]).
pub fn enable(store: &Store) {
    let _ = STORE.set(store.without_tier());
}

/// [`FileFacts::of`] for the headers of a compile, `files[0]` being its
/// source: through the memo where one is enabled.
pub fn facts_many(files: &[std::path::PathBuf], candidates: &[String]) -> Vec<FileFacts> {
    let now_ns = ns_since_epoch(std::time::SystemTime::now());
    files
        .iter()
        .enumerate()
        .map(|(i, f)| match STORE.get() {
            Some(store) if i > 0 => facts_in(store, f, candidates, now_ns).0,
            _ => FileFacts::of(f, candidates),
        })
        .collect()
}

/// Where the memo of `path` under `candidates` is kept.
fn key(path: &Path, candidates: &[String]) -> ActionId {
    let mut b = HEADER.to_vec();
    b.extend_from_slice(path.as_os_str().as_bytes());
    for c in candidates {
        b.push(0);
        b.extend_from_slice(c.as_bytes());
    }
    ActionId(hash_bytes(&b))
}

/// How [`facts_in`] came by its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// From the memo.
    Memo,
    /// Read, and remembered.
    Learned,
    /// Read, not remembered (small, unsettled, changed while read, not a
    /// regular file, or the store refused the write).
    Read,
}

/// The facts of `path` (as [`FileFacts::of`] gives them), from `store`'s
/// memo when the file's stamp is the one remembered; else read, and
/// remembered if the file is settled at `now_ns`.
pub fn facts_in(
    store: &Store,
    path: &Path,
    candidates: &[String],
    now_ns: i128,
) -> (FileFacts, Source) {
    let read = || (FileFacts::of(path, candidates), Source::Read);
    let Some(before) = Stamp::of(path).filter(|s| s.size >= MIN_SIZE) else {
        return read();
    };
    let id = key(path, candidates);
    if let Some(bytes) = store.get_memo(&id) {
        if let Some((stamp, facts)) = decode(&bytes) {
            if stamp == before {
                return (facts, Source::Memo);
            }
        }
    }
    let facts = FileFacts::of(path, candidates);
    let cutoff = now_ns - crate::fsutil::RACY.as_nanos() as i128;
    let settled = before.mtime_ns < cutoff && before.ctime_ns < cutoff;
    // The stamp read after must be the one read before: the facts are then
    // of that version (a change in between moves the ctime).
    if settled
        && facts.state == crate::direct::scan::FactState::File
        && Stamp::of(path) == Some(before)
        && store.put(&id, &encode(before, &facts)).is_ok()
    {
        return (facts, Source::Learned);
    }
    (facts, Source::Read)
}

fn encode(stamp: Stamp, facts: &FileFacts) -> Vec<u8> {
    let mut out = HEADER.to_vec();
    let Stamp {
        dev,
        ino,
        size,
        mtime_ns,
        ctime_ns,
    } = stamp;
    out.extend_from_slice(format!("{dev} {ino} {size} {mtime_ns} {ctime_ns}\n").as_bytes());
    let mut fields = Vec::new();
    facts.encode(&mut fields);
    for f in fields {
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(&f);
    }
    out
}

fn decode(bytes: &[u8]) -> Option<(Stamp, FileFacts)> {
    let rest = bytes.strip_prefix(HEADER)?;
    let nl = memchr::memchr(b'\n', rest)?;
    let line = std::str::from_utf8(&rest[..nl]).ok()?;
    let mut it = line.split(' ');
    let stamp = Stamp {
        dev: it.next()?.parse().ok()?,
        ino: it.next()?.parse().ok()?,
        size: it.next()?.parse().ok()?,
        mtime_ns: it.next()?.parse().ok()?,
        ctime_ns: it.next()?.parse().ok()?,
    };
    if it.next().is_some() {
        return None;
    }
    let mut rest = &rest[nl + 1..];
    let mut fields = Vec::new();
    while !rest.is_empty() {
        let len = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?) as usize;
        fields.push(rest.get(4..4 + len)?.to_vec());
        rest = &rest[4 + len..];
    }
    let mut fields = fields.into_iter();
    let facts = FileFacts::decode(&mut fields)?;
    fields.next().is_none().then_some((stamp, facts))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    /// Header text of about `size` bytes: directives of every kind the
    /// scan reports, names, and the time macros now and then.
    fn header(next: &mut impl FnMut(usize) -> usize, size: usize) -> Vec<u8> {
        let pieces = [
            "#include \"a.h\"\n",
            "#include <b/c.h>\n",
            "#include_next <d.h>\n",
            "#define FOO 1\n",
            "int use_BAR = BAR;\n",
            "/* #include \"in-comment.h\" */\n",
            "const char *t = __TIME__;\n",
            "#if __has_include(<e.h>)\n#endif\n",
            "#line 7 \"/abs/gen.c\"\n",
            "static int filler_function_with_a_long_name(void) { return 42; }\n",
            "#pragma GCC system_header\n",
        ];
        let mut out = Vec::new();
        while out.len() < size {
            out.extend_from_slice(pieces[next(pieces.len())].as_bytes());
        }
        out
    }

    fn now() -> i128 {
        ns_since_epoch(std::time::SystemTime::now())
    }

    /// Random edits (same size or not, the mtime put back, the file
    /// replaced by a rename, removed, made a directory), each followed by a
    /// memoised read that must equal a fresh one. "Now" is put ten seconds
    /// ahead so that the files written here count as settled: the memo is
    /// then used as much as it can be, and each edit must still be seen by
    /// its stamp. Each edit waits for the file system's clock to tick, as
    /// the racy-stamp rule has it wait two seconds for real: within a tick
    /// a same-size edit keeps the stamp. The racy window itself is the next
    /// test's.
    #[test]
    fn remembered_facts_equal_a_fresh_read_after_any_edit() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("store")).unwrap();
        let names = ["FOO".to_string(), "BAR".to_string(), "BAZ".to_string()];
        let mut next = crate::testing::picker(16);
        let (mut memo_hits, mut edits) = (0, 0);
        for case in 0..24 {
            let path = dir.path().join(format!("h{case}.h"));
            let size = [100, 4096, 9000, 30000][next(4)];
            fs::write(&path, header(&mut next, size)).unwrap();
            // The names asked about are part of the memo's key: the same
            // ones per file here, so that the memo can answer.
            let candidates = &names[..next(4)];
            for _ in 0..8 {
                let (got, source) = facts_in(&store, &path, candidates, now() + 10_000_000_000);
                assert_eq!(got, FileFacts::of(&path, candidates), "{}", path.display());
                if source == Source::Memo {
                    memo_hits += 1;
                }
                // An edit, or none, a clock tick later (coarse file times
                // tick every few milliseconds).
                std::thread::sleep(std::time::Duration::from_millis(12));
                let old = fs::read(&path).unwrap_or_default();
                let mtime = fs::metadata(&path).and_then(|m| m.modified()).ok();
                let is_file = path.is_file();
                match next(9) {
                    0 if is_file => {
                        // The same size, one byte changed, the mtime put back.
                        let mut b = old.clone();
                        if let Some(x) = b.get_mut(next(old.len().max(1))) {
                            *x = if *x == b'A' { b'B' } else { b'A' };
                        }
                        fs::write(&path, &b).unwrap();
                        if let Some(t) = mtime {
                            fs::File::options()
                                .write(true)
                                .open(&path)
                                .unwrap()
                                .set_modified(t)
                                .unwrap();
                        }
                        edits += 1;
                    }
                    1 if is_file => {
                        fs::write(&path, header(&mut next, size)).unwrap();
                        edits += 1;
                    }
                    2 if is_file => {
                        // Replaced by a rename: another inode, maybe the same bytes.
                        let tmp = dir.path().join("tmp");
                        fs::write(
                            &tmp,
                            if next(2) == 0 {
                                old
                            } else {
                                header(&mut next, size)
                            },
                        )
                        .unwrap();
                        fs::rename(&tmp, &path).unwrap();
                        edits += 1;
                    }
                    3 => {
                        let _ = fs::remove_file(&path);
                        let _ = fs::remove_dir(&path);
                        if next(2) == 0 {
                            fs::create_dir(&path).unwrap();
                        }
                        edits += 1;
                    }
                    4 | 5 if !is_file => {
                        let _ = fs::remove_dir(&path);
                        fs::write(&path, header(&mut next, size)).unwrap();
                    }
                    _ => {}
                }
            }
        }
        // Teeth: the memo answered often, and edits happened between.
        assert!(memo_hits > 20, "memo hits: {memo_hits}");
        assert!(edits > 40, "edits: {edits}");
    }

    /// A file changed within the racy window is read, never remembered,
    /// and a damaged memo is read past.
    #[test]
    fn young_files_and_damaged_memos_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("store")).unwrap();
        let path = dir.path().join("young.h");
        fs::write(&path, header(&mut crate::testing::picker(7), 8000)).unwrap();
        let (facts, source) = facts_in(&store, &path, &[], now());
        assert_eq!(source, Source::Read);
        assert_eq!(facts, FileFacts::of(&path, &[]));
        assert!(store.get_memo(&key(&path, &[])).is_none());
        // Settled: learned, then answered from the memo.
        let later = now() + 10_000_000_000;
        assert_eq!(facts_in(&store, &path, &[], later).1, Source::Learned);
        assert_eq!(facts_in(&store, &path, &[], later).1, Source::Memo);
        // Damaged on disk (any byte of its output, or its entry cut
        // short): the store's checks refuse it, and it is read and learned
        // again.
        let id = key(&path, &[]);
        let entry = store.get(&id).unwrap();
        let output = store.output_path(&entry.output);
        let good = fs::read(&output).unwrap();
        for at in [0, HEADER.len() + 3, good.len() / 2, good.len() - 1] {
            let mut bad = good.clone();
            bad[at] ^= 0x55;
            fs::write(&output, &bad).unwrap();
            let (facts, source) = facts_in(&store, &path, &[], later);
            assert_eq!(facts, FileFacts::of(&path, &[]));
            assert_eq!(source, Source::Learned, "damage at {at} went unseen");
        }
        let action = store.action_path(&id);
        let line = fs::read(&action).unwrap();
        fs::write(&action, &line[..line.len() / 2]).unwrap();
        assert_eq!(facts_in(&store, &path, &[], later).1, Source::Learned);
        // Well stored but not a memo, or one cut short: read past.
        for bytes in [&b"not a memo"[..], &good[..good.len() - 2], HEADER] {
            store.put(&id, bytes).unwrap();
            assert_eq!(facts_in(&store, &path, &[], later).1, Source::Learned);
        }
        assert_eq!(facts_in(&store, &path, &[], later).1, Source::Memo);
    }
}
