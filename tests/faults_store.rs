//! Store faults: a store that fills up under a running session or turns read-only between runs, and a journal cut at every byte
//! offset. The session must report the failure, keep working, and lose nothing once the store is writable again.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use serde_json::{json, Value};
use tandem::session::transcript::ContentPart;
use tandem::store::journal::replay;
use tandem::Client;

fn text(t: &str) -> Vec<ContentPart> {
    vec![ContentPart::Text { text: t.into() }]
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "tandem-faults-{name}-{}-{}",
        std::process::id(),
        tandem::time::mono_ms()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn stored_client(store: &Path) -> Client {
    let cfg = json!({"store_dir": store, "restart": {"base_delay_ms": 1, "max_delay_ms": 5}});
    Client::new(Some(&cfg.to_string())).expect("client starts")
}

fn prompts(c: &Client, id: &str) -> Vec<String> {
    c.messages(id)
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["kind"] == "user")
        .map(|m| m["text"].as_str().unwrap().to_string())
        .collect()
}

/// A small tmpfs, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Result<Tmpfs, String> {
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(at)
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(Tmpfs(at.to_path_buf()))
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
        }
    }

    fn remount(&self, mode: &str) {
        let ok = Command::new("mount")
            .args(["-o", &format!("remount,{mode}")])
            .arg(&self.0)
            .status()
            .unwrap()
            .success();
        assert!(ok, "remount {mode} failed");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// Writes to `path` until the file system is full.
fn fill(path: &Path) {
    use std::io::Write;
    let mut f = std::fs::File::create(path).unwrap();
    let block = vec![b'x'; 4096];
    while f.write_all(&block).and_then(|_| f.sync_data()).is_ok() {}
}

fn errors(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["kind"] == "error")
        .map(|e| e["message"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_store_that_fills_up_or_turns_read_only_loses_nothing() {
    let dir = temp_dir("tmpfs");
    let fs = match Tmpfs::mount(&dir, "512k") {
        Ok(fs) => fs,
        Err(why) => {
            // Without root there is no small file system to fill (tests/persistence.rs covers an unwritable store
            // with a file in the way of its directory); as root, as in CI, the mount must work.
            cannot_run(
                "faults_store::a_store_that_fills_up_or_turns_read_only_loses_nothing",
                &format!("cannot mount a tmpfs: {why}"),
            );
            return;
        }
    };
    let store = dir.join("store");
    let c = stored_client(&store);
    let id = c
        .start_session(Some(r#"{"model": "scripted:echo"}"#))
        .unwrap();
    let big = |tag: &str| format!("{tag} {}", "lorem ipsum ".repeat(1000));
    c.send_prompt(&id, text(&big("one"))).unwrap();
    assert!(errors(&turn_end(&c, &id).1).is_empty());

    // Full: the turns still run and stream, but each one ends storage_error with an error saying why: a host must
    // never take an unsaved turn for a saved one.
    fill(&dir.join("filler"));
    for tag in ["two", "three"] {
        c.send_prompt(&id, text(&big(tag))).unwrap();
        let (end, events) = turn_end(&c, &id);
        assert_eq!(end["reason"], "storage_error", "{events:#?}");
        assert!(text_of(&events, &id).starts_with(tag));
        // The first failing write (the prompt, as the turn starts) also says the store failed, once per streak.
        let errs = errors(&events);
        let turn_errs: Vec<&String> = errs
            .iter()
            .filter(|e| e.starts_with("This turn could not be saved"))
            .collect();
        assert_eq!(turn_errs.len(), 1, "one error per unsaved turn: {errs:?}");
        assert!(turn_errs[0].contains("No space left on device"), "{errs:?}");
        let streak = usize::from(tag == "two");
        assert_eq!(errs.len(), 1 + streak, "{errs:?}");
    }

    // Space again: the next turn writes everything that was pending.
    std::fs::remove_file(dir.join("filler")).unwrap();
    c.send_prompt(&id, text(&big("four"))).unwrap();
    assert!(errors(&turn_end(&c, &id).1).is_empty());

    // Read-only (a remount needs the session's files closed): a client on it fails at once with a clear error
    // and changes nothing, and works again with everything once the store is writable.
    c.shutdown(std::time::Duration::from_secs(5)).unwrap();
    drop(c);
    fs.remount("ro");
    let cfg = json!({"store_dir": store});
    let err = Client::new(Some(&cfg.to_string()))
        .err()
        .expect("a client on a store it cannot write is refused");
    assert!(
        matches!(err, tandem::Error::Io(_)) && err.to_string().contains("Read-only file system"),
        "{err}"
    );
    fs.remount("rw");
    let c = stored_client(&store);
    c.start_or_get_session(&id, None).unwrap();
    c.send_prompt(&id, text("five")).unwrap();
    assert!(errors(&turn_end(&c, &id).1).is_empty());
    c.shutdown(std::time::Duration::from_secs(5)).unwrap();
    drop(c);

    let c = stored_client(&store);
    c.start_or_get_session(&id, None).unwrap();
    let got: Vec<String> = prompts(&c, &id)
        .iter()
        .map(|p| p.split(' ').next().unwrap().to_string())
        .collect();
    assert_eq!(got, ["one", "two", "three", "four", "five"]);
    c.shutdown(std::time::Duration::from_secs(5)).unwrap();
    drop(c);
    drop(fs);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_journal_cut_at_every_byte_offset_keeps_every_complete_entry() {
    let store = temp_dir("cut");
    let work = temp_dir("cut-work");
    std::fs::write(work.join("a.txt"), "hi\n").unwrap();
    let script = json!([
        [{"thinking": "let me look"}, {"text": "Reading."},
         {"tool_call": {"name": "read_file", "args": {"path": "a.txt"}, "id": "call-1"}},
         {"usage": {"input": 10, "output": 5, "cost": 0.5}}],
        [{"text": "It says hi."}],
        [{"text": "Second answer."}]
    ]);
    let c = stored_client(&store);
    let id = c
        .start_session(Some(
            &json!({"model": "scripted:x", "script": script, "workdir": work}).to_string(),
        ))
        .unwrap();
    for p in ["first", "second"] {
        c.send_prompt(&id, text(p)).unwrap();
        turn_end(&c, &id);
    }
    let conv = c.metadata(&id).unwrap()["conversation_id"]
        .as_str()
        .unwrap()
        .to_string();
    c.shutdown(std::time::Duration::from_secs(5)).unwrap();
    drop(c);
    let path = store.join("conversations").join(format!("{conv}.jsonl"));
    let bytes = std::fs::read(&path).unwrap();
    let header_end = bytes.iter().position(|b| *b == b'\n').unwrap() + 1;

    for cut in 0..=bytes.len() {
        let result = replay(&bytes[..cut], &path);
        if cut < header_end {
            assert!(
                result.is_err(),
                "cut at {cut}: a journal without its header opened"
            );
            continue;
        }
        let (torn, good_len) = result.unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
        // The same as a clean cut at the last complete line, with the rest reported as repaired.
        let clean = bytes[..cut].iter().rposition(|b| *b == b'\n').unwrap() + 1;
        let (whole, _) = replay(&bytes[..clean], &path).unwrap();
        assert_eq!(good_len, clean as u64, "cut at {cut}");
        assert_eq!(torn.repaired_bytes, (cut - clean) as u64, "cut at {cut}");
        assert_eq!(torn.messages, whole.messages, "cut at {cut}");
        assert_eq!(torn.skipped, 0, "cut at {cut}");
    }

    // A sample of cuts through the whole client: the conversation opens and the session works.
    for cut in (header_end..=bytes.len()).step_by(bytes.len() / 7) {
        let copy = temp_dir("cut-copy");
        copy_dir(&store, &copy);
        std::fs::write(
            copy.join("conversations").join(format!("{conv}.jsonl")),
            &bytes[..cut],
        )
        .unwrap();
        let c = stored_client(&copy);
        c.start_or_get_session(&id, Some(r#"{"model": "scripted:echo"}"#))
            .unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
        c.send_prompt(&id, text("after the crash")).unwrap();
        let (end, _) = turn_end(&c, &id);
        assert_eq!(end["reason"], "completed", "cut at {cut}");
        assert_eq!(prompts(&c, &id).last().unwrap(), "after the crash");
        c.shutdown(std::time::Duration::from_secs(5)).unwrap();
        drop(c);
        let _ = std::fs::remove_dir_all(&copy);
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}
