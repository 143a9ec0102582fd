//! Fuzz target: every JSON document the C ABI accepts, passed to the exported functions themselves as arbitrary
//! NUL-terminated bytes: client config, session options (also as a sub-agent's), scripts, content parts, host tool
//! specs, and the string arguments next to them (models, thinking levels, paths, conversation IDs).
//! Input: byte 0 picks the document, the rest is the document.
#![no_main]

#[path = "common.rs"]
mod common;

use std::ffi::{c_char, c_void};
use std::ptr;

use common::{c_string, check, lit, shared_client, take, unsafe_to_run};
use libfuzzer_sys::fuzz_target;
use tandem::ffi::client::{tandem_client_free, tandem_client_new, tandem_workdir_session_id};
use tandem::ffi::conversations::{tandem_conversation_delete, tandem_session_load_conversation};
use tandem::ffi::models::{tandem_session_set_model, tandem_session_set_thinking_level};
use tandem::ffi::session::{
    tandem_session_send_prompt, tandem_session_send_prompt_parts, tandem_session_start,
    tandem_session_start_or_get, tandem_session_stop, tandem_subagent_start,
};
use tandem::ffi::tools::{
    tandem_client_register_tool, tandem_client_unregister_tool, tandem_tool_call,
    tandem_tool_call_complete, tandem_tool_invocation,
};
use tandem::ffi::transcript::{tandem_session_boundary_for, tandem_session_set_boundary};
use tandem::ffi::types::tandem_client;

/// A host tool that answers at once.
unsafe extern "C" fn answer(
    _: *mut c_void,
    call: *mut tandem_tool_call,
    _: *const tandem_tool_invocation,
) {
    check(tandem_tool_call_complete(call, lit(c"done"), false));
}

/// Starts a session with `options` (NUL-terminated), returning its ID.
unsafe fn start(c: *mut tandem_client, options: *const c_char) -> Option<Vec<u8>> {
    let mut id = ptr::null_mut();
    check(tandem_session_start(c, options.cast(), &mut id))
        .then(|| c_string(take(id).unwrap().as_bytes()))
}

unsafe fn stop(c: *mut tandem_client, id: &[u8]) {
    assert!(check(tandem_session_stop(c, id.as_ptr().cast())));
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let doc = c_string(rest);
    let text: *const c_char = doc.as_ptr().cast();
    let c = shared_client();
    // SAFETY: every pointer passed is NULL-free, NUL-terminated and lives across the call.
    unsafe {
        match which % 7 {
            0 => {
                // Client config. A store_dir the input names is not created: it would litter the file system.
                if rest.windows(9).any(|w| w == b"store_dir") {
                    return;
                }
                let mut client = ptr::null_mut();
                if check(tandem_client_new(text, &mut client)) {
                    tandem_client_free(client);
                }
            }
            1 => {
                // Session options: start, then a second start of the same ID, then a sub-agent with them.
                let mut id = ptr::null_mut();
                if check(tandem_session_start_or_get(
                    c,
                    lit(c"fuzz-opts"),
                    text,
                    &mut id,
                )) {
                    take(id);
                    stop(c, b"fuzz-opts\0");
                }
                if let Some(id) = start(c, text) {
                    stop(c, &id);
                }
                if !unsafe_to_run(&doc) {
                    let mut sub = ptr::null_mut();
                    if check(tandem_subagent_start(
                        c,
                        ptr::null(),
                        lit(c"task"),
                        text,
                        &mut sub,
                    )) {
                        // The handle is JSON; the sub-agent may have finished its task already (NOT_FOUND).
                        let handle: serde_json::Value =
                            serde_json::from_str(&take(sub).unwrap()).unwrap();
                        let sub = c_string(handle["session_id"].as_str().unwrap().as_bytes());
                        check(tandem_session_stop(c, sub.as_ptr().cast()));
                    }
                }
            }
            2 => {
                // A script, run for one prompt.
                if unsafe_to_run(&doc) {
                    return;
                }
                let mut options = b"{\"max_turns\":3,\"script\":".to_vec();
                options.extend_from_slice(&doc[..doc.len() - 1]);
                options.extend_from_slice(b"}\0");
                if let Some(id) = start(c, options.as_ptr().cast()) {
                    check(tandem_session_send_prompt(
                        c,
                        id.as_ptr().cast(),
                        lit(c"go"),
                        ptr::null_mut(),
                    ));
                    check(tandem_session_send_prompt(
                        c,
                        id.as_ptr().cast(),
                        lit(c"again"),
                        ptr::null_mut(),
                    ));
                    stop(c, &id);
                }
            }
            3 => {
                // Content parts of a prompt.
                if let Some(id) = start(c, lit(c"{\"model\":\"scripted:echo\"}")) {
                    check(tandem_session_send_prompt_parts(
                        c,
                        id.as_ptr().cast(),
                        text,
                        ptr::null_mut(),
                    ));
                    stop(c, &id);
                }
            }
            4 => {
                // A host tool spec: registered, offered to a model that calls it, unregistered.
                if check(tandem_client_register_tool(
                    c,
                    text,
                    Some(answer),
                    ptr::null_mut(),
                    None,
                )) {
                    let v: serde_json::Value =
                        serde_json::from_slice(&doc[..doc.len() - 1]).unwrap();
                    let name = c_string(v["name"].as_str().unwrap().as_bytes());
                    check(tandem_client_unregister_tool(c, name.as_ptr().cast()));
                }
            }
            5 => {
                // Strings next to the documents: model names, thinking levels, boundary paths.
                if let Some(id) = start(c, lit(c"{}")) {
                    let id_ptr = id.as_ptr().cast();
                    check(tandem_session_set_model(c, id_ptr, text));
                    check(tandem_session_set_thinking_level(c, id_ptr, text));
                    check(tandem_session_set_boundary(c, id_ptr, text, 1, 2));
                    let mut out = ptr::null_mut();
                    if check(tandem_session_boundary_for(c, id_ptr, text, &mut out)) {
                        take(out);
                    }
                    check(tandem_session_load_conversation(c, id_ptr, text));
                    stop(c, &id);
                }
            }
            _ => {
                // Paths and IDs that need no session.
                let mut out = ptr::null_mut();
                if check(tandem_workdir_session_id(text, &mut out)) {
                    take(out);
                }
                check(tandem_conversation_delete(c, text));
            }
        }
    }
});
