//! End-to-end tests of the rest of the Zig binding on real sessions (scripted model and the host provider): models,
//! skills, boundaries, branches, collapses, conversations, sub-agents, queues, callbacks, host tools answered from
//! other threads, the host provider and MCP servers. std.testing.allocator fails a test that leaks.
const std = @import("std");
const tandem = @import("tandem");
const testing = std.testing;

const config = "{\"store_dir\": null}";
const wait_ms = 10_000;

fn waitFor(client: tandem.Client, session_id: []const u8, kind: tandem.EventKind) !tandem.Event {
    var it = client.events(testing.allocator, wait_ms);
    while (try it.next()) |event| {
        if (event.kind == kind and event.session_id != null and std.mem.eql(u8, event.session_id.?, session_id))
            return event;
        event.deinit();
    }
    std.debug.print("no {s} event within {d} ms\n", .{ @tagName(kind), wait_ms });
    return error.TestUnexpectedResult;
}

fn turnEnded(client: tandem.Client, session_id: []const u8) ![]const u8 {
    const e = try waitFor(client, session_id, .turn_ended);
    defer e.deinit();
    const reason = e.string("reason").?;
    inline for (.{ "completed", "aborted", "error", "interrupted" }) |r| if (std.mem.eql(u8, reason, r)) return r;
    return "other";
}

fn parse(json: []const u8) !std.json.Parsed(std.json.Value) {
    return std.json.parseFromSlice(std.json.Value, testing.allocator, json, .{});
}

fn tmpPath(tmp: *std.testing.TmpDir) ![]u8 {
    return tmp.dir.realpathAlloc(testing.allocator, ".");
}

test "models, thinking levels, skills, boundaries, pages, summaries" {
    var tmp = testing.tmpDir(.{});
    defer tmp.cleanup();
    const dir = try tmpPath(&tmp);
    defer testing.allocator.free(dir);
    try tmp.dir.makePath(".tandem/skills/review");
    try tmp.dir.writeFile(.{ .sub_path = ".tandem/skills/review/SKILL.md", .data = "---\ndescription: Reviews code.\n---\nBe picky.\n" });
    var client = try tandem.Client.init(config);
    defer client.deinit();
    const options = try std.fmt.allocPrintZ(testing.allocator, "{{\"workdir\": \"{s}\", \"models\": [\"scripted:echo\", \"scripted:demo\"]}}", .{dir});
    defer testing.allocator.free(options);
    var session = try client.startSession(testing.allocator, options);
    defer session.deinit();

    const cycled = try session.cycleModel(testing.allocator);
    defer testing.allocator.free(cycled);
    const cp = try parse(cycled);
    defer cp.deinit();
    try testing.expectEqualStrings("scripted:demo", cp.value.object.get("model").?.string);
    const models = try session.availableModels(testing.allocator);
    defer testing.allocator.free(models);
    const mp = try parse(models);
    defer mp.deinit();
    try testing.expectEqual(@as(usize, 2), mp.value.array.items.len);
    try testing.expect(mp.value.array.items[1].object.get("current").?.bool);
    try session.setModel("scripted:echo");
    try testing.expectError(error.InvalidArgument, session.setModel("no-prefix"));
    try session.setThinkingLevel("low");
    const level = try session.cycleThinkingLevel(testing.allocator);
    defer testing.allocator.free(level);
    try testing.expectEqualStrings("medium", level);
    try testing.expectError(error.InvalidArgument, session.setThinkingLevel("extreme"));
    const commands = try session.commands(testing.allocator);
    defer testing.allocator.free(commands);
    try testing.expect(commands[0] == '[');

    const skills = try session.listSkills(testing.allocator);
    defer testing.allocator.free(skills);
    const sp = try parse(skills);
    defer sp.deinit();
    try testing.expectEqualStrings("review", sp.value.array.items[0].object.get("name").?.string);
    try testing.expectEqualStrings("Reviews code.", sp.value.array.items[0].object.get("description").?.string);
    try session.activateSkill("review");
    try session.deactivateSkill("review");
    try testing.expectError(error.NotFound, session.deactivateSkill("review"));
    try testing.expectError(error.NotFound, session.activateSkill("nope"));

    try session.setBoundary("a.txt", 1, 3);
    const boundary = try session.boundaryFor(testing.allocator, "a.txt");
    defer testing.allocator.free(boundary);
    const bp = try parse(boundary);
    defer bp.deinit();
    try testing.expectEqual(@as(i64, 1), bp.value.object.get("start_line").?.integer);
    try testing.expectEqual(@as(i64, 3), bp.value.object.get("end_line").?.integer);
    try testing.expectError(error.InvalidArgument, session.setBoundary("b.txt", 5, 2));
    try session.clearBoundary("a.txt");
    const none = try session.boundaryFor(testing.allocator, "a.txt");
    defer testing.allocator.free(none);
    try testing.expectEqualStrings("null", none);
    try session.setBoundary("b.txt", 0, 0);
    try session.clearAllBoundaries();
    const none2 = try session.boundaryFor(testing.allocator, "b.txt");
    defer testing.allocator.free(none2);
    try testing.expectEqualStrings("null", none2);

    _ = try session.sendPrompt("summarize me");
    try testing.expectEqualStrings("completed", try turnEnded(client, session.id));
    try session.addSystemMessage("note", .@"error");
    const page = try session.messagesPage(testing.allocator, 0, 1);
    defer testing.allocator.free(page);
    const pp = try parse(page);
    defer pp.deinit();
    try testing.expectEqual(@as(usize, 1), pp.value.object.get("messages").?.array.items.len);
    try testing.expectEqualStrings("note", pp.value.object.get("messages").?.array.items[0].object.get("text").?.string);
    try testing.expect(pp.value.object.get("has_more").?.bool);
    const summary = try session.summarize(testing.allocator);
    defer testing.allocator.free(summary);
    const sup = try parse(summary);
    defer sup.deinit();
    try std.fs.accessAbsolute(sup.value.object.get("path").?.string, .{});
    const compacted = try session.compact(testing.allocator);
    defer testing.allocator.free(compacted);
    try testing.expect(std.mem.indexOf(u8, compacted, "\"compacted\"") != null);
    const history = try session.eventsSince(testing.allocator, 0);
    defer testing.allocator.free(history);
    const hp = try parse(history);
    defer hp.deinit();
    try testing.expect(hp.value.object.get("events").?.array.items.len > 3);
}

test "branches, collapses, continue" {
    var tmp = testing.tmpDir(.{});
    defer tmp.cleanup();
    const dir = try tmpPath(&tmp);
    defer testing.allocator.free(dir);
    var client = try tandem.Client.init(config);
    defer client.deinit();
    const options = try std.fmt.allocPrintZ(testing.allocator,
        \\{{"workdir": "{s}", "script": [[{{"thinking": "hmm"}}, {{"tool_call": {{"name": "list_directory", "args": {{"path": "."}}}}}}], [{{"text": "ok"}}]]}}
    , .{dir});
    defer testing.allocator.free(options);
    var session = try client.startSession(testing.allocator, options);
    defer session.deinit();
    _ = try session.sendPrompt("look");
    try testing.expectEqualStrings("completed", try turnEnded(client, session.id));

    const messages = try session.messages(testing.allocator);
    defer testing.allocator.free(messages);
    const parsed = try parse(messages);
    defer parsed.deinit();
    var tool_id: u64 = 0;
    var user_id: u64 = 0;
    var tool_collapsed = false;
    for (parsed.value.array.items) |m| {
        const kind = m.object.get("kind").?.string;
        const id: u64 = @intCast(m.object.get("id").?.integer);
        if (std.mem.eql(u8, kind, "tool_call")) {
            tool_id = id;
            tool_collapsed = m.object.get("collapsed").?.bool;
        }
        if (std.mem.eql(u8, kind, "user") and user_id == 0) user_id = id;
    }
    try session.toggleToolCollapse(tool_id);
    const after = try session.messages(testing.allocator);
    defer testing.allocator.free(after);
    const after_parsed = try parse(after);
    defer after_parsed.deinit();
    for (after_parsed.value.array.items) |m| {
        if (m.object.get("id").?.integer == tool_id) try testing.expect(m.object.get("collapsed").?.bool != tool_collapsed);
    }
    try session.toggleAllToolCollapses();
    try testing.expectError(error.InvalidArgument, session.toggleToolCollapse(user_id));
    try testing.expectError(error.InvalidArgument, session.continueTurn());

    const full = parsed.value.array.items.len;
    const branch = try session.branchAt(testing.allocator, user_id);
    defer testing.allocator.free(branch);
    const bp = try parse(branch);
    defer bp.deinit();
    try testing.expectEqual(@as(i64, 1), bp.value.object.get("number").?.integer);
    const branches = try session.listBranches(testing.allocator);
    defer testing.allocator.free(branches);
    const lp = try parse(branches);
    defer lp.deinit();
    try testing.expectEqual(@as(usize, 1), lp.value.array.items.len);
    try testing.expectEqual(@as(i64, @intCast(full)), lp.value.array.items[0].object.get("message_count").?.integer);
    try session.switchBranch(1);
    try testing.expectError(error.NotFound, session.switchBranch(9));
}

test "conversations with a store" {
    var tmp = testing.tmpDir(.{});
    defer tmp.cleanup();
    const dir = try tmpPath(&tmp);
    defer testing.allocator.free(dir);
    const cfg = try std.fmt.allocPrintZ(testing.allocator, "{{\"store_dir\": \"{s}/store\"}}", .{dir});
    defer testing.allocator.free(cfg);
    var client = try tandem.Client.init(cfg);
    defer client.deinit();
    var session = try client.startSession(testing.allocator, null);
    defer session.deinit();
    _ = try session.sendPrompt("keep me");
    try testing.expectEqualStrings("completed", try turnEnded(client, session.id));
    const meta = try session.metadata(testing.allocator);
    defer testing.allocator.free(meta);
    const mp = try parse(meta);
    defer mp.deinit();
    const old = try testing.allocator.dupeZ(u8, mp.value.object.get("conversation_id").?.string);
    defer testing.allocator.free(old);
    try session.newConversation();
    const list = try client.conversations(testing.allocator);
    defer testing.allocator.free(list);
    try testing.expect(std.mem.indexOf(u8, list, old) != null);
    try session.loadConversation(old);
    const messages = try session.messages(testing.allocator);
    defer testing.allocator.free(messages);
    try testing.expect(std.mem.indexOf(u8, messages, "keep me") != null);
    try testing.expectError(error.Busy, client.deleteConversation(old));
    try testing.expectError(error.NotSupported, session.summarize(testing.allocator));
    try session.newConversation();
    try client.deleteConversation(old);
    try testing.expectError(error.NotFound, client.deleteConversation(old));
    try testing.expectError(error.NotFound, session.loadConversation(old));

    var memory = try tandem.Client.init(config);
    defer memory.deinit();
    const empty = try memory.conversations(testing.allocator);
    defer testing.allocator.free(empty);
    try testing.expectEqualStrings("[]", empty);
}

test "filtered pulls take one session's events and leave the others queued" {
    var client = try tandem.Client.init(config);
    defer client.deinit();
    var a = try client.startSession(testing.allocator, null);
    defer a.deinit();
    var b = try client.startSession(testing.allocator, null);
    defer b.deinit();
    _ = try a.sendPrompt("alpha");
    _ = try b.sendPrompt("beta");
    // a's events only, in sequence order, through its turn_ended.
    var seq: u64 = 0;
    while (true) {
        const e = (try client.nextSessionEvent(testing.allocator, a.id, wait_ms)) orelse return error.TestUnexpectedResult;
        defer e.deinit();
        try testing.expectEqualStrings(a.id, e.session_id.?);
        try testing.expectEqual(seq + 1, e.seq);
        seq = e.seq;
        if (e.kind == .turn_ended) break;
    }
    try testing.expect((try client.nextSessionEvent(testing.allocator, a.id, 20)) == null);
    // b's events are all still there for an unfiltered pull, from its session_started on.
    const first = (try client.nextEvent(testing.allocator, wait_ms)).?;
    defer first.deinit();
    try testing.expectEqualStrings(b.id, first.session_id.?);
    try testing.expectEqual(tandem.EventKind.session_started, first.kind);
    try testing.expectEqualStrings("completed", try turnEnded(client, b.id));
    try a.stop();
    const stopped = (try client.nextSessionEvent(testing.allocator, a.id, wait_ms)).?;
    defer stopped.deinit();
    try testing.expectEqual(tandem.EventKind.session_stopped, stopped.kind);
    try testing.expectError(error.NotFound, client.nextSessionEvent(testing.allocator, a.id, wait_ms));
    try testing.expectError(error.NotFound, client.nextSessionEvent(testing.allocator, "no-such-session", wait_ms));
}

test "the ready fd wakes a poller and batches drain it" {
    var client = try tandem.Client.init(config);
    defer client.deinit();
    const fd = try client.readyFd();
    try testing.expectEqual(fd, try client.readyFd());
    try testing.expectError(error.InvalidArgument, client.nextEvents(testing.allocator, 0));
    var s = try client.startSession(testing.allocator, null);
    defer s.deinit();
    _ = try s.sendPrompt("one two");
    var fds = [_]std.posix.pollfd{.{ .fd = fd, .events = std.posix.POLL.IN, .revents = 0 }};
    var ended = false;
    var rounds: usize = 0;
    while (!ended and rounds < 1000) : (rounds += 1) {
        if (try std.posix.poll(&fds, 1000) == 0) continue;
        const batch = try client.nextEvents(testing.allocator, 2);
        defer testing.allocator.free(batch);
        try testing.expect(batch[0] == '[');
        ended = std.mem.indexOf(u8, batch, "\"turn_ended\"") != null;
    }
    try testing.expect(ended);
    std.Thread.sleep(100 * std.time.ns_per_ms);
    while (true) {
        const batch = try client.nextEvents(testing.allocator, 64);
        defer testing.allocator.free(batch);
        if (std.mem.eql(u8, batch, "[]")) break;
    }
    try testing.expectEqual(@as(usize, 0), try std.posix.poll(&fds, 50));
    try client.shutdown(5000);
    try testing.expectEqual(@as(usize, 1), try std.posix.poll(&fds, 5000));
}

test "sub-agents, queues, start-or-get, helpers" {
    var client = try tandem.Client.init(config);
    defer client.deinit();
    var parent = try client.startOrGetSession(testing.allocator, "parent", null);
    defer parent.deinit();
    try testing.expectEqualStrings("parent", parent.id);
    var again = try client.startOrGetSession(testing.allocator, "parent", null);
    defer again.deinit();
    const handle = try client.startSubagent(testing.allocator, "parent", "count to three", null);
    defer testing.allocator.free(handle);
    const hp = try parse(handle);
    defer hp.deinit();
    try testing.expectEqualStrings("parent", hp.value.object.get("parent_session_id").?.string);
    const sub_id = hp.value.object.get("session_id").?.string;
    const listed = try client.subagents(testing.allocator, "parent");
    defer testing.allocator.free(listed);
    try testing.expect(std.mem.indexOf(u8, listed, sub_id) != null);
    const nobody = try client.subagents(testing.allocator, "nobody");
    defer testing.allocator.free(nobody);
    try testing.expectEqualStrings("[]", nobody);
    try testing.expectError(error.NotFound, client.startSubagent(testing.allocator, "session-404", "x", null));
    try testing.expectEqualStrings("completed", try turnEnded(client, sub_id));

    const wid = try tandem.workdirSessionId(testing.allocator, "/tmp/x/../y");
    defer testing.allocator.free(wid);
    const wid2 = try tandem.workdirSessionId(testing.allocator, "/tmp/y");
    defer testing.allocator.free(wid2);
    try testing.expectEqualStrings(wid, wid2);
    try testing.expect(std.mem.startsWith(u8, wid, "workdir-") and wid.len == 24);
    try testing.expectEqualStrings("TANDEM_ERR_BUSY", tandem.statusName(tandem.c.TANDEM_ERR_BUSY));
    const joined = try tandem.queueEntriesToText(testing.allocator, "[\"a\", [{\"type\": \"text\", \"text\": \"b\"}]]");
    defer testing.allocator.free(joined);
    try testing.expectEqualStrings("a\n\nb", joined);

    var slow = try client.startSession(testing.allocator,
        \\{"script": [[{"text": "slow"}, {"delay_ms": 400}, {"text": "!"}]]}
    );
    defer slow.deinit();
    try testing.expectEqual(tandem.PromptResult.sent, try slow.sendPromptParts("[{\"type\": \"text\", \"text\": \"parts\"}]"));
    try testing.expectEqual(tandem.PromptResult.queued_follow_up, try slow.queueFollowUp("later"));
    try testing.expectEqual(tandem.PromptResult.queued_steering, try slow.queueSteering("steer"));
    const queued = try slow.queuedMessages(testing.allocator);
    defer testing.allocator.free(queued);
    try testing.expect(std.mem.indexOf(u8, queued, "later") != null and std.mem.indexOf(u8, queued, "steer") != null);
    const steering = try slow.dequeueSteering(testing.allocator);
    defer testing.allocator.free(steering);
    try testing.expect(std.mem.indexOf(u8, steering, "steer") != null);
    const recalled = try slow.recallQueues(testing.allocator);
    defer testing.allocator.free(recalled);
    try testing.expect(std.mem.indexOf(u8, recalled, "later") != null);
    _ = try slow.queueFollowUp("again");
    try slow.clearQueues();
    const cleared = try slow.queuedMessages(testing.allocator);
    defer testing.allocator.free(cleared);
    const clp = try parse(cleared);
    defer clp.deinit();
    try testing.expectEqual(@as(usize, 0), clp.value.object.get("steering").?.array.items.len);
    try testing.expectEqual(@as(usize, 0), clp.value.object.get("follow_up").?.array.items.len);
    try testing.expectEqualStrings("completed", try turnEnded(client, slow.id));
}

const Collector = struct {
    mutex: std.Thread.Mutex = .{},
    cond: std.Thread.Condition = .{},
    text: std.ArrayList(u8),
    ended: bool = false,

    fn onEvent(self: *Collector, event: tandem.EventRef) void {
        self.mutex.lock();
        defer self.mutex.unlock();
        if (event.kind == .text_delta) {
            var owned = event.toEvent(testing.allocator) catch return;
            defer owned.deinit();
            self.text.appendSlice(owned.string("delta").?) catch {};
        }
        if (event.kind == .turn_ended) {
            self.ended = true;
            self.cond.signal();
        }
    }
};

test "callbacks: subscribe and unsubscribe" {
    var client = try tandem.Client.init("{\"store_dir\": null, \"pull_events\": false}");
    defer client.deinit();
    var session = try client.startSession(testing.allocator, null);
    defer session.deinit();
    var collector = Collector{ .text = std.ArrayList(u8).init(testing.allocator) };
    defer collector.text.deinit();
    const sub = try client.subscribe(session.id, *Collector, &collector, Collector.onEvent);
    _ = try session.sendPrompt("pushed");
    {
        collector.mutex.lock();
        defer collector.mutex.unlock();
        while (!collector.ended) try collector.cond.timedWait(&collector.mutex, wait_ms * std.time.ns_per_ms);
        try testing.expectEqualStrings("pushed", collector.text.items);
    }
    try client.unsubscribe(sub);
    try testing.expectError(error.NotFound, client.unsubscribe(sub));
}

const Tools = struct {
    mutex: std.Thread.Mutex = .{},
    threads: [8]std.Thread = undefined,
    count: usize = 0,
    completed_twice_refused: std.atomic.Value(u32) = std.atomic.Value(u32).init(0),

    fn answerLater(self: *Tools, call: tandem.ToolCall, a: i64, b: i64) void {
        std.time.sleep(50 * std.time.ns_per_ms);
        var buf: [32]u8 = undefined;
        const result = std.fmt.bufPrintZ(&buf, "{d}", .{a + b}) catch unreachable;
        call.complete(result, false) catch return;
        if (call.isCancelled()) {
            if (call.complete("again", false)) |_| {} else |err| {
                if (err == error.NotFound) _ = self.completed_twice_refused.fetchAdd(1, .monotonic);
            }
        }
    }

    fn onCall(self: *Tools, call: tandem.ToolCall) void {
        const parsed = std.json.parseFromSlice(struct { a: i64, b: i64 }, testing.allocator, call.args_json, .{}) catch {
            call.complete("bad arguments", true) catch {};
            return;
        };
        defer parsed.deinit();
        self.mutex.lock();
        defer self.mutex.unlock();
        // The strings of `call` are borrowed; the handle alone is enough to answer later.
        const later = tandem.ToolCall{ .handle = call.handle, .session_id = "", .tool_call_id = "", .name = "", .args_json = "" };
        self.threads[self.count] = std.Thread.spawn(.{}, answerLater, .{ self, later, parsed.value.a, parsed.value.b }) catch {
            call.complete("no thread", true) catch {};
            return;
        };
        self.count += 1;
    }
};

test "host tools answered from another thread" {
    var client = try tandem.Client.init(config);
    defer client.deinit();
    var tools = Tools{};
    try client.registerTool(
        \\{"name": "slow_add", "description": "Adds a and b later.", "parameters": {"type": "object"}}
    , *Tools, &tools, Tools.onCall);
    try testing.expectError(error.AlreadyExists, client.registerTool(
        \\{"name": "slow_add", "description": "x", "parameters": {"type": "object"}}
    , *Tools, &tools, Tools.onCall));
    var session = try client.startSession(testing.allocator,
        \\{"script": [[{"tool_call": {"name": "slow_add", "args": {"a": 20, "b": 22}}}], [{"text": "ok"}]]}
    );
    defer session.deinit();
    _ = try session.sendPrompt("go");
    const ended = try waitFor(client, session.id, .tool_ended);
    defer ended.deinit();
    try testing.expectEqualStrings("42", ended.string("result").?);
    try testing.expectEqualStrings("completed", try turnEnded(client, session.id));
    tools.mutex.lock();
    for (tools.threads[0..tools.count]) |t| t.join();
    tools.mutex.unlock();
    try testing.expectEqual(@as(u32, 1), tools.completed_twice_refused.load(.monotonic));
    try client.unregisterTool("slow_add");
    try testing.expectError(error.NotFound, client.unregisterTool("slow_add"));
}

const Host = struct {
    mutex: std.Thread.Mutex = .{},
    cond: std.Thread.Condition = .{},
    threads: [8]std.Thread = undefined,
    count: usize = 0,
    models: std.ArrayList([]u8),
    late_refused: std.atomic.Value(u32) = std.atomic.Value(u32).init(0),
    /// For the abort test: the request is parked here instead of answered.
    parked: ?tandem.ProviderRequest = null,
    park: bool = false,

    fn answer(self: *Host, req: tandem.ProviderRequest) void {
        defer req.deinit();
        const has_result = std.mem.indexOf(u8, req.request_json, "\"role\":\"tool_result\"") != null;
        if (!has_result) {
            req.text("Reading.") catch return;
            req.toolCall("c1", "read_file", "{\"path\": \"a.txt\"}") catch return;
            req.usage(10, 2) catch return;
            req.done(null) catch return;
        } else {
            if (std.mem.indexOf(u8, req.request_json, "alpha") == null) {
                req.fail("the tool result is missing", false) catch {};
                return;
            }
            req.text(" It says alpha.") catch return;
            req.done("max_tokens") catch return;
        }
        if (req.isCancelled()) {
            req.text("late") catch |err| {
                if (err == error.NotFound) _ = self.late_refused.fetchAdd(1, .monotonic);
            };
        }
    }

    fn onRequest(self: *Host, req: tandem.ProviderRequest) void {
        self.mutex.lock();
        defer self.mutex.unlock();
        const parsed = std.json.parseFromSlice(struct { model: []const u8 }, testing.allocator, req.request_json, .{ .ignore_unknown_fields = true }) catch return;
        defer parsed.deinit();
        const model = testing.allocator.dupe(u8, parsed.value.model) catch return;
        self.models.append(model) catch testing.allocator.free(model);
        const copy = req.clone(testing.allocator) catch return;
        if (self.park) {
            self.parked = copy;
            self.cond.signal();
            return;
        }
        self.threads[self.count] = std.Thread.spawn(.{}, answer, .{ self, copy }) catch {
            copy.deinit();
            return;
        };
        self.count += 1;
    }
};

test "host provider answered from another thread; abort cancels; clearing ends prompts with an error" {
    var tmp = testing.tmpDir(.{});
    defer tmp.cleanup();
    const dir = try tmpPath(&tmp);
    defer testing.allocator.free(dir);
    try tmp.dir.writeFile(.{ .sub_path = "a.txt", .data = "alpha\n" });
    var client = try tandem.Client.init(config);
    defer client.deinit();
    var host = Host{ .models = std.ArrayList([]u8).init(testing.allocator) };
    defer {
        for (host.models.items) |m| testing.allocator.free(m);
        host.models.deinit();
    }
    try client.setProvider(testing.allocator, *Host, &host, Host.onRequest);
    const options = try std.fmt.allocPrintZ(testing.allocator,
        \\{{"provider": "host", "model": "host:zig", "workdir": "{s}", "tools": ["read_file"]}}
    , .{dir});
    defer testing.allocator.free(options);
    var session = try client.startSession(testing.allocator, options);
    defer session.deinit();
    _ = try session.sendPrompt("what is in a.txt?");
    var text = std.ArrayList(u8).init(testing.allocator);
    defer text.deinit();
    var it = client.events(testing.allocator, wait_ms);
    while (try it.next()) |event| {
        defer event.deinit();
        if (event.kind == .text_delta) try text.appendSlice(event.string("delta").?);
        if (event.kind == .turn_ended) {
            try testing.expectEqualStrings("completed", event.string("reason").?);
            break;
        }
    }
    try testing.expectEqualStrings("Reading. It says alpha.", text.items);
    host.mutex.lock();
    for (host.threads[0..host.count]) |t| t.join();
    host.count = 0;
    try testing.expectEqual(@as(usize, 2), host.models.items.len);
    for (host.models.items) |m| try testing.expectEqualStrings("host:zig", m);
    host.park = true;
    host.mutex.unlock();
    try testing.expectEqual(@as(u32, 2), host.late_refused.load(.monotonic));

    // Abort: the parked request is cancelled and refuses events; a malformed event is invalid.
    _ = try session.sendPrompt("x");
    const req = blk: {
        host.mutex.lock();
        defer host.mutex.unlock();
        while (host.parked == null) try host.cond.timedWait(&host.mutex, wait_ms * std.time.ns_per_ms);
        break :blk host.parked.?;
    };
    defer req.deinit();
    try req.text("partial");
    try testing.expect(!client.providerRequestIsCancelled(req.request_id));
    try session.abort();
    try testing.expectEqualStrings("aborted", try turnEnded(client, session.id));
    try testing.expect(req.isCancelled());
    try testing.expectError(error.NotFound, req.done(null));
    const bogus = try tandem.withRequestId(testing.allocator, req.request_id, "{\"type\": \"bogus\"}");
    defer testing.allocator.free(bogus);
    try testing.expectError(error.InvalidArgument, client.providerEmit(session.id, bogus));

    // Without a provider the provider of host sessions is not ready: prompts are refused.
    try client.clearProvider();
    try testing.expectError(error.ProviderNotReady, session.sendPrompt("y"));
}

/// The next mcp_server_status event of `session_id` in `state` (freed here: only its arrival matters).
fn waitState(client: tandem.Client, session_id: []const u8, state: []const u8) !void {
    while (true) {
        const e = try waitFor(client, session_id, .mcp_server_status);
        defer e.deinit();
        if (std.mem.eql(u8, e.string("state").?, state)) return;
    }
}

test "MCP servers: listed with their tools, disabled and enabled at run time" {
    // The fake stdio server of the Rust tests; `zig build test` runs in bindings/zig.
    const script = try std.fs.cwd().realpathAlloc(testing.allocator, "../../tests/mcp/fake_server.py");
    defer testing.allocator.free(script);
    var buf: [1024]u8 = undefined;
    const opts = try std.fmt.bufPrintZ(&buf,
        \\{{"model": "scripted:echo", "mcp_servers": {{"fake": {{"command": "python3", "args": ["{s}", "ok"]}}}}}}
    , .{script});
    var client = try tandem.Client.init(config);
    defer client.deinit();
    var session = try client.startSession(testing.allocator, opts);
    defer session.deinit();
    try waitState(client, session.id, "ready");

    const listed = try session.mcpServers(testing.allocator);
    defer testing.allocator.free(listed);
    const p = try parse(listed);
    defer p.deinit();
    const server = p.value.array.items[0].object;
    try testing.expectEqualStrings("fake", server.get("name").?.string);
    try testing.expectEqualStrings("ready", server.get("state").?.string);
    var write_gated = false;
    for (server.get("tools").?.array.items) |t| {
        if (std.mem.eql(u8, t.object.get("tool").?.string, "write")) write_gated = t.object.get("gated").?.bool;
    }
    try testing.expect(write_gated);

    try session.setMcpEnabled("fake", false);
    try waitState(client, session.id, "disabled");
    const off = try session.mcpServers(testing.allocator);
    defer testing.allocator.free(off);
    const po = try parse(off);
    defer po.deinit();
    try testing.expect(!po.value.array.items[0].object.get("enabled").?.bool);
    try testing.expectEqual(@as(usize, 0), po.value.array.items[0].object.get("tools").?.array.items.len);

    try session.setMcpEnabled("fake", true);
    try waitState(client, session.id, "ready");
    try testing.expectError(error.NotFound, session.setMcpEnabled("nope", true));
}

const Guard = struct {
    calls: std.atomic.Value(u32) = std.atomic.Value(u32).init(0),
    bad_json: std.atomic.Value(u32) = std.atomic.Value(u32).init(0),

    fn onPreToolUse(self: *Guard, call: tandem.HookCall) void {
        _ = self.calls.fetchAdd(1, .monotonic);
        if (std.mem.indexOf(u8, call.input_json, "\"path\":\"a.env\"") != null) {
            call.reply("{\"decision\": \"deny\", \"reason\": \"no env files\"}") catch {};
        } else {
            call.reply("{\"tool_input\": {\"path\": \"c.txt\", \"content\": \"final\"}}") catch {};
        }
    }

    fn onPostToolUse(self: *Guard, call: tandem.HookCall) void {
        // Malformed JSON is refused with a status, then a good answer replaces it.
        if (call.reply("{\"additional_context\": ")) |_| {} else |err| {
            if (err == error.InvalidJson) _ = self.bad_json.fetchAdd(1, .monotonic);
        }
        call.reply("{\"additional_context\": \"formatted\"}") catch {};
    }
};

test "hooks deny, rewrite and add context" {
    var tmp = std.testing.tmpDir(.{});
    defer tmp.cleanup();
    const dir = try tmpPath(&tmp);
    defer testing.allocator.free(dir);
    var client = try tandem.Client.init(config);
    defer client.deinit();
    const options = try std.fmt.allocPrintZ(testing.allocator,
        \\{{"model": "scripted:x", "approval": "none", "workdir": "{s}", "script": [
        \\ [{{"tool_call": {{"name": "write_file", "args": {{"path": "a.env", "content": "x"}}}}}}],
        \\ [{{"tool_call": {{"name": "write_file", "args": {{"path": "b.txt", "content": "draft"}}}}}}],
        \\ [{{"text": "ok"}}]]}}
    , .{dir});
    defer testing.allocator.free(options);
    var session = try client.startSession(testing.allocator, options);
    defer session.deinit();
    var guard = Guard{};
    _ = try client.addHook(session.id, "{\"event\": \"PreToolUse\", \"matcher\": \"Write|Edit\"}", *Guard, &guard, Guard.onPreToolUse);
    const post = try client.addHook(null, "{\"event\": \"PostToolUse\", \"matcher\": \"write_file\"}", *Guard, &guard, Guard.onPostToolUse);
    try testing.expectError(error.InvalidArgument, client.addHook(null, "{\"event\": \"Later\"}", *Guard, &guard, Guard.onPostToolUse));
    _ = try session.sendPrompt("go");
    const denied = try waitFor(client, session.id, .tool_ended);
    defer denied.deinit();
    try testing.expectEqualStrings("Blocked by a PreToolUse hook: no env files", denied.string("result").?);
    const rewritten = try waitFor(client, session.id, .tool_ended);
    defer rewritten.deinit();
    try testing.expect(std.mem.endsWith(u8, rewritten.string("result").?, "\n\nformatted"));
    try testing.expectEqualStrings("completed", try turnEnded(client, session.id));
    try testing.expectEqual(@as(u32, 2), guard.calls.load(.monotonic));
    try testing.expectEqual(@as(u32, 1), guard.bad_json.load(.monotonic));
    const written = try tmp.dir.readFileAlloc(testing.allocator, "c.txt", 100);
    defer testing.allocator.free(written);
    try testing.expectEqualStrings("final", written);
    try client.removeHook(post);
    try testing.expectError(error.NotFound, client.removeHook(post));
}
