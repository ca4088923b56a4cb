//! Typed key lines: every line of every key, rendered in one place and
//! parsed in one place.
//!
//! A key ([`crate::key::hash::KeyHasher`]) is the SHA-256 of its lines. The
//! wrapper's pre-key ([`crate::cmdline::Compile::key_lines`]), the final
//! key and the manifests' header sets ([`crate::direct::manifest`]), and the
//! build.rs helper's archive key ((`gocache_build::CachedBuild`, through `serve-helper`)) are all made of
//! [`KeyLine`]s, and `explain` ([`crate::stats::explain`]) reads the lines kept
//! beside an entry back into [`KeyLine`]s to compare them, so a line means
//! the same thing wherever it appears.
//!
//! # The lines
//!
//! | line | meaning |
//! | --- | --- |
//! | `gocache-compile v4`, `gocache-archive v3`, `gocache-final v3` | [`KeyLine::Salt`]: which key, and its format version (bumped when what a key covers changes) |
//! | `lib NAME` | the helper's library name (the archive's name) |
//! | `compiler ID` | the compiler's identity ([`crate::key::compiler::identify`]) |
//! | `compiler-version TEXT` | its first version line, for people (covered by the identity) |
//! | `target TEXT` | the target options as given, or `default`, for people (they are `arg` lines too) |
//! | `native TEXT` | what the compile's `-march=native` (`-mcpu=`, `-mtune=`) means on this machine ([`crate::key::native`]) |
//! | `lang NAME` | the source's language, as `-x` names it |
//! | `depfile user-headers` | the caller asked for `-MMD`: the stored header list leaves out system headers |
//! | `relocate on\|off` | whether `-ffile-prefix-map` is added to the compile |
//! | `relocation NAME` | one stable name the object may contain |
//! | `cwd DIR` | the working directory as the compiler records it, mapped |
//! | `arg A` | one argument as hashed (paths mapped where the rule allows) |
//! | `macro-arg -DNAME`, `macro-arg -UNAME` | a command-line macro's option and name (with its parameters), its value left to the final key ([`crate::cmdline::macros`]) |
//! | `env NAME=VALUE` | an environment variable of [`crate::cmdline::KEY_ENV`] that is set |
//! | `toolenv NAME=VALUE` | a variable cc sets for its compiler (the helper) |
//! | `source HASH NAME` | the source file's content and mapped name |
//! | `pre ID` | the final key's pre-key |
//! | `header HASH PATH` | a file the compile read (from its depfile), mapped |
//! | `probe present\|absent PATH` | whether a file existed where the compiler could have searched first |
//! | `macro NAME=VALUE`, `macro NAME` | the value of a command-line `-D` the compile used (`macro NAME`: `-DNAME`, no `=`) |
//!
//! A line never holds a newline: a backslash and a newline in a value are
//! written `\\` and `\n`, so two different inputs never render to the same
//! lines.

use std::fmt;

/// One line of a key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyLine {
    /// Which key, and its version (`gocache-compile v4`).
    Salt(String),
    /// The helper's library name.
    Lib(String),
    /// The compiler's identity.
    Compiler(String),
    /// The compiler's version line.
    CompilerVersion(String),
    /// The target options, or `default`.
    Target(String),
    /// What `native` in the target options resolves to here.
    Native(String),
    /// The source's language.
    Lang(String),
    /// What the caller's depfile lists (`user-headers` for `-MMD`).
    Depfile(String),
    /// Whether `-ffile-prefix-map` is added.
    Relocate(bool),
    /// A stable name the object may contain.
    Relocation(String),
    /// The working directory as the compiler records it, mapped.
    Cwd(String),
    /// One argument, as hashed.
    Arg(String),
    /// A `-D` or `-U` without its value: `-DNAME`, `-DNAME(A,B)`, `-UNAME`.
    MacroArg(String),
    /// A key environment variable that is set: name, value.
    Env(String, String),
    /// A variable cc sets for its compiler: name, value.
    ToolEnv(String, String),
    /// The source file.
    Source {
        /// Hex SHA-256 of its content.
        hash: String,
        /// Its mapped name.
        name: String,
    },
    /// The final key's pre-key.
    Pre(String),
    /// A file the compile read.
    Header {
        /// Hex SHA-256 of its content.
        hash: String,
        /// Its mapped path.
        path: String,
    },
    /// Whether a file existed at a place searched before a file read.
    Probe {
        /// The mapped path.
        path: String,
        /// A file was there.
        present: bool,
    },
    /// The value of a command-line macro the compile used.
    Macro {
        /// Its name, with its parameters if it takes any (`F(a,b)`).
        name: String,
        /// What follows the `=`; `None` for `-DNAME` (which means 1).
        value: Option<String>,
    },
}

impl KeyLine {
    /// The line's kind, its first word (`arg`, `header`...); `salt` for salts.
    pub fn kind(&self) -> &'static str {
        match self {
            KeyLine::Salt(_) => "salt",
            KeyLine::Lib(_) => "lib",
            KeyLine::Compiler(_) => "compiler",
            KeyLine::CompilerVersion(_) => "compiler-version",
            KeyLine::Target(_) => "target",
            KeyLine::Native(_) => "native",
            KeyLine::Lang(_) => "lang",
            KeyLine::Depfile(_) => "depfile",
            KeyLine::Relocate(_) => "relocate",
            KeyLine::Relocation(_) => "relocation",
            KeyLine::Cwd(_) => "cwd",
            KeyLine::Arg(_) => "arg",
            KeyLine::MacroArg(_) => "macro-arg",
            KeyLine::Env(..) => "env",
            KeyLine::ToolEnv(..) => "toolenv",
            KeyLine::Source { .. } => "source",
            KeyLine::Pre(_) => "pre",
            KeyLine::Header { .. } => "header",
            KeyLine::Probe { .. } => "probe",
            KeyLine::Macro { .. } => "macro",
        }
    }

    /// The line as hashed and kept: one line of text, escaped.
    pub fn render(&self) -> String {
        let text = match self {
            KeyLine::Salt(s) => s.clone(),
            KeyLine::Relocate(on) => format!("relocate {}", if *on { "on" } else { "off" }),
            KeyLine::Lib(v)
            | KeyLine::Compiler(v)
            | KeyLine::CompilerVersion(v)
            | KeyLine::Target(v)
            | KeyLine::Native(v)
            | KeyLine::Lang(v)
            | KeyLine::Depfile(v)
            | KeyLine::Relocation(v)
            | KeyLine::Cwd(v)
            | KeyLine::Arg(v)
            | KeyLine::MacroArg(v)
            | KeyLine::Pre(v) => format!("{} {v}", self.kind()),
            KeyLine::Macro { name, value: None } => format!("macro {name}"),
            KeyLine::Macro {
                name,
                value: Some(v),
            } => format!("macro {name}={v}"),
            KeyLine::Env(k, v) | KeyLine::ToolEnv(k, v) => format!("{} {k}={v}", self.kind()),
            KeyLine::Source { hash, name: p } | KeyLine::Header { hash, path: p } => {
                format!("{} {hash} {p}", self.kind())
            }
            KeyLine::Probe { path, present } => format!(
                "probe {} {path}",
                if *present { "present" } else { "absent" }
            ),
        };
        escape(text)
    }

    /// Read a line written by [`KeyLine::render`]; `None` for anything else
    /// (a line of another version, a comment).
    pub fn parse(line: &str) -> Option<KeyLine> {
        let line = unescape(line);
        if line.starts_with("gocache-") {
            return Some(KeyLine::Salt(line));
        }
        let (kind, rest) = line.split_once(' ')?;
        let rest = rest.to_string();
        let pair = |rest: &str| -> Option<(String, String)> {
            let (a, b) = rest.split_once(' ')?;
            Some((a.to_string(), b.to_string()))
        };
        let var = |rest: &str| -> Option<(String, String)> {
            let (k, v) = rest.split_once('=')?;
            Some((k.to_string(), v.to_string()))
        };
        Some(match kind {
            "lib" => KeyLine::Lib(rest),
            "compiler" => KeyLine::Compiler(rest),
            "compiler-version" => KeyLine::CompilerVersion(rest),
            "target" => KeyLine::Target(rest),
            "native" => KeyLine::Native(rest),
            "lang" => KeyLine::Lang(rest),
            "depfile" => KeyLine::Depfile(rest),
            "relocate" => KeyLine::Relocate(match rest.as_str() {
                "on" => true,
                "off" => false,
                _ => return None,
            }),
            "relocation" => KeyLine::Relocation(rest),
            "cwd" => KeyLine::Cwd(rest),
            "arg" => KeyLine::Arg(rest),
            "macro-arg" => KeyLine::MacroArg(rest),
            "macro" => match rest.split_once('=') {
                Some((name, v)) => KeyLine::Macro {
                    name: name.to_string(),
                    value: Some(v.to_string()),
                },
                None => KeyLine::Macro {
                    name: rest,
                    value: None,
                },
            },
            "pre" => KeyLine::Pre(rest),
            "env" => {
                let (k, v) = var(&rest)?;
                KeyLine::Env(k, v)
            }
            "toolenv" => {
                let (k, v) = var(&rest)?;
                KeyLine::ToolEnv(k, v)
            }
            "source" => {
                let (hash, name) = pair(&rest)?;
                KeyLine::Source { hash, name }
            }
            "header" => {
                let (hash, path) = pair(&rest)?;
                KeyLine::Header { hash, path }
            }
            "probe" => {
                let (state, path) = pair(&rest)?;
                let present = match state.as_str() {
                    "present" => true,
                    "absent" => false,
                    _ => return None,
                };
                KeyLine::Probe { path, present }
            }
            _ => return None,
        })
    }
}

impl fmt::Display for KeyLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}

/// A backslash as `\\`, a newline as `\n`.
fn escape(text: String) -> String {
    if text.contains(['\n', '\\']) {
        text.replace('\\', "\\\\").replace('\n', "\\n")
    } else {
        text
    }
}

fn unescape(line: &str) -> String {
    if !line.contains('\\') {
        return line.to_string();
    }
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_kind() -> Vec<KeyLine> {
        let h = "ab".repeat(32);
        vec![
            KeyLine::Salt("gocache-compile v2".into()),
            KeyLine::Lib("foo".into()),
            KeyLine::Compiler("0123".into()),
            KeyLine::CompilerVersion("gcc (Debian 12.2.0-14) 12.2.0".into()),
            KeyLine::Target("default".into()),
            KeyLine::Lang("c++".into()),
            KeyLine::Depfile("user-headers".into()),
            KeyLine::Relocate(true),
            KeyLine::Relocate(false),
            KeyLine::Relocation("/gocache/pkg/x-1.0".into()),
            KeyLine::Cwd("/gocache/pkg/x-1.0".into()),
            KeyLine::Arg("-DX=\"a b\"".into()),
            KeyLine::Arg("-DY=a\\nb\nc\\".into()),
            KeyLine::Arg(String::new()),
            KeyLine::Env("CPATH".into(), "/a=b:/c".into()),
            KeyLine::Env("LANG".into(), String::new()),
            KeyLine::ToolEnv("INCLUDE".into(), "x".into()),
            KeyLine::Native("-march=znver3 --param l1-cache-size=32".into()),
            KeyLine::Source {
                hash: h.clone(),
                name: "src/a b.c".into(),
            },
            KeyLine::Pre(h.clone()),
            KeyLine::Header {
                hash: h.clone(),
                path: "/usr/include/stdio.h".into(),
            },
            KeyLine::Probe {
                path: "/w/x y.h".into(),
                present: true,
            },
            KeyLine::Probe {
                path: "/w/z.h".into(),
                present: false,
            },
            KeyLine::MacroArg("-DDATADIR".into()),
            KeyLine::MacroArg("-DF(a,b)".into()),
            KeyLine::MacroArg("-UX".into()),
            KeyLine::Macro {
                name: "DATADIR".into(),
                value: Some("\"/w/a=b\"".into()),
            },
            KeyLine::Macro {
                name: "F(a,b)".into(),
                value: Some(String::new()),
            },
            KeyLine::Macro {
                name: "NDEBUG".into(),
                value: None,
            },
        ]
    }

    #[test]
    fn every_line_round_trips() {
        for line in every_kind() {
            let text = line.render();
            assert!(!text.contains('\n'), "{text:?}");
            assert_eq!(KeyLine::parse(&text), Some(line.clone()), "{text:?}");
            if !matches!(line, KeyLine::Salt(_)) {
                assert!(text.starts_with(line.kind()), "{text:?}");
            }
        }
    }

    #[test]
    fn different_lines_render_differently() {
        let lines = every_kind();
        let texts: std::collections::HashSet<String> = lines.iter().map(KeyLine::render).collect();
        assert_eq!(texts.len(), lines.len());
        // A newline inside a value cannot pass for two lines.
        assert_ne!(
            KeyLine::Arg("a\narg b".into()).render(),
            format!("{}\n{}", KeyLine::Arg("a".into()), KeyLine::Arg("b".into()))
        );
    }

    #[test]
    fn other_text_is_not_a_line() {
        for text in [
            "# object compile a.c -> a.o",
            "file 00 /a.h",
            "probe 1 /a.h",
            "relocate maybe",
            "env NOEQUALS",
            "bogus",
            "",
        ] {
            assert_eq!(KeyLine::parse(text), None, "{text:?}");
        }
    }
}
