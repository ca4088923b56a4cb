//! The one list of gocache's settings and the grammars of their values,
//! shared by `cargo gocache` (its `config` command, the configuration
//! layers, the misspelling check), the compiler and archiver wrappers, the
//! remote tier and the build.rs helper.
//!
//! A setting has a config key (`max-size`, in the user file or
//! `[workspace.metadata.gocache]`) and an environment variable
//! (`CARGO_GOCACHE_MAX_SIZE`); the other `CARGO_GOCACHE_*` variables are
//! set by `cargo gocache` for the processes of a build
//! ([`crate::env::GOCACHE_VARIABLES`]). Every value is read with one of the
//! grammars below: one boolean grammar ([`parse_bool`]), one size grammar
//! ([`parse_size`]), one duration grammar ([`parse_duration`]).

use std::time::Duration;

use crate::env::{GOCACHE_VARIABLES, GOCACHE_VARIABLE_PREFIXES};

/// The grammar of a setting's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A directory (absolute in the environment), or `off`.
    Dir,
    /// [`parse_size`].
    Size,
    /// [`parse_duration`].
    Duration,
    /// [`parse_bool`].
    Bool,
    /// A remote URL (`redis://`, `rediss://`, `http://`, `https://`, `s3://`), or `off`.
    Url,
    /// One of the listed words.
    Word(&'static [&'static str]),
}

/// One setting.
#[derive(Debug, Clone, Copy)]
pub struct Setting {
    /// The config key.
    pub key: &'static str,
    /// The environment variable.
    pub var: &'static str,
    /// The grammar of its value.
    pub kind: Kind,
    /// The default, as `cargo gocache config` shows it.
    pub default: &'static str,
    /// What it does.
    pub doc: &'static str,
}

/// Every setting, in the order `cargo gocache config` lists them.
pub const SETTINGS: &[Setting] = &[
    Setting {
        key: "dir",
        var: "CARGO_GOCACHE_DIR",
        kind: Kind::Dir,
        default: "platform cache dir",
        doc: "the store; `off` disables caching",
    },
    Setting {
        key: "max-size",
        var: "CARGO_GOCACHE_MAX_SIZE",
        kind: Kind::Size,
        default: "10G",
        doc: "trim keeps the store under this",
    },
    Setting {
        key: "max-age",
        var: "CARGO_GOCACHE_MAX_AGE",
        kind: Kind::Duration,
        default: "5d",
        doc: "trim removes entries unused this long",
    },
    Setting {
        key: "remote",
        var: "CARGO_GOCACHE_REMOTE",
        kind: Kind::Url,
        default: "none",
        doc: "remote tier URL (`redis://`, `http://`, `s3://`)",
    },
    Setting {
        key: "remote-read-only",
        var: "CARGO_GOCACHE_REMOTE_READ_ONLY",
        kind: Kind::Bool,
        default: "false",
        doc: "never write to the remote",
    },
    Setting {
        key: "remote-write",
        var: "CARGO_GOCACHE_REMOTE_WRITE",
        kind: Kind::Word(&["always", "never", "ci-protected"]),
        default: "ci-protected in CI, else always",
        doc: "which builds write to the remote; `ci-protected`: a push to a protected branch",
    },
    Setting {
        key: "remote-timeout",
        var: "CARGO_GOCACHE_REMOTE_TIMEOUT",
        kind: Kind::Duration,
        default: "2s",
        doc: "per-request timeout",
    },
    Setting {
        key: "verify",
        var: "CARGO_GOCACHE_VERIFY",
        kind: Kind::Bool,
        default: "false",
        doc: "compile every hit too and compare",
    },
    Setting {
        key: "time-macros",
        var: "CARGO_GOCACHE_TIME_MACROS",
        kind: Kind::Word(&["off", "pin"]),
        default: "off",
        doc: "`pin`: cache compiles that use `__DATE__`/`__TIME__`, run with `SOURCE_DATE_EPOCH` fixed",
    },
    Setting {
        key: "build-scripts",
        var: "CARGO_GOCACHE_BUILD_SCRIPTS",
        kind: Kind::Word(&["run", "cache"]),
        default: "run",
        doc: "`cache`: a build-script run is replayed when every file it read is unchanged (observed, Linux x86_64)",
    },
    Setting {
        key: "paths",
        var: "CARGO_GOCACHE_PATHS",
        kind: Kind::Word(&["stable", "exact"]),
        default: "stable",
        doc: "`exact`: no relocation, so C's `__FILE__` and a path dependency's `file!()` and panic locations name the real paths, as plain cargo; keys hold real paths (nothing shared across checkouts)",
    },
];

/// `paths = "exact"` (`CARGO_GOCACHE_PATHS=exact`): compiles are not
/// relocated (no `-ffile-prefix-map`, no `--remap-path-prefix`) and keys
/// hold real paths. Anything else is the default, `stable` (`cargo
/// gocache` refuses other values before a build starts).
pub fn exact_paths() -> bool {
    crate::env::var("CARGO_GOCACHE_PATHS").as_deref() == Some("exact")
}

/// The setting read from `var`, if `var` is one.
pub fn by_var(var: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.var == var)
}

/// The config keys, comma-separated (for messages).
pub fn keys() -> String {
    SETTINGS
        .iter()
        .map(|s| s.key)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The settings' variables, comma-separated (for messages).
pub fn vars() -> String {
    SETTINGS
        .iter()
        .map(|s| s.var)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Is `name` a variable gocache reads: a setting's, one of
/// [`GOCACHE_VARIABLES`](crate::env::GOCACHE_VARIABLES), or of a family in [`GOCACHE_VARIABLE_PREFIXES`](crate::env::GOCACHE_VARIABLE_PREFIXES)?
pub fn is_gocache_variable(name: &str) -> bool {
    by_var(name).is_some()
        || GOCACHE_VARIABLES.contains(&name)
        || GOCACHE_VARIABLE_PREFIXES
            .iter()
            .any(|p| name.starts_with(p))
}

/// The set `CARGO_GOCACHE_*` variables that are not [`is_gocache_variable`], sorted.
pub fn unknown_gocache_variables() -> Vec<String> {
    #[allow(clippy::disallowed_methods)]
    let mut unknown: Vec<String> = std::env::vars_os()
        .filter_map(|(name, _)| name.into_string().ok())
        .filter(|n| n.starts_with("CARGO_GOCACHE_") && !is_gocache_variable(n))
        .collect();
    unknown.sort();
    unknown
}

/// Parse a boolean: `1`/`0`, `true`/`false`, `yes`/`no`, `on`/`off`, in
/// any case.
pub fn parse_bool(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(format!(
            "invalid boolean {s:?}: expected true/false, 1/0, yes/no or on/off"
        )),
    }
}

/// A boolean variable as a wrapped compile reads it: unset or empty is
/// `false`, and so is a value [`parse_bool`] rejects (a compile never fails
/// over a setting; `cargo gocache` reports a bad one as an error before the
/// build starts).
pub fn bool_var(var: &str) -> bool {
    crate::env::var(var)
        .filter(|v| !v.trim().is_empty())
        .is_some_and(|v| parse_bool(&v).unwrap_or(false))
}

/// Parse a size: a number with an optional suffix `K`, `M`, `G`, `T`
/// (powers of 1024; `KiB`, `MB`... accepted as the same), or plain bytes.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let shift = match unit
        .trim()
        .to_ascii_lowercase()
        .trim_end_matches("ib")
        .trim_end_matches('b')
    {
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        _ => {
            return Err(format!(
                "invalid size {s:?}: expected a number with K, M, G or T (e.g. 500M, 10G)"
            ))
        }
    };
    let n: f64 = num
        .parse()
        .map_err(|_| format!("invalid size {s:?}: expected a number such as 500M or 10G"))?;
    Ok((n * (1u64 << shift) as f64) as u64)
}

/// Parse a duration: a number with a unit `ms`, `s`, `m`, `h`, `d` or `w`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let secs = match unit.trim() {
        "ms" => 0.001,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86400.0,
        "w" => 7.0 * 86400.0,
        _ => {
            return Err(format!(
                "invalid duration {s:?}: expected a number with ms, s, m, h, d or w (e.g. 500ms, 12h, 7d)"
            ))
        }
    };
    let n: f64 = num
        .parse()
        .map_err(|_| format!("invalid duration {s:?}: expected a number such as 12h or 7d"))?;
    Ok(Duration::from_secs_f64(n * secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_boolean_grammar() {
        for t in ["1", "true", "YES", "On", " yes "] {
            assert_eq!(parse_bool(t), Ok(true), "{t}");
        }
        for f in ["0", "false", "No", "OFF"] {
            assert_eq!(parse_bool(f), Ok(false), "{f}");
        }
        assert!(parse_bool("maybe").is_err());
    }

    #[test]
    fn every_setting_is_a_gocache_variable_with_a_kebab_key() {
        for s in SETTINGS {
            assert!(s.var.starts_with("CARGO_GOCACHE_"), "{}", s.var);
            assert_eq!(
                s.var["CARGO_GOCACHE_".len()..]
                    .to_ascii_lowercase()
                    .replace('_', "-"),
                s.key
            );
            assert!(is_gocache_variable(s.var), "{}", s.var);
        }
    }
}
