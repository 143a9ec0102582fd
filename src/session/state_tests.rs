//! Unit tests of the session state machine, driven without a runtime.

use super::*;
use crate::session::transcript::ToolStatus;
use crate::vocab::content::combine_entries;

const T0: Now = Now {
    wall_ms: 1_795_215_165_000,
    mono_ms: 1000,
};

fn session() -> SessionState {
    SessionState::new(
        Identity {
            id: "s".into(),
            model: "scripted:echo".into(),
            provider: "native".into(),
            ..Default::default()
        },
        T0,
    )
}

fn text(t: &str) -> Vec<ContentPart> {
    vec![ContentPart::Text { text: t.into() }]
}

fn prompt(s: &mut SessionState, t: &str) -> (Reply, Vec<Effect>) {
    s.apply(Input::Command(Command::Prompt(text(t))), T0)
}

fn ev(s: &mut SessionState, turn_id: u64, event: ProviderEvent) -> Vec<Effect> {
    s.apply(Input::Provider { turn_id, event }, T0).1
}

fn emitted(fx: &[Effect]) -> Vec<Payload> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Emit(p) => Some(p.clone()),
            _ => None,
        })
        .collect()
}

fn statuses(fx: &[Effect]) -> Vec<Status> {
    emitted(fx)
        .into_iter()
        .filter_map(|p| match p {
            Payload::StatusChanged { status } => Some(status),
            _ => None,
        })
        .collect()
}

fn turn_end(fx: &[Effect]) -> Option<TurnEnd> {
    emitted(fx).into_iter().find_map(|p| match p {
        Payload::TurnEnded { reason, .. } => Some(reason),
        _ => None,
    })
}

#[test]
fn a_fresh_session_is_idle_with_a_started_notice() {
    let s = session();
    assert_eq!(s.status(), Status::Idle);
    let m = s.transcript().messages();
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].id, 1);
    assert!(
        matches!(&m[0].body, Body::System { text, .. } if text.starts_with("Session started · ") && text.ends_with(" UTC"))
    );
}

#[test]
fn a_prompt_starts_a_turn_over_the_transcript_context() {
    let mut s = session();
    let (reply, fx) = prompt(&mut s, "hi");
    assert_eq!(reply, Reply::Prompt(PromptOutcome::Sent));
    assert_eq!(
        s.status(),
        Status::Idle,
        "status changes on AgentStart, not on send"
    );
    let start = fx.iter().find_map(|e| match e {
        Effect::StartTurn { turn_id, context } => Some((*turn_id, context.clone())),
        _ => None,
    });
    let (turn_id, context) = start.expect("a StartTurn effect");
    assert_eq!(turn_id, 1);
    assert_eq!(context, vec![ModelMessage::User(text("hi"))]);
    assert!(s.turn_active());
}

#[test]
fn a_streamed_turn_builds_the_transcript_with_stable_ids() {
    let mut s = session();
    prompt(&mut s, "hi");
    assert_eq!(
        statuses(&ev(&mut s, 1, ProviderEvent::AgentStart)),
        vec![Status::Thinking]
    );
    let fx = ev(&mut s, 1, ProviderEvent::ThinkingDelta("hm".into()));
    assert_eq!(
        emitted(&fx),
        vec![Payload::ThinkingDelta {
            message_id: 3,
            delta: "hm".into()
        }]
    );
    ev(&mut s, 1, ProviderEvent::ThinkingDelta("m".into()));
    let fx = ev(&mut s, 1, ProviderEvent::TextDelta("Hel".into()));
    assert_eq!(
        emitted(&fx),
        vec![Payload::TextDelta {
            message_id: 4,
            delta: "Hel".into()
        }]
    );
    let fx = ev(&mut s, 1, ProviderEvent::TextDelta("lo".into()));
    assert_eq!(
        emitted(&fx),
        vec![Payload::TextDelta {
            message_id: 4,
            delta: "lo".into()
        }]
    );
    let usage = Usage {
        input: 5,
        output: 2,
        cost: 0.25,
        ..Default::default()
    };
    let fx = ev(&mut s, 1, ProviderEvent::AgentEnd { usage: Some(usage) });
    assert_eq!(statuses(&fx), vec![Status::Idle]);
    assert_eq!(turn_end(&fx), Some(TurnEnd::Completed));
    let kinds: Vec<&str> = s
        .transcript()
        .messages()
        .iter()
        .map(|m| match &m.body {
            Body::System { .. } => "system",
            Body::User { .. } => "user",
            Body::Thinking { collapsed, .. } => {
                assert!(*collapsed, "thinking collapses at turn end");
                "thinking"
            }
            Body::Assistant { text } => {
                assert_eq!(text, "Hello");
                "assistant"
            }
            Body::Usage(_) => "usage",
            Body::ToolCall { .. } => "tool",
        })
        .collect();
    assert_eq!(
        kinds,
        vec!["system", "user", "thinking", "assistant", "usage"]
    );
    assert_eq!(
        s.transcript()
            .messages()
            .iter()
            .map(|m| m.id)
            .collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5]
    );
    assert_eq!(s.usage(), usage);
    assert!(!s.turn_active());
}

#[test]
fn status_changed_is_emitted_only_on_change() {
    let mut s = session();
    prompt(&mut s, "go");
    ev(&mut s, 1, ProviderEvent::AgentStart);
    let start = |id: &str| ProviderEvent::ToolStart {
        id: id.into(),
        name: "read_file".into(),
        args: serde_json::json!({}),
    };
    assert_eq!(
        statuses(&ev(&mut s, 1, start("a"))),
        vec![Status::ToolExecuting]
    );
    assert!(statuses(&ev(&mut s, 1, start("b"))).is_empty());
    assert!(statuses(&ev(&mut s, 1, ProviderEvent::TextDelta("x".into()))).is_empty());
}

#[test]
fn tool_calls_run_and_finish_with_duration() {
    let mut s = session();
    prompt(&mut s, "go");
    ev(&mut s, 1, ProviderEvent::AgentStart);
    let fx = ev(
        &mut s,
        1,
        ProviderEvent::ToolStart {
            id: "c1".into(),
            name: "read_file".into(),
            args: serde_json::json!({"path": "a"}),
        },
    );
    assert!(emitted(&fx)
        .iter()
        .any(|p| matches!(p, Payload::ToolStarted { message_id: 3, .. })));
    assert_eq!(s.snapshot()["active_tool_name"], "read_file");
    ev(
        &mut s,
        1,
        ProviderEvent::ToolUpdate {
            id: "c1".into(),
            name: "read_file".into(),
            partial: "par".into(),
        },
    );
    let later = Now {
        mono_ms: T0.mono_ms + 42,
        ..T0
    };
    s.apply(
        Input::Provider {
            turn_id: 1,
            event: ProviderEvent::ToolEnd {
                id: "c1".into(),
                name: "read_file".into(),
                result: "done".into(),
                is_error: false,
            },
        },
        later,
    );
    match &s.transcript().messages()[2].body {
        Body::ToolCall {
            status,
            result,
            duration_ms,
            collapsed,
            ..
        } => {
            assert_eq!(*status, ToolStatus::Complete);
            assert_eq!(result, "done");
            assert_eq!(*duration_ms, Some(42));
            assert!(*collapsed);
        }
        b => panic!("{b:?}"),
    }
    assert_eq!(s.snapshot()["active_tool_name"], serde_json::Value::Null);
}

#[test]
fn events_of_other_turns_are_ignored() {
    let mut s = session();
    prompt(&mut s, "go");
    assert!(ev(&mut s, 7, ProviderEvent::TextDelta("stale".into())).is_empty());
    assert!(ev(&mut s, 7, ProviderEvent::AgentEnd { usage: None }).is_empty());
    assert!(s.turn_active());
}

#[test]
fn a_prompt_during_a_turn_is_queued_as_steering_and_sent_at_turn_end() {
    let mut s = session();
    prompt(&mut s, "first");
    ev(&mut s, 1, ProviderEvent::AgentStart);
    let (reply, fx) = prompt(&mut s, "second");
    assert_eq!(reply, Reply::Prompt(PromptOutcome::QueuedSteering));
    assert!(matches!(
        &emitted(&fx)[..],
        [Payload::PromptQueued {
            queue: "steering",
            ..
        }]
    ));
    assert!(!fx.iter().any(|e| matches!(e, Effect::StartTurn { .. })));
    let fx = ev(&mut s, 1, ProviderEvent::AgentEnd { usage: None });
    assert!(
        statuses(&fx).is_empty(),
        "no idle flicker between the turn and its queued successor"
    );
    assert_eq!(turn_end(&fx), Some(TurnEnd::Completed));
    let next = fx.iter().find_map(|e| match e {
        Effect::StartTurn { turn_id, context } => Some((*turn_id, context.last().cloned())),
        _ => None,
    });
    assert_eq!(next, Some((2, Some(ModelMessage::User(text("second"))))));
    assert!(s.turn_active());
}

#[test]
fn combining_queued_entries_keeps_images() {
    let img = ContentPart::Image {
        media_type: "image/png".into(),
        data: "aGk=".into(),
    };
    let combined = combine_entries(vec![
        text("a"),
        vec![ContentPart::Text { text: "b ".into() }, img.clone()],
        text(""),
        text("c"),
    ]);
    assert_eq!(
        combined,
        vec![
            ContentPart::Text {
                text: "a\n\nb ".into()
            },
            img,
            ContentPart::Text {
                text: "\n\nc".into()
            }
        ]
    );
    assert!(combine_entries(vec![]).is_empty());
}

#[test]
fn an_error_leaves_the_session_in_error_until_the_next_turn_starts() {
    let mut s = session();
    prompt(&mut s, "go");
    ev(&mut s, 1, ProviderEvent::AgentStart);
    let fx = ev(&mut s, 1, ProviderEvent::Error("HTTP 500: boom".into()));
    assert_eq!(statuses(&fx), vec![Status::Error]);
    assert!(emitted(&fx).contains(&Payload::Error {
        message: "HTTP 500: boom".into()
    }));
    let fx = ev(&mut s, 1, ProviderEvent::AgentEnd { usage: None });
    assert!(statuses(&fx).is_empty());
    assert_eq!(turn_end(&fx), Some(TurnEnd::Error));
    assert_eq!(s.status(), Status::Error);
    assert_eq!(s.snapshot()["error"], "HTTP 500: boom");
    assert!(matches!(
        s.transcript().messages().last().map(|m| &m.body),
        Some(Body::System {
            level: Level::Error,
            ..
        })
    ));
    let (reply, _) = prompt(&mut s, "again");
    assert_eq!(
        reply,
        Reply::Prompt(PromptOutcome::Sent),
        "prompts are accepted in error status"
    );
    assert_eq!(
        statuses(&ev(&mut s, 2, ProviderEvent::AgentStart)),
        vec![Status::Thinking]
    );
    assert_eq!(s.snapshot()["error"], serde_json::Value::Null);
}

#[test]
fn abort_when_idle_is_a_no_op() {
    let mut s = session();
    let before = s.transcript().len();
    let (reply, fx) = s.apply(Input::Command(Command::Abort), T0);
    assert_eq!(reply, Reply::Ok);
    assert!(fx.is_empty());
    assert_eq!(s.transcript().len(), before);
}

#[test]
fn abort_mid_turn_cancels_marks_tools_and_keeps_queues() {
    let mut s = session();
    prompt(&mut s, "go");
    ev(&mut s, 1, ProviderEvent::AgentStart);
    ev(
        &mut s,
        1,
        ProviderEvent::ToolStart {
            id: "c".into(),
            name: "shell".into(),
            args: serde_json::json!({}),
        },
    );
    prompt(&mut s, "queued");
    let (_, fx) = s.apply(Input::Command(Command::Abort), T0);
    assert!(fx.contains(&Effect::CancelTurn { turn_id: 1 }));
    assert_eq!(turn_end(&fx), Some(TurnEnd::Aborted));
    assert_eq!(statuses(&fx), vec![Status::Idle]);
    let msgs = s.transcript().messages();
    assert!(
        matches!(&msgs[2].body, Body::ToolCall { status: ToolStatus::Error, result, is_error: true, .. } if result == "aborted")
    );
    assert!(matches!(&msgs.last().unwrap().body, Body::System { text, .. } if text == "Aborted"));
    assert!(
        !fx.iter().any(|e| matches!(e, Effect::StartTurn { .. })),
        "queued prompts wait for the host"
    );
    assert!(
        ev(&mut s, 1, ProviderEvent::AgentEnd { usage: None }).is_empty(),
        "the aborted turn's end is stale"
    );
}

#[test]
fn a_restart_closes_the_interrupted_turn() {
    let mut s = session();
    prompt(&mut s, "go");
    ev(&mut s, 1, ProviderEvent::AgentStart);
    ev(
        &mut s,
        1,
        ProviderEvent::ToolStart {
            id: "c".into(),
            name: "read_file".into(),
            args: serde_json::json!({}),
        },
    );
    let (_, fx) = s.apply(
        Input::Restarted {
            reason: "panic: boom".into(),
        },
        T0,
    );
    assert_eq!(turn_end(&fx), Some(TurnEnd::Interrupted));
    assert_eq!(s.status(), Status::Idle);
    assert!(s
        .transcript()
        .messages()
        .iter()
        .any(|m| matches!(&m.body, Body::System { text, level: Level::Error, .. } if text.contains("panic: boom"))));
    assert!(s.transcript().messages().iter().all(|m| !matches!(
        m.body,
        Body::ToolCall {
            status: ToolStatus::Running,
            ..
        }
    )));
    let (_, fx) = s.apply(
        Input::Restarted {
            reason: "again".into(),
        },
        T0,
    );
    assert!(fx.is_empty(), "nothing in flight, nothing to close");
}

#[test]
fn metadata_titles_come_from_the_first_prompt() {
    let mut s = session();
    assert_eq!(s.metadata()["title"], serde_json::Value::Null);
    let long = format!("\n  {}  \nsecond line", "x".repeat(100));
    prompt(&mut s, &long);
    let m = s.metadata();
    assert_eq!(m["title"].as_str().unwrap().chars().count(), 80);
    assert!(m["title"].as_str().unwrap().ends_with("..."));
    assert_eq!(m["turn_count"], 1);
    assert_eq!(m["message_count"], 2);
    assert_eq!(m["created_at"], "2026-11-20T22:52:45.000Z");
}

#[test]
fn system_messages_append_and_notify() {
    let mut s = session();
    let (_, fx) = s.apply(
        Input::Command(Command::AddSystemMessage("note".into(), Level::Error)),
        T0,
    );
    assert_eq!(emitted(&fx), vec![Payload::MessagesChanged]);
    assert!(
        matches!(&s.transcript().messages()[1].body, Body::System { text, level: Level::Error, .. } if text == "note")
    );
}

#[test]
fn follow_ups_wait_for_the_turn_end_and_run_after_steering() {
    let mut s = session();
    let (reply, fx) = s.apply(
        Input::Command(Command::FollowUp(text("idle follow-up"))),
        T0,
    );
    assert_eq!(
        reply,
        Reply::Prompt(PromptOutcome::Sent),
        "a follow-up while idle is sent at once"
    );
    assert!(fx
        .iter()
        .any(|e| matches!(e, Effect::StartTurn { turn_id: 1, .. })));
    ev(&mut s, 1, ProviderEvent::AgentStart);
    let (reply, fx) = s.apply(Input::Command(Command::FollowUp(text("later"))), T0);
    assert_eq!(reply, Reply::Prompt(PromptOutcome::QueuedFollowUp));
    assert!(matches!(
        &emitted(&fx)[..],
        [Payload::PromptQueued {
            queue: "follow_up",
            ..
        }]
    ));
    prompt(&mut s, "steer");
    let (reply, _) = s.apply(Input::Command(Command::Queue(QueueOp::Show)), T0);
    assert_eq!(
        reply,
        Reply::Json(
            serde_json::json!({"steering": [[{"type": "text", "text": "steer"}]], "follow_up": [[{"type": "text", "text": "later"}]]})
        )
    );
    let fx = ev(&mut s, 1, ProviderEvent::AgentEnd { usage: None });
    let next = fx.iter().find_map(|e| match e {
        Effect::StartTurn { context, .. } => context.last().cloned(),
        _ => None,
    });
    assert_eq!(
        next,
        Some(ModelMessage::User(text("steer\n\nlater"))),
        "steering first, then follow-ups"
    );
}

#[test]
fn steering_is_taken_between_tool_batches_one_message_per_entry() {
    let mut s = session();
    prompt(&mut s, "go");
    ev(&mut s, 1, ProviderEvent::AgentStart);
    prompt(&mut s, "a");
    prompt(&mut s, "b");
    let before = s.transcript().len();
    let (reply, fx) = s.apply(Input::TakeSteering { turn_id: 1 }, T0);
    assert_eq!(reply, Reply::Steering(vec![text("a"), text("b")]));
    assert_eq!(emitted(&fx), vec![Payload::MessagesChanged]);
    assert_eq!(s.transcript().len(), before + 2);
    let (reply, fx) = s.apply(Input::TakeSteering { turn_id: 1 }, T0);
    assert_eq!(reply, Reply::Steering(vec![]));
    assert!(fx.is_empty());
    prompt(&mut s, "c");
    assert_eq!(
        s.apply(Input::TakeSteering { turn_id: 9 }, T0).0,
        Reply::Steering(vec![]),
        "stale turns get nothing"
    );
}

#[test]
fn queues_can_be_dequeued_recalled_and_cleared() {
    let mut s = session();
    prompt(&mut s, "go");
    ev(&mut s, 1, ProviderEvent::AgentStart);
    prompt(&mut s, "s1");
    s.apply(Input::Command(Command::FollowUp(text("f1"))), T0);
    let (reply, fx) = s.apply(Input::Command(Command::Queue(QueueOp::DequeueSteering)), T0);
    assert_eq!(
        reply,
        Reply::Json(serde_json::json!([[{"type": "text", "text": "s1"}]]))
    );
    assert_eq!(emitted(&fx), vec![Payload::QueuesRecalled]);
    let (_, fx) = s.apply(Input::Command(Command::Queue(QueueOp::DequeueSteering)), T0);
    assert!(fx.is_empty(), "nothing to dequeue, nothing to announce");
    prompt(&mut s, "s2");
    let (reply, fx) = s.apply(Input::Command(Command::Queue(QueueOp::Recall)), T0);
    assert_eq!(
        reply,
        Reply::Json(
            serde_json::json!({"steering": [[{"type": "text", "text": "s2"}]], "follow_up": [[{"type": "text", "text": "f1"}]]})
        )
    );
    assert_eq!(emitted(&fx), vec![Payload::QueuesRecalled]);
    prompt(&mut s, "s3");
    s.apply(Input::Command(Command::Queue(QueueOp::Clear)), T0);
    assert_eq!(
        s.queued(),
        serde_json::json!({"steering": [], "follow_up": []})
    );
    let fx = ev(&mut s, 1, ProviderEvent::AgentEnd { usage: None });
    assert!(
        !fx.iter().any(|e| matches!(e, Effect::StartTurn { .. })),
        "nothing left to send"
    );
    assert_eq!(statuses(&fx), vec![Status::Idle]);
}

fn finished_turn(s: &mut SessionState, turn_id: u64, prompt_text: &str, answer: &str) {
    prompt(s, prompt_text);
    ev(s, turn_id, ProviderEvent::AgentStart);
    ev(s, turn_id, ProviderEvent::TextDelta(answer.into()));
    ev(s, turn_id, ProviderEvent::AgentEnd { usage: None });
}

fn edit(s: &mut SessionState, op: EditOp) -> Reply {
    s.apply(Input::Command(Command::Edit(op)), T0).0
}

#[test]
fn branching_saves_the_transcript_and_the_next_turn_sees_the_branch() {
    let mut s = session();
    finished_turn(&mut s, 1, "one", "A");
    finished_turn(&mut s, 2, "two", "B");
    assert_eq!(s.transcript().len(), 5);
    let reply = edit(&mut s, EditOp::BranchAt(3));
    assert_eq!(
        reply,
        Reply::Json(serde_json::json!({"number": 1, "name": "branch-1", "message_count": 3}))
    );
    assert_eq!(
        s.transcript()
            .messages()
            .iter()
            .map(|m| m.id)
            .collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    let list = s.list_branches();
    assert_eq!(list[0]["number"], 1);
    assert_eq!(list[0]["message_count"], 5);
    assert_eq!(list[0]["created_at"], "2026-11-20T22:52:45.000Z");
    // A new turn on the cut transcript gets fresh IDs and sees only the kept context.
    let (_, fx) = prompt(&mut s, "three");
    let ctx = fx.iter().find_map(|e| match e {
        Effect::StartTurn { context, .. } => Some(context.clone()),
        _ => None,
    });
    assert_eq!(
        ctx.unwrap(),
        vec![
            ModelMessage::User(text("one")),
            ModelMessage::Assistant {
                thinking: vec![],
                text: "A".into(),
                tool_calls: vec![]
            },
            ModelMessage::User(text("three"))
        ]
    );
    assert_eq!(
        s.transcript().messages().last().unwrap().id,
        6,
        "IDs are never reused"
    );
    ev(&mut s, 3, ProviderEvent::AgentEnd { usage: None });
    assert_eq!(edit(&mut s, EditOp::SwitchBranch(1)), Reply::Ok);
    assert_eq!(
        s.transcript()
            .messages()
            .iter()
            .map(|m| m.id)
            .collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5]
    );
    let (_, fx) = prompt(&mut s, "four");
    let ctx_len = fx.iter().find_map(|e| match e {
        Effect::StartTurn { context, .. } => Some(context.len()),
        _ => None,
    });
    assert_eq!(ctx_len, Some(5), "one, A, two, B, four");
}

#[test]
fn branch_errors_are_reported_not_crashes() {
    let mut s = session();
    finished_turn(&mut s, 1, "one", "A");
    assert!(matches!(
        edit(&mut s, EditOp::BranchAt(99)),
        Reply::Failed(crate::error::Error::NotFound(_))
    ));
    assert!(matches!(
        edit(&mut s, EditOp::SwitchBranch(0)),
        Reply::Failed(crate::error::Error::NotFound(_))
    ));
    assert!(matches!(
        edit(&mut s, EditOp::SwitchBranch(1)),
        Reply::Failed(crate::error::Error::NotFound(_))
    ));
    edit(&mut s, EditOp::BranchAt(1));
    assert!(matches!(
        edit(&mut s, EditOp::SwitchBranch(2)),
        Reply::Failed(crate::error::Error::NotFound(_))
    ));
    prompt(&mut s, "busy");
    assert!(matches!(
        edit(&mut s, EditOp::SwitchBranch(1)),
        Reply::Failed(crate::error::Error::Busy(_))
    ));
    assert!(matches!(
        edit(&mut s, EditOp::BranchAt(1)),
        Reply::Failed(crate::error::Error::Busy(_))
    ));
}

#[test]
fn collapse_toggles_work_on_tool_calls_and_thinking_only() {
    let mut s = session();
    prompt(&mut s, "go");
    ev(&mut s, 1, ProviderEvent::AgentStart);
    ev(&mut s, 1, ProviderEvent::ThinkingDelta("t".into()));
    ev(
        &mut s,
        1,
        ProviderEvent::ToolStart {
            id: "c".into(),
            name: "x".into(),
            args: serde_json::json!({}),
        },
    );
    ev(
        &mut s,
        1,
        ProviderEvent::ToolEnd {
            id: "c".into(),
            name: "x".into(),
            result: "r".into(),
            is_error: false,
        },
    );
    ev(&mut s, 1, ProviderEvent::AgentEnd { usage: None });
    let collapsed = |s: &SessionState, id: u64| {
        serde_json::to_value(s.transcript().messages()).unwrap()[id as usize - 1]["collapsed"]
            .clone()
    };
    assert_eq!(collapsed(&s, 3), true);
    assert_eq!(collapsed(&s, 4), true);
    assert_eq!(edit(&mut s, EditOp::ToggleCollapse(4)), Reply::Ok);
    assert_eq!(collapsed(&s, 4), false);
    assert!(matches!(
        edit(&mut s, EditOp::ToggleCollapse(2)),
        Reply::Failed(crate::error::Error::InvalidArgument(_))
    ));
    assert!(matches!(
        edit(&mut s, EditOp::ToggleCollapse(42)),
        Reply::Failed(crate::error::Error::NotFound(_))
    ));
    edit(&mut s, EditOp::ToggleAllCollapses);
    assert_eq!(
        (collapsed(&s, 3), collapsed(&s, 4)),
        (serde_json::json!(false), serde_json::json!(false))
    );
    edit(&mut s, EditOp::ToggleAllCollapses);
    assert_eq!(
        (collapsed(&s, 3), collapsed(&s, 4)),
        (serde_json::json!(true), serde_json::json!(true))
    );
}

#[test]
fn boundaries_are_stored_validated_and_adjusted() {
    let mut s = session();
    let set = |s: &mut SessionState, a: u32, b: u32| {
        edit(
            s,
            EditOp::SetBoundary {
                path: "/w/a.rs".into(),
                start_line: a,
                end_line: b,
            },
        )
    };
    assert_eq!(set(&mut s, 10, 20), Reply::Ok);
    assert!(matches!(
        set(&mut s, 5, 1),
        Reply::Failed(crate::error::Error::InvalidArgument(_))
    ));
    assert_eq!(
        s.boundary_for("/w/a.rs"),
        serde_json::json!({"start_line": 10, "end_line": 20})
    );
    s.adjust_boundary("/w/a.rs", 5, 3);
    assert_eq!(
        s.boundary_for("/w/a.rs"),
        serde_json::json!({"start_line": 13, "end_line": 23})
    );
    assert_eq!(s.boundary_for("/w/b.rs"), serde_json::Value::Null);
    edit(&mut s, EditOp::ClearBoundary("/w/a.rs".into()));
    assert_eq!(s.boundary_for("/w/a.rs"), serde_json::Value::Null);
    set(&mut s, 1, 2);
    edit(&mut s, EditOp::ClearAllBoundaries);
    assert_eq!(s.boundary_for("/w/a.rs"), serde_json::Value::Null);
}

#[test]
fn file_changes_are_announced_and_tracked_newest_first() {
    use crate::vocab::model::FileChange;
    let mut s = session();
    prompt(&mut s, "go");
    ev(
        &mut s,
        1,
        ProviderEvent::ToolStart {
            id: "c".into(),
            name: "write_file".into(),
            args: serde_json::json!({}),
        },
    );
    let change = |path: &str, before: Option<&str>, after: Option<&str>| {
        ProviderEvent::FileChanged(FileChange {
            tool_call_id: "c".into(),
            path: path.into(),
            before: before.map(Into::into),
            after: after.map(Into::into),
            truncated: false,
            line_edits: Vec::new(),
        })
    };
    let fx = ev(&mut s, 1, change("/w/new.txt", None, Some("hi")));
    match &emitted(&fx)[0] {
        Payload::FileChanged {
            tool_name,
            action,
            before,
            after,
            ..
        } => {
            assert_eq!(tool_name, "write_file");
            assert_eq!(*action, crate::vocab::files::FileAction::Created);
            assert_eq!((before.as_str(), after.as_str()), ("", "hi"));
        }
        p => panic!("{p:?}"),
    }
    let later = Now {
        wall_ms: T0.wall_ms + 5,
        ..T0
    };
    s.apply(
        Input::Provider {
            turn_id: 1,
            event: change("/w/old.txt", Some("x"), None),
        },
        later,
    );
    let touched = s.touched_files();
    assert_eq!(touched[0]["path"], "/w/old.txt");
    assert_eq!(touched[0]["action"], "deleted");
    assert_eq!(touched[1]["action"], "created");
}

use crate::session::approvals::{Decision, Gate, GateRequest};

fn gate_req(id: &str, name: &str, destructive: bool, ask: bool) -> GateRequest {
    GateRequest {
        tool_call_id: id.into(),
        name: name.into(),
        args: serde_json::json!({"command": "ls"}),
        destructive,
        ask,
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
    assert_eq!(kind, SideKind::Compact { first_kept_id: 6 });
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
        Effect::StartTurn { context, .. } => Some(context.clone()),
        _ => None,
    });
    let ctx = ctx.unwrap();
    assert!(
        matches!(&ctx[0], ModelMessage::User(p) if crate::session::transcript::parts_text(p).ends_with("They said one and two."))
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
            kind: SideKind::Compact { first_kept_id: 4 },
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
    let (reply, fx) = s.apply(Input::Command(Command::Continue), T0);
    assert_eq!(reply, Reply::Ok);
    let last = fx.iter().find_map(|e| match e {
        Effect::StartTurn { context, .. } => context.last().cloned(),
        _ => None,
    });
    assert_eq!(
        last,
        Some(ModelMessage::User(text(
            crate::session::compaction::CONTINUE_PROMPT
        )))
    );
    ev(&mut s, 2, ProviderEvent::AgentEnd { usage: None });
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
