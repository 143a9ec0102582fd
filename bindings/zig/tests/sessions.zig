//! End-to-end tests of the Zig binding on real sessions (scripted model): streaming, approvals, steering, a crash
//! restart and errors. std.testing.allocator fails a test that leaks an event, a string or a session ID.
const std = @import("std");
const tandem = @import("tandem");
const testing = std.testing;

const config = "{\"store_dir\": null}";
const wait_ms = 10_000;

/// Collects events until one of `kind` for `session_id` arrives (returned, owned by the caller); the others are
/// appended to `log` when given, else freed.
fn pullUntil(client: tandem.Client, session_id: []const u8, kind: tandem.EventKind, log: ?*std.ArrayList(tandem.Event)) !tandem.Event {
    var it = client.events(testing.allocator, wait_ms);
    while (try it.next()) |event| {
        const mine = event.session_id != null and std.mem.eql(u8, event.session_id.?, session_id);
        if (mine and event.kind == kind) return event;
        if (log) |l| try l.append(event) else event.deinit();
    }
    std.debug.print("no {s} event within {d} ms\n", .{ @tagName(kind), wait_ms });
    return error.TestUnexpectedResult;
}

fn freeAll(log: *std.ArrayList(tandem.Event)) void {
    for (log.items) |e| e.deinit();
    log.deinit();
}

fn streamedText(allocator: std.mem.Allocator, log: []const tandem.Event) ![]u8 {
    var text = std.ArrayList(u8).init(allocator);
    for (log) |e| if (e.kind == .text_delta) try text.appendSlice(e.string("delta").?);
    return text.toOwnedSlice();
}

test "streaming: the echo model streams the prompt back" {
    var client = try tandem.Client.init(config);
    defer client.deinit();
    var session = try client.startSession(testing.allocator, "{\"model\": \"scripted:echo\"}");
    defer session.deinit();
    try testing.expectEqual(tandem.PromptResult.sent, try session.sendPrompt("hello from Zig"));
    var log = std.ArrayList(tandem.Event).init(testing.allocator);
    defer freeAll(&log);
    const ended = try pullUntil(client, session.id, .turn_ended, &log);
    defer ended.deinit();
    try testing.expectEqualStrings("completed", ended.string("reason").?);
    const text = try streamedText(testing.allocator, log.items);
    defer testing.allocator.free(text);
    try testing.expectEqualStrings("hello from Zig", text);
    try testing.expectEqual(tandem.EventKind.session_started, log.items[0].kind);
    for (log.items, 1..) |e, i| try testing.expectEqual(@as(u64, i), e.seq);
    try testing.expectEqual(tandem.SessionStatus.idle, try session.status());
    const messages = try session.messages(testing.allocator);
    defer testing.allocator.free(messages);
    try testing.expect(std.mem.indexOf(u8, messages, "\"kind\":\"assistant\",\"text\":\"hello from Zig\"") != null);
}

fn writeOptions(buf: []u8, dir: []const u8, file: []const u8) ![:0]u8 {
    return std.fmt.bufPrintZ(buf,
        \\{{"workdir": "{s}", "script": [[{{"text": "writing"}}, {{"tool_call": {{"name": "write_file", "args": {{"path": "{s}", "content": "hi"}}}}}}], [{{"text": "done"}}]]}}
    , .{ dir, file });
}

test "approvals: approved writes run, rejected ones do not" {
    var tmp = testing.tmpDir(.{});
    defer tmp.cleanup();
    const dir = try tmp.dir.realpathAlloc(testing.allocator, ".");
    defer testing.allocator.free(dir);
    var client = try tandem.Client.init(config);
    defer client.deinit();
    var buf: [1024]u8 = undefined;

    var session = try client.startSession(testing.allocator, try writeOptions(&buf, dir, "f.txt"));
    defer session.deinit();
    _ = try session.sendPrompt("write it");
    const pending = try pullUntil(client, session.id, .approval_pending, null);
    defer pending.deinit();
    try testing.expectError(error.FileNotFound, tmp.dir.access("f.txt", .{}));
    try session.respondToApproval(pending.approvalId().?, .approve_session);
    try testing.expectError(error.NoPendingApproval, session.approve(pending.approvalId().?));
    const trusted = try session.trustedTools(testing.allocator);
    defer testing.allocator.free(trusted);
    try testing.expectEqualStrings("{\"write_file\":\"session\"}", trusted);
    try session.revokeTrust("write_file");
    try testing.expectError(error.NotFound, session.revokeTrust("write_file"));
    try session.revokeTrust(null);
    const ended = try pullUntil(client, session.id, .turn_ended, null);
    ended.deinit();
    const content = try tmp.dir.readFileAlloc(testing.allocator, "f.txt", 100);
    defer testing.allocator.free(content);
    try testing.expectEqualStrings("hi", content);

    var other = try client.startSession(testing.allocator, try writeOptions(&buf, dir, "g.txt"));
    defer other.deinit();
    _ = try other.sendPrompt("write it");
    const pending2 = try pullUntil(client, other.id, .approval_pending, null);
    defer pending2.deinit();
    try other.reject(pending2.approvalId().?);
    const tool_end = try pullUntil(client, other.id, .tool_ended, null);
    defer tool_end.deinit();
    try testing.expect(tool_end.get("is_error").?.bool);
    (try pullUntil(client, other.id, .turn_ended, null)).deinit();
    try testing.expectError(error.FileNotFound, tmp.dir.access("g.txt", .{}));
}

test "steering: a prompt sent during a turn reaches it" {
    var tmp = testing.tmpDir(.{});
    defer tmp.cleanup();
    const dir = try tmp.dir.realpathAlloc(testing.allocator, ".");
    defer testing.allocator.free(dir);
    var client = try tandem.Client.init(config);
    defer client.deinit();
    var buf: [1024]u8 = undefined;
    const options = try std.fmt.bufPrintZ(&buf,
        \\{{"workdir": "{s}", "script": [[{{"text": "working"}}, {{"delay_ms": 300}}, {{"tool_call": {{"name": "list_directory", "args": {{"path": "."}}}}}}], [{{"text": "steered"}}]]}}
    , .{dir});
    var session = try client.startSession(testing.allocator, options);
    defer session.deinit();
    _ = try session.sendPrompt("go");
    (try pullUntil(client, session.id, .text_delta, null)).deinit();
    try testing.expectEqual(tandem.PromptResult.queued_steering, try session.sendPrompt("turn left"));
    const queued = try pullUntil(client, session.id, .prompt_queued, null);
    defer queued.deinit();
    try testing.expectEqualStrings("steering", queued.string("queue").?);
    (try pullUntil(client, session.id, .turn_ended, null)).deinit();

    const messages = try session.messages(testing.allocator);
    defer testing.allocator.free(messages);
    const parsed = try std.json.parseFromSlice(std.json.Value, testing.allocator, messages, .{});
    defer parsed.deinit();
    var texts = std.ArrayList([]const u8).init(testing.allocator);
    defer texts.deinit();
    for (parsed.value.array.items) |m| {
        const kind = m.object.get("kind").?.string;
        if (std.mem.eql(u8, kind, "user") or std.mem.eql(u8, kind, "assistant"))
            try texts.append(m.object.get("text").?.string);
    }
    try testing.expectEqual(@as(usize, 4), texts.items.len);
    for ([_][]const u8{ "go", "working", "turn left", "steered" }, texts.items) |want, got|
        try testing.expectEqualStrings(want, got);
}

test "restart: a crashed session comes back with its token" {
    var client = try tandem.Client.init(config);
    defer client.deinit();
    var session = try client.startSession(testing.allocator,
        \\{"script": [[{"text": "before"}], [{"panic": "boom"}], [{"text": "after"}]]}
    );
    defer session.deinit();
    const token = try session.token(testing.allocator);
    defer testing.allocator.free(token);
    _ = try session.sendPrompt("one");
    (try pullUntil(client, session.id, .turn_ended, null)).deinit();
    _ = try session.sendPrompt("two");
    var log = std.ArrayList(tandem.Event).init(testing.allocator);
    defer freeAll(&log);
    const restarted = try pullUntil(client, session.id, .session_restarted, &log);
    defer restarted.deinit();
    try testing.expectEqual(@as(i64, 1), restarted.get("attempt").?.integer);
    var interrupted: usize = 0;
    for (log.items) |e| {
        if (e.kind == .turn_ended and std.mem.eql(u8, e.string("reason").?, "interrupted")) interrupted += 1;
    }
    try testing.expectEqual(@as(usize, 1), interrupted);
    var tries: usize = 0;
    while (true) : (tries += 1) {
        _ = session.sendPrompt("three") catch |err| {
            if (err == error.RestartPending and tries < 200) {
                std.time.sleep(10 * std.time.ns_per_ms);
                continue;
            }
            return err;
        };
        break;
    }
    var after = std.ArrayList(tandem.Event).init(testing.allocator);
    defer freeAll(&after);
    (try pullUntil(client, session.id, .turn_ended, &after)).deinit();
    const text = try streamedText(testing.allocator, after.items);
    defer testing.allocator.free(text);
    try testing.expectEqualStrings("after", text);
    const token_after = try session.token(testing.allocator);
    defer testing.allocator.free(token_after);
    try testing.expectEqualStrings(token, token_after);
}

test "errors: statuses become error values with a message" {
    try testing.expectError(error.InvalidJson, tandem.Client.init("{not json"));
    try testing.expect(std.mem.indexOf(u8, tandem.lastErrorMessage(), "line") != null);
    try testing.expectError(error.InvalidArgument, tandem.Client.init("{\"no_such_key\": 1}"));
    try testing.expect(std.mem.indexOf(u8, tandem.lastErrorMessage(), "no_such_key") != null);
    var client = try tandem.Client.init(config);
    defer client.deinit();
    var ghost = try client.session(testing.allocator, "session-404");
    defer ghost.deinit();
    try testing.expectError(error.NotFound, ghost.sendPrompt("hello?"));
    var session = try client.startSession(testing.allocator, "{\"session_id\": \"mine\"}");
    defer session.deinit();
    try testing.expectError(error.AlreadyExists, client.startSession(testing.allocator, "{\"session_id\": \"mine\"}"));
    try testing.expectError(error.NoPendingApproval, session.approve(null));
    // The remote gateway: plain ws only on loopback, and one at a time.
    try testing.expectError(error.InvalidArgument, client.listen(testing.allocator, "{\"address\": \"0.0.0.0:0\"}"));
    const url = try client.listen(testing.allocator, null);
    defer testing.allocator.free(url);
    try testing.expect(std.mem.startsWith(u8, url, "ws://127.0.0.1:"));
    try testing.expectError(error.AlreadyExists, client.listen(testing.allocator, null));
    try client.stopListening();
    try session.stop();
    try testing.expectError(error.NotFound, session.status());
    // After shutdown the iterator ends instead of failing.
    try client.shutdown(5000);
    var it = client.events(testing.allocator, 1000);
    while (try it.next()) |e| e.deinit();
}

test "governance: two task sub-agents answer, a token budget stops the tree, context files are listed" {
    var client = try tandem.Client.init(config);
    defer client.deinit();
    var tmp = testing.tmpDir(.{});
    defer tmp.cleanup();
    try tmp.dir.makeDir(".git");
    try tmp.dir.writeFile(.{ .sub_path = "AGENTS.md", .data = "Be brief.\n" });
    const dir = try tmp.dir.realpathAlloc(testing.allocator, ".");
    defer testing.allocator.free(dir);
    var buf: [2048]u8 = undefined;
    const opts = try std.fmt.bufPrintZ(&buf,
        \\{{"model": "scripted:x", "approval": "none", "workdir": "{s}", "max_tokens_total": 4, "script": [[{{"tool_call": {{"name": "task", "args": {{"prompt": "alpha", "model": "scripted:echo"}}}}}}, {{"tool_call": {{"name": "task", "args": {{"prompt": "beta", "model": "scripted:echo"}}}}}}], [{{"text": "done"}}]]}}
    , .{dir});
    var session = try client.startSession(testing.allocator, opts);
    defer session.deinit();
    const files = try session.contextFiles(testing.allocator);
    defer testing.allocator.free(files);
    try testing.expect(std.mem.indexOf(u8, files, "\"reason\":\"workdir\"") != null);
    _ = try session.sendPrompt("delegate");
    var log = std.ArrayList(tandem.Event).init(testing.allocator);
    defer freeAll(&log);
    const ended = try pullUntil(client, session.id, .turn_ended, &log);
    defer ended.deinit();
    // Each echo sub-agent reports 1 + 1 tokens: the tree's 4 are spent before the parent's next model call.
    try testing.expectEqualStrings("budget_exhausted", ended.string("reason").?);
    var alpha = false;
    var beta = false;
    var from_children = false;
    var stopped = false;
    for (log.items) |e| {
        const parents = e.session_id != null and std.mem.eql(u8, e.session_id.?, session.id);
        if (parents and e.kind == .tool_ended) {
            alpha = alpha or std.mem.eql(u8, e.string("result").?, "alpha");
            beta = beta or std.mem.eql(u8, e.string("result").?, "beta");
        }
        if (e.parentId()) |p| from_children = from_children or std.mem.eql(u8, p, session.id);
        stopped = stopped or (parents and e.kind == .budget_exhausted);
    }
    try testing.expect(alpha and beta and from_children and stopped);
    try testing.expectError(tandem.Error.InvalidArgument, session.setBudget("{\"max_tokens_total\": 0}"));
    try session.setBudget("{\"max_tokens_total\": null}");
    _ = try session.sendPrompt("go on");
    const again = try pullUntil(client, session.id, .turn_ended, null);
    defer again.deinit();
    try testing.expectEqualStrings("completed", again.string("reason").?);
}
