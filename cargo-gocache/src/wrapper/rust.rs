//! The Rust wrapper: `cargo-gocache <path/to/rustc> ARGS`, as cargo runs
//! `RUSTC_WRAPPER`. Each rustc invocation cargo makes that compiles one
//! crate into `--out-dir` is looked up in the store first.
//!
//! # Flow
//!
//! 1. [`parse`] the command line. Anything that is not a compile (`-vV`,
//!    `--print`, input `-`) runs rustc untouched, not counted; a compile
//!    this module does not understand runs rustc untouched and is counted
//!    `uncacheable` with a reason (see [`parse`] for the list).
//! 2. The **pre-key** (the table below) names a manifest: the sources, the
//!    included files and the environment variables the compiles under that
//!    pre-key read, as rustc's own dep-info listed them (direct mode, as
//!    for C headers: no `--emit=dep-info` pass before the lookup, which is
//!    what sccache pays on every hit).
//! 3. **Hit**: the first manifest entry that still holds on disk gives the
//!    final key; its result record lists every output file. They are
//!    placed atomically (executables keep their mode), the dep-info is
//!    written naming this build's paths, stdout and stderr (JSON
//!    diagnostics and the `artifact` notices cargo pipelines on) are
//!    replayed with this build's paths; exit 0.
//! 4. **Miss**: rustc runs (with the relocation flags below), stderr passed
//!    through line by line as it comes (cargo starts dependents on the
//!    `artifact` notice of the `.rmeta`, so buffering it would cost the
//!    pipelining) and kept; on success the outputs are learned from
//!    `--out-dir` (every file named `<crate><extra>` or `lib<crate><extra>`
//!    plus an extension, written by this compile) and stored.
//!
//! Never breaking a build: as in the C wrapper, a fault before rustc ran
//! runs rustc untouched with a warning and an `error` event; a fault after
//! it ran only costs the caching.
//!
//! # The key (pre-key lines; `rust-final` adds the manifest entry's)
//!
//! | line | why |
//! | --- | --- |
//! | `salt gocache-rust v1` | a format change here must not meet old entries |
//! | `compiler-version`, `compiler` | rustc's `-vV`, a hash of its binary, and the name and size of every file in its `<sysroot>/lib` (the compiler itself, `librustc_driver-<hash>.so`, `libLLVM`) and `<sysroot>/lib/rustlib/<target>/lib` (std and friends, which the crate links and inlines), with either rustup's channel manifest (the SHA-256 of every tarball of the release) or, for a toolchain rustup did not install, the content of each of those files; memoised by the full stamp of each of those files and of both directories ([`identify`] says why; mtimes are not hashed, so installs of one toolchain share entries) |
//! | `target` | `--target`, else rustc's host |
//! | `cwd` (mapped) | relative paths in the arguments and in diagnostics are relative to it |
//! | `arg ...` | every argument, machine directories mapped to stable names; left out: `--out-dir` (where, not what: outputs are named relative to it), `-L dependency=` (only searched for crates cargo already names by `--extern`, whose contents are hashed; and for the transitive crates a link takes in, see `rlib:`) |
//! | `extern:NAME` | the content hash of every `--extern` file (its name too, which holds cargo's `-C extra-filename`) |
//! | `native:PATH` | the content of every native library a compile can take in: each `-l` found in a `-L` directory, and for links every `lib*.a`/`lib*.so` in every `-L native=`/`-L all` directory (what a link of a `-sys` crate's dependents reads, named in the dependency's metadata, not on this command line) |
//! | `rlib:FILE` | links (bin, test, proc-macro, dylib, cdylib, staticlib) only: the content of every rlib in a `-L dependency=` directory whose cargo suffix (`-<16 hex>`) appears in an `--extern` file or in an rlib already taken, transitively. A dependency's metadata names its own dependencies by that suffix, so this is a superset of what the link reads. Needed because a crate's hash (SVH) recorded by its dependents does not cover native code bundled into its rlib: a changed C library in a `-sys` crate two levels down changes what the binary links and nothing else on its command line |
//! | `linker` | links only: the linker's identity (`-C linker`, else `cc`), as for a C compiler |
//! | `env NAME=VALUE` | what cargo sets that code can read (`CARGO_PKG_*`, `CARGO_CRATE_NAME`, `CARGO_BIN_NAME`, `CARGO_PRIMARY_PACKAGE`, `CARGO_MANIFEST_*`, `OUT_DIR`, `CARGO_TARGET_TMPDIR`, `CARGO_BIN_EXE_*`, paths mapped), what rustc itself reads (`RUSTC_BOOTSTRAP`, `RUSTC_FORCE_RUSTC_VERSION`, `RUSTC_LOG`), and for links what the linker reads (`LIBRARY_PATH`, `GCC_EXEC_PREFIX`, `COMPILER_PATH`) |
//! | `relocation` | the `--remap-path-prefix` names added (below) |
//! | (final) `file HASH PATH` | every file rustc's dep-info lists (sources, modules, `include_str!`/`include_bytes!`, `#[path]` files), mapped |
//! | (final) `probe present/absent PATH` | for each module file read, the other place rustc looks for it (`foo.rs` vs `foo/mod.rs`): a file appearing there is an ambiguity error, not the old result |
//! | (final) `env NAME=VALUE` | every `# env-dep:` rustc reported (`env!`, `option_env!`, also in macro output), with the value it saw, unmapped: the value may be in the output. Except (`env-mapped`) a value naming a machine directory (`OUT_DIR` in `include!(concat!(env!("OUT_DIR"), "/x.rs"))`) that the miss found in none of its outputs: it only located files, which are keyed on their own; so a second target directory still hits. (A program could still depend on such a path without spelling it, `env!("OUT_DIR").len()`: not handled) |
//!
//! Left out, and why:
//! * The rest of the environment: rustc reads no other variable, and code
//!   reads the environment at compile time only through `env!` and
//!   `option_env!`, which rustc reports. A proc-macro calling
//!   `std::env::var` is invisible to rustc and to cargo alike (cargo does
//!   not rebuild for it either).
//! * The system libraries a link takes from the linker's default search
//!   path (libc, crt files) and `ld` behind `cc`: as for C, they come with
//!   the toolchain, whose identity is in the key.
//! * A crate found by `extern crate` in a `-L` directory without a
//!   `--extern`: cargo names every dependency with `--extern`.
//!
//! # Relocation
//!
//! Unless the arguments already remap paths (a user's
//! `--remap-path-prefix`, or cargo's `trim-paths`), every cached compile
//! gets, following cargo's `trim-paths` names, `--remap-path-prefix` for:
//! the workspace root to `.` (members are compiled from it with relative
//! paths already, so their names do not change), a package outside it
//! (registry, git, path) to `<name>-<version>`, and its `OUT_DIR` to
//! `<name>-<version>/out`. That maps the paths in panic messages,
//! `file!()`, debug info and the crate metadata, so the outputs are the
//! same bytes in any checkout, target directory or `CARGO_HOME`, and the
//! key (mapped names) is the same too. Diagnostics name a dependency's
//! files by those names too (cargo caps lints of registry crates, so
//! that is mostly a path dependency's warnings). Every scope, not
//! `--remap-path-scope=object`: with diagnostics left out rustc keeps the
//! local path in the metadata (for its dependents' diagnostics), and the
//! rmeta is then different in every target directory. Cargo never sees
//! the flags (they are not in its fingerprint, and rustc does not remap
//! dep-info).
//!
//! # The result record (layout)
//!
//! ```text
//! gocache-rust-result v1
//! secs <compile seconds>
//! stdout <output id> <size>
//! stderr <output id> <size>            (machine paths mapped)
//! depinfo <output id> <size> <name>    (machine paths mapped)
//! out <output id> <size> <mode octal> <name in --out-dir>
//! ...
//! ```

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ffi::OsString;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use super::filememo::{self, FileMemo};
use anyhow::{bail, Context, Result};
use gocache_build::engine::hash::{hash_bytes, hex, ActionId, KeyHasher, OutputId};
use gocache_build::engine::keyline::KeyLine;
use gocache_build::engine::stats::{self, Event, Outcome};
use gocache_build::engine::store::write_atomic;
use gocache_build::engine::{Entry, Store};

const RECORD_HEADER: &str = "gocache-rust-result v1";
const MANIFEST_HEADER: &str = "gocache-rust-manifest v1";
/// Manifests keep at most this many observed file sets (newest first).
const MAX_ENTRIES: usize = 16;

/// Is `argv` (`cargo-gocache <program> ARGS`) a rustc invocation?
/// cargo runs `RUSTC_WRAPPER <rustc> ARGS`, or with a workspace wrapper
/// (clippy) `RUSTC_WRAPPER <wrapper> <rustc> ARGS`.
pub fn is_rustc(argv: &[OsString]) -> bool {
    let name = |a: Option<&OsString>| {
        a.and_then(|a| Path::new(a).file_stem())
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let first = name(argv.get(1));
    let rustc_like = |n: &str| n == "rustc" || n.ends_with("-rustc") || n == "clippy-driver";
    rustc_like(&first)
        || rustc_like(&name(argv.get(2)))
        || argv
            .iter()
            .skip(2)
            .any(|a| a == "--crate-name" || a == "-vV" || a == "--crate-type")
}

/// Run `argv` (`cargo-gocache <rustc> ARGS`); returns the exit code.
pub fn run(argv: Vec<OsString>) -> i32 {
    let rustc = PathBuf::from(&argv[1]);
    let args = &argv[2..];
    // A workspace wrapper (`RUSTC_WORKSPACE_WRAPPER`, e.g. clippy-driver)
    // between us and rustc: what it does to the compile is unknown, so it
    // runs untouched (as cargo would run it without us).
    let wrapped_again = args
        .first()
        .and_then(|a| Path::new(a).file_stem())
        .is_some_and(|s| s == "rustc" || s.to_string_lossy().ends_with("-rustc"));
    let parsed = if wrapped_again {
        Parse::Uncacheable("workspace-wrapper")
    } else {
        let cwd = std::env::current_dir().unwrap_or_default();
        parse(args, &cwd)
    };
    let compile = match parsed {
        Parse::NotACompile => return pass_through(&rustc, args),
        Parse::Uncacheable(reason) => {
            if let Ok(Some(store)) = Store::from_env() {
                stats::record(
                    &store,
                    &Event::rust(Outcome::Uncacheable(reason.into()), crate_hint(args)),
                );
            }
            return pass_through(&rustc, args);
        }
        Parse::Compile(c) => *c,
    };
    let store = match Store::from_env() {
        Ok(Some(store)) => store,
        Ok(None) => return pass_through(&rustc, args),
        Err(e) => {
            warn(&e.to_string());
            stats::record_run_only(&Event::rust(
                Outcome::Error("store".into()),
                crate_hint(args),
            ));
            return pass_through(&rustc, args);
        }
    };
    let (store, remote) = crate::remote::RemoteTier::attach_from_env(store);
    let code = run_cached(&store, &rustc, args, &compile);
    if let Some(r) = &remote {
        r.finish(&store);
    }
    match code {
        Some(code) => code,
        None => pass_through(&rustc, args),
    }
}

/// The cached path with every fault or panic turned into a warning:
/// `Some(code)` to exit with, `None` to run rustc untouched.
fn run_cached(store: &Store, rustc: &Path, args: &[OsString], c: &RustCompile) -> Option<i32> {
    panic::set_hook(Box::new(|_| {}));
    let ran = std::cell::Cell::new(None);
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| cached(store, rustc, args, c, &ran)));
    let _ = panic::take_hook();
    let fault = match outcome {
        Ok(Ok(code)) => return code,
        Ok(Err(e)) => format!("{e:#}"),
        Err(payload) => super::panic_fault(payload.as_ref()),
    };
    let reason = if fault.starts_with("internal error") {
        "panic"
    } else {
        "cache-fault"
    };
    stats::record(
        store,
        &Event::rust(Outcome::Error(reason.into()), c.describe()),
    );
    if let Some(code) = ran.get() {
        eprintln!("gocache: warning: {fault}; the result was not cached");
        return Some(code);
    }
    warn(&fault);
    None
}

fn warn(msg: &str) {
    eprintln!("gocache: warning: {msg}; compiling without the cache");
}

fn crate_hint(args: &[OsString]) -> String {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--crate-name" {
            if let Some(n) = it.next() {
                return n.to_string_lossy().into_owned();
            }
        }
    }
    "rustc".into()
}

/// Run rustc as if gocache were not there (`exec`: stdio and the exit
/// status are its own).
fn pass_through(rustc: &Path, args: &[OsString]) -> i32 {
    crate::wrapper::cc::pass_through(rustc, args)
}

// ---------------------------------------------------------------------
// Parsing

/// What a rustc command line is to the cache.
#[derive(Debug)]
pub enum Parse {
    /// Not a compile (`-vV`, `--print`, `-` as input...): run untouched.
    NotACompile,
    /// A compile the cache does not take, with the reason counted.
    Uncacheable(&'static str),
    /// A cacheable compile (boxed: it is most of the enum's size).
    Compile(Box<RustCompile>),
}

/// A parsed cacheable rustc compile.
#[derive(Debug, Clone, Default)]
pub struct RustCompile {
    crate_name: String,
    /// The crate root, as given.
    input: PathBuf,
    /// `--out-dir`, absolute.
    out_dir: PathBuf,
    extra_filename: String,
    crate_types: Vec<String>,
    emit: Vec<String>,
    test: bool,
    target: Option<String>,
    /// `--extern` with a file: (the name part as given, absolute path).
    externs: Vec<(String, PathBuf)>,
    /// `-L`: (kind, absolute dir).
    lib_dirs: Vec<(String, PathBuf)>,
    /// `-l`: (kind with modifiers, name).
    libs: Vec<(String, String)>,
    linker: Option<PathBuf>,
    /// The arguments as the key sees them (paths still real; mapped when hashed).
    key_args: Vec<String>,
    /// The arguments already remap paths: add none.
    user_remaps: bool,
    cwd: PathBuf,
}

impl RustCompile {
    fn describe(&self) -> String {
        format!("{} {}", self.crate_and_kind(), self.input.display())
    }

    /// `name (lib)`, `name (test)`, `name (bin)`...
    fn crate_and_kind(&self) -> String {
        let kind = if self.test {
            "test".to_string()
        } else {
            self.crate_types.join(",")
        };
        format!("{} ({kind})", self.crate_name)
    }

    /// Does this compile link (an executable or a dynamic/static library)?
    fn links(&self) -> bool {
        self.emit.iter().any(|e| e == "link")
            && (self.test
                || self.crate_types.iter().any(|t| {
                    matches!(
                        t.as_str(),
                        "bin" | "dylib" | "cdylib" | "staticlib" | "proc-macro"
                    )
                }))
    }

    /// The output names rustc writes into `--out-dir` (Linux naming); the
    /// miss checks every one was written.
    fn expected_outputs(&self) -> Vec<String> {
        let stem = format!("{}{}", self.crate_name, self.extra_filename);
        let mut out = Vec::new();
        for e in &self.emit {
            match e.as_str() {
                "dep-info" => out.push(format!("{stem}.d")),
                "metadata" => out.push(format!("lib{stem}.rmeta")),
                "link" if self.test => out.push(stem.clone()),
                "link" => {
                    for t in &self.crate_types {
                        out.push(match t.as_str() {
                            "bin" => stem.clone(),
                            "lib" | "rlib" => format!("lib{stem}.rlib"),
                            "staticlib" => format!("lib{stem}.a"),
                            _ => format!("lib{stem}.so"),
                        });
                    }
                }
                _ => {}
            }
        }
        out.sort();
        out.dedup();
        out
    }

    fn is_output_name(&self, name: &str) -> bool {
        let stem = format!("{}{}", self.crate_name, self.extra_filename);
        let lib = format!("lib{stem}");
        [stem.as_str(), lib.as_str()].iter().any(|s| {
            name.strip_prefix(s)
                .is_some_and(|r| r.is_empty() || r.starts_with('.'))
        })
    }
}

/// Options whose value may be the next argument or attached (`--x=v`,
/// `-Cv`); how each one counts is in [`parse`].
const WITH_VALUE: &[&str] = &[
    "--crate-name",
    "--edition",
    "--error-format",
    "--json",
    "--crate-type",
    "--emit",
    "--out-dir",
    "-o",
    "-C",
    "--codegen",
    "-L",
    "-l",
    "--extern",
    "--cfg",
    "--check-cfg",
    "--cap-lints",
    "-A",
    "-W",
    "-D",
    "-F",
    "--allow",
    "--warn",
    "--deny",
    "--forbid",
    "--force-warn",
    "--target",
    "--sysroot",
    "--color",
    "--diagnostic-width",
    "--remap-path-prefix",
    "--remap-path-scope",
    "--print",
    "--explain",
    "-Z",
    "--crate-attr",
    "--env-set",
];

/// Parse a rustc command line (without the program).
pub fn parse(args: &[OsString], cwd: &Path) -> Parse {
    let mut strs = Vec::with_capacity(args.len());
    for a in args {
        match a.to_str() {
            Some(s) => strs.push(s.to_string()),
            None => return Parse::Uncacheable("non-utf8-argument"),
        }
    }
    let abs = |p: &str| -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            cwd.join(p)
        }
    };
    let mut c = RustCompile {
        cwd: cwd.to_path_buf(),
        ..Default::default()
    };
    let mut input: Option<String> = None;
    let mut out_dir = None;
    let mut emit_given = false;
    let mut i = 0;
    while i < strs.len() {
        let a = &strs[i];
        i += 1;
        if !a.starts_with('-') || a == "-" {
            if a == "-" {
                return Parse::NotACompile;
            }
            if a.starts_with('@') {
                return Parse::Uncacheable("response-file");
            }
            if input.replace(a.clone()).is_some() {
                return Parse::Uncacheable("multiple-inputs");
            }
            continue;
        }
        match a.as_str() {
            "-V" | "-vV" | "--version" | "-h" | "--help" => return Parse::NotACompile,
            "--test" => {
                c.test = true;
                c.key_args.push(a.clone());
                continue;
            }
            "-g" | "-O" | "-v" | "--verbose" => {
                c.key_args.push(a.clone());
                continue;
            }
            _ => {}
        }
        // Split `--opt=value`, `-Cvalue` or `--opt value`.
        let (opt, value) =
            if let Some((o, v)) = a.split_once('=').filter(|(o, _)| o.starts_with("--")) {
                (o.to_string(), v.to_string())
            } else if WITH_VALUE.contains(&a.as_str()) {
                let Some(v) = strs.get(i) else {
                    return Parse::Uncacheable("unknown-option");
                };
                i += 1;
                (a.clone(), v.clone())
            } else if a.len() > 2 && !a.starts_with("--") && WITH_VALUE.contains(&&a[..2]) {
                (a[..2].to_string(), a[2..].to_string())
            } else {
                return Parse::Uncacheable("unknown-option");
            };
        let opt = match opt.as_str() {
            "--codegen" => "-C",
            "--allow" => "-A",
            "--warn" => "-W",
            "--deny" => "-D",
            "--forbid" => "-F",
            o => o,
        }
        .to_string();
        match opt.as_str() {
            "--print" | "--explain" => return Parse::NotACompile,
            "--crate-name" => {
                c.crate_name = value.clone();
                c.key_args.push(format!("--crate-name={value}"));
            }
            "--crate-type" => {
                for t in value.split(',') {
                    c.crate_types.push(t.to_string());
                }
                c.key_args.push(format!("--crate-type={value}"));
            }
            "--emit" => {
                emit_given = true;
                for kind in value.split(',') {
                    if kind.contains('=') {
                        return Parse::Uncacheable("emit-path");
                    }
                    if !matches!(kind, "dep-info" | "metadata" | "link") {
                        return Parse::Uncacheable("emit-kind");
                    }
                    c.emit.push(kind.to_string());
                }
                c.key_args.push(format!("--emit={value}"));
            }
            "--out-dir" => out_dir = Some(abs(&value)),
            "-o" => return Parse::Uncacheable("output-file"),
            "--target" => {
                if value.ends_with(".json") {
                    return Parse::Uncacheable("target-spec-file");
                }
                c.target = Some(value.clone());
                c.key_args.push(format!("--target={value}"));
            }
            "--sysroot" => return Parse::Uncacheable("sysroot"),
            "-Z" => return Parse::Uncacheable("unstable-option"),
            "--crate-attr" | "--env-set" => return Parse::Uncacheable("unknown-option"),
            "--remap-path-prefix" | "--remap-path-scope" => {
                c.user_remaps = true;
                c.key_args.push(format!("{opt}={value}"));
            }
            "-C" => {
                let (k, v) = value.split_once('=').unwrap_or((value.as_str(), ""));
                match k {
                    "incremental" => return Parse::Uncacheable("incremental"),
                    "save-temps" => return Parse::Uncacheable("save-temps"),
                    "profile-use" | "profile-generate" | "profile-sample-use" => {
                        return Parse::Uncacheable("profile")
                    }
                    "split-debuginfo" if v == "unpacked" => {
                        return Parse::Uncacheable("split-debuginfo-unpacked")
                    }
                    "extra-filename" => c.extra_filename = v.to_string(),
                    "linker" => c.linker = Some(PathBuf::from(v)),
                    _ => {}
                }
                c.key_args.push(format!("-C {value}"));
            }
            "-L" => {
                let (kind, dir) = match value.split_once('=') {
                    Some((k, d))
                        if matches!(k, "dependency" | "crate" | "native" | "framework" | "all") =>
                    {
                        (k.to_string(), d.to_string())
                    }
                    _ => ("all".to_string(), value.clone()),
                };
                let dir = abs(&dir);
                if kind != "dependency" {
                    c.key_args.push(format!("-L {kind}={}", dir.display()));
                }
                c.lib_dirs.push((kind, dir));
            }
            "-l" => {
                let (kind, name) = match value.split_once('=') {
                    Some((k, n)) => (k.to_string(), n.to_string()),
                    None => ("dylib".to_string(), value.clone()),
                };
                c.key_args.push(format!("-l {kind}={name}"));
                c.libs.push((kind, name));
            }
            "--extern" => match value.split_once('=') {
                Some((name, path)) => c.externs.push((name.to_string(), abs(path))),
                None => c.key_args.push(format!("--extern {value}")),
            },
            "--edition" | "--error-format" | "--json" | "--cfg" | "--check-cfg" | "--cap-lints"
            | "-A" | "-W" | "-D" | "-F" | "--force-warn" | "--color" | "--diagnostic-width" => {
                c.key_args.push(format!("{opt}={value}"));
            }
            _ => return Parse::Uncacheable("unknown-option"),
        }
    }
    let Some(input) = input else {
        return Parse::NotACompile;
    };
    let Some(out_dir) = out_dir else {
        return Parse::Uncacheable("no-out-dir");
    };
    if c.crate_name.is_empty() {
        return Parse::Uncacheable("no-crate-name");
    }
    if !emit_given {
        c.emit.push("link".into());
    }
    if !c.emit.iter().any(|e| e == "dep-info") {
        // The manifest is learned from rustc's dep-info; cargo always asks.
        return Parse::Uncacheable("no-dep-info");
    }
    if c.crate_types.is_empty() && !c.test {
        // rustc would read `#![crate_type]` from the source: not known here.
        return Parse::Uncacheable("no-crate-type");
    }
    c.input = PathBuf::from(input);
    c.out_dir = out_dir;
    Parse::Compile(Box::new(c))
}

// ---------------------------------------------------------------------
// Machine paths

/// Machine directories and their stable names, applied to text (keys,
/// stored stderr and dep-info) at path-component boundaries.
#[derive(Debug, Default, Clone)]
struct TextMap {
    /// (real, token), longest real first.
    pairs: Vec<(String, String)>,
}

impl TextMap {
    fn add(&mut self, real: &Path, token: &str) {
        let Some(s) = real.to_str() else { return };
        // Only paths that read the same in JSON, dep-info and our lines.
        if s.len() < 2
            || !s.starts_with('/')
            || s.contains(|c: char| c.is_whitespace() || matches!(c, '"' | '\\' | '=' | ':'))
        {
            return;
        }
        let s = s.trim_end_matches('/').to_string();
        if self.pairs.iter().any(|(r, _)| *r == s) {
            return;
        }
        self.pairs.push((s, token.to_string()));
        self.pairs.sort_by_key(|p| std::cmp::Reverse(p.0.len()));
    }

    fn map(&self, text: &str) -> String {
        replace_paths(
            text,
            self.pairs.iter().map(|(r, t)| (r.as_str(), t.as_str())),
        )
    }

    fn unmap(&self, text: &str) -> String {
        let mut by_token: Vec<(&str, &str)> = self
            .pairs
            .iter()
            .map(|(r, t)| (t.as_str(), r.as_str()))
            .collect();
        by_token.sort_by_key(|p| std::cmp::Reverse(p.0.len()));
        replace_paths(text, by_token.into_iter())
    }

    fn map_path(&self, p: &Path) -> String {
        self.map(&p.display().to_string())
    }

    fn unmap_path(&self, s: &str) -> PathBuf {
        PathBuf::from(self.unmap(s))
    }
}

/// Replace each `from` in `text` where it is a whole path prefix: not
/// preceded by a path character, followed by `/` or a non-path character.
/// The pairs are tried longest first at each position.
fn replace_paths<'a>(text: &str, pairs: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let pairs: Vec<(&str, &str)> = pairs.collect();
    if pairs.is_empty() {
        return text.to_string();
    }
    let path_char =
        |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'/' | b'.' | b'_' | b'-' | b'+' | b'~');
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut copied = 0;
    while i < bytes.len() {
        if bytes[i] == b'/' && (i == 0 || !path_char(bytes[i - 1])) {
            if let Some((from, to)) = pairs.iter().find(|(from, _)| {
                text[i..].starts_with(from)
                    && bytes
                        .get(i + from.len())
                        .is_none_or(|&c| c == b'/' || !path_char(c))
            }) {
                out.push_str(&text[copied..i]);
                out.push_str(to);
                i += from.len();
                copied = i;
                continue;
            }
        }
        i += 1;
    }
    out.push_str(&text[copied..]);
    out
}

/// The directories of this compile: the key's stable names, and the
/// `--remap-path-prefix` flags that make rustc's outputs independent of them.
struct Relocation {
    map: TextMap,
    remap_args: Vec<String>,
}

fn env_path(name: &str) -> Option<PathBuf> {
    gocache_build::engine::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
}

fn relocation(c: &RustCompile) -> Relocation {
    let mut map = TextMap::default();
    let workspace = env_path("CARGO_GOCACHE_WORKSPACE");
    let cargo_home = env_path("CARGO_GOCACHE_CARGO_HOME").or_else(|| env_path("CARGO_HOME"));
    let manifest_dir = env_path("CARGO_MANIFEST_DIR");
    let out_env = env_path("OUT_DIR");
    map.add(&c.out_dir, "/gocache/out-dir");
    if let Some(d) = &out_env {
        map.add(d, "/gocache/out");
    }
    if let Some(d) = &manifest_dir {
        map.add(d, "/gocache/pkg");
    }
    if let Some(d) = &workspace {
        map.add(d, "/gocache/workspace");
    }
    if let Some(d) = &cargo_home {
        map.add(d, "/gocache/cargo-home");
    }
    // The target directory's profile directories (`-L dependency=` is
    // `<target>/<profile>/deps`): holds other crates' `OUT_DIR`s (`-L
    // native=`) and `--extern` files.
    let mut n = 0;
    for (kind, dir) in &c.lib_dirs {
        if kind == "dependency" {
            if let Some(profile) = dir.parent() {
                map.add(profile, &format!("/gocache/profile{n}"));
                n += 1;
            }
        }
    }
    let mut remap_args = Vec::new();
    if !c.user_remaps {
        let pkg = format!(
            "{}-{}",
            gocache_build::engine::env::var("CARGO_PKG_NAME")
                .unwrap_or_else(|| c.crate_name.clone()),
            gocache_build::engine::env::var("CARGO_PKG_VERSION").unwrap_or_else(|| "0.0.0".into())
        );
        let ok = |p: &Path| p.to_str().is_some_and(|s| !s.contains('=') && s != "/");
        let mut remaps: Vec<(PathBuf, String)> = Vec::new();
        // rustc applies the last matching prefix: general ones first.
        if let Some(ws) = workspace.as_ref().filter(|w| ok(w)) {
            remaps.push((ws.clone(), ".".into()));
        }
        if let Some(md) = manifest_dir.as_ref().filter(|d| ok(d)) {
            if workspace.as_ref().is_none_or(|ws| !md.starts_with(ws)) {
                remaps.push((md.clone(), pkg.clone()));
            }
        }
        if let Some(out) = out_env.as_ref().filter(|d| ok(d)) {
            remaps.push((out.clone(), format!("{pkg}/out")));
        }
        if !remaps.is_empty() {
            for (from, to) in remaps {
                remap_args.push(format!("--remap-path-prefix={}={to}", from.display()));
            }
        }
    }
    Relocation { map, remap_args }
}

// ---------------------------------------------------------------------
// rustc's identity

/// What stands for "this rustc" in a key.
#[derive(Debug, Clone)]
struct RustcIdentity {
    /// Hex SHA-256 of `-vV`, the binary and the sysroot's libraries.
    id: String,
    /// `rustc 1.95.0 (...)`, for people.
    version: String,
    host: String,
}

fn stamp_of(p: &Path) -> String {
    match fs::metadata(p) {
        Ok(m) => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::MetadataExt;
                format!(
                    "{} {} {} {}.{} {}.{}",
                    m.dev(),
                    m.ino(),
                    m.size(),
                    m.mtime(),
                    m.mtime_nsec(),
                    m.ctime(),
                    m.ctime_nsec()
                )
            }
            #[cfg(not(unix))]
            {
                format!("{} {:?}", m.len(), m.modified().ok())
            }
        }
        Err(_) => "absent".into(),
    }
}

/// `rustc --print sysroot`: a directory, or an error.
fn print_sysroot(rustc: &Path) -> Result<PathBuf> {
    let out = Command::new(rustc)
        .args(["--print", "sysroot"])
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("failed to run {} --print sysroot", rustc.display()))?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    if !out.status.success() || !sysroot.is_dir() {
        bail!("{} --print sysroot gave no directory", rustc.display());
    }
    Ok(sysroot)
}

/// Is `binary` rustup's proxy (`~/.cargo/bin/rustc`: rustup itself,
/// hard-linked or symlinked under the tool's name)?
fn is_rustup_proxy(binary: &Path) -> bool {
    if binary.file_stem().is_some_and(|n| n == "rustup") {
        return true;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let rustup = binary.with_file_name("rustup");
        if let (Ok(a), Ok(b)) = (fs::metadata(binary), fs::metadata(rustup)) {
            return a.dev() == b.dev() && a.ino() == b.ino();
        }
    }
    false
}

/// Every regular file directly in `dir` whose name `keep` takes, sorted.
fn dir_files(dir: &Path, keep: impl Fn(&str) -> bool) -> Result<Vec<(String, PathBuf)>> {
    let mut files: Vec<(String, PathBuf)> = fs::read_dir(dir)
        .with_context(|| format!("failed to read {}", dir.display()))?
        .flatten()
        .filter(|e| keep(&e.file_name().to_string_lossy()))
        .filter(|e| fs::metadata(e.path()).is_ok_and(|m| m.is_file()))
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .collect();
    files.sort();
    Ok(files)
}

/// Is the file or directory at `p` older than the racy-stamp window
/// ([`filememo::RACY`]), so that its stamp can stand for its content?
fn settled(p: &Path) -> bool {
    let Some(stamp) = gocache_build::engine::stamp::Stamp::of(p) else {
        // Absent is a stamp too ("absent"), and stays so until created.
        return !p.exists();
    };
    let cutoff = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128)
        - filememo::RACY.as_nanos() as i128;
    stamp.mtime_ns < cutoff && stamp.ctime_ns < cutoff
}

const IDENTITY_MEMO: &str = "v2";

/// Identify `rustc` for `target` (None: its host): a hash of `-vV`, of
/// the binary, and of what is in `<sysroot>/lib` (the compiler itself:
/// `librustc_driver-<hash>.so`, `libLLVM`) and
/// `<sysroot>/lib/rustlib/<target>/lib` (std and friends, which the crate
/// links and inlines): the name and size of every file there, and
///
/// * for a toolchain rustup installed (it has
///   `lib/rustlib/multirust-channel-manifest.toml`), the hash of that
///   manifest, which lists the SHA-256 of every component tarball of the
///   release: rustup never changes a toolchain's files in place (an update
///   installs them anew), so the files are the tarballs' and the manifest
///   stands for their content at the cost of reading 1 MB;
/// * for any other toolchain (`rustup toolchain link` to a local build, a
///   distribution's package), the **content** of every one of those files
///   (about 500 MB, once per toolchain and store): a toolchain rebuilt in
///   place (`x.py` into a linked stage) keeps its file names, and a
///   one-constant change keeps every size.
///
/// In `<sysroot>/lib` only the compiler's libraries count (`librustc*`,
/// `libLLVM*`, `libstd-*`, `libtest-*`): for a distribution's rustc it is
/// `/usr/lib`. (Debian puts `librustc_driver` in a multiarch directory
/// below it, which is not looked into: there the package's binary, its
/// `-vV` and std's libraries stand for it.) rustup's proxy
/// (`RUSTC=~/.cargo/bin/rustc`) is first resolved to the toolchain it
/// picks for this call.
///
/// Mtimes stay out of the hash, so two installs of one toolchain (other
/// machines, CI runners) share entries. The result is memoised by the full
/// stamp of every file listed and of both directories (a file added or
/// removed changes its directory's); a stamp younger than the racy window
/// is not memoised. While one process hashes, the others wait on a lock for
/// its memo instead of hashing the same files beside it.
fn identify(store: &Store, rustc: &Path, target: Option<&str>) -> Result<RustcIdentity> {
    let mut found = gocache_build::engine::compiler::find_program(rustc)
        .with_context(|| format!("failed to find {}", rustc.display()))?;
    let mut binary = fs::canonicalize(&found).unwrap_or(found.clone());
    if is_rustup_proxy(&binary) {
        // The proxy picks a toolchain per call (`RUSTUP_TOOLCHAIN`,
        // `rust-toolchain.toml`, overrides): its own stamp says nothing of
        // which, so ask it, as the compile will, and identify that one's
        // rustc. One proxy run per compile, only with `RUSTC` set to it
        // (cargo started by rustup hands the toolchain's rustc itself).
        let real = print_sysroot(&found)?
            .join("bin")
            .join(format!("rustc{}", std::env::consts::EXE_SUFFIX));
        if !real.is_file() {
            bail!("{} --print sysroot named no rustc", found.display());
        }
        binary = fs::canonicalize(&real).unwrap_or(real.clone());
        found = real;
    }
    let memo_dir = store.root().join("compilers");
    let memo_name = format!(
        "rustc-{}",
        &hex(&hash_bytes(
            format!("{}\n{}", binary.display(), target.unwrap_or("-")).as_bytes()
        ))[..32]
    );
    let read_memo = || -> Option<RustcIdentity> {
        let text = fs::read_to_string(memo_dir.join(&memo_name)).ok()?;
        let mut l = text.lines();
        if l.next() != Some(IDENTITY_MEMO) {
            return None;
        }
        let (id, version, host) = (l.next()?, l.next()?, l.next()?);
        let mut stamps = 0;
        for line in l {
            let (stamp, path) = line.split_once('\t')?;
            if stamp_of(Path::new(path)) != stamp {
                return None;
            }
            stamps += 1;
        }
        (id.len() == 64 && stamps > 0).then(|| RustcIdentity {
            id: id.into(),
            version: version.into(),
            host: host.into(),
        })
    };
    if let Some(id) = read_memo() {
        return Ok(id);
    }
    // One hasher at a time; whoever waited reads the memo it wrote. The
    // lock is only a saving: without it, each process hashes for itself.
    let _ = fs::create_dir_all(&memo_dir);
    let lock = fs::File::create(memo_dir.join(format!("{memo_name}.lock")))
        .ok()
        .filter(|f| f.lock().is_ok());
    if lock.is_some() {
        if let Some(id) = read_memo() {
            return Ok(id);
        }
    }
    let vv = Command::new(&found)
        .arg("-vV")
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("failed to run {} -vV", found.display()))?;
    if !vv.status.success() {
        bail!("{} -vV failed", found.display());
    }
    let text = String::from_utf8_lossy(&vv.stdout).into_owned();
    let host = text
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .context("rustc -vV printed no host")?
        .trim()
        .to_string();
    let version = text.lines().next().unwrap_or("rustc").trim().to_string();
    let sysroot = print_sysroot(&found)?;
    let target_name = target.unwrap_or(&host);
    let lib = sysroot.join("lib");
    let target_lib = lib.join("rustlib").join(target_name).join("lib");
    // Stamps first, then contents: a file changed while it is hashed has
    // a newer stamp than the one memoised, so the memo is not trusted.
    let mut stamped: Vec<(String, PathBuf)> = vec![(stamp_of(&binary), binary.clone())];
    let mut material = vv.stdout.clone();
    material.extend_from_slice(b"\n--binary--\n");
    material.extend_from_slice(&gocache_build::engine::hash::hash_file(&binary)?);
    let dist_manifest = lib.join("rustlib").join("multirust-channel-manifest.toml");
    let dist = dist_manifest.is_file();
    if dist {
        stamped.push((stamp_of(&dist_manifest), dist_manifest.clone()));
        material.extend_from_slice(b"\n--rustup-channel-manifest--\n");
        material.extend_from_slice(&gocache_build::engine::hash::hash_file(&dist_manifest)?);
    }
    for (label, dir) in [("lib", &lib), ("target-lib", &target_lib)] {
        material.extend_from_slice(format!("\n--{label}--\n").as_bytes());
        stamped.push((stamp_of(dir), dir.clone()));
        if label == "target-lib" && !dir.is_dir() {
            continue;
        }
        // `<sysroot>/lib` is the system's `/usr/lib` for a distribution's
        // rustc: only the compiler's own libraries there, not every
        // library of the system (gigabytes, and any package update would
        // empty the Rust cache). The target's directory is Rust's alone.
        let keep = |name: &str| {
            label == "target-lib"
                || ["librustc", "libLLVM", "libstd-", "libtest-"]
                    .iter()
                    .any(|p| name.starts_with(p))
        };
        for (name, path) in dir_files(dir, keep)? {
            let stamp = stamp_of(&path);
            let size = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            // A file rustc cannot read either changes nothing it makes.
            let content = if dist {
                "-".to_string()
            } else {
                gocache_build::engine::hash::hash_file(&path)
                    .map_or_else(|_| "unreadable".to_string(), |h| hex(&h))
            };
            material.extend_from_slice(format!("{name} {size} {content}\n").as_bytes());
            stamped.push((stamp, path));
        }
    }
    let id = hex(&hash_bytes(&material));
    let mut memo = format!("{IDENTITY_MEMO}\n{id}\n{version}\n{host}\n");
    let mut memoisable = true;
    for (stamp, path) in &stamped {
        let shown = path.to_string_lossy();
        memoisable &= !shown.contains(['\n', '\t']) && settled(path);
        memo.push_str(&format!("{stamp}\t{shown}\n"));
    }
    // Best effort: without the memo the next compile identifies again.
    if memoisable {
        let _ = write_atomic(&memo_dir, &memo_name, memo.as_bytes());
    }
    drop(lock);
    Ok(RustcIdentity { id, version, host })
}

// ---------------------------------------------------------------------
// The key

/// Environment variables in the pre-key (see the module docs).
fn env_in_key(name: &str, links: bool) -> bool {
    const EXACT: &[&str] = &[
        "CARGO_CRATE_NAME",
        "CARGO_BIN_NAME",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_MANIFEST_DIR",
        "CARGO_MANIFEST_PATH",
        "CARGO_MANIFEST_LINKS",
        "OUT_DIR",
        "CARGO_TARGET_TMPDIR",
        "CARGO_RUSTC_CURRENT_DIR",
        "RUSTC_BOOTSTRAP",
        "RUSTC_FORCE_RUSTC_VERSION",
        "RUSTC_LOG",
    ];
    const LINK: &[&str] = &["LIBRARY_PATH", "GCC_EXEC_PREFIX", "COMPILER_PATH"];
    EXACT.contains(&name)
        || name.starts_with("CARGO_PKG_")
        || name.starts_with("CARGO_BIN_EXE_")
        || (links && LINK.contains(&name))
}

/// Files hashed for the key, through the stat memo.
struct Hashing<'a> {
    memo: &'a mut FileMemo,
}

impl Hashing<'_> {
    fn hash(&mut self, p: &Path) -> Result<String> {
        self.memo
            .hash(p)
            .with_context(|| format!("failed to read {}", p.display()))
    }
}

/// Cargo's `-C extra-filename` suffixes (`-` and 16 hex digits) in `bytes`.
fn cargo_suffixes(bytes: &[u8], out: &mut BTreeSet<String>) {
    let hexd = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
    let mut i = 0;
    while let Some(off) = memchr(b'-', &bytes[i..]) {
        let at = i + off;
        let end = at + 17;
        if end <= bytes.len()
            && bytes[at + 1..end].iter().all(|&b| hexd(b))
            && bytes.get(end).is_none_or(|&b| !hexd(b))
        {
            out.insert(String::from_utf8_lossy(&bytes[at..end]).into_owned());
            i = end;
        } else {
            i = at + 1;
        }
    }
}

fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&b| b == needle)
}

/// Does `hay` hold `needle`?
fn contains(hay: &[u8], needle: &[u8]) -> bool {
    let Some((&first, rest)) = needle.split_first() else {
        return true;
    };
    let mut i = 0;
    while let Some(off) = memchr(first, &hay[i..]) {
        let at = i + off;
        if hay[at + 1..].starts_with(rest) {
            return true;
        }
        i = at + 1;
    }
    false
}

/// The pre-key of a compile.
fn pre_key(
    store: &Store,
    c: &RustCompile,
    id: &RustcIdentity,
    reloc: &Relocation,
    hashing: &mut Hashing,
) -> Result<KeyHasher> {
    let map = &reloc.map;
    let mut h = KeyHasher::new("rust");
    h.line("salt gocache-rust v1");
    h.line(format!("compiler-version {}", id.version));
    h.line(format!("compiler {}", id.id));
    h.line(format!(
        "target {}",
        c.target.as_deref().unwrap_or(id.host.as_str())
    ));
    h.line(format!("cwd {}", map.map_path(&c.cwd)));
    h.line(format!("input {}", map.map(&c.input.display().to_string())));
    for a in &c.key_args {
        h.line(format!("arg {}", map.map(a)));
    }
    for r in &reloc.remap_args {
        h.line(format!("relocation {}", map.map(r)));
    }
    for (name, path) in &c.externs {
        let file = path.file_name().unwrap_or_default().to_string_lossy();
        h.line(format!("extern:{name} {} {file}", hashing.hash(path)?));
    }
    let links = c.links();
    // Native libraries named by `-l`, found as the linker finds them.
    let search: Vec<&PathBuf> = c
        .lib_dirs
        .iter()
        .filter(|(k, _)| k != "dependency" && k != "crate")
        .map(|(_, d)| d)
        .collect();
    let mut natives: BTreeSet<PathBuf> = BTreeSet::new();
    for (kind, name) in &c.libs {
        let name = name.split(':').next().unwrap_or(name);
        let candidates: Vec<String> = if kind.starts_with("static") {
            vec![format!("lib{name}.a")]
        } else {
            vec![format!("lib{name}.so"), format!("lib{name}.a")]
        };
        let found = search
            .iter()
            .flat_map(|d| candidates.iter().map(move |f| d.join(f)))
            .find(|p| p.is_file());
        match found {
            Some(p) => {
                natives.insert(p);
            }
            None if kind.starts_with("static") => {
                // rustc would look in the system directories, unhashed here.
                bail!("native library {name} not found in a -L directory");
            }
            // A system library (libc, libssl from the system): see the
            // module docs on what comes with the toolchain.
            None => {}
        }
    }
    if links {
        for (kind, dir) in &c.lib_dirs {
            if kind != "native" && kind != "all" {
                continue;
            }
            let Ok(rd) = fs::read_dir(dir) else { continue };
            for e in rd.flatten() {
                let n = e.file_name().to_string_lossy().into_owned();
                if n.starts_with("lib")
                    && (n.ends_with(".a") || n.contains(".so"))
                    && e.path().is_file()
                {
                    natives.insert(e.path());
                }
            }
        }
    }
    for p in &natives {
        h.line(format!("native:{} {}", map.map_path(p), hashing.hash(p)?));
    }
    if links {
        for (file, hash) in transitive_rlibs(c)? {
            h.line(format!("rlib:{file} {hash}"));
        }
        let linker = c.linker.clone().unwrap_or_else(|| PathBuf::from("cc"));
        let lid = gocache_build::engine::compiler::identify(Some(store), &linker)?;
        h.line(format!("linker {} {}", lid.id, lid.version));
    }
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in std::env::vars_os() {
        let Some(k) = k.to_str() else { continue };
        if env_in_key(k, links) {
            env.insert(k.to_string(), map.map(&v.to_string_lossy()));
        }
    }
    for (k, v) in env {
        h.line(format!("env {k}={v}"));
    }
    Ok(h)
}

/// For a link: every rlib of the dependency directories whose cargo
/// suffix appears in an `--extern` file or in an rlib already taken
/// (see the key table). Returns (file name, content hash), sorted.
fn transitive_rlibs(c: &RustCompile) -> Result<Vec<(String, String)>> {
    let mut by_suffix: HashMap<String, Vec<PathBuf>> = HashMap::new();
    for (kind, dir) in &c.lib_dirs {
        if kind != "dependency" && kind != "all" && kind != "crate" {
            continue;
        }
        let Ok(rd) = fs::read_dir(dir) else { continue };
        for e in rd.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            let Some(stem) = n.strip_suffix(".rlib") else {
                continue;
            };
            if stem.len() > 17 && stem.is_char_boundary(stem.len() - 17) {
                by_suffix
                    .entry(stem[stem.len() - 17..].to_string())
                    .or_default()
                    .push(e.path());
            }
        }
    }
    let mut seen_suffix: BTreeSet<String> = BTreeSet::new();
    let mut taken: BTreeMap<String, String> = BTreeMap::new();
    let mut queue: Vec<PathBuf> = c.externs.iter().map(|(_, p)| p.clone()).collect();
    let mut visited: BTreeSet<PathBuf> = BTreeSet::new();
    while let Some(p) = queue.pop() {
        if !visited.insert(p.clone()) {
            continue;
        }
        let bytes = fs::read(&p).with_context(|| format!("failed to read {}", p.display()))?;
        if p.extension().is_some_and(|e| e == "rlib") {
            let name = p
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            taken.insert(name, hex(&hash_bytes(&bytes)));
        }
        let mut found = BTreeSet::new();
        cargo_suffixes(&bytes, &mut found);
        for s in found {
            if seen_suffix.insert(s.clone()) {
                if let Some(files) = by_suffix.get(&s) {
                    queue.extend(files.iter().cloned());
                }
            }
        }
    }
    Ok(taken.into_iter().collect())
}

// ---------------------------------------------------------------------
// Manifest: what the compiles under one pre-key read

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Observed {
    /// (mapped path, hex hash)
    files: Vec<(String, String)>,
    /// (mapped path, present)
    probes: Vec<(String, bool)>,
    /// `# env-dep:` variables, with the value rustc saw.
    env: Vec<(String, EnvValue)>,
}

/// The value of an environment variable the crate read (`env!`).
#[derive(Debug, Clone, PartialEq, Eq)]
enum EnvValue {
    Unset,
    /// Compared as is: the value may be in the output.
    Raw(String),
    /// A value naming a machine directory (`OUT_DIR`, `CARGO_MANIFEST_DIR`
    /// in `include!(concat!(env!("OUT_DIR"), ...))`), compared mapped: the
    /// miss found the value in none of the outputs, so it only located
    /// files, which are keyed on their own (and remapped in the outputs).
    Mapped(String),
}

impl Observed {
    fn key(&self, pre: &ActionId) -> KeyHasher {
        let mut h = KeyHasher::new("rust-final");
        h.line(format!("pre {pre}"));
        // The files and probes are C's key lines, so `explain` reads them
        // as it reads a compile's headers.
        for (p, hash) in &self.files {
            h.push(&KeyLine::Header {
                hash: hash.clone(),
                path: p.clone(),
            });
        }
        for (p, x) in &self.probes {
            h.push(&KeyLine::Probe {
                path: p.clone(),
                present: *x,
            });
        }
        for (k, v) in &self.env {
            match v {
                EnvValue::Raw(v) => h.line(format!("env {k}={v}")),
                EnvValue::Mapped(v) => h.line(format!("env-mapped {k}={v}")),
                EnvValue::Unset => h.line(format!("env-unset {k}")),
            }
        }
        h
    }

    fn matches(&self, map: &TextMap, memo: &mut FileMemo) -> bool {
        self.files
            .iter()
            .all(|(p, want)| memo.hash(&map.unmap_path(p)).as_deref() == Some(want.as_str()))
            && self
                .probes
                .iter()
                .all(|(p, x)| memo.is_file(&map.unmap_path(p)) == *x)
            && self.env.iter().all(|(k, want)| {
                let now = gocache_build::engine::env::var_os(k);
                // rustc escapes `\`, newlines and returns in the values it
                // reports; none were recorded (see the miss), so a value
                // holding one is another value.
                let plain = |n: &OsString| {
                    n.to_str()
                        .filter(|n| !n.contains(['\\', '\n', '\r']))
                        .map(str::to_string)
                };
                match (want, now.as_ref().and_then(plain)) {
                    (EnvValue::Unset, None) => now.is_none(),
                    (EnvValue::Raw(w), Some(n)) => n == *w,
                    (EnvValue::Mapped(w), Some(n)) => map.map(&n) == *w,
                    _ => false,
                }
            })
    }
}

fn manifest_key(pre: &ActionId) -> ActionId {
    let mut h = KeyHasher::new("rust-manifest");
    h.line(format!("manifest {pre}"));
    h.id()
}

fn load_manifest(store: &Store, pre: &ActionId) -> Vec<Observed> {
    let Some(text) = store
        .get_bytes(&manifest_key(pre))
        .and_then(|(_, b)| String::from_utf8(b).ok())
    else {
        return Vec::new();
    };
    let mut lines = text.lines();
    if lines.next() != Some(MANIFEST_HEADER) {
        return Vec::new();
    }
    let mut out: Vec<Observed> = Vec::new();
    for l in lines {
        if l == "entry" {
            out.push(Observed::default());
            continue;
        }
        let Some(cur) = out.last_mut() else {
            return Vec::new();
        };
        let (kind, rest) = l.split_once(' ').unwrap_or((l, ""));
        match kind {
            "file" => {
                let Some((h, p)) = rest.split_once(' ') else {
                    return Vec::new();
                };
                cur.files.push((p.into(), h.into()));
            }
            "probe" => {
                let Some((x, p)) = rest.split_once(' ') else {
                    return Vec::new();
                };
                cur.probes.push((p.into(), x == "1"));
            }
            "env" | "env-mapped" => {
                let (k, v) = rest.split_once('=').unwrap_or((rest, ""));
                let v = match kind {
                    "env" => EnvValue::Raw(v.into()),
                    _ => EnvValue::Mapped(v.into()),
                };
                cur.env.push((k.into(), v));
            }
            "env-unset" => cur.env.push((rest.into(), EnvValue::Unset)),
            _ => return Vec::new(),
        }
    }
    out
}

fn save_manifest(store: &Store, pre: &ActionId, obs: Observed) -> Result<()> {
    let mut m = load_manifest(store, pre);
    m.retain(|e| *e != obs);
    m.insert(0, obs);
    m.truncate(MAX_ENTRIES);
    let mut s = format!("{MANIFEST_HEADER}\n");
    for e in &m {
        s.push_str("entry\n");
        for (p, h) in &e.files {
            s.push_str(&format!("file {h} {p}\n"));
        }
        for (p, x) in &e.probes {
            s.push_str(&format!("probe {} {p}\n", *x as u8));
        }
        for (k, v) in &e.env {
            match v {
                EnvValue::Raw(v) => s.push_str(&format!("env {k}={v}\n")),
                EnvValue::Mapped(v) => s.push_str(&format!("env-mapped {k}={v}\n")),
                EnvValue::Unset => s.push_str(&format!("env-unset {k}\n")),
            }
        }
    }
    store.put(&manifest_key(pre), s.as_bytes())?;
    Ok(())
}

/// rustc's dep-info: the files of the first rule and the `# env-dep:` lines.
#[derive(Debug, Default, PartialEq)]
struct DepInfo {
    files: Vec<String>,
    env: Vec<(String, Option<String>)>,
}

fn parse_dep_info(text: &str) -> Option<DepInfo> {
    let mut d = DepInfo::default();
    let mut first = true;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# env-dep:") {
            match rest.split_once('=') {
                Some((k, v)) => d.env.push((k.to_string(), Some(v.to_string()))),
                None => d.env.push((rest.to_string(), None)),
            }
            continue;
        }
        if line.is_empty() || line.starts_with('#') || !first {
            continue;
        }
        // `target: dep dep...`, spaces in paths escaped as `\ `.
        let words = split_escaped(line);
        let mut it = words.into_iter();
        let t = it.next()?;
        if !t.ends_with(':') {
            return None;
        }
        d.files.extend(it);
        first = false;
    }
    (!first).then_some(d)
}

fn split_escaped(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    while let Some(ch) = chars.next() {
        match ch {
            '\\' if chars.peek() == Some(&' ') => {
                cur.push(' ');
                chars.next();
            }
            ' ' => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            _ => cur.push(ch),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The other places rustc would have looked for a module file: a file
/// there makes `mod foo;` ambiguous (an error), so it is probed.
fn module_alternatives(p: &Path) -> Vec<PathBuf> {
    if p.extension().is_none_or(|e| e != "rs") {
        return Vec::new();
    }
    if p.file_name().is_some_and(|n| n == "mod.rs") {
        // dir/foo/mod.rs <-> dir/foo.rs
        return p
            .parent()
            .map(|d| vec![d.with_extension("rs")])
            .unwrap_or_default();
    }
    vec![p.with_extension("").join("mod.rs")]
}

// ---------------------------------------------------------------------
// Records

#[derive(Debug, Clone, PartialEq)]
struct OutFile {
    id: OutputId,
    size: u64,
    mode: u32,
    name: String,
}

#[derive(Debug, Clone, PartialEq)]
struct Record {
    secs: f64,
    stdout: (OutputId, u64),
    stderr: (OutputId, u64),
    depinfo: (OutputId, u64, String),
    outs: Vec<OutFile>,
}

impl Record {
    fn render(&self) -> String {
        let mut s = format!("{RECORD_HEADER}\nsecs {:.3}\n", self.secs);
        s.push_str(&format!("stdout {} {}\n", self.stdout.0, self.stdout.1));
        s.push_str(&format!("stderr {} {}\n", self.stderr.0, self.stderr.1));
        s.push_str(&format!(
            "depinfo {} {} {}\n",
            self.depinfo.0, self.depinfo.1, self.depinfo.2
        ));
        for o in &self.outs {
            s.push_str(&format!(
                "out {} {} {:o} {}\n",
                o.id, o.size, o.mode, o.name
            ));
        }
        s
    }

    fn parse(text: &str) -> Option<Record> {
        let mut l = text.lines();
        if l.next()? != RECORD_HEADER {
            return None;
        }
        let secs = l.next()?.strip_prefix("secs ")?.parse().ok()?;
        let mut pair = |name: &str| -> Option<(OutputId, u64, String)> {
            let rest = l.next()?.strip_prefix(name)?.strip_prefix(' ')?;
            let mut f = rest.splitn(3, ' ');
            let id = OutputId::from_hex(f.next()?)?;
            let size = f.next()?.parse().ok()?;
            Some((id, size, f.next().unwrap_or("").to_string()))
        };
        let (a, b, _) = pair("stdout")?;
        let (c, d, _) = pair("stderr")?;
        let depinfo = pair("depinfo")?;
        let mut outs = Vec::new();
        for line in l {
            let rest = line.strip_prefix("out ")?;
            let mut f = rest.splitn(4, ' ');
            outs.push(OutFile {
                id: OutputId::from_hex(f.next()?)?,
                size: f.next()?.parse().ok()?,
                mode: u32::from_str_radix(f.next()?, 8).ok()?,
                name: f.next()?.to_string(),
            });
        }
        if depinfo.2.is_empty()
            || depinfo.2.contains('/')
            || outs.iter().any(|o| o.name.contains('/'))
        {
            return None;
        }
        Some(Record {
            secs,
            stdout: (a, b),
            stderr: (c, d),
            depinfo,
            outs,
        })
    }
}

fn entry_of(action: ActionId, id: OutputId, size: u64) -> Entry {
    Entry {
        action,
        output: id,
        size,
        time_nanos: 0,
    }
}

/// Write `bytes` to `path` atomically with `mode` (temp file beside it,
/// then rename over whatever was there).
fn place_bytes(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let dir = path.parent().context("output without a directory")?;
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos();
    let tmp = dir.join(format!(
        ".gocache-{}-{nanos:x}-{}",
        std::process::id(),
        path.file_name().unwrap_or_default().to_string_lossy()
    ));
    let result = (|| -> Result<()> {
        let mut f = fs::File::create_new(&tmp)
            .with_context(|| format!("failed to create {}", tmp.display()))?;
        f.write_all(bytes)
            .with_context(|| format!("failed to write {}", tmp.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            f.set_permissions(fs::Permissions::from_mode(mode))
                .with_context(|| format!("failed to chmod {}", tmp.display()))?;
        }
        drop(f);
        fs::rename(&tmp, path).with_context(|| format!("failed to place {}", path.display()))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn replay(stdout: &[u8], stderr: &[u8]) {
    let _ = std::io::stdout().write_all(stdout);
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().write_all(stderr);
}

// ---------------------------------------------------------------------
// The cached path

fn cached(
    store: &Store,
    rustc: &Path,
    args: &[OsString],
    c: &RustCompile,
    ran: &std::cell::Cell<Option<i32>>,
) -> Result<Option<i32>> {
    if gocache_build::engine::env::debug("panic") {
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
            Err(e) => return Err(e),
        }
    };
    let pre_id = pre.id();
    let manifest = load_manifest(store, &pre_id);
    let mut found = None;
    for obs in &manifest {
        if obs.matches(&reloc.map, &mut memo) {
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
    miss(store, rustc, args, c, &reloc, &pre, pre_id, ran).map(Some)
}

fn hit(
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
        place_bytes(&c.out_dir.join(&o.name), bytes, o.mode)?;
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

fn verify_enabled() -> bool {
    gocache_build::engine::env::var("CARGO_GOCACHE_VERIFY").is_some_and(|v| v == "1" || v == "true")
}

/// `--verify`: compile the hit for real and compare every output with the
/// cached bytes; a difference is reported and recorded, the fresh outputs
/// stay (they are what a build without the cache has).
fn verify(
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

#[allow(clippy::too_many_arguments)]
fn miss(
    store: &Store,
    rustc: &Path,
    args: &[OsString],
    c: &RustCompile,
    reloc: &Relocation,
    pre: &KeyHasher,
    pre_id: ActionId,
    ran: &std::cell::Cell<Option<i32>>,
) -> Result<i32> {
    let started = SystemTime::now();
    // Outputs are recognised by mtime: a filesystem with coarse stamps
    // could show an old file as new; the expected names are checked too.
    let before: HashMap<String, String> = list_outputs(c)
        .into_iter()
        .map(|(n, p)| (n, stamp_of(&p)))
        .collect();
    let clock = Instant::now();
    let mut child = Command::new(rustc)
        .args(args)
        .args(&reloc.remap_args)
        .stdin(Stdio::inherit())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("failed to run {}", rustc.display()))?;
    // From here rustc runs: a fault costs only the caching.
    let mut child_out = child.stdout.take().expect("piped");
    let child_err = child.stderr.take().expect("piped");
    let out_thread = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = child_out.read_to_end(&mut v);
        v
    });
    // stderr passes through as it comes (pipelining), and is kept.
    let mut kept_err = Vec::new();
    {
        let mut r = BufReader::new(child_err);
        let mut line = Vec::new();
        let stderr = std::io::stderr();
        loop {
            line.clear();
            match r.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let mut e = stderr.lock();
                    let _ = e.write_all(&line);
                    let _ = e.flush();
                    kept_err.extend_from_slice(&line);
                }
            }
        }
    }
    let status = child.wait().context("failed to wait for rustc")?;
    let stdout = out_thread.join().unwrap_or_default();
    let secs = clock.elapsed().as_secs_f64();
    let code = super::exit_code(&status);
    ran.set(Some(code));
    let _ = std::io::stdout().write_all(&stdout);
    let _ = std::io::stdout().flush();
    let uncacheable = |reason: &str| {
        let mut e = Event::rust(Outcome::Uncacheable(reason.into()), c.describe());
        e.spent_secs = secs;
        stats::record(store, &e);
        Ok(code)
    };
    if code != 0 {
        return uncacheable("compile-error");
    }
    let Ok(stderr_text) = String::from_utf8(kept_err) else {
        return uncacheable("non-utf8-output");
    };

    // The outputs this compile wrote.
    let mut written = Vec::new();
    for (name, path) in list_outputs(c) {
        if before.get(&name) != Some(&stamp_of(&path)) {
            written.push((name, path));
        }
    }
    let expected = c.expected_outputs();
    if !expected.iter().all(|e| written.iter().any(|(n, _)| n == e)) {
        return uncacheable("unknown-outputs");
    }
    let dep_name = format!("{}{}.d", c.crate_name, c.extra_filename);
    let dep_path = c.out_dir.join(&dep_name);
    let dep_text = fs::read_to_string(&dep_path)
        .with_context(|| format!("failed to read {}", dep_path.display()))?;
    let Some(dep) = parse_dep_info(&dep_text) else {
        return uncacheable("unreadable-dep-info");
    };

    // The files it read, as the manifest keeps them.
    let map = &reloc.map;
    let mut obs = Observed::default();
    let mut probed = BTreeSet::new();
    for f in &dep.files {
        let p = if Path::new(f).is_absolute() {
            PathBuf::from(f)
        } else {
            c.cwd.join(f)
        };
        let meta = fs::metadata(&p).with_context(|| format!("failed to read {}", p.display()))?;
        if meta.modified().is_ok_and(|m| m >= started) {
            return uncacheable("modified-during-compile");
        }
        let mapped = map.map_path(&p);
        if mapped.contains('\n') {
            return uncacheable("bad-path");
        }
        let bytes = fs::read(&p).with_context(|| format!("failed to read {}", p.display()))?;
        obs.files.push((mapped, hex(&hash_bytes(&bytes))));
        probed.insert(p);
    }
    for f in obs.files.clone() {
        for alt in module_alternatives(&map.unmap_path(&f.0)) {
            if probed.insert(alt.clone()) {
                obs.probes.push((map.map_path(&alt), alt.is_file()));
            }
        }
    }
    let mut outputs_read: Vec<(String, Vec<u8>)> = Vec::new();
    for (name, path) in &written {
        if *name != dep_name {
            let bytes =
                fs::read(path).with_context(|| format!("failed to read {}", path.display()))?;
            outputs_read.push((name.clone(), bytes));
        }
    }
    for (k, v) in &dep.env {
        let value = match v {
            None => EnvValue::Unset,
            // An escaped value: compared as text it could match another.
            Some(v) if v.contains('\\') => return uncacheable("env-dep-escape"),
            Some(v) => {
                let mapped = map.map(v);
                let in_outputs = || {
                    outputs_read.iter().any(|(_, b)| contains(b, v.as_bytes()))
                        || contains(stdout.as_slice(), v.as_bytes())
                        || stderr_text.contains(v.as_str())
                };
                if mapped != *v && !in_outputs() {
                    EnvValue::Mapped(mapped)
                } else {
                    EnvValue::Raw(v.clone())
                }
            }
        };
        obs.env.push((k.clone(), value));
    }
    let final_key = obs.key(&pre_id);
    let final_id = final_key.id();

    let put = |bytes: &[u8]| -> Result<(OutputId, u64)> {
        Ok((store.put_output(bytes)?, bytes.len() as u64))
    };
    let mut outs = Vec::new();
    for (name, bytes) in &outputs_read {
        let meta = fs::metadata(c.out_dir.join(name))?;
        #[cfg(unix)]
        let mode = {
            use std::os::unix::fs::PermissionsExt;
            meta.permissions().mode() & 0o777
        };
        #[cfg(not(unix))]
        let mode = {
            let _ = &meta;
            0o644
        };
        let (id, size) = put(bytes)?;
        outs.push(OutFile {
            id,
            size,
            mode,
            name: name.clone(),
        });
    }
    let (di, ds) = put(map.map(&dep_text).as_bytes())?;
    let record = Record {
        secs,
        stdout: put(&stdout)?,
        stderr: put(map.map(&stderr_text).as_bytes())?,
        depinfo: (di, ds, dep_name),
        outs,
    };
    store.put(&final_id, record.render().as_bytes())?;
    save_manifest(store, &pre_id, obs)?;
    // The key's lines, headed by what they make, for `explain`.
    let package = format!(
        "{}@{}",
        gocache_build::engine::env::var("CARGO_PKG_NAME").unwrap_or_else(|| c.crate_name.clone()),
        gocache_build::engine::env::var("CARGO_PKG_VERSION").unwrap_or_else(|| "0.0.0".into())
    );
    let object = gocache_build::engine::explain::rust_object(
        &package,
        &c.crate_and_kind(),
        &map.map(&c.input.display().to_string()),
    );
    let mut inputs = format!(
        "{}{object}\n",
        gocache_build::engine::explain::OBJECT_PREFIX
    );
    inputs.push_str(&pre.record());
    inputs.push_str(&final_key.record());
    store.put_key_inputs(&final_id, &inputs)?;
    gocache_build::engine::explain::note_miss(store, &object, &final_id);
    let mut e = Event::rust(Outcome::Miss, c.describe());
    e.spent_secs = secs;
    e.action = Some(final_id);
    stats::record(store, &e);
    Ok(code)
}

/// The files in `--out-dir` named as this crate's outputs.
fn list_outputs(c: &RustCompile) -> Vec<(String, PathBuf)> {
    let Ok(rd) = fs::read_dir(&c.out_dir) else {
        return Vec::new();
    };
    let mut v: Vec<(String, PathBuf)> = rd
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| {
            let n = e.file_name().to_str()?.to_string();
            c.is_output_name(&n).then(|| (n, e.path()))
        })
        .collect();
    v.sort();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Vec<OsString> {
        s.iter().map(OsString::from).collect()
    }

    fn compile(s: &[&str]) -> RustCompile {
        match parse(&args(s), Path::new("/ws")) {
            Parse::Compile(c) => *c,
            other => panic!("not a compile: {other:?}"),
        }
    }

    const LIB: &[&str] = &[
        "--crate-name",
        "itoa",
        "--edition=2021",
        "/home/u/.cargo/registry/src/x/itoa-1.0.18/src/lib.rs",
        "--error-format=json",
        "--json=diagnostic-rendered-ansi,artifacts,future-incompat",
        "--crate-type",
        "lib",
        "--emit=dep-info,metadata,link",
        "-C",
        "embed-bitcode=no",
        "-C",
        "metadata=bdbf6864e54806a7",
        "-C",
        "extra-filename=-d62e748016f8bd79",
        "--out-dir",
        "/ws/target/debug/deps",
        "-L",
        "dependency=/ws/target/debug/deps",
        "--cap-lints",
        "allow",
    ];

    #[test]
    fn parses_a_cargo_lib_compile() {
        let c = compile(LIB);
        assert_eq!(c.crate_name, "itoa");
        assert_eq!(c.extra_filename, "-d62e748016f8bd79");
        assert_eq!(c.out_dir, Path::new("/ws/target/debug/deps"));
        assert_eq!(
            c.expected_outputs(),
            [
                "itoa-d62e748016f8bd79.d",
                "libitoa-d62e748016f8bd79.rlib",
                "libitoa-d62e748016f8bd79.rmeta"
            ]
        );
        assert!(!c.links());
        assert!(c.is_output_name("libitoa-d62e748016f8bd79.rlib"));
        assert!(!c.is_output_name("libitoa-d62e748016f8bd79x.rlib"));
        // The out-dir and the dependency directory are not key arguments.
        assert!(c.key_args.iter().all(|a| !a.contains("/ws/target")));
    }

    #[test]
    fn what_is_not_a_compile_or_not_cacheable() {
        let p = |s: &[&str]| parse(&args(s), Path::new("/ws"));
        assert!(matches!(p(&["-vV"]), Parse::NotACompile));
        assert!(matches!(
            p(&["-", "--crate-name", "___", "--print=file-names"]),
            Parse::NotACompile
        ));
        let mut inc: Vec<&str> = LIB.to_vec();
        inc.extend(["-C", "incremental=/ws/target/debug/incremental"]);
        assert!(matches!(p(&inc), Parse::Uncacheable("incremental")));
        let mut z: Vec<&str> = LIB.to_vec();
        z.push("-Zunstable-options");
        assert!(matches!(p(&z), Parse::Uncacheable("unstable-option")));
        let mut unknown: Vec<&str> = LIB.to_vec();
        unknown.push("--frobnicate");
        assert!(matches!(p(&unknown), Parse::Uncacheable("unknown-option")));
        let no_out: Vec<&str> = LIB[..15].to_vec();
        assert!(matches!(p(&no_out), Parse::Uncacheable("no-out-dir")));
    }

    #[test]
    fn attached_values_parse_like_separate_ones() {
        let c = compile(&[
            "--crate-name=foo",
            "src/main.rs",
            "--crate-type=bin",
            "--emit=dep-info,link",
            "-Copt-level=3",
            "-Lnative=/o/out",
            "-lstatic=z",
            "--out-dir=/ws/t",
            "--extern",
            "bar=/ws/t/libbar-0123456789abcdef.rlib",
        ]);
        assert!(c.links());
        assert_eq!(c.libs, [("static".to_string(), "z".to_string())]);
        assert_eq!(
            c.lib_dirs,
            [("native".to_string(), PathBuf::from("/o/out"))]
        );
        assert_eq!(c.externs[0].0, "bar");
        assert!(c.key_args.contains(&"-C opt-level=3".to_string()));
    }

    #[test]
    fn text_map_replaces_whole_paths_only() {
        let mut m = TextMap::default();
        m.add(Path::new("/home/u/ws"), "/gocache/workspace");
        m.add(
            Path::new("/home/u/ws/target/debug/deps"),
            "/gocache/out-dir",
        );
        let t = "{\"artifact\":\"/home/u/ws/target/debug/deps/libx.rmeta\"} /home/u/ws2/a /home/u/ws: x/home/u/ws";
        let mapped = m.map(t);
        assert_eq!(
            mapped,
            "{\"artifact\":\"/gocache/out-dir/libx.rmeta\"} /home/u/ws2/a /gocache/workspace: x/home/u/ws"
        );
        assert_eq!(m.unmap(&mapped), t);
    }

    #[test]
    fn dep_info_files_and_env() {
        let d = parse_dep_info(
            "/t/deps/p-1.d: src/main.rs src/a\\ b.rs\n\n/t/deps/p-1: src/main.rs src/a\\ b.rs\n\nsrc/main.rs:\n\n# env-dep:CARGO_PKG_NAME=p\n# env-dep:FOOBAR\n",
        )
        .unwrap();
        assert_eq!(d.files, ["src/main.rs", "src/a b.rs"]);
        assert_eq!(
            d.env,
            [
                ("CARGO_PKG_NAME".to_string(), Some("p".to_string())),
                ("FOOBAR".to_string(), None)
            ]
        );
    }

    #[test]
    fn module_files_probe_their_other_spelling() {
        assert_eq!(
            module_alternatives(Path::new("/ws/src/foo.rs")),
            [PathBuf::from("/ws/src/foo/mod.rs")]
        );
        assert_eq!(
            module_alternatives(Path::new("/ws/src/foo/mod.rs")),
            [PathBuf::from("/ws/src/foo.rs")]
        );
        assert!(module_alternatives(Path::new("/ws/src/data.txt")).is_empty());
    }

    #[test]
    fn cargo_suffixes_are_found() {
        let mut s = BTreeSet::new();
        cargo_suffixes(
            b"xx-0123456789abcdef\0-0123456789abcdef0 -fedcba9876543210",
            &mut s,
        );
        assert_eq!(
            s.into_iter().collect::<Vec<_>>(),
            ["-0123456789abcdef", "-fedcba9876543210"]
        );
    }

    #[test]
    fn record_round_trips() {
        let r = Record {
            secs: 1.5,
            stdout: (OutputId::of(b""), 0),
            stderr: (OutputId::of(b"w"), 1),
            depinfo: (OutputId::of(b"d"), 1, "x-1.d".into()),
            outs: vec![OutFile {
                id: OutputId::of(b"o"),
                size: 1,
                mode: 0o755,
                name: "x-1".into(),
            }],
        };
        assert_eq!(Record::parse(&r.render()), Some(r));
    }
}
