//! The escape corpus: paths leading out of the workdir (by `..`, absolute paths, symlinks to files and directories,
//! symlinked parents, loops, dangling links) and malformed paths, refused by every file tool with nothing changed
//! anywhere.

use std::collections::BTreeMap;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::testutil::{ok, run, TempDir};

/// `base/w/root` is the workdir; `base/outside` holds what must stay untouched.
struct Fixture {
    base: TempDir,
    root: PathBuf,
    outside: PathBuf,
}

fn fixture() -> Fixture {
    let base = TempDir::new("escape");
    let root = base.path().join("w/root");
    let outside = base.path().join("outside");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::create_dir_all(outside.join("dir")).unwrap();
    std::fs::write(outside.join("victim.txt"), "victim\n").unwrap();
    std::fs::write(outside.join("dir/inner.txt"), "victim inner\n").unwrap();
    std::fs::write(root.join("inside.txt"), "inside\n").unwrap();
    let links: [(&Path, &str); 13] = [
        (&outside.join("victim.txt"), "link_file"),
        (&outside, "link_dir"),
        (Path::new("../../../outside"), "sub/link_up"),
        (&base.path().join("w"), "parent_link"),
        (Path::new("loop_b"), "loop_a"),
        (Path::new("loop_a"), "loop_b"),
        (Path::new("self_loop"), "self_loop"),
        (Path::new("/nonexistent-tandem-escape/x"), "dangling"),
        (Path::new("chain2"), "chain1"),
        (Path::new("link_file"), "chain2"),
        (&outside.join("dir"), "sub/deep_link"),
        (Path::new("../../outside/victim.txt"), "rel_file_link"),
        (Path::new("sub/link_up"), "via_inner_link"),
    ];
    for (target, name) in links {
        symlink(target, root.join(name)).unwrap();
    }
    Fixture {
        base,
        root,
        outside,
    }
}

/// Every path of the corpus with the exact refusal expected.
fn corpus(f: &Fixture) -> Vec<(String, String)> {
    let root = f.root.to_str().unwrap();
    let outside = f.outside.to_str().unwrap();
    let mut paths: Vec<String> = [
        "..",
        "../",
        "../x",
        "../../x",
        "../../outside/victim.txt",
        "sub/../../x",
        "sub/../../../outside/victim.txt",
        "./../x",
        "sub/./../.././x",
        "a/b/../../../x",
        "/",
        "/nonexistent-tandem-escape/x",
        "link_file",
        "link_dir",
        "link_dir/victim.txt",
        "link_dir/new.txt",
        "link_dir/dir/inner.txt",
        "link_dir/newdir/new.txt",
        "./link_dir/.",
        "link_dir/./victim.txt",
        "sub/../link_file",
        "sub/link_up",
        "sub/link_up/victim.txt",
        "sub/link_up/new.txt",
        "via_inner_link/victim.txt",
        "parent_link",
        "parent_link/x",
        "parent_link/root/../x",
        "loop_a",
        "loop_a/x",
        "self_loop",
        "dangling",
        "dangling/x",
        "chain1",
        "sub/deep_link",
        "sub/deep_link/inner.txt",
        "rel_file_link",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    paths.extend([
        format!("{outside}/victim.txt"),
        outside.to_string(),
        format!("{root}/../x"),
        format!("{root}x"),
        format!("{root}/sub/../../x"),
    ]);
    let mut all: Vec<(String, String)> = paths
        .into_iter()
        .map(|p| {
            let err = format!("path escapes workdir: {p}");
            (p, err)
        })
        .collect();
    let nul = "invalid path: contains a NUL byte".to_string();
    all.push(("nul\0byte".into(), nul.clone()));
    all.push(("sub/\0".into(), nul));
    all.push((
        "a/".repeat(2100),
        "invalid path: longer than 4096 bytes".into(),
    ));
    all.push((
        "x".repeat(300),
        "invalid path: a component is longer than 255 bytes".into(),
    ));
    all.push((
        format!("link_dir/{}", "y".repeat(256)),
        "invalid path: a component is longer than 255 bytes".into(),
    ));
    all
}

/// Every file tool called on `path` with otherwise valid arguments.
fn calls(path: &str) -> Vec<(&'static str, Value)> {
    vec![
        ("read_file", json!({"path": path})),
        ("write_file", json!({"path": path, "content": "pwned"})),
        (
            "edit_file",
            json!({"path": path, "old_text": "victim", "new_text": "pwned"}),
        ),
        (
            "multi_edit_file",
            json!({"path": path, "edits": [{"old_text": "victim", "new_text": "pwned"}]}),
        ),
        (
            "apply_diff",
            json!({"path": path, "diff": "@@ -1 +1 @@\n-victim\n+pwned\n"}),
        ),
        ("delete_file", json!({"path": path})),
        ("list_directory", json!({"path": path})),
        ("find", json!({"pattern": "*", "path": path})),
        ("grep", json!({"pattern": "victim", "path": path})),
    ]
}

/// Everything under `dir`: kind, link target or file content, without following links.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let p = entry.path();
            let t = entry.file_type().unwrap();
            let what = if t.is_symlink() {
                format!("link {}", std::fs::read_link(&p).unwrap().display())
            } else if t.is_dir() {
                todo.push(p.clone());
                "dir".into()
            } else {
                format!("file {}", std::fs::read_to_string(&p).unwrap())
            };
            out.insert(p, what);
        }
    }
    out
}

#[test]
fn every_file_tool_refuses_the_whole_corpus_and_changes_nothing() {
    let f = fixture();
    let before = snapshot(f.base.path());
    let corpus = corpus(&f);
    assert!(corpus.len() >= 30, "{} paths", corpus.len());
    for (path, expected) in &corpus {
        for (tool, args) in calls(path) {
            let out = run(&f.root, tool, args);
            assert!(out.is_error, "{tool} accepted {path:?}: {}", out.text);
            assert_eq!(&out.text, expected, "{tool} on {path:?}");
            assert!(out.file_change.is_none() && out.line_edits.is_empty());
        }
    }
    assert_eq!(
        snapshot(f.base.path()),
        before,
        "nothing inside or outside the workdir changed"
    );
    assert!(!Path::new("/nonexistent-tandem-escape").exists());
}

#[test]
fn walks_from_the_workdir_never_follow_links_out() {
    let f = fixture();
    let before = snapshot(f.base.path());
    assert_eq!(
        ok(&f.root, "grep", json!({"pattern": "victim"})),
        "no matches for victim"
    );
    assert_eq!(
        ok(&f.root, "grep", json!({"pattern": "inside"})),
        "inside.txt:1:inside"
    );
    let listing = ok(&f.root, "find", json!({"pattern": "*"}));
    assert_eq!(
        listing,
        "chain1\nchain2\ndangling\ninside.txt\nlink_dir\nlink_file\nloop_a\nloop_b\nparent_link\nrel_file_link\n\
         self_loop\nsub/\nsub/deep_link\nsub/link_up\nvia_inner_link"
    );
    assert_eq!(
        ok(&f.root, "find", json!({"pattern": "*", "type": "file"})),
        "inside.txt"
    );
    assert!(ok(&f.root, "list_directory", json!({})).starts_with("sub/\nchain1\n"));
    assert_eq!(snapshot(f.base.path()), before);
}
