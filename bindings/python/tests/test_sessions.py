"""Real sessions on the scripted model, pulled with Client.events/next_event: streaming, approvals, steering,
restarts, queries."""

from __future__ import annotations

import selectors
import time
from pathlib import Path
from typing import List

import pytest

import tandem
from conftest import pull_until, text_of, turn_ended


def test_events_filtered_by_session_leave_the_others_queued(client: tandem.Client) -> None:
    a, b = client.start_session(), client.start_session()
    a.send("alpha words")
    b.send("beta words")
    mine: List[tandem.Event] = []
    for event in client.events(timeout=10, session=a):
        mine.append(event)
        if isinstance(event, tandem.TurnEnded):
            break
    assert {e.session_id for e in mine} == {a.id}
    assert [e.seq for e in mine] == list(range(1, len(mine) + 1))
    assert text_of(mine, a) == "alpha words"
    assert a.next_event(timeout=0.02) is None  # nothing more of a's; b's are not a's
    # b's events were not lost: an unfiltered pull gets them all, in order, from session_started on.
    rest: List[tandem.Event] = []
    pull_until(client, turn_ended(b), rest)
    assert {e.session_id for e in rest} == {b.id}
    assert isinstance(rest[0], tandem.SessionStarted)
    assert [e.seq for e in rest] == list(range(1, len(rest) + 1))
    assert text_of(rest, b) == "beta words"
    with pytest.raises(tandem.NotFoundError):
        client.next_event(timeout=10, session="no-such-session")


def test_echo_streams_the_prompt(client: tandem.Client) -> None:
    session = client.start_session(model="scripted:echo")
    assert session.send("hello from Python") == tandem.PromptResult.SENT
    log: List[tandem.Event] = []
    ended = pull_until(client, turn_ended(session), log)
    assert isinstance(ended, tandem.TurnEnded) and ended.reason == "completed"
    assert text_of(log, session) == "hello from Python"
    assert isinstance(log[0], tandem.SessionStarted) and log[0].model == "scripted:echo"
    seqs = [e.seq for e in log]
    assert seqs == list(range(1, len(log) + 1))
    assert any(isinstance(e, tandem.StatusChanged) and e.status == "thinking" for e in log)
    # The transcript and the queries agree with what streamed.
    messages = session.messages()
    assert [m["kind"] for m in messages if m["kind"] in ("user", "assistant")] == ["user", "assistant"]
    assert [m["text"] for m in messages if m["kind"] == "assistant"] == ["hello from Python"]
    assert session.status() == tandem.SessionStatus.IDLE
    assert ended.usage is not None and session.usage().output == ended.usage.output > 0
    assert session.metadata()["turn_count"] == 1
    assert session.snapshot()["status"] == "idle"
    assert [s["id"] for s in client.sessions()] == [session.id]


def test_ready_fd_wakes_a_selector_and_batches_drain_it(client: tandem.Client) -> None:
    fd = client.ready_fd()
    assert client.ready_fd() == fd
    with pytest.raises(tandem.InvalidArgumentError):
        client.next_events(0)
    sessions = [client.start_session(model="scripted:echo") for _ in range(3)]
    for s in sessions:
        s.send("one two three")
    log: List[tandem.Event] = []
    deadline = time.monotonic() + 10
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while sum(isinstance(e, tandem.TurnEnded) for e in log) < 3 and time.monotonic() < deadline:
            if sel.select(timeout=1):
                log.extend(client.next_events(4))
        assert sum(isinstance(e, tandem.TurnEnded) for e in log) == 3
        for s in sessions:
            assert text_of(log, s) == "one two three"
        time.sleep(0.1)
        while client.next_events(64):
            pass
        assert sel.select(timeout=0.05) == []  # drained: the descriptor was reset
        client.shutdown()
        assert sel.select(timeout=5) != []  # shutdown wakes the poller
    stopped = [e for e in client.next_events(64) if isinstance(e, tandem.SessionStopped)]
    assert len(stopped) == 3
    with pytest.raises(tandem.ShuttingDownError):
        client.next_events(64)


def test_events_iterator_stops_on_timeout(client: tandem.Client) -> None:
    session = client.start_session()
    session.send("x")
    kinds = [e.kind for e in client.events(timeout=0.5)]
    assert kinds.count("turn_ended") == 1 and kinds[-1] in ("turn_ended", "status_changed", "messages_changed")
    assert client.next_event(timeout=0) is None


def write_script(path: str, content: str) -> object:
    return [[{"text": "writing"}, {"tool_call": {"name": "write_file", "args": {"path": path, "content": content}}}],
            [{"text": "done"}]]


def test_approval_approved_runs_the_tool(client: tandem.Client, workdir: Path) -> None:
    session = client.start_session(workdir=str(workdir), script=write_script("f.txt", "hi"))
    session.send("write it")
    log: List[tandem.Event] = []
    pending = pull_until(client, lambda e: isinstance(e, tandem.ApprovalPending), log)
    assert isinstance(pending, tandem.ApprovalPending)
    assert pending.approval.name == "write_file" and pending.approval.args["path"] == "f.txt"
    assert pending.approval.preview.summary != ""
    assert not (workdir / "f.txt").exists()  # nothing ran before the answer
    assert session.snapshot()["pending_approval"]["approval_id"] == pending.approval.approval_id
    session.approve(pending.approval.approval_id)
    pull_until(client, turn_ended(session), log)
    assert (workdir / "f.txt").read_text() == "hi"
    resolved = [e for e in log if isinstance(e, tandem.ApprovalResolved)]
    assert [(r.approval_id, r.decision) for r in resolved] == [(pending.approval.approval_id, "approve")]
    tool_end = next(e for e in log if isinstance(e, tandem.ToolEnded))
    assert not tool_end.is_error
    changed = next(e for e in log if isinstance(e, tandem.FileChanged))
    assert (changed.path.endswith("f.txt"), changed.action, changed.after) == (True, "created", "hi")
    assert [f["action"] for f in session.touched_files()] == ["created"]
    # A stale approval ID is refused rather than approving something else.
    with pytest.raises(tandem.NoPendingApprovalError):
        session.approve(pending.approval.approval_id)


def test_approval_for_the_session_is_listed_and_revoked(client: tandem.Client, workdir: Path) -> None:
    write_a = {"tool_call": {"name": "write_file", "args": {"path": "a.txt", "content": "1"}}}
    script = [[write_a], [{"tool_call": {"name": "write_file", "args": {"path": "b.txt", "content": "2"}}}],
              [{"text": "done"}]]
    session = client.start_session(workdir=str(workdir), script=script)
    assert session.trusted_tools() == {}
    session.send("write twice")
    log: List[tandem.Event] = []
    pending = pull_until(client, lambda e: isinstance(e, tandem.ApprovalPending), log)
    assert isinstance(pending, tandem.ApprovalPending)
    session.respond_to_approval(tandem.ApprovalDecision.APPROVE_SESSION, pending.approval.approval_id)
    pull_until(client, turn_ended(session), log)
    assert [e.scope for e in log if isinstance(e, tandem.ToolAutoApproved)] == ["session"]
    assert (workdir / "b.txt").read_text() == "2"
    assert session.trusted_tools() == {"write_file": "session"}
    session.revoke_trust("write_file")
    assert session.trusted_tools() == {}
    with pytest.raises(tandem.NotFoundError):
        session.revoke_trust("write_file")
    session.revoke_trust()


def test_approval_rejected_does_not_run(client: tandem.Client, workdir: Path) -> None:
    session = client.start_session(workdir=str(workdir), script=write_script("g.txt", "no"))
    session.send("write it")
    log: List[tandem.Event] = []
    pending = pull_until(client, lambda e: isinstance(e, tandem.ApprovalPending), log)
    assert isinstance(pending, tandem.ApprovalPending)
    session.reject(pending.approval.approval_id)
    pull_until(client, turn_ended(session), log)
    assert not (workdir / "g.txt").exists()
    tool_end = next(e for e in log if isinstance(e, tandem.ToolEnded))
    assert tool_end.is_error and "reject" in tool_end.result.lower()


def test_steering_reaches_the_running_turn(client: tandem.Client, workdir: Path) -> None:
    script = [
        [{"text": "working"}, {"delay_ms": 300}, {"tool_call": {"name": "list_directory", "args": {"path": "."}}}],
        [{"text": "steered"}],
    ]
    session = client.start_session(workdir=str(workdir), script=script)
    session.send("go")
    log: List[tandem.Event] = []
    pull_until(client, lambda e: isinstance(e, tandem.TextDelta), log)
    assert session.send("turn left") == tandem.PromptResult.QUEUED_STEERING
    queued = pull_until(client, lambda e: isinstance(e, tandem.PromptQueued), log)
    assert isinstance(queued, tandem.PromptQueued) and queued.queue == "steering"
    assert queued.content == [{"type": "text", "text": "turn left"}]
    ended = pull_until(client, turn_ended(session), log)
    assert isinstance(ended, tandem.TurnEnded) and ended.reason == "completed"
    # The steering entered the conversation between the tool call and the next model call.
    texts = [(m["kind"], m.get("text")) for m in session.messages() if m["kind"] in ("user", "assistant")]
    assert texts == [("user", "go"), ("assistant", "working"), ("user", "turn left"), ("assistant", "steered")]


def test_queues(client: tandem.Client) -> None:
    session = client.start_session(script=[[{"text": "a"}, {"stall_ms": 60000}], [{"text": "b"}]])
    session.send("first")
    pull_until(client, lambda e: isinstance(e, tandem.TextDelta))
    assert session.queue_steering("s1") == tandem.PromptResult.QUEUED_STEERING
    assert session.queue_follow_up("f1") == tandem.PromptResult.QUEUED_FOLLOW_UP
    queued = session.queued_messages()
    assert [[p["text"] for p in entry] for entry in queued["steering"]] == [["s1"]]
    assert [[p["text"] for p in entry] for entry in queued["follow_up"]] == [["f1"]]
    assert [[p["text"] for p in entry] for entry in session.dequeue_steering()] == [["s1"]]
    image = {"type": "image", "media_type": "image/png", "data": "iVBORw0KGgo="}
    assert session.queue_follow_up_parts([{"type": "text", "text": "f2"}, image]) == tandem.PromptResult.QUEUED_FOLLOW_UP
    assert session.queued_messages()["follow_up"][1] == [{"type": "text", "text": "f2"}, image]
    recalled = session.recall_queues()
    assert recalled["steering"] == [] and len(recalled["follow_up"]) == 2
    assert tandem.queue_entries_to_text(recalled["follow_up"]) == "f1\n\nf2"
    assert tandem.queue_entries_to_text(["a", [{"type": "text", "text": "b"}]]) == "a\n\nb"
    first_user = next(m for m in session.messages() if m["kind"] == "user")
    assert session.message_parts(first_user["id"]) == [{"type": "text", "text": "first"}]
    session.clear_queues()
    assert session.status() == tandem.SessionStatus.THINKING
    session.abort()
    ended = pull_until(client, turn_ended(session))
    assert isinstance(ended, tandem.TurnEnded) and ended.reason == "aborted"


def test_crash_restarts_the_session_with_its_conversation(client: tandem.Client) -> None:
    session = client.start_session(script=[[{"text": "before"}], [{"panic": "boom"}], [{"text": "after"}]])
    token = session.token()
    session.send("one")
    pull_until(client, turn_ended(session))
    session.send("two")  # this model call panics
    log: List[tandem.Event] = []
    restarted = pull_until(client, lambda e: isinstance(e, tandem.SessionRestarted), log)
    assert isinstance(restarted, tandem.SessionRestarted) and restarted.attempt == 1
    interrupted = [e for e in log if isinstance(e, tandem.TurnEnded)]
    assert [e.reason for e in interrupted] == ["interrupted"]
    # The restarted session answers, keeps its token, its transcript and its sequence numbers.
    for _ in range(100):
        try:
            session.send("three")
            break
        except tandem.RestartPendingError:
            import time

            time.sleep(0.02)
    pull_until(client, turn_ended(session), log)
    assert text_of(log, session) == "after"
    assert session.token() == token
    users = [m["text"] for m in session.messages() if m["kind"] == "user"]
    assert users == ["one", "two", "three"]
    seqs = [e.seq for e in log]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


def test_events_since_replays_history(client: tandem.Client) -> None:
    session = client.start_session()
    session.send("replay me")
    live: List[tandem.Event] = []
    pull_until(client, turn_ended(session), live)
    replay = session.events_since(0)
    assert replay["events"] == live and replay["latest_seq"] == live[-1].seq and not replay["truncated"]
    assert session.events_since(live[-2].seq)["events"] == live[-1:]


def test_session_context_manager_stops_it(client: tandem.Client) -> None:
    with client.start_session() as session:
        assert session.status() == tandem.SessionStatus.IDLE
    stopped = pull_until(client, lambda e: isinstance(e, tandem.SessionStopped))
    assert isinstance(stopped, tandem.SessionStopped) and stopped.reason == "stopped"
    with pytest.raises(tandem.NotFoundError):
        session.status()


def test_plan_mode_models_and_misc_queries(client: tandem.Client, workdir: Path) -> None:
    session = client.start_session(workdir=str(workdir), models=["scripted:echo", "scripted:demo"])
    session.enter_plan()
    assert session.status() == tandem.SessionStatus.PLAN
    session.enter_exec()
    assert session.status() == tandem.SessionStatus.IDLE
    assert session.cycle_model()["model"] == "scripted:demo"
    assert [m["current"] for m in session.available_models()] == [False, True]
    session.set_model("scripted:echo")
    session.set_thinking_level("low")
    assert session.cycle_thinking_level() == "medium"
    with pytest.raises(tandem.InvalidArgumentError):
        session.set_thinking_level("extreme")
    assert isinstance(session.commands(), list) and session.skills() == []
    with pytest.raises(tandem.NotFoundError):
        session.activate_skill("nope")
    session.set_boundary("a.txt", 1, 3)
    assert session.boundary_for("a.txt") == {"start_line": 1, "end_line": 3}
    session.clear_boundary("a.txt")
    assert session.boundary_for("a.txt") is None
    session.clear_all_boundaries()
    session.add_system_message("note", tandem.MessageLevel.ERROR)
    assert session.messages()[-1]["text"] == "note"
    page = session.messages_page(0, 1)
    assert len(page["messages"]) == 1 and page["has_more"]


def test_branches(client: tandem.Client) -> None:
    session = client.start_session()
    session.send("one")
    pull_until(client, turn_ended(session))
    first_user = next(m["id"] for m in session.messages() if m["kind"] == "user")
    branch = session.branch_at(first_user)
    assert branch["number"] == 1
    assert [b["number"] for b in session.branches()] == [1]
    assert session.messages()[-1]["id"] == first_user
    session.switch_branch(1)
    assert any(m["kind"] == "assistant" for m in session.messages())
    with pytest.raises(tandem.NotFoundError):
        session.switch_branch(9)


def test_subagents(client: tandem.Client) -> None:
    parent = client.start_session()
    parent.set_thinking_level("high")
    handle = client.start_subagent("count to three", parent=parent)
    assert handle["parent_session_id"] == parent.id and handle["task"] == "count to three"
    assert handle["detached"] is False
    assert [h["session_id"] for h in client.subagents(parent)] == [handle["session_id"]]
    sub = client.session(handle["session_id"])
    assert sub.metadata()["thinking_level"] == "high", "inherited from the parent"
    finished = pull_until(client, lambda e: isinstance(e, tandem.SubagentFinished))
    assert isinstance(finished, tandem.SubagentFinished)
    assert (finished.session_id, finished.subagent_session_id, finished.answer, finished.reason) == (
        parent.id, sub.id, "count to three", "completed")
    assert any(m["kind"] == "system" and "count to three" in m["text"] for m in parent.messages())

    detached = client.start_subagent("stay", {"detached": True}, parent=parent)
    parent.stop()
    assert [h["session_id"] for h in client.subagents()] == [detached["session_id"]], "the attached one stopped"
    with pytest.raises(tandem.InvalidArgumentError):
        client.start_subagent("x", {"detached": "yes"})


def test_conversations_with_a_store(tmp_path: Path) -> None:
    with tandem.Client({"store_dir": str(tmp_path / "store")}) as client:
        session = client.start_session()
        session.send("keep me")
        pull_until(client, turn_ended(session))
        old = session.metadata()["conversation_id"]
        session.new_conversation()
        assert session.metadata()["conversation_id"] != old
        assert old in [c["id"] for c in client.conversations()]
        session.load_conversation(old)
        assert any(m.get("text") == "keep me" for m in session.messages())
        summary = None
        with pytest.raises(tandem.NotSupportedError):
            summary = session.summarize()  # no workdir
        assert summary is None


def test_remaining_calls(client: tandem.Client, workdir: Path, tmp_path: Path) -> None:
    """The calls the other tests do not reach: collapses, continue, compact, skills, conversation deletion."""
    session = client.start_session(
        workdir=str(workdir),
        script=[[{"thinking": "hmm"}, {"tool_call": {"name": "list_directory", "args": {"path": "."}}}],
                [{"text": "ok"}]],
    )
    session.send("look")
    pull_until(client, turn_ended(session))
    tool_msg = next(m for m in session.messages() if m["kind"] == "tool_call")
    session.toggle_tool_collapse(tool_msg["id"])
    assert next(m for m in session.messages() if m["id"] == tool_msg["id"])["collapsed"] != tool_msg["collapsed"]
    session.toggle_all_tool_collapses()
    with pytest.raises(tandem.InvalidArgumentError):
        session.toggle_tool_collapse(next(m["id"] for m in session.messages() if m["kind"] == "user"))
    with pytest.raises(tandem.InvalidArgumentError):
        session.continue_()  # the last turn was not cut off
    assert isinstance(session.compact()["compacted"], bool)
    with pytest.raises(tandem.NotFoundError):
        session.deactivate_skill("never-active")
    with tandem.Client({"store_dir": str(tmp_path / "store")}) as stored:
        s = stored.start_session()
        old = s.metadata()["conversation_id"]
        s.new_conversation()
        stored.delete_conversation(old)
        assert old not in [c["id"] for c in stored.conversations()]
        with pytest.raises(tandem.NotFoundError):
            stored.delete_conversation(old)


def test_slash_commands_run_and_empty_prompts_are_refused(client: tandem.Client) -> None:
    session = client.start_session()
    assert session.send("/plan") == tandem.PromptResult.COMMAND
    ran = pull_until(client, lambda e: isinstance(e, tandem.CommandRan))
    assert isinstance(ran, tandem.CommandRan) and ran.command == "plan" and ran.args == ""
    assert session.status() == tandem.SessionStatus.PLAN
    assert session.send("/exec") == tandem.PromptResult.COMMAND
    assert session.status() == tandem.SessionStatus.IDLE
    with pytest.raises(tandem.TandemError) as refused:
        session.send("   ")
    assert refused.value.status == tandem.Status.ERR_INVALID_ARGUMENT
    assert "empty" in str(refused.value)


def test_continue_resumes_a_turn_the_turn_limit_ended(client: tandem.Client, workdir: Path) -> None:
    call = [{"tool_call": {"name": "list_directory", "args": {"path": "."}}}]
    session = client.start_session(workdir=str(workdir), max_turns=1, script=[call, [{"text": "resumed"}]])
    session.send("look twice")
    log: List[tandem.Event] = []
    pull_until(client, turn_ended(session), log)
    assert [(e.current, e.limit) for e in log if isinstance(e, tandem.TurnLimitReached)] == [(1, 1)]
    session.continue_()
    log = []
    ended = pull_until(client, turn_ended(session), log)
    assert isinstance(ended, tandem.TurnEnded) and ended.reason == "completed"
    assert text_of(log, session) == "resumed"
    with pytest.raises(tandem.InvalidArgumentError):
        session.continue_()  # resumed once; nothing is cut off now


def test_mcp_servers(client: tandem.Client) -> None:
    """A session with an MCP server (tests/mcp/fake_server.py): listed with its tools, reported in a typed event,
    disabled at run time; an unknown server name is NotFoundError."""
    script = Path(__file__).resolve().parents[3] / "tests" / "mcp" / "fake_server.py"
    session = client.start_session(mcp_servers={"fake": {"command": "python3", "args": [str(script), "ok"]}})
    session.send("go")
    log: List[tandem.Event] = []
    pull_until(client, turn_ended(session), log)
    status = [e for e in log if isinstance(e, tandem.McpServerStatus)]
    assert status and status[0].server == "fake" and status[0].state == "ready"
    assert "mcp__fake__echo" in status[0].tools
    servers = session.mcp_servers()
    assert servers[0]["state"] == "ready" and servers[0]["transport"] == "stdio"
    assert any(t["name"] == "mcp__fake__write" and t["gated"] for t in servers[0]["tools"])
    session.set_mcp_enabled("fake", False)
    disabled = pull_until(client, lambda e: isinstance(e, tandem.McpServerStatus) and e.state == "disabled", log)
    assert isinstance(disabled, tandem.McpServerStatus) and disabled.tools == []
    assert session.mcp_servers()[0]["enabled"] is False
    with pytest.raises(tandem.NotFoundError):
        session.set_mcp_enabled("nope", True)
