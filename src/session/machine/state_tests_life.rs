//! Unit tests of the state machine's lifecycle rules: cancelling side calls, and when a session may be reclaimed.

use super::*;

fn cancel_reply(fx: &[Effect]) -> Option<Option<Reply>> {
    fx.iter().find_map(|e| match e {
        Effect::CancelSideCall { reply } => Some(reply.clone()),
        _ => None,
    })
}

#[test]
fn abort_cancels_a_manual_compaction_and_its_late_answer_changes_nothing() {
    let mut s = session();
    finished_turn(&mut s, 1, "one", "A");
    finished_turn(&mut s, 2, "two", "B");
    let (reply, _) = s.apply(Input::Command(Command::Compact { keep_recent: 1 }), T0);
    assert_eq!(reply, Reply::Deferred);
    let before = s.transcript().clone();
    let (reply, fx) = s.apply(Input::Command(Command::Abort), T0);
    assert_eq!(reply, Reply::Ok);
    assert!(
        matches!(cancel_reply(&fx), Some(Some(Reply::Failed(crate::error::Error::Provider(m)))) if m.contains("cancelled")),
        "the waiting compact call is answered: {fx:?}"
    );
    assert_eq!(
        s.transcript(),
        &before,
        "no Aborted notice: no turn was running"
    );
    assert_eq!(s.status(), Status::Idle);
    assert_eq!(
        prompt(&mut s, "next").0,
        Reply::Prompt(PromptOutcome::Sent),
        "the session takes prompts again at once"
    );
}

#[test]
fn abort_during_an_automatic_compaction_ends_the_turn_and_records_no_compaction() {
    let mut s = session();
    s.configure_compaction(crate::session::machine::compaction::AutoCompact {
        threshold: 0.1,
        keep_recent: 1,
        context_limit: Some(10),
    });
    finished_turn(&mut s, 1, "one", &"long answer ".repeat(20));
    let (_, fx) = prompt(&mut s, "two");
    assert!(fx.iter().any(|e| matches!(e, Effect::SideCall { .. })));
    assert!(!fx.iter().any(|e| matches!(e, Effect::StartTurn { .. })));
    let (_, fx) = s.apply(Input::Command(Command::Abort), T0);
    assert_eq!(
        cancel_reply(&fx),
        Some(None),
        "nobody waits for an automatic one"
    );
    assert_eq!(turn_end(&fx), Some(TurnEnd::Aborted));
    assert_eq!(s.status(), Status::Idle);
    assert!(!s.busy());
    // The cancelled call's answer, if the actor let it through, is no longer expected.
    let kept = s.transcript().len();
    assert_eq!(
        prompt(&mut s, "three").0,
        Reply::Prompt(PromptOutcome::Sent)
    );
    assert!(s.transcript().messages()[..kept].iter().all(|m| !matches!(
        &m.body,
        Body::System {
            compaction: Some(_),
            ..
        }
    )));
}

#[test]
fn only_a_session_with_nothing_running_waiting_or_queued_is_reclaimable() {
    let mut s = session();
    assert!(s.reclaimable(), "a fresh session");
    prompt(&mut s, "one");
    assert!(!s.reclaimable(), "a turn runs");
    prompt(&mut s, "steer");
    ev(&mut s, 1, ProviderEvent::AgentStart);
    let (reply, _) = s.apply(
        Input::Gate {
            turn_id: 1,
            request: crate::vocab::gate::GateRequest {
                tool_call_id: "c1".into(),
                name: "write_file".into(),
                args: serde_json::json!({"path": "a", "content": "x"}),
                destructive: true,
                ask: true,
                protected: false,
                preview: serde_json::Value::Null,
            },
        },
        T0,
    );
    assert_eq!(reply, Reply::Gate(crate::vocab::gate::Gate::Wait));
    s.apply(Input::Command(Command::Abort), T0);
    assert!(!s.reclaimable(), "a steering prompt is still queued");
    s.apply(Input::Command(Command::Queue(QueueOp::Clear)), T0);
    assert!(s.reclaimable(), "aborted, nothing queued");
    s.apply(Input::Command(Command::EnterPlan), T0);
    assert!(s.reclaimable(), "plan mode at rest");
}

#[test]
fn turn_ends_are_counted_with_their_reason_and_the_answer_is_the_last_assistant_text() {
    let mut s = session();
    assert_eq!(s.turn_ends(), (0, None));
    assert_eq!(s.last_answer(), "");
    finished_turn(&mut s, 1, "one", "first answer");
    assert_eq!(s.turn_ends(), (1, Some(TurnEnd::Completed)));
    assert_eq!(s.last_answer(), "first answer");
    prompt(&mut s, "two");
    assert_eq!(s.last_answer(), "", "nothing said since the last prompt");
    s.apply(Input::Command(Command::Abort), T0);
    assert_eq!(s.turn_ends(), (2, Some(TurnEnd::Aborted)));
}
