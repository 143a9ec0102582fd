//! What a full queue may do with a payload: drop it, let the state it announces stand for it, or merge it into
//! the next one of the same message.

use super::Payload;

impl Payload {
    /// Whether a full queue may drop this event. Turn ends, approvals, status changes, errors, tool boundaries and
    /// lifecycle events are never dropped.
    pub fn droppable(&self) -> bool {
        matches!(
            self,
            Payload::TextDelta { .. }
                | Payload::ThinkingDelta { .. }
                | Payload::ToolUpdate { .. }
                | Payload::MessagesChanged
                | Payload::ContextUsage { .. }
        )
    }

    /// Whether merging this event away loses nothing a host cannot get back by querying state (it is a pure
    /// notification, or a partial result that a newer one replaces).
    pub fn superseded_by_state(&self) -> bool {
        matches!(
            self,
            Payload::MessagesChanged | Payload::ContextUsage { .. }
        )
    }

    /// Merges `next` into `self` when both are deltas of the same message; returns whether it did.
    pub fn coalesce(&mut self, next: &Payload) -> bool {
        match (self, next) {
            (
                Payload::TextDelta {
                    message_id: a,
                    delta,
                },
                Payload::TextDelta {
                    message_id: b,
                    delta: more,
                },
            )
            | (
                Payload::ThinkingDelta {
                    message_id: a,
                    delta,
                },
                Payload::ThinkingDelta {
                    message_id: b,
                    delta: more,
                },
            ) if a == b => {
                delta.push_str(more);
                true
            }
            (
                Payload::ToolUpdate {
                    tool_call_id: a,
                    partial_result,
                    ..
                },
                Payload::ToolUpdate {
                    tool_call_id: b,
                    partial_result: newer,
                    ..
                },
            ) if a == b => {
                partial_result.clone_from(newer);
                true
            }
            (Payload::MessagesChanged, Payload::MessagesChanged) => true,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::TurnEnd;
    use super::*;

    #[test]
    fn deltas_coalesce_only_within_one_message() {
        let mut a = Payload::TextDelta {
            message_id: 1,
            delta: "a".into(),
        };
        assert!(a.coalesce(&Payload::TextDelta {
            message_id: 1,
            delta: "b".into()
        }));
        assert_eq!(
            a,
            Payload::TextDelta {
                message_id: 1,
                delta: "ab".into()
            }
        );
        assert!(!a.coalesce(&Payload::TextDelta {
            message_id: 2,
            delta: "c".into()
        }));
        assert!(!a.coalesce(&Payload::ThinkingDelta {
            message_id: 1,
            delta: "c".into()
        }));
        let mut end = Payload::TurnEnded {
            usage: None,
            reason: TurnEnd::Completed,
        };
        assert!(!end.coalesce(&end.clone()));
        assert!(!end.droppable());
    }
}
