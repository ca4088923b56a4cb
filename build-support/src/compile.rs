//! One gcc/clang command line: is it cacheable, and what is its pre-key?
//!
//! [`parse`] reads a compiler's arguments (expanding `@file` response
//! files) and either finds the one thing gocache caches, one source file
//! compiled with `-c` to one object ([`Compile`]), or names why it is not
//! cacheable ([`Uncacheable`]; the reason is what `stats` counts).
//! [`Compile::pre_key`] then hashes everything known before compiling; the
//! headers are added afterwards by [`crate::manifest`] (direct mode).
//!
//! # What goes into the pre-key
//!
//! | line | why |
//! | --- | --- |
//! | `gocache-compile v2` | version salt: bumped when the key or result format changes |
//! | `compiler <id>` | [`crate::compiler::identify`]: `--version` output and a hash of the driver binary (memoised, so a hit runs no compiler) |
//! | `compiler-version ...` | the first version line, for people reading `explain` output (already covered by the id) |
//! | `target ...` | `--target`/`-target`/`-arch`/`-m*` as given, or `default`; they are also `arg` lines, this line is for people |
//! | `lang c` | the language (`-x` or the extension) |
//! | `depfile user-headers` | `-MMD`: its depfile leaves out the headers gcc deems system ones, which only a preprocessing run tells (see the wrapper) |
//! | `relocate on/off` and `relocation <stable name>` | whether `-ffile-prefix-map` is added and which stable names the object may contain |
//! | `cwd <dir>` | the working directory as the compiler records it ([`compiler_cwd`]: `$PWD` when it names the working directory, else `getcwd()`), mapped: debug info records it (`DW_AT_comp_dir`) and relative paths resolve against it |
//! | `arg ...` | every argument except those listed below, in order; paths of search-path and `-include` options mapped through the [`PathMap`] |
//! | `env NAME=value` | the variables in [`KEY_ENV`] that are set |
//! | `source <sha256> <name>` | the source file's content and mapped name (as given when relative: the `cwd` line resolves it) |
//!
//! The lines are [`KeyLine`]s (rendered and parsed in [`crate::keyline`]);
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
//! * mtimes, never: contents are hashed. (Stamps only decide whether a
//!   compile's inputs held still while it ran, see [`crate::stamp`].)
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
//! | the working directory, only outside a build script and only with `CARGO_GOCACHE_MAP_CWD=1` | `/gocache/cwd` |
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

use std::ffi::OsString;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use crate::compiler::CompilerIdentity;
use crate::hash::KeyHasher;
use crate::keyline::KeyLine;
use crate::manifest::SearchPath;
use crate::pathmap::PathMap;

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
];

/// Variables that make a compile uncacheable when set (see [`KEY_ENV`]).
const UNCACHEABLE_ENV: &[&str] = &["DEPENDENCIES_OUTPUT", "SUNPRO_DEPENDENCIES"];

const SALT: &str = "gocache-compile v2";

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
    /// [`crate::compiler::system_include_dirs`].
    pub sysdir_args: Vec<String>,
    /// `--target`, `-target`, `-arch` and `-m*` arguments.
    pub target_args: Vec<String>,
    key_args: Vec<KeyArg>,
}

/// Options that take a value, as the next argument or (unless listed in
/// [`SEPARATE_ONLY`]) joined (`-Ifoo`). For a joined form every entry is
/// tried and the longest matching one wins (`-iquotefoo` is `-iquote`,
/// not `-i...`), so the order here does not matter. From gcc's and
/// clang's option tables and ccache's `compopt.cpp`.
const TAKES_ARG: &[&str] = &[
    "-A",
    "-B",
    "-D",
    "-F",
    "-G",
    "-I",
    "-L",
    "-MF",
    "-MJ",
    "-MQ",
    "-MT",
    "-T",
    "-U",
    "-V",
    "-Xassembler",
    "-Xclang",
    "-Xlinker",
    "-Xpreprocessor",
    "-arch",
    "-aux-info",
    "-b",
    "-dumpbase",
    "-dumpbase-ext",
    "-dumpdir",
    "-e",
    "-gcc-toolchain",
    "-idirafter",
    "-iframework",
    "-imacros",
    "-imultiarch",
    "-imultilib",
    "-include",
    "-include-pch",
    "-iprefix",
    "-iquote",
    "-isysroot",
    "-isystem",
    "-ivfsoverlay",
    "-iwithprefix",
    "-iwithprefixbefore",
    "-l",
    "-mllvm",
    "-o",
    "-specs",
    "-target",
    "-u",
    "-wrapper",
    "-x",
    "-z",
    "--param",
    "--serialize-diagnostics",
    "--specs",
    "--sysroot",
    "--target",
];

/// Options that only take their value as the next argument (never joined:
/// `-bfoo` or `-efoo` mean something else, or nothing).
const SEPARATE_ONLY: &[&str] = &[
    "-Xassembler",
    "-Xclang",
    "-Xlinker",
    "-Xpreprocessor",
    "-arch",
    "-aux-info",
    "-gcc-toolchain",
    "-mllvm",
    "-target",
    "-wrapper",
    "--param",
    "--serialize-diagnostics",
    "--specs",
    "--sysroot",
    "--target",
    "-dumpbase",
    "-dumpbase-ext",
    "-dumpdir",
];

/// Options with which caching is unsafe or pointless, with why. Matched
/// exactly or, for those ending in `*`, as a prefix. Taken from ccache's
/// `compopt.cpp` and `argprocessing.cpp`, plus what relocation needs.
const UNSUPPORTED: &[(&str, &str)] = &[
    // Extra outputs beside the object that a hit would not restore.
    ("-save-temps*", "writes .i/.s files beside the object"),
    ("--save-temps*", "writes .i/.s files beside the object"),
    ("-fdump-*", "writes dump files"),
    ("-fcallgraph-info*", "writes a .ci file"),
    ("-fstack-usage", "writes a .su file"),
    ("-gsplit-dwarf", "writes a .dwo file"),
    ("-ftime-trace*", "writes a trace file"),
    ("-MJ", "writes a compilation database fragment"),
    (
        "-gen-cdb-fragment-path",
        "writes a compilation database fragment",
    ),
    ("--serialize-diagnostics", "writes a .dia file"),
    ("-aux-info", "writes prototypes to a file"),
    ("-fdiagnostics-add-output*", "writes diagnostics to a file"),
    ("-fdiagnostics-set-output*", "writes diagnostics to a file"),
    ("--coverage", "writes a .gcno file and names the .gcda path"),
    ("-fprofile-arcs", "names the .gcda path in the object"),
    ("-ftest-coverage", "writes a .gcno file"),
    (
        "-fprofile-generate*",
        "names the profile path in the object",
    ),
    (
        "-fprofile-instr-generate*",
        "names the profile path in the object",
    ),
    // Inputs the key cannot see.
    ("-fprofile-use*", "reads profile data not in the key"),
    ("-fprofile-instr-use*", "reads profile data not in the key"),
    ("-fprofile-sample-use*", "reads profile data not in the key"),
    ("-fauto-profile*", "reads profile data not in the key"),
    ("-fplugin=*", "loads a plugin not in the key"),
    ("-fplugin-arg-*", "configures a plugin not in the key"),
    ("-specs", "reads a specs file not in the key"),
    ("-specs=*", "reads a specs file not in the key"),
    ("--specs", "reads a specs file not in the key"),
    ("-B", "takes compiler parts from a directory not in the key"),
    (
        "-wrapper",
        "runs the compiler's parts under another program",
    ),
    (
        "-ivfsoverlay",
        "remaps the file system the headers are read from",
    ),
    ("-fsanitize-ignorelist=*", "reads a file not in the key"),
    ("-fsanitize-blacklist=*", "reads a file not in the key"),
    ("-fprofile-list=*", "reads a file not in the key"),
    ("-include-pch", "reads a precompiled header"),
    ("-fpch-preprocess", "precompiled headers"),
    ("-emit-pch", "precompiled headers"),
    (
        "-fmodules*",
        "clang modules read a module cache not in the key",
    ),
    ("-fmodule-header*", "C++ header units"),
    ("-fcxx-modules", "clang modules"),
    ("-frepo", "writes .rpo files"),
    // Search-path changes that direct mode's probes do not model (a wrong
    // guess at the search order could serve a stale object).
    ("-I-", "changes how quoted includes are searched"),
    ("-iprefix", "search directories relative to a prefix"),
    ("-iwithprefix", "search directories relative to a prefix"),
    (
        "-iwithprefixbefore",
        "search directories relative to a prefix",
    ),
    ("-iframework", "framework search directories"),
    ("-F", "framework search directories"),
    ("-MG", "treats missing headers as generated files"),
    // Would put this build's real paths in the object, defeating relocation.
    (
        "-frecord-gcc-switches",
        "records the full command line in the object",
    ),
    (
        "-grecord-command-line",
        "records the full command line in the object",
    ),
    (
        "-grecord-gcc-switches",
        "records the full command line in the object",
    ),
    // Not a compile to an object at all.
    ("-analyze", "static analysis"),
    ("--analyze", "static analysis"),
    ("-fmodules-ts", "C++ modules"),
];

fn unsupported(opt: &str) -> bool {
    UNSUPPORTED
        .iter()
        .any(|(pat, _)| match pat.strip_suffix('*') {
            Some(prefix) => opt.starts_with(prefix),
            None => opt == *pat,
        })
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
        out.extend(expand_response_files(
            &split_response_file(&text),
            cwd,
            depth + 1,
        )?);
    }
    Ok(out)
}

/// Split a response file as libiberty's `buildargv` does: whitespace
/// separates arguments; single or double quotes group; a backslash takes
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
            (c, None) if c.is_whitespace() => {
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

/// Split `arg` into (option, joined value) if it is one of [`TAKES_ARG`]
/// with its value joined (`-Ifoo`, `--sysroot=foo`, `-MFfoo`).
fn joined(arg: &str) -> Option<(&'static str, &str)> {
    if let Some((opt, value)) = arg.split_once('=') {
        if let Some(o) = ["--sysroot", "--target", "--param", "--specs"]
            .iter()
            .find(|o| **o == opt)
        {
            return Some((o, value));
        }
    }
    TAKES_ARG
        .iter()
        .filter(|o| !SEPARATE_ONLY.contains(o))
        .filter(|o| arg.len() > o.len() && arg.starts_with(**o))
        .max_by_key(|o| o.len())
        .map(|o| (*o, &arg[o.len()..]))
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

    let mut i = 0;
    while i < args.len() {
        let start = i;
        let arg = args[i].as_str();
        i += 1;
        // An option and its value, whether separate or joined.
        let (opt, value): (&str, Option<String>) = if TAKES_ARG.contains(&arg) {
            let Some(v) = args.get(i) else {
                return Err(Uncacheable::new(format!("missing-argument:{arg}")));
            };
            i += 1;
            (arg, Some(v.clone()))
        } else if let Some((o, v)) = joined(arg) {
            (o, Some(v.to_string()))
        } else {
            (arg, None)
        };
        if unsupported(opt) {
            return Err(Uncacheable::option(opt));
        }
        if unsupported(arg) {
            return Err(Uncacheable::option(arg));
        }
        if assembler_info(arg) {
            return Err(Uncacheable::new("assembler-info"));
        }
        let v = value.clone().unwrap_or_default();
        let mut keep_in_run = true;
        match opt {
            "-c" => compile_only = true,
            "-E" => stop = stop.or(Some("-E")),
            "-M" | "-MM" => stop = stop.or(Some("-M")),
            "-S" => stop = stop.or(Some("-S")),
            "-fsyntax-only" => stop = stop.or(Some("no-output")),
            "-o" => output = Some(v),
            "-x" => {
                x_lang = Some(Lang::from_x(&v));
                c.key_args.push(KeyArg::Plain(format!("-x {v}")));
            }
            "-MD" | "-MMD" => {
                dep_on = true;
                dep_system = opt == "-MD";
                keep_in_run = false;
            }
            "-MF" => {
                dep_file = Some(v);
                keep_in_run = false;
            }
            "-MT" => {
                dep_targets.push(v);
                keep_in_run = false;
            }
            "-MQ" => {
                dep_targets.push(quote_target(&v));
                keep_in_run = false;
            }
            "-MP" => {
                dep_phony = true;
                keep_in_run = false;
            }
            "-I" | "-iquote" | "-isystem" | "-idirafter" => {
                let list = match opt {
                    "-I" => &mut c.include_dirs,
                    "-iquote" => &mut c.quote_dirs,
                    "-isystem" => &mut c.isystem_dirs,
                    _ => &mut c.after_dirs,
                };
                list.push(PathBuf::from(&v));
                c.key_args.push(KeyArg::Path(opt.to_string(), v));
            }
            "-include" | "-imacros" => {
                c.forced_includes.push(PathBuf::from(&v));
                c.key_args.push(KeyArg::Path(opt.to_string(), v));
            }
            "--sysroot" | "-isysroot" => {
                c.sysdir_args
                    .push(format!("{opt}={v}").replace("-isysroot=", "-isysroot"));
                c.key_args.push(KeyArg::Path(opt.to_string(), v));
            }
            "--target" | "-target" | "-arch" => {
                let a = if opt == "--target" {
                    format!("--target={v}")
                } else {
                    format!("{opt} {v}")
                };
                c.target_args.push(a.clone());
                if opt == "-arch" {
                    c.sysdir_args.extend([opt.to_string(), v.clone()]);
                } else {
                    c.sysdir_args.push(format!("--target={v}"));
                }
                c.key_args.push(KeyArg::Plain(a));
            }
            "-imultilib" | "-imultiarch" | "-gcc-toolchain" => {
                c.sysdir_args.extend([opt.to_string(), v.clone()]);
                c.key_args.push(KeyArg::Plain(format!("{opt} {v}")));
            }
            // clang's -Xclang passes cc1 options, which include -I and
            // dependency options too.
            "-Xpreprocessor" | "-Xclang" => {
                check_preprocessor_args(std::slice::from_ref(&v))?;
                c.key_args.push(KeyArg::Plain(format!("{opt} {v}")));
            }
            "-" => sources.push(("-".into(), Err(Uncacheable::new("stdin")))),
            _ if value.is_some() => {
                let sep = if joined(arg).is_some() { "" } else { " " };
                c.key_args.push(KeyArg::Plain(format!("{opt}{sep}{v}")));
            }
            _ if arg.starts_with("-Wp,") => {
                let parts: Vec<String> = arg[4..].split(',').map(str::to_string).collect();
                check_preprocessor_args(&parts)?;
                c.key_args.push(KeyArg::Plain(arg.to_string()));
            }
            _ if arg.starts_with('-') => {
                if arg.starts_with("-m")
                    || arg == "-nostdinc"
                    || arg == "-nostdinc++"
                    || arg.starts_with("-stdlib=")
                    || arg.starts_with("--gcc-toolchain=")
                {
                    c.sysdir_args.push(arg.to_string());
                }
                if arg.starts_with("-m") {
                    c.target_args.push(arg.to_string());
                }
                c.key_args
                    .push(prefix_map_arg(arg).unwrap_or_else(|| KeyArg::Plain(arg.to_string())));
            }
            _ => {
                // An input file.
                let lang = match &x_lang {
                    Some(Ok(Some(l))) => Ok(*l),
                    Some(Err(e)) => Err(e.clone()),
                    _ => Lang::from_path(arg)
                        .map_err(|l| Uncacheable::new(format!("unsupported-language:{l}"))),
                };
                sources.push((arg.to_string(), lang));
            }
        }
        if keep_in_run {
            c.run_args.extend_from_slice(&args[start..i]);
        } else if matches!(opt, "-MD" | "-MMD" | "-MF" | "-MT" | "-MQ" | "-MP") {
            dep_args.extend_from_slice(&args[start..i]);
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
    if dep_on {
        c.dep = Some(DepRequest {
            path: dep_file.map_or_else(|| c.object.with_extension("d"), PathBuf::from),
            targets: dep_targets,
            phony: dep_phony,
            system_headers: dep_system,
        });
    }
    // -MF/-MT/-MP without -MD do nothing in gcc: no depfile is asked for.
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

/// Preprocessor options passed through `-Wp,` or `-Xpreprocessor`: ones
/// that write a depfile or change the search path would escape both the
/// depfile gocache asks for and the probes; refuse them.
fn check_preprocessor_args(parts: &[String]) -> Result<(), Uncacheable> {
    for p in parts {
        if p.starts_with("-M")
            || p.starts_with("-I")
            || p.starts_with("-i")
            || p.starts_with("--sysroot")
            || p.starts_with("-nostdinc")
        {
            return Err(Uncacheable::new(format!("unsupported-option:-Wp,{p}")));
        }
    }
    Ok(())
}

/// Quote a target for make as `-MQ` does (`$` doubled, spaces and `#` escaped).
fn quote_target(t: &str) -> String {
    let mut out = String::with_capacity(t.len());
    for ch in t.chars() {
        match ch {
            '$' => out.push_str("$$"),
            ' ' | '\t' => {
                out.push('\\');
                out.push(ch);
            }
            '#' => out.push_str("\\#"),
            _ => out.push(ch),
        }
    }
    out
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
/// the environment (see the module docs for the names). `cwd` is mapped
/// only outside a build script, and only with `CARGO_GOCACHE_MAP_CWD=1`.
pub fn relocation_map(cwd: &Path) -> PathMap {
    use crate::env::{var, var_os};
    let mut map = PathMap::new();
    let mut add = |dir: Option<PathBuf>, name: String| {
        let Some(dir) = dir.filter(|d| d.is_absolute()) else {
            return;
        };
        let canonical = fs::canonicalize(&dir).ok();
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
    } else if var("CARGO_GOCACHE_MAP_CWD").is_some_and(|v| v == "1") {
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
    /// The pre-key: everything known before compiling (see the module docs).
    /// Fails only if the source cannot be read.
    pub fn pre_key(
        &self,
        identity: &CompilerIdentity,
        map: &PathMap,
        cwd: &Path,
    ) -> std::io::Result<KeyHasher> {
        self.pre_key_with(identity, map, cwd, &mut crate::manifest::RealDisk)
    }

    /// [`Compile::pre_key`], hashing the source through `disk` (a memo).
    pub fn pre_key_with(
        &self,
        identity: &CompilerIdentity,
        map: &PathMap,
        cwd: &Path,
        disk: &mut dyn crate::manifest::Disk,
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
        disk: &mut dyn crate::manifest::Disk,
    ) -> std::io::Result<Vec<KeyLine>> {
        let mut lines = Vec::with_capacity(self.key_args.len() + 16);
        lines.push(KeyLine::Salt(SALT.into()));
        lines.push(KeyLine::Compiler(identity.id.clone()));
        lines.push(KeyLine::CompilerVersion(identity.version.clone()));
        lines.push(KeyLine::Target(if self.target_args.is_empty() {
            "default".into()
        } else {
            self.target_args.join(" ")
        }));
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
            lines.push(KeyLine::Arg(match a {
                KeyArg::Plain(s) => s.clone(),
                KeyArg::PrefixMap(opt, old, new) => format!("{opt}{}={new}", mapped(map, old)),
                KeyArg::Path(opt, p) => format!("{opt} {}", mapped(map, p)),
            }));
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
    /// ([`crate::compiler::system_include_dirs`], memoised in `store`).
    pub fn system_dirs(
        &self,
        store: Option<&crate::store::Store>,
        compiler: &Path,
        identity: &CompilerIdentity,
    ) -> crate::Result<Vec<PathBuf>> {
        crate::compiler::system_include_dirs(
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
        let mut dirs = Vec::new();
        let mut push = |d: PathBuf| {
            if !dirs.contains(&d) {
                dirs.push(d);
            }
        };
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
        SearchPath { dirs }
    }

    /// Does `SOURCE_DATE_EPOCH` fix `__DATE__` and `__TIME__` for this compile?
    pub fn source_date_epoch() -> bool {
        crate::env::var_os("SOURCE_DATE_EPOCH").is_some_and(|v| !v.is_empty())
    }
}

/// Render the caller's depfile: `targets` (already in make syntax; the
/// object's name when empty) depending on `prerequisites`, as gcc writes it.
pub fn render_depfile(req: &DepRequest, object: &Path, prerequisites: &[String]) -> String {
    let esc = |s: &str| s.replace('$', "$$").replace('#', "\\#").replace(' ', "\\ ");
    let mut out = if req.targets.is_empty() {
        esc(&object.to_string_lossy())
    } else {
        req.targets.join(" ")
    };
    out.push(':');
    for p in prerequisites {
        out.push_str(" \\\n ");
        out.push_str(&esc(p));
    }
    out.push('\n');
    if req.phony {
        for p in prerequisites.iter().skip(1) {
            out.push('\n');
            out.push_str(&esc(p));
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
            ("-c a.c -Xclang -Ifoo", "unsupported-option:-Wp,-Ifoo"),
            ("-c a.c -I", "missing-argument:-I"),
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
    fn dependency_options() {
        let c = p("-c a.c -o out/a.o -MD -MF out/a.d -MT t1 -MQ t$2 -MP -O2").unwrap();
        assert_eq!(
            c.dep,
            Some(DepRequest {
                path: "out/a.d".into(),
                targets: vec!["t1".into(), "t$$2".into()],
                phony: true,
                system_headers: true,
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
        let id = CompilerIdentity {
            path: "/x".into(),
            version: "gcc 12".into(),
            id: "i".into(),
        };
        let key = |ws: &str, define: &str| {
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
            c.pre_key(&id, &map, &root).unwrap()
        };
        assert_eq!(key("A", "1").id(), key("B", "1").id());
        assert_ne!(key("A", "1").id(), key("A", "2").id());
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
                &mut crate::manifest::RealDisk,
            )
            .unwrap();
        let h = c.pre_key(&id, &PathMap::new(), dir.path()).unwrap();
        let parsed: Vec<KeyLine> = h.lines().iter().filter_map(|l| KeyLine::parse(l)).collect();
        assert_eq!(parsed, lines);
        assert_eq!(lines[0], KeyLine::Salt(SALT.into()));
        assert!(lines.contains(&KeyLine::Arg("-DX=\"a\\nb\"".into())));
        assert!(lines.contains(&KeyLine::Arg("-I inc".into())));
        assert!(matches!(lines.last(), Some(KeyLine::Source { name, .. }) if name == "a.c"));
    }

    #[test]
    fn depfile_rendering() {
        let req = DepRequest {
            path: "a.d".into(),
            targets: vec![],
            phony: true,
            system_headers: true,
        };
        let text = render_depfile(&req, Path::new("out/a.o"), &["a.c".into(), "x y.h".into()]);
        assert_eq!(text, "out/a.o: \\\n a.c \\\n x\\ y.h\n\nx\\ y.h:\n");
        let d = crate::depfile::parse(&text).unwrap();
        assert_eq!(
            d.prerequisites,
            [PathBuf::from("a.c"), PathBuf::from("x y.h")]
        );
    }
}
