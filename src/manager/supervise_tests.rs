//! Supervision with restarts that fail to start: each failure is reported and retried within the policy.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use super::super::policy::RestartPolicy;
use super::super::Manager;
use crate::error::Error;
use crate::events::bus::EventBus;
use crate::session::machine::transcript::ContentPart;

fn manager(rt: &tokio::runtime::Runtime) -> (Arc<Manager>, Arc<EventBus>) {
    let bus = EventBus::new(1024, 1024, true);
    let m = Manager::new(
        rt.handle().clone(),
        bus.clone(),
        super::super::Settings {
            defaults: json!({}),
            restart: RestartPolicy::default(),
            mcp: Vec::new(),
        },
        None,
        Default::default(),
        Default::default(),
    );
    (m, bus)
}

/// Events of session `id` up to the first one `until` accepts (panics after 10 s).
fn events_until(bus: &EventBus, id: &str, until: impl Fn(&Value) -> bool) -> Vec<Value> {
    let mut seen = Vec::new();
    loop {
        let e = bus
            .next_event(Duration::from_secs(10))
            .unwrap_or_else(|e| panic!("{e}; saw {seen:#?}"));
        let v: Value = serde_json::from_str(&e.to_json()).unwrap();
        if v["session_id"] != id {
            continue;
        }
        seen.push(v.clone());
        if until(&v) {
            return seen;
        }
    }
}

fn crash(m: &Manager, faults: u32) -> String {
    let script = json!({"script": [[{"panic": "boom"}], [{"text": "after"}]]});
    let id = m.start(Some(&script.to_string())).unwrap();
    m.start_faults.store(faults, Ordering::Relaxed);
    m.prompt(&id, vec![ContentPart::Text { text: "go".into() }], false)
        .unwrap();
    id
}

/// The messages of the `error` events.
fn failures(events: &[Value]) -> Vec<&str> {
    let errors = events.iter().filter(|e| e["kind"] == "error");
    errors.filter_map(|e| e["message"].as_str()).collect()
}

#[test]
fn failed_restart_attempts_are_retried_within_the_policy() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (m, bus) = manager(&rt);
    let id = crash(&m, 2);
    let events = events_until(&bus, &id, |e| e["kind"] == "session_restarted");
    assert_eq!(
        failures(&events),
        [
            "Restart attempt 1 failed: injected start failure",
            "Restart attempt 2 failed: injected start failure"
        ]
    );
    let restarted = events.last().unwrap();
    assert_eq!(restarted["attempt"], 3, "the third attempt of the window");
    assert!(restarted["reason"]
        .as_str()
        .unwrap()
        .contains("restart failed"));
    // The session works again, with its conversation.
    m.prompt(
        &id,
        vec![ContentPart::Text {
            text: "again".into(),
        }],
        false,
    )
    .unwrap();
    events_until(&bus, &id, |e| e["kind"] == "turn_ended");
    let texts = m
        .with_state(&id, |s| {
            serde_json::to_string(&s.transcript().messages()).unwrap()
        })
        .unwrap();
    assert!(
        texts.contains("\"go\"") && texts.contains("after"),
        "{texts}"
    );
}

#[test]
fn restarts_that_keep_failing_stop_the_session_once_the_policy_is_exhausted() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (m, bus) = manager(&rt);
    let id = crash(&m, 5);
    let events = events_until(&bus, &id, |e| e["kind"] == "session_stopped");
    assert_eq!(
        failures(&events).len(),
        3,
        "every attempt of the window: {events:#?}"
    );
    let stopped = events.last().unwrap();
    assert_eq!(stopped["reason"], "restart_exhausted");
    assert!(stopped["detail"]
        .as_str()
        .unwrap()
        .contains("injected start failure"));
    assert!(matches!(m.token(&id), Err(Error::NotFound(_))));
    assert_eq!(
        m.start_faults.load(Ordering::Relaxed),
        2,
        "no fourth attempt"
    );
}
