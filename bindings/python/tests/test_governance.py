"""Agent governance from Python: project context files, the model's task tool (two sub-agents in one turn, an abort
stopping all three), and a budget across the session tree."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Set

import tandem
from conftest import pull_until, turn_ended


def _task(prompt: str, **extra: str) -> Dict[str, Any]:
    return {"tool_call": {"name": "task", "args": {"prompt": prompt, **extra}}}


def test_context_files_are_listed_and_reported(client: tandem.Client, workdir: Path) -> None:
    (workdir / ".git").mkdir()
    (workdir / "AGENTS.md").write_text("Use tabs.\n")
    session = client.start_session(workdir=str(workdir))
    loaded = pull_until(client, lambda e: isinstance(e, tandem.ContextFilesLoaded), [])
    assert isinstance(loaded, tandem.ContextFilesLoaded) and loaded.kind == "context_files_loaded"
    files = session.context_files()
    assert files == loaded.files
    assert [(Path(f["path"]).name, f["reason"], f["bytes"], f["truncated"]) for f in files] == [
        ("AGENTS.md", "workdir", 10, False)
    ]
    assert tandem.EventKind.CONTEXT_FILES_LOADED.value == 32
    off = client.start_session(workdir=str(workdir), context_files=False)
    assert off.context_files() == []


def test_two_tasks_answer_and_an_abort_stops_all_three(client: tandem.Client, workdir: Path) -> None:
    both = [[_task("alpha", model="scripted:echo"), _task("beta", model="scripted:echo")], [{"text": "done"}]]
    session = client.start_session(
        model="scripted:x", workdir=str(workdir), approval="none", tools=["task"], script=both
    )
    session.send("delegate")
    log: List[tandem.Event] = []
    ended = pull_until(client, turn_ended(session), log)
    assert isinstance(ended, tandem.TurnEnded) and ended.reason == "completed"
    results = sorted(e.result for e in log if isinstance(e, tandem.ToolEnded) and e.session_id == session.id)
    assert results == ["alpha", "beta"]
    assert any(e.parent_id == session.id for e in log)

    # The sub-agents inherit the script: a refused call each, then they wait; the parent's abort stops them.
    wait = [[_task("one"), _task("two")], [{"delay_ms": 3_600_000}]]
    parent = client.start_session(model="scripted:x", workdir=str(workdir), approval="none", script=wait)
    parent.send("delegate")
    children: Set[str] = set()
    for _ in range(4):
        ev = pull_until(client, lambda e: isinstance(e, tandem.ToolEnded) and e.parent_id == parent.id, [])
        assert ev.session_id is not None
        children.add(ev.session_id)
    assert len(children) == 2
    parent.abort()
    stopped: Set[str] = set()
    aborted = False
    while len(stopped) < 2 or not aborted:
        ev = pull_until(client, lambda e: isinstance(e, (tandem.SessionStopped, tandem.TurnEnded)), [])
        if isinstance(ev, tandem.TurnEnded) and ev.session_id == parent.id:
            aborted = ev.reason == "aborted"
        elif isinstance(ev, tandem.SessionStopped) and ev.session_id is not None:
            stopped.add(ev.session_id)
    assert stopped == children


def test_a_budget_stops_the_tree_and_can_be_raised(client: tandem.Client, workdir: Path) -> None:
    script = [[_task("a b c", model="scripted:echo")], [{"text": "after the raise"}]]
    session = client.start_session(
        model="scripted:x", workdir=str(workdir), approval="none", max_tokens_total=6, script=script
    )
    session.send("delegate")
    log: List[tandem.Event] = []
    ended = pull_until(client, turn_ended(session), log)
    assert isinstance(ended, tandem.TurnEnded) and ended.reason == "budget_exhausted"
    stop = [e for e in log if isinstance(e, tandem.BudgetExhausted)]
    assert len(stop) == 1 and stop[0].limit == "max_tokens_total" and stop[0].tokens == 6
    assert stop[0].budget_session_id == session.id
    assert session.snapshot()["budget"]["tree_tokens"] == 6
    try:
        session.set_budget({"max_tokens_total": 0})
        raise AssertionError("a zero budget was accepted")
    except tandem.InvalidArgumentError:
        pass
    session.set_budget({"max_tokens_total": None})
    session.send("go on")
    ended = pull_until(client, turn_ended(session), [])
    assert isinstance(ended, tandem.TurnEnded) and ended.reason == "completed"
