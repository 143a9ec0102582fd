//! What the store must write, as the machine hands it to the persister: after each input, the changes it made as
//! journal entries rendered from the state (`Effect::Persist`), with streamed deltas deferred to at most one batch
//! a second. The persister only writes the batches; it never reads the state.

use super::conversations::JournalOp;
use super::inputs::Effect;
use super::state::{Now, SessionState};
use crate::store::record::{Entry, Meta, StoredBranch, StoredMessage};

/// How long streamed text may wait in memory before it is written (ms).
pub(crate) const STREAM_FLUSH_MS: u64 = 1000;

/// How urgently the changes of an input must reach the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// A streaming delta: in a batch at most once per [`STREAM_FLUSH_MS`].
    Lazy,
    /// In a batch now.
    Now,
    /// In a batch now, made durable (under the `turn` policy): a turn ended, or a change was made outside a turn.
    Durable,
}

/// The journal lines for the changes since the last batch: structural operations first, then every changed message
/// as it reads now, then the summary. Replaying them turns the stored transcript into the current one.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// Structural entries and changed messages, in write order.
    pub entries: Vec<Entry>,
    /// The summary line closing the batch.
    pub meta: Meta,
    /// The session's model, provider and workdir at start, for the header of a journal not yet created.
    pub origin: Origin,
    /// Whether the batch must be durable before its events are published.
    pub durable: bool,
}

/// What a new journal's header records about the session that creates it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// `provider:model` at start.
    pub model: String,
    /// Provider kind at start.
    pub provider: String,
    /// Workdir.
    pub workdir: Option<String>,
}

/// The machine's side of persistence: whether it is on, and when the last batch went out.
#[derive(Debug, Clone, Default)]
pub struct JournalClock {
    enabled: bool,
    /// Monotonic ms of the last batch.
    last_batch_ms: u64,
    /// Monotonic ms since which deltas wait for a batch.
    deferred_since_ms: Option<u64>,
    /// The summary of the last batch (an input that changes nothing needs none).
    last_meta: Option<Meta>,
}

impl SessionState {
    /// Turns persistence on: from now on each input's changes come back as an `Effect::Persist` batch. Changes made
    /// before (at start and restore) go out with the first batch.
    pub fn enable_persistence(&mut self, now: Now) {
        self.journal.enabled = true;
        self.journal.last_batch_ms = now.mono_ms;
    }

    /// When deferred deltas are due in a batch (monotonic ms; the actor sends `Input::Flush` then).
    pub fn persist_deadline(&self) -> Option<u64> {
        self.journal
            .deferred_since_ms
            .map(|t| t.saturating_add(STREAM_FLUSH_MS))
    }

    /// The next batch starts a journal of its own: the conversation changed.
    pub(super) fn journal_switched(&mut self) {
        self.journal.last_meta = None;
    }

    /// Adds the batch of the changes made so far, as `when` asks, in front of the input's effects (the actor
    /// writes it before it publishes the input's events).
    pub(super) fn persist(&mut self, when: When, now: Now, fx: &mut Vec<Effect>) {
        if !self.journal.enabled {
            return;
        }
        let pending = !self.journal_ops.is_empty() || self.transcript.has_dirty();
        // Decided before the summary is built: deltas arrive by the thousand and most are deferred.
        if when == When::Lazy
            && now.mono_ms < self.journal.last_batch_ms.saturating_add(STREAM_FLUSH_MS)
        {
            if pending {
                self.journal.deferred_since_ms.get_or_insert(now.mono_ms);
            }
            return;
        }
        // Nothing waits after this step, whether a batch goes out or there is nothing to write: a deadline left in
        // the past would wake the actor again and again.
        self.journal.deferred_since_ms = None;
        let meta = self.journal_meta();
        if !pending && self.journal.last_meta.as_ref() == Some(&meta) {
            return;
        }
        let entries = self.take_entries();
        self.journal.last_meta = Some(meta.clone());
        self.journal.last_batch_ms = now.mono_ms;
        let origin = Origin {
            model: self.ident.model.clone(),
            provider: self.ident.provider.clone(),
            workdir: self.ident.workdir.clone(),
        };
        let batch = Batch {
            entries,
            meta,
            origin,
            durable: when == When::Durable,
        };
        fx.insert(0, Effect::Persist(Box::new(batch)));
    }

    fn take_entries(&mut self) -> Vec<Entry> {
        let mut out = Vec::new();
        for op in std::mem::take(&mut self.journal_ops) {
            out.push(match op {
                JournalOp::Touched(path) => match self.touched(&path) {
                    Some(t) => Entry::Touched(t.to_stored()),
                    None => continue,
                },
                JournalOp::Branch(i) => match self.branches.get(i) {
                    Some(b) => Entry::Branch(StoredBranch {
                        name: b.name.clone(),
                        created_at_ms: b.created_at_ms,
                        messages: b.messages.iter().map(StoredMessage::from).collect(),
                    }),
                    None => continue,
                },
                JournalOp::Truncate { after_id } => Entry::Truncate { after_id },
                JournalOp::Switch(number) => Entry::Switch { number },
            });
        }
        for id in self.transcript.take_dirty() {
            if let Some(m) = self.transcript.get(id) {
                out.push(Entry::Msg(StoredMessage::from(m)));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::machine::state::{Command, Identity, Input};
    use crate::vocab::content::ContentPart;
    use crate::vocab::model::ProviderEvent;

    fn at(mono_ms: u64) -> Now {
        Now {
            wall_ms: 1_795_215_165_000 + mono_ms,
            mono_ms,
        }
    }

    fn batches(fx: &[Effect]) -> Vec<&Batch> {
        fx.iter()
            .filter_map(|e| match e {
                Effect::Persist(b) => Some(&**b),
                _ => None,
            })
            .collect()
    }

    fn persisting() -> SessionState {
        let ident = Identity {
            id: "s".into(),
            model: "scripted:demo".into(),
            provider: "native".into(),
            ..Default::default()
        };
        let mut s = SessionState::new(ident, at(0));
        s.enable_persistence(at(0));
        s
    }

    #[test]
    fn nothing_is_persisted_until_persistence_is_on() {
        let mut s = SessionState::new(Identity::default(), at(0));
        let (_, fx) = s.apply(Input::Flush { durable: true }, at(5));
        assert!(batches(&fx).is_empty());
    }

    #[test]
    fn a_prompt_comes_back_as_a_batch_before_its_events_and_deltas_wait_a_second() {
        let mut s = persisting();
        let prompt = Command::Prompt(vec![ContentPart::Text { text: "hi".into() }]);
        let (_, fx) = s.apply(Input::Command(prompt), at(10));
        assert!(matches!(fx.first(), Some(Effect::Persist(_))), "{fx:?}");
        let b = batches(&fx)[0];
        // The "Session started" notice and the prompt; a turn runs, so it is not made durable yet.
        assert_eq!(b.entries.len(), 2);
        assert!(!b.durable);
        assert_eq!(b.origin.model, "scripted:demo");

        let delta = |text: &str| Input::Provider {
            turn_id: 1,
            event: ProviderEvent::TextDelta(text.into()),
        };
        s.apply(
            Input::Provider {
                turn_id: 1,
                event: ProviderEvent::AgentStart,
            },
            at(20),
        );
        let (_, fx) = s.apply(delta("a"), at(30));
        assert!(batches(&fx).is_empty());
        assert_eq!(s.persist_deadline(), Some(30 + STREAM_FLUSH_MS));
        let (_, fx) = s.apply(delta("b"), at(40));
        assert!(batches(&fx).is_empty());
        let (_, fx) = s.apply(Input::Flush { durable: false }, at(1030));
        assert_eq!(batches(&fx).len(), 1);
        assert_eq!(s.persist_deadline(), None);

        let (_, fx) = s.apply(
            Input::Provider {
                turn_id: 1,
                event: ProviderEvent::AgentEnd { usage: None },
            },
            at(1040),
        );
        assert!(batches(&fx)[0].durable, "a turn's end is durable");
        let (_, fx) = s.apply(Input::Flush { durable: true }, at(1050));
        assert!(batches(&fx).is_empty(), "nothing changed since");
    }
}
