//! The ACP provider's permission requests for a call the agent already reported running (as codex-acp does with its
//! patches), against the SDK fault agent (tests/acp/fault_agent.mjs, mode `running_permission`), so it needs no
//! codex-acp: the request still reaches the host's approval gate, the host's answer picks the agent's option, and
//! trust the host granted still approves it without asking.
#![cfg(feature = "acp")]

mod common;

use common::acp::*;
use common::*;
use serde_json::{json, Value};
use tandem::session::approvals::Decision;
use tandem::Client;

/// A session on the fault agent reporting a call running, then asking permission for it.
fn running_permission(d: &Dirs) -> (Client, String) {
    session(&fault_options(d, "running_permission", json!({})))
}

/// Sends a prompt and waits for the approval of the agent's call `call` (failing if the turn ends unasked); returns
/// the events up to it.
fn asked_about(c: &Client, id: &str, call: &str) -> Vec<Value> {
    c.send_prompt(id, prompt("patch it")).unwrap();
    let (ev, seen) = wait_for(c, WAIT, |e| {
        e["session_id"] == id && (e["kind"] == "approval_pending" || e["kind"] == "turn_ended")
    });
    assert_eq!(
        ev["kind"], "approval_pending",
        "the permission request reached the host: {seen:#?}"
    );
    assert_eq!(ev["approval"]["tool_call_id"], call);
    assert_eq!(ev["approval"]["name"], "apply_patch");
    let started = position(&seen, "tool_started", call);
    assert!(
        started.is_some_and(|i| i < seen.len() - 1),
        "the call the agent reported running started before its approval: {seen:#?}"
    );
    seen
}

/// Sends a prompt, answers the approval of the agent's call `call` with `decision` and waits for the turn to
/// complete; returns the turn's events.
fn answered(c: &Client, id: &str, call: &str, decision: Decision) -> Vec<Value> {
    let mut seen = asked_about(c, id, call);
    c.respond_to_approval(id, None, decision).unwrap();
    seen.extend(completed(c, id));
    seen
}

/// Where the first event of `kind` about tool call `call` is in `events`.
fn position(events: &[Value], kind: &str, call: &str) -> Option<usize> {
    events
        .iter()
        .position(|e| e["kind"] == kind && e["tool_call_id"] == call)
}

/// Waits for the end of the turn, which must complete; returns its events.
fn completed(c: &Client, id: &str) -> Vec<Value> {
    let (end, seen) = wait_for(c, WAIT, |e| {
        e["kind"] == "turn_ended" && e["session_id"] == id
    });
    assert_eq!(end["reason"], "completed", "{seen:#?}");
    seen
}

/// The `tool_ended` event of call `call` in `events` (there must be exactly one).
fn ended<'a>(events: &'a [Value], call: &str) -> &'a Value {
    let ends: Vec<&Value> = events
        .iter()
        .filter(|e| e["kind"] == "tool_ended" && e["tool_call_id"] == call)
        .collect();
    assert_eq!(ends.len(), 1, "{events:#?}");
    ends[0]
}

#[test]
fn an_approved_permission_for_a_running_call_is_the_hosts_and_the_agent_gets_allow() {
    let d = Dirs::new("perm-approve");
    let (c, id) = running_permission(&d);
    let seen = answered(&c, &id, "patch-1", Decision::Approve);
    let end = ended(&seen, "patch-1");
    assert_eq!(end["is_error"], false, "{end}");
    assert_eq!(
        end["result"], "applied with yes",
        "the agent saw its allow option"
    );
    let starts = seen
        .iter()
        .filter(|e| e["kind"] == "tool_started" && e["tool_call_id"] == "patch-1")
        .count();
    assert_eq!(starts, 1, "the approval does not start it again: {seen:#?}");
    let said = said(&c, &id);
    assert_eq!(
        said.last().unwrap(),
        &json!({"assistant": "permission: yes"})
    );
    assert_eq!(said[1]["tool"], "apply_patch", "{said:?}");
    assert_eq!(said[1]["is_error"], false, "{said:?}");
}

#[test]
fn a_rejected_permission_for_a_running_call_gives_the_agent_reject_and_ends_it_failed() {
    let d = Dirs::new("perm-reject");
    let (c, id) = running_permission(&d);
    let seen = answered(&c, &id, "patch-1", Decision::Reject);
    let end = ended(&seen, "patch-1");
    assert_eq!(end["is_error"], true, "{end}");
    let said = said(&c, &id);
    assert_eq!(
        said.last().unwrap(),
        &json!({"assistant": "permission: no"}),
        "the agent saw its reject option"
    );
    assert_eq!(said[1]["is_error"], true, "{said:?}");
}

#[test]
fn trust_the_host_granted_approves_a_running_calls_permission_without_asking() {
    let d = Dirs::new("perm-trust");
    let (c, id) = running_permission(&d);
    answered(&c, &id, "patch-1", Decision::ApproveSession);
    // The next turn's call of the same tool is approved by that trust: the host is not asked, the agent gets allow.
    c.send_prompt(&id, prompt("patch again")).unwrap();
    let seen = completed(&c, &id);
    assert!(
        seen.iter().all(|e| e["kind"] != "approval_pending"),
        "{seen:#?}"
    );
    let auto = &seen[position(&seen, "tool_auto_approved", "patch-2").expect("auto-approved")];
    assert_eq!(auto["name"], "apply_patch");
    assert_eq!(auto["scope"], "session");
    assert_eq!(ended(&seen, "patch-2")["result"], "applied with yes");
    assert_eq!(
        said(&c, &id).last().unwrap(),
        &json!({"assistant": "permission: yes"})
    );
}
