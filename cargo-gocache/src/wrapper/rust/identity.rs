//! rustc's identity: what in a key stands for "this compiler and its
//! standard library" (see [`identify`]).

use super::*;

/// What stands for "this rustc" in a key.
#[derive(Debug, Clone)]
pub(super) struct RustcIdentity {
    /// Hex SHA-256 of `-vV`, the binary and the sysroot's libraries.
    pub(super) id: String,
    /// `rustc 1.95.0 (...)`, for people.
    pub(super) version: String,
    pub(super) host: String,
    /// The rustc binary itself (past rustup's proxy), for the questions a
    /// key asks it (`native`).
    pub(super) binary: PathBuf,
}

impl RustcIdentity {
    /// The sysroot, `<sysroot>/bin/rustc` being the binary.
    pub(super) fn sysroot(&self) -> Option<PathBuf> {
        let bin = self.binary.parent()?;
        (bin.file_name()? == "bin").then(|| bin.parent().map(Path::to_path_buf))?
    }
}

pub(super) fn stamp_of(p: &Path) -> String {
    match fs::metadata(p) {
        Ok(m) => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::MetadataExt;
                format!(
                    "{} {} {} {}.{} {}.{}",
                    m.dev(),
                    m.ino(),
                    m.size(),
                    m.mtime(),
                    m.mtime_nsec(),
                    m.ctime(),
                    m.ctime_nsec()
                )
            }
            #[cfg(not(unix))]
            {
                format!("{} {:?}", m.len(), m.modified().ok())
            }
        }
        Err(_) => "absent".into(),
    }
}

/// `rustc --print sysroot`: a directory, or an error.
pub(super) fn print_sysroot(rustc: &Path) -> Result<PathBuf> {
    let out = Command::new(rustc)
        .args(["--print", "sysroot"])
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("failed to run {} --print sysroot", rustc.display()))?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    if !out.status.success() || !sysroot.is_dir() {
        bail!("{} --print sysroot gave no directory", rustc.display());
    }
    Ok(sysroot)
}

/// Is `binary` rustup's proxy (`~/.cargo/bin/rustc`: rustup itself,
/// hard-linked or symlinked under the tool's name)?
pub(super) fn is_rustup_proxy(binary: &Path) -> bool {
    if binary.file_stem().is_some_and(|n| n == "rustup") {
        return true;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let rustup = binary.with_file_name("rustup");
        if let (Ok(a), Ok(b)) = (fs::metadata(binary), fs::metadata(rustup)) {
            return a.dev() == b.dev() && a.ino() == b.ino();
        }
    }
    false
}

/// The rustc that rustup's proxy runs in this process's environment, when
/// `RUSTUP_TOOLCHAIN` names an installed toolchain (cargo started by rustup
/// sets it): in rustup's order that variable comes before directory
/// overrides and toolchain files, so no proxy run is needed to learn the
/// answer. `None`: ask the proxy.
fn rustup_toolchain_rustc() -> Option<PathBuf> {
    let name = crate::env::var_os("RUSTUP_TOOLCHAIN").filter(|v| !v.is_empty())?;
    let dir = if Path::new(&name).is_absolute() {
        PathBuf::from(&name) // a toolchain given by its directory
    } else {
        let home = crate::env::var_os("RUSTUP_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| crate::env::var_os("HOME").map(|h| PathBuf::from(h).join(".rustup")))?;
        // Short names (`stable`) are no directory here: the proxy decides.
        home.join("toolchains").join(&name)
    };
    let rustc = dir
        .join("bin")
        .join(format!("rustc{}", std::env::consts::EXE_SUFFIX));
    rustc.is_file().then_some(rustc)
}

/// Every regular file directly in `dir` whose name `keep` takes, sorted.
pub(super) fn dir_files(dir: &Path, keep: impl Fn(&str) -> bool) -> Result<Vec<(String, PathBuf)>> {
    let mut files: Vec<(String, PathBuf)> = fs::read_dir(dir)
        .with_context(|| format!("failed to read {}", dir.display()))?
        .flatten()
        .filter(|e| keep(&e.file_name().to_string_lossy()))
        .filter(|e| fs::metadata(e.path()).is_ok_and(|m| m.is_file()))
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .collect();
    files.sort();
    Ok(files)
}

/// Is the file or directory at `p` older than the racy-stamp window
/// ([`filememo::RACY`]), so that its stamp can stand for its content?
pub(super) fn settled(p: &Path) -> bool {
    let Some(stamp) = crate::direct::stamp::Stamp::of(p) else {
        // Absent is a stamp too ("absent"), and stays so until created.
        return !p.exists();
    };
    let cutoff = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128)
        - filememo::RACY.as_nanos() as i128;
    stamp.mtime_ns < cutoff && stamp.ctime_ns < cutoff
}

pub(super) const IDENTITY_MEMO: &str = "v3";

/// Identify `rustc` for `target` (None: its host): a hash of `-vV`, of
/// the binary, and of what is in `<sysroot>/lib` (the compiler itself:
/// `librustc_driver-<hash>.so`, `libLLVM`) and
/// `<sysroot>/lib/rustlib/<target>/lib` (std and friends, which the crate
/// links and inlines): the name and size of every file there, and
///
/// * for a toolchain rustup installed (it has
///   `lib/rustlib/multirust-channel-manifest.toml`), the hash of that
///   manifest, which lists the SHA-256 of every component tarball of the
///   release: rustup never changes a toolchain's files in place (an update
///   installs them anew), so the files are the tarballs' and the manifest
///   stands for their content at the cost of reading 1 MB;
/// * for any other toolchain (`rustup toolchain link` to a local build, a
///   distribution's package), the **content** of every one of those files
///   (about 500 MB, once per toolchain and store): a toolchain rebuilt in
///   place (`x.py` into a linked stage) keeps its file names, and a
///   one-constant change keeps every size.
///
/// In `<sysroot>/lib` only the compiler's libraries count (`librustc*`,
/// `libLLVM*`, `libstd-*`, `libtest-*`): for a distribution's rustc it is
/// `/usr/lib`. (Debian puts `librustc_driver` in a multiarch directory
/// below it, which is not looked into: there the package's binary, its
/// `-vV` and std's libraries stand for it.) rustup's proxy
/// (`RUSTC=~/.cargo/bin/rustc`) is first resolved to the toolchain it
/// picks for this call.
///
/// Mtimes stay out of the hash, so two installs of one toolchain (other
/// machines, CI runners) share entries. The result is memoised by the full
/// stamp of every file listed and of both directories (a file added or
/// removed changes its directory's); a stamp younger than the racy window
/// is not memoised. While one process hashes, the others wait on a lock for
/// its memo instead of hashing the same files beside it.
pub(super) fn identify(store: &Store, rustc: &Path, target: Option<&str>) -> Result<RustcIdentity> {
    let mut found = crate::key::compiler::find_program(rustc)
        .with_context(|| format!("failed to find {}", rustc.display()))?;
    let mut binary = fs::canonicalize(&found).unwrap_or(found.clone());
    if is_rustup_proxy(&binary) {
        // The proxy picks a toolchain per call (`RUSTUP_TOOLCHAIN`,
        // `rust-toolchain.toml`, overrides): its own stamp says nothing of
        // which, so ask it, as the compile will, and identify that one's
        // rustc. One proxy run per compile, only with `RUSTC` set to it
        // (cargo started by rustup hands the toolchain's rustc itself).
        let real = match rustup_toolchain_rustc() {
            Some(real) => real,
            None => print_sysroot(&found)?
                .join("bin")
                .join(format!("rustc{}", std::env::consts::EXE_SUFFIX)),
        };
        if !real.is_file() {
            bail!("{} --print sysroot named no rustc", found.display());
        }
        binary = fs::canonicalize(&real).unwrap_or(real.clone());
        found = real;
    }
    let memo_dir = store.root().join("compilers");
    let memo_name = format!(
        "rustc-{}",
        &hex(&hash_bytes(
            format!("{}\n{}", binary.display(), target.unwrap_or("-")).as_bytes()
        ))[..32]
    );
    let read_memo = || -> Option<RustcIdentity> {
        let text = fs::read_to_string(memo_dir.join(&memo_name)).ok()?;
        let mut l = text.lines();
        if l.next() != Some(IDENTITY_MEMO) {
            return None;
        }
        let (id, version, host) = (l.next()?, l.next()?, l.next()?);
        let mut stamps = 0;
        for line in l {
            let (stamp, path) = line.split_once('\t')?;
            if stamp_of(Path::new(path)) != stamp {
                return None;
            }
            stamps += 1;
        }
        (id.len() == 64 && stamps > 0).then(|| RustcIdentity {
            id: id.into(),
            version: version.into(),
            host: host.into(),
            binary: found.clone(),
        })
    };
    if let Some(id) = read_memo() {
        return Ok(id);
    }
    // One hasher at a time; whoever waited reads the memo it wrote. The
    // lock is only a saving: without it, each process hashes for itself.
    let _ = fs::create_dir_all(&memo_dir);
    let lock = fs::File::create(memo_dir.join(format!("{memo_name}.lock")))
        .ok()
        .filter(|f| f.lock().is_ok());
    if lock.is_some() {
        if let Some(id) = read_memo() {
            return Ok(id);
        }
    }
    let vv = Command::new(&found)
        .arg("-vV")
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("failed to run {} -vV", found.display()))?;
    if !vv.status.success() {
        bail!("{} -vV failed", found.display());
    }
    let text = String::from_utf8_lossy(&vv.stdout).into_owned();
    let host = text
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .context("rustc -vV printed no host")?
        .trim()
        .to_string();
    let version = text.lines().next().unwrap_or("rustc").trim().to_string();
    let sysroot = print_sysroot(&found)?;
    let target_name = target.unwrap_or(&host);
    let lib = sysroot.join("lib");
    let target_lib = lib.join("rustlib").join(target_name).join("lib");
    // Stamps first, then contents: a file changed while it is hashed has
    // a newer stamp than the one memoised, so the memo is not trusted.
    let mut stamped: Vec<(String, PathBuf)> = vec![(stamp_of(&binary), binary.clone())];
    let mut material = vv.stdout.clone();
    material.extend_from_slice(b"\n--binary--\n");
    material.extend_from_slice(&crate::key::hash::hash_file(&binary)?);
    let dist_manifest = lib.join("rustlib").join("multirust-channel-manifest.toml");
    let dist = dist_manifest.is_file();
    // Stamped present or absent: a manifest appearing (or going) is
    // another toolchain, and no directory stamped here holds it.
    stamped.push((stamp_of(&dist_manifest), dist_manifest.clone()));
    if dist {
        material.extend_from_slice(b"\n--rustup-channel-manifest--\n");
        material.extend_from_slice(&crate::key::hash::hash_file(&dist_manifest)?);
    }
    for (label, dir) in [("lib", &lib), ("target-lib", &target_lib)] {
        material.extend_from_slice(format!("\n--{label}--\n").as_bytes());
        stamped.push((stamp_of(dir), dir.clone()));
        if label == "target-lib" && !dir.is_dir() {
            continue;
        }
        // `<sysroot>/lib` is the system's `/usr/lib` for a distribution's
        // rustc: only the compiler's own libraries there, not every
        // library of the system (gigabytes, and any package update would
        // empty the Rust cache). The target's directory is Rust's alone.
        let keep = |name: &str| {
            label == "target-lib"
                || ["librustc", "libLLVM", "libstd-", "libtest-"]
                    .iter()
                    .any(|p| name.starts_with(p))
        };
        for (name, path) in dir_files(dir, keep)? {
            let stamp = stamp_of(&path);
            let size = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            // A file rustc cannot read either changes nothing it makes.
            let content = if dist {
                "-".to_string()
            } else {
                crate::key::hash::hash_file(&path)
                    .map_or_else(|_| "unreadable".to_string(), |h| hex(&h))
            };
            material.extend_from_slice(format!("{name} {size} {content}\n").as_bytes());
            stamped.push((stamp, path));
        }
    }
    let id = hex(&hash_bytes(&material));
    let mut memo = format!("{IDENTITY_MEMO}\n{id}\n{version}\n{host}\n");
    let mut memoisable = true;
    for (stamp, path) in &stamped {
        let shown = path.to_string_lossy();
        memoisable &= !shown.contains(['\n', '\t']) && settled(path);
        memo.push_str(&format!("{stamp}\t{shown}\n"));
    }
    // Best effort: without the memo the next compile identifies again.
    if memoisable {
        let _ = write_atomic(&memo_dir, &memo_name, memo.as_bytes());
    }
    drop(lock);
    Ok(RustcIdentity {
        id,
        version,
        host,
        binary: found,
    })
}
