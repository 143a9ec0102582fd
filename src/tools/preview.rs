//! Approval previews: what a host shows before a tool runs (the command, a diff of a write, the target of an edit).
//!
//! A preview must show what will really run: a `shell` preview's lines hold the whole command (the one-line summary
//! is cut, and then says how many characters it leaves out), and control and invisible formatting characters are
//! escaped everywhere (`\r`, `\u{1b}`, `\u{202e}`...), so a carriage return, a terminal escape or a bidi override
//! cannot hide part of a command or a path.

use std::path::Path;

use serde::Serialize;
use serde_json::Value;

/// Lines of a write's diff shown in a preview.
const DIFF_LINES: usize = 20;
/// Characters per preview line.
const LINE_CHARS: usize = 300;
/// Bytes of a file's current content a write preview reads to diff (a preview is a glance, not a copy).
const READ_CAP: usize = 256 * 1024;
/// How long building a preview may take before the host gets one without the current content.
const BUILD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// A preview: `kind` is `command`, `diff`, `target` or `args`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Preview {
    /// What sort of preview.
    pub kind: &'static str,
    /// One line summary.
    pub summary: String,
    /// Detail lines.
    pub lines: Vec<String>,
}

/// `s` escaped (tabs kept: in paths and file content they hide nothing) and cut to one line's length.
fn clip(s: &str) -> String {
    let s = escape(s, true);
    if s.chars().count() <= LINE_CHARS {
        s
    } else {
        s.chars().take(LINE_CHARS - 3).collect::<String>() + "..."
    }
}

/// Whether `c` can hide or rearrange text on a terminal or in an editor: control characters, and the zero-width
/// and bidirectional formatting characters.
fn deceptive(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

/// `s` with [`deceptive`] characters written as escapes (`\n`, `\r`, `\t`, `\u{..}`); tabs kept when
/// `keep_tabs` (in a command, a run of tabs could push its tail out of sight).
pub fn escape(s: &str, keep_tabs: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\t' if keep_tabs => out.push(c),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if deceptive(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// The preview of a `shell` call: the summary is the command cut to one line's length (saying how much it leaves
/// out); the lines are the whole command, one per line of it (`$ ` then `> ` for continuations), never cut.
fn command_preview(command: &str, workdir: Option<&Path>) -> Preview {
    let escaped = escape(command, false);
    let total = escaped.chars().count();
    let summary = if total <= LINE_CHARS {
        escaped
    } else {
        let kept: String = escaped.chars().take(LINE_CHARS).collect();
        format!("{kept}... ({} more characters)", total - LINE_CHARS)
    };
    let mut lines: Vec<String> = command
        .split('\n')
        .enumerate()
        .map(|(i, l)| format!("{}{}", if i == 0 { "$ " } else { "> " }, escape(l, false)))
        .collect();
    let cwd = workdir.map_or_else(|| ".".to_string(), |w| w.display().to_string());
    lines.push(format!("cwd: {}", escape(&cwd, false)));
    Preview {
        kind: "command",
        summary,
        lines,
    }
}

fn trunc40(s: &str) -> String {
    if s.chars().count() <= 40 {
        s.to_string()
    } else {
        s.chars().take(37).collect::<String>() + "..."
    }
}

fn str_arg<'a>(args: &'a Value, keys: &[&str]) -> Option<&'a str> {
    keys.iter()
        .find_map(|k| args.get(*k).and_then(Value::as_str))
}

/// The preview of tool `name` with `args`; `workdir` is where a write's current content is read from (through the
/// sandbox, so a preview never reads outside it).
pub fn build(workdir: Option<&Path>, name: &str, args: &Value) -> Preview {
    let preview = |kind, summary: String, lines: Vec<String>| Preview {
        kind,
        summary: clip(&summary),
        lines: lines.iter().map(|l| clip(l)).collect(),
    };
    match (name, str_arg(args, &["path"])) {
        ("shell", _) if str_arg(args, &["command"]).is_some() => {
            command_preview(str_arg(args, &["command"]).unwrap_or_default(), workdir)
        }
        ("write_file", Some(path)) => {
            let new = str_arg(args, &["content"]).unwrap_or_default();
            let mut lines = vec![format!("file: {path}")];
            match workdir.map_or(Ok(String::new()), |w| current(w, path)) {
                Ok(old) => lines.extend(diff_lines(&old, new)),
                Err(why) => {
                    lines.push(format!("current content not shown: {why}"));
                    lines.extend(diff_lines("", new));
                }
            }
            preview("diff", path.to_string(), lines)
        }
        ("edit_file", Some(path)) => {
            let old = str_arg(args, &["old_text", "find"]).unwrap_or_default();
            let new = str_arg(args, &["new_text", "replace"]).unwrap_or_default();
            let what = format!("replace {:?} with {:?}", trunc40(old), trunc40(new));
            preview(
                "target",
                path.to_string(),
                vec![format!("file: {path}"), what],
            )
        }
        ("multi_edit_file", Some(path)) => {
            let n = args
                .get("edits")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            preview(
                "target",
                path.to_string(),
                vec![format!("file: {path}"), format!("{n} edit(s)")],
            )
        }
        ("apply_diff", Some(path)) => {
            let n = str_arg(args, &["diff"])
                .map_or(0, |d| d.lines().filter(|l| l.starts_with("@@")).count());
            preview(
                "target",
                path.to_string(),
                vec![format!("file: {path}"), format!("{n} diff hunk(s)")],
            )
        }
        ("delete_file", Some(path)) => {
            preview("target", path.to_string(), vec![format!("delete: {path}")])
        }
        _ if args.as_object().is_none_or(|o| o.is_empty()) => {
            preview("args", String::new(), vec![])
        }
        _ => {
            let summary = args.to_string();
            preview("args", summary.clone(), vec![summary])
        }
    }
}

/// The current content of `path` for a write's diff: read through the workdir handle like the tools read (never
/// outside it, never blocking on a FIFO or device), at most 256 KB; a file that does not exist (or escapes, which
/// the tool will refuse) is empty.
fn current(workdir: &Path, path: &str) -> Result<String, String> {
    let Ok(abs) = super::sandbox::resolve(workdir, path) else {
        return Ok(String::new());
    };
    let root = super::confine::Root::open(workdir)?;
    if root.entry(&abs, path)?.is_none() {
        return Ok(String::new());
    }
    match root.read_capped(&abs, path, READ_CAP, false)? {
        (_, true) => Err(format!("larger than {} KB", READ_CAP / 1024)),
        (bytes, false) => Ok(String::from_utf8_lossy(&bytes).into_owned()),
    }
}

/// [`build`] on the blocking pool, so the file read never runs on (or stalls) an async worker; after 5 s the
/// preview is built without reading anything.
pub async fn build_off_workers(workdir: Option<&Path>, name: &str, args: &Value) -> Preview {
    let (w, n, a) = (
        workdir.map(Path::to_path_buf),
        name.to_string(),
        args.clone(),
    );
    let task = tokio::task::spawn_blocking(move || build(w.as_deref(), &n, &a));
    match tokio::time::timeout(BUILD_TIMEOUT, task).await {
        Ok(Ok(p)) => p,
        _ => build(None, name, args),
    }
}

/// `+line` / `-line` for the first changed lines of a write.
fn diff_lines(old: &str, new: &str) -> Vec<String> {
    let diff = similar::TextDiff::from_lines(old, new);
    let lines: Vec<String> = diff
        .iter_all_changes()
        .filter_map(|c| match c.tag() {
            similar::ChangeTag::Insert => Some(format!("+{}", c.value().trim_end_matches('\n'))),
            similar::ChangeTag::Delete => Some(format!("-{}", c.value().trim_end_matches('\n'))),
            similar::ChangeTag::Equal => None,
        })
        .take(DIFF_LINES)
        .collect();
    if lines.is_empty() {
        vec!["No textual changes detected".into()]
    } else {
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn previews_follow_the_seed() {
        let p = build(
            Some(Path::new("/w")),
            "shell",
            &json!({"command": "ls -la"}),
        );
        assert_eq!((p.kind, p.summary.as_str()), ("command", "ls -la"));
        assert_eq!(p.lines, vec!["$ ls -la", "cwd: /w"]);
        let p = build(
            None,
            "edit_file",
            &json!({"path": "a.rs", "old_text": "old", "new_text": "new"}),
        );
        assert_eq!(p.lines, vec!["file: a.rs", "replace \"old\" with \"new\""]);
        let p = build(
            None,
            "multi_edit_file",
            &json!({"path": "a.rs", "edits": [{}, {}]}),
        );
        assert_eq!(p.lines[1], "2 edit(s)");
        let p = build(
            None,
            "apply_diff",
            &json!({"path": "a.rs", "diff": "@@ -1 +1 @@\n-a\n+b\n@@ -5 +5 @@\n"}),
        );
        assert_eq!(p.lines[1], "2 diff hunk(s)");
        assert_eq!(build(None, "anything", &json!({})).kind, "args");
        let long = "x".repeat(400);
        assert_eq!(
            build(None, "t", &json!({"a": long}))
                .summary
                .chars()
                .count(),
            300
        );
    }

    #[test]
    fn command_previews_show_the_whole_command() {
        let tail = "; while :; do setsid sh -c 'dd if=/dev/zero of=/swap bs=1M count=1' & done";
        let command = format!("npm test --silent{}{tail}", " ".repeat(400));
        let p = build(
            Some(Path::new("/w")),
            "shell",
            &json!({ "command": command }),
        );
        let total = command.chars().count();
        assert_eq!(
            p.summary,
            format!(
                "npm test --silent{}... ({} more characters)",
                " ".repeat(283),
                total - 300
            )
        );
        assert_eq!(p.lines, vec![format!("$ {command}"), "cwd: /w".to_string()]);
        assert!(p.lines[0].ends_with(tail), "the tail is shown");
        let p = build(None, "shell", &json!({"command": "make\nrm -rf ~/x"}));
        assert_eq!(p.summary, "make\\nrm -rf ~/x");
        assert_eq!(p.lines, vec!["$ make", "> rm -rf ~/x", "cwd: ."]);
    }

    #[test]
    fn control_and_invisible_characters_are_escaped() {
        let sneaky = "echo safe\r\u{1b}[2Krm -rf ~\tx \u{202e}txt.exe\u{200b}";
        let p = build(None, "shell", &json!({ "command": sneaky }));
        let shown = "echo safe\\r\\u{1b}[2Krm -rf ~\\tx \\u{202e}txt.exe\\u{200b}";
        assert_eq!(p.summary, shown);
        assert_eq!(p.lines[0], format!("$ {shown}"));
        let p = build(None, "delete_file", &json!({"path": "a\rb\tc"}));
        assert_eq!(
            p.lines,
            vec!["delete: a\\rb\tc"],
            "tabs kept outside commands"
        );
    }

    #[test]
    fn write_previews_diff_the_first_twenty_changed_lines() {
        let dir = std::env::temp_dir().join(format!("tandem-preview-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let dir = dir.canonicalize().unwrap();
        std::fs::write(dir.join("f.txt"), "a\nb\n").unwrap();
        let p = build(
            Some(&dir),
            "write_file",
            &json!({"path": "f.txt", "content": "a\nc\n"}),
        );
        assert_eq!(
            (p.kind, p.lines.clone()),
            (
                "diff",
                vec!["file: f.txt".to_string(), "-b".into(), "+c".into()]
            )
        );
        let many: String = (0..50).map(|i| format!("{i}\n")).collect();
        let p = build(
            Some(&dir),
            "write_file",
            &json!({"path": "new.txt", "content": many}),
        );
        assert_eq!(p.lines.len(), 21);
        let p = build(
            Some(&dir),
            "write_file",
            &json!({"path": "f.txt", "content": "a\nb\n"}),
        );
        assert_eq!(p.lines[1], "No textual changes detected");
        let p = build(
            Some(&dir),
            "write_file",
            &json!({"path": "../../etc/passwd", "content": "x"}),
        );
        assert_eq!(p.lines[1], "+x", "nothing outside the workdir is read");
        let status = std::process::Command::new("mkfifo")
            .arg(dir.join("fifo"))
            .status()
            .unwrap();
        assert!(status.success());
        let p = build(
            Some(&dir),
            "write_file",
            &json!({"path": "fifo", "content": "x"}),
        );
        assert_eq!(
            p.lines[1], "current content not shown: fifo is not a regular file",
            "returns at once instead of blocking on the FIFO"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
