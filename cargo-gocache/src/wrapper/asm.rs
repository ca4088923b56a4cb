//! Plain assembly (`.s`, `-x assembler`): the assembler's own inputs.
//!
//! A `.s` file goes straight to the assembler: no preprocessor, so no
//! depfile says what it read. What the object depends on beyond the
//! command line, the compiler and the source (already in the pre-key):
//!
//! | input | in the key as |
//! | --- | --- |
//! | the assembler the driver runs (`<compiler> -print-prog-name=as`, then `PATH`; `-B` is refused by the parser, `COMPILER_PATH` is a key variable) | `asm-assembler <identity>`: `--version` and the binary's hash ([`compiler::identify`]) |
//! | clang's integrated assembler | the compiler's identity; the external `as` only with `-fno-integrated-as` |
//! | files named by `.include` and `.incbin` | `asm-input <name> <path> <hash or absent>` for *every* place the assembler could find the name |
//! | `-Wa,-I<dir>`, `-Xassembler -I` | the search for those files; the options are arguments already |
//!
//! Every candidate path for a name is hashed (the working directory, the
//! including file's directory, each `-I` directory), not only the one GNU
//! as picks, so the key holds whatever the search order of this binutils
//! is, and a file appearing earlier in the search changes the key.
//! `.include`d files are followed for their own directives. A directive
//! whose file name is not a plain string (`.include "\name"` in a macro,
//! a symbol) cannot be followed: the compile is refused, never cached with
//! an input left out. Listing output (`-Wa,-a...`), `-Wa,--MD`, `-Wa,-o`
//! and `-Wa,@file` are refused too: a hit would not make those files or
//! could not see those inputs.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cmdline::{self, Compile};
use crate::key::compiler::{self, CompilerIdentity};
use crate::key::hash::{hash_bytes, hex};
use crate::key::pathmap::PathMap;
use crate::{KeyHasher, Store};

/// How deep `.include`s nest before the compile is refused (as itself
/// stops at a similar depth; a file including itself never ends).
const MAX_FILES: usize = 256;

/// The assembler's inputs, for the key and for the miss to check that
/// none changed while it compiled.
pub struct AsmInputs {
    lines: Vec<String>,
    /// Every existing file the key hashed.
    pub files: Vec<PathBuf>,
}

impl AsmInputs {
    /// Add the key lines (see the module docs).
    pub fn add_to(&self, key: &mut KeyHasher) {
        for l in &self.lines {
            key.line(l.clone());
        }
    }
}

/// Collect the inputs of a plain assembly compile; `Err` with the
/// uncacheable reason when one cannot be known.
pub fn inputs(
    store: &Store,
    compiler: &Path,
    identity: &CompilerIdentity,
    compile: &Compile,
    cwd: &Path,
    map: &PathMap,
) -> Result<AsmInputs, String> {
    let as_args = assembler_args(&compile.run_args)?;
    let mut lines = Vec::new();
    let integrated = identity.version.contains("clang")
        && !compile
            .run_args
            .iter()
            .any(|a| a == "-fno-integrated-as" || a == "-no-integrated-as");
    if !integrated {
        let assembler = find_assembler(compiler, compile)?;
        let id = compiler::identify(Some(store), &assembler)
            .map_err(|_| "asm-assembler-unknown".to_string())?;
        lines.push(format!("asm-assembler {}", id.id));
    }
    let dirs: Vec<PathBuf> = as_args
        .include_dirs
        .iter()
        .map(|d| cmdline::absolute(cwd, Path::new(d)))
        .collect();
    let mut files: Vec<PathBuf> = Vec::new();
    let mut seen = BTreeSet::new();
    let mut todo = vec![cmdline::absolute(cwd, &compile.source)];
    while let Some(file) = todo.pop() {
        if !seen.insert(file.clone()) {
            continue;
        }
        if seen.len() > MAX_FILES {
            return Err("asm-too-many-includes".into());
        }
        let Ok(text) = fs::read(&file) else {
            // The source itself unreadable: the compiler will say so.
            return Err("asm-unreadable-input".into());
        };
        for directive in directives(&text)? {
            let name = Path::new(&directive.name);
            let mut candidates = Vec::new();
            if name.is_absolute() {
                candidates.push(name.to_path_buf());
            } else {
                candidates.push(cwd.join(name));
                if let Some(parent) = file.parent() {
                    candidates.push(parent.join(name));
                }
                candidates.extend(dirs.iter().map(|d| d.join(name)));
            }
            for c in candidates {
                let state = match fs::metadata(&c) {
                    Ok(m) if m.is_file() => {
                        let bytes = fs::read(&c).map_err(|_| "asm-unreadable-input".to_string())?;
                        files.push(c.clone());
                        if directive.follow {
                            todo.push(c.clone());
                        }
                        hex(&hash_bytes(&bytes))
                    }
                    Ok(_) => "not-a-file".to_string(),
                    Err(_) => "absent".to_string(),
                };
                lines.push(format!(
                    "asm-input {} {} {} {state}",
                    directive.kind,
                    directive.name,
                    map.map(&c)
                ));
            }
        }
    }
    files.sort();
    files.dedup();
    Ok(AsmInputs { lines, files })
}

/// What the assembler options (`-Wa,...`, `-Xassembler ...`) change.
#[derive(Debug, Default, PartialEq)]
struct AssemblerArgs {
    include_dirs: Vec<String>,
}

fn assembler_args(run_args: &[String]) -> Result<AssemblerArgs, String> {
    let mut words: Vec<String> = Vec::new();
    let mut it = run_args.iter();
    while let Some(a) = it.next() {
        if let Some(list) = a.strip_prefix("-Wa,") {
            words.extend(list.split(',').map(str::to_string));
        } else if a == "-Xassembler" {
            words.extend(it.next().cloned());
        }
    }
    let mut out = AssemblerArgs::default();
    let mut w = words.iter();
    while let Some(word) = w.next() {
        if word == "-I" {
            out.include_dirs
                .push(w.next().ok_or("asm-option:-I")?.clone());
        } else if let Some(dir) = word.strip_prefix("-I") {
            out.include_dirs.push(dir.to_string());
        } else if word.starts_with("-a") {
            // Listings (`-a`, `-adhln=file`, `-al`) write a file or stdout.
            return Err("asm-option:listing".into());
        } else if word == "--MD" || word == "-MD" || word == "-o" || word.starts_with('@') {
            return Err(format!("asm-option:{word}"));
        }
    }
    Ok(out)
}

/// The assembler `compiler` runs: what it says for `-print-prog-name=as`
/// (its own directories and `COMPILER_PATH`), else found on `PATH`, as its
/// `execvp` does.
fn find_assembler(compiler: &Path, compile: &Compile) -> Result<PathBuf, String> {
    let out = Command::new(compiler)
        .args(&compile.target_args)
        .arg("-print-prog-name=as")
        .output()
        .map_err(|_| "asm-assembler-unknown".to_string())?;
    let name = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || name.is_empty() {
        return Err("asm-assembler-unknown".into());
    }
    compiler::find_program(Path::new(&name)).ok_or_else(|| "asm-assembler-not-found".into())
}

/// A `.include` or `.incbin` naming a file.
#[derive(Debug, PartialEq)]
struct Directive {
    kind: &'static str,
    name: String,
    /// `.include`d files are assembly with directives of their own.
    follow: bool,
}

/// Every `.include` and `.incbin` in `text`, anywhere a directive could be
/// (after a label, a `;` or at a line start; ones in comments too, which
/// only adds inputs). `Err` for one whose file is not a plain string.
fn directives(text: &[u8]) -> Result<Vec<Directive>, String> {
    let text = String::from_utf8_lossy(text);
    let mut out = Vec::new();
    let lower = text.to_ascii_lowercase();
    for (kind, follow) in [(".include", true), (".incbin", false)] {
        let mut from = 0;
        while let Some(at) = lower[from..].find(kind) {
            let start = from + at;
            from = start + kind.len();
            // `.includes` or `x.include` are other words.
            let before = lower[..start].chars().next_back();
            let after = lower[from..].chars().next();
            if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
                || after.is_some_and(|c| !c.is_whitespace() && c != '"')
            {
                continue;
            }
            let rest = text[from..].trim_start_matches([' ', '\t']);
            let name = rest
                .strip_prefix('"')
                .and_then(|r| r.split_once('"'))
                .map(|(n, _)| n)
                .filter(|n| !n.is_empty() && !n.contains('\\') && !n.contains('\n'));
            match name {
                Some(n) => out.push(Directive {
                    kind: &kind[1..],
                    name: n.to_string(),
                    follow,
                }),
                None => return Err(format!("asm-{}-not-a-string", &kind[1..])),
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str) -> Result<Vec<(String, bool)>, String> {
        directives(text.as_bytes()).map(|v| v.into_iter().map(|d| (d.name, d.follow)).collect())
    }

    #[test]
    fn finds_include_and_incbin_directives() {
        let text = "\t.include \"macros.s\"\nlab: .incbin \"blob.bin\", 4\n.INCLUDE\t\"up.s\"\n\
                    .includes_not \"x\"\nfoo.include \"y\"\n";
        assert_eq!(
            names(text).unwrap(),
            [
                ("macros.s".to_string(), true),
                ("up.s".to_string(), true),
                ("blob.bin".to_string(), false)
            ]
        );
        assert_eq!(names(".text\nret\n").unwrap(), []);
    }

    #[test]
    fn refuses_names_it_cannot_follow() {
        assert!(names(".macro inc f\n.include \"\\f\"\n.endm\n").is_err());
        assert!(names(".incbin blob\n").is_err());
        assert!(names(".include\n").is_err());
    }

    #[test]
    fn assembler_options() {
        let args = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        assert_eq!(
            assembler_args(&args(
                "-c a.s -Wa,-Iinc,--noexecstack -Xassembler -I -Xassembler d2"
            ))
            .unwrap()
            .include_dirs,
            ["inc", "d2"]
        );
        assert_eq!(
            assembler_args(&args("-Wa,-I,inc")).unwrap().include_dirs,
            ["inc"]
        );
        for refused in [
            "-Wa,-adhln=x.lst",
            "-Wa,-al",
            "-Wa,--MD,x.d",
            "-Wa,@opts",
            "-Wa,-a",
        ] {
            assert!(assembler_args(&args(refused)).is_err(), "{refused}");
        }
        assert!(assembler_args(&args("-Wa,--noexecstack,--64")).is_ok());
    }
}
