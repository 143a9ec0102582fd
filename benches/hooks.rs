//! Benchmark: what a hook costs. Through the C ABI, a scripted turn of 200 sequential `read_file` calls (prompt to
//! `turn_ended`) without hooks, with a no-op C-callback PreToolUse hook, and with a no-op command hook (`true`, for
//! comparison); and the duration of `tandem_session_send_prompt` itself without hooks, with a no-op C-callback
//! UserPromptSubmit hook, and with a no-op command hook. The per-call overhead is the difference to the run without
//! hooks, divided by the number of calls.
//!
//! Run with `cargo bench --bench hooks`.

mod support;

use support::check;

use std::ffi::{c_char, c_void, CStr, CString};
use std::ptr;
use std::time::Instant;

use support::median;
use tandem::ffi::client::{tandem_client_free, tandem_client_new, tandem_string_free};
use tandem::ffi::events::tandem_client_next_session_event;
use tandem::ffi::hooks::{tandem_client_add_hook, tandem_hook_reply};
use tandem::ffi::session::{tandem_session_send_prompt, tandem_session_start};
use tandem::ffi::types::tandem_client;

const CALLS: usize = 200;
const PROMPTS: usize = 300;
const RUNS: usize = 7;

/// The no-op hook: answers nothing, so every step goes on.
unsafe extern "C" fn no_op(_: *mut c_void, _: *const c_char, _: *mut tandem_hook_reply) {}

/// What a run has besides the session's own work.
#[derive(Clone, Copy, PartialEq)]
enum Hook {
    None,
    Callback,
    Command,
}

impl Hook {
    fn label(self) -> &'static str {
        match self {
            Hook::None => "no hook",
            Hook::Callback => "no-op C callback hook",
            Hook::Command => "no-op command hook (`true`)",
        }
    }
}

/// A client with a session of `script` in `dir`, and `hook` on `event`.
fn setup(dir: &str, script: &str, hook: Hook, event: &str) -> (*mut tandem_client, CString) {
    let mut c = ptr::null_mut();
    let config = CString::new(r#"{"store_dir": null}"#).unwrap();
    check(
        unsafe { tandem_client_new(config.as_ptr(), &mut c) },
        "client",
    );
    let command = if hook == Hook::Command {
        format!(
            r#", "hooks": {{"{event}": [{{"hooks": [{{"type": "command", "command": "true"}}]}}]}}"#
        )
    } else {
        String::new()
    };
    let options = CString::new(format!(
        r#"{{"model": "scripted:bench", "approval": "none", "max_turns": 1000, "workdir": "{dir}", "script": {script}{command}}}"#
    ))
    .unwrap();
    let mut id = ptr::null_mut();
    check(
        unsafe { tandem_session_start(c, options.as_ptr(), &mut id) },
        "start",
    );
    let owned = unsafe { CStr::from_ptr(id) }.to_owned();
    unsafe { tandem_string_free(id) };
    if hook == Hook::Callback {
        let spec = CString::new(format!(r#"{{"event": "{event}"}}"#)).unwrap();
        let mut hook_id = 0;
        check(
            unsafe {
                tandem_client_add_hook(
                    c,
                    ptr::null(),
                    spec.as_ptr(),
                    Some(no_op),
                    ptr::null_mut(),
                    None,
                    &mut hook_id,
                )
            },
            "add_hook",
        );
    }
    (c, owned)
}

fn wait_turn_end(c: *mut tandem_client, id: &CStr) {
    loop {
        let mut out = ptr::null_mut();
        check(
            unsafe { tandem_client_next_session_event(c, id.as_ptr(), 30_000, &mut out) },
            "next event",
        );
        let json = unsafe { CStr::from_ptr(out) }.to_bytes();
        let ended = memchr::memmem::find(json, br#""kind":"turn_ended""#).is_some();
        unsafe { tandem_string_free(out) };
        if ended {
            return;
        }
    }
}

fn send(c: *mut tandem_client, id: &CStr, text: &CStr) {
    check(
        unsafe { tandem_session_send_prompt(c, id.as_ptr(), text.as_ptr(), ptr::null_mut()) },
        "prompt",
    );
}

/// Milliseconds from prompt to `turn_ended` for a turn of CALLS `read_file` calls.
fn tool_turn(dir: &str, hook: Hook) -> f64 {
    let step = r#"[{"tool_call": {"name": "read_file", "args": {"path": "a.txt"}}}]"#;
    let script = format!("[{},[{{\"text\": \"done\"}}]]", vec![step; CALLS].join(","));
    let (c, id) = setup(dir, &script, hook, "PreToolUse");
    let go = CString::new("go").unwrap();
    let t = Instant::now();
    send(c, &id, &go);
    wait_turn_end(c, &id);
    let ms = support::ms(t.elapsed());
    unsafe { tandem_client_free(c) };
    ms
}

/// Median microseconds of one `tandem_session_send_prompt` call (an idle echo session, so it starts a turn), over
/// PROMPTS prompts.
fn prompt_call(dir: &str, hook: Hook) -> f64 {
    let (c, id) = setup(dir, "[]", hook, "UserPromptSubmit");
    let text = CString::new("hello").unwrap();
    let mut times = Vec::with_capacity(PROMPTS);
    for _ in 0..PROMPTS {
        let t = Instant::now();
        send(c, &id, &text);
        times.push(t.elapsed().as_secs_f64() * 1e6);
        wait_turn_end(c, &id);
    }
    unsafe { tandem_client_free(c) };
    median(&mut times)
}

fn main() {
    let dir = std::env::temp_dir().join(format!("tandem-bench-hooks-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("a.txt"), "alpha\n").unwrap();
    let dir_s = dir.canonicalize().unwrap().display().to_string();
    let kinds = [Hook::None, Hook::Callback, Hook::Command];
    // Warm-up: the runtime's threads, the file cache, /bin/sh.
    for k in kinds {
        tool_turn(&dir_s, k);
    }
    let mut turns: Vec<Vec<f64>> = vec![Vec::new(); kinds.len()];
    let mut prompts: Vec<Vec<f64>> = vec![Vec::new(); kinds.len()];
    // Interleaved, so load changes on the machine touch every variant alike.
    for _ in 0..RUNS {
        for (i, k) in kinds.iter().enumerate() {
            turns[i].push(tool_turn(&dir_s, *k));
            prompts[i].push(prompt_call(&dir_s, *k));
        }
    }
    let turn: Vec<f64> = turns.iter_mut().map(|v| median(v)).collect();
    let prompt: Vec<f64> = prompts.iter_mut().map(|v| median(v)).collect();
    println!("### PreToolUse: a turn of {CALLS} sequential read_file calls, prompt to turn_ended (median of {RUNS})");
    println!();
    println!("| hooks | turn | per call | overhead per call |");
    println!("|---|---|---|---|");
    for (i, k) in kinds.iter().enumerate() {
        let per_call_us = turn[i] * 1000.0 / CALLS as f64;
        let over_us = (turn[i] - turn[0]) * 1000.0 / CALLS as f64;
        println!(
            "| {} | {:.1} ms | {:.1} µs | {} |",
            k.label(),
            turn[i],
            per_call_us,
            if i == 0 {
                "-".to_string()
            } else {
                format!("{over_us:+.1} µs")
            }
        );
    }
    println!();
    println!(
        "### UserPromptSubmit: one tandem_session_send_prompt call (median of {PROMPTS} prompts, median of {RUNS} runs)"
    );
    println!();
    println!("| hooks | send_prompt | overhead |");
    println!("|---|---|---|");
    for (i, k) in kinds.iter().enumerate() {
        println!(
            "| {} | {:.1} µs | {} |",
            k.label(),
            prompt[i],
            if i == 0 {
                "-".to_string()
            } else {
                format!("{:+.1} µs", prompt[i] - prompt[0])
            }
        );
    }
    // The issue's bar: an in-process hook costs microseconds, not a process spawn (the command hook's cost).
    let callback = (
        (turn[1] - turn[0]) * 1000.0 / CALLS as f64,
        prompt[1] - prompt[0],
    );
    let command = (
        (turn[2] - turn[0]) * 1000.0 / CALLS as f64,
        prompt[2] - prompt[0],
    );
    println!();
    support::header();
    support::row(
        "8. hook overhead per call, no-op C callback: PreToolUse / UserPromptSubmit",
        &format!(
            "{:+.1} µs / {:+.1} µs (command hook `true`: {:+.0} µs / {:+.0} µs)",
            callback.0, callback.1, command.0, command.1
        ),
        "microseconds, not a process spawn",
        Some(callback.0.max(callback.1) < 1000.0 && callback.0 < command.0 / 10.0),
    );
    let _ = std::fs::remove_dir_all(&dir);
}
