//! Unit tests of the state machine's gate (approvals, trust, plan mode), model switching, compaction and
//! `continue`.

use super::*;

use crate::session::machine::approvals::{Decision, Gate, GateRequest};

fn gate_req(id: &str, name: &str, destructive: bool, ask: bool) -> GateRequest {
    GateRequest {
        tool_call_id: id.into(),
        name: name.into(),
        args: serde_json::json!({"command": "ls"}),
        destructive,
        ask,
        protected: false,
        preview: serde_json::json!({"kind": "command", "summary": "ls", "lines": ["$ ls"]}),
    }
}

fn gate(s: &mut SessionState, turn_id: u64, req: GateRequest) -> (Reply, Vec<Effect>) {
    s.apply(
        Input::Gate {
            turn_id,
            request: req,
        },
        T0,
    )
}

fn respond(s: &mut SessionState, id: Option<&str>, d: Decision) -> (Reply, Vec<Effect>) {
    s.apply(
        Input::Command(Command::Respond {
            approval_id: id.map(Into::into),
            decision: d,
        }),
        T0,
    )
}

fn resolved(fx: &[Effect]) -> Option<(String, Gate)> {
    fx.iter().find_map(|e| match e {
        Effect::ResolveApproval { approval_id, gate } => Some((approval_id.clone(), gate.clone())),
        _ => None,
    })
}

fn running(s: &mut SessionState) {
    prompt(s, "go");
    ev(s, 1, ProviderEvent::AgentStart);
}

#[test]
fn calls_that_do_not_ask_run_and_asking_calls_wait_for_the_host() {
    let mut s = session();
    running(&mut s);
    assert_eq!(
        gate(&mut s, 1, gate_req("a", "read_file", false, false)).0,
        Reply::Gate(Gate::Run)
    );
    let (reply, fx) = gate(&mut s, 1, gate_req("b", "shell", true, true));
    assert_eq!(reply, Reply::Gate(Gate::Wait));
    assert!(
        matches!(&emitted(&fx)[..], [Payload::ApprovalPending { approval }] if approval["approval_id"] == "b" && approval["preview"]["kind"] == "command")
    );
    assert_eq!(s.snapshot()["pending_approval"]["name"], "shell");
    let (reply, fx) = respond(&mut s, Some("b"), Decision::Approve);
    assert_eq!(reply, Reply::Ok);
    assert_eq!(resolved(&fx), Some(("b".into(), Gate::Run)));
    assert!(emitted(&fx).contains(&Payload::ApprovalResolved {
        approval_id: "b".into(),
        decision: "approve"
    }));
    assert_eq!(s.snapshot()["pending_approval"], serde_json::Value::Null);
    assert!(matches!(
        respond(&mut s, None, Decision::Approve).0,
        Reply::Failed(crate::error::Error::NoPendingApproval(_))
    ));
    assert_eq!(
        gate(&mut s, 9, gate_req("c", "shell", true, true)).0,
        Reply::Gate(Gate::Refuse("Tool call cancelled: the turn is over".into()))
    );
}

#[test]
fn an_answer_for_another_approval_is_refused() {
    let mut s = session();
    running(&mut s);
    gate(&mut s, 1, gate_req("b", "shell", true, true));
    let (reply, fx) = respond(&mut s, Some("stale"), Decision::Approve);
    assert!(
        matches!(reply, Reply::Failed(crate::error::Error::NoPendingApproval(m)) if m.contains("\"b\""))
    );
    assert!(fx.is_empty());
    assert_eq!(
        s.snapshot()["pending_approval"]["approval_id"],
        "b",
        "still pending"
    );
}

#[test]
fn rejection_refuses_the_call_and_says_so_in_the_transcript() {
    let mut s = session();
    running(&mut s);
    gate(&mut s, 1, gate_req("b", "shell", true, true));
    let (_, fx) = respond(&mut s, None, Decision::Reject);
    assert_eq!(
        resolved(&fx),
        Some(("b".into(), Gate::Refuse("Tool rejected by user".into())))
    );
    assert!(
        matches!(&s.transcript().messages().last().unwrap().body, Body::System { text, .. } if text == "Denied shell: the tool was refused and the agent was notified.")
    );
}

#[test]
fn trust_for_the_turn_lapses_at_turn_end_and_trust_for_the_session_stays() {
    let mut s = session();
    running(&mut s);
    ev(
        &mut s,
        1,
        ProviderEvent::ToolStart {
            id: "b".into(),
            name: "shell".into(),
            args: serde_json::json!({}),
        },
    );
    gate(&mut s, 1, gate_req("b", "shell", true, true));
    respond(&mut s, None, Decision::ApproveTurn);
    ev(
        &mut s,
        1,
        ProviderEvent::ToolStart {
            id: "c".into(),
            name: "shell".into(),
            args: serde_json::json!({}),
        },
    );
    let (reply, fx) = gate(&mut s, 1, gate_req("c", "shell", true, true));
    assert_eq!(reply, Reply::Gate(Gate::Run));
    assert!(emitted(&fx).iter().any(|p| matches!(p, Payload::ToolAutoApproved { tool_call_id, scope: crate::vocab::gate::Scope::Turn, .. } if tool_call_id == "c")));
    let msg = serde_json::to_value(s.transcript().messages()).unwrap();
    assert_eq!(
        msg.as_array().unwrap().last().unwrap()["auto_approved_scope"],
        "turn"
    );
    assert_eq!(s.trust(), serde_json::json!({"shell": "turn"}));
    ev(&mut s, 1, ProviderEvent::AgentEnd { usage: None });
    assert_eq!(s.trust(), serde_json::json!({}));
    prompt(&mut s, "again");
    assert_eq!(
        gate(&mut s, 2, gate_req("d", "shell", true, true)).0,
        Reply::Gate(Gate::Wait),
        "asks again next turn"
    );
    respond(&mut s, None, Decision::ApproveSession);
    ev(&mut s, 2, ProviderEvent::AgentEnd { usage: None });
    prompt(&mut s, "third");
    assert_eq!(
        gate(&mut s, 3, gate_req("e", "shell", true, true)).0,
        Reply::Gate(Gate::Run)
    );
}

#[test]
fn revoked_trust_asks_again_and_revoking_an_untrusted_tool_is_not_found() {
    let mut s = session();
    running(&mut s);
    gate(&mut s, 1, gate_req("a", "shell", true, true));
    respond(&mut s, None, Decision::ApproveSession);
    gate(&mut s, 1, gate_req("b", "write_file", true, true));
    respond(&mut s, None, Decision::ApproveTurn);
    assert_eq!(
        s.trust(),
        serde_json::json!({"shell": "session", "write_file": "turn"})
    );
    let revoke = |s: &mut SessionState, name: Option<&str>| {
        s.apply(
            Input::Command(Command::RevokeTrust(name.map(Into::into))),
            T0,
        )
        .0
    };
    assert_eq!(revoke(&mut s, Some("shell")), Reply::Ok);
    assert_eq!(s.trust(), serde_json::json!({"write_file": "turn"}));
    assert_eq!(
        gate(&mut s, 1, gate_req("c", "shell", true, true)).0,
        Reply::Gate(Gate::Wait),
        "asks again"
    );
    assert!(
        matches!(revoke(&mut s, Some("shell")), Reply::Failed(crate::error::Error::NotFound(m)) if m.contains("write_file"))
    );
    assert_eq!(revoke(&mut s, None), Reply::Ok);
    assert_eq!(s.trust(), serde_json::json!({}));
}
#[test]
fn abort_cancels_the_pending_approval_and_late_answers_are_refused() {
    let mut s = session();
    running(&mut s);
    gate(&mut s, 1, gate_req("b", "shell", true, true));
    let (_, fx) = s.apply(Input::Command(Command::Abort), T0);
    assert!(emitted(&fx).contains(&Payload::ApprovalResolved {
        approval_id: "b".into(),
        decision: "cancelled"
    }));
    assert!(matches!(resolved(&fx), Some((_, Gate::Refuse(t))) if t.contains("cancelled")));
    assert!(matches!(
        respond(&mut s, Some("b"), Decision::Approve).0,
        Reply::Failed(crate::error::Error::NoPendingApproval(_))
    ));
}

#[test]
fn timed_out_approvals_are_closed() {
    let mut s = session();
    running(&mut s);
    gate(&mut s, 1, gate_req("b", "shell", true, true));
    let fx = ev(
        &mut s,
        1,
        ProviderEvent::ApprovalTimedOut {
            tool_call_id: "b".into(),
        },
    );
    assert_eq!(
        emitted(&fx),
        vec![Payload::ApprovalResolved {
            approval_id: "b".into(),
            decision: "timed_out"
        }]
    );
    assert_eq!(s.snapshot()["pending_approval"], serde_json::Value::Null);
}

#[test]
fn plan_mode_refuses_destructive_tools_and_cancels_pending_approvals() {
    let mut s = session();
    running(&mut s);
    gate(&mut s, 1, gate_req("b", "shell", true, true));
    let (_, fx) = s.apply(Input::Command(Command::EnterPlan), T0);
    assert_eq!(statuses(&fx), vec![Status::Plan]);
    assert!(
        matches!(resolved(&fx), Some((_, Gate::Refuse(t))) if t == "Tool call cancelled: plan mode was entered")
    );
    let (reply, _) = gate(&mut s, 1, gate_req("c", "write_file", true, false));
    assert!(
        matches!(reply, Reply::Gate(Gate::Refuse(t)) if t.starts_with("Plan mode is active. Refusing destructive tool write_file."))
    );
    assert!(
        matches!(&s.transcript().messages().last().unwrap().body, Body::System { text, .. } if text.starts_with("Plan mode is active"))
    );
    assert_eq!(
        gate(&mut s, 1, gate_req("d", "read_file", false, false)).0,
        Reply::Gate(Gate::Run)
    );
    assert!(
        statuses(&ev(
            &mut s,
            1,
            ProviderEvent::ToolStart {
                id: "d".into(),
                name: "read_file".into(),
                args: serde_json::json!({})
            }
        ))
        .is_empty(),
        "plan status sticks"
    );
    let (_, fx) = s.apply(Input::Command(Command::EnterExec), T0);
    assert_eq!(
        statuses(&fx),
        vec![Status::Thinking],
        "a turn is still running"
    );
    let (_, fx) = s.apply(Input::Command(Command::EnterExec), T0);
    assert!(fx.is_empty(), "enter_exec outside plan mode is a no-op");
}

#[test]
fn models_switch_and_cycle_through_the_rotation() {
    use crate::vocab::settings::ThinkingLevel;
    let mut s = session();
    let (reply, fx) = s.apply(
        Input::Command(Command::SetModel("scripted:demo".into())),
        T0,
    );
    assert_eq!(reply, Reply::Ok);
    assert_eq!(
        fx,
        vec![Effect::ConfigureProvider(
            crate::vocab::settings::ProviderConfig {
                model: "scripted:demo".into(),
                thinking_level: ThinkingLevel::Off,
                skills: vec![],
            }
        )]
    );
    assert_eq!(s.metadata()["model"], "scripted:demo");
    assert!(matches!(
        s.apply(Input::Command(Command::CycleModel), T0).0,
        Reply::Failed(crate::error::Error::NotSupported(_))
    ));
    s.configure(
        ThinkingLevel::Low,
        vec!["scripted:echo".into(), "scripted:demo:high".into()],
    );
    let (reply, _) = s.apply(Input::Command(Command::CycleModel), T0);
    assert_eq!(
        reply,
        Reply::Json(
            serde_json::json!({"model": "scripted:echo", "index": 1, "total": 2, "thinking_level": "low"})
        )
    );
    let (reply, _) = s.apply(Input::Command(Command::CycleModel), T0);
    assert_eq!(
        reply,
        Reply::Json(
            serde_json::json!({"model": "scripted:demo", "index": 2, "total": 2, "thinking_level": "high"})
        )
    );
    assert_eq!(
        s.available_models()[1],
        serde_json::json!({"model": "scripted:demo", "provider": "scripted", "name": "demo", "current": true})
    );
    let (reply, _) = s.apply(Input::Command(Command::CycleThinking), T0);
    assert_eq!(reply, Reply::Json(serde_json::json!({"level": "off"})));
    s.apply(
        Input::Command(Command::SetThinking(ThinkingLevel::Medium)),
        T0,
    );
    assert_eq!(s.metadata()["thinking_level"], "medium");
    assert!(s
        .commands()
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["name"] == "plan"));
}

#[test]
fn compaction_summarizes_before_a_user_prompt_and_the_context_starts_from_it() {
    use crate::vocab::settings::{SideKind, SideResult};
    let mut s = session();
    let compact = |s: &mut SessionState, keep: usize| {
        s.apply(Input::Command(Command::Compact { keep_recent: keep }), T0)
    };
    assert_eq!(
        compact(&mut s, 2).0,
        Reply::Json(
            serde_json::json!({"compacted": false, "info": "Context is already small enough, no compaction needed."})
        )
    );
    finished_turn(&mut s, 1, "one", "A");
    finished_turn(&mut s, 2, "two", "B");
    finished_turn(&mut s, 3, "three", "C");
    let (reply, fx) = compact(&mut s, 2);
    assert_eq!(reply, Reply::Deferred);
    let (kind, context) = fx
        .iter()
        .find_map(|e| match e {
            Effect::SideCall { kind, context } => Some((kind.clone(), context.clone())),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        kind,
        SideKind::Compact {
            first_kept_id: 6,
            auto: false
        }
    );
    assert_eq!(context.len(), 4, "one, A, two, B are summarized");
    assert!(matches!(
        prompt(&mut s, "during").0,
        Reply::Failed(crate::error::Error::Busy(_))
    ));
    assert!(matches!(
        compact(&mut s, 2).0,
        Reply::Failed(crate::error::Error::Busy(_))
    ));
    let done = SideResult {
        text: "They said one and two.".into(),
        path: None,
    };
    let (reply, _) = s.apply(
        Input::SideCallDone {
            kind,
            result: Ok(done),
        },
        T0,
    );
    assert!(
        matches!(&reply, Reply::Json(v) if v["compacted"] == true && v["info"].as_str().unwrap().starts_with("Context compacted ("))
    );
    let (_, fx) = prompt(&mut s, "four");
    let ctx = fx.iter().find_map(|e| match e {
        Effect::StartTurn { context, .. } => Some(context.to_vec()),
        _ => None,
    });
    let ctx = ctx.unwrap();
    assert!(
        matches!(&ctx[0], ModelMessage::User(p) if crate::session::machine::transcript::parts_text(p).ends_with("They said one and two."))
    );
    assert_eq!(
        &ctx[1..],
        &[
            ModelMessage::User(text("three")),
            ModelMessage::Assistant {
                thinking: vec![],
                text: "C".into(),
                tool_calls: vec![]
            },
            ModelMessage::User(text("four")),
        ]
    );
    assert_eq!(
        s.transcript()
            .messages()
            .iter()
            .filter(|m| matches!(m.body, Body::User { .. }))
            .count(),
        4,
        "the transcript keeps everything"
    );
}

#[test]
fn failed_side_calls_report_and_release_the_session() {
    use crate::vocab::settings::SideKind;
    let mut s = session();
    finished_turn(&mut s, 1, "one", "A");
    finished_turn(&mut s, 2, "two", "B");
    s.apply(Input::Command(Command::Compact { keep_recent: 1 }), T0);
    let (reply, _) = s.apply(
        Input::SideCallDone {
            kind: SideKind::Compact {
                first_kept_id: 4,
                auto: false,
            },
            result: Err("HTTP 500: x".into()),
        },
        T0,
    );
    assert!(
        matches!(reply, Reply::Failed(crate::error::Error::Provider(m)) if m == "Compaction failed: HTTP 500: x")
    );
    assert_eq!(
        prompt(&mut s, "ok now").0,
        Reply::Prompt(PromptOutcome::Sent)
    );
    assert!(matches!(
        s.apply(Input::Command(Command::Summarize), T0).0,
        Reply::Failed(crate::error::Error::Busy(_))
    ));
}

/// `continue` starts turn 2 with `prompt` as its last message; the turn then ends.
fn continues_with(s: &mut SessionState, prompt: &str) {
    let (reply, fx) = s.apply(Input::Command(Command::Continue), T0);
    assert_eq!(reply, Reply::Ok);
    let last = fx.iter().find_map(|e| match e {
        Effect::StartTurn { context, .. } => context.last().cloned(),
        _ => None,
    });
    assert_eq!(last, Some(ModelMessage::User(text(prompt))));
    ev(s, 2, ProviderEvent::AgentEnd { usage: None });
}

#[test]
fn an_interrupted_stream_can_be_continued_once() {
    let mut s = session();
    assert!(matches!(
        s.apply(Input::Command(Command::Continue), T0).0,
        Reply::Failed(crate::error::Error::InvalidArgument(_))
    ));
    prompt(&mut s, "go");
    ev(&mut s, 1, ProviderEvent::AgentStart);
    ev(
        &mut s,
        1,
        ProviderEvent::TextDelta("a long partial answer".into()),
    );
    let fx = ev(
        &mut s,
        1,
        ProviderEvent::StreamInterrupted("connection reset".into()),
    );
    assert!(emitted(&fx).iter().any(|p| matches!(p, Payload::Error { message } if message.starts_with("Stream interrupted: connection reset."))));
    ev(&mut s, 1, ProviderEvent::AgentEnd { usage: None });
    continues_with(&mut s, crate::session::machine::compaction::CONTINUE_PROMPT);
    assert!(
        matches!(
            s.apply(Input::Command(Command::Continue), T0).0,
            Reply::Failed(_)
        ),
        "only once"
    );
    assert!(
        matches!(
            s.apply(Input::Command(Command::Summarize), T0).0,
            Reply::Failed(crate::error::Error::NotSupported(_))
        ),
        "no workdir"
    );
}

#[test]
fn a_turn_the_turn_limit_ended_can_be_continued_once() {
    let mut s = session();
    prompt(&mut s, "go");
    ev(&mut s, 1, ProviderEvent::AgentStart);
    ev(
        &mut s,
        1,
        ProviderEvent::TurnLimitReached {
            current: 2,
            limit: 2,
        },
    );
    ev(
        &mut s,
        1,
        ProviderEvent::Error("Turn limit reached (2/2).".into()),
    );
    ev(&mut s, 1, ProviderEvent::AgentEnd { usage: None });
    continues_with(
        &mut s,
        crate::session::machine::compaction::CONTINUE_AFTER_LIMIT,
    );
    assert!(matches!(
        s.apply(Input::Command(Command::Continue), T0).0,
        Reply::Failed(crate::error::Error::InvalidArgument(_))
    ));
}

#[test]
fn tool_started_comes_when_the_gate_lets_a_call_run_never_before_approval() {
    use crate::events::EventKind;
    let started = |fx: &[Effect]| {
        emitted(fx)
            .iter()
            .filter_map(|p| match p {
                Payload::ToolStarted { tool_call_id, .. } => Some(tool_call_id.clone()),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    let status_of = |s: &SessionState, id: &str| {
        s.transcript()
            .messages()
            .iter()
            .find_map(|m| match &m.body {
                Body::ToolCall {
                    tool_call_id,
                    status,
                    ..
                } if tool_call_id == id => Some(*status),
                _ => None,
            })
    };
    let mut s = session();
    running(&mut s);
    let propose = |id: &str| ProviderEvent::ToolProposed {
        id: id.into(),
        name: "shell".into(),
        args: serde_json::json!({"command": "ls"}),
    };
    // Asked: pending until approved, then started.
    let fx = ev(&mut s, 1, propose("a"));
    assert!(started(&fx).is_empty());
    assert_eq!(status_of(&s, "a"), Some(ToolStatus::Pending));
    let (_, fx) = gate(&mut s, 1, gate_req("a", "shell", true, true));
    assert!(
        started(&fx).is_empty(),
        "not started while the approval is pending"
    );
    assert!(emitted(&fx)
        .iter()
        .any(|p| matches!(p, Payload::ApprovalPending { .. })));
    let (_, fx) = respond(&mut s, None, Decision::Approve);
    assert_eq!(started(&fx), ["a"]);
    assert_eq!(status_of(&s, "a"), Some(ToolStatus::Running));
    let kinds: Vec<EventKind> = emitted(&fx).iter().map(Payload::kind).collect();
    let (res, st) = (
        kinds
            .iter()
            .position(|k| *k == EventKind::ApprovalResolved)
            .unwrap(),
        kinds
            .iter()
            .position(|k| *k == EventKind::ToolStarted)
            .unwrap(),
    );
    assert!(res < st, "{kinds:?}");
    // Rejected: never started; it ends as an error.
    ev(&mut s, 1, propose("b"));
    gate(&mut s, 1, gate_req("b", "shell", true, true));
    let (_, fx) = respond(&mut s, None, Decision::Reject);
    assert!(started(&fx).is_empty());
    // Not asked: started by the gate at once.
    ev(&mut s, 1, propose("c"));
    let (_, fx) = gate(&mut s, 1, gate_req("c", "read_file", false, false));
    assert_eq!(started(&fx), ["c"]);
    // A pending call cut off by an abort is aborted like a running one.
    ev(&mut s, 1, propose("d"));
    s.apply(Input::Command(Command::Abort), T0);
    assert_eq!(status_of(&s, "d"), Some(ToolStatus::Error));
}
