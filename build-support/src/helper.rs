//! The build.rs helper: one cache lookup per library, and no compile at all
//! when the archive already in `OUT_DIR` carries the right build ID.
//!
//! ```no_run
//! use gocache_build::CachedBuild;
//! cc::Build::new().file("src/a.c").include("include").cached_compile("foo");
//! ```
//!
//! # The key (what the archive's action ID covers)
//!
//! Each source goes through the compiler wrapper's own parser
//! ([`crate::compile::parse`]) as cc will compile it: cc's tool arguments,
//! then `-c SRC -o OBJ`. So the helper refuses what the wrapper refuses
//! (`-fprofile-use=`, `-B`, `-fplugin=` and the rest of the unsupported
//! options, given through `.flag()` or `CFLAGS`: the library is then
//! compiled by cc without the cache, counted with the reason), and hashes
//! what the wrapper hashes, by the same rules.
//!
//! | line | from |
//! | --- | --- |
//! | `gocache-archive v2` | a version salt |
//! | `lib NAME` | the library name |
//! | `toolenv K=V` | environment cc sets for the compiler (MSVC) |
//! | then, for every source sorted by mapped path, its compile's pre-key lines | [`crate::compile::Compile::key_lines`]: salt, `compiler`, `compiler-version`, `target`, `lang`, `relocate`, `relocation`, `cwd`, `arg` (paths of search-path options mapped, `-D` values hashed raw: the compiler copies them into the object as they are), `env` ([`crate::compile::KEY_ENV`]), `source HASH NAME` |
//!
//! That is the *pre-key*. It names a [`Manifest`] of the header sets seen
//! for it (all the sources' depfiles together, with the shadow probes of
//! each source's search path, the wrapper's, see [`crate::manifest`]); the
//! matching set's lines complete the *final key*, whose short form is the
//! action part of the archive's build ID.
//!
//! Left out: the objects' names (not written into them); mtimes (never:
//! full stamps only decide whether the inputs held still during the
//! compile, see [`crate::stamp`]); absolute paths of the package, `OUT_DIR`,
//! the workspace and the cargo home, where the wrapper's rule maps them:
//! the compile is given `-ffile-prefix-map` to the same stable names as
//! wrapped compiles ([`crate::compile::relocation_map`]), so the archive
//! names none of this machine's directories and a second checkout hits
//! with the very bytes it would have compiled. (Without that option, real
//! paths stay in keys.) `TARGET`, `PROFILE`, `OPT_LEVEL` and the like: cc
//! turns them into the compiler and arguments, which are hashed. The
//! archiver is left out too: it only packs the objects.
//!
//! # On each call
//!
//! 1. compute the pre-key, load its manifest, and find the header sets that
//!    still hold on disk (hashing the headers they list);
//! 2. if `OUT_DIR/libNAME.a` carries one of their build IDs: nothing to do;
//! 3. else if the store has the archive: place it;
//! 4. else compile with cc (plus `-MD` for the depfiles), archive with cc's
//!    archiver, stamp the build ID, and store the archive and the manifest.
//!
//! Then print what cc's `compile` prints (through cc's own
//! `try_emit_link_directives`), and `cargo:rerun-if-changed` for every
//! source and header. A build script that globs its sources should also
//! print `cargo:rerun-if-changed` for the directory it globs, or cargo will
//! not rerun it when a file is added there.
//!
//! With `CARGO_GOCACHE_DIR=off` it is `cc::Build::try_compile`. Any cache
//! fault is a `cargo:warning` and a plain cc compile.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::archive::{self, short_action};
use crate::compile::{self, Compile};
use crate::compiler;
use crate::depfile;
use crate::env;
use crate::error::{Error, ErrorKind, Result};
use crate::hash::{ActionId, KeyHasher};
use crate::keyline::KeyLine;
use crate::lookup::MissReason;
use crate::manifest::{
    self, Disk, Manifest, NotCacheable, ObserveOptions, Observed, RealDisk, SearchPath,
};
use crate::pathmap::PathMap;
use crate::stamp::Before;
use crate::stats::{self, Event, Outcome};
use crate::store::Store;

/// The archive key's salt: bumped when what the key covers changes.
const SALT: &str = "gocache-archive v2";

/// Archive-level caching for a `cc::Build`.
pub trait CachedBuild {
    /// Like `cc::Build::compile`, cached; exits the build script with cc's
    /// message if the compile fails.
    fn cached_compile(&self, name: &str);
    /// Like `cc::Build::try_compile`, cached. Cache faults never make it
    /// fail: only the compile itself can.
    fn try_cached_compile(&self, name: &str) -> Result<()>;
}

impl CachedBuild for cc::Build {
    fn cached_compile(&self, name: &str) {
        if let Err(e) = self.try_cached_compile(name) {
            // cc's `compile` prints its error this way and exits.
            eprintln!("\n\nerror occurred in cc-rs: {e}\n\n");
            std::process::exit(1);
        }
    }

    fn try_cached_compile(&self, name: &str) -> Result<()> {
        env::set_build_script_mode(true);
        // A cargo-gocache of another cache format: plain cc (crate::version).
        if let Err(msg) = crate::version::check_env() {
            warn(&msg);
            return plain(self, name);
        }
        let store = match Store::from_env() {
            // Under `cargo gocache` with a remote, reach it through the binary.
            Ok(Some(store)) => match crate::prog::ProgTier::from_env() {
                Some(tier) => store.with_tier(std::sync::Arc::new(tier)),
                None => store,
            },
            Ok(None) => return plain(self, name),
            Err(e) => {
                warn(&format!("cache unavailable, compiling without it: {e}"));
                return plain(self, name);
            }
        };
        match cached(self, name, &store) {
            Ok(done) => {
                stats::record(&store, &done.event);
                let sources: Vec<PathBuf> = self.get_files().map(Path::to_path_buf).collect();
                emit(self, &done.lib, &sources, &done.files)
            }
            Err(Fault::Build(e)) => Err(e),
            Err(Fault::Cache(e)) => {
                warn(&format!(
                    "cache fault for {name}, compiling without it: {e}"
                ));
                stats::record(
                    &store,
                    &Event::new(Outcome::Error(e.to_string()), name.to_string()),
                );
                plain(self, name)
            }
            Err(Fault::Uncacheable(reason)) => {
                stats::record(
                    &store,
                    &Event::new(Outcome::Uncacheable(reason), name.to_string()),
                );
                plain(self, name)
            }
        }
    }
}

/// Why the cached path did not finish.
enum Fault {
    /// The compile itself failed: the build fails, as with cc.
    Build(Error),
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

fn cc_err(e: cc::Error) -> Error {
    Error::new(ErrorKind::Tool, e.to_string())
}

fn warn(msg: &str) {
    println!("cargo:warning=gocache: {msg}");
}

fn plain(build: &cc::Build, name: &str) -> Result<()> {
    build.try_compile(name).map_err(cc_err)
}

/// The archive file name cc gives `name` (`foo` -> `libfoo.a`).
fn archive_name(name: &str) -> String {
    if name.starts_with("lib") && name.ends_with(".a") {
        name.to_string()
    } else {
        format!("lib{name}.a")
    }
}

/// Sources and headers, for `cargo:rerun-if-changed`: not those this run
/// generated (under `OUT_DIR`, or newer than the run's start), which would
/// rerun the build script on every build, nor paths cargo cannot read back
/// (see [`crate::rerun`]).
fn print_rerun(sources: &[PathBuf], files: &[PathBuf]) {
    let cwd = std::env::current_dir().unwrap_or_default();
    let out_dir = env::var_os("OUT_DIR").map(PathBuf::from);
    let started = out_dir.as_deref().and_then(crate::rerun::run_started);
    let mut seen = std::collections::HashSet::new();
    for f in sources
        .iter()
        .map(|s| cwd.join(s))
        .chain(files.iter().cloned())
    {
        if !seen.insert(f.clone()) {
            continue;
        }
        if let (Some(out), Some(t)) = (&out_dir, started) {
            if crate::rerun::generated(&f, out, t) {
                continue;
            }
        }
        if let Some(line) = crate::rerun::directive(&f) {
            print!("{line}");
        }
    }
}

/// The cached build of `OUT_DIR/lib<name>.a`; the caller records the
/// event and prints the directives.
fn cached(build: &cc::Build, name: &str, store: &Store) -> Result<Done, Fault> {
    // cc has no getters for these settings; its Debug output shows them.
    // A custom `out_dir` moves the archive out of OUT_DIR; prebuilt
    // `object()`s and CUDA device links go into the archive unseen by the key.
    let debug = format!("{build:?}");
    if !debug.contains("out_dir: None") {
        return Err(Fault::Uncacheable("custom-out-dir".into()));
    }
    if !debug.contains("objects: []") || !debug.contains("cuda: false") {
        return Err(Fault::Uncacheable("extra-archive-members".into()));
    }
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").ok_or_else(|| {
        Fault::Build(Error::new(
            ErrorKind::Config,
            "Environment variable OUT_DIR not defined.",
        ))
    })?);
    let lib = out_dir.join(archive_name(name));
    let tool = build
        .try_get_compiler()
        .map_err(|e| Fault::Build(cc_err(e)))?;
    if !(tool.is_like_gnu() || tool.is_like_clang()) || tool.is_like_clang_cl() {
        // No `-MD` depfiles to learn headers from.
        return Err(Fault::Uncacheable("not-gcc-or-clang".into()));
    }
    // cc leaves out of its command arguments it was told to remove: then
    // `args()` is not the command line the key would describe.
    if !format!("{tool:?}").contains("removed_args: []") {
        return Err(Fault::Uncacheable("cc-removed-args".into()));
    }
    let cwd = compile::compiler_cwd().map_err(|e| Error::io("read", Path::new("."), e))?;
    let sources: Vec<PathBuf> = build.get_files().map(Path::to_path_buf).collect();
    if sources.is_empty() {
        return Err(Fault::Uncacheable("no-sources".into()));
    }
    // cc adds its `asm_flag()`s to assembly sources only, after `-c`: not
    // in `args()`, so not in a key made from them.
    let asm = |s: &PathBuf| s.extension().is_some_and(|e| e == "S" || e == "sx");
    if sources.iter().any(asm) && !debug.contains("asm_flags: []") {
        return Err(Fault::Uncacheable("asm-flags".into()));
    }

    // Relocation, as for wrapped compiles: the compile is given
    // `-ffile-prefix-map` for the package, OUT_DIR, the workspace and the
    // cargo home, so the archive names only stable directories and the key
    // may hash the stable names. A compiler without the option keeps real
    // paths in its objects, so then the key keeps them too: an archive
    // from another checkout must never name that checkout.
    let identity = compiler::identify(Some(store), tool.path())?;
    let map = if compile::supports_prefix_map(&identity) {
        compile::relocation_map(&cwd)
    } else {
        PathMap::new()
    };
    let prefix_args = compile::prefix_map_args(&map);

    // Each source through the wrapper's parser, as cc will compile it
    // (its arguments, then `-c SRC -o OBJ`; the object's name is not in
    // the key): the same refusals, relocation rule, environment and
    // search path as a wrapped compile.
    let mut units = Vec::with_capacity(sources.len());
    for src in &sources {
        let mut args: Vec<std::ffi::OsString> = tool.args().to_vec();
        args.extend(["-c".into(), src.clone().into_os_string()]);
        args.extend(["-o".into(), "gocache-helper.o".into()]);
        let unit = compile::parse(&args, &cwd).map_err(|u| Fault::Uncacheable(u.reason))?;
        // Plain assembly reads `.include` and `.incbin` files no depfile
        // lists; the wrapper finds them (its `asm` module), the helper
        // does not: compile it without the cache.
        if unit.lang == compile::Lang::Asm {
            return Err(Fault::Uncacheable("unsupported-language:assembler".into()));
        }
        units.push(unit);
    }
    let mut pre = KeyHasher::new("archive");
    pre.push(&KeyLine::Salt(SALT.into()));
    pre.push(&KeyLine::Lib(name.into()));
    for (k, v) in tool.get_envs() {
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
        let (hash, shown) = lines
            .iter()
            .find_map(|l| match l {
                KeyLine::Source { hash, name } => Some((hash.clone(), name.clone())),
                _ => None,
            })
            .expect("a compile's key names its source");
        let mapped = map.map(&compile::absolute(&cwd, &unit.source));
        keyed.push((shown, hash, mapped, lines));
    }
    keyed.sort_by(|a, b| a.2.cmp(&b.2));
    for (_, _, _, lines) in &keyed {
        for line in lines {
            pre.push(line);
        }
    }
    let pre_id = pre.id();
    let sources_in_id: Vec<String> = keyed.iter().map(|k| k.2.clone()).collect();

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
        .map(|(_, hash, mapped, _)| (mapped.clone(), Some(hash.clone())))
        .collect();
    let candidates: Vec<(&Observed, ActionId)> = manifest
        .entries
        .iter()
        .filter(|obs| obs.matches(&map, &mut RealDisk, &mut hashes))
        .map(|obs| (obs, obs.key(&pre_id).id()))
        .collect();
    let unmapped =
        |obs: &Observed| -> Vec<PathBuf> { obs.files.iter().map(|(p, _)| map.unmap(p)).collect() };
    if let Ok(info) = archive::read_build_info(&lib) {
        if let Some((obs, key)) = candidates
            .iter()
            .find(|(_, key)| short_action(key) == info.id.action)
        {
            return Ok(Done {
                event: event(name, Outcome::Hit, Some(*key), 0.0),
                lib,
                files: unmapped(obs),
            });
        }
    }
    for (obs, key) in &candidates {
        why = MissReason::OutputMissing;
        if let Some(entry) = store.get(key) {
            if store.place(&entry, &lib)? {
                return Ok(Done {
                    event: event(name, Outcome::Hit, Some(*key), 0.0),
                    lib,
                    files: unmapped(obs),
                });
            }
        }
    }
    if store.rejections() > rejections {
        why = MissReason::RemoteRejected;
    }

    // Step 4: compile, learning the headers from depfiles.
    // `stamp` below runs the archiver through cc's panicking getter: make
    // sure it cannot fail there.
    build
        .try_get_archiver()
        .map_err(|e| Fault::Build(cc_err(e)))?;
    // Full stamps of what is known before the compile (see crate::stamp),
    // and the sources still as the key hashed them.
    let source_paths: Vec<PathBuf> = units
        .iter()
        .map(|u| compile::absolute(&cwd, &u.source))
        .collect();
    let before = Before::take(
        source_paths
            .iter()
            .cloned()
            .chain(manifest.known_files(&map)),
        Some(&out_dir),
    );
    let sources_held = keyed
        .iter()
        .all(|(_, hash, mapped, _)| RealDisk.hash(&map.unmap(mapped)).as_ref() == Some(hash));
    let timer = Instant::now();
    let mut compiling = build.clone();
    compiling.flag("-MD");
    for a in &prefix_args {
        compiling.flag(a);
    }
    let objects = compiling
        .try_compile_intermediates()
        .map_err(|e| Fault::Build(cc_err(e)))?;
    let spent = timer.elapsed().as_secs_f64();
    let mut files: Vec<PathBuf> = Vec::new();
    for obj in &objects {
        let dep_path = obj.with_extension("d");
        let text = std::fs::read_to_string(&dep_path)
            .map_err(|e| Error::io("read depfile", &dep_path, e))?;
        let dep = depfile::parse(&text).ok_or_else(|| {
            Error::new(
                ErrorKind::Format,
                format!("cannot parse depfile {}", dep_path.display()),
            )
        })?;
        for p in dep.prerequisites {
            let p = compile::absolute(&cwd, &p);
            if !files.contains(&p) {
                files.push(p);
            }
        }
    }
    let created = build
        .try_create_archive(name, &objects)
        .map_err(|e| Fault::Build(cc_err(e)))?;
    debug_assert_eq!(created, lib);
    let opts = ObserveOptions {
        started: before.started(),
        source_date_epoch: Compile::source_date_epoch(),
    };
    let observed = if sources_held {
        observe_all(store, &tool, &identity, &units, &cwd, &files, &map, opts).and_then(|o| {
            before
                .check(&files)
                .map(|()| o)
                .map_err(|nc| nc.reason().to_string())
        })
    } else {
        Err(NotCacheable::ModifiedDuringCompile(source_paths[0].clone())
            .reason()
            .to_string())
    };
    let ar = || build.get_archiver();
    match observed {
        Ok(obs) => {
            let final_key = obs.key(&pre_id);
            let key = final_key.id();
            archive::stamp(&lib, &key, &sources_in_id, &ar)?;
            store.put_file(&key, &lib)?;
            let object = crate::explain::archive_object(&map.map(&out_dir), &archive_name(name));
            let mut record = format!("{}{object}\n", crate::explain::OBJECT_PREFIX);
            record.push_str(&pre.record());
            record.push_str(&final_key.record());
            store.put_key_inputs(&key, &record)?;
            crate::explain::note_miss(store, &object, &key);
            Manifest::add_and_save(store, &pre_id, obs)?;
            let mut event = event(name, Outcome::Miss, Some(key), spent);
            event.miss = Some(why);
            Ok(Done { event, lib, files })
        }
        Err(why) => {
            // Still stamp it (from the pre-key), so `buildid` can read it,
            // but store nothing: a later build cannot trust what it read.
            archive::stamp(&lib, &pre_id, &sources_in_id, &ar)?;
            let outcome = Outcome::Uncacheable(why);
            Ok(Done {
                event: event(name, outcome, None, spent),
                lib,
                files,
            })
        }
    }
}

/// The header sets of every source's compile in one: the files read, and
/// the probes of each distinct search path (the sources of one library
/// differ at most in language, so in the compiler's own directories).
/// Without a compiler's search list the probes would be incomplete: the
/// archive is not cached then.
#[allow(clippy::too_many_arguments)]
fn observe_all(
    store: &Store,
    tool: &cc::Tool,
    identity: &compiler::CompilerIdentity,
    units: &[Compile],
    cwd: &Path,
    files: &[PathBuf],
    map: &PathMap,
    opts: ObserveOptions,
) -> std::result::Result<Observed, String> {
    let mut searches: Vec<SearchPath> = Vec::new();
    for unit in units {
        let Ok(sysdirs) = unit.system_dirs(Some(store), tool.path(), identity) else {
            return Err("unknown-search-path".into());
        };
        let search = unit.search_path(cwd, &sysdirs);
        if !searches.contains(&search) {
            searches.push(search);
        }
    }
    let mut all: Option<Observed> = None;
    for search in &searches {
        let obs =
            manifest::observe(files, search, map, opts).map_err(|nc| nc.reason().to_string())?;
        match &mut all {
            None => all = Some(obs),
            Some(all) => {
                for p in obs.probes {
                    if !all.probes.contains(&p) {
                        all.probes.push(p);
                    }
                }
            }
        }
    }
    Ok(all.unwrap_or_default())
}

/// What a cached build did: its stats event, the archive, and the files
/// (sources and headers) it was built from.
struct Done {
    event: Event,
    lib: PathBuf,
    files: Vec<PathBuf>,
}

fn event(name: &str, outcome: Outcome, key: Option<ActionId>, spent: f64) -> Event {
    let mut event = Event::new(outcome, name);
    event.action = key;
    event.spent_secs = spent;
    event
}

/// Print what cc's `compile` prints after archiving, then the files to
/// rerun on. A failure here is cc's failure, as in `compile`.
fn emit(build: &cc::Build, lib: &Path, sources: &[PathBuf], files: &[PathBuf]) -> Result<()> {
    cc::try_emit_link_directives(build, lib).map_err(cc_err)?;
    print_rerun(sources, files);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_names_follow_cc() {
        assert_eq!(archive_name("foo"), "libfoo.a");
        assert_eq!(archive_name("libfoo.a"), "libfoo.a");
    }

    /// The helper reads cc settings it has no getter for from `Debug`; a cc
    /// release that renames them must fail here, not cache wrongly.
    #[test]
    fn cc_debug_output_shows_the_settings_the_helper_checks() {
        let plain = format!("{:?}", cc::Build::new());
        for s in ["out_dir: None", "objects: []", "cuda: false"] {
            assert!(plain.contains(s), "{s} not in {plain}");
        }
        let custom = format!("{:?}", cc::Build::new().out_dir("x").object("y.o"));
        assert!(!custom.contains("out_dir: None") && !custom.contains("objects: []"));
    }
}
