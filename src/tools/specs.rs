//! The built-in tools as the model sees them: descriptions and closed JSON Schemas of their arguments.

use serde_json::{json, Value};

use crate::vocab::model::ToolSpec;

fn path_prop(what: &str) -> Value {
    json!({"type": "string", "description": format!("{what}, relative to the workdir")})
}

fn object(props: Value, required: &[&str]) -> Value {
    json!({"type": "object", "properties": props, "required": required, "additionalProperties": false})
}

/// The spec of built-in tool `name` (an unknown name gets an empty, closed schema).
pub(super) fn spec(name: &str) -> ToolSpec {
    let edit = json!({"type": "object", "properties": {
        "old_text": {"type": "string", "description": "Exact text to replace; must occur exactly once"},
        "new_text": {"type": "string", "description": "Replacement text"}},
        "required": ["old_text", "new_text"], "additionalProperties": false});
    let (description, schema) = match name {
        "read_file" => (
            "Read a text file in the workdir (at most 256 KB). Optional 1-based line offset and line limit.",
            object(
                json!({"path": path_prop("File"),
                    "offset": {"type": "integer", "minimum": 1, "description": "First line (1-based)"},
                    "limit": {"type": "integer", "minimum": 1, "description": "Number of lines"}}),
                &["path"],
            ),
        ),
        "write_file" => (
            "Create or overwrite a file in the workdir with the given content, creating parent directories.",
            object(
                json!({"path": path_prop("File"), "content": {"type": "string"}}),
                &["path", "content"],
            ),
        ),
        "edit_file" => (
            "Replace the one occurrence of old_text in a file with new_text. Fails when old_text occurs zero or \
             several times; include surrounding lines to make it unique.",
            object(
                json!({"path": path_prop("File"),
                    "old_text": {"type": "string", "description": "Exact text to replace; must occur exactly once"},
                    "new_text": {"type": "string", "description": "Replacement text"}}),
                &["path", "old_text", "new_text"],
            ),
        ),
        "multi_edit_file" => (
            "Apply several edits to one file in order, each like edit_file on the result of the previous one. \
             All or nothing: if any edit fails, the file is left unchanged.",
            object(
                json!({"path": path_prop("File"),
                    "edits": {"type": "array", "minItems": 1, "items": edit}}),
                &["path", "edits"],
            ),
        ),
        "apply_diff" => (
            "Apply a unified diff (hunks starting with @@ -a,b +c,d @@) to one file. A hunk may be found a few \
             lines from its stated position; its context must match. All or nothing.",
            object(
                json!({"path": path_prop("File"),
                    "diff": {"type": "string", "description": "Unified diff hunks for this file"}}),
                &["path", "diff"],
            ),
        ),
        "delete_file" => (
            "Delete a file in the workdir (not a directory).",
            object(json!({"path": path_prop("File")}), &["path"]),
        ),
        "list_directory" => (
            "List a directory in the workdir: one entry per line, directories first with a trailing /.",
            object(json!({"path": path_prop("Directory (default .)")}), &[]),
        ),
        "find" => (
            "Find files and directories whose name matches a glob (a pattern with / matches the path below the \
             search directory; ** crosses directories). Respects .gitignore; at most 200 results, sorted.",
            object(
                json!({"pattern": {"type": "string", "description": "Glob, e.g. *.rs or src/**/mod.rs"},
                    "path": path_prop("Directory to search (default .)"),
                    "type": {"type": "string", "enum": ["file", "directory"]},
                    "max_depth": {"type": "integer", "minimum": 1, "description": "Levels below path (default 10)"}}),
                &["pattern"],
            ),
        ),
        "grep" => (
            "Search file contents with a regular expression. Output lines are path:line:text (context lines \
             path-line-text). Respects .gitignore, skips binary files; at most 100 matches.",
            object(
                json!({"pattern": {"type": "string", "description": "Regular expression (Rust regex syntax)"},
                    "path": path_prop("File or directory to search (default .)"),
                    "glob": {"type": "string", "description": "Only files matching this glob, e.g. *.rs"},
                    "case_sensitive": {"type": "boolean", "description": "Default true"},
                    "context": {"type": "integer", "minimum": 0, "maximum": 20,
                        "description": "Lines of context around each match (default 0)"}}),
                &["pattern"],
            ),
        ),
        "shell" => (
            "Run a command with /bin/sh -c in the workdir. Output is stdout and stderr combined (at most 256 KB). \
             Default timeout 30 s, at most 300 s; background processes are killed when the command ends.",
            object(
                json!({"command": {"type": "string"},
                    "timeout_ms": {"type": "integer", "minimum": 1, "maximum": 300000,
                        "description": "Milliseconds (default 30000)"}}),
                &["command"],
            ),
        ),
        _ => ("", object(json!({}), &[])),
    };
    ToolSpec {
        name: name.into(),
        description: description.into(),
        input_schema: schema,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemas_compile_accept_examples_and_reject_unknown_keys() {
        let examples = [
            ("read_file", json!({"path": "a", "offset": 1, "limit": 2})),
            ("write_file", json!({"path": "a", "content": ""})),
            (
                "edit_file",
                json!({"path": "a", "old_text": "x", "new_text": "y"}),
            ),
            (
                "multi_edit_file",
                json!({"path": "a", "edits": [{"old_text": "x", "new_text": "y"}]}),
            ),
            (
                "apply_diff",
                json!({"path": "a", "diff": "@@ -1 +1 @@\n-a\n+b\n"}),
            ),
            ("delete_file", json!({"path": "a"})),
            ("list_directory", json!({})),
            (
                "find",
                json!({"pattern": "*.rs", "path": "src", "type": "file", "max_depth": 2}),
            ),
            (
                "grep",
                json!({"pattern": "x", "path": ".", "glob": "*.rs", "case_sensitive": false, "context": 2}),
            ),
            ("shell", json!({"command": "ls", "timeout_ms": 1000})),
        ];
        for (name, args) in examples {
            let v = jsonschema::validator_for(&spec(name).input_schema)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(v.is_valid(&args), "{name} refuses {args}");
            let mut extra = args.clone();
            extra["bogus"] = json!(1);
            assert!(!v.is_valid(&extra), "{name} accepts unknown keys");
        }
        let v = jsonschema::validator_for(&spec("multi_edit_file").input_schema).unwrap();
        assert!(!v.is_valid(
            &json!({"path": "a", "edits": [{"old_text": "x", "new_text": "y", "z": 1}]})
        ));
        assert!(!v.is_valid(&json!({"path": "a", "edits": []})));
        let v = jsonschema::validator_for(&spec("shell").input_schema).unwrap();
        assert!(!v.is_valid(&json!({"command": "ls", "timeout_ms": 300001})));
    }
}
