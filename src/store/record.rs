//! The journal's line format: one externally tagged JSON object per line (`{"header":…}`, `{"msg":…}`, …).
//!
//! Externally tagged enums deserialize without buffering, which keeps reopening a long conversation fast.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::vocab::content::{Body, Compaction, ContentPart, Level, Message, ToolStatus, Usage};

/// Version of the line format, written in every header.
pub(crate) const FORMAT_VERSION: u32 = 1;

/// The first line of a journal: who the conversation belongs to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// Line format version.
    pub version: u32,
    /// Conversation ID (also the file name).
    pub conversation_id: String,
    /// The session that created it.
    pub session_id: String,
    /// The session's token.
    pub token: String,
    /// Creation time, RFC 3339.
    pub created_at: String,
    /// `provider:model` at creation.
    pub model: String,
    /// Provider kind at creation.
    pub provider: String,
    /// Workdir, if any.
    pub workdir: Option<String>,
    /// Title when the file was created (later titles are in `meta` lines).
    pub title: Option<String>,
}

/// The conversation's summary after a batch of changes: listing reads the newest one from the file's tail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    /// Title from the first prompt.
    pub title: Option<String>,
    /// Current `provider:model`.
    pub model: String,
    /// Total usage.
    pub usage: Usage,
    /// Messages in the transcript.
    pub message_count: usize,
    /// User prompts in the transcript.
    pub turn_count: usize,
    /// Time of the last transcript change, in ms since the epoch.
    pub last_message_at_ms: u64,
    /// Whether a turn was running (a journal that ends so was cut off mid-turn).
    pub turn_active: bool,
    /// The next message ID.
    pub next_id: u64,
}

/// One journal line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Entry {
    /// The first line.
    Header(Header),
    /// A message appended or changed (replaces the message with the same ID).
    Msg(StoredMessage),
    /// Messages after `after_id` were cut off (a branch point).
    Truncate {
        /// The last message kept.
        after_id: u64,
    },
    /// A branch was saved.
    Branch(StoredBranch),
    /// The transcript was replaced by branch `number` (1-based).
    Switch {
        /// Branch number.
        number: u32,
    },
    /// Summary after a batch.
    Meta(Meta),
    /// A session's tool changed a file (the latest entry for a path wins).
    Touched(StoredTouched),
}

/// A touched file as stored: the store keeps the action as its name so it needs none of the session's types.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredTouched {
    /// Absolute path.
    pub path: String,
    /// `created`, `modified` or `deleted`.
    pub action: String,
    /// When, in ms since the epoch.
    pub timestamp_ms: u64,
}

/// A saved branch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredBranch {
    /// `branch-N`.
    pub name: String,
    /// Creation time, ms since the epoch.
    pub created_at_ms: u64,
    /// Its messages.
    pub messages: Vec<StoredMessage>,
}

/// A message as stored: like the host JSON, but user messages keep their full content parts (images included).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredMessage {
    /// Stable ID.
    pub id: u64,
    /// Content.
    pub body: StoredBody,
}

/// Stored message content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum StoredBody {
    User {
        parts: Vec<ContentPart>,
    },
    Assistant {
        text: String,
    },
    Thinking {
        text: String,
        collapsed: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signature: Option<String>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        redacted: bool,
    },
    ToolCall {
        tool_call_id: String,
        name: String,
        args: Value,
        status: StoredToolStatus,
        result: String,
        is_error: bool,
        collapsed: bool,
        auto_approved_scope: Option<String>,
        duration_ms: Option<u64>,
    },
    System {
        text: String,
        error: bool,
        compaction: Option<(String, u64)>,
    },
    Usage(Usage),
}

/// Tool call status as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum StoredToolStatus {
    Running,
    Complete,
    Error,
}

impl From<&Message> for StoredMessage {
    fn from(m: &Message) -> Self {
        let body = match &m.body {
            Body::User { parts, .. } => StoredBody::User {
                parts: parts.clone(),
            },
            Body::Assistant { text } => StoredBody::Assistant { text: text.clone() },
            Body::Thinking {
                text,
                collapsed,
                signature,
                redacted,
            } => StoredBody::Thinking {
                text: text.clone(),
                collapsed: *collapsed,
                signature: signature.clone(),
                redacted: *redacted,
            },
            Body::ToolCall {
                tool_call_id,
                name,
                args,
                status,
                result,
                is_error,
                collapsed,
                auto_approved_scope,
                duration_ms,
                ..
            } => StoredBody::ToolCall {
                tool_call_id: tool_call_id.clone(),
                name: name.clone(),
                args: args.clone(),
                status: match status {
                    // A call waiting for approval has no result yet, as a running one: both are aborted on restore.
                    ToolStatus::Pending | ToolStatus::Running => StoredToolStatus::Running,
                    ToolStatus::Complete => StoredToolStatus::Complete,
                    ToolStatus::Error => StoredToolStatus::Error,
                },
                result: result.clone(),
                is_error: *is_error,
                collapsed: *collapsed,
                auto_approved_scope: auto_approved_scope.clone(),
                duration_ms: *duration_ms,
            },
            Body::System {
                text,
                level,
                compaction,
            } => StoredBody::System {
                text: text.clone(),
                error: *level == Level::Error,
                compaction: compaction
                    .as_ref()
                    .map(|c| (c.summary.clone(), c.first_kept_id)),
            },
            Body::Usage(u) => StoredBody::Usage(*u),
        };
        StoredMessage { id: m.id, body }
    }
}

impl From<StoredMessage> for Message {
    fn from(m: StoredMessage) -> Self {
        let body = match m.body {
            StoredBody::User { parts } => Body::user(parts),
            StoredBody::Assistant { text } => Body::Assistant { text },
            StoredBody::Thinking {
                text,
                collapsed,
                signature,
                redacted,
            } => Body::Thinking {
                text,
                collapsed,
                signature,
                redacted,
            },
            StoredBody::ToolCall {
                tool_call_id,
                name,
                args,
                status,
                result,
                is_error,
                collapsed,
                auto_approved_scope,
                duration_ms,
            } => Body::ToolCall {
                tool_call_id,
                name,
                args,
                status: match status {
                    StoredToolStatus::Running => ToolStatus::Running,
                    StoredToolStatus::Complete => ToolStatus::Complete,
                    StoredToolStatus::Error => ToolStatus::Error,
                },
                result,
                is_error,
                collapsed,
                auto_approved_scope,
                duration_ms,
                started_ms: 0,
            },
            StoredBody::System {
                text,
                error,
                compaction,
            } => Body::System {
                text,
                level: if error { Level::Error } else { Level::Info },
                compaction: compaction.map(|(summary, first_kept_id)| Compaction {
                    summary,
                    first_kept_id,
                }),
            },
            StoredBody::Usage(u) => Body::Usage(u),
        };
        Message { id: m.id, body }
    }
}

/// One line of JSON for `entry`, newline included.
pub fn line(entry: &Entry) -> Vec<u8> {
    let mut out = serde_json::to_vec(entry).expect("journal entries serialize");
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thinking_signatures_are_stored_and_old_lines_still_load() {
        let m = Message {
            id: 3,
            body: Body::Thinking {
                text: "t".into(),
                collapsed: true,
                signature: Some("SIG".into()),
                redacted: false,
            },
        };
        let stored = StoredMessage::from(&m);
        let json = serde_json::to_value(&stored).unwrap();
        assert!(json.to_string().contains("\"signature\":\"SIG\""));
        assert!(!json.to_string().contains("redacted"));
        let back: StoredMessage = serde_json::from_value(json).unwrap();
        assert_eq!(Message::from(back).body, m.body);
        // Redacted blocks keep their data and flag across a save and load.
        let r = Message {
            id: 4,
            body: Body::Thinking {
                text: "[redacted thinking]".into(),
                collapsed: true,
                signature: Some("DATA".into()),
                redacted: true,
            },
        };
        let json = serde_json::to_value(StoredMessage::from(&r)).unwrap();
        let back: StoredMessage = serde_json::from_value(json).unwrap();
        assert_eq!(Message::from(back).body, r.body);
        let old = serde_json::json!({"thinking": {"text": "t", "collapsed": true}});
        let body: StoredBody = serde_json::from_value(old).unwrap();
        assert!(matches!(
            body,
            StoredBody::Thinking {
                signature: None,
                ..
            }
        ));
    }
}
