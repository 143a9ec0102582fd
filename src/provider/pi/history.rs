//! Keeping pi's own conversation in step with tandem's: pi keeps its history, so a turn sends only the new user
//! message while the two agree, and starts pi over (replaying the earlier conversation as text) when they do not.

use crate::provider::ModelMessage;
use crate::vocab::content::ContentPart;

/// How tandem's context shows a compaction (see `context_from_transcript`).
const COMPACTION_PREFIX: &str = "[Conversation summary: earlier context was compacted]";

/// Most characters of earlier conversation replayed into a fresh pi (the newest part is kept).
const REPLAY_CAP: usize = 200_000;

/// Most characters of one tool result in a replay.
const RESULT_CAP: usize = 2_000;

/// What a turn must do before its prompt.
#[derive(Debug, PartialEq)]
pub(crate) enum Plan {
    /// pi has exactly this conversation: send the new message.
    Continue,
    /// A new conversation: pi must drop what it has (`new_session` when it has anything).
    Fresh,
    /// pi lacks (or has another) history: start it over and send this replay of the earlier conversation before
    /// the new message.
    Replay(String),
}

/// A user message as pi saw it, for comparing histories.
pub(crate) fn key(parts: &[ContentPart]) -> String {
    let (text, images) = super::translate::message_fields(parts);
    format!("{text}\u{0}{}", images.len())
}

fn is_summary(m: &ModelMessage) -> bool {
    matches!(m, ModelMessage::User(parts) if matches!(parts.first(), Some(ContentPart::Text { text }) if text.starts_with(COMPACTION_PREFIX)))
}

/// Decides how to bring pi (which has seen the user messages `known`) to `context` (ending with the new user
/// message); returns the plan and the user messages pi will have seen once the prompt is sent.
pub(crate) fn plan(known: &[String], context: &[ModelMessage]) -> (Plan, Vec<String>) {
    let (last, earlier) = match context.split_last() {
        Some((ModelMessage::User(parts), earlier)) => (key(parts), earlier),
        Some((_, earlier)) => (String::new(), earlier),
        None => (String::new(), context),
    };
    let summarized = earlier.first().is_some_and(is_summary);
    let users: Vec<String> = earlier
        .iter()
        .skip(usize::from(summarized))
        .filter_map(|m| match m {
            ModelMessage::User(parts) => Some(key(parts)),
            _ => None,
        })
        .collect();
    let plan = if earlier.is_empty() {
        if known.is_empty() {
            Plan::Continue
        } else {
            Plan::Fresh
        }
    } else if (!summarized && users == known)
        // After a compaction pi holds its own summary plus at least the messages tandem kept.
        || (summarized && !known.is_empty() && known.ends_with(&users))
    {
        Plan::Continue
    } else {
        Plan::Replay(replay(earlier))
    };
    let mut seen = match plan {
        Plan::Continue => known.to_vec(),
        _ => users,
    };
    seen.push(last);
    (plan, seen)
}

/// The earlier conversation as text for a pi that does not have it.
fn replay(earlier: &[ModelMessage]) -> String {
    let mut body = String::new();
    for m in earlier {
        match m {
            ModelMessage::User(parts) => {
                let (text, images) = super::translate::message_fields(parts);
                body.push_str(&format!("User: {text}"));
                if !images.is_empty() {
                    body.push_str(&format!(" [{} image(s)]", images.len()));
                }
            }
            ModelMessage::Assistant {
                text, tool_calls, ..
            } => {
                body.push_str(&format!("Assistant: {text}"));
                for c in tool_calls {
                    body.push_str(&format!("\n[tool call {} {}]", c.name, c.args));
                }
            }
            ModelMessage::ToolResult {
                name,
                content,
                is_error,
                ..
            } => {
                let cut: String = content.chars().take(RESULT_CAP).collect();
                let more = if cut.len() < content.len() {
                    " …"
                } else {
                    ""
                };
                let what = if *is_error { "error" } else { "result" };
                body.push_str(&format!("[tool {what} {name}: {cut}{more}]"));
            }
        }
        body.push_str("\n\n");
    }
    let count = body.chars().count();
    if count > REPLAY_CAP {
        body = format!(
            "[… older messages omitted]\n\n{}",
            body.chars().skip(count - REPLAY_CAP).collect::<String>()
        );
    }
    format!(
        "[The conversation so far, replayed because this pi session does not have it]\n\n{body}[End of the \
         earlier conversation. The new message follows.]\n\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::ToolCallRequest;

    fn user(t: &str) -> ModelMessage {
        ModelMessage::User(vec![ContentPart::Text { text: t.into() }])
    }

    fn said(t: &str) -> ModelMessage {
        ModelMessage::Assistant {
            thinking: vec![],
            text: t.into(),
            tool_calls: vec![],
        }
    }

    fn k(t: &str) -> String {
        key(&[ContentPart::Text { text: t.into() }])
    }

    #[test]
    fn a_continuing_conversation_sends_only_the_new_message() {
        let (p, seen) = plan(&[], &[user("a")]);
        assert_eq!((p, seen.clone()), (Plan::Continue, vec![k("a")]));
        let (p, seen) = plan(&seen, &[user("a"), said("A"), user("b")]);
        assert_eq!((p, seen), (Plan::Continue, vec![k("a"), k("b")]));
    }

    #[test]
    fn a_new_conversation_resets_pi() {
        assert_eq!(plan(&[k("a")], &[user("x")]), (Plan::Fresh, vec![k("x")]));
    }

    #[test]
    fn a_pi_without_the_history_gets_a_replay() {
        let ctx = [
            user("a"),
            ModelMessage::Assistant {
                thinking: vec![],
                text: "Reading.".into(),
                tool_calls: vec![ToolCallRequest {
                    id: "c".into(),
                    name: "read".into(),
                    args: serde_json::json!({"path": "f"}),
                }],
            },
            ModelMessage::ToolResult {
                tool_call_id: "c".into(),
                name: "read".into(),
                content: "x".repeat(3000),
                is_error: false,
            },
            user("b"),
        ];
        let (p, seen) = plan(&[], &ctx);
        assert_eq!(seen, vec![k("a"), k("b")]);
        let Plan::Replay(text) = p else {
            panic!("expected a replay")
        };
        assert!(text.contains("User: a\n\nAssistant: Reading.\n[tool call read {\"path\":\"f\"}]"));
        assert!(text.contains(" …]") && !text.contains(&"x".repeat(2001)));
        // A different history (a loaded conversation, a branch) is replayed too.
        assert!(matches!(plan(&[k("z"), k("y")], &ctx).0, Plan::Replay(_)));
    }

    #[test]
    fn after_a_compaction_the_kept_messages_must_be_pis_newest() {
        let summary = user(&format!("{COMPACTION_PREFIX}\n\nsum"));
        let ctx = [summary, user("c"), said("C"), user("d")];
        let (p, seen) = plan(&[k("a"), k("b"), k("c")], &ctx);
        assert_eq!(p, Plan::Continue);
        assert_eq!(seen, vec![k("a"), k("b"), k("c"), k("d")]);
        // A restarted pi gets the summary replayed.
        let (p, seen) = plan(&[], &ctx);
        assert!(matches!(p, Plan::Replay(t) if t.contains("sum")));
        assert_eq!(seen, vec![k("c"), k("d")]);
    }
}
