//! Slash commands: a prompt such as `/plan` or `/compact 4` that names a command `tandem_session_commands` lists is
//! run on the session instead of being sent to the model as text.
//!
//! Only an exact command name counts (`/usr/bin/env is missing` is a prompt), and only in a prompt made of one
//! text part. What the command returns is reported in a `command_ran` event.

use serde_json::{json, Value};

use crate::client::Client;
use crate::error::{Error, Result};
use crate::events::Payload;
use crate::session::state::{EditOp, QueueOp};
use crate::session::transcript::ContentPart;

/// The command a prompt names, as `(name, args)`: one text part that starts with `/` and a name of letters,
/// digits, `-` and `_`.
pub fn parse(parts: &[ContentPart]) -> Option<(&str, &str)> {
    let [ContentPart::Text { text }] = parts else {
        return None;
    };
    let rest = text.trim().strip_prefix('/')?;
    let (name, args) = rest
        .split_once(char::is_whitespace)
        .map_or((rest, ""), |(n, a)| (n, a.trim()));
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    valid.then_some((name, args))
}

impl Client {
    /// Runs the slash command `parts` names, if `commands` lists it for session `id`: `Ok(None)` when the prompt
    /// is not a command, so it goes to the model. An MCP server's prompt is fetched and sent in its place (as a
    /// follow-up when `follow_up`, like the prompt it replaces).
    pub fn run_command(
        &self,
        id: &str,
        parts: &[ContentPart],
        follow_up: bool,
    ) -> Result<Option<Value>> {
        let Some((name, args)) = parse(parts) else {
            return Ok(None);
        };
        // tandem's own commands only: a pi command is sent to pi as the prompt it is.
        let listed = self.tandem_commands(id)?;
        let Some(kind) = listed.as_array().into_iter().flatten().find_map(|c| {
            (c["name"] == name).then(|| c["kind"].as_str().unwrap_or_default().to_string())
        }) else {
            return Ok(None);
        };
        // An MCP prompt's text is sent after its command_ran event, so the turn it starts comes after it.
        let mut prompt = None;
        let result = if kind == "skill" {
            self.activate_skill(id, name)?;
            json!({"skill": name, "active": true})
        } else if kind == "mcp_prompt" {
            let text = self.mcp_prompt_text(id, name, args)?;
            prompt = Some(vec![ContentPart::Text { text: text.clone() }]);
            json!({"prompt": name, "text": text})
        } else {
            self.builtin(id, name, args)?
        };
        self.publish(
            id,
            Payload::CommandRan {
                command: name.to_string(),
                args: args.to_string(),
                result: result.clone(),
            },
        )?;
        if let Some(parts) = prompt {
            self.live_prompt(id, parts, follow_up)?;
        }
        Ok(Some(result))
    }

    fn builtin(&self, id: &str, name: &str, args: &str) -> Result<Value> {
        let number = |what: &str| {
            args.parse::<u64>()
                .map_err(|_| Error::invalid(format!("usage: /{name} {what}")))
        };
        Ok(match (name, args) {
            ("abort", _) => self.abort(id).map(|()| Value::Null)?,
            ("plan", _) => self.enter_plan(id).map(|()| Value::Null)?,
            ("exec", _) => self.enter_exec(id).map(|()| Value::Null)?,
            ("compact", _) => self.compact(id)?,
            ("continue", _) => self.continue_turn(id).map(|()| Value::Null)?,
            ("summarize", _) => self.summarize(id)?,
            ("queue", _) => self.queues(id, QueueOp::Show)?,
            ("models", _) => self.cycle_model(id)?,
            ("model", "") => self.available_models(id)?,
            ("model", m) => self.set_model(id, m).map(|()| json!({"model": m}))?,
            ("thinking", "") => self.cycle_thinking_level(id)?,
            ("thinking", l) => self
                .set_thinking_level(id, l)
                .map(|()| json!({"level": l}))?,
            ("branches", "") => self.list_branches(id)?,
            ("branches", _) => {
                let n = u32::try_from(number("[BRANCH_NUMBER]")?)
                    .map_err(|_| Error::invalid("branch number out of range"))?;
                self.edit(id, EditOp::SwitchBranch(n))?
            }
            ("branch", _) => self.edit(id, EditOp::BranchAt(number("MESSAGE_ID")?))?,
            ("skills", "") => self.list_skills(id)?,
            ("skills", a) => match a.split_once(' ') {
                Some(("activate", s)) => self.activate_skill(id, s.trim()).map(|()| Value::Null)?,
                Some(("deactivate", s)) => {
                    self.deactivate_skill(id, s.trim()).map(|()| Value::Null)?
                }
                _ => return Err(Error::invalid("usage: /skills [activate|deactivate NAME]")),
            },
            (other, _) => {
                return Err(Error::Internal(format!(
                    "command /{other} is listed but has no handler"
                )))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Vec<ContentPart> {
        vec![ContentPart::Text { text: s.into() }]
    }

    #[test]
    fn only_a_single_text_part_naming_a_command_is_one() {
        assert_eq!(parse(&t("/plan")), Some(("plan", "")));
        assert_eq!(parse(&t("  /compact  4 \n")), Some(("compact", "4")));
        assert_eq!(
            parse(&t("/model openai:gpt-4.1")),
            Some(("model", "openai:gpt-4.1"))
        );
        assert_eq!(parse(&t("/usr/bin/env is missing")), None);
        assert_eq!(parse(&t("please /plan")), None);
        assert_eq!(parse(&t("/")), None);
        let two = vec![t("/plan").remove(0), t("x").remove(0)];
        assert_eq!(parse(&two), None);
    }
}
