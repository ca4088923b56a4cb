//! The one table of gcc and clang options that matter to the cache.
//!
//! Each option is listed once ([`OPTIONS`]), sccache's way: its name, how
//! it takes its value ([`Takes`]) and what it means to the cache
//! ([`Means`]). Options not listed are hashed as given (their value, if
//! they take one joined, with them); an option that takes a *separate*
//! value must be listed, or its value would be taken for an input file.
//!
//! Sources: `gcc --help=common,c,c++,driver,undocumented` (gcc 12), gcc's
//! `gcc.cc` and `opts-common.cc` (the `--long` spellings and their `-f`
//! fallback), clang 14's `Options.td`, ccache's `compopt.cpp` and
//! `argprocessing.cpp`, and sccache's `gcc.rs` `ARGS`.
//!
//! Every option that reads or writes a file, or changes where headers are
//! found, is one of: parsed (its meaning below, and the file in the key or
//! in the compile's depfile), or refused ([`Means::Refuse`], with why: the
//! compile runs uncached). Long spellings are normalised by [`canonical`]
//! to the short option they stand for before the table is consulted, so a
//! refusal cannot be dodged by spelling.

/// How an option takes its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Takes {
    /// No value: `-c`.
    Flag,
    /// The value is the next argument: `-Xclang X`.
    Separate,
    /// The value is joined, possibly empty: `-Wa,X`, `-fplugin=X`. Also
    /// every prefix pattern (`-fdump-` matches `-fdump-tree-all`).
    Joined,
    /// Joined, or the next argument when alone: `-IX`, `-I X`.
    JoinedOrSeparate,
}

/// Which depfile option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dep {
    /// `-MD`: write a depfile, system headers included.
    Md,
    /// `-MMD`: write a depfile without system headers.
    Mmd,
    /// `-MF FILE`.
    Mf,
    /// `-MT TARGET`.
    Mt,
    /// `-MQ TARGET` (quoted for make).
    Mq,
    /// `-MP`: a phony rule per header.
    Mp,
}

/// Which list of include directories.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dir {
    /// `-I`.
    Include,
    /// `-iquote`.
    Quote,
    /// `-isystem`.
    System,
    /// `-idirafter`.
    After,
}

/// What an option means to the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Means {
    /// Changes the output only through what it says: hashed as given.
    Plain,
    /// Another spelling of the option named (same value form).
    Alias(&'static str),
    /// `-c`.
    Compile,
    /// Stops before an object (`-E`, `-M`, `-S`...): not a compile to cache.
    Stop(&'static str),
    /// `-o FILE`.
    Output,
    /// `-x LANG`.
    Lang,
    /// A depfile option: gocache writes the caller's depfile itself.
    Dep(Dep),
    /// An include directory: in the search path the probes model.
    Search(Dir),
    /// `-include FILE`, `-imacros FILE`: read first (and in the depfile).
    ForcedInclude,
    /// `--sysroot DIR`, `-isysroot DIR`: where the system headers are.
    Sysroot,
    /// `--target`, `-target`, `-arch`: the target (and its headers).
    Target,
    /// Changes the compiler's own include directories (`-imultilib X`,
    /// `-nostdinc`, `-stdlib=`...): passed to the system-directory query.
    Sysdir,
    /// `-m...`: the target's variant; changes the system directories too.
    Machine,
    /// Options for the preprocessor (`-Wp,A,B`, `-Xpreprocessor A`),
    /// checked one by one ([`preprocessor_option_ok`]).
    Preprocessor,
    /// Options for the assembler (`-Wa,A,B`, `-Xassembler A`), checked
    /// one by one ([`assembler_option_ok`]).
    Assembler,
    /// `-Xclang A`: an option of clang's `cc1`, checked like a driver
    /// option and against [`CC1_REFUSED`].
    Xclang,
    /// `-dLETTERS`: dumps (files) or annotations; see [`dump_letters_ok`].
    Dump,
    /// `-D NAME=VALUE` (`false`) or `-U NAME` (`true`): a command-line
    /// macro, whose value the key may leave to the final key (see
    /// `macros.rs`).
    Macro(bool),
    /// Caching is unsafe or pointless with it, because of the reason given.
    Refuse(&'static str),
}

/// One option.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Opt {
    /// Its name, with its dashes (and its `=` for joined `--long=` forms).
    pub name: &'static str,
    /// How it takes its value.
    pub takes: Takes,
    /// What it means to the cache.
    pub means: Means,
}

const fn o(name: &'static str, takes: Takes, means: Means) -> Opt {
    Opt { name, takes, means }
}

use Means::*;
use Takes::*;

const WRITES: &str = "writes a file a hit would not restore";
const READS: &str = "reads a file the key does not hash";
const SEARCH: &str = "changes the header search in a way the probes do not model";

/// The table. Matching: an argument equal to a name of a `Flag`,
/// `Separate` or `JoinedOrSeparate` option is that option; otherwise the
/// longest `Joined`/`JoinedOrSeparate` name it starts with wins.
pub(crate) const OPTIONS: &[Opt] = &[
    // What kind of run this is.
    o("-c", Flag, Compile),
    o("-E", Flag, Stop("-E")),
    o("-M", Flag, Stop("-M")),
    o("-MM", Flag, Stop("-M")),
    o("-S", Flag, Stop("-S")),
    o("-fsyntax-only", Flag, Stop("no-output")),
    o("-dumpversion", Flag, Stop("no-output")),
    o("-dumpfullversion", Flag, Stop("no-output")),
    o("-dumpmachine", Flag, Stop("no-output")),
    o("-dumpspecs", Flag, Stop("no-output")),
    o("-print-", Joined, Stop("no-output")),
    o("-###", Flag, Stop("no-output")),
    o("-o", JoinedOrSeparate, Output),
    o("-x", JoinedOrSeparate, Lang),
    o("--", Flag, Refuse("ends the options (clang)")),
    // Depfile options: gocache asks for its own depfile and writes the caller's.
    o("-MD", Flag, Dep(Dep::Md)),
    o("-MMD", Flag, Dep(Dep::Mmd)),
    o("-MF", JoinedOrSeparate, Dep(Dep::Mf)),
    o("-MT", JoinedOrSeparate, Dep(Dep::Mt)),
    o("-MQ", JoinedOrSeparate, Dep(Dep::Mq)),
    o("-MP", Flag, Dep(Dep::Mp)),
    o(
        "-MG",
        Flag,
        Refuse("treats missing headers as generated files"),
    ),
    o("-MJ", JoinedOrSeparate, Refuse(WRITES)),
    // The search path.
    o("-I", JoinedOrSeparate, Search(Dir::Include)),
    o("-iquote", JoinedOrSeparate, Search(Dir::Quote)),
    o("-isystem", JoinedOrSeparate, Search(Dir::System)),
    o("-idirafter", JoinedOrSeparate, Search(Dir::After)),
    o(
        "-I-",
        Flag,
        Refuse("changes how quoted includes are searched"),
    ),
    o("-iprefix", JoinedOrSeparate, Refuse(SEARCH)),
    o("-iwithprefix", JoinedOrSeparate, Refuse(SEARCH)),
    o("-iwithprefixbefore", JoinedOrSeparate, Refuse(SEARCH)),
    o("-iframework", JoinedOrSeparate, Refuse(SEARCH)),
    o("-iframeworkwithsysroot", JoinedOrSeparate, Refuse(SEARCH)),
    o("-F", JoinedOrSeparate, Refuse(SEARCH)),
    o("-cxx-isystem", JoinedOrSeparate, Refuse(SEARCH)),
    o("-isystem-after", JoinedOrSeparate, Refuse(SEARCH)),
    o("-ibuiltininc", Flag, Refuse(SEARCH)),
    o("-iwithsysroot", JoinedOrSeparate, Refuse(SEARCH)),
    o("-iapinotes-modules", JoinedOrSeparate, Refuse(SEARCH)),
    o(
        "-iplugindir=",
        Joined,
        Refuse("loads plugins from a directory the key does not hash"),
    ),
    o(
        "-ivfsoverlay",
        JoinedOrSeparate,
        Refuse("remaps the file system headers are read from"),
    ),
    o("-include", JoinedOrSeparate, ForcedInclude),
    o("-imacros", JoinedOrSeparate, ForcedInclude),
    o("--sysroot", Separate, Sysroot),
    o("--sysroot=", Joined, Sysroot),
    o("-isysroot", JoinedOrSeparate, Sysroot),
    o("-nostdinc", Flag, Sysdir),
    o("-nostdinc++", Flag, Sysdir),
    o("-nostdlibinc", Flag, Sysdir),
    o("-nobuiltininc", Flag, Sysdir),
    o("-stdlib=", Joined, Sysdir),
    o("-stdlib++-isystem", JoinedOrSeparate, Refuse(SEARCH)),
    o("-imultilib", JoinedOrSeparate, Sysdir),
    o("-imultiarch", JoinedOrSeparate, Sysdir),
    o("-gcc-toolchain", Separate, Sysdir),
    o("--gcc-toolchain=", Joined, Sysdir),
    o("-resource-dir", JoinedOrSeparate, Sysdir),
    o("-resource-dir=", Joined, Sysdir),
    o("--target", Separate, Target),
    o("--target=", Joined, Target),
    o("-target", Separate, Target),
    o("-arch", Separate, Target),
    o("-m", Joined, Machine),
    // Passed through to other programs.
    o("-Wp,", Joined, Preprocessor),
    o("-Xpreprocessor", Separate, Preprocessor),
    o("-Wa,", Joined, Assembler),
    o("-Xassembler", Separate, Assembler),
    o("-Xclang", Separate, Xclang),
    o("-Xlinker", Separate, Plain),
    o(
        "-Xarch_",
        Joined,
        Refuse("applies an option to one architecture only"),
    ),
    o(
        "-Xarch_device",
        Separate,
        Refuse("applies an option to one device only"),
    ),
    o(
        "-Xarch_host",
        Separate,
        Refuse("applies an option to one device only"),
    ),
    o("-Xcuda-fatbinary", Separate, Refuse("CUDA")),
    o("-Xcuda-ptxas", Separate, Refuse("CUDA")),
    o("-Xopenmp-target", Separate, Refuse("offloading")),
    o("-mllvm", Separate, Plain),
    // Values that are not files (hashed with the option), taken separately.
    o("-D", JoinedOrSeparate, Macro(false)),
    o("-U", JoinedOrSeparate, Macro(true)),
    o("-A", JoinedOrSeparate, Plain),
    o("-G", JoinedOrSeparate, Plain),
    o("-L", JoinedOrSeparate, Plain),
    o("-l", JoinedOrSeparate, Plain),
    o("-T", JoinedOrSeparate, Plain),
    o("-u", JoinedOrSeparate, Plain),
    o("-e", JoinedOrSeparate, Plain),
    o("-z", JoinedOrSeparate, Plain),
    o("-b", JoinedOrSeparate, Plain),
    o("-V", JoinedOrSeparate, Plain),
    o("--param", Separate, Plain),
    o("--param=", Joined, Plain),
    o("-dumpbase", Separate, Plain),
    o("-dumpbase-ext", Separate, Plain),
    o("-dumpdir", Separate, Plain),
    o("-d", Joined, Dump),
    // Outputs beside the object that a hit would not make.
    o(
        "-save-temps",
        Joined,
        Refuse("writes .i/.s files beside the object"),
    ),
    o("-fdump-", Joined, Refuse(WRITES)),
    o("-fcallgraph-info", Joined, Refuse(WRITES)),
    o("-fstack-usage", Flag, Refuse(WRITES)),
    o("-gsplit-dwarf", Joined, Refuse("writes a .dwo file")),
    o("-ftime-trace", Joined, Refuse(WRITES)),
    o("-ftime-report-json", Flag, Refuse(WRITES)),
    o("-index-store-path", Separate, Refuse(WRITES)),
    o("-dependency-dot", Separate, Refuse(WRITES)),
    o("-module-dependency-dir", Separate, Refuse(WRITES)),
    o("-save-stats", Joined, Refuse(WRITES)),
    o("-gen-cdb-fragment-path", Separate, Refuse(WRITES)),
    o("--serialize-diagnostics", Separate, Refuse(WRITES)),
    o("-serialize-diagnostics", Separate, Refuse(WRITES)),
    o("-aux-info", JoinedOrSeparate, Refuse(WRITES)),
    o("-fdiagnostics-add-output", Joined, Refuse(WRITES)),
    o("-fdiagnostics-set-output", Joined, Refuse(WRITES)),
    o("-fdiagnostics-format=sarif-file", Flag, Refuse(WRITES)),
    o("-fdiagnostics-format=json-file", Flag, Refuse(WRITES)),
    o("-fopt-info", Joined, Dump),
    o("-fsave-optimization-record", Joined, Refuse(WRITES)),
    o("-foptimization-record-file=", Joined, Refuse(WRITES)),
    o("-fproc-stat-report", Joined, Refuse(WRITES)),
    o("-fstats-file=", Joined, Refuse(WRITES)),
    o(
        "-coverage",
        Flag,
        Refuse("writes a .gcno file and names the .gcda path"),
    ),
    o(
        "--coverage",
        Flag,
        Refuse("writes a .gcno file and names the .gcda path"),
    ),
    o(
        "-fprofile-arcs",
        Flag,
        Refuse("names the .gcda path in the object"),
    ),
    o("-ftest-coverage", Flag, Refuse("writes a .gcno file")),
    o("-fprofile-note=", Joined, Refuse("writes a .gcno file")),
    o(
        "-fprofile-generate",
        Joined,
        Refuse("names the profile path in the object"),
    ),
    o(
        "-fprofile-instr-generate",
        Joined,
        Refuse("names the profile path in the object"),
    ),
    o(
        "-fcs-profile-generate",
        Joined,
        Refuse("names the profile path in the object"),
    ),
    o(
        "-fprofile-dir=",
        Joined,
        Refuse("names the profile path in the object"),
    ),
    o("-fprofile-update=", Joined, Plain),
    o("-frepo", Flag, Refuse("writes .rpo files")),
    o("-emit-pch", Flag, Refuse("precompiled headers")),
    o("-fpch-preprocess", Flag, Refuse("precompiled headers")),
    o("--output-pch=", Joined, Refuse("precompiled headers")),
    o("-fmodule-header", Joined, Refuse("C++ header units")),
    // Inputs the key cannot see.
    o(
        "-fbranch-probabilities",
        Flag,
        Refuse("reads profile data (.gcda)"),
    ),
    o("-fprofile-use", Joined, Refuse("reads profile data")),
    o("-fprofile-instr-use", Joined, Refuse("reads profile data")),
    o("-fprofile-sample-use", Joined, Refuse("reads profile data")),
    o("-fprofile-remapping-file=", Joined, Refuse(READS)),
    o("-fauto-profile", Joined, Refuse("reads profile data")),
    o("-fprofile-list=", Joined, Refuse(READS)),
    o("-fprofile-instrument-use-path=", Joined, Refuse(READS)),
    o("-fprofile-instrument-path=", Joined, Refuse(WRITES)),
    o("-fthinlto-index=", Joined, Refuse(READS)),
    o(
        "-fplugin=",
        Joined,
        Refuse("loads a plugin the key does not hash"),
    ),
    o("-fplugin-arg-", Joined, Refuse("configures a plugin")),
    o(
        "-fpass-plugin=",
        Joined,
        Refuse("loads a plugin the key does not hash"),
    ),
    o("-specs", Separate, Refuse(READS)),
    o("-specs=", Joined, Refuse(READS)),
    o("--specs", Separate, Refuse(READS)),
    o("--specs=", Joined, Refuse(READS)),
    o("--config", Separate, Refuse(READS)),
    o("--config=", Joined, Refuse(READS)),
    o(
        "-B",
        JoinedOrSeparate,
        Refuse("takes compiler parts from a directory the key does not hash"),
    ),
    o(
        "-wrapper",
        Separate,
        Refuse("runs the compiler's parts under another program"),
    ),
    o(
        "-no-integrated-as",
        Flag,
        Refuse("runs an assembler found through PATH"),
    ),
    o(
        "-fno-integrated-as",
        Flag,
        Refuse("runs an assembler found through PATH"),
    ),
    o("-fsanitize-ignorelist=", Joined, Refuse(READS)),
    o("-fsanitize-blacklist=", Joined, Refuse(READS)),
    o("-fsanitize-system-ignorelist=", Joined, Refuse(READS)),
    o("-fsanitize-coverage-allowlist=", Joined, Refuse(READS)),
    o("-fsanitize-coverage-ignorelist=", Joined, Refuse(READS)),
    o("-fsanitize-coverage-whitelist=", Joined, Refuse(READS)),
    o("-fsanitize-coverage-blacklist=", Joined, Refuse(READS)),
    o("-fxray-always-instrument=", Joined, Refuse(READS)),
    o("-fxray-never-instrument=", Joined, Refuse(READS)),
    o("-fxray-attr-list=", Joined, Refuse(READS)),
    o("-fembed-offload-object=", Joined, Refuse(READS)),
    o("-fcuda-include-gpubinary", Separate, Refuse(READS)),
    o(
        "-include-pch",
        JoinedOrSeparate,
        Refuse("reads a precompiled header"),
    ),
    o(
        "-fmodules",
        Joined,
        Refuse("clang modules read a module cache the key does not hash"),
    ),
    o("-fmodule-file", Joined, Refuse("reads a module")),
    o("-fmodule-map-file=", Joined, Refuse(READS)),
    o("-fprebuilt-module-path=", Joined, Refuse(READS)),
    o("-fimplicit-module-maps", Flag, Refuse(READS)),
    o("-fbuiltin-module-map", Flag, Refuse(READS)),
    o("-fcxx-modules", Flag, Refuse("clang modules")),
    o("-fmodules-ts", Flag, Refuse("C++ modules")),
    o("-fapinotes", Joined, Refuse(READS)),
    o("-fcoverage-compilation-dir=", Joined, Plain),
    // Would put this build's real paths in the object, defeating relocation.
    o(
        "-frecord-gcc-switches",
        Flag,
        Refuse("records the full command line in the object"),
    ),
    o(
        "-grecord-command-line",
        Flag,
        Refuse("records the full command line in the object"),
    ),
    o(
        "-grecord-gcc-switches",
        Flag,
        Refuse("records the full command line in the object"),
    ),
    o(
        "-frecord-command-line",
        Flag,
        Refuse("records the full command line in the object"),
    ),
    // Not a compile to an object at all.
    o("-analyze", Flag, Refuse("static analysis")),
    o("--analyze", Flag, Refuse("static analysis")),
    o("--precompile", Flag, Refuse("precompiled headers")),
    o("-emit-ast", Flag, Refuse("not an object")),
    o("-emit-llvm", Flag, Plain),
    // gcc's and clang's long spellings of the short options.
    o("--all-warnings", Flag, Alias("-Wall")),
    o("--assemble", Flag, Alias("-S")),
    o("--assert", Separate, Alias("-A")),
    o("--assert=", Joined, Alias("-A")),
    o("--comments", Flag, Alias("-C")),
    o("--comments-in-macros", Flag, Alias("-CC")),
    o("--compile", Flag, Alias("-c")),
    o("--debug", Flag, Alias("-g")),
    o("--define-macro", Separate, Alias("-D")),
    o("--define-macro=", Joined, Alias("-D")),
    o("--dependencies", Flag, Alias("-M")),
    o("--dump", Separate, Alias("-d")),
    o("--dump=", Joined, Alias("-d")),
    o("--dumpbase", Separate, Alias("-dumpbase")),
    o("--dumpbase-ext", Separate, Alias("-dumpbase-ext")),
    o("--dumpdir", Separate, Alias("-dumpdir")),
    o("--entry", Separate, Alias("-e")),
    o("--entry=", Joined, Alias("-e")),
    o("--extra-warnings", Flag, Alias("-Wextra")),
    o("--for-assembler", Separate, Alias("-Xassembler")),
    o("--for-assembler=", Joined, Alias("-Xassembler")),
    o("--for-linker", Separate, Alias("-Xlinker")),
    o("--for-linker=", Joined, Alias("-Xlinker")),
    o("--force-link", Separate, Alias("-u")),
    o("--force-link=", Joined, Alias("-u")),
    o("--imacros", Separate, Alias("-imacros")),
    o("--imacros=", Joined, Alias("-imacros")),
    o("--include", Separate, Alias("-include")),
    o("--include=", Joined, Alias("-include")),
    o("--include-barrier", Flag, Alias("-I-")),
    o("--include-directory", Separate, Alias("-I")),
    o("--include-directory=", Joined, Alias("-I")),
    o("--include-directory-after", Separate, Alias("-idirafter")),
    o("--include-directory-after=", Joined, Alias("-idirafter")),
    o("--include-prefix", Separate, Alias("-iprefix")),
    o("--include-prefix=", Joined, Alias("-iprefix")),
    o("--include-with-prefix", Separate, Alias("-iwithprefix")),
    o("--include-with-prefix=", Joined, Alias("-iwithprefix")),
    o(
        "--include-with-prefix-after",
        Separate,
        Alias("-iwithprefix"),
    ),
    o(
        "--include-with-prefix-after=",
        Joined,
        Alias("-iwithprefix"),
    ),
    o(
        "--include-with-prefix-before",
        Separate,
        Alias("-iwithprefixbefore"),
    ),
    o(
        "--include-with-prefix-before=",
        Joined,
        Alias("-iwithprefixbefore"),
    ),
    o("--language", Separate, Alias("-x")),
    o("--language=", Joined, Alias("-x")),
    o("--library-directory", Separate, Alias("-L")),
    o("--library-directory=", Joined, Alias("-L")),
    o("--no-line-commands", Flag, Alias("-P")),
    o("--no-standard-includes", Flag, Alias("-nostdinc")),
    o("--no-warnings", Flag, Alias("-w")),
    o("--optimize", Flag, Alias("-O")),
    o("--output", Separate, Alias("-o")),
    o("--output=", Joined, Alias("-o")),
    o("--pedantic", Flag, Alias("-Wpedantic")),
    o("--pedantic-errors", Flag, Alias("-pedantic-errors")),
    o("--prefix", Separate, Alias("-B")),
    o("--prefix=", Joined, Alias("-B")),
    o("--preprocess", Flag, Alias("-E")),
    o("--print-missing-file-dependencies", Flag, Alias("-MG")),
    o("--profile", Flag, Alias("-p")),
    o("--save-temps", Joined, Alias("-save-temps")),
    o("--trace-includes", Flag, Alias("-H")),
    o("--traditional-cpp", Flag, Alias("-traditional-cpp")),
    o("--trigraphs", Flag, Alias("-trigraphs")),
    o("--undefine-macro", Separate, Alias("-U")),
    o("--undefine-macro=", Joined, Alias("-U")),
    o("--user-dependencies", Flag, Alias("-MM")),
    o("--verbose", Flag, Alias("-v")),
    o("--write-dependencies", Flag, Alias("-MD")),
    o("--write-user-dependencies", Flag, Alias("-MMD")),
    o(
        "--serialize-diagnostics=",
        Joined,
        Alias("--serialize-diagnostics"),
    ),
];

/// An option's value, as the argument matched it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    /// It takes none.
    None,
    /// The next argument.
    Next,
    /// Joined to the option (possibly empty).
    Joined(String),
}

/// An argument matched against the table, aliases resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Match {
    /// The canonical name (`-I` for `--include-directory=`).
    pub name: &'static str,
    /// What it means.
    pub means: Means,
    /// Its value.
    pub value: Value,
    /// A pattern (`-fdump-`), named in full when refused.
    pub pattern: bool,
}

fn find(name: &str) -> Option<&'static Opt> {
    OPTIONS
        .iter()
        .find(|o| o.name == name && o.takes != Takes::Joined)
        .or_else(|| {
            OPTIONS
                .iter()
                .find(|o| o.name == name && o.takes == Takes::Joined)
        })
}

/// The option `arg` is; `None` for an argument not in the table (an
/// input, or an option hashed as given).
pub(crate) fn lookup(arg: &str) -> Option<Match> {
    lookup_direct(arg).or_else(|| {
        let f = gcc_long_fallback(arg)?;
        // The fallback only names `-f`/`-W`/`-m` options, which take no
        // separate value: the value, if any, is joined.
        let mut m = lookup_direct(&f)?;
        if m.value == Value::Next {
            m.value = Value::Joined(String::new());
        }
        Some(m)
    })
}

fn lookup_direct(arg: &str) -> Option<Match> {
    let (opt, value) = if let Some(opt) = OPTIONS
        .iter()
        .find(|o| o.name == arg && o.takes != Takes::Joined)
    {
        let value = match opt.takes {
            Takes::Flag => Value::None,
            _ => Value::Next,
        };
        (opt, value)
    } else {
        let opt = OPTIONS
            .iter()
            .filter(|o| match o.takes {
                Takes::Joined => arg.starts_with(o.name),
                Takes::JoinedOrSeparate => arg.len() > o.name.len() && arg.starts_with(o.name),
                _ => false,
            })
            .max_by_key(|o| o.name.len())?;
        (opt, Value::Joined(arg[opt.name.len()..].to_string()))
    };
    Some(match opt.means {
        Means::Alias(target) => match find(target) {
            Some(t) => Match {
                name: t.name,
                means: t.means,
                value,
                pattern: t.takes == Takes::Joined,
            },
            // An alias of an option hashed as given (`--debug` is `-g`).
            None => Match {
                name: target,
                means: Means::Plain,
                value,
                pattern: false,
            },
        },
        means => Match {
            name: opt.name,
            means,
            value,
            pattern: opt.takes == Takes::Joined,
        },
    })
}

/// gcc's driver takes an unknown `--name` as `-fname` (`--no-name` as
/// `-fno-name`, `--warn-x` as `-Wx`, `--machine-x`/`--machine=x` as
/// `-mx`, `--std=`, `--optimize=`, `--debug=`), `opts-common.cc`'s
/// `option_map`. `--dump-tree-all` is `-fdump-tree-all` to gcc.
fn gcc_long_fallback(arg: &str) -> Option<String> {
    let rest = arg.strip_prefix("--").filter(|r| !r.is_empty())?;
    let map: &[(&str, &str)] = &[
        ("warn-", "-W"),
        ("machine-", "-m"),
        ("machine=", "-m"),
        ("optimize=", "-O"),
        ("debug=", "-g"),
        ("std=", "-std="),
        ("std", "-std="),
        ("no-", "-fno-"),
    ];
    for (from, to) in map {
        if let Some(v) = rest.strip_prefix(from) {
            return Some(format!("{to}{v}"));
        }
    }
    Some(format!("-f{rest}"))
}

/// The short option a (possibly long) spelling stands for, for the key and
/// for the refusal check: `--include-directory=x` is `-Ix`.
pub(crate) fn canonical(arg: &str) -> String {
    match lookup(arg) {
        Some(Match {
            name,
            value: Value::Joined(v),
            ..
        }) => format!("{name}{v}"),
        Some(m) => m.name.to_string(),
        None => arg.to_string(),
    }
}

fn refused(arg: &str) -> bool {
    matches!(lookup(arg).map(|m| m.means), Some(Means::Refuse(_)))
}

/// `-dLETTERS` (`-d` with letters joined): gcc's `-dA`, `-dD`, `-dH`,
/// `-dI`, `-dM`, `-dN`, `-dp`, `-dP`, `-dU`, `-dx` annotate or change
/// output only; any other letter (`-da`: every RTL dump) writes dump
/// files. `-fopt-info` writes to a file when given `=FILE`.
pub(crate) fn dump_ok(opt: &str, letters: &str) -> bool {
    if opt == "-fopt-info" {
        // `-fopt-info-vec-missed=FILE` names a file; `-fopt-info-vec` goes to stderr.
        return !letters.contains('=');
    }
    !letters.is_empty() && letters.chars().all(|c| "ADHIMNpPUx".contains(c))
}

/// Is `p` (one preprocessor option given through `-Wp,` or
/// `-Xpreprocessor`) safe to hash as given? Depfile and search-path options
/// would escape the depfile gocache asks for and the probes; options that
/// name files (`-o`, `-include`) the key would not see.
pub(crate) fn preprocessor_option_ok(p: &str) -> bool {
    let allowed = [
        "-D",
        "-U",
        "-W",
        "-f",
        "-std=",
        "-O",
        "-undef",
        "-trigraphs",
        "-C",
        "-P",
        "-pedantic",
        "-traditional-cpp",
        "-ansi",
    ];
    let ok = allowed.iter().any(|a| p.starts_with(a));
    ok && !refused(p)
}

/// Is `p` (one assembler option given through `-Wa,` or `-Xassembler`)
/// safe? Listings (`-a...=FILE`), a depfile (`--MD`), an output (`-o`) and
/// include directories (`-I`, where `.include` and `.incbin` would be
/// searched past the files gocache learns of) are refused.
pub(crate) fn assembler_option_ok(p: &str) -> bool {
    if p.starts_with("-a") && p.contains('=') {
        return false;
    }
    // (`-I` is for plain assembly, whose `.include`s the wrapper follows
    // through it; in a C compile any `.include` is refused as a hidden
    // input whatever the directories.)
    !(p.starts_with("--MD")
        || p.starts_with("-MD")
        || p == "-o"
        || p.starts_with("--defsym-file")
        || p.starts_with('@'))
}

/// `cc1` options (after `-Xclang`) that read or write files, beyond what
/// the driver table refuses.
pub(crate) const CC1_REFUSED: &[&str] = &[
    "-load",
    "-plugin",
    "-add-plugin",
    "-plugin-arg-",
    "-dependency-file",
    "-dependency-dot",
    "-header-include-file",
    "-fdepfile-entry",
    "-module-dependency-dir",
    "-split-dwarf-file",
    "-split-dwarf-output",
    "-coverage-notes-file",
    "-coverage-data-file",
    "-main-file-name",
    "-dwarf-debug-flags",
    "-stats-file",
    "-opt-record-file",
    "-ast-dump",
    "-emit-",
    "-o",
    "-MT",
    "-sys-header-deps",
    "-include",
    "-isystem",
    "-internal-",
    "-I",
    "-M",
    "-i",
    "-fmodule",
    "-fprofile",
    "-fsanitize-",
    "-fxray-",
    "-fembed-",
    "-fcuda-",
];

/// Is `v`, one `-Xclang` value, safe? A value that is not an option is
/// the argument of the `-Xclang` option before it, already judged.
pub(crate) fn cc1_option_ok(v: &str) -> bool {
    if !v.starts_with('-') {
        return true;
    }
    if CC1_REFUSED.iter().any(|r| v.starts_with(r)) {
        return false;
    }
    !refused(v)
}

/// Every refused option (and every long spelling of one), spelled as it
/// would be given, with why it is refused: for tests that each is.
pub(crate) fn refused_examples() -> Vec<(String, &'static str)> {
    let mut out = Vec::new();
    for opt in OPTIONS {
        let why = match opt.means {
            Means::Refuse(why) => why,
            Means::Alias(t) => match find(t).map(|t| t.means) {
                Some(Means::Refuse(why)) => why,
                _ => continue,
            },
            _ => continue,
        };
        let spelled = match opt.takes {
            Takes::Flag => opt.name.to_string(),
            Takes::Separate | Takes::JoinedOrSeparate => format!("{} value", opt.name),
            Takes::Joined if opt.name.ends_with(['=', ',', '-', '_']) => {
                format!("{}value", opt.name)
            }
            Takes::Joined => opt.name.to_string(),
        };
        out.push((spelled, why));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_alias_names_an_option() {
        for opt in OPTIONS {
            if let Means::Alias(t) = opt.means {
                assert!(
                    find(t).is_some()
                        || t.starts_with("-W")
                        || [
                            "-C",
                            "-CC",
                            "-P",
                            "-g",
                            "-O",
                            "-p",
                            "-H",
                            "-v",
                            "-w",
                            "-traditional-cpp",
                            "-trigraphs",
                            "-pedantic-errors"
                        ]
                        .contains(&t),
                    "{} -> {t}",
                    opt.name
                );
            }
        }
    }

    #[test]
    fn each_option_listed_once() {
        let mut seen = std::collections::HashSet::new();
        for opt in OPTIONS {
            let joined = opt.takes == Takes::Joined;
            assert!(seen.insert((opt.name, joined)), "{} listed twice", opt.name);
        }
    }

    #[test]
    fn long_spellings_are_canonical() {
        let table = [
            ("--include-directory=inc", "-Iinc"),
            ("--include=cfg.h", "-includecfg.h"),
            ("--output=a.o", "-oa.o"),
            ("--prefix=/x", "-B/x"),
            ("--write-dependencies", "-MD"),
            ("--write-user-dependencies", "-MMD"),
            ("--dump-tree-all", "-fdump-tree-all"),
            ("--profile-use=x", "-fprofile-use=x"),
            ("--plugin=x.so", "-fplugin=x.so"),
            ("--save-temps=obj", "-save-temps=obj"),
            ("--include-barrier", "-I-"),
            ("-Ifoo", "-Ifoo"),
            ("-O2", "-O2"),
        ];
        for (arg, want) in table {
            assert_eq!(canonical(arg), want, "{arg}");
        }
    }
}
