"""Fixtures for the tandem Python tests: a client per test (no store) and an event collector."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Iterator, List, Optional

import pytest

import tandem

#: Generous: the scripted model answers in milliseconds, but CI machines stall.
WAIT = 10.0


@pytest.fixture
def client() -> Iterator[tandem.Client]:
    """A client that keeps everything in memory; closed (and checked for callback errors) after the test."""
    with tandem.Client({"store_dir": None}) as c:
        yield c


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """An empty working directory for a session's tools."""
    d = tmp_path / "work"
    d.mkdir()
    return d


def pull_until(
    client: tandem.Client,
    done: Callable[[tandem.Event], bool],
    log: Optional[List[tandem.Event]] = None,
    timeout: float = WAIT,
    on_event: Optional[Callable[[tandem.Event], None]] = None,
) -> tandem.Event:
    """Pulls events (appending them to ``log``) until ``done(event)``; fails the test on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        event = client.next_event(timeout=max(left, 0.0))
        if event is None:
            seen = [e.kind for e in log] if log is not None else "?"
            pytest.fail(f"no matching event within {timeout}s; saw {seen}")
        if log is not None:
            log.append(event)
        if on_event is not None:
            on_event(event)
        if done(event):
            return event


def turn_ended(session: tandem.Session) -> Callable[[tandem.Event], bool]:
    """Matches the ``turn_ended`` event of ``session``."""
    return lambda e: isinstance(e, tandem.TurnEnded) and e.session_id == session.id


def text_of(log: List[tandem.Event], session: tandem.Session) -> str:
    """The streamed answer text of ``session`` in ``log``."""
    return "".join(e.delta for e in log if isinstance(e, tandem.TextDelta) and e.session_id == session.id)
