#!/usr/bin/env python3
"""A small MCP server over stdio for tandem's fault tests (no SDK: JSON-RPC lines by hand, so it can misbehave).

Usage: fake_server.py MODE [MARKER]. MODE:
  ok        a working server (tools below)
  exit      writes to stderr and exits at once
  no_init   reads requests and never answers initialize
  garbage   answers initialize with lines that are not JSON-RPC
MARKER is ignored; tests put a unique string there to find the process (and its children) in /proc.

Tools of `ok`: echo (read-only), slow (read-only; progress every 100 ms until cancelled or 30 s), crash (exits
mid-call), big (a 10 MB text result), add_tool (adds tool `extra` and sends tools/list_changed), spawn (starts a
sleeping grandchild and answers its PID), write (not read-only; answers "written"). Prompt of `ok`: review
(argument `topic`: "Please review TOPIC.").
"""
import json
import os
import subprocess
import sys
import threading
import time

mode = sys.argv[1]
out_lock = threading.Lock()
cancelled = set()
extra = False


def send(obj):
    with out_lock:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()


def log(text):
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def tool(name, read_only, schema=None):
    return {
        "name": name,
        "description": "fake " + name,
        "inputSchema": schema or {"type": "object", "properties": {}},
        "annotations": {"readOnlyHint": read_only},
    }


def tools():
    out = [
        tool("echo", True, {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}),
        tool("slow", True),
        tool("crash", True),
        tool("big", True),
        tool("add_tool", True),
        tool("spawn", True),
        tool("write", False),
    ]
    if extra:
        out.append(tool("extra", True))
    return out


def text(rid, t, is_error=False):
    send({"jsonrpc": "2.0", "id": rid, "result": {"content": [{"type": "text", "text": t}], "isError": is_error}})


def slow(rid, token):
    for i in range(300):
        if rid in cancelled:
            log(f"cancelled request {rid}")
            return
        if token is not None:
            send({"jsonrpc": "2.0", "method": "notifications/progress",
                  "params": {"progressToken": token, "progress": i + 1, "total": 300, "message": "working"}})
        time.sleep(0.1)
    text(rid, "slow done")


def call(rid, params):
    global extra
    name = params.get("name")
    args = params.get("arguments") or {}
    token = (params.get("_meta") or {}).get("progressToken")
    if name == "echo":
        text(rid, "echo: " + str(args.get("text")))
    elif name == "slow":
        threading.Thread(target=slow, args=(rid, token), daemon=True).start()
    elif name == "crash":
        log("crashing on purpose")
        os._exit(7)
    elif name == "big":
        text(rid, "x" * (10 * 1024 * 1024))
    elif name == "add_tool":
        extra = True
        text(rid, "added")
        send({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"})
    elif name == "spawn":
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1000)", sys.argv[-1]])
        text(rid, str(child.pid))
    elif name == "write":
        text(rid, "written")
    elif name == "extra":
        text(rid, "extra ran")
    else:
        send({"jsonrpc": "2.0", "id": rid, "error": {"code": -32602, "message": "unknown tool " + str(name)}})


def main():
    log(f"fake server {mode} starting")
    if mode == "exit":
        log("fatal: nothing to serve")
        sys.exit(3)
    for line in sys.stdin:
        msg = json.loads(line)
        method, rid = msg.get("method"), msg.get("id")
        if method == "initialize":
            if mode == "no_init":
                continue
            if mode == "garbage":
                with out_lock:
                    sys.stdout.write("this is not JSON-RPC\n{\"half\": \n\x00\x01\x02\n")
                    sys.stdout.flush()
                continue
            send({"jsonrpc": "2.0", "id": rid, "result": {
                "protocolVersion": msg["params"]["protocolVersion"],
                "capabilities": {"tools": {"listChanged": True}, "prompts": {}},
                "serverInfo": {"name": "fake", "version": "1"}}})
        elif method == "tools/list":
            send({"jsonrpc": "2.0", "id": rid, "result": {"tools": tools()}})
        elif method == "prompts/list":
            send({"jsonrpc": "2.0", "id": rid, "result": {"prompts": [{
                "name": "review", "description": "fake review prompt",
                "arguments": [{"name": "topic", "required": True}]}]}})
        elif method == "prompts/get":
            topic = (msg["params"].get("arguments") or {}).get("topic", "?")
            send({"jsonrpc": "2.0", "id": rid, "result": {"messages": [
                {"role": "user", "content": {"type": "text", "text": f"Please review {topic}."}}]}})
        elif method == "tools/call":
            call(rid, msg["params"])
        elif method == "notifications/cancelled":
            cancelled.add(msg["params"].get("requestId"))
        elif method == "ping":
            send({"jsonrpc": "2.0", "id": rid, "result": {}})
        elif rid is not None:
            send({"jsonrpc": "2.0", "id": rid, "error": {"code": -32601, "message": "no " + str(method)}})


main()
