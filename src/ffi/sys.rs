//! Safe wrappers over the few raw system calls the rest of the crate needs (kept here so all `unsafe` lives in
//! `src/ffi/`): process-group and process kills, and the shell sandbox's child setup (cgroup, network namespace,
//! Landlock) applied between fork and exec.

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
    /// A Landlock ruleset built before the fork; only `restrict_self` (prctl + one syscall) runs in the child.
    pub landlock: Option<landlock::RulesetCreated>,
}

/// Makes `cmd`'s child apply `setup` to itself just before `exec`, in this order: join the cgroup, enter the
/// network namespace, restrict itself with Landlock (last, because Landlock would forbid the cgroup write).
///
/// Nothing is applied to the calling process: the host is an editor that loaded tandem, and process-wide state
/// (subreaper, signal handlers, namespaces) is not ours to change. A step that fails makes the spawn fail with
/// its OS error, so a command never runs less confined than the caller was told.
#[cfg(target_os = "linux")]
pub fn confine_child(cmd: &mut tokio::process::Command, setup: ChildSetup) {
    let ChildSetup {
        cgroup_procs,
        new_network_namespace,
        new_pid_namespace,
        mut landlock,
    } = setup;
    let hook = move || -> io::Result<()> {
        if let Some(path) = &cgroup_procs {
            join_cgroup(path)?;
        }
        let mut flags = 0;
        if new_network_namespace {
            flags |= libc::CLONE_NEWNET;
        }
        if new_pid_namespace {
            flags |= libc::CLONE_NEWPID | libc::CLONE_NEWNS;
        }
        // SAFETY: unshare(2) takes a flag word and touches no memory of ours; it only affects this (child)
        // process.
        if flags != 0 && unsafe { libc::unshare(flags) } != 0 {
            return Err(io::Error::last_os_error());
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
    };
    // SAFETY: the hook runs in the forked child before exec, where only async-signal-safe calls are allowed. It
    // calls open, write, close, unshare, fork, waitpid, mount, prctl, kill, _exit and landlock_restrict_self (all
    // plain syscalls) on data prepared before the fork (a CString, a ruleset fd, static strings); it allocates
    // nothing and takes no lock.
    unsafe {
        cmd.pre_exec(hook);
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

/// Moves the calling process into the cgroup whose `cgroup.procs` is `procs` (writing `0` means "me").
#[cfg(target_os = "linux")]
fn join_cgroup(procs: &std::ffi::CStr) -> io::Result<()> {
    // SAFETY: `procs` is a valid NUL-terminated path; open returns a new fd or -1.
    let fd = unsafe { libc::open(procs.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: writes one byte from a static buffer to the fd just opened, then closes it.
    let n = unsafe { libc::write(fd, b"0".as_ptr().cast(), 1) };
    let err = io::Error::last_os_error();
    // SAFETY: `fd` is ours and closed once.
    unsafe { libc::close(fd) };
    if n == 1 {
        Ok(())
    } else {
        Err(err)
    }
}

/// Whether this process may create network namespaces (needs CAP_SYS_ADMIN).
#[cfg(target_os = "linux")]
pub fn can_unshare_network() -> bool {
    can_unshare(libc::CLONE_NEWNET)
}

/// Whether this process may create PID and mount namespaces (needs CAP_SYS_ADMIN).
#[cfg(target_os = "linux")]
pub fn can_unshare_pid() -> bool {
    can_unshare(libc::CLONE_NEWPID | libc::CLONE_NEWNS)
}

/// Whether `unshare(flags)` succeeds: tried once in a throwaway child, never in this process.
#[cfg(target_os = "linux")]
fn can_unshare(flags: libc::c_int) -> bool {
    use std::os::unix::process::CommandExt;
    let mut cmd = std::process::Command::new("/bin/sh");
    cmd.args(["-c", "exit 0"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    // SAFETY: the hook only calls unshare(2), an async-signal-safe syscall, in the forked child.
    unsafe {
        cmd.pre_exec(move || {
            if libc::unshare(flags) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.status().is_ok_and(|s| s.success())
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
