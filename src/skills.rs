//! Skill discovery: `SKILL.md` files under `<workdir>/.tandem/skills/<name>/` and configured directories.

use std::path::{Path, PathBuf};

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
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let file = entry.path().join("SKILL.md");
            if found.iter().any(|s| s.name == name)
                || crate::ids::validate_id("skill name", &name).is_err()
            {
                continue;
            }
            if let Ok(text) = read_skill(&file) {
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
        let file = dir.join(name).join("SKILL.md");
        if file.is_file() {
            return read_skill(&file);
        }
    }
    Err(Error::NotFound(format!(
        "no skill named {name:?} (looked for {name}/SKILL.md in the skill directories)"
    )))
}

fn read_skill(path: &Path) -> Result<String> {
    let meta =
        std::fs::metadata(path).map_err(|e| Error::Io(format!("{}: {e}", path.display())))?;
    if meta.len() > MAX_SKILL_BYTES {
        return Err(Error::invalid(format!(
            "{} is larger than {} KiB",
            path.display(),
            MAX_SKILL_BYTES / 1024
        )));
    }
    std::fs::read_to_string(path).map_err(|e| Error::Io(format!("{}: {e}", path.display())))
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
}
