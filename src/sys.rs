//! Safe wrappers over the few raw system calls the rest of the crate needs (kept here so all `unsafe` lives in
//! `src/ffi/` and here).

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
