//! Unit tests of the session state machine, driven without a runtime.

use super::*;
use crate::session::machine::transcript::ToolStatus;
use crate::vocab::content::combine_entries;
use crate::vocab::model::{ModelMessage, ProviderEvent};

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
        Effect::StartTurn { turn_id, context } => Some((*turn_id, context.to_vec())),
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

#[path = "state_tests_context.rs"]
mod context;
#[path = "state_tests_edits.rs"]
mod edits;
#[path = "state_tests_gate.rs"]
mod gate;
#[path = "state_tests_life.rs"]
mod life;
