//! A connection's writer task: responses in the order the request loop made them, then the attached session's live
//! events from the outbox after the catch-up's floor, filling any gap from the session's history so that a client
//! sees every seq exactly once (or an `events_dropped` marker with the cursor to resume from).

use std::sync::{Arc, Weak};

use futures_util::{Sink, SinkExt};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use super::conn::Out;
use super::outbox::{Item, Outbox};
use super::rpc;
use crate::client::Client;
use crate::events::Event;

/// Writes until the request loop is gone (its sender dropped), a close was asked for, or the peer is unreachable.
pub async fn run<S>(
    mut sink: S,
    mut rx: mpsc::Receiver<Out>,
    outbox: Arc<Outbox>,
    client: Weak<Client>,
    ping: std::time::Duration,
) where
    S: Sink<Message, Error = WsError> + Unpin,
{
    // The newest seq the client has been sent (or had before the catch-up).
    let mut last = 0u64;
    let mut pings = tokio::time::interval_at(tokio::time::Instant::now() + ping, ping);
    pings.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            m = rx.recv() => match m {
                None => break,
                Some(Out::Frame(f)) => {
                    if sink.send(Message::text(f)).await.is_err() {
                        return;
                    }
                }
                Some(Out::Resume { floor }) => {
                    last = floor;
                    outbox.resume();
                }
                Some(Out::Close(code, reason)) => {
                    let frame = CloseFrame { code, reason: reason.into() };
                    let _ = sink.send(Message::Close(Some(frame))).await;
                    return;
                }
            },
            () = outbox.notified() => {}
            _ = pings.tick() => {
                if sink.send(Message::Ping(Default::default())).await.is_err() {
                    return;
                }
            }
        }
        if !drain(&mut sink, &outbox, &client, &mut last).await {
            return;
        }
    }
    let _ = sink.close().await;
}

/// Sends everything the outbox holds; false when the peer cannot be written to.
async fn drain<S>(sink: &mut S, outbox: &Outbox, client: &Weak<Client>, last: &mut u64) -> bool
where
    S: Sink<Message, Error = WsError> + Unpin,
{
    let mut wrote = false;
    while let Some(item) = outbox.pop() {
        let frame = match item {
            Item::Note(f) => f,
            Item::Dropped => rpc::notification("events_dropped", &json!({"resume_from": *last})),
            Item::Event { event, first, json } => {
                if event.seq <= *last {
                    continue;
                }
                if first > *last + 1 {
                    match gap(client, &event, *last, first) {
                        Some(missing) => {
                            for e in missing {
                                if sink
                                    .feed(Message::text(rpc::notification("event", &e)))
                                    .await
                                    .is_err()
                                {
                                    return false;
                                }
                            }
                        }
                        None => {
                            outbox.overflow();
                            continue;
                        }
                    }
                }
                *last = event.seq;
                match json {
                    Some(j) => rpc::notification_raw("event", &j),
                    None => rpc::notification("event", &merged(&event, first)),
                }
            }
        };
        wrote = true;
        if sink.feed(Message::text(frame)).await.is_err() {
            return false;
        }
    }
    !wrote || sink.flush().await.is_ok()
}

/// A merged event's JSON: its newest seq, with `coalesced_from` the oldest seq it covers.
fn merged(event: &Event, first: u64) -> Value {
    let mut v = event.to_value();
    if first != event.seq {
        if let Value::Object(o) = &mut v {
            o.insert("coalesced_from".into(), json!(first));
        }
    }
    v
}

/// The events after `last` and before `first` from the session's history (the dispatcher dropped them on the way);
/// `None` when the history no longer holds them all.
fn gap(client: &Weak<Client>, event: &Event, last: u64, first: u64) -> Option<Vec<Value>> {
    let client = client.upgrade()?;
    let since = client
        .events_since(event.session_id.as_deref()?, last)
        .ok()?;
    if since.truncated {
        return None;
    }
    let missing: Vec<Value> = since
        .events
        .into_iter()
        .filter(|e| e["seq"].as_u64().is_some_and(|s| s < first))
        .collect();
    (missing.len() as u64 == first - last - 1).then_some(missing)
}
