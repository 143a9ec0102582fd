//! Prompt exports' shared body: the content of a prompt argument, sent to a session's steering or follow-up queue.

use std::ffi::c_char;

use super::boundary::{arg_str, client, guard, OptOut};
use super::types::{tandem_client, tandem_prompt_result, tandem_status};
use crate::error::Result;
use crate::vocab::content::ContentPart;

/// Body of the exported prompt functions: checks the session ID, builds the content with `content`, sends it
/// (`follow_up` picks the queue a busy session puts it in) and writes the outcome to `out_or_null` when given.
/// Runs inside [`guard`].
///
/// # Safety
/// As [`client`] and [`arg_str`]; `out_or_null` is NULL or writable.
pub unsafe fn session_prompt(
    client_ptr: *const tandem_client,
    id: *const c_char,
    content: impl FnOnce() -> Result<Vec<ContentPart>>,
    out_or_null: *mut tandem_prompt_result,
    follow_up: bool,
) -> tandem_status {
    guard(|| {
        let id = arg_str(id, "id")?;
        let parts = content()?;
        let c = client(client_ptr)?;
        let outcome = if follow_up {
            c.queue_follow_up(id, parts)?
        } else {
            c.send_prompt(id, parts)?
        };
        OptOut::new(out_or_null).write(outcome.into());
        Ok(())
    })
}

/// The content of a JSON content-parts argument (`parts_json`).
///
/// # Safety
/// As [`arg_str`].
pub unsafe fn parts_prompt(parts_json: *const c_char) -> Result<Vec<ContentPart>> {
    crate::vocab::content::parse_parts(arg_str(parts_json, "parts_json")?)
}

/// The content of a plain-text prompt argument.
///
/// # Safety
/// As [`arg_str`].
pub unsafe fn text_prompt(prompt: *const c_char) -> Result<Vec<ContentPart>> {
    Ok(vec![ContentPart::Text {
        text: arg_str(prompt, "prompt")?.into(),
    }])
}
