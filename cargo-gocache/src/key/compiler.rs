//! The compiler's identity: what in a key stands for "this compiler".
//!
//! The identity is the SHA-256 of the compiler's `--version` output, of
//! the driver binary's bytes and of the name it was invoked by. Running the
//! compiler and hashing a binary of a few MiB on every cache hit would cost
//! more than the rest of the hit, so the result is memoised on disk, keyed
//! by the invoked name and the binary's canonical path, and checked
//! against the binary's full stamp: size, mtime, ctime, inode and device.
//! Size and mtime alone are not enough: a compiler script rewritten in
//! place with both kept (`touch -r`) would keep its old identity; its
//! ctime cannot be set back.
//!
//! The name invoked is part of the identity because one binary can be
//! several compilers: clang and clang++ (and `aarch64-linux-gnu-clang`)
//! are one file, and clang reads its mode and default target from the
//! name it was run by, while `--version` prints the same text.
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
use crate::key::hash::{hash_bytes, hex};
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
    let search = || {
        std::env::split_paths(&path)
            .map(|dir| dir.join(program))
            .find(|p| is_executable(p))
    };
    if !crate::fsutil::memoising() {
        return search();
    }
    // A compiler wrapper finds its compiler (and `as`) on `PATH` two or
    // three times: each a `stat` of every directory before it, a stop
    // each inside an observed build script. Once per process, for this
    // `PATH`.
    type Found = std::collections::HashMap<(std::ffi::OsString, PathBuf), Option<PathBuf>>;
    static FOUND: std::sync::Mutex<Option<Found>> = std::sync::Mutex::new(None);
    let key = (path.clone(), program.to_path_buf());
    if let Some(found) = FOUND
        .lock()
        .ok()
        .and_then(|m| m.as_ref()?.get(&key).cloned())
    {
        return found;
    }
    let found = search();
    if let Ok(mut m) = FOUND.lock() {
        m.get_or_insert_with(Default::default)
            .insert(key, found.clone());
    }
    found
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

/// Size, mtime, ctime (nanoseconds), inode and device: what changes when
/// a file's bytes do, even if its size and mtime are put back.
pub(crate) fn full_stamp(meta: &fs::Metadata) -> String {
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        format!(
            "{} {mtime} {}.{:09} {} {}",
            meta.len(),
            meta.ctime(),
            meta.ctime_nsec(),
            meta.ino(),
            meta.dev()
        )
    }
    #[cfg(not(unix))]
    {
        format!("{} {mtime}", meta.len())
    }
}

/// Identify `compiler`, from the memo in `store` when it is still valid:
/// the driver (see the module docs) and, for gcc, the assembler it runs.
pub fn identify(store: Option<&Store>, compiler: &Path) -> Result<CompilerIdentity> {
    let mut identity = identify_driver(store, compiler)?;
    if let Some(assembler) = assembler_hash(store, compiler, &identity) {
        let mut h = crate::key::hash::KeyHasher::new("compiler-with-tools");
        h.line(format!("driver {}", identity.id));
        h.line(format!("as {assembler}"));
        identity.id = h.id().to_string();
    }
    Ok(identity)
}

/// The content hash of the assembler gcc runs for `-c`, found as gcc
/// finds it: its own program directories (`-print-search-dirs`, which
/// include `GCC_EXEC_PREFIX` and `COMPILER_PATH`), then `PATH`. An `as`
/// put earlier in `PATH` changes the object, so it changes the key.
/// `None` for clang (its integrated assembler is the driver; clang's
/// options for an external one are refused) or when it cannot be found
/// (then the compile finds none either, and fails).
///
/// The program directories are memoised per compiler and environment,
/// the hash per assembler file and full stamp; the lookup itself (a
/// `stat` per directory until `as` is found) runs on every call, as the
/// answer depends on `PATH` and on files appearing.
fn assembler_hash(store: Option<&Store>, compiler: &Path, id: &CompilerIdentity) -> Option<String> {
    if id.version.contains("clang") {
        return None;
    }
    let env: String = ["GCC_EXEC_PREFIX", "COMPILER_PATH"]
        .iter()
        .map(|n| {
            format!(
                "{n}={}\n",
                crate::env::var_os(n).unwrap_or_default().to_string_lossy()
            )
        })
        .collect();
    let tools = store.map(|s| s.root().join("compilers").join("tools"));
    let dirs_name = hex(&hash_bytes(format!("{}\n{env}", id.id).as_bytes())[..16]);
    let memo = tools
        .as_ref()
        .and_then(|t| fs::read_to_string(t.join(format!("dirs-{dirs_name}"))).ok());
    let dirs: Vec<PathBuf> = match memo {
        Some(text) => text.lines().map(PathBuf::from).collect(),
        None => {
            let out = Command::new(compiler)
                .arg("-print-search-dirs")
                .stdin(std::process::Stdio::null())
                .output()
                .ok()?;
            let text = String::from_utf8_lossy(&out.stdout);
            // A compiler without the query (remembered too): `PATH` only.
            let line = text
                .lines()
                .find_map(|l| l.strip_prefix("programs: ="))
                .unwrap_or("");
            let mut dirs: Vec<PathBuf> = Vec::new();
            for d in std::env::split_paths(line) {
                if !d.as_os_str().is_empty() && !dirs.contains(&d) {
                    dirs.push(d);
                }
            }
            if let Some(t) = &tools {
                let text: String = dirs.iter().map(|d| format!("{}\n", d.display())).collect();
                let _ = fs::create_dir_all(t)
                    .map_err(|e| Error::io("create", t, e))
                    .and_then(|()| write_atomic(t, &format!("dirs-{dirs_name}"), text.as_bytes()));
            }
            dirs
        }
    };
    let found = dirs
        .iter()
        .map(|d| d.join("as"))
        .find(|p| is_executable(p))
        .or_else(|| find_program(Path::new("as")))?;
    let path = crate::fsutil::canonicalize_memo(&found).ok()?;
    let stamp = format!(
        "{}\n{}",
        path.display(),
        full_stamp(&fs::metadata(&path).ok()?)
    );
    let name = format!(
        "as-{}",
        hex(&hash_bytes(path.as_os_str().as_encoded_bytes())[..16])
    );
    if let Some(t) = &tools {
        if let Ok(text) = fs::read_to_string(t.join(&name)) {
            if let Some(hash) = text
                .strip_prefix(stamp.as_str())
                .and_then(|r| r.strip_prefix('\n'))
            {
                if hash.trim().len() == 64 {
                    return Some(hash.trim().to_string());
                }
            }
        }
    }
    let hash = hex(&hash_bytes(&fs::read(&path).ok()?));
    if let Some(t) = &tools {
        let _ = fs::create_dir_all(t)
            .map_err(|e| Error::io("create", t, e))
            .and_then(|()| write_atomic(t, &name, format!("{stamp}\n{hash}\n").as_bytes()));
    }
    Some(hash)
}

fn identify_driver(store: Option<&Store>, compiler: &Path) -> Result<CompilerIdentity> {
    let found = find_program(compiler).ok_or_else(|| {
        Error::new(
            ErrorKind::Tool,
            format!(
                "failed to find compiler {:?}: is it installed and in PATH?",
                compiler
            ),
        )
    })?;
    let path = crate::fsutil::canonicalize_memo(&found).with_path("resolve", &found)?;
    let meta = fs::metadata(&path).with_path("stat", &path)?;
    // The file name as invoked, before symlinks: `clang++`, not `clang-14`.
    let invoked = found
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stamp = format!("{}\n{invoked}\n{}", path.display(), full_stamp(&meta));
    let memo_dir = store.map(|s| s.root().join("compilers"));
    let memo_name = hex(&hash_bytes(format!("{}\n{invoked}", path.display()).as_bytes())[..16]);
    if let Some(dir) = &memo_dir {
        if let Ok(text) = fs::read_to_string(dir.join(&memo_name)) {
            if let Some(rest) = text
                .strip_prefix("v2\n")
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
    material.extend_from_slice(b"\n--invoked-as--\n");
    material.extend_from_slice(invoked.as_bytes());
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
                    format!("v2\n{stamp}\n{id}\n{version}\n").as_bytes(),
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
            .filter(|e| e.as_ref().unwrap().path().is_file())
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
    let mut key = crate::key::hash::KeyHasher::new("sysdirs");
    key.line("sysdirs v2");
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
    // Directories the compiler would search but that do not exist yet
    // (a `CPATH` entry, a sysroot's `usr/local/include`): a header appearing
    // in one would be found, so the probes must look there too. Where it
    // would sit in the order is not printed; first is the safe guess (a
    // probe too many costs a miss, one too few a wrong hit).
    let mut missing = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        if let Some(d) = line
            .strip_prefix("ignoring nonexistent directory \"")
            .and_then(|r| r.strip_suffix('"'))
        {
            missing.push(PathBuf::from(d));
        } else if line.starts_with("#include ") && line.ends_with("search starts here:") {
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
    missing.retain(|d| !dirs.contains(d));
    missing.dedup();
    let dirs: Vec<PathBuf> = missing.into_iter().chain(dirs).collect();
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
