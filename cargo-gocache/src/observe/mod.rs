//! The observer: what a process tree touched on the file system, seen from
//! the kernel's side, not declared by the program.
//!
//! A build script's run (and rustc's, while it expands a proc-macro) reads files,
//! lists directories and runs programs that nobody declares: cc prints no
//! `rerun-if-changed`, `git` reads `.git/HEAD`, `pkg-config` answers from
//! `.pc` files. To key such a run on what it read, gocache runs it under
//! this observer and gets back every path the run and every process it
//! started named to the kernel, and how ([`Access`]). The caller turns that
//! into key inputs (the content of each file read, the absence of each path
//! probed and missing, the listing of each directory read).
//!
//! # How (Linux, x86_64)
//!
//! A seccomp filter stops the run's processes at the system calls that
//! name a path (`open`, `openat`, `openat2`, the `stat` family, `access`,
//! `readlink`, `execve`, `getdents`, and every call that creates, removes,
//! renames or changes a file) and at `socket`/`connect`/`bind`; every
//! other call runs at full speed. Each stop is seen by an observing
//! process, which reads the call's arguments, resolves a relative path
//! against the process's working directory or directory descriptor
//! (`/proc/<pid>/cwd`, `/proc/<pid>/fd/<n>`), records it, and lets the call
//! run. A `connect` to a unix socket named by a path that connects is
//! refused; one that cannot is a probe of the path. The filter is
//! inherited by every process and thread the run starts, statically linked
//! programs included: the kernel stops them, not a library inside them.
//!
//! Two mechanisms deliver the stops, with the same recording
//! (`ptrace.rs`'s `Tracer`):
//! * seccomp user notification (`notify.rs`, Linux 5.8; woken on the
//!   caller's CPU from 6.6), the default: a notification is an `ioctl`
//!   round trip, and fork, clone and exec cost nothing;
//! * `ptrace` (`ptrace.rs`), where the kernel gives no listener: each call
//!   is a ptrace stop, and so is each fork, clone and exec.
//!
//! The observing process is a process of its own, forked before the run:
//! when the run's first process exits the observation goes to the caller,
//! and processes the run left behind (a daemon) go on being observed until
//! they exit, so they neither hang the build nor run unobserved. Such a run
//! is refused (`background-process`).
//!
//! # Compiles beside the observation
//!
//! gocache's own compiler wrapper, inside an observed run, runs a miss's
//! compiler beside the observation instead of under it (`delegate`):
//! tracing gcc costs thousands of stops a file, and the wrapper makes what
//! the compile read seen itself, as the compile cache keys it.
//!
//! # What it cannot see (written down, and refused where it matters)
//!
//! * Off Linux x86_64 nothing is observed ([`observe`] returns
//!   `Err(Unobservable)`), and the caller runs the program as it is.
//! * A 32-bit or x32 system call: refused (`32-bit-syscall`).
//! * The result of a call: the caller reads the state of each path after
//!   the run (a path the run did not write held still while it ran, as for
//!   a compile's headers; a path it wrote is an output). Whether a call
//!   that would write did write is its result under ptrace, and under
//!   notifications the path's state before it against its state after the
//!   run (`notify.rs`).
//! * What a program knows without naming a path: the clock, the host name
//!   (`uname`), the process IDs, randomness. A result embedding them is
//!   the caller's to detect.
//! * Set-user-ID programs run without their privileges (`no_new_privs`, and
//!   ptrace does the same); a build script needing them fails as under a
//!   debugger.

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
pub mod delegate;
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
mod notify;
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
mod ptrace;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// How a run touched a path (a set: one path may be read and listed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Access {
    /// Opened for reading, or its target `stat`'ed (symlinks followed).
    pub read: bool,
    /// Looked at without following a final symlink (`lstat`, `readlink`,
    /// `O_NOFOLLOW`).
    pub nofollow: bool,
    /// Executed (or tried: a shell's `PATH` search).
    pub exec: bool,
    /// Listed (`getdents`).
    pub list: bool,
    /// Created, written, truncated, removed, renamed, or its metadata changed.
    pub write: bool,
    /// Opened (not only looked at with `stat`, `access` or `readlink`).
    pub opened: bool,
}

impl Access {
    /// Merge another access to the same path.
    pub fn add(&mut self, o: Access) {
        self.read |= o.read;
        self.nofollow |= o.nofollow;
        self.exec |= o.exec;
        self.list |= o.list;
        self.write |= o.write;
        self.opened |= o.opened;
    }

    fn bits(self) -> u8 {
        self.read as u8
            | (self.nofollow as u8) << 1
            | (self.exec as u8) << 2
            | (self.list as u8) << 3
            | (self.write as u8) << 4
            | (self.opened as u8) << 5
    }

    fn from_bits(b: u8) -> Access {
        Access {
            read: b & 1 != 0,
            nofollow: b & 2 != 0,
            exec: b & 4 != 0,
            list: b & 8 != 0,
            write: b & 16 != 0,
            opened: b & 32 != 0,
        }
    }
}

/// What one observed run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Observation {
    /// The run's exit code (`None`: killed by a signal).
    pub code: Option<i32>,
    /// The signal that killed it.
    pub signal: Option<i32>,
    /// Every path named to the kernel (absolute, `.` and `..` resolved
    /// lexically), and how.
    pub paths: BTreeMap<PathBuf, Access>,
    /// Why the run's result must not be cached, as far as the observer
    /// can tell (the caller adds its own reasons).
    pub refusals: BTreeSet<String>,
}

/// Why a run cannot be observed at all.
#[derive(Debug)]
pub struct Unobservable(pub String);

/// What to run.
pub struct Run<'a> {
    /// The program.
    pub program: &'a Path,
    /// Its arguments (without the program).
    pub args: &'a [OsString],
    /// Processes running this executable (`cargo-gocache` itself, as the
    /// compiler wrapper) may use the network (the remote tier); their file
    /// accesses are recorded as any other's.
    pub own_exe: Option<PathBuf>,
}

/// Run `run` with the inherited environment, working directory and stdin,
/// and observe it. Its stdout and stderr are written through to ours as
/// they come, and returned too (empty when it left a process behind that
/// may hold them open). `Err`: it could not be observed, and nothing of it
/// ran: run it unobserved.
///
/// Call it before this process starts any thread: the tracer is forked.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
pub fn observe(run: &Run<'_>) -> Result<(Observation, Vec<u8>, Vec<u8>), Unobservable> {
    observe_with(run, true)
}

/// [`observe`], with the run's stderr kept and returned only, not written
/// through: for a caller that decides what to show once the run is over
/// (the Rust wrapper's links, which may be run again without an option
/// the linker refused).
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
pub fn observe_holding_stderr(
    run: &Run<'_>,
) -> Result<(Observation, Vec<u8>, Vec<u8>), Unobservable> {
    observe_with(run, false)
}

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
fn observe_with(
    run: &Run<'_>,
    echo_stderr: bool,
) -> Result<(Observation, Vec<u8>, Vec<u8>), Unobservable> {
    // gocache's own compiler wrapper runs its compiles beside the
    // observation (see `delegate`): bound before the fork, served after.
    let server = delegate::Server::bind(run.own_exe.as_deref());
    if server.is_none() {
        // Without it the wrapper would check its probes by directory
        // stamps, which a traced `stat` does not key as listings.
        return Err(Unobservable("no compile server".into()));
    }
    let (mut obs, stdout, stderr) = ptrace::observe(run, server.as_ref(), echo_stderr)?;
    if let Some(server) = server {
        obs.refusals.extend(server.refusals());
        // Paths the wrapper had the server look at (or list) for it.
        for (p, listed) in server.looked_at() {
            let looked = Access {
                read: !listed,
                list: listed,
                ..Access::default()
            };
            obs.paths.entry(p).or_default().add(looked);
        }
    }
    Ok((obs, stdout, stderr))
}

/// Nothing is observed off Linux x86_64.
#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
pub fn observe(_run: &Run<'_>) -> Result<(Observation, Vec<u8>, Vec<u8>), Unobservable> {
    Err(Unobservable("no observer on this platform".into()))
}

/// Nothing is observed off Linux x86_64.
#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
pub fn observe_holding_stderr(
    _run: &Run<'_>,
) -> Result<(Observation, Vec<u8>, Vec<u8>), Unobservable> {
    Err(Unobservable("no observer on this platform".into()))
}

/// Run a compiler for gocache's compiler wrapper: beside the observation
/// this process runs in, when there is one (`true`; see `delegate`: the
/// caller must then make what it read seen, [`compile_surfaced`], or the
/// run is refused when it exits, [`compile_finish`]), else here.
pub fn compile_output(
    cmd: &mut std::process::Command,
    stdin: bool,
) -> std::io::Result<(std::process::Output, bool)> {
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    return delegate::output(cmd, stdin);
    #[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
    {
        use std::process::Stdio;
        cmd.stdin(if stdin {
            Stdio::inherit()
        } else {
            Stdio::null()
        });
        cmd.output().map(|o| (o, false))
    }
}

/// Does this process run inside an observation that runs compiles beside it?
pub fn compiles_beside() -> bool {
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    return delegate::available();
    #[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
    false
}

/// What a `stat` (following symlinks) of a path found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatKind {
    /// No such name (or a path component is not a directory).
    Missing,
    /// A directory.
    Dir,
    /// Anything else that exists.
    Other,
    /// Another error (a loop, no permission).
    Error,
}

impl StatKind {
    fn of(path: &Path) -> StatKind {
        match std::fs::metadata(path) {
            Ok(m) if m.is_dir() => StatKind::Dir,
            Ok(_) => StatKind::Other,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
                ) =>
            {
                StatKind::Missing
            }
            Err(_) => StatKind::Error,
        }
    }

    fn code(self) -> u8 {
        match self {
            StatKind::Missing => b'm',
            StatKind::Dir => b'd',
            StatKind::Other => b'o',
            StatKind::Error => b'e',
        }
    }

    fn from_code(c: u8) -> Option<StatKind> {
        Some(match c {
            b'm' => StatKind::Missing,
            b'd' => StatKind::Dir,
            b'o' => StatKind::Other,
            b'e' => StatKind::Error,
            _ => return None,
        })
    }
}

/// What a `stat` of each path finds, and the paths whose state decided
/// the answers (what an observed run is keyed on: the observing process
/// answers a wrapper's probes with this, [`delegate`]; the wrapper itself
/// outside one, `crate::direct::manifest::probe_many`).
///
/// Most of a compile's probes name a file in a directory that does not
/// exist (`/usr/include/sys/include/openssl/x.h`): about 5,000 of an
/// openssl source's 5,700. Resolving `d/x` resolves `d` first, so where
/// `d` is missing or no directory (`stat` following symlinks, as the
/// compiler's `open` does), `d/x` is missing too: one `stat` of `d`
/// answers every name under it, and `d` is what the run is keyed on (its
/// absence, or its content where it is a file), which holds the answer
/// for each of them. Any other failure to `stat` `d` (no permission, a
/// loop) proves nothing: `d/x` is then asked as it is. Measured on
/// openssl-sys observed, 39 ms of each miss went to its probes (29 ms
/// with this, 13 ms once requests were read through a buffer).
pub fn stat_many(paths: &[PathBuf]) -> (Vec<StatKind>, Vec<&Path>) {
    let mut dirs: std::collections::HashMap<&Path, StatKind> = std::collections::HashMap::new();
    let mut asked: Vec<&Path> = Vec::with_capacity(paths.len());
    let codes = paths
        .iter()
        .map(|p| {
            // With a `..` in it, `d` is recorded as the lexical directory
            // it normalises to, which is not the one resolved: asked as is.
            let parent = p.parent().filter(|d| {
                !d.as_os_str().is_empty()
                    && !d
                        .components()
                        .any(|c| matches!(c, std::path::Component::ParentDir))
            });
            if let Some(d) = parent {
                let kind = *dirs.entry(d).or_insert_with(|| {
                    asked.push(d);
                    StatKind::of(d)
                });
                if matches!(kind, StatKind::Missing | StatKind::Other) {
                    return StatKind::Missing;
                }
            }
            asked.push(p);
            StatKind::of(p)
        })
        .collect();
    (codes, asked)
}

/// `stat` each path in the observing process, which records each as
/// looked at by this one (a read by gocache's own wrapper), when this
/// process runs inside an observed build script: thousands of header
/// probes then cost no ptrace stop each. `None` outside one, or if it
/// cannot be asked: `stat` them here.
pub fn stat_beside(paths: &[PathBuf]) -> Option<Vec<StatKind>> {
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    if delegate::available() && !paths.is_empty() {
        return delegate::stat(paths);
    }
    let _ = paths;
    None
}

/// [`crate::direct::scan::FileFacts`] of each file, read by the
/// observing process, which records each as read by this one and
/// remembers what it read of settled files for the rest of the run, when
/// this process runs inside an observed build script: a compile's hundred
/// headers then cost no ptrace stops. `None` outside one, or if it cannot
/// be asked: read them here.
pub fn facts_beside(
    files: &[PathBuf],
    candidates: &[String],
) -> Option<Vec<crate::direct::scan::FileFacts>> {
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    if delegate::available() && !files.is_empty() {
        return delegate::facts(files, candidates);
    }
    let _ = (files, candidates);
    None
}

/// A file's (device, inode, size, mtime ns, ctime ns), as the observing
/// process sends it.
pub type RawStamp = (u64, u64, u64, i128, i128);

/// The stamp (device, inode, size, mtime and ctime in nanoseconds) of
/// each path, taken by the observing process, which records each as read
/// by this one, when this process runs inside an observed build script:
/// the stamps a miss takes of its files before and after the compile cost
/// no ptrace stop each. `None` outside one, or if it cannot be asked.
pub fn stamps_beside(paths: &[PathBuf]) -> Option<Vec<Option<RawStamp>>> {
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    if delegate::available() && !paths.is_empty() {
        return delegate::stamps(paths);
    }
    let _ = paths;
    None
}

/// Have the observing process record `files` as read (their content is
/// keyed) and `dirs` as listed by this process, without anyone reading or
/// listing them now: what a compile run beside the observation may have
/// read, when the wrapper does not key it itself. `false` outside an
/// observation or if it cannot be told: then read and list them here.
pub fn seen_beside(files: &[PathBuf], dirs: &[PathBuf]) -> bool {
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    if delegate::available() {
        return delegate::seen(files, dirs);
    }
    let _ = (files, dirs);
    false
}

/// What the compiles run beside the observation read has been made seen
/// (read, stat'ed or listed by this process), or they were run again inside.
pub fn compile_surfaced() {
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    delegate::surfaced();
}

/// Before the wrapper exits: a compile run beside the observation whose
/// reads were not made seen refuses the observed run
/// (`unobserved-compile`).
pub fn compile_finish() {
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    delegate::finish();
}

/// `path` was written by a compile run beside the observation: make the
/// observation see the write.
pub fn compile_wrote(path: &Path) {
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    if delegate::available() {
        delegate::report_write(path);
    }
    #[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
    let _ = path;
}

/// `path` with `.` and `..` resolved lexically.
pub fn normalize(path: &Path) -> PathBuf {
    gocache_build::protocol::rerun::normalize(path)
}

impl Observation {
    /// The wire form between the tracer process and its caller: the exit
    /// code, the refusals, then one `bits len path` record per path.
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(
            format!(
                "code {}\n",
                match (self.code, self.signal) {
                    (Some(c), _) => c.to_string(),
                    (None, s) => format!("signal {}", s.unwrap_or(0)),
                }
            )
            .as_bytes(),
        );
        for r in &self.refusals {
            out.extend_from_slice(format!("refuse {}\n", r.replace('\n', " ")).as_bytes());
        }
        for (p, a) in &self.paths {
            let bytes = path_bytes(p);
            out.extend_from_slice(format!("path {} {}\n", a.bits(), bytes.len()).as_bytes());
            out.extend_from_slice(bytes);
            out.push(b'\n');
        }
        out.extend_from_slice(b"end\n");
        out
    }

    fn decode(mut data: &[u8]) -> Option<Observation> {
        let mut obs = Observation::default();
        loop {
            let nl = data.iter().position(|&b| b == b'\n')?;
            let line = std::str::from_utf8(&data[..nl]).ok()?;
            data = &data[nl + 1..];
            let (kind, rest) = line.split_once(' ').unwrap_or((line, ""));
            match kind {
                "code" => match rest.strip_prefix("signal ") {
                    Some(s) => obs.signal = Some(s.parse().ok()?),
                    None => obs.code = Some(rest.parse().ok()?),
                },
                "refuse" => {
                    obs.refusals.insert(rest.to_string());
                }
                "path" => {
                    let (bits, len) = rest.split_once(' ')?;
                    let len: usize = len.parse().ok()?;
                    let p = data.get(..len)?;
                    if data.get(len) != Some(&b'\n') {
                        return None;
                    }
                    obs.paths
                        .insert(bytes_path(p), Access::from_bits(bits.parse().ok()?));
                    data = &data[len + 1..];
                }
                "end" => return Some(obs),
                _ => return None,
            }
        }
    }
}

#[cfg(unix)]
fn path_bytes(p: &Path) -> &[u8] {
    use std::os::unix::ffi::OsStrExt;
    p.as_os_str().as_bytes()
}

#[cfg(unix)]
fn bytes_path(b: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    PathBuf::from(std::ffi::OsStr::from_bytes(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_round_trip_their_wire_form() {
        let mut o = Observation {
            code: Some(3),
            ..Default::default()
        };
        o.refusals.insert("network".into());
        o.paths.insert(
            PathBuf::from("/a b/\nc"),
            Access {
                read: true,
                list: true,
                ..Default::default()
            },
        );
        o.paths.insert(
            PathBuf::from("/x"),
            Access {
                write: true,
                ..Default::default()
            },
        );
        assert_eq!(Observation::decode(&o.encode()), Some(o.clone()));
        o.code = None;
        o.signal = Some(9);
        assert_eq!(Observation::decode(&o.encode()), Some(o.clone()));
        // Cut anywhere: never a wrong observation.
        let wire = o.encode();
        for cut in 0..wire.len() {
            assert_eq!(Observation::decode(&wire[..cut]), None, "cut at {cut}");
        }
    }
}
