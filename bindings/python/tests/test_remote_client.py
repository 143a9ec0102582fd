"""A remote client from Python: ``tandem.Client({"remote": ...})`` against a ``tandem-server`` (built by cargo next to
the library) on loopback drives a session with the same calls and events as a local one."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Iterator, List, Tuple

import pytest

import tandem
from conftest import pull_until, text_of, turn_ended

TOKEN = "python-remote-gateway-token-0123456789"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Tuple[str, Path]]:
    """A tandem-server on a throwaway store: (its URL, the gateway token file)."""
    binary = Path(tandem.library_path()).parent / "tandem-server"
    if not binary.exists():
        pytest.fail(f"{binary} is missing: cargo build builds it next to the library")
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n")
    store = tmp_path / "store"
    args = [str(binary), "--store-dir", str(store), "--listen", "127.0.0.1:0", "--gateway-token-file", str(token)]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # blocks until it listens, or returns "" if it died
        if not first.startswith("listening on "):
            pytest.fail(f"tandem-server did not start: {first!r} {proc.stderr.read() if proc.stderr else ''}")
        yield first[len("listening on ") :].strip(), token
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_a_remote_client_drives_a_session_on_tandem_server(server: Tuple[str, Path]) -> None:
    url, token = server
    with tandem.Client({"remote": {"url": url, "gateway_token_file": str(token)}}) as client:
        session = client.start_session(script=[[{"text": "Hello"}, {"text": " from afar"}]])
        assert session.send("hi") == tandem.PromptResult.SENT
        log: List[tandem.Event] = []
        pull_until(client, turn_ended(session), log)
        assert isinstance(log[0], tandem.SessionStarted)
        assert [e.seq for e in log] == list(range(1, len(log) + 1))
        assert text_of(log, session) == "Hello from afar"
        assert session.status() == tandem.SessionStatus.IDLE
        assert [s["id"] for s in client.sessions()] == [session.id]
        # A second remote client attaches as a viewer: it reads, and may not drive.
        with tandem.Client({"remote": {"url": url, "gateway_token_file": str(token)}}) as viewer:
            seen = viewer.start_or_get_session(session.id)
            assert seen.snapshot()["status"] == "idle"
            with pytest.raises(tandem.BusyError, match="^TANDEM_ERR_BUSY: not_driver:"):
                seen.send("may I?")
        # A call the protocol has no method for names itself.
        with pytest.raises(tandem.NotSupportedError, match="tandem_conversation_list"):
            client.conversations()
        session.stop()
        with pytest.raises(tandem.NotFoundError):
            session.status()


def test_a_remote_client_needs_a_reachable_gateway_and_its_token(server: Tuple[str, Path], tmp_path: Path) -> None:
    url, token = server
    with pytest.raises(tandem.InvalidArgumentError, match="never in the config JSON"):
        tandem.Client({"remote": {"url": url, "token": TOKEN}})
    wrong = tmp_path / "wrong"
    wrong.write_text("not-the-gateway-token-at-all\n")
    with pytest.raises(tandem.InvalidArgumentError, match="^TANDEM_ERR_INVALID_ARGUMENT: unauthorized:"):
        tandem.Client({"remote": {"url": url, "gateway_token_file": str(wrong)}})
    os.environ["TANDEM_PY_REMOTE_TOKEN"] = TOKEN
    try:
        with tandem.Client({"remote": {"url": url, "gateway_token_env": "TANDEM_PY_REMOTE_TOKEN"}}) as client:
            assert client.sessions() == []
    finally:
        del os.environ["TANDEM_PY_REMOTE_TOKEN"]
    # Nothing listens on a port just freed.
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(tandem.TandemIOError, match="cannot connect"):
        tandem.Client({"remote": {"url": f"ws://127.0.0.1:{port}", "gateway_token_file": str(token)}})
    assert time.monotonic() - started < 30
