//! Read-only file tools: `read_file` and `list_directory`.

use std::io::Read;
use std::path::Path;

use serde_json::{json, Value};

use super::sandbox::resolve;
use super::ToolResult;
use crate::provider::native::model::ToolSpec;

const READ_CAP: usize = 256 * 1024;

/// The spec of built-in tool `name`.
pub fn spec(name: &str) -> ToolSpec {
    let (description, schema) = match name {
        "read_file" => (
            "Read a text file in the workdir. Optional 1-based line offset and line limit.",
            json!({"type": "object", "properties": {
                "path": {"type": "string", "description": "Path relative to the workdir"},
                "offset": {"type": "integer", "minimum": 1},
                "limit": {"type": "integer", "minimum": 1}}, "required": ["path"], "additionalProperties": false}),
        ),
        _ => (
            "List a directory in the workdir: one entry per line, directories first with a trailing /.",
            json!({"type": "object", "properties": {
                "path": {"type": "string", "description": "Directory relative to the workdir (default .)"}},
                "additionalProperties": false}),
        ),
    };
    ToolSpec {
        name: name.into(),
        description: description.into(),
        input_schema: schema,
    }
}

/// Runs a file tool synchronously (the caller keeps it off the async workers).
pub fn run(root: &Path, name: &str, args: &Value) -> ToolResult {
    let path_arg = match args.get("path") {
        Some(Value::String(p)) => p.as_str(),
        None if name == "list_directory" => ".",
        _ => return Err(format!("{name}: \"path\" must be a string")),
    };
    let path = resolve(root, path_arg)?;
    match name {
        "read_file" => read_file(&path, path_arg, args),
        _ => list_directory(&path, path_arg),
    }
}

fn line_arg(args: &Value, key: &str) -> Result<Option<usize>, String> {
    match args.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .filter(|n| *n >= 1)
            .map(|n| Some(n as usize))
            .ok_or(format!("read_file: {key} must be a positive integer")),
    }
}

fn read_file(path: &Path, arg: &str, args: &Value) -> ToolResult {
    let offset = line_arg(args, "offset")?;
    let limit = line_arg(args, "limit")?;
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read {arg}: {e}"))?;
    let mut bytes = Vec::new();
    file.take(READ_CAP as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {arg}: {e}"))?;
    let truncated = bytes.len() > READ_CAP;
    bytes.truncate(READ_CAP);
    if bytes[..bytes.len().min(8192)].contains(&0) {
        return Err(format!("{arg} is a binary file"));
    }
    let text = String::from_utf8_lossy(&bytes);
    let mut out = if offset.is_some() || limit.is_some() {
        let lines: Vec<&str> = text.lines().collect();
        let start = offset.unwrap_or(1);
        if start > lines.len() {
            return Ok(format!(
                "[offset {start} is past the end of {arg} ({} lines)]",
                lines.len()
            ));
        }
        let end = limit.map_or(lines.len(), |l| (start - 1 + l).min(lines.len()));
        format!(
            "[lines {start}-{end} of {}]\n{}",
            lines.len(),
            lines[start - 1..end].join("\n")
        )
    } else {
        text.into_owned()
    };
    if truncated {
        out.push_str("\n\n[truncated at 256KB]");
    }
    Ok(out)
}

fn list_directory(path: &Path, arg: &str) -> ToolResult {
    let entries = std::fs::read_dir(path).map_err(|e| format!("cannot list {arg}: {e}"))?;
    let mut dirs = Vec::new();
    let mut files = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            dirs.push(name + "/");
        } else {
            files.push(name);
        }
    }
    dirs.sort();
    files.sort();
    dirs.extend(files);
    Ok(dirs.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_dirs_first_and_reads_slices() {
        let root = std::env::temp_dir().join(format!(
            "tandem-fs-{}-{}",
            std::process::id(),
            crate::time::mono_ms()
        ));
        std::fs::create_dir_all(root.join("zdir")).unwrap();
        std::fs::write(root.join("a.txt"), "one\ntwo\nthree\n").unwrap();
        std::fs::write(root.join("bin"), b"\x00\x01").unwrap();
        let root = root.canonicalize().unwrap();
        assert_eq!(
            run(&root, "list_directory", &json!({})).unwrap(),
            "zdir/\na.txt\nbin"
        );
        assert_eq!(
            run(&root, "read_file", &json!({"path": "a.txt"})).unwrap(),
            "one\ntwo\nthree\n"
        );
        assert_eq!(
            run(
                &root,
                "read_file",
                &json!({"path": "a.txt", "offset": 2, "limit": 1})
            )
            .unwrap(),
            "[lines 2-2 of 3]\ntwo"
        );
        assert!(run(&root, "read_file", &json!({"path": "bin"}))
            .unwrap_err()
            .contains("binary"));
        assert!(run(&root, "read_file", &json!({"path": "../x"}))
            .unwrap_err()
            .contains("escapes"));
        assert!(run(&root, "read_file", &json!({"path": 3})).is_err());
    }
}
