//! Proc-macros: what a crate's macros read while rustc expands them.
//!
//! A proc-macro is a library rustc loads and runs inside itself. What it
//! reads at expansion (sqlx's offline query data, `include_dir!`, template
//! engines, a `std::env::var`) is in no dep-info and no argument: rustc
//! does not know about it, cargo does not either (it rebuilds for none of
//! it, but after `cargo clean` it compiles again and sees the new value).
//! So a compile that loads one is keyed on what that run actually read.
//!
//! # Which compiles
//!
//! A proc-macro reaches a compile through an `--extern` naming its library
//! (`.so`), or through a crate that re-exports it (`serde` with `derive`
//! re-exports `serde_derive`, found by rustc in a `-L dependency=`
//! directory). A miss whose `--extern` files or crate directories hold a
//! dynamic library at all ([`may_load`], one directory listing) runs rustc
//! under the observer ([`crate::observe`]); whether a proc-macro was loaded
//! is then read from the run itself: it opened a dynamic library named by
//! an `--extern`, or lying in a crate directory with a cargo suffix the
//! `--extern` files reach (rustc opens every candidate of a crate's name
//! to read its metadata, a stale one from other flags included: [`loaded`]).
//! A run that
//! loaded none is kept exactly as an unobserved one (its dep-info set
//! only): without a proc-macro, rustc reads nothing its dep-info does not
//! list.
//!
//! # Files (manifest entry `read` lines)
//!
//! Every path the run touched, with its state after the run, as for a
//! build script's run: `r` (followed: `file <sha256>`, `dir`, `absent`),
//! `l` (not followed: `link <target>`, or as `r`), `d` (the listing: names
//! and types). Paths are mapped (the package, the workspace, `OUT_DIR`,
//! the cargo home, the target directory), so a second checkout whose files
//! hold the same content hits. Checked on every lookup, like the dep-info
//! sets. Not inputs ([`Zones`]), and why:
//!
//! | left out | why |
//! | --- | --- |
//! | the dep-info files, the `--extern` files, the native libraries, a link's inputs | already keyed by content (the same entry, or the pre-key) |
//! | `--out-dir` and everything under it | the outputs and rustc's own temporaries |
//! | the files of the `-L dependency=`/`crate=`/`all=` directories, and their listings | rustc's crate search: it lists them and reads candidates' metadata, and takes the crate whose hash the `--extern` files record (so their content, in the pre-key, pins it); the proc-macro libraries it loads are keyed by content (`macro`) |
//! | the sysroot, rustc's binary, `RUSTUP_HOME`, the store | the toolchain (rustc's identity); the store is content-addressed |
//! | `/proc`, `/sys`, `/dev/null` and the like | processes and resource counts, not the build's inputs; another device or a terminal read makes the compile uncacheable (`device`, `terminal`) |
//! | a file written in a temporary directory | the linker's and rustc's temporaries; a file written anywhere else (outside `--out-dir`) is a side effect a hit would not make: uncacheable (`writes-outside-out-dir`) |
//! | shared libraries (`*.so`, `*.so.N`) outside the build's directories or not found, `/etc/ld.so.cache`, `/etc/malloc.conf` | what the dynamic loader looks for and maps for rustc and the programs it runs (along `LD_LIBRARY_PATH`, which cargo points into the build), and rustc's allocator's options: the C library and rustc's own libraries are keyed for no tool gocache wraps (a link's libraries are keyed from the linker's own list). A proc-macro that `dlopen`s a system library (clang-sys at run time) is not keyed by that library |
//! | a directory above one of the build's directories, looked at (not listed) | `realpath` walks them; that they are directories is implied by the build being there at all |
//! | for links: outside the build's directories, a path looked for and not found, and a directory looked at | the linker driver's search for its programs and files along `PATH` and its library directories (dozens of paths, many in a user's own `PATH` directories, which would keep another machine from ever hitting); what it found is keyed by content, and the linker by its identity (`linker`). So in a link (a `bin` or test using a proc-macro), a file outside the build's directories that a macro looked for and did not find is not keyed, nor a program appearing earlier on `PATH` |
//!
//! # Environment variables (manifest entry `macro-env` lines)
//!
//! `std::env::var` is no system call: the observer cannot see it. What is
//! done instead: each proc-macro library the run loaded, and each source
//! file of the crate (its dep-info files; not a link's objects and
//! libraries, which hold std's and the C library's strings; a macro's
//! input may name the variable:
//! `dotenv!("DATABASE_URL")`), is scanned for the names of the variables
//! set in rustc's environment ([`found_names`]); a name that appears in
//! their bytes may be read, and its value is keyed. The scan is memoised
//! in the store per those contents and the set of names, so a lookup can
//! afford it: on a hit, every name they hold among the variables set *now*
//! must have been recorded
//! with the same value (a variable set since, which the macro may read, is
//! a miss, not a silent hit). The value is keyed as written (`macro-env
//! NAME=VALUE`: rust-embed's debug mode emits `CARGO_MANIFEST_DIR`, so a
//! second checkout must not get the first one's path), except a value
//! naming a machine directory that the miss found in none of its outputs
//! (`macro-env-mapped`): it only located files, which are keyed on their
//! own, so a second checkout still hits (`include_dir!`, sqlx's offline
//! data located by `CARGO_MANIFEST_DIR`). The library itself is keyed by
//! content (`macro HASH PATH`).
//!
//! Not scanned for, and why: `RUST_BACKTRACE`, `RUST_LIB_BACKTRACE`,
//! `RUST_MIN_STACK` (std puts them in every proc-macro; they shape a panic,
//! and a compile whose macro panics fails and is not stored), `PATH` (std
//! puts it in every proc-macro that can run a program; what it locates is
//! observed: the program run, by content, and outside links the places
//! looked at before it), `_` (the last command a shell ran), the jobserver's
//! `CARGO_MAKEFLAGS`, `MAKEFLAGS`, `MFLAGS` (which change with every run
//! and say how many jobs may run, not what is built), and gocache's own
//! `CARGO_GOCACHE_*`.
//!
//! What the scan cannot see, written down in the README: a name built at
//! run time (`format!("{prefix}_DIR")`, `env::vars()` walked), a name
//! handed to the proc-macro by a dependency's `macro_rules!` (it is in
//! that crate's metadata, not in these files), and a name
//! whose every occurrence in the library is followed by `_` and a letter or
//! digit, which is taken as part of a longer name (`CARGO` inside
//! `CARGO_MANIFEST_DIR`, else every macro reading a `CARGO_*` variable
//! would key cargo's own path): a string literal holding exactly such a
//! name placed right before one starting with `_` is missed.
//!
//! # What observing costs
//!
//! Hits observe nothing: they check the entry's `macro` and `read` lines
//! through the stat memo and read one small memo of the name scan (a
//! compile without a proc-macro checks nothing more than before). Misses:
//! a `bin` with 300 `#[derive(Serialize)]` structs (a 1.0-1.3 s rustc
//! miss), main.rs changed each round, five alternating rounds of `cargo
//! gocache build` on the shared 2-core machine (load average 8.5): median
//! 1.51 s observed against 1.47 s with the observer off (about 3%, inside
//! the noise). The name scan needs `memchr` optimized: unoptimized (the
//! dev profile's default) it made the same miss about 5.5 s.
//!
//! # Off Linux x86_64
//!
//! No observer: a compile that can load a proc-macro ([`reachable`]: an
//! `--extern` library, or one whose cargo suffix the `--extern` files name,
//! transitively) runs uncached, counted `proc-macro-unobserved`. So does
//! one on Linux where ptrace or seccomp is refused.

use super::*;
use crate::observe::Observation;
use std::env::consts::DLL_SUFFIX;

/// Variables left out of the scan (module docs).
fn scan_excluded(name: &str) -> bool {
    matches!(
        name,
        "RUST_BACKTRACE"
            | "RUST_LIB_BACKTRACE"
            | "RUST_MIN_STACK"
            | "PATH"
            | "_"
            | "CARGO_MAKEFLAGS"
            | "MAKEFLAGS"
            | "MFLAGS"
    ) || name.starts_with("CARGO_GOCACHE_")
        || name.is_empty()
}

fn is_dylib(p: &Path) -> bool {
    p.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with(DLL_SUFFIX))
}

/// The directories rustc searches for crates.
fn crate_dirs(c: &RustCompile) -> Vec<PathBuf> {
    c.lib_dirs
        .iter()
        .filter(|(k, _)| k == "dependency" || k == "crate" || k == "all")
        .map(|(_, d)| crate::observe::normalize(&c.cwd.join(d)))
        .collect()
}

/// Could this compile load a proc-macro? An `--extern` library, or any
/// dynamic library in a crate directory (cheap: one listing each).
pub(super) fn may_load(c: &RustCompile) -> bool {
    c.externs.iter().any(|(_, p)| is_dylib(p))
        || crate_dirs(c)
            .iter()
            .any(|d| fs::read_dir(d).is_ok_and(|rd| rd.flatten().any(|e| is_dylib(&e.path()))))
}

/// Cargo's suffix (`-<16 hex>`) of a crate file's name.
fn suffix_of(p: &Path) -> Option<String> {
    let n = p.file_name()?.to_str()?;
    let stem = [".rlib", ".rmeta", DLL_SUFFIX]
        .iter()
        .find_map(|x| n.strip_suffix(x))?;
    (stem.len() > 17 && stem.is_char_boundary(stem.len() - 17))
        .then(|| stem[stem.len() - 17..].to_string())
}

/// The cargo suffixes of the crates this compile can take from its crate
/// directories: those named in an `--extern` file, and in the crates
/// named so, transitively (as [`transitive_rlibs`] follows rlibs).
fn reachable_suffixes(c: &RustCompile) -> Result<BTreeSet<String>> {
    let mut by_suffix: HashMap<String, Vec<PathBuf>> = HashMap::new();
    for d in crate_dirs(c) {
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            if let Some(s) = suffix_of(&e.path()) {
                by_suffix.entry(s).or_default().push(e.path());
            }
        }
    }
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut queue: Vec<PathBuf> = c.externs.iter().map(|(_, p)| c.cwd.join(p)).collect();
    let mut visited: BTreeSet<PathBuf> = BTreeSet::new();
    while let Some(p) = queue.pop() {
        if !visited.insert(p.clone()) || is_dylib(&p) {
            continue;
        }
        let bytes = fs::read(&p).with_context(|| format!("failed to read {}", p.display()))?;
        let mut found = BTreeSet::new();
        cargo_suffixes(&bytes, &mut found);
        for s in found {
            if seen.insert(s.clone()) {
                if let Some(files) = by_suffix.get(&s) {
                    queue.extend(files.iter().cloned());
                }
            }
        }
    }
    Ok(seen)
}

/// Without running it: does this compile reach a proc-macro? An `--extern`
/// library, or a library in a crate directory whose cargo suffix is
/// reachable from the `--extern` files.
pub(super) fn reachable(c: &RustCompile) -> Result<bool> {
    if c.externs.iter().any(|(_, p)| is_dylib(p)) {
        return Ok(true);
    }
    let dylibs: Vec<String> = crate_dirs(c)
        .iter()
        .filter_map(|d| fs::read_dir(d).ok())
        .flat_map(|rd| rd.flatten().map(|e| e.path()))
        .filter(|p| is_dylib(p))
        .filter_map(|p| suffix_of(&p))
        .collect();
    if dylibs.is_empty() {
        return Ok(false);
    }
    let reach = reachable_suffixes(c)?;
    Ok(dylibs.iter().any(|s| reach.contains(s)))
}

/// The proc-macro libraries the run loaded: an `--extern` library, or one
/// in a crate directory that the `--extern` files reach. rustc's crate
/// search opens every candidate of a name (`libserde_derive-*.so`, a stale
/// one from another profile or flags among them) to read its metadata, and
/// takes the one whose hash the dependents record: the others were only
/// looked at.
pub(super) fn loaded(c: &RustCompile, obs: &Observation) -> Result<Vec<PathBuf>> {
    let externs: BTreeSet<PathBuf> = c
        .externs
        .iter()
        .map(|(_, p)| crate::observe::normalize(&c.cwd.join(p)))
        .collect();
    let dirs = crate_dirs(c);
    let opened: Vec<PathBuf> = obs
        .paths
        .iter()
        .filter(|(p, a)| {
            // An open may have failed: the dynamic loader tries each
            // directory of `LD_LIBRARY_PATH`, which cargo points at the
            // crate directories, for rustc's own libraries.
            a.opened
                && !a.write
                && is_dylib(p)
                && p.is_file()
                && (externs.contains(*p) || p.parent().is_some_and(|d| dirs.iter().any(|x| x == d)))
        })
        .map(|(p, _)| p.clone())
        .collect();
    if opened.iter().all(|p| externs.contains(p)) {
        return Ok(opened);
    }
    let reach = reachable_suffixes(c)?;
    Ok(opened
        .into_iter()
        .filter(|p| externs.contains(p) || suffix_of(p).is_some_and(|s| reach.contains(&s)))
        .collect())
}

/// Where an observed path is not an input (the table in the module docs).
pub(super) struct Zones {
    out_dir: PathBuf,
    crate_dirs: Vec<PathBuf>,
    toolchain: Vec<PathBuf>,
    store: PathBuf,
    temp: Vec<PathBuf>,
    build_dirs: Vec<PathBuf>,
    /// Already keyed by content: dep-info files, externs, natives, a
    /// link's inputs.
    keyed: BTreeSet<PathBuf>,
    links: bool,
}

impl Zones {
    pub(super) fn new(
        c: &RustCompile,
        store: &Store,
        rustc: &Path,
        sysroot: Option<&Path>,
        keyed: &BTreeSet<PathBuf>,
    ) -> Zones {
        let norm = |p: &Path| crate::observe::normalize(&c.cwd.join(p));
        let both = |p: &Path| {
            let mut v = vec![norm(p)];
            if let Ok(canon) = fs::canonicalize(p) {
                if canon != v[0] {
                    v.push(canon);
                }
            }
            v
        };
        let mut toolchain: Vec<PathBuf> = both(rustc);
        if let Some(s) = sysroot {
            toolchain.extend(both(s));
        }
        if let Some(r) = env_path("RUSTUP_HOME") {
            toolchain.extend(both(&r));
        }
        let mut temp: Vec<PathBuf> = ["/tmp", "/var/tmp", "/dev/shm"]
            .iter()
            .map(PathBuf::from)
            .collect();
        temp.push(std::env::temp_dir());
        let mut build_dirs = vec![norm(&c.cwd), norm(&c.out_dir)];
        for v in [
            "CARGO_GOCACHE_WORKSPACE",
            "CARGO_MANIFEST_DIR",
            "OUT_DIR",
            "CARGO_GOCACHE_CARGO_HOME",
            "CARGO_HOME",
        ] {
            if let Some(p) = env_path(v) {
                build_dirs.extend(both(&p));
            }
        }
        let crate_dirs = crate_dirs(c);
        build_dirs.extend(
            crate_dirs
                .iter()
                .filter_map(|d| d.parent())
                .map(Path::to_path_buf),
        );
        let mut keyed: BTreeSet<PathBuf> = keyed.iter().map(|p| norm(p)).collect();
        keyed.extend(c.externs.iter().map(|(_, p)| norm(p)));
        Zones {
            out_dir: norm(&c.out_dir),
            crate_dirs,
            toolchain,
            store: store.root().to_path_buf(),
            temp,
            build_dirs,
            keyed,
            links: c.links(),
        }
    }

    fn in_build_dirs(&self, p: &Path) -> bool {
        self.build_dirs.iter().any(|d| p.starts_with(d))
    }
}

/// One observed input: kind (`r`, `l`, `d`), mapped path, state.
pub(super) type Read = (char, String, String);

/// A shared object the dynamic loader maps (`libc.so.6`, `libz.so.1`,
/// `ld-linux-x86-64.so.2`, `liblto_plugin.so`).
fn is_shared_object(p: &Path) -> bool {
    p.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with(".so") || n.contains(".so."))
}

/// The run's inputs beyond what its key holds already, or the reason it
/// cannot be cached.
pub(super) fn reads(
    z: &Zones,
    obs: &Observation,
    map: &TextMap,
    memo: &mut FileMemo,
    started: SystemTime,
) -> Result<Vec<Read>, String> {
    let mut out = Vec::new();
    for (path, access) in &obs.paths {
        if z.keyed.contains(path)
            || path.starts_with(&z.out_dir)
            || path.starts_with(&z.store)
            || z.toolchain.iter().any(|t| path.starts_with(t))
            || path.starts_with("/proc")
            || path.starts_with("/sys")
        {
            continue;
        }
        match crate::wrapper::buildscript::device_use(path, *access) {
            Some(Ok(())) => continue,
            Some(Err(why)) => return Err(why.into()),
            None => {}
        }
        if z.crate_dirs
            .iter()
            .any(|d| path == d || path.parent() == Some(d.as_path()))
        {
            continue;
        }
        if access.write {
            if z.temp.iter().any(|t| path.starts_with(t)) && !z.in_build_dirs(path) {
                continue;
            }
            return Err("writes-outside-out-dir".into());
        }
        if z.temp.iter().any(|t| t == path) {
            continue;
        }
        if matches!(
            path.to_str(),
            Some("/etc/ld.so.cache" | "/etc/ld.so.preload" | "/etc/malloc.conf")
        ) || (is_shared_object(path)
            && (!z.in_build_dirs(path) || fs::symlink_metadata(path).is_err()))
        {
            continue;
        }
        if !access.list && z.build_dirs.iter().any(|d| d.starts_with(path)) {
            continue;
        }
        if z.links && !z.in_build_dirs(path) {
            // The linker driver looks for programs and files along `PATH`
            // and its library directories: what is not there, and the
            // directories themselves, are the linker's search.
            if fs::symlink_metadata(path).is_err()
                || (!access.list && fs::metadata(path).is_ok_and(|m| m.is_dir()))
            {
                continue;
            }
        }
        let mapped = map.map_path(path);
        if mapped.contains(['\t', '\n']) {
            return Err("bad-path".into());
        }
        let mut add = |kind: char| -> Result<(), String> {
            let state = state_of(kind, path, map, memo);
            match state.as_str() {
                "special" => return Err("special-file".into()),
                "unreadable" | "error" => return Err("unreadable-input".into()),
                _ => {}
            }
            if kind != 'd'
                && state.starts_with("file ")
                && fs::metadata(path)
                    .and_then(|m| m.modified())
                    .is_ok_and(|m| m >= started)
            {
                return Err("modified-during-compile".into());
            }
            out.push((kind, mapped.clone(), state));
            Ok(())
        };
        for kind in crate::wrapper::buildscript::input_kinds(*access) {
            add(kind)?;
        }
    }
    Ok(out)
}

/// The state of `path` as an input of `kind` (module docs): the same
/// states as a build script's inputs.
pub(super) use crate::wrapper::buildscript::state_of;

/// The names of the variables set now that a proc-macro could be asked
/// about (the scan's exclusions left out), sorted.
pub(super) fn env_names_now() -> Vec<String> {
    let mut v: Vec<String> = std::env::vars_os()
        .filter_map(|(k, _)| k.into_string().ok())
        .filter(|k| !scan_excluded(k))
        .collect();
    v.sort();
    v.dedup();
    v
}

/// Which of `names` may a proc-macro of this compile read: the names that
/// occur in its proc-macro libraries or in its sources (a macro's input
/// names the variable: `dotenv!("DATABASE_URL")`). `files` are (path,
/// hex hash) of both; memoised in the store per those contents and the
/// set of names, so a hit costs one small read. `None`: a file is not the
/// content named.
pub(super) fn found_names(
    store: &Store,
    files: &[(PathBuf, String)],
    names: &[String],
) -> Option<BTreeSet<String>> {
    let mut h = KeyHasher::new("rust-proc-macro-env");
    h.line("gocache-proc-macro-env v1");
    for (_, hash) in files {
        h.line(format!("file {hash}"));
    }
    for n in names {
        h.line(format!("name {n}"));
    }
    let key = h.id();
    if let Some(text) = store
        .without_tier()
        .get_bytes(&key)
        .and_then(|(_, b)| String::from_utf8(b).ok())
    {
        if let Some(body) = text.strip_prefix("found\n") {
            return Some(body.lines().map(str::to_string).collect());
        }
    }
    let mut found = BTreeSet::new();
    for (path, hash) in files {
        let bytes = fs::read(path).ok()?;
        if hex(&hash_bytes(&bytes)) != *hash {
            return None;
        }
        found.extend(scan(&bytes, names));
    }
    let mut text = String::from("found\n");
    for n in &found {
        text.push_str(n);
        text.push('\n');
    }
    let _ = store.without_tier().put(&key, text.as_bytes());
    Some(found)
}

/// The names that occur in `bytes`, an occurrence followed by `_` and a
/// letter or digit taken as part of a longer name (module docs).
pub(super) fn scan(bytes: &[u8], names: &[String]) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for n in names {
        let needle = n.as_bytes();
        let hit = memchr::memmem::find_iter(bytes, needle).any(|at| {
            let rest = &bytes[at + needle.len()..];
            !(rest.first() == Some(&b'_') && rest.get(1).is_some_and(|b| b.is_ascii_alphanumeric()))
        });
        if hit {
            found.insert(n.clone());
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scan_finds_names_but_not_prefixes_of_longer_names() {
        let names: Vec<String> = ["CARGO", "CARGO_MANIFEST_DIR", "HOME", "MY_VAR", "ABSENT"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let so = b"\0\x01CARGO_MANIFEST_DIRsrc/lib.rsMY_VAR\0CARGO_HOME";
        let found = scan(so, &names);
        assert_eq!(
            found.into_iter().collect::<Vec<_>>(),
            ["CARGO_MANIFEST_DIR", "HOME", "MY_VAR"]
        );
        // Followed by `_` and no letter: the name itself.
        assert!(scan(b"CARGO_", &names).contains("CARGO"));
    }

    #[test]
    fn std_names_and_the_jobserver_are_not_scanned_for() {
        for n in [
            "RUST_BACKTRACE",
            "PATH",
            "_",
            "CARGO_MAKEFLAGS",
            "CARGO_GOCACHE_DIR",
        ] {
            assert!(scan_excluded(n), "{n}");
        }
        for n in ["HOME", "CARGO_MANIFEST_DIR", "DATABASE_URL", "SQLX_OFFLINE"] {
            assert!(!scan_excluded(n), "{n}");
        }
    }

    #[test]
    fn shared_objects_are_told_apart() {
        assert!(is_shared_object(Path::new(
            "/lib/x86_64-linux-gnu/libc.so.6"
        )));
        assert!(is_shared_object(Path::new(
            "/usr/lib/gcc/x/12/liblto_plugin.so"
        )));
        assert!(!is_shared_object(Path::new("/ws/assets/so.txt")));
    }
}
