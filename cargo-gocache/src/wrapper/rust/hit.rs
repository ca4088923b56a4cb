//! The cached path: the lookup, a hit (outputs placed, output replayed),
//! and `--verify`.

use super::*;

pub(super) fn cached(
    store: &Store,
    rustc: &Path,
    args: &[OsString],
    c: &RustCompile,
    ran: &std::cell::Cell<Option<i32>>,
) -> Result<Option<i32>> {
    if crate::env::debug("panic") {
        panic!("injected by CARGO_GOCACHE_DEBUG=panic");
    }
    // A hit replaces outputs by rename: right for regular files only.
    if fs::metadata(&c.out_dir)
        .map(|m| !m.is_dir())
        .unwrap_or(true)
    {
        stats::record(
            store,
            &Event::rust(Outcome::Uncacheable("no-out-dir".into()), c.describe()),
        );
        return Ok(None);
    }
    let identity = identify(store, rustc, c.target.as_deref())?;
    if c.links() && !link_observable(c, &identity.host) {
        stats::record(
            store,
            &Event::rust(
                Outcome::Uncacheable("link-inputs-unobserved".into()),
                c.describe(),
            ),
        );
        return Ok(None);
    }
    let reloc = relocation(c);
    let memo_key = filememo::memo_key(&c.cwd, rustc, args);
    let mut memo = FileMemo::load(store, &memo_key);
    let pre = {
        let mut hashing = Hashing { memo: &mut memo };
        match pre_key(store, c, &identity, &reloc, &mut hashing) {
            Ok(pre) => pre,
            Err(e) if e.to_string().contains("not found in a -L directory") => {
                stats::record(
                    store,
                    &Event::rust(
                        Outcome::Uncacheable("native-lib-not-found".into()),
                        c.describe(),
                    ),
                );
                return Ok(None);
            }
            Err(e) if e.to_string().starts_with(NATIVE_UNRESOLVED) => {
                stats::record(
                    store,
                    &Event::rust(Outcome::Uncacheable(NATIVE_UNRESOLVED.into()), c.describe()),
                );
                return Ok(None);
            }
            Err(e) => return Err(e),
        }
    };
    let pre_id = pre.id();
    let manifest = load_manifest(store, &pre_id);
    let mut found = None;
    for obs in &manifest {
        if obs.matches(store, &reloc.map, &mut memo) {
            let final_id = obs.key(&pre_id).id();
            if let Some(entry) = store.get(&final_id) {
                found = Some((final_id, entry));
                break;
            }
        }
    }
    let _ = memo.save_if_changed(store, &memo_key);
    if let Some((final_id, entry)) = found {
        if let Some(code) = hit(store, rustc, args, c, &reloc, final_id, &entry)? {
            return Ok(Some(code));
        }
    }
    let sysroot = identity.sysroot();
    miss(
        store,
        rustc,
        args,
        c,
        &reloc,
        &pre,
        pre_id,
        sysroot.as_deref(),
        ran,
    )
    .map(Some)
}

pub(super) fn hit(
    store: &Store,
    rustc: &Path,
    args: &[OsString],
    c: &RustCompile,
    reloc: &Relocation,
    final_id: ActionId,
    entry: &Entry,
) -> Result<Option<i32>> {
    let Some(record) = store
        .read_output(entry)
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|t| Record::parse(&t))
    else {
        return Ok(None);
    };
    let read = |id: OutputId, size: u64| match size {
        0 => Some(Vec::new()),
        _ => store.read_output(&entry_of(final_id, id, size)),
    };
    let (Some(stdout), Some(stderr), Some(depinfo)) = (
        read(record.stdout.0, record.stdout.1),
        read(record.stderr.0, record.stderr.1),
        read(record.depinfo.0, record.depinfo.1),
    ) else {
        return Ok(None);
    };
    let (Ok(stderr), Ok(depinfo)) = (String::from_utf8(stderr), String::from_utf8(depinfo)) else {
        return Ok(None);
    };
    // Read every output before placing any: a damaged one is a miss with
    // nothing half placed.
    let mut outs = Vec::with_capacity(record.outs.len());
    for o in &record.outs {
        let Some(bytes) = read(o.id, o.size) else {
            return Ok(None);
        };
        outs.push((o, bytes));
    }
    for (o, bytes) in &outs {
        let dest = c.out_dir.join(&o.name);
        place_bytes(&dest, bytes, o.mode)?;
        // Dependents and links hash this file next (crate::store: receipts).
        store.write_receipt(&dest, &o.id.to_hex());
    }
    // The dep-info last: cargo reads it once rustc (we) exit.
    let dep_text = reloc.map.unmap(&depinfo);
    place_bytes(
        &c.out_dir.join(&record.depinfo.2),
        dep_text.as_bytes(),
        0o644,
    )?;
    if verify_enabled() {
        verify(store, rustc, args, c, reloc, final_id, &outs);
    }
    replay(&stdout, reloc.map.unmap(&stderr).as_bytes());
    let mut e = Event::rust(Outcome::Hit, c.describe());
    e.saved_secs = record.secs;
    e.action = Some(final_id);
    stats::record(store, &e);
    Ok(Some(0))
}

pub(super) fn verify_enabled() -> bool {
    crate::env::var("CARGO_GOCACHE_VERIFY").is_some_and(|v| v == "1" || v == "true")
}

/// `--verify`: compile the hit for real and compare every output with the
/// cached bytes; a difference is reported and recorded, the fresh outputs
/// stay (they are what a build without the cache has).
pub(super) fn verify(
    store: &Store,
    rustc: &Path,
    args: &[OsString],
    c: &RustCompile,
    reloc: &Relocation,
    final_id: ActionId,
    outs: &[(&OutFile, Vec<u8>)],
) {
    let out = Command::new(rustc)
        .args(args)
        .args(&reloc.remap_args)
        .stdin(Stdio::null())
        .output();
    if !out.is_ok_and(|o| o.status.success()) {
        eprintln!(
            "gocache: warning: --verify: the fresh compile of {} failed",
            c.describe()
        );
        return;
    }
    for (o, cached) in outs {
        let path = c.out_dir.join(&o.name);
        let fresh = fs::read(&path).unwrap_or_default();
        if fresh != *cached {
            let offset = fresh
                .iter()
                .zip(cached.iter())
                .position(|(a, b)| a != b)
                .unwrap_or(fresh.len().min(cached.len()));
            eprintln!(
                "gocache: nondeterministic: {} (crate {}) differs from the cached result at byte {offset}",
                path.display(),
                c.crate_name
            );
            let mut e = Event::rust(Outcome::Nondeterministic(offset as u64), c.describe());
            e.action = Some(final_id);
            stats::record(store, &e);
        }
    }
}
