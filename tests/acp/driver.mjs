// Drives tandem-acp with the official ACP TypeScript SDK (@agentclientprotocol/sdk, pinned in
// tools/acp/package-lock.json) as an editor would, and prints what it saw as one JSON document for tests/acp.rs.
//
//   node driver.mjs SDK_DIR SPEC_JSON
//
// SPEC_JSON: {"agent": path of tandem-acp, "args": [...], "cwd": dir, "fs": {"read": bool, "write": bool},
//   "buffers": {path: text}, "permission": option id to pick ("allow_once", "allow_always", "reject") or "cancel",
//   "prompts": [text, ...], "cancel_after_chunk": bool, "load": session id or null, "list": bool, "mode": id,
//   "config": [[config id, value], ...]}
// Output: {"init", "session_id", "opened" (the new/load answer), "config" (each set_config_option's answer or
//   error), "stop_reasons", "errors", "updates", "permissions", "reads", "writes", "list", "exit_code"}. The driver asserts nothing itself: the Rust test does.

import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { join } from "node:path";
import { Readable, Writable } from "node:stream";
import { pathToFileURL } from "node:url";

const [sdkDir, specJson] = process.argv.slice(2);
const spec = JSON.parse(specJson);
const require = createRequire(join(sdkDir, "package.json"));
const acp = await import(pathToFileURL(require.resolve("@agentclientprotocol/sdk")).href);

const out = {
  init: null,
  session_id: null,
  opened: null,
  config: [],
  stop_reasons: [],
  errors: [],
  updates: [],
  permissions: [],
  reads: [],
  writes: [],
  list: null,
  exit_code: null,
};

const child = spawn(spec.agent, spec.args ?? [], { stdio: ["pipe", "pipe", "inherit"] });
const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve(code ?? signal)));
const stream = acp.ndJsonStream(Writable.toWeb(child.stdin), Readable.toWeb(child.stdout));

let firstChunk = null;
const sawChunk = new Promise((resolve) => (firstChunk = resolve));

const app = acp
  .client({ name: "tandem-acp-test" })
  .onNotification(acp.methods.client.session.update, ({ params }) => {
    out.updates.push(params.update);
    if (params.update.sessionUpdate === "agent_message_chunk") firstChunk();
  })
  .onRequest(acp.methods.client.session.requestPermission, async ({ params }) => {
    out.permissions.push(params);
    if (spec.permission === "cancel") return { outcome: { outcome: "cancelled" } };
    return { outcome: { outcome: "selected", optionId: spec.permission ?? "reject" } };
  })
  .onRequest(acp.methods.client.fs.readTextFile, async ({ params }) => {
    out.reads.push(params.path);
    const text = spec.buffers?.[params.path];
    if (text === undefined) throw acp.RequestError.resourceNotFound(params.path);
    return { content: text };
  })
  .onRequest(acp.methods.client.fs.writeTextFile, async ({ params }) => {
    out.writes.push({ path: params.path, content: params.content });
    return {};
  });

try {
  await app.connectWith(stream, async (ctx) => {
    out.init = await ctx.request(acp.methods.agent.initialize, {
      protocolVersion: acp.PROTOCOL_VERSION,
      clientCapabilities: {
        fs: { readTextFile: !!spec.fs?.read, writeTextFile: !!spec.fs?.write },
      },
    });
    if (spec.list) {
      out.list = await ctx.request(acp.methods.agent.session.list, {});
    }
    let sessionId = spec.load;
    if (sessionId) {
      out.opened = await ctx.request(acp.methods.agent.session.load, {
        sessionId,
        cwd: spec.cwd,
        mcpServers: [],
      });
    } else {
      out.opened = await ctx.request(acp.methods.agent.session.new, { cwd: spec.cwd, mcpServers: [] });
      sessionId = out.opened.sessionId;
    }
    out.session_id = sessionId;
    for (const [configId, value] of spec.config ?? []) {
      try {
        out.config.push(
          await ctx.request(acp.methods.agent.session.setConfigOption, { sessionId, configId, value }),
        );
      } catch (e) {
        out.config.push({ error: String(e?.message ?? e) });
      }
    }
    if (spec.mode) {
      await ctx.request(acp.methods.agent.session.setMode, { sessionId, modeId: spec.mode });
    }
    for (const text of spec.prompts ?? []) {
      const turn = ctx.request(acp.methods.agent.session.prompt, {
        sessionId,
        prompt: [{ type: "text", text }],
      });
      if (spec.cancel_after_chunk) {
        await sawChunk;
        await ctx.notify(acp.methods.agent.session.cancel, { sessionId });
      }
      try {
        out.stop_reasons.push((await turn).stopReason);
      } catch (e) {
        out.errors.push(String(e?.message ?? e));
      }
    }
  });
} catch (e) {
  out.errors.push(String(e?.stack ?? e));
}
child.stdin.end();
// An agent that does not exit when its client goes away is killed (and reported as such) after 10 s.
const grace = setTimeout(() => child.kill("SIGKILL"), 10000);
out.exit_code = await exited;
clearTimeout(grace);
process.stdout.write(JSON.stringify(out) + "\n");
