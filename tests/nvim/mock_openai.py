#!/usr/bin/env python3
"""A mock OpenAI-compatible server on 127.0.0.1 for the Neovim plugin's tests and benchmark.

POST .../chat/completions answers with a Chat Completions SSE stream: `--text` split into one delta per word, or
`--deltas N` deltas "w0 w1 ...", in one write or, with `--writes W --gap-ms G`, in W writes G ms apart. With
`--stamp FILE` it writes the wall-clock time (seconds since the epoch, float) at which the last content delta was
flushed. GET .../models lists one model. Prints the port on its first stdout
line and serves until killed (or until stdin closes, so it never outlives the process that started it).
"""
import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def chunk(delta, finish=None):
    body = {
        "id": "c",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "mock",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return ("data: " + json.dumps(body) + "\n\n").encode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--text", default="Hello from the mock server.")
    ap.add_argument("--deltas", type=int, default=0)
    ap.add_argument("--stamp", default=None)
    ap.add_argument("--writes", type=int, default=1)
    ap.add_argument("--gap-ms", type=float, default=0.0)
    args = ap.parse_args()
    if args.deltas:
        pieces = ["w%d " % i for i in range(args.deltas)]
    else:
        words = args.text.split(" ")
        pieces = [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]
    # Rendered once, so that a request costs only the write (the benchmark times the stream, not this script).
    chunks = [chunk({"content": p}) for p in pieces]
    per = -(-len(chunks) // max(1, args.writes))
    writes = [b"".join(chunks[i : i + per]) for i in range(0, len(chunks), per)]
    writes = writes or [b""]
    writes[0] = chunk({"role": "assistant", "content": ""}) + writes[0]

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            body = json.dumps({"object": "list", "data": [{"id": "mock", "object": "model"}]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            self.rfile.read(n)
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for i, w in enumerate(writes):
                if i and args.gap_ms:
                    time.sleep(args.gap_ms / 1000)
                self.wfile.write(w)
                self.wfile.flush()
            if args.stamp:
                with open(args.stamp, "w") as f:
                    f.write("%.6f\n" % time.time())
            usage = {"prompt_tokens": 10, "completion_tokens": len(pieces), "total_tokens": 10 + len(pieces)}
            tail = chunk({}, "stop")
            tail += ("data: " + json.dumps({"id": "c", "object": "chat.completion.chunk", "created": 0,
                                            "model": "mock", "choices": [], "usage": usage}) + "\n\n").encode()
            tail += b"data: [DONE]\n\n"
            self.wfile.write(tail)
            self.wfile.flush()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    # Serve until whoever started us closes our stdin (or kills us).
    try:
        sys.stdin.read()
    except KeyboardInterrupt:
        pass
    server.shutdown()


if __name__ == "__main__":
    main()
