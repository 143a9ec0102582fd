//! Tests of the store: journal replay (puts, truncation, branches), repair, listing from the tail, locks.

use super::journal::replay;
use super::record::{line, Entry, Header, Meta, StoredBranch, StoredMessage, FORMAT_VERSION};
use super::*;
use crate::vocab::content::{Body, Level, Message, Usage};

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "tandem-store-{name}-{}-{}",
        std::process::id(),
        crate::time::mono_ms()
    ));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn header(id: &str) -> Header {
    Header {
        version: FORMAT_VERSION,
        conversation_id: id.into(),
        session_id: "s".into(),
        token: "t".into(),
        created_at: crate::time::rfc3339(1_000),
        model: "scripted:echo".into(),
        provider: "native".into(),
        workdir: None,
        title: None,
    }
}

fn msg(id: u64, text: &str) -> Entry {
    Entry::Msg(StoredMessage::from(&Message {
        id,
        body: Body::system(text, Level::Info),
    }))
}

fn meta(count: usize, last: u64) -> Entry {
    Entry::Meta(Meta {
        title: Some(format!("t{count}")),
        model: "m".into(),
        usage: Usage {
            cost: 1.5,
            ..Default::default()
        },
        message_count: count,
        turn_count: 1,
        last_message_at_ms: last,
        turn_active: false,
        next_id: count as u64 + 1,
    })
}

fn texts(messages: &[Message]) -> Vec<String> {
    messages
        .iter()
        .map(|m| match &m.body {
            Body::System { text, .. } => text.clone(),
            other => format!("{other:?}"),
        })
        .collect()
}

fn bytes(entries: &[Entry]) -> Vec<u8> {
    entries.iter().flat_map(line).collect()
}

#[test]
fn replay_applies_puts_truncation_branches_and_switches() {
    let b = bytes(&[
        Entry::Header(header("c")),
        msg(1, "a"),
        msg(2, "b"),
        msg(2, "b2"),
        msg(3, "c"),
        Entry::Branch(StoredBranch {
            name: "branch-1".into(),
            created_at_ms: 5,
            messages: vec![],
        }),
        Entry::Truncate { after_id: 2 },
        msg(4, "d"),
        Entry::Switch { number: 1 },
        msg(1, "x"),
    ]);
    let (r, len) = replay(&b, Path::new("c.jsonl")).unwrap();
    assert_eq!(len, b.len() as u64);
    assert_eq!(texts(&r.messages), vec!["x"]);
    assert_eq!(r.branches.len(), 1);
    let without_switch: Vec<u8> = bytes(&[
        Entry::Header(header("c")),
        msg(1, "a"),
        msg(3, "c"),
        msg(2, "b"),
        Entry::Truncate { after_id: 2 },
        msg(4, "d"),
    ]);
    let (r, _) = replay(&without_switch, Path::new("c.jsonl")).unwrap();
    assert_eq!(texts(&r.messages), vec!["a", "b", "d"]);
    assert_eq!((r.skipped, r.repaired_bytes), (0, 0));
}

#[test]
fn replay_repairs_tails_and_counts_corrupt_middles() {
    let good = bytes(&[Entry::Header(header("c")), msg(1, "a")]);
    let mut b = good.clone();
    b.extend_from_slice(b"not json\n");
    b.extend(line(&msg(2, "b")));
    let good_len = b.len() as u64;
    b.extend_from_slice(b"{\"msg\":\n{\"ms");
    let (r, len) = replay(&b, Path::new("c.jsonl")).unwrap();
    assert_eq!(texts(&r.messages), vec!["a", "b"]);
    assert_eq!(r.skipped, 1);
    assert_eq!(len, good_len);
    assert_eq!(r.repaired_bytes, b.len() as u64 - good_len);
    // Without a header the file is not a conversation.
    assert!(replay(b"{\"msg\":{}}\n", Path::new("x")).is_err());
    assert!(replay(b"", Path::new("x")).is_err());
}

#[test]
fn open_cuts_the_file_back_and_appends_after_complete_lines() {
    let d = dir("open");
    let store = Store::new(d.clone(), FsyncPolicy::Always);
    let mut j = store.create_journal(&header("conv-1")).unwrap();
    j.append(&line(&msg(1, "a")), true).unwrap();
    drop(j);
    let path = store.conversation_path("conv-1").unwrap();
    let mut raw = std::fs::read(&path).unwrap();
    let clean = raw.len() as u64;
    raw.extend_from_slice(b"{\"msg\":{\"id\":2");
    std::fs::write(&path, &raw).unwrap();
    let (mut j, r) = store.open_journal("conv-1").unwrap();
    assert_eq!(r.repaired_bytes, 14);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), clean);
    j.append(&line(&msg(2, "b")), true).unwrap();
    drop(j);
    let (_, r) = store.open_journal("conv-1").unwrap();
    assert_eq!(texts(&r.messages), vec!["a", "b"]);
    assert_eq!(r.repaired_bytes, 0);
}

#[test]
fn one_writer_per_conversation_and_session() {
    let d = dir("locks");
    let store = Store::new(d.clone(), FsyncPolicy::Turn);
    let j = store.create_journal(&header("c1")).unwrap();
    assert!(matches!(store.open_journal("c1"), Err(Error::Busy(_))));
    assert!(matches!(store.delete("c1"), Err(Error::Busy(_))));
    drop(j);
    assert!(store.open_journal("c1").is_ok());
    let l = store.lock_session("s1").unwrap();
    assert!(matches!(store.lock_session("s1"), Err(Error::Busy(_))));
    drop(l);
    assert!(store.lock_session("s1").is_ok());
    assert!(matches!(
        store.open_journal("nope"),
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        store.open_journal("../c1"),
        Err(Error::InvalidArgument(_))
    ));
}

#[test]
fn session_records_are_replaced_atomically_and_checked() {
    let d = dir("records");
    let store = Store::new(d.clone(), FsyncPolicy::Turn);
    assert_eq!(store.session_record("s").unwrap(), None);
    let rec = SessionRecord {
        session_id: "s".into(),
        token: "tok".into(),
        token_issued_ms: Some(1_700_000_000_000),
        conversation_id: "c".into(),
        options: serde_json::json!({"model": "scripted:echo", "workdir": "/w"})
            .as_object()
            .cloned(),
    };
    store.save_session_record(&rec).unwrap();
    assert_eq!(store.session_record("s").unwrap(), Some(rec.clone()));
    assert!(store.has_session("s"));
    assert!(!d.join("sessions/s.json.tmp").exists());
    std::fs::write(d.join("sessions/t.json"), serde_json::to_vec(&rec).unwrap()).unwrap();
    assert!(
        store.session_record("t").is_err(),
        "a record naming another session"
    );
    std::fs::write(d.join("sessions/u.json"), "{").unwrap();
    assert!(store.session_record("u").is_err());
}

#[test]
fn listing_reads_the_newest_meta_even_far_from_the_end_and_sorts_newest_first() {
    let d = dir("list");
    let store = Store::new(d.clone(), FsyncPolicy::Never);
    let mut old = store.create_journal(&header("old")).unwrap();
    old.append(&bytes(&[msg(1, "a"), meta(1, 10_000)]), false)
        .unwrap();
    let mut new = store.create_journal(&header("new")).unwrap();
    // The last meta line is followed by 100 KB of messages: the tail window has to grow to find it.
    let mut b = bytes(&[msg(1, "a"), meta(7, 20_000)]);
    b.extend(line(&msg(2, &"y".repeat(100_000))));
    new.append(&b, false).unwrap();
    std::fs::write(d.join("conversations/junk.jsonl"), "garbage").unwrap();
    let list = store.list().unwrap();
    assert_eq!(list.len(), 2, "{list:#?}");
    assert_eq!(list[0]["id"], "new");
    assert_eq!(list[0]["message_count"], 7);
    assert_eq!(list[0]["title"], "t7");
    assert_eq!(list[0]["cost"], 1.5);
    assert_eq!(list[0]["last_message_at"], crate::time::rfc3339(20_000));
    assert_eq!(list[1]["id"], "old");
    assert_eq!(list[1]["created_at"], crate::time::rfc3339(1_000));
    // A store with no conversations yet lists none; a store that is gone is an error, not an empty list (the
    // client creates its store when it starts, so a missing one died since).
    let empty = dir("empty");
    std::fs::create_dir_all(&empty).unwrap();
    assert!(Store::new(empty, FsyncPolicy::Turn)
        .list()
        .unwrap()
        .is_empty());
    let gone = dir("missing");
    let _ = std::fs::remove_dir_all(&gone);
    assert!(matches!(
        Store::new(gone, FsyncPolicy::Turn).list(),
        Err(Error::Io(_))
    ));
}

#[test]
fn conversation_ids_are_unique_and_valid() {
    let a = new_conversation_id(1_795_215_165_000).unwrap();
    let b = new_conversation_id(1_795_215_165_000).unwrap();
    assert_ne!(a, b);
    assert!(a.starts_with("20261120T225245Z-"));
    crate::ids::validate_id("conversation id", &a).unwrap();
}

#[test]
fn a_journal_is_not_created_twice() {
    let d = dir("twice");
    let store = Store::new(d, FsyncPolicy::Turn);
    let _j = store.create_journal(&header("c")).unwrap();
    assert!(matches!(
        store.create_journal(&header("c")),
        Err(Error::Io(_))
    ));
}
