//! `find`: paths below a workdir directory whose name (or relative path) matches a glob.

use std::path::Path;

use globset::{GlobBuilder, GlobMatcher};
use serde_json::Value;

use super::args::Args;
use super::confine::Root;
use super::sandbox::resolve;
use super::walk::{rel, walk};
use super::ToolOutcome;

/// Most results listed.
const MAX_RESULTS: usize = 200;
/// Levels searched below the directory when `max_depth` is not given.
const DEFAULT_DEPTH: usize = 10;

/// A glob as the search tools use it: `*` stays within one path component, `**` crosses them. The flag says
/// whether it matches the path below the search directory (it contains `/`) rather than the name.
pub(super) fn glob(tool: &str, pattern: &str) -> Result<(GlobMatcher, bool), String> {
    let matcher = GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()
        .map_err(|e| format!("{tool}: invalid glob {pattern:?}: {}", e.kind()))?
        .compile_matcher();
    Ok((matcher, pattern.contains('/')))
}

/// Whether `path` (below `base`) matches `glob` by name or, for a glob with `/`, by its path below `base`.
pub(super) fn glob_matches(glob: &(GlobMatcher, bool), base: &Path, path: &Path) -> bool {
    let (matcher, by_path) = glob;
    if *by_path {
        path.strip_prefix(base).is_ok_and(|p| matcher.is_match(p))
    } else {
        path.file_name().is_some_and(|n| matcher.is_match(n))
    }
}

/// `find {pattern, path?, type?, max_depth?}`: sorted paths relative to the workdir, directories with a trailing
/// `/`, at most 200. Symlinks are listed (never followed) when no type is asked for.
pub(super) fn find(root: &Root, args: &Value) -> Result<ToolOutcome, String> {
    let a = Args::new("find", args, &["pattern", "path", "type", "max_depth"])?;
    let pattern = a.string("pattern")?;
    let arg = a.opt_string("path")?.unwrap_or(".");
    let want = match a.opt_string("type")? {
        None => None,
        Some(t @ ("file" | "directory")) => Some(t),
        Some(_) => return Err(a.bad("type", "\"file\" or \"directory\"")),
    };
    let depth = a
        .opt_int("max_depth", 1)?
        .map_or(DEFAULT_DEPTH, |d| d as usize);
    let glob = glob("find", pattern)?;
    let target = resolve(root.path(), arg)?;
    match root.entry(&target, arg)? {
        None => {
            return Err(format!(
                "cannot search {arg}: No such file or directory (os error 2)"
            ))
        }
        Some(m) if !m.is_dir() => return Err(format!("find: {arg} is not a directory")),
        Some(_) => {}
    }
    let mut found = Vec::new();
    walk(root, &target, arg, Some(depth), |entry| {
        let kind = entry.kind;
        let keep = match want {
            Some("file") => kind.is_file(),
            Some(_) => kind.is_dir(),
            None => true,
        };
        if entry.depth > 0 && keep && glob_matches(&glob, &target, &entry.path) {
            let path = rel(root.path(), &entry.path);
            found.push(if kind.is_dir() { path + "/" } else { path });
        }
        true
    })?;
    if found.is_empty() {
        return Ok(ToolOutcome::ok(format!("no matches for {pattern}")));
    }
    found.sort();
    let total = found.len();
    found.truncate(MAX_RESULTS);
    let mut text = found.join("\n");
    if total > MAX_RESULTS {
        text.push_str(&format!(
            "\n[showing the first {MAX_RESULTS} of {total} results]"
        ));
    }
    Ok(ToolOutcome::ok(text))
}

#[cfg(test)]
mod tests {
    use crate::tools::testutil::{err, ok, TempDir};
    use serde_json::json;

    fn tree() -> TempDir {
        let t = TempDir::new("find");
        let root = t.path();
        for d in ["src/tools", "docs", "target/debug"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        std::fs::write(root.join(".gitignore"), "target/\n").unwrap();
        for f in [
            "src/lib.rs",
            "src/tools/mod.rs",
            "src/tools/fs.rs",
            "docs/mod.rs.md",
            "target/debug/x.rs",
            "README.md",
        ] {
            std::fs::write(root.join(f), "x").unwrap();
        }
        std::os::unix::fs::symlink("src", root.join("srclink")).unwrap();
        t
    }

    #[test]
    fn matches_names_or_paths_sorted_and_typed() {
        let t = tree();
        let root = t.path();
        assert_eq!(
            ok(root, "find", json!({"pattern": "*.rs"})),
            "src/lib.rs\nsrc/tools/fs.rs\nsrc/tools/mod.rs"
        );
        assert_eq!(
            ok(root, "find", json!({"pattern": "*.rs", "max_depth": 2})),
            "src/lib.rs"
        );
        assert_eq!(
            ok(
                root,
                "find",
                json!({"pattern": "tools/*.rs", "path": "src"})
            ),
            "src/tools/fs.rs\nsrc/tools/mod.rs"
        );
        assert_eq!(
            ok(root, "find", json!({"pattern": "**/mod.rs"})),
            "src/tools/mod.rs"
        );
        assert_eq!(
            ok(root, "find", json!({"pattern": "*s*", "type": "directory"})),
            "docs/\nsrc/\nsrc/tools/"
        );
        assert_eq!(
            ok(root, "find", json!({"pattern": "s*"})),
            "src/\nsrclink",
            "a symlink is listed, not followed"
        );
        assert_eq!(
            ok(root, "find", json!({"pattern": "s*", "type": "file"})),
            "no matches for s*"
        );
        assert_eq!(
            ok(root, "find", json!({"pattern": "*.rs", "path": "target"})),
            "target/debug/x.rs"
        );
    }

    #[test]
    fn cuts_at_200_and_reports_errors() {
        let t = TempDir::new("find");
        let root = t.path();
        for i in 0..205 {
            std::fs::write(root.join(format!("f{i:03}.txt")), "").unwrap();
        }
        let text = ok(root, "find", json!({"pattern": "*.txt"}));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 201);
        assert_eq!((lines[0], lines[199]), ("f000.txt", "f199.txt"));
        assert_eq!(lines[200], "[showing the first 200 of 205 results]");
        assert_eq!(
            err(root, "find", json!({"pattern": "a", "type": "link"})),
            "find: \"type\" must be \"file\" or \"directory\""
        );
        assert_eq!(
            err(root, "find", json!({"pattern": "[a"})),
            "find: invalid glob \"[a\": unclosed character class; missing ']'"
        );
        assert_eq!(
            err(root, "find", json!({"pattern": "*", "path": "f000.txt"})),
            "find: f000.txt is not a directory"
        );
        assert_eq!(
            err(root, "find", json!({"pattern": "*", "path": "nope"})),
            "cannot search nope: No such file or directory (os error 2)"
        );
        assert_eq!(
            err(root, "find", json!({"pattern": "*", "max_depth": 0})),
            "find: \"max_depth\" must be a positive integer"
        );
        assert_eq!(
            err(root, "find", json!({})),
            "find: missing required argument \"pattern\""
        );
    }
}
