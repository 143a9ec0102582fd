//! The directory walk `find` and `grep` share: below a directory of the workdir, through directory handles opened
//! beneath the workdir's handle one level at a time without following symlinks (so a directory swapped for a
//! symlink mid-walk is not entered), never onto another mount, `.git` skipped, and `.gitignore` / `.ignore` files
//! respected from the workdir down (never from above it, nor the user's global git excludes, so results depend on
//! the workdir alone).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cap_fs_ext::DirExt;
use cap_std::fs::{Dir, FileType};
use ignore::gitignore::{Gitignore, GitignoreBuilder};
use ignore::Match;

use super::confine::Root;

/// Largest ignore file read.
const MAX_IGNORE_FILE: usize = 1024 * 1024;
/// Deepest directory level walked when no depth is asked for (a guard against pathological trees).
const MAX_WALK_DEPTH: usize = 256;

/// One entry met by the walk.
pub(super) struct Entry {
    /// Absolute path (inside the workdir).
    pub path: PathBuf,
    /// The entry's own type (a symlink is a symlink).
    pub kind: FileType,
    /// Levels below the walked directory (0: the directory itself).
    pub depth: usize,
}

/// The ignore rules of the workdir's directories, read once per directory as the walk meets them.
struct Rules<'a> {
    root: &'a Root,
    by_dir: HashMap<PathBuf, Option<Arc<Gitignore>>>,
}

impl Rules<'_> {
    /// The rules of `dir`'s own `.gitignore` and `.ignore` (the latter wins, as with ripgrep), read through the
    /// workdir handle.
    fn of(&mut self, dir: &Path) -> Option<Arc<Gitignore>> {
        let root = self.root;
        self.by_dir
            .entry(dir.to_path_buf())
            .or_insert_with(|| {
                let mut gb = GitignoreBuilder::new(dir);
                for name in [".gitignore", ".ignore"] {
                    let Ok((bytes, _)) =
                        root.read_capped(&dir.join(name), name, MAX_IGNORE_FILE, false)
                    else {
                        continue;
                    };
                    for line in String::from_utf8_lossy(&bytes).lines() {
                        // A bad line only loses that line; the rest of the file still applies.
                        let _ = gb.add_line(None, line);
                    }
                }
                gb.build().ok().filter(|gi| !gi.is_empty()).map(Arc::new)
            })
            .clone()
    }

    /// Whether `path` is ignored: the deepest directory (from its parent up to the workdir) whose rules have an
    /// opinion decides, as in git.
    fn ignored(&mut self, path: &Path, is_dir: bool) -> bool {
        let top = self.root.path().to_path_buf();
        let mut dir = path.parent();
        while let Some(d) = dir.filter(|d| d.starts_with(&top)) {
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

/// Walks `target` (a resolved path inside the workdir, `arg` as the caller named it) in order, entries sorted by
/// name within each directory, calling `visit` until it returns false. `target` itself is visited first (depth
/// 0), even when an ignore file names it: it was asked for. Entries deeper than `max_depth` are not visited.
pub(super) fn walk(
    root: &Root,
    target: &Path,
    arg: &str,
    max_depth: Option<usize>,
    mut visit: impl FnMut(&Entry) -> bool,
) -> Result<(), String> {
    let meta = root
        .entry(target, arg)?
        .ok_or_else(|| format!("cannot search {arg}: No such file or directory (os error 2)"))?;
    let top = Entry {
        path: target.to_path_buf(),
        kind: meta.file_type(),
        depth: 0,
    };
    if !visit(&top) || !meta.is_dir() {
        return Ok(());
    }
    let dir = root.open_dir(target, arg, "search")?;
    let mut rules = Rules {
        root,
        by_dir: HashMap::new(),
    };
    let max = max_depth.unwrap_or(MAX_WALK_DEPTH);
    below(root, &mut rules, &dir, target, 1, max, &mut visit);
    Ok(())
}

/// Visits the entries of `dir` (at `path`, its entries at `depth`) and below; false when `visit` asked to stop.
fn below(
    root: &Root,
    rules: &mut Rules,
    dir: &Dir,
    path: &Path,
    depth: usize,
    max: usize,
    visit: &mut impl FnMut(&Entry) -> bool,
) -> bool {
    if depth > max {
        return true;
    }
    let Ok(entries) = dir.entries() else {
        return true;
    };
    let mut found: Vec<(std::ffi::OsString, FileType)> = entries
        .flatten()
        .filter_map(|e| Some((e.file_name(), e.file_type().ok()?)))
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, kind) in found {
        if name == ".git" {
            continue;
        }
        let child = path.join(&name);
        if rules.ignored(&child, kind.is_dir()) {
            continue;
        }
        let entry = Entry {
            path: child,
            kind,
            depth,
        };
        if !visit(&entry) {
            return false;
        }
        if kind.is_dir() && depth < max {
            // Opened by name without following: if the entry became a symlink since it was listed, it is skipped.
            let Ok(sub) = dir.open_dir_nofollow(&name) else {
                continue;
            };
            if !root.on_workdir_mount(&sub) {
                continue;
            }
            if !below(root, rules, &sub, &entry.path, depth + 1, max, visit) {
                return false;
            }
        }
    }
    true
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
        let r = Root::open(root).unwrap();
        let mut out = Vec::new();
        walk(&r, target, "t", None, |e| {
            out.push(rel(root, &e.path));
            true
        })
        .unwrap();
        out
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
