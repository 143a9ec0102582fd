//! The confinement race: a small C program (tests/race/swapper.c) swaps a directory of the workdir with a symlink
//! to a directory outside it in a tight loop while every file tool runs 1,000 times on paths through that
//! directory; nothing outside may be created, changed, deleted or read, and the calls that did run touched only the
//! real directory.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use serde_json::{json, Value};
use tandem::tools::{ToolContext, ToolSet};

/// Calls of each file tool.
const CALLS: usize = 1000;
/// What only the outside directory holds: no tool output may ever contain it.
const SECRET: &str = "OUTSIDE-SECRET";

/// Compiles the swapper with the system C compiler; a missing compiler fails the test (it is the test).
fn swapper() -> PathBuf {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("confinement-swapper");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/race/swapper.c");
    let status = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()))
        .args(["-O2", "-Wall", "-Werror", "-o"])
        .arg(&out)
        .arg(&src)
        .status()
        .expect("a C compiler (cc) is needed to build tests/race/swapper.c");
    assert!(status.success(), "compiling {} failed", src.display());
    out
}

/// Every entry under `dir` with its inode, size, times and content: any write, rename, creation or deletion
/// outside changes it.
fn snapshot(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let m = e.metadata().unwrap();
        let content = std::fs::read_to_string(e.path()).unwrap_or_default();
        out.insert(
            e.file_name().to_string_lossy().into_owned(),
            format!(
                "ino {} size {} mtime {}.{} ctime {}.{} {content:?}",
                m.ino(),
                m.size(),
                m.mtime(),
                m.mtime_nsec(),
                m.ctime(),
                m.ctime_nsec()
            ),
        );
    }
    out
}

/// The calls of one tool: its name and the arguments of call `i` (paths through the swapped directory `d`), and
/// what to put back in the real directory first so the call has something to work on.
fn call(tool: &str, i: usize) -> (Value, Option<(&'static str, &'static str)>) {
    let reset = Some(("f.txt", "alpha\ninside\n"));
    match tool {
        "read_file" => (json!({"path": "d/f.txt"}), None),
        "write_file" => (
            json!({"path": format!("d/w{}.txt", i % 10), "content": "w"}),
            None,
        ),
        "edit_file" => (
            json!({"path": "d/f.txt", "old_text": "alpha", "new_text": "beta"}),
            reset,
        ),
        "multi_edit_file" => (
            json!({"path": "d/f.txt", "edits": [{"old_text": "alpha", "new_text": "beta"}]}),
            reset,
        ),
        "apply_diff" => (
            json!({"path": "d/f.txt", "diff": "@@ -1 +1 @@\n-alpha\n+beta\n"}),
            reset,
        ),
        "delete_file" => (json!({"path": "d/del.txt"}), Some(("del.txt", "x"))),
        "list_directory" => (json!({"path": "d"}), None),
        "find" => (
            json!({"pattern": "*", "path": if i.is_multiple_of(2) { "d" } else { "." }}),
            None,
        ),
        "grep" => (
            json!({"pattern": "alpha|SECRET", "path": if i.is_multiple_of(2) { "d" } else { "." }}),
            None,
        ),
        _ => unreachable!(),
    }
}

/// The running swapper, killed if the test fails before stopping it (else it would spin on after the test).
struct Swapper(Option<std::process::Child>);

impl Drop for Swapper {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn swapping_a_directory_for_an_outside_symlink_never_lets_a_file_tool_out() {
    let bin = swapper();
    let base = std::env::temp_dir().join(format!("tandem-race-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let (w, outside) = (base.join("w"), base.join("outside"));
    std::fs::create_dir_all(w.join("d")).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    let w = w.canonicalize().unwrap();
    for (name, content) in [
        ("f.txt", format!("alpha\n{SECRET}\n")),
        ("del.txt", format!("{SECRET}\n")),
        ("outside-only.txt", format!("{SECRET}\n")),
    ] {
        std::fs::write(outside.join(name), content).unwrap();
    }
    std::os::unix::fs::symlink(&outside, w.join("d_alt")).unwrap();
    // A handle on the real directory, wherever the swapper has moved its name, to put files back between calls.
    let real =
        cap_std::fs::Dir::open_ambient_dir(w.join("d"), cap_std::ambient_authority()).unwrap();
    real.write("f.txt", "alpha\ninside\n").unwrap();
    let before = snapshot(&outside);

    let stop = base.join("stop");
    let mut swapper = Swapper(Some(
        Command::new(&bin)
            .arg(w.join("d"))
            .arg(w.join("d_alt"))
            .arg(&stop)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    ));
    let tools = ToolSet::new(Some(w.clone()), None);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let started = Instant::now();
    let mut tally: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut leaks = Vec::new();
    for tool in [
        "read_file",
        "write_file",
        "edit_file",
        "multi_edit_file",
        "apply_diff",
        "delete_file",
        "list_directory",
        "find",
        "grep",
    ] {
        // A tool that resolves several names (delete_file also looks up the file's edit boundary) rarely wins the
        // race: it gets more calls until one has run, so every tool's success path is raced too.
        let mut i = 0;
        while i < CALLS || (tally.get(tool).map_or(0, |t| t.0) == 0 && i < CALLS * 20) {
            i += 1;
            let (args, reset) = call(tool, i);
            if let Some((name, content)) = reset {
                real.write(name, content).unwrap();
            }
            let out = rt.block_on(tools.execute(tool, &args, &ToolContext::new("race")));
            let t = tally.entry(tool).or_default();
            if out.is_error {
                t.1 += 1;
            } else {
                t.0 += 1;
            }
            if out.text.contains(SECRET) || out.text.contains("outside-only") {
                leaks.push(format!("{tool} {args}: {}", out.text));
            }
            if i.is_multiple_of(50) || out.file_change.is_some() {
                assert_eq!(
                    snapshot(&outside),
                    before,
                    "{tool} call {i} ({args}) changed the outside directory: {}",
                    out.text
                );
            }
        }
    }
    let elapsed = started.elapsed();
    std::fs::write(&stop, "").unwrap();
    let done = swapper.0.take().unwrap().wait_with_output().unwrap();
    assert!(done.status.success(), "the swapper failed");
    let swaps = String::from_utf8_lossy(&done.stdout).trim().to_string();
    eprintln!(
        "confinement race: {} calls in {elapsed:?} while the swapper made {swaps} swaps; (ok, refused) per tool: \
         {tally:?}",
        tally.values().map(|(ok, refused)| ok + refused).sum::<usize>()
    );
    assert!(
        leaks.is_empty(),
        "outside content leaked:\n{}",
        leaks.join("\n")
    );
    assert_eq!(snapshot(&outside), before, "nothing outside changed");
    let n: u64 = swaps.split(' ').next().unwrap().parse().unwrap();
    assert!(n >= 1000, "the swapper really raced the tools ({swaps})");
    for (tool, (ok, _)) in &tally {
        assert!(*ok > 0, "{tool} never ran: the test would prove nothing");
    }
    std::fs::remove_dir_all(&base).unwrap();
}
