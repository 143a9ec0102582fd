//! The directory walk `find` and `grep` share: below a directory of the workdir, symlinks never followed, `.git`
//! skipped, and `.gitignore` / `.ignore` files respected from the workdir down (never from above it, nor the
//! user's global git excludes, so results depend on the workdir alone).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ignore::gitignore::{Gitignore, GitignoreBuilder};
use ignore::{Match, WalkBuilder};

/// The ignore rules of the workdir's directories, read once per directory as the walk meets them.
struct Rules {
    root: PathBuf,
    by_dir: Mutex<HashMap<PathBuf, Option<Arc<Gitignore>>>>,
}

impl Rules {
    /// The rules of `dir`'s own `.gitignore` and `.ignore` (the latter wins, as with ripgrep).
    fn of(&self, dir: &Path) -> Option<Arc<Gitignore>> {
        let mut by_dir = self.by_dir.lock().unwrap_or_else(|e| e.into_inner());
        by_dir
            .entry(dir.to_path_buf())
            .or_insert_with(|| {
                let mut gb = GitignoreBuilder::new(dir);
                for name in [".gitignore", ".ignore"] {
                    let file = dir.join(name);
                    if file.is_file() {
                        // A bad line only loses that line; the rest of the file still applies.
                        let _ = gb.add(file);
                    }
                }
                gb.build().ok().filter(|gi| !gi.is_empty()).map(Arc::new)
            })
            .clone()
    }

    /// Whether `path` is ignored: the deepest directory (from its parent up to the workdir) whose rules have an
    /// opinion decides, as in git.
    fn ignored(&self, path: &Path, is_dir: bool) -> bool {
        let mut dir = path.parent();
        while let Some(d) = dir.filter(|d| d.starts_with(&self.root)) {
            if let Some(gi) = self.of(d) {
                match gi.matched(path, is_dir) {
                    Match::Ignore(_) => return true,
                    Match::Whitelist(_) => return false,
                    Match::None => {}
                }
            }
            dir = d.parent();
        }
        false
    }
}

/// Walks `target` (a resolved directory or file inside `root`), entries sorted by name within each directory.
/// `target` itself is always yielded first (depth 0), even when an ignore file names it: it was asked for.
pub(super) fn walk(root: &Path, target: &Path, max_depth: Option<usize>) -> ignore::Walk {
    let rules = Rules {
        root: root.to_path_buf(),
        by_dir: Mutex::default(),
    };
    let mut b = WalkBuilder::new(target);
    b.standard_filters(false)
        .follow_links(false)
        .max_depth(max_depth)
        .sort_by_file_name(|a, b| a.cmp(b))
        .filter_entry(move |e| {
            e.depth() == 0
                || (e.file_name() != ".git"
                    && !rules.ignored(e.path(), e.file_type().is_some_and(|t| t.is_dir())))
        });
    b.build()
}

/// `path` relative to `root`, for display.
pub(super) fn rel(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::testutil::TempDir;

    fn names(root: &Path, target: &Path) -> Vec<String> {
        walk(root, target, None)
            .flatten()
            .map(|e| rel(root, e.path()))
            .collect()
    }

    #[test]
    fn respects_ignore_files_from_the_workdir_down_and_skips_git() {
        let t = TempDir::new("walk");
        let root = t.path();
        for d in ["src/gen", ".git", "logs", ".github"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        std::fs::write(root.join(".gitignore"), "*.log\ngen/\n").unwrap();
        std::fs::write(root.join("src/.gitignore"), "!keep.log\n").unwrap();
        for f in [
            "a.log",
            "src/b.log",
            "src/keep.log",
            "src/x.rs",
            "src/gen/g.rs",
            ".git/HEAD",
            ".github/ci",
        ] {
            std::fs::write(root.join(f), "x").unwrap();
        }
        assert_eq!(
            names(root, root),
            vec![
                "",
                ".github",
                ".github/ci",
                ".gitignore",
                "logs",
                "src",
                "src/.gitignore",
                "src/keep.log",
                "src/x.rs"
            ]
        );
        assert_eq!(
            names(root, &root.join("src")),
            vec!["src", "src/.gitignore", "src/keep.log", "src/x.rs"],
            "the workdir's ignore file applies below a searched subdirectory"
        );
        assert_eq!(
            names(root, &root.join("src/gen")),
            vec!["src/gen", "src/gen/g.rs"],
            "an ignored directory searched by name is searched"
        );
    }
}
