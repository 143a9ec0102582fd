//! Compaction, summaries and `continue` in the session state machine. Compaction and summaries need one model call
//! outside any turn (a "side call"): the state asks for it as an effect and finishes when its result comes back.

use serde_json::json;

use super::state::{Effect, Now, Reply, SessionState};
use super::transcript::{Body, Compaction, ContentPart, Level};
use crate::error::Error;
use crate::provider::{context_from_transcript, estimate_tokens, ModelMessage};

/// What a side call is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SideKind {
    /// Summarize everything before `first_kept_id`.
    Compact {
        /// The first message kept verbatim.
        first_kept_id: u64,
    },
    /// Summarize the whole conversation into a file under the workdir.
    Summarize,
}

/// The result of a side call: the model's text, and for summaries the file it was saved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SideResult {
    /// The model's answer.
    pub text: String,
    /// Where a summary was saved.
    pub path: Option<String>,
}

/// The prompt the model gets after an interrupted answer.
pub const CONTINUE_PROMPT: &str =
    "Your previous response was interrupted mid-stream. Please continue from where you \
                                   left off. Do not repeat what you already said.";

fn not_needed() -> Reply {
    Reply::Json(
        json!({"compacted": false, "info": "Context is already small enough, no compaction needed."}),
    )
}

fn busy(what: &str) -> Reply {
    Reply::Failed(Error::Busy(format!(
        "cannot {what} while a turn or a compaction is running"
    )))
}

impl SessionState {
    /// Whether a turn or a side call is running.
    pub(super) fn busy(&self) -> bool {
        self.turn.is_some() || self.side_call
    }

    /// The messages the model currently sees directly (after the latest compaction's cut).
    fn window_start(&self) -> Option<u64> {
        self.transcript
            .messages()
            .iter()
            .rev()
            .find_map(|m| match &m.body {
                Body::System {
                    compaction: Some(c),
                    ..
                } => Some(c.first_kept_id),
                _ => None,
            })
    }

    /// Starts a compaction keeping at least `keep_recent` messages, cut at a user prompt so no tool call is
    /// separated from its result.
    pub(super) fn compact(&mut self, keep_recent: usize, fx: &mut Vec<Effect>) -> Reply {
        if self.busy() {
            return busy("compact");
        }
        let start = self.window_start().unwrap_or(0);
        let window: Vec<(usize, u64)> = self
            .transcript
            .messages()
            .iter()
            .enumerate()
            .filter(|(_, m)| m.id >= start)
            .map(|(i, m)| (i, m.id))
            .collect();
        let total = self.transcript.len();
        let cut = window
            .iter()
            .skip(1)
            .rev()
            .filter(|(i, _)| matches!(self.transcript.messages()[*i].body, Body::User { .. }))
            .find(|(i, _)| total - i >= keep_recent)
            .copied();
        let Some((cut_index, first_kept_id)) = cut else {
            return not_needed();
        };
        let context = context_from_transcript(&self.transcript.messages()[..cut_index]);
        if !context.iter().any(|m| !matches!(m, ModelMessage::User(_))) {
            return not_needed();
        }
        self.side_call = true;
        fx.push(Effect::SideCall {
            kind: SideKind::Compact { first_kept_id },
            context,
        });
        Reply::Deferred
    }

    /// Starts a summary of the whole conversation.
    pub(super) fn summarize(&mut self, fx: &mut Vec<Effect>) -> Reply {
        if self.busy() {
            return busy("summarize");
        }
        if self.ident.workdir.is_none() {
            return Reply::Failed(Error::NotSupported(
                "summaries are saved under the session's workdir; start the session with a workdir"
                    .into(),
            ));
        }
        let context = context_from_transcript(self.transcript.messages());
        if context.len() < 2 {
            return Reply::Failed(Error::invalid("Nothing to summarize (session too short)"));
        }
        self.side_call = true;
        fx.push(Effect::SideCall {
            kind: SideKind::Summarize,
            context,
        });
        Reply::Deferred
    }

    /// Finishes a side call.
    pub(super) fn side_call_done(
        &mut self,
        kind: SideKind,
        result: Result<SideResult, String>,
        now: Now,
        fx: &mut Vec<Effect>,
    ) -> Reply {
        self.side_call = false;
        let done = match result {
            Ok(r) => r,
            Err(e) => {
                let what = if kind == SideKind::Summarize {
                    "Summary"
                } else {
                    "Compaction"
                };
                return Reply::Failed(Error::Provider(format!("{what} failed: {e}")));
            }
        };
        match kind {
            SideKind::Compact { first_kept_id } => {
                let before =
                    estimate_tokens(&context_from_transcript(self.transcript.messages()), None);
                let compaction = Compaction {
                    summary: done.text.clone(),
                    first_kept_id,
                };
                let mut probe = self.transcript.clone();
                probe.push(Body::System {
                    text: String::new(),
                    level: Level::Info,
                    compaction: Some(compaction.clone()),
                });
                let after = estimate_tokens(&context_from_transcript(probe.messages()), None);
                let info = format!(
                    "Context compacted ({} → {} estimated tokens)",
                    thousands(before),
                    thousands(after)
                );
                self.transcript.push(Body::System {
                    text: info.clone(),
                    level: Level::Info,
                    compaction: Some(compaction),
                });
                self.messages_changed(now, fx);
                Reply::Json(json!({"compacted": true, "info": info, "summary": done.text}))
            }
            SideKind::Summarize => {
                let path = done.path.unwrap_or_default();
                self.transcript.push(Body::system(
                    format!("Summary saved to {path}"),
                    Level::Info,
                ));
                self.messages_changed(now, fx);
                Reply::Json(json!({"text": done.text, "path": path}))
            }
        }
    }

    /// Resumes an answer cut off by a stream failure.
    pub(super) fn continue_turn(&mut self, now: Now, fx: &mut Vec<Effect>) -> Reply {
        if self.busy() {
            return busy("continue");
        }
        if !self.interrupted {
            return Reply::Failed(Error::invalid("No interrupted response to continue from"));
        }
        self.start_turn(
            vec![ContentPart::Text {
                text: CONTINUE_PROMPT.into(),
            }],
            now,
            fx,
        );
        Reply::Ok
    }
}

/// `1234` → `1.2k`, as the seed formats token counts.
fn thousands(n: u64) -> String {
    if n >= 1000 {
        format!("{:.1}k", n as f64 / 1000.0)
    } else {
        n.to_string()
    }
}
