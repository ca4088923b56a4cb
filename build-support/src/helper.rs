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
//! | line | from |
//! | --- | --- |
//! | `gocache-archive v1` | a version salt |
//! | `lib NAME` | the library name |
//! | `compiler ID` | [`crate::compiler::identify`]: `--version` output and binary hash |
//! | `relocate NAME` | each stable name the compile is given through `-ffile-prefix-map` (gcc 8+, clang 10+) |
//! | `arg A` | every argument of `try_get_compiler()` (flags, `-I`, `-D`, `CFLAGS`), machine directories mapped in search-path and `-include` options only (a `-D` value is copied into the object as is) |
//! | `toolenv K=V` | environment cc sets for the compiler (MSVC) |
//! | `env K=V` | `TARGET`, `HOST`, `PROFILE`, `OPT_LEVEL`, `DEBUG`, `CPATH`, `C_INCLUDE_PATH`, `CPLUS_INCLUDE_PATH`, `SOURCE_DATE_EPOCH` |
//! | `source HASH NAME` | every source, sorted by mapped name, with its SHA-256 |
//!
//! That is the *pre-key*. It names a [`Manifest`] of the header sets seen
//! for it (all the sources' depfiles together, with shadow probes, see
//! [`crate::manifest`]); the matching set's lines complete the *final key*,
//! whose short form is the action part of the archive's build ID.
//!
//! Left out: mtimes (never), absolute paths of the package, `OUT_DIR`, the
//! workspace and the cargo home: the compile is given `-ffile-prefix-map`
//! to the same stable names as wrapped compiles
//! ([`crate::compile::relocation_map`]), so the archive names none of this
//! machine's directories and a second checkout hits with the very bytes it
//! would have compiled. (Without that option, real paths stay in keys.)
//! The archiver is left out too: it only packs the objects.
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
use std::time::{Instant, SystemTime};

use crate::archive::{self, short_action};
use crate::compiler;
use crate::depfile;
use crate::env;
use crate::error::{Error, ErrorKind, Result};
use crate::hash::{hash_file, hex, ActionId, KeyHasher};
use crate::manifest::{self, Manifest, ObserveOptions, Observed, SearchPath};
use crate::pathmap::PathMap;
use crate::stats::{self, Event, Outcome};
use crate::store::Store;

/// Variables besides cc's own flags that change what the compiler produces.
const KEY_ENV: &[&str] = &[
    "TARGET",
    "HOST",
    "PROFILE",
    "OPT_LEVEL",
    "DEBUG",
    "CPATH",
    "C_INCLUDE_PATH",
    "CPLUS_INCLUDE_PATH",
    "SOURCE_DATE_EPOCH",
];

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
                    &Event::new(Outcome::Uncacheable(reason.into()), name.to_string()),
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
    Uncacheable(&'static str),
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
        return Err(Fault::Uncacheable("custom-out-dir"));
    }
    if !debug.contains("objects: []") || !debug.contains("cuda: false") {
        return Err(Fault::Uncacheable("extra-archive-members"));
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
        return Err(Fault::Uncacheable("not-gcc-or-clang"));
    }
    let cwd = std::env::current_dir().map_err(|e| Error::io("read", Path::new("."), e))?;
    let sources: Vec<PathBuf> = build.get_files().map(Path::to_path_buf).collect();
    if sources.is_empty() {
        return Err(Fault::Uncacheable("no-sources"));
    }

    // Relocation, as for wrapped compiles: the compile is given
    // `-ffile-prefix-map` for the package, OUT_DIR, the workspace and the
    // cargo home, so the archive names only stable directories and the key
    // may hash the stable names. A compiler without the option keeps real
    // paths in its objects, so then the key keeps them too: an archive
    // from another checkout must never name that checkout.
    let identity = compiler::identify(Some(store), tool.path())?;
    let relocate = crate::compile::supports_prefix_map(&identity);
    let map = if relocate {
        crate::compile::relocation_map(&cwd)
    } else {
        PathMap::new()
    };
    let prefix_args = crate::compile::prefix_map_args(&map);
    let mut pre = KeyHasher::new("archive");
    pre.line("gocache-archive v1");
    pre.line(format!("lib {name}"));
    pre.line(format!("compiler {}", identity.id));
    for a in &prefix_args {
        // The real side is this machine's; the stable side is what matters.
        pre.line(format!("relocate {}", a.rsplit('=').next().unwrap_or("")));
    }
    // Only search-path and `-include` options name directories the
    // compiler merely reads from (and writes by their stable names); any
    // other argument (`-DDIR="..."`) goes into the object as is: hashed raw.
    let mut path_value_next = false;
    for arg in tool.args() {
        let arg = arg.to_string_lossy();
        let path_opt = PATH_OPTIONS.iter().find(|o| arg.starts_with(**o));
        let line = if path_value_next || path_opt.is_some() {
            map_arg(&map, &arg)
        } else {
            arg.to_string()
        };
        path_value_next = path_opt.is_some_and(|o| arg == *o);
        pre.line(format!("arg {line}"));
    }
    for (k, v) in tool.get_envs() {
        pre.line(format!(
            "toolenv {}={}",
            k.to_string_lossy(),
            v.to_string_lossy()
        ));
    }
    for var in KEY_ENV {
        if let Some(v) = env::var_os(var) {
            pre.line(format!("env {var}={}", v.to_string_lossy()));
        }
    }
    let mut source_names = Vec::new();
    for src in &sources {
        let abs = cwd.join(src);
        let hash = hash_file(&abs).map_err(|e| Error::io("read", &abs, e))?;
        source_names.push((map.map(&abs), hex(&hash)));
    }
    source_names.sort();
    for (mapped, hash) in &source_names {
        pre.line(format!("source {hash} {mapped}"));
    }
    let pre_id = pre.id();
    let sources_in_id: Vec<String> = source_names.iter().map(|(n, _)| n.clone()).collect();

    // Steps 1-3: the header sets that still hold, and their final keys.
    let manifest = Manifest::load(store, &pre_id);
    // The sources were just hashed for the pre-key: do not hash them again.
    let mut hashes: HashMap<String, Option<String>> = source_names
        .iter()
        .map(|(name, hash)| (name.clone(), Some(hash.clone())))
        .collect();
    let candidates: Vec<(&Observed, ActionId)> = manifest
        .entries
        .iter()
        .filter(|obs| obs.matches(&map, &mut crate::manifest::RealDisk, &mut hashes))
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

    // Step 4: compile, learning the headers from depfiles.
    // `stamp` below runs the archiver through cc's panicking getter: make
    // sure it cannot fail there.
    build
        .try_get_archiver()
        .map_err(|e| Fault::Build(cc_err(e)))?;
    let started = SystemTime::now();
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
            let p = cwd.join(p);
            if !files.contains(&p) {
                files.push(p);
            }
        }
    }
    let created = build
        .try_create_archive(name, &objects)
        .map_err(|e| Fault::Build(cc_err(e)))?;
    debug_assert_eq!(created, lib);
    let search = search_path(store, &tool, &identity, &sources, &cwd)?;
    let opts = ObserveOptions {
        started,
        source_date_epoch: env::var_os("SOURCE_DATE_EPOCH").is_some(),
    };
    let ar = || build.get_archiver();
    match manifest::observe(&files, &search, &map, opts) {
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
            Ok(Done {
                event: event(name, Outcome::Miss, Some(key), spent),
                lib,
                files,
            })
        }
        Err(why) => {
            // Still stamp it (from the pre-key), so `buildid` can read it,
            // but store nothing: a later build cannot trust what it read.
            archive::stamp(&lib, &pre_id, &sources_in_id, &ar)?;
            let outcome = Outcome::Uncacheable(why.reason().into());
            Ok(Done {
                event: event(name, outcome, None, spent),
                lib,
                files,
            })
        }
    }
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

/// Options whose value (joined or next) is a directory or file the
/// compiler only reads: mapped in the key.
const PATH_OPTIONS: &[&str] = &[
    "-I",
    "-iquote",
    "-isystem",
    "-idirafter",
    "-include",
    "-imacros",
    "--sysroot",
    "-isysroot",
];

/// `arg` with every mapped directory replaced by its name (`-I/home/u/x/include`
/// becomes `-I$CARGO_MANIFEST_DIR/include`).
fn map_arg(map: &PathMap, arg: &str) -> String {
    let mut s = arg.to_string();
    for (real, name) in map.entries() {
        if let Some(real) = real.to_str().filter(|r| !r.is_empty()) {
            s = s.replace(real, name);
        }
    }
    s
}

/// The include search path of cc's compiler command, in search order.
///
/// TODO(merge): use compile.rs. This reads only the forms cc itself emits
/// (`-I DIR` / `-IDIR`, `-isystem DIR`) and the ones users add by `flag()`
/// most often (`-iquote`, `-idirafter`).
fn search_path(
    store: &Store,
    tool: &cc::Tool,
    identity: &compiler::CompilerIdentity,
    sources: &[PathBuf],
    cwd: &Path,
) -> Result<SearchPath> {
    let args: Vec<String> = tool
        .args()
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let (mut quote, mut user, mut system, mut after) = (vec![], vec![], vec![], vec![]);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        for (flag, list) in [
            ("-iquote", &mut quote),
            ("-isystem", &mut system),
            ("-idirafter", &mut after),
            ("-I", &mut user),
        ] {
            if let Some(rest) = a.strip_prefix(flag) {
                let dir = if rest.is_empty() {
                    it.next().cloned()
                } else {
                    Some(rest.to_string())
                };
                if let Some(dir) = dir {
                    list.push(cwd.join(dir));
                }
                break;
            }
        }
    }
    // Arguments that change the compiler's own directories.
    let sys_args: Vec<String> = args
        .iter()
        .filter(|a| {
            [
                "--sysroot",
                "-isysroot",
                "-nostdinc",
                "--target",
                "-target",
                "-stdlib",
                "-m",
            ]
            .iter()
            .any(|p| a.starts_with(p))
        })
        .cloned()
        .collect();
    let cxx_driver = tool.path().to_string_lossy().contains("++");
    let mut langs: Vec<&str> = Vec::new();
    for src in sources {
        let lang = match src.extension().and_then(|e| e.to_str()) {
            _ if cxx_driver => "c++",
            Some("c") => "c",
            Some("S" | "s" | "sx") => "assembler-with-cpp",
            _ => "c++",
        };
        if !langs.contains(&lang) {
            langs.push(lang);
        }
    }
    let mut dirs = quote;
    dirs.extend(user);
    dirs.extend(system);
    for lang in langs {
        dirs.extend(compiler::system_include_dirs(
            Some(store),
            tool.path(),
            identity,
            lang,
            &sys_args,
        )?);
    }
    dirs.extend(after);
    let mut seen = std::collections::HashSet::new();
    dirs.retain(|d| seen.insert(d.clone()));
    Ok(SearchPath { dirs })
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

    #[test]
    fn args_are_mapped() {
        let mut map = PathMap::new();
        map.add("/home/u/crate", "$CARGO_MANIFEST_DIR");
        map.add("/home/u/crate/target/out", "$OUT_DIR");
        assert_eq!(
            map_arg(&map, "-I/home/u/crate/target/out/gen"),
            "-I$OUT_DIR/gen"
        );
        assert_eq!(
            map_arg(&map, "-I/home/u/crate/include"),
            "-I$CARGO_MANIFEST_DIR/include"
        );
    }
}
