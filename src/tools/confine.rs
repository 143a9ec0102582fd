//! Confined file access: every open, create, rename and delete the file tools do happens beneath a directory handle
//! on the workdir and is resolved by the kernel, never by opening again a path that was checked earlier.
//!
//! The handle is a [`cap_std::fs::Dir`]: on Linux 5.6+ each open is one `openat2` with `RESOLVE_BENEATH |
//! RESOLVE_NO_MAGICLINKS`, elsewhere cap-std walks the path one `O_NOFOLLOW` `openat` at a time, so a symlink that
//! leads out (even one swapped in while the call runs) is refused. On top of that, every opened file or directory
//! must be on the workdir's own mount (the `RESOLVE_NO_XDEV` rule, checked on the open descriptor with `statx`'s
//! mount ID), opens are `O_NONBLOCK` and anything but a regular file is refused before a byte is read (a FIFO or a
//! device never blocks a worker), files with more than one hard link are not read (the other link may be outside),
//! and writes go to a temporary file in the same directory that is renamed over the old one, so a shared inode is
//! never changed in place.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use cap_fs_ext::{DirExt, FollowSymlinks, OpenOptionsFollowExt};
use cap_std::fs::{Dir, File, Metadata, OpenOptions, OpenOptionsExt};
use rustix::fs::{AtFlags, StatxFlags};

/// The workdir, held open.
pub struct Root {
    dir: Dir,
    path: PathBuf,
    mount: Option<u64>,
    /// The editor whose buffers reads and writes go to (ACP's client `fs/*`), after the same checks as on disk.
    editor: Option<Arc<dyn super::EditorFiles>>,
}

/// `path escapes workdir: <arg>`, the refusal of everything that leads (or would lead) out of the workdir.
pub(super) fn escape(arg: &str) -> String {
    format!("path escapes workdir: {arg}")
}

/// Whether `e` says a path led out of the handle: cap-std's own escape error, `EXDEV` (`openat2` crossing out),
/// `ELOOP` (a symlink where `O_NOFOLLOW` allows none: something was swapped in after the path was checked).
fn is_escape(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EXDEV | libc::ELOOP))
        || e.to_string().contains("a path led outside")
}

fn fail(e: io::Error, what: &str, arg: &str) -> String {
    if is_escape(&e) {
        escape(arg)
    } else {
        format!("cannot {what} {arg}: {e}")
    }
}

/// The mount ID of an open file (`None` on kernels before 5.8, where the device number stands in).
fn mount_of(fd: impl rustix::fd::AsFd) -> Option<u64> {
    let st = rustix::fs::statx(fd, "", AtFlags::EMPTY_PATH, StatxFlags::MNT_ID).ok()?;
    if st.stx_mask & StatxFlags::MNT_ID.bits() != 0 {
        Some(st.stx_mnt_id)
    } else {
        Some((u64::from(st.stx_dev_major) << 32) | u64::from(st.stx_dev_minor) | (1 << 63))
    }
}

impl Root {
    /// Opens the workdir `path` (absolute, canonical).
    pub fn open(path: &Path) -> Result<Root, String> {
        let dir = Dir::open_ambient_dir(path, cap_std::ambient_authority())
            .map_err(|e| format!("cannot open the workdir {}: {e}", path.display()))?;
        let mount = mount_of(&dir);
        Ok(Root {
            dir,
            path: path.to_path_buf(),
            mount,
            editor: None,
        })
    }

    /// Sends the contents of file reads and writes to `editor` (when it takes them), once the path has passed
    /// every check a read or write on disk passes: the editor sees only files this handle would open.
    pub fn with_editor(mut self, editor: Option<Arc<dyn super::EditorFiles>>) -> Root {
        self.editor = editor;
        self
    }

    /// The workdir's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `abs` (a path the sandbox resolved inside the workdir) relative to the handle; the workdir itself is `.`.
    fn rel<'a>(&self, abs: &'a Path) -> &'a Path {
        match abs.strip_prefix(&self.path) {
            Ok(p) if p.as_os_str().is_empty() => Path::new("."),
            Ok(p) => p,
            Err(_) => abs,
        }
    }

    /// Whether an open directory or file is on the workdir's mount.
    pub(super) fn on_workdir_mount(&self, fd: impl rustix::fd::AsFd) -> bool {
        mount_of(fd) == self.mount
    }

    /// Refuses a descriptor on another mount than the workdir's (a bind mount or a file system mounted inside it
    /// may expose anything).
    fn same_mount(&self, fd: impl rustix::fd::AsFd, arg: &str) -> Result<(), String> {
        if self.on_workdir_mount(fd) {
            Ok(())
        } else {
            Err(escape(arg))
        }
    }

    /// Opens the regular file at `abs` for reading. `follow`: whether a final symlink is followed (beneath the
    /// handle); the sandbox resolved the path, so a final symlink there is one swapped in since and is refused.
    /// Directories, FIFOs, devices and sockets are refused without blocking; so are files with other hard links.
    pub(super) fn open_regular(&self, abs: &Path, arg: &str, follow: bool) -> Result<File, String> {
        let mut o = OpenOptions::new();
        o.read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
            .follow(if follow {
                FollowSymlinks::Yes
            } else {
                FollowSymlinks::No
            });
        let file = self
            .dir
            .open_with(self.rel(abs), &o)
            .map_err(|e| fail(e, "read", arg))?;
        self.same_mount(&file, arg)?;
        let meta = file.metadata().map_err(|e| fail(e, "read", arg))?;
        if meta.is_dir() {
            return Err(format!("{arg} is a directory"));
        }
        if !meta.is_file() {
            return Err(format!("{arg} is not a regular file"));
        }
        if cap_std::fs::MetadataExt::nlink(&meta) > 1 {
            return Err(format!(
                "{arg} has other hard links (one may be outside the workdir); it is not read"
            ));
        }
        Ok(file)
    }

    /// At most `limit` bytes of the regular file at `abs`; the flag says whether more was left.
    pub(super) fn read_capped(
        &self,
        abs: &Path,
        arg: &str,
        limit: usize,
        follow: bool,
    ) -> Result<(Vec<u8>, bool), String> {
        let file = self.open_regular(abs, arg, follow)?;
        let mut bytes = Vec::new();
        match self.editor.as_ref().filter(|e| e.reads()) {
            // The file was opened (and checked) beneath the handle; its content is the editor's buffer.
            Some(editor) => {
                drop(file);
                bytes = editor
                    .read(abs)
                    .map_err(|e| format!("cannot read {arg}: {e}"))?
                    .into_bytes();
            }
            None => {
                file.take(limit as u64 + 1)
                    .read_to_end(&mut bytes)
                    .map_err(|e| fail(e, "read", arg))?;
            }
        }
        let more = bytes.len() > limit;
        bytes.truncate(limit);
        Ok((bytes, more))
    }

    /// The kind of the entry at `abs` without following a final symlink: `None` when there is none.
    pub(super) fn entry(&self, abs: &Path, arg: &str) -> Result<Option<Metadata>, String> {
        match self.dir.symlink_metadata(self.rel(abs)) {
            Ok(m) => Ok(Some(m)),
            // `a/b` where `a` is a file: there is no such entry either.
            Err(e)
                if e.kind() == io::ErrorKind::NotFound
                    || e.raw_os_error() == Some(libc::ENOTDIR) =>
            {
                Ok(None)
            }
            Err(e) => Err(fail(e, "read", arg)),
        }
    }

    /// Opens the directory at `abs` (beneath the handle, on the workdir's mount).
    pub(super) fn open_dir(&self, abs: &Path, arg: &str, what: &str) -> Result<Dir, String> {
        let dir = self
            .dir
            .open_dir(self.rel(abs))
            .map_err(|e| fail(e, what, arg))?;
        self.same_mount(&dir, arg)?;
        Ok(dir)
    }

    /// The parent directory of `abs` and the entry's name in it; `create`: make missing directories first.
    fn parent(&self, abs: &Path, arg: &str, create: bool) -> Result<(Dir, PathBuf), String> {
        let rel = self.rel(abs);
        let (Some(parent), Some(name)) = (rel.parent(), rel.file_name()) else {
            return Err(format!("{arg} is a directory"));
        };
        let parent = if parent.as_os_str().is_empty() {
            Path::new(".")
        } else {
            parent
        };
        let made = if create {
            self.dir.create_dir_all(parent)
        } else {
            Ok(())
        };
        // An escape shows when the directory is opened; other failures to create it are reported as such.
        let dir = match (self.dir.open_dir(parent), made) {
            (Ok(dir), _) => dir,
            (Err(e), _) if is_escape(&e) => return Err(escape(arg)),
            (Err(e), Ok(())) | (_, Err(e)) => return Err(fail(e, "write", arg)),
        };
        self.same_mount(&dir, arg)?;
        Ok((dir, PathBuf::from(name)))
    }

    /// Replaces the file at `abs` with `content` atomically: a new file in the same directory, renamed over the
    /// old entry (never followed, never written in place, so another hard link or an inode outside keeps its
    /// content). Missing parent directories are created; an existing file's permission bits are kept.
    /// `durable`: fsync the file before the rename and the directory after it.
    pub(super) fn write_atomic(
        &self,
        abs: &Path,
        arg: &str,
        content: &[u8],
        durable: bool,
    ) -> Result<(), String> {
        let (dir, name) = self.parent(abs, arg, true)?;
        let mode = match dir.symlink_metadata(&name) {
            Ok(m) if m.is_dir() => return Err(format!("{arg} is a directory")),
            Ok(m) if !m.is_file() => return Err(format!("{arg} is not a regular file")),
            Ok(m) => cap_std::fs::PermissionsExt::mode(&m.permissions()) & 0o7777,
            Err(e) if e.kind() == io::ErrorKind::NotFound => 0o666,
            Err(e) => return Err(fail(e, "write", arg)),
        };
        if let Some(editor) = self.editor.as_ref().filter(|e| e.writes()) {
            // The parent was opened beneath the handle and the entry is a regular file or none: the editor writes.
            return editor
                .write(abs, &String::from_utf8_lossy(content))
                .map_err(|e| format!("cannot write {arg}: {e}"));
        }
        let tmp = temp_name(&name);
        let written = (|| -> io::Result<()> {
            let mut o = OpenOptions::new();
            o.write(true)
                .create_new(true)
                .mode(mode)
                .follow(FollowSymlinks::No);
            let mut f = dir.open_with(&tmp, &o)?;
            f.write_all(content)?;
            if mode != 0o666 {
                // The creation mode went through the umask; an overwrite keeps the old bits exactly.
                f.set_permissions(cap_std::fs::PermissionsExt::from_mode(mode))?;
            }
            if durable {
                f.sync_all()?;
            }
            dir.rename(&tmp, &dir, &name)?;
            if durable {
                // The handle may be `O_PATH`, which cannot be synced: sync the directory opened for reading.
                dir.open(".")?.sync_all()?;
            }
            Ok(())
        })();
        written.map_err(|e| {
            let _ = dir.remove_file(&tmp);
            fail(e, "write", arg)
        })
    }

    /// Removes the entry at `abs` (a file or a symlink itself; directories are refused by the kernel).
    pub(super) fn remove(&self, abs: &Path, arg: &str) -> Result<(), String> {
        let (dir, name) = self.parent(abs, arg, false)?;
        dir.remove_file(&name).map_err(|e| fail(e, "delete", arg))
    }

    /// Writes `content` to `<workdir>/<dirs...>/<name>` durably (fsync, rename), each of `dirs` created if missing
    /// and opened without following symlinks, so a `.tandem` symlink is never followed. Returns the path written.
    pub fn save_under(&self, dirs: &[&str], name: &str, content: &[u8]) -> Result<PathBuf, String> {
        let mut dir = self.dir.try_clone().map_err(|e| e.to_string())?;
        let mut path = self.path.clone();
        for d in dirs {
            match dir.create_dir(d) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(format!("cannot create {}: {e}", path.join(d).display())),
            }
            path.push(d);
            dir = dir
                .open_dir_nofollow(d)
                .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
            self.same_mount(&dir, &path.display().to_string())?;
        }
        let sub = Root {
            dir,
            path: path.clone(),
            mount: self.mount,
            // Tandem's own files (saved attachments) go to the disk, never to an editor's buffers.
            editor: None,
        };
        let target = path.join(name);
        sub.write_atomic(&target, name, content, true)?;
        Ok(target)
    }
}

/// A fresh name beside `name` for the file a write renames into place.
fn temp_name(name: &Path) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let base = name.to_string_lossy();
    let base: String = base.chars().take(200).collect();
    PathBuf::from(format!(
        ".{base}.tandem-{}-{}.tmp",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::testutil::TempDir;

    #[test]
    fn saves_under_real_directories_only_never_through_a_symlink() {
        let t = TempDir::new("confine");
        let outside = TempDir::new("confine-outside");
        let w1 = t.path().join("w1");
        std::fs::create_dir(&w1).unwrap();
        let root = Root::open(&w1).unwrap();
        let path = root
            .save_under(&[".tandem", "context"], "s.md", b"summary\n")
            .unwrap();
        assert_eq!(path, w1.join(".tandem/context/s.md"));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "summary\n");
        let w2 = t.path().join("w2");
        std::fs::create_dir(&w2).unwrap();
        std::os::unix::fs::symlink(outside.path(), w2.join(".tandem")).unwrap();
        let root = Root::open(&w2).unwrap();
        assert!(root
            .save_under(&[".tandem", "context"], "s.md", b"x")
            .is_err());
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
    }
}
