"""Peers of the remote gateway written against the Python `websockets` client (tests/remote_python.rs runs them).

Usage: peers.py SCENARIO URL [ARGS...]; prints one JSON line per result for the Rust test to check.
  drive URL GATEWAY_TOKEN          start a session, drive it from one connection, watch from another
  start_turn URL GATEWAY_TOKEN     start a slow session, prompt it, report once the turn streams (then wait)
  reattach URL SESSION TOKEN STREAM SEQ   attach after the gateway's restart with the old cursor
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
from typing import Any, Dict, List, Optional

from websockets.asyncio.client import ClientConnection, connect

WAIT = 30.0


class Peer:
    """One JSON-RPC connection: calls answered in order, notifications kept."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.notes: List[Dict[str, Any]] = []

    async def recv(self) -> Dict[str, Any]:
        frame = await asyncio.wait_for(self.ws.recv(), WAIT)
        return json.loads(frame)

    async def call(self, method: str, **params: Any) -> Dict[str, Any]:
        """The whole response: {"result": ...} or {"error": ...}."""
        rid = next(self.ids)
        await self.ws.send(json.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": params}))
        while True:
            msg = await self.recv()
            if msg.get("id") == rid:
                return msg
            self.notes.append(msg)

    async def ok(self, method: str, **params: Any) -> Any:
        msg = await self.call(method, **params)
        if "error" in msg:
            raise RuntimeError(f"{method}: {msg['error']}")
        return msg["result"]

    async def event(self) -> Dict[str, Any]:
        while True:
            msg = self.notes.pop(0) if self.notes else await self.recv()
            if msg.get("method") == "event":
                return msg["params"]

    async def events_until(self, kind: str) -> List[Dict[str, Any]]:
        out = []
        while True:
            e = await self.event()
            out.append(e)
            if e["kind"] == kind:
                return out


def emit(**result: Any) -> None:
    print(json.dumps(result), flush=True)


async def drive(url: str, gateway_token: str) -> None:
    async with connect(url) as admin_ws, connect(url) as viewer_ws:
        admin = Peer(admin_ws)
        await admin.ok("auth", token=gateway_token)
        started = await admin.ok("sessions.start", options={"script": [[{"text": "Hello"}, {"text": " remote"}]]})
        sid, token = started["session_id"], started["token"]
        driver_info = await admin.ok("session.attach", session_id=sid, token=token)
        viewer = Peer(viewer_ws)
        viewer_info = await viewer.ok("session.attach", session_id=sid, token=token)
        refused = await viewer.call("send_prompt", text="not mine to send")
        sent = await admin.ok("send_prompt", text="hi")
        driver_events = await admin.events_until("turn_ended")
        viewer_events = await viewer.events_until("turn_ended")
        text = "".join(e["delta"] for e in viewer_events if e["kind"] == "text_delta")
        emit(
            driver_role=driver_info["role"],
            viewer_role=viewer_info["role"],
            refused=refused.get("error"),
            sent=sent,
            driver_seqs=[e["seq"] for e in driver_events],
            viewer_seqs=[e["seq"] for e in viewer_events],
            viewer_text=text,
        )


async def start_turn(url: str, gateway_token: str) -> None:
    slow = [[{"text": f"part {i} "} if i % 2 == 0 else {"delay_ms": 200} for i in range(60)]]
    async with connect(url) as ws:
        p = Peer(ws)
        await p.ok("auth", token=gateway_token)
        started = await p.ok("sessions.start", options={"script": slow})
        info = await p.ok("session.attach", session_id=started["session_id"], token=started["token"])
        await p.ok("send_prompt", text="a long answer, please")
        seen: List[Dict[str, Any]] = []
        while sum(1 for e in seen if e["kind"] == "text_delta") < 2:
            seen.append(await p.event())
        emit(session_id=started["session_id"], token=started["token"], stream=info["stream"], seq=seen[-1]["seq"])
        # The gateway is killed now; hold the connection until it goes.
        try:
            while True:
                await p.recv()
        except Exception:
            pass


async def reattach(url: str, sid: str, token: str, stream: str, seq: str) -> None:
    async with connect(url) as ws:
        p = Peer(ws)
        info = await p.ok("session.attach", session_id=sid, token=token, stream=stream, cursor=int(seq))
        messages: Optional[List[Dict[str, Any]]] = info.get("messages")
        emit(
            resync=info["resync"],
            role=info["role"],
            status=info["snapshot"].get("status"),
            message_kinds=[m.get("kind") for m in messages or []],
            texts=[json.dumps(m) for m in messages or []],
        )


def main() -> None:
    scenario, url, *args = sys.argv[1:]
    run = {"drive": drive, "start_turn": start_turn, "reattach": reattach}[scenario]
    asyncio.run(run(url, *args))


if __name__ == "__main__":
    main()
