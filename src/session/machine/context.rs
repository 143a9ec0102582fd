//! The model context a turn sends, derived from the transcript every time (so branches and compactions take
//! effect on the next turn).

use crate::vocab::content::{Body, ContentPart, Message};
use crate::vocab::model::{ModelMessage, ThinkingBlock, ToolCallRequest};

/// The model context of `messages` for a model that takes images (`images`) or not: for one that does not, each
/// image becomes a short text note in its place (the transcript keeps the image; switching to a model that reads
/// images sends it again).
pub fn model_context(messages: &[Message], images: bool) -> Vec<ModelMessage> {
    let mut ctx = context_from_transcript(messages);
    if !images {
        for m in &mut ctx {
            if let ModelMessage::User(parts) = m {
                leave_out_images(parts);
            }
        }
    }
    ctx
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
    let mut out = Vec::new();
    // After a compaction the model sees its summary, then the messages it kept.
    let last_compaction = messages.iter().rev().find_map(|m| match &m.body {
        Body::System {
            compaction: Some(c),
            ..
        } => Some(c),
        _ => None,
    });
    let messages: Vec<&Message> = match last_compaction {
        Some(c) => {
            out.push(ModelMessage::User(vec![ContentPart::Text {
                text: format!(
                    "[Conversation summary: earlier context was compacted]\n\n{}",
                    c.summary
                ),
            }]));
            messages
                .iter()
                .filter(|m| m.id >= c.first_kept_id)
                .collect()
        }
        None => messages.iter().collect(),
    };
    let mut pending: Option<Pending> = None;
    let mut results: Vec<ModelMessage> = Vec::new();
    let flush = |out: &mut Vec<ModelMessage>,
                 pending: &mut Option<Pending>,
                 results: &mut Vec<ModelMessage>| {
        if let Some(p) = pending.take() {
            out.push(ModelMessage::Assistant {
                thinking: p.thinking,
                text: p.text,
                tool_calls: p.calls,
            });
        }
        out.append(results);
    };
    for m in messages {
        match &m.body {
            Body::User { parts, .. } => {
                flush(&mut out, &mut pending, &mut results);
                out.push(ModelMessage::User(parts.clone()));
            }
            Body::Thinking {
                text,
                signature,
                redacted,
                ..
            } => {
                // Thinking opens a response: after text or tool calls it belongs to the next one.
                if pending
                    .as_ref()
                    .is_some_and(|p| !p.calls.is_empty() || !p.text.is_empty())
                {
                    flush(&mut out, &mut pending, &mut results);
                }
                pending
                    .get_or_insert_with(Default::default)
                    .thinking
                    .push(ThinkingBlock {
                        text: text.clone(),
                        signature: signature.clone(),
                        redacted: *redacted,
                    });
            }
            Body::Assistant { text } => {
                if pending.as_ref().is_some_and(|p| !p.calls.is_empty()) {
                    flush(&mut out, &mut pending, &mut results);
                }
                pending
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
                pending
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
                results.push(ModelMessage::ToolResult {
                    tool_call_id: tool_call_id.clone(),
                    name: name.clone(),
                    content,
                    is_error: *is_error || status.is_open(),
                });
            }
            Body::System { .. } | Body::Usage(_) => {}
        }
    }
    flush(&mut out, &mut pending, &mut results);
    out
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
