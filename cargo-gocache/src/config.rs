//! Configuration: built-in defaults, then the user file, then the
//! workspace's `Cargo.toml`, then `CARGO_GOCACHE_*` environment variables;
//! each later layer overrides the earlier ones (cargo's order: a project
//! setting beats a user setting, the environment beats both).
//!
//! | key | environment variable | default | meaning |
//! | --- | --- | --- | --- |
//! | `dir` | `CARGO_GOCACHE_DIR` | platform cache dir | the store; `off` disables caching |
//! | `max-size` | `CARGO_GOCACHE_MAX_SIZE` | `10G` | trim keeps the store under this |
//! | `max-age` | `CARGO_GOCACHE_MAX_AGE` | `5d` | trim removes entries unused this long |
//! | `remote` | `CARGO_GOCACHE_REMOTE` | none | remote tier URL (`redis://`, `http://`, `s3://`) |
//! | `remote-read-only` | `CARGO_GOCACHE_REMOTE_READ_ONLY` | `false` | never write to the remote |
//! | `remote-write` | `CARGO_GOCACHE_REMOTE_WRITE` | `ci-protected` in CI, else `always` | which builds write: `always`, `never`, `ci-protected` (a push to a protected branch) |
//! | `remote-timeout` | `CARGO_GOCACHE_REMOTE_TIMEOUT` | `2s` | per-request timeout |
//! | `verify` | `CARGO_GOCACHE_VERIFY` | `false` | compile every hit too and compare |
//! | `time-macros` | `CARGO_GOCACHE_TIME_MACROS` | `off` | `pin`: cache compiles that use `__DATE__`/`__TIME__`, run with `SOURCE_DATE_EPOCH` fixed at the first compile |
//! | `paths` | `CARGO_GOCACHE_PATHS` | `stable` | `exact`: nothing is relocated, so `__FILE__`, `file!()` and panic locations name real paths as under plain cargo, and keys hold them (no sharing across checkouts) |
//! | `build-scripts` | `CARGO_GOCACHE_BUILD_SCRIPTS` | `run` | `cache`: a build-script run is looked up first and replayed when every file it read is unchanged (Linux x86_64; see `wrapper::buildscript`) |
//!
//! Files: `$XDG_CONFIG_HOME/cargo-gocache/config.toml` (else
//! `~/.config/cargo-gocache/config.toml`; on macOS also
//! `~/Library/Application Support/cargo-gocache/config.toml`), and
//! `[workspace.metadata.gocache]` or, failing that, the root package's
//! `[package.metadata.gocache]`. A relative `dir` in a file is relative to
//! that file's directory. Unknown keys and bad values are errors that name
//! the file, the key and what is allowed; so is a `CARGO_GOCACHE_*`
//! variable gocache does not read (a typo would otherwise be ignored).
//!
//! Wrapped compiles never read files: `cargo gocache` resolves the settings
//! once and passes them down as `CARGO_GOCACHE_*` variables ([`Config::to_env`]).

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::env;
use crate::settings::{self, parse_bool};
use anyhow::{anyhow, bail, Context, Result};

use crate::human::{format_duration, format_size_short, parse_duration, parse_size};
use crate::trust::WritePolicy;

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Built in.
    Default,
    /// A config file (the user file or a `Cargo.toml`).
    File(PathBuf),
    /// An environment variable.
    Env(&'static str),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::File(p) => write!(f, "{}", p.display()),
            Source::Env(v) => write!(f, "environment {v}"),
        }
    }
}

/// A value and where it came from.
#[derive(Debug, Clone)]
pub struct Setting<T> {
    pub value: T,
    pub source: Source,
}

impl<T> Setting<T> {
    fn default(value: T) -> Self {
        Setting {
            value,
            source: Source::Default,
        }
    }
}

/// The effective configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The store directory; `None` when caching is off.
    pub dir: Setting<Option<PathBuf>>,
    pub max_size: Setting<u64>,
    pub max_age: Setting<Duration>,
    pub remote: Setting<Option<String>>,
    pub remote_read_only: Setting<bool>,
    /// Which builds write to the remote (see `trust::WritePolicy`).
    pub remote_write: Setting<WritePolicy>,
    pub remote_timeout: Setting<Duration>,
    pub verify: Setting<bool>,
    /// `time-macros = "pin"`: compiles using `__DATE__`/`__TIME__` are
    /// cached, run with `SOURCE_DATE_EPOCH` fixed (see `wrapper::cc`).
    pub time_macros_pin: Setting<bool>,
    /// `build-scripts = "cache"`: build-script runs are looked up first
    /// (see `wrapper::buildscript`).
    pub build_scripts_cache: Setting<bool>,
    /// `paths = "exact"`: no relocation, real paths in keys (see
    /// [`crate::settings::exact_paths`]).
    pub paths_exact: Setting<bool>,
}

/// One layer as written in a file (TOML table or `Cargo.toml` metadata).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Layer {
    dir: Option<String>,
    max_size: Option<String>,
    max_age: Option<String>,
    remote: Option<String>,
    remote_read_only: Option<bool>,
    remote_write: Option<String>,
    remote_timeout: Option<String>,
    verify: Option<bool>,
    time_macros: Option<String>,
    build_scripts: Option<String>,
    paths: Option<String>,
}

impl Config {
    /// Defaults only.
    pub fn defaults() -> Result<Config> {
        let dir = gocache_default_dir()?;
        Ok(Config {
            dir: Setting::default(Some(dir)),
            max_size: Setting::default(10 << 30),
            max_age: Setting::default(Duration::from_secs(5 * 86400)),
            remote: Setting::default(None),
            remote_read_only: Setting::default(false),
            remote_write: Setting::default(WritePolicy::default_here()),
            remote_timeout: Setting::default(Duration::from_secs(2)),
            verify: Setting::default(false),
            time_macros_pin: Setting::default(false),
            build_scripts_cache: Setting::default(false),
            paths_exact: Setting::default(false),
        })
    }

    /// Load every layer. `workspace_manifest` is the workspace's root
    /// `Cargo.toml`, if the command runs in one.
    pub fn load(workspace_manifest: Option<&Path>) -> Result<Config> {
        let mut c = Config::defaults()?;
        if let Some(file) = user_config_file() {
            if file.is_file() {
                let text = std::fs::read_to_string(&file)
                    .with_context(|| format!("failed to read {}", file.display()))?;
                let layer: Layer = toml::from_str(&text).map_err(|e| {
                    // Name the offending line (and so the key) for type errors.
                    let at = e.span().map(|s| {
                        let start = text[..s.start].rfind('\n').map_or(0, |i| i + 1);
                        let end = text[s.start..]
                            .find('\n')
                            .map_or(text.len(), |i| s.start + i);
                        format!(
                            "line {}: `{}`: ",
                            text[..s.start].lines().count().max(1),
                            text[start..end].trim()
                        )
                    });
                    bad_layer(&file, &format!("{}{}", at.unwrap_or_default(), e.message()))
                })?;
                c.apply(layer, &file)?;
            }
        }
        if let Some(manifest) = workspace_manifest {
            if let Some(layer) = workspace_layer(manifest)? {
                c.apply(layer, manifest)?;
            }
        }
        c.apply_env()?;
        Ok(c)
    }

    fn apply(&mut self, l: Layer, file: &Path) -> Result<()> {
        let src = || Source::File(file.to_path_buf());
        let bad =
            |key: &str, e: String| anyhow!("{}: invalid value for `{key}`: {e}", file.display());
        if let Some(d) = l.dir {
            let base = file.parent().unwrap_or(Path::new("/"));
            self.dir = Setting {
                value: parse_dir(&d, Some(base)).map_err(|e| bad("dir", e))?,
                source: src(),
            };
        }
        if let Some(v) = l.max_size {
            self.max_size = Setting {
                value: parse_size(&v).map_err(|e| bad("max-size", e))?,
                source: src(),
            };
        }
        if let Some(v) = l.max_age {
            self.max_age = Setting {
                value: parse_duration(&v).map_err(|e| bad("max-age", e))?,
                source: src(),
            };
        }
        if let Some(v) = l.remote {
            self.remote = Setting {
                value: parse_remote(&v).map_err(|e| bad("remote", e))?,
                source: src(),
            };
        }
        if let Some(v) = l.remote_read_only {
            self.remote_read_only = Setting {
                value: v,
                source: src(),
            };
        }
        if let Some(v) = l.remote_write {
            self.remote_write = Setting {
                value: WritePolicy::parse(&v).map_err(|e| bad("remote-write", e))?,
                source: src(),
            };
        }
        if let Some(v) = l.remote_timeout {
            self.remote_timeout = Setting {
                value: parse_duration(&v).map_err(|e| bad("remote-timeout", e))?,
                source: src(),
            };
        }
        if let Some(v) = l.verify {
            self.verify = Setting {
                value: v,
                source: src(),
            };
        }
        if let Some(v) = l.time_macros {
            self.time_macros_pin = Setting {
                value: parse_time_macros(&v).map_err(|e| bad("time-macros", e))?,
                source: src(),
            };
        }
        if let Some(v) = l.build_scripts {
            self.build_scripts_cache = Setting {
                value: parse_build_scripts(&v).map_err(|e| bad("build-scripts", e))?,
                source: src(),
            };
        }
        if let Some(v) = l.paths {
            self.paths_exact = Setting {
                value: parse_paths(&v).map_err(|e| bad("paths", e))?,
                source: src(),
            };
        }
        Ok(())
    }

    fn apply_env(&mut self) -> Result<()> {
        fn get(name: &'static str) -> Option<(String, Source)> {
            env::var(name)
                .filter(|v| !v.is_empty())
                .map(|v| (v, Source::Env(name)))
        }
        let bad = |name: &str, e: String| anyhow!("{name}: {e}");
        if let Some(name) = settings::unknown_gocache_variables().first() {
            bail!(
                "{name}: unknown variable (the settings are {})",
                settings::vars()
            );
        }
        if let Some((v, s)) = get("CARGO_GOCACHE_DIR") {
            // The library's rule: absolute or `off`, never relative.
            let value = if v == "off" {
                None
            } else if Path::new(&v).is_absolute() {
                Some(PathBuf::from(&v))
            } else {
                bail!("CARGO_GOCACHE_DIR must be an absolute path, got {v:?}");
            };
            self.dir = Setting { value, source: s };
        }
        if let Some((v, s)) = get("CARGO_GOCACHE_MAX_SIZE") {
            self.max_size = Setting {
                value: parse_size(&v).map_err(|e| bad("CARGO_GOCACHE_MAX_SIZE", e))?,
                source: s,
            };
        }
        if let Some((v, s)) = get("CARGO_GOCACHE_MAX_AGE") {
            self.max_age = Setting {
                value: parse_duration(&v).map_err(|e| bad("CARGO_GOCACHE_MAX_AGE", e))?,
                source: s,
            };
        }
        if let Some((v, s)) = get("CARGO_GOCACHE_REMOTE") {
            self.remote = Setting {
                value: parse_remote(&v).map_err(|e| bad("CARGO_GOCACHE_REMOTE", e))?,
                source: s,
            };
        }
        if let Some((v, s)) = get("CARGO_GOCACHE_REMOTE_READ_ONLY") {
            self.remote_read_only = Setting {
                value: parse_bool(&v).map_err(|e| bad("CARGO_GOCACHE_REMOTE_READ_ONLY", e))?,
                source: s,
            };
        }
        if let Some((v, s)) = get("CARGO_GOCACHE_REMOTE_WRITE") {
            self.remote_write = Setting {
                value: WritePolicy::parse(&v).map_err(|e| bad("CARGO_GOCACHE_REMOTE_WRITE", e))?,
                source: s,
            };
        }
        if let Some((v, s)) = get("CARGO_GOCACHE_REMOTE_TIMEOUT") {
            self.remote_timeout = Setting {
                value: parse_duration(&v).map_err(|e| bad("CARGO_GOCACHE_REMOTE_TIMEOUT", e))?,
                source: s,
            };
        }
        if let Some((v, s)) = get("CARGO_GOCACHE_VERIFY") {
            self.verify = Setting {
                value: parse_bool(&v).map_err(|e| bad("CARGO_GOCACHE_VERIFY", e))?,
                source: s,
            };
        }
        if let Some((v, s)) = get("CARGO_GOCACHE_TIME_MACROS") {
            self.time_macros_pin = Setting {
                value: parse_time_macros(&v).map_err(|e| bad("CARGO_GOCACHE_TIME_MACROS", e))?,
                source: s,
            };
        }
        if let Some((v, s)) = get("CARGO_GOCACHE_BUILD_SCRIPTS") {
            self.build_scripts_cache = Setting {
                value: parse_build_scripts(&v)
                    .map_err(|e| bad("CARGO_GOCACHE_BUILD_SCRIPTS", e))?,
                source: s,
            };
        }
        if let Some((v, s)) = get("CARGO_GOCACHE_PATHS") {
            self.paths_exact = Setting {
                value: parse_paths(&v).map_err(|e| bad("CARGO_GOCACHE_PATHS", e))?,
                source: s,
            };
        }
        Ok(())
    }

    /// The variables that hand these settings to wrapped compiles and build scripts.
    pub fn to_env(&self) -> Vec<(&'static str, String)> {
        let mut v = vec![
            (
                "CARGO_GOCACHE_DIR",
                self.dir
                    .value
                    .as_ref()
                    .map_or("off".to_string(), |d| d.display().to_string()),
            ),
            ("CARGO_GOCACHE_MAX_SIZE", self.max_size.value.to_string()),
            (
                "CARGO_GOCACHE_MAX_AGE",
                format!("{}s", self.max_age.value.as_secs()),
            ),
            (
                "CARGO_GOCACHE_REMOTE_READ_ONLY",
                (self.remote_read_only.value as u8).to_string(),
            ),
            // Decided once for the build (the CI variables do not change
            // under it), so wrapped compiles get `always` or `never`.
            (
                "CARGO_GOCACHE_REMOTE_WRITE",
                if self.remote_write.value.writes() {
                    "always"
                } else {
                    "never"
                }
                .to_string(),
            ),
            (
                "CARGO_GOCACHE_REMOTE_TIMEOUT",
                format!("{}s", self.remote_timeout.value.as_secs_f64()),
            ),
            (
                "CARGO_GOCACHE_VERIFY",
                (self.verify.value as u8).to_string(),
            ),
            (
                "CARGO_GOCACHE_TIME_MACROS",
                if self.time_macros_pin.value {
                    "pin"
                } else {
                    "off"
                }
                .to_string(),
            ),
            (
                "CARGO_GOCACHE_BUILD_SCRIPTS",
                if self.build_scripts_cache.value {
                    "cache"
                } else {
                    "run"
                }
                .to_string(),
            ),
            (
                "CARGO_GOCACHE_PATHS",
                if self.paths_exact.value {
                    "exact"
                } else {
                    "stable"
                }
                .to_string(),
            ),
        ];
        if let Some(r) = &self.remote.value {
            v.push(("CARGO_GOCACHE_REMOTE", r.clone()));
        }
        v
    }

    /// The trim policy these settings give.
    pub fn trim_policy(&self) -> crate::TrimPolicy {
        crate::TrimPolicy {
            max_age: self.max_age.value,
            max_size: self.max_size.value,
        }
    }

    /// Open the store, or `None` when caching is off.
    pub fn store(&self) -> Result<Option<crate::Store>> {
        match &self.dir.value {
            None => Ok(None),
            Some(d) => Ok(Some(crate::Store::open(d).with_context(|| {
                format!("failed to open the cache at {}", d.display())
            })?)),
        }
    }

    /// `(key, value, source)` rows for `cargo gocache config`.
    pub fn rows(&self) -> Vec<(&'static str, String, &Source)> {
        vec![
            (
                "dir",
                self.dir
                    .value
                    .as_ref()
                    .map_or("off".into(), |d| d.display().to_string()),
                &self.dir.source,
            ),
            (
                "max-size",
                format_size_short(self.max_size.value),
                &self.max_size.source,
            ),
            (
                "max-age",
                format_duration(self.max_age.value),
                &self.max_age.source,
            ),
            (
                "remote",
                self.remote.value.clone().unwrap_or_else(|| "(none)".into()),
                &self.remote.source,
            ),
            (
                "remote-read-only",
                self.remote_read_only.value.to_string(),
                &self.remote_read_only.source,
            ),
            (
                "remote-write",
                {
                    let (writes, why) = self.remote_write.value.decide();
                    format!(
                        "{} ({}: {why})",
                        self.remote_write.value,
                        if writes { "writes" } else { "reads only" }
                    )
                },
                &self.remote_write.source,
            ),
            (
                "remote-timeout",
                format_duration(self.remote_timeout.value),
                &self.remote_timeout.source,
            ),
            ("verify", self.verify.value.to_string(), &self.verify.source),
            (
                "time-macros",
                if self.time_macros_pin.value {
                    "pin"
                } else {
                    "off"
                }
                .to_string(),
                &self.time_macros_pin.source,
            ),
            (
                "build-scripts",
                if self.build_scripts_cache.value {
                    "cache"
                } else {
                    "run"
                }
                .to_string(),
                &self.build_scripts_cache.source,
            ),
            (
                "paths",
                if self.paths_exact.value {
                    "exact"
                } else {
                    "stable"
                }
                .to_string(),
                &self.paths_exact.source,
            ),
        ]
    }
}

fn gocache_default_dir() -> Result<PathBuf> {
    // The library's default, computed without CARGO_GOCACHE_DIR (applied as a layer).
    crate::env::default_cache_dir().map_err(|e| anyhow!("{e}"))
}

/// The user configuration file's path (it may not exist).
pub fn user_config_file() -> Option<PathBuf> {
    if let Some(x) = env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
    {
        return Some(x.join("cargo-gocache/config.toml"));
    }
    let home = PathBuf::from(env::var_os("HOME").filter(|h| !h.is_empty())?);
    let xdg = home.join(".config/cargo-gocache/config.toml");
    if cfg!(target_os = "macos") && !xdg.exists() {
        return Some(home.join("Library/Application Support/cargo-gocache/config.toml"));
    }
    Some(xdg)
}

/// `[workspace.metadata.gocache]`, else `[package.metadata.gocache]`, of
/// the workspace's root manifest: the two tables `cargo metadata` would
/// report as the workspace's and the root package's metadata. Read from
/// the file itself: `cargo metadata` costs a warm build a process and
/// tens of milliseconds before cargo starts. A manifest that is not TOML
/// gives no layer; cargo reports it in its own words.
fn workspace_layer(manifest: &Path) -> Result<Option<Layer>> {
    let Ok(text) = std::fs::read_to_string(manifest) else {
        return Ok(None);
    };
    if !text.contains("gocache") {
        return Ok(None); // no such table; spares a parse
    }
    let Ok(doc) = text.parse::<toml::Table>() else {
        return Ok(None);
    };
    let from = |section: &str| -> Option<toml::Value> {
        doc.get(section)?.get("metadata")?.get("gocache").cloned()
    };
    let Some(value) = from("workspace").or_else(|| from("package")) else {
        return Ok(None);
    };
    let layer: Layer = value
        .try_into()
        .map_err(|e: toml::de::Error| bad_layer(manifest, &format!("[metadata.gocache]: {e}")))?;
    Ok(Some(layer))
}

fn bad_layer(file: &Path, message: &str) -> anyhow::Error {
    let message = message.trim_end().replace('\n', " ");
    if message.contains("unknown field") {
        // serde names the key and lists the allowed ones.
        anyhow!("{}: {message}", file.display())
    } else {
        anyhow!(
            "{}: {message} (allowed keys: {})",
            file.display(),
            settings::keys()
        )
    }
}

fn parse_dir(s: &str, base: Option<&Path>) -> Result<Option<PathBuf>, String> {
    if s == "off" {
        return Ok(None);
    }
    if s.is_empty() {
        return Err("expected a directory or \"off\"".into());
    }
    let p = if let Some(rest) = s.strip_prefix("~/") {
        PathBuf::from(env::var_os("HOME").ok_or("`~` used but HOME is not set")?).join(rest)
    } else {
        PathBuf::from(s)
    };
    match base {
        _ if p.is_absolute() => Ok(Some(p)),
        Some(b) => Ok(Some(b.join(p))),
        None => Err(format!("must be an absolute path, got {s:?}")),
    }
}

fn parse_remote(s: &str) -> Result<Option<String>, String> {
    if s.is_empty() || s == "off" {
        return Ok(None);
    }
    if ["redis://", "rediss://", "http://", "https://"]
        .iter()
        .any(|p| s.starts_with(p))
        || s.strip_prefix("s3://")
            .is_some_and(|b| !b.is_empty() && !b.starts_with('/'))
    {
        Ok(Some(s.to_string()))
    } else {
        Err(format!("unsupported remote {s:?}: expected redis://host[:port][/db], http[s]://host[:port]/prefix or s3://bucket[/prefix]"))
    }
}

/// `off` (the default: uncacheable) or `pin`.
fn parse_time_macros(s: &str) -> Result<bool, String> {
    match s {
        "off" => Ok(false),
        "pin" => Ok(true),
        _ => Err(format!("invalid value {s:?}: expected \"off\" or \"pin\"")),
    }
}

/// `stable` (the default: machine directories relocated) or `exact`.
fn parse_paths(s: &str) -> Result<bool, String> {
    match s {
        "stable" => Ok(false),
        "exact" => Ok(true),
        _ => Err(format!(
            "invalid value {s:?}: expected \"stable\" or \"exact\""
        )),
    }
}

fn parse_build_scripts(s: &str) -> Result<bool, String> {
    match s {
        "run" => Ok(false),
        "cache" => Ok(true),
        _ => Err(format!(
            "invalid value {s:?}: expected \"run\" or \"cache\""
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        assert_eq!(parse_bool("Yes"), Ok(true));
        assert!(parse_bool("maybe").is_err());
        assert_eq!(parse_dir("off", None), Ok(None));
        assert_eq!(
            parse_dir("c", Some(Path::new("/w"))),
            Ok(Some(PathBuf::from("/w/c")))
        );
        assert!(parse_dir("c", None).is_err());
        assert!(parse_remote("ftp://x").is_err());
        assert!(parse_remote("s3://").is_err());
        assert_eq!(
            parse_remote("s3://bucket/team"),
            Ok(Some("s3://bucket/team".into()))
        );
        assert_eq!(
            parse_remote("redis://127.0.0.1:6379"),
            Ok(Some("redis://127.0.0.1:6379".into()))
        );
    }

    #[test]
    fn unknown_key_names_the_key() {
        let e = toml::from_str::<Layer>("max-sise = \"1G\"").unwrap_err();
        assert!(e.message().contains("max-sise"), "{}", e.message());
    }
}
