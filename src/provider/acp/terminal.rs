//! The agent's terminals (`terminal/*`): each command runs as a call of tandem's own `shell` tool (in the workdir,
//! under the session's sandbox and environment rules, its process group and cgroup killed when it ends), on a task
//! of its own so the agent can read its output while it runs. Every terminal of a turn is killed when the turn
//! ends, is aborted, or the session stops (dropping [`Terminals`] drops the tool calls' futures).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use tokio::sync::watch;

use super::agent::s;
use super::rpc::RpcError;
use crate::sync::lock;
use crate::tools::{ToolContext, ToolSet};

/// How long a terminal's command may run: the `shell` tool's longest timeout.
const TIMEOUT_MS: u64 = 300_000;

/// How a terminal's command ended: `{exitCode, signal}` as ACP has it.
type Exit = Value;

struct Term {
    /// The tool call it runs as.
    call_id: String,
    /// The output so far (the shell tool's progress, then its result).
    output: Arc<Mutex<String>>,
    exit: watch::Receiver<Option<Exit>>,
    task: tokio::task::JoinHandle<()>,
    limit: Option<usize>,
}

/// The terminals of one turn.
#[derive(Default)]
pub(crate) struct Terminals {
    open: HashMap<String, Term>,
    /// The output of released terminals: a tool call may still name them in its content.
    released: HashMap<String, String>,
    next: u64,
}

impl Drop for Terminals {
    fn drop(&mut self) {
        for t in self.open.values() {
            t.task.abort();
        }
    }
}

/// One shell word.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// The shell line of a `terminal/create` request: `cd` into its `cwd` (which must be inside `workdir`), its
/// `env`, then the command. A command without `args` is taken as a shell line (agents send whole command lines);
/// with `args`, every word is quoted.
pub(crate) fn command_line(params: &Value, workdir: &Path) -> Result<String, RpcError> {
    let mut line = String::new();
    if let Some(cwd) = params["cwd"].as_str() {
        let root = workdir
            .canonicalize()
            .map_err(|e| RpcError::internal(format!("the workdir is gone: {e}")))?;
        let dir = root
            .join(cwd)
            .canonicalize()
            .map_err(|e| RpcError::invalid_params(format!("cwd {cwd:?} cannot be used: {e}")))?;
        let rel = dir.strip_prefix(&root).map_err(|_| {
            RpcError::invalid_params(format!("cwd {cwd:?} is outside the session's workdir"))
        })?;
        if !rel.as_os_str().is_empty() {
            line.push_str(&format!("cd {} && ", quote(&rel.to_string_lossy())));
        }
    }
    for var in params["env"].as_array().into_iter().flatten() {
        let name = s(var, "name");
        let valid = name
            .chars()
            .next()
            .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
            && name.chars().all(|c| c == '_' || c.is_ascii_alphanumeric());
        if !valid {
            return Err(RpcError::invalid_params(format!(
                "env name {name:?} is not a variable name"
            )));
        }
        line.push_str(&format!("{name}={} ", quote(s(var, "value"))));
    }
    let command = s(params, "command");
    if command.is_empty() {
        return Err(RpcError::invalid_params("terminal/create needs a command"));
    }
    let args: Vec<&str> = params["args"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if args.is_empty() {
        line.push_str(command);
    } else {
        line.push_str(&quote(command));
        for a in args {
            line.push(' ');
            line.push_str(&quote(a));
        }
    }
    Ok(line)
}

/// The shell tool's result as output and ACP exit status: its last line says how a failed command ended.
fn ended(text: &str, is_error: bool) -> (String, Exit) {
    if !is_error {
        let out = if text == "(no output)" { "" } else { text };
        return (out.to_string(), json!({"exitCode": 0, "signal": null}));
    }
    let (body, last) = text.rsplit_once("\n\n").unwrap_or(("", text));
    let exit = if let Some(code) = last.strip_prefix("exit code ") {
        json!({"exitCode": code.parse::<u32>().ok(), "signal": null})
    } else if let Some(sig) = last.strip_prefix("killed by signal ") {
        json!({"exitCode": null, "signal": format!("SIG{}", signal_name(sig))})
    } else if last.starts_with("command timed out") {
        json!({"exitCode": null, "signal": "SIGKILL"})
    } else {
        // The command could not start at all.
        return (text.to_string(), json!({"exitCode": 127, "signal": null}));
    };
    (body.to_string(), exit)
}

fn signal_name(number: &str) -> &str {
    match number {
        "1" => "HUP",
        "2" => "INT",
        "9" => "KILL",
        "13" => "PIPE",
        "15" => "TERM",
        other => other,
    }
}

/// The last `limit` bytes of `text` (cut at a character boundary) and whether anything was cut.
fn tail(text: &str, limit: Option<usize>) -> (String, bool) {
    match limit {
        Some(l) if text.len() > l => {
            let mut start = text.len() - l;
            while !text.is_char_boundary(start) {
                start += 1;
            }
            (text[start..].to_string(), true)
        }
        _ => (text.to_string(), false),
    }
}

impl Terminals {
    /// Starts `line` (already approved) as call `call_id` of the shell tool; returns the terminal's ID.
    pub(crate) fn create(
        &mut self,
        tools: Arc<ToolSet>,
        call_id: String,
        line: String,
        limit: Option<usize>,
    ) -> String {
        self.next += 1;
        let id = format!("term-{}", self.next);
        let output = Arc::new(Mutex::new(String::new()));
        let (tx, exit) = watch::channel(None);
        let progress = output.clone();
        let result = output.clone();
        let call = call_id.clone();
        let task = tokio::spawn(async move {
            let ctx = ToolContext::new(call_id).with_progress(move |text| {
                *lock(&progress) = text.to_string();
            });
            let args = json!({"command": line, "timeout_ms": TIMEOUT_MS});
            let out = tools.execute("shell", &args, &ctx).await;
            let (text, status) = ended(&out.text, out.is_error);
            *lock(&result) = text;
            let _ = tx.send(Some(status));
        });
        self.open.insert(
            id.clone(),
            Term {
                call_id: call,
                output,
                exit,
                task,
                limit,
            },
        );
        id
    }

    /// The output so far of terminal `id` (open or released), for a tool call whose content shows it.
    pub(crate) fn output_of(&self, id: &str) -> Option<String> {
        match self.open.get(id) {
            Some(t) => Some(lock(&t.output).clone()),
            None => self.released.get(id).cloned(),
        }
    }

    /// Terminal `id`'s call, full output and whether it failed, once its command has ended.
    pub(crate) fn finished(&self, id: &str) -> Option<(String, String, bool)> {
        let t = self.open.get(id)?;
        let exit = t.exit.borrow().clone()?;
        let output = lock(&t.output).clone();
        Some((t.call_id.clone(), output, exit["exitCode"] != 0))
    }

    fn term(&mut self, params: &Value) -> Result<&mut Term, RpcError> {
        let id = s(params, "terminalId");
        self.open
            .get_mut(id)
            .ok_or_else(|| RpcError::new(-32002, format!("no terminal {id}")))
    }

    /// Answers `terminal/output`, `terminal/wait_for_exit`, `terminal/kill` and `terminal/release`.
    pub(crate) async fn request(
        &mut self,
        method: &str,
        params: &Value,
    ) -> Result<Value, RpcError> {
        match method {
            "terminal/output" => {
                let t = self.term(params)?;
                let (output, truncated) = tail(&lock(&t.output), t.limit);
                let mut answer = json!({"output": output, "truncated": truncated});
                if let Some(exit) = t.exit.borrow().clone() {
                    answer["exitStatus"] = exit;
                }
                Ok(answer)
            }
            "terminal/wait_for_exit" => {
                let mut exit = self.term(params)?.exit.clone();
                let status = exit
                    .wait_for(Option::is_some)
                    .await
                    .map_err(|_| RpcError::internal("the terminal's command was lost"))?;
                Ok(status.clone().unwrap_or(Value::Null))
            }
            "terminal/kill" => {
                let t = self.term(params)?;
                if t.exit.borrow().is_none() {
                    t.task.abort();
                    // The aborted task never reports: the terminal says it was killed.
                    let (tx, rx) =
                        watch::channel(Some(json!({"exitCode": null, "signal": "SIGKILL"})));
                    drop(tx);
                    t.exit = rx;
                }
                Ok(json!({}))
            }
            "terminal/release" => {
                let id = s(params, "terminalId").to_string();
                self.term(params)?;
                if let Some(t) = self.open.remove(&id) {
                    t.task.abort();
                    self.released.insert(id, lock(&t.output).clone());
                }
                Ok(json!({}))
            }
            m => Err(RpcError::new(-32601, format!("method not found: {m}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines_quote_args_and_keep_cwd_inside_the_workdir() {
        let root = std::env::temp_dir().join(format!("tandem-acp-term-{}", std::process::id()));
        std::fs::create_dir_all(root.join("sub")).unwrap();
        let p = json!({"command": "printf", "args": ["%s", "a'b"], "cwd": "sub",
            "env": [{"name": "X", "value": "1 2"}]});
        assert_eq!(
            command_line(&p, &root).unwrap(),
            "cd 'sub' && X='1 2' 'printf' '%s' 'a'\\''b'"
        );
        assert_eq!(
            command_line(&json!({"command": "ls -la"}), &root).unwrap(),
            "ls -la"
        );
        for bad in [
            json!({"command": "ls", "cwd": ".."}),
            json!({"command": "ls", "cwd": "/"}),
            json!({"command": "ls", "env": [{"name": "A;B", "value": ""}]}),
            json!({"command": ""}),
        ] {
            assert!(command_line(&bad, &root).is_err(), "{bad}");
        }
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn results_become_exit_statuses_and_output_keeps_its_tail() {
        assert_eq!(
            ended("hi\n", false),
            ("hi\n".into(), json!({"exitCode": 0, "signal": null}))
        );
        assert_eq!(
            ended("out\n\nexit code 3", true),
            ("out".into(), json!({"exitCode": 3, "signal": null}))
        );
        assert_eq!(ended("killed by signal 9", true).1["signal"], "SIGKILL");
        assert_eq!(tail("héllo", Some(4)), ("llo".into(), true));
        assert_eq!(tail("abc", Some(5)), ("abc".into(), false));
    }
}
