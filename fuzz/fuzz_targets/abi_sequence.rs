//! Fuzz target: random sequences of C API calls on one client, driven by the input bytes: sessions started,
//! stopped, prompted, aborted, queued to, approved, branched and listed, with stale and unknown IDs, host tool calls
//! answered late, subscriptions whose callbacks call back into the API (including the calls that must refuse from a
//! callback), and shutdown or free while turns run. Only crashes, undefined statuses and broken promises about
//! `userdata_free` count as failures.
#![no_main]

#[path = "common.rs"]
mod common;

use std::ffi::{c_char, c_void};
use std::ptr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

use common::{c_string, check, lit, take};
use libfuzzer_sys::fuzz_target;
use tandem::ffi::approvals::*;
use tandem::ffi::client::*;
use tandem::ffi::events::*;
use tandem::ffi::models::*;
use tandem::ffi::queues::*;
use tandem::ffi::session::*;
use tandem::ffi::tools::*;
use tandem::ffi::transcript::*;
use tandem::ffi::types::{tandem_client, tandem_event, tandem_status};

/// Session options the program picks from: each runs a few model calls, one with a destructive host tool call that
/// waits for approval, one with delays so calls land mid-turn.
const PRESETS: &[&[u8]] = &[
    b"{\"model\":\"scripted:echo\"}\0",
    b"{\"script\":[[{\"text\":\"a\"},{\"tool_call\":{\"name\":\"probe\",\"args\":{}}}],[{\"text\":\"done\"}]]}\0",
    b"{\"script\":[[{\"thinking\":\"t\"},{\"delay_ms\":3},{\"text\":\"b\"}],[{\"delay_ms\":2},{\"text\":\"c\"}]],\"approval\":\"all\"}\0",
    b"{\"script\":[[{\"error\":{\"status\":500,\"message\":\"x\"}}],[{\"text\":\"d\"},{\"usage\":{\"input\":3,\"output\":4}}]],\"max_turns\":2}\0",
    b"{\"model\":\"scripted:demo\",\"approval\":\"none\"}\0",
];

/// Host tool calls the callback left unanswered, as the numbers their handles are.
static PENDING: Mutex<Vec<usize>> = Mutex::new(Vec::new());

/// Answers at once, or later (from the main program) for every other call.
unsafe extern "C" fn probe(
    _: *mut c_void,
    call: *mut tandem_tool_call,
    _: *const tandem_tool_invocation,
) {
    static N: AtomicUsize = AtomicUsize::new(0);
    if N.fetch_add(1, Ordering::Relaxed) % 2 == 0 {
        check(tandem_tool_call_complete(call, lit(c"ok"), false));
    } else {
        PENDING.lock().unwrap().push(call as usize);
    }
}

/// What a subscription's callback does: one op of its program per event, calling back into the API.
struct Sub {
    client: *mut tandem_client,
    id: AtomicU64,
    program: Vec<u8>,
    step: AtomicUsize,
    frees: *const AtomicUsize,
}

/// The highest event kind the library defines: a kind above it is a broken promise of the header. A kind added after
/// this one fails here until this names it, so the bound can never silently lag behind the enum again.
const LAST_KIND: u32 = tandem::events::EventKind::BudgetExhausted as u32;

unsafe extern "C" fn on_event(userdata: *mut c_void, event: *const tandem_event) {
    let s = &*(userdata as *const Sub);
    let e = &*event;
    assert!((1..=LAST_KIND).contains(&e.kind), "event kind {}", e.kind);
    assert!(!e.json.is_null());
    if s.program.is_empty() {
        return;
    }
    let op = s.program[s.step.fetch_add(1, Ordering::Relaxed) % s.program.len()];
    let c = s.client;
    let id = if e.session_id.is_null() {
        lit(c"nope")
    } else {
        e.session_id
    };
    match op % 10 {
        0 => {
            let st = tandem_client_unsubscribe(c, s.id.load(Ordering::Relaxed));
            // Its own subscription: refused; one it does not own yet (ID not stored): whatever it is.
            check(st);
        }
        1 => assert_eq!(
            tandem_client_shutdown(c, 10),
            tandem_status::TANDEM_ERR_REENTRANT_CALL
        ),
        2 => tandem_client_free(c), // records REENTRANT_CALL and leaves the client alive
        3 => {
            check(tandem_session_abort(c, id));
        }
        4 => {
            check(tandem_session_send_prompt(
                c,
                id,
                lit(c"from callback"),
                ptr::null_mut(),
            ));
        }
        5 => {
            check(tandem_session_respond_to_approval(
                c,
                id,
                ptr::null(),
                u32::from(op >> 4) % 5,
            ));
        }
        6 => {
            check(tandem_session_stop(c, id));
        }
        7 => {
            let mut out = ptr::null_mut();
            if check(tandem_session_messages(c, id, &mut out)) {
                take(out);
            }
        }
        8 => {
            let mut out = ptr::null_mut();
            if check(tandem_session_events_since(c, id, u64::from(op), &mut out)) {
                take(out);
            }
        }
        _ => {
            let mut st = 0u32;
            if check(tandem_session_get_status(
                c,
                id,
                ptr::from_mut(&mut st).cast(),
            )) {
                assert!(st <= 4, "status {st}");
            }
        }
    }
}

unsafe extern "C" fn free_sub(userdata: *mut c_void) {
    let s = Box::from_raw(userdata as *mut Sub);
    (*s.frees).fetch_add(1, Ordering::SeqCst);
}

/// The input as a stream of bytes, zero once it runs out.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn next(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }
}

/// Takes a string tandem returned, as a C string to pass back.
fn owned(s: *mut c_char) -> Vec<u8> {
    c_string(take(s).unwrap_or_default().as_bytes())
}

fuzz_target!(|data: &[u8]| {
    let mut input = Bytes(data);
    let frees = AtomicUsize::new(0);
    let mut subscribed = 0usize;
    // IDs the program may name: live ones, stopped ones, unknown ones.
    let mut ids: Vec<Vec<u8>> = vec![b"nope\0".to_vec(), b"\0".to_vec()];
    let mut subs: Vec<u64> = vec![0, 12345];
    let mut client = ptr::null_mut();
    let capacity = 16 + usize::from(input.next() % 64);
    let config = format!(
        "{{\"store_dir\":null,\"worker_threads\":1,\"event_queue_capacity\":{capacity}}}\0"
    );
    // SAFETY: every pointer passed is NULL or valid and NUL-terminated for the call; the client is freed last.
    unsafe {
        assert!(check(tandem_client_new(
            config.as_ptr().cast(),
            &mut client
        )));
        let c = client;
        let spec = c"{\"name\":\"probe\",\"description\":\"p\",\"parameters\":{\"type\":\"object\"},\"destructive\":true}";
        assert!(check(tandem_client_register_tool(
            c,
            spec.as_ptr(),
            Some(probe),
            ptr::null_mut(),
            None
        )));
        let mut shut = false;
        for _ in 0..64 {
            if input.0.is_empty() {
                break;
            }
            let op = input.next();
            let arg = input.next();
            let id = ids[usize::from(arg) % ids.len()].as_ptr().cast::<c_char>();
            let mut out = ptr::null_mut();
            let mut result = 0u32;
            let st = match op % 36 {
                0 | 1 => {
                    let st = tandem_session_start(
                        c,
                        PRESETS[usize::from(arg) % PRESETS.len()].as_ptr().cast(),
                        &mut out,
                    );
                    if st == tandem_status::TANDEM_OK {
                        ids.push(owned(std::mem::replace(&mut out, ptr::null_mut())));
                    }
                    st
                }
                2 => {
                    let st = tandem_session_start_or_get(
                        c,
                        lit(c"fixed"),
                        PRESETS[0].as_ptr().cast(),
                        &mut out,
                    );
                    if st == tandem_status::TANDEM_OK {
                        ids.push(owned(std::mem::replace(&mut out, ptr::null_mut())));
                    }
                    st
                }
                3 => tandem_session_stop(c, id),
                4 | 5 => {
                    let st = tandem_session_send_prompt(
                        c,
                        id,
                        lit(c"hi"),
                        ptr::from_mut(&mut result).cast(),
                    );
                    if st == tandem_status::TANDEM_OK {
                        assert!(result <= 2, "prompt result {result}");
                    }
                    st
                }
                6 => tandem_session_send_prompt_parts(
                    c,
                    id,
                    lit(c"[{\"kind\":\"text\",\"text\":\"p\"}]"),
                    ptr::null_mut(),
                ),
                7 => tandem_session_abort(c, id),
                8 => tandem_session_queue_steering(
                    c,
                    id,
                    lit(c"steer"),
                    ptr::from_mut(&mut result).cast(),
                ),
                9 => tandem_session_queue_follow_up(c, id, lit(c"later"), ptr::null_mut()),
                10 => tandem_session_dequeue_steering(c, id, &mut out),
                11 => tandem_session_recall_queues(c, id, &mut out),
                12 => tandem_session_clear_queues(c, id),
                13 => tandem_session_queued_messages(c, id, &mut out),
                14 | 15 => {
                    let approval = if arg & 0x80 == 0 {
                        ptr::null()
                    } else {
                        lit(c"approval-1")
                    };
                    tandem_session_respond_to_approval(c, id, approval, u32::from(arg >> 4) % 5)
                }
                16 => tandem_session_enter_plan(c, id),
                17 => tandem_session_enter_exec(c, id),
                18 => tandem_session_branch_at(c, id, u64::from(arg % 8), &mut out),
                19 => tandem_session_list_branches(c, id, &mut out),
                20 => tandem_session_switch_branch(c, id, u32::from(arg % 4)),
                21 => tandem_session_list(c, &mut out),
                22 => {
                    let st = tandem_session_get_status(c, id, ptr::from_mut(&mut result).cast());
                    if st == tandem_status::TANDEM_OK {
                        assert!(result <= 4, "status {result}");
                    }
                    st
                }
                23 => tandem_session_messages_page(
                    c,
                    id,
                    u64::from(arg % 8),
                    u32::from(arg % 5),
                    &mut out,
                ),
                24 => tandem_session_snapshot(c, id, &mut out),
                25 => tandem_session_events_since(c, id, u64::from(arg % 16), &mut out),
                26 => tandem_client_next_event(c, u32::from(arg % 2), &mut out),
                27 => {
                    let program: Vec<u8> = (0..arg % 4).map(|_| input.next()).collect();
                    let sub = Box::into_raw(Box::new(Sub {
                        client: c,
                        id: AtomicU64::new(0),
                        program,
                        step: AtomicUsize::new(0),
                        frees: &frees,
                    }));
                    let filter = if arg & 1 == 0 { ptr::null() } else { id };
                    let mut sid = 0;
                    let st = tandem_client_subscribe(
                        c,
                        filter,
                        Some(on_event),
                        sub.cast(),
                        Some(free_sub),
                        &mut sid,
                    );
                    // The userdata is freed by tandem from here on, also when it refused the subscription.
                    subscribed += 1;
                    if st == tandem_status::TANDEM_OK {
                        (*sub).id.store(sid, Ordering::Relaxed);
                        subs.push(sid);
                    }
                    st
                }
                28 => tandem_client_unsubscribe(c, subs[usize::from(arg) % subs.len()]),
                29 => tandem_session_add_system_message(c, id, lit(c"note"), u32::from(arg % 3)),
                30 => tandem_session_toggle_tool_collapse(c, id, u64::from(arg % 8)),
                31 => tandem_session_cycle_thinking_level(c, id, &mut out),
                32 => {
                    let mut sub = ptr::null_mut();
                    let st = tandem_subagent_start(
                        c,
                        id,
                        lit(c"sub task"),
                        PRESETS[0].as_ptr().cast(),
                        &mut sub,
                    );
                    if st == tandem_status::TANDEM_OK {
                        let handle: serde_json::Value =
                            serde_json::from_str(&take(sub).unwrap()).unwrap();
                        ids.push(c_string(handle["session_id"].as_str().unwrap().as_bytes()));
                    }
                    st
                }
                33 => {
                    for call in std::mem::take(&mut *PENDING.lock().unwrap()) {
                        check(tandem_tool_call_complete(
                            call as *mut tandem_tool_call,
                            lit(c"late"),
                            arg & 1 == 1,
                        ));
                    }
                    tandem_status::TANDEM_OK
                }
                34 => {
                    std::thread::sleep(std::time::Duration::from_millis(u64::from(arg % 4)));
                    tandem_status::TANDEM_OK
                }
                _ => {
                    shut = true;
                    // A timeout long enough for the runtime's threads to be joined: threads still exiting when
                    // the run ends would make LeakSanitizer report their thread-local destructor lists.
                    tandem_client_shutdown(c, 2000 + u32::from(arg % 3) * 1000)
                }
            };
            check(st);
            if st == tandem_status::TANDEM_OK {
                take(out);
            }
            if shut {
                // After shutdown every call still answers, with SHUTTING_DOWN or a harmless result.
                assert_ne!(
                    tandem_session_send_prompt(c, id, lit(c"x"), ptr::null_mut()),
                    tandem_status::TANDEM_OK
                );
            }
        }
        let late = input.next() & 1 == 1;
        if !late {
            for call in std::mem::take(&mut *PENDING.lock().unwrap()) {
                check(tandem_tool_call_complete(
                    call as *mut tandem_tool_call,
                    lit(c"end"),
                    false,
                ));
            }
        }
        tandem_client_free(client);
        // Calls may be completed after their client is gone: they name only themselves.
        for call in std::mem::take(&mut *PENDING.lock().unwrap()) {
            check(tandem_tool_call_complete(
                call as *mut tandem_tool_call,
                lit(c"end"),
                false,
            ));
        }
    }
    assert_eq!(
        frees.load(Ordering::SeqCst),
        subscribed,
        "userdata_free must run once per subscription"
    );
});
