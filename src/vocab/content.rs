//! Transcript vocabulary: content parts, usage, message levels and the messages the session keeps and the store
//! writes.

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

/// Joins queued entries into one prompt: entries separated by a blank line, images kept in place.
pub fn combine_entries(entries: Vec<Vec<ContentPart>>) -> Vec<ContentPart> {
    let mut out: Vec<ContentPart> = Vec::new();
    for entry in entries.into_iter().filter(|e| e.iter().any(has_content)) {
        if !out.is_empty() {
            out.push(ContentPart::Text {
                text: "\n\n".into(),
            });
        }
        out.extend(entry);
    }
    // Adjacent text parts read better (and cost fewer parts) merged.
    let mut merged: Vec<ContentPart> = Vec::new();
    for part in out {
        match (merged.last_mut(), part) {
            (Some(ContentPart::Text { text: a }), ContentPart::Text { text: b }) => a.push_str(&b),
            (_, p) => merged.push(p),
        }
    }
    merged
}

/// One queue entry as the seed's `combine_queue_entries_to_text` takes it: a plain string or content parts.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum QueueEntry {
    /// Plain text.
    Text(String),
    /// Content parts, as the queue calls return them.
    Parts(Vec<ContentPart>),
}

/// Queue entries as one string for display or for putting back in a prompt input (the seed's
/// `combine_queue_entries_to_text`): each entry's text parts, entries separated by a blank line, empty entries and
/// images left out (a text box cannot hold them; the entries themselves keep them).
pub fn entries_text(entries: Vec<QueueEntry>) -> String {
    let entries = entries
        .into_iter()
        .map(|e| match e {
            QueueEntry::Text(text) => vec![ContentPart::Text { text }],
            QueueEntry::Parts(parts) => parts
                .into_iter()
                .filter(|p| matches!(p, ContentPart::Text { .. }))
                .collect(),
        })
        .collect();
    parts_text(&combine_entries(entries))
}

fn has_content(p: &ContentPart) -> bool {
    !matches!(p, ContentPart::Text { text } if text.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_entries_become_text_like_the_seeds() {
        let entries: Vec<QueueEntry> = serde_json::from_str(
            r#"["first", [{"type": "text", "text": "second "}, {"type": "image", "media_type": "image/png", "data": "aGk="}, {"type": "text", "text": "part"}],
                [{"type": "image", "media_type": "image/png", "data": "aGk="}], "", "last"]"#,
        )
        .unwrap();
        assert_eq!(entries_text(entries), "first\n\nsecond part\n\nlast");
        assert_eq!(entries_text(Vec::new()), "");
    }
}
