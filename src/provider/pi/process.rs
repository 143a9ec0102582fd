//! One pi subprocess in RPC mode: spawned as the leader of its own process group (killed whole on drop), its
//! stdout framed into JSON records, a writer task for stdin, and the tail of its stderr for error messages.

use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use super::translate::{ui_answer, Framer};
use crate::sys::kill_process_group;
use crate::vocab::settings::ThinkingLevel;

/// Bytes of stderr kept for error messages.
const STDERR_TAIL: usize = 2_000;

/// Kills the process group when dropped, so nothing pi started outlives the session.
pub(crate) struct GroupKill(pub(crate) u32);

impl Drop for GroupKill {
    fn drop(&mut self) {
        // Failure means the group is already gone.
        let _ = kill_process_group(self.0);
    }
}

/// A running pi.
pub(crate) struct PiProcess {
    // Field order matters: the group is killed before the child handle (itself `kill_on_drop`) is dropped.
    _group: GroupKill,
    child: tokio::process::Child,
    writer: mpsc::UnboundedSender<String>,
    lines: mpsc::UnboundedReceiver<Value>,
    stderr: Arc<Mutex<String>>,
    next_id: u64,
    /// The user messages pi has in its conversation (see `history`).
    pub(crate) known: Vec<String>,
    /// The model and thinking level last set (`None`: pi's own default).
    pub(crate) model: Option<String>,
    pub(crate) thinking: Option<ThinkingLevel>,
    /// A prompt was sent and its `agent_end` not seen yet (its turn was aborted).
    pub(crate) in_flight: bool,
}

/// Why a request got no answer.
#[derive(Debug)]
pub(crate) enum Failure {
    /// pi answered `success: false`.
    Refused(String),
    /// pi exited (the message says how).
    Exited(String),
    /// No answer in time.
    Timeout,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Refused(e) | Failure::Exited(e) => f.write_str(e),
            Failure::Timeout => f.write_str("pi did not answer in time"),
        }
    }
}

impl PiProcess {
    /// Starts `argv` followed by `--mode rpc --no-session` in `workdir`.
    pub(crate) fn spawn(argv: &[String], workdir: Option<&Path>) -> Result<PiProcess, String> {
        let program = argv.first().ok_or("pi_command is empty")?;
        let mut cmd = tokio::process::Command::new(program);
        cmd.args(&argv[1..])
            .args(["--mode", "rpc", "--no-session"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .process_group(0);
        if let Some(dir) = workdir {
            cmd.current_dir(dir);
        }
        let mut child = cmd.spawn().map_err(|e| {
            format!("cannot start pi ({program:?}): {e}. Install pi or set the session's pi_command option")
        })?;
        let pid = child.id().ok_or("pi exited at once")?;
        let (stdin, stdout, stderr_pipe) =
            match (child.stdin.take(), child.stdout.take(), child.stderr.take()) {
                (Some(i), Some(o), Some(e)) => (i, o, e),
                _ => return Err("pi's pipes could not be opened".into()),
            };
        let (writer, to_write) = mpsc::unbounded_channel::<String>();
        let (line_tx, lines) = mpsc::unbounded_channel();
        let stderr = Arc::new(Mutex::new(String::new()));
        tokio::spawn(write_lines(stdin, to_write));
        tokio::spawn(read_records(stdout, line_tx, writer.clone()));
        tokio::spawn(keep_tail(stderr_pipe, stderr.clone()));
        Ok(PiProcess {
            _group: GroupKill(pid),
            child,
            writer,
            lines,
            stderr,
            next_id: 0,
            known: Vec::new(),
            model: None,
            thinking: None,
            in_flight: false,
        })
    }

    /// A handle that sends commands without borrowing the process (for drop guards).
    pub(crate) fn writer(&self) -> mpsc::UnboundedSender<String> {
        self.writer.clone()
    }

    /// Sends `cmd` with a fresh `id`, which it returns.
    pub(crate) fn send(&mut self, mut cmd: Value) -> String {
        self.next_id += 1;
        let id = format!("tandem-{}", self.next_id);
        cmd["id"] = json!(id);
        // A closed writer means pi is gone; the reader reports that.
        let _ = self.writer.send(cmd.to_string());
        id
    }

    /// The next record from pi; `None` once it closed its stdout (it exited).
    pub(crate) async fn next(&mut self) -> Option<Value> {
        self.lines.recv().await
    }

    /// Sends `cmd` and waits for its response's `data`, skipping unrelated records.
    pub(crate) async fn request(&mut self, cmd: Value, limit: Duration) -> Result<Value, Failure> {
        let id = self.send(cmd);
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            match tokio::time::timeout_at(deadline, self.lines.recv()).await {
                Err(_) => return Err(Failure::Timeout),
                Ok(None) => return Err(Failure::Exited(self.exit_message().await)),
                Ok(Some(v)) if v["type"] == "response" && v["id"] == id.as_str() => {
                    return if v["success"] == true {
                        Ok(v["data"].clone())
                    } else {
                        Err(Failure::Refused(
                            v["error"].as_str().unwrap_or("no reason given").to_string(),
                        ))
                    };
                }
                Ok(Some(_)) => {}
            }
        }
    }

    /// Waits until the run of an aborted turn has ended; false if it does not end in time.
    pub(crate) async fn settle(&mut self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        while self.in_flight {
            match tokio::time::timeout_at(deadline, self.lines.recv()).await {
                Ok(Some(v)) if v["type"] == "agent_end" => self.in_flight = false,
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => return false,
            }
        }
        true
    }

    /// How pi ended, with the tail of its stderr.
    pub(crate) async fn exit_message(&mut self) -> String {
        let status = match tokio::time::timeout(Duration::from_secs(2), self.child.wait()).await {
            Ok(Ok(s)) => s.to_string(),
            Ok(Err(e)) => format!("status unknown: {e}"),
            Err(_) => "it closed its output".to_string(),
        };
        // The stderr reader may still be catching up with the last bytes.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let tail = crate::sync::lock(&self.stderr).trim().to_string();
        if tail.is_empty() {
            format!("pi exited ({status})")
        } else {
            format!("pi exited ({status}): {tail}")
        }
    }
}

async fn write_lines(
    mut stdin: tokio::process::ChildStdin,
    mut rx: mpsc::UnboundedReceiver<String>,
) {
    while let Some(mut line) = rx.recv().await {
        line.push('\n');
        if stdin.write_all(line.as_bytes()).await.is_err() || stdin.flush().await.is_err() {
            return;
        }
    }
}

/// Forwards pi's records, answering extension dialogs itself so pi never waits on them.
async fn read_records(
    mut stdout: tokio::process::ChildStdout,
    tx: mpsc::UnboundedSender<Value>,
    writer: mpsc::UnboundedSender<String>,
) {
    let mut framer = Framer::default();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match stdout.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        for record in framer.push(&buf[..n]) {
            // pi writes only JSON to stdout in RPC mode; anything else is noise from an extension.
            let Ok(v) = serde_json::from_slice::<Value>(&record) else {
                continue;
            };
            if let Some(answer) = ui_answer(&v) {
                let _ = writer.send(answer.to_string());
                continue;
            }
            if tx.send(v).is_err() {
                return;
            }
        }
    }
}

pub(crate) async fn keep_tail(mut stderr: tokio::process::ChildStderr, tail: Arc<Mutex<String>>) {
    let mut buf = vec![0u8; 8 * 1024];
    while let Ok(n) = stderr.read(&mut buf).await {
        if n == 0 {
            return;
        }
        let mut t = crate::sync::lock(&tail);
        t.push_str(&String::from_utf8_lossy(&buf[..n]));
        if t.len() > STDERR_TAIL {
            let mut cut = t.len() - STDERR_TAIL;
            while !t.is_char_boundary(cut) {
                cut += 1;
            }
            t.drain(..cut);
        }
    }
}
