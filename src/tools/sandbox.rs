//! The workdir sandbox: every path a tool touches resolves inside the session's workdir, symlinks included.

use std::path::{Component, Path, PathBuf};

/// Resolves a tool's path argument against `root` (an absolute, canonical directory).
///
/// Refuses `..` that climbs out, absolute paths elsewhere, and paths whose existing part leads outside through a
/// symlink. The error text is `path escapes workdir: <arg>`.
pub fn resolve(root: &Path, arg: &str) -> Result<PathBuf, String> {
    let escape = || format!("path escapes workdir: {arg}");
    if arg.contains('\0') {
        return Err(format!("invalid path: {arg:?}"));
    }
    let joined = if Path::new(arg).is_absolute() {
        PathBuf::from(arg)
    } else {
        root.join(arg)
    };
    let mut lexical = PathBuf::new();
    for comp in joined.components() {
        match comp {
            Component::ParentDir => {
                if !lexical.pop() {
                    return Err(escape());
                }
            }
            Component::CurDir => {}
            other => lexical.push(other),
        }
    }
    if !lexical.starts_with(root) {
        return Err(escape());
    }
    // The longest existing prefix decides where symlinks really lead; the rest does not exist yet.
    let mut existing = lexical.as_path();
    let mut rest = Vec::new();
    loop {
        match existing.canonicalize() {
            Ok(real) => {
                if !real.starts_with(root) {
                    return Err(escape());
                }
                let mut out = real;
                for part in rest.iter().rev() {
                    out.push(part);
                }
                return Ok(out);
            }
            Err(_) => {
                // A dangling symlink is refused rather than guessed at.
                if existing.symlink_metadata().is_ok() {
                    return Err(escape());
                }
                match (existing.parent(), existing.file_name()) {
                    (Some(parent), Some(name)) => {
                        rest.push(name.to_os_string());
                        existing = parent;
                    }
                    _ => return Err(escape()),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp() -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "tandem-sandbox-{}-{}",
            std::process::id(),
            crate::time::mono_ms()
        ));
        std::fs::create_dir_all(d.join("sub")).unwrap();
        d.canonicalize().unwrap()
    }

    #[test]
    fn inside_paths_resolve() {
        let root = tmp();
        std::fs::write(root.join("sub/a.txt"), "x").unwrap();
        assert_eq!(resolve(&root, "sub/a.txt").unwrap(), root.join("sub/a.txt"));
        assert_eq!(
            resolve(&root, "./sub/../sub/a.txt").unwrap(),
            root.join("sub/a.txt")
        );
        assert_eq!(resolve(&root, ".").unwrap(), root);
        assert_eq!(
            resolve(&root, "new/dir/file").unwrap(),
            root.join("new/dir/file")
        );
        assert_eq!(
            resolve(&root, root.join("sub").to_str().unwrap()).unwrap(),
            root.join("sub")
        );
    }

    #[test]
    fn escapes_are_refused() {
        let root = tmp();
        std::os::unix::fs::symlink("/etc", root.join("link")).unwrap();
        std::os::unix::fs::symlink("/nonexistent/x", root.join("dangling")).unwrap();
        for bad in [
            "..",
            "../x",
            "sub/../../x",
            "/etc/passwd",
            "link/passwd",
            "link",
            "dangling",
            "dangling/x",
        ] {
            let err = resolve(&root, bad).unwrap_err();
            assert_eq!(err, format!("path escapes workdir: {bad}"));
        }
    }
}
