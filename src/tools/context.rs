//! Project context files: `AGENTS.md` (or `CLAUDE.md` where a directory has none) from the repository root down to
//! the workdir and in the subdirectories the agent works in, read safely, kept up to date by `stat`, and turned into
//! the system prompt's "Project instructions" section.
//!
//! Order (lowest precedence first, which is also the order in the prompt): the configured `paths`, then the
//! directories from the repository root (the nearest ancestor of the workdir holding `.git`; without one, only the
//! workdir) down to the workdir, then the subdirectories tools touched, parents before children. Nearer files come
//! later and the prompt tells the model that a later file wins where they disagree. Files beneath the workdir are
//! read through the workdir handle ([`super::confine::Root`]: no symlink out, same mount, regular files only, never
//! blocking on a FIFO); ancestors above it through a handle on their own directory, with the same open flags.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use cap_fs_ext::{FollowSymlinks, OpenOptionsFollowExt};
use cap_std::fs::{Dir, OpenOptions, OpenOptionsExt};
use serde::Serialize;
use serde_json::Value;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt as _};

use super::confine::Root;
use crate::sync::lock;

/// Default names looked for in each directory, first found wins.
const DEFAULT_NAMES: &[&str] = &["AGENTS.md", "CLAUDE.md"];
/// Default cap of one file (bytes).
const DEFAULT_MAX_BYTES: usize = 32 * 1024;
/// Default cap of all files together (bytes).
const DEFAULT_MAX_TOTAL_BYTES: usize = 64 * 1024;
/// The largest cap accepted for either limit.
const LIMIT_CAP: usize = 1024 * 1024;
/// Subdirectories remembered: the agent may wander a large tree, the prompt must stay bounded.
const MAX_SUBDIRS: usize = 64;

/// The `context_files` option, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct ContextConfig {
    /// File names looked for in each directory, first found wins.
    pub names: Vec<String>,
    /// Extra files (absolute), loaded first (lowest precedence).
    pub paths: Vec<PathBuf>,
    /// Cap of one file in bytes.
    pub max_bytes: usize,
    /// Cap of all files together in bytes.
    pub max_total_bytes: usize,
}

impl Default for ContextConfig {
    fn default() -> Self {
        ContextConfig {
            names: DEFAULT_NAMES.iter().map(|n| n.to_string()).collect(),
            paths: Vec::new(),
            max_bytes: DEFAULT_MAX_BYTES,
            max_total_bytes: DEFAULT_MAX_TOTAL_BYTES,
        }
    }
}

impl ContextConfig {
    /// Parses the option: absent or `true` is the default, `false` turns context files off (`None`), an object
    /// `{"names", "paths", "max_bytes", "max_total_bytes"}` changes what it gives. `expand` makes a path absolute.
    pub fn parse(
        v: Option<&Value>,
        expand: impl Fn(&str) -> Result<PathBuf, String>,
    ) -> Result<Option<ContextConfig>, String> {
        let obj = match v {
            None | Some(Value::Bool(true)) => return Ok(Some(ContextConfig::default())),
            Some(Value::Bool(false)) => return Ok(None),
            Some(Value::Object(o)) => o,
            Some(_) => return Err("context_files must be true, false or an object".into()),
        };
        let mut c = ContextConfig::default();
        for (key, value) in obj {
            match key.as_str() {
                "names" => c.names = names(value)?,
                "paths" => {
                    let list = strings(value, "context_files.paths")?;
                    c.paths = list
                        .iter()
                        .map(|p| expand(p))
                        .collect::<Result<_, _>>()?;
                    if let Some(p) = c.paths.iter().find(|p| !p.is_absolute()) {
                        return Err(format!(
                            "context_files.paths: {} is not an absolute path",
                            p.display()
                        ));
                    }
                }
                "max_bytes" => c.max_bytes = limit(value, "context_files.max_bytes")?,
                "max_total_bytes" => {
                    c.max_total_bytes = limit(value, "context_files.max_total_bytes")?
                }
                other => {
                    return Err(format!(
                        "context_files: unknown key {other:?}; expected names, paths, max_bytes or max_total_bytes"
                    ))
                }
            }
        }
        Ok(Some(c))
    }
}

fn strings(v: &Value, what: &str) -> Result<Vec<String>, String> {
    let list = v
        .as_array()
        .ok_or_else(|| format!("{what} must be an array of strings"))?;
    list.iter()
        .map(|s| {
            s.as_str()
                .map(str::to_string)
                .ok_or_else(|| format!("{what} must be an array of strings"))
        })
        .collect()
}

fn names(v: &Value) -> Result<Vec<String>, String> {
    let list = strings(v, "context_files.names")?;
    if list.is_empty() || list.len() > 8 {
        return Err("context_files.names must hold 1 to 8 file names".into());
    }
    for n in &list {
        let plain = Path::new(n).components().count() == 1
            && matches!(Path::new(n).components().next(), Some(Component::Normal(_)));
        if !plain || n.contains('\0') {
            return Err(format!(
                "context_files.names: {n:?} is not a plain file name"
            ));
        }
    }
    Ok(list)
}

fn limit(v: &Value, what: &str) -> Result<usize, String> {
    match v.as_u64() {
        Some(n) if n >= 1 && n as usize <= LIMIT_CAP => Ok(n as usize),
        _ => Err(format!("{what} must be an integer from 1 to {LIMIT_CAP}")),
    }
}

/// One file found, as reported in `context_files_loaded` and by `tandem_session_context_files`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoadedFile {
    /// Absolute path.
    pub path: String,
    /// Why it is loaded: `configured`, `ancestor` (between the repository root and the workdir), `workdir` or
    /// `subdirectory` (a tool touched files under it).
    pub reason: &'static str,
    /// Its size on disk.
    pub bytes: u64,
    /// How much of it is in the prompt.
    pub loaded_bytes: u64,
    /// Whether it was cut (by `max_bytes`, or by `max_total_bytes` in favour of nearer files).
    pub truncated: bool,
    /// Why it could not be read (then nothing of it is loaded): not a regular file, a symlink out, not UTF-8, ...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What identifies a file's version without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    fn of(m: &std::fs::Metadata) -> Stamp {
        Stamp {
            dev: m.dev(),
            ino: m.ino(),
            len: m.len(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        }
    }
}

/// A file read at some stamp.
#[derive(Debug, Clone)]
struct Found {
    path: PathBuf,
    reason: &'static str,
    stamp: Option<Stamp>,
    /// Text up to `max_bytes`, and whether more was left; or why it was not read.
    text: Result<(String, bool), String>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Touched directories, relative to the workdir.
    subdirs: BTreeSet<PathBuf>,
    found: Vec<Found>,
    loaded: Vec<LoadedFile>,
    section: Option<String>,
}

/// A session's context files: what is loaded, and the directories tools touched. Shared by the session's provider
/// (which refreshes it before each model call) and the manager (which reports it).
#[derive(Debug)]
pub struct ContextFiles {
    config: ContextConfig,
    workdir: Option<PathBuf>,
    /// Directories above the workdir, repository root first.
    ancestors: Vec<PathBuf>,
    inner: std::sync::Mutex<Inner>,
}

/// The directories from the repository root (nearest ancestor of `workdir` holding `.git`) down to `workdir`'s
/// parent, root first; empty when the workdir is the root or there is no repository.
fn ancestors_of(workdir: &Path) -> Vec<PathBuf> {
    let mut up: Vec<PathBuf> = Vec::new();
    if workdir.join(".git").symlink_metadata().is_ok() {
        return up;
    }
    for dir in workdir.ancestors().skip(1) {
        up.push(dir.to_path_buf());
        if dir.join(".git").symlink_metadata().is_ok() {
            up.reverse();
            return up;
        }
    }
    Vec::new()
}

impl ContextFiles {
    /// Context files for a session in `workdir` (canonical) configured by `config`.
    pub fn new(config: ContextConfig, workdir: Option<&Path>) -> Arc<ContextFiles> {
        Arc::new(ContextFiles {
            ancestors: workdir.map(ancestors_of).unwrap_or_default(),
            workdir: workdir.map(Path::to_path_buf),
            config,
            inner: Default::default(),
        })
    }

    /// Notes that tool `name` was called with `args`: a workdir-relative `path` of a built-in file tool makes its
    /// directory (and those between it and the workdir) a place whose context files load. Returns whether a new
    /// directory was noted.
    pub fn touch(&self, name: &str, args: &Value) -> bool {
        let Some(workdir) = &self.workdir else {
            return false;
        };
        let Some(arg) = args.get("path").and_then(Value::as_str) else {
            return false;
        };
        let is_dir = matches!(name, "list_directory" | "find" | "grep");
        let known = matches!(
            name,
            "read_file" | "write_file" | "edit_file" | "multi_edit_file" | "delete_file"
        );
        if !(is_dir || known) {
            return false;
        }
        let Some(rel) = relative(workdir, Path::new(arg)) else {
            return false;
        };
        let dir = if is_dir {
            rel
        } else {
            rel.parent().map(Path::to_path_buf).unwrap_or_default()
        };
        let mut inner = lock(&self.inner);
        let mut added = false;
        let mut at = PathBuf::new();
        for c in dir.components() {
            at.push(c);
            if inner.subdirs.len() >= MAX_SUBDIRS {
                break;
            }
            added |= inner.subdirs.insert(at.clone());
        }
        added
    }

    /// Re-checks every place a context file may be (one `stat` or open each; a file is read again only when its
    /// size, times or inode changed). Returns the loaded list when it differs from the last refresh (the first
    /// refresh differs when it finds anything), `None` when nothing changed. Blocking: call it off the async
    /// workers.
    pub fn refresh(&self) -> Option<Vec<LoadedFile>> {
        let subdirs: Vec<PathBuf> = lock(&self.inner).subdirs.iter().cloned().collect();
        let previous: Vec<Found> = lock(&self.inner).found.clone();
        let mut found = Vec::new();
        for path in &self.config.paths {
            if let Some(f) = self.read_ambient(path, "configured", &previous) {
                found.push(f);
            }
        }
        for dir in &self.ancestors {
            if let Some(f) = self.first_in_ambient(dir, &previous) {
                found.push(f);
            }
        }
        if let Some(workdir) = &self.workdir {
            if let Ok(root) = Root::open(workdir) {
                let dirs = std::iter::once((PathBuf::new(), "workdir"))
                    .chain(subdirs.into_iter().map(|d| (d, "subdirectory")));
                for (dir, reason) in dirs {
                    if let Some(f) = self.first_in_workdir(&root, &dir, reason, &previous) {
                        found.push(f);
                    }
                }
            }
        }
        let changed = found.len() != previous.len()
            || found
                .iter()
                .zip(&previous)
                .any(|(a, b)| a.path != b.path || a.stamp != b.stamp || a.text.is_err());
        if !changed {
            return None;
        }
        let mut inner = lock(&self.inner);
        let (loaded, section) = compose(&found, &self.config);
        inner.found = found;
        inner.loaded = loaded.clone();
        inner.section = section;
        Some(loaded)
    }

    /// The files loaded by the last refresh, lowest precedence first.
    pub fn loaded(&self) -> Vec<LoadedFile> {
        lock(&self.inner).loaded.clone()
    }

    /// The system prompt's section for the files loaded, `None` when there are none.
    pub fn section(&self) -> Option<String> {
        lock(&self.inner).section.clone()
    }

    /// The first of the configured names in `dir` (above the workdir).
    fn first_in_ambient(&self, dir: &Path, previous: &[Found]) -> Option<Found> {
        let handle = Dir::open_ambient_dir(dir, cap_std::ambient_authority()).ok()?;
        for name in &self.config.names {
            if handle.symlink_metadata(name).is_err() {
                continue;
            }
            let path = dir.join(name);
            let opened = open_flags(&handle, Path::new(name));
            return Some(self.read_opened(path, "ancestor", opened, previous));
        }
        None
    }

    /// A configured file, opened as named (the host's choice, symlinks and all) but never blocking; `None` when it
    /// does not exist.
    fn read_ambient(&self, path: &Path, reason: &'static str, previous: &[Found]) -> Option<Found> {
        let opened = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
            .open(path);
        let opened = match opened {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
            Ok(f) => match f.metadata() {
                Ok(m) if m.is_file() => Ok(f),
                Ok(_) => Err(format!("{} is not a regular file", path.display())),
                Err(e) => Err(e.to_string()),
            },
        };
        Some(self.read_opened(path.to_path_buf(), reason, opened, previous))
    }

    /// The first of the configured names in `rel` beneath the workdir, through the workdir handle.
    fn first_in_workdir(
        &self,
        root: &Root,
        rel: &Path,
        reason: &'static str,
        previous: &[Found],
    ) -> Option<Found> {
        for name in &self.config.names {
            let abs = root.path().join(rel).join(name);
            let shown = abs.display().to_string();
            match root.entry(&abs, &shown) {
                Ok(None) => continue,
                Ok(Some(_)) => {}
                Err(e) => return Some(failed(abs, reason, e)),
            }
            // A final symlink is followed beneath the handle (CLAUDE.md -> AGENTS.md is common); one that leads out
            // is refused.
            let opened = root.open_regular(&abs, &shown, true);
            let opened = opened.map(|f| f.into_std());
            return Some(self.read_opened(abs, reason, opened, previous));
        }
        None
    }

    /// Reads an opened file unless `previous` holds it at the same stamp.
    fn read_opened(
        &self,
        path: PathBuf,
        reason: &'static str,
        opened: Result<std::fs::File, String>,
        previous: &[Found],
    ) -> Found {
        let file = match opened {
            Ok(f) => f,
            Err(e) => return failed(path, reason, e),
        };
        let meta = match file.metadata() {
            Ok(m) => m,
            Err(e) => return failed(path, reason, e.to_string()),
        };
        let stamp = Stamp::of(&meta);
        if let Some(old) = previous
            .iter()
            .find(|f| f.path == path && f.stamp == Some(stamp) && f.text.is_ok())
        {
            return Found {
                reason,
                ..old.clone()
            };
        }
        let limit = self.config.max_bytes;
        let mut bytes = Vec::new();
        let text = match file.take(limit as u64 + 1).read_to_end(&mut bytes) {
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
            Ok(_) => {
                let more = bytes.len() > limit;
                bytes.truncate(limit);
                decode(bytes, more).map(|t| (t, more || meta.len() > limit as u64))
            }
        };
        Found {
            path,
            reason,
            stamp: Some(stamp),
            text,
        }
    }
}

/// Opens `name` in `dir` for reading without blocking (a FIFO or device is refused after the open) and without
/// following a final symlink out of `dir` (cap-std resolves beneath the handle).
fn open_flags(dir: &Dir, name: &Path) -> Result<std::fs::File, String> {
    let mut o = OpenOptions::new();
    o.read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .follow(FollowSymlinks::Yes);
    let file = dir
        .open_with(name, &o)
        .map_err(|e| format!("cannot read {}: {e}", name.display()))?;
    let meta = file.metadata().map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err(format!("{} is not a regular file", name.display()));
    }
    Ok(file.into_std())
}

/// UTF-8 text of `bytes`; a cut may split the last character, which is then dropped.
fn decode(bytes: Vec<u8>, cut: bool) -> Result<String, String> {
    match String::from_utf8(bytes) {
        Ok(t) => Ok(t),
        Err(e) if cut && e.utf8_error().error_len().is_none() => {
            let valid = e.utf8_error().valid_up_to();
            let mut bytes = e.into_bytes();
            bytes.truncate(valid);
            Ok(String::from_utf8(bytes).unwrap_or_default())
        }
        Err(_) => Err("not UTF-8 text".into()),
    }
}

fn failed(path: PathBuf, reason: &'static str, error: String) -> Found {
    Found {
        path,
        reason,
        stamp: None,
        text: Err(error),
    }
}

/// The loaded list and the prompt section. The total cap is filled nearest file first (highest precedence), so
/// it is the outermost files that are cut.
fn compose(found: &[Found], config: &ContextConfig) -> (Vec<LoadedFile>, Option<String>) {
    let mut budget = config.max_total_bytes;
    let mut kept: Vec<Option<(String, bool)>> = vec![None; found.len()];
    for (i, f) in found.iter().enumerate().rev() {
        let Ok((text, cut)) = &f.text else { continue };
        let mut take = text.len().min(budget);
        while !text.is_char_boundary(take) {
            take -= 1;
        }
        budget -= take;
        kept[i] = Some((text[..take].to_string(), *cut || take < text.len()));
    }
    let mut loaded = Vec::new();
    let mut section = String::new();
    for (f, kept) in found.iter().zip(kept) {
        let bytes = f.stamp.map_or(0, |s| s.len);
        let (text, truncated) = kept.clone().unwrap_or_default();
        loaded.push(LoadedFile {
            path: f.path.display().to_string(),
            reason: f.reason,
            bytes,
            loaded_bytes: text.len() as u64,
            truncated,
            error: f.text.as_ref().err().cloned(),
        });
        if text.is_empty() {
            continue;
        }
        section.push_str(&format!(
            "\n\n## {}\n\n{}",
            f.path.display(),
            text.trim_end()
        ));
        if truncated {
            section.push_str(&format!(
                "\n\n[truncated: {} of {bytes} bytes shown]",
                text.len()
            ));
        }
    }
    if section.is_empty() {
        return (loaded, None);
    }
    let head = "# Project instructions\n\nThe files below hold this project's instructions for coding agents, \
                outermost first. Follow them. Where they disagree, a later file (nearer to the files you work on) \
                wins over an earlier one; the user's own requests win over all of them.";
    (loaded, Some(format!("{head}{section}")))
}

/// `arg` relative to `workdir`, lexically (no `..` above the workdir); `None` when it leads out.
fn relative(workdir: &Path, arg: &Path) -> Option<PathBuf> {
    let arg = if arg.is_absolute() {
        arg.strip_prefix(workdir).ok()?
    } else {
        arg
    };
    let mut out = PathBuf::new();
    for c in arg.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
#[path = "context_tests.rs"]
mod tests;
