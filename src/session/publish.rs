//! Applying inputs to a session's state and publishing what they emit: the batch of changes is written to the
//! store before the events that follow it are published, and a batch of streaming inputs (deltas) is applied under
//! one lock of the state and published with one lock of the event stream.

use super::machine::journal::Batch;
use super::machine::state::{Effect, Input, Reply};
use super::{SharedPersister, SharedState};
use crate::events::bus::{EventBus, SessionLog};
use crate::events::{Payload, TurnEnd};
use crate::sync::lock;

/// Applies `input` to `state`, writes the batch of changes it returns, then publishes the resulting events (so a
/// host that hears of a turn's end can rely on it being stored); returns the reply, the effects left for the actor,
/// and when deferred deltas are due in a batch (monotonic ms).
pub fn apply_and_publish(
    state: &SharedState,
    log: &SessionLog,
    bus: &EventBus,
    persist: Option<&SharedPersister>,
    input: Input,
) -> (Reply, Vec<Effect>, Option<u64>) {
    apply_all(state, log, bus, persist, std::iter::once(input))
}

/// Applies `inputs` in order under one lock of the state, then executes their writes and publishes their events
/// in the same order as applying them one by one would (events are published together up to each write, and the
/// writes happen before the events after them). Returns the last input's reply, every input's effects left for the
/// actor (in order) and when deferred deltas are due.
pub fn apply_all(
    state: &SharedState,
    log: &SessionLog,
    bus: &EventBus,
    persist: Option<&SharedPersister>,
    inputs: impl IntoIterator<Item = Input>,
) -> (Reply, Vec<Effect>, Option<u64>) {
    let mut flush = false;
    let mut effects = Vec::new();
    let (reply, flush_at) = {
        let mut s = lock(state);
        let now = crate::time::now();
        let mut reply = Reply::Ok;
        for input in inputs {
            flush |= matches!(input, Input::Flush { .. });
            let (r, fx) = s.apply(input, now);
            reply = r;
            if effects.is_empty() {
                effects = fx;
            } else {
                effects.extend(fx);
            }
        }
        (reply, s.persist_deadline())
    };
    let mut wrote = false;
    // A turn's end that did not reach the store is reported as such, every time: the host must not take it as saved.
    let ends_turn = effects
        .iter()
        .any(|fx| matches!(fx, Effect::Emit(Payload::TurnEnded { .. })));
    let mut unsaved: Option<String> = None;
    let mut rest = Vec::new();
    let mut emits: Vec<Payload> = Vec::new();
    let mut scratch = Vec::new();
    for fx in effects {
        match fx {
            // The machine puts the batch first, so it is written before the events are published.
            Effect::Persist(batch) => {
                if let Some(p) = persist {
                    bus.publish_all(log, emits.drain(..), &mut scratch);
                    unsaved = write(log, bus, p, Some(&batch), !ends_turn);
                    wrote = true;
                }
            }
            Effect::Emit(Payload::TurnEnded { usage, .. }) if unsaved.is_some() => {
                let why = unsaved.take().unwrap_or_default();
                emits.push(Payload::Error {
                    message: format!(
                        "This turn could not be saved: {why}. It is kept in memory and saving is retried."
                    ),
                });
                emits.push(Payload::TurnEnded {
                    usage,
                    reason: TurnEnd::StorageError,
                });
            }
            Effect::Emit(payload) => emits.push(payload),
            other => rest.push(other),
        }
    }
    bus.publish_all(log, emits, &mut scratch);
    if flush && !wrote {
        if let Some(p) = persist {
            // Nothing new, but lines a failed write left behind are due.
            write(log, bus, p, None, true);
        }
    }
    (reply, rest, flush_at)
}

/// Writes `batch` (and whatever earlier writes left pending); a save that starts failing is reported as an `error`
/// event when `report` is set. Returns why the store is not up to date, `None` when everything is stored.
fn write(
    log: &SessionLog,
    bus: &EventBus,
    persist: &SharedPersister,
    batch: Option<&Batch>,
    report: bool,
) -> Option<String> {
    let mut p = lock(persist);
    if let Some(message) = p.save(batch) {
        if report {
            bus.publish(log, Payload::Error { message });
        }
    }
    if p.is_clean() {
        return None;
    }
    Some(
        p.failure()
            .unwrap_or("the store has not written it yet")
            .to_string(),
    )
}

/// Writes everything pending and makes it durable; returns whether everything is stored. Only the actor calls
/// this while it runs; the manager calls it when no actor does (before the first one is reachable, after the last
/// one stopped).
pub fn flush(
    state: &SharedState,
    log: &SessionLog,
    bus: &EventBus,
    persist: &SharedPersister,
) -> bool {
    apply_and_publish(
        state,
        log,
        bus,
        Some(persist),
        Input::Flush { durable: true },
    );
    lock(persist).is_clean()
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use super::*;
    use crate::events::Event;
    use crate::session::machine::state::{Command, Identity, SessionState};
    use crate::vocab::content::ContentPart;
    use crate::vocab::model::ProviderEvent;

    fn session() -> SharedState {
        let ident = Identity {
            id: "s".into(),
            model: "scripted:echo".into(),
            provider: "native".into(),
            ..Default::default()
        };
        Arc::new(Mutex::new(SessionState::new(ident, crate::time::now())))
    }

    /// A bus with pulling, a session's stream on it (its history holds 4096 events), and the session after a
    /// prompt started its first turn.
    fn prompted(queue: usize) -> (Arc<EventBus>, Arc<SessionLog>, SharedState) {
        let bus = EventBus::new(queue, 4096, true);
        let log = bus.new_log("s");
        let state = session();
        let prompt = vec![ContentPart::Text { text: "go".into() }];
        let input = Input::Command(Command::Prompt(prompt));
        apply_and_publish(&state, &log, &bus, None, input);
        (bus, log, state)
    }

    /// A turn's stream: 300 text deltas (with `thinking`, every 7th a thinking delta, so the text is spread over
    /// several messages), then the turn's end.
    fn stream(thinking: bool) -> Vec<Input> {
        let mut events = vec![ProviderEvent::AgentStart];
        for i in 0..300 {
            events.push(match i % 7 {
                0 if thinking => ProviderEvent::ThinkingDelta(format!("t{i} ")),
                _ => ProviderEvent::TextDelta(format!("w{i} ")),
            });
        }
        events.push(ProviderEvent::AgentEnd { usage: None });
        events
            .into_iter()
            .map(|event| Input::Provider { turn_id: 1, event })
            .collect()
    }

    /// Publishes `inputs` on a fresh session and bus, in batches of `batch` (1: one by one), and pulls everything
    /// the bus queued: (seq, session, payload) of each event and the transcript's JSON.
    fn run(
        batch: usize,
        queue: usize,
        thinking: bool,
    ) -> (Vec<(u64, Option<String>, Payload)>, serde_json::Value) {
        let (bus, log, state) = prompted(queue);
        let mut inputs = stream(thinking).into_iter().peekable();
        while inputs.peek().is_some() {
            let chunk: Vec<Input> = inputs.by_ref().take(batch).collect();
            apply_all(&state, &log, &bus, None, chunk);
        }
        let events: Vec<Arc<Event>> = bus.next_events(usize::MAX).unwrap();
        bus.shutdown();
        let transcript =
            serde_json::to_value(crate::session::read(&state).transcript().messages()).unwrap();
        (
            events
                .iter()
                .map(|e| {
                    (
                        e.seq,
                        e.session_id.as_deref().map(String::from),
                        e.payload.clone(),
                    )
                })
                .collect(),
            transcript,
        )
    }

    #[test]
    fn a_batch_publishes_the_same_events_with_the_same_sequence_numbers_as_one_by_one() {
        let (single, transcript) = run(1, 1 << 16, true);
        assert!(
            single.len() > 300,
            "every delta is an event: {}",
            single.len()
        );
        let seqs: Vec<u64> = single.iter().map(|(s, ..)| *s).collect();
        assert_eq!(seqs, (1..=single.len() as u64).collect::<Vec<_>>());
        for batch in [2, 7, 64, 256, 1000] {
            let (batched, t) = run(batch, 1 << 16, true);
            assert_eq!(batched, single, "batches of {batch}");
            assert_eq!(t, transcript, "batches of {batch}");
        }
    }

    #[test]
    fn a_batch_into_a_full_queue_coalesces_and_counts_drops_like_one_by_one() {
        for thinking in [false, true] {
            let (single, transcript) = run(1, 16, thinking);
            let (batched, t) = run(64, 16, thinking);
            assert_eq!(batched, single);
            assert_eq!(t, transcript);
            // Every event published is either delivered or counted in an events_dropped.
            let dropped: u64 = batched
                .iter()
                .map(|(_, _, p)| match p {
                    Payload::EventsDropped { count } => *count,
                    _ => 0,
                })
                .sum();
            let delivered = batched.iter().filter(|(_, s, _)| s.is_some()).count() as u64;
            let published = batched
                .iter()
                .filter_map(|(s, id, _)| id.as_ref().map(|_| *s))
                .max()
                .unwrap();
            assert!(dropped > 0, "a 16-event queue must coalesce 300 deltas");
            assert_eq!(delivered + dropped, published);
        }
        // Deltas of one message are merged, not lost: what reached the queue carries all of the text.
        let (batched, _) = run(64, 16, false);
        let text: String = batched
            .iter()
            .filter_map(|(_, _, p)| match p {
                Payload::TextDelta { delta, .. } => Some(delta.as_str()),
                _ => None,
            })
            .collect();
        let sent: String = (0..300).map(|i| format!("w{i} ")).collect();
        assert_eq!(text, sent);
    }

    #[test]
    fn a_turn_end_in_a_batch_is_published_after_the_deltas_before_it() {
        let (bus, log, state) = prompted(1024);
        bus.next_events(usize::MAX).unwrap();
        apply_all(&state, &log, &bus, None, stream(true));
        use crate::events::EventKind;
        let kinds: Vec<EventKind> = bus
            .next_events(usize::MAX)
            .unwrap()
            .iter()
            .map(|e| e.kind())
            .collect();
        let end = kinds
            .iter()
            .position(|k| *k == EventKind::TurnEnded)
            .expect("turn_ended");
        assert_eq!(end, kinds.len() - 1, "{kinds:?}");
        assert!(kinds[..end].contains(&EventKind::TextDelta));
        assert!(matches!(
            bus.next_event(Duration::ZERO),
            Err(crate::error::Error::Timeout(_))
        ));
        bus.shutdown();
    }
}
