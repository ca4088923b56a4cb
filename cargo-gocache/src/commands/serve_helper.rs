//! `cargo-gocache gocache serve-helper` (hidden): the cache side of the
//! build.rs helper (`gocache_build::CachedBuild`). The helper in a build
//! script is a thin client: it runs this command once per library, keeps
//! it alive across the compile, and speaks the helper protocol with it over
//! stdin and stdout (documented with the client, in gocache-build's
//! `src/helper.rs`; messages in `gocache_build::protocol`).
//! Here is what the helper did in-process before: the key, the manifest
//! lookup, placing a hit, and after cc's compile the headers from the
//! depfiles, the build ID, the store, the explain record and the stats.
//!
//! The server inherits the build script's environment and working
//! directory, so it reads what a wrapped compile in that build script
//! would (the relocation roots, the key's variables, the settings), and
//! reaches the remote tier directly ([`crate::remote`]). Every variable it
//! reads goes back to the build script for `cargo:rerun-if-env-changed`
//! (`env::record_reads`): nothing here may print to stdout.
//!
//! # The key (what the archive's action ID covers)
//!
//! Each source goes through the compiler wrapper's own parser
//! ([`crate::cmdline::parse`]) as cc will compile it: cc's tool arguments,
//! then `-c SRC -o OBJ`. So the helper refuses what the wrapper refuses
//! (`-fprofile-use=`, `-B`, `-fplugin=` and the rest of the unsupported
//! options, given through `.flag()` or `CFLAGS`: the library is then
//! compiled by cc without the cache, counted with the reason), and hashes
//! what the wrapper hashes, by the same rules.
//!
//! | line | from |
//! | --- | --- |
//! | `gocache-archive v3` | a version salt |
//! | `lib NAME` | the library name |
//! | `toolenv K=V` | environment cc sets for the compiler (MSVC) |
//! | then, for every source sorted by mapped path, its compile's pre-key lines | [`crate::cmdline::Compile::key_lines`]: salt, `compiler`, `compiler-version`, `target`, `native` (when `-march=native`...), `lang`, `relocate`, `relocation`, `cwd`, `arg` (paths of search-path options mapped), `macro-arg` (with gcc, each `-D`/`-U` without its value; otherwise `-D` values are `arg` lines, hashed raw: the compiler copies them into the object as they are), `env` ([`crate::cmdline::KEY_ENV`]), `source HASH NAME` |
//!
//! That is the *pre-key*. It names a [`Manifest`] of the header sets seen
//! for it (all the sources' depfiles together, with the shadow probes of
//! each source's search path, the wrapper's, see [`crate::direct::manifest`]); the
//! matching set's lines complete the *final key*, whose short form is the
//! action part of the archive's build ID. With gcc the set also lists the
//! values of the `-D`s any source used (each source's preprocessing is
//! run with `-E -dU` after cc's compile, see [`crate::cmdline::macros`]),
//! so a library none of whose sources expands `-DDATADIR=<OUT_DIR>/x`
//! is shared by a second checkout, and one that does is not.
//!
//! Left out: the objects' names (not written into them); mtimes (never:
//! full stamps only decide whether the inputs held still during the
//! compile, see [`crate::direct::stamp`]); absolute paths of the package, `OUT_DIR`,
//! the workspace and the cargo home, where the wrapper's rule maps them:
//! the compile is given `-ffile-prefix-map` to the same stable names as
//! wrapped compiles ([`crate::cmdline::relocation_map`]), so the archive
//! names none of this machine's directories and a second checkout hits
//! with the very bytes it would have compiled. (Without that option, real
//! paths stay in keys.) `TARGET`, `PROFILE`, `OPT_LEVEL` and the like: cc
//! turns them into the compiler and arguments, which are hashed. The
//! archiver is left out too: it only packs the objects.
//!

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::archive::{self, short_action};
use crate::cmdline::{self, Compile};
use crate::direct::depfile;
use crate::direct::lookup::MissReason;
use crate::direct::manifest::{
    self, Disk, Manifest, NotCacheable, ObserveOptions, Observed, RealDisk, SearchPath,
};
use crate::direct::stamp::Before;
use crate::key::compiler::{self, CompilerIdentity};
use crate::key::line::KeyLine;
use crate::key::pathmap::PathMap;
use crate::stats::explain;
use crate::stats::{self, Event, Outcome};
use crate::{env, version, ActionId, KeyHasher, Store};
use anyhow::Result;
use gocache_build::protocol::{os_string, Message, PROTOCOL};
use gocache_build::{Error, ErrorKind};

/// The archive key's salt: bumped when what the key covers changes.
const SALT: &str = "gocache-archive v3";

/// `serve-helper`: one conversation with a build script's helper, on stdio.
pub fn run() -> Result<i32> {
    env::record_reads(true);
    let mut input = std::io::stdin().lock();
    let mut output = std::io::stdout().lock();
    serve(&mut input, &mut output)?;
    Ok(0)
}

/// The conversation: `hello`, one request, and for a miss the `compiled`
/// report after cc's compile. Returns at the end, or when the client stops
/// (end of input: its compile failed).
pub fn serve(input: &mut impl BufRead, output: &mut impl Write) -> std::io::Result<()> {
    let mut line = String::new();
    if input.read_line(&mut line)? == 0 {
        return Ok(());
    }
    if line.trim_end() != format!("hello {PROTOCOL}") {
        writeln!(output, "err helper protocol {PROTOCOL}")?;
        return output.flush();
    }
    writeln!(output, "ok")?;
    output.flush()?;
    let Some(request) = Message::read_from(input)? else {
        return Ok(());
    };
    let name = request.text("name").unwrap_or_default();
    if request.kind == "uncacheable" {
        // A check in the helper refused it: count it, answer nothing.
        if let Ok(Some(store)) = Store::from_env() {
            let reason = request.text("reason").unwrap_or_default();
            stats::record(&store, &Event::new(Outcome::Uncacheable(reason), name));
        }
        return Ok(());
    }
    if request.kind != "lookup" {
        let msg = format!("unknown helper request {:?}", request.kind);
        return answer(output, warn(&msg));
    }
    // The binary that runs the build and this one share the store.
    if let Err(msg) = version::check_env() {
        return answer(output, warn(&msg));
    }
    let store = match Store::from_env() {
        Ok(Some(store)) => store,
        Ok(None) => return answer(output, uncacheable("cache-off")),
        Err(e) => {
            let msg = format!("cache unavailable, compiling without it: {e}");
            return answer(output, warn(&msg));
        }
    };
    let (store, remote) = crate::remote::RemoteTier::attach_from_env(store);
    let result = converse(&store, &name, &request, input, output);
    if let Some(remote) = remote {
        remote.finish(&store);
    }
    result
}

/// The lookup and, for a miss, the rest after the compile.
fn converse(
    store: &Store,
    name: &str,
    request: &Message,
    input: &mut impl BufRead,
    output: &mut impl Write,
) -> std::io::Result<()> {
    let pending = match lookup(store, name, request) {
        Ok(Looked::Hit(done)) => {
            stats::record(store, &done.event);
            let mut m = Message::new("hit");
            m.push_os("lib", done.lib.as_os_str());
            return answer(output, with_files(m, &done.files));
        }
        Ok(Looked::Miss(pending)) => pending,
        Err(Fault::Uncacheable(reason)) => {
            stats::record(
                store,
                &Event::new(Outcome::Uncacheable(reason.clone()), name.to_string()),
            );
            return answer(output, uncacheable(&reason));
        }
        Err(Fault::Cache(e)) => {
            stats::record(
                store,
                &Event::new(Outcome::Error(e.to_string()), name.to_string()),
            );
            let msg = format!("cache fault for {name}, compiling without it: {e}");
            return answer(output, warn(&msg));
        }
    };
    let mut m = Message::new("miss");
    for flag in &pending.flags {
        m.push("flag", flag);
    }
    answer(output, m)?;
    // The helper compiles with cc now; nothing arrives if that fails.
    let Some(compiled) = Message::read_from(input)? else {
        return Ok(());
    };
    if compiled.kind != "compiled" {
        return Ok(());
    }
    match finish(store, name, pending, &compiled) {
        Ok(done) => {
            stats::record(store, &done.event);
            answer(output, with_files(Message::new("done"), &done.files))
        }
        Err(e) => {
            stats::record(
                store,
                &Event::new(Outcome::Error(e.to_string()), name.to_string()),
            );
            let msg = format!("cache fault for {name} after the compile ({e}); it is not cached");
            answer(output, warn(&msg))
        }
    }
}

/// Send `m`, with the variables read so far (for the build script's
/// `cargo:rerun-if-env-changed`).
fn answer(output: &mut impl Write, mut m: Message) -> std::io::Result<()> {
    for name in env::take_reads() {
        m.push("env", name);
    }
    m.write_to(output)
}

fn warn(msg: &str) -> Message {
    let mut m = Message::new("warn");
    m.push("message", msg);
    m
}

fn uncacheable(reason: &str) -> Message {
    let mut m = Message::new("uncacheable");
    m.push("reason", reason);
    m
}

fn with_files(mut m: Message, files: &[PathBuf]) -> Message {
    for f in files {
        m.push_os("file", f.as_os_str());
    }
    m
}

/// Why the cached path did not go on.
enum Fault {
    /// The cache failed: warn and compile without it.
    Cache(Error),
    /// This build cannot be cached here (reason for stats): compile without it.
    Uncacheable(String),
}

impl From<Error> for Fault {
    fn from(e: Error) -> Fault {
        Fault::Cache(e)
    }
}

/// What a lookup found.
enum Looked {
    Hit(Done),
    Miss(Box<Pending>),
}

/// What a cached build did: its stats event, the archive, and the files
/// (sources and headers) it was built from.
struct Done {
    event: Event,
    lib: PathBuf,
    files: Vec<PathBuf>,
}

/// A miss, kept across the helper's compile.
struct Pending {
    /// What the compile is to add: `-MD` (the helper always adds it) aside,
    /// the relocation flags.
    flags: Vec<String>,
    lib: PathBuf,
    out_dir: PathBuf,
    cwd: PathBuf,
    tool: PathBuf,
    identity: CompilerIdentity,
    units: Vec<Compile>,
    map: PathMap,
    pre: KeyHasher,
    pre_id: ActionId,
    sources_in_id: Vec<String>,
    source_paths: Vec<PathBuf>,
    /// Full stamps of the inputs known before the compile.
    before: Before,
    /// The sources still as the key hashed them, before the compile.
    sources_held: bool,
    /// Those sources with those hashes (see `ObserveOptions::held`).
    held: Vec<(PathBuf, String)>,
    why: MissReason,
    archiver: Archiver,
}

/// cc's archiver, as the helper got it (`cc::Build::get_archiver`).
struct Archiver {
    program: OsString,
    args: Vec<OsString>,
    envs: Vec<(OsString, Option<OsString>)>,
}

impl Archiver {
    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args);
        for (k, v) in &self.envs {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        cmd
    }
}

/// `K=V` as the helper sends a variable.
fn split_pair(v: &[u8]) -> (OsString, OsString) {
    match v.iter().position(|&b| b == b'=') {
        Some(i) => (os_string(&v[..i]), os_string(&v[i + 1..])),
        None => (os_string(v), OsString::new()),
    }
}

fn bad_request(what: &str) -> Fault {
    Fault::Cache(Error::new(
        ErrorKind::Format,
        format!("bad helper request: no {what}"),
    ))
}

/// Steps 1-3: the key, the manifest, and a hit if there is one.
fn lookup(store: &Store, name: &str, req: &Message) -> Result<Looked, Fault> {
    let path = |tag: &str| -> Result<PathBuf, Fault> {
        req.get(tag)
            .map(|v| PathBuf::from(os_string(v)))
            .ok_or_else(|| bad_request(tag))
    };
    let out_dir = path("out-dir")?;
    let tool = path("tool")?;
    let helper_cwd = path("cwd")?;
    let archiver = Archiver {
        program: req
            .get("ar")
            .map(os_string)
            .ok_or_else(|| bad_request("ar"))?,
        args: req.all_os("ar-arg").collect(),
        envs: req
            .fields
            .iter()
            .filter_map(|(tag, v)| match tag.as_str() {
                "ar-env" => {
                    let (k, v) = split_pair(v);
                    Some((k, Some(v)))
                }
                "ar-env-remove" => Some((os_string(v), None)),
                _ => None,
            })
            .collect(),
    };
    let tool_args: Vec<OsString> = req.all_os("arg").collect();
    let sources: Vec<PathBuf> = req.all_os("source").map(PathBuf::from).collect();
    if sources.is_empty() {
        return Err(Fault::Uncacheable("no-sources".into()));
    }
    let lib = out_dir.join(archive_name(name));
    // Started in the build script's directory; said again, to be sure.
    std::env::set_current_dir(&helper_cwd).map_err(|e| Error::io("enter", &helper_cwd, e))?;
    let cwd = cmdline::compiler_cwd().map_err(|e| Error::io("read", Path::new("."), e))?;

    // Relocation, as for wrapped compiles: the compile is given
    // `-ffile-prefix-map` for the package, OUT_DIR, the workspace and the
    // cargo home, so the archive names only stable directories and the key
    // may hash the stable names. A compiler without the option keeps real
    // paths in its objects, so then the key keeps them too: an archive
    // from another checkout must never name that checkout.
    let identity = compiler::identify(Some(store), &tool)?;
    let map = if cmdline::supports_prefix_map(&identity) {
        cmdline::relocation_map(&cwd)
    } else {
        PathMap::new()
    };
    let flags = cmdline::prefix_map_args(&map);

    // Each source through the wrapper's parser, as cc will compile it
    // (its arguments, then `-c SRC -o OBJ`; the object's name is not in
    // the key): the same refusals, relocation rule, environment and
    // search path as a wrapped compile.
    let mut units = Vec::with_capacity(sources.len());
    for src in &sources {
        let mut args = tool_args.clone();
        args.extend(["-c".into(), src.clone().into_os_string()]);
        args.extend(["-o".into(), "gocache-helper.o".into()]);
        let mut unit = cmdline::parse(&args, &cwd).map_err(|u| Fault::Uncacheable(u.reason))?;
        unit.resolve_native(Some(store), &tool, &identity)
            .map_err(|u| Fault::Uncacheable(u.reason))?;
        // Plain assembly reads `.include` and `.incbin` files no depfile
        // lists; the wrapper finds them (its `asm` module), the helper
        // does not: compile it without the cache.
        if unit.lang == cmdline::Lang::Asm {
            return Err(Fault::Uncacheable("unsupported-language:assembler".into()));
        }
        units.push(unit);
    }
    // One library's sources share cc's arguments, so their `-D`s: the
    // manifest entry lists the values of the ones any source used. Should
    // they differ, every value stays in the pre-key.
    if units.iter().any(|u| u.macros != units[0].macros) {
        units.iter_mut().for_each(Compile::keep_macro_values);
    }
    let macro_values = units[0].macro_values();
    let mut pre = KeyHasher::new("archive");
    pre.push(&KeyLine::Salt(SALT.into()));
    pre.push(&KeyLine::Lib(name.into()));
    for v in req.all("tool-env") {
        let (k, v) = split_pair(v);
        pre.push(&KeyLine::ToolEnv(
            k.to_string_lossy().into_owned(),
            v.to_string_lossy().into_owned(),
        ));
    }
    // Sorted by the source's mapped path, so the order of `file()` calls
    // does not change the key (the build ID lists them in that order).
    let mut keyed = Vec::with_capacity(units.len());
    for unit in &units {
        let lines = unit
            .key_lines(&identity, &map, &cwd, &mut RealDisk)
            .map_err(|e| Error::io("read", &unit.source, e))?;
        let hash = lines
            .iter()
            .find_map(|l| match l {
                KeyLine::Source { hash, .. } => Some(hash.clone()),
                _ => None,
            })
            .expect("a compile's key names its source");
        let mapped = map.map(&cmdline::absolute(&cwd, &unit.source));
        keyed.push((hash, mapped, lines));
    }
    keyed.sort_by(|a, b| a.1.cmp(&b.1));
    for (_, _, lines) in &keyed {
        for line in lines {
            pre.push(line);
        }
    }
    let pre_id = pre.id();
    let sources_in_id: Vec<String> = keyed.iter().map(|k| k.1.clone()).collect();

    // Steps 1-3: the header sets that still hold, and their final keys.
    let rejections = store.rejections();
    let manifest = Manifest::load_checked(store, &pre_id);
    let mut why = match &manifest {
        Ok(m) if m.entries.is_empty() => MissReason::NoEntry,
        Ok(_) => MissReason::NoHeaderSetMatched,
        Err(why) => *why,
    };
    let manifest = manifest.unwrap_or_default();
    // The sources were just hashed for the pre-key: do not hash them again.
    let mut hashes: HashMap<String, Option<String>> = keyed
        .iter()
        .map(|(hash, mapped, _)| (mapped.clone(), Some(hash.clone())))
        .collect();
    let candidates: Vec<(&Observed, ActionId)> = manifest
        .entries
        .iter()
        .filter(|obs| obs.matches(&map, &mut RealDisk, &mut hashes, &macro_values))
        .map(|obs| (obs, obs.key(&pre_id).id()))
        .collect();
    let unmapped =
        |obs: &Observed| -> Vec<PathBuf> { obs.files.iter().map(|(p, _)| map.unmap(p)).collect() };
    if let Ok(info) = archive::read_build_info(&lib) {
        if let Some((obs, key)) = candidates
            .iter()
            .find(|(_, key)| short_action(key) == info.id.action)
        {
            return Ok(Looked::Hit(Done {
                event: event(name, Outcome::Hit, Some(*key), 0.0),
                lib,
                files: unmapped(obs),
            }));
        }
    }
    for (obs, key) in &candidates {
        why = MissReason::OutputMissing;
        if let Some(entry) = store.get(key) {
            if store.place(&entry, &lib)? {
                return Ok(Looked::Hit(Done {
                    event: event(name, Outcome::Hit, Some(*key), 0.0),
                    lib,
                    files: unmapped(obs),
                }));
            }
        }
    }
    if store.rejections() > rejections {
        why = MissReason::RemoteRejected;
    }

    // A miss: before the helper compiles, full stamps of what is known
    // (see crate::direct::stamp), and the sources still as the key
    // hashed them.
    let source_paths: Vec<PathBuf> = units
        .iter()
        .map(|u| cmdline::absolute(&cwd, &u.source))
        .collect();
    let before = Before::take(
        source_paths
            .iter()
            .cloned()
            .chain(manifest.known_files(&map)),
        Some(&out_dir),
    );
    let held: Vec<(PathBuf, String)> = keyed
        .iter()
        .map(|(hash, mapped, _)| (map.unmap(mapped), hash.clone()))
        .filter(|(path, hash)| RealDisk.hash(path).as_ref() == Some(hash))
        .collect();
    let sources_held = held.len() == keyed.len();
    Ok(Looked::Miss(Box::new(Pending {
        flags,
        lib,
        out_dir,
        cwd,
        tool,
        identity,
        units,
        map,
        pre,
        pre_id,
        sources_in_id,
        source_paths,
        before,
        sources_held,
        held,
        why,
        archiver,
    })))
}

/// Step 4, after the helper's compile: the headers from the depfiles, the
/// build ID, and the archive and manifest into the store.
fn finish(
    store: &Store,
    name: &str,
    p: Box<Pending>,
    compiled: &Message,
) -> gocache_build::Result<Done> {
    let spent: f64 = compiled
        .text("spent")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.0);
    let mut files: Vec<PathBuf> = Vec::new();
    for obj in compiled.all_os("object").map(PathBuf::from) {
        let dep_path = obj.with_extension("d");
        let text = std::fs::read_to_string(&dep_path)
            .map_err(|e| Error::io("read depfile", &dep_path, e))?;
        let dep = depfile::parse(&text).ok_or_else(|| {
            Error::new(
                ErrorKind::Format,
                format!("cannot parse depfile {}", dep_path.display()),
            )
        })?;
        for f in dep.prerequisites {
            let f = cmdline::absolute(&p.cwd, &f);
            if !files.contains(&f) {
                files.push(f);
            }
        }
    }
    // Which `-D`s no source used (see crate::cmdline::macros): each
    // source's preprocessing with `-E -dU`, until every name is used.
    let mut unused = p.units[0].macro_candidates(&p.identity);
    if !unused.is_empty() {
        match p.units[0].predefined_macros(&p.tool) {
            Some(predefined) => unused.retain(|n| !predefined.contains(n)),
            None => unused.clear(),
        }
    }
    unused = unused_by_every_unit(&p, unused);
    let opts = ObserveOptions {
        started: p.before.started(),
        held: &p.held,
        source_date_epoch: Compile::source_date_epoch(),
        assembler_inputs_known: false,
        macro_candidates: &unused,
    };
    let observed = if p.sources_held {
        observe_all(store, &p, &files, opts).and_then(|o| {
            p.before
                .check(&files)
                .map(|()| o)
                .map_err(|nc| nc.reason().to_string())
        })
    } else {
        Err(
            NotCacheable::ModifiedDuringCompile(p.source_paths[0].clone())
                .reason()
                .to_string(),
        )
    };
    let ar = || p.archiver.command();
    let observed = observed.map(|(mut obs, named)| {
        // A name a file spells may be redefined there.
        unused.retain(|n| !named.contains(n));
        if p.units[0].macro_names_keyed(&p.identity) {
            obs.macros = cmdline::macros::kept(&p.units[0].macros, &unused);
        }
        obs
    });
    match observed {
        Ok(obs) => {
            let final_key = obs.key(&p.pre_id);
            let key = final_key.id();
            archive::stamp(&p.lib, &key, &p.sources_in_id, &ar)?;
            store.put_file(&key, &p.lib)?;
            let object = explain::archive_object(&p.map.map(&p.out_dir), &archive_name(name));
            let mut record = format!("{}{object}\n", explain::OBJECT_PREFIX);
            record.push_str(&p.pre.record());
            record.push_str(&final_key.record());
            record.push_str(&cmdline::macros::unused_record(&p.units[0].macros, &unused));
            store.put_key_inputs(&key, &record)?;
            explain::note_miss(store, &object, &key);
            Manifest::add_and_save(store, &p.pre_id, obs)?;
            let mut event = event(name, Outcome::Miss, Some(key), spent);
            event.miss = Some(p.why);
            Ok(Done {
                event,
                lib: p.lib,
                files,
            })
        }
        Err(why) => {
            // Still stamp it (from the pre-key), so `buildid` can read it,
            // but store nothing: a later build cannot trust what it read.
            archive::stamp(&p.lib, &p.pre_id, &p.sources_in_id, &ar)?;
            Ok(Done {
                event: event(name, Outcome::Uncacheable(why), None, spent),
                lib: p.lib,
                files,
            })
        }
    }
}

/// Of `candidates`, the macros no source's preprocessing used (`-E -dU`
/// of each, as the wrapper's miss does), on as many threads as there are
/// CPUs: a library of two hundred sources is two hundred runs when a name
/// is used by none. Stops once every name is used; empty if a run fails.
fn unused_by_every_unit(p: &Pending, candidates: Vec<String>) -> Vec<String> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;
    if candidates.is_empty() {
        return candidates;
    }
    let unused = Mutex::new(candidates);
    let next = AtomicUsize::new(0);
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(p.units.len());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(unit) = p.units.get(i) else { break };
                if unused.lock().map_or(true, |u| u.is_empty()) {
                    break;
                }
                let used = unit.used_macros(&p.tool, &p.flags, &[]);
                if let Ok(mut u) = unused.lock() {
                    match used {
                        Some(used) => u.retain(|n| !used.contains(n)),
                        None => u.clear(),
                    }
                }
            });
        }
    });
    unused.into_inner().unwrap_or_default()
}

/// The header sets of every source's compile in one: the files read, and
/// the probes of each distinct search path (the sources of one library
/// differ at most in language, so in the compiler's own directories).
/// Without a compiler's search list the probes would be incomplete: the
/// archive is not cached then.
fn observe_all(
    store: &Store,
    p: &Pending,
    files: &[PathBuf],
    opts: ObserveOptions<'_>,
) -> std::result::Result<(Observed, Vec<String>), String> {
    let mut searches: Vec<SearchPath> = Vec::new();
    for unit in &p.units {
        let Ok(sysdirs) = unit.system_dirs(Some(store), &p.tool, &p.identity) else {
            return Err("unknown-search-path".into());
        };
        let search = unit.search_path(&p.cwd, &sysdirs);
        if !searches.contains(&search) {
            searches.push(search);
        }
    }
    let mut all: Option<(Observed, Vec<String>)> = None;
    for search in &searches {
        let obs = manifest::observe_macros(files, search, &p.map, opts)
            .map_err(|nc| nc.reason().to_string())?;
        match &mut all {
            None => all = Some(obs),
            Some((all, _)) => {
                for probe in obs.0.probes {
                    if !all.probes.contains(&probe) {
                        all.probes.push(probe);
                    }
                }
            }
        }
    }
    Ok(all.unwrap_or_default())
}

/// The archive file name cc gives `name` (`foo` -> `libfoo.a`).
fn archive_name(name: &str) -> String {
    if name.starts_with("lib") && name.ends_with(".a") {
        name.to_string()
    } else {
        format!("lib{name}.a")
    }
}

fn event(name: &str, outcome: Outcome, key: Option<ActionId>, spent: f64) -> Event {
    let mut event = Event::new(outcome, name);
    event.action = key;
    event.spent_secs = spent;
    event
}

#[cfg(test)]
mod tests {
    use super::*;

    fn served(input: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        serve(&mut &input[..], &mut out).unwrap();
        out
    }

    #[test]
    fn a_client_of_another_protocol_is_answered_with_one_line() {
        assert_eq!(served(b"hello 999\n"), b"err helper protocol 1\n");
        assert_eq!(served(b"get ac/00\n"), b"err helper protocol 1\n");
        assert_eq!(served(b""), b"");
    }

    #[test]
    fn an_unknown_request_is_a_warning_and_a_client_that_stops_gets_nothing() {
        let mut input = format!("hello {PROTOCOL}\n").into_bytes();
        Message::new("frobnicate").write_to(&mut input).unwrap();
        let out = served(&input);
        let mut r = &out[..];
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        assert_eq!(line, "ok\n");
        let m = Message::read_from(&mut r).unwrap().unwrap();
        assert_eq!(m.kind, "warn");
        assert!(m.text("message").unwrap().contains("frobnicate"));
        // `hello` alone, then the end of input: `ok`, and nothing more.
        assert_eq!(served(format!("hello {PROTOCOL}\n").as_bytes()), b"ok\n");
    }
}
