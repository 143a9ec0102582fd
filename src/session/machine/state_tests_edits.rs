//! Unit tests of the state machine's transcript edits: branches, collapses, boundaries and file changes.

use super::*;

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
        Effect::StartTurn { context, .. } => Some(context.to_vec()),
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

#[test]
fn an_empty_prompt_is_refused_idle_or_busy_and_changes_nothing() {
    let mut s = session();
    let before = s.transcript().len();
    for cmd in [
        Command::Prompt(text("")),
        Command::Prompt(text(" \n\t")),
        Command::Prompt(vec![]),
        Command::FollowUp(text("")),
    ] {
        let (reply, fx) = s.apply(Input::Command(cmd), T0);
        assert!(
            matches!(reply, Reply::Failed(crate::error::Error::InvalidArgument(ref m)) if m.contains("empty")),
            "{reply:?}"
        );
        assert!(fx.is_empty(), "{fx:?}");
        assert!(!s.turn_active() && s.transcript().len() == before);
    }
    prompt(&mut s, "real");
    let (reply, fx) = prompt(&mut s, "   ");
    assert!(matches!(reply, Reply::Failed(_)) && fx.is_empty());
    assert_eq!(
        s.steering.len(),
        0,
        "a blank prompt is not queued as steering"
    );
    // An image alone is a prompt.
    let img = ContentPart::Image {
        media_type: "image/png".into(),
        data: "aGk=".into(),
    };
    let (reply, _) = s.apply(Input::Command(Command::FollowUp(vec![img])), T0);
    assert!(matches!(reply, Reply::Prompt(_)), "{reply:?}");
}

#[test]
fn sandbox_gaps_come_from_the_report_and_show_in_the_snapshot() {
    let mut s = session();
    assert!(s.sandbox_gaps().is_empty());
    assert!(s.snapshot()["sandbox"].is_null());
    s.set_sandbox(Some(serde_json::json!({
        "mode": "workspace-write",
        "not_enforced": ["network: neither a network namespace nor Landlock TCP rules are available"]
    })));
    assert_eq!(s.sandbox_gaps().len(), 1);
    assert_eq!(s.snapshot()["sandbox"]["mode"], "workspace-write");
}
