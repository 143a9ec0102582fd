//! `shell`: a command run with `/bin/sh -c` in the workdir, in its own process group, output streamed as progress.
//!
//! The command's process group is killed (SIGKILL) when the shell exits (so background jobs do not outlive the
//! call), when it times out, and when the future is dropped (the turn was aborted): a call never leaves processes
//! behind, unless one deliberately left the group (`setsid`).

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

/// Kills the process group when dropped, unless disarmed: this is what ends the command when the call's future
/// is dropped mid-run.
struct GroupGuard(Option<u32>);

impl GroupGuard {
    fn kill(&mut self) {
        if let Some(pgid) = self.0.take() {
            // Failure means the group is already gone or not ours to signal; either way there is nothing to do.
            let _ = kill_process_group(pgid);
        }
    }
}

impl Drop for GroupGuard {
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

/// `shell {command, timeout_ms?}`: the combined output; a non-zero exit, a signal or a timeout is an error result
/// whose text ends with `exit code N`, `killed by signal N` or `command timed out after N ms`.
pub(super) async fn run(root: &Path, args: &Value, ctx: &ToolContext) -> ToolOutcome {
    match run_checked(root, args, ctx).await {
        Ok(out) | Err(out) => out,
    }
}

async fn run_checked(
    root: &Path,
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
    let mut cmd = Command::new("/bin/sh");
    for name in secret_names(std::env::vars_os().map(|(k, _)| k)) {
        cmd.env_remove(name);
    }
    let mut child = cmd
        .arg("-c")
        .arg(command)
        .current_dir(root)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| ToolOutcome::error(format!("cannot start /bin/sh: {e}")))?;
    // The shell leads its own group, so the group id is its pid.
    let mut group = GroupGuard(child.id());
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
    let text = out.text();
    let note = match end {
        End::TimedOut => Some(format!("command timed out after {timeout_ms} ms")),
        End::Exited(status) => match (status.code(), status.signal()) {
            (Some(0), _) => None,
            (Some(code), _) => Some(format!("exit code {code}")),
            (None, Some(sig)) => Some(format!("killed by signal {sig}")),
            (None, None) => Some("ended abnormally".to_string()),
        },
    };
    Ok(match note {
        None if text.is_empty() => ToolOutcome::ok("(no output)"),
        None => ToolOutcome::ok(text),
        Some(note) if text.is_empty() => ToolOutcome::error(note),
        Some(note) => ToolOutcome::error(format!("{}\n\n{note}", text.trim_end_matches('\n'))),
    })
}

/// Variables some session reads its API key from (`api_key_env`), beyond the `*_API_KEY` convention. Process-wide
/// on purpose: a key one session uses is a secret for every session's commands.
static KEY_VARIABLES: once_cell::sync::Lazy<std::sync::Mutex<std::collections::BTreeSet<String>>> =
    once_cell::sync::Lazy::new(Default::default);

/// Marks `name` as holding an API key, so commands run by the shell tool never inherit it.
pub fn mark_key_variable(name: &str) {
    KEY_VARIABLES
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(name.to_string());
}

/// Environment variables an agent's commands must not inherit: the model API keys the host process holds
/// (`ANTHROPIC_API_KEY`, `OPENAI_API_KEY`, any other `*_API_KEY`, and every session's `api_key_env`).
pub fn secret_names(names: impl Iterator<Item = std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let marked = KEY_VARIABLES.lock().unwrap_or_else(|e| e.into_inner());
    names
        .filter(|n| {
            n.to_str()
                .is_some_and(|s| s.ends_with("_API_KEY") || marked.contains(s))
        })
        .collect()
}

#[cfg(test)]
#[path = "shell_tests.rs"]
mod tests;
