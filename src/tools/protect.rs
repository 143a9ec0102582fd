//! Protected paths: writes to `.git/` and `.tandem/` (a repository's history and hooks, tandem's own context and
//! skills) need their own approval, whatever trust or permissions say, and are refused in plan mode.

use std::path::{Component, Path};

use serde_json::Value;

use super::sandbox::{resolve, resolve_entry};

/// Directory names whose contents are protected, wherever they appear below the workdir (a nested repository's
/// `.git` runs hooks too). Compared ignoring ASCII case: on a case-insensitive file system `.GIT` is `.git`.
const PROTECTED: &[&str] = &[".git", ".tandem"];

/// Tools that write, delete or create files through a `path` argument.
const WRITERS: &[&str] = &[
    "write_file",
    "edit_file",
    "multi_edit_file",
    "apply_diff",
    "delete_file",
];

/// Why call `name` with `args` writes a protected path of `workdir`, or `None`. The path is checked both as named
/// and as its symlinks lead (so an alias of `.git/config` is protected too); a path the sandbox refuses is not
/// protected here (the tool refuses it anyway).
pub fn protected_path(workdir: &Path, name: &str, args: &Value) -> Option<String> {
    if !WRITERS.contains(&name) {
        return None;
    }
    let arg = args.get("path")?.as_str()?;
    let hit = |p: &Path| {
        p.strip_prefix(workdir)
            .ok()?
            .components()
            .find_map(|c| match c {
                Component::Normal(n) => PROTECTED
                    .iter()
                    .find(|p| n.to_str().is_some_and(|n| n.eq_ignore_ascii_case(p)))
                    .copied(),
                _ => None,
            })
    };
    let found = [resolve_entry(workdir, arg), resolve(workdir, arg)]
        .into_iter()
        .flatten()
        .find_map(|p| hit(&p))?;
    Some(format!(
        "{arg} is inside {found}/, a protected path: {name} needs its own approval"
    ))
}

/// Why a session confined to `workdir` must not start with its conversation store at `store`: the store is inside
/// the workdir (the tools would read other sessions' transcripts and could forge messages in them) or the workdir
/// is inside the store. `None` when they are apart. Paths are compared canonical where they exist.
pub fn store_conflict(workdir: &Path, store: &Path) -> Option<String> {
    let canon = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    let (w, s) = (canon(workdir), canon(store));
    (s.starts_with(&w) || w.starts_with(&s)).then(|| {
        format!(
            "workdir {} and the session store {} overlap: the tools could read and change other sessions' \
             transcripts; use a workdir or store_dir apart from the other",
            w.display(),
            s.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::testutil::TempDir;
    use serde_json::json;

    #[test]
    fn writes_into_git_and_tandem_are_protected_also_through_links() {
        let t = TempDir::new("protect");
        let root = t.path();
        std::fs::create_dir_all(root.join(".git/hooks")).unwrap();
        std::fs::create_dir_all(root.join("sub/.tandem")).unwrap();
        std::os::unix::fs::symlink(".git/hooks", root.join("hooks")).unwrap();
        let p = |name: &str, path: &str| protected_path(root, name, &json!({"path": path}));
        assert_eq!(
            p("write_file", ".git/hooks/pre-commit").unwrap(),
            ".git/hooks/pre-commit is inside .git/, a protected path: write_file needs its own approval"
        );
        assert!(p("edit_file", ".GIT/config").is_some());
        assert!(p("delete_file", ".git").is_some());
        assert!(
            p("apply_diff", "hooks/pre-commit").is_some(),
            "via a symlink"
        );
        assert!(p("multi_edit_file", "sub/.tandem/skills/x/SKILL.md").is_some());
        assert!(p("write_file", ".tandem").is_some());
        assert_eq!(p("write_file", "src/.gitignore"), None);
        assert_eq!(p("write_file", ".github/workflows/ci.yml"), None);
        assert_eq!(p("read_file", ".git/config"), None, "reads are not gated");
        assert_eq!(
            p("write_file", "../.git/x"),
            None,
            "refused by the sandbox instead"
        );
    }
}
