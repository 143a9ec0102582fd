//! The transcript: the session's messages with stable IDs, and what changed since the store last wrote.

pub use crate::vocab::content::{
    parse_parts, parts_text, Attachment, Body, Compaction, ContentPart, Level, Message, ToolStatus,
    Usage,
};

/// The ordered list of messages and the next ID to hand out.
///
/// It remembers which messages changed since [`Transcript::take_dirty`] was last called, so the store writes only
/// what a turn changed rather than the whole conversation.
#[derive(Debug, Clone)]
pub struct Transcript {
    messages: Vec<Message>,
    next_id: u64,
    dirty: std::collections::BTreeSet<u64>,
    /// The lowest position whose message changed, or was removed, since [`Transcript::take_changed_from`] was last
    /// called (appending changes no position before it): the kept model context is valid up to there.
    changed_from: usize,
}

impl PartialEq for Transcript {
    /// Equal messages, IDs and store bookkeeping; the context bookkeeping is not part of the content.
    fn eq(&self, other: &Self) -> bool {
        self.messages == other.messages
            && self.next_id == other.next_id
            && self.dirty == other.dirty
    }
}

impl Default for Transcript {
    fn default() -> Self {
        Transcript {
            messages: Vec::new(),
            next_id: 1,
            dirty: Default::default(),
            changed_from: 0,
        }
    }
}

impl Transcript {
    /// Appends `body` and returns its new ID.
    pub fn push(&mut self, body: Body) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.messages.push(Message { id, body });
        self.dirty.insert(id);
        id
    }

    /// IDs of the messages appended or changed since the last call (some may have been cut off since).
    pub fn take_dirty(&mut self) -> std::collections::BTreeSet<u64> {
        std::mem::take(&mut self.dirty)
    }

    /// Whether any message changed since [`Transcript::take_dirty`] was last called.
    pub fn has_dirty(&self) -> bool {
        !self.dirty.is_empty()
    }

    /// The lowest position whose message changed or was removed since the last call (the length when none did:
    /// only appends since), and starts over. The kept model context (`context::Kept`) uses it.
    pub fn take_changed_from(&mut self) -> usize {
        std::mem::replace(&mut self.changed_from, usize::MAX).min(self.messages.len())
    }

    /// Message `id`, if present.
    pub fn get(&self, id: u64) -> Option<&Message> {
        self.position(id).map(|i| &self.messages[i])
    }

    /// The ID the next pushed message gets.
    pub fn next_id(&self) -> u64 {
        self.next_id
    }

    /// A transcript restored from the store: `messages` keep their IDs and none is dirty.
    pub fn restored(messages: Vec<Message>, next_id: u64) -> Transcript {
        let max = messages.iter().map(|m| m.id).max().unwrap_or(0);
        Transcript {
            messages,
            next_id: next_id.max(max + 1),
            dirty: Default::default(),
            changed_from: 0,
        }
    }

    /// All messages, oldest first.
    pub fn messages(&self) -> &[Message] {
        &self.messages
    }

    /// The newest message if `pred` accepts it (then it is marked changed).
    pub fn last_mut_if(&mut self, pred: impl Fn(&Body) -> bool) -> Option<&mut Message> {
        let at = self.messages.len().saturating_sub(1);
        let last = self.messages.last_mut().filter(|m| pred(&m.body))?;
        self.dirty.insert(last.id);
        self.changed_from = self.changed_from.min(at);
        Some(last)
    }

    /// Calls `f` on every message's content; `f` returns whether it changed the message, and only those are
    /// marked changed.
    pub fn update_each(&mut self, mut f: impl FnMut(&mut Body) -> bool) {
        for (i, m) in self.messages.iter_mut().enumerate() {
            if f(&mut m.body) {
                self.dirty.insert(m.id);
                self.changed_from = self.changed_from.min(i);
            }
        }
    }

    /// The newest tool call with `tool_call_id` (marked changed).
    pub fn tool_call_mut(&mut self, tool_call_id: &str) -> Option<&mut Body> {
        self.tool_call_with_id_mut(tool_call_id)
            .map(|(_, body)| body)
    }

    /// Like [`Transcript::tool_call_mut`], with the message's ID.
    pub fn tool_call_with_id_mut(&mut self, tool_call_id: &str) -> Option<(u64, &mut Body)> {
        let i = self.messages.iter().rposition(
            |m| matches!(&m.body, Body::ToolCall { tool_call_id: t, .. } if t == tool_call_id),
        )?;
        self.changed_from = self.changed_from.min(i);
        let m = &mut self.messages[i];
        self.dirty.insert(m.id);
        Some((m.id, &mut m.body))
    }

    /// Number of messages.
    pub fn len(&self) -> usize {
        self.messages.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// Position of message `id`.
    pub fn position(&self, id: u64) -> Option<usize> {
        self.messages.binary_search_by_key(&id, |m| m.id).ok()
    }

    /// Mutable access to message `id`'s content (marked changed).
    pub fn body_mut(&mut self, id: u64) -> Option<&mut Body> {
        let i = self.position(id)?;
        self.dirty.insert(id);
        self.changed_from = self.changed_from.min(i);
        Some(&mut self.messages[i].body)
    }

    /// Keeps the first `len` messages (IDs already handed out are never reused).
    pub fn truncate(&mut self, len: usize) {
        self.messages.truncate(len);
        self.changed_from = self.changed_from.min(len);
    }

    /// Replaces the messages, keeping their IDs; later messages get IDs above every ID seen so far.
    pub fn replace(&mut self, messages: Vec<Message>) {
        let max = messages.iter().map(|m| m.id).max().unwrap_or(0);
        self.next_id = self.next_id.max(max + 1);
        self.messages = messages;
        self.changed_from = 0;
    }

    /// Up to `limit` messages with IDs below `before_id` (0 = from the newest), newest first.
    pub fn page(&self, before_id: u64, limit: usize) -> (Vec<&Message>, bool) {
        let end = if before_id == 0 {
            self.messages.len()
        } else {
            self.messages.partition_point(|m| m.id < before_id)
        };
        let start = end.saturating_sub(limit);
        (self.messages[start..end].iter().rev().collect(), start > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    #[test]
    fn ids_are_stable_and_increasing() {
        let mut t = Transcript::default();
        assert_eq!(t.push(Body::system("a", Level::Info)), 1);
        assert_eq!(t.push(Body::Assistant { text: "x".into() }), 2);
        if let Some(Message {
            body: Body::Assistant { text },
            id,
        }) = t.last_mut_if(|b| matches!(b, Body::Assistant { .. }))
        {
            text.push('y');
            assert_eq!(*id, 2);
        }
        assert_eq!(t.push(Body::system("b", Level::Error)), 3);
        let json = serde_json::to_value(t.messages()).unwrap();
        assert_eq!(
            json[1],
            serde_json::json!({"id": 2, "kind": "assistant", "text": "xy"})
        );
        assert_eq!(json[2]["level"], "error");
    }

    #[test]
    fn only_changed_messages_are_marked_for_the_store() {
        let mut t = Transcript::default();
        let user = t.push(Body::system("prompt", Level::Info));
        assert_eq!(t.take_dirty().into_iter().collect::<Vec<_>>(), vec![user]);
        // A delta looking for an assistant message does not touch the prompt before it.
        assert!(t
            .last_mut_if(|b| matches!(b, Body::Assistant { .. }))
            .is_none());
        t.update_each(|_| false);
        assert!(t.take_dirty().is_empty());
        let answer = t.push(Body::Assistant { text: "a".into() });
        t.take_dirty();
        if let Some(m) = t.last_mut_if(|b| matches!(b, Body::Assistant { .. })) {
            assert_eq!(m.id, answer);
        }
        assert_eq!(t.take_dirty().into_iter().collect::<Vec<_>>(), vec![answer]);
        let restored = Transcript::restored(t.messages().to_vec(), 1);
        assert_eq!(restored.next_id(), answer + 1);
    }

    #[test]
    fn pages_are_newest_first_windows() {
        let mut t = Transcript::default();
        for i in 0..10 {
            t.push(Body::system(format!("{i}"), Level::Info));
        }
        let (page, more) = t.page(0, 3);
        assert_eq!(
            page.iter().map(|m| m.id).collect::<Vec<_>>(),
            vec![10, 9, 8]
        );
        assert!(more);
        let (page, more) = t.page(3, 5);
        assert_eq!(page.iter().map(|m| m.id).collect::<Vec<_>>(), vec![2, 1]);
        assert!(!more);
        assert!(t.page(1, 5).0.is_empty());
    }

    #[test]
    fn parts_are_validated() {
        assert!(parse_parts("[]").is_err());
        assert!(matches!(
            parse_parts("[{\"type\":\"text\"}]"),
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            parse_parts("[{\"type\":\"text\",\"text\":1"),
            Err(Error::InvalidJson(..))
        ));
        assert!(
            parse_parts(r#"[{"type":"image","media_type":"image/png","data":"%%%"}]"#).is_err()
        );
        let p = parse_parts(r#"[{"type":"text","text":"hi "},{"type":"image","media_type":"image/png","data":"aGVsbG8="}]"#)
            .unwrap();
        match Body::user(p) {
            Body::User {
                text, attachments, ..
            } => {
                assert_eq!(text, "hi ");
                assert_eq!(
                    attachments,
                    vec![Attachment {
                        media_type: "image/png".into(),
                        size_bytes: 5
                    }]
                );
            }
            b => panic!("{b:?}"),
        }
    }
}
