//! Safe wrappers over the few raw system calls the rest of the crate needs (kept here so all `unsafe` lives in
//! `src/ffi/` and here): process-group and process kills, and the shell sandbox's child setup (cgroup, network
//! namespace, Landlock) applied between fork and exec, and the pull queue's readiness descriptor.

use std::io;

/// Sends `SIGKILL` to every process in process group `pgid` (the shell tool starts each command as the leader of
/// its own group, so this ends the command and everything it spawned).
///
/// A group that no longer exists is not an error. `pgid` 0 and 1 are refused: `kill(0, …)` would address the
/// caller's own group and `kill(-1, …)` every process it may signal.
pub fn kill_process_group(pgid: u32) -> io::Result<()> {
    let pgid = i32::try_from(pgid)
        .ok()
        .filter(|p| *p > 1)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "invalid process group id"))?;
    // SAFETY: kill(2) takes two integers and reads or writes no memory of ours. `pgid > 1`, so `-pgid` names
    // exactly one process group, never "our own group" (0) or "every process" (-1).
    let rc = unsafe { libc::kill(-pgid, libc::SIGKILL) };
    if rc == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    if err.raw_os_error() == Some(libc::ESRCH) {
        Ok(())
    } else {
        Err(err)
    }
}

/// What a shell command's child process does to itself between `fork` and `exec` (see [`confine_child`]).
#[cfg(target_os = "linux")]
#[derive(Default)]
pub struct ChildSetup {
    /// The `cgroup.procs` file of the call's cgroup: the child writes `0` to it (moving itself in) so that every
    /// process the command starts, `setsid` daemons included, is in that cgroup and can be killed with it.
    pub cgroup_procs: Option<std::ffi::CString>,
    /// Enter a new, empty network namespace (only a down loopback): no network at all.
    pub new_network_namespace: bool,
    /// Run the command as process 1 of a new PID namespace with its own `/proc` (in a new mount namespace): it
    /// sees no process outside its call (so not tandem's `/proc/<pid>/environ`), and when it exits the kernel kills
    /// every process left in the namespace. The forked child stays outside as a waiter that exits with the
    /// command's status.
    pub new_pid_namespace: bool,
    /// Create the namespaces inside a new user namespace mapping only this process's own uid and gid: how an
    /// unprivileged process (no CAP_SYS_ADMIN) gets PID, mount and network namespaces.
    pub user_namespace: Option<IdMaps>,
    /// A Landlock ruleset built before the fork; only `restrict_self` (prctl + one syscall) runs in the child.
    pub landlock: Option<landlock::RulesetCreated>,
}

/// The uid and gid maps of a user namespace that maps this process's own ids to themselves, formatted before the
/// fork (the child cannot allocate).
#[cfg(target_os = "linux")]
pub struct IdMaps {
    uid_map: Vec<u8>,
    gid_map: Vec<u8>,
}

#[cfg(target_os = "linux")]
impl IdMaps {
    /// Maps for this process's real uid and gid.
    pub fn own() -> IdMaps {
        // SAFETY: getuid and getgid take nothing and cannot fail.
        let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
        IdMaps {
            uid_map: format!("{uid} {uid} 1\n").into_bytes(),
            gid_map: format!("{gid} {gid} 1\n").into_bytes(),
        }
    }
}

/// Makes `cmd`'s child apply `setup` to itself just before `exec`, in this order: join the cgroup, enter the
/// namespaces, restrict itself with Landlock (last, because Landlock forbids the cgroup write and mounts).
///
/// Nothing is applied to the calling process: the host is an editor that loaded tandem, and process-wide state
/// (subreaper, signal handlers, namespaces) is not ours to change. A step that fails makes the spawn fail with
/// its OS error, so a command never runs less confined than the caller was told.
#[cfg(target_os = "linux")]
pub fn confine_child(cmd: &mut tokio::process::Command, setup: ChildSetup) {
    // SAFETY: see `child_hook`: the hook only makes async-signal-safe calls on data prepared before the fork.
    unsafe {
        cmd.pre_exec(child_hook(setup));
    }
}

/// Whether a child can apply `setup` on this machine: tried once in a throwaway `/bin/sh -c 'exit 0'`, never in
/// this process. This is how the kernel and privilege checks are made (the exact same steps as a real command).
#[cfg(target_os = "linux")]
pub fn setup_works(setup: ChildSetup) -> bool {
    use std::os::unix::process::CommandExt;
    let mut cmd = std::process::Command::new("/bin/sh");
    cmd.args(["-c", "exit 0"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    // SAFETY: as for `confine_child`.
    unsafe {
        cmd.pre_exec(child_hook(setup));
    }
    cmd.status().is_ok_and(|s| s.success())
}

/// The code run between fork and exec for `setup`.
///
/// It calls open, write, close, unshare, fork, waitpid, mount, prctl, kill, _exit and landlock_restrict_self (all
/// plain, async-signal-safe syscalls) on data prepared before the fork (CStrings, byte buffers, a ruleset fd,
/// static strings); it allocates nothing and takes no lock, as a child of a multi-threaded process must.
#[cfg(target_os = "linux")]
fn child_hook(setup: ChildSetup) -> impl FnMut() -> io::Result<()> + Send + Sync + 'static {
    let ChildSetup {
        cgroup_procs,
        new_network_namespace,
        new_pid_namespace,
        user_namespace,
        mut landlock,
    } = setup;
    let host = std::process::id();
    move || -> io::Result<()> {
        // SAFETY: prctl and getppid take integers. If the host dies (even by SIGKILL, when nothing of ours runs),
        // the command dies with it; the PID namespace then takes every process of the call along. The signal
        // comes when the spawning thread ends: a runtime worker, which lives as long as the client. The parent
        // check closes the race of a host that died before the prctl.
        unsafe {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            if u32::try_from(libc::getppid()) != Ok(host) {
                libc::_exit(127);
            }
        }
        if let Some(path) = &cgroup_procs {
            write_file(path, b"0")?;
        }
        let mut flags = 0;
        if new_network_namespace {
            flags |= libc::CLONE_NEWNET;
        }
        if new_pid_namespace {
            flags |= libc::CLONE_NEWPID | libc::CLONE_NEWNS;
        }
        if user_namespace.is_some() {
            flags |= libc::CLONE_NEWUSER;
        }
        // SAFETY: unshare(2) takes a flag word and touches no memory of ours; it only affects this (child)
        // process.
        if flags != 0 && unsafe { libc::unshare(flags) } != 0 {
            return Err(io::Error::last_os_error());
        }
        if let Some(maps) = &user_namespace {
            // An unprivileged process may map only its own ids, and must give up setgroups to map its gid.
            write_file(c"/proc/self/setgroups", b"deny")?;
            write_file(c"/proc/self/uid_map", &maps.uid_map)?;
            write_file(c"/proc/self/gid_map", &maps.gid_map)?;
        }
        if new_pid_namespace {
            become_namespace_init()?;
        }
        if let Some(ruleset) = landlock.take() {
            // restrict_self is prctl(PR_SET_NO_NEW_PRIVS) and landlock_restrict_self, then close of the ruleset
            // fd: no allocation on success. A failure is reported without allocating too.
            ruleset
                .restrict_self()
                .map_err(|_| io::Error::from(io::ErrorKind::PermissionDenied))?;
        }
        Ok(())
    }
}

/// After `unshare(CLONE_NEWPID | CLONE_NEWNS)`: forks the namespace's process 1, which mounts a fresh `/proc`
/// and returns (to exec the command); this process closes every descriptor (so the spawner sees exec's outcome
/// from the grandchild alone and the output pipes end with the command), waits for it, and exits the same way.
#[cfg(target_os = "linux")]
fn become_namespace_init() -> io::Result<()> {
    // SAFETY: fork(2) in a single-threaded child; both sides only make async-signal-safe calls afterwards.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid > 0 {
        // SAFETY: close_range, waitpid, signal, kill, getpid and _exit take integers or a pointer to our local
        // status word; this process never returns to the spawner's code.
        unsafe {
            libc::syscall(libc::SYS_close_range, 0u32, u32::MAX, 0u32);
            let mut status = 0;
            while libc::waitpid(pid, &mut status, 0) < 0 {
                if io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                    libc::_exit(127);
                }
            }
            if libc::WIFSIGNALED(status) {
                let sig = libc::WTERMSIG(status);
                libc::signal(sig, libc::SIG_DFL);
                libc::kill(libc::getpid(), sig);
            }
            libc::_exit(libc::WEXITSTATUS(status));
        }
    }
    // SAFETY: prctl takes integers; mount gets static NUL-terminated strings. PDEATHSIG ends the namespace (and
    // so every process in it) when the waiter is killed, e.g. by kill_on_drop.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        // Mounts below stay in this namespace instead of propagating to the host's.
        if libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        ) != 0
            || libc::mount(
                c"proc".as_ptr(),
                c"/proc".as_ptr(),
                c"proc".as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                std::ptr::null(),
            ) != 0
        {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Writes `data` to the existing file `path` in one write (a cgroup's `cgroup.procs`, a `/proc/self` map).
#[cfg(target_os = "linux")]
fn write_file(path: &std::ffi::CStr, data: &[u8]) -> io::Result<()> {
    // SAFETY: `path` is a valid NUL-terminated path; open returns a new fd or -1.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: writes `data` (valid for its length) to the fd just opened, then closes it.
    let n = unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) };
    let err = io::Error::last_os_error();
    // SAFETY: `fd` is ours and closed once.
    unsafe { libc::close(fd) };
    if usize::try_from(n) == Ok(data.len()) {
        Ok(())
    } else {
        Err(err)
    }
}

/// The Landlock ABI version the running kernel implements (`None` when Landlock is absent or disabled).
#[cfg(target_os = "linux")]
pub fn landlock_abi() -> Option<u32> {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;
    // SAFETY: landlock_create_ruleset(NULL, 0, VERSION) only returns the ABI version (or -1); it reads no memory
    // and creates no fd.
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    u32::try_from(v).ok().filter(|v| *v > 0)
}

/// Sends `SIGKILL` to process `pid` (used for the processes listed in a call's cgroup when the kernel has no
/// `cgroup.kill`). A vanished process is not an error; pids 0 and 1 and non-positive values are refused.
pub fn kill_process(pid: u32) -> io::Result<()> {
    let pid = i32::try_from(pid)
        .ok()
        .filter(|p| *p > 1)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "invalid process id"))?;
    // SAFETY: kill(2) takes two integers; `pid > 1` names one process.
    let rc = unsafe { libc::kill(pid, libc::SIGKILL) };
    if rc == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH) {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_groups_that_would_widen_the_kill() {
        for bad in [0, 1, u32::MAX] {
            assert_eq!(
                kill_process_group(bad).unwrap_err().kind(),
                io::ErrorKind::InvalidInput
            );
        }
    }

    #[test]
    fn a_vanished_group_is_not_an_error() {
        let mut child = std::process::Command::new("/bin/sh")
            .args(["-c", "exit 0"])
            .spawn()
            .unwrap();
        let pid = child.id();
        child.wait().unwrap();
        // The shell was not a group leader and is gone: no group carries its pid.
        kill_process_group(pid).unwrap();
    }
}

/// A readiness descriptor the host can poll: an eventfd (`EFD_NONBLOCK | EFD_CLOEXEC`) on Linux, a non-blocking
/// close-on-exec pipe elsewhere. [`ReadyFd::set`] makes it readable, [`ReadyFd::clear`] drains it; it is closed on
/// drop. The owner serializes `set` and `clear` (the event bus calls them under its pull lock).
#[derive(Debug)]
pub struct ReadyFd {
    /// The descriptor hosts poll (the eventfd, or the pipe's read end).
    read: i32,
    /// The descriptor written to make it readable (the eventfd itself, or the pipe's write end).
    write: i32,
}

impl ReadyFd {
    /// A new descriptor, not readable.
    #[cfg(target_os = "linux")]
    pub fn new() -> io::Result<ReadyFd> {
        // SAFETY: eventfd takes two integers and returns a new descriptor or -1; no memory of ours is touched.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(ReadyFd {
            read: fd,
            write: fd,
        })
    }

    /// A new descriptor, not readable.
    #[cfg(not(target_os = "linux"))]
    pub fn new() -> io::Result<ReadyFd> {
        let mut fds = [0i32; 2];
        // SAFETY: `fds` is a writable array of two ints, as pipe(2) requires.
        if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let ready = ReadyFd {
            read: fds[0],
            write: fds[1],
        };
        for fd in fds {
            // SAFETY: fcntl on descriptors we just created and own; integers only.
            let ok = unsafe {
                libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) == 0
                    && libc::fcntl(
                        fd,
                        libc::F_SETFL,
                        libc::fcntl(fd, libc::F_GETFL) | libc::O_NONBLOCK,
                    ) == 0
            };
            if !ok {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(ready)
    }

    /// The descriptor to poll for readability.
    pub fn fd(&self) -> i32 {
        self.read
    }

    /// Makes the descriptor readable (a no-op when it already is and the counter or pipe is full).
    pub fn set(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live local to a descriptor we own; it is non-blocking, and EAGAIN (counter
        // or pipe full) means it is readable already, so the result needs no handling.
        unsafe { libc::write(self.write, (&one as *const u64).cast(), 8) };
    }

    /// Drains the descriptor so that it is no longer readable.
    pub fn clear(&self) {
        let mut buf = [0u8; 64];
        loop {
            // SAFETY: reads into a live local buffer of the given length from a non-blocking descriptor we own.
            let n = unsafe { libc::read(self.read, buf.as_mut_ptr().cast(), buf.len()) };
            // An eventfd read resets the counter at once; a pipe is read until it is empty (or on error/EAGAIN).
            if n <= 0 || cfg!(target_os = "linux") {
                break;
            }
        }
    }
}

impl Drop for ReadyFd {
    fn drop(&mut self) {
        // SAFETY: both descriptors are ours and closed exactly once, here.
        unsafe {
            libc::close(self.read);
            if self.write != self.read {
                libc::close(self.write);
            }
        }
    }
}

/// Whether descriptor `fd` is readable, waiting up to `timeout_ms` (poll(2); false on error).
pub fn poll_readable(fd: i32, timeout_ms: i32) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: poll reads and writes exactly one live pollfd we pass with count 1.
    let n = unsafe { libc::poll(&mut p, 1, timeout_ms) };
    n == 1 && p.revents & libc::POLLIN != 0
}
