//! Exported session functions: the manager (start, stop, list, prompt, abort, tokens, sub-agents) and session
//! queries (status, messages, usage, metadata, snapshot, system messages).
//!
//! Every function here is thread-safe, may be called from event callbacks, and answers `TANDEM_ERR_NOT_FOUND` for
//! unknown or stopped session IDs and `TANDEM_ERR_RESTART_PENDING` while a crashed session is being restarted.

use std::ffi::c_char;

use super::boundary::{
    arg_str, client as client_ref, guard, opt_str, session_do, session_json, Out,
};
use super::prompt::{parts_prompt, session_prompt, text_prompt};
use super::types::{
    message_level, tandem_client, tandem_prompt_result, tandem_session_status, tandem_status,
    RawMessageLevel,
};

/// Starts a session. `options_json` is a JSON object or NULL (meaning `{}`), merged over the client's
/// `session_defaults` key by key. Every key is optional; docs/options.md is the complete reference (values, ranges,
/// defaults, nested keys) and `$defs.session_options` in schemas/tandem.schema.json the machine-readable one. The
/// keys, all of them:
/// - `session_id`: the session's ID (`A-Z a-z 0-9 . _ -`, 1-128 characters; default `session-N`). One that is taken
///   is `TANDEM_ERR_ALREADY_EXISTS`; a stored conversation with this ID is continued.
/// - `provider`: `native` (default; tandem's agent loop), `host` (the host's model, see
///   `tandem_client_set_provider`), `pi` (turns run in a `pi --mode rpc` subprocess) or `acp` (turns run by an
///   Agent Client Protocol agent, `acp_command`), see docs/providers.md.
/// - `pi_command`: argv of pi (default `["pi"]`).
/// - `acp_command`: argv of the ACP agent the `acp` provider runs (required with `"provider": "acp"`; prefix `env
///   NAME=value` for its environment), see docs/providers.md.
/// - `model`: `provider:model` with provider `scripted`, `anthropic`, `openai` (Chat Completions),
///   `openai-responses` (the Responses API, see docs/providers.md), `ollama` or `host`, or for pi any
///   model pi knows; default `scripted:echo`, `host:default` for the host provider, `pi:default` for pi.
/// - `base_url`: the HTTP backend's URL (Anthropic: without `/v1`; OpenAI and OpenAI-compatible: with it; ollama defaults to
///   `http://localhost:11434/v1`).
/// - `api_key_env`: the variable the API key is read from at each model call (default `ANTHROPIC_API_KEY` /
///   `OPENAI_API_KEY`); the key is never stored.
/// - `workdir`: the directory the built-in tools are confined to (must exist); without it there are no built-in
///   tools.
/// - `persist`: write the conversation to the client's store (default true).
/// - `thinking_level`: `off` (default), `low`, `medium`, `high`.
/// - `approval`: which tool calls wait for `tandem_session_respond_to_approval`: `destructive` (default), `all`,
///   `none`.
/// - `approval_timeout_ms`: how long a call waits for approval before it fails (default 300000).
/// - `tool_permissions`: `{tool: "allow" | "deny" | "ask"}`, overriding `approval` per tool.
/// - `tools`: allow-list of the tools offered to the model (built-in and host tools; default all).
/// - `max_turns`: tool rounds per prompt (default 100); reaching it ends the turn (`turn_limit_reached`), and
///   `tandem_session_continue` resumes it.
/// - `max_cost`: cost limit in USD of the session and all its sub-agents; once their cost reaches it, the turn ends
///   with reason `budget_exhausted` (event `TANDEM_EVENT_KIND_BUDGET_EXHAUSTED`). Changeable: `tandem_session_set_budget`.
/// - `max_tokens_total`: token limit (input, output and cache tokens) of the session and all its sub-agents, enforced
///   like `max_cost`.
/// - `context_files`: project context files in the system prompt (default on): `AGENTS.md`, else `CLAUDE.md`, from
///   the repository root down to the workdir and in subdirectories the tools touch; `false` turns them off,
///   `{names, paths, max_bytes, max_total_bytes}` changes them (docs/context-files.md; native and host providers).
/// - `prices`: `{input, output, cache_read, cache_write}` in USD per million tokens, overriding the model's list
///   prices.
/// - `retry`: `{max_retries, base_delay_ms, max_delay_ms}` for failed model calls (HTTP backends default to 3
///   retries from 1000 ms, scripted models to none).
/// - `stream_idle_timeout_ms`: how long a model's stream may send nothing before the call fails (default 180000).
/// - `idle_timeout_ms`: idle reclamation (default 14400000, 4 h; 0 never): a session with nothing running, no approval
///   pending and nothing queued that the host has not called on for this long saves its state and stops
///   (`session_stopped` with reason `idle`); `tandem_session_start_or_get` brings its conversation back.
/// - `system_prompt`: the system prompt (project context files and active skills are appended; `""` sends only
///   those).
/// - `script`: the scripted model's responses (docs/options.md, "Scripted model steps").
/// - `restart`: `{max_attempts, base_delay_ms, max_delay_ms, window_ms}`, this session's restart policy over the
///   client's.
/// - `models`: the rotation `tandem_session_cycle_model` steps through (`provider:model` or `provider:model:level`).
/// - `skill_dirs`: directories searched for skills after `<workdir>/.tandem/skills`.
/// - `compaction`: `{threshold (0.8), keep_recent (6), context_limit}`: before a turn whose estimated context
///   exceeds threshold × the context window, the conversation is compacted first; `context_limit` overrides the
///   model's known window.
/// - `sandbox`: how `shell` commands are confined: `workspace-write` (default), `read-only`, `off`, or
///   `{mode, network, writable_roots}` (docs/tools.md).
/// - `mcp_servers`: MCP servers whose tools the session offers as `mcp__<server>__<tool>`, added to the client's
///   (`{name: {command, args, env, cwd} | {type: "http", url, headers}}` or ACP's array form; docs/options.md);
///   `TANDEM_ERR_NOT_SUPPORTED` in a build without the Cargo feature `mcp`.
/// - `shell_env`: variables (or `PREFIX*`) passed to `shell` commands beyond the base allowlist; API keys never are.
/// - `hooks`: Claude Code command hooks, the `hooks` object of a Claude Code settings file (`{"PreToolUse":
///   [{"matcher": "Write|Edit", "hooks": [{"type": "command", "command": "...", "timeout": 60}]}], ...}`; events
///   `PreToolUse`, `PostToolUse`, `UserPromptSubmit`, `Stop`, `SessionStart`, `PreCompact`; docs/hooks.md).
/// - `hook_settings_files`: Claude Code settings files (relative to the workdir, e.g. `.claude/settings.json`)
///   whose `hooks` are added after `hooks`; missing files are skipped.
///
/// Options of the native loop (`base_url`, `api_key_env`, `tools`, `tool_permissions`, `approval`, `max_turns`,
/// `max_cost`, `max_tokens_total`, `prices`, `retry`, `system_prompt`, `script`, `context_files`) do not apply to pi
/// sessions. Malformed JSON is
/// `TANDEM_ERR_INVALID_JSON`; an unknown key, a wrong type or a value out of range is `TANDEM_ERR_INVALID_ARGUMENT`
/// with a last-error message naming it.
///
/// On success `*out_id` is the session's ID, a plain string the caller owns (free with `tandem_string_free`).
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn tandem_session_start(
    client: *mut tandem_client,
    options_json: *const c_char,
    out_id: *mut *mut c_char,
) -> tandem_status {
    guard(|| {
        let out = Out::new(out_id, "out_id")?;
        let options = opt_str(options_json, "options_json")?;
        out.write_string(client_ref(client)?.start_session(options)?)
    })
}

/// Returns the live session `id`, or starts it with `options_json` (which may be NULL). `TANDEM_ERR_RESTART_PENDING`
/// while that session restarts. On success `*out_id` is the ID, owned by the caller.
#[no_mangle]
pub unsafe extern "C" fn tandem_session_start_or_get(
    client: *mut tandem_client,
    id: *const c_char,
    options_json: *const c_char,
    out_id: *mut *mut c_char,
) -> tandem_status {
    guard(|| {
        let out = Out::new(out_id, "out_id")?;
        let id = arg_str(id, "id")?;
        let options = opt_str(options_json, "options_json")?;
        out.write_string(client_ref(client)?.start_or_get_session(id, options)?)
    })
}

/// Stops a session: a running turn is closed as aborted, and `session_stopped` with reason `stopped` is emitted.
/// Blocks until the session has stopped.
#[no_mangle]
pub unsafe extern "C" fn tandem_session_stop(
    client: *mut tandem_client,
    id: *const c_char,
) -> tandem_status {
    session_do(client, id, |c, id| c.stop_session(id))
}

/// Metadata of every live session, in start order, as a JSON array. `*out` is owned by the caller.
#[no_mangle]
pub unsafe extern "C" fn tandem_session_list(
    client: *mut tandem_client,
    out: *mut *mut c_char,
) -> tandem_status {
    guard(|| {
        let out = Out::new(out, "out")?;
        out.write_string(client_ref(client)?.list_sessions_json()?)
    })
}

/// Sends a plain-text prompt. If no turn is running a turn starts (`TANDEM_PROMPT_RESULT_SENT`); otherwise the
/// prompt is queued as steering (`TANDEM_PROMPT_RESULT_QUEUED_STEERING`) and sent between tool calls or when the
/// turn ends. `out_or_null` may be NULL. Every sent prompt ends with exactly one `turn_ended` event.
///
/// An empty or blank prompt is `TANDEM_ERR_INVALID_ARGUMENT`. A prompt that is a slash command listed by
/// `tandem_session_commands` (`/plan`, `/compact`, `/model NAME`, a skill's name...) is run instead of being sent:
/// the result is `TANDEM_PROMPT_RESULT_COMMAND`, a `command_ran` event carries what it returned, and the command's
/// own failure is this call's error.
///
/// Other prompts first go through the `UserPromptSubmit` hooks (docs/hooks.md), on the client's threads while this
/// call waits: one that refuses the prompt makes this call fail with `TANDEM_ERR_INVALID_ARGUMENT` (the last error
/// names its reason) and nothing is sent.
#[no_mangle]
pub unsafe extern "C" fn tandem_session_send_prompt(
    client: *mut tandem_client,
    id: *const c_char,
    prompt: *const c_char,
    out_or_null: *mut tandem_prompt_result,
) -> tandem_status {
    session_prompt(client, id, || text_prompt(prompt), out_or_null, false)
}

/// Like `tandem_session_send_prompt` with a JSON array of content parts:
/// `{"type":"text","text":...}` and `{"type":"image","media_type":"image/png","data":<base64>}`.
#[no_mangle]
pub unsafe extern "C" fn tandem_session_send_prompt_parts(
    client: *mut tandem_client,
    id: *const c_char,
    parts_json: *const c_char,
    out_or_null: *mut tandem_prompt_result,
) -> tandem_status {
    session_prompt(client, id, || parts_prompt(parts_json), out_or_null, false)
}

/// Aborts the running turn: running tool calls are marked aborted, an "Aborted" notice is added, and `turn_ended`
/// with reason `aborted` is emitted. Queued prompts are kept. A compaction or summary in flight (automatic, or a
/// `tandem_session_compact`/`tandem_session_summarize` another thread waits in) is cancelled too, and records
/// nothing. A no-op when nothing is running.
#[no_mangle]
pub unsafe extern "C" fn tandem_session_abort(
    client: *mut tandem_client,
    id: *const c_char,
) -> tandem_status {
    session_do(client, id, |c, id| c.abort(id))
}

/// The session's token: 43 characters of base64url (256 bits from the OS RNG), stable across restarts.
/// `*out` is a plain string owned by the caller.
#[no_mangle]
pub unsafe extern "C" fn tandem_session_token(
    client: *mut tandem_client,
    id: *const c_char,
    out: *mut *mut c_char,
) -> tandem_status {
    guard(|| {
        let out = Out::new(out, "out")?;
        let id = arg_str(id, "id")?;
        out.write_string(client_ref(client)?.token(id)?)
    })
}

/// Starts a background sub-agent session and sends it `task` once it is ready, retrying while it is not.
/// `parent_id_or_null` must name a live session when given (`TANDEM_ERR_NOT_FOUND` otherwise,
/// `TANDEM_ERR_RESTART_PENDING` while it restarts).
///
/// Options are those of `tandem_session_start`. A sub-agent of a parent inherits, unless its options name them:
/// the parent's provider, its current model (after any `set_model`/`cycle_model`; not when the options name another
/// provider, which then brings its own default model) and thinking level, its active skills, its workdir, and its
/// tool settings (`tools`, `tool_permissions`, `approval`, `approval_timeout_ms`, `sandbox`, `shell_env`) - in
/// fact every option the parent was started with except `session_id`. One more option says how it relates to its
/// parent: `"detached": true` keeps it running when its parent is stopped (`tandem_session_stop`) or exhausts its
/// restarts; without it (default false) it stops then too, announced by `session_stopped` with reason `stopped` and
/// a detail naming the parent. A parent reclaimed while idle does not stop its sub-agents.
///
/// Each time the sub-agent finishes a turn and comes to rest (its task, or a later prompt), its parent, if live,
/// gets a system note `Sub-agent <id> finished (<reason>): <answer>` in its transcript and then a
/// `subagent_finished` event `{subagent_session_id, parent_session_id, answer, reason}`.
///
/// `*out` is the handle JSON `{session_id, parent_session_id, task, model, started_at, detached}`, owned by the
/// caller. Thread-safe; the task is sent after the call returns.
#[no_mangle]
pub unsafe extern "C" fn tandem_subagent_start(
    client: *mut tandem_client,
    parent_id_or_null: *const c_char,
    task: *const c_char,
    options_json: *const c_char,
    out: *mut *mut c_char,
) -> tandem_status {
    guard(|| {
        let out = Out::new(out, "out")?;
        let parent = opt_str(parent_id_or_null, "parent_id")?;
        let task = arg_str(task, "task")?;
        let options = opt_str(options_json, "options_json")?;
        out.write_json(&client_ref(client)?.start_subagent(parent, task, options)?)
    })
}

/// Background sub-agent handles, oldest first: all of them, or those whose parent is `parent_id_or_null` (a parent
/// that has stopped still lists its detached sub-agents, and those that ran on after it was reclaimed while idle;
/// an unknown one lists none). A sub-agent's handle goes when the sub-agent stops. `*out` is a JSON array owned by the caller.
#[no_mangle]
pub unsafe extern "C" fn tandem_subagent_list(
    client: *mut tandem_client,
    parent_id_or_null: *const c_char,
    out: *mut *mut c_char,
) -> tandem_status {
    guard(|| {
        let out = Out::new(out, "out")?;
        let parent = opt_str(parent_id_or_null, "parent_id")?;
        out.write_json(&client_ref(client)?.list_subagents(parent)?)
    })
}

/// The session's status.
#[no_mangle]
pub unsafe extern "C" fn tandem_session_get_status(
    client: *mut tandem_client,
    id: *const c_char,
    out: *mut tandem_session_status,
) -> tandem_status {
    guard(|| {
        let out = Out::new(out, "out")?;
        let id = arg_str(id, "id")?;
        out.write(client_ref(client)?.status(id)?.into());
        Ok(())
    })
}

/// All messages as a JSON array, oldest first; each has a stable `id` and a `kind` (`user`, `assistant`,
/// `thinking`, `tool_call`, `system`, `usage`; `$defs.message` in schemas/tandem.schema.json has their fields). A
/// user message lists its images as `attachments` (`[{"media_type", "size_bytes"}]`);
/// `tandem_session_message_parts` returns their data. `*out` is owned by the caller.
#[no_mangle]
pub unsafe extern "C" fn tandem_session_messages(
    client: *mut tandem_client,
    id: *const c_char,
    out: *mut *mut c_char,
) -> tandem_status {
    session_json(client, id, out, |c, id| c.messages(id))
}

/// The content parts of user message `message_id` as a JSON array (`{"type":"text","text"}` and
/// `{"type":"image","media_type","data"}` with the image's base64 data), owned by the caller: how a host shows the
/// images of a conversation again, since message JSON lists them only as `attachments` (type and size). Stored
/// conversations keep their images, so this works after a load or a restart too. `TANDEM_ERR_NOT_FOUND` for an
/// unknown message ID, `TANDEM_ERR_INVALID_ARGUMENT` for a message that is not a user message. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn tandem_session_message_parts(
    client: *mut tandem_client,
    id: *const c_char,
    message_id: u64,
    out: *mut *mut c_char,
) -> tandem_status {
    session_json(client, id, out, |c, id| c.message_parts(id, message_id))
}

/// Up to `limit` (at least 1) messages with IDs below `before_id` (0 = start from the newest), newest first:
/// `{"messages": [...], "has_more": bool}`. Page backwards by passing the last ID you got. `*out` is owned by the
/// caller.
#[no_mangle]
pub unsafe extern "C" fn tandem_session_messages_page(
    client: *mut tandem_client,
    id: *const c_char,
    before_id: u64,
    limit: u32,
    out: *mut *mut c_char,
) -> tandem_status {
    guard(|| {
        let out = Out::new(out, "out")?;
        let id = arg_str(id, "id")?;
        out.write_json(&client_ref(client)?.messages_page(id, before_id, limit)?)
    })
}

/// Accumulated usage: `{"input", "output", "cache_read", "cache_write", "cost"}`. `*out` is owned by the caller.
#[no_mangle]
pub unsafe extern "C" fn tandem_session_usage(
    client: *mut tandem_client,
    id: *const c_char,
    out: *mut *mut c_char,
) -> tandem_status {
    session_json(client, id, out, |c, id| c.usage(id))
}

/// Metadata: `{id, title, model, provider, created_at, last_message_at, message_count, turn_count, first_prompt,
/// cost, status, workdir, background, parent_session_id}`. `*out` is owned by the caller.
#[no_mangle]
pub unsafe extern "C" fn tandem_session_metadata(
    client: *mut tandem_client,
    id: *const c_char,
    out: *mut *mut c_char,
) -> tandem_status {
    session_json(client, id, out, |c, id| c.metadata(id))
}

/// What an editor shows: `{status, pending_approval, error, active_tool_name, sandbox, budget}` (`sandbox`: what the
/// OS sandbox enforces for the session's shell commands on this machine, with a `not_enforced` list; null without a
/// shell tool; `budget`: `{session_id, max_cost, max_tokens_total, own, tree, tree_tokens, exhausted, children}`, the
/// running totals of the session and its sub-agents, see docs/governance.md). `*out` is owned by the caller.
#[no_mangle]
pub unsafe extern "C" fn tandem_session_snapshot(
    client: *mut tandem_client,
    id: *const c_char,
    out: *mut *mut c_char,
) -> tandem_status {
    session_json(client, id, out, |c, id| c.snapshot(id))
}

/// Appends a system message with `level` (a `tandem_message_level`; other values are `TANDEM_ERR_INVALID_ARGUMENT`).
#[no_mangle]
pub unsafe extern "C" fn tandem_session_add_system_message(
    client: *mut tandem_client,
    id: *const c_char,
    text: *const c_char,
    level: RawMessageLevel,
) -> tandem_status {
    guard(|| {
        let id = arg_str(id, "id")?;
        let text = arg_str(text, "text")?;
        let level = message_level(level)?;
        client_ref(client)?.add_system_message(id, text, level)
    })
}
