"""Push delivery: callbacks on tandem's dispatcher thread, exceptions re-raised to the host, the asyncio iterator,
and host tools."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from pathlib import Path
from typing import Callable, List, Tuple

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


def test_callback_exception_goes_to_its_hook_and_nowhere_else(client: tandem.Client) -> None:
    session = client.start_session()
    boom = ValueError("raised in a callback")
    reported: List[Tuple[BaseException, tandem.Event]] = []
    ends: List[tandem.Event] = []
    second_turn = threading.Event()

    def on_event(event: tandem.Event) -> None:
        if isinstance(event, tandem.TurnEnded):
            ends.append(event)
            if len(ends) == 1:
                raise boom
            second_turn.set()

    def on_error(exc: BaseException, event: tandem.Event) -> None:
        assert tandem.in_callback()
        reported.append((exc, event))

    sub = client.subscribe(on_event, on_error=on_error)
    session.send("x")
    pull_until(client, turn_ended(session))
    # Unrelated calls, from this and other threads, never see it.
    assert session.status() == tandem.SessionStatus.IDLE
    other: List[BaseException] = []
    worker = threading.Thread(target=lambda: other.extend(_errors_of(client.sessions)))
    worker.start()
    worker.join()
    assert other == []
    # Reported once, with the event it failed on; the subscription is kept and sees the next turn.
    session.send("y")
    wait_until(second_turn)
    assert len(reported) == 1 and reported[0][0] is boom
    assert isinstance(reported[0][1], tandem.TurnEnded) and reported[0][1].seq == ends[0].seq
    assert sub.active and sub.error_count == 1
    sub.close()
    client.close()  # nothing pending surfaces here either


def _errors_of(call: Callable[[], object]) -> List[BaseException]:
    try:
        call()
    except BaseException as exc:  # noqa: BLE001
        return [exc]
    return []


def test_callback_exception_is_logged_once_by_default(caplog: pytest.LogCaptureFixture) -> None:
    client = tandem.Client({"store_dir": None})
    session = client.start_session()
    raised = threading.Event()

    def on_event(event: tandem.Event) -> None:
        if isinstance(event, tandem.TextDelta):
            raised.set()
            raise KeyError("lost?")

    with caplog.at_level(logging.ERROR, logger="tandem"):
        sub = client.subscribe(on_event, session)
        session.send("y")
        pull_until(client, turn_ended(session))
        wait_until(raised)
        sub.close()  # after close the callback is done: every report was made
        assert session.status() == tandem.SessionStatus.IDLE
        client.close()
    records = [r for r in caplog.records if r.name == "tandem"]
    assert len(records) == 1 and records[0].levelno == logging.ERROR
    assert records[0].exc_info is not None and records[0].exc_info[0] is KeyError
    assert "text_delta" in records[0].getMessage()
    assert client.closed


def test_callback_error_reports_are_bounded(client: tandem.Client, caplog: pytest.LogCaptureFixture) -> None:
    """A callback failing on every event: the default hook logs the first MAX_REPORTED_ERRORS, then one warning;
    a custom hook gets its own bound; a failing hook is logged and goes no further."""
    session = client.start_session()
    words = " ".join(f"w{i}" for i in range(30))
    seen: List[tandem.Event] = []
    hooked: List[BaseException] = []

    both_ended = threading.Event()

    def always_fails(event: tandem.Event) -> None:
        seen.append(event)
        if sum(isinstance(e, tandem.TurnEnded) for e in seen) == 2:
            both_ended.set()
        raise RuntimeError(f"event {event.seq}")

    def hook_that_fails(exc: BaseException, event: tandem.Event) -> None:
        hooked.append(exc)
        raise OSError("the hook broke too")

    with caplog.at_level(logging.WARNING, logger="tandem"):
        logged = session.subscribe(always_fails)
        custom = session.subscribe(lambda e: always_fails(e), on_error=hook_that_fails, max_reported_errors=3)
        session.send(words)
        wait_until(both_ended)
        logged.close()
        custom.close()
    delivered = len(seen) // 2
    assert delivered > tandem.MAX_REPORTED_ERRORS + 5  # at least 30 text deltas
    assert logged.error_count == custom.error_count == delivered
    assert len(hooked) == 3
    records = [r for r in caplog.records if r.name == "tandem"]
    errors = [r for r in records if r.levelno == logging.ERROR and "callback raised" in r.getMessage()]
    hook_failures = [r for r in records if "on_error hook" in r.getMessage()]
    warnings = [r for r in records if r.levelno == logging.WARNING]
    assert len(errors) == tandem.MAX_REPORTED_ERRORS
    assert len(hook_failures) == 3
    assert len(warnings) == 2 and all("counted" in r.getMessage() for r in warnings)
    assert session.status() == tandem.SessionStatus.IDLE


def test_callbacks_may_call_back_but_not_close(client: tandem.Client, workdir: Path) -> None:
    """A callback answers the approval itself; closing the client from there is refused and reported."""
    script = [[{"tool_call": {"name": "write_file", "args": {"path": "cb.txt", "content": "from a callback"}}}],
              [{"text": "ok"}]]
    session = client.start_session(workdir=str(workdir), script=script)
    done = threading.Event()

    reported: List[BaseException] = []

    def on_event(event: tandem.Event) -> None:
        if isinstance(event, tandem.ApprovalPending):
            session.approve(event.approval.approval_id)
            client.close()  # ReentrantCallError, reported to on_error
        elif isinstance(event, tandem.TurnEnded):
            done.set()

    sub = session.subscribe(on_event, on_error=lambda exc, event: reported.append(exc))
    session.send("go")
    wait_until(done)
    assert (workdir / "cb.txt").read_text() == "from a callback"
    sub.close()
    assert len(reported) == 1 and isinstance(reported[0], tandem.ReentrantCallError)
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


def test_async_streams_of_sessions_are_isolated(client: tandem.Client) -> None:
    """One session's consumer blocks its own loop, another's fails: a third session's stream is not delayed."""
    script = [[{"text": "one "}, {"delay_ms": 50}, {"text": "two"}]]
    slow, failing, healthy = (client.start_session(script=script) for _ in range(3))
    slow_events: List[tandem.Event] = []
    slow_subscribed = threading.Event()
    release_slow = threading.Event()

    async def slow_consumer() -> None:
        async with slow.aevents() as stream:
            slow_subscribed.set()
            async for event in stream:
                slow_events.append(event)
                if len(slow_events) == 1:
                    release_slow.wait(WAIT)  # blocks this whole event loop
                if isinstance(event, tandem.TurnEnded):
                    return

    slow_thread = threading.Thread(target=lambda: asyncio.run(slow_consumer()))
    slow_thread.start()
    wait_until(slow_subscribed)

    async def main() -> List[tandem.Event]:
        async def fail_on_first() -> None:
            async with failing.aevents() as stream:
                async for _ in stream:
                    raise RuntimeError("consumer failed")

        broken = asyncio.create_task(fail_on_first())
        await asyncio.sleep(0)  # let it subscribe before anything is sent
        got: List[tandem.Event] = []
        async with healthy.aevents() as stream:
            for s in (slow, failing, healthy):
                s.send("go")
            async for event in stream:
                got.append(event)
                if isinstance(event, tandem.TurnEnded):
                    break
        with pytest.raises(RuntimeError, match="consumer failed"):
            await broken
        return got

    try:
        got = asyncio.run(asyncio.wait_for(main(), WAIT))
        assert len(slow_events) == 1  # the healthy stream finished while the slow loop was still blocked
    finally:
        release_slow.set()
        slow_thread.join(WAIT)
    assert all(e.session_id == healthy.id for e in got)
    assert "".join(e.delta for e in got if isinstance(e, tandem.TextDelta)) == "one two"
    # The slow consumer lost nothing: once unblocked it read its whole turn.
    assert not slow_thread.is_alive()
    assert [e.seq for e in slow_events] == list(range(slow_events[0].seq, slow_events[0].seq + len(slow_events)))
    assert "".join(e.delta for e in slow_events if isinstance(e, tandem.TextDelta)) == "one two"
    assert client.sessions()  # and nothing of the failing consumer leaked into other calls


def test_session_streams_end_after_session_stopped(client: tandem.Client) -> None:
    sync_session, async_session = client.start_session(), client.start_session()
    sync_session.send("sync")
    kinds: List[str] = []
    started = time.monotonic()
    for event in sync_session.events(timeout=WAIT):  # pulls only this session's events
        kinds.append(event.kind)
        assert event.session_id == sync_session.id
        if isinstance(event, tandem.TurnEnded):
            sync_session.stop()
    assert kinds[0] == "session_started" and kinds[-1] == "session_stopped"
    assert time.monotonic() - started < WAIT / 2, "the iterator ended by itself, not by timing out"
    with pytest.raises(tandem.NotFoundError):
        sync_session.next_event(timeout=WAIT)

    async def main() -> List[tandem.Event]:
        got: List[tandem.Event] = []
        async with async_session.aevents() as stream:
            async_session.send("async")
            async for event in stream:
                got.append(event)
                if isinstance(event, tandem.TurnEnded):
                    async_session.stop()
        return got

    got = asyncio.run(asyncio.wait_for(main(), WAIT))
    assert isinstance(got[-1], tandem.SessionStopped) and got[-1].session_id == async_session.id


def test_async_stream_ends_when_the_client_shuts_down(client: tandem.Client) -> None:
    async def main() -> List[tandem.Event]:
        got: List[tandem.Event] = []
        async with client.aevents() as stream:
            asyncio.get_running_loop().call_later(0.05, client.shutdown)
            async for event in stream:
                got.append(event)
        return got

    client.start_session()
    asyncio.run(asyncio.wait_for(main(), WAIT))  # ends instead of waiting forever


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
