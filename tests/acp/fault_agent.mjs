// An ACP agent made with the official TypeScript SDK (@agentclientprotocol/sdk) that misbehaves on purpose, for the
// ACP provider's fault tests (tests/acp_provider.rs, tests/acp_permissions.rs):
//
//   node fault_agent.mjs SDK_DIR MODE [STATE_FILE]
//
// crash            the first process says one chunk and exits (status 3, a line on stderr) mid-turn; a later one
//                  (STATE_FILE exists) answers with the session it was asked to load
// garbage          writes lines that are not JSON-RPC around a normal answer
// silent           never answers initialize
// late_permission  on session/cancel asks for a permission after the cancel; the next prompt says how that request
//                  was answered
// terminal_leak    runs a command holding an flock on held.lock in a terminal, waits until it holds it, and ends
//                  the turn leaving it running
// plan             sends a plan (with one malformed entry), then its update, then an answer
// terminal         each prompt runs `sh -c "printf 'one two three'; exit 3"` in a terminal (output limited to 5
//                  bytes) for a tool call `run`, waits for it, reads its output, releases it, completes the call
//                  showing the terminal, and says what it saw (or the error)
// running_permission  each prompt (the Nth) reports a call `patch-N` (title apply_patch) in_progress, then asks
//                  permission for it (options `yes` allow_once, `no` reject_once); allowed, it completes the call
//                  with the text "applied with OPTION", else it fails it; then says "permission: OPTION" (or
//                  "permission: cancelled")

import { existsSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { Readable, Writable } from "node:stream";
import { pathToFileURL } from "node:url";

const [sdkDir, mode, state] = process.argv.slice(2);
const require = createRequire(join(sdkDir, "package.json"));
const acp = await import(pathToFileURL(require.resolve("@agentclientprotocol/sdk")).href);

let loaded = null;
let cancelled = null;
let lateAnswer = null;
let clientCaps = null;
let prompts = 0;

const say = (client, sessionId, text) =>
  client.notify(acp.methods.client.session.update, {
    sessionId,
    update: { sessionUpdate: "agent_message_chunk", content: { type: "text", text } },
  });

const app = acp
  .agent({ name: "fault-agent" })
  .onRequest(acp.methods.agent.initialize, async ({ params }) => {
    if (mode === "silent") return new Promise(() => {});
    clientCaps = params.clientCapabilities;
    return { protocolVersion: 1, agentCapabilities: { loadSession: true } };
  })
  .onRequest(acp.methods.agent.session.new, async () => ({ sessionId: "fault-1" }))
  .onRequest(acp.methods.agent.session.load, async ({ params }) => {
    loaded = params.sessionId;
    return {};
  })
  .onNotification(acp.methods.agent.session.cancel, async ({ params, client }) => {
    if (mode === "late_permission") {
      lateAnswer = client
        .request(acp.methods.client.session.requestPermission, {
          sessionId: params.sessionId,
          toolCall: { toolCallId: "late-1", title: "late", rawInput: {} },
          options: [
            { optionId: "yes", name: "Allow", kind: "allow_once" },
            { optionId: "no", name: "Reject", kind: "reject_once" },
          ],
        })
        .then((r) => r.outcome.outcome, (e) => `error ${e.message}`);
    }
    cancelled?.();
  })
  .onRequest(acp.methods.agent.session.prompt, async ({ params, client }) => {
    const sid = params.sessionId;
    if (mode === "crash" && !existsSync(state)) {
      writeFileSync(state, "crashed");
      await say(client, sid, "about to crash");
      process.stderr.write("fault agent: crashing on purpose\n");
      setTimeout(() => process.exit(3), 50);
      return new Promise(() => {});
    }
    if (mode === "crash") {
      await say(client, sid, `loaded ${loaded}`);
    } else if (mode === "garbage") {
      process.stdout.write("this is not json\n");
      await say(client, sid, "still here");
      process.stdout.write("{\"jsonrpc\": \"2.0\", broken\n");
    } else if (mode === "terminal_leak") {
      const t = acp.methods.client.terminal;
      const { terminalId } = await client.request(t.create, {
        sessionId: sid,
        command: "flock",
        args: ["-x", "held.lock", "sh", "-c", "echo locked; exec sleep 600"],
      });
      for (let i = 0; i < 400; i++) {
        const out = await client.request(t.output, { sessionId: sid, terminalId });
        if (out.output.includes("locked")) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      await say(client, sid, "left it running");
    } else if (mode === "plan") {
      const entry = (content, status) => ({ content, priority: "high", status });
      for (const entries of [
        [entry("read", "in_progress"), entry("write", "pending"), { content: "bad", priority: "urgent" }],
        [entry("read", "completed"), entry("write", "in_progress")],
      ]) {
        await client.notify(acp.methods.client.session.update, {
          sessionId: sid,
          update: { sessionUpdate: "plan", entries },
        });
      }
      await say(client, sid, "planned");
    } else if (mode === "terminal" && !clientCaps?.terminal) {
      await say(client, sid, "no terminal capability");
    } else if (mode === "terminal") {
      const t = acp.methods.client.terminal;
      const update = (u) => client.notify(acp.methods.client.session.update, { sessionId: sid, update: u });
      await update({ sessionUpdate: "tool_call", toolCallId: "run-1", title: "run", kind: "execute" });
      try {
        const { terminalId } = await client.request(t.create, {
          sessionId: sid,
          command: "sh",
          args: ["-c", "printf 'one two three'; exit 3"],
          outputByteLimit: 5,
        });
        const exit = await client.request(t.waitForExit, { sessionId: sid, terminalId });
        const out = await client.request(t.output, { sessionId: sid, terminalId });
        await client.request(t.release, { sessionId: sid, terminalId });
        await update({
          sessionUpdate: "tool_call_update",
          toolCallId: "run-1",
          status: "failed",
          content: [{ type: "terminal", terminalId }],
        });
        await say(client, sid, `exit=${exit.exitCode} output=${out.output} truncated=${out.truncated}`);
      } catch (e) {
        await update({ sessionUpdate: "tool_call_update", toolCallId: "run-1", status: "failed" });
        await say(client, sid, `terminal error: ${e.message}`);
      }
    } else if (mode === "running_permission") {
      // As codex-acp does with its patch: the call is shown running before the permission is asked for it.
      const toolCallId = `patch-${++prompts}`;
      const rawInput = { changes: { "a.txt": "x" } };
      const update = (u) => client.notify(acp.methods.client.session.update, { sessionId: sid, update: u });
      const call = { toolCallId, title: "apply_patch", kind: "edit", rawInput };
      await update({ sessionUpdate: "tool_call", ...call, status: "in_progress" });
      const { outcome } = await client.request(acp.methods.client.session.requestPermission, {
        sessionId: sid,
        toolCall: call,
        options: [
          { optionId: "yes", name: "Allow", kind: "allow_once" },
          { optionId: "no", name: "Reject", kind: "reject_once" },
        ],
      });
      const picked = outcome.outcome === "selected" ? outcome.optionId : outcome.outcome;
      const text = { type: "content", content: { type: "text", text: `applied with ${picked}` } };
      await update(
        picked === "yes"
          ? { sessionUpdate: "tool_call_update", toolCallId, status: "completed", content: [text] }
          : { sessionUpdate: "tool_call_update", toolCallId, status: "failed" },
      );
      await say(client, sid, `permission: ${picked}`);
    } else if (mode === "late_permission" && lateAnswer) {
      await say(client, sid, `late permission: ${await lateAnswer}`);
    } else if (mode === "late_permission") {
      await say(client, sid, "waiting");
      await new Promise((resolve) => (cancelled = resolve));
      return { stopReason: "cancelled" };
    }
    return { stopReason: "end_turn" };
  });

app.connect(acp.ndJsonStream(Writable.toWeb(process.stdout), Readable.toWeb(process.stdin)));
