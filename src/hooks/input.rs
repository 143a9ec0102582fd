//! The hook documents in Claude Code's shape: the input every hook reads (tool names and arguments with Claude
//! Code's aliases), and command hooks' exit codes and JSON output turned into tandem's [`Answer`].

use std::path::Path;

use serde_json::{Map, Value};

use super::command::Finished;
use super::{Answer, Decision, HookEvent, Scope};

/// Claude Code's name for tandem tool `name` (what matchers like `Write|Edit` and scripts comparing `tool_name`
/// expect). Tools without a Claude Code counterpart, host tools and MCP tools (`mcp__server__tool` in both) keep
/// their own name.
pub fn claude_tool_name(name: &str) -> &str {
    match name {
        "read_file" => "Read",
        "write_file" => "Write",
        "edit_file" | "apply_diff" => "Edit",
        "multi_edit_file" => "MultiEdit",
        "list_directory" => "LS",
        "find" => "Glob",
        "grep" => "Grep",
        "shell" => "Bash",
        other => other,
    }
}

/// Argument names with a Claude Code alias: tandem's name, Claude Code's.
const ALIASES: &[(&str, &str)] = &[("old_text", "old_string"), ("new_text", "new_string")];

/// The fields every input has: `session_id`, `cwd`, `hook_event_name` (and `transcript_path`, null: tandem's
/// transcript is not a file a script could read).
pub fn base(scope: &Scope, event: HookEvent) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("session_id".into(), Value::String(scope.session_id.clone()));
    m.insert("transcript_path".into(), Value::Null);
    m.insert(
        "cwd".into(),
        scope
            .cwd
            .as_ref()
            .map_or(Value::Null, |p| Value::String(p.display().to_string())),
    );
    m.insert("hook_event_name".into(), Value::String(event.name().into()));
    m
}

/// A tool call's arguments as hooks see them: tandem's, plus Claude Code's aliases (`file_path`, the absolute path
/// of `path`; `old_string`/`new_string` for `old_text`/`new_text`).
pub fn tool_input(args: &Value, cwd: Option<&Path>) -> Value {
    let Some(obj) = args.as_object() else {
        return args.clone();
    };
    let mut out = obj.clone();
    if let Some(p) = obj.get("path").and_then(Value::as_str) {
        let abs = match cwd {
            Some(c) if !Path::new(p).is_absolute() => c.join(p).display().to_string(),
            _ => p.to_string(),
        };
        out.insert("file_path".into(), Value::String(abs));
    }
    for (ours, theirs) in ALIASES {
        if let Some(v) = obj.get(*ours) {
            out.insert((*theirs).into(), v.clone());
        }
    }
    Value::Object(out)
}

/// The arguments a hook's rewritten `tool_input` means: Claude Code's aliases win where a hook changed them (a
/// script edits `file_path`, not `path`), then they are dropped; `file_path` inside `cwd` becomes relative.
pub fn tool_args(rewritten: &Value, original: &Value, cwd: Option<&Path>) -> Value {
    let Some(obj) = rewritten.as_object() else {
        return rewritten.clone();
    };
    let before = tool_input(original, cwd);
    let mut out = obj.clone();
    let changed = |k: &str| obj.get(k).is_some() && obj.get(k) != before.get(k);
    if changed("file_path") {
        if let Some(fp) = obj.get("file_path").and_then(Value::as_str) {
            let rel = cwd
                .and_then(|c| Path::new(fp).strip_prefix(c).ok())
                .map_or(fp.to_string(), |r| r.display().to_string());
            out.insert("path".into(), Value::String(rel));
        }
    }
    for (ours, theirs) in ALIASES {
        if changed(theirs) {
            out.insert((*ours).into(), obj[*theirs].clone());
        }
    }
    out.remove("file_path");
    for (_, theirs) in ALIASES {
        out.remove(*theirs);
    }
    Value::Object(out)
}

/// A command hook's result as Claude Code reads it: exit 0 with optional JSON on stdout (or, for UserPromptSubmit
/// and SessionStart, plain text that becomes context); exit 2 denies with stderr as the reason; any other code is
/// a failure (the hook's default applies).
pub fn from_command(event: HookEvent, done: Finished) -> std::result::Result<Answer, String> {
    match done.code {
        Some(0) => {}
        Some(2) => {
            let reason = done.stderr.trim();
            return Ok(Answer {
                decision: Decision::Deny,
                reason: Some(if reason.is_empty() {
                    "blocked by a hook (exit code 2)".into()
                } else {
                    reason.to_string()
                }),
                ..Answer::default()
            });
        }
        Some(code) => return Err(format!("exit code {code}: {}", tail(&done.stderr))),
        None => return Err(format!("killed by a signal: {}", tail(&done.stderr))),
    }
    let out = done.stdout.trim();
    if out.starts_with('{') {
        let v: Value =
            serde_json::from_str(out).map_err(|e| format!("malformed JSON on stdout: {e}"))?;
        return Ok(from_claude_json(event, &v));
    }
    let plain_is_context = matches!(event, HookEvent::UserPromptSubmit | HookEvent::SessionStart);
    Ok(Answer {
        additional_context: (plain_is_context && !out.is_empty()).then(|| out.to_string()),
        ..Answer::default()
    })
}

/// Claude Code's JSON output: `continue: false` (with `stopReason`), `decision: "block" | "approve"` with `reason`,
/// and `hookSpecificOutput` (`permissionDecision` allow/deny/ask with `permissionDecisionReason`, `updatedInput`,
/// `additionalContext`). Fields tandem has no use for (`suppressOutput`, `systemMessage`) are ignored.
fn from_claude_json(event: HookEvent, v: &Value) -> Answer {
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let specific = v.get("hookSpecificOutput").cloned().unwrap_or(Value::Null);
    let mut a = Answer {
        additional_context: s(&specific, "additionalContext"),
        tool_input: specific
            .get("updatedInput")
            .filter(|u| u.is_object())
            .cloned(),
        ..Answer::default()
    };
    match s(v, "decision").as_deref() {
        Some("block") => {
            a.decision = Decision::Deny;
            a.reason = s(v, "reason");
        }
        Some("approve") if event == HookEvent::PreToolUse => a.decision = Decision::Allow,
        _ => {}
    }
    match s(&specific, "permissionDecision").as_deref() {
        Some("deny") => a.decision = Decision::Deny,
        Some("allow") => a.decision = Decision::Allow,
        Some("ask") => a.decision = Decision::Ask,
        _ => {}
    }
    if let Some(r) = s(&specific, "permissionDecisionReason") {
        a.reason = Some(r);
    }
    // `continue: false` stops everything: the step is refused, and a turn that was ending just ends.
    if v.get("continue") == Some(&Value::Bool(false)) {
        if event == HookEvent::Stop {
            a.decision = Decision::Continue;
        } else {
            a.decision = Decision::Deny;
            a.reason = s(v, "stopReason").or(a.reason);
        }
    }
    a
}

/// The last 500 characters of a hook's stderr, for failure messages.
fn tail(text: &str) -> String {
    let t = text.trim();
    let start = t.char_indices().rev().nth(499).map_or(0, |(i, _)| i);
    t[start..].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn finished(code: i32, stdout: &str, stderr: &str) -> Finished {
        Finished {
            code: Some(code),
            stdout: stdout.into(),
            stderr: stderr.into(),
        }
    }

    #[test]
    fn aliases_go_out_and_rewrites_come_back() {
        let cwd = Path::new("/w");
        let args = json!({"path": "a.txt", "old_text": "x", "new_text": "y"});
        let seen = tool_input(&args, Some(cwd));
        assert_eq!(seen["file_path"], "/w/a.txt");
        assert_eq!(seen["old_string"], "x");
        let mut edited = seen.clone();
        edited["file_path"] = json!("/w/b.txt");
        edited["new_string"] = json!("z");
        assert_eq!(
            tool_args(&edited, &args, Some(cwd)),
            json!({"path": "b.txt", "old_text": "x", "new_text": "z"})
        );
        // A hook that edits tandem's own names is taken at its word.
        let mut ours = seen;
        ours["path"] = json!("c.txt");
        assert_eq!(tool_args(&ours, &args, Some(cwd))["path"], "c.txt");
    }

    #[test]
    fn exit_codes_and_json_read_like_claude_code() {
        let e = HookEvent::PreToolUse;
        let blocked = from_command(e, finished(2, "", "no writes to .env\n")).unwrap();
        assert_eq!(blocked.decision, Decision::Deny);
        assert_eq!(blocked.reason.as_deref(), Some("no writes to .env"));
        assert!(from_command(e, finished(1, "", "boom")).is_err());
        let j = r#"{"hookSpecificOutput":{"hookEventName":"PreToolUse","permissionDecision":"deny","permissionDecisionReason":"nope"}}"#;
        let denied = from_command(e, finished(0, j, "")).unwrap();
        assert_eq!(
            (denied.decision, denied.reason.as_deref()),
            (Decision::Deny, Some("nope"))
        );
        let ctx = r#"{"hookSpecificOutput":{"hookEventName":"PostToolUse","additionalContext":"lint ok"}}"#;
        let added = from_command(HookEvent::PostToolUse, finished(0, ctx, "")).unwrap();
        assert_eq!(added.additional_context.as_deref(), Some("lint ok"));
        let plain = from_command(
            HookEvent::UserPromptSubmit,
            finished(0, "today is Friday\n", ""),
        )
        .unwrap();
        assert_eq!(plain.additional_context.as_deref(), Some("today is Friday"));
        let ignored =
            from_command(HookEvent::PostToolUse, finished(0, "just a log line", "")).unwrap();
        assert_eq!(ignored, Answer::default());
        assert!(from_command(e, finished(0, "{not json", "")).is_err());
        let stop = from_command(
            HookEvent::Stop,
            finished(0, r#"{"continue": false, "stopReason": "enough"}"#, ""),
        )
        .unwrap();
        assert_eq!(stop.decision, Decision::Continue);
        let keep_going = from_command(
            HookEvent::Stop,
            finished(0, r#"{"decision": "block", "reason": "tests fail"}"#, ""),
        )
        .unwrap();
        assert_eq!(
            (keep_going.decision, keep_going.reason.as_deref()),
            (Decision::Deny, Some("tests fail"))
        );
    }
}
