//! Exported governance functions: the project context files a session loaded, and its budget.
//!
//! Thread-safe; may be called from event callbacks. Unknown or stopped session IDs are `TANDEM_ERR_NOT_FOUND`.

use std::ffi::c_char;

use super::boundary::{session_arg, session_json};
use super::types::{tandem_client, tandem_status};

/// The project context files session `id` loaded into its system prompt, lowest precedence first (the order of the
/// prompt): a JSON array of `{path, reason, bytes, loaded_bytes, truncated, error?}`, `reason` one of `configured`,
/// `ancestor`, `workdir`, `subdirectory` (docs/context-files.md). `[]` when the session has none, has them turned off
/// (`context_files: false`) or runs the pi provider (which reads them itself). The list is as of the session's last
/// model call (or its start); `TANDEM_EVENT_KIND_CONTEXT_FILES_LOADED` reports each change. `*out` is owned by the caller
/// (free with `tandem_string_free`). Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn tandem_session_context_files(
    client: *mut tandem_client,
    id: *const c_char,
    out: *mut *mut c_char,
) -> tandem_status {
    session_json(client, id, out, |c, id| c.context_files(id))
}

/// Changes session `id`'s budget while it runs: `budget_json` is `{"max_cost": USD | null, "max_tokens_total":
/// tokens | null}`; a key left out keeps its value, `null` removes the limit. The limits apply to the session and
/// all its sub-agents from their next model call; a sub-agent's own limits never let it spend past an ancestor's.
/// The running totals are in `tandem_session_snapshot`'s `budget`. Malformed JSON is `TANDEM_ERR_INVALID_JSON`; an
/// unknown key or a value that is not a positive number (or null) is `TANDEM_ERR_INVALID_ARGUMENT`, and nothing
/// changes. The change lasts for the live session (a resumed session takes its options again). Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn tandem_session_set_budget(
    client: *mut tandem_client,
    id: *const c_char,
    budget_json: *const c_char,
) -> tandem_status {
    session_arg(client, id, budget_json, "budget_json", |c, id, json| {
        c.set_budget(id, json).map(drop)
    })
}
