//! Compiles run beside an observation instead of inside it.
//!
//! Tracing costs a stop per path system call, and a compiler makes many:
//! gcc compiling a file that includes four system headers makes about
//! 1,700 (`cc1` canonicalises every header path with a `readlink` per
//! component), about 30 ms of stops on a compile of 35 ms. A configure
//! script runs hundreds of such compiles, a `cc` build one per source.
//!
//! gocache's own compiler wrapper already knows what a compile it caches
//! read: the depfile's files and the search-path probes it keys
//! ([`crate::direct`]). Inside an observation it has the observing
//! process read them for it ([`facts`]: each file's hash and what a scan
//! of its text finds; [`stat`]: each probe), which records them as read by
//! the wrapper, and what it read of settled files serves the rest of the
//! run (every configure probe includes `stdio.h`): a compile's hundred
//! headers cost one request instead of five ptrace stops each. So when the
//! wrapper runs inside an observed build script, it hands the compiler
//! runs of a miss (the compile and its preprocessing passes) to the
//! observing process, which runs them untraced and returns their exit
//! status and output ([`output`]); what they read reaches the observation
//! through the wrapper's own reads, and what they wrote is the object,
//! which the wrapper reports as written ([`report_write`]) when it is not
//! in `OUT_DIR`. Where the wrapper does not key what the compile read (a
//! compile that failed, a result it does not cache), it either runs the
//! compiler again inside the observation (the caller sees that run), or
//! tells the observing process to record a superset of what it may have
//! read ([`seen`]: every file the depfile lists, every directory
//! searched, listed), or tells the observer the run cannot be cached
//! ([`refuse`]: `unobserved-compile`).
//!
//! What this trusts: gocache's own wrapper, which the compile cache
//! trusts already (a hit there is served on the same inputs). The compiler
//! driver and its assembler are inputs of the compile's key; the compiler's
//! internal programs (`cc1`, `collect2`) are not, as in the compile cache
//! ([`crate::key::compiler`]).
//!
//! The server accepts only processes running gocache's own executable
//! (`SO_PEERCRED`, then `/proc/<pid>/exe` compared by device and inode),
//! so a build script cannot run anything unobserved through it. The socket
//! is an abstract one (no file), named in [`VAR`].

use std::collections::{BTreeSet, HashMap, HashSet};
use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::{SocketAddr, UnixListener, UnixStream};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::direct::scan::FileFacts;

/// The abstract socket's name, set for the observed run.
pub const VAR: &str = "CARGO_GOCACHE_OBSERVER_EXEC";
/// The wire format's first field.
const VERSION: &[u8] = b"gocache-exec-1";

/// A compile ran beside the observation and what it read is not yet seen.
static UNSURFACED: AtomicBool = AtomicBool::new(false);

/// The observing process's side.
pub struct Server {
    name: String,
    listener: UnixListener,
    own: (u64, u64),
    shared: Arc<Shared>,
}

/// What the wrapper processes told the observing process.
#[derive(Default)]
struct Shared {
    refusals: Mutex<BTreeSet<String>>,
    /// Paths `stat`'ed or read here on a wrapper's behalf ([`stat`],
    /// [`facts`]), or that it says it read (`false`) or listed (`true`)
    /// ([`seen`]).
    /// A set: a configure run's thousand probe compiles name `stdio.h`'s
    /// headers a thousand times. Hashed by the path's bytes: an ordered set
    /// of `PathBuf`s compares paths component by component, about 5 µs an
    /// insert into a run's tens of thousands, for each of the thousand or
    /// more probes of every compile.
    looked_at: Mutex<HashSet<(Vec<u8>, bool)>>,
    /// This process's umask, read at [`Server::bind`]: a compile asked
    /// for with the same one is spawned without a `pre_exec` hook.
    umask: libc::mode_t,
    /// What [`facts`] read of settled files, by path: the stamp it was read
    /// at, and what was read under it.
    facts: Mutex<HashMap<PathBuf, FactsMemo>>,
}

/// A stamp, and what was read under it.
type FactsMemo = (super::RawStamp, Arc<ReadFacts>);

/// What [`facts`] read of a settled file.
struct ReadFacts {
    /// The facts but their names.
    facts: FileFacts,
    /// The spliced text to find names in.
    spliced: Vec<u8>,
    /// The names found for each list of candidates asked about: every
    /// compile of a build passes the same `-D` names, and finding them
    /// goes over every byte of every header (openssl's compiles read about
    /// 2 MB of headers each).
    named: Mutex<Vec<(Vec<String>, Vec<String>)>>,
}

impl Server {
    /// Bind a fresh abstract socket, to be named in [`VAR`] in the
    /// observed run's environment. `None` (nothing is delegated) if it
    /// cannot, or without gocache's own executable to compare peers with.
    /// Call before forking the observed run; [`Server::serve`] after.
    pub fn bind(own_exe: Option<&Path>) -> Option<Server> {
        let meta = std::fs::metadata(own_exe?).ok()?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        let name = format!("gocache-exec-{}-{nanos:x}", std::process::id());
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).ok()?;
        let listener = UnixListener::bind_addr(&addr).ok()?;
        // SAFETY: umask has no failure; set back at once, before this
        // process starts a thread (see above).
        let umask = unsafe {
            let m = libc::umask(0o022);
            libc::umask(m);
            m
        };
        Some(Server {
            name,
            listener,
            own: (meta.dev(), meta.ino()),
            shared: Arc::new(Shared {
                umask,
                ..Shared::default()
            }),
        })
    }

    /// The socket's name, for [`VAR`] in the observed run's environment.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Serve requests on threads of their own until this process exits.
    pub fn serve(&self) {
        let Ok(listener) = self.listener.try_clone() else {
            return;
        };
        let own = self.own;
        let shared = Arc::clone(&self.shared);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let shared = Arc::clone(&shared);
                std::thread::spawn(move || {
                    if is_own(&stream, own) {
                        let started = std::time::Instant::now();
                        let kind = handle(stream, &shared).unwrap_or("failed");
                        if crate::env::debug("miss-phases") {
                            // How long the observing process took to answer.
                            let ms = started.elapsed().as_secs_f64() * 1000.0;
                            eprintln!("gocache: served {kind} {ms:.2}");
                        }
                    }
                });
            }
        });
    }

    /// What the wrapper processes told the observer to refuse.
    pub fn refusals(&self) -> BTreeSet<String> {
        self.shared
            .refusals
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }

    /// The paths looked at on the wrappers' behalf (`true`: listed).
    pub fn looked_at(&self) -> Vec<(PathBuf, bool)> {
        self.shared
            .looked_at
            .lock()
            .map(|r| {
                let mut all: Vec<(PathBuf, bool)> = r
                    .iter()
                    .map(|(p, l)| (PathBuf::from(OsString::from_vec(p.clone())), *l))
                    .collect();
                all.sort();
                all
            })
            .unwrap_or_default()
    }
}

/// Is the peer a process of gocache's own executable?
fn is_own(stream: &UnixStream, own: (u64, u64)) -> bool {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: SO_PEERCRED fills a ucred of the given length.
    let rc = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            &mut cred as *mut libc::ucred as *mut libc::c_void,
            &mut len,
        )
    };
    rc == 0
        && std::fs::metadata(format!("/proc/{}/exe", cred.pid))
            .is_ok_and(|m| (m.dev(), m.ino()) == own)
}

fn handle(mut stream: UnixStream, shared: &Shared) -> io::Result<&'static str> {
    let stdin = recv_fd(&stream)?;
    let fields = read_fields(&mut stream)?;
    let mut it = fields.into_iter();
    if it.next().as_deref() != Some(VERSION) {
        return Err(io::ErrorKind::InvalidData.into());
    }
    let kind = it.next().unwrap_or_default();
    if kind == b"refuse" {
        let why = String::from_utf8_lossy(&it.next().unwrap_or_default()).into_owned();
        if let Ok(mut r) = shared.refusals.lock() {
            r.insert(why);
        }
        return write_fields(&mut stream, &[b"ok".to_vec()]).map(|()| "refuse");
    }
    if kind == b"stat" {
        let paths: Vec<PathBuf> = it.map(|p| PathBuf::from(OsString::from_vec(p))).collect();
        let (kinds, asked) = super::stat_many(&paths);
        let codes: Vec<u8> = kinds.iter().map(|k| k.code()).collect();
        // Recorded before the answer: the wrapper acts on what it gets.
        if let Ok(mut l) = shared.looked_at.lock() {
            l.extend(
                asked
                    .into_iter()
                    .map(|p| (path_bytes(super::normalize(p)), false)),
            );
        }
        return write_fields(&mut stream, &[b"stat".to_vec(), codes]).map(|()| "stat");
    }
    let bad = || io::Error::from(io::ErrorKind::InvalidData);
    if kind == b"seen" {
        let mut seen = Vec::new();
        for f in it {
            let (listed, path) = match f.split_first() {
                Some((b'r', p)) => (false, p),
                Some((b'd', p)) => (true, p),
                _ => return Err(bad()),
            };
            let path = PathBuf::from(OsString::from_vec(path.to_vec()));
            if !path.is_absolute() {
                return Err(bad());
            }
            seen.push((path_bytes(super::normalize(&path)), listed));
        }
        if let Ok(mut l) = shared.looked_at.lock() {
            l.extend(seen);
        }
        return write_fields(&mut stream, &[b"ok".to_vec()]).map(|()| "seen");
    }
    if kind == b"stamps" {
        let paths = looked_at(shared, it)?;
        let mut reply = vec![b"stamps".to_vec()];
        reply.extend(paths.iter().map(|p| match stamp_of(p) {
            Some(s) => format!("{} {} {} {} {}", s.0, s.1, s.2, s.3, s.4).into_bytes(),
            None => b"-".to_vec(),
        }));
        return write_fields(&mut stream, &reply).map(|()| "stamps");
    }
    if kind == b"facts" {
        let n: usize = std::str::from_utf8(&it.next().ok_or_else(bad)?)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(bad)?;
        let candidates: Vec<String> = it
            .by_ref()
            .take(n)
            .map(|c| String::from_utf8(c).map_err(|_| bad()))
            .collect::<io::Result<_>>()?;
        let paths = looked_at(shared, it)?;
        let mut reply = vec![b"facts".to_vec()];
        for p in &paths {
            facts_of(shared, p, &candidates).encode(&mut reply);
        }
        return write_fields(&mut stream, &reply).map(|()| "facts");
    }
    let cwd = PathBuf::from(OsString::from_vec(it.next().ok_or_else(bad)?));
    let umask: libc::mode_t = std::str::from_utf8(&it.next().ok_or_else(bad)?)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(bad)?;
    let program = OsString::from_vec(it.next().ok_or_else(bad)?);
    let argc: usize = std::str::from_utf8(&it.next().ok_or_else(bad)?)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(bad)?;
    let args: Vec<OsString> = it.by_ref().take(argc).map(OsString::from_vec).collect();
    if args.len() != argc {
        return Err(bad());
    }
    let mut cmd = Command::new(program);
    cmd.args(args).env_clear().current_dir(cwd);
    for kv in it {
        let at = kv.iter().position(|&b| b == b'=').ok_or_else(bad)?;
        cmd.env(
            OsString::from_vec(kv[..at].to_vec()),
            OsString::from_vec(kv[at + 1..].to_vec()),
        );
    }
    cmd.stdin(match stdin {
        Some(fd) => Stdio::from(fd),
        None => Stdio::null(),
    });
    if umask != shared.umask {
        // A hook makes std fork this process (page tables and all; it may
        // hold hundreds of MB by the end of a configure run) instead of
        // `posix_spawn`'s vfork: only when the wrapper's umask differs.
        // SAFETY: umask is async-signal-safe.
        unsafe {
            cmd.pre_exec(move || {
                libc::umask(umask);
                Ok(())
            });
        }
    }
    let reply = match cmd.output() {
        Ok(out) => vec![
            b"status".to_vec(),
            out.status.into_raw().to_string().into_bytes(),
            out.stdout,
            out.stderr,
        ],
        Err(e) => vec![b"spawn-failed".to_vec(), e.to_string().into_bytes()],
    };
    write_fields(&mut stream, &reply).map(|()| "run")
}

/// [`FileFacts::of`] `path`, from what an earlier request read of it while
/// its stamp holds. Only settled files are remembered (mtime and ctime
/// older than the racy window, as `FileMemo` does): configure rewrites
/// `conftest.c` many times a second, a size kept and a tick shared.
fn facts_of(shared: &Shared, path: &Path, candidates: &[String]) -> FileFacts {
    let stamp = stamp_of(path);
    if let Some(stamp) = stamp {
        let known = shared.facts.lock().ok().and_then(|m| {
            m.get(path)
                .filter(|(s, _)| *s == stamp)
                .map(|(_, f)| f.clone())
        });
        if let Some(known) = known {
            return known.naming(candidates);
        }
    }
    let (facts, spliced) = FileFacts::read(path);
    let now = crate::direct::scan::ns_since_epoch(std::time::SystemTime::now());
    let cutoff = now - crate::fsutil::RACY.as_nanos() as i128;
    if let Some(stamp) = stamp.filter(|s| s.3 < cutoff && s.4 < cutoff) {
        let read = Arc::new(ReadFacts {
            facts,
            spliced,
            named: Mutex::new(Vec::new()),
        });
        if let Ok(mut m) = shared.facts.lock() {
            m.insert(path.to_path_buf(), (stamp, Arc::clone(&read)));
        }
        return read.naming(candidates);
    }
    facts.naming(&spliced, candidates)
}

impl ReadFacts {
    /// The facts with the names among `candidates` the text holds, found
    /// once per list of candidates.
    fn naming(&self, candidates: &[String]) -> FileFacts {
        let known = self.named.lock().ok().and_then(|n| {
            n.iter()
                .find(|(c, _)| c == candidates)
                .map(|(_, named)| named.clone())
        });
        let named = match known {
            Some(named) => named,
            None => {
                let named = crate::direct::scan::names_in(&self.spliced, candidates);
                if let Ok(mut n) = self.named.lock() {
                    // A few lists per file at most, in any build seen;
                    // bounded all the same.
                    if n.len() >= 16 {
                        n.remove(0);
                    }
                    n.push((candidates.to_vec(), named.clone()));
                }
                named
            }
        };
        FileFacts {
            named,
            ..self.facts.clone()
        }
    }
}

/// A path's bytes, for the set of paths looked at.
fn path_bytes(p: PathBuf) -> Vec<u8> {
    p.into_os_string().into_vec()
}

/// The rest of a request, absolute paths the wrapper has looked at here:
/// recorded as read by it before the answer (the wrapper acts on what it
/// gets).
fn looked_at(shared: &Shared, fields: impl Iterator<Item = Vec<u8>>) -> io::Result<Vec<PathBuf>> {
    let paths: Vec<PathBuf> = fields
        .map(|p| PathBuf::from(OsString::from_vec(p)))
        .collect();
    if paths.iter().any(|p| !p.is_absolute()) {
        return Err(io::ErrorKind::InvalidData.into());
    }
    if let Ok(mut l) = shared.looked_at.lock() {
        l.extend(
            paths
                .iter()
                .map(|p| (path_bytes(super::normalize(p)), false)),
        );
    }
    Ok(paths)
}

/// (device, inode, size, mtime ns, ctime ns) of `path`, symlinks followed.
fn stamp_of(path: &Path) -> Option<super::RawStamp> {
    std::fs::metadata(path).ok().map(|m| {
        (
            m.dev(),
            m.ino(),
            m.size(),
            m.mtime() as i128 * 1_000_000_000 + m.mtime_nsec() as i128,
            m.ctime() as i128 * 1_000_000_000 + m.ctime_nsec() as i128,
        )
    })
}

/// Stamps of `paths` taken by the observing process (see
/// [`super::stamps_beside`]). `None` if it cannot be asked.
pub fn stamps(paths: &[PathBuf]) -> Option<Vec<Option<super::RawStamp>>> {
    if paths.iter().any(|p| !p.is_absolute()) {
        return None;
    }
    let mut stream = connect()?;
    send_fd(&stream, None).ok()?;
    let mut fields = vec![VERSION.to_vec(), b"stamps".to_vec()];
    fields.extend(paths.iter().map(|p| p.as_os_str().as_bytes().to_vec()));
    write_fields(&mut stream, &fields).ok()?;
    let reply = read_fields(&mut stream).ok()?;
    let (kind, rest) = reply.split_first()?;
    if kind != b"stamps" || rest.len() != paths.len() {
        return None;
    }
    rest.iter()
        .map(|f| {
            if f == b"-" {
                return Some(None);
            }
            let text = std::str::from_utf8(f).ok()?;
            let mut it = text.split(' ');
            let mut next = || it.next();
            let stamp = (
                next()?.parse().ok()?,
                next()?.parse().ok()?,
                next()?.parse().ok()?,
                next()?.parse().ok()?,
                next()?.parse().ok()?,
            );
            Some(Some(stamp))
        })
        .collect()
}

/// [`FileFacts`] of `files` read by the observing process (see
/// [`super::facts_beside`]). `None` if it cannot be asked.
pub fn facts(files: &[PathBuf], candidates: &[String]) -> Option<Vec<FileFacts>> {
    if files.iter().any(|f| !f.is_absolute()) {
        return None;
    }
    let mut stream = connect()?;
    send_fd(&stream, None).ok()?;
    let mut fields = vec![
        VERSION.to_vec(),
        b"facts".to_vec(),
        candidates.len().to_string().into_bytes(),
    ];
    fields.extend(candidates.iter().map(|c| c.as_bytes().to_vec()));
    fields.extend(files.iter().map(|f| f.as_os_str().as_bytes().to_vec()));
    write_fields(&mut stream, &fields).ok()?;
    let reply = read_fields(&mut stream).ok()?;
    let mut it = reply.into_iter();
    if it.next()? != b"facts" {
        return None;
    }
    let facts: Vec<FileFacts> = files
        .iter()
        .map(|_| FileFacts::decode(&mut it))
        .collect::<Option<_>>()?;
    it.next().is_none().then_some(facts)
}

/// Tell the observing process that this one read `files` and listed
/// `dirs` (see [`super::seen_beside`]). `false` if it could not be told.
pub fn seen(files: &[PathBuf], dirs: &[PathBuf]) -> bool {
    let told = (|| {
        let mut fields = vec![VERSION.to_vec(), b"seen".to_vec()];
        for (mark, paths) in [(b'r', files), (b'd', dirs)] {
            for p in paths {
                if !p.is_absolute() {
                    return None;
                }
                let mut f = vec![mark];
                f.extend_from_slice(p.as_os_str().as_bytes());
                fields.push(f);
            }
        }
        let mut stream = connect()?;
        send_fd(&stream, None).ok()?;
        write_fields(&mut stream, &fields).ok()?;
        let reply = read_fields(&mut stream).ok()?;
        (reply.first().map(Vec::as_slice) == Some(b"ok")).then_some(())
    })();
    told.is_some()
}

/// Connect to the observer's server, if this process runs inside an
/// observation that offers one.
fn connect() -> Option<UnixStream> {
    let name = crate::env::var(VAR)?;
    let addr = SocketAddr::from_abstract_name(name.as_bytes()).ok()?;
    UnixStream::connect_addr(&addr).ok()
}

/// Does this process run inside an observation that runs compiles beside it?
pub fn available() -> bool {
    crate::env::var_os(VAR).is_some()
}

/// Run `cmd` to completion and capture its output, beside the observation
/// when there is one (`true`), else here (`false`). `stdin`: the child
/// reads this process's standard input (else nothing). Every failure to
/// delegate runs it here.
pub fn output(cmd: &mut Command, stdin: bool) -> io::Result<(Output, bool)> {
    if available() {
        if let Some(out) = delegated(cmd, stdin) {
            UNSURFACED.store(true, Ordering::Relaxed);
            return Ok((out, true));
        }
    }
    cmd.stdin(if stdin {
        Stdio::inherit()
    } else {
        Stdio::null()
    });
    cmd.output().map(|o| (o, false))
}

fn delegated(cmd: &Command, stdin: bool) -> Option<Output> {
    let mut stream = connect()?;
    let cwd = match cmd.get_current_dir() {
        Some(d) => d.to_path_buf(),
        None => std::env::current_dir().ok()?,
    };
    // SAFETY: umask has no failure; set back at once.
    let umask = unsafe {
        let m = libc::umask(0o022);
        libc::umask(m);
        m
    };
    let mut env: Vec<(OsString, OsString)> = std::env::vars_os().collect();
    for (k, v) in cmd.get_envs() {
        env.retain(|(name, _)| name != k);
        if let Some(v) = v {
            env.push((k.to_os_string(), v.to_os_string()));
        }
    }
    let mut fields = vec![
        VERSION.to_vec(),
        b"exec".to_vec(),
        cwd.into_os_string().into_vec(),
        umask.to_string().into_bytes(),
        cmd.get_program().as_bytes().to_vec(),
        cmd.get_args().count().to_string().into_bytes(),
    ];
    fields.extend(cmd.get_args().map(|a| a.as_bytes().to_vec()));
    for (k, v) in env {
        let mut kv = k.into_vec();
        kv.push(b'=');
        kv.extend_from_slice(v.as_bytes());
        fields.push(kv);
    }
    send_fd(&stream, stdin.then_some(0)).ok()?;
    write_fields(&mut stream, &fields).ok()?;
    let reply = read_fields(&mut stream).ok()?;
    match reply.as_slice() {
        [kind, status, stdout, stderr] if kind == b"status" => {
            let raw: i32 = std::str::from_utf8(status).ok()?.parse().ok()?;
            Some(Output {
                status: ExitStatus::from_raw(raw),
                stdout: stdout.clone(),
                stderr: stderr.clone(),
            })
        }
        _ => None,
    }
}

/// What the compiles run beside read has been made seen.
pub fn surfaced() {
    UNSURFACED.store(false, Ordering::Relaxed);
}

/// Before the wrapper exits: refuse the observed run if a compile's reads
/// stayed unseen. If even that cannot be told, leave a file in the
/// temporary directory, which the run's caller refuses
/// (`temp-file-left`): never an observation that misses a read.
pub fn finish() {
    if UNSURFACED.swap(false, Ordering::Relaxed) && !refuse("unobserved-compile") {
        let marker =
            std::env::temp_dir().join(format!("gocache-unobserved-compile-{}", std::process::id()));
        let _ = std::fs::write(marker, b"");
    }
}

/// `stat` `paths` in the observing process, which records them as read
/// by this one. `None` if it cannot be asked.
pub fn stat(paths: &[PathBuf]) -> Option<Vec<super::StatKind>> {
    let mut stream = connect()?;
    send_fd(&stream, None).ok()?;
    let mut fields = vec![VERSION.to_vec(), b"stat".to_vec()];
    for p in paths {
        // Absolute, as the observer records paths; relative ones are asked here.
        if !p.is_absolute() {
            return None;
        }
        fields.push(p.as_os_str().as_bytes().to_vec());
    }
    write_fields(&mut stream, &fields).ok()?;
    let reply = read_fields(&mut stream).ok()?;
    match reply.as_slice() {
        [kind, codes] if kind == b"stat" && codes.len() == paths.len() => codes
            .iter()
            .map(|&c| super::StatKind::from_code(c))
            .collect(),
        _ => None,
    }
}

/// Tell the observer that this run cannot be cached, and why. Nothing
/// outside an observation. `false` if it could not be told (the caller
/// must then make the observation see what it hid).
pub fn refuse(why: &str) -> bool {
    if !available() {
        return true;
    }
    let told = (|| {
        let mut stream = connect()?;
        send_fd(&stream, None).ok()?;
        write_fields(
            &mut stream,
            &[
                VERSION.to_vec(),
                b"refuse".to_vec(),
                why.as_bytes().to_vec(),
            ],
        )
        .ok()?;
        read_fields(&mut stream).ok()
    })();
    told.is_some()
}

/// Make the observation see that `path` was written by a compile it did
/// not trace: open it for writing without changing it (no truncation, no
/// byte written, so its time stamps stay).
pub fn report_write(path: &Path) {
    let _ = std::fs::OpenOptions::new().append(true).open(path);
}

fn write_fields(stream: &mut UnixStream, fields: &[Vec<u8>]) -> io::Result<()> {
    let mut buf = Vec::with_capacity(fields.iter().map(|f| f.len() + 4).sum::<usize>() + 4);
    buf.extend_from_slice(&(fields.len() as u32).to_le_bytes());
    for f in fields {
        buf.extend_from_slice(&(f.len() as u32).to_le_bytes());
        buf.extend_from_slice(f);
    }
    stream.write_all(&buf)?;
    stream.flush()
}

fn read_fields(stream: &mut UnixStream) -> io::Result<Vec<Vec<u8>>> {
    // Buffered: a compile's probes are 5,000 fields, and unbuffered each
    // cost two or three `recv` calls (about 20 ms of every openssl miss
    // inside an observed build script). Reading ahead is safe: each side
    // reads one message per connection and nothing after it.
    let mut stream = io::BufReader::with_capacity(1 << 16, &*stream);
    let mut word = [0u8; 4];
    stream.read_exact(&mut word)?;
    let n = u32::from_le_bytes(word) as usize;
    if n > 1 << 20 {
        return Err(io::ErrorKind::InvalidData.into());
    }
    let mut fields = Vec::with_capacity(n.min(4096));
    for _ in 0..n {
        stream.read_exact(&mut word)?;
        let len = u32::from_le_bytes(word) as usize;
        let mut f = Vec::new();
        (&mut stream).take(len as u64).read_to_end(&mut f)?;
        if f.len() != len {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        fields.push(f);
    }
    Ok(fields)
}

/// One byte, with `fd` (if any) passed along as `SCM_RIGHTS`.
pub(super) fn send_fd(stream: &UnixStream, fd: Option<RawFd>) -> io::Result<()> {
    let mut byte = [fd.is_some() as u8];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr() as *mut libc::c_void,
        iov_len: 1,
    };
    // Room for one descriptor, aligned as cmsghdr wants.
    let mut control = [0u64; 4];
    // SAFETY: msghdr zeroed, then pointed at live buffers; CMSG_* on a
    // control buffer sized by CMSG_SPACE for one int.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        if let Some(fd) = fd {
            let space = libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) as usize;
            msg.msg_control = control.as_mut_ptr() as *mut libc::c_void;
            msg.msg_controllen = space;
            let cmsg = libc::CMSG_FIRSTHDR(&msg);
            (*cmsg).cmsg_level = libc::SOL_SOCKET;
            (*cmsg).cmsg_type = libc::SCM_RIGHTS;
            (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as usize;
            std::ptr::write_unaligned(libc::CMSG_DATA(cmsg) as *mut RawFd, fd);
        }
        if libc::sendmsg(stream.as_raw_fd(), &msg, 0) != 1 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The byte [`send_fd`] sent, and its descriptor if it carried one.
pub(super) fn recv_fd(stream: &UnixStream) -> io::Result<Option<OwnedFd>> {
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr() as *mut libc::c_void,
        iov_len: 1,
    };
    let mut control = [0u64; 4];
    // SAFETY: as in send_fd; a descriptor received is owned from here.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr() as *mut libc::c_void;
        msg.msg_controllen = std::mem::size_of_val(&control);
        if libc::recvmsg(stream.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) != 1 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        if cmsg.is_null()
            || (*cmsg).cmsg_level != libc::SOL_SOCKET
            || (*cmsg).cmsg_type != libc::SCM_RIGHTS
        {
            return Ok(None);
        }
        let fd = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg) as *const RawFd);
        Ok(Some(OwnedFd::from_raw_fd(fd)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The probes' shortcut (one `stat` of a missing directory for every
    /// name under it): on random trees of directories, files and symlinks
    /// (dangling or not), each answer is a plain `stat`'s; and the paths
    /// recorded decide the answers: after random changes that leave every
    /// recorded path as it was (kind and content), every answer is the same.
    #[test]
    fn probe_shortcut_answers_as_stat_and_records_what_decides() {
        use super::super::{normalize, stat_many, StatKind};
        let state = |p: &Path| match StatKind::of(p) {
            StatKind::Other => format!("o {:?}", std::fs::read(p).ok()),
            k => format!("{k:?}"),
        };
        let mut checked = 0;
        for seed in 0..200u64 {
            let mut next = crate::testing::picker(seed);
            let tmp = tempfile::tempdir().unwrap();
            let root = tmp.path().join("r");
            std::fs::create_dir(&root).unwrap();
            let tree = crate::testing::RandomTree { root: root.clone() };
            for _ in 0..6 {
                let p = tree.path(&mut next, false);
                tree.make(&p, &mut next);
            }
            let probes: Vec<PathBuf> = (0..40).map(|_| tree.path(&mut next, true)).collect();
            let (kinds, asked) = stat_many(&probes);
            let codes: Vec<u8> = kinds.iter().map(|k| k.code()).collect();
            for (p, c) in probes.iter().zip(&codes) {
                assert_eq!(*c, StatKind::of(p).code(), "seed {seed}: {p:?}");
            }
            let recorded: Vec<(PathBuf, String)> = asked
                .iter()
                .map(|p| (normalize(p), state(&normalize(p))))
                .collect();
            for _ in 0..3 {
                tree.change(&mut next);
            }
            if recorded.iter().all(|(p, s)| state(p) == *s) {
                checked += 1;
                for (p, c) in probes.iter().zip(&codes) {
                    // A `..` is recorded lexically (as before the shortcut):
                    // what it names through a symlink is not what decides.
                    if p.components().any(|c| c == std::path::Component::ParentDir) {
                        continue;
                    }
                    assert_eq!(
                        StatKind::of(p).code(),
                        *c,
                        "seed {seed}: {p:?} changed while every recorded path held"
                    );
                }
            }
        }
        assert!(
            checked > 20,
            "only {checked} trees kept their recorded paths"
        );
    }

    #[test]
    fn fields_round_trip_over_a_socket_pair() {
        let (mut a, mut b) = UnixStream::pair().unwrap();
        let fields = vec![b"x".to_vec(), Vec::new(), vec![0u8, 255, b'\n']];
        write_fields(&mut a, &fields).unwrap();
        assert_eq!(read_fields(&mut b).unwrap(), fields);
        // Cut short: an error, never fewer fields.
        a.write_all(&3u32.to_le_bytes()).unwrap();
        a.write_all(&1u32.to_le_bytes()).unwrap();
        drop(a);
        assert!(read_fields(&mut b).is_err());
    }

    #[test]
    fn a_descriptor_crosses_the_socket() {
        let (a, b) = UnixStream::pair().unwrap();
        let file = tempfile::tempfile().unwrap();
        send_fd(&a, Some(file.as_raw_fd())).unwrap();
        let got = recv_fd(&b).unwrap().expect("a descriptor");
        let (m1, m2) = (
            file.metadata().unwrap(),
            std::fs::File::from(got).metadata().unwrap(),
        );
        assert_eq!((m1.dev(), m1.ino()), (m2.dev(), m2.ino()));
        send_fd(&a, None).unwrap();
        assert!(recv_fd(&b).unwrap().is_none());
    }
}
