//! A stdio MCP server's child process: started as the leader of its own process group (killed whole when the
//! connection ends, the session stops or the client goes), with the tail of its stderr kept in a bounded ring of
//! lines for failure reports.

use std::collections::VecDeque;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout};

use super::config::resolve_value;
use crate::sync::lock;
use crate::sys::kill_process_group;

/// Lines of stderr kept per server.
const STDERR_LINES: usize = 20;
/// Bytes kept of one stderr line.
const STDERR_LINE_BYTES: usize = 500;

/// The last lines a server wrote to stderr (shared by its restarts, so a report shows what led to the failure).
#[derive(Debug, Default, Clone)]
pub struct StderrTail(Arc<Mutex<VecDeque<String>>>);

impl StderrTail {
    /// Appends one line, dropping the oldest beyond the bound.
    pub fn push(&self, line: &str) {
        let mut cut = line.trim_end().to_string();
        if cut.len() > STDERR_LINE_BYTES {
            let mut end = STDERR_LINE_BYTES;
            while !cut.is_char_boundary(end) {
                end -= 1;
            }
            cut.truncate(end);
            cut.push('…');
        }
        let mut q = lock(&self.0);
        if q.len() == STDERR_LINES {
            q.pop_front();
        }
        q.push_back(cut);
    }

    /// The kept lines, oldest first.
    pub fn lines(&self) -> Vec<String> {
        lock(&self.0).iter().cloned().collect()
    }
}

/// Kills the process group when dropped, so nothing the server started outlives its connection.
#[derive(Debug)]
pub struct GroupKill(u32);

impl GroupKill {
    /// The group's ID (the server's PID).
    pub fn pid(&self) -> u32 {
        self.0
    }
}

impl Drop for GroupKill {
    fn drop(&mut self) {
        // Failure means the group is already gone.
        let _ = kill_process_group(self.0);
    }
}

/// A started server process: its pipes for the transport, and the guard that kills its group.
pub struct Started {
    /// Kills the group on drop.
    pub group: GroupKill,
    /// The child (reaped by tokio; `kill_on_drop`).
    pub child: Child,
    /// The server's stdout (our input).
    pub stdout: ChildStdout,
    /// The server's stdin (our output).
    pub stdin: ChildStdin,
}

/// Starts `command args` with `env` added to the inherited environment (values resolved from `$VAR` references
/// now), in `cwd`, its stderr read line by line into `tail`.
pub fn spawn(
    command: &str,
    args: &[String],
    env: &[(String, String)],
    cwd: Option<&Path>,
    tail: &StderrTail,
) -> Result<Started, String> {
    let mut cmd = tokio::process::Command::new(command);
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .process_group(0);
    for (k, v) in env {
        cmd.env(k, resolve_value(v).map_err(|e| format!("env {k}: {e}"))?);
    }
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {command:?}: {e}"))?;
    let pid = child.id().ok_or("the server exited at once")?;
    let group = GroupKill(pid);
    let (Some(stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err("the server's pipes could not be opened".into());
    };
    let tail = tail.clone();
    tokio::spawn(async move {
        let mut lines = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            tail.push(&line);
        }
    });
    Ok(Started {
        group,
        child,
        stdout,
        stdin,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_keeps_the_last_lines_cut_to_size() {
        let t = StderrTail::default();
        for i in 0..30 {
            t.push(&format!("line {i}\n"));
        }
        let lines = t.lines();
        assert_eq!(lines.len(), STDERR_LINES);
        assert_eq!(lines[0], "line 10");
        assert_eq!(lines[19], "line 29");
        t.push(&"é".repeat(400));
        assert!(t.lines()[19].len() <= STDERR_LINE_BYTES + '…'.len_utf8());
    }
}
