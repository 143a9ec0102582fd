//! The model context a turn sends, derived from the transcript (so branches and compactions take effect on the next
//! turn), and kept incrementally between turns ([`Kept`]): a turn after 10,000 messages folds in only the messages
//! added since the last one instead of rebuilding (and copying) the whole context.

use crate::vocab::content::{Body, Compaction, ContentPart, Message};
use crate::vocab::model::{ModelMessage, SharedContext, ThinkingBlock, ToolCallRequest};

/// The model context of `messages` for a model that takes images (`images`) or not: for one that does not, each
/// image becomes a short text note in its place (the transcript keeps the image; switching to a model that reads
/// images sends it again).
pub fn model_context(messages: &[Message], images: bool) -> Vec<ModelMessage> {
    let (start, summary) = compaction_start(messages);
    let mut out = Vec::new();
    let mut fold = Fold::new(&mut out, images);
    if let Some(c) = summary {
        fold.summary(c);
    }
    for m in &messages[start..] {
        fold.feed(m);
    }
    fold.finish();
    out
}

/// Replaces each image of `parts` with a short text note, for a model that does not take images.
pub fn leave_out_images(parts: &mut [ContentPart]) {
    for p in parts.iter_mut() {
        if let ContentPart::Image { media_type, .. } = p {
            *p = ContentPart::Text {
                text: format!("[{media_type} image left out: this model does not take images]"),
            };
        }
    }
}

/// The model context for a transcript: user prompts, assistant responses with their tool calls, and tool results.
/// Thinking goes back with its response (providers that sign it need it); system notices and usage entries are the
/// host's, not the model's.
pub fn context_from_transcript(messages: &[Message]) -> Vec<ModelMessage> {
    model_context(messages, true)
}

/// Where the model's view of `messages` starts: after the last compaction the model sees its summary, then the
/// messages it kept (from `first_kept_id` on; IDs grow along the transcript).
fn compaction_start(messages: &[Message]) -> (usize, Option<&Compaction>) {
    let last_compaction = messages.iter().rev().find_map(|m| match &m.body {
        Body::System {
            compaction: Some(c),
            ..
        } => Some(c),
        _ => None,
    });
    match last_compaction {
        Some(c) => (
            messages.partition_point(|m| m.id < c.first_kept_id),
            Some(c),
        ),
        None => (0, None),
    }
}

/// The model context kept between turns: the context of the transcript's first `upto` messages, which end with a
/// user message (so no response is open there and later messages cannot change it), shared with the turns that
/// were handed it. Messages added later are folded in when the next context is asked for; a change at an earlier
/// position (branch, switch of branch, compaction, loaded or new conversation, edits of old messages) or another
/// image setting makes it start over from the transcript.
#[derive(Debug, Clone, Default)]
pub struct Kept {
    /// How many transcript messages `closed` covers.
    upto: usize,
    closed: SharedContext,
    /// The image setting `closed` was built with.
    images: bool,
}

impl Kept {
    /// The model context of `transcript` now, for a model that takes images or not: equal to
    /// [`model_context`] of its messages, without copying what was kept (a turn that adds to it copies it then).
    pub fn context(
        &mut self,
        transcript: &mut super::transcript::Transcript,
        images: bool,
    ) -> SharedContext {
        let changed = transcript.take_changed_from();
        let messages = transcript.messages();
        let compacted = messages[self.upto.min(messages.len())..].iter().any(|m| {
            matches!(
                &m.body,
                Body::System {
                    compaction: Some(_),
                    ..
                }
            )
        });
        if changed < self.upto || images != self.images || compacted {
            self.start_over(messages, images);
        }
        // Fold in everything up to the last user message; what follows it may still change (a response, a tool
        // call's result), so it is folded for this context only.
        if let Some(last_user) = messages[self.upto..]
            .iter()
            .rposition(|m| matches!(m.body, Body::User { .. }))
        {
            let end = self.upto + last_user + 1;
            let mut added = Vec::new();
            let mut fold = Fold::new(&mut added, images);
            for m in &messages[self.upto..end] {
                fold.feed(m);
            }
            fold.finish();
            self.closed.extend(added);
            self.upto = end;
        }
        let rest = &messages[self.upto..];
        if rest.iter().all(|m| !for_model(&m.body)) {
            return self.closed.clone();
        }
        let mut added = Vec::new();
        let mut fold = Fold::new(&mut added, images);
        for m in rest {
            fold.feed(m);
        }
        fold.finish();
        let mut out = self.closed.clone();
        out.extend(added);
        out
    }

    /// Starts from the beginning of the model's view of `messages` (its last compaction's summary, if any).
    fn start_over(&mut self, messages: &[Message], images: bool) {
        let (start, summary) = compaction_start(messages);
        let mut closed = Vec::new();
        if let Some(c) = summary {
            Fold::new(&mut closed, images).summary(c);
        }
        *self = Kept {
            upto: start,
            closed: SharedContext::new(closed),
            images,
        };
    }
}

/// Whether a transcript entry is part of the model's context (system notices and usage entries are the host's).
fn for_model(body: &Body) -> bool {
    !matches!(body, Body::System { .. } | Body::Usage(_))
}

/// Folds transcript messages, in order, into model messages appended to `out`.
struct Fold<'a> {
    out: &'a mut Vec<ModelMessage>,
    images: bool,
    /// The response being rebuilt, and the results of its tool calls (which follow it).
    pending: Option<Pending>,
    results: Vec<ModelMessage>,
}

impl<'a> Fold<'a> {
    fn new(out: &'a mut Vec<ModelMessage>, images: bool) -> Self {
        Fold {
            out,
            images,
            pending: None,
            results: Vec::new(),
        }
    }

    /// The summary a compaction left, which the model sees in place of the messages before `first_kept_id`.
    fn summary(&mut self, c: &Compaction) {
        self.out.push(ModelMessage::User(vec![ContentPart::Text {
            text: format!(
                "[Conversation summary: earlier context was compacted]\n\n{}",
                c.summary
            ),
        }]));
    }

    fn flush(&mut self) {
        if let Some(p) = self.pending.take() {
            self.out.push(ModelMessage::Assistant {
                thinking: p.thinking,
                text: p.text,
                tool_calls: p.calls,
            });
        }
        self.out.append(&mut self.results);
    }

    fn feed(&mut self, m: &Message) {
        match &m.body {
            Body::User { parts, .. } => {
                self.flush();
                let mut parts = parts.clone();
                if !self.images {
                    leave_out_images(&mut parts);
                }
                self.out.push(ModelMessage::User(parts));
            }
            Body::Thinking {
                text,
                signature,
                redacted,
                ..
            } => {
                // Thinking opens a response: after text or tool calls it belongs to the next one.
                if self
                    .pending
                    .as_ref()
                    .is_some_and(|p| !p.calls.is_empty() || !p.text.is_empty())
                {
                    self.flush();
                }
                self.pending
                    .get_or_insert_with(Default::default)
                    .thinking
                    .push(ThinkingBlock {
                        text: text.clone(),
                        signature: signature.clone(),
                        redacted: *redacted,
                    });
            }
            Body::Assistant { text } => {
                if self.pending.as_ref().is_some_and(|p| !p.calls.is_empty()) {
                    self.flush();
                }
                self.pending
                    .get_or_insert_with(Default::default)
                    .text
                    .push_str(text);
            }
            Body::ToolCall {
                tool_call_id,
                name,
                args,
                status,
                result,
                is_error,
                ..
            } => {
                self.pending
                    .get_or_insert_with(Default::default)
                    .calls
                    .push(ToolCallRequest {
                        id: tool_call_id.clone(),
                        name: name.clone(),
                        args: args.clone(),
                    });
                let content = if status.is_open() {
                    "aborted".to_string()
                } else {
                    result.clone()
                };
                self.results.push(ModelMessage::ToolResult {
                    tool_call_id: tool_call_id.clone(),
                    name: name.clone(),
                    content,
                    is_error: *is_error || status.is_open(),
                });
            }
            Body::System { .. } | Body::Usage(_) => {}
        }
    }

    /// Closes the response still open, if any.
    fn finish(mut self) {
        self.flush();
    }
}

/// An assistant response being rebuilt from transcript entries.
#[derive(Default)]
struct Pending {
    thinking: Vec<ThinkingBlock>,
    text: String,
    calls: Vec<ToolCallRequest>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::estimate_tokens;
    use crate::session::machine::transcript::Transcript;
    use crate::vocab::content::Usage;
    use crate::vocab::content::{Level, ToolStatus};

    #[test]
    fn context_groups_tool_calls_with_their_assistant_turn() {
        let mut t = Transcript::default();
        t.push(Body::system("Session started", Level::Info));
        t.push(Body::user(vec![ContentPart::Text { text: "hi".into() }]));
        t.push(Body::Thinking {
            text: "hmm".into(),
            collapsed: true,
            signature: Some("sig".into()),
            redacted: false,
        });
        t.push(Body::Assistant {
            text: "Looking.".into(),
        });
        t.push(Body::ToolCall {
            tool_call_id: "c1".into(),
            name: "read_file".into(),
            args: serde_json::json!({"path": "a"}),
            status: ToolStatus::Complete,
            result: "A".into(),
            is_error: false,
            collapsed: true,
            auto_approved_scope: None,
            duration_ms: Some(1),
            started_ms: 0,
        });
        t.push(Body::Assistant {
            text: "Done.".into(),
        });
        t.push(Body::Usage(Usage::default()));
        let ctx = context_from_transcript(t.messages());
        assert_eq!(ctx.len(), 4);
        assert!(matches!(&ctx[0], ModelMessage::User(p) if p.len() == 1));
        assert!(
            matches!(&ctx[1], ModelMessage::Assistant { thinking, text, tool_calls } if text == "Looking." && tool_calls.len() == 1
                && thinking == &[ThinkingBlock { text: "hmm".into(), signature: Some("sig".into()), redacted: false }])
        );
        assert!(matches!(&ctx[2], ModelMessage::ToolResult { content, .. } if content == "A"));
        assert!(
            matches!(&ctx[3], ModelMessage::Assistant { thinking, text, tool_calls } if text == "Done." && tool_calls.is_empty() && thinking.is_empty())
        );
        assert!(estimate_tokens(&ctx, None) > 0);
    }
}
