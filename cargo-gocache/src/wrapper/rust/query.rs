//! rustc's answers to the questions cargo asks before every build in a new
//! target directory: `rustc -vV` (twice) and `rustc - --crate-name ___
//! --print=file-names --print=sysroot --print=cfg ...` (once per target).
//! Cargo keeps the answers in `target/.rustc_info.json`, so a build after
//! `cargo clean`, in a second checkout or on a fresh CI runner asks again:
//! 30 to 50 ms of the critical path before the first compile starts, a
//! tenth of a warm build of `examples/mixed-sys`. Here they are answered
//! from the store.
//!
//! # What is cached
//!
//! Only an invocation made entirely of the options below ([`parse`]);
//! anything else runs rustc untouched, as before:
//!
//! * `-vV`, `-V`, `--version`;
//! * `-` (the crate read from standard input) with at least one `--print`,
//!   standard input being `/dev/null` (cargo's; anything else could hold a
//!   crate whose content is not in the key);
//! * `--print KIND` for the kinds that depend only on the compiler, the
//!   target and the flags: `file-names`, `sysroot`, `split-debuginfo`,
//!   `crate-name`, `cfg`, `target-libdir`, `host-tuple`, `target-list`
//!   (not `target-cpus` or `target-features`, which describe the host's
//!   CPU; not `KIND=PATH`, which writes a file);
//! * `--crate-name`, `--crate-type`, `--cfg`, `--check-cfg`, `--edition`,
//!   lint levels (`-W`, `-A`, `-D`, `-F`, `--cap-lints` and long forms),
//!   `-L`, `-l`, `-O`, `-g`, and `-C` (codegen options, which `--print
//!   cfg` reflects: `target-feature`, `panic`, `debug-assertions`...)
//!   except any naming `native` (the host's CPU, which no key line here
//!   holds);
//! * `--target NAME` for a target the toolchain has a standard library
//!   for (`<sysroot>/lib/rustlib/NAME/lib`), with no `NAME.json` in the
//!   working directory or the sysroot's `rustlib/NAME` and
//!   `RUST_TARGET_PATH` unset: a built-in target, the only kind whose
//!   definition is inside the compiler. (A name rustc does not know
//!   otherwise is searched as a JSON file along `RUST_TARGET_PATH`, whose
//!   empty default is the working directory.)
//!
//! Not `-Z` (unstable options can load a codegen backend or read files),
//! `--sysroot`, `@file`, or anything unknown.
//!
//! # The key
//!
//! | line | why |
//! | --- | --- |
//! | `salt gocache-rust-query v1` | its own kind of entry |
//! | `compiler` | the compile key's identity of this rustc for the target (its `-vV`, binary, sysroot libraries: [`identify`]) |
//! | `binary` | the rustc binary's path, as written: `--print=sysroot` and `target-libdir` print where it is installed |
//! | `arg` | every argument, in order |
//! | `env` | every variable named `RUST_*` or `RUSTC_*` (`RUSTC_BOOTSTRAP` unlocks options and changes `cfg`, `RUSTC_OVERRIDE_VERSION_STRING` changes `-vV`), except `RUSTC_WRAPPER` and `RUSTC_WORKSPACE_WRAPPER`, which cargo reads and rustc does not |
//!
//! Left out: the working directory (the crate is empty and no path is
//! resolved against it, target JSON files aside, checked above on every
//! lookup) and the rest of the environment (rustc reads no other variable
//! to answer these).
//!
//! A failed answer is not kept; the local store only (a remote round trip
//! would cost more than the answer); not counted in the stats, as they
//! were not before. Under `--verify` rustc answers and a different cached
//! answer is reported.

use super::*;

const SALT: &str = "gocache-rust-query v1";
const RECORD: &str = "gocache-rust-query-result v1";

const PRINTS: &[&str] = &[
    "file-names",
    "sysroot",
    "split-debuginfo",
    "crate-name",
    "cfg",
    "target-libdir",
    "host-tuple",
    "target-list",
];

/// A query this module answers from the store.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Query {
    /// `--target`, if given.
    target: Option<String>,
    /// The crate is read from standard input (`-`).
    stdin: bool,
}

/// Whether `args` is a query made only of the options the module docs
/// list.
pub(super) fn parse(args: &[OsString]) -> Option<Query> {
    let mut target = None;
    let (mut stdin, mut version, mut print) = (false, false, false);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let a = a.to_str()?;
        // `--opt VALUE`, `--opt=VALUE`, and for one-letter options `-XVALUE`.
        let mut value = |long: &str, short: Option<&str>| -> Option<Option<String>> {
            if a == long || short == Some(a) {
                return Some(it.next().and_then(|v| v.to_str()).map(str::to_string));
            }
            if let Some(v) = a.strip_prefix(long).and_then(|r| r.strip_prefix('=')) {
                return Some(Some(v.to_string()));
            }
            match short {
                Some(s) if a.len() > s.len() && a.starts_with(s) => {
                    Some(Some(a[s.len()..].to_string()))
                }
                _ => None,
            }
        };
        match a {
            "-vV" | "-V" | "--version" => version = true,
            "-" => stdin = true,
            "-O" | "-g" => {}
            _ => {
                if let Some(v) = value("--print", None) {
                    if !PRINTS.contains(&v?.as_str()) {
                        return None;
                    }
                    print = true;
                } else if let Some(v) = value("--target", None) {
                    target = Some(v?);
                } else if let Some(v) = value("--codegen", Some("-C")) {
                    if v?.contains("native") {
                        return None;
                    }
                } else if let Some(v) = [
                    ("--crate-name", None),
                    ("--crate-type", None),
                    ("--cfg", None),
                    ("--check-cfg", None),
                    ("--edition", None),
                    ("--cap-lints", None),
                    ("--warn", Some("-W")),
                    ("--allow", Some("-A")),
                    ("--deny", Some("-D")),
                    ("--forbid", Some("-F")),
                    ("--force-warn", None),
                    ("--library-path", Some("-L")),
                    ("--link-lib", Some("-l")),
                ]
                .iter()
                .find_map(|(long, short)| value(long, *short))
                {
                    v?;
                } else {
                    return None;
                }
            }
        }
    }
    // `-` without `--print` compiles standard input: not a query.
    let query = (stdin && print) || (version && !stdin);
    query.then_some(Query { target, stdin })
}

/// Answer `rustc ARGS` for a [`parse`]d query; `None` when this module
/// cannot (the caller runs rustc untouched).
pub(super) fn answer(rustc: &Path, args: &[OsString], q: &Query) -> Option<i32> {
    if q.stdin && !stdin_is_dev_null() {
        return None;
    }
    if std::env::var_os("RUST_TARGET_PATH").is_some() {
        return None;
    }
    // The local store only: see the module docs.
    let store = Store::from_env().ok()??;
    let identity = identify(&store, rustc, q.target.as_deref()).ok()?;
    if let Some(t) = &q.target {
        let rustlib = identity.sysroot()?.join("lib").join("rustlib").join(t);
        let json = format!("{t}.json");
        if t.contains(['/', '\\'])
            || t.ends_with(".json")
            || !rustlib.join("lib").is_dir()
            || rustlib.join("target.json").exists()
            || Path::new(&json).exists()
        {
            return None;
        }
    }
    let mut h = KeyHasher::new("rust-query");
    h.line(format!("salt {SALT}"));
    h.line(format!("compiler {}", identity.id));
    h.line(format!("binary {}", identity.binary.display()));
    for a in args {
        h.line(format!("arg {}", a.to_string_lossy()));
    }
    let mut env: Vec<(String, String)> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.to_string_lossy().into_owned())))
        .filter(|(k, _)| env_in_query_key(k))
        .collect();
    env.sort();
    for (k, v) in env {
        h.line(format!("env {k}={v}"));
    }
    let id = h.id();
    let verify = crate::settings::bool_var("CARGO_GOCACHE_VERIFY");
    let cached = store
        .get_bytes(&id)
        .and_then(|(_, bytes)| Answer::parse(&bytes));
    if let (Some(a), false) = (&cached, verify) {
        let _ = std::io::stdout().write_all(&a.stdout);
        let _ = std::io::stderr().write_all(&a.stderr);
        return Some(0);
    }
    // A miss: rustc answers (its standard input is /dev/null either way).
    let out = Command::new(rustc).args(args).stdin(Stdio::null()).output();
    let out = match out {
        Ok(out) => out,
        Err(e) => {
            eprintln!("gocache: error: failed to run {}: {e}", rustc.display());
            return Some(127);
        }
    };
    let _ = std::io::stdout().write_all(&out.stdout);
    let _ = std::io::stderr().write_all(&out.stderr);
    let code = crate::wrapper::exit_code(&out.status);
    if code != 0 {
        return Some(code);
    }
    let fresh = Answer {
        stdout: out.stdout,
        stderr: out.stderr,
    };
    if cached.is_some_and(|old| old != fresh) {
        eprintln!(
            "gocache: error: --verify: rustc answered `{}` otherwise than its cached answer",
            args.iter()
                .map(|a| a.to_string_lossy())
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    // Best effort: an answer not stored is asked again next time.
    let _ = store.put(&id, &fresh.render());
    Some(0)
}

/// The variables in a query's key (the module docs say why).
fn env_in_query_key(name: &str) -> bool {
    (name.starts_with("RUST_") || name.starts_with("RUSTC_"))
        && name != "RUSTC_WRAPPER"
        && name != "RUSTC_WORKSPACE_WRAPPER"
}

/// Is standard input `/dev/null` (the same character device)?
fn stdin_is_dev_null() -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{FileTypeExt, MetadataExt};
        let Ok(null) = fs::metadata("/dev/null") else {
            return false;
        };
        let Ok(stdin) = fs::metadata("/proc/self/fd/0") else {
            return false;
        };
        stdin.file_type().is_char_device() && stdin.rdev() == null.rdev()
    }
    #[cfg(not(unix))]
    {
        false
    }
}

/// A cached answer: what rustc printed (exit status 0).
#[derive(Debug, PartialEq, Eq)]
struct Answer {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

impl Answer {
    /// `RECORD`, then `stdout N` and `stderr M` lines, then the bytes.
    fn render(&self) -> Vec<u8> {
        let mut v = format!(
            "{RECORD}\nstdout {}\nstderr {}\n",
            self.stdout.len(),
            self.stderr.len()
        )
        .into_bytes();
        v.extend_from_slice(&self.stdout);
        v.extend_from_slice(&self.stderr);
        v
    }

    fn parse(bytes: &[u8]) -> Option<Answer> {
        let mut rest = bytes;
        let mut line = || -> Option<&[u8]> {
            let at = memchr::memchr(b'\n', rest)?;
            let l = &rest[..at];
            rest = &rest[at + 1..];
            Some(l)
        };
        if line()? != RECORD.as_bytes() {
            return None;
        }
        let mut len = |name: &str| -> Option<usize> {
            let l = std::str::from_utf8(line()?).ok()?;
            l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok()
        };
        let (o, e) = (len("stdout")?, len("stderr")?);
        if rest.len() != o.checked_add(e)? {
            return None;
        }
        Some(Answer {
            stdout: rest[..o].to_vec(),
            stderr: rest[o..].to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &[&str]) -> Option<Query> {
        parse(&s.iter().map(OsString::from).collect::<Vec<_>>())
    }

    #[test]
    fn cargo_queries_are_answered_and_anything_else_is_not() {
        let q = |target: Option<&str>, stdin| {
            Some(Query {
                target: target.map(str::to_string),
                stdin,
            })
        };
        assert_eq!(p(&["-vV"]), q(None, false));
        // What cargo 1.9x asks, with RUSTFLAGS.
        assert_eq!(
            p(&[
                "-",
                "--crate-name",
                "___",
                "--print=file-names",
                "--crate-type",
                "bin",
                "--crate-type",
                "proc-macro",
                "--print=sysroot",
                "--print=split-debuginfo",
                "--print=crate-name",
                "--print=cfg",
                "-Wwarnings",
                "-C",
                "target-feature=+avx2",
                "--cfg",
                "foo",
                "-Lnative=/x",
                "--target",
                "x86_64-unknown-linux-gnu",
            ]),
            q(Some("x86_64-unknown-linux-gnu"), true)
        );
        assert_eq!(p(&["--print", "cfg", "-"]), q(None, true));
        for not in [
            &["-"][..],                                   // compiles stdin
            &["--print=cfg"],                             // no crate: an error
            &["-", "--print=target-cpus"],                // the host's CPU
            &["-", "--print=cfg", "-Ctarget-cpu=native"], // the host's CPU
            &["-", "--print=cfg", "-C", "target-cpu=native"],
            &["-", "--print=cfg=out.txt"], // writes a file
            &["-", "--print=cfg", "-Zunstable-options"], // unstable options
            &["-", "--print=cfg", "--sysroot", "/s"],
            &["-", "--print=cfg", "@args"],
            &["-", "--print=cfg", "--target"], // no value
            &["-", "--print=cfg", "src/lib.rs"],
            &["--crate-name", "x", "src/lib.rs"],
        ] {
            assert_eq!(p(not), None, "{not:?}");
        }
    }

    #[test]
    fn answers_round_trip_and_damage_is_no_answer() {
        let a = Answer {
            stdout: b"___\nlib___.rlib\n/sysroot\n".to_vec(),
            stderr: b"warning: x\n".to_vec(),
        };
        let r = a.render();
        assert_eq!(Answer::parse(&r), Some(a));
        for cut in 0..r.len() {
            assert_eq!(Answer::parse(&r[..cut]), None, "cut at {cut}");
        }
        let mut longer = r.clone();
        longer.push(b'x');
        assert_eq!(Answer::parse(&longer), None);
    }
}
