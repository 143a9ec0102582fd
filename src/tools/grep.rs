//! `grep`: lines of workdir files matching a regular expression, as `path:line:text`.

use std::path::Path;

use regex::{Regex, RegexBuilder};
use serde_json::Value;

use super::args::Args;
use super::confine::Root;
use super::files::is_binary;
use super::find::{glob, glob_matches};
use super::sandbox::resolve;
use super::walk::{rel, walk};
use super::ToolOutcome;

/// Most matching lines reported.
const MAX_MATCHES: usize = 100;
/// Most context lines around each match.
const MAX_CONTEXT: u64 = 20;
/// Files larger than this are not searched (generated or data files, not source).
const MAX_FILE: usize = 8 * 1024 * 1024;
/// Characters of a line shown (minified files have enormous lines).
const LINE_CHARS: usize = 500;

/// Output being collected across files.
struct Found {
    lines: Vec<String>,
    matches: usize,
    cut: bool,
}

fn clip(line: &str) -> String {
    match line.char_indices().nth(LINE_CHARS) {
        Some((end, _)) => format!("{}…", &line[..end]),
        None => line.to_string(),
    }
}

/// Searches one file; `shown` is its path for the output.
/// `follow`: the entry is a symlink, searched only when it leads to a regular file inside the workdir.
fn search(
    root: &Root,
    path: &Path,
    follow: bool,
    shown: &str,
    re: &Regex,
    context: usize,
    found: &mut Found,
) {
    let Ok((bytes, false)) = root.read_capped(path, shown, MAX_FILE, follow) else {
        return;
    };
    if is_binary(&bytes) {
        return;
    }
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().collect();
    let mut hits = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if re.is_match(line) {
            if found.matches == MAX_MATCHES {
                found.cut = true;
                break;
            }
            found.matches += 1;
            hits.push(i);
        }
    }
    // Context windows around the hits, merged where they touch; `--` separates windows as in grep.
    let mut windows: Vec<(usize, usize)> = Vec::new();
    for &h in &hits {
        let (lo, hi) = (
            h.saturating_sub(context),
            (h + context).min(lines.len() - 1),
        );
        match windows.last_mut() {
            Some(w) if lo <= w.1 + 1 => w.1 = hi,
            _ => windows.push((lo, hi)),
        }
    }
    for (lo, hi) in windows {
        if context > 0 && !found.lines.is_empty() {
            found.lines.push("--".into());
        }
        for (i, line) in lines.iter().enumerate().take(hi + 1).skip(lo) {
            let sep = if hits.binary_search(&i).is_ok() {
                ':'
            } else {
                '-'
            };
            found
                .lines
                .push(format!("{shown}{sep}{}{sep}{}", i + 1, clip(line)));
        }
    }
}

/// `grep {pattern, path?, glob?, case_sensitive?, context?}`: matches in file order (sorted by name within each
/// directory), at most 100. Skips `.git`, ignored, binary and very large files; symlinks are searched only when
/// they lead to a file inside the workdir.
pub(super) fn grep(root: &Root, args: &Value) -> Result<ToolOutcome, String> {
    let a = Args::new(
        "grep",
        args,
        &["pattern", "path", "glob", "case_sensitive", "context"],
    )?;
    let pattern = a.string("pattern")?;
    let arg = a.opt_string("path")?.unwrap_or(".");
    let only = a.opt_string("glob")?.map(|g| glob("grep", g)).transpose()?;
    let case_sensitive = a.opt_bool("case_sensitive")?.unwrap_or(true);
    let context = a.opt_int("context", 0)?.unwrap_or(0);
    if context > MAX_CONTEXT {
        return Err(a.bad("context", &format!("at most {MAX_CONTEXT}")));
    }
    let re = RegexBuilder::new(pattern)
        .case_insensitive(!case_sensitive)
        .build()
        .map_err(|e| format!("grep: invalid regex: {e}"))?;
    let target = resolve(root.path(), arg)?;
    let mut found = Found {
        lines: Vec::new(),
        matches: 0,
        cut: false,
    };
    walk(root, &target, arg, None, |entry| {
        let kind = entry.kind;
        if !kind.is_file() && !kind.is_symlink() {
            return true;
        }
        // A file named as the search path is searched whatever the glob says.
        if entry.depth > 0
            && only
                .as_ref()
                .is_some_and(|g| !glob_matches(g, &target, &entry.path))
        {
            return true;
        }
        search(
            root,
            &entry.path,
            kind.is_symlink(),
            &rel(root.path(), &entry.path),
            &re,
            context as usize,
            &mut found,
        );
        !found.cut
    })?;
    if found.lines.is_empty() {
        return Ok(ToolOutcome::ok(format!("no matches for {pattern}")));
    }
    if found.cut {
        found
            .lines
            .push(format!("[stopped after {MAX_MATCHES} matches]"));
    }
    Ok(ToolOutcome::ok(found.lines.join("\n")))
}

#[cfg(test)]
mod tests {
    use crate::tools::testutil::{err, ok, TempDir};
    use serde_json::json;

    fn tree() -> TempDir {
        let t = TempDir::new("grep");
        let root = t.path();
        for d in ["src", ".git", "build"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        std::fs::write(root.join(".gitignore"), "build/\n").unwrap();
        std::fs::write(
            root.join("src/a.rs"),
            "fn main() {\n    let x = 1;\n    println!(\"{x}\");\n}\n",
        )
        .unwrap();
        std::fs::write(root.join("src/b.txt"), "Main street\nnothing\n").unwrap();
        std::fs::write(root.join(".git/config"), "fn main\n").unwrap();
        std::fs::write(root.join("build/out.rs"), "fn main\n").unwrap();
        std::fs::write(root.join("src/bin.dat"), b"fn main\0\x01").unwrap();
        std::os::unix::fs::symlink("src/a.rs", root.join("alias.rs")).unwrap();
        t
    }

    #[test]
    fn reports_path_line_text_skipping_git_ignored_and_binary_files() {
        let t = tree();
        let root = t.path();
        assert_eq!(
            ok(root, "grep", json!({"pattern": "fn main"})),
            "alias.rs:1:fn main() {\nsrc/a.rs:1:fn main() {"
        );
        assert_eq!(
            ok(
                root,
                "grep",
                json!({"pattern": "main", "case_sensitive": false, "path": "src"})
            ),
            "src/a.rs:1:fn main() {\nsrc/b.txt:1:Main street"
        );
        assert_eq!(
            ok(
                root,
                "grep",
                json!({"pattern": "main", "glob": "*.txt", "case_sensitive": false})
            ),
            "src/b.txt:1:Main street"
        );
        assert_eq!(
            ok(root, "grep", json!({"pattern": "main", "path": "build"})),
            "build/out.rs:1:fn main"
        );
        assert_eq!(
            ok(
                root,
                "grep",
                json!({"pattern": "street", "path": "src/b.txt", "glob": "*.rs"})
            ),
            "src/b.txt:1:Main street"
        );
        assert_eq!(
            ok(root, "grep", json!({"pattern": "zzz"})),
            "no matches for zzz"
        );
    }

    #[test]
    fn context_lines_use_dashes_and_groups_are_separated() {
        let t = TempDir::new("grep");
        let root = t.path();
        let text: String = (1..=12).map(|i| format!("l{i}\n")).collect();
        std::fs::write(root.join("f"), text).unwrap();
        assert_eq!(
            ok(root, "grep", json!({"pattern": "^l(2|3|9)$", "context": 1})),
            "f-1-l1\nf:2:l2\nf:3:l3\nf-4-l4\n--\nf-8-l8\nf:9:l9\nf-10-l10"
        );
        assert_eq!(
            ok(root, "grep", json!({"pattern": "^l12$", "context": 2})),
            "f-10-l10\nf-11-l11\nf:12:l12"
        );
    }

    #[test]
    fn cuts_at_100_matches_and_reports_errors() {
        let t = TempDir::new("grep");
        let root = t.path();
        let text: String = (1..=150).map(|i| format!("hit {i}\n")).collect();
        std::fs::write(root.join("many"), text).unwrap();
        let out = ok(root, "grep", json!({"pattern": "hit"}));
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 101);
        assert_eq!(lines[99], "many:100:hit 100");
        assert_eq!(lines[100], "[stopped after 100 matches]");
        let exact: String = (1..=100).map(|i| format!("x{i}\n")).collect();
        std::fs::write(root.join("exact"), exact).unwrap();
        assert!(!ok(root, "grep", json!({"pattern": "^x", "path": "exact"})).contains("stopped"));
        assert_eq!(
            err(root, "grep", json!({"pattern": "a", "context": 21})),
            "grep: \"context\" must be at most 20"
        );
        assert!(err(root, "grep", json!({"pattern": "("})).starts_with("grep: invalid regex: "));
        assert_eq!(
            err(root, "grep", json!({"pattern": "a", "path": "nope"})),
            "cannot search nope: No such file or directory (os error 2)"
        );
        assert_eq!(
            err(root, "grep", json!({"pattern": "a", "glob": "[x"})),
            "grep: invalid glob \"[x\": unclosed character class; missing ']'"
        );
        let long = "y".repeat(600);
        std::fs::write(root.join("long"), format!("{long}\n")).unwrap();
        assert_eq!(
            ok(root, "grep", json!({"pattern": "^y", "path": "long"})),
            format!("long:1:{}…", "y".repeat(500))
        );
    }
}
