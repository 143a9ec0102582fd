//! Exported event functions: the pull API, subscriptions with C callbacks, and per-session history.

use std::ffi::{c_char, c_int, c_void};
use std::time::Duration;

use super::boundary::{arg_str, client as client_ref, guard, opt_str, Out};
use super::foreign::ForeignData;
use super::types::{
    tandem_client, tandem_event, tandem_event_callback, tandem_status, tandem_userdata_free,
};
use crate::error::Error;
use crate::events::dispatch::{EventSink, Prepared};
use crate::events::Event;

/// Waits up to `timeout_ms` for the next event and returns it as JSON: `{"seq", "session_id", "kind", ...}`.
///
/// On success `*out` is owned by the caller; free it with `tandem_string_free`. `TANDEM_ERR_TIMEOUT` when nothing
/// arrived in time, `TANDEM_ERR_SHUTTING_DOWN` once the client is shut down and the queue is drained.
/// Events are kept for this call only while the client's `pull_events` option is on (the default). Any number of
/// threads may wait; each event goes to one of them.
#[no_mangle]
pub unsafe extern "C" fn tandem_client_next_event(
    client: *mut tandem_client,
    timeout_ms: u32,
    out: *mut *mut c_char,
) -> tandem_status {
    guard(|| {
        let out = Out::new(out, "out")?;
        let event = client_ref(client)?.next_event(Duration::from_millis(timeout_ms.into()))?;
        out.write_string(event.to_json())
    })
}

/// Takes up to `max` events of the pull queue without ever waiting and returns them as one JSON array, oldest first:
/// `[{"seq", "session_id", "kind", ...}, ...]`, possibly `[]`. One call per host loop iteration drains a batch with
/// one ABI crossing; when it empties the queue it also drains the readiness descriptor (`tandem_client_ready_fd`).
///
/// On success `*out` is owned by the caller; free it with `tandem_string_free`. `max` 0 is
/// `TANDEM_ERR_INVALID_ARGUMENT`; NULL `client` or `out` is `TANDEM_ERR_NULL_ARGUMENT`. After shutdown it returns the
/// events still queued, then `TANDEM_ERR_SHUTTING_DOWN` once the queue is drained; in a forked child
/// `TANDEM_ERR_FORKED`. Events are kept for pulling only while the client's `pull_events` option is on (the
/// default). Thread-safe: concurrent pulls (this, `tandem_client_next_event`, filtered pulls) each get distinct
/// events.
#[no_mangle]
pub unsafe extern "C" fn tandem_client_next_events(
    client: *mut tandem_client,
    max: u32,
    out: *mut *mut c_char,
) -> tandem_status {
    guard(|| {
        let out = Out::new(out, "out")?;
        let c = client_ref(client)?;
        if max == 0 {
            return Err(Error::invalid("max must be at least 1"));
        }
        let events = c.next_events(max as usize)?;
        out.write_string(Event::batch_to_json(&events))
    })
}

/// Writes to `*out_fd` a file descriptor that is readable while the client's pull queue holds events, for hosts
/// that wait in `poll`/`epoll`/`kqueue`/an event loop instead of a thread blocked in `tandem_client_next_event`.
///
/// Contract (level-like, kept by tandem): the descriptor is made readable when an event is queued for pulling and
/// drained by tandem inside the pull calls (`tandem_client_next_events`, `tandem_client_next_event`,
/// `tandem_client_next_session_event`) when they leave the queue empty. So: poll it, then pull with
/// `tandem_client_next_events` until it returns `[]` (or pull once and poll again: it stays readable while events
/// remain). The host must only poll it: never read from, write to or close it (reading would hide queued events
/// until the next one arrives). A filtered pull may leave other sessions' events queued, so the descriptor stays
/// readable for them. Only events kept for pulling count: with the `pull_events` option off this returns
/// `TANDEM_ERR_INVALID_ARGUMENT`.
///
/// Ownership: the descriptor belongs to the client (an eventfd with `EFD_NONBLOCK | EFD_CLOEXEC` on Linux, the
/// read end of a non-blocking close-on-exec pipe elsewhere); every call returns the same one, and it stays valid
/// until `tandem_client_free`, which closes it. After `tandem_client_shutdown` it is readable for good, so pollers
/// wake and their pulls drain what is left and then answer `TANDEM_ERR_SHUTTING_DOWN`. In a forked child this
/// returns `TANDEM_ERR_FORKED`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn tandem_client_ready_fd(
    client: *mut tandem_client,
    out_fd: *mut c_int,
) -> tandem_status {
    guard(|| {
        let out = Out::new(out_fd, "out_fd")?;
        out.write(client_ref(client)?.ready_fd()?);
        Ok(())
    })
}

/// Waits up to `timeout_ms` for the oldest pulled event of session `session_id` and returns it as JSON, like
/// `tandem_client_next_event`; every other event stays in the pull queue, in order, for other pullers and for
/// unfiltered `tandem_client_next_event` calls. Client-level events (`events_dropped`, `session_id` null) are
/// left for unfiltered pulls.
///
/// `session_id` is borrowed for the call. On success `*out` is owned by the caller; free it with
/// `tandem_string_free`. `TANDEM_ERR_TIMEOUT` when no event of the session arrived in time;
/// `TANDEM_ERR_NOT_FOUND` when none of its events are queued and its stream has ended (its `session_stopped` was
/// pulled, by this or any other call) or never began in this client, so a loop over one session ends after its
/// `session_stopped` (shutdown stops every session, so afterwards it drains the session's events, then says
/// `TANDEM_ERR_NOT_FOUND`).
/// Events are kept for pulling only while the client's `pull_events` option is on (the default).
///
/// Thread-safe: any number of threads may wait, for the same or different sessions and unfiltered; each event goes
/// to exactly one of them. Callable from callbacks (with a short timeout: the dispatcher waits meanwhile).
#[no_mangle]
pub unsafe extern "C" fn tandem_client_next_session_event(
    client: *mut tandem_client,
    session_id: *const c_char,
    timeout_ms: u32,
    out: *mut *mut c_char,
) -> tandem_status {
    guard(|| {
        let out = Out::new(out, "out")?;
        let id = arg_str(session_id, "session_id")?;
        let event =
            client_ref(client)?.next_session_event(id, Duration::from_millis(timeout_ms.into()))?;
        out.write_string(event.to_json())
    })
}

// The callback and `userdata_free` run on the dispatcher thread (or the unsubscribing thread), never concurrently,
// as C-ABI.md documents.
struct CallbackSink {
    callback: unsafe extern "C" fn(*mut c_void, *const tandem_event),
    data: ForeignData,
}

impl EventSink for CallbackSink {
    fn deliver(&self, p: &Prepared) {
        let event = tandem_event {
            seq: p.event.seq,
            kind: p.event.kind() as u32,
            session_id: p
                .session_id
                .as_ref()
                .map_or(std::ptr::null(), |s| s.as_ptr()),
            json: p.json.as_ptr(),
        };
        // SAFETY: the host registered this callback for exactly this use; the event is valid during the call.
        unsafe { (self.callback)(self.data.get(), &event) }
    }

    fn release(&self) {
        self.data.release();
    }
}

/// Subscribes `callback` to events: all of them, or only session `session_id_or_null`'s (client-level events such as
/// `events_dropped` reach every subscription).
///
/// The callback runs on a dispatcher thread tandem owns, one event at a time, in sequence order, never while tandem
/// holds a lock. The `tandem_event` it gets is borrowed for the call. It may call any tandem function except
/// `tandem_client_unsubscribe` of its own subscription, `tandem_client_shutdown` and `tandem_client_free`, which
/// return `TANDEM_ERR_REENTRANT_CALL` there. A slow callback delays delivery to every subscription; when queues fill,
/// deltas are coalesced and an `events_dropped` event reports what was lost.
///
/// `userdata_free` (may be NULL) is called exactly once with `userdata` when the subscription ends: at unsubscribe,
/// shutdown, free, or right away if this call fails after its arguments were checked. On success
/// `*out_subscription` receives the subscription's ID.
#[no_mangle]
pub unsafe extern "C" fn tandem_client_subscribe(
    client: *mut tandem_client,
    session_id_or_null: *const c_char,
    callback: tandem_event_callback,
    userdata: *mut c_void,
    userdata_free: tandem_userdata_free,
    out_subscription: *mut u64,
) -> tandem_status {
    guard(|| {
        let out = Out::new(out_subscription, "out_subscription")?;
        let c = client_ref(client)?;
        let callback = callback.ok_or(Error::NullArgument("callback"))?;
        let filter = opt_str(session_id_or_null, "session_id")?;
        let sink = CallbackSink {
            callback,
            data: ForeignData::new(userdata, userdata_free),
        };
        out.write(c.subscribe(filter, Box::new(sink))?);
        Ok(())
    })
}

/// Ends a subscription. When it returns, the callback is not running and will not run again, and `userdata_free`
/// has been called. `TANDEM_ERR_NOT_FOUND` for unknown or already ended subscriptions; `TANDEM_ERR_REENTRANT_CALL`
/// when a callback unsubscribes itself (it may unsubscribe others). Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn tandem_client_unsubscribe(
    client: *mut tandem_client,
    subscription: u64,
) -> tandem_status {
    guard(|| client_ref(client)?.unsubscribe(subscription))
}

/// The events of session `id` with sequence numbers above `seq`, from a bounded per-session history:
/// `{"events": [...], "latest_seq": n, "truncated": bool}` (`truncated` when some of the asked-for events are no
/// longer kept). On success `*out` is owned by the caller; free it with `tandem_string_free`.
#[no_mangle]
pub unsafe extern "C" fn tandem_session_events_since(
    client: *mut tandem_client,
    id: *const c_char,
    seq: u64,
    out: *mut *mut c_char,
) -> tandem_status {
    guard(|| {
        let out = Out::new(out, "out")?;
        let id = arg_str(id, "id")?;
        out.write_json(&client_ref(client)?.events_since(id, seq)?)
    })
}
