//! Exported model, thinking-level and skill functions, and the command catalogue.
//!
//! Thread-safe; callable from callbacks. Changes apply from the next model call on; a turn already streaming keeps
//! its model.

use std::ffi::c_char;

use super::boundary::{session_arg, session_json};
use super::types::{tandem_client, tandem_status};

/// Switches the session to `model` (`provider:model`). The session's model name changes only when the model is
/// accepted: a model without a provider prefix or with a provider this build lacks is `TANDEM_ERR_INVALID_ARGUMENT`;
/// when the provider lists its models (an HTTP backend, for a model of the session's own backend: `GET …/models`;
/// pi: `get_available_models`), a model it does not list is `TANDEM_ERR_NOT_FOUND` with the known models in the
/// last-error message (a dated or tagged listed model may be named without its date or tag). When the list cannot
/// be had in time (10 s; 30 s for pi, which starts a process to answer), the model is taken and one the provider
/// does not know fails the next turn. Blocks for the list; call it from a thread that may block.
#[no_mangle]
pub unsafe extern "C" fn tandem_session_set_model(
    client: *mut tandem_client,
    id: *const c_char,
    model: *const c_char,
) -> tandem_status {
    session_arg(client, id, model, "model", |c, id, model| {
        c.set_model(id, model)
    })
}

/// Switches to the entry after the current model in the session's `models` option (entries `provider:model` or
/// `provider:model:level`, the level applied too). `*out` is `{"model", "index" (1-based), "total",
/// "thinking_level"}`, owned by the caller. `TANDEM_ERR_NOT_SUPPORTED` without a rotation.
#[no_mangle]
pub unsafe extern "C" fn tandem_session_cycle_model(
    client: *mut tandem_client,
    id: *const c_char,
    out: *mut *mut c_char,
) -> tandem_status {
    session_json(client, id, out, |c, id| c.cycle_model(id))
}

/// Sets the thinking level: `off`, `low`, `medium` or `high` (anything else is `TANDEM_ERR_INVALID_ARGUMENT`).
#[no_mangle]
pub unsafe extern "C" fn tandem_session_set_thinking_level(
    client: *mut tandem_client,
    id: *const c_char,
    level: *const c_char,
) -> tandem_status {
    session_arg(client, id, level, "level", |c, id, level| {
        c.set_thinking_level(id, level)
    })
}

/// Moves to the next thinking level (off → low → medium → high → off). `*out` is `{"level"}`, owned by the caller.
#[no_mangle]
pub unsafe extern "C" fn tandem_session_cycle_thinking_level(
    client: *mut tandem_client,
    id: *const c_char,
    out: *mut *mut c_char,
) -> tandem_status {
    session_json(client, id, out, |c, id| c.cycle_thinking_level(id))
}

/// Models the session can use: `[{"model", "provider", "name", "current"}]`, owned by the caller. For Anthropic,
/// OpenAI (both APIs) and ollama models the provider's own list (`GET …/models`, waited for at most 10 s); for a pi session
/// pi's list (`get_available_models`, from a pi process started to answer, at most 30 s); otherwise, or when that
/// fails, the configured `models` rotation (or the current model alone).
#[no_mangle]
pub unsafe extern "C" fn tandem_session_available_models(
    client: *mut tandem_client,
    id: *const c_char,
    out: *mut *mut c_char,
) -> tandem_status {
    session_json(client, id, out, |c, id| c.available_models(id))
}

/// Slash commands a host can offer its user: `[{"name", "description", "kind"}]`, owned by the caller. `kind` is
/// `builtin` (`/plan`, `/compact`, ...), `skill` (a SKILL.md found for the session; running it activates the
/// skill), `mcp_prompt` (a prompt of one of the session's ready MCP servers, named `mcp__<server>__<prompt>`: sending
/// it fetches the prompt and sends its text instead) or, for a pi session, `pi`: pi's own commands (`get_commands`:
/// extension commands, prompt templates, its skills as `skill:<name>`), which a prompt `/name` reaches pi with. A pi
/// session lists no `skill` entries. Blocks for pi's answer (at most 30 s).
#[no_mangle]
pub unsafe extern "C" fn tandem_session_commands(
    client: *mut tandem_client,
    id: *const c_char,
    out: *mut *mut c_char,
) -> tandem_status {
    session_json(client, id, out, |c, id| c.commands(id))
}

/// Skills found for the session (`SKILL.md` files under `<workdir>/.tandem/skills/<name>/`, then the session's
/// `skill_dirs`): `[{"name", "description", "path", "active"}]`, owned by the caller.
#[no_mangle]
pub unsafe extern "C" fn tandem_session_list_skills(
    client: *mut tandem_client,
    id: *const c_char,
    out: *mut *mut c_char,
) -> tandem_status {
    session_json(client, id, out, |c, id| c.list_skills(id))
}

/// Activates skill `name`: its SKILL.md is added to the system prompt from the next model call on.
/// `TANDEM_ERR_NOT_FOUND` when no such skill exists; `TANDEM_ERR_NOT_SUPPORTED` for a pi session (pi loads its own
/// skills; `tandem_session_commands` lists them as `skill:<name>` commands to send to pi).
#[no_mangle]
pub unsafe extern "C" fn tandem_session_activate_skill(
    client: *mut tandem_client,
    id: *const c_char,
    name: *const c_char,
) -> tandem_status {
    session_arg(client, id, name, "name", |c, id, name| {
        c.activate_skill(id, name)
    })
}

/// Deactivates skill `name`. `TANDEM_ERR_NOT_FOUND` when it is not active.
#[no_mangle]
pub unsafe extern "C" fn tandem_session_deactivate_skill(
    client: *mut tandem_client,
    id: *const c_char,
    name: *const c_char,
) -> tandem_status {
    session_arg(client, id, name, "name", |c, id, name| {
        c.deactivate_skill(id, name)
    })
}
