//! C-visible types: status and enum values, the event struct, callback types and the opaque client.

use std::ffi::{c_char, c_void, CStr};

use crate::error::{Error, Result};

/// Major version (kept equal to Cargo.toml by a test).
pub const TANDEM_VERSION_MAJOR: u32 = 0;
/// Minor version.
pub const TANDEM_VERSION_MINOR: u32 = 1;
/// Patch version.
pub const TANDEM_VERSION_PATCH: u32 = 0;

/// Expands the status table below: `ALL_STATUSES` in value order, `tandem_status::name` and
/// `From<&Error> for tandem_status`.
macro_rules! status_table {
    ($ok:ident, $($status:ident <= $error:pat),+ $(,)?) => {
        const ALL_STATUSES: &[tandem_status] = &[tandem_status::$ok, $(tandem_status::$status),+];

        impl tandem_status {
            /// The status for a raw value from C, if it is one.
            pub fn from_raw(raw: u32) -> Option<Self> {
                ALL_STATUSES.get(raw as usize).copied()
            }

            /// Its static name, e.g. `TANDEM_ERR_NOT_FOUND`.
            pub fn name(self) -> &'static CStr {
                let name: &'static [u8] = match self {
                    tandem_status::$ok => concat!(stringify!($ok), "\0").as_bytes(),
                    $(tandem_status::$status => concat!(stringify!($status), "\0").as_bytes()),+
                };
                match CStr::from_bytes_with_nul(name) {
                    Ok(c) => c,
                    Err(_) => unreachable!("identifiers hold no NUL"),
                }
            }
        }

        impl From<&Error> for tandem_status {
            fn from(e: &Error) -> Self {
                match e {
                    $($error => tandem_status::$status),+
                }
            }
        }
    };
}

/// Result of every fallible tandem function. `TANDEM_OK` is 0; the values never change.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum tandem_status {
    /// Success.
    TANDEM_OK = 0,
    /// A required pointer argument was NULL.
    TANDEM_ERR_NULL_ARGUMENT = 1,
    /// A string argument was not valid UTF-8.
    TANDEM_ERR_INVALID_UTF8 = 2,
    /// A JSON argument did not parse; the last-error message has line and column.
    TANDEM_ERR_INVALID_JSON = 3,
    /// An argument was well-formed but not acceptable (unknown enum value, bad option, ...).
    TANDEM_ERR_INVALID_ARGUMENT = 4,
    /// No live session (or subscription, ...) with that ID.
    TANDEM_ERR_NOT_FOUND = 5,
    /// The ID is taken.
    TANDEM_ERR_ALREADY_EXISTS = 6,
    /// The session crashed and is being restarted; retry shortly.
    TANDEM_ERR_RESTART_PENDING = 7,
    /// The session's provider cannot be called now: a `"provider": "host"` session while no host provider is
    /// registered, or a pi session whose process failed and waits out its restart backoff. Returned by calls that
    /// need the provider (prompts that would start a turn, continue, compact, summarize); nothing is recorded and
    /// everything else keeps working. Retry later (background sub-agents retry their task for about a second).
    TANDEM_ERR_PROVIDER_NOT_READY = 8,
    /// Not supported by this session or build.
    TANDEM_ERR_NOT_SUPPORTED = 9,
    /// No approval is pending (or the approval ID is stale).
    TANDEM_ERR_NO_PENDING_APPROVAL = 10,
    /// The resource is in use.
    TANDEM_ERR_BUSY = 11,
    /// Nothing happened within the timeout.
    TANDEM_ERR_TIMEOUT = 12,
    /// The call would wait for the callback it is made from.
    TANDEM_ERR_REENTRANT_CALL = 13,
    /// The client is shut down.
    TANDEM_ERR_SHUTTING_DOWN = 14,
    /// The client belongs to the parent process; it cannot be used after fork().
    TANDEM_ERR_FORKED = 15,
    /// A filesystem operation failed.
    TANDEM_ERR_IO = 16,
    /// The model provider failed.
    TANDEM_ERR_PROVIDER = 17,
    /// tandem panicked; the call was contained.
    TANDEM_ERR_PANIC = 18,
    /// A bug in tandem.
    TANDEM_ERR_INTERNAL = 19,
}

// The one table of statuses: each variant of `tandem_status` (declared above as cbindgen reads it, unexpanded)
// with the `Error` variants it stands for. It generates the list by value, the names and `From<&Error>`; the
// exhaustive matches it expands to make the compiler reject a status or an error missing from it.
status_table! {
    TANDEM_OK,
    TANDEM_ERR_NULL_ARGUMENT <= Error::NullArgument(_),
    TANDEM_ERR_INVALID_UTF8 <= Error::InvalidUtf8(..),
    TANDEM_ERR_INVALID_JSON <= Error::InvalidJson(..),
    TANDEM_ERR_INVALID_ARGUMENT <= Error::InvalidArgument(_),
    TANDEM_ERR_NOT_FOUND <= Error::NotFound(_),
    TANDEM_ERR_ALREADY_EXISTS <= Error::AlreadyExists(_),
    TANDEM_ERR_RESTART_PENDING <= Error::RestartPending(_),
    TANDEM_ERR_PROVIDER_NOT_READY <= Error::ProviderNotReady(_),
    TANDEM_ERR_NOT_SUPPORTED <= Error::NotSupported(_),
    TANDEM_ERR_NO_PENDING_APPROVAL <= Error::NoPendingApproval(_),
    TANDEM_ERR_BUSY <= Error::Busy(_),
    TANDEM_ERR_TIMEOUT <= Error::Timeout(_),
    TANDEM_ERR_REENTRANT_CALL <= Error::ReentrantCall(_),
    TANDEM_ERR_SHUTTING_DOWN <= Error::ShuttingDown,
    TANDEM_ERR_FORKED <= Error::Forked(_),
    TANDEM_ERR_IO <= Error::Io(_),
    TANDEM_ERR_PROVIDER <= Error::Provider(_),
    TANDEM_ERR_PANIC <= Error::Panic(_),
    TANDEM_ERR_INTERNAL <= Error::Internal(_),
}

/// A session's status.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum tandem_session_status {
    /// Waiting for a prompt.
    TANDEM_SESSION_STATUS_IDLE = 0,
    /// The model is working.
    TANDEM_SESSION_STATUS_THINKING = 1,
    /// Tools are running.
    TANDEM_SESSION_STATUS_TOOL_EXECUTING = 2,
    /// The last turn failed; prompts are accepted.
    TANDEM_SESSION_STATUS_ERROR = 3,
    /// Plan mode.
    TANDEM_SESSION_STATUS_PLAN = 4,
}

impl From<crate::vocab::settings::Status> for tandem_session_status {
    fn from(s: crate::vocab::settings::Status) -> Self {
        use crate::vocab::settings::Status::*;
        match s {
            Idle => tandem_session_status::TANDEM_SESSION_STATUS_IDLE,
            Thinking => tandem_session_status::TANDEM_SESSION_STATUS_THINKING,
            ToolExecuting => tandem_session_status::TANDEM_SESSION_STATUS_TOOL_EXECUTING,
            Error => tandem_session_status::TANDEM_SESSION_STATUS_ERROR,
            Plan => tandem_session_status::TANDEM_SESSION_STATUS_PLAN,
        }
    }
}

/// What happened to a prompt.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum tandem_prompt_result {
    /// A turn started with it.
    TANDEM_PROMPT_RESULT_SENT = 0,
    /// A turn is running; it was queued as steering.
    TANDEM_PROMPT_RESULT_QUEUED_STEERING = 1,
    /// A turn is running; it was queued as a follow-up.
    TANDEM_PROMPT_RESULT_QUEUED_FOLLOW_UP = 2,
    /// The prompt was a slash command that `tandem_session_commands` lists (`/plan`, `/compact`, a skill's name...):
    /// it was run instead of being sent to the model, and a `command_ran` event carries its result.
    TANDEM_PROMPT_RESULT_COMMAND = 3,
}

impl From<crate::session::machine::state::PromptOutcome> for tandem_prompt_result {
    fn from(o: crate::session::machine::state::PromptOutcome) -> Self {
        use crate::session::machine::state::PromptOutcome::*;
        match o {
            Sent => tandem_prompt_result::TANDEM_PROMPT_RESULT_SENT,
            QueuedSteering => tandem_prompt_result::TANDEM_PROMPT_RESULT_QUEUED_STEERING,
            QueuedFollowUp => tandem_prompt_result::TANDEM_PROMPT_RESULT_QUEUED_FOLLOW_UP,
            Command => tandem_prompt_result::TANDEM_PROMPT_RESULT_COMMAND,
        }
    }
}

/// Severity of a system message.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum tandem_message_level {
    /// Informational.
    TANDEM_MESSAGE_LEVEL_INFO = 0,
    /// An error.
    TANDEM_MESSAGE_LEVEL_ERROR = 1,
}

/// A `tandem_status` as C passes it: any integer, checked before use.
pub type RawStatus = u32;

/// A `tandem_message_level` as C passes it: any integer, checked before use.
pub type RawMessageLevel = u32;

/// Converts a raw level, rejecting unknown values.
pub fn message_level(raw: RawMessageLevel) -> Result<crate::session::machine::transcript::Level> {
    match raw {
        0 => Ok(crate::session::machine::transcript::Level::Info),
        1 => Ok(crate::session::machine::transcript::Level::Error),
        other => Err(Error::invalid(format!(
            "unknown tandem_message_level {other}"
        ))),
    }
}

/// A host's answer to an approval.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum tandem_approval_decision {
    /// Run this call.
    TANDEM_APPROVAL_DECISION_APPROVE = 0,
    /// Run it, and every call of this tool until the turn ends.
    TANDEM_APPROVAL_DECISION_APPROVE_TURN = 1,
    /// Run it, and every call of this tool in this conversation.
    TANDEM_APPROVAL_DECISION_APPROVE_SESSION = 2,
    /// Do not run it; the agent is told it was refused.
    TANDEM_APPROVAL_DECISION_REJECT = 3,
}

/// A `tandem_approval_decision` as C passes it: any integer, checked before use.
pub type RawApprovalDecision = u32;

/// Converts a raw decision, rejecting unknown values.
pub fn approval_decision(
    raw: RawApprovalDecision,
) -> Result<crate::session::machine::approvals::Decision> {
    use crate::session::machine::approvals::Decision;
    match raw {
        0 => Ok(Decision::Approve),
        1 => Ok(Decision::ApproveTurn),
        2 => Ok(Decision::ApproveSession),
        3 => Ok(Decision::Reject),
        other => Err(Error::invalid(format!(
            "unknown tandem_approval_decision {other}"
        ))),
    }
}

/// An event delivered to a callback. Borrowed: every pointer is valid only during the callback.
#[repr(C)]
pub struct tandem_event {
    /// Sequence number: per session, from 1; client-level events (session_id NULL) count separately.
    pub seq: u64,
    /// A `tandem_event_kind` value.
    pub kind: u32,
    /// The session's ID, or NULL for client-level events.
    pub session_id: *const c_char,
    /// The event as JSON (the same document `tandem_client_next_event` returns).
    pub json: *const c_char,
}

/// An event callback. Runs on tandem's dispatcher thread, one event at a time per subscription, in order.
pub type tandem_event_callback =
    Option<unsafe extern "C" fn(userdata: *mut c_void, event: *const tandem_event)>;

/// Frees a subscription's userdata; called exactly once when the subscription ends.
pub type tandem_userdata_free = Option<unsafe extern "C" fn(userdata: *mut c_void)>;

/// A tandem client: a runtime, its sessions and their events. Opaque; create with `tandem_client_new`.
pub struct tandem_client {
    /// Shared with the remote gateway's tasks, which hold it weakly (so the handle alone keeps the client alive).
    pub(crate) inner: std::sync::Arc<crate::client::Client>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_values_are_dense_and_named() {
        for (i, s) in ALL_STATUSES.iter().enumerate() {
            assert_eq!(*s as usize, i, "statuses are numbered densely from 0");
            assert_eq!(tandem_status::from_raw(i as u32), Some(*s));
            assert_eq!(s.name().to_str().unwrap(), format!("{s:?}"));
        }
        assert_eq!(ALL_STATUSES.len(), 20);
        assert!(tandem_status::from_raw(20).is_none());
        assert_eq!(
            tandem_status::from(&Error::ShuttingDown),
            tandem_status::TANDEM_ERR_SHUTTING_DOWN
        );
    }

    #[test]
    fn event_kinds_are_exported_under_their_c_names() {
        // One enum serves Rust and C: cbindgen renames it and its variants (see cbindgen.toml).
        let header = include_str!("../../include/tandem.h");
        for (kind, name) in [
            (crate::events::EventKind::SessionStarted, "SESSION_STARTED"),
            (crate::events::EventKind::TurnEnded, "TURN_ENDED"),
            (crate::events::EventKind::EventsDropped, "EVENTS_DROPPED"),
        ] {
            let line = format!("TANDEM_EVENT_KIND_{name} = {},", kind as u32);
            assert!(header.contains(&line), "{line}");
        }
    }

    #[test]
    fn version_macros_match_cargo() {
        assert_eq!(
            TANDEM_VERSION_MAJOR.to_string(),
            env!("CARGO_PKG_VERSION_MAJOR")
        );
        assert_eq!(
            TANDEM_VERSION_MINOR.to_string(),
            env!("CARGO_PKG_VERSION_MINOR")
        );
        assert_eq!(
            TANDEM_VERSION_PATCH.to_string(),
            env!("CARGO_PKG_VERSION_PATCH")
        );
    }
}
