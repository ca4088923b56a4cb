//! Wrapper mode: `cargo-gocache <compiler> [args...]`, as `ccache gcc ...`.
//!
//! For one cacheable compile ([`crate::cmdline`]):
//!
//! 1. the pre-key (compiler identity, arguments, environment, source);
//! 2. its manifest ([`crate::direct::manifest`]): the first header set that
//!    still holds on disk names the final key;
//! 3. **hit**: the final key's *result record* names the object, the
//!    compiler's stdout and stderr and the header list; the object is
//!    placed atomically, the caller's depfile written, the output replayed,
//!    exit 0. No compiler or preprocessor runs. A steady hit skips step 2:
//!    a snapshot of the last lookup's file and directory stamps
//!    ([`super::filememo`]) still holding gives the final key;
//! 4. **miss**: the compiler runs with `-MD -MF <temp>` added (the caller's
//!    own dependency options removed; gocache writes that depfile itself),
//!    its output captured and passed on; on success the headers it read are
//!    observed, the outputs stored, the record put under the final key and
//!    the header set added to the manifest.
//!
//! # The result record (layout)
//!
//! An output of the final key, text, one output per line, each output
//! stored content-addressed on its own (so an object shared by two keys is
//! stored once):
//!
//! ```text
//! gocache-result v1
//! secs <compile seconds, for saved-time statistics>
//! object <output id> <size>
//! stdout <output id> <size>
//! stderr <output id> <size>
//! deps <output id> <size>
//! ```
//!
//! `deps` is the depfile's prerequisites, one a line, `u <path>` or
//! `s <path>` (found in a system directory, left out for `-MMD`), absolute
//! paths written with the path map applied, so a hit names this build's
//! files.
//!
//! # Never breaking a build
//!
//! Everything up to running the compiler is wrapped: an error or a panic
//! there prints one warning and runs the real compiler untouched, with an
//! `error` statistics event. A fault after the compiler ran (storing the
//! result) is a warning only: the compile's own result stands and is not
//! repeated. With `CARGO_GOCACHE_DIR=off`, and for any uncacheable command
//! line, the compiler is `exec`ed untouched (stdin, stdout, stderr and the
//! exit status are its own).
//!
//! Relocation flags (`-ffile-prefix-map`, see [`crate::cmdline`])
//! are added to every compile that goes through the cache, hit or miss or
//! uncacheable because of its headers, so all of them produce the same
//! bytes wherever the tree is; command lines that are not cacheable compiles
//! (links, `-E`...) are left untouched.

use std::cell::Cell;
use std::ffi::OsString;
use std::fs;
use std::io::{self, Write};
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Instant, SystemTime};

use super::filememo::{self, FileMemo, Snapshot};
use crate::cmdline::{self, Compile};
use crate::direct::lookup::MissReason;
use crate::direct::manifest::{self, Includes, Manifest, ObserveOptions};
use crate::direct::stamp;
use crate::env::phase;
use crate::key::compiler::{self, CompilerIdentity};
use crate::key::hash::{ActionId, OutputId};
use crate::key::line::KeyLine;
use crate::key::pathmap::PathMap;
use crate::stats::{self, Event, Outcome};
use crate::store::write_file_atomic;
use crate::{Entry, Store};
use anyhow::{anyhow, bail, Context, Result};

const RECORD_HEADER: &str = "gocache-result v1";

/// Run `argv` (`cargo-gocache <compiler> [args...]`); returns the exit code.
pub fn run(argv: Vec<OsString>) -> i32 {
    phase("start");
    // One compile: the directories it canonicalises stay as they are.
    crate::fsutil::memoise_canonical();
    // A masquerade link (CMake runs it by its absolute path) is never run
    // as the compiler: it is this binary.
    let compiler = match super::masquerade::real_compiler(Path::new(&argv[1])) {
        Ok(c) => c,
        Err(msg) => {
            eprintln!("gocache: error: {msg}");
            return 127;
        }
    };
    let args = &argv[2..];
    let store = match Store::from_env() {
        Ok(Some(store)) => store,
        Ok(None) => return pass_through(&compiler, args),
        Err(e) => {
            warn(&e.to_string());
            stats::record_run_only(&Event::new(Outcome::Error("store".into()), "-"));
            return pass_through(&compiler, args);
        }
    };
    // A miss's headers: hashed and scanned once per version, not once per
    // compile (the memo is local: the store before its tier).
    #[cfg(unix)]
    crate::direct::factmemo::enable(&store);
    // The remote tier (if `cargo gocache` set one) sits behind the store;
    // its traffic is recorded before this process exits or execs.
    let (store, remote) = crate::remote::RemoteTier::attach_from_env(store);
    let finish = || {
        if let Some(r) = &remote {
            r.finish(&store);
        }
    };
    match run_cached(&store, &compiler, args) {
        Ok(code) => {
            finish();
            crate::observe::compile_finish();
            phase("end");
            code
        }
        Err(()) => {
            finish();
            // Run here, inside an observation if there is one: it sees
            // what this run reads.
            crate::observe::compile_surfaced();
            pass_through(&compiler, args)
        }
    }
}

/// The cached path, with any fault or panic turned into a warning:
/// `Ok(code)` to exit with, `Err(())` to run the compiler untouched.
fn run_cached(store: &Store, compiler: &Path, args: &[OsString]) -> Result<i32, ()> {
    // A panic prints one warning line of ours, not the default report.
    panic::set_hook(Box::new(|_| {}));
    let compiled = Cell::new(None);
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        cached(store, compiler, args, &compiled)
    }));
    let _ = panic::take_hook();
    let fault = match outcome {
        Ok(Ok(Step::Exit(code))) => return Ok(code),
        Ok(Ok(Step::PassThrough)) => return Err(()),
        Ok(Err(e)) => format!("{e:#}"),
        Err(payload) => super::panic_fault(payload.as_ref()),
    };
    let event = Event::new(Outcome::Error(error_reason(&fault)), source_hint(args));
    // The compiler already ran: its result stands, it is not run again.
    if let Some(code) = compiled.get() {
        warn_after(&fault);
        stats::record(store, &event);
        return Ok(code);
    }
    warn(&fault);
    stats::record(store, &event);
    Err(())
}

/// What to do once the cached path is done.
enum Step {
    /// Exit with this code: served from the cache, or compiled here.
    Exit(i32),
    /// Run the compiler untouched (not cacheable).
    PassThrough,
}

fn warn(msg: &str) {
    eprintln!("gocache: warning: {msg}; compiling without the cache");
}

fn warn_after(msg: &str) {
    eprintln!("gocache: warning: {msg}; the result was not cached");
}

/// A short, stable label for an error event (the full text is in the warning).
fn error_reason(msg: &str) -> String {
    if msg.starts_with("internal error") {
        "panic".into()
    } else {
        "cache-fault".into()
    }
}

fn source_hint(args: &[OsString]) -> String {
    args.iter()
        .rev()
        .find(|a| !a.to_string_lossy().starts_with('-'))
        .map_or_else(|| "-".into(), |a| a.to_string_lossy().into_owned())
}

/// Run the compiler as if gocache were not there: `exec` on Unix, so
/// stdin, stdout, stderr and the exit status (even a signal) are its own.
pub fn pass_through(compiler: &Path, args: &[OsString]) -> i32 {
    let mut cmd = Command::new(compiler);
    cmd.args(args);
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let e = cmd.exec();
        eprintln!("gocache: error: failed to run {}: {e}", compiler.display());
        127
    }
    #[cfg(not(unix))]
    match cmd.status() {
        Ok(s) => s.code().unwrap_or(1),
        Err(e) => {
            eprintln!("gocache: error: failed to run {}: {e}", compiler.display());
            127
        }
    }
}

fn cached(
    store: &Store,
    compiler: &Path,
    args: &[OsString],
    compiled: &Cell<Option<i32>>,
) -> Result<Step> {
    if crate::env::debug("panic") {
        // For tests of the fallback: a bug in the wrapper must not fail a build.
        panic!("injected by CARGO_GOCACHE_DEBUG=panic");
    }
    // As the compiler will record it: `$PWD` when it names this directory.
    let cwd = cmdline::compiler_cwd().context("failed to read the working directory")?;
    let mut compile =
        match cmdline::parse(args, &cwd).and_then(|c| c.check_source(&cwd).map(|()| c)) {
            Ok(c) => c,
            Err(u) => {
                let beside = u.reason == "-M" && crate::observe::compiles_beside();
                stats::record(
                    store,
                    &Event::new(Outcome::Uncacheable(u.reason), source_hint(args)),
                );
                if beside {
                    if let Some(code) = dependency_run_beside(store, compiler, args, &cwd) {
                        return Ok(Step::Exit(code));
                    }
                }
                return Ok(Step::PassThrough);
            }
        };
    if let Some(reason) = super::probe::uncached_probe(&cwd, &compile) {
        let event = Event::new(
            Outcome::Uncacheable(reason.into()),
            compile.source.display().to_string(),
        );
        stats::record(store, &event);
        return Ok(Step::PassThrough);
    }
    // A hit replaces its outputs by rename. Right for regular files (and
    // for a symlinked object, which the assembler replaces too), wrong for
    // `-o /dev/null` or `-MF /dev/null` (it would replace the device node)
    // and for a symlinked depfile (gcc writes through it). Not cached.
    let object_special = fs::metadata(cmdline::absolute(&cwd, &compile.object))
        .is_ok_and(|m| !m.file_type().is_file());
    let dep_special = compile.dep.as_ref().is_some_and(|d| {
        fs::symlink_metadata(cmdline::absolute(&cwd, &d.path))
            .is_ok_and(|m| !m.file_type().is_file())
    });
    if object_special || dep_special {
        let event = Event::new(
            Outcome::Uncacheable("special-output".into()),
            compile.source.display().to_string(),
        );
        stats::record(store, &event);
        return Ok(Step::PassThrough);
    }
    let identity = compiler::identify(Some(store), compiler)?;
    phase("identified");
    // `-march=native`: keyed as what it means on this machine.
    if let Err(u) = compile.resolve_native(Some(store), compiler, &identity) {
        let event = Event::new(Outcome::Uncacheable(u.reason), source_hint(args));
        stats::record(store, &event);
        return Ok(Step::PassThrough);
    }
    // Colours and links as they would be on the caller's stderr; the
    // existence of include directories when the compiler warns about it.
    use std::io::IsTerminal;
    match compile.diagnostics_args(&identity, std::io::stderr().is_terminal()) {
        Ok(extra) => extra.into_iter().for_each(|a| compile.add_arg(a)),
        Err(u) => {
            let event = Event::new(Outcome::Uncacheable(u.reason), source_hint(args));
            stats::record(store, &event);
            return Ok(Step::PassThrough);
        }
    }
    compile.note_search_dirs(&cwd);
    if let Some(d) = compile.dep.as_mut() {
        d.clang_style = identity.version.contains("clang");
    }
    let map = if cmdline::supports_prefix_map(&identity) {
        cmdline::relocation_map(&cwd)
    } else {
        PathMap::new()
    };
    // The compiler's prefix map compares strings: a working directory
    // beside a mapped one (`/w/ch2` and `/w/ch`) would be rewritten as if
    // inside it, in the debug info, and the key (mapped by component)
    // could not say so. Decided before the lookup: a result stored where
    // the directory did not clash must not be served here.
    if map.string_clash(&cwd) {
        let event = Event::new(
            Outcome::Uncacheable("relocation-clash".into()),
            source_hint(args),
        );
        stats::record(store, &event);
        return Ok(Step::PassThrough);
    }
    compile.keep_macro_values_without_paths(&map);
    // A steady hit: the last lookup's snapshot still holds (one stat per
    // file and directory it looked at; see filememo).
    let memo_key = filememo::memo_key_mapped(&cwd, compiler, args, &map);
    let snapshot_key = filememo::snapshot_key(&memo_key);
    let mut snapshot = Snapshot::load(store, &snapshot_key);
    let pre = match snapshot.as_mut() {
        Some(snap) => compile.pre_key_with(&identity, &map, &cwd, snap),
        None => compile.pre_key(&identity, &map, &cwd),
    }
    .with_context(|| format!("failed to read {}", compile.source.display()))?;
    let mut pre = pre;
    let asm_inputs = match asm_inputs(store, compiler, &identity, &compile, &cwd, &map) {
        Ok(files) => {
            if let Some(a) = &files {
                a.add_to(&mut pre);
            }
            files
        }
        Err(reason) => {
            let event = Event::new(
                Outcome::Uncacheable(reason),
                compile.source.display().to_string(),
            );
            stats::record(store, &event);
            return Ok(Step::PassThrough);
        }
    };
    let pin = time_macro_pin(&identity);
    if pin.is_some() {
        // A pinned result must never serve a build that did not opt in,
        // nor a default-mode result (none exists: uncacheable) this one.
        pre.line("time-macros pin");
    }
    let pre_id = pre.id();
    phase("pre-key");
    let rejections = store.rejections();
    // Inside an observed build script, no snapshot: it vouches for probes
    // by directory stamps, and the observer keys a `stat` of a directory
    // as that it is one, not as its listing. The lookup below records
    // every probe instead.
    let beside = crate::observe::compiles_beside();
    if let Some(final_id) = snapshot
        .as_ref()
        .filter(|_| !beside)
        .and_then(|s| s.check(&pre_id))
    {
        if let Some(entry) = store.get(&final_id) {
            if let Ok(code) = hit(store, compiler, &compile, &cwd, &map, final_id, &entry)? {
                return Ok(Step::Exit(code));
            }
        }
    }
    // Direct mode, with file hashes and probe answers remembered by stat.
    let mut memo = FileMemo::load(store, &memo_key);
    let manifest = Manifest::load_checked(store, &pre_id);
    memo.hash(&cmdline::absolute(&cwd, &compile.source));
    // Inside an observed build script every probe `stat` is a ptrace
    // stop: the entries' probes are answered at once by the observing
    // process instead (see crate::observe::delegate), and no snapshot is
    // made of such a lookup (the memo did not stamp the probes' directories).
    let job = Job {
        store,
        compiler,
        identity: &identity,
        compile: &compile,
        cwd: &cwd,
        map: &map,
        pre: &pre,
        pre_id,
    };
    let mut unused_asked = Vec::new();
    let found = match &manifest {
        Ok(m) if beside => {
            let mut disk = BesideDisk::prefetch(m, &map, &mut memo);
            let found = m.lookup_with(store, &pre_id, &map, &mut disk, &compile.macro_values());
            job.resolve_values_aside(found, m, &mut disk, &mut unused_asked)
        }
        Ok(m) => {
            let found = m.lookup_with(store, &pre_id, &map, &mut memo, &compile.macro_values());
            job.resolve_values_aside(found, m, &mut memo, &mut unused_asked)
        }
        Err(why) => Err(*why),
    };
    // Best effort: without the memo the next hit rehashes.
    let _ = memo.save_if_changed(store, &memo_key);
    phase("looked-up");
    let mut why = match found {
        Ok((final_id, entry)) => {
            match hit(store, compiler, &compile, &cwd, &map, final_id, &entry)? {
                Ok(code) => {
                    if let Some(snap) = memo.snapshot(pre_id, final_id).filter(|_| !beside) {
                        let _ = snap.save(store, &snapshot_key);
                    }
                    return Ok(Step::Exit(code));
                }
                Err(why) => why,
            }
        }
        Err(why) => why,
    };
    if store.rejections() > rejections {
        why = MissReason::RemoteRejected;
    }
    let known = manifest.map(|m| m.known_files(&map)).unwrap_or_default();
    let miss = Miss {
        at: job,
        why,
        known,
        args,
        asm: asm_inputs.as_ref(),
        pin,
        unused_asked,
    };
    miss.run(compiled)
}

/// One compile, as its lookup and its miss see it.
struct Job<'a> {
    store: &'a Store,
    compiler: &'a Path,
    identity: &'a CompilerIdentity,
    compile: &'a Compile,
    cwd: &'a Path,
    map: &'a PathMap,
    pre: &'a crate::KeyHasher,
    pre_id: ActionId,
}

impl Job<'_> {
    /// A lookup (`found`) that matched no entry, where some entries hold
    /// on disk with other values for some `-D`s: made by misses that did
    /// not ask gcc which macros their compile used (`Miss::run` asks only
    /// when it runs the preprocessor anyway, for a `-MMD` list). Asked
    /// now, as such a miss would have (`-E -dU`, and the predefined
    /// macros: see crate::cmdline::macros): an entry holds for this
    /// command line too when every macro whose value differs is one this
    /// compile does not use, that gcc does not predefine, and that no file
    /// it read names (the files are the entry's: their hashes matched).
    /// Such an entry is recorded again without the unused values
    /// (`record_again`), so no lookup asks about them again. This is
    /// where a second checkout pays, once per compile, what a cold build
    /// no longer does.
    ///
    /// `unused` gets the candidates gcc said were unused, for `explain`
    /// on the miss that may follow.
    fn resolve_values_aside<'m>(
        &self,
        found: Result<(ActionId, Entry, &'m manifest::Observed), MissReason>,
        m: &'m Manifest,
        disk: &mut dyn manifest::Disk,
        unused: &mut Vec<String>,
    ) -> Result<(ActionId, Entry), MissReason> {
        let why = match found {
            Ok((id, entry, _)) => return Ok((id, entry)),
            Err(why @ MissReason::NoHeaderSetMatched) => why,
            Err(why) => return Err(why),
        };
        let candidates = self.compile.macro_candidates(self.identity);
        if candidates.is_empty() {
            return Err(why);
        }
        // What gcc says below is about the files as the entries' hashes
        // were checked: stamped before, compared after (see
        // crate::direct::stamp), or nothing is served.
        let before = stamp::Before::take(m.known_files(self.map), None);
        let now = self.compile.macro_values();
        let aside = m.lookup_values_aside(self.store, &self.pre_id, self.map, disk, &now);
        if aside.is_empty() {
            return Err(why);
        }
        *unused = self.compile.unused_macros(
            self.compiler,
            &cmdline::prefix_map_args(self.map),
            &[],
            &candidates,
        );
        phase("values-asked");
        for (id, entry, obs, differing) in aside {
            if !differing.iter().all(|d| unused.contains(d)) {
                continue;
            }
            let files: Vec<PathBuf> = obs.files.iter().map(|(p, _)| self.map.unmap(p)).collect();
            // A name a file spells may be redefined there: its value stays.
            let facts = manifest::facts_many(&files, unused);
            if facts
                .iter()
                .any(|f| f.state != crate::direct::scan::FactState::File)
            {
                continue;
            }
            let named: Vec<&String> = facts.iter().flat_map(|f| &f.named).collect();
            if differing.iter().any(|d| named.contains(&d)) || before.check(&files).is_err() {
                continue;
            }
            let left_out: Vec<String> = unused
                .iter()
                .filter(|n| !named.contains(n))
                .cloned()
                .collect();
            self.record_again(obs, &entry, &now, &left_out);
            // Inside an observed build script the two runs above went
            // beside the observation: what they read is what the entry
            // lists (files and probes, found where it says, since it
            // holds), and this lookup read each of those itself.
            crate::observe::compile_surfaced();
            return Ok((id, entry));
        }
        Err(why)
    }

    /// Best effort: `obs` again, as a miss that asked would have recorded
    /// it: with this command line's values (`now`), less the macros gcc
    /// said are unused and no file spells (`left_out`), and its result the
    /// same record as `entry`'s. Any later command line whose kept values
    /// are these then hits without asking (a third checkout, a `cargo
    /// clean` in this one).
    fn record_again(
        &self,
        obs: &manifest::Observed,
        entry: &Entry,
        now: &manifest::MacroValues,
        left_out: &[String],
    ) {
        let names: Vec<&str> = obs
            .macros
            .iter()
            .map(|(n, _)| manifest::macro_ident(n))
            .filter(|n| !left_out.iter().any(|l| l == n))
            .collect();
        let mut again = obs.clone();
        again.macros = now
            .iter()
            .filter(|(n, _)| names.contains(&manifest::macro_ident(n)))
            .cloned()
            .collect();
        let Some(record) = self.store.read_output(entry) else {
            return;
        };
        let final_key = again.key(&self.pre_id);
        let final_id = final_key.id();
        if self.store.put(&final_id, &record).is_err() {
            return;
        }
        let c = self.compile;
        let inputs = key_inputs_record(c, self.cwd, self.map, self.pre, &final_key, left_out);
        let _ = self.store.put_key_inputs(&final_id, &inputs);
        let _ = Manifest::add_and_save(self.store, &self.pre_id, again);
    }
}

/// The key's lines, headed by the object they make, for `explain`; with
/// the `-D`s the key leaves out (`unused`).
fn key_inputs_record(
    c: &Compile,
    cwd: &Path,
    map: &PathMap,
    pre: &crate::KeyHasher,
    final_key: &crate::KeyHasher,
    unused: &[String],
) -> String {
    let object_name = crate::stats::explain::compile_object(
        &map.map(&cmdline::absolute(cwd, &c.source)),
        &map.map(&cmdline::absolute(cwd, &c.object)),
    );
    let mut inputs = format!("{}{object_name}\n", crate::stats::explain::OBJECT_PREFIX);
    inputs.push_str(&pre.record());
    inputs.push_str(&final_key.record());
    inputs.push_str(&cmdline::macros::unused_record(&c.macros, unused));
    inputs
}

/// `time-macros = "pin"` (`CARGO_GOCACHE_TIME_MACROS=pin`): the epoch a
/// miss compiles with, now, so that its `__DATE__` and `__TIME__` are
/// fixed and kept with the result, and a hit returns exactly the bytes
/// the compiler made with that epoch. `None` by default (such compiles
/// stay uncacheable: their output depends on the clock), when the user
/// set `SOURCE_DATE_EPOCH` (then it is a key variable like any other), and
/// for compilers that ignore the variable (clang before 16), whose objects
/// would still hold the real time.
fn time_macro_pin(identity: &CompilerIdentity) -> Option<u64> {
    if crate::env::var("CARGO_GOCACHE_TIME_MACROS").as_deref() != Some("pin")
        || Compile::source_date_epoch()
        || !honours_source_date_epoch(&identity.version)
    {
        return None;
    }
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs())
}

/// GCC reads `SOURCE_DATE_EPOCH` since 7, clang since 16.
fn honours_source_date_epoch(version: &str) -> bool {
    let major_after = |word: &str| {
        version
            .split_once(word)
            .and_then(|(_, rest)| rest.trim_start().split('.').next()?.parse::<u32>().ok())
    };
    if version.contains("clang") {
        return major_after("version").is_some_and(|m| m >= 16);
    }
    // `gcc (Debian 12.2.0-14) 12.2.0`: the last word is the version.
    version
        .rsplit(' ')
        .next()
        .and_then(|v| v.split('.').next()?.parse::<u32>().ok())
        .is_some_and(|m| m >= 7)
}

/// For plain assembly, the assembler's inputs (see `asm`); `None` for the
/// preprocessed languages, whose inputs the depfile lists.
fn asm_inputs(
    store: &Store,
    compiler: &Path,
    identity: &CompilerIdentity,
    compile: &Compile,
    cwd: &Path,
    map: &PathMap,
) -> Result<Option<super::asm::AsmInputs>, String> {
    if compile.lang != cmdline::Lang::Asm {
        return Ok(None);
    }
    super::asm::inputs(store, compiler, identity, compile, cwd, map).map(Some)
}

/// A parsed result record.
struct Record {
    secs: f64,
    object: (OutputId, u64),
    stdout: (OutputId, u64),
    stderr: (OutputId, u64),
    deps: (OutputId, u64),
    /// The `SOURCE_DATE_EPOCH` a pinned compile ran with (`time-macros = "pin"`).
    epoch: Option<u64>,
}

impl Record {
    fn render(&self) -> String {
        let line = |name: &str, (id, size): (OutputId, u64)| format!("{name} {id} {size}\n");
        format!(
            "{RECORD_HEADER}\nsecs {:.3}\n{}{}{}{}",
            self.secs,
            line("object", self.object),
            line("stdout", self.stdout),
            line("stderr", self.stderr),
            line("deps", self.deps)
        ) + &self.epoch.map_or(String::new(), |e| format!("epoch {e}\n"))
    }

    fn parse(text: &str) -> Option<Record> {
        let mut lines = text.lines();
        if lines.next()? != RECORD_HEADER {
            return None;
        }
        let secs = lines.next()?.strip_prefix("secs ")?.parse().ok()?;
        let mut output = |name: &str| -> Option<(OutputId, u64)> {
            let rest = lines.next()?.strip_prefix(name)?.strip_prefix(' ')?;
            let (id, size) = rest.split_once(' ')?;
            Some((OutputId::from_hex(id)?, size.parse().ok()?))
        };
        Some(Record {
            secs,
            object: output("object")?,
            stdout: output("stdout")?,
            stderr: output("stderr")?,
            deps: output("deps")?,
            epoch: match lines.next() {
                None => None,
                Some(l) => Some(l.strip_prefix("epoch ")?.parse().ok()?),
            },
        })
    }
}

fn entry_of(action: ActionId, (output, size): (OutputId, u64)) -> Entry {
    Entry {
        action,
        output,
        size,
        time_nanos: 0,
    }
}

/// Serve a hit; `Ok(Err(why))` if the record is damaged or an output is
/// missing or damaged (a miss).
fn hit(
    store: &Store,
    compiler: &Path,
    compile: &Compile,
    cwd: &Path,
    map: &PathMap,
    final_id: ActionId,
    entry: &Entry,
) -> Result<Result<i32, MissReason>> {
    let Some(bytes) = store.read_output(entry) else {
        return Ok(Err(MissReason::OutputMissing));
    };
    let Some(record) = String::from_utf8(bytes)
        .ok()
        .and_then(|t| Record::parse(&t))
    else {
        return Ok(Err(MissReason::EntryDamaged));
    };
    // Empty outputs (a silent compile's stdout and stderr) need no read.
    let read = |o: (OutputId, u64)| match o.1 {
        0 => Some(Vec::new()),
        _ => store.read_output(&entry_of(final_id, o)),
    };
    // Stored by stable names: shown with this build's directories.
    let shown = |o| read(o).and_then(|b| super::diagnostics::replay_form(&b, map));
    let (Some(stdout), Some(stderr)) = (shown(record.stdout), shown(record.stderr)) else {
        return Ok(Err(MissReason::OutputMissing));
    };
    let depfile = match &compile.dep {
        Some(req) => {
            let Some(deps) = read(record.deps).and_then(|b| String::from_utf8(b).ok()) else {
                return Ok(Err(MissReason::OutputMissing));
            };
            let prerequisites = deps_for_caller(&deps, req.system_headers, map);
            Some((
                cmdline::absolute(cwd, &req.path),
                cmdline::render_depfile(req, &compile.object, &prerequisites),
            ))
        }
        None => None,
    };
    let object = cmdline::absolute(cwd, &compile.object);
    if !store.place(&entry_of(final_id, record.object), &object)? {
        return Ok(Err(MissReason::OutputMissing));
    }
    if let Some((path, text)) = depfile {
        write_file_atomic(&path, text.as_bytes())?;
    }
    if verify_enabled() {
        verify(
            store,
            compiler,
            compile,
            cwd,
            map,
            &entry_of(final_id, record.object),
            record.epoch,
        );
    }
    if let Some(r) = super::rerun::reporter(store) {
        if let Some(deps) = read(record.deps).and_then(|b| String::from_utf8(b).ok()) {
            r.report(cwd, &compile.source, deps_for_caller(&deps, false, map));
        }
    }
    replay(&stdout, &stderr);
    let mut event = Event::new(Outcome::Hit, compile.source.display().to_string());
    event.saved_secs = record.secs;
    event.action = Some(final_id);
    stats::record(store, &event);
    Ok(Ok(0))
}

/// `CARGO_GOCACHE_VERIFY=1` (`cargo gocache --verify`): compile every hit
/// too, as Go's `GODEBUG=gocacheverify=1` does.
fn verify_enabled() -> bool {
    // The settings' one boolean grammar: `CARGO_GOCACHE_VERIFY=yes` works
    // for the standalone wrapper as under `cargo gocache`.
    crate::settings::bool_var("CARGO_GOCACHE_VERIFY")
}

/// Compile a hit for real over the placed object and compare with the
/// cached bytes. A difference means the compile is not reproducible: the
/// cache would serve one of two different objects for the same inputs. It
/// is reported and recorded; the fresh object stays in place (it is what
/// a build without the cache would have), and `cargo gocache` exits
/// non-zero at the end of the run.
fn verify(
    store: &Store,
    compiler: &Path,
    compile: &Compile,
    cwd: &Path,
    map: &PathMap,
    object: &Entry,
    epoch: Option<u64>,
) {
    let source = compile.source.display().to_string();
    let path = cmdline::absolute(cwd, &compile.object);
    let Some(cached) = store.read_output(object) else {
        return;
    };
    let mut cmd = Command::new(compiler);
    if let Some(e) = epoch {
        // The pinned epoch the result was made with.
        cmd.env("SOURCE_DATE_EPOCH", e.to_string());
    }
    let out = cmd
        .args(cmdline::prefix_map_args(map))
        .args(&compile.run_args)
        .stdin(Stdio::null())
        .output();
    let fresh = match out {
        Ok(o) if o.status.success() => fs::read(&path).ok(),
        _ => None,
    };
    let Some(fresh) = fresh else {
        warn(&format!(
            "--verify: the fresh compile of {source} failed; kept the cached object"
        ));
        let _ = store.place(object, &path);
        return;
    };
    if fresh != cached {
        let offset = fresh
            .iter()
            .zip(&cached)
            .position(|(a, b)| a != b)
            .unwrap_or(fresh.len().min(cached.len()));
        eprintln!(
            "gocache: nondeterministic: {} (from {source}) differs from the cached result at byte {offset} \
             ({} bytes fresh, {} cached)",
            path.display(),
            fresh.len(),
            cached.len()
        );
        let mut e = Event::new(Outcome::Nondeterministic(offset as u64), source);
        e.action = Some(object.action);
        stats::record(store, &e);
    }
}

/// The stored header list as the caller's depfile lists it: system headers
/// dropped for `-MMD`, paths back in this build's directories.
fn deps_for_caller(deps: &str, system_headers: bool, map: &PathMap) -> Vec<String> {
    deps.lines()
        .filter_map(|l| l.split_once(' '))
        .filter(|(kind, _)| system_headers || *kind != "s")
        .map(|(_, p)| {
            if p.starts_with('/') {
                map.unmap(p).display().to_string()
            } else {
                p.to_string()
            }
        })
        .collect()
}

fn replay(stdout: &[u8], stderr: &[u8]) {
    // Best effort: a closed stdout must not fail the build.
    let _ = std::io::stdout().write_all(stdout);
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().write_all(stderr);
}

struct Miss<'a> {
    /// The compile, as its lookup saw it.
    at: Job<'a>,
    /// Why the lookup missed, for the event.
    why: MissReason,
    /// The files the manifest's header sets list: stamped before the compile.
    known: Vec<PathBuf>,
    args: &'a [OsString],
    /// Plain assembly: no depfile, these inputs instead.
    asm: Option<&'a super::asm::AsmInputs>,
    /// `time-macros = "pin"`: the `SOURCE_DATE_EPOCH` to compile with.
    pin: Option<u64>,
    /// The `-D`s gcc said the lookup's compile did not use (see
    /// `Job::resolve_values_aside`): for `explain` only, the key keeping their values
    /// unless this miss asks again.
    unused_asked: Vec<String>,
}

/// Make what a compile run beside an observation read seen by it, as a
/// superset: every file the depfile lists `stat`'ed (the observer then
/// keys its content), and every directory the preprocessor searched, or
/// that holds a file it read, listed (a header added there could shadow
/// one it found).
///
/// Told to the observing process in one request (no ptrace stop per file
/// and per directory entry); done here if it cannot be told.
fn surface_reads(files: &[PathBuf], search: &manifest::SearchPath) {
    let mut dirs: Vec<PathBuf> = files
        .iter()
        .filter_map(|f| f.parent())
        .chain(search.dirs.iter().map(PathBuf::as_path))
        .map(Path::to_path_buf)
        .collect();
    dirs.sort();
    dirs.dedup();
    if !crate::observe::seen_beside(files, &dirs) {
        for f in files {
            let _ = fs::metadata(f);
        }
        for d in &dirs {
            if let Ok(rd) = fs::read_dir(d) {
                for _ in rd {}
            }
        }
    }
    crate::observe::compile_surfaced();
}

/// The disk for a manifest lookup inside an observed build script: file
/// hashes through the memo, every probe of every entry answered in one
/// request beforehand (`crate::direct::manifest::probe_many`).
struct BesideDisk<'m> {
    memo: &'m mut FileMemo,
    probes: std::collections::HashMap<PathBuf, bool>,
    /// Every entry's files, hashed by the observing process beforehand
    /// (`None`: unreadable or not a file).
    hashes: std::collections::HashMap<PathBuf, Option<String>>,
}

impl<'m> BesideDisk<'m> {
    fn prefetch(m: &Manifest, map: &PathMap, memo: &'m mut FileMemo) -> BesideDisk<'m> {
        let mut paths: Vec<PathBuf> = m
            .entries
            .iter()
            .flat_map(|e| e.probes.iter().map(|(p, _)| map.unmap(p)))
            .collect();
        paths.sort();
        paths.dedup();
        let answers = manifest::probe_many(&paths);
        let mut files: Vec<PathBuf> = m
            .entries
            .iter()
            .flat_map(|e| e.files.iter().map(|(p, _)| map.unmap(p)))
            .filter(|p| p.is_absolute())
            .collect();
        files.sort();
        files.dedup();
        let hashes = crate::observe::facts_beside(&files, &[])
            .map(|facts| {
                files
                    .into_iter()
                    .zip(facts)
                    .map(|(p, f)| {
                        let ok = f.state == manifest::FactState::File;
                        (p, ok.then_some(f.hash))
                    })
                    .collect()
            })
            .unwrap_or_default();
        BesideDisk {
            memo,
            probes: paths.into_iter().zip(answers).collect(),
            hashes,
        }
    }
}

impl manifest::Disk for BesideDisk<'_> {
    fn hash(&mut self, path: &Path) -> Option<String> {
        match self.hashes.get(path) {
            Some(known) => known.clone(),
            None => self.memo.hash(path),
        }
    }

    fn is_file(&mut self, path: &Path) -> bool {
        match self.probes.get(path) {
            Some(&known) => known,
            None => manifest::probe_present(path),
        }
    }
}

/// A dependency run (`gcc -MM a.c`, as jemalloc's make runs beside each
/// compile) inside an observed build script: not cached, but a full
/// preprocessing, thousands of ptrace stops. Run beside the observation
/// (see crate::observe::delegate), then made seen: a second run beside
/// with `-M` lists every file the preprocessing read (`-MM` leaves the
/// system headers out), each `stat`'ed here, and every directory searched
/// is listed. `None`: run it here instead (nothing was shown; a failed
/// run, an option that changes the search this does not follow).
fn dependency_run_beside(
    store: &Store,
    compiler: &Path,
    args: &[OsString],
    cwd: &Path,
) -> Option<i32> {
    // The compile this preprocessing belongs to: the dependency options
    // out, `-c` in, for its search path.
    let mut rest: Vec<OsString> = Vec::with_capacity(args.len() + 3);
    let mut outputs: Vec<PathBuf> = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let s = a.to_string_lossy();
        match s.as_ref() {
            "-M" | "-MM" | "-MP" | "-MD" | "-MMD" => {}
            "-MT" | "-MQ" => {
                it.next()?;
            }
            "-MF" | "-o" => outputs.push(PathBuf::from(it.next()?)),
            _ if s.starts_with('@') || s == "-MG" => return None,
            _ if s.starts_with("-MT") || s.starts_with("-MQ") => {}
            _ if s.starts_with("-MF") => outputs.push(PathBuf::from(&s[3..])),
            _ if s.starts_with("-o") => outputs.push(PathBuf::from(&s[2..])),
            _ => rest.push(a.clone()),
        }
    }
    rest.extend(["-c".into(), "-o".into(), "/dev/null".into()]);
    let c = cmdline::parse(&rest, cwd).ok()?;
    let identity = compiler::identify(Some(store), compiler).ok()?;
    let sysdirs = c.system_dirs(Some(store), compiler, &identity).ok()?;
    let search = c.search_path(cwd, &sysdirs);

    let mut cmd = Command::new(compiler);
    cmd.args(args);
    let (out, delegated) = crate::observe::compile_output(&mut cmd, true).ok()?;
    if !delegated || !out.status.success() {
        return None;
    }
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos();
    let temp =
        TempFile(std::env::temp_dir().join(format!(".gocache-{}-{nanos:x}.M", std::process::id())));
    let mut full = Command::new(compiler);
    full.args(c.preprocess_args())
        .args(["-E", "-o", "/dev/null", "-M", "-MF"])
        .arg(&temp.0);
    let (all, _) = crate::observe::compile_output(&mut full, false).ok()?;
    if !all.status.success() {
        return None;
    }
    let text = fs::read_to_string(&temp.0).ok()?;
    let dep = crate::direct::depfile::parse(&text)?;
    let files: Vec<PathBuf> = dep
        .prerequisites
        .iter()
        .map(|p| cmdline::absolute(cwd, p))
        .collect();
    surface_reads(&files, &search);
    for o in &outputs {
        crate::observe::compile_wrote(&cmdline::absolute(cwd, o));
    }
    replay(&out.stdout, &out.stderr);
    Some(super::exit_code(&out.status))
}

/// Removes the temporary depfile however the miss ends.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

impl Miss<'_> {
    fn run(&self, compiled: &Cell<Option<i32>>) -> Result<Step> {
        let c = self.at.compile;
        // The depfile we ask for must not be what fails the compile: it is
        // created here first, in the temporary directory or else beside
        // the object; if neither can be written the compile is not cached.
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .subsec_nanos();
        let name = format!(".gocache-{}-{nanos:x}.d", std::process::id());
        let object_dir = cmdline::absolute(self.at.cwd, &c.object)
            .parent()
            .map(Path::to_path_buf);
        let Some(temp) = std::iter::once(std::env::temp_dir())
            .chain(object_dir)
            .map(|d| d.join(&name))
            .find(|p| fs::File::create_new(p).is_ok())
            .map(TempFile)
        else {
            let e = Event::new(
                Outcome::Uncacheable("no-temp-dir".into()),
                c.source.display().to_string(),
            );
            stats::record(self.at.store, &e);
            return Ok(Step::PassThrough);
        };
        // Full stamps of every input known now (the source, the headers
        // the manifest lists), compared after the compile (see
        // crate::direct::stamp); and the source must still be what the
        // pre-key hashed, or the object would be stored under a stale hash.
        let source_path = cmdline::absolute(self.at.cwd, &c.source);
        let before = stamp::Before::take(
            std::iter::once(source_path.clone()).chain(self.known.iter().cloned()),
            temp.0.parent(),
        );
        let held: Vec<(PathBuf, String)> = self
            .source_hash()
            .filter(|want| {
                crate::direct::manifest::Disk::hash(
                    &mut crate::direct::manifest::RealDisk,
                    &source_path,
                )
                .is_some_and(|got| got == *want)
            })
            .map(|want| (source_path.clone(), want))
            .into_iter()
            .collect();
        let source_held = !held.is_empty();
        let started = before.started();
        let clock = Instant::now();
        // `-Wdate-time` makes the compiler say when it expands `__DATE__`,
        // `__TIME__` or `__TIMESTAMP__`, however spelled (pasted, spliced);
        // if it does, the compile is run again untouched, so the caller
        // sees its own diagnostics. (`-w` silences it: the text scan stays.)
        // With `SOURCE_DATE_EPOCH` (or the pin) the macros are fixed.
        let date_time_check = self.asm.is_none()
            && self.pin.is_none()
            && !Compile::source_date_epoch()
            && !c.run_args.iter().any(|a| a == "-w");
        let mut cmd = Command::new(self.at.compiler);
        cmd.args(cmdline::prefix_map_args(self.at.map))
            .args(&c.run_args);
        if date_time_check {
            cmd.args(["-Wdate-time", "-Wno-error=date-time"]);
        }
        if self.asm.is_none() {
            cmd.arg("-MD").arg("-MF").arg(&temp.0);
        }
        if let Some(epoch) = self.pin {
            cmd.env("SOURCE_DATE_EPOCH", epoch.to_string());
        }
        // Inside an observed build script, beside the observation (see
        // crate::observe::delegate): what it read is made seen below.
        let (out, delegated) = crate::observe::compile_output(&mut cmd, true)
            .with_context(|| format!("failed to run {}", self.at.compiler.display()))?;
        phase("compiled");
        let secs = clock.elapsed().as_secs_f64();
        let code = super::exit_code(&out.status);
        let source = c.source.display().to_string();
        if date_time_check && String::from_utf8_lossy(&out.stderr).contains("-Wdate-time") {
            let e = Event::new(Outcome::Uncacheable("time-macros".into()), source);
            stats::record(self.at.store, &e);
            return Ok(Step::PassThrough);
        }
        if code != 0 {
            let mut e = Event::new(Outcome::Uncacheable("compile-error".into()), source);
            e.spent_secs = secs;
            stats::record(self.at.store, &e);
            if delegated {
                // What a failed compile read is nowhere written down: it
                // runs again inside the observation, which sees it, and
                // its caller sees that run (a configure probe that fails
                // costs two small compiles).
                return Ok(Step::PassThrough);
            }
            compiled.set(Some(code));
            replay(&out.stdout, &out.stderr);
            return Ok(Step::Exit(code));
        }

        // The caller's depfile comes first: it is owed even if the result
        // cannot be cached.
        let prerequisites = match self.asm {
            // The assembler's inputs are in the pre-key, and observed below
            // for changes during the compile; the record lists the source.
            Some(_) => vec![c.source.clone()],
            None => {
                let text = fs::read_to_string(&temp.0)
                    .with_context(|| format!("failed to read {}", temp.0.display()))?;
                let dep = crate::direct::depfile::parse(&text)
                    .ok_or_else(|| anyhow!("failed to parse the depfile {}", temp.0.display()))?;
                if dep.prerequisites.is_empty() {
                    bail!("the depfile {} lists no source", temp.0.display());
                }
                dep.prerequisites
            }
        };
        // Without the compiler's own search list the probes would be
        // incomplete: then the result is not cached (below), and every
        // header counts as a user header in the caller's depfile (a longer
        // -MMD list is harmless; a shorter one would not be).
        let sysdirs = match self.asm {
            // No preprocessor, no include search.
            Some(_) => Ok(Vec::new()),
            None => c.system_dirs(Some(self.at.store), self.at.compiler, self.at.identity),
        };
        let (sysdirs, search_known) = match sysdirs {
            Ok(dirs) => (dirs, true),
            Err(_) => (Vec::new(), false),
        };
        let search = c.search_path(self.at.cwd, &sysdirs);
        let system_headers = SystemHeaders::new(c, self.at.cwd, &sysdirs);
        let read: Vec<PathBuf> = prerequisites
            .iter()
            .map(|p| cmdline::absolute(self.at.cwd, p))
            .collect();
        let mut files = read.clone();
        if let Some(asm) = self.asm {
            // Only to see that none changed while the compile ran.
            files.extend(asm.files.iter().cloned());
        }
        // Every `-D` name whose value may stay out of the key: the files
        // read are searched for them.
        let macro_candidates = c.macro_candidates(self.at.identity);
        let opts = ObserveOptions {
            started,
            // The source, stamped then read before the compile: written in
            // this compile's tick (configure's conftest.c) is no change.
            held: &held,
            // A user's SOURCE_DATE_EPOCH fixes the time macros only for a
            // compiler that reads it: clang 14 ignores it, and caching its
            // `__TIME__` would serve a stale one.
            source_date_epoch: (Compile::source_date_epoch()
                && honours_source_date_epoch(&self.at.identity.version))
                || self.pin.is_some(),
            assembler_inputs_known: self.asm.is_some(),
            macro_candidates: &macro_candidates,
        };
        // What the compile read, hashed and scanned (and its probes), now:
        // the scan also tells whether gcc's `-MMD` list can be had without
        // asking gcc (`SystemHeaders::user_list`). Without the search list
        // nothing is cached.
        let observed = if !search_known {
            None
        } else if source_held {
            Some(
                manifest::observe_includes(&files, &search, self.at.map, opts)
                    .and_then(|o| before.check(&files).map(|()| o)),
            )
        } else {
            Some(Err(manifest::NotCacheable::ModifiedDuringCompile(
                source_path.clone(),
            )))
        };
        phase("observed");
        // `-MMD`'s list is gcc's to decide (a header included by a system
        // header is a system one too, which no depfile shows): read off
        // the text where that cannot happen, else asked of gcc. The one
        // preprocessing run that asks also says which `-D`s the compile
        // used (see crate::cmdline::macros); where no run is needed, the
        // entry keeps every value and a lookup with other values asks gcc
        // then (`resolve_values_aside`): a cold build pays nothing for a
        // second checkout it may never have.
        let user_only = c.dep.as_ref().filter(|d| !d.system_headers);
        let want_user_headers = user_only.is_some() && search_known;
        let derived = match &observed {
            Some(Ok((_, _, includes))) if want_user_headers && self.asm.is_none() => {
                system_headers.user_list(&read, &includes[..read.len()])
            }
            _ => None,
        };
        let mut unused_macros: Vec<String> = Vec::new();
        let user_headers = if !want_user_headers {
            None
        } else if derived.is_some() {
            derived
        } else if macro_candidates.is_empty() {
            self.user_headers(&temp.0)
        } else {
            let mmd = TempFile(temp.0.with_extension("mmd"));
            let extra: Vec<OsString> =
                vec!["-MMD".into(), "-MF".into(), mmd.0.clone().into_os_string()];
            unused_macros = c.unused_macros(
                self.at.compiler,
                &cmdline::prefix_map_args(self.at.map),
                &extra,
                &macro_candidates,
            );
            self.read_user_headers(&mmd.0)
        };
        // gcc hands plain assembly's `-D`s to nothing (see
        // `Compile::unused_macros`): no run needed to know.
        if self.asm.is_some() {
            unused_macros = macro_candidates.clone();
        }
        let (search_known, user_headers) = match (user_only, user_headers) {
            (Some(_), None) => (false, None),
            (_, u) => (search_known, u),
        };
        phase("preprocessed");
        let mut deps = String::new();
        for (p, abs) in prerequisites.iter().zip(&read) {
            let system = match &user_headers {
                Some(user) => !user.contains(abs),
                None => system_headers.contains(abs),
            };
            let shown = if p.is_absolute() {
                self.at.map.map(p)
            } else {
                p.display().to_string()
            };
            deps.push_str(if system { "s " } else { "u " });
            deps.push_str(&shown);
            deps.push('\n');
        }
        if let Some(req) = &c.dep {
            let prerequisites = deps_for_caller(&deps, req.system_headers, self.at.map);
            let text = cmdline::render_depfile(req, &c.object, &prerequisites);
            let path = cmdline::absolute(self.at.cwd, &req.path);
            // Not cached or not, the caller asked for this file: failing to
            // write it is the compile's failure, as it would be for gcc.
            if let Err(e) = write_file_atomic(&path, text.as_bytes()) {
                replay(&out.stdout, &out.stderr);
                eprintln!("gocache: error: {e}");
                compiled.set(Some(1));
                return Ok(Step::Exit(1));
            }
        }
        // From here the compile is done as the caller asked: a fault below
        // costs only the caching, and the output is shown once. (A fault
        // above reruns the compiler untouched, before anything was shown.)
        compiled.set(Some(code));
        if let Some(r) = super::rerun::reporter(self.at.store) {
            r.report(self.at.cwd, &c.source, &prerequisites);
        }
        replay(&out.stdout, &out.stderr);

        // A result not cached below: its reads, made seen as a superset
        // (every file the depfile lists, every directory searched listed).
        // Without the search list they cannot be: the run is refused
        // (`unobserved-compile`) when this process exits.
        let surface = |files: &[PathBuf]| {
            if delegated && search_known {
                surface_reads(files, &search);
            }
        };
        // The `-D`s `explain` may call unused: this miss's, or else the
        // lookup's (see `Job::resolve_values_aside`).
        let explain_unused: Vec<String>;
        let observed = match observed.filter(|_| search_known) {
            None => {
                let mut e = Event::new(Outcome::Uncacheable("unknown-search-path".into()), source);
                e.spent_secs = secs;
                stats::record(self.at.store, &e);
                return Ok(Step::Exit(0));
            }
            Some(Ok((mut o, named, _))) => {
                // Every file read and every probe was hashed or stat'ed
                // above, in this process.
                crate::observe::compile_surfaced();
                // A name a file spells may be redefined there.
                unused_macros.retain(|n| !named.contains(n));
                if c.macro_names_keyed(self.at.identity) {
                    o.macros = cmdline::macros::kept(&c.macros, &unused_macros);
                }
                explain_unused = if unused_macros.is_empty() {
                    let asked = self.unused_asked.iter();
                    asked.filter(|n| !named.contains(n)).cloned().collect()
                } else {
                    unused_macros.clone()
                };
                o
            }
            Some(Err(nc)) => {
                surface(&files);
                // Name the file that holds the time macros when it is a
                // header: `cargo gocache` lists them with the way to opt in.
                let source = match &nc {
                    manifest::NotCacheable::TimeMacros(f) if files.first() != Some(f) => {
                        format!("{source} (via {})", f.display())
                    }
                    _ => source,
                };
                let mut e = Event::new(Outcome::Uncacheable(nc.reason().into()), source);
                e.spent_secs = secs;
                stats::record(self.at.store, &e);
                return Ok(Step::Exit(0));
            }
        };
        let outputs = super::diagnostics::store_form(&out.stdout, self.at.map)
            .zip(super::diagnostics::store_form(&out.stderr, self.at.map));
        let Some((stdout, stderr)) = outputs else {
            let why = Outcome::Uncacheable("output-not-relocatable".into());
            let mut e = Event::new(why, source);
            e.spent_secs = secs;
            stats::record(self.at.store, &e);
            return Ok(Step::Exit(0));
        };
        let final_key = observed.key(&self.at.pre_id);
        let final_id = final_key.id();
        let object_path = cmdline::absolute(self.at.cwd, &c.object);
        // A compiler that exits 0 without writing its object (an option that
        // makes it print and stop, like `-Wa,--help`) did what its caller
        // asked: nothing to cache, and not a fault of the cache.
        if delegated {
            crate::observe::compile_wrote(&object_path);
        }
        let object = match fs::read(&object_path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let mut e = Event::new(Outcome::Uncacheable("no-object".into()), source);
                e.spent_secs = secs;
                stats::record(self.at.store, &e);
                return Ok(Step::Exit(0));
            }
            Err(e) => {
                return Err(e).with_context(|| format!("failed to read {}", object_path.display()));
            }
        };
        let put = |bytes: &[u8]| -> Result<(OutputId, u64)> {
            Ok((self.at.store.put_output(bytes)?, bytes.len() as u64))
        };
        let record = Record {
            secs,
            object: put(&object)?,
            stdout: put(&stdout)?,
            stderr: put(&stderr)?,
            deps: put(deps.as_bytes())?,
            epoch: self.pin,
        };
        // The record before the manifest entry that leads to it.
        self.at.store.put(&final_id, record.render().as_bytes())?;
        phase("stored");
        // Learn the stamps now, so the first hit is already a steady one
        // (for files old enough to trust; a fresh edit waits for a hit).
        let just_this = Manifest {
            entries: vec![observed.clone()],
        };
        Manifest::add_and_save(self.at.store, &self.at.pre_id, observed)?;
        // Not inside an observed build script: there every `stat` is a
        // ptrace stop, and learning stamps stats every probe a second
        // time (about 1,500 for a zstd source); the first hit learns them.
        // Nor for a source in the build script's `OUT_DIR` (openssl-src
        // and jemalloc copy their tree there): `cargo clean` removes it,
        // so its files' stamps (inode, ctime) never come back, and the
        // learning (20 ms of an openssl miss, a probe check of its own)
        // would only slow the cold build.
        let in_out_dir = crate::env::var("OUT_DIR")
            .filter(|d| Path::new(d).is_absolute())
            .is_some_and(|d| cmdline::absolute(self.at.cwd, &c.source).starts_with(d));
        if !crate::observe::compiles_beside() && !in_out_dir {
            self.learn_stamps(&just_this, final_id, &files, started);
        }
        // The key's lines, headed by the object they make, for `explain`.
        let inputs = key_inputs_record(
            c,
            self.at.cwd,
            self.at.map,
            self.at.pre,
            &final_key,
            &explain_unused,
        );
        self.at.store.put_key_inputs(&final_id, &inputs)?;
        let object_name = crate::stats::explain::compile_object(
            &self.at.map.map(&cmdline::absolute(self.at.cwd, &c.source)),
            &self.at.map.map(&object_path),
        );
        crate::stats::explain::note_miss(self.at.store, &object_name, &final_id);
        phase("stamps-learned");
        let mut e = Event::miss(self.why, source);
        e.spent_secs = secs;
        e.action = Some(final_id);
        stats::record(self.at.store, &e);
        Ok(Step::Exit(0))
    }
}

impl Miss<'_> {
    /// The source's hash as the pre-key has it.
    fn source_hash(&self) -> Option<String> {
        self.at
            .pre
            .lines()
            .iter()
            .rev()
            .find_map(|l| match KeyLine::parse(l)? {
                KeyLine::Source { hash, .. } => Some(hash),
                _ => None,
            })
    }

    /// The files a `-MMD` depfile lists for this compile, as gcc decides
    /// (absolute): the compile's preprocessing run again with `-E -MMD`
    /// into `beside` + `.mmd`. Only for a miss whose caller asked for
    /// `-MMD` (the pre-key tells those apart, so a hit replays the list
    /// such a miss made). `None` if that fails.
    fn user_headers(&self, beside: &Path) -> Option<Vec<PathBuf>> {
        let c = self.at.compile;
        let temp = TempFile(beside.with_extension("mmd"));
        // The object's `-o`, dropped: `-E` writes to /dev/null instead.
        let mut cmd = Command::new(self.at.compiler);
        cmd.args(cmdline::prefix_map_args(self.at.map))
            .args(c.preprocess_args())
            .args(["-E", "-o", "/dev/null", "-MMD", "-MF"])
            .arg(&temp.0);
        // Its reads are the compile's (the same preprocessing).
        let (out, _) = crate::observe::compile_output(&mut cmd, false).ok()?;
        if !out.status.success() {
            return None;
        }
        self.read_user_headers(&temp.0)
    }

    /// The files of a `-MMD` depfile at `path`, absolute.
    fn read_user_headers(&self, path: &Path) -> Option<Vec<PathBuf>> {
        let text = fs::read_to_string(path).ok()?;
        let dep = crate::direct::depfile::parse(&text)?;
        Some(
            dep.prerequisites
                .iter()
                .map(|p| cmdline::absolute(self.at.cwd, p))
                .collect(),
        )
    }

    /// Best effort: look the new result up through the memo, which records
    /// the stamps, and keep the snapshot. The files were hashed just now
    /// (`read`, in the manifest entry's order): a file whose last change
    /// is older than the compile's start (`started`, less the racy margin
    /// the memo uses) is the content that was hashed, so it is not read
    /// again; a younger one is.
    fn learn_stamps(
        &self,
        manifest: &Manifest,
        final_id: ActionId,
        read: &[PathBuf],
        started: SystemTime,
    ) {
        let memo_key =
            filememo::memo_key_mapped(self.at.cwd, self.at.compiler, self.args, self.at.map);
        let mut memo = FileMemo::load(self.at.store, &memo_key);
        if let Some(entry) = manifest.entries.first() {
            let settled_before = started
                .checked_sub(filememo::RACY)
                .map(crate::direct::scan::ns_since_epoch);
            for (path, (_, hash)) in read.iter().zip(&entry.files) {
                let Ok(meta) = fs::metadata(path) else {
                    continue;
                };
                // Its last change, content or status.
                let s = crate::direct::stamp::Stamp::of_meta(&meta);
                if settled_before.is_some_and(|limit| s.mtime_ns.max(s.ctime_ns) < limit) {
                    memo.seed_this_run(path, &meta, hash.clone());
                }
            }
        }
        memo.hash(&cmdline::absolute(self.at.cwd, &self.at.compile.source));
        let found = manifest.find_with(
            self.at.store,
            &self.at.pre_id,
            self.at.map,
            &mut memo,
            &self.at.compile.macro_values(),
        );
        let _ = memo.save_if_changed(self.at.store, &memo_key);
        if found.is_some_and(|(id, _, _)| id == final_id) {
            if let Some(snap) = memo.snapshot(self.at.pre_id, final_id) {
                let _ = snap.save(self.at.store, &filememo::snapshot_key(&memo_key));
            }
        }
    }
}

/// The headers `-MMD` leaves out of the depfile: those gcc found in a
/// system directory (`-isystem`, the compiler's own, `-idirafter`).
///
/// `CPATH` directories show in the compiler's own list but are searched as
/// `-I` ones are, so their headers are user headers. A header under a user
/// directory (`-iquote`, `-I`, `CPATH`) counts as a user one even when a
/// system directory holds it too (`-I s/sub` below `-isystem s`): listing
/// a header gcc would leave out is harmless to make, leaving out one it
/// lists is not. gcc ignores `-I` of a system directory itself, and so do
/// we. The source is always listed.
struct SystemHeaders {
    system: Vec<PathBuf>,
    user: Vec<PathBuf>,
    source: PathBuf,
    /// `-include` or `-imacros` files: see [`SystemHeaders::user_list`].
    forced: bool,
}

impl SystemHeaders {
    fn new(c: &Compile, cwd: &Path, sysdirs: &[PathBuf]) -> SystemHeaders {
        let abs = |d: &PathBuf| cmdline::absolute(cwd, d);
        // An empty element of CPATH is the working directory.
        let cpath: Vec<PathBuf> = crate::env::var_os("CPATH")
            .map(|v| {
                std::env::split_paths(&v)
                    .map(|d| {
                        if d.as_os_str().is_empty() {
                            ".".into()
                        } else {
                            d
                        }
                    })
                    .map(|d| abs(&d))
                    .collect()
            })
            .unwrap_or_default();
        let system: Vec<PathBuf> = c
            .isystem_dirs
            .iter()
            .chain(sysdirs)
            .chain(&c.after_dirs)
            .map(abs)
            .filter(|d| !cpath.contains(d))
            .collect();
        let user = c
            .quote_dirs
            .iter()
            .chain(&c.include_dirs)
            .map(abs)
            .chain(cpath)
            .filter(|d| !system.contains(d))
            .collect();
        SystemHeaders {
            system,
            user,
            source: abs(&c.source),
            forced: !c.forced_includes.is_empty(),
        }
    }

    /// gcc's `-MMD` list of a compile that read `files` (absolute, in the
    /// `-MD` list's order, the source first), told from their text
    /// (`includes`, in the same order) instead of a second preprocessing
    /// run: every file not in a system directory, in the same order.
    ///
    /// gcc leaves out a header found through a system directory, and every
    /// header first included while a system one is read (libcpp's
    /// `_cpp_stack_file`: a file inherits its includer's flag), or after
    /// `#pragma GCC system_header` or a linemarker flagged 3 in its
    /// includer. And it lists a header in a system directory named by an
    /// absolute path (`#include "/usr/include/zlib.h"`, `-include
    /// /usr/include/zlib.h`: no directory was searched). So `None` (ask
    /// gcc) when
    ///
    /// * a file is under a system directory and a user one (the one gcc
    ///   found it through decides), or the source is under a system one;
    /// * there are `-include` or `-imacros` files;
    /// * a user file may make itself a system header
    ///   ([`Includes::system_header`]);
    /// * a system file has an include directive whose file its text does
    ///   not name ([`Includes::unknown`]);
    /// * any file includes an absolute path;
    /// * a system file's include directive names a user header read: its
    ///   path ends with the directive's name (gcc makes a header's path
    ///   by joining the directory it searched and the name as written, so
    ///   any header it included ends so; it may have included it first).
    ///
    /// Otherwise no system header included a user one, and what gcc
    /// leaves out is exactly the files under system directories. gcc
    /// names a system header by its canonical path where that is shorter
    /// (`-fcanonical-system-headers`): the canonical spelling of each
    /// system directory counts as one too. A system header whose own
    /// symbolic link leads out of every system directory would still be
    /// listed here and not by gcc: a longer list, which costs a caller
    /// at most a needless rebuild, never a missed one.
    fn user_list(&self, files: &[PathBuf], includes: &[Includes]) -> Option<Vec<PathBuf>> {
        if self.forced || files.first() != Some(&self.source) {
            return None;
        }
        let canonical: Vec<PathBuf> = self
            .system
            .iter()
            .filter_map(|d| crate::fsutil::canonicalize_memo(d).ok())
            .filter(|c| !self.system.contains(c))
            .collect();
        let in_system = |f: &Path| {
            self.system
                .iter()
                .chain(&canonical)
                .any(|d| f.starts_with(d))
        };
        let in_user = |f: &Path| self.user.iter().any(|d| f.starts_with(d));
        // What system files include, as paths to compare by their last
        // components (`./` dropped: `Path` keeps only a leading one).
        let mut names_in_system: Vec<PathBuf> = Vec::new();
        let mut user = Vec::new();
        for (k, (f, inc)) in files.iter().zip(includes).enumerate() {
            if inc.names.iter().any(|n| n.starts_with('/')) {
                return None;
            }
            if !in_system(f) {
                if inc.system_header {
                    return None;
                }
                user.push(f.clone());
            } else if k == 0 || in_user(f) || inc.unknown {
                return None;
            } else {
                names_in_system.extend(inc.names.iter().map(|n| {
                    let p = Path::new(n).components();
                    p.filter(|c| *c != std::path::Component::CurDir).collect()
                }));
            }
        }
        if user
            .iter()
            .skip(1)
            .any(|f| names_in_system.iter().any(|n| f.ends_with(n)))
        {
            return None;
        }
        Some(user)
    }

    fn contains(&self, file: &Path) -> bool {
        file != self.source
            && self.system.iter().any(|d| file.starts_with(d))
            && !self.user.iter().any(|d| file.starts_with(d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_round_trips() {
        let r = Record {
            secs: 1.25,
            object: (OutputId::of(b"o"), 1),
            stdout: (OutputId::of(b""), 0),
            stderr: (OutputId::of(b"warning"), 7),
            deps: (OutputId::of(b"u a.c\n"), 6),
            epoch: None,
        };
        let p = Record::parse(&r.render()).unwrap();
        assert_eq!(
            (p.secs, p.object, p.stderr, p.deps, p.epoch),
            (1.25, r.object, r.stderr, r.deps, None)
        );
        assert!(Record::parse("gocache-result v1\nsecs x\n").is_none());
        let pinned = Record {
            epoch: Some(1_700_000_000),
            ..r
        };
        let p = Record::parse(&pinned.render()).unwrap();
        assert_eq!(p.epoch, Some(1_700_000_000));
    }

    #[test]
    fn which_compilers_honour_source_date_epoch() {
        assert!(honours_source_date_epoch("gcc (Debian 12.2.0-14) 12.2.0"));
        assert!(honours_source_date_epoch(
            "aarch64-linux-gnu-gcc (Debian 12.2.0-14) 12.2.0"
        ));
        assert!(!honours_source_date_epoch("gcc (GCC) 6.3.0"));
        assert!(!honours_source_date_epoch("Debian clang version 14.0.6"));
        assert!(honours_source_date_epoch(
            "Ubuntu clang version 16.0.6 (15)"
        ));
        assert!(honours_source_date_epoch("clang version 18.1.8"));
    }

    #[test]
    fn deps_unmapped_and_filtered() {
        let mut map = PathMap::new();
        map.add("/home/u/ws", "/gocache/workspace");
        let deps = "u src/a.c\ns /usr/include/stdio.h\nu /gocache/workspace/inc/x.h\n";
        assert_eq!(
            deps_for_caller(deps, true, &map),
            ["src/a.c", "/usr/include/stdio.h", "/home/u/ws/inc/x.h"]
        );
        assert_eq!(
            deps_for_caller(deps, false, &map),
            ["src/a.c", "/home/u/ws/inc/x.h"]
        );
    }

    /// `/usr/bin/gcc` and its identity, for the tests that check gocache
    /// against gcc itself (`tests/run.sh` installs it): a test that passes
    /// without its compiler proves nothing.
    fn system_gcc() -> (&'static Path, compiler::CompilerIdentity) {
        let gcc = Path::new("/usr/bin/gcc");
        assert!(
            gcc.exists(),
            "/usr/bin/gcc not found: run bash tests/run.sh to install"
        );
        (gcc, compiler::identify(None, gcc).unwrap())
    }

    /// Direct mode's probes against gcc itself: a header made anywhere
    /// gcc may look, after an entry was recorded, either breaks one of
    /// the entry's probes or leaves gcc's output as it was. Random include
    /// graphs over `-iquote`, `-I` and `-isystem` directories, their
    /// subdirectories and the source's own, with quoted, angle and
    /// `#include_next` directives, directives not taken, and a `-I` that
    /// gcc drops (another spelling of the `-isystem` directory, through a
    /// link). Then headers are made where none was, one at a time, under
    /// names the graph uses: where one changes what gcc reads and every
    /// probe still holds, the entry would be a wrong hit.
    #[test]
    fn a_header_made_where_gcc_looks_breaks_a_probe() {
        use crate::direct::manifest::{observe, ObserveOptions};
        let (gcc, identity) = system_gcc();
        let dir = tempfile::tempdir().unwrap();
        let (mut changed, mut needless, mut probes, mut cases) = (0, 0, 0, 0);
        // Header files: a directory and one of a few names each, so that
        // one name is often in two directories (what `#include_next` is for).
        const HEADERS: usize = 8;
        const NAMES: usize = 4;
        const DIRS: [&str; 4] = ["q", "u", "s", "src"];
        let name_of = |n: usize, sub: bool| {
            if sub {
                format!("sub/h{n}.h")
            } else {
                format!("h{n}.h")
            }
        };
        for seed in 0..150u64 {
            let mut next = crate::testing::picker(seed);
            let root = dir.path().join(seed.to_string());
            for d in DIRS {
                fs::create_dir_all(root.join(d).join("sub")).unwrap();
            }
            std::os::unix::fs::symlink(root.join("s"), root.join("s2")).unwrap();
            // Names included are mostly names some header has.
            let mut made: Vec<String> = Vec::new();
            let include = |next: &mut dyn FnMut(usize) -> usize, made: &[String]| -> String {
                let n = match made.len() {
                    0 => name_of(next(NAMES), next(4) == 0),
                    m if next(5) > 0 => made[next(m)].clone(),
                    _ => name_of(next(NAMES), next(4) == 0),
                };
                match next(10) {
                    0 | 1 => format!("#include <{n}>\n"),
                    2 => format!("#include_next <{n}>\n"),
                    3 => format!("#include_next \"{n}\"\n"),
                    4 => format!("#if 0\n#include \"{n}\"\n#endif\n"),
                    5 => "#include <stddef.h>\n".to_string(),
                    _ => format!("#include \"{n}\"\n"),
                }
            };
            let mut texts = Vec::new();
            for h in 0..HEADERS {
                let name = name_of(next(NAMES), next(4) == 0);
                let path = root.join(DIRS[next(DIRS.len())]).join(&name);
                if texts.iter().any(|(p, _)| *p == path) {
                    continue;
                }
                made.push(name);
                texts.push((path, h));
            }
            for (path, h) in &texts {
                let mut text = format!("#ifndef H{h}\n#define H{h}\n");
                for _ in 0..next(3) {
                    text.push_str(&include(&mut next, &made));
                }
                text.push_str(&format!("int v{h};\n#endif\n"));
                fs::write(path, text).unwrap();
            }
            // Two headers first, mostly: the first headers read are probed
            // the per-file way too (precompiled headers), which would hide
            // what the directives' probes miss.
            let mut source = String::new();
            if next(5) > 0 {
                source.push_str("#include <stddef.h>\n#include <stdarg.h>\n");
            }
            for _ in 0..1 + next(3) {
                source.push_str(&include(&mut next, &made));
            }
            fs::write(root.join("src/a.c"), source).unwrap();
            let mut args: Vec<String> = ["-iquote", "q", "-Iu", "-Isrc", "-isystem", "s"]
                .map(String::from)
                .to_vec();
            // A `-I` gcc drops: the `-isystem` directory again, as spelled
            // there or through a link; `-Iu` again.
            match next(4) {
                0 => args.insert(2, format!("-I{}", root.join("s2").display())),
                1 => args.insert(2, format!("-I{}", root.join("s").display())),
                _ => {}
            }
            if next(4) == 0 {
                args.push("-Iu".into());
            }
            let compile: Vec<OsString> = args
                .iter()
                .map(OsString::from)
                .chain(["-c", "src/a.c", "-o", "a.o"].map(OsString::from))
                .collect();
            args.extend(["-E", "src/a.c", "-o", "a.i", "-MD", "-MF", "a.d"].map(String::from));
            let preprocess = || -> Option<Vec<u8>> {
                let out = Command::new(gcc)
                    .args(&args)
                    .current_dir(&root)
                    .output()
                    .unwrap();
                out.status
                    .success()
                    .then(|| fs::read(root.join("a.i")).unwrap())
            };
            let Some(before) = preprocess() else {
                continue;
            };
            let text = fs::read_to_string(root.join("a.d")).unwrap();
            let files: Vec<PathBuf> = crate::direct::depfile::parse(&text)
                .unwrap()
                .prerequisites
                .iter()
                .map(|p| cmdline::absolute(&root, p))
                .collect();
            let c = cmdline::parse(&compile, &root).unwrap();
            let sysdirs = c.system_dirs(None, gcc, &identity).unwrap();
            let search = c.search_path(&root, &sysdirs);
            let opts = ObserveOptions {
                started: std::time::SystemTime::now() + std::time::Duration::from_secs(60),
                held: &[],
                source_date_epoch: false,
                assembler_inputs_known: false,
                macro_candidates: &[],
            };
            let obs = observe(&files, &search, &PathMap::new(), opts).unwrap();
            probes += obs.probes.len();
            cases += 1;
            for _ in 0..24 {
                let d = [
                    "q", "u", "s", "src", "q/sub", "u/sub", "s/sub", "src/sub", "",
                ][next(9)];
                let p = root.join(d).join(format!("h{}.h", next(NAMES)));
                if p.exists() {
                    continue;
                }
                fs::write(&p, "int intruder;\n").unwrap();
                let holds = obs
                    .probes
                    .iter()
                    .all(|(path, present)| Path::new(path).exists() == *present);
                let after = preprocess();
                fs::remove_file(&p).unwrap();
                if after.as_ref() != Some(&before) {
                    assert!(
                        !holds,
                        "seed {seed}: {} changes gcc's output, and every probe holds",
                        p.display()
                    );
                    changed += 1;
                } else if !holds {
                    needless += 1;
                }
            }
        }
        eprintln!("{cases} graphs, {probes} probes; {changed} headers made changed gcc's output, {needless} did not and missed");
        assert!(
            cases > 70 && changed > 60,
            "{cases} graphs, {changed} changed"
        );
    }

    /// `SystemHeaders::user_list` against gcc itself. Random include
    /// graphs between a user directory (`-I`), a system one (`-isystem`)
    /// and the source's own: system headers that include user ones,
    /// `#pragma GCC system_header`, linemarkers, computed and absolute
    /// includes, `-include`, real system headers. Every list it gives must
    /// be gcc's `-MMD` list exactly, and it must give one for a good share
    /// of the graphs (and refuse a good share: the refusals are tested too).
    #[test]
    fn user_headers_without_a_pass_match_gccs() {
        let (gcc, identity) = system_gcc();
        let dir = tempfile::tempdir().unwrap();
        let (mut given, mut refused) = (0, 0);
        const HEADERS: usize = 8;
        for seed in 0..300u64 {
            let mut next = crate::testing::picker(seed);
            let root = dir.path().join(seed.to_string());
            for d in ["u", "s", "src"] {
                fs::create_dir_all(root.join(d)).unwrap();
            }
            let place: Vec<&str> = (0..HEADERS).map(|_| ["u", "s", "src"][next(3)]).collect();
            let path_of = |h: usize| root.join(place[h]).join(format!("h{h}.h"));
            let include = |next: &mut dyn FnMut(usize) -> usize| -> String {
                let h = next(HEADERS);
                match next(20) {
                    0 | 1 => format!("#define INC{h} \"h{h}.h\"\n#include INC{h}\n"),
                    2 | 3 => format!("#include \"{}\"\n", path_of(h).display()),
                    4 => "#include <stddef.h>\n".to_string(),
                    5 => "# 1 \"x.h\" 3\n".to_string(),
                    6..=10 => format!("#include <h{h}.h>\n"),
                    11 => format!("#include \"./h{h}.h\"\n"),
                    _ => format!("#include \"h{h}.h\"\n"),
                }
            };
            for h in 0..HEADERS {
                let mut text = format!("#ifndef H{h}\n#define H{h}\n");
                if next(12) == 0 {
                    text.push_str("#pragma GCC system_header\n");
                }
                for _ in 0..next(3) {
                    text.push_str(&include(&mut next));
                }
                text.push_str(&format!("int v{h};\n#endif\n"));
                fs::write(path_of(h), text).unwrap();
            }
            let mut source = String::new();
            for _ in 0..1 + next(3) {
                source.push_str(&include(&mut next));
            }
            source.push_str("int main(void) { return 0; }\n");
            fs::write(root.join("src/a.c"), source).unwrap();
            let mut args: Vec<String> = [
                "-Iu", "-Isrc", "-isystem", "s", "-c", "src/a.c", "-o", "a.o",
            ]
            .map(String::from)
            .to_vec();
            match next(10) {
                0 => args.extend(["-include".to_string(), format!("h{}.h", next(HEADERS))]),
                1 => {
                    let h = path_of(next(HEADERS));
                    args.extend(["-include".to_string(), h.display().to_string()]);
                }
                _ => {}
            }
            let depfile = |flag: &str, name: &str| -> Option<Vec<PathBuf>> {
                let out = Command::new(gcc)
                    .args(&args)
                    .args([flag, "-MF", name])
                    .current_dir(&root)
                    .output()
                    .unwrap();
                if !out.status.success() {
                    return None;
                }
                let text = fs::read_to_string(root.join(name)).unwrap();
                let dep = crate::direct::depfile::parse(&text).unwrap();
                Some(
                    dep.prerequisites
                        .iter()
                        .map(|p| cmdline::absolute(&root, p))
                        .collect(),
                )
            };
            // A graph gcc rejects (a missing name from a wrong guess of
            // the search order) is no case.
            let (Some(all), Some(gccs)) = (depfile("-MD", "all.d"), depfile("-MMD", "user.d"))
            else {
                continue;
            };
            let os: Vec<OsString> = args.iter().map(OsString::from).collect();
            let c = cmdline::parse(&os, &root).unwrap();
            let sysdirs = c.system_dirs(None, gcc, &identity).unwrap();
            let headers = SystemHeaders::new(&c, &root, &sysdirs);
            let includes: Vec<Includes> = all
                .iter()
                .map(|f| {
                    let s = crate::direct::scan::FileFacts::of(f, &[]).scan;
                    Includes {
                        names: s.include_names,
                        kinds: s.include_kinds,
                        unknown: s.include_unknown,
                        system_header: s.system_header,
                    }
                })
                .collect();
            match headers.user_list(&all, &includes) {
                Some(list) => {
                    assert_eq!(list, gccs, "seed {seed}");
                    given += 1;
                }
                None => refused += 1,
            }
        }
        eprintln!("given {given}, refused {refused}");
        assert!(
            given > 50 && refused > 50,
            "given {given}, refused {refused}"
        );
    }
}
