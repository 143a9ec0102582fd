//! Claude Code command hooks: the `hooks` object of a settings file (also tandem's `hooks` session option) and
//! running one command with the input on stdin, in the workdir, in its own process group, within its timeout.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{HookEvent, Matcher, Scope};
use crate::error::{Error, Result};

/// One command hook.
#[derive(Debug, Clone)]
pub struct CommandHook {
    /// The event it runs on.
    pub event: HookEvent,
    /// Its group's matcher.
    pub matcher: Matcher,
    /// The command line, run with `/bin/sh -c`.
    pub command: String,
    /// How long it may run before its process group is killed.
    pub timeout: Duration,
}

/// Parses Claude Code's `hooks` object: `{"<Event>": [{"matcher": "...", "hooks": [{"type": "command",
/// "command": "...", "timeout": seconds}]}]}`. Events tandem does not have (`Notification`, `SessionEnd`, ...)
/// and hook types other than `command` are skipped, so a user's settings file works as it is; anything malformed
/// is an error naming `what`.
pub fn parse(what: &str, hooks: &Value) -> Result<Vec<CommandHook>> {
    let bad = |why: String| Error::invalid(format!("{what}: {why}"));
    let obj = hooks
        .as_object()
        .ok_or_else(|| bad("must be an object of events".into()))?;
    let mut out = Vec::new();
    for (name, groups) in obj {
        let Ok(event) = HookEvent::parse(name) else {
            continue;
        };
        let groups = groups
            .as_array()
            .ok_or_else(|| bad(format!("{name} must be an array of matcher groups")))?;
        for group in groups {
            let matcher = match group.get("matcher") {
                None | Some(Value::Null) => Matcher::new(None)?,
                Some(Value::String(m)) => Matcher::new(Some(m))?,
                Some(_) => return Err(bad(format!("{name}: matcher must be a string"))),
            };
            let list = group
                .get("hooks")
                .and_then(Value::as_array)
                .ok_or_else(|| bad(format!("{name}: each group needs a \"hooks\" array")))?;
            for h in list {
                if h.get("type").and_then(Value::as_str) != Some("command") {
                    continue;
                }
                let command = h
                    .get("command")
                    .and_then(Value::as_str)
                    .filter(|c| !c.trim().is_empty())
                    .ok_or_else(|| bad(format!("{name}: a command hook needs a \"command\"")))?;
                let timeout = match h.get("timeout") {
                    None | Some(Value::Null) => super::DEFAULT_TIMEOUT,
                    Some(t) => match t.as_f64() {
                        Some(s) if s > 0.0 && s <= 3600.0 => Duration::from_secs_f64(s),
                        _ => {
                            return Err(bad(format!(
                                "{name}: timeout must be seconds, more than 0 and at most 3600"
                            )))
                        }
                    },
                };
                out.push(CommandHook {
                    event,
                    matcher: matcher.clone(),
                    command: command.to_string(),
                    timeout,
                });
            }
        }
    }
    Ok(out)
}

/// The command hooks of settings files, in order (`~` expands, relative paths are under `workdir`). A file that
/// does not exist is skipped, as Claude Code skips its own missing settings files; an unreadable or malformed one
/// is an error. A file without a `hooks` key has none.
pub fn from_settings_files(files: &[String], workdir: Option<&Path>) -> Result<Vec<CommandHook>> {
    let mut out = Vec::new();
    for f in files {
        let path = match workdir {
            Some(w) if !f.starts_with('~') && Path::new(f).is_relative() => w.join(f),
            _ => crate::ids::expand_path(f)?,
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(Error::invalid(format!(
                    "hook settings file {}: {e}",
                    path.display()
                )))
            }
        };
        let what = format!("hook settings file {}", path.display());
        let doc: Value = serde_json::from_str(&text)
            .map_err(|e| Error::invalid(format!("{what}: malformed JSON: {e}")))?;
        if let Some(h) = doc.get("hooks") {
            out.extend(parse(&format!("{what}: hooks"), h)?);
        }
    }
    Ok(out)
}

/// How a command ended: its exit code (`None` when a signal killed it), stdout and stderr (each at most 1 MiB).
#[derive(Debug, Clone)]
pub struct Finished {
    /// Exit code.
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

const OUTPUT_LIMIT: u64 = 1 << 20;

/// Kills the command's process group when the run ends early (timeout, or the turn was aborted and the future
/// dropped), so nothing it started outlives a hook that did not finish.
struct Group(Option<u32>);

impl Drop for Group {
    fn drop(&mut self) {
        if let Some(pgid) = self.0 {
            let _ = crate::sys::kill_process_group(pgid);
        }
    }
}

/// Runs `command` with `/bin/sh -c` in the session's workdir (else tandem's cwd) with `input` on stdin. Its
/// environment is tandem's less API keys (any `*_API_KEY` and every session's `api_key_env`), plus
/// `CLAUDE_PROJECT_DIR` (the workdir) and `TANDEM_SESSION_ID`. Past `timeout` its process group is killed.
pub async fn run(
    command: &str,
    scope: &Scope,
    input: &str,
    timeout: Duration,
) -> std::result::Result<Finished, String> {
    let mut cmd = tokio::process::Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(command)
        .env_clear()
        .envs(std::env::vars_os().filter(|(k, _)| {
            k.to_str()
                .is_some_and(|k| !crate::sandbox::env::is_key_variable(k))
        }))
        .env("TANDEM_SESSION_ID", &scope.session_id)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(w) = &scope.cwd {
        cmd.current_dir(w).env("CLAUDE_PROJECT_DIR", w);
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start /bin/sh: {e}"))?;
    let mut group = Group(child.id());
    let (stdin, stdout, stderr) = (child.stdin.take(), child.stdout.take(), child.stderr.take());
    let input = input.as_bytes().to_vec();
    let work = async move {
        let feed = async move {
            if let Some(mut s) = stdin {
                // A hook that does not read its input closes the pipe: that is its business, not an error.
                let _ = s.write_all(&input).await;
            }
        };
        let (_, out, err, status) =
            tokio::join!(feed, read_capped(stdout), read_capped(stderr), child.wait());
        (out, err, status)
    };
    let (stdout, stderr, status) = tokio::time::timeout(timeout, work).await.map_err(|_| {
        format!(
            "timed out after {} ms (its process group was killed)",
            timeout.as_millis()
        )
    })?;
    // It exited and closed its output: what it started in the background (a notifier, say) may live on, as it
    // does under Claude Code.
    group.0 = None;
    let status = status.map_err(|e| format!("cannot wait for the hook: {e}"))?;
    Ok(Finished {
        code: status.code(),
        stdout,
        stderr,
    })
}

async fn read_capped<R: tokio::io::AsyncRead + Unpin>(r: Option<R>) -> String {
    let mut buf = Vec::new();
    if let Some(r) = r {
        let _ = r.take(OUTPUT_LIMIT).read_to_end(&mut buf).await;
    }
    String::from_utf8_lossy(&buf).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn claude_settings_parse_and_unknown_events_are_skipped() {
        let hooks = json!({
            "PreToolUse": [{"matcher": "Write|Edit", "hooks": [{"type": "command", "command": "check.sh", "timeout": 5}]}],
            "Notification": [{"hooks": [{"type": "command", "command": "notify-send hi"}]}],
            "Stop": [{"hooks": [{"type": "prompt", "prompt": "x"}, {"type": "command", "command": "stop.sh"}]}]
        });
        let parsed = parse("hooks", &hooks).unwrap();
        assert_eq!(parsed.len(), 2);
        let pre = parsed
            .iter()
            .find(|h| h.event == HookEvent::PreToolUse)
            .unwrap();
        assert_eq!(
            (pre.command.as_str(), pre.timeout),
            ("check.sh", Duration::from_secs(5))
        );
        assert!(pre.matcher.matches(&["Write"]) && !pre.matcher.matches(&["Read"]));
        assert!(parse("hooks", &json!({"PreToolUse": {}})).is_err());
        assert!(parse(
            "hooks",
            &json!({"PreToolUse": [{"matcher": "(", "hooks": []}]})
        )
        .is_err());
        assert!(parse(
            "hooks",
            &json!({"Stop": [{"hooks": [{"type": "command", "command": "x", "timeout": 0}]}]})
        )
        .is_err());
    }
}
