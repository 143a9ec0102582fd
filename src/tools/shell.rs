//! `shell`: a command run with `/bin/sh -c` in the workdir, confined by the session's sandbox, output streamed as
//! progress.
//!
//! Every process of a call is tracked: the command joins a cgroup of its own before exec where the kernel allows
//! (so `setsid` daemons are tracked too), runs in a PID namespace of its own when sandboxed (the kernel kills what
//! is left in it when the command exits), and always leads its own process group. The cgroup and the group are
//! killed (SIGKILL) when the shell exits (so background jobs do not outlive the call), when it times out, and when
//! the future is dropped (the turn was aborted, the session stopped, the client was freed); if the host dies
//! without running our code, the kernel's parent-death signal ends the command. [`sandbox_report`] says which of
//! these this machine has. The environment is built from an allowlist ([`crate::sandbox::env`]), and on Linux
//! Landlock confines writes, the network and signals ([`crate::sandbox`]).

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use serde_json::Value;
use tokio::io::AsyncReadExt;
use tokio::process::Command;
use tokio::time::{sleep_until, Instant};

use super::args::Args;
use super::{ToolContext, ToolOutcome};
use crate::sys::kill_process_group;
// Where the session manager registers `api_key_env` variables (kept at this path for it).
pub use crate::sandbox::env::mark_key_variable;
use crate::sandbox::{CallGroup, Mode, Policy};

/// Timeout when none is given.
const DEFAULT_TIMEOUT_MS: u64 = 30_000;
/// Longest timeout accepted.
const MAX_TIMEOUT_MS: u64 = 300_000;
/// Output kept (the rest is read and dropped, so the command never blocks on a full pipe).
const OUTPUT_CAP: usize = 256 * 1024;
/// Shortest interval between progress reports.
const PROGRESS_EVERY: Duration = Duration::from_millis(200);
/// How long output is still read after the shell exited and its group was killed: only a process that left the
/// group can hold the pipe open longer, and it is not waited for.
const DRAIN_GRACE: Duration = Duration::from_millis(500);

/// The processes of one call: its process group and, where the kernel allows, its cgroup. Kills them when
/// dropped: this is what ends the command when the call's future is dropped mid-run.
struct Tracker {
    pgid: Option<u32>,
    cgroup: Option<CallGroup>,
}

impl Tracker {
    fn kill(&mut self) {
        if let Some(pgid) = self.pgid.take() {
            // Failure means the group is already gone or not ours to signal; either way there is nothing to do.
            let _ = kill_process_group(pgid);
        }
        if let Some(group) = &self.cgroup {
            group.kill();
        }
    }

    /// Waits (up to a second) until every killed process of the cgroup has exited, so the call ends with none left
    /// and its cgroup can be removed at once.
    async fn settle(&self) {
        let Some(group) = &self.cgroup else { return };
        for _ in 0..100 {
            if group.pids().is_empty() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for Tracker {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Combined output, capped.
struct Output {
    bytes: Vec<u8>,
    cut: bool,
}

impl Output {
    fn push(&mut self, data: &[u8]) {
        let room = OUTPUT_CAP - self.bytes.len();
        if data.len() > room {
            self.cut = true;
        }
        self.bytes.extend_from_slice(&data[..data.len().min(room)]);
    }

    fn text(&self) -> String {
        let mut text = String::from_utf8_lossy(&self.bytes).into_owned();
        if self.cut {
            text.push_str("\n\n[output truncated at 256KB]");
        }
        text
    }
}

/// How the command ended.
enum End {
    Exited(ExitStatus),
    TimedOut,
}

/// `shell {command, timeout_ms?}` under `policy`: the combined output; a non-zero exit, a signal or a timeout is
/// an error result whose text ends with `exit code N`, `killed by signal N` or `command timed out after N ms`.
/// When the sandbox asks for more than this kernel enforces, the result ends with a `[sandbox: ...]` note saying
/// what was not enforced.
pub(super) async fn run(
    root: &Path,
    policy: &Policy,
    args: &Value,
    ctx: &ToolContext,
) -> ToolOutcome {
    match run_checked(root, policy, args, ctx).await {
        Ok(out) | Err(out) => out,
    }
}

/// What the sandbox enforces on this machine for commands run under `policy` in `workdir` (see
/// [`crate::sandbox::report`]): for the host's events and the session snapshot.
pub fn sandbox_report(policy: &Policy, workdir: &Path) -> Value {
    crate::sandbox::report(policy, workdir)
}

/// Starts `/bin/sh -c command` in `root` with the allowlisted environment, in its own process group and (where
/// possible) its own cgroup, confined by `policy`.
fn spawn(
    root: &Path,
    policy: &Policy,
    command: &str,
) -> Result<(tokio::process::Child, Tracker), String> {
    let mut cmd = Command::new("/bin/sh");
    cmd.env_clear()
        .envs(crate::sandbox::env::filter(
            std::env::vars_os(),
            &policy.env,
        ))
        .arg("-c")
        .arg(command)
        .current_dir(root)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    // No cgroup (no cgroup v2, no permission) leaves the process group as the only tracking.
    let cgroup = crate::sandbox::kernel()
        .cgroup
        .then(|| CallGroup::create().ok())
        .flatten();
    #[cfg(target_os = "linux")]
    {
        let setup = crate::sandbox::child_setup(policy, root, cgroup.as_ref())?;
        crate::sys::confine_child(&mut cmd, setup);
    }
    let child = cmd
        .spawn()
        .map_err(|e| format!("cannot start /bin/sh: {e}"))?;
    // The child leads its own group (the shell, or in a PID namespace the waiter outside it, whose group the shell
    // shares), so the group id is its pid.
    let tracker = Tracker {
        pgid: child.id(),
        cgroup,
    };
    Ok((child, tracker))
}

async fn run_checked(
    root: &Path,
    policy: &Policy,
    args: &Value,
    ctx: &ToolContext,
) -> Result<ToolOutcome, ToolOutcome> {
    let a = Args::new("shell", args, &["command", "timeout_ms"]).map_err(ToolOutcome::error)?;
    let command = a.string("command").map_err(ToolOutcome::error)?;
    let timeout_ms = a
        .opt_int("timeout_ms", 1)
        .map_err(ToolOutcome::error)?
        .unwrap_or(DEFAULT_TIMEOUT_MS);
    if timeout_ms > MAX_TIMEOUT_MS {
        return Err(ToolOutcome::error(a.bad(
            "timeout_ms",
            &format!("at most {MAX_TIMEOUT_MS} (5 minutes)"),
        )));
    }
    let (mut child, mut group) = spawn(root, policy, command).map_err(ToolOutcome::error)?;
    let (Some(mut stdout), Some(mut stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(ToolOutcome::error("cannot start /bin/sh: no output pipes"));
    };

    let deadline = Instant::now() + Duration::from_millis(timeout_ms);
    let mut out = Output {
        bytes: Vec::new(),
        cut: false,
    };
    let (mut buf_out, mut buf_err) = ([0u8; 8192], [0u8; 8192]);
    let (mut out_open, mut err_open) = (true, true);
    let mut exited: Option<ExitStatus> = None;
    let mut drain_until: Option<Instant> = None;
    let mut last_report: Option<Instant> = None;
    let mut pending = false;
    let end = loop {
        if let (Some(status), false, false) = (exited, out_open, err_open) {
            break End::Exited(status);
        }
        let report_at = last_report.map_or_else(Instant::now, |t| t + PROGRESS_EVERY);
        let stop_at = drain_until.map_or(deadline, |d| d.min(deadline));
        tokio::select! {
            r = stdout.read(&mut buf_out), if out_open => match r {
                Ok(n) if n > 0 => { out.push(&buf_out[..n]); pending = true; }
                _ => out_open = false,
            },
            r = stderr.read(&mut buf_err), if err_open => match r {
                Ok(n) if n > 0 => { out.push(&buf_err[..n]); pending = true; }
                _ => err_open = false,
            },
            status = child.wait(), if exited.is_none() => {
                // Background jobs still in the group would keep the pipes open: end them with the shell.
                group.kill();
                match status {
                    Ok(s) => exited = Some(s),
                    Err(e) => return Err(ToolOutcome::error(format!("cannot wait for /bin/sh: {e}"))),
                }
                drain_until = Some(Instant::now() + DRAIN_GRACE);
            },
            _ = sleep_until(report_at), if pending => {
                ctx.progress(&out.text());
                last_report = Some(Instant::now());
                pending = false;
            },
            _ = sleep_until(stop_at) => match exited {
                Some(status) => break End::Exited(status),
                None => break End::TimedOut,
            },
        }
    };
    if let End::TimedOut = end {
        group.kill();
        let _ = child.wait().await;
    }
    group.kill();
    group.settle().await;
    let mut text = out.text();
    let note = match end {
        End::TimedOut => Some(format!("command timed out after {timeout_ms} ms")),
        End::Exited(status) => match (status.code(), status.signal()) {
            (Some(0), _) => None,
            (Some(code), _) => Some(format!("exit code {code}")),
            (None, Some(sig)) => Some(format!("killed by signal {sig}")),
            (None, None) => Some("ended abnormally".to_string()),
        },
    };
    if let Some(missing) = not_enforced(policy, root) {
        let sep = if text.is_empty() { "" } else { "\n\n" };
        text = format!(
            "{}{sep}[sandbox: not enforced: {missing}]",
            text.trim_end_matches('\n')
        );
    }
    Ok(match note {
        None if text.is_empty() => ToolOutcome::ok("(no output)"),
        None => ToolOutcome::ok(text),
        Some(note) if text.is_empty() => ToolOutcome::error(note),
        Some(note) => ToolOutcome::error(format!("{}\n\n{note}", text.trim_end_matches('\n'))),
    })
}

/// What the sandbox asks and this kernel does not enforce, in words (`None` when all of it holds or it is off).
fn not_enforced(policy: &Policy, root: &Path) -> Option<String> {
    if policy.mode == Mode::Off {
        return None;
    }
    let report = crate::sandbox::report(policy, root);
    let missing: Vec<&str> = report["not_enforced"]
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    (!missing.is_empty()).then(|| missing.join("; "))
}

#[cfg(test)]
#[path = "shell_sandbox_tests.rs"]
mod sandbox_tests;
#[cfg(test)]
#[path = "shell_tests.rs"]
mod tests;
