//! Skill discovery: `SKILL.md` files under `<workdir>/.tandem/skills/<name>/` and configured directories.

use std::io::Read;
use std::path::{Path, PathBuf};

use cap_fs_ext::{DirExt, FollowSymlinks, OpenOptionsFollowExt};
use cap_std::fs::{Dir, OpenOptions, OpenOptionsExt};
use serde::Serialize;

use crate::error::{Error, Result};

/// Largest `SKILL.md` read (a skill is prompt text, not a data file).
const MAX_SKILL_BYTES: u64 = 256 * 1024;

/// A skill found on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkillInfo {
    /// Directory name.
    pub name: String,
    /// From the front matter's `description:`, else the first line of text.
    pub description: String,
    /// Path of its SKILL.md.
    pub path: String,
}

/// The directories searched, in priority order (earlier wins for a name found twice).
pub fn skill_dirs(workdir: Option<&str>, configured: &[PathBuf]) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = workdir
        .map(|w| Path::new(w).join(".tandem/skills"))
        .into_iter()
        .collect();
    dirs.extend(configured.iter().cloned());
    dirs
}

/// Every skill in `dirs`, sorted by name.
pub fn discover(dirs: &[PathBuf]) -> Vec<SkillInfo> {
    let mut found: Vec<SkillInfo> = Vec::new();
    for dir in dirs {
        let Ok(handle) = open_skill_dir(dir) else {
            continue;
        };
        let Ok(entries) = handle.entries() else {
            continue;
        };
        let mut names: Vec<String> = entries
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for name in names {
            if found.iter().any(|s| s.name == name)
                || crate::ids::validate_id("skill name", &name).is_err()
            {
                continue;
            }
            let file = dir.join(&name).join("SKILL.md");
            if let Ok(text) = read_skill(&handle, &name, &file) {
                found.push(SkillInfo {
                    name,
                    description: describe(&text),
                    path: file.display().to_string(),
                });
            }
        }
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    found
}

/// The content of skill `name`.
pub fn load(dirs: &[PathBuf], name: &str) -> Result<String> {
    crate::ids::validate_id("skill name", name)?;
    for dir in dirs {
        let Ok(handle) = open_skill_dir(dir) else {
            continue;
        };
        if handle
            .symlink_metadata(Path::new(name).join("SKILL.md"))
            .is_ok()
        {
            return read_skill(&handle, name, &dir.join(name).join("SKILL.md"));
        }
    }
    Err(Error::NotFound(format!(
        "no skill named {name:?} (looked for {name}/SKILL.md in the skill directories)"
    )))
}

/// A handle on a skill directory. The workdir's own (`<workdir>/.tandem/skills`) is opened from the workdir one
/// component at a time without following symlinks, so a `.tandem` or `skills` symlink cannot lead elsewhere;
/// configured directories are the host's choice and opened as named.
fn open_skill_dir(dir: &Path) -> std::io::Result<Dir> {
    let ambient = cap_std::ambient_authority();
    let workdir = dir
        .ends_with(".tandem/skills")
        .then(|| dir.parent().and_then(Path::parent))
        .flatten();
    match workdir {
        Some(workdir) if !workdir.as_os_str().is_empty() => {
            Dir::open_ambient_dir(workdir, ambient)?
                .open_dir_nofollow(".tandem")?
                .open_dir_nofollow("skills")
        }
        _ => Dir::open_ambient_dir(dir, ambient),
    }
}

/// Reads `<name>/SKILL.md` beneath the skill directory `dir` (`shown` in messages): symlinks that lead out of it are
/// refused, the file must be regular (a FIFO or device is refused without blocking) and at most 256 KiB.
fn read_skill(dir: &Dir, name: &str, shown: &Path) -> Result<String> {
    let io = |e: std::io::Error| Error::Io(format!("{}: {e}", shown.display()));
    let mut o = OpenOptions::new();
    o.read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .follow(FollowSymlinks::No);
    let file = dir
        .open_with(Path::new(name).join("SKILL.md"), &o)
        .map_err(io)?;
    if !file.metadata().map_err(io)?.is_file() {
        return Err(Error::invalid(format!(
            "{} is not a regular file",
            shown.display()
        )));
    }
    let mut bytes = Vec::new();
    file.take(MAX_SKILL_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_SKILL_BYTES {
        return Err(Error::invalid(format!(
            "{} is larger than {} KiB",
            shown.display(),
            MAX_SKILL_BYTES / 1024
        )));
    }
    String::from_utf8(bytes)
        .map_err(|_| Error::invalid(format!("{} is not UTF-8", shown.display())))
}

/// The description: front matter `description:` if present, else the first non-heading text line.
fn describe(text: &str) -> String {
    let mut lines = text.lines();
    if text.starts_with("---") {
        lines.next();
        for line in lines.by_ref() {
            if line.trim() == "---" {
                break;
            }
            if let Some(d) = line.trim().strip_prefix("description:") {
                return d.trim().trim_matches('"').to_string();
            }
        }
    }
    lines
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .unwrap_or("")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_skills_with_their_descriptions() {
        let root = std::env::temp_dir().join(format!("tandem-skills-{}", std::process::id()));
        let a = root.join("w/.tandem/skills/review");
        let b = root.join("extra/tests");
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        std::fs::create_dir_all(root.join("extra/empty")).unwrap();
        std::fs::write(
            a.join("SKILL.md"),
            "---\nname: review\ndescription: \"Review code\"\n---\nBe thorough.\n",
        )
        .unwrap();
        std::fs::write(b.join("SKILL.md"), "# Tests\n\nWrite tests first.\n").unwrap();
        let dirs = skill_dirs(
            Some(root.join("w").to_str().unwrap()),
            &[root.join("extra")],
        );
        let found = discover(&dirs);
        assert_eq!(
            found
                .iter()
                .map(|s| (s.name.as_str(), s.description.as_str()))
                .collect::<Vec<_>>(),
            vec![("review", "Review code"), ("tests", "Write tests first.")]
        );
        assert!(load(&dirs, "tests").unwrap().contains("Write tests first."));
        assert!(matches!(load(&dirs, "empty"), Err(Error::NotFound(_))));
        assert!(matches!(
            load(&dirs, "../w"),
            Err(Error::InvalidArgument(_))
        ));
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn workdir_skills_never_follow_links_out_nor_block_on_fifos() {
        let root = std::env::temp_dir().join(format!("tandem-skills-out-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let outside = root.join("outside/skills/leak");
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("SKILL.md"), "secret outside\n").unwrap();
        // `.tandem` itself a symlink to a directory outside: nothing under it is a skill.
        std::fs::create_dir_all(root.join("w1")).unwrap();
        std::os::unix::fs::symlink(root.join("outside"), root.join("w1/.tandem")).unwrap();
        let dirs = skill_dirs(Some(root.join("w1").to_str().unwrap()), &[]);
        assert!(discover(&dirs).is_empty());
        assert!(load(&dirs, "leak").is_err());
        // A SKILL.md symlinked outside, and a FIFO: refused, at once.
        let w2 = root.join("w2/.tandem/skills");
        std::fs::create_dir_all(w2.join("link")).unwrap();
        std::fs::create_dir_all(w2.join("fifo")).unwrap();
        std::os::unix::fs::symlink(outside.join("SKILL.md"), w2.join("link/SKILL.md")).unwrap();
        let status = std::process::Command::new("mkfifo")
            .arg(w2.join("fifo/SKILL.md"))
            .status()
            .unwrap();
        assert!(status.success());
        let dirs = skill_dirs(Some(root.join("w2").to_str().unwrap()), &[]);
        assert!(discover(&dirs).is_empty());
        assert!(load(&dirs, "link").is_err());
        assert!(matches!(
            load(&dirs, "fifo"),
            Err(Error::InvalidArgument(_))
        ));
        std::fs::remove_dir_all(root).unwrap();
    }
}
