"""The host provider from Python: a handler answers tandem's model calls; tandem runs the tools it asks for."""

from __future__ import annotations

import queue
import threading
from pathlib import Path
from typing import Any, Dict, List

import pytest

import tandem
from conftest import WAIT, pull_until, text_of, turn_ended


def test_host_provider_answers_from_a_thread_and_tandem_runs_the_tool(
    client: tandem.Client, workdir: Path
) -> None:
    (workdir / "a.txt").write_text("alpha\n")
    requests: List[Dict[str, Any]] = []

    def answer(req: tandem.ProviderRequest) -> None:
        requests.append(req.request)
        assert not req.cancelled
        has_result = any(m["role"] == "tool_result" for m in req.request["messages"])

        def later() -> None:
            if not has_result:
                req.text("Reading.")
                req.tool_call("c1", "read_file", {"path": "a.txt"})
                req.usage(input=10, output=2)
                req.done()
            else:
                req.text(" It says alpha.")
                req.done(stop_reason="max_tokens")
            assert req.cancelled
            with pytest.raises(tandem.NotFoundError):
                req.text("late")

        threading.Thread(target=later).start()

    client.set_provider(answer)
    session = client.start_session(provider="host", model="host:py", workdir=str(workdir), tools=["read_file"])
    session.send("what is in a.txt?")
    log: List[tandem.Event] = []
    end = pull_until(client, turn_ended(session), log)
    assert isinstance(end, tandem.TurnEnded) and end.reason == "completed"
    assert text_of(log, session) == "Reading. It says alpha."
    assert [r["model"] for r in requests] == ["host:py", "host:py"]
    assert requests[0]["tools"][0]["name"] == "read_file"
    result = requests[1]["messages"][-1]
    assert result["role"] == "tool_result" and "alpha" in result["content"]
    assert any("output token limit" in m.get("text", "") for m in session.messages() if m["kind"] == "system")


def test_abort_cancels_and_handler_errors_end_the_turn(client: tandem.Client) -> None:
    pending: "queue.Queue[tandem.ProviderRequest]" = queue.Queue()
    client.set_provider(pending.put)
    session = client.start_session(provider="host")
    session.send("x")
    req = pending.get(timeout=WAIT)
    req.text("partial")
    session.abort()
    end = pull_until(client, turn_ended(session))
    assert isinstance(end, tandem.TurnEnded) and end.reason == "aborted"
    assert req.cancelled
    with pytest.raises(tandem.NotFoundError):
        req.done()
    with pytest.raises(tandem.InvalidArgumentError):
        client.provider_emit(session.id, req.request_id, {"type": "bogus"})

    def broken(req: tandem.ProviderRequest) -> None:
        raise RuntimeError("no model here")

    client.set_provider(broken)
    session.send("y")
    log: List[tandem.Event] = []
    end = pull_until(client, turn_ended(session), log)
    assert isinstance(end, tandem.TurnEnded) and end.reason == "error"
    assert any(isinstance(e, tandem.ErrorEvent) and "no model here" in e.message for e in log)
    client.set_provider(None)
    assert client.provider_request_is_cancelled(req.request_id)
