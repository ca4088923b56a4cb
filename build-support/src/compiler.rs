//! The compiler's identity: what in a key stands for "this compiler".
//!
//! The identity is the SHA-256 of the compiler's `--version` output and of
//! the driver binary's bytes. Running the compiler and hashing a binary of
//! a few MiB on every cache hit would cost more than the rest of the hit, so
//! the result is memoised on disk, keyed by the binary's canonical path, size
//! and mtime (ccache's `compiler_check=mtime` plus the version text): a
//! reinstalled or upgraded compiler changes at least one of those.
//!
//! Left out, and why: the hash of GCC's `cc1`/`cc1plus` behind the driver.
//! They come in the same package as the driver, so an upgrade changes the
//! driver's version output and mtime too; hashing 30 MiB more on every
//! compiler change buys nothing a distribution upgrade does not already
//! show.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::UNIX_EPOCH;

use crate::error::{Error, ErrorKind, IoContext, Result};
use crate::hash::{hash_bytes, hex};
use crate::store::{write_atomic, Store};

/// What identifies a compiler in a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompilerIdentity {
    /// The compiler binary, resolved through `PATH` and symlinks.
    pub path: PathBuf,
    /// First line of `--version` (e.g. `gcc (Debian 12.2.0-14) 12.2.0`), for humans.
    pub version: String,
    /// Hex SHA-256 of the full `--version` output and the binary.
    pub id: String,
}

/// Find `program` as a shell would: a path if it has a separator, else
/// the first executable file of that name in `PATH`.
pub fn find_program(program: &Path) -> Option<PathBuf> {
    if program.components().count() > 1 {
        return program.is_file().then(|| program.to_path_buf());
    }
    let path = crate::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        p.is_file()
    }
}

/// Identify `compiler`, from the memo in `store` when it is still valid.
pub fn identify(store: Option<&Store>, compiler: &Path) -> Result<CompilerIdentity> {
    let found = find_program(compiler).ok_or_else(|| {
        Error::new(
            ErrorKind::Tool,
            format!(
                "failed to find compiler {:?}: is it installed and in PATH?",
                compiler
            ),
        )
    })?;
    let path = fs::canonicalize(&found).with_path("resolve", &found)?;
    let meta = fs::metadata(&path).with_path("stat", &path)?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let stamp = format!("{}\n{}\n{}", path.display(), meta.len(), mtime);
    let memo_dir = store.map(|s| s.root().join("compilers"));
    let memo_name = hex(&hash_bytes(path.as_os_str().as_encoded_bytes())[..16]);
    if let Some(dir) = &memo_dir {
        if let Ok(text) = fs::read_to_string(dir.join(&memo_name)) {
            if let Some(rest) = text
                .strip_prefix("v1\n")
                .and_then(|r| r.strip_prefix(stamp.as_str()))
            {
                let mut lines = rest.strip_prefix('\n').unwrap_or("").lines();
                if let (Some(id), Some(version)) = (lines.next(), lines.next()) {
                    if id.len() == 64 {
                        return Ok(CompilerIdentity {
                            path,
                            version: version.to_string(),
                            id: id.to_string(),
                        });
                    }
                }
            }
        }
    }
    let out = Command::new(&found)
        .arg("--version")
        .output()
        .map_err(|e| {
            Error::new(
                ErrorKind::Tool,
                format!("failed to run `{} --version`: {e}", found.display()),
            )
        })?;
    let binary = fs::read(&path).with_path("read", &path)?;
    let mut material = out.stdout.clone();
    material.extend_from_slice(b"\n--binary--\n");
    material.extend_from_slice(&hash_bytes(&binary));
    let id = hex(&hash_bytes(&material));
    let version = String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap_or("unknown")
        .trim()
        .to_string();
    if let Some(dir) = &memo_dir {
        // Best effort: without the memo the next hit just probes again.
        let _ = fs::create_dir_all(dir)
            .map_err(|e| Error::io("create", dir, e))
            .and_then(|()| {
                write_atomic(
                    dir,
                    &memo_name,
                    format!("v1\n{stamp}\n{id}\n{version}\n").as_bytes(),
                )
            });
    }
    Ok(CompilerIdentity { path, version, id })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifies_gcc_and_memoises() {
        if find_program(Path::new("gcc")).is_none() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let a = identify(Some(&store), Path::new("gcc")).unwrap();
        assert!(
            a.version.contains("gcc") || a.version.contains("GCC"),
            "{}",
            a.version
        );
        let memo = fs::read_dir(store.root().join("compilers"))
            .unwrap()
            .count();
        assert_eq!(memo, 1);
        let b = identify(Some(&store), Path::new("gcc")).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn missing_compiler_is_a_clear_error() {
        let e = identify(None, Path::new("no-such-compiler-xyz")).unwrap_err();
        assert!(e.to_string().contains("failed to find compiler"), "{e}");
    }
}

/// The compiler's own include search directories for `lang` (`c`, `c++`,
/// `assembler-with-cpp`), given the arguments that change them
/// (`--sysroot`, `-nostdinc`, `--target`, `-m32`, `-stdlib=`...), in search
/// order, as `<compiler> ARGS -x LANG -E -v /dev/null` lists them.
///
/// Memoised in the store under a key of the compiler's identity, the
/// language and the arguments, so a hit does not run the compiler.
pub fn system_include_dirs(
    store: Option<&Store>,
    compiler: &Path,
    identity: &CompilerIdentity,
    lang: &str,
    args: &[String],
) -> Result<Vec<PathBuf>> {
    let mut key = crate::hash::KeyHasher::new("sysdirs");
    key.line("sysdirs v1");
    key.line(format!("compiler {}", identity.id));
    key.line(format!("lang {lang}"));
    for a in args {
        key.line(format!("arg {a}"));
    }
    // The compiler adds these variables' directories to its own list, and
    // the run below inherits them: a memo made without them is wrong with them.
    for name in [
        "CPATH",
        "C_INCLUDE_PATH",
        "CPLUS_INCLUDE_PATH",
        "OBJC_INCLUDE_PATH",
        "OBJCPLUS_INCLUDE_PATH",
        "GCC_EXEC_PREFIX",
        "COMPILER_PATH",
        "SDKROOT",
    ] {
        if let Some(v) = crate::env::var_os(name) {
            key.line(format!("env {name}={}", v.to_string_lossy()));
        }
    }
    let key = key.id();
    if let Some((_, bytes)) = store.and_then(|s| s.get_bytes(&key)) {
        if let Ok(text) = String::from_utf8(bytes) {
            return Ok(text.lines().map(PathBuf::from).collect());
        }
    }
    let out = Command::new(compiler)
        .args(args)
        .args(["-x", lang, "-E", "-v", "/dev/null", "-o", "/dev/null"])
        .output()
        .map_err(|e| {
            Error::new(
                ErrorKind::Tool,
                format!("failed to run {}: {e}", compiler.display()),
            )
        })?;
    let text = String::from_utf8_lossy(&out.stderr);
    let mut dirs = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        if line.starts_with("#include ") && line.ends_with("search starts here:") {
            inside = true;
        } else if line.starts_with("End of search list.") {
            inside = false;
        } else if inside {
            // clang marks framework directories with a suffix.
            let d = line.trim().trim_end_matches(" (framework directory)");
            dirs.push(PathBuf::from(d));
        }
    }
    if !out.status.success() || dirs.is_empty() {
        return Err(Error::new(
            ErrorKind::Tool,
            format!(
                "could not read the include search list of {} (exit {})",
                compiler.display(),
                out.status
            ),
        ));
    }
    if let Some(s) = store {
        let text: String = dirs.iter().map(|d| format!("{}\n", d.display())).collect();
        let _ = s.put(&key, text.as_bytes());
    }
    Ok(dirs)
}

#[cfg(test)]
mod sysdir_tests {
    use super::*;

    #[test]
    fn gcc_lists_usr_include() {
        if find_program(Path::new("gcc")).is_none() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let id = identify(Some(&store), Path::new("gcc")).unwrap();
        let dirs = system_include_dirs(Some(&store), Path::new("gcc"), &id, "c", &[]).unwrap();
        assert!(dirs.contains(&PathBuf::from("/usr/include")), "{dirs:?}");
        let again =
            system_include_dirs(Some(&store), Path::new("/nonexistent"), &id, "c", &[]).unwrap();
        assert_eq!(dirs, again, "second call is served from the memo");
    }
}
