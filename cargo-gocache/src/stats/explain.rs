//! What `explain` needs recorded at a miss: the object each key record
//! names, and each object's short history of actions. (Reading it back and
//! comparing key records is `cargo gocache explain`'s, in the binary.)
//!
//! Every cached action keeps its key's lines beside it (the `-k` record,
//! see [`crate::store`]), headed by a comment naming the *object* it
//! produces (`# object compile <source> -> <output>`, mapped names, so the
//! same object in another checkout has the same name). Each miss also
//! appends its action to that object's short history, kept at
//! `<root>/objects/<xx>/<hash of the object name>` (newest last, at most
//! [`HISTORY`] actions).
//!
//! To explain a miss, `cargo gocache explain` reads its record, takes the earlier
//! actions of the same object whose records are still in the store, and
//! picks the nearest one (the fewest differing inputs). The difference is
//! a list of changes, each with the old and the new value, in the
//! spirit of cargo's `DirtyReason`: `mem.h: content changed`,
//! `flag -DNDEBUG added`, `compiler gcc 12.2.0 -> 13.1.0`.

use std::fs;
use std::path::PathBuf;

use crate::key::hash::{hash_bytes, hex, ActionId};
use crate::store::{write_atomic, Store};

/// How many earlier actions of one object are remembered.
pub const HISTORY: usize = 16;

/// The comment that opens a key record and names its object.
pub const OBJECT_PREFIX: &str = "# object ";

/// The name of a compile's object for the history: mapped source and output.
pub fn compile_object(mapped_source: &str, mapped_output: &str) -> String {
    format!("compile {mapped_source} -> {mapped_output}")
}

/// The name of a rustc compile's object for the history: the package, the
/// crate and its kind, and the mapped root source. The output's file name
/// is left out: it carries cargo's `-C metadata` hash, which changes with
/// the very inputs `explain` is asked to tell apart (a feature, a
/// dependency), and would make every such change a "first build".
pub fn rust_object(package: &str, crate_desc: &str, mapped_source: &str) -> String {
    format!("rustc {package} {crate_desc} {mapped_source}")
}

/// The name of a helper's archive for the history.
pub fn archive_object(mapped_out_dir: &str, lib: &str) -> String {
    format!("archive {mapped_out_dir}/{lib}")
}

fn history_path(store: &Store, object: &str) -> PathBuf {
    let h = hex(&hash_bytes(object.as_bytes()));
    store.root().join("objects").join(&h[..2]).join(h)
}

/// Append `action` to `object`'s history (best effort: losing a line to a
/// concurrent writer only makes a later explanation less precise).
pub fn note_miss(store: &Store, object: &str, action: &ActionId) {
    let path = history_path(store, object);
    let mut list = history(store, object);
    list.retain(|a| a != action);
    list.push(*action);
    if list.len() > HISTORY {
        list.drain(..list.len() - HISTORY);
    }
    let text: String = list.iter().map(|a| format!("{a}\n")).collect();
    let dir = path.parent().expect("has a parent");
    let _ = fs::create_dir_all(dir);
    let _ = write_atomic(
        dir,
        &path.file_name().unwrap().to_string_lossy(),
        text.as_bytes(),
    );
}

/// The actions recorded for `object`, oldest first.
pub fn history(store: &Store, object: &str) -> Vec<ActionId> {
    fs::read_to_string(history_path(store, object))
        .map(|t| t.lines().filter_map(ActionId::from_hex).collect())
        .unwrap_or_default()
}

/// The object a key record names (its first line), if any.
pub fn record_object(record: &str) -> Option<&str> {
    record.lines().next()?.strip_prefix(OBJECT_PREFIX)
}

/// Where the explanation of a build-script run's miss is kept (the lines
/// `wrapper::buildscript` wrote: the observed inputs or the environment
/// lines that changed), by the final key of the run it stored.
pub fn build_script_key(final_id: &ActionId) -> ActionId {
    let mut h = crate::KeyHasher::new("build-script-explain");
    h.line("gocache-build-script-explain v1");
    h.line(format!("final {final_id}"));
    h.id()
}
