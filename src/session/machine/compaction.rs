//! Compaction, summaries and `continue` in the session state machine. Compaction and summaries need one model call
//! outside any turn (a "side call"): the state asks for it as an effect and finishes when its result comes back.

use serde_json::json;

use super::context::context_from_transcript;
use super::state::{Effect, Now, Reply, SessionState};
use super::transcript::{Body, Compaction, ContentPart, Level};
use crate::error::Error;
use crate::provider::estimate_tokens;
use crate::vocab::model::ModelMessage;
pub use crate::vocab::settings::{SideKind, SideResult};

/// When compaction happens by itself: before a turn's first model call, once the estimated context exceeds
/// `threshold` × the model's context window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AutoCompact {
    /// Fraction of the window (the `compaction.threshold` option, default 0.8).
    pub threshold: f64,
    /// Messages kept verbatim (`compaction.keep_recent`, default 6).
    pub keep_recent: usize,
    /// Overrides the model's known window (`compaction.context_limit`); without either nothing is compacted.
    pub context_limit: Option<u64>,
}

impl Default for AutoCompact {
    fn default() -> Self {
        AutoCompact {
            threshold: 0.8,
            keep_recent: 6,
            context_limit: None,
        }
    }
}

/// The prompt the model gets after an interrupted answer.
pub const CONTINUE_PROMPT: &str =
    "Your previous response was interrupted mid-stream. Please continue from where you \
                                   left off. Do not repeat what you already said.";

/// The prompt the model gets when `continue` resumes a turn the turn limit ended.
pub const CONTINUE_AFTER_LIMIT: &str =
    "You reached the limit of tool rounds for one turn. Please continue the task from where you left off.";

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
    pub fn busy(&self) -> bool {
        self.turn.is_some() || self.side_call
    }

    /// Whether an idle session may be reclaimed (SPEC 3.13): nothing runs (no turn, no compaction or summary), no
    /// approval waits for the host and no prompt is queued. The actor adds the other half: no host activity for the
    /// session's `idle_timeout_ms`.
    pub fn reclaimable(&self) -> bool {
        !self.busy()
            && self.approvals.pending.is_none()
            && self.steering.is_empty()
            && self.follow_up.is_empty()
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

    /// Sets when compaction happens by itself (at start, before any input).
    pub fn configure_compaction(&mut self, auto: AutoCompact) {
        self.auto_compact = auto;
    }

    /// Starts a compaction keeping at least `keep_recent` messages, cut at a user prompt so no tool call is
    /// separated from its result.
    pub(super) fn compact(&mut self, keep_recent: usize, fx: &mut Vec<Effect>) -> Reply {
        if self.busy() {
            return busy("compact");
        }
        let Some((first_kept_id, context)) = self.compaction_cut(keep_recent) else {
            return not_needed();
        };
        self.side_call = true;
        fx.push(Effect::SideCall {
            kind: SideKind::Compact {
                first_kept_id,
                auto: false,
            },
            context,
        });
        Reply::Deferred
    }

    /// Compacts before turn `turn_id`'s first model call when the context is over the threshold: asks for the
    /// summary and returns true (the turn starts when it comes back, see [`Self::side_call_done`]).
    pub(super) fn auto_compaction(&mut self, turn_id: u64, now: Now, fx: &mut Vec<Effect>) -> bool {
        let auto = self.auto_compact;
        let Some(limit) = auto
            .context_limit
            .or_else(|| crate::provider::native::context_limit(&self.ident.model))
        else {
            return false;
        };
        if self.side_call {
            return false;
        }
        let estimate = estimate_tokens(&self.model_context(), None);
        if (estimate as f64) <= auto.threshold * limit as f64 {
            return false;
        }
        let Some((first_kept_id, context)) = self.compaction_cut(auto.keep_recent) else {
            return false;
        };
        self.side_call = true;
        self.compacting_for = Some(turn_id);
        self.transcript.push(Body::system(
            format!(
                "Context is at {} of {} estimated tokens: compacting before the next model call",
                thousands(estimate),
                thousands(limit)
            ),
            Level::Info,
        ));
        self.messages_changed(now, fx);
        fx.push(Effect::SideCall {
            kind: SideKind::Compact {
                first_kept_id,
                auto: true,
            },
            context,
        });
        true
    }

    /// Where a compaction keeping `keep_recent` messages cuts, and the context to summarize; `None` when there is
    /// nothing worth summarizing.
    fn compaction_cut(&self, keep_recent: usize) -> Option<(u64, Vec<ModelMessage>)> {
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
        let (cut_index, first_kept_id) = cut?;
        let context = context_from_transcript(&self.transcript.messages()[..cut_index]);
        context
            .iter()
            .any(|m| !matches!(m, ModelMessage::User(_)))
            .then_some((first_kept_id, context))
    }

    /// Starts a summary of the whole conversation.
    pub(super) fn summarize(&mut self, fx: &mut Vec<Effect>) -> Reply {
        if self.busy() {
            return busy("summarize");
        }
        if self.ident.provider == "pi" {
            return Reply::Failed(Error::NotSupported(
                "session summaries are not supported by the pi provider".into(),
            ));
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

    /// Cancels the side call in flight, if any (abort, stop): nothing it would have recorded is recorded, and a
    /// host waiting in `compact` or `summarize` is told it was cancelled. An automatic compaction's turn is left to
    /// the abort that cancels it.
    pub(super) fn cancel_side_call(&mut self, fx: &mut Vec<Effect>) {
        if !self.side_call {
            return;
        }
        self.side_call = false;
        let reply = match self.compacting_for.take() {
            Some(_) => None,
            None => Some(Reply::Failed(Error::Provider(
                "cancelled: the session was aborted before the model answered".into(),
            ))),
        };
        fx.push(Effect::CancelSideCall { reply });
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
        if let Some(turn_id) = self.compacting_for.take() {
            return self.auto_compaction_done(turn_id, kind, result, now, fx);
        }
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
            SideKind::Compact { first_kept_id, .. } => {
                let info = self.record_compaction(first_kept_id, &done.text, now, fx);
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

    /// Finishes an automatic compaction, then starts the turn that waited for it (unless it was aborted). A failed
    /// compaction is reported and the turn goes on with the whole context.
    fn auto_compaction_done(
        &mut self,
        turn_id: u64,
        kind: SideKind,
        result: Result<SideResult, String>,
        now: Now,
        fx: &mut Vec<Effect>,
    ) -> Reply {
        match (kind, result) {
            (SideKind::Compact { first_kept_id, .. }, Ok(done)) => {
                self.record_compaction(first_kept_id, &done.text, now, fx);
            }
            (_, result) => {
                let why = result
                    .err()
                    .unwrap_or_else(|| "unexpected side call".into());
                self.transcript.push(Body::system(
                    format!("Automatic compaction failed: {why}; continuing with the full context"),
                    Level::Error,
                ));
                self.messages_changed(now, fx);
            }
        }
        if self.turn.as_ref().is_some_and(|t| t.id == turn_id) {
            fx.push(Effect::StartTurn {
                turn_id,
                context: self.model_context(),
            });
        }
        Reply::Ok
    }

    /// Appends the compaction notice carrying `{summary, first_kept_id}`; returns its text.
    fn record_compaction(
        &mut self,
        first_kept_id: u64,
        summary: &str,
        now: Now,
        fx: &mut Vec<Effect>,
    ) -> String {
        let before = estimate_tokens(&context_from_transcript(self.transcript.messages()), None);
        let compaction = Compaction {
            summary: summary.to_string(),
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
        info
    }

    /// Resumes a turn cut off by a stream failure or by the turn limit.
    pub(super) fn continue_turn(&mut self, now: Now, fx: &mut Vec<Effect>) -> Reply {
        if self.busy() {
            return busy("continue");
        }
        let Some(prompt) = self.interrupted else {
            return Reply::Failed(Error::invalid("No interrupted response to continue from"));
        };
        self.start_turn(
            vec![ContentPart::Text {
                text: prompt.into(),
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
