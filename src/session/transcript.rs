//! The transcript: messages with stable IDs, content parts, usage, and the JSON shapes hosts see.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};

/// Token and cost accounting for a turn or a session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Usage {
    /// Input tokens.
    #[serde(default)]
    pub input: u64,
    /// Output tokens.
    #[serde(default)]
    pub output: u64,
    /// Tokens read from the prompt cache.
    #[serde(default)]
    pub cache_read: u64,
    /// Tokens written to the prompt cache.
    #[serde(default)]
    pub cache_write: u64,
    /// Cost in USD.
    #[serde(default)]
    pub cost: f64,
}

impl Usage {
    /// Adds `other` field by field.
    pub fn add(&mut self, other: &Usage) {
        self.input += other.input;
        self.output += other.output;
        self.cache_read += other.cache_read;
        self.cache_write += other.cache_write;
        self.cost += other.cost;
    }
}

/// One part of a prompt: text or a base64 image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ContentPart {
    /// Plain text.
    Text {
        /// The text.
        text: String,
    },
    /// An image, base64-encoded.
    Image {
        /// MIME type, e.g. `image/png`.
        media_type: String,
        /// Base64 data.
        data: String,
    },
}

/// Parses and validates a JSON array of content parts (at least one; images need an `image/*` type and base64 data).
pub fn parse_parts(json: &str) -> Result<Vec<ContentPart>> {
    let parts: Vec<ContentPart> = Error::parse_json("parts_json", json)?;
    if parts.is_empty() {
        return Err(Error::invalid(
            "parts_json must contain at least one content part",
        ));
    }
    for p in &parts {
        if let ContentPart::Image { media_type, data } = p {
            if !media_type.starts_with("image/") {
                return Err(Error::invalid(format!(
                    "image media_type must be image/*, got {media_type:?}"
                )));
            }
            use base64::Engine;
            base64::engine::general_purpose::STANDARD
                .decode(data)
                .map_err(|e| Error::invalid(format!("image data is not valid base64: {e}")))?;
        }
    }
    Ok(parts)
}

/// The text of a list of parts: its text parts, concatenated.
pub fn parts_text(parts: &[ContentPart]) -> String {
    parts
        .iter()
        .filter_map(|p| match p {
            ContentPart::Text { text } => Some(text.as_str()),
            ContentPart::Image { .. } => None,
        })
        .collect()
}

/// Metadata of an image attached to a user message (the data stays out of transcript JSON).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attachment {
    /// MIME type.
    pub media_type: String,
    /// Decoded size in bytes.
    pub size_bytes: u64,
}

/// Lifecycle of a tool call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolStatus {
    /// Proposed by the model, not started yet: waiting for the session's gate (approval, plan mode, trust).
    Pending,
    /// Still executing.
    Running,
    /// Finished successfully.
    Complete,
    /// Failed, was refused, or was aborted.
    Error,
}

impl ToolStatus {
    /// Whether the call has no result yet (pending or running): such a call is aborted when its turn is cut off.
    pub fn is_open(self) -> bool {
        matches!(self, ToolStatus::Pending | ToolStatus::Running)
    }
}

/// Severity of a system message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Informational.
    Info,
    /// An error.
    Error,
}

/// A transcript entry's content. The JSON tag `kind` is the snake_case variant name.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Body {
    /// A prompt from the user.
    User {
        /// The text parts, concatenated.
        text: String,
        /// Images sent with it.
        attachments: Vec<Attachment>,
        /// The full parts (kept for the model context; not in JSON).
        #[serde(skip)]
        parts: Vec<ContentPart>,
    },
    /// Assistant text.
    Assistant {
        /// The text so far.
        text: String,
    },
    /// Model thinking.
    Thinking {
        /// The text so far.
        text: String,
        /// Collapsed in the UI (thinking collapses when the turn ends).
        collapsed: bool,
        /// The provider's signature of this thinking block, sent back with it on later model calls (not in JSON).
        #[serde(skip)]
        signature: Option<String>,
        /// A redacted (encrypted) block: `signature` holds its opaque data, sent back unchanged (not in JSON).
        #[serde(skip)]
        redacted: bool,
    },
    /// A tool call and its result.
    ToolCall {
        /// The call's ID.
        tool_call_id: String,
        /// Tool name.
        name: String,
        /// Arguments.
        args: Value,
        /// Lifecycle.
        status: ToolStatus,
        /// Result text (partial while running).
        result: String,
        /// Whether it failed.
        is_error: bool,
        /// Collapsed in the UI.
        collapsed: bool,
        /// `session` or `turn` when trust approved it automatically.
        auto_approved_scope: Option<String>,
        /// Wall time it took, once finished.
        duration_ms: Option<u64>,
        /// Monotonic start time, for `duration_ms`.
        #[serde(skip)]
        started_ms: u64,
    },
    /// A notice from tandem.
    System {
        /// The text.
        text: String,
        /// Severity.
        level: Level,
        /// Present on the notice that records a compaction: the model context starts from it.
        #[serde(skip_serializing_if = "Option::is_none")]
        compaction: Option<Compaction>,
    },
    /// Usage of a completed turn.
    Usage(Usage),
}

/// A compaction: the model sees `summary` instead of every message before `first_kept_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Compaction {
    /// The summary of what was compacted.
    pub summary: String,
    /// The first message the model still sees verbatim.
    pub first_kept_id: u64,
}

/// A transcript entry with its stable ID.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Message {
    /// Stable, strictly increasing within a session.
    pub id: u64,
    /// Content.
    #[serde(flatten)]
    pub body: Body,
}

impl Body {
    /// A user message from content parts.
    pub fn user(parts: Vec<ContentPart>) -> Body {
        use base64::Engine;
        let attachments = parts
            .iter()
            .filter_map(|p| match p {
                ContentPart::Image { media_type, data } => Some(Attachment {
                    media_type: media_type.clone(),
                    size_bytes: base64::engine::general_purpose::STANDARD
                        .decode(data)
                        .map_or(0, |d| d.len() as u64),
                }),
                ContentPart::Text { .. } => None,
            })
            .collect();
        Body::User {
            text: parts_text(&parts),
            attachments,
            parts,
        }
    }

    /// A system message.
    pub fn system(text: impl Into<String>, level: Level) -> Body {
        Body::System {
            text: text.into(),
            level,
            compaction: None,
        }
    }
}

/// The ordered list of messages and the next ID to hand out.
///
/// It remembers which messages changed since [`Transcript::take_dirty`] was last called, so the store writes only
/// what a turn changed rather than the whole conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct Transcript {
    messages: Vec<Message>,
    next_id: u64,
    dirty: std::collections::BTreeSet<u64>,
}

impl Default for Transcript {
    fn default() -> Self {
        Transcript {
            messages: Vec::new(),
            next_id: 1,
            dirty: Default::default(),
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
        }
    }

    /// All messages, oldest first.
    pub fn messages(&self) -> &[Message] {
        &self.messages
    }

    /// The newest message if `pred` accepts it (then it is marked changed).
    pub fn last_mut_if(&mut self, pred: impl Fn(&Body) -> bool) -> Option<&mut Message> {
        let last = self.messages.last_mut().filter(|m| pred(&m.body))?;
        self.dirty.insert(last.id);
        Some(last)
    }

    /// Calls `f` on every message's content; `f` returns whether it changed the message, and only those are
    /// marked changed.
    pub fn update_each(&mut self, mut f: impl FnMut(&mut Body) -> bool) {
        for m in &mut self.messages {
            if f(&mut m.body) {
                self.dirty.insert(m.id);
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
        let m = self.messages.iter_mut().rev().find(
            |m| matches!(&m.body, Body::ToolCall { tool_call_id: t, .. } if t == tool_call_id),
        )?;
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
        Some(&mut self.messages[i].body)
    }

    /// Keeps the first `len` messages (IDs already handed out are never reused).
    pub fn truncate(&mut self, len: usize) {
        self.messages.truncate(len);
    }

    /// Replaces the messages, keeping their IDs; later messages get IDs above every ID seen so far.
    pub fn replace(&mut self, messages: Vec<Message>) {
        let max = messages.iter().map(|m| m.id).max().unwrap_or(0);
        self.next_id = self.next_id.max(max + 1);
        self.messages = messages;
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
