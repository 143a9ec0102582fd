"""Push delivery: callbacks on tandem's dispatcher thread, exceptions re-raised to the host, the asyncio iterator,
and host tools."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import List

import pytest

import tandem
from conftest import WAIT, pull_until, turn_ended


def wait_until(flag: threading.Event) -> None:
    assert flag.wait(WAIT), "timed out"


def test_callbacks_run_on_the_dispatcher_in_order() -> None:
    with tandem.Client({"store_dir": None, "pull_events": False}) as client:
        session = client.start_session()
        seen: List[tandem.Event] = []
        threads = set()
        done = threading.Event()

        def on_event(event: tandem.Event) -> None:
            threads.add(threading.get_ident())
            assert tandem.in_callback()
            seen.append(event)
            if isinstance(event, tandem.TurnEnded):
                done.set()

        with session.subscribe(on_event) as sub:
            assert sub.active
            session.send("pushed")
            wait_until(done)
        assert not sub.active
        assert threads and threading.get_ident() not in threads
        assert "".join(e.delta for e in seen if isinstance(e, tandem.TextDelta)) == "pushed"
        assert [e.seq for e in seen] == sorted(e.seq for e in seen)
        # Closed: no more deliveries.
        count = len(seen)
        session.send("again")
        time.sleep(0.3)
        assert len(seen) == count
        assert client.next_event(timeout=0) is None  # pull_events is off


def test_callback_exception_is_reraised_to_the_caller(client: tandem.Client) -> None:
    session = client.start_session()
    boom = ValueError("raised in a callback")
    raised = threading.Event()

    def on_event(event: tandem.Event) -> None:
        if isinstance(event, tandem.TurnEnded):
            raised.set()
            raise boom

    sub = client.subscribe(on_event)
    session.send("x")
    wait_until(raised)
    time.sleep(0.05)  # let the trampoline record it
    with pytest.raises(ValueError) as info:
        session.status()
    assert info.value is boom
    assert session.status() == tandem.SessionStatus.IDLE  # raised once, not forever
    sub.close()


def test_callback_exception_reraised_by_close() -> None:
    client = tandem.Client({"store_dir": None})
    session = client.start_session()
    raised = threading.Event()

    def on_event(event: tandem.Event) -> None:
        if isinstance(event, tandem.TextDelta):
            raised.set()
            raise KeyError("lost?")

    client.subscribe(on_event, session)
    session.send("y")
    wait_until(raised)
    with pytest.raises(KeyError):
        client.close()
    assert client.closed


def test_callbacks_may_call_back_but_not_close(client: tandem.Client, workdir: Path) -> None:
    """A callback answers the approval itself; closing the client from there is refused and reported."""
    script = [[{"tool_call": {"name": "write_file", "args": {"path": "cb.txt", "content": "from a callback"}}}],
              [{"text": "ok"}]]
    session = client.start_session(workdir=str(workdir), script=script)
    done = threading.Event()

    def on_event(event: tandem.Event) -> None:
        if isinstance(event, tandem.ApprovalPending):
            session.approve(event.approval.approval_id)
            client.close()  # ReentrantCallError, re-raised later
        elif isinstance(event, tandem.TurnEnded):
            done.set()

    sub = session.subscribe(on_event)
    session.send("go")
    wait_until(done)
    assert (workdir / "cb.txt").read_text() == "from a callback"
    with pytest.raises(tandem.ReentrantCallError):
        sub.close()
    assert not client.closed


def test_async_iterator_streams_without_blocking_the_loop(client: tandem.Client) -> None:
    session = client.start_session(script=[[{"text": "slow "}, {"delay_ms": 400}, {"text": "answer"}]])

    async def main() -> List[tandem.Event]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        task = asyncio.create_task(ticker())
        events: List[tandem.Event] = []
        async with session.aevents() as stream:
            session.send("go")
            async for event in stream:
                events.append(event)
                if isinstance(event, tandem.TurnEnded):
                    break
        task.cancel()
        assert ticks >= 10, f"the loop was blocked: only {ticks} ticks in 400 ms"
        return events

    events = asyncio.run(asyncio.wait_for(main(), WAIT))
    assert "".join(e.delta for e in events if isinstance(e, tandem.TextDelta)) == "slow answer"
    assert isinstance(events[-1], tandem.TurnEnded)


def test_async_iterator_unsubscribes_when_cancelled(client: tandem.Client) -> None:
    from tandem import client as client_module

    session = client.start_session()
    before = len(client_module._registry)

    async def main() -> None:
        async def consume() -> None:
            async with session.aevents() as stream:
                async for _ in stream:
                    pass

        task = asyncio.create_task(consume())
        await asyncio.sleep(0.05)
        assert len(client_module._registry) == before + 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert len(client_module._registry) == before
        # Without `async with`, dropping the stream unsubscribes too.
        stream = client.aevents()
        assert len(client_module._registry) == before + 1
        del stream

    asyncio.run(main())
    assert len(client_module._registry) == before


def test_host_tool(client: tandem.Client) -> None:
    calls: List[tandem.ToolCall] = []

    def add(call: tandem.ToolCall) -> str:
        calls.append(call)
        return str(call.args["a"] + call.args["b"])

    def broken(call: tandem.ToolCall) -> str:
        raise RuntimeError("tool failed")

    params = {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}}
    client.register_tool("add", add, "Adds a and b.", parameters=params)
    client.register_tool("broken", broken, "Always fails.")
    with pytest.raises(tandem.AlreadyExistsError):
        client.register_tool("add", add, "Again.")
    script = [[{"tool_call": {"name": "add", "args": {"a": 2, "b": 3}}},
               {"tool_call": {"name": "broken", "args": {}}}], [{"text": "done"}]]
    session = client.start_session(script=script)
    session.send("use the tools")
    log: List[tandem.Event] = []
    pull_until(client, turn_ended(session), log)
    ends = {e.name: e for e in log if isinstance(e, tandem.ToolEnded)}
    assert (ends["add"].result, ends["add"].is_error) == ("5", False)
    assert ends["broken"].is_error and "tool failed" in ends["broken"].result
    assert len(calls) == 1 and calls[0].session_id == session.id and calls[0].completed
    client.unregister_tool("add")
    with pytest.raises(tandem.NotFoundError):
        client.unregister_tool("add")


def test_host_tool_completed_later_from_another_thread(client: tandem.Client) -> None:
    def later(call: tandem.ToolCall) -> None:
        threading.Timer(0.05, call.complete, args=("finished later",)).start()

    client.register_tool("later", later, "Answers from another thread.")
    session = client.start_session(script=[[{"tool_call": {"name": "later", "args": {}}}], [{"text": "ok"}]])
    session.send("go")
    log: List[tandem.Event] = []
    pull_until(client, turn_ended(session), log)
    ended = next(e for e in log if isinstance(e, tandem.ToolEnded))
    assert ended.result == "finished later" and not ended.is_error
