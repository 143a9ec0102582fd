//! The kept model context (and its token estimate) equals a full rebuild from the transcript after every kind of
//! transcript change: turns with thinking, text and tool results, steering, aborts, collapse toggles, branch and
//! switch of branch, compaction, a loaded conversation, a new conversation, and a switch to a model that does not
//! take images.

use super::*;
use crate::session::machine::context::model_context;
use crate::session::machine::conversations::Loaded;
use crate::store::journal::Replayed;
use crate::store::record::Header;
use crate::vocab::model::{ModelMessage, ProviderEvent};
use crate::vocab::settings::{SideKind, SideResult};

/// A session with `n` finished turns (see [`turn`]).
fn with_turns(n: usize) -> SessionState {
    let mut s = session();
    for i in 0..n {
        turn(&mut s, &format!("prompt {i}"), i);
    }
    s
}

fn apply(s: &mut SessionState, input: Input) -> (Reply, Vec<Effect>) {
    s.apply(input, T0)
}

fn ev(s: &mut SessionState, event: ProviderEvent) {
    let turn_id = s.turn.map(|t| t.id).expect("a running turn");
    apply(s, Input::Provider { turn_id, event });
}

/// The kept context (extended incrementally) and a rebuild of the whole transcript agree, and so does the
/// context the last turn started with, when one started.
fn same(s: &mut SessionState, after: &str, started: Option<&[Effect]>) {
    let images = s.takes_images();
    let full = model_context(s.transcript.messages(), images);
    let kept = s.model_context();
    assert_eq!(*kept, full, "after {after}");
    // The weights it carries give the token estimate a pass over the whole context gives.
    for system in [None, Some("You are a coding agent.")] {
        assert_eq!(
            crate::provider::estimate_from_weight(kept.weight(), system),
            crate::provider::estimate_tokens(&full, system),
            "the estimate after {after}"
        );
    }
    if let Some(fx) = started {
        if let Some(ctx) = fx.iter().find_map(|e| match e {
            Effect::StartTurn { context, .. } => Some(context.clone()),
            _ => None,
        }) {
            assert_eq!(*ctx, full, "the context of the turn started by {after}");
        }
    }
}

/// A turn with thinking, text, a tool call with progress and result, more text, then its end.
fn turn(s: &mut SessionState, prompt: &str, n: usize) {
    let (_, fx) = apply(s, Input::Command(Command::Prompt(text(prompt))));
    same(s, "a prompt", Some(&fx));
    ev(s, ProviderEvent::AgentStart);
    ev(s, ProviderEvent::ThinkingDelta(format!("think {n}")));
    ev(s, ProviderEvent::ThinkingSignature(format!("sig{n}")));
    same(s, "thinking", None);
    ev(s, ProviderEvent::TextDelta(format!("Looking {n}.")));
    let id = format!("c{n}");
    ev(
        s,
        ProviderEvent::ToolStart {
            id: id.clone(),
            name: "read_file".into(),
            args: serde_json::json!({"path": format!("f{n}")}),
        },
    );
    same(s, "a tool call", None);
    ev(
        s,
        ProviderEvent::ToolUpdate {
            id: id.clone(),
            name: "read_file".into(),
            partial: "par".into(),
        },
    );
    ev(
        s,
        ProviderEvent::ToolEnd {
            id,
            name: "read_file".into(),
            result: format!("contents {n}"),
            is_error: false,
        },
    );
    same(s, "a tool result", None);
    ev(s, ProviderEvent::TextDelta(format!("Answer {n}")));
    ev(s, ProviderEvent::TextDelta(" more".into()));
    ev(s, ProviderEvent::AgentEnd { usage: None });
    same(s, "a turn's end", None);
}

#[test]
fn the_kept_context_equals_a_rebuild_after_turns_steering_aborts_and_collapses() {
    let mut s = with_turns(3);
    // Steering taken between tool batches, and a follow-up queued for the turn's end.
    apply(&mut s, Input::Command(Command::Prompt(text("start"))));
    ev(&mut s, ProviderEvent::AgentStart);
    ev(&mut s, ProviderEvent::TextDelta("partial".into()));
    apply(&mut s, Input::Command(Command::Prompt(text("steer"))));
    apply(&mut s, Input::Command(Command::FollowUp(text("later"))));
    same(&mut s, "queued prompts", None);
    let turn_id = s.turn.unwrap().id;
    apply(&mut s, Input::TakeSteering { turn_id });
    same(&mut s, "steering", None);
    ev(&mut s, ProviderEvent::TextDelta("after steering".into()));
    let (_, fx) = apply(
        &mut s,
        Input::Provider {
            turn_id,
            event: ProviderEvent::AgentEnd { usage: None },
        },
    );
    same(&mut s, "a follow-up starting the next turn", Some(&fx));
    // An abort with a tool still running (its result becomes "aborted").
    ev(&mut s, ProviderEvent::AgentStart);
    ev(
        &mut s,
        ProviderEvent::ToolStart {
            id: "open".into(),
            name: "shell".into(),
            args: serde_json::json!({"command": "sleep 9"}),
        },
    );
    apply(&mut s, Input::Command(Command::Abort));
    same(&mut s, "an abort", None);
    apply(
        &mut s,
        Input::Command(Command::Edit(EditOp::ToggleAllCollapses)),
    );
    same(&mut s, "collapsing everything", None);
    apply(
        &mut s,
        Input::Command(Command::AddSystemMessage("note".into(), Level::Info)),
    );
    turn(&mut s, "after the abort", 9);
}

#[test]
fn the_kept_context_equals_a_rebuild_after_branches_and_switches() {
    let mut s = with_turns(4);
    let second = s
        .transcript
        .messages()
        .iter()
        .filter(|m| matches!(m.body, Body::User { .. }))
        .nth(1)
        .unwrap()
        .id;
    assert!(matches!(
        apply(
            &mut s,
            Input::Command(Command::Edit(EditOp::BranchAt(second)))
        )
        .0,
        Reply::Json(_)
    ));
    same(&mut s, "a branch", None);
    turn(&mut s, "on the branch", 10);
    assert_eq!(
        apply(
            &mut s,
            Input::Command(Command::Edit(EditOp::SwitchBranch(1)))
        )
        .0,
        Reply::Ok
    );
    same(&mut s, "a switch of branch", None);
    turn(&mut s, "back on the first", 11);
}

#[test]
fn the_kept_context_equals_a_rebuild_after_compaction() {
    let mut s = with_turns(5);
    let (reply, fx) = apply(&mut s, Input::Command(Command::Compact { keep_recent: 4 }));
    assert_eq!(reply, Reply::Deferred);
    let kind = fx
        .iter()
        .find_map(|e| match e {
            Effect::SideCall { kind, .. } => Some(kind.clone()),
            _ => None,
        })
        .unwrap();
    assert!(matches!(kind, SideKind::Compact { .. }));
    let done = SideResult {
        text: "A summary.".into(),
        path: None,
    };
    apply(
        &mut s,
        Input::SideCallDone {
            kind,
            result: Ok(done),
        },
    );
    let kept = s.model_context();
    assert!(
        matches!(&kept[0], ModelMessage::User(p) if crate::session::machine::transcript::parts_text(p).ends_with("A summary.")),
        "the compacted context starts with the summary"
    );
    same(&mut s, "a compaction", None);
    turn(&mut s, "after the compaction", 20);
}

#[test]
fn the_kept_context_equals_a_rebuild_after_loading_and_new_conversations() {
    let mut s = with_turns(3);
    // Another conversation, as the store replays it: a few turns of another session.
    let mut other = session();
    for n in 0..2 {
        turn(&mut other, &format!("other {n}"), 100 + n);
    }
    let replayed = Replayed {
        header: Header {
            version: 1,
            conversation_id: "other".into(),
            session_id: "s2".into(),
            token: "t".into(),
            created_at: crate::time::rfc3339(T0.wall_ms),
            model: "scripted:echo".into(),
            provider: "native".into(),
            workdir: None,
            title: None,
        },
        messages: other.transcript.messages().to_vec(),
        branches: Vec::new(),
        meta: None,
        touched: Vec::new(),
        skipped: 0,
        repaired_bytes: 0,
    };
    apply(
        &mut s,
        Input::Command(Command::LoadConversation(Box::new(Loaded {
            conversation_id: "other".into(),
            replayed,
        }))),
    );
    same(&mut s, "loading a conversation", None);
    assert_eq!(*s.model_context(), *other.model_context());
    turn(&mut s, "in the loaded one", 30);
    apply(
        &mut s,
        Input::Command(Command::NewConversation {
            conversation_id: "new".into(),
        }),
    );
    same(&mut s, "a new conversation", None);
    assert!(s.model_context().is_empty());
    turn(&mut s, "in the new one", 31);
}

#[test]
fn the_kept_context_follows_a_switch_to_a_model_without_images() {
    let mut s = session();
    let image = vec![
        ContentPart::Text { text: "see".into() },
        ContentPart::Image {
            media_type: "image/png".into(),
            data: "aGVsbG8=".into(),
        },
    ];
    let (_, fx) = apply(&mut s, Input::Command(Command::Prompt(image)));
    same(&mut s, "an image prompt", Some(&fx));
    ev(&mut s, ProviderEvent::AgentStart);
    ev(&mut s, ProviderEvent::AgentEnd { usage: None });
    s.ident.model = "openai:gpt-3.5-turbo".into();
    same(&mut s, "a switch to a model without images", None);
    assert!(
        matches!(&s.model_context()[0], ModelMessage::User(p) if matches!(&p[1], ContentPart::Text { text } if text.contains("left out"))),
        "the image is left out for the new model"
    );
    turn(&mut s, "text only", 40);
}
