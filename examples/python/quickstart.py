"""quickstart.py: a session on the offline scripted model that streams text and asks to write a file.

    python examples/python/quickstart.py [WORKDIR]

Prints the streamed answer, approves the write (a real host would ask its user), and prints where the file went.
The library is found through TANDEM_LIBRARY, next to the package (a wheel that bundles it) or the system loader.
"""

from __future__ import annotations

import os
import sys
import tempfile

import tandem

SCRIPT = [
    [
        {"text": "Writing a greeting. "},
        {"tool_call": {"name": "write_file", "args": {"path": "hello.txt", "content": "hello from Python\n"}}},
    ],
    [{"text": "Done."}],
]


def main() -> int:
    workdir = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="tandem-quickstart-")
    os.makedirs(workdir, exist_ok=True)
    # store_dir None: keep the conversation in memory (the default stores it under $XDG_DATA_HOME/tandem).
    with tandem.Client({"store_dir": None}) as client:
        session = client.start_session(model="scripted:quickstart", workdir=workdir, script=SCRIPT)
        session.send("Please write a greeting to hello.txt")
        for event in client.events(timeout=10):
            if isinstance(event, tandem.TextDelta):
                print(event.delta, end="", flush=True)
            elif isinstance(event, tandem.ApprovalPending):
                print(f"\n[approving {event.approval.name}: {event.approval.preview.summary}]")
                session.approve(event.approval.approval_id)
            elif isinstance(event, tandem.FileChanged):
                print(f"[{event.action} {event.path}]")
            elif isinstance(event, tandem.TurnEnded):
                print(f"\n[turn {event.reason}]")
                return 0 if event.reason == "completed" else 1
    print("\n[no turn_ended within 10 s]", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
