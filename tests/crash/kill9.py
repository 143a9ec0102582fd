#!/usr/bin/env python3
"""kill9.py: kill -9 a tandem host at random moments while turns stream, then check that nothing acknowledged is lost.

Each round on one store directory:
  1. starts `crash_host run <store> <n>` (n = 1..3 sessions, at random), which streams turns and prints
     `ended <session> <prompt>` after each turn_ended;
  2. reads its stdout for a random 20-400 ms and sends it SIGKILL;
  3. runs `crash_host verify <store> <m>` (m = the most sessions any round used) and checks that it exits 0 and that
     for every session: its token and conversation ID never change; message IDs are unique and strictly increasing;
     no prompt appears twice and the i-th user message is prompt turn-<session>-<i> (nothing earlier dropped while
     something later was kept); every prompt acknowledged by `ended` in this or any earlier round is there, in
     acknowledgement order, as a user message followed (before the next user message) by the complete answer
     "alpha beta gamma"; no error notice other than an interrupted turn or a repaired torn tail.

With --fill-disk (the store on a small file system of its own, e.g. a tmpfs), about half the rounds also fill that
file system at a random moment while turns stream, so journal appends start failing: turns that could not be saved
must end `storage_error` (printed as `not-completed ... storage_error`, never `ended`), and every turn acknowledged
as completed must still be there after the kill. The filler is removed before each verify.

Python 3.11 standard library only; builds nothing. Usage:
  kill9.py --host target/crash/crash_host [--lib-dir target/debug] [--store DIR] [--rounds 200] [--seed N]
           [--fill-disk]
(or the environment variables CRASH_HOST, TANDEM_LIB_DIR, KILL9_SEED, KILL9_ROUNDS).
Prints the seed first (rerun with --seed to reproduce the same kill times and session counts) and finally
  kill9: R rounds, N acknowledged turns checked, L lost
exiting 1 on any loss or inconsistency, 2 on a usage or setup problem.
"""

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

ANSWER = "alpha beta gamma"
MAX_SESSIONS = 3


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default=os.environ.get("CRASH_HOST"), help="the crash_host binary")
    p.add_argument("--lib-dir", default=os.environ.get("TANDEM_LIB_DIR"), help="directory of libtandem.so")
    p.add_argument("--store", help="store directory (default: a new temporary one, removed afterwards)")
    p.add_argument("--rounds", type=int, default=int(os.environ.get("KILL9_ROUNDS", "200")))
    p.add_argument("--seed", type=int, default=int(os.environ["KILL9_SEED"]) if os.environ.get("KILL9_SEED") else None)
    p.add_argument("--min-ms", type=int, default=20)
    p.add_argument("--max-ms", type=int, default=400)
    p.add_argument("--keep", action="store_true", help="keep the temporary store (always kept on failure)")
    p.add_argument("--fill-disk", action="store_true",
                   help="fill the store's file system at random moments (put the store on a small tmpfs)")
    a = p.parse_args()
    if not a.host or not os.access(a.host, os.X_OK):
        p.error("--host (or CRASH_HOST) must name the executable crash_host")
    if a.rounds < 1 or not 0 <= a.min_ms <= a.max_ms:
        p.error("bad --rounds or --min-ms/--max-ms")
    return a


class Reader(threading.Thread):
    """Collects complete stdout lines of the host as they arrive."""

    def __init__(self, stream):
        super().__init__(daemon=True)
        self.stream = stream
        self.lines = []

    def run(self):
        for raw in self.stream:
            if raw.endswith(b"\n"):  # a line without its newline was not fully printed
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))


def main():
    a = parse_args()
    seed = a.seed if a.seed is not None else random.SystemRandom().randrange(2**32)
    rng = random.Random(seed)
    print(f"kill9: seed {seed} (rerun with --seed {seed} or KILL9_SEED={seed}), {a.rounds} rounds, "
          f"kills after {a.min_ms}-{a.max_ms} ms, 1-{MAX_SESSIONS} sessions", flush=True)
    env = dict(os.environ)
    if a.lib_dir:
        env["LD_LIBRARY_PATH"] = a.lib_dir + (":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
    env["RUST_BACKTRACE"] = "0"
    temp = a.store is None
    store = a.store or tempfile.mkdtemp(prefix="tandem-kill9-")
    os.makedirs(store, exist_ok=True)

    acked = {}         # session -> list of acknowledged prompts, in order
    tokens = {}        # session -> token first seen
    conversations = {}  # session -> conversation ID first seen
    stats = {"interrupted": 0, "repaired": 0, "skipped": 0, "turns_in_run": [], "checks": 0, "empty": 0, "lost": set()}
    problems = []
    most = 0
    started = time.monotonic()

    def fail(round_no, what):
        problems.append(f"round {round_no}: {what}")

    filler = os.path.join(os.path.dirname(os.path.abspath(store)), "kill9-filler")
    stats["storage_errors"] = 0
    stats["filled"] = 0

    def fill_after(seconds):
        """Writes the filler until the file system is full (ENOSPC ends it)."""
        time.sleep(seconds)
        try:
            with open(filler, "wb") as f:
                block = b"\0" * 65536
                while True:
                    f.write(block)
                    f.flush()
        except OSError:
            pass

    for r in range(1, a.rounds + 1):
        n = rng.randint(1, MAX_SESSIONS)
        most = max(most, n)
        delay = rng.randint(a.min_ms, a.max_ms) / 1000.0
        proc = subprocess.Popen([a.host, "run", store, str(n)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=env)
        reader = Reader(proc.stdout)
        reader.start()
        err = []
        err_reader = threading.Thread(target=lambda: err.extend(proc.stderr), daemon=True)
        err_reader.start()
        filling = None
        if a.fill_disk and rng.random() < 0.5:
            filling = threading.Thread(target=fill_after, args=(rng.uniform(0, delay),), daemon=True)
            filling.start()
            stats["filled"] += 1
        try:
            proc.wait(timeout=delay)
            exited_by_itself = True
        except subprocess.TimeoutExpired:
            exited_by_itself = False
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        reader.join(10)
        err_reader.join(10)
        if filling is not None:
            filling.join(30)
        if os.path.exists(filler):
            os.remove(filler)
        stderr = b"".join(err).decode("utf-8", "replace").strip()
        if a.fill_disk:
            # The host reports every error event on stderr; a full disk's are expected in this mode.
            stderr = "\n".join(l for l in stderr.splitlines()
                               if not (l.startswith("event: ") and "No space left on device" in l)).strip()
        if exited_by_itself:
            fail(r, f"crash_host run exited by itself with status {proc.returncode} before the kill: {stderr}")
        elif stderr:
            fail(r, f"crash_host run complained before the kill: {stderr}")
        ended_now = 0
        for line in reader.lines:
            parts = line.split(" ")
            if len(parts) == 3 and parts[0] == "ended":
                acked.setdefault(parts[1], []).append(parts[2])
                ended_now += 1
            elif a.fill_disk and len(parts) == 4 and parts[0] == "not-completed" and parts[3] == "storage_error":
                stats["storage_errors"] += 1
            else:
                fail(r, f"unexpected output from crash_host run: {line!r}")
        stats["turns_in_run"].append(ended_now)
        stats["empty"] += ended_now == 0

        v = subprocess.run([a.host, "verify", store, str(most)], capture_output=True, env=env, timeout=120)
        if v.returncode != 0:
            fail(r, f"crash_host verify exited with {v.returncode}: "
                    f"{v.stderr.decode('utf-8', 'replace').strip()}")
            break  # a store that does not open is the end of this test
        docs = [json.loads(l) for l in v.stdout.decode("utf-8").splitlines() if l.strip()]
        if len(docs) != most:
            fail(r, f"verify printed {len(docs)} sessions, expected {most}")
        for doc in docs:
            check_session(doc, r, acked, tokens, conversations, stats, fail)
        print(f"round {r:3d}: {n} session(s), killed after {delay * 1000:.0f} ms, {ended_now} turns ended"
              f"{'' if not problems else f', {len(problems)} problems so far'}", flush=True)
        if len(problems) > 200:
            break

    total = sum(len(v) for v in acked.values())
    lost = len(stats["lost"])
    took = time.monotonic() - started
    for p in problems[:40]:
        print("  " + p, file=sys.stderr)
    if len(problems) > 40:
        print(f"  ... and {len(problems) - 40} more", file=sys.stderr)
    runs = stats["turns_in_run"]
    print(f"kill9: store {store}; {stats['checks']} turn checks; runs ended 0-{max(runs) if runs else 0} turns "
          f"({stats['empty']} runs none); reopened journals showed {stats['interrupted']} interrupted-turn notices, "
          f"{stats['repaired']} torn-tail repairs, {stats['skipped']} skipped-entry notices; {took:.1f} s")
    if a.fill_disk:
        print(f"kill9: the store's file system was filled in {stats['filled']} rounds; "
              f"{stats['storage_errors']} turns ended storage_error")
        if stats["storage_errors"] == 0:
            problems.append("--fill-disk: no turn ended storage_error, so the full disk was never hit")
    ok = not problems and total > 0
    if total == 0:
        print("kill9: no turn ended before any kill: the test proved nothing", file=sys.stderr)
    print(f"kill9: {len(runs)} rounds, {total} acknowledged turns checked, {lost} lost"
          f"{'' if ok else f' ({len(problems)} problems, seed {seed})'}")
    if temp and ok and not a.keep:
        shutil.rmtree(store, ignore_errors=True)
    elif temp:
        print(f"kill9: store kept at {store}")
    return 0 if ok else 1


def check_session(doc, r, acked, tokens, conversations, stats, fail):
    sid = doc["session"]
    token = doc["token"]
    conv = doc["metadata"].get("conversation_id")
    if tokens.setdefault(sid, token) != token:
        fail(r, f"{sid}: token changed from {tokens[sid]} to {token}")
    if conversations.setdefault(sid, conv) != conv:
        fail(r, f"{sid}: conversation changed from {conversations[sid]} to {conv} (a restore failed?)")
    messages = doc["messages"]
    ids = [m["id"] for m in messages]
    if len(set(ids)) != len(ids):
        dups = sorted({i for i in ids if ids.count(i) > 1})
        fail(r, f"{sid}: duplicated message IDs {dups[:10]}")
    bad = [(a, b) for a, b in zip(ids, ids[1:]) if b <= a]
    if bad:
        fail(r, f"{sid}: message IDs not strictly increasing at {bad[:5]}")
    # Each user prompt, and the assistant answers up to the next prompt.
    answers = {}
    current = None
    for m in messages:
        kind = m.get("kind")
        if kind == "user":
            current = m.get("text")
            if current in answers:
                fail(r, f"{sid}: prompt {current!r} appears twice")
            answers[current] = []
        elif kind == "assistant" and current is not None:
            answers[current].append(m.get("text"))
        elif kind == "system" and m.get("level") == "error":
            text = m.get("text", "")
            if text.startswith("The previous run ended while a turn was in progress"):
                pass
            elif text.startswith("Repaired the conversation file"):
                pass
            elif text.startswith("Skipped "):
                pass
            else:
                fail(r, f"{sid}: error notice in the transcript: {text!r}")
    # The host numbers each prompt by the user messages already stored, so the i-th user message is turn-<sid>-<i>:
    # a gap or a repeat means the journal kept a later entry and dropped an earlier one.
    users = [m.get("text") for m in messages if m.get("kind") == "user"]
    wrong = [(i, t) for i, t in enumerate(users) if t != f"turn-{sid}-{i}"]
    if wrong:
        fail(r, f"{sid}: user messages out of sequence, first at index {wrong[0][0]}: {wrong[0][1]!r}")
    # Acknowledged prompts appear in the order they were acknowledged.
    order = {t: i for i, t in enumerate(users)}
    positions = [order[p] for p in acked.get(sid, []) if p in order]
    if positions != sorted(positions):
        fail(r, f"{sid}: acknowledged prompts are out of order in the transcript")
    for prompt in acked.get(sid, []):
        stats["checks"] += 1
        if prompt in answers and ANSWER in answers[prompt]:
            continue
        if (sid, prompt) in stats["lost"]:
            continue  # reported when it was first missed
        stats["lost"].add((sid, prompt))
        if prompt not in answers:
            fail(r, f"{sid}: LOST acknowledged prompt {prompt!r} (no user message)")
        else:
            fail(r, f"{sid}: LOST answer of acknowledged prompt {prompt!r}: assistant messages {answers[prompt]!r}")
    # Restore notices, each counted once: only messages newer than the previous verify's newest.
    newest = seen_ids.get(sid, 0)
    for m in messages:
        if m["id"] > newest and m.get("kind") == "system":
            t = m.get("text", "")
            stats["interrupted"] += t.startswith("The previous run ended while a turn was in progress")
            stats["repaired"] += t.startswith("Repaired the conversation file")
            stats["skipped"] += t.startswith("Skipped ")
    if ids:
        seen_ids[sid] = max(newest, ids[-1])


seen_ids = {}  # session -> the newest message ID a verify showed


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
