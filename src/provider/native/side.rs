//! Model calls outside a turn: compaction summaries and session summaries saved under the workdir.

use super::model::{Chunk, ModelRequest};
use super::Native;
use crate::provider::ModelMessage;
use crate::vocab::content::ContentPart;
use crate::vocab::settings::{SideKind, SideResult};

const COMPACT_SYSTEM: &str = "You are a conversation summarizer. Summarize the conversation so far for the assistant \
                              that will continue it: goals, decisions, file names, code changes and open tasks. Be \
                              concise and factual.";
const COMPACT_ASK: &str =
    "Summarize this conversation so far. The summary replaces the earlier messages.";
const SUMMARY_SYSTEM: &str =
    "You write session summaries in Markdown: the goal, what was done, files touched, and \
                              open questions.";
const SUMMARY_ASK: &str = "Write a Markdown summary of this session.";

impl Native {
    /// Makes the model call of a side call and, for summaries, saves the result under the workdir.
    pub async fn side_call(
        &self,
        kind: &SideKind,
        mut context: Vec<ModelMessage>,
    ) -> Result<SideResult, String> {
        if let SideKind::Compact { auto, .. } = kind {
            if let Some(reason) = self.pre_compact_hooks(*auto).await {
                return Err(format!("blocked by a PreCompact hook: {reason}"));
            }
        }
        let (system, ask) = match kind {
            SideKind::Compact { .. } => (COMPACT_SYSTEM, COMPACT_ASK),
            SideKind::Summarize => (SUMMARY_SYSTEM, SUMMARY_ASK),
        };
        context.push(ModelMessage::User(vec![ContentPart::Text {
            text: ask.into(),
        }]));
        let request = ModelRequest {
            system_prompt: Some(system),
            messages: &context,
            tools: &[],
            thinking: self.thinking,
        };
        let mut text = String::new();
        // Retried like turn calls; there is no turn to show the retry notices in.
        self.call_model(&request, &|_| {}, &mut |chunk| {
            if let Chunk::Text(t) = chunk {
                text.push_str(&t);
            }
        })
        .await
        .map_err(|e| e.to_string())?;
        let text = text.trim().to_string();
        if text.is_empty() {
            return Err("the model returned an empty summary".into());
        }
        let path = match kind {
            SideKind::Summarize => Some(self.save_summary(&text)?),
            SideKind::Compact { .. } => None,
        };
        Ok(SideResult { text, path })
    }

    /// Writes `<workdir>/.tandem/context/session-summary-<6 hex>-<YYYY-MM-DD>.md` (write, fsync, rename) through
    /// the workdir handle: `.tandem` and `context` are opened without following symlinks, so a `.tandem` symlink
    /// never sends the summary outside the workdir.
    fn save_summary(&self, text: &str) -> Result<String, String> {
        let workdir = self.tools.workdir().ok_or("the session has no workdir")?;
        let mut tag = [0u8; 3];
        getrandom::getrandom(&mut tag).map_err(|e| format!("OS RNG failed: {e}"))?;
        let date = &crate::time::rfc3339(crate::time::wall_ms())[..10];
        let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
        let name = format!("session-summary-{hex}-{date}.md");
        let root = crate::tools::confine::Root::open(workdir)?;
        let path = root
            .save_under(
                &[".tandem", "context"],
                &name,
                format!("{text}\n").as_bytes(),
            )
            .map_err(|e| format!("Summary generated but save failed: {e}"))?;
        Ok(path.display().to_string())
    }
}
