"""Hooks from Python: a PreToolUse hook denies one write and rewrites another, a PostToolUse hook adds context, a
UserPromptSubmit hook refuses a prompt, an exception takes the hook's on_failure default, and removal works."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

import pytest

import tandem
from conftest import pull_until, turn_ended


def write(path: str, content: str) -> List[Dict[str, Any]]:
    return [{"tool_call": {"name": "write_file", "args": {"path": path, "content": content}}}]


def test_hooks_deny_rewrite_and_add_context(client: tandem.Client, workdir: Path) -> None:
    session = client.start_session(
        model="scripted:x",
        workdir=str(workdir),
        approval="none",
        script=[
            write(".env", "KEY=1"),
            write("draft.txt", "draft"),
            [{"tool_call": {"name": "read_file", "args": {"path": "final.txt"}}}],
            [{"text": "done"}],
        ],
    )
    seen: List[Dict[str, Any]] = []

    def guard(event: Dict[str, Any]) -> Optional[Mapping[str, Any]]:
        seen.append(event)
        if event["tool_input"]["file_path"].endswith(".env"):
            return {"decision": "deny", "reason": "secrets stay put"}
        return {"tool_input": {"path": "final.txt", "content": "rewritten"}}

    def failing(event: Dict[str, Any]) -> Optional[Mapping[str, Any]]:
        raise RuntimeError("lint crashed")

    def prompt_policy(event: Dict[str, Any]) -> Optional[Mapping[str, Any]]:
        if "deploy" in event["prompt"]:
            return {"decision": "deny", "reason": "no deploys today"}
        return None

    session.add_hook("PreToolUse", guard, matcher="Write|Edit")
    client.add_hook("PostToolUse", lambda e: {"additional_context": "read by " + e["tool_name"]}, matcher="Read")
    client.add_hook("PostToolUse", failing, matcher="Write")
    prompt_hook = client.add_hook("UserPromptSubmit", prompt_policy)

    with pytest.raises(tandem.InvalidArgumentError, match="no deploys today"):
        session.send("deploy now")
    session.send("write")
    log: List[tandem.Event] = []
    pull_until(client, turn_ended(session), log)
    results = [(e.result, e.is_error) for e in log if isinstance(e, tandem.ToolEnded)]
    assert results[0] == ("Blocked by a PreToolUse hook: secrets stay put", True)
    assert not results[1][1], "the exception in the PostToolUse hook took the default: continue"
    assert results[2] == ("rewritten\n\nread by Read", False)
    assert not (workdir / ".env").exists() and not (workdir / "draft.txt").exists()
    assert (workdir / "final.txt").read_text() == "rewritten"
    assert seen[0]["hook_event_name"] == "PreToolUse" and seen[0]["tandem_tool_name"] == "write_file"
    assert "lint crashed" in str(session.messages())
    failed = [e for e in log if isinstance(e, tandem.HookFailed)]
    assert [(e.hook_event, e.command, e.on_failure) for e in failed] == [("PostToolUse", None, "continue")]
    assert "RuntimeError: lint crashed" in failed[0].reason

    client.remove_hook(prompt_hook)
    with pytest.raises(tandem.NotFoundError):
        client.remove_hook(prompt_hook)
    with pytest.raises(tandem.InvalidArgumentError):
        client.add_hook("NoSuchEvent", lambda e: None)
