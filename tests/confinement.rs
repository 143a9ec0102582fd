//! Confinement beyond symlinks: hard links and bind mounts of outside files inside the workdir, FIFOs, and a huge
//! sparse file, through every file tool and the approval preview. Each must be refused (or bounded) at once, with
//! nothing outside read or changed.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tandem::tools::{preview, ToolContext, ToolOutcome, ToolSet};

/// `base/w` is the workdir, `base/outside` what must stay untouched.
struct Fixture {
    base: PathBuf,
    w: PathBuf,
    outside: PathBuf,
}

impl Fixture {
    fn new(tag: &str) -> Fixture {
        let base = std::env::temp_dir().join(format!("tandem-conf-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(base.join("w")).unwrap();
        std::fs::create_dir_all(base.join("outside")).unwrap();
        let base = base.canonicalize().unwrap();
        std::fs::write(base.join("outside/secret.txt"), "alpha SECRET\n").unwrap();
        Fixture {
            w: base.join("w"),
            outside: base.join("outside"),
            base,
        }
    }

    fn run(&self, tool: &str, args: Value) -> ToolOutcome {
        let tools = ToolSet::new(Some(self.w.clone()), None);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(tools.execute(tool, &args, &ToolContext::new("c")))
    }

    fn secret(&self) -> String {
        std::fs::read_to_string(self.outside.join("secret.txt")).unwrap()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

/// Every file tool on `path`: each result must be an error (or, for the walkers, a result without the secret).
fn every_tool(f: &Fixture, path: &str) -> Vec<(String, ToolOutcome)> {
    let calls = [
        ("read_file", json!({"path": path})),
        ("write_file", json!({"path": path, "content": "pwned"})),
        (
            "edit_file",
            json!({"path": path, "old_text": "alpha", "new_text": "pwned"}),
        ),
        (
            "multi_edit_file",
            json!({"path": path, "edits": [{"old_text": "alpha", "new_text": "pwned"}]}),
        ),
        (
            "apply_diff",
            json!({"path": path, "diff": "@@ -1 +1 @@\n-alpha SECRET\n+pwned\n"}),
        ),
        ("grep", json!({"pattern": "SECR[E]T", "path": path})),
        ("grep", json!({"pattern": "SECR[E]T"})),
    ];
    calls
        .into_iter()
        .map(|(tool, args)| (format!("{tool} {args}"), f.run(tool, args)))
        .collect()
}

fn assert_nothing_leaks(f: &Fixture, results: &[(String, ToolOutcome)]) {
    for (call, out) in results {
        assert!(
            !out.text.contains("SECRET"),
            "{call} read outside: {}",
            out.text
        );
        if !call.starts_with("grep") {
            assert!(out.is_error, "{call} ran: {}", out.text);
        }
    }
    assert_eq!(
        f.secret(),
        "alpha SECRET\n",
        "the outside file is unchanged"
    );
}

#[test]
fn a_hard_link_to_an_outside_file_is_neither_read_nor_changed_in_place() {
    let f = Fixture::new("hardlink");
    std::fs::hard_link(f.outside.join("secret.txt"), f.w.join("hl.txt")).unwrap();
    let results = every_tool(&f, "hl.txt");
    assert_eq!(
        results[0].1.text,
        "hl.txt has other hard links (one may be outside the workdir); it is not read"
    );
    assert_nothing_leaks(&f, &results);
    // Deleting removes the workdir's link only.
    assert!(!f.run("delete_file", json!({"path": "hl.txt"})).is_error);
    assert_eq!(f.secret(), "alpha SECRET\n");
}

/// Bind mounts need root. As root a failing `mount --bind` fails the test (the case must really be checked); as
/// another user there is nothing to check, and the test is reported as skipped.
#[test]
fn a_bind_mount_inside_the_workdir_is_treated_as_outside() {
    if !common::is_root() {
        common::cannot_run(
            "confinement::a_bind_mount_inside_the_workdir_is_treated_as_outside",
            "not root: bind mounts cannot be made",
        );
        return;
    }
    let f = Fixture::new("bind");
    std::fs::create_dir(f.w.join("mnt")).unwrap();
    std::fs::write(f.w.join("file.txt"), "").unwrap();
    let mount = |src: &Path, dst: &Path| {
        let out = Command::new("mount")
            .arg("--bind")
            .arg(src)
            .arg(dst)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "mount --bind failed as root: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    mount(&f.outside, &f.w.join("mnt"));
    mount(&f.outside.join("secret.txt"), &f.w.join("file.txt"));
    let unmount = || {
        for m in ["mnt", "file.txt"] {
            let _ = Command::new("umount").arg(f.w.join(m)).status();
        }
    };
    let checked = std::panic::catch_unwind(|| {
        for path in ["mnt/secret.txt", "file.txt"] {
            let results = every_tool(&f, path);
            assert_eq!(results[0].1.text, format!("path escapes workdir: {path}"));
            assert_nothing_leaks(&f, &results);
        }
        let listing = f.run("list_directory", json!({"path": "mnt"}));
        assert!(listing.is_error && !listing.text.contains("secret"));
        let found = f.run("find", json!({"pattern": "*"}));
        assert!(!found.text.contains("secret"), "{}", found.text);
    });
    unmount();
    checked.unwrap();
}

#[test]
fn fifos_are_refused_at_once_by_every_tool_and_the_preview() {
    let f = Fixture::new("fifo");
    let status = Command::new("mkfifo")
        .arg(f.w.join("pipe"))
        .status()
        .unwrap();
    assert!(status.success());
    let started = Instant::now();
    for (call, out) in every_tool(&f, "pipe") {
        if !call.starts_with("grep") {
            assert!(out.is_error, "{call}: {}", out.text);
            assert!(
                out.text.ends_with("pipe is not a regular file"),
                "{call}: {}",
                out.text
            );
        }
    }
    let p = preview::build(
        Some(&f.w),
        "write_file",
        &json!({"path": "pipe", "content": "x"}),
    );
    assert_eq!(
        p.lines[1],
        "current content not shown: pipe is not a regular file"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "nothing blocked on the FIFO ({:?})",
        started.elapsed()
    );
}

#[test]
fn a_huge_sparse_file_is_read_previewed_and_refused_quickly_in_bounded_memory() {
    let f = Fixture::new("sparse");
    let file = std::fs::File::create(f.w.join("huge.txt")).unwrap();
    file.set_len(3 << 30).unwrap();
    std::fs::write(f.w.join("text.txt"), "y\n".repeat(2 << 20)).unwrap();
    let started = Instant::now();
    assert_eq!(
        f.run("read_file", json!({"path": "huge.txt"})).text,
        "huge.txt is a binary file"
    );
    let out = f.run("read_file", json!({"path": "text.txt"}));
    assert_eq!(
        out.text.len(),
        256 * 1024 + "\n\n[truncated at 256KB]".len()
    );
    assert_eq!(
        f.run(
            "edit_file",
            json!({"path": "huge.txt", "old_text": "a", "new_text": "b"})
        )
        .text,
        "huge.txt is larger than 8 MiB; too large to edit"
    );
    assert_eq!(
        f.run("write_file", json!({"path": "huge.txt", "content": "x"}))
            .text,
        "huge.txt is larger than 8 MiB; too large to overwrite"
    );
    assert_eq!(
        f.run("grep", json!({"pattern": "x"})).text,
        "no matches for x"
    );
    let p = preview::build(
        Some(&f.w),
        "write_file",
        &json!({"path": "huge.txt", "content": "x"}),
    );
    assert_eq!(p.lines[1], "current content not shown: larger than 256 KB");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(
        std::fs::metadata(f.w.join("huge.txt")).unwrap().len(),
        3 << 30
    );
}
