//! Command-line macros (`-D`, `-U`): which of their values a compile's key
//! holds.
//!
//! A `-D` value is copied into the object as it is wherever the compile
//! expands it, so it is never path-mapped. But a build system that defines
//! install paths for every file (openssl's `-DENGINESDIR="<OUT_DIR>/..."`,
//! autoconf's `-DPREFIX=`) would then split the cache of every source by
//! checkout, though only a handful of them expand the macro. So, with gcc,
//! the key is split in two:
//!
//! | key | holds |
//! | --- | --- |
//! | pre-key | every `-D`/`-U` in order, as `macro-arg -DNAME` / `macro-arg -UNAME` (with the parameter list of a function-like macro), without the value |
//! | final key (a manifest entry) | `macro NAME=VALUE` for every `-D` whose macro the compile *used*, learned from gcc on the miss that made the entry |
//!
//! The pre-key therefore fixes which names are defined, undefined,
//! object- or function-like (and with which parameters), and in which
//! order; the values of the used ones are checked like header contents
//! when a manifest entry is matched. A value nothing used does not split
//! the cache.
//!
//! # When the question is asked
//!
//! The answer costs a second preprocessing run, about a third of a
//! compile; a cold build would pay it on every miss for a second checkout
//! it may never have. So the wrapper asks:
//!
//! * on a miss that runs the preprocessor again anyway, for a `-MMD` list
//!   only gcc can tell (`SystemHeaders::user_list` in the wrapper's `cc`
//!   says when it can be told without gcc): one run answers both;
//! * otherwise not on the miss: its manifest entry keeps every value
//!   (as if no `-D` could be left out). A later lookup whose command line
//!   gives other values finds no entry that holds, but entries whose
//!   files and probes hold with only `-D` values differing
//!   (`Manifest::lookup_values_aside`). It asks then, for this command
//!   line (`Job::resolve_values_aside` in the wrapper's `cc`): an entry whose differing
//!   values are all unused, not predefined, and spelled in no file it
//!   read (the files are the entry's: their hashes matched) serves the
//!   compile, and is recorded again as a miss that asked would have
//!   recorded it: without the values gcc said are unused and no file
//!   spells, so that no lookup asks about them again (a third checkout,
//!   `cargo clean` in this one). The files' stamps, taken before their
//!   hashes were checked, must be unchanged after gcc answered.
//!
//! Either way a key holds every value the rules below keep; the lazy one
//! may hold more.
//!
//! # Which macros a compile used
//!
//! The wrapper (and the build.rs helper's server, for each source, after
//! its compile) runs the compile's preprocessing again with `-E -dU`
//! ([`USED_MACROS_ARGS`]). gcc then prints a `#define`
//! or `#undef` line for every macro that was expanded or whose definedness
//! was tested (`#ifdef`, `#ifndef`, `#elifdef`, `defined`), in the source,
//! in every header, in `-include` and `-imacros` files, as libcpp notifies
//! the use (`_cpp_notify_macro_use`, called from macro expansion, from
//! `defined` and from the `#ifdef` family). That covers:
//!
//! * expansion anywhere, in text, `#if`, `#include MACRO`, `__has_include`
//!   arguments, and the arguments of macros that expand them (`XSTR(X)`);
//! * token pasting: `CAT(DATA,DIR)` makes the token `DATADIR`, which is
//!   then expanded, so it is reported; `STR(DATADIR)` stringizes the name
//!   without expanding it, and the value indeed cannot matter;
//! * a macro used only through another one (`-DA=B -DB=x`): B is
//!   expanded when A's expansion is rescanned, and reported;
//! * pragmas gcc expands (`#pragma omp`, `#pragma message`,
//!   `#pragma redefine_extname`, `_Pragma`): expanded by `-E` as by the
//!   compile, so reported; the ones it does not expand (`#pragma pack`)
//!   are not expanded by the compile either.
//!
//! A name is reported whichever definition was in force (the command
//! line's or one made later in a file), so a macro redefined in the source
//! and tested before keeps its value in the key.
//!
//! What the preprocessor consults about a macro *without* notifying a use,
//! and how each is covered:
//!
//! * whether a name is defined at all (`#if X` with X undefined is 0,
//!   unreported): definedness is fixed by the pre-key;
//! * whether a macro is function-like, and its parameters (a function-like
//!   name not followed by `(` is left alone, unreported): in the pre-key;
//! * the old definition, when a `#define` in a file or a later `-D`
//!   redefines it, to decide the "redefined" warning: a value is kept in
//!   the key when its name is given more than once on the command line,
//!   when it appears as an identifier anywhere in a file the compile read
//!   (a text scan of every file, [`crate::direct::manifest`]; a directive
//!   cannot come from a macro expansion, so the name is written out), and
//!   when gcc predefines it (`-Dlinux=1` is silent where `-Dlinux=2`
//!   warns: the predefined names come from `-E -dD` of an empty file with
//!   the compile's options, [`PREDEFINED_ARGS`]), and for every reserved
//!   name (`__X`, `_X`), which is how gcc spells its own.
//!
//! # When every value stays in the pre-key (today's rule)
//!
//! Any doubt keeps the value ([`Compile::macro_names_keyed`](super::Compile::macro_names_keyed)):
//!
//! * a compiler that is not gcc 5 or later: clang (14 prints nothing for
//!   `-dU`), Apple's, anything unknown;
//! * `-g3` and the like (the object's debug info lists every macro
//!   definition, used or not), `-fdebug-macro`;
//! * `-traditional-cpp`, `-fdirectives-only`, `-fpreprocessed`, any `-d`
//!   dump option, `-Wp,`/`-Xpreprocessor` options (they may define or
//!   undefine too, beside the `-D`s), modules;
//! * a `-D`/`-U` whose name is not a plain identifier (with an optional
//!   parameter list), e.g. `-D'X Y'`.
//!
//! Plain assembly (`.s`, `-x assembler`) is not preprocessed, and gcc's
//! driver passes no `-D` or `-U` to `as` (see `gcc -###`): with gcc no
//! value matters, so none is kept and no pass runs. (clang warns that
//! the argument is unused, naming its value: clang keeps every value.)
//!
//! And for one compile, when the `-E -dU` or `-dD` pass fails, every value
//! goes into its entry.
//!
//! **Only where a value holds a machine path.** The split exists for
//! values naming a directory the key maps (a checkout, the target
//! directory, `OUT_DIR`, the cargo home): those differ between checkouts
//! while the source does not. Where no `-D` value holds one, every value
//! stays in the pre-key ([`Compile::keep_macro_values_without_paths`](super::Compile::keep_macro_values_without_paths)):
//! the values are then the same text in every checkout, so nothing is lost
//! in sharing, and a miss skips the `-E -dU` run. (An unused value that
//! changes between builds, `-DVERSION=2` never expanded, then splits the
//! cache, as it does for clang.)
//!
//! # What it costs
//!
//! Nothing on a hit (the entry's values are compared as strings). Where
//! the question is asked (above) with a `-D` that may be left out (a
//! value holds a machine path), two more runs of the compiler, side by
//! side: `-E -dU` of the compile, and `-E -dD` of an empty file.
//! `scripts/bench-miss.sh` (gcc 12, a shared 2-core machine): for zstd's
//! `entropy_common.c` at `-O3` (140 ms of CPU to compile) a miss took
//! 205 ms of CPU against 180 ms before; for `zstd_compress.c` (1.9 s) the
//! difference was within the noise (the `-E -dU` run alone: 45 ms).
//!
//! Vendored openssl-sys (`--release`) built in one checkout, then in a copy
//! with the same store: 1140 of its 1143 compiles hit, where none did
//! before (every line carries `-DENGINESDIR` and `-DMODULESDIR` naming
//! `OUT_DIR`). The three misses are `defaults.c` and `cversion.c`, which
//! expand them, and `info.c`, whose `buildinf.h` names the checkout.

use std::collections::BTreeSet;

/// What a miss adds to the compile's options to learn the macros it used:
/// each used macro's definition (or `#undef`) is printed with the output.
pub const USED_MACROS_ARGS: &[&str] = &["-E", "-dU"];

/// What is added to list the macros the compiler predefines: every
/// definition, the compiler's own in a `<built-in>` section.
pub const PREDEFINED_ARGS: &[&str] = &["-E", "-dD"];

/// One `-D` or `-U` of the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MacroArg {
    /// `-U` (else `-D`).
    pub undef: bool,
    /// The macro's name, with its parameter list if it has one: all of the
    /// option's value before the first `=`.
    pub name: String,
    /// What follows the first `=` (a `-D` only); `None` when there is none
    /// (`-DNAME` defines NAME as 1).
    pub value: Option<String>,
}

impl MacroArg {
    /// Read the value of a `-D` (`undef` false) or `-U` option. `None` when
    /// the name is not a plain identifier with an optional parameter list,
    /// which then keeps its value in the pre-key.
    pub fn parse(undef: bool, v: &str) -> Option<MacroArg> {
        let (name, value) = match v.split_once('=') {
            Some((n, v)) if !undef => (n, Some(v.to_string())),
            Some(_) => return None,
            None => (v, None),
        };
        let ident_len = name
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'$')
            .count();
        if ident_len == 0 || name.as_bytes()[0].is_ascii_digit() {
            return None;
        }
        let params = &name[ident_len..];
        let params_ok = params.is_empty()
            || (!undef
                && params.starts_with('(')
                && params.ends_with(')')
                && params[1..params.len() - 1].bytes().all(|b| {
                    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'$' | b',' | b' ' | b'.')
                }));
        params_ok.then(|| MacroArg {
            undef,
            name: name.to_string(),
            value,
        })
    }

    /// The identifier (the name without its parameter list).
    pub fn ident(&self) -> &str {
        self.name.split('(').next().unwrap_or(&self.name)
    }

    /// The option without its value, as the pre-key has it.
    pub fn spelled_without_value(&self) -> String {
        format!("{}{}", if self.undef { "-U" } else { "-D" }, self.name)
    }
}

/// Is `name` reserved to the implementation (`__x`, `_X`), as every macro
/// gcc predefines for itself is spelled (the legacy ones, `linux`, `unix`,
/// come from the predefined pass)?
fn reserved(name: &str) -> bool {
    let b = name.as_bytes();
    b.first() == Some(&b'_')
        && b.get(1)
            .is_some_and(|c| *c == b'_' || c.is_ascii_uppercase())
}

/// The names whose values a miss may leave out of the key, before the
/// compiler is asked: each `-D` name given once among the `-D`s and `-U`s
/// and not reserved.
pub fn candidates(args: &[MacroArg]) -> Vec<String> {
    let mut out = Vec::new();
    for a in args {
        let id = a.ident();
        if a.undef || reserved(id) {
            continue;
        }
        if args.iter().filter(|b| b.ident() == id).count() == 1 {
            out.push(id.to_string());
        }
    }
    out
}

/// The macros an `-E -dU` output reports: the name of every `#define` and
/// `#undef` line. (A text line of the output that happens to look like
/// one only adds a name, which keeps a value: harmless.)
pub fn used_in_output(text: &[u8]) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    for line in text.split(|b| *b == b'\n') {
        let rest = line
            .strip_prefix(b"#define ")
            .or_else(|| line.strip_prefix(b"#undef "));
        if let Some(rest) = rest {
            let n = rest
                .iter()
                .take_while(|b| !matches!(b, b'(' | b' ' | b'\t' | b'\r'))
                .count();
            used.insert(String::from_utf8_lossy(&rest[..n]).into_owned());
        }
    }
    used
}

/// The macros an `-E -dD` output of an empty file defines in its
/// `<built-in>` section: the compiler's own, for these options.
pub fn predefined_in_output(text: &[u8]) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut built_in = false;
    for line in text.split(|b| *b == b'\n') {
        if line.starts_with(b"# ") {
            built_in = line.windows(12).any(|w| w == b"\"<built-in>\"");
            continue;
        }
        if !built_in {
            continue;
        }
        if let Some(rest) = line.strip_prefix(b"#define ") {
            let n = rest
                .iter()
                .take_while(|b| !matches!(b, b'(' | b' ' | b'\t' | b'\r'))
                .count();
            names.insert(String::from_utf8_lossy(&rest[..n]).into_owned());
        }
    }
    names
}

/// The final key's `macro` lines: every `-D` whose name is not in
/// `unused`, in command-line order (name with parameters, value).
pub fn kept(args: &[MacroArg], unused: &[String]) -> Vec<(String, Option<String>)> {
    args.iter()
        .filter(|a| !a.undef && !unused.iter().any(|u| u == a.ident()))
        .map(|a| (a.name.clone(), a.value.clone()))
        .collect()
}

/// The values `args` give the macros a manifest entry kept (`entry`):
/// does the entry hold for this command line? The pre-key already fixed
/// the names and their order, so the entry's names pick the same `-D`s.
pub fn entry_holds(args: &[MacroArg], entry: &[(String, Option<String>)]) -> bool {
    if entry.is_empty() {
        return true;
    }
    let names: BTreeSet<&str> = entry
        .iter()
        .map(|(n, _)| n.split('(').next().unwrap_or(n))
        .collect();
    let now = args
        .iter()
        .filter(|a| !a.undef && names.contains(a.ident()))
        .map(|a| (&a.name, &a.value));
    now.eq(entry.iter().map(|(n, v)| (n, v)))
}

/// What a key record (kept for `explain`, not hashed) says of the `-D`s
/// whose values were left out: one comment line each, [`UNUSED_PREFIX`]
/// and `NAME=VALUE` (or `NAME`).
pub fn unused_record(args: &[MacroArg], unused: &[String]) -> String {
    let mut out = String::new();
    for a in args {
        if a.undef || !unused.iter().any(|u| u == a.ident()) {
            continue;
        }
        let line = crate::key::line::KeyLine::Macro {
            name: a.name.clone(),
            value: a.value.clone(),
        };
        out.push_str(UNUSED_PREFIX);
        out.push_str(line.render().trim_start_matches("macro "));
        out.push('\n');
    }
    out
}

/// How a key record names a `-D` whose value the key left out.
pub const UNUSED_PREFIX: &str = "# unused-macro ";

/// Options that leave doubt about what `-E -dU` reports, or make every
/// macro's value matter: with any of them, every value stays in the
/// pre-key. See the module docs.
pub fn option_keeps_values(arg: &str) -> bool {
    let debug_macro = arg.starts_with("-g")
        && arg.ends_with('3')
        && !arg.starts_with("-gdwarf")
        && !arg.starts_with("-gsplit");
    debug_macro
        || arg == "-fdebug-macro"
        || arg.contains("traditional")
        || arg.contains("directives-only")
        || arg.contains("preprocessed")
        || arg.starts_with("-fmodule")
        || arg.starts_with("-Wp,")
        || arg == "-Xpreprocessor"
        || (arg.starts_with("-d") && !arg.starts_with("-dump"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(v: &str) -> MacroArg {
        MacroArg::parse(false, v).unwrap()
    }

    #[test]
    fn names_values_and_what_is_not_plain() {
        assert_eq!(
            d("DATADIR=\"/w/a=b\""),
            MacroArg {
                undef: false,
                name: "DATADIR".into(),
                value: Some("\"/w/a=b\"".into())
            }
        );
        assert_eq!(d("NDEBUG").value, None);
        assert_eq!(d("X=").value, Some(String::new()));
        let f = d("F(a, b)=a+b");
        assert_eq!((f.name.as_str(), f.ident()), ("F(a, b)", "F"));
        assert_eq!(f.spelled_without_value(), "-DF(a, b)");
        assert_eq!(
            MacroArg::parse(true, "X").unwrap().spelled_without_value(),
            "-UX"
        );
        for bad in ["X Y", "1X=2", "", "=1", "X(a=1", "F(a)b=1", "é=1", "X\t=1"] {
            assert_eq!(MacroArg::parse(false, bad), None, "{bad:?}");
        }
        assert_eq!(MacroArg::parse(true, "X=1"), None);
        assert_eq!(MacroArg::parse(true, "F(a)"), None);
    }

    #[test]
    fn a_name_given_twice_or_reserved_keeps_its_value() {
        let args = vec![
            d("A=1"),
            d("B=1"),
            d("B=2"),
            MacroArg::parse(true, "C").unwrap(),
            d("C=3"),
            d("__X=1"),
            d("_Y=1"),
            d("_y=1"),
            d("F(x)=x"),
        ];
        assert_eq!(candidates(&args), ["A", "_y", "F"]);
    }

    #[test]
    fn reads_what_gcc_reports() {
        let out = b"# 1 \"a.c\"\n#define VIA_XSTR 2\nint x;\n#undef TESTED\n#define CAT(a,b) a ##b\n#define EMPTY\n";
        let used = used_in_output(out);
        assert_eq!(
            used.into_iter().collect::<Vec<_>>(),
            ["CAT", "EMPTY", "TESTED", "VIA_XSTR"]
        );
        let dd = b"# 0 \"<stdin>\"\n# 0 \"<built-in>\"\n#define __STDC__ 1\n#define linux 1\n# 0 \"<command-line>\"\n#define DATADIR \"/x\"\n# 1 \"/usr/include/stdc-predef.h\" 1 3 4\n#define _STDC_PREDEF_H 1\n";
        assert_eq!(
            predefined_in_output(dd).into_iter().collect::<Vec<_>>(),
            ["__STDC__", "linux"]
        );
    }

    #[test]
    fn an_entry_holds_while_the_values_it_kept_hold() {
        let a = vec![d("A=1"), d("B=/w/one"), d("F(x)=x")];
        let entry = kept(&a, &["B".to_string()]);
        assert_eq!(
            entry,
            [
                ("A".to_string(), Some("1".to_string())),
                ("F(x)".to_string(), Some("x".to_string()))
            ]
        );
        let moved = vec![d("A=1"), d("B=/w/two"), d("F(x)=x")];
        assert!(entry_holds(&moved, &entry));
        let changed = vec![d("A=2"), d("B=/w/one"), d("F(x)=x")];
        assert!(!entry_holds(&changed, &entry));
        assert!(entry_holds(&changed, &[]));
    }

    #[test]
    fn options_that_keep_every_value() {
        for a in [
            "-g3",
            "-ggdb3",
            "-fdebug-macro",
            "-traditional-cpp",
            "-fdirectives-only",
            "-fpreprocessed",
            "-dD",
            "-dU",
            "-Wp,-DX=1",
            "-Xpreprocessor",
            "-fmodules-ts",
        ] {
            assert!(option_keeps_values(a), "{a}");
        }
        for a in ["-g", "-g2", "-gdwarf-3", "-O3", "-DX=3", "-dumpbase"] {
            assert!(!option_keeps_values(a), "{a}");
        }
    }
}
