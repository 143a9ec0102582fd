//! The OS sandbox of the `shell` tool: the `sandbox` and `shell_env` session options, what each command is
//! confined to (Landlock on Linux, a network namespace, a cgroup per call) and the report of what the running
//! kernel really enforces.
//!
//! Everything is applied to the command's child process between fork and exec ([`crate::sys::confine_child`]);
//! nothing changes the host process, which is an editor that loaded tandem and whose process-wide state is not ours.

mod cgroup;
pub mod env;
#[cfg(target_os = "linux")]
mod rules;

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

pub use cgroup::CallGroup;

/// The `sandbox` modes, named like Codex's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Commands may read everything and write nowhere (except `/dev/null` and the like).
    ReadOnly,
    /// Commands may read everything and write only in the workdir, the temp directories and `writable_roots`.
    #[default]
    WorkspaceWrite,
    /// No confinement (the environment allowlist and the per-call process tracking still apply).
    Off,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::ReadOnly => "read-only",
            Mode::WorkspaceWrite => "workspace-write",
            Mode::Off => "off",
        }
    }
}

/// What a session's shell commands are allowed: the resolved `sandbox` and `shell_env` options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// The mode.
    pub mode: Mode,
    /// Whether commands may use the network (default true; `false` is enforced only when the mode is not `off`).
    pub network: bool,
    /// Directories writable in `workspace-write` besides the workdir and temp directories (absolute).
    pub writable_roots: Vec<PathBuf>,
    /// Variables (exact names, or prefixes ending in `*`) passed to commands beyond [`env::BASE`].
    pub env: Vec<String>,
    /// Make the namespaces through a user namespace even when privileged (tests of the unprivileged path).
    pub(crate) via_user_namespace: bool,
}

impl Default for Policy {
    /// `workspace-write`, network allowed, the base environment.
    fn default() -> Policy {
        Policy {
            mode: Mode::WorkspaceWrite,
            network: true,
            writable_roots: Vec::new(),
            env: Vec::new(),
            via_user_namespace: false,
        }
    }
}

impl Policy {
    /// Parses the `sandbox` option (`"read-only"`, `"workspace-write"`, `"off"`, or an object
    /// `{mode?, network?, writable_roots?}`) and the `shell_env` option (an array of variable names).
    pub fn from_options(
        sandbox: Option<&Value>,
        shell_env: Option<&[String]>,
    ) -> Result<Policy, String> {
        let mut p = Policy::default();
        match sandbox {
            None => {}
            Some(Value::String(m)) => p.mode = mode(m)?,
            Some(Value::Object(o)) => {
                for (k, v) in o {
                    match (k.as_str(), v) {
                        ("mode", Value::String(m)) => p.mode = mode(m)?,
                        ("network", Value::Bool(b)) => p.network = *b,
                        ("writable_roots", Value::Array(roots)) => {
                            for r in roots {
                                let r = r
                                    .as_str()
                                    .ok_or("sandbox.writable_roots must be an array of paths")?;
                                if r.contains('\0') {
                                    return Err(
                                        "sandbox.writable_roots: a path contains a NUL byte".into(),
                                    );
                                }
                                // Like `workdir`: `~` expanded, relative paths taken from the current directory.
                                p.writable_roots
                                    .push(crate::ids::expand_path(r).map_err(|e| e.to_string())?);
                            }
                        }
                        ("mode" | "network" | "writable_roots", _) => {
                            return Err(format!("sandbox.{k} has the wrong type"))
                        }
                        _ => return Err(format!("sandbox: unknown key {k:?}")),
                    }
                }
            }
            Some(_) => {
                return Err(
                    "sandbox must be \"read-only\", \"workspace-write\", \"off\" or an object"
                        .into(),
                )
            }
        }
        for name in shell_env.unwrap_or_default() {
            let stem = name.strip_suffix('*').unwrap_or(name);
            if stem.is_empty() || stem.contains(['=', '\0', '*']) {
                return Err(format!(
                    "shell_env: {name:?} must be a variable name, or a prefix ending in *"
                ));
            }
            p.env.push(name.clone());
        }
        Ok(p)
    }

    /// The directories a command may write in (empty in `read-only` and `off`).
    pub fn writable(&self, workdir: &Path) -> Vec<PathBuf> {
        if self.mode != Mode::WorkspaceWrite {
            return Vec::new();
        }
        let mut dirs = vec![workdir.to_path_buf()];
        dirs.extend(temp_dirs());
        dirs.extend(self.writable_roots.iter().cloned());
        dirs.retain(|d| d.is_dir());
        dirs.dedup();
        dirs
    }
}

fn mode(name: &str) -> Result<Mode, String> {
    match name {
        "read-only" => Ok(Mode::ReadOnly),
        "workspace-write" => Ok(Mode::WorkspaceWrite),
        "off" => Ok(Mode::Off),
        _ => Err(format!(
            "sandbox mode {name:?} must be \"read-only\", \"workspace-write\" or \"off\""
        )),
    }
}

/// The temp directories writable in `workspace-write`: `/tmp`, `/var/tmp`, `/dev/shm` and `$TMPDIR`.
fn temp_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = ["/tmp", "/var/tmp", "/dev/shm"]
        .iter()
        .map(PathBuf::from)
        .collect();
    if let Some(t) = std::env::var_os("TMPDIR").filter(|t| !t.is_empty()) {
        dirs.push(PathBuf::from(t));
    }
    dirs
}

/// What the running kernel lets tandem enforce (probed once per process: each probe is a syscall or a throwaway
/// child, never a change to this process).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kernel {
    /// The Landlock ABI version (`None`: no Landlock).
    pub landlock_abi: Option<u32>,
    /// Whether a network namespace can be created directly (needs CAP_SYS_ADMIN).
    pub network_namespace: bool,
    /// Whether PID and mount namespaces (with a fresh `/proc`) can be created directly (needs CAP_SYS_ADMIN).
    pub pid_namespace: bool,
    /// Whether PID, mount and network namespaces can be created inside a new user namespace: how an unprivileged
    /// process gets them, where the kernel allows unprivileged user namespaces.
    pub user_namespace: bool,
    /// Whether a cgroup v2 directory can be created for a call.
    pub cgroup: bool,
}

impl Kernel {
    /// Whether a command can get a network namespace of its own (directly or through a user namespace).
    pub fn isolates_network(&self) -> bool {
        self.network_namespace || self.user_namespace
    }

    /// Whether a command can get a PID namespace of its own (directly or through a user namespace).
    pub fn isolates_processes(&self) -> bool {
        self.pid_namespace || self.user_namespace
    }
}

/// The probed [`Kernel`].
pub fn kernel() -> Kernel {
    static KERNEL: std::sync::OnceLock<Kernel> = std::sync::OnceLock::new();
    *KERNEL.get_or_init(|| {
        #[cfg(target_os = "linux")]
        {
            use crate::sys::{setup_works, ChildSetup, IdMaps};
            Kernel {
                landlock_abi: crate::sys::landlock_abi(),
                network_namespace: setup_works(ChildSetup {
                    new_network_namespace: true,
                    ..ChildSetup::default()
                }),
                pid_namespace: setup_works(ChildSetup {
                    new_pid_namespace: true,
                    ..ChildSetup::default()
                }),
                user_namespace: setup_works(ChildSetup {
                    new_pid_namespace: true,
                    new_network_namespace: true,
                    user_namespace: Some(IdMaps::own()),
                    ..ChildSetup::default()
                }),
                cgroup: {
                    cgroup::sweep();
                    CallGroup::create().is_ok()
                },
            }
        }
        #[cfg(not(target_os = "linux"))]
        Kernel {
            landlock_abi: None,
            network_namespace: false,
            pid_namespace: false,
            user_namespace: false,
            cgroup: false,
        }
    })
}

/// What is enforced on a command run under `policy` in `workdir` on this machine, as JSON for events and
/// snapshots: `{mode, network, filesystem, landlock_abi, writable, network_isolation, namespaces,
/// process_tracking, parent_environ, environment, not_enforced}`. `not_enforced` lists, in words, what the mode asks and the kernel cannot do (empty
/// when everything holds).
pub fn report(policy: &Policy, workdir: &Path) -> Value {
    let k = kernel();
    let confined = policy.mode != Mode::Off;
    let landlock = confined && k.landlock_abi.is_some();
    let mut missing: Vec<&str> = Vec::new();
    if confined && !landlock {
        missing.push("filesystem: Landlock is not available, writes are not confined");
    }
    let hidden = confined && k.isolates_processes();
    if confined && !hidden {
        missing.push(
            "processes: no PID namespace (needs CAP_SYS_ADMIN or unprivileged user namespaces), a command may \
             read tandem's /proc/<pid>/environ",
        );
    }
    let network_isolation = match (
        confined && !policy.network,
        k.isolates_network(),
        k.landlock_abi,
    ) {
        (false, _, _) => "none",
        (true, true, _) => "network namespace",
        (true, false, Some(abi)) if abi >= 4 => "landlock tcp",
        (true, false, _) => {
            missing
                .push("network: neither a network namespace nor Landlock TCP rules are available");
            "none"
        }
    };
    if network_isolation == "landlock tcp" {
        missing.push("network: only TCP connect/bind is denied (UDP and other sockets are not)");
    }
    let writable: Vec<String> = if landlock {
        policy
            .writable(workdir)
            .iter()
            .map(|p| p.display().to_string())
            .collect()
    } else {
        vec!["everything the process may write".into()]
    };
    json!({
        "mode": policy.mode.name(),
        "network": policy.network || !confined,
        "filesystem": if landlock { "landlock" } else { "none" },
        "landlock_abi": k.landlock_abi,
        "writable": writable,
        "network_isolation": network_isolation,
        "namespaces": match (confined, k.pid_namespace, k.user_namespace) {
            (false, _, _) => "none",
            (true, true, _) => "direct",
            (true, false, true) => "user namespace",
            (true, false, false) => "none",
        },
        "process_tracking": match (hidden, k.cgroup) {
            (true, true) => "pid namespace, cgroup",
            (true, false) => "pid namespace",
            (false, true) => "cgroup",
            (false, false) => "process group",
        },
        "parent_environ": if hidden { "hidden (pid namespace)" } else { "readable" },
        "environment": "allowlist",
        "not_enforced": missing,
    })
}

/// What one call applies: built before the spawn, applied in the child by [`crate::sys::confine_child`].
#[cfg(target_os = "linux")]
pub fn child_setup(
    policy: &Policy,
    workdir: &Path,
    group: Option<&CallGroup>,
) -> Result<crate::sys::ChildSetup, String> {
    let k = kernel();
    let confined = policy.mode != Mode::Off;
    // Directly where privileged; through a user namespace otherwise (or when a test asks for that path).
    let via_user = k.user_namespace && (!k.pid_namespace || policy.via_user_namespace);
    let processes = confined && (via_user || k.pid_namespace);
    let network = confined && !policy.network && (via_user || k.network_namespace);
    let deny_tcp = confined && !policy.network && !network;
    let landlock = match (confined, k.landlock_abi) {
        (true, Some(_)) => Some(rules::ruleset(policy, workdir, deny_tcp)?),
        _ => None,
    };
    Ok(crate::sys::ChildSetup {
        cgroup_procs: group.map(CallGroup::procs_path),
        new_network_namespace: network,
        new_pid_namespace: processes,
        user_namespace: (confined && via_user && (processes || network))
            .then(crate::sys::IdMaps::own),
        landlock,
    })
}

#[cfg(test)]
mod tests;
