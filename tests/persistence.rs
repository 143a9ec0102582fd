//! The conversation store through the safe API: round trips, restore after restart, repair of damaged files,
//! unwritable stores, ID injection, and two clients on one store.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use serde_json::{json, Value};
use tandem::session::state::EditOp;
use tandem::session::transcript::{ContentPart, Level};
use tandem::{Client, Error};

fn text(t: &str) -> Vec<ContentPart> {
    vec![ContentPart::Text { text: t.into() }]
}

fn temp_store(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "tandem-persist-{name}-{}-{}",
        std::process::id(),
        tandem::time::mono_ms()
    ));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn stored_client(store: &Path) -> Client {
    let cfg = json!({"store_dir": store, "restart": {"base_delay_ms": 1, "max_delay_ms": 5}});
    Client::new(Some(&cfg.to_string())).expect("client starts")
}

fn journal_of(store: &Path, c: &Client, id: &str) -> PathBuf {
    let conv = c.metadata(id).unwrap()["conversation_id"]
        .as_str()
        .unwrap()
        .to_string();
    store.join("conversations").join(format!("{conv}.jsonl"))
}

/// A script that produces every message kind: thinking, text, a tool call and its result, usage.
fn rich_script() -> Value {
    json!([
        [{"thinking": "let me look"}, {"text": "Reading."},
         {"tool_call": {"name": "read_file", "args": {"path": "a.txt"}, "id": "call-1"}},
         {"usage": {"input": 10, "output": 5, "cost": 0.5}}],
        [{"text": "It says hi."}, {"usage": {"input": 20, "output": 7, "cost": 0.25}}]
    ])
}

fn workdir(name: &str) -> PathBuf {
    let w = temp_store(&format!("{name}-work"));
    std::fs::create_dir_all(&w).unwrap();
    std::fs::write(w.join("a.txt"), "hi\n").unwrap();
    w
}

#[test]
fn every_message_kind_survives_a_client_restart_with_its_token() {
    let store = temp_store("roundtrip");
    let work = workdir("roundtrip");
    let opts = json!({"model": "scripted:x", "script": rich_script(), "workdir": work}).to_string();
    let (messages, token, usage, branches) = {
        let c = stored_client(&store);
        let id = c.start_or_get_session("keeper", Some(&opts)).unwrap();
        let image = "aGVsbG8=";
        let parts = vec![
            ContentPart::Text {
                text: "look at this".into(),
            },
            ContentPart::Image {
                media_type: "image/png".into(),
                data: image.into(),
            },
        ];
        c.send_prompt(&id, parts).unwrap();
        turn_end(&c, &id);
        c.add_system_message(&id, "a note", Level::Info).unwrap();
        c.add_system_message(&id, "a problem", Level::Error)
            .unwrap();
        let first_user = c.messages(&id).unwrap()[1]["id"].as_u64().unwrap();
        c.edit(&id, EditOp::BranchAt(first_user)).unwrap();
        c.edit(&id, EditOp::SwitchBranch(1)).unwrap();
        let out = (
            c.messages(&id).unwrap(),
            c.token(&id).unwrap(),
            c.usage(&id).unwrap(),
            c.list_branches(&id).unwrap(),
        );
        c.shutdown(Duration::from_secs(5)).unwrap();
        out
    };
    let kinds: Vec<&str> = messages
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["kind"].as_str().unwrap())
        .collect();
    for k in [
        "user",
        "assistant",
        "thinking",
        "tool_call",
        "system",
        "usage",
    ] {
        assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
    }
    let c = stored_client(&store);
    let id = c.start_or_get_session("keeper", Some(&opts)).unwrap();
    assert_eq!(c.messages(&id).unwrap(), messages);
    assert_eq!(c.token(&id).unwrap(), token);
    assert_eq!(c.usage(&id).unwrap(), usage);
    assert_eq!(c.list_branches(&id).unwrap(), branches);
    // The image itself was stored, not just its size: the model context of the next turn would see it.
    let journal = std::fs::read_to_string(journal_of(&store, &c, &id)).unwrap();
    assert!(journal.contains("aGVsbG8="));
    // IDs keep counting up after a restore.
    let before = messages.as_array().unwrap().last().unwrap()["id"]
        .as_u64()
        .unwrap();
    c.add_system_message(&id, "after", Level::Info).unwrap();
    let after = c.messages(&id).unwrap();
    assert_eq!(after.as_array().unwrap().last().unwrap()["id"], before + 1);
}

#[test]
fn files_are_private_and_a_turn_is_durable_when_it_ends() {
    use std::os::unix::fs::PermissionsExt;
    let store = temp_store("perms");
    let c = stored_client(&store);
    let id = c
        .start_session(Some(r#"{"model": "scripted:echo"}"#))
        .unwrap();
    c.send_prompt(&id, text("remember me")).unwrap();
    turn_end(&c, &id);
    // turn_ended was delivered, so the file already holds the answer (no stop, no flush needed).
    let journal = std::fs::read_to_string(journal_of(&store, &c, &id)).unwrap();
    assert!(journal.contains("remember me"));
    assert_eq!(journal.matches("\"assistant\"").count(), 1, "{journal}");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&store), 0o700);
    assert_eq!(mode(&store.join("conversations")), 0o700);
    assert_eq!(mode(&journal_of(&store, &c, &id)), 0o600);
    assert_eq!(
        mode(&store.join("sessions").join(format!("{id}.json"))),
        0o600
    );
}

#[test]
fn streaming_text_reaches_the_file_within_a_second() {
    let store = temp_store("stream");
    let c = stored_client(&store);
    let script = json!([[{"text": "partial answer"}, {"stall_ms": 2500}, {"text": " done"}]]);
    let id = c
        .start_session(Some(
            &json!({"model": "scripted:x", "script": script}).to_string(),
        ))
        .unwrap();
    c.send_prompt(&id, text("go")).unwrap();
    std::thread::sleep(Duration::from_millis(1600));
    let mid = std::fs::read_to_string(journal_of(&store, &c, &id)).unwrap();
    assert!(mid.contains("partial answer"), "{mid}");
    turn_end(&c, &id);
    let end = std::fs::read_to_string(journal_of(&store, &c, &id)).unwrap();
    assert!(end.contains("partial answer done"));
}

#[test]
fn saving_a_turn_costs_the_turn_not_the_conversation() {
    let store = temp_store("cost");
    let c = stored_client(&store);
    let id = c
        .start_session(Some(r#"{"model": "scripted:echo"}"#))
        .unwrap();
    let big = "x".repeat(20_000);
    for _ in 0..5 {
        c.send_prompt(&id, text(&big)).unwrap();
        turn_end(&c, &id);
    }
    let path = journal_of(&store, &c, &id);
    let before = std::fs::metadata(&path).unwrap().len();
    assert!(before > 200_000);
    c.send_prompt(&id, text("small")).unwrap();
    turn_end(&c, &id);
    let grown = std::fs::metadata(&path).unwrap().len() - before;
    assert!(grown < 3_000, "a small turn appended {grown} bytes");
}

#[test]
fn a_torn_tail_is_cut_off_and_corrupt_lines_in_the_middle_are_skipped() {
    let store = temp_store("torn");
    let opts = r#"{"model": "scripted:echo"}"#;
    let path = {
        let c = stored_client(&store);
        let id = c.start_or_get_session("torn", Some(opts)).unwrap();
        for p in ["one", "two"] {
            c.send_prompt(&id, text(p)).unwrap();
            turn_end(&c, &id);
        }
        let path = journal_of(&store, &c, &id);
        c.shutdown(Duration::from_secs(5)).unwrap();
        path
    };
    let good = std::fs::read(&path).unwrap();
    // A corrupt line after the header (in the middle) and half a line at the end.
    let mut lines: Vec<&[u8]> = good.split_inclusive(|b| *b == b'\n').collect();
    lines.insert(1, b"{\"msg\": garbage}\n");
    let mut damaged: Vec<u8> = lines.concat();
    damaged.extend_from_slice(b"{\"msg\":{\"id\":99,\"body\":{\"assis");
    std::fs::write(&path, &damaged).unwrap();

    let c = stored_client(&store);
    let id = c.start_or_get_session("torn", Some(opts)).unwrap();
    let msgs = c.messages(&id).unwrap();
    let texts: Vec<String> = msgs
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["text"].as_str().map(str::to_string))
        .collect();
    assert!(texts.contains(&"two".to_string()), "{texts:?}");
    assert!(texts
        .iter()
        .any(|t| t == "Skipped 1 corrupt entry while loading this conversation."));
    assert!(texts.iter().any(|t| t
        .starts_with("Repaired the conversation file: a torn last entry (30 bytes) was cut off.")));
    // The torn bytes are gone from the file and new entries follow complete lines.
    c.send_prompt(&id, text("three")).unwrap();
    turn_end(&c, &id);
    let now = std::fs::read_to_string(&path).unwrap();
    assert!(!now.contains("\"assis{"));
    for line in now.lines().filter(|l| *l != "{\"msg\": garbage}") {
        serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    }
}

#[test]
fn a_turn_cut_off_by_a_crash_is_marked_interrupted_when_reopened() {
    let store = temp_store("midturn");
    let opts = json!({"model": "scripted:x", "script": [[
        {"tool_call": {"name": "list_directory", "args": {}, "id": "t1"}}
    ], [{"text": "never"}]], "workdir": workdir("midturn"), "approval": "all"})
    .to_string();
    {
        let c = stored_client(&store);
        let id = c.start_or_get_session("mid", Some(&opts)).unwrap();
        c.send_prompt(&id, text("list")).unwrap();
        wait_for(&c, Duration::from_secs(10), |e| {
            e["kind"] == "approval_pending"
        });
        // Simulate the process dying here: the client goes away without stopping the session. Leak it so no
        // shutdown code runs; the file locks go with it only when the process exits, so copy the store instead.
        let copy = temp_store("midturn-copy");
        copy_dir(&store, &copy);
        std::mem::forget(c);
        let c2 = stored_client(&copy);
        let id2 = c2.start_or_get_session("mid", Some(&opts)).unwrap();
        let msgs = c2.messages(&id2).unwrap();
        let call = msgs
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["kind"] == "tool_call")
            .expect("the running call was saved");
        assert_eq!(call["status"], "error");
        assert_eq!(call["result"], "aborted");
        let last = msgs.as_array().unwrap().last().unwrap();
        assert_eq!(
            last["text"],
            "The previous run ended while a turn was in progress; that turn was interrupted."
        );
        assert_eq!(c2.status(&id2).unwrap(), tandem::session::Status::Idle);
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

#[test]
fn a_supervised_restart_keeps_the_conversation_and_marks_the_turn() {
    let store = temp_store("restart");
    let c = stored_client(&store);
    let opts = json!({"model": "scripted:x", "script": [[{"text": "so far"}, {"panic": "boom"}]]});
    let id = c
        .start_or_get_session("crashy", Some(&opts.to_string()))
        .unwrap();
    let token = c.token(&id).unwrap();
    c.send_prompt(&id, text("crash please")).unwrap();
    wait_for(&c, Duration::from_secs(10), |e| {
        e["kind"] == "session_restarted"
    });
    assert_eq!(retry_pending(|| c.token(&id)).unwrap(), token);
    let path = journal_of(&store, &c, &id);
    let journal = std::fs::read_to_string(path).unwrap();
    assert!(journal.contains("crash please"));
    assert!(
        journal.contains("the turn in progress was interrupted"),
        "{journal}"
    );
}

#[test]
fn an_unwritable_store_fails_each_turn_keeps_working_and_catches_up() {
    let store = temp_store("readonly");
    std::fs::create_dir_all(&store).unwrap();
    // A regular file where the conversations directory belongs: no write can succeed, even as root.
    std::fs::write(store.join("conversations"), "in the way").unwrap();
    let c = stored_client(&store);
    let id = c
        .start_session(Some(r#"{"model": "scripted:echo"}"#))
        .unwrap();
    c.send_prompt(&id, text("first")).unwrap();
    let (end1, events) = turn_end(&c, &id);
    let mut all = events;
    c.send_prompt(&id, text("second")).unwrap();
    let (end2, more) = turn_end(&c, &id);
    all.extend(more);
    // The session's start reports the failing store once; every turn that could not be saved ends storage_error
    // with its own error, so no host takes it for saved.
    assert_eq!(
        (&end1["reason"], &end2["reason"]),
        (&json!("storage_error"), &json!("storage_error"))
    );
    let errors: Vec<&str> = all
        .iter()
        .filter(|e| e["kind"] == "error")
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert_eq!(errors.len(), 3, "{errors:#?}");
    assert!(
        errors[0].starts_with("Could not save conversation"),
        "{errors:?}"
    );
    assert!(
        errors[1..]
            .iter()
            .all(|e| e.starts_with("This turn could not be saved")),
        "{errors:?}"
    );
    assert_eq!(text_of(&all, &id), "firstsecond");

    std::fs::remove_file(store.join("conversations")).unwrap();
    c.send_prompt(&id, text("third")).unwrap();
    let (end3, _) = turn_end(&c, &id);
    assert_eq!(
        end3["reason"], "completed",
        "writable again: the pending turns are written with this one"
    );
    let journal = std::fs::read_to_string(journal_of(&store, &c, &id)).unwrap();
    for t in ["first", "second", "third"] {
        assert!(journal.contains(&format!("\"{t}\"")), "{t} lost: {journal}");
    }
}

#[test]
fn a_store_dir_that_cannot_be_written_fails_the_client() {
    let base = temp_store("blocked");
    std::fs::create_dir_all(&base).unwrap();
    // A regular file where the store belongs, and a path beneath a file: neither can become a directory, even as root.
    std::fs::write(base.join("file"), "in the way").unwrap();
    for dir in [base.join("file"), base.join("file/store")] {
        let cfg = json!({ "store_dir": dir });
        let err = Client::new(Some(&cfg.to_string()))
            .err()
            .unwrap_or_else(|| panic!("a client on {} was created", dir.display()));
        assert!(matches!(err, Error::Io(_)), "{err}");
        assert!(err.to_string().contains(&*dir.to_string_lossy()), "{err}");
    }
    // A writable one is created (0700) and left without the probe file.
    let fresh = base.join("fresh/store");
    let c = stored_client(&fresh);
    assert_eq!(std::fs::read_dir(&fresh).unwrap().count(), 0);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&fresh).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
    drop(c);
    let _ = std::fs::remove_dir_all(&base);
}

#[test]
fn ids_cannot_escape_the_store() {
    let store = temp_store("inject");
    let c = stored_client(&store);
    let long = "a".repeat(129);
    for bad in [
        "../x",
        "..",
        ".",
        "a/b",
        "/etc/passwd",
        "",
        "a\nb",
        "a b",
        "~root",
        "%2e%2e",
        long.as_str(),
        "séance",
    ] {
        assert!(
            matches!(
                c.start_or_get_session(bad, None),
                Err(Error::InvalidArgument(_))
            ),
            "{bad:?} accepted as a session id"
        );
        assert!(
            matches!(c.delete_conversation(bad), Err(Error::InvalidArgument(_))),
            "{bad:?} accepted by delete"
        );
    }
    let id = c
        .start_session(Some(
            r#"{"model": "scripted:echo", "session_id": "ok.id-1"}"#,
        ))
        .unwrap();
    for bad in ["../sessions/ok.id-1", "..", "x/../../y"] {
        assert!(matches!(
            c.load_conversation(&id, bad),
            Err(Error::InvalidArgument(_))
        ));
    }
    assert!(matches!(
        c.start_session(Some(r#"{"session_id": "../../evil"}"#)),
        Err(Error::InvalidArgument(_))
    ));
    let outside: Vec<_> = std::fs::read_dir(store.parent().unwrap())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("evil"))
        .collect();
    assert!(outside.is_empty());
}

#[test]
fn two_clients_on_one_store_never_share_a_writer() {
    let store = temp_store("two");
    let a = stored_client(&store);
    let b = stored_client(&store);
    let opts = r#"{"model": "scripted:echo"}"#;
    let id = a.start_or_get_session("shared", Some(opts)).unwrap();
    a.send_prompt(&id, text("from a")).unwrap();
    turn_end(&a, &id);
    assert!(matches!(
        b.start_or_get_session("shared", Some(opts)),
        Err(Error::Busy(_))
    ));
    let conv = a.metadata(&id).unwrap()["conversation_id"]
        .as_str()
        .unwrap()
        .to_string();
    let other = b.start_session(Some(opts)).unwrap();
    assert_ne!(other, "shared");
    assert!(matches!(
        b.load_conversation(&other, &conv),
        Err(Error::Busy(_))
    ));
    assert!(matches!(b.delete_conversation(&conv), Err(Error::Busy(_))));
    // Generated IDs skip sessions the store knows, whichever client made them.
    let gen_a = a.start_session(Some(opts)).unwrap();
    assert_ne!(gen_a, other);
    a.stop_session(&id).unwrap();
    let again = b.start_or_get_session("shared", Some(opts)).unwrap();
    let texts = b.messages(&again).unwrap().to_string();
    assert!(texts.contains("from a"));
}

#[test]
fn a_stopped_session_can_be_started_again_at_once() {
    let store = temp_store("again");
    let c = stored_client(&store);
    for i in 0..300 {
        let id = c
            .start_or_get_session("again", Some(r#"{"model": "scripted:echo"}"#))
            .unwrap_or_else(|e| panic!("start {i}: {e}"));
        c.stop_session(&id).unwrap();
    }
}

#[test]
fn new_load_list_and_delete_conversations() {
    let store = temp_store("convs");
    let c = stored_client(&store);
    let id = c
        .start_session(Some(r#"{"model": "scripted:echo"}"#))
        .unwrap();
    let token = c.token(&id).unwrap();
    c.send_prompt(&id, text("first conversation")).unwrap();
    turn_end(&c, &id);
    let first = c.metadata(&id).unwrap()["conversation_id"]
        .as_str()
        .unwrap()
        .to_string();
    let first_messages = c.messages(&id).unwrap();
    let second = c.new_conversation(&id).unwrap();
    assert_ne!(first, second);
    assert_eq!(c.token(&id).unwrap(), token);
    let msgs = c.messages(&id).unwrap();
    assert_eq!(msgs.as_array().unwrap().len(), 1);
    assert!(msgs[0]["text"]
        .as_str()
        .unwrap()
        .starts_with("Conversation started · "));
    c.send_prompt(&id, text("second conversation\nmore"))
        .unwrap();
    turn_end(&c, &id);

    let list = c.list_conversations().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["id"], second.as_str(), "newest first: {list:#?}");
    assert_eq!(list[0]["title"], "second conversation");
    assert_eq!(list[0]["turn_count"], 1);
    assert_eq!(list[1]["id"], first.as_str());
    assert_eq!(list[1]["session_id"], id.as_str());
    assert_eq!(
        list[1]["message_count"],
        first_messages.as_array().unwrap().len()
    );

    c.load_conversation(&id, &first).unwrap();
    assert_eq!(c.messages(&id).unwrap(), first_messages);
    assert_eq!(c.metadata(&id).unwrap()["conversation_id"], first.as_str());
    assert!(matches!(c.delete_conversation(&first), Err(Error::Busy(_))));
    c.delete_conversation(&second).unwrap();
    assert!(matches!(
        c.delete_conversation(&second),
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        c.load_conversation(&id, &second),
        Err(Error::NotFound(_))
    ));
    assert_eq!(c.list_conversations().unwrap().len(), 1);
    // The session's current conversation after a client restart is the one it loaded.
    c.stop_session(&id).unwrap();
    let id2 = c.start_or_get_session(&id, None).unwrap();
    assert_eq!(c.metadata(&id2).unwrap()["conversation_id"], first.as_str());
}

#[test]
fn a_new_conversation_keeps_the_branches_and_ends_plan_mode_like_the_seed() {
    let store = temp_store("keep-branches");
    let c = stored_client(&store);
    let id = c
        .start_session(Some(r#"{"model": "scripted:echo"}"#))
        .unwrap();
    c.send_prompt(&id, text("one")).unwrap();
    turn_end(&c, &id);
    c.send_prompt(&id, text("two")).unwrap();
    turn_end(&c, &id);
    let first_user = user_messages(&c, &id)[0]["id"].as_u64().unwrap();
    c.edit(&id, EditOp::BranchAt(first_user)).unwrap();
    c.enter_plan(&id).unwrap();
    assert_eq!(
        c.status(&id).unwrap(),
        tandem::vocab::settings::Status::Plan
    );
    c.new_conversation(&id).unwrap();
    assert_eq!(
        c.status(&id).unwrap(),
        tandem::vocab::settings::Status::Idle,
        "plan mode ended"
    );
    assert_eq!(c.list_branches(&id).unwrap().as_array().unwrap().len(), 1);
    // The branch is stored with the new conversation: it is there after a restart, and switching to it works.
    c.stop_session(&id).unwrap();
    let id = c.start_or_get_session(&id, None).unwrap();
    assert_eq!(c.list_branches(&id).unwrap().as_array().unwrap().len(), 1);
    c.edit(&id, EditOp::SwitchBranch(1)).unwrap();
    let texts: Vec<Value> = user_messages(&c, &id)
        .iter()
        .map(|m| m["text"].clone())
        .collect();
    assert_eq!(texts, ["one", "two"]);
}

#[test]
fn new_conversation_cancels_a_pending_approval_and_aborts_the_turn() {
    let store = temp_store("cancel");
    let c = stored_client(&store);
    let opts = json!({"model": "scripted:x", "script": [[
        {"tool_call": {"name": "list_directory", "args": {}, "id": "t1"}}
    ]], "workdir": workdir("cancel"), "approval": "all"});
    let id = c.start_session(Some(&opts.to_string())).unwrap();
    c.send_prompt(&id, text("list")).unwrap();
    wait_for(&c, Duration::from_secs(10), |e| {
        e["kind"] == "approval_pending"
    });
    let old = c.metadata(&id).unwrap()["conversation_id"]
        .as_str()
        .unwrap()
        .to_string();
    c.new_conversation(&id).unwrap();
    let (resolved, _) = wait_for(&c, Duration::from_secs(10), |e| {
        e["kind"] == "approval_resolved"
    });
    assert_eq!(resolved["decision"], "cancelled");
    assert_eq!(c.snapshot(&id).unwrap()["pending_approval"], Value::Null);
    // The old conversation recorded the abort.
    let journal =
        std::fs::read_to_string(store.join("conversations").join(format!("{old}.jsonl"))).unwrap();
    assert!(journal.contains("\"aborted\""), "{journal}");
}

#[test]
fn sessions_without_persistence_write_nothing() {
    let store = temp_store("off");
    let c = stored_client(&store);
    let id = c
        .start_session(Some(r#"{"model": "scripted:echo", "persist": false}"#))
        .unwrap();
    c.send_prompt(&id, text("ephemeral")).unwrap();
    turn_end(&c, &id);
    c.new_conversation(&id).unwrap();
    assert!(matches!(
        c.load_conversation(&id, "whatever"),
        Err(Error::NotFound(_))
    ));
    c.stop_session(&id).unwrap();
    // The client made the (empty) store directory when it checked it could write there; the session wrote nothing.
    let written: Vec<_> = std::fs::read_dir(&store).unwrap().collect();
    assert!(written.is_empty(), "persist: false wrote {written:?}");

    let none = client();
    assert_eq!(none.list_conversations().unwrap(), Vec::<Value>::new());
    assert!(matches!(
        none.delete_conversation("abc"),
        Err(Error::NotFound(_))
    ));
}

#[test]
fn resume_restores_the_options_and_touched_files_and_reports_overrides() {
    let store = temp_store("resume");
    let work = workdir("resume");
    let script = json!([
        [{"tool_call": {"name": "write_file", "args": {"path": "out.txt", "content": "x\n"}, "id": "w1"}}],
        [{"text": "written"}]
    ]);
    let first = json!({"model": "scripted:resumable", "script": script, "workdir": work, "approval": "none",
        "thinking_level": "high", "tools": ["read_file", "write_file"], "max_turns": 7});
    let c = stored_client(&store);
    let id = c
        .start_or_get_session("resumable", Some(&first.to_string()))
        .unwrap();
    c.send_prompt(&id, text("write it")).unwrap();
    let (end, events) = turn_end(&c, &id);
    assert_eq!(end["reason"], "completed", "{events:#?}");
    let touched = c.touched_files(&id).unwrap();
    assert_eq!(touched.as_array().unwrap().len(), 1, "{touched}");
    c.shutdown(Duration::from_secs(5)).unwrap();
    drop(c);

    // No options on resume: everything comes back, with the touched files, and an event says so.
    let c = stored_client(&store);
    let id = c.start_or_get_session("resumable", None).unwrap();
    let meta = c.metadata(&id).unwrap();
    assert_eq!(meta["model"], "scripted:resumable");
    assert_eq!(meta["thinking_level"], "high");
    assert_eq!(
        meta["workdir"],
        work.canonicalize().unwrap().display().to_string()
    );
    assert_eq!(c.touched_files(&id).unwrap(), touched);
    let events = c.events_since(&id, 0).unwrap().events;
    let restored = events
        .iter()
        .find(|e| e["kind"] == "options_restored")
        .expect("an options_restored event");
    let keys: Vec<&str> = restored["restored"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    for key in [
        "model",
        "script",
        "workdir",
        "approval",
        "thinking_level",
        "tools",
        "max_turns",
    ] {
        assert!(keys.contains(&key), "{key} not restored: {restored}");
    }
    assert!(!keys.contains(&"session_id"));
    assert_eq!(restored["overridden"], json!({}));
    assert_eq!(restored["touched_files"], 1);
    // approval "none" came back: the write runs without asking (the default mode would ask).
    c.send_prompt(&id, text("again")).unwrap();
    let (end, events) = turn_end(&c, &id);
    assert_eq!(end["reason"], "completed", "{events:#?}");
    assert!(!events.iter().any(|e| e["kind"] == "approval_pending"));
    c.shutdown(Duration::from_secs(5)).unwrap();
    drop(c);

    // Options given on resume win, and the event names what they changed.
    let c = stored_client(&store);
    let id = c
        .start_or_get_session(
            "resumable",
            Some(r#"{"approval": "all", "thinking_level": "high"}"#),
        )
        .unwrap();
    let events = c.events_since(&id, 0).unwrap().events;
    let restored = events
        .iter()
        .find(|e| e["kind"] == "options_restored")
        .unwrap();
    assert_eq!(
        restored["overridden"],
        json!({"approval": {"stored": "none", "given": "all"}})
    );
    assert!(!restored["restored"]
        .as_array()
        .unwrap()
        .contains(&json!("approval")));
    // The record keeps no secret: only what the host passed.
    let record = std::fs::read_to_string(store.join("sessions/resumable.json")).unwrap();
    assert!(record.contains("\"approval\":\"all\""), "{record}");
    c.shutdown(Duration::from_secs(5)).unwrap();
}

#[test]
fn a_new_conversation_whose_journal_cannot_be_created_fails_and_changes_nothing() {
    let store = temp_store("newconv");
    let c = stored_client(&store);
    let id = c
        .start_session(Some(r#"{"model": "scripted:echo"}"#))
        .unwrap();
    c.send_prompt(&id, text("kept")).unwrap();
    turn_end(&c, &id);
    let before = c.metadata(&id).unwrap()["conversation_id"].clone();
    // The open journal stays writable through its descriptor, but no new file can be made where it lived.
    let conversations = store.join("conversations");
    let aside = store.join("conversations-aside");
    std::fs::rename(&conversations, &aside).unwrap();
    std::fs::write(&conversations, "in the way").unwrap();
    let err = c
        .new_conversation(&id)
        .expect_err("no journal, no new conversation");
    assert!(matches!(err, Error::Io(_)), "{err}");
    assert!(
        err.to_string().contains("cannot start a new conversation"),
        "{err}"
    );
    assert_eq!(c.metadata(&id).unwrap()["conversation_id"], before);
    assert!(c.messages(&id).unwrap().to_string().contains("\"kept\""));

    std::fs::remove_file(&conversations).unwrap();
    std::fs::rename(&aside, &conversations).unwrap();
    let new = c.new_conversation(&id).unwrap();
    assert_ne!(json!(new), before);
    // Created at once, so the new conversation is listed before anything is said in it.
    let listed = c.list_conversations().unwrap();
    assert!(listed.iter().any(|v| v["id"] == new.as_str()), "{listed:?}");
}

#[test]
fn listing_a_dead_store_is_an_error_not_an_empty_list() {
    let store = temp_store("deadlist");
    let c = stored_client(&store);
    let id = c
        .start_session(Some(r#"{"model": "scripted:echo"}"#))
        .unwrap();
    c.send_prompt(&id, text("x")).unwrap();
    turn_end(&c, &id);
    assert_eq!(c.list_conversations().unwrap().len(), 1);
    c.shutdown(Duration::from_secs(5)).unwrap();
    drop(c);
    let c = stored_client(&store);
    std::fs::remove_dir_all(&store).unwrap();
    assert!(matches!(c.list_conversations(), Err(Error::Io(_))));
    std::fs::create_dir_all(&store).unwrap();
    std::fs::write(store.join("conversations"), "not a directory").unwrap();
    assert!(matches!(c.list_conversations(), Err(Error::Io(_))));
    std::fs::remove_file(store.join("conversations")).unwrap();
    assert_eq!(c.list_conversations().unwrap(), Vec::<Value>::new());
}
