//! File tools through an editor (ACP's client `fs/*`): the editor's buffers are read and written, and only for paths
//! the workdir handle admits, with edit boundaries checked on the editor's text.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::json;

use super::host::HostTools;
use super::testutil::TempDir;
use super::{EditorFiles, ToolContext, ToolSet};
use crate::vocab::files::Boundary;

/// Buffers by path; every call is logged.
#[derive(Default)]
struct Buffers {
    files: Mutex<HashMap<PathBuf, String>>,
    calls: Mutex<Vec<String>>,
}

impl EditorFiles for Buffers {
    fn reads(&self) -> bool {
        true
    }
    fn writes(&self) -> bool {
        true
    }
    fn read(&self, path: &Path) -> Result<String, String> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("read {}", path.display()));
        let files = self.files.lock().unwrap();
        files
            .get(path)
            .cloned()
            .ok_or_else(|| "no buffer".to_string())
    }
    fn write(&self, path: &Path, content: &str) -> Result<(), String> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("write {}", path.display()));
        let mut files = self.files.lock().unwrap();
        files.insert(path.to_path_buf(), content.to_string());
        Ok(())
    }
}

fn session(dir: &Path, editor: &Arc<Buffers>) -> ToolSet {
    let host = Arc::new(HostTools::default());
    host.set_editor("s1", Some(editor.clone() as Arc<dyn EditorFiles>));
    ToolSet::new(Some(dir.to_path_buf()), None).with_host(host, "s1")
}

#[tokio::test]
async fn reads_and_writes_go_to_the_editor_buffers_not_the_disk() {
    let t = TempDir::new("editor");
    let a = t.path().join("a.txt");
    std::fs::write(&a, "on disk\n").unwrap();
    let editor = Arc::new(Buffers::default());
    editor
        .files
        .lock()
        .unwrap()
        .insert(a.clone(), "unsaved\n".into());
    let set = session(t.path(), &editor);
    let ctx = ToolContext::new("c1");
    let out = set
        .execute("read_file", &json!({"path": "a.txt"}), &ctx)
        .await;
    assert_eq!(out.text, "unsaved\n");
    let out = set
        .execute(
            "edit_file",
            &json!({"path": "a.txt", "old_text": "unsaved", "new_text": "edited"}),
            &ctx,
        )
        .await;
    assert!(!out.is_error, "{}", out.text);
    assert_eq!(editor.files.lock().unwrap()[&a], "edited\n");
    let change = out.file_change.unwrap();
    assert_eq!(change.before.as_deref(), Some("unsaved\n"));
    assert_eq!(
        std::fs::read_to_string(&a).unwrap(),
        "on disk\n",
        "the disk is the editor's business"
    );
    let out = set
        .execute(
            "write_file",
            &json!({"path": "new/b.txt", "content": "b\n"}),
            &ctx,
        )
        .await;
    assert_eq!(out.text, "created new/b.txt (2 bytes, 1 line)");
    assert_eq!(
        editor.files.lock().unwrap()[&t.path().join("new/b.txt")],
        "b\n"
    );
}

#[tokio::test]
async fn paths_outside_the_workdir_never_reach_the_editor_and_boundaries_hold() {
    let t = TempDir::new("editor");
    let outside = TempDir::new("editor-outside");
    std::fs::write(outside.path().join("secret"), "s").unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret"), t.path().join("link")).unwrap();
    let editor = Arc::new(Buffers::default());
    let set = session(t.path(), &editor);
    let ctx = ToolContext::new("c1");
    let escape = format!("{}/secret", outside.path().display());
    for (tool, path) in [
        ("read_file", "../x"),
        ("read_file", escape.as_str()),
        ("read_file", "link"),
        ("write_file", "../x"),
        ("write_file", "link"),
    ] {
        let out = set
            .execute(tool, &json!({"path": path, "content": "x"}), &ctx)
            .await;
        assert!(out.is_error, "{tool} {path}: {}", out.text);
    }
    assert!(
        editor.calls.lock().unwrap().is_empty(),
        "{:?}",
        editor.calls.lock().unwrap()
    );

    let a = t.path().join("a.txt");
    std::fs::write(&a, "1\n2\n3\n").unwrap();
    editor
        .files
        .lock()
        .unwrap()
        .insert(a.clone(), "1\n2\n3\n".into());
    let bounded = ctx.with_boundaries(|_| Some(Boundary::new(1, 1).unwrap()));
    let out = set
        .execute(
            "write_file",
            &json!({"path": "a.txt", "content": "1\n2\nthree\n"}),
            &bounded,
        )
        .await;
    assert!(
        out.is_error && out.text.contains("boundary"),
        "{}",
        out.text
    );
    assert_eq!(editor.files.lock().unwrap()[&a], "1\n2\n3\n");
}
