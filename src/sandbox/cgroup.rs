//! A cgroup v2 per shell call: the command's first process joins it before exec, so every process the command
//! starts is in it (a `setsid` daemon leaves the process group, never the cgroup), and killing the cgroup ends
//! them all.
//!
//! The cgroup is made under tandem's own cgroup (where a delegated user may create children) on the cgroup2
//! mount (`/sys/fs/cgroup`, or `/sys/fs/cgroup/unified` on hybrid hosts). Where it cannot be made (no cgroup2,
//! no permission), the shell falls back to killing the process group, and [`super::report`] says so.

use std::ffi::CString;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Calls made by this process, to name each call's cgroup uniquely.
static NEXT: AtomicU64 = AtomicU64::new(0);

/// The cgroup of one call; killed and removed when dropped.
#[derive(Debug)]
pub struct CallGroup {
    dir: PathBuf,
}

impl CallGroup {
    /// Creates an empty cgroup for one call.
    pub fn create() -> io::Result<CallGroup> {
        let parent = own_cgroup()?;
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = parent.join(format!("tandem-{}-{n}", std::process::id()));
        std::fs::create_dir(&dir)?;
        let group = CallGroup { dir };
        // A kernel before 5.14 has no cgroup.kill: killing would mean listing and signalling, racing with forks.
        if !group.dir.join("cgroup.kill").exists() {
            return Err(io::Error::new(io::ErrorKind::Unsupported, "no cgroup.kill"));
        }
        Ok(group)
    }

    /// The `cgroup.procs` file the child writes itself into.
    pub fn procs_path(&self) -> CString {
        use std::os::unix::ffi::OsStrExt;
        // The path comes from the kernel's mount table and our own name: it has no NUL byte.
        CString::new(self.dir.join("cgroup.procs").as_os_str().as_bytes()).unwrap_or_default()
    }

    /// The processes now in the cgroup.
    pub fn pids(&self) -> Vec<u32> {
        std::fs::read_to_string(self.dir.join("cgroup.procs"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }

    /// Sends SIGKILL to every process in the cgroup (the kernel does it atomically, forks included).
    pub fn kill(&self) {
        // Failure means the cgroup is already gone: nothing is left to kill.
        let _ = std::fs::write(self.dir.join("cgroup.kill"), "1");
    }
}

impl Drop for CallGroup {
    fn drop(&mut self) {
        self.kill();
        // rmdir succeeds once the killed processes have exited, which takes a moment; retry off this thread so a
        // dropped call never blocks the async worker it runs on.
        if std::fs::remove_dir(&self.dir).is_err() {
            let dir = self.dir.clone();
            std::thread::spawn(move || remove_when_empty(&dir));
        }
    }
}

/// Kills and removes the cgroups that tandem processes which no longer exist left next to ours (a host killed
/// before it could remove its calls' cgroups). Run once per process, when the kernel is probed.
pub fn sweep() {
    let Ok(entries) = own_cgroup().and_then(std::fs::read_dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let owner = name
            .to_str()
            .and_then(|n| n.strip_prefix("tandem-"))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok());
        let Some(owner) = owner else { continue };
        if owner == std::process::id() || Path::new(&format!("/proc/{owner}")).exists() {
            continue;
        }
        let dir = entry.path();
        // Failure means another process swept it first.
        let _ = std::fs::write(dir.join("cgroup.kill"), "1");
        std::thread::spawn(move || remove_when_empty(&dir));
    }
}

/// Removes the (killed) cgroup `dir`, waiting up to 5 s for its processes to exit.
fn remove_when_empty(dir: &Path) {
    for _ in 0..500 {
        std::thread::sleep(Duration::from_millis(10));
        if std::fs::remove_dir(dir).is_ok() || !dir.exists() {
            return;
        }
    }
}

/// This process's cgroup directory on the cgroup2 mount.
pub(super) fn own_cgroup() -> io::Result<PathBuf> {
    let unsupported = || io::Error::new(io::ErrorKind::Unsupported, "no cgroup v2");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo")?;
    // mountinfo: "id parent major:minor root mountpoint options ... - fstype source superoptions".
    let mount = mounts
        .lines()
        .find_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            (right.split(' ').next()? == "cgroup2")
                .then(|| left.split(' ').nth(4).map(PathBuf::from))?
        })
        .ok_or_else(unsupported)?;
    let cgroups = std::fs::read_to_string("/proc/self/cgroup")?;
    let own = cgroups
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .ok_or_else(unsupported)?;
    Ok(mount.join(own.trim_start_matches('/')))
}
