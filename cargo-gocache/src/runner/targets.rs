//! The targets a cargo invocation may build for, from its arguments, the
//! environment and cargo's config files.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

/// Every target cargo may build for: the host, each `--target`,
/// `CARGO_BUILD_TARGET`, and `build.target` from `--config` arguments and
/// from the config files cargo reads (`config_texts`). A union, not cargo's
/// precedence: a `CC_<target>` for a target that is not built is never
/// read, so too many is harmless, while a missing one leaves that
/// target's compiles uncached.
pub(super) fn targets(
    args: &[OsString],
    env_target: Option<String>,
    config_texts: &[String],
    host: &str,
) -> Vec<String> {
    let mut found = option_values(args, "--target");
    // CARGO_BUILD_TARGET may be a list in newer cargo; take the names.
    found.extend(env_target.iter().flat_map(|t| quoted_or_bare(t)));
    for c in option_values(args, "--config") {
        if c.contains('=') {
            found.extend(config_build_targets(&c));
        } else if let Ok(text) = fs::read_to_string(&c) {
            found.extend(config_build_targets(&text));
        }
    }
    for text in config_texts {
        found.extend(config_build_targets(text));
    }
    let mut targets = vec![host.to_string()];
    for t in found {
        // A custom target spec `path/to/foo.json` is `foo` to build scripts.
        let t = if t.ends_with(".json") {
            Path::new(&t)
                .file_stem()
                .map_or(t.clone(), |s| s.to_string_lossy().into_owned())
        } else {
            t
        };
        if !t.is_empty() && !targets.contains(&t) {
            targets.push(t);
        }
    }
    targets
}

/// The config files cargo reads, from `cwd` up to the root, then
/// `$CARGO_HOME`: their texts (missing ones skipped).
pub(super) fn config_texts(cwd: &Path, cargo_home: Option<&Path>) -> Vec<String> {
    let mut dirs: Vec<PathBuf> = cwd.ancestors().map(|d| d.join(".cargo")).collect();
    dirs.extend(cargo_home.map(Path::to_path_buf));
    dirs.iter()
        .flat_map(|d| [d.join("config.toml"), d.join("config")])
        .filter_map(|f| fs::read_to_string(f).ok())
        .collect()
}

/// `build.target` values in a cargo config text: `[build]` then
/// `target = "..."` or `target = ["...", ...]`, or a dotted
/// `build.target = ...`, on one line. A line scan, not a TOML parser:
/// enough for how configs spell it; anything it misses is only uncached.
fn config_build_targets(text: &str) -> Vec<String> {
    let mut table = String::new();
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.starts_with('[') {
            table = line.trim_matches(['[', ']', ' ']).to_string();
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let key: String = key.split_whitespace().collect();
        let full = if table.is_empty() {
            key
        } else {
            format!("{table}.{key}")
        };
        if full == "build.target" {
            out.extend(quoted_or_bare(value));
        }
    }
    out
}

/// The quoted strings in `v` (`"a"`, `['a', "b"]`), or `v` itself when it
/// has no quotes (`CARGO_BUILD_TARGET=aarch64-unknown-linux-gnu`).
fn quoted_or_bare(v: &str) -> Vec<String> {
    let v = v.trim();
    if !v.contains(['"', '\'']) {
        return v
            .split([',', '[', ']', ' '])
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
    }
    let mut out = Vec::new();
    let mut rest = v;
    while let Some(start) = rest.find(['"', '\'']) {
        let quote = rest.as_bytes()[start] as char;
        let after = &rest[start + 1..];
        let Some(end) = after.find(quote) else { break };
        out.push(after[..end].to_string());
        rest = &after[end + 1..];
    }
    out
}

/// Every value of `--name V` / `--name=V` before a `--`.
pub(super) fn option_values(args: &[OsString], name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut it = args.iter().map(|a| a.to_string_lossy());
    while let Some(a) = it.next() {
        if a == "--" {
            break;
        }
        if a == name {
            if let Some(v) = it.next() {
                out.push(v.into_owned());
            }
        } else if let Some(v) = a.strip_prefix(name).and_then(|r| r.strip_prefix('=')) {
            out.push(v.to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: &str = "x86_64-unknown-linux-gnu";

    #[test]
    fn targets_from_args_and_env() {
        let args: Vec<OsString> = [
            "build",
            "--target",
            "aarch64-unknown-linux-gnu",
            "--target=x86_64-unknown-linux-gnu",
            "--",
            "--target",
            "nope",
        ]
        .iter()
        .map(OsString::from)
        .collect();
        assert_eq!(
            targets(&args, None, &[], HOST),
            [HOST, "aarch64-unknown-linux-gnu"]
        );
        let args: Vec<OsString> = vec!["build".into()];
        assert_eq!(
            targets(&args, Some("riscv64gc-unknown-linux-gnu".into()), &[], HOST),
            [HOST, "riscv64gc-unknown-linux-gnu"]
        );
        let args: Vec<OsString> = ["build", "--target", "specs/my-board.json"]
            .iter()
            .map(OsString::from)
            .collect();
        assert_eq!(targets(&args, None, &[], HOST), [HOST, "my-board"]);
    }

    #[test]
    fn targets_from_cargo_config() {
        let none: Vec<OsString> = vec!["build".into()];
        let configs = [
            "# embedded\n[build]\ntarget = \"thumbv7em-none-eabihf\" # the board\n\n[target.x]\ntarget = \"not-this\"\n".to_string(),
            "build.target = ['aarch64-unknown-linux-gnu', \"wasm32-wasip1\"]\n".to_string(),
            "[ build ]\njobs = 2\n".to_string(),
        ];
        assert_eq!(
            targets(&none, None, &configs, HOST),
            [
                HOST,
                "thumbv7em-none-eabihf",
                "aarch64-unknown-linux-gnu",
                "wasm32-wasip1"
            ]
        );
        let args: Vec<OsString> = [
            "build",
            "--config",
            "build.target=\"riscv64gc-unknown-linux-gnu\"",
        ]
        .iter()
        .map(OsString::from)
        .collect();
        assert_eq!(
            targets(
                &args,
                Some("[\"i686-unknown-linux-gnu\"]".into()),
                &[],
                HOST
            ),
            [
                HOST,
                "i686-unknown-linux-gnu",
                "riscv64gc-unknown-linux-gnu"
            ]
        );
    }
}
