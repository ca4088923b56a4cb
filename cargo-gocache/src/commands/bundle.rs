//! CI bundles: `export`/`import` move the store as one compressed bundle, so
//! a CI cache is one upload and one download rather than one request per
//! object (GitHub's cache service rate-limits per request). `cargo gocache
//! env` (see `env.rs`) names the store and the CI cache key.
//!
//! # Bundle format
//!
//! A tar stream compressed with zstd (`tar --zstd -tf FILE` lists it), one
//! member per store file, named as in the store (`ab/<64 hex>-a`), sorted
//! by name, with the file's mtime kept (so the importing store's trim still
//! sees which entries were used last). Import trusts nothing: only names of
//! the store's layout are accepted (no paths of the bundle's choosing are
//! ever written), outputs must hash to their names, entries must parse, and
//! each file is written atomically, as the store itself writes.

use std::fs::{self, File};
use std::io::{BufReader, BufWriter, Read};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::{OutputId, Store};
use anyhow::{Context, Result};

/// Is `name` (relative, `/`-separated) a file of the store's layout? Returns
/// its kind letter.
fn layout_name(name: &str) -> Option<char> {
    let (shard, file) = name.split_once('/')?;
    if shard.len() != 2
        || file.len() != 66
        || !file.starts_with(shard)
        || file.as_bytes()[64] != b'-'
    {
        return None;
    }
    if !file[..64]
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    match &file[65..] {
        "a" => Some('a'),
        "d" => Some('d'),
        "k" => Some('k'),
        _ => None,
    }
}

/// Counts of an export or import.
#[derive(Debug, Default)]
pub struct BundleReport {
    pub files: u64,
    pub bytes: u64,
    pub skipped: u64,
}

/// Write the store's files (all, or only `only` names) to `out` as a bundle.
pub fn export(
    store: &Store,
    out: &Path,
    only: Option<&std::collections::HashSet<String>>,
) -> Result<BundleReport> {
    let mut names = Vec::new();
    for shard in fs::read_dir(store.root())
        .with_context(|| format!("failed to read {}", store.root().display()))?
    {
        let shard = shard?;
        let sname = shard.file_name().to_string_lossy().into_owned();
        if sname.len() != 2 || !shard.path().is_dir() {
            continue;
        }
        for f in fs::read_dir(shard.path())? {
            let f = f?;
            let name = format!("{sname}/{}", f.file_name().to_string_lossy());
            if layout_name(&name).is_some() && only.is_none_or(|o| o.contains(&name)) {
                names.push(name);
            }
        }
    }
    names.sort();
    let tmp = out.with_extension("tmp-gocache");
    let file = File::create(&tmp).with_context(|| format!("failed to create {}", tmp.display()))?;
    let enc = zstd::stream::Encoder::new(BufWriter::new(file), 3)?;
    let mut tar = tar::Builder::new(enc);
    tar.mode(tar::HeaderMode::Deterministic);
    let mut report = BundleReport::default();
    for name in &names {
        let path = store.root().join(name);
        // Entries can vanish under a concurrent trim; skip them.
        let Ok(bytes) = fs::read(&path) else { continue };
        let mtime = fs::metadata(&path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs());
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(mtime);
        h.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut h, name, bytes.as_slice())?;
        report.files += 1;
        report.bytes += bytes.len() as u64;
    }
    let enc = tar.into_inner()?;
    enc.finish()?
        .into_inner()
        .map_err(|e| e.into_error())?
        .sync_all()?;
    fs::rename(&tmp, out).with_context(|| format!("failed to write {}", out.display()))?;
    Ok(report)
}

/// Read a bundle into the store; see the module docs for what is checked.
pub fn import(store: &Store, input: &Path) -> Result<BundleReport> {
    let file = File::open(input).with_context(|| format!("failed to open {}", input.display()))?;
    let dec = zstd::stream::Decoder::new(BufReader::new(file))
        .with_context(|| format!("{} is not a gocache bundle", input.display()))?;
    let mut tar = tar::Archive::new(dec);
    let mut report = BundleReport::default();
    let entries = tar
        .entries()
        .with_context(|| format!("{} is not a gocache bundle", input.display()))?;
    for entry in entries {
        let mut entry = entry
            .with_context(|| format!("{} is damaged or not a gocache bundle", input.display()))?;
        let name = entry.path()?.to_string_lossy().into_owned();
        let Some(kind) = layout_name(&name) else {
            report.skipped += 1;
            continue;
        };
        let mtime = entry.header().mtime().unwrap_or(0);
        let mut bytes = Vec::new();
        entry
            .read_to_end(&mut bytes)
            .with_context(|| format!("{}: damaged member {name}", input.display()))?;
        let hexname = &name[3..67];
        let ok = match kind {
            'd' => OutputId::of(&bytes).to_hex() == hexname,
            'a' => {
                bytes.len() == crate::store::ENTRY_SIZE
                    && bytes.starts_with(b"v1 ")
                    && bytes[3..67] == *hexname.as_bytes()
            }
            _ => true,
        };
        if !ok {
            report.skipped += 1;
            continue;
        }
        let dest: PathBuf = store.root().join(&name);
        fs::create_dir_all(dest.parent().unwrap())?;
        // Replaced the way the store replaces its files: readers never see none.
        crate::store::write_atomic(dest.parent().expect("in a shard"), &name[3..], &bytes)?;
        if let Ok(f) = File::open(&dest) {
            let _ = f.set_modified(
                UNIX_EPOCH
                    + std::time::Duration::from_secs(mtime).min(
                        SystemTime::now()
                            .duration_since(UNIX_EPOCH)
                            .unwrap_or_default(),
                    ),
            );
        }
        report.files += 1;
        report.bytes += bytes.len() as u64;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_names() {
        let h = "ab".to_string() + &"0".repeat(62);
        assert_eq!(layout_name(&format!("ab/{h}-a")), Some('a'));
        assert_eq!(layout_name(&format!("ac/{h}-a")), None);
        assert_eq!(layout_name("../etc/passwd"), None);
        assert_eq!(layout_name(&format!("ab/{h}-x")), None);
    }

    #[test]
    fn round_trip_and_tamper() {
        let d = tempfile::tempdir().unwrap();
        let a = Store::open(d.path().join("a")).unwrap();
        let action = crate::ActionId([9; 32]);
        a.put(&action, b"object bytes").unwrap();
        a.put_key_inputs(&action, "line\n").unwrap();
        let bundle = d.path().join("b.tar.zst");
        let r = export(&a, &bundle, None).unwrap();
        assert_eq!(r.files, 3);
        let b = Store::open(d.path().join("b")).unwrap();
        let r = import(&b, &bundle).unwrap();
        assert_eq!((r.files, r.skipped), (3, 0));
        assert_eq!(b.get_bytes(&action).unwrap().1, b"object bytes");
        // Not a bundle:
        fs::write(&bundle, b"garbage").unwrap();
        assert!(import(&b, &bundle).is_err());
    }
}
