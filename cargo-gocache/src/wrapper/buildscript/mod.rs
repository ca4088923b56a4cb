//! Build-script runs, looked up first (`build-scripts = "cache"`), keyed by
//! what each run actually read.
//!
//! # Flow
//!
//! 1. **The launcher.** Cargo has no hook for running a build script, but
//!    every build script is compiled through the Rust wrapper. When that
//!    compile succeeds (a hit or a miss), the wrapper moves the executable
//!    aside (`gocache-real-build_script_build-<hash>` in the same
//!    directory) and links `cargo-gocache` itself in its place
//!    ([`install_launcher`]): cargo then hard-links and runs the launcher
//!    as the build script, and `cargo-gocache` knows it by that name
//!    ([`launched_as`]). The compile's cached outputs stay the real
//!    executable (the launcher is made after they are stored), cargo's
//!    freshness checks see an output newer than its inputs, and a launcher
//!    run outside `cargo gocache` (or with `build-scripts = "run"`) runs
//!    the real script at once.
//! 2. **The lookup** ([`run`]):
//!    only a run that starts with an empty `OUT_DIR` (after `cargo clean`,
//!    in a new target directory or checkout) is looked up; a rerun that
//!    finds its last run's files there runs for real (`out-dir-not-empty`):
//!    what it does may depend on them. The pre-key ([`key::pre_key`]) names
//!    a manifest of observed input sets; the first set that still holds on
//!    disk gives the final key, whose record restores `OUT_DIR` (files,
//!    directories, symlinks and modes, made in a sibling directory and
//!    renamed into place) and replays stdout and stderr with this build's
//!    paths. Cargo then reads the `cargo:` lines as after a real run.
//! 3. **A miss** runs the real script under the observer
//!    ([`crate::observe`]), its output passed through as it comes. If it
//!    succeeded and nothing was refused ([`key::inputs`]), its `OUT_DIR`
//!    and output are stored and the observed set joins the manifest. The C
//!    compiles inside it are cached one by one, as without this.
//!
//! # What is refused (run, and counted with the reason)
//!
//! | reason | why |
//! | --- | --- |
//! | `out-dir-not-empty` | a rerun: its last run's files are inputs nobody keys |
//! | `unobservable` | no observer here (off Linux x86_64, ptrace refused) |
//! | `network`, `socket` | an answer from elsewhere is not a file that can be keyed |
//! | `writes-outside-out-dir` | a side effect the restore would not make |
//! | `temp-file-left` | a file left in a temporary directory is a side effect too |
//! | `terminal`, `device`, `special-file`, `unreadable-input` | an input that cannot be hashed |
//! | `embeds-clock` | the run's output holds the time it ran ([`outdir::embeds_clock`]); replayed only with `time-macros = "pin"`, as compiles are |
//! | `background-process` | the run left a process running: its effects are not over |
//! | `unobserved-compile` | a compile run beside the observation (`crate::observe::delegate`) whose reads the wrapper could not make seen (no search path known) |
//! | `failed` | a run that failed is never stored |
//! | `odd-file-name` | an `OUT_DIR` name holding a tab or newline, or output that is not UTF-8 |
//!
//! # How this differs from keying on declared inputs
//!
//! mbx and kache key a run on what the script declares
//! (`rerun-if-changed`, `rerun-if-env-changed`) and on the package's
//! files; scripts under-declare all the time (cc declares no source, a
//! script runs `git` or `pkg-config`, reads files it never names). Here the
//! declarations are cargo's business only: what decides a replay is every
//! file, directory listing and program the run and its children touched.

mod key;
mod outdir;

/// The state of a path as an observed input (shared with the Rust
/// wrapper's proc-macro reads).
pub(crate) use key::{device_use, input_kinds, state_of};

use std::ffi::OsString;
use std::fs;
use std::io::Write;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use anyhow::{Context as _, Result};

use crate::stats::{self, Event, Outcome};
use crate::wrapper::filememo::FileMemo;
use crate::Store;

/// The real executable's name beside the launcher: `<prefix><name>`.
const REAL_PREFIX: &str = "gocache-real-";

/// Is build-script caching on for this build (set by `cargo gocache`)?
pub fn enabled() -> bool {
    crate::env::var("CARGO_GOCACHE_BUILD_SCRIPTS").as_deref() == Some("cache")
}

/// Put the launcher in place of the build script executable `exe` (just
/// written by rustc, or placed by a hit): a hard link to this binary (to
/// a copy of it in the target directory where the two are on different
/// file systems), which
/// [`launched_as`] recognises by the name cargo runs it under. Not a shell
/// script: `/bin/sh` drops variables whose names are not identifiers
/// (`CC_x86_64-unknown-linux-gnu`), which cc reads. Best effort: on any
/// failure the real executable stays where cargo expects it.
///
/// `store`: where a receipt of `exe`'s placement (`crate::store`) is
/// carried over to the real executable's new name (a rename changes its
/// ctime), so the launcher does not hash it again.
pub fn install_launcher(exe: &Path, store: Option<&Store>) -> std::io::Result<()> {
    let (Some(dir), Some(name)) = (exe.parent(), exe.file_name()) else {
        return Ok(());
    };
    let receipt = store.and_then(|s| {
        let meta = fs::metadata(exe).ok()?;
        Some((
            s,
            crate::store::read_receipt(&s.receipts_dir(), exe, &meta)?,
        ))
    });
    let real = dir.join(format!("{REAL_PREFIX}{}", name.to_string_lossy()));
    let own = std::env::current_exe()?;
    let tmp = dir.join(format!(".{REAL_PREFIX}launcher-{}", std::process::id()));
    let _ = fs::remove_file(&tmp);
    if fs::hard_link(&own, &tmp).is_err() {
        // Another file system than the binary's (a target directory on a
        // mount of its own): a hard link to one copy of the binary beside
        // the build-script directories. Not a symbolic link: the target
        // directory must keep working for plain cargo when gocache is
        // uninstalled or upgraded.
        fs::hard_link(local_copy(dir, &own)?, &tmp)?;
    }
    if let Err(e) = fs::rename(exe, &real) {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    if let Err(e) = fs::rename(&tmp, exe) {
        let _ = fs::rename(&real, exe);
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    if let Some((s, id)) = receipt {
        s.write_receipt(&real, &id);
    }
    Ok(())
}

/// A copy of `own` in the parent of the build-script directory `dir`
/// (`<target>/<profile>/build/`), made once per binary (named by its size
/// and modification time) and shared by every launcher there.
fn local_copy(dir: &Path, own: &Path) -> std::io::Result<PathBuf> {
    let meta = fs::metadata(own)?;
    let mtime = meta
        .modified()?
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let parent = dir.parent().unwrap_or(dir);
    let copy = parent.join(format!(".gocache-launcher-{}-{mtime:x}", meta.len()));
    if fs::metadata(&copy).is_ok_and(|m| m.len() == meta.len()) {
        return Ok(copy);
    }
    let tmp = parent.join(format!(".gocache-launcher-tmp-{}", std::process::id()));
    fs::copy(own, &tmp)?;
    fs::rename(&tmp, &copy).inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })?;
    Ok(copy)
}

/// Before a build script's compile: remove a launcher left at `exe` by an
/// earlier build, so that rustc's linker never writes through the hard
/// link into `cargo-gocache` itself (linkers unlink their output first,
/// but the compile must not depend on that), and put the real script back
/// out of the way.
pub fn remove_launcher(exe: &Path) {
    // The real script beside it: whichever cargo-gocache made it.
    if let (Some(dir), Some(name)) = (exe.parent(), exe.file_name()) {
        let real = dir.join(format!("{REAL_PREFIX}{}", name.to_string_lossy()));
        if real.exists() {
            let _ = fs::remove_file(exe);
            let _ = fs::remove_file(real);
            return;
        }
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let Ok(own) = std::env::current_exe().and_then(fs::metadata) else {
            return;
        };
        // A hard link to this binary, or a symbolic link to it.
        if fs::metadata(exe).is_ok_and(|m| m.dev() == own.dev() && m.ino() == own.ino()) {
            let _ = fs::remove_file(exe);
        }
    }
}

/// Is this process a launcher, started by cargo as a build script
/// (`argv0` is `.../build-script-build`, or rustc's name for it, with the
/// real script beside it)? Returns the real script.
pub fn launched_as(argv0: &std::ffi::OsStr) -> Option<PathBuf> {
    let path = Path::new(argv0);
    let name = path.file_name()?.to_str()?;
    if !(name.starts_with("build-script-") || name.starts_with("build_script_")) {
        return None;
    }
    let dir = path.parent()?;
    let direct = dir.join(format!("{REAL_PREFIX}{name}"));
    if direct.is_file() {
        return Some(direct);
    }
    // Cargo runs the hard link `build-script-build` it made of
    // `build_script_build-<hash>`: one script per directory.
    let mut found = fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(REAL_PREFIX) && !n.ends_with(".d"))
        });
    let real = found.next()?;
    found.next().is_none().then_some(real)
}

/// Run as the launcher: `real` is the real build script, `args` its
/// arguments.
pub fn run(real: PathBuf, args: &[OsString]) -> i32 {
    if !enabled() {
        return super::cc::pass_through(&real, args);
    }
    let store = match Store::from_env() {
        Ok(Some(store)) => store,
        Ok(None) => return super::cc::pass_through(&real, args),
        Err(e) => {
            eprintln!("gocache: warning: {e}; running the build script without the cache");
            return super::cc::pass_through(&real, args);
        }
    };
    let (store, remote) = crate::remote::RemoteTier::attach_from_env(store);
    panic::set_hook(Box::new(|_| {}));
    let ran = std::cell::Cell::new(None);
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| cached(&store, &real, args, &ran)));
    let _ = panic::take_hook();
    if let Some(r) = &remote {
        r.finish(&store);
    }
    let fault = match outcome {
        Ok(Ok(code)) => return code,
        Ok(Err(e)) => format!("{e:#}"),
        Err(payload) => super::panic_fault(payload.as_ref()),
    };
    stats::record(
        &store,
        &Event::build_script(Outcome::Error("cache-fault".into()), describe()),
    );
    if let Some(code) = ran.get() {
        eprintln!("gocache: warning: {fault}; the build script's run was not cached");
        return code;
    }
    eprintln!("gocache: warning: {fault}; running the build script without the cache");
    super::cc::pass_through(&real, args)
}

/// `name version` of the package whose build script this is.
fn describe() -> String {
    format!(
        "{} {} (build script)",
        crate::env::var("CARGO_PKG_NAME").unwrap_or_default(),
        crate::env::var("CARGO_PKG_VERSION").unwrap_or_default()
    )
}

fn cached(
    store: &Store,
    real: &Path,
    args: &[OsString],
    ran: &std::cell::Cell<Option<i32>>,
) -> Result<i32> {
    let run_plain = |why: &str| -> Result<i32> {
        stats::record(
            store,
            &Event::build_script(Outcome::Uncacheable(why.into()), describe()),
        );
        Ok(super::cc::pass_through(real, args))
    };
    crate::env::phase("launcher");
    let Some(cx) = key::Context::from_env(store)? else {
        return run_plain("not-under-cargo");
    };
    if !outdir::is_empty(&cx.out_dir) {
        return run_plain("out-dir-not-empty");
    }
    crate::env::phase("context");
    let (pre, exe) = key::pre_key(&cx, real, args)?;
    crate::env::phase("pre-key");
    let pre_id = pre.id();
    let memo_key = key::memo_key(&pre_id);
    let mut memo = FileMemo::load(store, &memo_key);
    if let Some((meta, hash)) = exe {
        memo.seed_this_run(real, &meta, hash);
    }
    let manifest = key::load_manifest(store, &pre_id);
    crate::env::phase("manifest-loaded");
    let mut found = None;
    for entry in &manifest {
        if entry.holds(&cx, &mut memo) {
            let final_id = entry.final_key(&pre_id).id();
            if let Some((_, bytes)) = store.get_bytes(&final_id) {
                found = Some((final_id, bytes));
                break;
            }
        }
    }
    crate::env::phase("looked-up");
    let _ = memo.save_if_changed(store, &memo_key);
    let verify = crate::settings::bool_var("CARGO_GOCACHE_VERIFY");
    let mut verify_against = None;
    if let (true, Some((final_id, bytes))) = (verify, &found) {
        // `--verify`: run it anyway, then compare with what a hit gives.
        verify_against = Some((*final_id, bytes.clone()));
        found = None;
    }
    if let Some((final_id, bytes)) = found {
        let started = Instant::now();
        match outdir::Record::parse(&bytes).and_then(|mut r| r.restore(store, &cx).map(|()| r)) {
            Some(record) => {
                let _ = std::io::stdout().write_all(cx.map.unmap(&record.stdout).as_bytes());
                let _ = std::io::stderr().write_all(cx.map.unmap(&record.stderr).as_bytes());
                let mut e = Event::build_script(Outcome::Hit, describe());
                e.action = Some(final_id);
                e.saved_secs = (record.secs - started.elapsed().as_secs_f64()).max(0.0);
                stats::record(store, &e);
                crate::env::phase("restored");
                return Ok(0);
            }
            None => {
                // A damaged record or a failed restore: run it for real,
                // from an empty OUT_DIR again.
                outdir::empty(&cx.out_dir);
            }
        }
    }

    let why = if verify_against.is_some() {
        Vec::new()
    } else {
        let history = store
            .get_bytes(&key::history_key())
            .and_then(|(_, b)| String::from_utf8(b).ok());
        key::why_missed(&cx, &manifest, &pre, history.as_deref(), &mut memo)
    };
    // A miss: run under the observer.
    let start = SystemTime::now();
    let started = Instant::now();
    let own = std::env::current_exe().ok();
    let observed = crate::observe::observe(&crate::observe::Run {
        program: real,
        args,
        own_exe: own,
    });
    let (obs, stdout, stderr) = match observed {
        Ok(o) => o,
        Err(why) => {
            if crate::env::debug("build-scripts") {
                eprintln!("gocache: build script not observed: {}", why.0);
            }
            return run_plain("unobservable");
        }
    };
    let code = match (obs.code, obs.signal) {
        (Some(c), _) => c,
        (None, sig) => 128 + sig.unwrap_or(9),
    };
    ran.set(Some(code));
    crate::env::phase("ran");
    let secs = started.elapsed().as_secs_f64();
    let refuse = |why: &str| {
        let mut e = Event::build_script(Outcome::Uncacheable(why.into()), describe());
        e.spent_secs = secs;
        stats::record(store, &e);
    };
    if code != 0 {
        refuse("failed");
        if let Some(sig) = obs.signal {
            // As the script died, so does its launcher, for cargo's message.
            // SAFETY: restoring the default disposition, then raising.
            unsafe {
                libc::signal(sig, libc::SIG_DFL);
                libc::raise(sig);
            }
        }
        return Ok(code);
    }
    let debug = crate::env::debug("build-scripts");
    if debug {
        for (p, a) in &obs.paths {
            eprintln!("gocache: observed {a:?} {}", p.display());
        }
        for r in &obs.refusals {
            eprintln!("gocache: observer refused: {r}");
        }
    }
    if let Some(why) = obs.refusals.iter().next() {
        refuse(why);
        return Ok(0);
    }
    let inputs = match key::inputs(&cx, &obs, &mut memo) {
        Ok(inputs) => inputs,
        Err(why) => {
            refuse(&why);
            return Ok(0);
        }
    };
    crate::env::phase("inputs-keyed");
    if debug {
        for ((kind, path), state) in &inputs {
            eprintln!("gocache: input {kind} {state} {path}");
        }
    }
    // A value that names a directory the key maps (`OLDPWD` after `cd`
    // from the checkout or a directory in it, the usual case) is found in
    // nearly every `OUT_DIR` for that directory's sake, which the map
    // already accounts for (relocated, or the entry tied to it): searched,
    // it would key every run on the directory the user came from.
    let volatile: Vec<(String, Vec<String>)> = std::env::vars_os()
        .filter_map(|(k, v)| {
            let k = k.into_string().ok().filter(|k| key::is_volatile(k))?;
            let v = v.to_string_lossy();
            if cx.map.map(&v) != v {
                return None;
            }
            let forms = key::volatile_needles(&v);
            (!forms.is_empty()).then_some((k, forms))
        })
        .collect();
    let record = match outdir::Record::capture(store, &cx, &stdout, &stderr, secs, &volatile) {
        Ok(r) => r,
        Err(why) => {
            refuse(&why);
            return Ok(0);
        }
    };
    crate::env::phase("out-dir-captured");
    if crate::env::var("CARGO_GOCACHE_TIME_MACROS").is_none_or(|v| v != "pin")
        && outdir::embeds_clock(&cx.out_dir, &stdout, start, SystemTime::now())
    {
        refuse("embeds-clock");
        return Ok(0);
    }
    let mut inputs = inputs;
    for name in &record.volatile_found {
        let state = key::state_of('e', Path::new(name), &cx.map, &mut memo);
        inputs.insert(('e', name.clone()), state);
    }
    let entry = key::ManifestEntry {
        inputs,
        pins: if record.holds_machine_paths {
            cx.pins()
        } else {
            Vec::new()
        },
    };
    let final_id = entry.final_key(&pre_id).id();
    if let Some((cached_id, cached)) = &verify_against {
        // The same inputs must give the same record; anything else is a
        // script whose output the observer cannot explain.
        let fresh = record.render();
        if *cached_id != final_id || cached.as_slice() != fresh.as_bytes() {
            let at = cached
                .iter()
                .zip(fresh.as_bytes())
                .position(|(a, b)| a != b)
                .unwrap_or(cached.len().min(fresh.len()));
            let line = String::from_utf8_lossy(&fresh.as_bytes()[..at])
                .lines()
                .count()
                .max(1);
            eprintln!(
                "gocache: error: --verify: {} gave another result than its cached run \
                 (first difference on line {line} of the run's record: an OUT_DIR file, \
                 stdout or stderr)",
                describe()
            );
            let mut e = Event::build_script(Outcome::Nondeterministic(at as u64), describe());
            e.action = Some(final_id);
            stats::record(store, &e);
            return Ok(0);
        }
    }
    store
        .put(&final_id, record.render().as_bytes())
        .context("storing the build script's run")?;
    let _ = store.put(&key::history_key(), pre.lines().join("\n").as_bytes());
    if !why.is_empty() {
        let _ = store.put(
            &crate::stats::explain::build_script_key(&final_id),
            why.join("\n").as_bytes(),
        );
    }
    key::save_manifest(store, &pre_id, entry).context("storing the build script's manifest")?;
    let _ = memo.save_if_changed(store, &memo_key);
    let mut e = Event::build_script(Outcome::Miss, describe());
    e.action = Some(final_id);
    e.spent_secs = secs;
    stats::record(store, &e);
    crate::env::phase("run-stored");
    Ok(0)
}
