//! The client's hooks: registration of host callbacks, and the hooks that run on host calls (UserPromptSubmit before
//! a prompt is sent, SessionStart after a session started). Tool, turn-end and compaction hooks run in the native
//! loop (`provider::native::hooks`).

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::Client;
use crate::error::{Error, Result};
use crate::hooks::{HookEvent, HookSink, Outcome, Registration, Scope};
use crate::session::machine::transcript::{Body, ContentPart, Level};

impl Client {
    /// Adds a hook callback for every session (`session` `None`) or for live session `session`; returns its ID.
    /// On any error (shutdown, unknown session) the sink is released at once.
    pub fn add_hook(
        &self,
        spec: &Registration,
        session: Option<&str>,
        sink: Box<dyn HookSink>,
    ) -> Result<u64> {
        let ok = self
            .local("tandem_client_add_hook (hooks run in the gateway's process)")
            .and_then(|m| match session {
                Some(id) if !m.is_live(id) => Err(Error::no_session(id)),
                _ => Ok(()),
            });
        if let Err(e) = ok {
            sink.release();
            return Err(e);
        }
        Ok(self.shared.hooks.add_callback(spec, session, sink))
    }

    /// Removes hook `id` (a client's or a session's). It stops being called at once; a call already running
    /// finishes and the userdata is freed after it.
    pub fn remove_hook(&self, id: u64) -> Result<()> {
        self.check_process()?;
        self.shared.hooks.remove(id)
    }

    fn hook_scope(&self, id: &str) -> Result<Scope> {
        Ok(Scope {
            session_id: id.to_string(),
            cwd: self.live()?.workdir(id)?,
        })
    }

    /// Runs hooks from a host thread: on the runtime (callbacks on its blocking pool, so a hook never runs on the
    /// calling thread), waiting on a std channel. Failures are told to the host: a `hook_failed` event and a system
    /// message.
    fn run_hooks(
        &self,
        scope: Scope,
        event: HookEvent,
        target: Option<String>,
        input: BTreeMap<&'static str, Value>,
    ) -> Result<Outcome> {
        let targets: Vec<&str> = target.iter().map(String::as_str).collect();
        if self
            .shared
            .hooks
            .matching(&scope.session_id, event, &targets)
            .is_empty()
        {
            return Ok(Outcome::default());
        }
        let handle = crate::sync::lock(&self.runtime)
            .as_ref()
            .map(|rt| rt.handle().clone())
            .ok_or(Error::ShuttingDown)?;
        let (tx, rx) = std::sync::mpsc::channel();
        let hooks = self.shared.hooks.clone();
        let session = scope.session_id.clone();
        handle.spawn(async move {
            let targets: Vec<&str> = target.iter().map(String::as_str).collect();
            let out = hooks.run(&scope, event, &targets, || input).await;
            let _ = tx.send(out);
        });
        let out = rx.recv().map_err(|_| Error::ShuttingDown)?;
        for f in &out.failures {
            let m = self.live()?;
            m.publish(&session, crate::events::Payload::HookFailed(f.clone()))?;
            m.add_system_message(&session, crate::hooks::failure_notice(f), Level::Error)?;
        }
        Ok(out)
    }

    /// UserPromptSubmit: the prompt as the hooks leave it (text rewritten, their context and any SessionStart
    /// context added as text parts after it), or `InvalidArgument` naming the hook's reason when one refuses it.
    pub(super) fn prompt_hooks(
        &self,
        id: &str,
        mut parts: Vec<ContentPart>,
    ) -> Result<Vec<ContentPart>> {
        let scope = self.hook_scope(id)?;
        let text: Vec<&str> = parts
            .iter()
            .filter_map(|p| match p {
                ContentPart::Text { text } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        let input = BTreeMap::from([("prompt", json!(text.join("\n")))]);
        let out = self.run_hooks(scope, HookEvent::UserPromptSubmit, None, input)?;
        if let Some(reason) = out.denied {
            return Err(Error::invalid(format!(
                "the prompt was blocked by a UserPromptSubmit hook: {reason}"
            )));
        }
        if let Some(p) = &out.prompt {
            parts.retain(|part| !matches!(part, ContentPart::Text { .. }));
            parts.insert(0, ContentPart::Text { text: p.clone() });
        }
        let kept = self.shared.hooks.take_context(id);
        for text in kept.into_iter().chain(out.context_text()) {
            parts.push(ContentPart::Text { text });
        }
        Ok(parts)
    }

    /// SessionStart: runs the hooks of a session that just started (`source` `startup`, or `resume` when it came
    /// back with a stored conversation); their context waits for the session's first prompt.
    pub(super) fn session_start_hooks(&self, id: &str) -> Result<()> {
        // A conversation that came back from the store already holds prompts (system notices alone do not count).
        let resumed = self.live()?.with_state(id, |s| {
            s.transcript()
                .messages()
                .iter()
                .any(|m| matches!(m.body, Body::User { .. }))
        })?;
        let source = if resumed { "resume" } else { "startup" };
        let scope = self.hook_scope(id)?;
        let input = BTreeMap::from([("source", json!(source))]);
        let out = self.run_hooks(scope, HookEvent::SessionStart, Some(source.into()), input)?;
        if let Some(c) = out.context_text() {
            self.shared.hooks.keep_context(id, c);
        }
        Ok(())
    }
}
