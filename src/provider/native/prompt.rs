//! The default system prompt of a native coding session: where it works, with which tools, on which OS.
//!
//! Used when the session options give no `system_prompt`; an empty `system_prompt` sends none at all.

use std::path::Path;

/// The prompt for a session in `workdir` (none: no file tools) offering `tools` to the model.
pub fn default_system_prompt(workdir: Option<&Path>, tools: &[String]) -> String {
    let os = std::env::consts::OS;
    let mut out = String::from("You are a coding agent embedded in the user's editor.");
    match workdir {
        Some(dir) => out.push_str(&format!(
            " You work in the project directory {} on {os}. Paths you give tools are relative to it, and tools \
             cannot reach files outside it.",
            dir.display()
        )),
        None => out.push_str(&format!(
            " You run on {os} with no project directory, so you have no file tools."
        )),
    }
    if tools.is_empty() {
        out.push_str(
            " No tools are available in this session: answer from the conversation alone.",
        );
    } else {
        out.push_str(&format!(" Tools: {}.", tools.join(", ")));
        out.push_str(
            " Read files before you change them, make the smallest change that does the job, prefer editing \
             over rewriting whole files, and say briefly what you changed. The user may have to approve tools \
             that change files or run commands; a refused tool call is the user's decision, not an error to retry.",
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_workdir_the_tools_and_the_os() {
        let p = default_system_prompt(
            Some(Path::new("/src/app")),
            &["read_file".into(), "shell".into()],
        );
        assert!(p.contains("/src/app"), "{p}");
        assert!(p.contains("Tools: read_file, shell."), "{p}");
        assert!(p.contains(std::env::consts::OS), "{p}");
        let bare = default_system_prompt(None, &[]);
        assert!(
            bare.contains("no file tools") && bare.contains("No tools"),
            "{bare}"
        );
    }
}
