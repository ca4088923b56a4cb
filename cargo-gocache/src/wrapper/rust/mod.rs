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
//! 4. **Miss**: rustc runs (with the relocation flags below; under the
//!    observer when it may load a proc-macro: [`procmacro`]), stderr passed
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
//! | `salt gocache-rust v2` (links: `salt gocache-rust-link v3`) | a format change here must not meet old entries (a link's entry from before v2 lacks what the linker read; an entry from before v2/v3 what a proc-macro read) |
//! | `compiler-version`, `compiler` | rustc's `-vV`, a hash of its binary, and the name and size of every file in its `<sysroot>/lib` (the compiler itself, `librustc_driver-<hash>.so`, `libLLVM`) and `<sysroot>/lib/rustlib/<target>/lib` (std and friends, which the crate links and inlines), with either rustup's channel manifest (the SHA-256 of every tarball of the release) or, for a toolchain rustup did not install, the content of each of those files; memoised by the full stamp of each of those files and of both directories ([`identify`] says why; mtimes are not hashed, so installs of one toolchain share entries) |
//! | `target` | `--target`, else rustc's host |
//! | `native` | only with `-C target-cpu=native`: the CPU rustc takes it for and its target features (`rustc --print target-cpus --print cfg`, memoised per rustc and CPU: [`crate::key::native`]); a compile whose `native` cannot be resolved is uncacheable (`native-unresolved`) |
//! | `cwd` (mapped), `input` (mapped) | relative paths in the arguments and in diagnostics are relative to the working directory; both reach the outputs (debug info, `file!()`) only through the directories the relocation's `--remap-path-prefix` rewrites, so mapped names are what the outputs hold. With the user's own `--remap-path-prefix` gocache adds none, and nothing is mapped (every path keyed as written, as with `paths = "exact"`) |
//! | `arg ...` | every argument in order, as written (`KeyArg::AsWritten`): its text can reach the outputs or what rustc prints, or is not known not to (`-C` values: `link-arg`s the linker copies, `metadata` hashed into every symbol and `TypeId`, `llvm-args`; `--cfg` values the code compares, as gcc's `-D`; `--remap-path-prefix`; `-l` names). Mapped (`KeyArg::Locates`), only what locates an input keyed on its own: `-L` directories (their libraries are `native:` lines, a link's reads observed), `-C linker=` (its identity is the `linker` line). Left out: `--out-dir` (where, not what: outputs are named relative to it), `--extern` paths (the `extern:` lines), `-L dependency=` (only searched for crates cargo already names by `--extern`, whose contents are hashed; and for the transitive crates a link takes in, see `rlib:`) |
//! | `extern:NAME` | the content hash of every `--extern` file (its name too, which holds cargo's `-C extra-filename`) |
//! | `native:PATH` | the content of every native library a compile can take in: each `-l` found in a `-L` directory, every `lib*.a` in every `-L native=`/`-L all` directory (an rlib bundles the static libraries its source names with `#[link(kind = "static")]`, which no argument shows), and for links every `lib*.so` there too (what a link of a `-sys` crate's dependents reads, named in the dependency's metadata, not on this command line) |
//! | `rlib:FILE` | links (bin, test, proc-macro, dylib, cdylib, staticlib) only: the content of every rlib in a `-L dependency=` directory whose cargo suffix (`-<16 hex>`) appears in an `--extern` file or in an rlib already taken, transitively. A dependency's metadata names its own dependencies by that suffix, so this is a superset of what the link reads. Needed because a crate's hash (SVH) recorded by its dependents does not cover native code bundled into its rlib: a changed C library in a `-sys` crate two levels down changes what the binary links and nothing else on its command line |
//! | `linker` | links only: the linker's identity (`-C linker`, else `cc`), as for a C compiler |
//! | `env NAME=VALUE` | what cargo sets that code can read (`CARGO_PKG_*`, `CARGO_CRATE_NAME`, `CARGO_BIN_NAME`, `CARGO_PRIMARY_PACKAGE`, `CARGO_MANIFEST_*`, `OUT_DIR`, `CARGO_TARGET_TMPDIR`, `CARGO_BIN_EXE_*`, paths mapped), what rustc itself reads (`RUSTC_BOOTSTRAP`, `RUSTC_FORCE_RUSTC_VERSION`, `RUSTC_LOG`), and for links what the linker reads (`LIBRARY_PATH`, `GCC_EXEC_PREFIX`, `COMPILER_PATH`) |
//! | `relocation` | the `--remap-path-prefix` names added (below) |
//! | (final) `file HASH PATH` | every file rustc's dep-info lists (sources, modules, `include_str!`/`include_bytes!`, `#[path]` files), mapped |
//! | (final) `file HASH PATH`, links | every file the linker read, as it lists them itself (`-Wl,--dependency-file=TMP` added on a miss: GNU ld 2.35+, lld, mold): objects and archives named in link arguments, linker and version scripts (found through `-L` too), the static and shared libraries it chose (a different file, or another `SONAME`, is different content), the C runtime's files; not the compile's own temporaries (gone when it ends) nor the toolchain's sysroot (in the identity). A link whose linker cannot say (`-C linker-flavor`, a `-C linker` that is no C compiler driver, a non-Linux target, a linker that refuses the option) is uncacheable: `link-inputs-unobserved` |
//! | (final) `probe present/absent PATH` | for each module file read, the other place rustc looks for it (`foo.rs` vs `foo/mod.rs`): a file appearing there is an ambiguity error, not the old result |
//! | (final) `env NAME=VALUE` | every `# env-dep:` rustc reported (`env!`, `option_env!`, also in macro output), with the value it saw, unmapped: the value may be in the output. Except (`env-mapped`) a value naming a machine directory (`OUT_DIR` in `include!(concat!(env!("OUT_DIR"), "/x.rs"))`) that the miss found in none of its outputs: it only located files, which are keyed on their own; so a second target directory still hits. (A program could still depend on such a path without spelling it, `env!("OUT_DIR").len()`: not handled) |
//! | (final) `macro HASH PATH`, `read KIND STATE PATH`, `macro-env NAME=VALUE` | only for a compile that loaded a proc-macro (observed on the miss): its libraries by content, every path the run read that no line above covers (content, absence, listing; mapped), and every variable set in rustc's environment whose name occurs in those libraries or the crate's sources, with its value (as written where an output holds it: rust-embed's `CARGO_MANIFEST_DIR`; mapped where it only located files). What is left out and why: [`procmacro`] |
//!
//! Refused (uncacheable, counted): a compile that may load a proc-macro
//! where nothing can be observed (off Linux x86_64, ptrace refused):
//! `proc-macro-unobserved`; one whose proc-macro uses the network, writes
//! outside `--out-dir`, reads a device: as for a build script's run. A
//! link with a `-C link-arg` that makes
//! the linker write a file beside the output (`-Wl,-Map=FILE`,
//! `--out-implib`, its own `--dependency-file`, `-save-temps`...):
//! `link-arg-writes-file`. A hit restores the outputs rustc names only.
//!
//! Left out, and why:
//! * The rest of the environment: rustc reads no other variable, and code
//!   reads the environment at compile time only through `env!` and
//!   `option_env!`, which rustc reports, or in a proc-macro through
//!   `std::env::var`, which rustc does not: those are the `macro-env` lines
//!   below.
//! * `ld` behind `cc`: as for C, it comes with the toolchain, whose
//!   identity is in the key. (The files it reads are observed, above.)
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

use crate::key::hash::{hash_bytes, hex, ActionId, KeyHasher, OutputId};
use crate::key::line::KeyLine;
use crate::stats::{self, Event, Outcome};
use crate::store::write_atomic;
use crate::wrapper::filememo::{self, FileMemo};
use crate::{Entry, Store};
use anyhow::{bail, Context, Result};

mod hit;
mod identity;

/// The host triple of `rustc` (a path or a name on `PATH`, rustup's proxy
/// resolved), from the identity memo in `store` (a few `stat`s) once one
/// compile has identified it: `rustc -vV` costs every build's set-up ten
/// milliseconds or more.
pub(crate) fn host_triple(store: &Store, rustc: &Path) -> Result<String> {
    Ok(identity::identify(store, rustc, None)?.host)
}
mod key;
mod manifest;
mod miss;
mod parse;
mod paths;
mod procmacro;
mod query;
mod record;

use hit::*;
use identity::*;
use key::*;
use manifest::*;
use miss::*;
use parse::*;
use paths::*;
use record::*;

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
        Parse::NotACompile => {
            // cargo's questions before a build (`-vV`, `--print`): see query.
            if let Some(q) = query::parse(args) {
                if let Some(code) = query::answer(&rustc, args, &q) {
                    return code;
                }
            }
            return pass_through(&rustc, args);
        }
        Parse::Uncacheable(reason) => {
            if let Ok(Some(store)) = Store::from_env() {
                stats::record(
                    &store,
                    &Event::rust(Outcome::Uncacheable(reason.into()), crate_hint(args)),
                );
            }
            let build_script = build_script_output(args);
            if let Some(exe) = &build_script {
                super::buildscript::remove_launcher(exe);
            }
            // A build script compiled uncached (incremental, in a path
            // package's dev profile) still gets its launcher.
            if let Some(exe) = build_script.filter(|_| super::buildscript::enabled()) {
                let code = match std::process::Command::new(&rustc).args(args).status() {
                    Ok(s) => crate::wrapper::exit_code(&s),
                    Err(e) => {
                        eprintln!("gocache: error: failed to run {}: {e}", rustc.display());
                        return 127;
                    }
                };
                if code == 0 {
                    install_launcher(&exe, None);
                }
                return code;
            }
            return pass_through(&rustc, args);
        }
        Parse::Compile(c) => *c,
    };
    if compile.is_build_script() {
        super::buildscript::remove_launcher(
            &compile
                .out_dir
                .join(format!("{}{}", compile.crate_name, compile.extra_filename)),
        );
    }
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
    if code == Some(0) && compile.is_build_script() && super::buildscript::enabled() {
        install_launcher(
            &compile
                .out_dir
                .join(format!("{}{}", compile.crate_name, compile.extra_filename)),
            Some(&store),
        );
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
        Err(payload) => crate::wrapper::panic_fault(payload.as_ref()),
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

/// Put the build-script launcher in place of `exe`; a failure leaves the
/// script itself, which then runs uncached.
fn install_launcher(exe: &Path, store: Option<&Store>) {
    if let Err(e) = super::buildscript::install_launcher(exe, store) {
        eprintln!(
            "gocache: warning: {}: {e}; its build script runs without the cache",
            exe.display()
        );
    }
}

/// The executable a build script's compile writes, read from the command
/// line alone (for compiles the parser does not take).
fn build_script_output(args: &[OsString]) -> Option<PathBuf> {
    let mut name = None;
    let mut out_dir = None;
    let mut extra = String::new();
    let mut bin = false;
    let mut it = args.iter().map(|a| a.to_str());
    while let Some(a) = it.next() {
        let a = a?;
        match a {
            "--crate-name" => name = it.next().flatten(),
            "--out-dir" => out_dir = it.next().flatten(),
            "--crate-type" => bin |= it.next().flatten() == Some("bin"),
            "-C" => {
                if let Some(e) = it
                    .next()
                    .flatten()
                    .and_then(|v| v.strip_prefix("extra-filename="))
                {
                    extra = e.to_string();
                }
            }
            "--test" => return None,
            _ => {
                if let Some(e) = a.strip_prefix("-Cextra-filename=") {
                    extra = e.to_string();
                } else if let Some(t) = a.strip_prefix("--crate-type=") {
                    bin |= t == "bin";
                }
            }
        }
    }
    let name = name.filter(|n| n.starts_with("build_script_"))?;
    (bin || name == "build_script_build").then_some(())?;
    let dir = std::env::current_dir().ok()?.join(out_dir?);
    Some(dir.join(format!("{name}{extra}")))
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
        assert!(c.key_args.iter().all(|a| !a.text().contains("/ws/target")));
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
        assert!(c
            .key_args
            .contains(&KeyArg::AsWritten("-C opt-level=3".to_string())));
        assert!(c
            .key_args
            .contains(&KeyArg::Locates("-L native=/o/out".to_string())));
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
