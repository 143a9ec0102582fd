//! Unit tests of `SessionHandle`'s waiting for replies when the actor goes away.

use super::*;
use crate::session::machine::state::{Identity, SessionState};

fn handle() -> (SessionHandle, mailbox::Receiver<Msg>) {
    let (tx, rx) = mailbox::channel();
    let state = SessionState::new(
        Identity {
            id: "s".into(),
            ..Default::default()
        },
        crate::time::now(),
    );
    let h = SessionHandle {
        tx,
        state: Arc::new(std::sync::Mutex::new(state)),
        id: "s".into(),
        stopped: Arc::new(AtomicBool::new(true)),
    };
    (h, rx)
}

/// The state a send racing the actor's exit can leave (found by the TSan run of tests/c/test_sessions.c, where a
/// prompt racing a stop hung forever): the channel closed, the message and the reply sender in it never dropped,
/// and the handle keeping the channel alive. Waiting must end with "no such session", not block.
#[test]
fn a_reply_stuck_in_a_closed_channel_does_not_block_the_caller() {
    let (h, mut rx) = handle();
    let (tx, reply) = std::sync::mpsc::sync_channel(1);
    h.tx.send(Msg::Command(
        Command::Abort,
        Box::new(move |r| drop(tx.send(r))),
    ))
    .unwrap();
    rx.close(); // closed, but the message stays in the channel: like a drain that ran before it was linked
    let (done_tx, done) = std::sync::mpsc::channel();
    std::thread::spawn(move || done_tx.send(h.wait(reply).map(drop)));
    let result = done
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("wait blocked on a reply that can never come");
    assert!(matches!(result, Err(Error::NotFound(_))), "{result:?}");
    drop(rx);
}

/// A reply sent before the actor went away still counts after the channel closed.
#[test]
fn a_reply_sent_before_the_channel_closed_is_returned() {
    let (h, mut rx) = handle();
    let (tx, reply) = std::sync::mpsc::sync_channel(1);
    h.tx.send(Msg::Command(
        Command::Abort,
        Box::new(move |r| drop(tx.send(r))),
    ))
    .unwrap();
    match rx.try_recv() {
        Ok(Msg::Command(_, answer)) => answer(Reply::Ok),
        _ => panic!("the command is in the channel"),
    }
    rx.close();
    assert!(matches!(h.wait(reply), Ok(Reply::Ok)));
}
