//! The Linux x86_64 observer's common part, and its ptrace mechanism: the
//! caller's side ([`observe`]: start the observing process, tee the run's
//! output, read the report), the recording of a call ([`Tracer`], shared
//! with `notify.rs`), and the ptrace tracer, used where the kernel gives
//! no seccomp listener or with `CARGO_GOCACHE_DEBUG=observer-ptrace`.
//!
//! Three processes: the caller (which tees the run's stdout and stderr as
//! they come), the tracer (forked from the caller, single-threaded), and
//! the run (forked from the tracer: `PTRACE_TRACEME`, stop, the seccomp
//! filter, `execve`). Setting the tracer's options before the filter is
//! installed matters: a `SECCOMP_RET_TRACE` call with no tracer listening
//! fails with `ENOSYS`. For the same reason no tracee is ever detached.

use std::collections::{HashMap, HashSet};
use std::ffi::CString;
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{normalize, Access, Observation, Run, Unobservable};

const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
const X32_BIT: u64 = 0x4000_0000;
/// The run's first process exits with this before `execve` when it cannot
/// be traced (nothing of the program ran).
pub(super) const CANNOT_TRACE: i32 = 0x7d;
/// How long processes the run left behind may take to exit before the
/// observation is reported without them.
pub(super) const LINGER: Duration = Duration::from_millis(500);

/// x86_64 system call numbers (`asm/unistd_64.h`).
mod nr {
    pub const OPEN: u64 = 2;
    pub const STAT: u64 = 4;
    pub const LSTAT: u64 = 6;
    pub const ACCESS: u64 = 21;
    pub const SOCKET: u64 = 41;
    pub const CONNECT: u64 = 42;
    pub const BIND: u64 = 49;
    pub const EXECVE: u64 = 59;
    pub const TRUNCATE: u64 = 76;
    pub const GETDENTS: u64 = 78;
    pub const RENAME: u64 = 82;
    pub const MKDIR: u64 = 83;
    pub const RMDIR: u64 = 84;
    pub const CREAT: u64 = 85;
    pub const LINK: u64 = 86;
    pub const UNLINK: u64 = 87;
    pub const SYMLINK: u64 = 88;
    pub const READLINK: u64 = 89;
    pub const CHMOD: u64 = 90;
    pub const CHOWN: u64 = 92;
    pub const LCHOWN: u64 = 94;
    pub const UTIME: u64 = 132;
    pub const MKNOD: u64 = 133;
    pub const CHROOT: u64 = 161;
    pub const GETDENTS64: u64 = 217;
    pub const UTIMES: u64 = 235;
    pub const OPENAT: u64 = 257;
    pub const MKDIRAT: u64 = 258;
    pub const MKNODAT: u64 = 259;
    pub const FCHOWNAT: u64 = 260;
    pub const FUTIMESAT: u64 = 261;
    pub const NEWFSTATAT: u64 = 262;
    pub const UNLINKAT: u64 = 263;
    pub const RENAMEAT: u64 = 264;
    pub const LINKAT: u64 = 265;
    pub const SYMLINKAT: u64 = 266;
    pub const READLINKAT: u64 = 267;
    pub const FCHMODAT: u64 = 268;
    pub const FACCESSAT: u64 = 269;
    pub const UTIMENSAT: u64 = 280;
    pub const OPEN_BY_HANDLE_AT: u64 = 304;
    pub const RENAMEAT2: u64 = 316;
    pub const EXECVEAT: u64 = 322;
    pub const STATX: u64 = 332;
    pub const IO_URING_SETUP: u64 = 425;
    pub const OPENAT2: u64 = 437;
    pub const FACCESSAT2: u64 = 439;
    pub const FCHMODAT2: u64 = 452;

    /// Every call the filter stops at.
    pub const TRACED: &[u64] = &[
        OPEN,
        STAT,
        LSTAT,
        ACCESS,
        SOCKET,
        CONNECT,
        BIND,
        EXECVE,
        TRUNCATE,
        GETDENTS,
        RENAME,
        MKDIR,
        RMDIR,
        CREAT,
        LINK,
        UNLINK,
        SYMLINK,
        READLINK,
        CHMOD,
        CHOWN,
        LCHOWN,
        UTIME,
        MKNOD,
        CHROOT,
        GETDENTS64,
        UTIMES,
        OPENAT,
        MKDIRAT,
        MKNODAT,
        FCHOWNAT,
        FUTIMESAT,
        NEWFSTATAT,
        UNLINKAT,
        RENAMEAT,
        LINKAT,
        SYMLINKAT,
        READLINKAT,
        FCHMODAT,
        FACCESSAT,
        UTIMENSAT,
        OPEN_BY_HANDLE_AT,
        RENAMEAT2,
        EXECVEAT,
        STATX,
        IO_URING_SETUP,
        OPENAT2,
        FACCESSAT2,
        FCHMODAT2,
    ];
}

/// `struct ptrace_syscall_info` (Linux 5.3), for `PTRACE_GET_SYSCALL_INFO`.
#[repr(C)]
#[derive(Default)]
struct SyscallInfo {
    op: u8,
    _pad: [u8; 3],
    arch: u32,
    instruction_pointer: u64,
    stack_pointer: u64,
    nr: u64,
    args: [u64; 6],
    ret_data: u32,
    _pad2: u32,
}
const PTRACE_SYSCALL_INFO_EXIT: u8 = 2;
const PTRACE_SYSCALL_INFO_SECCOMP: u8 = 3;

/// The seccomp filter: `action` (a ptrace stop, or a notification) at
/// [`nr::TRACED`] (and at anything not a native x86_64 call, which the
/// observer refuses), run the rest.
pub(super) fn filter(action: u32) -> Vec<libc::sock_filter> {
    let stmt = |code: u32, k: u32| libc::sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    };
    let jump = |code: u32, k: u32, jt: u8, jf: u8| libc::sock_filter {
        code: code as u16,
        jt,
        jf,
        k,
    };
    let n = nr::TRACED.len();
    let mut f = vec![
        // arch == x86_64, else trace (refused)
        stmt(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, 4),
        jump(
            libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K,
            AUDIT_ARCH_X86_64,
            0,
            (n + 3) as u8,
        ),
        // x32 calls, else trace (refused)
        stmt(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, 0),
        jump(
            libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K,
            X32_BIT as u32,
            (n + 1) as u8,
            0,
        ),
    ];
    for (i, &call) in nr::TRACED.iter().enumerate() {
        // Equal: jump over the rest of the list and the allow.
        f.push(jump(
            libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K,
            call as u32,
            (n - i) as u8,
            0,
        ));
    }
    f.push(stmt(libc::BPF_RET | libc::BPF_K, libc::SECCOMP_RET_ALLOW));
    f.push(stmt(libc::BPF_RET | libc::BPF_K, action));
    f
}

fn cstring(b: &[u8]) -> Result<CString, Unobservable> {
    CString::new(b).map_err(|_| Unobservable("an argument holds a NUL byte".into()))
}

/// Run and observe; the run's stdout (and, with `echo_stderr`, its
/// stderr) is written through to ours as it comes, and returned too.
/// `server`: the compile server whose socket the run is told of.
pub(super) fn observe(
    run: &Run<'_>,
    server: Option<&super::delegate::Server>,
    echo_stderr: bool,
) -> Result<(Observation, Vec<u8>, Vec<u8>), Unobservable> {
    // Everything the run's process needs, made before any fork.
    let program = cstring(run.program.as_os_str().as_bytes())?;
    let mut argv = vec![program.clone()];
    for a in run.args {
        argv.push(cstring(a.as_bytes())?);
    }
    let own_exe = run.own_exe.clone();
    // The run's environment: ours, and the compile server's socket when
    // there is one (not set in our own environment: other threads of this
    // process may read it).
    let mut envp = Vec::new();
    for (k, v) in std::env::vars_os() {
        if k == super::delegate::VAR {
            continue;
        }
        let mut kv = k.into_vec();
        kv.push(b'=');
        kv.extend_from_slice(v.as_bytes());
        envp.push(cstring(&kv)?);
    }
    if let Some(server) = server {
        envp.push(cstring(
            format!("{}={}", super::delegate::VAR, server.name()).as_bytes(),
        )?);
    }

    let notify = !crate::env::debug("observer-ptrace");
    let started = if notify {
        start(&program, &argv, &envp, own_exe.as_deref(), true)?
    } else {
        None
    };
    let (tracer, out, err, report) = match started {
        Some(s) => s,
        // No user notification here (an old kernel, a filter with a
        // listener already above us): the run has not started; trace it.
        None => start(&program, &argv, &envp, own_exe.as_deref(), false)?.ok_or_else(|| {
            Unobservable("the run could not be traced (ptrace or seccomp refused)".into())
        })?,
    };
    let tee = |fd: RawFd, to: fn() -> Box<dyn Write + Send>| {
        // SAFETY: `fd` is ours alone from here on.
        let mut f = unsafe { std::fs::File::from_raw_fd(fd) };
        std::thread::spawn(move || {
            let mut kept = Vec::new();
            let mut buf = [0u8; 8192];
            let mut sink = to();
            loop {
                match f.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        kept.extend_from_slice(&buf[..n]);
                        let _ = sink.write_all(&buf[..n]);
                        let _ = sink.flush();
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            kept
        })
    };
    if let Some(server) = server {
        server.serve();
    }
    let out_reader = tee(out, || Box::new(std::io::stdout()));
    let err_reader = if echo_stderr {
        tee(err, || Box::new(std::io::stderr()))
    } else {
        tee(err, || Box::new(std::io::sink()))
    };
    let mut wire = Vec::new();
    // SAFETY: the report's read end is ours.
    let _ = unsafe { std::fs::File::from_raw_fd(report) }.read_to_end(&mut wire);
    let mut status = 0;
    // SAFETY: reaping the tracer if it is done; it may go on tracing what
    // the run left behind, and is then reaped by init after we exit.
    unsafe { libc::waitpid(tracer, &mut status, libc::WNOHANG) };
    let Some(obs) = Observation::decode(&wire) else {
        // The tracer reports nothing when the run never started.
        let _ = out_reader.join();
        let _ = err_reader.join();
        return Err(Unobservable(
            "the run could not be traced (ptrace or seccomp refused)".into(),
        ));
    };
    if obs.refusals.contains("background-process") {
        // Its pipes may stay open as long as it lives: do not wait.
        return Ok((obs, Vec::new(), Vec::new()));
    }
    let stdout = out_reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();
    Ok((obs, stdout, stderr))
}

/// Fork the observing process (`notify`: the supervisor of a seccomp
/// listener, [`super::notify`]; else the ptrace tracer), which starts the
/// run. Returns its pid and the read ends of the run's stdout, stderr and
/// the report. `Ok(None)`: `notify` is not available here and nothing of
/// the run started (the supervisor says so before the program can run,
/// and before this process starts a thread: the ptrace tracer is then
/// forked from a process that is still single-threaded).
#[allow(clippy::type_complexity)]
fn start(
    program: &CString,
    argv: &[CString],
    envp: &[CString],
    own_exe: Option<&Path>,
    notify: bool,
) -> Result<Option<(libc::pid_t, RawFd, RawFd, RawFd)>, Unobservable> {
    let out = pipe(0)?;
    let err = pipe(0)?;
    let report = pipe(libc::O_CLOEXEC)?;
    let ready = pipe(libc::O_CLOEXEC)?;
    // SAFETY: fork in a process that has started no thread of its own
    // (the launcher observes before it spawns any); the child only runs
    // the observer and exits.
    let tracer = unsafe { libc::fork() };
    if tracer < 0 {
        return Err(Unobservable("fork failed".into()));
    }
    if tracer == 0 {
        // SAFETY: closing our copies of the read ends.
        unsafe {
            libc::close(out.0);
            libc::close(err.0);
            libc::close(report.0);
            libc::close(ready.0);
        }
        let launch = Launch {
            program,
            argv,
            envp,
            own_exe,
            out: out.1,
            err: err.1,
            report: report.1,
        };
        let code = if notify {
            super::notify::supervise(&launch, ready.1)
        } else {
            // SAFETY: the tracer needs no ready signal.
            unsafe { libc::close(ready.1) };
            trace(&launch)
        };
        // SAFETY: leaving the forked observer without running the caller's
        // destructors or atexit handlers.
        unsafe { libc::_exit(code) }
    }
    // SAFETY: the write ends belong to the observer and the run now.
    unsafe {
        libc::close(out.1);
        libc::close(err.1);
        libc::close(report.1);
        libc::close(ready.1);
    }
    if notify {
        let mut b = [0u8; 1];
        // SAFETY: the ready pipe's read end is ours.
        let mut f = unsafe { std::fs::File::from_raw_fd(ready.0) };
        let got = f.read(&mut b);
        if !matches!(got, Ok(1)) || b[0] != b'n' {
            // It could not listen: nothing ran. Reap it and say so.
            let mut status = 0;
            // SAFETY: our child, which exits right after closing the pipe.
            unsafe {
                libc::waitpid(tracer, &mut status, 0);
                libc::close(out.0);
                libc::close(err.0);
                libc::close(report.0);
            }
            if matches!(got, Ok(1)) && b[0] == b'b' {
                // Observed already, by a filter whose notifications would
                // hide every call from a ptrace tracer (`notify` docs).
                return Err(Unobservable(
                    "this run is inside another observed run".into(),
                ));
            }
            return Ok(None);
        }
    } else {
        // SAFETY: unused read end.
        unsafe { libc::close(ready.0) };
    }
    Ok(Some((tracer, out.0, err.0, report.0)))
}

pub(super) fn pipe(flags: i32) -> Result<(RawFd, RawFd), Unobservable> {
    let mut fds = [0; 2];
    // SAFETY: a two-int array for pipe2.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), flags) } != 0 {
        return Err(Unobservable("pipe failed".into()));
    }
    Ok((fds[0], fds[1]))
}

/// What the observing process needs to start the run and report on it:
/// the program, its arguments and environment (made before any fork), and
/// the write ends of the run's stdout and stderr and of the report pipe.
pub(super) struct Launch<'a> {
    pub(super) program: &'a CString,
    pub(super) argv: &'a [CString],
    pub(super) envp: &'a [CString],
    pub(super) own_exe: Option<&'a Path>,
    pub(super) out: RawFd,
    pub(super) err: RawFd,
    pub(super) report: RawFd,
}

impl Launch<'_> {
    /// In the run's process, before `execve`: stdout and stderr to the
    /// pipes (async-signal-safe).
    ///
    /// # Safety
    /// Call only in the forked run's process.
    pub(super) unsafe fn redirect_output(&self) {
        libc::dup2(self.out, 1);
        libc::dup2(self.err, 2);
        if self.out > 2 {
            libc::close(self.out);
        }
        if self.err > 2 {
            libc::close(self.err);
        }
    }

    /// In the observing process, once the run is forked: its copies of the
    /// run's stdout and stderr go.
    pub(super) fn close_output(&self) {
        // SAFETY: the observing process's own copies.
        unsafe {
            libc::close(self.out);
            libc::close(self.err);
        }
    }

    /// Write the observation to the caller (once).
    pub(super) fn report(&self, tracer: &mut Tracer) {
        tracer.print_stops();
        let wire = tracer.obs.encode();
        // SAFETY: the report pipe's write end, ours alone, written once.
        let mut f = unsafe { std::fs::File::from_raw_fd(self.report) };
        let _ = f.write_all(&wire);
    }
}

/// `execve`'s NULL-terminated argument and environment arrays.
#[allow(clippy::type_complexity)]
pub(super) fn cstring_ptrs(
    argv: &[CString],
    envp: &[CString],
) -> (Vec<*const libc::c_char>, Vec<*const libc::c_char>) {
    let ptrs = |v: &[CString]| {
        let mut p: Vec<*const libc::c_char> = v.iter().map(|a| a.as_ptr()).collect();
        p.push(std::ptr::null());
        p
    };
    (ptrs(argv), ptrs(envp))
}

/// The tracer process: start the run, trace it, report, then trace what
/// it left behind until that exits. Returns the tracer's exit code.
fn trace(launch: &Launch<'_>) -> i32 {
    let (argv_ptrs, envp_ptrs) = cstring_ptrs(launch.argv, launch.envp);
    let prog = filter(libc::SECCOMP_RET_TRACE);
    let fprog = libc::sock_fprog {
        len: prog.len() as u16,
        filter: prog.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: fork from the single-threaded tracer; the child calls only
    // async-signal-safe functions, then execve or _exit.
    let root = unsafe { libc::fork() };
    if root < 0 {
        return 1;
    }
    if root == 0 {
        // SAFETY: the child's setup; every failure exits before the
        // program runs, with CANNOT_TRACE.
        unsafe {
            launch.redirect_output();
            if libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0) != 0 {
                libc::_exit(CANNOT_TRACE);
            }
            libc::raise(libc::SIGSTOP);
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
                || libc::prctl(
                    libc::PR_SET_SECCOMP,
                    libc::SECCOMP_MODE_FILTER,
                    &fprog as *const libc::sock_fprog,
                ) != 0
            {
                libc::_exit(CANNOT_TRACE);
            }
            libc::execve(
                launch.program.as_ptr(),
                argv_ptrs.as_ptr(),
                envp_ptrs.as_ptr(),
            );
            libc::_exit(CANNOT_TRACE);
        }
    }
    launch.close_output();
    let mut t = Tracer::new(launch.own_exe, root, false);
    let mut status = 0;
    // SAFETY: waiting for our child's first stop.
    let got = unsafe { libc::waitpid(root, &mut status, libc::__WALL) };
    if got != root || !libc::WIFSTOPPED(status) {
        return 1; // exited before its stop: could not be traced; no report
    }
    let options = libc::PTRACE_O_TRACESYSGOOD
        | libc::PTRACE_O_TRACEFORK
        | libc::PTRACE_O_TRACEVFORK
        | libc::PTRACE_O_TRACECLONE
        | libc::PTRACE_O_TRACEEXEC
        | libc::PTRACE_O_TRACESECCOMP
        | libc::PTRACE_O_EXITKILL;
    // SAFETY: our stopped tracee.
    unsafe {
        libc::ptrace(libc::PTRACE_SETOPTIONS, root, 0, options);
        libc::ptrace(libc::PTRACE_CONT, root, 0, 0);
    }
    t.started.insert(root);

    let mut root_done: Option<Instant> = None;
    let mut reported = false;
    loop {
        if let Some(at) = root_done {
            if !reported && (t.live.is_empty() || at.elapsed() >= LINGER) {
                if !t.live.is_empty() {
                    t.obs.refusals.insert("background-process".into());
                }
                if !t.root_execed {
                    return 1; // never ran the program: no report
                }
                for (_, writes) in t.pending.drain() {
                    for (path, access) in writes {
                        t.obs.paths.entry(path).or_default().add(access);
                    }
                }
                if !t.connecting.is_empty() {
                    // Still inside `connect`: it may connect.
                    t.obs.refusals.insert("socket".into());
                }
                launch.report(&mut t);
                reported = true;
            }
            if t.live.is_empty() {
                return 0;
            }
        }
        let flags = if root_done.is_some() && !reported {
            libc::__WALL | libc::WNOHANG
        } else {
            libc::__WALL
        };
        // SAFETY: waiting for any tracee.
        let pid = unsafe { libc::waitpid(-1, &mut status, flags) };
        if pid == 0 {
            std::thread::sleep(Duration::from_millis(2));
            continue;
        }
        if pid < 0 {
            if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            // No child left.
            t.live.clear();
            if root_done.is_none() {
                root_done = Some(Instant::now());
            }
            continue;
        }
        if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
            t.live.remove(&pid);
            // Killed inside a call that would write: it may have written.
            for (path, access) in t.pending.remove(&pid).unwrap_or_default() {
                t.obs.paths.entry(path).or_default().add(access);
            }
            if t.connecting.remove(&pid).is_some() {
                // Killed inside `connect`: it may have connected.
                t.obs.refusals.insert("socket".into());
            }
            if pid == root {
                t.obs.code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
                t.obs.signal = libc::WIFSIGNALED(status).then(|| libc::WTERMSIG(status));
                if !t.root_execed && t.obs.code == Some(CANNOT_TRACE) {
                    return 1;
                }
                root_done = Some(Instant::now());
            }
            continue;
        }
        if !libc::WIFSTOPPED(status) {
            continue;
        }
        t.live.insert(pid);
        let sig = libc::WSTOPSIG(status);
        let event = (status >> 16) & 0xff;
        let mut inject = 0;
        let mut resume = libc::PTRACE_CONT;
        if sig == libc::SIGTRAP && event == libc::PTRACE_EVENT_SECCOMP {
            t.on_syscall(pid);
            if let Some(stops) = &mut t.stops {
                let live = stops.live.entry(pid).or_insert_with(|| ("?".into(), 0));
                live.1 += 1;
                let name = live.0.clone();
                if let Some(info) = syscall_info(pid) {
                    *stops.calls.entry((name, info.nr)).or_default() += 1;
                }
            }
            if t.pending.contains_key(&pid) || t.connecting.contains_key(&pid) {
                // Stop again at the call's exit, for its result.
                resume = libc::PTRACE_SYSCALL;
            }
        } else if sig == libc::SIGTRAP
            && (event == libc::PTRACE_EVENT_FORK
                || event == libc::PTRACE_EVENT_VFORK
                || event == libc::PTRACE_EVENT_CLONE)
        {
            let mut child: libc::c_ulong = 0;
            // SAFETY: reading the new tracee's pid from a stopped tracee.
            unsafe { libc::ptrace(libc::PTRACE_GETEVENTMSG, pid, 0, &mut child) };
            let child = child as libc::pid_t;
            t.live.insert(child);
            if t.own.contains(&pid) {
                t.own.insert(child);
            }
            t.announced.insert(child);
            if t.held.remove(&child) {
                // Its first stop came before this event: it may run now
                // that whether it is gocache's own is known.
                // SAFETY: resuming a stopped tracee.
                unsafe { libc::ptrace(libc::PTRACE_CONT, child, 0, 0) };
            }
        } else if sig == libc::SIGTRAP && event == libc::PTRACE_EVENT_EXEC {
            let mut former: libc::c_ulong = 0;
            // SAFETY: as above.
            unsafe { libc::ptrace(libc::PTRACE_GETEVENTMSG, pid, 0, &mut former) };
            let former = former as libc::pid_t;
            if former != pid {
                t.live.remove(&former);
            }
            if pid == root {
                t.root_execed = true;
            }
            // Compared by file, not name: the launcher is a hard link to
            // this binary under the build script's name.
            let exe = std::fs::metadata(format!("/proc/{pid}/exe"))
                .ok()
                .map(|m| (m.dev(), m.ino()));
            if exe.is_some() && exe == t.own_exe {
                t.own.insert(pid);
            } else {
                t.own.remove(&pid);
            }
            if let Some(stops) = &mut t.stops {
                // A new program in this process: its stops count apart.
                if let Some((old, n)) = stops.live.insert(pid, (program_name(pid), 0)) {
                    let e = stops.done.entry(old).or_default();
                    e.0 += 1;
                    e.1 += n;
                }
            }
        } else if sig == libc::SIGSTOP && !t.started.contains(&pid) {
            // A new tracee's first stop.
            t.started.insert(pid);
            if !t.announced.contains(&pid) {
                // Before its parent's fork or clone event: held until that
                // event says whether it is gocache's own (a thread of the
                // wrapper may use the compile server's socket at once).
                t.held.insert(pid);
                continue;
            }
        } else if sig == (libc::SIGTRAP | 0x80) {
            // The exit of a call that would write.
            t.on_exit(pid);
        } else {
            inject = sig;
        }
        // SAFETY: resuming a stopped tracee (with its signal, if any).
        unsafe { libc::ptrace(resume, pid, 0, inject) };
    }
}

/// `CARGO_GOCACHE_DEBUG=observer-stops`: seccomp stops by program.
#[derive(Default)]
pub(super) struct Stops {
    /// By process: its program's name and its stops so far.
    pub(super) live: HashMap<libc::pid_t, (String, u64)>,
    /// By program name: runs and stops of programs done.
    pub(super) done: HashMap<String, (u64, u64)>,
    /// By program name and system call number: stops.
    pub(super) calls: HashMap<(String, u64), u64>,
    /// Paths gocache's own processes named, by directory.
    own_dirs: HashMap<String, u64>,
}

pub(super) struct Tracer {
    /// The (device, inode) of gocache's own executable.
    own_exe: Option<(u64, u64)>,
    pub(super) obs: Observation,
    /// Stopped by seccomp notifications ([`super::notify`]), not ptrace:
    /// no process events, and no call's result (see [`Tracer::written`]).
    notify: bool,
    /// Notifications only: each path a call would write, its state before
    /// the first such call, and the accesses; settled when the run is over
    /// ([`Tracer::settle_writes`]).
    written: HashMap<PathBuf, Written>,
    /// Notifications only: the call being recorded.
    call: Call,
    live: HashSet<libc::pid_t>,
    started: HashSet<libc::pid_t>,
    /// Processes running `own_exe` (gocache's own wrappers).
    own: HashSet<libc::pid_t>,
    root_execed: bool,
    /// Processes a fork, vfork or clone event of their parent announced.
    announced: HashSet<libc::pid_t>,
    /// New processes stopped before their parent's event, not resumed yet.
    held: HashSet<libc::pid_t>,
    /// Writes seen at a call's entry, by process, until its exit says
    /// whether they happened.
    pending: HashMap<libc::pid_t, Vec<(PathBuf, Access)>>,
    /// A `connect` to a named unix socket, by process, until its exit says
    /// whether it connected (see [`Tracer::connect`]).
    connecting: HashMap<libc::pid_t, PathBuf>,
    /// `CARGO_GOCACHE_DEBUG=observer-stops`: stops by process (program
    /// name, count); a process's earlier programs under other keys.
    pub(super) stops: Option<Stops>,
}

/// A path's state as a write would change it: `lstat`'s and `stat`'s
/// (device, inode, mode, owner, group, size, mtime and ctime in ns), `None`
/// where absent. Every successful write changes the ctime of what it
/// writes (or makes or removes it); a failed call changes nothing.
type Stamp = [Option<[i64; 8]>; 2];

fn stamp(path: &Path) -> Stamp {
    let of = |m: std::io::Result<std::fs::Metadata>| {
        m.ok().map(|m| {
            [
                m.dev() as i64,
                m.ino() as i64,
                m.mode() as i64,
                ((m.uid() as i64) << 32) | m.gid() as i64,
                m.size() as i64,
                m.mtime() * 1_000_000_000 + m.mtime_nsec(),
                m.ctime() * 1_000_000_000 + m.ctime_nsec(),
                m.nlink() as i64,
            ]
        })
    };
    [
        of(std::fs::symlink_metadata(path)),
        of(std::fs::metadata(path)),
    ]
}

/// The same file, unchanged but for what its entries do to a directory:
/// a directory's times and link count move with every file made or
/// removed in it, which writes nothing to the directory itself.
fn same_directory(a: &Stamp, b: &Stamp) -> bool {
    let entry = |s: &Option<[i64; 8]>| s.map(|s| [s[0], s[1], s[2], s[3]]);
    let is_dir =
        |s: &Option<[i64; 8]>| s.is_some_and(|s| s[2] as u32 & libc::S_IFMT == libc::S_IFDIR);
    is_dir(&a[0]) && entry(&a[0]) == entry(&b[0]) && entry(&a[1]) == entry(&b[1])
}

/// The call being recorded, under notifications.
#[derive(Default)]
struct Call {
    nr: u64,
    /// An open's flags.
    flags: u64,
    /// Paths of this call recorded so far (a rename's source is the first).
    nth: u32,
}

/// A path some call would write, under notifications.
struct Written {
    /// Its state before the first such call.
    before: Stamp,
    /// Where it was absent then: its directory's state then.
    parent_before: Option<Stamp>,
    access: Access,
    /// A call set its times (`touch`, `utimensat`): a directory's times
    /// then matter.
    timed: bool,
}

const READ: Access = Access {
    read: true,
    ..READ_NONE
};
const NOFOLLOW: Access = Access {
    nofollow: true,
    ..READ_NONE
};
const EXEC: Access = Access {
    exec: true,
    ..READ_NONE
};
const LIST: Access = Access {
    list: true,
    ..READ_NONE
};
const WRITE: Access = Access {
    write: true,
    ..READ_NONE
};
const READ_NONE: Access = Access {
    read: false,
    nofollow: false,
    exec: false,
    list: false,
    write: false,
    opened: false,
};

const AT_FDCWD: i64 = -100;
const AT_SYMLINK_NOFOLLOW: u64 = 0x100;
const AT_EMPTY_PATH: u64 = 0x1000;

impl Tracer {
    pub(super) fn new(own_exe: Option<&Path>, root: libc::pid_t, notify: bool) -> Tracer {
        Tracer {
            own_exe: own_exe
                .and_then(|p| std::fs::metadata(p).ok())
                .map(|m| (m.dev(), m.ino())),
            obs: Observation::default(),
            notify,
            written: HashMap::new(),
            call: Call::default(),
            live: HashSet::from([root]),
            started: HashSet::new(),
            own: HashSet::new(),
            root_execed: false,
            announced: HashSet::from([root]),
            held: HashSet::new(),
            pending: HashMap::new(),
            connecting: HashMap::new(),
            stops: crate::env::debug("observer-stops").then(Stops::default),
        }
    }

    /// `CARGO_GOCACHE_DEBUG=observer-stops`: where the stops went.
    pub(super) fn print_stops(&mut self) {
        if let Some(stops) = &mut self.stops {
            // CARGO_GOCACHE_DEBUG=observer-stops: where the stops went.
            for (_, (name, n)) in stops.live.drain() {
                let e = stops.done.entry(name).or_default();
                e.0 += 1;
                e.1 += n;
            }
            let mut sum: Vec<_> = stops.done.iter().collect();
            sum.sort_by_key(|(_, (_, c))| std::cmp::Reverse(*c));
            let mut dirs: Vec<_> = stops.own_dirs.iter().collect();
            dirs.sort_by_key(|(_, c)| std::cmp::Reverse(**c));
            for (d, c) in dirs.iter().take(25) {
                eprintln!("gocache: observer: gocache looked {c} times in {d}");
            }
            for (n, (runs, c)) in sum.iter().take(15) {
                eprintln!("gocache: observer stops: {c} in {runs} runs of {n}");
                let mut calls: Vec<_> = stops.calls.iter().filter(|((p, _), _)| p == *n).collect();
                calls.sort_by_key(|(_, c)| std::cmp::Reverse(**c));
                let top: Vec<String> = calls
                    .iter()
                    .take(6)
                    .map(|((_, nr), c)| format!("{c} of call {nr}"))
                    .collect();
                eprintln!("gocache:   {}", top.join(", "));
            }
        }
    }

    /// Is `pid` running gocache's own executable? (Compared by file, not
    /// name: the launcher is a hard link to this binary under the build
    /// script's name.) Under ptrace the exec events say; a notification
    /// has none, so the process's executable is looked at (only for the
    /// rare calls that ask: sockets).
    fn is_own(&self, pid: libc::pid_t) -> bool {
        if !self.notify {
            return self.own.contains(&pid);
        }
        let exe = std::fs::metadata(format!("/proc/{pid}/exe"))
            .ok()
            .map(|m| (m.dev(), m.ino()));
        exe.is_some() && exe == self.own_exe
    }

    fn refuse(&mut self, pid: libc::pid_t, why: &str) {
        if !self.is_own(pid) {
            self.obs.refusals.insert(why.to_string());
        }
    }

    fn on_syscall(&mut self, pid: libc::pid_t) {
        let Some(info) = syscall_info(pid).filter(|i| i.op == PTRACE_SYSCALL_INFO_SECCOMP) else {
            self.obs.refusals.insert("unreadable-syscall".into());
            return;
        };
        self.on_call(pid, info.arch, info.nr, info.args);
    }

    /// A call the filter stopped at (`pid` is blocked in it).
    pub(super) fn on_call(&mut self, pid: libc::pid_t, arch: u32, nr: u64, a: [u64; 6]) {
        if arch != AUDIT_ARCH_X86_64 || nr & X32_BIT != 0 {
            self.obs.refusals.insert("32-bit-syscall".into());
            return;
        }
        let cwd = None;
        self.call = Call {
            nr,
            flags: 0,
            nth: 0,
        };
        match nr {
            nr::OPEN => {
                self.call.flags = a[1];
                self.path(pid, cwd, a[0], open_access(a[1]))
            }
            nr::CREAT
            | nr::TRUNCATE
            | nr::MKDIR
            | nr::RMDIR
            | nr::UNLINK
            | nr::CHMOD
            | nr::CHOWN
            | nr::LCHOWN
            | nr::UTIME
            | nr::UTIMES
            | nr::MKNOD => self.path(pid, cwd, a[0], WRITE),
            nr::RENAME => {
                self.path(pid, cwd, a[0], WRITE);
                self.path(pid, cwd, a[1], WRITE);
            }
            nr::LINK => {
                self.path(pid, cwd, a[0], NOFOLLOW);
                self.path(pid, cwd, a[1], WRITE);
            }
            nr::SYMLINK => self.path(pid, cwd, a[1], WRITE),
            nr::STAT | nr::ACCESS => self.path(pid, cwd, a[0], READ),
            nr::LSTAT | nr::READLINK => self.path(pid, cwd, a[0], NOFOLLOW),
            nr::EXECVE => self.path(pid, cwd, a[0], EXEC),
            nr::OPENAT => {
                self.call.flags = a[2];
                self.path(pid, Some(a[0]), a[1], open_access(a[2]))
            }
            nr::OPENAT2 => {
                // struct open_how: flags is its first u64.
                let flags = read_mem(pid, a[2], 8)
                    .map(|b| u64::from_ne_bytes(b.try_into().unwrap()))
                    .unwrap_or(0);
                self.call.flags = flags;
                self.path(pid, Some(a[0]), a[1], open_access(flags))
            }
            nr::NEWFSTATAT => self.stat_at(pid, a[0], a[1], a[3]),
            nr::STATX => self.stat_at(pid, a[0], a[1], a[2]),
            nr::FACCESSAT => self.path(pid, Some(a[0]), a[1], READ),
            nr::FACCESSAT2 => self.stat_at(pid, a[0], a[1], a[3]),
            nr::READLINKAT => self.path(pid, Some(a[0]), a[1], NOFOLLOW),
            nr::EXECVEAT => {
                if a[4] & AT_EMPTY_PATH != 0 {
                    self.fd(pid, a[0], EXEC)
                } else {
                    self.path(pid, Some(a[0]), a[1], EXEC)
                }
            }
            nr::GETDENTS | nr::GETDENTS64 => self.fd(pid, a[0], LIST),
            nr::MKDIRAT
            | nr::MKNODAT
            | nr::FCHOWNAT
            | nr::FUTIMESAT
            | nr::UNLINKAT
            | nr::FCHMODAT
            | nr::FCHMODAT2 => self.path(pid, Some(a[0]), a[1], WRITE),
            nr::UTIMENSAT => {
                if a[1] == 0 {
                    self.fd(pid, a[0], WRITE)
                } else {
                    self.path(pid, Some(a[0]), a[1], WRITE)
                }
            }
            nr::RENAMEAT | nr::RENAMEAT2 => {
                self.path(pid, Some(a[0]), a[1], WRITE);
                self.path(pid, Some(a[2]), a[3], WRITE);
            }
            nr::LINKAT => {
                self.path(pid, Some(a[0]), a[1], NOFOLLOW);
                self.path(pid, Some(a[2]), a[3], WRITE);
            }
            nr::SYMLINKAT => self.path(pid, Some(a[1]), a[2], WRITE),
            nr::SOCKET => {
                if a[0] as i32 != libc::AF_UNIX {
                    self.refuse(pid, "network");
                }
            }
            nr::CONNECT => self.connect(pid, a[1], a[2]),
            nr::BIND => {
                let family = read_mem(pid, a[1], 2)
                    .map(|b| u16::from_ne_bytes([b[0], b[1]]) as i32)
                    .unwrap_or(-1);
                if family == libc::AF_UNIX {
                    self.refuse(pid, "socket");
                } else {
                    self.refuse(pid, "network");
                }
            }
            nr::OPEN_BY_HANDLE_AT => self.refuse(pid, "open-by-handle"),
            nr::IO_URING_SETUP => self.refuse(pid, "io-uring"),
            nr::CHROOT => self.refuse(pid, "chroot"),
            _ => {
                self.obs.refusals.insert("unexpected-syscall".into());
            }
        }
    }

    /// `connect(fd, addr, len)`. Anything but a unix socket is the network.
    /// A unix socket named by a path waits for the call's result: connected,
    /// the run talks to a server whose answers are not seen (refused); not
    /// connected (glibc asks `/var/run/nscd/socket` before every user or
    /// host lookup, and finds nothing on most machines), the run only
    /// learnt the path's state, keyed as a probe of it (an absent socket
    /// that appears later makes the lookup miss). An abstract socket has no
    /// path to key: refused. gocache's own processes talk to the compile
    /// server ([`super::delegate`]); their connects are theirs.
    fn connect(&mut self, pid: libc::pid_t, addr: u64, len: u64) {
        if self.is_own(pid) {
            return;
        }
        let len = (len as usize).min(std::mem::size_of::<libc::sockaddr_un>());
        let Some(raw) = (len >= 2).then(|| read_mem(pid, addr, len)).flatten() else {
            // EFAULT or EINVAL: the call fails and touches nothing.
            return;
        };
        if u16::from_ne_bytes([raw[0], raw[1]]) as i32 != libc::AF_UNIX {
            self.obs.refusals.insert("network".into());
            return;
        }
        let name = &raw[2..];
        let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
        if end == 0 {
            // Abstract (a leading NUL) or unnamed.
            self.obs.refusals.insert("socket".into());
            return;
        }
        let raw = PathBuf::from(std::ffi::OsStr::from_bytes(&name[..end]));
        let full = if raw.is_absolute() {
            raw
        } else {
            match std::fs::read_link(format!("/proc/{pid}/cwd")) {
                Ok(b) if b.is_absolute() => b.join(raw),
                _ => {
                    self.obs.refusals.insert("unresolved-path".into());
                    return;
                }
            }
        };
        let full = normalize(&full);
        if self.notify {
            // No result to wait for: a socket there may accept (refused);
            // anything else cannot (a probe of the path).
            use std::os::unix::fs::FileTypeExt;
            match std::fs::symlink_metadata(&full) {
                Ok(m) if m.file_type().is_socket() => {
                    self.obs.refusals.insert("socket".into());
                }
                _ => self.obs.paths.entry(full).or_default().add(READ),
            }
            return;
        }
        self.connecting.insert(pid, full);
    }

    fn stat_at(&mut self, pid: libc::pid_t, dirfd: u64, path: u64, flags: u64) {
        let access = if flags & AT_SYMLINK_NOFOLLOW != 0 {
            NOFOLLOW
        } else {
            READ
        };
        if flags & AT_EMPTY_PATH != 0 && read_cstr(pid, path).is_some_and(|p| p.is_empty()) {
            // fstat of an open descriptor: its open was seen.
            return;
        }
        self.path(pid, Some(dirfd), path, access);
    }

    /// Record the path at `addr` in `pid`'s memory, relative to `dirfd`
    /// (`None`: the working directory).
    fn path(&mut self, pid: libc::pid_t, dirfd: Option<u64>, addr: u64, access: Access) {
        let Some(raw) = read_cstr(pid, addr) else {
            // A bad pointer: the call fails with EFAULT and touches nothing.
            return;
        };
        if raw.is_empty() {
            return; // ENOENT, touches nothing
        }
        let raw = PathBuf::from(std::ffi::OsString::from_vec(raw));
        let full = if raw.is_absolute() {
            raw
        } else {
            let base = match dirfd.map(|d| d as i32 as i64) {
                None | Some(AT_FDCWD) => std::fs::read_link(format!("/proc/{pid}/cwd")),
                Some(fd) => std::fs::read_link(format!("/proc/{pid}/fd/{fd}")),
            };
            match base {
                Ok(b) if b.is_absolute() => b.join(raw),
                _ => {
                    self.obs.refusals.insert("unresolved-path".into());
                    return;
                }
            }
        };
        self.record(pid, normalize(&full), access);
    }

    /// Note `access` to `path`; a write waits for the call's result (see
    /// [`Tracer::pending`]).
    fn record(&mut self, pid: libc::pid_t, path: PathBuf, access: Access) {
        if let Some(stops) = &mut self.stops {
            // CARGO_GOCACHE_DEBUG=observer-stops: where gocache's own
            // processes look, by directory.
            if stops
                .live
                .get(&pid)
                .is_some_and(|(n, _)| n == "cargo-gocache")
            {
                let dir = path.parent().unwrap_or(&path).display().to_string();
                *stops.own_dirs.entry(dir).or_default() += 1;
            }
        }
        if self.notify {
            self.record_now(pid, path, access);
            return;
        }
        // A device opened (`/dev/tty` with no controlling terminal fails)
        // also waits for its result.
        if access.write || (access.opened && path.starts_with("/dev/")) {
            self.pending.entry(pid).or_default().push((path, access));
        } else {
            self.obs.paths.entry(path).or_default().add(access);
        }
    }

    /// [`Tracer::record`] under notifications, where no call's result is
    /// seen. A device opened is judged now: absent, or `/dev/tty` in a
    /// process without a controlling terminal, the open fails (a probe);
    /// else it is taken as opened. A write keeps the path's state before
    /// it, compared with the state after the run ([`Tracer::settle_writes`]).
    fn record_now(&mut self, pid: libc::pid_t, path: PathBuf, mut access: Access) {
        if (access.opened || access.write)
            && path.starts_with("/dev/")
            && !path.starts_with("/dev/shm")
        {
            // A device keeps no trace of being written: judged now.
            let fails = std::fs::symlink_metadata(&path).is_err()
                || (path == Path::new("/dev/tty") && !has_terminal(pid));
            if fails {
                access = READ;
            }
        } else if access.write {
            let Call { nr, flags, nth } = self.call;
            let flags = flags as i32;
            let creates = matches!(
                nr,
                nr::MKDIR
                    | nr::MKDIRAT
                    | nr::MKNOD
                    | nr::MKNODAT
                    | nr::SYMLINK
                    | nr::SYMLINKAT
                    | nr::LINK
                    | nr::LINKAT
            ) || flags & (libc::O_CREAT | libc::O_EXCL)
                == libc::O_CREAT | libc::O_EXCL;
            let opens = matches!(nr, nr::OPEN | nr::OPENAT | nr::OPENAT2);
            let needs_existing = matches!(
                nr,
                nr::UNLINK
                    | nr::UNLINKAT
                    | nr::RMDIR
                    | nr::CHMOD
                    | nr::FCHMODAT
                    | nr::FCHMODAT2
                    | nr::CHOWN
                    | nr::LCHOWN
                    | nr::FCHOWNAT
                    | nr::UTIME
                    | nr::UTIMES
                    | nr::UTIMENSAT
                    | nr::FUTIMESAT
                    | nr::TRUNCATE
            ) || (matches!(nr, nr::RENAME | nr::RENAMEAT | nr::RENAMEAT2)
                && nth == 0)
                || (opens && flags & libc::O_CREAT == 0);
            self.call.nth += 1;
            let there = std::fs::symlink_metadata(&path).is_ok();
            if (creates && there) || (needs_existing && !there) {
                // Making what is there fails (`EEXIST`: `mkdir -p` of each
                // parent), and so does changing what is not (`ENOENT`:
                // `rm -f` of a missing file). A probe.
                access.write = false;
                access.opened = false;
                access.read = true;
            } else {
                let timed = matches!(nr, nr::UTIME | nr::UTIMES | nr::UTIMENSAT | nr::FUTIMESAT);
                let e = self.written.entry(path).or_insert_with_key(|p| {
                    let before = stamp(p);
                    let parent_before = match (before[0], p.parent()) {
                        (None, Some(dir)) => Some(stamp(dir)),
                        _ => None,
                    };
                    Written {
                        before,
                        parent_before,
                        access: Access::default(),
                        timed: false,
                    }
                });
                e.access.add(access);
                e.timed |= timed;
                return;
            }
        }
        self.obs.paths.entry(path).or_default().add(access);
    }

    /// Notifications: the run is over. A path whose state is what it was
    /// before the first call that would write it was not written: each
    /// such call failed (`mkdir` of a directory that exists, a read-only
    /// file system), and it was only looked at: a probe, as under ptrace.
    /// A path absent before and after was either never made (a failed
    /// `open(O_CREAT)`) or made and removed (a temporary file): the first
    /// leaves its directory as it was, and is a probe; where the directory
    /// changed, it is taken as written, as ptrace would see the second.
    /// Anything else was written.
    pub(super) fn settle_writes(&mut self) {
        for (path, w) in std::mem::take(&mut self.written) {
            let mut access = w.access;
            let after = stamp(&path);
            let unchanged = if w.before[0].is_none() {
                after[0].is_none() && w.parent_before.as_ref() == path.parent().map(stamp).as_ref()
            } else {
                after == w.before || (!w.timed && same_directory(&w.before, &after))
            };
            if unchanged {
                access.write = false;
                access.read = true;
                if w.before[0].is_none() {
                    access.opened = false;
                }
            }
            self.obs.paths.entry(path).or_default().add(access);
        }
    }

    /// At the exit of a call that would write: a success writes; a failure
    /// (`mkdir` of a directory that exists, `rm -f` of a missing file, a
    /// read-only file system) changes nothing and only tells the path's
    /// state, so it is a probe.
    fn on_exit(&mut self, pid: libc::pid_t) {
        // `exit`: { s64 rval; u8 is_error; } where `entry` has nr, args.
        let failed = || {
            syscall_info(pid)
                .is_some_and(|i| i.op == PTRACE_SYSCALL_INFO_EXIT && i.args[0] as u8 != 0)
        };
        if let Some(path) = self.connecting.remove(&pid) {
            if failed() {
                self.obs.paths.entry(path).or_default().add(READ);
            } else {
                self.obs.refusals.insert("socket".into());
            }
            return;
        }
        let Some(pending) = self.pending.remove(&pid) else {
            return;
        };
        let failed = failed();
        for (path, mut access) in pending {
            if failed {
                access.write = false;
                access.opened = false;
                access.read = true;
            }
            self.obs.paths.entry(path).or_default().add(access);
        }
    }

    /// Record the file open at descriptor `fd`.
    fn fd(&mut self, pid: libc::pid_t, fd: u64, access: Access) {
        match std::fs::read_link(format!("/proc/{pid}/fd/{}", fd as i32)) {
            Ok(p) if p.is_absolute() => self.record(pid, p, access),
            // A pipe, a socket, an anonymous inode: not a path.
            Ok(_) => {}
            Err(_) => {
                self.obs.refusals.insert("unresolved-path".into());
            }
        }
    }
}

/// The file name of `pid`'s executable (`CARGO_GOCACHE_DEBUG=observer-stops`).
pub(super) fn program_name(pid: libc::pid_t) -> String {
    std::fs::read_link(format!("/proc/{pid}/exe"))
        .map(|p| {
            p.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned()
        })
        .unwrap_or_default()
}

/// Does `pid` have a controlling terminal (`/proc/<pid>/stat`'s `tty_nr`)?
/// Unknown: yes (its `/dev/tty` open is then taken as made).
fn has_terminal(pid: libc::pid_t) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return true;
    };
    // After the command's name in parentheses: state, ppid, pgrp, session, tty_nr.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    rest.split_whitespace().nth(4).is_none_or(|t| t != "0")
}

/// The stopped tracee's current system call (`PTRACE_GET_SYSCALL_INFO`).
fn syscall_info(pid: libc::pid_t) -> Option<SyscallInfo> {
    let mut info = SyscallInfo::default();
    // SAFETY: filling `info` from a stopped tracee.
    let n = unsafe {
        libc::ptrace(
            libc::PTRACE_GET_SYSCALL_INFO,
            pid,
            std::mem::size_of::<SyscallInfo>(),
            &mut info as *mut SyscallInfo,
        )
    };
    (n > 0).then_some(info)
}

/// What `open(2)`'s flags do to the file.
fn open_access(flags: u64) -> Access {
    let flags = flags as i32;
    let mode = flags & libc::O_ACCMODE;
    let nofollow = flags & libc::O_NOFOLLOW != 0;
    let mut base = if nofollow { NOFOLLOW } else { READ };
    base.opened = true;
    if mode == libc::O_RDONLY && flags & (libc::O_CREAT | libc::O_TRUNC) == 0 {
        return base;
    }
    if flags & libc::O_TRUNC != 0
        || flags & (libc::O_CREAT | libc::O_EXCL) == libc::O_CREAT | libc::O_EXCL
    {
        return WRITE;
    }
    // Read-write, append, or create-if-missing: the old content may matter.
    let mut a = base;
    a.add(WRITE);
    a
}

/// Bytes of the tracee's memory.
fn read_mem(pid: libc::pid_t, addr: u64, len: usize) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; len];
    let local = libc::iovec {
        iov_base: buf.as_mut_ptr() as *mut libc::c_void,
        iov_len: len,
    };
    let remote = libc::iovec {
        iov_base: addr as *mut libc::c_void,
        iov_len: len,
    };
    // SAFETY: reading a stopped tracee's memory into our buffer.
    let n = unsafe { libc::process_vm_readv(pid, &local, 1, &remote, 1, 0) };
    (n == len as isize).then_some(buf)
}

/// A NUL-terminated string of the tracee's, read a page at a time (a
/// string may end just before an unmapped page).
fn read_cstr(pid: libc::pid_t, addr: u64) -> Option<Vec<u8>> {
    if addr == 0 {
        return None;
    }
    let mut out = Vec::new();
    let mut at = addr;
    while out.len() <= libc::PATH_MAX as usize {
        let in_page = 4096 - (at % 4096) as usize;
        let chunk = read_mem(pid, at, in_page)?;
        if let Some(end) = chunk.iter().position(|&b| b == 0) {
            out.extend_from_slice(&chunk[..end]);
            return Some(out);
        }
        out.extend_from_slice(&chunk);
        at += in_page as u64;
    }
    None
}
