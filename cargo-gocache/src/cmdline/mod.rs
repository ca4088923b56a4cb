//! One gcc/clang command line: is it cacheable, and what is its pre-key?
//!
//! [`parse`] reads a compiler's arguments (expanding `@file` response
//! files) and either finds the one thing gocache caches, one source file
//! compiled with `-c` to one object ([`Compile`]), or names why it is not
//! cacheable ([`Uncacheable`]; the reason is what `stats` counts).
//! [`Compile::pre_key`] then hashes everything known before compiling; the
//! headers are added afterwards by [`crate::direct::manifest`] (direct mode).
//!
//! What each option means is in one table, `options.rs`: every option
//! that reads or writes a file or changes the header search is parsed,
//! hashed, probed or refused there, under its short name whatever its
//! spelling (`--include-directory=x` is `-Ix`).
//!
//! # What goes into the pre-key
//!
//! | line | why |
//! | --- | --- |
//! | `gocache-compile v4` | version salt: bumped when the key or result format changes |
//! | `compiler <id>` | [`crate::key::compiler::identify`]: `--version` output and a hash of the driver binary (memoised, so a hit runs no compiler) |
//! | `compiler-version ...` | the first version line, for people reading `explain` output (already covered by the id) |
//! | `target ...` | `--target`/`-target`/`-arch`/`-m*` as given, or `default`; they are also `arg` lines, this line is for people |
//! | `native ...` | only when `-march=`, `-mcpu=` or `-mtune=` says `native`: the target options the compiler turns it into on this machine ([`crate::key::native`], memoised per compiler and CPU, so a hit runs no compiler); a compile whose `native` cannot be resolved is uncacheable (`native-unresolved`) |
//! | `lang c` | the language (`-x` or the extension) |
//! | `depfile user-headers` | `-MMD`: its depfile leaves out the headers gcc deems system ones, which only a preprocessing run tells (see the wrapper) |
//! | `relocate on/off` and `relocation <stable name>` | whether `-ffile-prefix-map` is added and which stable names the object may contain |
//! | `cwd <dir>` | the working directory as the compiler records it ([`compiler_cwd`]: `$PWD` when it names the working directory, else `getcwd()`), mapped: debug info records it (`DW_AT_comp_dir`) and relative paths resolve against it |
//! | `arg ...` | every argument except those listed below, in order; paths of search-path and `-include` options mapped through the [`PathMap`] |
//! | `macro-arg -DNAME` | with gcc, each `-D`/`-U` in its place, without its value: the values of the macros the compile used are in the final key ([`macros`]); with other compilers, or any doubt, `-D`s are `arg` lines with their values |
//! | `env NAME=value` | the variables in [`KEY_ENV`] that are set |
//! | `source <sha256> <name>` | the source file's content and mapped name (as given when relative: the `cwd` line resolves it) |
//!
//! The lines are [`KeyLine`]s (rendered and parsed in [`crate::key::line`]);
//! the build.rs helper hashes these very lines for each of its sources
//! ([`Compile::key_lines`]), so both apply the same rules.
//!
//! # What is left out, and why
//!
//! * `-o FILE`: the object's own name is not written into it (no option
//!   that would write auxiliary files named after it is cacheable).
//! * `-MD`, `-MMD`, `-MF`, `-MT`, `-MQ`, `-MP`: they only shape the depfile,
//!   which gocache writes itself, from the stored header list, in the form
//!   the caller asked for (on a miss as on a hit). Only whether system
//!   headers are left out (`-MMD`) is a key line.
//! * The source's position among the arguments: only `-x` before it matters,
//!   and that is the `lang` line.
//! * Absolute paths under the mapped directories (the package, `OUT_DIR`,
//!   the workspace, the cargo home): the compile is run with
//!   `-ffile-prefix-map=REAL=STABLE` for each, so the object holds only the
//!   stable name, and the key hashes the stable name. A second checkout,
//!   another target directory or another user's `$CARGO_HOME` then hits.
//!   Paths elsewhere (and every path inside a `-D` value, which the compiler
//!   copies into the object as is) are hashed as they are.
//! * The value of a `-D` the compile does not use (gcc says which, see
//!   [`macros`]): it cannot change the object, and openssl's
//!   `-DENGINESDIR="<OUT_DIR>/..."` on every line would otherwise split
//!   the cache of every source by checkout.
//! * mtimes, never: contents are hashed. (Stamps only decide whether a
//!   compile's inputs held still while it ran, see [`crate::direct::stamp`].)
//! * Environment variables other than [`KEY_ENV`] (why each is left out is
//!   there).
//!
//! # Relocation: the stable names
//!
//! Built from the environment by [`relocation_map`]:
//!
//! | real directory | stable name |
//! | --- | --- |
//! | `CARGO_MANIFEST_DIR` (the package being built) | `/gocache/pkg/<CARGO_PKG_NAME>-<CARGO_PKG_VERSION>` |
//! | `OUT_DIR` | `/gocache/out/<CARGO_PKG_NAME>-<CARGO_PKG_VERSION>` |
//! | `CARGO_GOCACHE_WORKSPACE` (set by `cargo gocache`) | `/gocache/workspace` |
//! | `CARGO_GOCACHE_CARGO_HOME`, else `CARGO_HOME`, else `~/.cargo` | `/gocache/cargo-home` |
//! | the working directory, only outside a build script and only with `CARGO_GOCACHE_MAP_CWD` true (`1`, `yes`, ...: the settings' boolean grammar) | `/gocache/cwd` |
//!
//! Each directory is mapped under the spelling given and, when different,
//! its canonical spelling; and when the working directory is spelled
//! through a symlink (`$PWD`, which the compiler records, see
//! [`compiler_cwd`]), every mapped directory inside it is mapped under that
//! spelling too, so an object built through either spelling holds only the
//! stable name. A directory whose name holds `=` cannot be said in
//! `-ffile-prefix-map` and is left unmapped. Relocation needs gcc 8 or
//! clang 10 (see [`supports_prefix_map`]); with an older compiler the map is
//! empty and keys hash real paths, which is correct, only less shared.
//!
//! # Debugging a miss
//!
//! `CARGO_GOCACHE_DEBUG=hash` prints every line as it is hashed; the lines
//! of every stored result are kept beside it (`-k` files in the store).

pub mod macros;
mod options;

use std::ffi::OsString;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use crate::direct::manifest::SearchPath;
use crate::key::compiler::CompilerIdentity;
use crate::key::hash::KeyHasher;
use crate::key::line::KeyLine;
use crate::key::pathmap::PathMap;
use macros::MacroArg;
use options::{Dir, Means};

/// Environment variables hashed into the pre-key: each changes what the
/// compiler reads or writes.
///
/// * `CPATH`, `C_INCLUDE_PATH`, `CPLUS_INCLUDE_PATH`, `OBJC_INCLUDE_PATH`,
///   `OBJCPLUS_INCLUDE_PATH`: extra include directories.
/// * `SOURCE_DATE_EPOCH`: the value of `__DATE__`/`__TIME__`.
/// * `GCC_EXEC_PREFIX`, `COMPILER_PATH`: where the driver finds `cc1` and `as`.
/// * `LIBRARY_PATH`: read by the driver (cc reruns on it); harmless to hash.
/// * `GCC_COMPARE_DEBUG`: makes gcc compile twice and compare.
/// * `LANG`, `LC_ALL`, `LC_CTYPE`, `LC_MESSAGES`: the language and charset of
///   diagnostics, which a hit replays.
/// * `GCC_COLORS`: the colours of diagnostics.
/// * `CCC_OVERRIDE_OPTIONS`: clang edits its own arguments with it.
/// * `SDKROOT`, `MACOSX_DEPLOYMENT_TARGET`, `IPHONEOS_DEPLOYMENT_TARGET`:
///   Apple clang's sysroot and target version.
/// * `GCC_EXTRA_DIAGNOSTIC_OUTPUT`: gcc adds machine-readable fix-it hints
///   to its diagnostics.
/// * `GCC_URLS`, `TERM_URLS`: how gcc writes the links in its diagnostics.
///
/// `TERM` and `COLORTERM` matter only when stderr is a terminal; then the
/// wrapper decides colours and links as the compiler would, and passes its
/// decision as an option, which is hashed ([`Compile::diagnostics_args`]).
///
/// Left out: `TARGET`, `HOST`, `PROFILE`, `OPT_LEVEL`, `DEBUG` (the compiler
/// never reads them; cc turns them into the compiler it picks and the
/// arguments it passes, both hashed, so the build.rs helper, which hashes
/// this same list, needs them no more than the wrapper); `PWD` (the `cwd`
/// line says what the compiler makes of it); `PATH` (the compiler's
/// identity is of the binary found).
///
/// `DEPENDENCIES_OUTPUT` and `SUNPRO_DEPENDENCIES` make the compiler write a
/// depfile beside the object that a hit would not restore: when set, the
/// compile is [uncacheable](Uncacheable) instead.
pub const KEY_ENV: &[&str] = &[
    "CPATH",
    "C_INCLUDE_PATH",
    "CPLUS_INCLUDE_PATH",
    "OBJC_INCLUDE_PATH",
    "OBJCPLUS_INCLUDE_PATH",
    "SOURCE_DATE_EPOCH",
    "GCC_EXEC_PREFIX",
    "COMPILER_PATH",
    "LIBRARY_PATH",
    "GCC_COMPARE_DEBUG",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "LC_MESSAGES",
    "GCC_COLORS",
    "CCC_OVERRIDE_OPTIONS",
    "SDKROOT",
    "MACOSX_DEPLOYMENT_TARGET",
    "IPHONEOS_DEPLOYMENT_TARGET",
    "GCC_EXTRA_DIAGNOSTIC_OUTPUT",
    "GCC_URLS",
    "TERM_URLS",
];

/// Variables that make a compile uncacheable when set (see [`KEY_ENV`]).
const UNCACHEABLE_ENV: &[&str] = &["DEPENDENCIES_OUTPUT", "SUNPRO_DEPENDENCIES"];

/// v4: manifests from before record the probes of a header found in a
/// directory also listed later (`-I` of a system directory), through a
/// resolved system directory, and of `.gch` names in every directory
/// searched; their entries would match without them.
const SALT: &str = "gocache-compile v4";

/// The languages gocache caches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// C (`.c`, `-x c`).
    C,
    /// C++ (`.cc`, `.cpp`, `.cxx`, `.C`, `-x c++`).
    Cxx,
    /// Assembly that goes through the preprocessor (`.S`, `.sx`, `-x assembler-with-cpp`).
    AsmCpp,
    /// Plain assembly (`.s`, `-x assembler`): no preprocessor, so no
    /// depfile; the assembler's own inputs (`.include`, `.incbin`) and its
    /// identity are added to the key by the wrapper (its `asm` module).
    Asm,
}

impl Lang {
    /// The name `-x` takes.
    pub fn name(self) -> &'static str {
        match self {
            Lang::C => "c",
            Lang::Cxx => "c++",
            Lang::AsmCpp => "assembler-with-cpp",
            Lang::Asm => "assembler",
        }
    }

    fn from_x(name: &str) -> Result<Option<Lang>, Uncacheable> {
        Ok(Some(match name {
            "c" => Lang::C,
            "c++" => Lang::Cxx,
            "assembler-with-cpp" => Lang::AsmCpp,
            "assembler" => Lang::Asm,
            "none" => return Ok(None),
            other => return Err(Uncacheable::new(format!("unsupported-language:{other}"))),
        }))
    }

    /// The language of a file by its extension, as gcc decides it. `Err`
    /// with the language name for files gcc would treat otherwise.
    fn from_path(path: &str) -> Result<Lang, &'static str> {
        let ext = path.rsplit_once('.').map_or("", |(_, e)| e);
        Ok(match ext {
            "c" => Lang::C,
            "cc" | "cp" | "cxx" | "cpp" | "CPP" | "c++" | "C" => Lang::Cxx,
            "S" | "sx" => Lang::AsmCpp,
            "s" => Lang::Asm,
            // Already preprocessed: worth little to cache, not worth the code.
            "i" | "ii" => return Err("cpp-output"),
            "m" | "mm" | "M" | "mi" | "mii" => return Err("objective-c"),
            "h" | "hh" | "hpp" | "hxx" | "H" | "tcc" => return Err("header"),
            "f" | "for" | "f90" | "f95" | "f03" | "F" | "F90" => return Err("fortran"),
            "cu" => return Err("cuda"),
            _ => return Err("linker-input"),
        })
    }
}

/// Why a command line is not cached; [`Uncacheable::reason`] is counted by `stats`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uncacheable {
    /// A short reason: `link`, `-E`, `multiple-sources`, `unsupported-option:-save-temps`...
    pub reason: String,
}

impl Uncacheable {
    fn new(reason: impl Into<String>) -> Uncacheable {
        Uncacheable {
            reason: reason.into(),
        }
    }

    fn option(opt: &str) -> Uncacheable {
        Uncacheable::new(format!("unsupported-option:{opt}"))
    }
}

impl fmt::Display for Uncacheable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

/// The depfile the caller asked for (`-MD`/`-MMD` and friends).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepRequest {
    /// Where to write it, as given (`-MF`), or the object's name with `.d`.
    pub path: PathBuf,
    /// The targets, as they go in the file (`-MT` verbatim, `-MQ` quoted
    /// for make); empty for the default, the object's name as given.
    pub targets: Vec<String>,
    /// `-MP`: a phony rule per header.
    pub phony: bool,
    /// `-MD` lists system headers; `-MMD` does not.
    pub system_headers: bool,
    /// Write it as clang does (set by the caller, who knows the compiler).
    pub clang_style: bool,
}

/// One argument as it goes into the key.
#[derive(Debug, Clone, PartialEq, Eq)]
enum KeyArg {
    /// Hashed as is.
    Plain(String),
    /// `-ffile-prefix-map=OLD=NEW` and its kin (the option with `=`, OLD,
    /// NEW): the object holds NEW where OLD was, so OLD is hashed mapped.
    /// The build.rs helper passes these for its own compiles, which then
    /// reach a second checkout through the wrapper too.
    PrefixMap(String, String, String),
    /// An option whose value is a path the compiler only reads files
    /// through (`-I DIR`): hashed with the path mapped.
    Path(String, String),
    /// A `-D` or `-U` (as given, and its place in [`Compile::macros`]):
    /// hashed without its value when the compile's used macros can be
    /// learned ([`Compile::macro_names_keyed`]), as given otherwise.
    Macro(String, usize),
}

/// A path argument as hashed: mapped when absolute, as given when relative
/// (the working directory, hashed mapped, resolves it).
fn mapped(map: &PathMap, p: &str) -> String {
    let p = Path::new(p);
    if p.is_absolute() {
        map.map(p)
    } else {
        p.display().to_string()
    }
}

/// `-ffile-prefix-map=OLD=NEW` (and `-fdebug-`, `-fmacro-`, `-fprofile-`):
/// gcc splits at the first `=` after the option.
fn prefix_map_arg(arg: &str) -> Option<KeyArg> {
    for opt in [
        "-ffile-prefix-map=",
        "-fdebug-prefix-map=",
        "-fmacro-prefix-map=",
        "-fprofile-prefix-map=",
    ] {
        if let Some((old, new)) = arg.strip_prefix(opt).and_then(|v| v.split_once('=')) {
            return Some(KeyArg::PrefixMap(
                opt.to_string(),
                old.to_string(),
                new.to_string(),
            ));
        }
    }
    None
}

/// A cacheable compile: one source, `-c`, one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compile {
    /// The source file, as given.
    pub source: PathBuf,
    /// The object file, as given (`-o`), or the source's stem with `.o`.
    pub object: PathBuf,
    /// The source's language.
    pub lang: Lang,
    /// The depfile the caller asked for, if any.
    pub dep: Option<DepRequest>,
    /// The arguments to run the compiler with: response files expanded,
    /// the dependency options removed (gocache asks for its own depfile and
    /// writes the caller's itself).
    pub run_args: Vec<String>,
    /// `-iquote` directories, as given.
    pub quote_dirs: Vec<PathBuf>,
    /// `-I` directories, as given.
    pub include_dirs: Vec<PathBuf>,
    /// `-isystem` directories, as given.
    pub isystem_dirs: Vec<PathBuf>,
    /// `-idirafter` directories, as given.
    pub after_dirs: Vec<PathBuf>,
    /// `-include` and `-imacros` files, as given.
    pub forced_includes: Vec<PathBuf>,
    /// The arguments that change the compiler's own include directories
    /// (`--sysroot`, `-nostdinc`, `--target`, `-m*`, `-stdlib=`...), for
    /// [`crate::key::compiler::system_include_dirs`].
    pub sysdir_args: Vec<String>,
    /// `--target`, `-target`, `-arch` and `-m*` arguments.
    pub target_args: Vec<String>,
    /// What `native` in the target arguments means on this machine, once
    /// resolved ([`Compile::resolve_native`]); keying a compile that names
    /// `native` without it is an error.
    pub native: Option<String>,
    /// The `-D`s and `-U`s whose names are plain, in order.
    pub macros: Vec<MacroArg>,
    /// Something makes every macro value stay in the pre-key (see
    /// [`macros`]'s docs).
    macro_values_keyed: bool,
    /// Where the source is among `run_args`.
    source_index: usize,
    key_args: Vec<KeyArg>,
}

/// `-Wa,--help` (and `--version`, `--target-help`): the assembler prints
/// and exits 0 without writing the object (openssl's Configure probes
/// `-Wa,--help -c -o null.$$.o -x assembler /dev/null` for
/// `--noexecstack`). Nothing to cache, and a stale file at `-o` must not be
/// taken for its result. (`-Wa,-v` prints its version and still assembles.)
fn assembler_info(arg: &str) -> bool {
    arg.strip_prefix("-Wa,").is_some_and(|list| {
        list.split(',')
            .any(|a| matches!(a, "--help" | "-h" | "--version" | "--target-help"))
    })
}

/// Expand `@file` response files (recursively, as gcc does), reading them
/// relative to `cwd`.
fn expand_response_files(
    args: &[String],
    cwd: &Path,
    depth: u32,
) -> Result<Vec<String>, Uncacheable> {
    let mut out = Vec::with_capacity(args.len());
    for a in args {
        let Some(name) = a.strip_prefix('@') else {
            out.push(a.clone());
            continue;
        };
        if depth > 8 {
            return Err(Uncacheable::new("response-file-nesting"));
        }
        // gcc passes an unreadable `@file` on as a file name; leave that to it.
        let text = fs::read_to_string(cwd.join(name))
            .map_err(|_| Uncacheable::new("response-file-unreadable"))?;
        // libiberty's `buildargv` also splits at \v and \f, LLVM's does not:
        // which the compiler is, is not known here.
        if text.contains(['\x0b', '\x0c']) {
            return Err(Uncacheable::new("response-file-syntax"));
        }
        out.extend(expand_response_files(
            &split_response_file(&text),
            cwd,
            depth + 1,
        )?);
    }
    Ok(out)
}

/// Split a response file as libiberty's `buildargv` (and LLVM's GNU
/// tokenizer) do: ASCII blanks separate arguments (not Unicode spaces:
/// both compilers split at bytes); single or double quotes group; a backslash takes
/// the next character literally.
fn split_response_file(text: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut cur = String::new();
    let mut in_arg = false;
    let mut quote: Option<char> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match (c, quote) {
            ('\\', _) => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
                in_arg = true;
            }
            (q, Some(open)) if q == open => quote = None,
            (_, Some(_)) => cur.push(c),
            ('\'' | '"', None) => {
                quote = Some(c);
                in_arg = true;
            }
            (' ' | '\t' | '\n' | '\r', None) => {
                if in_arg {
                    args.push(std::mem::take(&mut cur));
                    in_arg = false;
                }
            }
            (c, None) => {
                cur.push(c);
                in_arg = true;
            }
        }
    }
    if in_arg {
        args.push(cur);
    }
    args
}

/// Parse a compiler's arguments (without the compiler itself), with `cwd`
/// for response files.
pub fn parse(args: &[OsString], cwd: &Path) -> Result<Compile, Uncacheable> {
    let mut utf8 = Vec::with_capacity(args.len());
    for a in args {
        utf8.push(
            a.to_str()
                .ok_or_else(|| Uncacheable::new("non-utf8-argument"))?
                .to_string(),
        );
    }
    for name in UNCACHEABLE_ENV {
        if crate::env::var_os(name).is_some() {
            return Err(Uncacheable::new(format!("env:{name}")));
        }
    }
    let args = expand_response_files(&utf8, cwd, 0)?;

    let mut c = Compile {
        source: PathBuf::new(),
        object: PathBuf::new(),
        lang: Lang::C,
        dep: None,
        run_args: Vec::with_capacity(args.len()),
        quote_dirs: Vec::new(),
        include_dirs: Vec::new(),
        isystem_dirs: Vec::new(),
        after_dirs: Vec::new(),
        forced_includes: Vec::new(),
        sysdir_args: Vec::new(),
        target_args: Vec::new(),
        native: None,
        macros: Vec::new(),
        macro_values_keyed: false,
        source_index: 0,
        key_args: Vec::new(),
    };
    let mut compile_only = false;
    let mut stop: Option<&'static str> = None;
    let mut output: Option<String> = None;
    let mut x_lang: Option<Result<Option<Lang>, Uncacheable>> = None;
    let mut sources: Vec<(String, Result<Lang, Uncacheable>)> = Vec::new();
    let mut dep_on = false;
    let mut dep_system = true;
    let mut dep_file: Option<String> = None;
    let mut dep_targets: Vec<String> = Vec::new();
    let mut dep_phony = false;
    // The dependency options as given: plain assembly keeps them (below).
    let mut dep_args: Vec<String> = Vec::new();

    let mut asm_refusal: Option<String> = None;
    // Search directories, resolved once the sysroot is known (`-I=dir`).
    let mut search: Vec<(Dir, String)> = Vec::new();
    let mut sysroot: Option<String> = None;
    let mut isysroot: Option<String> = None;

    let mut i = 0;
    while i < args.len() {
        let start = i;
        let arg = args[i].as_str();
        i += 1;
        if assembler_info(arg) {
            return Err(Uncacheable::new("assembler-info"));
        }
        let mut keep_in_run = true;
        let mut is_dep = false;
        if !arg.starts_with("-D") && !arg.starts_with("-U") && macros::option_keeps_values(arg) {
            c.macro_values_keyed = true;
        }
        if arg == "-" {
            sources.push(("-".into(), Err(Uncacheable::new("stdin"))));
        } else if !arg.starts_with('-') || arg.len() == 1 {
            // An input file.
            let lang = match &x_lang {
                Some(Ok(Some(l))) => Ok(*l),
                Some(Err(e)) => Err(e.clone()),
                _ => Lang::from_path(arg)
                    .map_err(|l| Uncacheable::new(format!("unsupported-language:{l}"))),
            };
            c.source_index = c.run_args.len();
            sources.push((arg.to_string(), lang));
        } else if let Some(m) = options::lookup(arg) {
            let (v, joined) = match &m.value {
                options::Value::None => (String::new(), false),
                options::Value::Joined(v) => (v.clone(), true),
                options::Value::Next => {
                    let Some(v) = args.get(i) else {
                        return Err(Uncacheable::new(format!("missing-argument:{arg}")));
                    };
                    i += 1;
                    (v.clone(), false)
                }
            };
            let name = m.name;
            // The key spells an option as its canonical form.
            let spelled = if joined {
                format!("{name}{v}")
            } else if m.value == options::Value::None {
                name.to_string()
            } else {
                format!("{name} {v}")
            };
            let refuse = |what: String| Err(Uncacheable::option(&what));
            match m.means {
                Means::Refuse(_) => {
                    return refuse(if m.pattern {
                        options::canonical(arg)
                    } else {
                        name.to_string()
                    })
                }
                Means::Plain | Means::Alias(_) => c.key_args.push(KeyArg::Plain(spelled)),
                Means::Macro(undef) => match MacroArg::parse(undef, &v) {
                    Some(m) => {
                        c.key_args.push(KeyArg::Macro(spelled, c.macros.len()));
                        c.macros.push(m);
                    }
                    None => {
                        c.macro_values_keyed = true;
                        c.key_args.push(KeyArg::Plain(spelled));
                    }
                },
                Means::Compile => compile_only = true,
                Means::Stop(reason) => stop = stop.or(Some(reason)),
                Means::Output => {
                    // Run as `-o FILE` whatever the spelling, so the
                    // wrapper can find (and replace) it.
                    keep_in_run = false;
                    c.run_args.extend(["-o".to_string(), v.clone()]);
                    output = Some(v);
                }
                Means::Lang => {
                    x_lang = Some(Lang::from_x(&v));
                    c.key_args.push(KeyArg::Plain(format!("-x {v}")));
                }
                Means::Dep(d) => {
                    keep_in_run = false;
                    is_dep = true;
                    match d {
                        options::Dep::Md | options::Dep::Mmd => {
                            dep_on = true;
                            dep_system = d == options::Dep::Md;
                        }
                        options::Dep::Mf => dep_file = Some(v),
                        options::Dep::Mt => dep_targets.push(v),
                        options::Dep::Mq => dep_targets.push(quote_target(&v)),
                        options::Dep::Mp => dep_phony = true,
                    }
                }
                Means::Search(dir) => {
                    search.push((dir, v.clone()));
                    c.key_args.push(KeyArg::Path(name.to_string(), v));
                }
                Means::ForcedInclude => {
                    c.forced_includes.push(PathBuf::from(&v));
                    c.key_args.push(KeyArg::Path(name.to_string(), v));
                }
                Means::Sysroot => {
                    if name == "-isysroot" {
                        c.sysdir_args.push(format!("-isysroot{v}"));
                        isysroot = Some(v.clone());
                    } else {
                        c.sysdir_args.push(format!("--sysroot={v}"));
                        sysroot = Some(v.clone());
                    }
                    c.key_args
                        .push(KeyArg::Path(name.trim_end_matches('=').to_string(), v));
                }
                Means::Target => {
                    let a = if name.starts_with("--target") {
                        format!("--target={v}")
                    } else {
                        format!("{name} {v}")
                    };
                    c.target_args.push(a.clone());
                    if name == "-arch" {
                        c.sysdir_args.extend([name.to_string(), v.clone()]);
                    } else {
                        c.sysdir_args.push(format!("--target={v}"));
                    }
                    c.key_args.push(KeyArg::Plain(a));
                }
                Means::Sysdir => {
                    if joined || m.value == options::Value::None {
                        c.sysdir_args.push(spelled.clone());
                    } else {
                        c.sysdir_args.extend([name.to_string(), v.clone()]);
                    }
                    c.key_args.push(KeyArg::Plain(spelled));
                }
                Means::Machine => {
                    c.sysdir_args.push(spelled.clone());
                    c.target_args.push(spelled.clone());
                    c.key_args.push(KeyArg::Plain(spelled));
                }
                Means::Preprocessor => {
                    let parts: Vec<&str> = if joined {
                        v.split(',').collect()
                    } else {
                        vec![v.as_str()]
                    };
                    if let Some(bad) = parts.iter().find(|p| !options::preprocessor_option_ok(p)) {
                        return refuse(format!("-Wp,{bad}"));
                    }
                    c.key_args.push(KeyArg::Plain(spelled));
                }
                Means::Assembler => {
                    let parts: Vec<&str> = if joined {
                        v.split(',').collect()
                    } else {
                        vec![v.as_str()]
                    };
                    if let Some(bad) = parts.iter().find(|p| !options::assembler_option_ok(p)) {
                        // Plain assembly's own module judges these (with its
                        // own reasons); everything else is refused here.
                        asm_refusal.get_or_insert(format!("-Wa,{bad}"));
                    }
                    c.key_args.push(KeyArg::Plain(spelled));
                }
                Means::Xclang => {
                    if !options::cc1_option_ok(&v) {
                        return refuse(format!("-Xclang {v}"));
                    }
                    c.key_args.push(KeyArg::Plain(spelled));
                }
                Means::Dump => {
                    if !options::dump_ok(name, &v) {
                        return refuse(format!("{name}{v}"));
                    }
                    c.key_args.push(KeyArg::Plain(spelled));
                }
            }
        } else {
            c.key_args
                .push(prefix_map_arg(arg).unwrap_or_else(|| KeyArg::Plain(arg.to_string())));
        }
        if keep_in_run {
            c.run_args.extend_from_slice(&args[start..i]);
        } else if is_dep {
            dep_args.extend_from_slice(&args[start..i]);
        }
    }

    // `-I=dir` and `-I$SYSROOT/dir` are relative to the sysroot (gcc and
    // clang agree for `-I` with a sysroot given; gcc also reads the other
    // lists so, clang does not, and without `--sysroot` the default is the
    // compiler's own): resolved here, refused where compilers differ.
    let header_sysroot = isysroot.or(sysroot);
    for (dir, v) in search {
        let rest = v.strip_prefix('=').or_else(|| v.strip_prefix("$SYSROOT"));
        let path = match (rest, &header_sysroot) {
            (None, _) => PathBuf::from(&v),
            (Some(rest), Some(root)) if dir == Dir::Include => {
                PathBuf::from(format!("{root}{rest}"))
            }
            (Some(_), _) => return Err(Uncacheable::new("sysroot-relative-include")),
        };
        match dir {
            Dir::Include => c.include_dirs.push(path),
            Dir::Quote => c.quote_dirs.push(path),
            Dir::System => c.isystem_dirs.push(path),
            Dir::After => c.after_dirs.push(path),
        }
    }

    if let Some(reason) = stop {
        return Err(Uncacheable::new(reason));
    }
    if sources.iter().any(|(s, _)| s == "-") {
        return Err(Uncacheable::new("stdin"));
    }
    if !compile_only {
        return Err(Uncacheable::new(if sources.is_empty() {
            "no-input"
        } else {
            "link"
        }));
    }
    match sources.len() {
        0 => return Err(Uncacheable::new("no-input")),
        1 => {}
        _ => return Err(Uncacheable::new("multiple-sources")),
    }
    let (source, lang) = sources.pop().expect("one source");
    c.lang = lang?;
    c.source = PathBuf::from(&source);
    c.object = match output {
        Some(o) if o == "-" => return Err(Uncacheable::new("output-to-stdout")),
        Some(o) => PathBuf::from(o),
        None => {
            let stem = Path::new(&source)
                .file_stem()
                .ok_or_else(|| Uncacheable::new("no-output"))?;
            PathBuf::from(stem).with_extension("o")
        }
    };
    if dep_on && dep_file.as_deref() == Some("-") {
        return Err(Uncacheable::new("depfile-to-stdout"));
    }
    if dep_on {
        c.dep = Some(DepRequest {
            path: dep_file.map_or_else(|| c.object.with_extension("d"), PathBuf::from),
            targets: dep_targets,
            phony: dep_phony,
            system_headers: dep_system,
            clang_style: false,
        });
    }
    // -MF/-MT/-MP without -MD do nothing in gcc: no depfile is asked for.
    if let Some(bad) = asm_refusal.filter(|_| c.lang != Lang::Asm) {
        return Err(Uncacheable::option(&bad));
    }
    if c.lang == Lang::Asm {
        // Plain assembly is not preprocessed: gcc writes no depfile for it
        // and clang warns that `-MD` is unused. So the options run as
        // given (the warning is the compiler's own output), are part of
        // the key, and no depfile is owed.
        for a in &dep_args {
            c.key_args.push(KeyArg::Plain(a.clone()));
        }
        c.run_args.extend(dep_args);
        c.dep = None;
    }
    Ok(c)
}

/// Quote a target for make as `-MQ` does (`$` doubled, spaces and `#` escaped).
fn quote_target(t: &str) -> String {
    munge(t)
}

/// Every option that makes a command line uncacheable, spelled as it would
/// be given (`-fplugin=value`, `-MJ value`), with why.
#[doc(hidden)]
pub fn unsupported_options() -> Vec<(String, &'static str)> {
    options::refused_examples()
}

/// gcc's major version from its identity's version line.
fn gcc_major(identity: &CompilerIdentity) -> Option<u32> {
    identity
        .version
        .split_whitespace()
        .filter_map(|w| w.split('.').next()?.parse::<u32>().ok())
        .next_back()
}

/// Is this compiler gcc (by its identity's version line), not clang
/// under a gcc name?
fn is_gcc(identity: &CompilerIdentity) -> bool {
    let v = identity.version.as_str();
    !v.contains("clang")
        && (v.contains("gcc")
            || v.contains("GCC")
            || v.contains("g++")
            || v.contains("cc (")
            || v.contains("c++ ("))
}

/// Does this compiler (by its identity's version line) understand
/// `-ffile-prefix-map`? gcc from 8, clang from 10 (Apple's from 12, whose
/// numbering runs ahead of LLVM's).
pub fn supports_prefix_map(identity: &CompilerIdentity) -> bool {
    let v = identity.version.as_str();
    let major = v
        .split_whitespace()
        .filter_map(|w| w.split('.').next()?.parse::<u32>().ok())
        .next_back();
    let Some(major) = major else { return false };
    if v.contains("Apple clang") {
        major >= 12
    } else if v.contains("clang") {
        major >= 10
    } else if v.contains("gcc")
        || v.contains("GCC")
        || v.contains("g++")
        || v.contains("cc (")
        || v.contains("c++ (")
    {
        major >= 8
    } else {
        false
    }
}

/// The directories this compile's objects are relocated from, read from
/// the environment (see the module docs for the names); none with
/// `paths = "exact"` ([`crate::settings::exact_paths`]). `cwd` is mapped
/// only outside a build script, and only with `CARGO_GOCACHE_MAP_CWD` set
/// true in the one boolean grammar ([`crate::settings::bool_var`]).
pub fn relocation_map(cwd: &Path) -> PathMap {
    use crate::env::{var, var_os};
    let mut map = PathMap::new();
    // `paths = "exact"`: paths as plain cargo gives them, keyed as they are.
    if crate::settings::exact_paths() {
        return map;
    }
    let mut add = |dir: Option<PathBuf>, name: String| {
        let Some(dir) = dir.filter(|d| d.is_absolute()) else {
            return;
        };
        let canonical = crate::fsutil::canonicalize_memo(&dir).ok();
        for d in std::iter::once(dir).chain(canonical) {
            // gcc splits `-ffile-prefix-map=OLD=NEW` at the first `=`.
            if d.to_str().is_some_and(|s| !s.contains('=') && s != "/") {
                map.add(d, name.clone());
            }
        }
    };
    let path = |name: &str| var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    let manifest_dir = path("CARGO_MANIFEST_DIR");
    let pkg = format!(
        "{}-{}",
        var("CARGO_PKG_NAME").unwrap_or_else(|| "unknown".into()),
        var("CARGO_PKG_VERSION").unwrap_or_else(|| "0".into())
    );
    let in_build_script = manifest_dir.is_some();
    add(path("CARGO_GOCACHE_WORKSPACE"), "/gocache/workspace".into());
    let cargo_home = path("CARGO_GOCACHE_CARGO_HOME")
        .or_else(|| path("CARGO_HOME"))
        .or_else(|| path("HOME").map(|h| h.join(".cargo")));
    add(cargo_home, "/gocache/cargo-home".into());
    if in_build_script {
        add(manifest_dir, format!("/gocache/pkg/{pkg}"));
        add(path("OUT_DIR"), format!("/gocache/out/{pkg}"));
    } else if crate::settings::bool_var("CARGO_GOCACHE_MAP_CWD") {
        add(Some(cwd.to_path_buf()), "/gocache/cwd".into());
    }
    add_cwd_spelling(&mut map, cwd);
    map
}

/// When the compiler's working directory is spelled through a symlink
/// (`$PWD`, see [`compiler_cwd`]), the compiler records paths under it in
/// that spelling (`DW_AT_comp_dir`, relative sources): map every directory
/// of `map` inside the resolved working directory under that spelling too.
fn add_cwd_spelling(map: &mut PathMap, cwd: &Path) {
    // The common case, `cwd` is `getcwd()` (already resolved): one syscall,
    // not a `canonicalize` per compile.
    if std::env::current_dir().is_ok_and(|d| d == cwd) {
        return;
    }
    let Ok(real) = fs::canonicalize(cwd) else {
        return;
    };
    if real == cwd {
        return;
    }
    for (dir, name) in map.entries().to_vec() {
        let Ok(rest) = dir.strip_prefix(&real) else {
            continue;
        };
        let spelled = if rest.as_os_str().is_empty() {
            cwd.to_path_buf()
        } else {
            cwd.join(rest)
        };
        if spelled.to_str().is_some_and(|s| !s.contains('=')) {
            map.add(spelled, name);
        }
    }
}

/// The working directory as gcc and clang record it (libiberty's
/// `getpwd`, LLVM's `current_path`): `$PWD` when it is absolute and names
/// the working directory (the same device and inode as `.`), else
/// `getcwd()`, which resolves symlinks. Debug info records it
/// (`DW_AT_comp_dir`), so the key's `cwd` line and the relocation map must
/// use the same spelling.
pub fn compiler_cwd() -> std::io::Result<PathBuf> {
    let real = std::env::current_dir()?;
    if let Some(pwd) = crate::env::var_os("PWD").map(PathBuf::from) {
        if pwd.is_absolute() && pwd != real && same_dir(&pwd, Path::new(".")) {
            return Ok(pwd);
        }
    }
    Ok(real)
}

#[cfg(unix)]
fn same_dir(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (fs::metadata(a), fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_dir(_: &Path, _: &Path) -> bool {
    false
}

/// The `-ffile-prefix-map` arguments that make the compiler write `map`'s
/// stable names. gcc tries the last one given first, so the shortest
/// prefix goes first and a nested directory (`OUT_DIR` inside the
/// workspace) wins.
pub fn prefix_map_args(map: &PathMap) -> Vec<String> {
    map.entries()
        .iter()
        .rev()
        .map(|(real, name)| format!("-ffile-prefix-map={}={name}", real.display()))
        .collect()
}

/// Resolve `p` against `cwd` unless it is absolute.
pub fn absolute(cwd: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        cwd.join(p)
    }
}

impl Compile {
    /// Does the compile ask for this machine's CPU (`-march=native`,
    /// `-mcpu=native`, `-mtune=native`)?
    pub fn names_native(&self) -> bool {
        self.target_args
            .iter()
            .any(|a| crate::key::native::is_native_c_arg(a))
    }

    /// Resolve `native` (see [`crate::key::native`]) if the compile names
    /// it: the `native` key line. `Err` with the reason the compile is
    /// then uncacheable.
    pub fn resolve_native(
        &mut self,
        store: Option<&crate::store::Store>,
        compiler: &Path,
        identity: &CompilerIdentity,
    ) -> Result<(), Uncacheable> {
        if !self.names_native() {
            return Ok(());
        }
        let resolved =
            crate::key::native::resolve_c(store, compiler, &identity.id, &self.target_args)
                .map_err(|_| Uncacheable::new("native-unresolved"))?;
        self.native = Some(resolved);
        Ok(())
    }

    /// The pre-key: everything known before compiling (see the module docs).
    /// Fails only if the source cannot be read.
    pub fn pre_key(
        &self,
        identity: &CompilerIdentity,
        map: &PathMap,
        cwd: &Path,
    ) -> std::io::Result<KeyHasher> {
        self.pre_key_with(identity, map, cwd, &mut crate::direct::manifest::RealDisk)
    }

    /// [`Compile::pre_key`], hashing the source through `disk` (a memo).
    pub fn pre_key_with(
        &self,
        identity: &CompilerIdentity,
        map: &PathMap,
        cwd: &Path,
        disk: &mut dyn crate::direct::manifest::Disk,
    ) -> std::io::Result<KeyHasher> {
        let mut h = KeyHasher::new("compile");
        for line in self.key_lines(identity, map, cwd, disk)? {
            h.push(&line);
        }
        Ok(h)
    }

    /// The pre-key's lines, in order (the table in the module docs): the
    /// wrapper hashes them alone, the build.rs helper hashes those of each
    /// of its sources into its archive's key. `cwd` is the working
    /// directory as the compiler records it ([`compiler_cwd`]).
    pub fn key_lines(
        &self,
        identity: &CompilerIdentity,
        map: &PathMap,
        cwd: &Path,
        disk: &mut dyn crate::direct::manifest::Disk,
    ) -> std::io::Result<Vec<KeyLine>> {
        let mut lines = Vec::with_capacity(self.key_args.len() + 16);
        let names_only = self.macro_names_keyed(identity);
        lines.push(KeyLine::Salt(SALT.into()));
        lines.push(KeyLine::Compiler(identity.id.clone()));
        lines.push(KeyLine::CompilerVersion(identity.version.clone()));
        lines.push(KeyLine::Target(if self.target_args.is_empty() {
            "default".into()
        } else {
            self.target_args.join(" ")
        }));
        if self.names_native() {
            let Some(native) = &self.native else {
                return Err(std::io::Error::other("-march=native was not resolved"));
            };
            lines.push(KeyLine::Native(native.clone()));
        }
        lines.push(KeyLine::Lang(self.lang.name().into()));
        // `-MMD` leaves out what gcc calls system headers, which only gcc
        // can tell (the wrapper asks it on a miss): its list is kept apart.
        if self.dep.as_ref().is_some_and(|d| !d.system_headers) {
            lines.push(KeyLine::Depfile("user-headers".into()));
        }
        lines.push(KeyLine::Relocate(!map.entries().is_empty()));
        let mut names: Vec<&str> = map.entries().iter().map(|(_, n)| n.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        lines.extend(names.into_iter().map(|n| KeyLine::Relocation(n.into())));
        lines.push(KeyLine::Cwd(map.map(cwd)));
        for a in &self.key_args {
            lines.push(match a {
                KeyArg::Plain(s) => KeyLine::Arg(s.clone()),
                KeyArg::PrefixMap(opt, old, new) => {
                    KeyLine::Arg(format!("{opt}{}={new}", mapped(map, old)))
                }
                KeyArg::Path(opt, p) => KeyLine::Arg(format!("{opt} {}", mapped(map, p))),
                // The value goes to the final key if the compile uses it
                // (see `macros`).
                KeyArg::Macro(_, i) if names_only => {
                    KeyLine::MacroArg(self.macros[*i].spelled_without_value())
                }
                KeyArg::Macro(spelled, _) => KeyLine::Arg(spelled.clone()),
            });
        }
        for name in KEY_ENV {
            if let Some(v) = crate::env::var_os(name) {
                lines.push(KeyLine::Env(
                    name.to_string(),
                    v.to_string_lossy().into_owned(),
                ));
            }
        }
        let src = absolute(cwd, &self.source);
        let name = if self.source.is_absolute() {
            map.map(&src)
        } else {
            self.source.display().to_string()
        };
        let hash = disk.hash(&src).ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::NotFound, "cannot read the source")
        })?;
        lines.push(KeyLine::Source { hash, name });
        Ok(lines)
    }

    /// The language the compiler's own include directories are asked for:
    /// the source's, except that a C++ driver (`g++`, `clang++`, `c++`)
    /// compiles a `.c` file as C++. (Also for `g++ -x c`: the C++ list is
    /// the C list with more directories in front, so the probes are a
    /// superset, which costs at most a miss.)
    pub fn sysdirs_lang(&self, compiler: &Path) -> &'static str {
        let cxx_driver = compiler
            .file_name()
            .is_some_and(|n| n.to_string_lossy().contains("++"));
        match self.lang {
            Lang::C if cxx_driver => Lang::Cxx.name(),
            l => l.name(),
        }
    }

    /// The compiler's own include directories for this compile
    /// ([`crate::key::compiler::system_include_dirs`], memoised in `store`).
    pub fn system_dirs(
        &self,
        store: Option<&crate::store::Store>,
        compiler: &Path,
        identity: &CompilerIdentity,
    ) -> crate::error::Result<Vec<PathBuf>> {
        crate::key::compiler::system_include_dirs(
            store,
            compiler,
            identity,
            self.sysdirs_lang(compiler),
            &self.sysdir_args,
        )
    }

    /// The include search path for direct mode's probes: the working
    /// directory if there are `-include` files, then `-iquote`, `-I`,
    /// `CPATH`, `-isystem`, `C_INCLUDE_PATH` (or `CPLUS_INCLUDE_PATH`),
    /// then `system` (the compiler's own, which include the directories
    /// of `CPATH` and friends that exist), then `-idirafter`. Absolute.
    pub fn search_path(&self, cwd: &Path, system: &[PathBuf]) -> SearchPath {
        // Every occurrence is kept: gcc drops a `-I` (or `-iquote`) of a
        // directory that is also a system one (the same device and inode,
        // however spelled) and searches it in its system place, and of
        // two system spellings keeps the first. The probes take each
        // header's last place, which covers every directory gcc may have
        // searched before it.
        let mut dirs = Vec::new();
        let mut push = |d: PathBuf| dirs.push(d);
        // gcc looks for an `-include` file in the working directory first:
        // a file appearing there would shadow the one found further on.
        if !self.forced_includes.is_empty() {
            push(cwd.to_path_buf());
        }
        // The directories of CPATH (after -I) and C_INCLUDE_PATH or
        // CPLUS_INCLUDE_PATH (after -isystem) go in where gcc puts them
        // even when they do not exist: gcc leaves a missing one out of its
        // list, and a header made there later must still be probed.
        let lang_var = match self.lang {
            Lang::Cxx => "CPLUS_INCLUDE_PATH",
            _ => "C_INCLUDE_PATH",
        };
        let env_dirs = |name: &str| -> Vec<PathBuf> {
            crate::env::var_os(name)
                .map(|v| {
                    std::env::split_paths(&v)
                        .map(|d| {
                            if d.as_os_str().is_empty() {
                                ".".into()
                            } else {
                                d
                            }
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        for d in self
            .quote_dirs
            .iter()
            .chain(&self.include_dirs)
            .chain(&env_dirs("CPATH"))
            .chain(&self.isystem_dirs)
            .chain(&env_dirs(lang_var))
        {
            push(absolute(cwd, d));
        }
        for d in system {
            push(absolute(cwd, d));
        }
        for d in &self.after_dirs {
            push(absolute(cwd, d));
        }
        let quote_only = usize::from(!self.forced_includes.is_empty()) + self.quote_dirs.len();
        SearchPath { dirs, quote_only }
    }

    /// Is the source a regular file? A FIFO, a device or `/dev/stdin`
    /// cannot be hashed without taking the bytes the compiler should read
    /// (or waiting forever for a writer): those compiles, and a missing
    /// source (the compiler's own error is the one to show), run untouched.
    pub fn check_source(&self, cwd: &Path) -> Result<(), Uncacheable> {
        match fs::metadata(absolute(cwd, &self.source)) {
            Ok(m) if m.is_file() => Ok(()),
            Ok(_) => Err(Uncacheable::new("special-source")),
            Err(_) => Err(Uncacheable::new("missing-source")),
        }
    }

    /// Add `arg` to the compile's arguments and to its key.
    pub fn add_arg(&mut self, arg: String) {
        self.key_args.push(KeyArg::Plain(arg.clone()));
        self.run_args.push(arg);
    }

    /// The options that make the compile's diagnostics what they would be
    /// on the caller's stderr. The compiler decides colours (and gcc its
    /// links) by whether stderr is a terminal, and a compile through the
    /// cache writes to a pipe: as ccache does, when `stderr_is_terminal`
    /// and the command line leaves it to the compiler (no option, or
    /// `=auto`), the wrapper decides as the compiler would and says so.
    /// `Err` when it cannot tell what the compiler would do (clang with a
    /// `TERM` it may not know colours for).
    pub fn diagnostics_args(
        &self,
        identity: &CompilerIdentity,
        stderr_is_terminal: bool,
    ) -> Result<Vec<String>, Uncacheable> {
        if !stderr_is_terminal {
            return Ok(Vec::new());
        }
        let last = |pred: &dyn Fn(&str) -> bool| {
            self.run_args
                .iter()
                .rev()
                .find(|a| pred(a))
                .map(String::as_str)
        };
        let clang = identity.version.contains("clang");
        let term = crate::env::var("TERM").unwrap_or_default();
        let mut out = Vec::new();
        let color = last(&|a| {
            a.starts_with("-fdiagnostics-color")
                || a == "-fno-diagnostics-color"
                || a == "-fcolor-diagnostics"
                || a == "-fno-color-diagnostics"
        });
        if color.is_none() || color == Some("-fdiagnostics-color=auto") {
            // gcc's `should_colorize`: a terminal, and TERM set and not dumb.
            let gcc_colors = !term.is_empty() && term != "dumb";
            if clang {
                // LLVM asks terminfo; these names have colours in it.
                let known = term.starts_with("xterm")
                    || term.starts_with("screen")
                    || term.starts_with("tmux")
                    || term.starts_with("rxvt")
                    || term.starts_with("linux")
                    || term.contains("color")
                    || term == "ansi";
                if known {
                    out.push("-fcolor-diagnostics".to_string());
                } else if term.is_empty() || term == "dumb" {
                    out.push("-fno-color-diagnostics".to_string());
                } else {
                    return Err(Uncacheable::new("terminal-colours-unknown"));
                }
            } else {
                out.push(
                    if gcc_colors {
                        "-fdiagnostics-color=always"
                    } else {
                        "-fdiagnostics-color=never"
                    }
                    .to_string(),
                );
            }
            // gcc 10 and later also write links (`auto_enable_urls`).
            if !clang && gcc_major(identity).is_some_and(|m| m >= 10) {
                let urls = last(&|a| a.starts_with("-fdiagnostics-urls"));
                if urls.is_none() || urls == Some("-fdiagnostics-urls=auto") {
                    let colorterm = crate::env::var("COLORTERM").unwrap_or_default();
                    let on = gcc_colors
                        && colorterm != "xfce4-terminal"
                        && colorterm != "gnome-terminal"
                        && term != "linux";
                    out.push(format!(
                        "-fdiagnostics-urls={}",
                        if on { "always" } else { "never" }
                    ));
                }
            }
        }
        Ok(out)
    }

    /// With `-Wmissing-include-dirs` (or `-Werror=` of it) the compiler's
    /// diagnostics, and with `-Werror` its success, depend on whether each
    /// `-I`, `-iquote`, `-isystem` and `-idirafter` directory exists, which
    /// no header read shows: then that is hashed too (one `stat` each).
    pub fn note_search_dirs(&mut self, cwd: &Path) {
        if !self.key_args.iter().any(|a| match a {
            KeyArg::Plain(s) => s.contains("missing-include-dirs"),
            _ => false,
        }) {
            return;
        }
        let dirs: Vec<PathBuf> = self
            .quote_dirs
            .iter()
            .chain(&self.include_dirs)
            .chain(&self.isystem_dirs)
            .chain(&self.after_dirs)
            .cloned()
            .collect();
        for d in dirs {
            let exists = fs::metadata(absolute(cwd, &d)).is_ok_and(|m| m.is_dir());
            self.key_args.push(KeyArg::Plain(format!(
                "search-dir {} {}",
                if exists { "present" } else { "absent" },
                d.display()
            )));
        }
    }

    /// Does the pre-key hold the `-D`s without their values, leaving the
    /// values of the macros the compile used to the final key? Only when
    /// the compiler can say which it used (gcc 5 or later, `-dU`) and no
    /// option leaves doubt; see [`macros`].
    pub fn macro_names_keyed(&self, identity: &CompilerIdentity) -> bool {
        !self.macro_values_keyed
            && !self.macros.is_empty()
            && is_gcc(identity)
            && gcc_major(identity).is_some_and(|m| m >= 5)
    }

    /// Keep every `-D` value in the pre-key (the build.rs helper, when its
    /// sources' macros differ).
    pub fn keep_macro_values(&mut self) {
        self.macro_values_keyed = true;
    }

    /// Keep every `-D` value in the pre-key when none holds a directory
    /// of `map` (a checkout's, the target's, `OUT_DIR`...). The values are
    /// left to the final key for one reason: a path of this machine in
    /// them (openssl's `-DENGINESDIR=<OUT_DIR>/...`) would otherwise split
    /// the cache by checkout. Without one, every value is the same text in
    /// every checkout, so keeping them costs no sharing, and it spares each
    /// miss the preprocessing run that says which macros it used (a
    /// fifth of a `-O3` compile's time). A value holding a machine path in
    /// a form the map does not name (through a symlink) stays in the
    /// pre-key too: keyed as written, never less.
    pub fn keep_macro_values_without_paths(&mut self, map: &PathMap) {
        let holds_path = |v: &str| {
            map.entries()
                .iter()
                .any(|(real, _)| real.to_str().is_some_and(|r| v.contains(r)))
        };
        if !self
            .macros
            .iter()
            .filter_map(|m| m.value.as_deref())
            .any(holds_path)
        {
            self.macro_values_keyed = true;
        }
    }

    /// The arguments for a preprocessing run of this compile (the caller
    /// adds `-E` and what it asks for): the compile's own, without `-o`
    /// (`-E` would write there).
    pub fn preprocess_args(&self) -> Vec<String> {
        let object = self.object.to_string_lossy();
        let joined = format!("-o{object}");
        let mut args = Vec::with_capacity(self.run_args.len());
        let mut it = self.run_args.iter();
        while let Some(a) = it.next() {
            if a == "-o" {
                it.next();
            } else if *a != joined {
                args.push(a.clone());
            }
        }
        args
    }

    /// The arguments to list the macros the compiler predefines for this
    /// compile ([`macros::PREDEFINED_ARGS`] are added): its own, without
    /// `-o`, the `-D`s and `-U`s and the source, on an empty file of the
    /// source's language (`compiler` decides, see [`Compile::sysdirs_lang`]).
    pub fn predefined_args(&self, compiler: &Path) -> Vec<String> {
        let mut args = Vec::with_capacity(self.run_args.len());
        let mut i = 0;
        while i < self.run_args.len() {
            let a = &self.run_args[i];
            i += 1;
            if i - 1 == self.source_index {
                continue;
            }
            if a == "-o" || a == "-D" || a == "-U" {
                i += 1;
                continue;
            }
            if a.starts_with("-o") || a.starts_with("-D") || a.starts_with("-U") {
                continue;
            }
            if let Some(m) = options::lookup(a) {
                if let Means::Macro(_) = m.means {
                    if m.value == options::Value::Next {
                        i += 1;
                    }
                    continue;
                }
            }
            args.push(a.clone());
        }
        args.extend([
            "-x".to_string(),
            self.sysdirs_lang(compiler).to_string(),
            "/dev/null".to_string(),
        ]);
        args
    }

    /// The `-D`s, in order, as a manifest entry lists the ones it keeps
    /// (name with parameters, value).
    pub fn macro_values(&self) -> Vec<(String, Option<String>)> {
        self.macros
            .iter()
            .filter(|m| !m.undef)
            .map(|m| (m.name.clone(), m.value.clone()))
            .collect()
    }

    /// The `-D` names whose values a miss may leave out of its key, before
    /// the compiler is asked ([`macros::candidates`]); none unless
    /// [`Compile::macro_names_keyed`].
    pub fn macro_candidates(&self, identity: &CompilerIdentity) -> Vec<String> {
        if !self.macro_names_keyed(identity) {
            Vec::new()
        } else if self.lang == Lang::Asm {
            // Not preprocessed: every `-D` name (see `unused_macros`).
            let mut names: Vec<String> = Vec::new();
            for m in self.macros.iter().filter(|m| !m.undef) {
                if !names.iter().any(|n| n == m.ident()) {
                    names.push(m.ident().to_string());
                }
            }
            names
        } else {
            macros::candidates(&self.macros)
        }
    }

    /// Of `candidates`, the macros this compile neither used nor could
    /// have compared with a predefined one, as the compiler says: its
    /// preprocessing run with `-E -dU` (with `flags`, the relocation
    /// options, and `extra`, what else the caller wants of that run), and
    /// the predefined macros from `-E -dD` of an empty file. Empty when
    /// either run fails: then every value is kept. (The files read are
    /// checked for the names afterwards, by the caller.)
    pub fn unused_macros(
        &self,
        compiler: &Path,
        flags: &[String],
        extra: &[std::ffi::OsString],
        candidates: &[String],
    ) -> Vec<String> {
        if candidates.is_empty() {
            return Vec::new();
        }
        // Plain assembly is not preprocessed, and gcc's driver hands no
        // `-D` or `-U` to `as` (`gcc -###`): no value can matter, and no
        // warning names one (clang's does, but clang keeps every value).
        if self.lang == Lang::Asm {
            return candidates.to_vec();
        }
        // The two runs at once: the small one hides behind the other.
        let (used, predefined) = std::thread::scope(|s| {
            let predefined = s.spawn(|| self.predefined_macros(compiler));
            let used = self.used_macros(compiler, flags, extra);
            (used, predefined.join().ok().flatten())
        });
        let (Some(used), Some(predefined)) = (used, predefined) else {
            return Vec::new();
        };
        candidates
            .iter()
            .filter(|n| !used.contains(*n) && !predefined.contains(*n))
            .cloned()
            .collect()
    }

    /// The macros this compile's preprocessing expands or tests, as
    /// `-E -dU` reports them ([`macros::used_in_output`]), run with
    /// `flags` before the compile's own arguments and `extra` after.
    /// `None` if the run fails.
    pub fn used_macros(
        &self,
        compiler: &Path,
        flags: &[String],
        extra: &[std::ffi::OsString],
    ) -> Option<std::collections::BTreeSet<String>> {
        let mut cmd = std::process::Command::new(compiler);
        cmd.args(flags)
            .args(self.preprocess_args())
            .args(macros::USED_MACROS_ARGS)
            .args(extra);
        // Beside an observed build script, if in one: it reads what the
        // compile reads (crate::observe::delegate).
        let out = crate::observe::compile_output(&mut cmd, false)
            .ok()
            .map(|(o, _)| o)
            .filter(|o| o.status.success())?;
        Some(macros::used_in_output(&out.stdout))
    }

    /// The macros the compiler predefines with this compile's options
    /// ([`macros::predefined_in_output`]). `None` if the run fails.
    pub fn predefined_macros(&self, compiler: &Path) -> Option<std::collections::BTreeSet<String>> {
        let mut cmd = std::process::Command::new(compiler);
        cmd.args(self.predefined_args(compiler))
            .args(macros::PREDEFINED_ARGS);
        // Beside an observed build script, if in one: it reads only the
        // compiler's own files, whose identity the key holds.
        let out = crate::observe::compile_output(&mut cmd, false)
            .ok()
            .map(|(o, _)| o)
            .filter(|o| o.status.success())?;
        Some(macros::predefined_in_output(&out.stdout))
    }

    /// Does `SOURCE_DATE_EPOCH` fix `__DATE__` and `__TIME__` for this compile?
    pub fn source_date_epoch() -> bool {
        crate::env::var_os("SOURCE_DATE_EPOCH").is_some_and(|v| !v.is_empty())
    }
}

/// A name as gcc writes it in a depfile (`mkdeps.cc`'s `munge`): `$`
/// doubled, `#` escaped, a blank escaped with the backslashes before it
/// doubled (make's rule), other backslashes as they are.
fn munge(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    let mut slashes = 0;
    for c in name.chars() {
        match c {
            '\\' => slashes += 1,
            '$' => {
                out.push('$');
                slashes = 0;
            }
            ' ' | '\t' => {
                out.extend(std::iter::repeat_n('\\', slashes));
                out.push('\\');
                slashes = 0;
            }
            '#' => {
                out.push('\\');
                slashes = 0;
            }
            _ => slashes = 0,
        }
        out.push(c);
    }
    out
}

/// A name as clang writes it (`PrintFilename`): as gcc, but a tab as is.
fn clang_quote(name: &str) -> String {
    let b: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in b.iter().enumerate() {
        match c {
            '#' => out.push('\\'),
            ' ' => {
                out.push('\\');
                let mut j = i;
                while j > 0 && b[j - 1] == '\\' {
                    out.push('\\');
                    j -= 1;
                }
            }
            '$' => out.push('$'),
            _ => {}
        }
        out.push(c);
    }
    out
}

/// Render the caller's depfile: `targets` (already in make syntax; the
/// object's name when empty) depending on `prerequisites`, byte for byte
/// as the compiler writes it: gcc's `make_write` (lines wrapped at 72
/// columns, `-MP` rules one a line) or clang's `DependencyFileGenerator`
/// (75 columns, a blank line before each `-MP` rule), by
/// [`DepRequest::clang_style`].
pub fn render_depfile(req: &DepRequest, object: &Path, prerequisites: &[String]) -> String {
    let targets: Vec<String> = if req.targets.is_empty() {
        vec![munge(&object.to_string_lossy())]
    } else {
        req.targets.clone()
    };
    let mut out = String::new();
    if req.clang_style {
        const MAX: usize = 75;
        let mut col = 0;
        for t in &targets {
            let n = t.len();
            if col == 0 {
                col += n;
            } else if col + n + 2 > MAX {
                col = n + 2;
                out.push_str(" \\\n  ");
            } else {
                col += n + 1;
                out.push(' ');
            }
            out.push_str(t);
        }
        out.push(':');
        col += 1;
        for p in prerequisites {
            let n = p.len();
            if col + (n + 1) + 2 > MAX {
                out.push_str(" \\\n ");
                col = 2;
            }
            out.push(' ');
            out.push_str(&clang_quote(p));
            col += n + 1;
        }
        out.push('\n');
        if req.phony {
            for p in prerequisites.iter().skip(1) {
                out.push('\n');
                out.push_str(&clang_quote(p));
                out.push_str(":\n");
            }
        }
        return out;
    }
    const COLMAX: usize = 72;
    let mut col = 0;
    let write = |out: &mut String, col: &mut usize, name: &str| {
        if *col > 0 {
            if *col + name.len() > COLMAX {
                out.push_str(" \\\n");
                *col = 0;
            }
            *col += 1;
            out.push(' ');
        }
        *col += name.len();
        out.push_str(name);
    };
    for t in &targets {
        write(&mut out, &mut col, t);
    }
    out.push(':');
    col += 1;
    for p in prerequisites {
        write(&mut out, &mut col, &munge(p));
    }
    out.push('\n');
    if req.phony {
        for p in prerequisites.iter().skip(1) {
            out.push_str(&munge(p));
            out.push_str(":\n");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &str) -> Result<Compile, Uncacheable> {
        let args: Vec<OsString> = args.split_whitespace().map(OsString::from).collect();
        parse(&args, Path::new("/nonexistent"))
    }

    fn reason(args: &str) -> String {
        match p(args) {
            Ok(c) => panic!("{args}: cacheable: {c:?}"),
            Err(e) => e.reason,
        }
    }

    #[test]
    fn uncacheable_command_lines() {
        let table = [
            ("a.c -o a", "link"),
            ("a.o b.o -o prog", "link"),
            ("--version", "no-input"),
            ("-c", "no-input"),
            ("-E a.c", "-E"),
            ("-c -E a.c", "-E"),
            ("-M a.c", "-M"),
            ("-MM -c a.c", "-M"),
            ("-S a.c", "-S"),
            ("-fsyntax-only a.c", "no-output"),
            ("-c a.c b.c", "multiple-sources"),
            ("-c -x c -", "stdin"),
            ("-c a.c -o -", "output-to-stdout"),
            ("-c a.m", "unsupported-language:objective-c"),
            ("-c -x objective-c a.c", "unsupported-language:objective-c"),
            ("-c a.c -save-temps", "unsupported-option:-save-temps"),
            (
                "-c a.c -save-temps=obj",
                "unsupported-option:-save-temps=obj",
            ),
            (
                "-c a.c -fdump-tree-all",
                "unsupported-option:-fdump-tree-all",
            ),
            ("-c a.c -MJ x.json", "unsupported-option:-MJ"),
            ("-c a.c -ftime-trace", "unsupported-option:-ftime-trace"),
            ("-c a.c --coverage", "unsupported-option:--coverage"),
            ("-c a.c -gsplit-dwarf", "unsupported-option:-gsplit-dwarf"),
            (
                "-c a.c -fprofile-use=x",
                "unsupported-option:-fprofile-use=x",
            ),
            ("-c a.c -B/opt/x", "unsupported-option:-B"),
            ("-c a.c -I-", "unsupported-option:-I-"),
            (
                "-c a.c -frecord-gcc-switches",
                "unsupported-option:-frecord-gcc-switches",
            ),
            ("-c a.c -Wp,-MD,x.d", "unsupported-option:-Wp,-MD"),
            (
                "-c a.c -Xpreprocessor -Ifoo",
                "unsupported-option:-Wp,-Ifoo",
            ),
            ("-c a.c -Xclang -Ifoo", "unsupported-option:-Xclang -Ifoo"),
            ("-c a.c -I", "missing-argument:-I"),
            // Long spellings are the short options they stand for.
            ("-c a.c --prefix=/x", "unsupported-option:-B"),
            ("-c a.c --prefix /x", "unsupported-option:-B"),
            ("-c a.c --include-barrier", "unsupported-option:-I-"),
            ("-c a.c --save-temps", "unsupported-option:-save-temps"),
            (
                "-c a.c --dump-tree-all",
                "unsupported-option:-fdump-tree-all",
            ),
            (
                "-c a.c --profile-use=p",
                "unsupported-option:-fprofile-use=p",
            ),
            ("-c a.c --plugin=x.so", "unsupported-option:-fplugin=x.so"),
            ("-c a.c --specs=x", "unsupported-option:--specs=x"),
            ("--preprocess a.c", "-E"),
            ("--compile --preprocess a.c", "-E"),
            ("-c a.c --include-prefix=p", "unsupported-option:-iprefix"),
            (
                "-c a.c --print-missing-file-dependencies",
                "unsupported-option:-MG",
            ),
            // Outputs a hit would not make.
            ("-c a.c -coverage", "unsupported-option:-coverage"),
            (
                "-c a.c -gsplit-dwarf=split",
                "unsupported-option:-gsplit-dwarf=split",
            ),
            ("-c a.c -aux-info p.h", "unsupported-option:-aux-info"),
            ("-c a.c -aux-infop.h", "unsupported-option:-aux-info"),
            ("-c a.c -da", "unsupported-option:-da"),
            ("-c a.c -dAa", "unsupported-option:-dAa"),
            (
                "-c a.c -fopt-info-vec=v.txt",
                "unsupported-option:-fopt-info-vec=v.txt",
            ),
            (
                "-c a.c -Wa,-adhln=a.lst",
                "unsupported-option:-Wa,-adhln=a.lst",
            ),
            (
                "-c a.c -Wa,-g,-ahl=a.lst",
                "unsupported-option:-Wa,-ahl=a.lst",
            ),
            ("-c a.c -Xassembler -al=x", "unsupported-option:-Wa,-al=x"),
            (
                "-c a.c --for-assembler=--MD=x",
                "unsupported-option:-Wa,--MD=x",
            ),
            ("-c a.c -MD -MF -", "depfile-to-stdout"),
            (
                "-c a.c -fsave-optimization-record",
                "unsupported-option:-fsave-optimization-record",
            ),
            (
                "-c a.c -fdiagnostics-format=sarif-file",
                "unsupported-option:-fdiagnostics-format=sarif-file",
            ),
            // Inputs that are not headers.
            (
                "-c a.c -fbranch-probabilities",
                "unsupported-option:-fbranch-probabilities",
            ),
            ("-c a.c -fprofile-use", "unsupported-option:-fprofile-use"),
            (
                "-c a.c -fsanitize-coverage-allowlist=a.txt",
                "unsupported-option:-fsanitize-coverage-allowlist=a.txt",
            ),
            (
                "-c a.c -fsanitize-ignorelist=a.txt",
                "unsupported-option:-fsanitize-ignorelist=a.txt",
            ),
            (
                "-c a.c -fxray-attr-list=a.txt",
                "unsupported-option:-fxray-attr-list=a.txt",
            ),
            (
                "-c a.c -fno-integrated-as",
                "unsupported-option:-fno-integrated-as",
            ),
            ("-c a.c --config=x.cfg", "unsupported-option:--config=x.cfg"),
            (
                "-c a.c -Xclang -load -Xclang p.so",
                "unsupported-option:-Xclang -load",
            ),
            ("-c a.c -Wp,-include,x.h", "unsupported-option:-Wp,-include"),
            (
                "-c a.c -Xarch_x86_64 -O2",
                "unsupported-option:-Xarch_x86_64",
            ),
            // `-I=` without a sysroot, or on a list clang reads literally.
            ("-c a.c -I=inc", "sysroot-relative-include"),
            (
                "-c a.c --sysroot=/sr -isystem=/inc",
                "sysroot-relative-include",
            ),
            ("-c a.c -- b.c", "unsupported-option:--"),
            (
                "-c a.c -iwithsysroot /x",
                "unsupported-option:-iwithsysroot",
            ),
            (
                "-c a.c -index-store-path ix",
                "unsupported-option:-index-store-path",
            ),
            (
                "-c a.c -save-stats=obj",
                "unsupported-option:-save-stats=obj",
            ),
        ];
        for (args, want) in table {
            assert_eq!(reason(args), want, "{args}");
        }
    }

    /// gcc writes no depfile for plain assembly: none is owed, and the
    /// options reach the compiler as given (clang warns about them).
    #[test]
    fn plain_assembly_owes_no_depfile_and_keeps_its_dependency_options() {
        let c = p("-MD -MT x.o -MF x.d -c x.s -o x.o").unwrap();
        assert!(c.dep.is_none());
        assert!(c.run_args.windows(2).any(|w| w == ["-MF", "x.d"]));
        assert!(c.run_args.iter().any(|a| a == "-MD"));
        let c = p("-MD -MF x.d -c x.S -o x.o").unwrap();
        assert!(c.dep.is_some());
        assert!(!c.run_args.iter().any(|a| a == "-MD"));
    }

    /// The build.rs helper runs every source through [`parse`] as cc's
    /// arguments then `-c SRC -o gocache-helper.o` (its server,
    /// `cargo-gocache/src/commands/serve_helper.rs`): each
    /// refused option, given by `.flag()`, is refused there too.
    #[test]
    fn every_unsupported_option_is_refused_as_the_helper_parses() {
        let options = unsupported_options();
        assert!(options.len() > 80);
        for (spelled, _) in options {
            let mut args: Vec<OsString> = spelled.split(' ').map(OsString::from).collect();
            args.extend(["-c", "src/a.c", "-o", "gocache-helper.o"].map(OsString::from));
            let e = parse(&args, Path::new("/nonexistent"));
            let reason = e.map(|_| String::new()).unwrap_or_else(|u| u.reason);
            assert!(
                reason.starts_with("unsupported-option:") || reason == "-E" || reason == "-M",
                "{spelled}: {reason:?}"
            );
        }
    }

    #[test]
    fn cacheable_command_lines() {
        // (args, source, object, lang)
        let table = [
            ("-c a.c", "a.c", "a.o", Lang::C),
            ("-c src/a.c -o out/a.o", "src/a.c", "out/a.o", Lang::C),
            ("-c -oout/a.o src/a.cpp", "src/a.cpp", "out/a.o", Lang::Cxx),
            ("-c x.S -o x.o", "x.S", "x.o", Lang::AsmCpp),
            ("-c x.s -o x.o", "x.s", "x.o", Lang::Asm),
            ("-x assembler -c x.asm -o x.o", "x.asm", "x.o", Lang::Asm),
            ("-c -x c++ a.c -o a.o", "a.c", "a.o", Lang::Cxx),
            ("-x c -c w.inc -o w.o", "w.inc", "w.o", Lang::C),
            (
                "-O2 -D X=1 -include cfg.h -c a.cc",
                "a.cc",
                "a.o",
                Lang::Cxx,
            ),
            ("-c a.c -Xlinker a.o -o b.o", "a.c", "b.o", Lang::C),
            ("--compile a.c --output=x.o", "a.c", "x.o", Lang::C),
            ("-c a.s -Wa,-adhln=l.lst", "a.s", "a.o", Lang::Asm),
            ("-c a.c --output x.o", "a.c", "x.o", Lang::C),
            ("--language=c++ -c a.c", "a.c", "a.o", Lang::Cxx),
            ("--language c++ -c a.c", "a.c", "a.o", Lang::Cxx),
            (
                "-c a.c -dA -dp -fopt-info-vec -Xclang -fno-pch-timestamp",
                "a.c",
                "a.o",
                Lang::C,
            ),
            (
                "-c a.c -Wa,--noexecstack -Xassembler -g",
                "a.c",
                "a.o",
                Lang::C,
            ),
            (
                "-c a.c -D X --define-macro=Y -Wp,-DZ",
                "a.c",
                "a.o",
                Lang::C,
            ),
        ];
        for (args, src, obj, lang) in table {
            let c = p(args).unwrap_or_else(|e| panic!("{args}: {e}"));
            assert_eq!(
                (
                    c.source.to_str().unwrap(),
                    c.object.to_str().unwrap(),
                    c.lang
                ),
                (src, obj, lang),
                "{args}"
            );
        }
    }

    #[test]
    fn include_dirs_joined_and_separate() {
        let c =
            p("-Ia -I b -iquote q -iquoteq2 -isystem s -isystems2 -idirafter z -c a.c").unwrap();
        let s = |v: &[PathBuf]| {
            v.iter()
                .map(|p| p.to_str().unwrap().to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(s(&c.include_dirs), ["a", "b"]);
        assert_eq!(s(&c.quote_dirs), ["q", "q2"]);
        assert_eq!(s(&c.isystem_dirs), ["s", "s2"]);
        assert_eq!(s(&c.after_dirs), ["z"]);
        let sp = c.search_path(Path::new("/w"), &[PathBuf::from("/usr/include")]);
        let dirs: Vec<_> = sp.dirs.iter().map(|d| d.to_str().unwrap()).collect();
        assert_eq!(
            dirs,
            [
                "/w/q",
                "/w/q2",
                "/w/a",
                "/w/b",
                "/w/s",
                "/w/s2",
                "/usr/include",
                "/w/z"
            ]
        );
    }

    #[test]
    fn long_spellings_of_search_and_dependency_options() {
        let c = p(
            "-c a.c --include-directory=a --include-directory b --include-directory-after=z \
                   --include=cfg.h --imacros m.h --write-user-dependencies --output=o/a.o",
        )
        .unwrap();
        let s = |v: &[PathBuf]| {
            v.iter()
                .map(|p| p.to_str().unwrap().to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(s(&c.include_dirs), ["a", "b"]);
        assert_eq!(s(&c.after_dirs), ["z"]);
        assert_eq!(s(&c.forced_includes), ["cfg.h", "m.h"]);
        let d = c.dep.clone().unwrap();
        assert_eq!((d.path, d.system_headers), ("o/a.d".into(), false));
        assert!(!c
            .run_args
            .contains(&"--write-user-dependencies".to_string()));
        // The object's option runs as `-o`, where the wrapper looks for it.
        assert!(c.run_args.windows(2).any(|w| w == ["-o", "o/a.o"]));
        assert!(!c.run_args.iter().any(|a| a.starts_with("--output")));
        // The key spells them as the short options: the same compile either way.
        let short =
            p("-c a.c -Ia -Ib -idirafterz -includecfg.h -imacros m.h -MMD -o o/a.o").unwrap();
        assert_eq!(c.key_args.len(), short.key_args.len());
        let c = p("-c a.c --write-dependencies").unwrap();
        assert!(c.dep.unwrap().system_headers);
    }

    #[test]
    fn sysroot_relative_include_dirs() {
        let c = p("-c a.c -I=/inc --sysroot=/sr -I$SYSROOT/inc2 -Iplain").unwrap();
        let dirs: Vec<_> = c.include_dirs.iter().map(|d| d.to_str().unwrap()).collect();
        assert_eq!(dirs, ["/sr/inc", "/sr/inc2", "plain"]);
        // -isysroot wins over --sysroot for headers, as in gcc and clang.
        let c = p("-c a.c -isysroot /hs --sysroot=/sr -I=/inc").unwrap();
        assert_eq!(c.include_dirs, [PathBuf::from("/hs/inc")]);
    }

    #[test]
    fn dependency_options() {
        let c = p("-c a.c -o out/a.o -MD -MF out/a.d -MT t1 -MQ t$2 -MP -O2").unwrap();
        assert_eq!(
            c.dep,
            Some(DepRequest {
                path: "out/a.d".into(),
                targets: vec!["t1".into(), "t$$2".into()],
                phony: true,
                system_headers: true,
                clang_style: false,
            })
        );
        assert_eq!(c.run_args, ["-c", "a.c", "-o", "out/a.o", "-O2"]);
        let c = p("-c a.c -o out/a.o -MMD").unwrap();
        let d = c.dep.unwrap();
        assert_eq!((d.path, d.system_headers), ("out/a.d".into(), false));
        assert_eq!(p("-c a.c -MFx.d").unwrap().dep, None);
        let c = p("-c a.c -MD -MFx.d").unwrap();
        assert_eq!(c.dep.unwrap().path, PathBuf::from("x.d"));
    }

    #[test]
    fn target_and_sysdir_args() {
        let c = p("--target=aarch64-linux-gnu -m64 -march=native --sysroot /sr -nostdinc -c a.c")
            .unwrap();
        assert_eq!(
            c.target_args,
            ["--target=aarch64-linux-gnu", "-m64", "-march=native"]
        );
        assert_eq!(
            c.sysdir_args,
            [
                "--target=aarch64-linux-gnu",
                "-m64",
                "-march=native",
                "--sysroot=/sr",
                "-nostdinc"
            ]
        );
    }

    #[test]
    fn response_files() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("r1"), "-c 'src dir/a.c' @r2").unwrap();
        fs::write(dir.path().join("r2"), "-o \"out/a b.o\" -DX=a\\ b").unwrap();
        let c = parse(&["@r1".into()], dir.path()).unwrap();
        assert_eq!(c.source, PathBuf::from("src dir/a.c"));
        assert_eq!(c.object, PathBuf::from("out/a b.o"));
        assert!(c.run_args.contains(&"-DX=a b".to_string()));
        assert_eq!(
            parse(&["@missing".into()], dir.path()).unwrap_err().reason,
            "response-file-unreadable"
        );
        // gcc's and clang's tokenisers split at ASCII blanks only: a
        // no-break space or an em space is part of the argument.
        fs::write(dir.path().join("r3"), "-c\u{a0}x.c -DA=1\u{2003}2 a.c").unwrap();
        let c = parse(&["@r3".into()], dir.path()).unwrap_err();
        assert_eq!(
            c.reason, "link",
            "-c\u{a0}x.c is one (unknown) option, not -c"
        );
        fs::write(dir.path().join("r4"), "-c -DA=1\u{2003}2\u{a0}a.c").unwrap();
        let e = parse(&["@r4".into()], dir.path()).unwrap_err();
        assert_eq!(e.reason, "no-input");
        // \v and \f separate for gcc and not for clang: not cached.
        fs::write(dir.path().join("r5"), "-c\x0ba.c").unwrap();
        assert_eq!(
            parse(&["@r5".into()], dir.path()).unwrap_err().reason,
            "response-file-syntax"
        );
    }

    #[test]
    fn prefix_map_support_by_version() {
        let id = |v: &str| CompilerIdentity {
            path: "/x".into(),
            version: v.into(),
            id: String::new(),
        };
        assert!(supports_prefix_map(&id(
            "gcc (Debian 12.2.0-14+deb12u1) 12.2.0"
        )));
        assert!(!supports_prefix_map(&id("gcc (GCC) 7.5.0")));
        // gcc names itself as invoked: `c++` is cc's default C++ compiler.
        assert!(supports_prefix_map(&id(
            "c++ (Debian 12.2.0-14+deb12u1) 12.2.0"
        )));
        assert!(supports_prefix_map(&id(
            "cc (Debian 12.2.0-14+deb12u1) 12.2.0"
        )));
        assert!(supports_prefix_map(&id("Debian clang version 14.0.6")));
        assert!(!supports_prefix_map(&id("clang version 9.0.1")));
        assert!(!supports_prefix_map(&id(
            "Apple clang version 11.0.3 (clang-1103.0.32.62)"
        )));
        assert!(!supports_prefix_map(&id("tcc version 0.9.27")));
    }

    #[test]
    fn key_maps_paths_but_not_defines() {
        let dir = tempfile::tempdir().unwrap();
        for ws in ["A", "B"] {
            fs::create_dir_all(dir.path().join(ws)).unwrap();
            fs::write(dir.path().join(ws).join("a.c"), "int x;").unwrap();
        }
        let gcc = CompilerIdentity {
            path: "/x".into(),
            version: "gcc 12".into(),
            id: "i".into(),
        };
        let clang = CompilerIdentity {
            version: "clang version 14.0.6".into(),
            ..gcc.clone()
        };
        let key_with = |id: &CompilerIdentity, ws: &str, define: &str| {
            let root = dir.path().join(ws);
            let mut map = PathMap::new();
            map.add(&root, "/gocache/workspace");
            let args: Vec<OsString> = [
                "-c".to_string(),
                format!("{}/a.c", root.display()),
                format!("-I{}/inc", root.display()),
                format!("-DX={define}"),
                format!("-ffile-prefix-map={}=/gocache/workspace", root.display()),
            ]
            .into_iter()
            .map(OsString::from)
            .collect();
            let c = parse(&args, &root).unwrap();
            c.pre_key(id, &map, &root).unwrap()
        };
        let key = |ws: &str, define: &str| key_with(&clang, ws, define);
        assert_eq!(key("A", "1").id(), key("B", "1").id());
        // A compiler that cannot say which macros a compile used: values
        // in the pre-key, as given.
        assert_ne!(key("A", "1").id(), key("A", "2").id());
        assert!(key("A", "/w/x")
            .lines()
            .contains(&"arg -DX=/w/x".to_string()));
        // gcc: the name in the pre-key, the value left to the final key.
        assert_eq!(key_with(&gcc, "A", "1").id(), key_with(&gcc, "A", "2").id());
        assert!(key_with(&gcc, "A", "1")
            .lines()
            .contains(&"macro-arg -DX".to_string()));
        assert_ne!(
            key_with(&gcc, "A", "1").id(),
            key_with(&clang, "A", "1").id()
        );
        let lines = key("A", "1").lines().join("\n");
        assert!(lines.contains("arg -I /gocache/workspace/inc"), "{lines}");
        assert!(
            lines
                .lines()
                .any(|l| l.starts_with("source ") && l.ends_with(" /gocache/workspace/a.c")),
            "{lines}"
        );
        assert!(
            lines.contains("arg -ffile-prefix-map=/gocache/workspace=/gocache/workspace"),
            "{lines}"
        );
        assert!(
            !lines.contains(&dir.path().display().to_string()),
            "{lines}"
        );
    }

    /// Issue 14: with the working directory spelled through a symlink,
    /// every mapped directory inside it is mapped under that spelling too.
    #[cfg(unix)]
    #[test]
    fn relocation_maps_the_symlinked_spelling_of_the_working_directory() {
        let dir = tempfile::tempdir().unwrap();
        let real = fs::canonicalize(dir.path()).unwrap().join("real");
        fs::create_dir_all(real.join("pkg/out")).unwrap();
        let link = real.parent().unwrap().join("L");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let mut map = PathMap::new();
        map.add(real.join("pkg"), "/gocache/pkg/x-1");
        map.add(real.join("pkg/out"), "/gocache/out/x-1");
        map.add("/elsewhere", "/gocache/cargo-home");
        add_cwd_spelling(&mut map, &link.join("pkg"));
        assert_eq!(
            map.map(&link.join("pkg/src/a.c")),
            "/gocache/pkg/x-1/src/a.c"
        );
        assert_eq!(map.map(&link.join("pkg/out/g.h")), "/gocache/out/x-1/g.h");
        assert_eq!(map.map(&link.join("pkg")), "/gocache/pkg/x-1");
        assert_eq!(
            map.map(&real.join("pkg/src/a.c")),
            "/gocache/pkg/x-1/src/a.c"
        );
        // Nothing is added for a working directory that is not a symlink.
        let before = map.clone();
        add_cwd_spelling(&mut map, &real.join("pkg"));
        assert_eq!(map, before);
    }

    #[test]
    fn pre_key_lines_are_typed_and_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("a.c"), "int x;").unwrap();
        let id = CompilerIdentity {
            path: "/x".into(),
            version: "gcc 12".into(),
            id: "i".into(),
        };
        let args: Vec<OsString> = ["-c", "a.c", "-DX=\"a\\nb\"", "-I", "inc", "-O2"]
            .iter()
            .map(OsString::from)
            .collect();
        let c = parse(&args, dir.path()).unwrap();
        let lines = c
            .key_lines(
                &id,
                &PathMap::new(),
                dir.path(),
                &mut crate::direct::manifest::RealDisk,
            )
            .unwrap();
        let h = c.pre_key(&id, &PathMap::new(), dir.path()).unwrap();
        let parsed: Vec<KeyLine> = h.lines().iter().filter_map(|l| KeyLine::parse(l)).collect();
        assert_eq!(parsed, lines);
        assert_eq!(lines[0], KeyLine::Salt(SALT.into()));
        assert!(lines.contains(&KeyLine::MacroArg("-DX".into())));
        assert!(lines.contains(&KeyLine::Arg("-I inc".into())));
        assert!(matches!(lines.last(), Some(KeyLine::Source { name, .. }) if name == "a.c"));
    }

    /// The `-D`s and `-U`s in every spelling, and what keeps every value
    /// in the pre-key.
    #[test]
    fn macros_on_the_command_line() {
        let gcc = CompilerIdentity {
            path: "/x".into(),
            version: "gcc (Debian 12.2.0-14) 12.2.0".into(),
            id: "i".into(),
        };
        let c = p("-c a.c -DA=1 -D B -UC --define-macro=F(x)=x --define-macro E= -o a.o").unwrap();
        assert_eq!(
            c.macro_values(),
            [
                ("A".to_string(), Some("1".to_string())),
                ("B".to_string(), None),
                ("F(x)".to_string(), Some("x".to_string())),
                ("E".to_string(), Some(String::new())),
            ]
        );
        assert!(c.macro_names_keyed(&gcc));
        assert_eq!(c.macro_candidates(&gcc), ["A", "B", "F", "E"]);
        assert_eq!(
            c.predefined_args(Path::new("gcc")),
            ["-c", "-x", "c", "/dev/null"]
        );
        assert_eq!(
            c.preprocess_args(),
            [
                "-c",
                "a.c",
                "-DA=1",
                "-D",
                "B",
                "-UC",
                "--define-macro=F(x)=x",
                "--define-macro",
                "E="
            ]
        );
        for doubt in [
            "-c a.c -DA=1 -g3",
            "-c a.c -DA=1 -Wp,-DB=2",
            "-c a.c -DA=1 -Xpreprocessor -DB=2",
            "-c a.c -DA=1 -traditional-cpp",
            "-c a.c -DA=1 -dD",
            "-c a.c -DA=1 -DX.Y=2",
            "-c a.c -DA=1 -D1X",
        ] {
            let c = p(doubt).unwrap();
            assert!(!c.macro_names_keyed(&gcc), "{doubt}");
            assert!(c.macro_candidates(&gcc).is_empty(), "{doubt}");
        }
        // Plain assembly: no preprocessor, gcc passes no -D to `as`.
        let asm = p("-c a.s -DA=1 -DA=2 -D__X=1").unwrap();
        assert!(asm.macro_names_keyed(&gcc));
        assert_eq!(asm.macro_candidates(&gcc), ["A", "__X"]);
        assert!(!p("-c a.c -DA=1")
            .unwrap()
            .macro_names_keyed(&CompilerIdentity {
                version: "Debian clang version 14.0.6".into(),
                ..gcc.clone()
            }));
        assert!(!p("-c a.c -DA=1")
            .unwrap()
            .macro_names_keyed(&CompilerIdentity {
                version: "gcc (GCC) 4.8.5".into(),
                ..gcc.clone()
            }));
        // Values are left to the final key only where one holds a mapped
        // directory: the split is for machine paths.
        let mut map = PathMap::new();
        map.add("/w/out", "/gocache/out/x-1");
        let mut plain = p("-c a.c -DA=1 -DDIR=\"/usr/share/x\"").unwrap();
        plain.keep_macro_values_without_paths(&map);
        assert!(!plain.macro_names_keyed(&gcc));
        assert!(plain.macro_candidates(&gcc).is_empty());
        let mut path = p("-c a.c -DA=1 -DDIR=\"/w/out/share\"").unwrap();
        path.keep_macro_values_without_paths(&map);
        assert!(path.macro_names_keyed(&gcc));
        assert_eq!(path.macro_candidates(&gcc), ["A", "DIR"]);
    }

    #[test]
    fn depfile_rendering() {
        let req = DepRequest {
            path: "a.d".into(),
            targets: vec![],
            phony: true,
            system_headers: true,
            clang_style: true,
        };
        let text = render_depfile(&req, Path::new("out/a.o"), &["a.c".into(), "x y.h".into()]);
        assert_eq!(text, "out/a.o: a.c x\\ y.h\n\nx\\ y.h:\n");
        let gcc = DepRequest {
            clang_style: false,
            ..req.clone()
        };
        let text = render_depfile(&gcc, Path::new("out/a.o"), &["a.c".into(), "x y.h".into()]);
        assert_eq!(text, "out/a.o: a.c x\\ y.h\nx\\ y.h:\n");
        let long: Vec<String> = (0..4)
            .map(|i| format!("/usr/include/some/long/dir/h{i}.h"))
            .collect();
        let text = render_depfile(&gcc, Path::new("a.o"), &long);
        assert_eq!(
            text,
            "a.o: /usr/include/some/long/dir/h0.h /usr/include/some/long/dir/h1.h \\\n \
             /usr/include/some/long/dir/h2.h /usr/include/some/long/dir/h3.h\n\
             /usr/include/some/long/dir/h1.h:\n/usr/include/some/long/dir/h2.h:\n\
             /usr/include/some/long/dir/h3.h:\n"
        );
        assert_eq!(munge("a\\b c#$"), "a\\b\\ c\\#$$");
        assert_eq!(munge("a\\ b"), "a\\\\\\ b");
        let text = render_depfile(&gcc, Path::new("out/a.o"), &["a.c".into(), "x y.h".into()]);
        let d = crate::direct::depfile::parse(&text).unwrap();
        assert_eq!(
            d.prerequisites,
            [PathBuf::from("a.c"), PathBuf::from("x y.h")]
        );
    }
}
