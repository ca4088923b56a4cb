//! `native`: what `-C target-cpu=native` (rustc) and `-march=native`,
//! `-mcpu=native`, `-mtune=native` (gcc, clang) mean on this machine.
//!
//! The word `native` says nothing of the code it makes: the compiler
//! replaces it with this CPU's name and features. Keyed as the word, a
//! shared store (or a remote) would hand one CPU's code to another, which
//! may fault on an instruction it lacks. So the key holds what the word
//! resolves to, asked of the compiler itself:
//!
//! * gcc: `-###` prints the `cc1` command line, where `-march=native`
//!   has become `-march=znver3 -mavx2 ... --param l1-cache-size=32 ...`
//!   (every `-m` option and `--param` of that line is kept);
//! * clang: `-###` prints the `-cc1` line with `-target-cpu`,
//!   `-target-feature` and `-tune-cpu` (kept, with every `-m` option);
//! * rustc: `--print target-cpus` names the CPU native stands for
//!   (`currently znver4`), `--print cfg` its `target_feature`s.
//!
//! Each probe gets the compile's own target options (`--target`, `-m32`,
//! `-mno-avx`...), as they change the answer.
//!
//! # Memo
//!
//! Running the compiler on every hit would cost more than the hit, so a
//! resolution is memoised in the store (`compilers/native-<hash>`) under
//! the compiler's identity, the probe's arguments and this machine's CPU:
//! `/proc/cpuinfo` without the lines that change from read to read or
//! from core to core (`cpu MHz`, `bogomips`, `processor`, `core id`, APIC
//! ids), identical blocks once. A CPU that changes under the store (a VM
//! moved to another host, a disk image booted elsewhere) changes the
//! fingerprint and so resolves again. Where there is no `/proc/cpuinfo`
//! (off Linux) nothing is memoised: every compile naming `native` asks the
//! compiler, which is correct and slower.
//!
//! `CARGO_GOCACHE_TEST_CPUINFO` names a file read in place of
//! `/proc/cpuinfo`: for tests only, which simulate a second CPU with it
//! and a compiler that answers after it.
//!
//! A compile whose `native` cannot be resolved (the probe fails, or its
//! answer still says `native`) is not cached: `native-unresolved`.

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::key::hash::{hash_bytes, hex};
use crate::store::{write_atomic, Store};

const MEMO_VERSION: &str = "gocache-native v1";

/// Does a gcc/clang argument ask for this machine's CPU?
pub fn is_native_c_arg(arg: &str) -> bool {
    ["-march=", "-mcpu=", "-mtune="]
        .iter()
        .any(|p| arg.strip_prefix(p).is_some_and(|v| v.starts_with("native")))
}

/// Does a rustc `-C` value (`target-cpu=native`) ask for this machine's CPU?
pub fn is_native_rustc_codegen(value: &str) -> bool {
    value == "target-cpu=native"
}

/// This machine's CPU as a hash (see the module docs), or `None` where it
/// cannot be read.
pub fn cpu_fingerprint() -> Option<String> {
    let path =
        crate::env::var_os("CARGO_GOCACHE_TEST_CPUINFO").unwrap_or_else(|| "/proc/cpuinfo".into());
    let text = fs::read_to_string(path).ok()?;
    const VARYING: &[&str] = &[
        "processor",
        "cpu mhz",
        "bogomips",
        "core id",
        "apicid",
        "initial apicid",
        "physical id",
        "siblings",
        "cpu cores",
    ];
    let mut blocks: Vec<String> = text
        .split("\n\n")
        .map(|block| {
            block
                .lines()
                .filter(|l| {
                    let key = l
                        .split(':')
                        .next()
                        .unwrap_or("")
                        .trim()
                        .to_ascii_lowercase();
                    !VARYING.contains(&key.as_str())
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
        .filter(|b| !b.trim().is_empty())
        .collect();
    blocks.sort();
    blocks.dedup();
    (!blocks.is_empty()).then(|| hex(&hash_bytes(blocks.join("\n\n").as_bytes())))
}

/// What `native` means for a gcc/clang compile with `target_args` (its
/// `--target` and `-m` options, the native ones among them).
pub fn resolve_c(
    store: Option<&Store>,
    compiler: &Path,
    identity: &str,
    target_args: &[String],
) -> Result<String, String> {
    memoised(store, "c", identity, target_args, || {
        let out = Command::new(compiler)
            .args(target_args)
            .args(["-###", "-c", "-x", "c", "/dev/null", "-o", "/dev/null"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .output()
            .map_err(|e| format!("failed to run {}: {e}", compiler.display()))?;
        if !out.status.success() {
            return Err(format!("{} -### failed", compiler.display()));
        }
        parse_cc1_line(&String::from_utf8_lossy(&out.stderr))
    })
}

/// The target options of the compiler proper's line in `-###` output.
fn parse_cc1_line(text: &str) -> Result<String, String> {
    let line = text
        .lines()
        .find(|l| {
            let first = split_quoted(l).into_iter().next().unwrap_or_default();
            first.ends_with("/cc1") || first.ends_with("/cc1plus") || l.contains("\"-cc1\"")
        })
        .ok_or("no compiler line in -### output")?;
    let tokens = split_quoted(line);
    let mut kept = Vec::new();
    let mut it = tokens.iter();
    while let Some(t) = it.next() {
        if matches!(
            t.as_str(),
            "--param" | "-target-cpu" | "-target-feature" | "-tune-cpu"
        ) {
            if let Some(v) = it.next() {
                kept.push(format!("{t} {v}"));
            }
        } else if t.starts_with("-m") || t.starts_with("--param=") {
            kept.push(t.clone());
        }
    }
    finish(kept.join(" "))
}

/// Shell-style words of a `-###` line (double quotes group).
fn split_quoted(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let (mut in_word, mut quoted) = (false, false);
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' if quoted => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            '"' => {
                quoted = !quoted;
                in_word = true;
            }
            ' ' | '\t' if !quoted => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    words
}

/// What `-C target-cpu=native` means for rustc (`rustc`, the toolchain's
/// own binary) compiling for `target` (`None`: the host).
pub fn resolve_rustc(
    store: Option<&Store>,
    rustc: &Path,
    identity: &str,
    target: Option<&str>,
) -> Result<String, String> {
    let mut args: Vec<String> = vec![
        "--print".into(),
        "target-cpus".into(),
        "--print".into(),
        "cfg".into(),
        "-C".into(),
        "target-cpu=native".into(),
    ];
    if let Some(t) = target {
        args.push(format!("--target={t}"));
    }
    memoised(store, "rustc", identity, &args, || {
        let out = Command::new(rustc)
            .args(&args)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .map_err(|e| format!("failed to run {}: {e}", rustc.display()))?;
        if !out.status.success() {
            return Err(format!("{} --print cfg failed", rustc.display()));
        }
        parse_rustc_prints(&String::from_utf8_lossy(&out.stdout))
    })
}

/// `cpu=NAME` and every `target_feature` of rustc's `--print target-cpus
/// --print cfg` output.
fn parse_rustc_prints(text: &str) -> Result<String, String> {
    let cpu = text
        .lines()
        .find(|l| l.trim_start().starts_with("native "))
        .and_then(|l| l.split("(currently ").nth(1))
        .and_then(|r| r.split(')').next())
        .ok_or("rustc named no CPU for native")?;
    let mut features: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("target_feature="))
        .map(|f| f.trim_matches('"'))
        .collect();
    features.sort_unstable();
    finish(format!("cpu={cpu} features={}", features.join(",")))
}

fn finish(resolved: String) -> Result<String, String> {
    if resolved.trim().is_empty() || resolved.contains("native") {
        return Err(format!("native not resolved: {resolved:?}"));
    }
    Ok(resolved)
}

/// `probe()` once per compiler identity, arguments and CPU (the memo).
fn memoised(
    store: Option<&Store>,
    kind: &str,
    identity: &str,
    args: &[String],
    probe: impl FnOnce() -> Result<String, String>,
) -> Result<String, String> {
    let memo = store.zip(cpu_fingerprint()).map(|(s, cpu)| {
        let material = format!(
            "{MEMO_VERSION}\n{kind}\n{identity}\n{}\n{cpu}",
            args.join("\0")
        );
        let name = format!("native-{}", &hex(&hash_bytes(material.as_bytes()))[..32]);
        (s.root().join("compilers"), name)
    });
    if let Some((dir, name)) = &memo {
        if let Ok(text) = fs::read_to_string(dir.join(name)) {
            if let Some(r) = text
                .strip_prefix(MEMO_VERSION)
                .and_then(|r| r.strip_prefix('\n'))
            {
                return Ok(r.to_string());
            }
        }
    }
    let resolved = probe()?;
    if let Some((dir, name)) = &memo {
        // Best effort: without the memo the next compile asks again.
        let _ = fs::create_dir_all(dir);
        let _ = write_atomic(dir, name, format!("{MEMO_VERSION}\n{resolved}").as_bytes());
    }
    Ok(resolved)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn native_arguments() {
        assert!(is_native_c_arg("-march=native"));
        assert!(is_native_c_arg("-mcpu=native"));
        assert!(is_native_c_arg("-mtune=native"));
        assert!(!is_native_c_arg("-march=znver3"));
        assert!(!is_native_c_arg("-mnative"));
        assert!(is_native_rustc_codegen("target-cpu=native"));
        assert!(!is_native_rustc_codegen("target-cpu=x86-64-v3"));
    }

    #[test]
    fn gcc_and_clang_lines_keep_the_target_options() {
        let gcc = " /usr/lib/gcc/x86_64-linux-gnu/12/cc1 -quiet -imultiarch x86_64-linux-gnu /dev/null \"-march=znver3\" -mmmx -mno-avx5124vnniw --param \"l1-cache-size=32\" \"-mtune=znver3\" -quiet -dumpbase null -o /tmp/ccNoizRW.s\n";
        let text = format!(
            "Using built-in specs.\nCOLLECT_GCC=gcc\n{gcc} as --64 -o /dev/null /tmp/ccNoizRW.s\n"
        );
        assert_eq!(
            parse_cc1_line(&text).unwrap(),
            "-march=znver3 -mmmx -mno-avx5124vnniw --param l1-cache-size=32 -mtune=znver3"
        );
        let clang = " \"/usr/lib/llvm-14/bin/clang\" \"-cc1\" \"-triple\" \"x86_64-pc-linux-gnu\" \"-mrelax-all\" \"-target-cpu\" \"znver3\" \"-target-feature\" \"-avx512pf\" \"-fcoverage-compilation-dir=/tmp\" \"-o\" \"/dev/null\"";
        assert_eq!(
            parse_cc1_line(clang).unwrap(),
            "-mrelax-all -target-cpu znver3 -target-feature -avx512pf"
        );
        // Still `native` (a compiler that passes it on): not resolved.
        assert!(parse_cc1_line(" /x/cc1 \"-march=native\"").is_err());
        assert!(parse_cc1_line("gcc: error").is_err());
    }

    #[test]
    fn rustc_prints_give_the_cpu_and_features() {
        let text = "Available CPUs for this target:\n    native                  - Select the CPU of the current host (currently znver4).\n    x86-64                  - This is the default target CPU for the current build target (currently x86_64-unknown-linux-gnu).\ntarget_arch=\"x86_64\"\ntarget_feature=\"sse2\"\ntarget_feature=\"avx2\"\n";
        assert_eq!(
            parse_rustc_prints(text).unwrap(),
            "cpu=znver4 features=avx2,sse2"
        );
        assert!(parse_rustc_prints("target_feature=\"sse2\"\n").is_err());
    }
}
