//! The observer by seccomp user notification (Linux 5.8), the default:
//! the same filter as the ptrace tracer's, whose calls wake a supervisor
//! instead of stopping the process under ptrace.
//!
//! Why not ptrace alone: a ptrace stop costs two scheduler round trips
//! through the ptrace machinery (`wait_task_inactive`, the tracer's
//! `waitpid`, `PTRACE_CONT`), 30 to 60 µs each in a VM, and every fork,
//! clone and exec stops too. A notification is one blocking `ioctl` in
//! the supervisor and one reply, woken on the calling CPU ([`SYNC_WAKE_UP`]);
//! the filter is inherited by every process and thread of the run with
//! nothing to follow. Measured in this project's 2-CPU VM: a call costs
//! about 9 µs observed this way against 30 to 60 µs under ptrace (300 runs
//! of `true` under cargo's `LD_LIBRARY_PATH`, `scripts/bench-observer.sh`),
//! and openssl's `perl Configure` (162,000 `stat` calls) takes 7.2 s
//! observed against 14.6 s under ptrace and 5.3 s unobserved.
//!
//! What it gives up, and how each is made good:
//! * No call's result. A call that would write is judged by the path's
//!   state: making what is there, or changing what is not, fails (a probe);
//!   otherwise the path's state before the first such call is compared
//!   with its state after the run ([`super::ptrace::Tracer::settle_writes`]). A
//!   `connect` to a unix socket is refused where a socket file is there (it
//!   may accept), else it is a probe. A device open is judged before it
//!   runs (absent, or `/dev/tty` without a controlling terminal: it fails).
//!   What this cannot tell: a same-size write within the clock tick of
//!   the file's last change (file times are coarse, a few ms) leaves the
//!   same state; it would take another writer racing the run on that file.
//! * No exec events: which processes run gocache's own executable is
//!   looked at in `/proc` when one of them makes a socket call.
//! * Processes the run leaves behind: the supervisor is a child subreaper,
//!   so they stay its descendants; the listener reports a hang-up once no
//!   process uses the filter, and until then they are served.
//! * A process that already runs under a filter with a listener (a run
//!   observed inside another: a build script that runs `cargo gocache`)
//!   cannot get one (`EBUSY`). It is not traced with ptrace either: the
//!   outer filter's notification takes precedence over a ptrace stop, so
//!   the tracer would see nothing. It runs unobserved (seen by the outer
//!   observation all the same), and is not cached.
//! * An old kernel (before 5.8) or a sandbox that refuses the listener:
//!   the supervisor says so before anything of the run started, and the
//!   caller traces it with ptrace instead. `CARGO_GOCACHE_DEBUG=observer-ptrace`
//!   does that always (and is inherited, so a run observed inside another
//!   then fails `PTRACE_TRACEME` and runs unobserved, as before).

use std::os::fd::{AsRawFd, IntoRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::time::Instant;

use super::delegate::{recv_fd, send_fd};
use super::ptrace::{cstring_ptrs, filter, program_name, Launch, Tracer, CANNOT_TRACE, LINGER};

/// `SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP` (Linux 6.6): the supervisor is
/// woken on the CPU of the process that made the call, and that process on
/// the supervisor's when answered: the round trip of a notification becomes
/// two context switches on one CPU instead of two wake-ups of another
/// (an inter-processor interrupt each, and in a VM an exit from an idle
/// CPU's halt). 300 runs of `true` under cargo's `LD_LIBRARY_PATH` (94
/// calls each): about 19 µs a call without it, 9 µs with it; openssl's
/// `perl Configure` (162,000 `stat` calls): 14.2 s observed without it,
/// 7.2 s with it, 5.3 s unobserved.
const SYNC_WAKE_UP: libc::c_ulong = 1;

/// The supervisor process: start the run under the filter, answer every
/// notification after recording it, report, then serve what the run left
/// behind until no process uses the filter. Writes one byte to `ready`
/// once it holds the listener (before the program runs); exits without it
/// when it cannot get one. Returns the supervisor's exit code.
pub(super) fn supervise(launch: &Launch<'_>, ready: RawFd) -> i32 {
    let (argv_ptrs, envp_ptrs) = cstring_ptrs(launch.argv, launch.envp);
    let prog = filter(libc::SECCOMP_RET_USER_NOTIF);
    let fprog = libc::sock_fprog {
        len: prog.len() as u16,
        filter: prog.as_ptr() as *mut libc::sock_filter,
    };
    // The run's first process sends the listener back over this (without
    // allocating: `delegate`'s `send_fd` makes one `sendmsg`).
    let Ok((parent_end, child_end)) = UnixStream::pair() else {
        return 1;
    };
    let mut status_pipe = [0; 2];
    // SAFETY: plain system calls on arrays we own; the signal mask is the
    // single-threaded supervisor's (restored in the run's process).
    let mut old_mask: libc::sigset_t = unsafe { std::mem::zeroed() };
    unsafe {
        if libc::pipe2(status_pipe.as_mut_ptr(), libc::O_CLOEXEC) != 0 {
            return 1;
        }
        // Orphans of the run stay ours (their memory stays readable, and
        // their exit is reaped here, which lets the listener hang up).
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
        let mut chld: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut chld);
        libc::sigaddset(&mut chld, libc::SIGCHLD);
        libc::sigprocmask(libc::SIG_BLOCK, &chld, &mut old_mask);
    }
    // An ignored SIGCHLD (inherited through exec) would reap our children
    // unseen: the run's end would never be known.
    // SAFETY: setting a disposition; the old one goes back in the run.
    let old_chld = unsafe { libc::signal(libc::SIGCHLD, libc::SIG_DFL) };
    // SAFETY: fork from the single-threaded supervisor; the child calls
    // only async-signal-safe functions, then execve or _exit.
    let root = unsafe { libc::fork() };
    if root < 0 {
        return 1;
    }
    if root == 0 {
        // SAFETY: the child's setup; every failure writes to the status
        // pipe and exits before the program runs.
        unsafe {
            libc::signal(libc::SIGCHLD, old_chld);
            libc::sigprocmask(libc::SIG_SETMASK, &old_mask, std::ptr::null_mut());
            libc::close(parent_end.as_raw_fd());
            libc::close(status_pipe[0]);
            launch.redirect_output();
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                fail(status_pipe[1], b'p');
            }
            let listener = libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                libc::SECCOMP_FILTER_FLAG_NEW_LISTENER,
                &fprog as *const libc::sock_fprog,
            ) as RawFd;
            if listener < 0 {
                let busy = std::io::Error::last_os_error().raw_os_error() == Some(libc::EBUSY);
                fail(status_pipe[1], if busy { b'b' } else { b'f' });
            }
            if send_fd(&child_end, Some(listener)).is_err() {
                fail(status_pipe[1], b's');
            }
            libc::close(listener);
            libc::close(child_end.as_raw_fd());
            libc::execve(
                launch.program.as_ptr(),
                argv_ptrs.as_ptr(),
                envp_ptrs.as_ptr(),
            );
            fail(status_pipe[1], b'e');
        }
    }
    // SAFETY: the supervisor's copies of what the run's process holds.
    unsafe {
        libc::close(status_pipe[1]);
    }
    launch.close_output();
    drop(child_end);
    let Some(listener) = recv_fd(&parent_end)
        .ok()
        .flatten()
        .map(IntoRawFd::into_raw_fd)
    else {
        // No listener: nothing of the program ran. `ready` tells the
        // caller whether a filter with a listener is already above us
        // (`b`: a run observed inside another), or else nothing.
        let mut status = 0;
        let mut why = [0u8; 1];
        // SAFETY: reaping our child, which exits before execve, then
        // reading what it said.
        unsafe {
            libc::waitpid(root, &mut status, 0);
            if libc::read(status_pipe[0], why.as_mut_ptr() as *mut libc::c_void, 1) == 1
                && why[0] == b'b'
            {
                libc::write(ready, b"b".as_ptr() as *const libc::c_void, 1);
            }
        }
        return 1;
    };
    // SAFETY: our descriptors; the ioctl takes its flags by value, and
    // fails harmlessly (EINVAL) before Linux 6.6.
    unsafe {
        libc::ioctl(listener, libc::SECCOMP_IOCTL_NOTIF_SET_FLAGS, SYNC_WAKE_UP);
        libc::write(ready, b"n".as_ptr() as *const libc::c_void, 1);
        libc::close(ready);
    }
    // SAFETY: a signalfd for the SIGCHLD blocked above.
    let sigfd = unsafe {
        let mut chld: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut chld);
        libc::sigaddset(&mut chld, libc::SIGCHLD);
        libc::signalfd(-1, &chld, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK)
    };
    if sigfd < 0 {
        // Cannot tell when the run ends: stop it rather than hang.
        // SAFETY: killing and reaping our child.
        unsafe {
            libc::kill(root, libc::SIGKILL);
            libc::waitpid(root, std::ptr::null_mut(), 0);
        }
        return 1;
    }

    let mut t = Tracer::new(launch.own_exe, root, true);
    let mut root_done: Option<Instant> = None;
    let mut reported = false;
    let mut hung_up = false;
    loop {
        if let Some(at) = root_done {
            if !reported && (hung_up || at.elapsed() >= LINGER) {
                if !hung_up {
                    t.obs.refusals.insert("background-process".into());
                }
                let mut b = [0u8; 1];
                // SAFETY: the status pipe's read end; its writers are gone
                // (the run's first process exited), so this cannot block.
                if unsafe { libc::read(status_pipe[0], b.as_mut_ptr() as *mut libc::c_void, 1) }
                    == 1
                {
                    return 1; // never ran the program: no report
                }
                t.settle_writes();
                launch.report(&mut t);
                reported = true;
            }
            if reported && hung_up {
                return 0;
            }
        }
        let timeout = match root_done {
            Some(at) if !reported => LINGER.saturating_sub(at.elapsed()).as_millis() as i32 + 1,
            _ => -1,
        };
        let mut fds = [
            libc::pollfd {
                fd: listener,
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: sigfd,
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: two pollfds.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, timeout) };
        if n < 0 {
            continue; // EINTR
        }
        if fds[0].revents & libc::POLLIN != 0 {
            answer(&mut t, listener);
        } else if fds[0].revents & (libc::POLLHUP | libc::POLLERR) != 0 {
            // No process uses the filter any more.
            hung_up = true;
        }
        if fds[1].revents & libc::POLLIN != 0 {
            let mut info = [0u8; std::mem::size_of::<libc::signalfd_siginfo>()];
            // SAFETY: draining the non-blocking signalfd.
            while unsafe { libc::read(sigfd, info.as_mut_ptr() as *mut libc::c_void, info.len()) }
                > 0
            {}
            loop {
                let mut status = 0;
                // SAFETY: reaping any child (the run's first process, or
                // an orphan of the run that came to us).
                let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG | libc::__WALL) };
                if pid <= 0 {
                    break;
                }
                if pid == root {
                    t.obs.code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
                    t.obs.signal = libc::WIFSIGNALED(status).then(|| libc::WTERMSIG(status));
                    root_done = Some(Instant::now());
                }
            }
        }
    }
}

/// The run's process could not start the program: say why on the status
/// pipe and exit (async-signal-safe).
fn fail(status: RawFd, why: u8) -> ! {
    // SAFETY: a write of one byte and _exit, in the forked child.
    unsafe {
        libc::write(status, [why].as_ptr() as *const libc::c_void, 1);
        libc::_exit(CANNOT_TRACE)
    }
}

/// Receive one notification, record the call, and let it run.
fn answer(t: &mut Tracer, listener: RawFd) {
    // SAFETY: the kernel wants a zeroed request.
    let mut req: libc::seccomp_notif = unsafe { std::mem::zeroed() };
    // SAFETY: a request buffer of the kernel's size for this ioctl.
    if unsafe { libc::ioctl(listener, libc::SECCOMP_IOCTL_NOTIF_RECV, &mut req) } != 0 {
        return; // the process was killed before we got to it
    }
    let pid = req.pid as libc::pid_t;
    let d = req.data;
    if t.stops.is_some() {
        count_stop(t, pid, d.nr as u64);
    }
    t.on_call(pid, d.arch, d.nr as u64, d.args);
    let mut resp = libc::seccomp_notif_resp {
        id: req.id,
        val: 0,
        error: 0,
        flags: libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32,
    };
    // SAFETY: the answer to the request above; ENOENT (killed meanwhile)
    // is nothing to act on.
    unsafe { libc::ioctl(listener, libc::SECCOMP_IOCTL_NOTIF_SEND, &mut resp) };
}

/// `CARGO_GOCACHE_DEBUG=observer-stops` without exec events: a process's
/// program is its executable's name now; a new name starts a new run.
fn count_stop(t: &mut Tracer, pid: libc::pid_t, nr: u64) {
    let name = program_name(pid);
    let Some(stops) = t.stops.as_mut() else {
        return;
    };
    let live = stops.live.entry(pid).or_insert_with(|| (name.clone(), 0));
    if live.0 != name {
        let (old, n) = std::mem::replace(live, (name.clone(), 0));
        let e = stops.done.entry(old).or_default();
        e.0 += 1;
        e.1 += n;
    }
    live.1 += 1;
    *stops.calls.entry((name, nr)).or_default() += 1;
}
