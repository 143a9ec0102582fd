//! tandem for Zig: a thin wrapper over include/tandem.h.
//!
//! - Failing calls return `tandem.Error` (one error per `tandem_status`); `lastErrorMessage()` explains the last
//!   failure on the calling thread.
//! - Strings go in as `[:0]const u8` (string literals coerce; build others with `allocPrintZ`) and come out as
//!   `[]u8` copies owned by the allocator you pass; the C strings are freed here.
//! - Events come from an iterator (`client.events(allocator, timeout_ms)`) as `Event` values that own their JSON
//!   and its parsed `std.json.Value`; call `event.deinit()`.
//! - `Client` owns the C client; `deinit` shuts it down and frees it. `Session` is a client pointer plus an owned ID.
//! - Callbacks (`Client.subscribe`, `Client.registerTool`, `Client.setProvider`, `Client.addHook`) take a comptime
//!   context type, a context value (a pointer the caller keeps alive while the callback is registered) and a
//!   comptime handler `fn (Context, ...) void`; they run on tandem-owned threads. What they get is borrowed for the call.
//! - Every function of include/tandem.h is wrapped (scripts/test-zig.sh checks it).
//!
//! ```zig
//! var client = try tandem.Client.init("{\"store_dir\": null}");
//! defer client.deinit();
//! var session = try client.startSession(allocator, "{\"model\": \"scripted:echo\"}");
//! defer session.deinit();
//! _ = try session.sendPrompt("hello");
//! var it = client.events(allocator, 5000);
//! while (try it.next()) |event| {
//!     defer event.deinit();
//!     if (event.kind == .text_delta) std.debug.print("{s}", .{event.string("delta").?});
//!     if (event.kind == .turn_ended) break;
//! }
//! ```
const std = @import("std");

/// The raw C API, for anything this wrapper does not cover.
pub const c = @cImport(@cInclude("tandem.h"));

/// One error per `tandem_status` failure value.
pub const Error = error{
    NullArgument,
    InvalidUtf8,
    InvalidJson,
    InvalidArgument,
    NotFound,
    AlreadyExists,
    RestartPending,
    ProviderNotReady,
    NotSupported,
    NoPendingApproval,
    Busy,
    Timeout,
    ReentrantCall,
    ShuttingDown,
    Forked,
    Io,
    Provider,
    Panic,
    Internal,
    /// A status value newer than this wrapper.
    Unknown,
};

/// The error for a `tandem_status` (`null` for `TANDEM_OK`).
pub fn errorFromStatus(status: c.tandem_status) ?Error {
    return switch (status) {
        c.TANDEM_OK => null,
        c.TANDEM_ERR_NULL_ARGUMENT => error.NullArgument,
        c.TANDEM_ERR_INVALID_UTF8 => error.InvalidUtf8,
        c.TANDEM_ERR_INVALID_JSON => error.InvalidJson,
        c.TANDEM_ERR_INVALID_ARGUMENT => error.InvalidArgument,
        c.TANDEM_ERR_NOT_FOUND => error.NotFound,
        c.TANDEM_ERR_ALREADY_EXISTS => error.AlreadyExists,
        c.TANDEM_ERR_RESTART_PENDING => error.RestartPending,
        c.TANDEM_ERR_PROVIDER_NOT_READY => error.ProviderNotReady,
        c.TANDEM_ERR_NOT_SUPPORTED => error.NotSupported,
        c.TANDEM_ERR_NO_PENDING_APPROVAL => error.NoPendingApproval,
        c.TANDEM_ERR_BUSY => error.Busy,
        c.TANDEM_ERR_TIMEOUT => error.Timeout,
        c.TANDEM_ERR_REENTRANT_CALL => error.ReentrantCall,
        c.TANDEM_ERR_SHUTTING_DOWN => error.ShuttingDown,
        c.TANDEM_ERR_FORKED => error.Forked,
        c.TANDEM_ERR_IO => error.Io,
        c.TANDEM_ERR_PROVIDER => error.Provider,
        c.TANDEM_ERR_PANIC => error.Panic,
        c.TANDEM_ERR_INTERNAL => error.Internal,
        else => error.Unknown,
    };
}

fn check(status: c.tandem_status) Error!void {
    if (errorFromStatus(status)) |err| return err;
}

/// The detail of the calling thread's last failed call ("" if none). Valid until the next failure on this thread.
pub fn lastErrorMessage() [:0]const u8 {
    return std.mem.span(c.tandem_last_error_message());
}

/// The library version, e.g. "0.1.0".
pub fn version() [:0]const u8 {
    return std.mem.span(c.tandem_version());
}

/// The C name of a status value, e.g. "TANDEM_ERR_NOT_FOUND" ("TANDEM_UNKNOWN_STATUS" for other values).
pub fn statusName(status: c.tandem_status) [:0]const u8 {
    return std.mem.span(c.tandem_status_name(status));
}

/// The stable session ID for a working directory ("workdir-" + 16 hex digits), owned by `allocator`.
pub fn workdirSessionId(allocator: std.mem.Allocator, path: [:0]const u8) ![]u8 {
    var out: [*c]u8 = null;
    try check(c.tandem_workdir_session_id(path.ptr, &out));
    return takeString(allocator, out);
}

/// Queue entries (a JSON array of strings or content-part arrays, as `recallQueues` returns them) as one text for a
/// prompt input: entries separated by a blank line, images left out. Owned by `allocator`.
pub fn queueEntriesToText(allocator: std.mem.Allocator, entries_json: [:0]const u8) ![]u8 {
    var out: [*c]u8 = null;
    try check(c.tandem_queue_entries_to_text(entries_json.ptr, &out));
    return takeString(allocator, out);
}

fn optZ(s: ?[:0]const u8) [*c]const u8 {
    return if (s) |z| z.ptr else null;
}

/// `event_json` (a JSON object) with `"request_id": request_id` as its first member, NUL-terminated, owned by
/// `allocator`. `error.InvalidArgument` when `event_json` is not an object.
pub fn withRequestId(allocator: std.mem.Allocator, request_id: u64, event_json: []const u8) ![:0]u8 {
    const trimmed = std.mem.trimLeft(u8, event_json, " \t\r\n");
    if (trimmed.len == 0 or trimmed[0] != '{') return error.InvalidArgument;
    const rest = std.mem.trimLeft(u8, trimmed[1..], " \t\r\n");
    const sep: []const u8 = if (rest.len > 0 and rest[0] != '}') ", " else "";
    return std.fmt.allocPrintZ(allocator, "{{\"request_id\": {d}{s}{s}", .{ request_id, sep, rest });
}

/// Copies a `char **out` result into `allocator` memory and frees the C string.
fn takeString(allocator: std.mem.Allocator, ptr: [*c]u8) std.mem.Allocator.Error![]u8 {
    defer c.tandem_string_free(ptr);
    if (ptr == null) return allocator.alloc(u8, 0);
    return allocator.dupe(u8, std.mem.span(@as([*:0]const u8, @ptrCast(ptr))));
}

/// What happened to a prompt.
pub const PromptResult = enum(u32) {
    sent = c.TANDEM_PROMPT_RESULT_SENT,
    queued_steering = c.TANDEM_PROMPT_RESULT_QUEUED_STEERING,
    queued_follow_up = c.TANDEM_PROMPT_RESULT_QUEUED_FOLLOW_UP,
    command = c.TANDEM_PROMPT_RESULT_COMMAND,
};

/// A session's status.
pub const SessionStatus = enum(u32) {
    idle = c.TANDEM_SESSION_STATUS_IDLE,
    thinking = c.TANDEM_SESSION_STATUS_THINKING,
    tool_executing = c.TANDEM_SESSION_STATUS_TOOL_EXECUTING,
    @"error" = c.TANDEM_SESSION_STATUS_ERROR,
    plan = c.TANDEM_SESSION_STATUS_PLAN,
};

/// Severity of a system message.
pub const MessageLevel = enum(u32) {
    info = c.TANDEM_MESSAGE_LEVEL_INFO,
    @"error" = c.TANDEM_MESSAGE_LEVEL_ERROR,
};

/// A host's answer to an approval.
pub const ApprovalDecision = enum(u32) {
    approve = c.TANDEM_APPROVAL_DECISION_APPROVE,
    approve_turn = c.TANDEM_APPROVAL_DECISION_APPROVE_TURN,
    approve_session = c.TANDEM_APPROVAL_DECISION_APPROVE_SESSION,
    reject = c.TANDEM_APPROVAL_DECISION_REJECT,
};

/// Event kinds; the tag names are the JSON `"kind"` values and the numbers the `tandem_event_kind` values.
pub const EventKind = enum(u32) {
    session_started = c.TANDEM_EVENT_KIND_SESSION_STARTED,
    session_stopped = c.TANDEM_EVENT_KIND_SESSION_STOPPED,
    session_restarted = c.TANDEM_EVENT_KIND_SESSION_RESTARTED,
    subagent_started = c.TANDEM_EVENT_KIND_SUBAGENT_STARTED,
    status_changed = c.TANDEM_EVENT_KIND_STATUS_CHANGED,
    messages_changed = c.TANDEM_EVENT_KIND_MESSAGES_CHANGED,
    text_delta = c.TANDEM_EVENT_KIND_TEXT_DELTA,
    thinking_delta = c.TANDEM_EVENT_KIND_THINKING_DELTA,
    tool_started = c.TANDEM_EVENT_KIND_TOOL_STARTED,
    tool_update = c.TANDEM_EVENT_KIND_TOOL_UPDATE,
    tool_ended = c.TANDEM_EVENT_KIND_TOOL_ENDED,
    tool_auto_approved = c.TANDEM_EVENT_KIND_TOOL_AUTO_APPROVED,
    approval_pending = c.TANDEM_EVENT_KIND_APPROVAL_PENDING,
    approval_resolved = c.TANDEM_EVENT_KIND_APPROVAL_RESOLVED,
    file_changed = c.TANDEM_EVENT_KIND_FILE_CHANGED,
    prompt_queued = c.TANDEM_EVENT_KIND_PROMPT_QUEUED,
    queues_recalled = c.TANDEM_EVENT_KIND_QUEUES_RECALLED,
    context_usage = c.TANDEM_EVENT_KIND_CONTEXT_USAGE,
    turn_limit_reached = c.TANDEM_EVENT_KIND_TURN_LIMIT_REACHED,
    turn_ended = c.TANDEM_EVENT_KIND_TURN_ENDED,
    @"error" = c.TANDEM_EVENT_KIND_ERROR,
    events_dropped = c.TANDEM_EVENT_KIND_EVENTS_DROPPED,
    retrying = c.TANDEM_EVENT_KIND_RETRYING,
    options_restored = c.TANDEM_EVENT_KIND_OPTIONS_RESTORED,
    command_ran = c.TANDEM_EVENT_KIND_COMMAND_RAN,
    sandbox_limited = c.TANDEM_EVENT_KIND_SANDBOX_LIMITED,
    subagent_finished = c.TANDEM_EVENT_KIND_SUBAGENT_FINISHED,
    boundary_violated = c.TANDEM_EVENT_KIND_BOUNDARY_VIOLATED,
    mcp_server_status = c.TANDEM_EVENT_KIND_MCP_SERVER_STATUS,
    hook_failed = c.TANDEM_EVENT_KIND_HOOK_FAILED,
    plan_updated = c.TANDEM_EVENT_KIND_PLAN_UPDATED,
    context_files_loaded = c.TANDEM_EVENT_KIND_CONTEXT_FILES_LOADED,
    budget_exhausted = c.TANDEM_EVENT_KIND_BUDGET_EXHAUSTED,
    /// A kind newer than this wrapper.
    unknown = 0,
};

/// One event: its JSON document and the parsed value, both owned by the allocator it was read with.
pub const Event = struct {
    seq: u64,
    kind: EventKind,
    /// The session's ID (`null` for client-level events); points into `parsed`.
    session_id: ?[]const u8,
    /// The document as tandem sent it.
    json: []u8,
    parsed: std.json.Parsed(std.json.Value),
    allocator: std.mem.Allocator,

    /// Takes ownership of `json` (allocated with `allocator`) and parses it.
    pub fn fromJson(allocator: std.mem.Allocator, json: []u8) !Event {
        errdefer allocator.free(json);
        const parsed = try std.json.parseFromSlice(std.json.Value, allocator, json, .{});
        errdefer parsed.deinit();
        const root = switch (parsed.value) {
            .object => |o| o,
            else => return error.InvalidJson,
        };
        const kind_name = switch (root.get("kind") orelse return error.InvalidJson) {
            .string => |s| s,
            else => return error.InvalidJson,
        };
        return .{
            .seq = switch (root.get("seq") orelse return error.InvalidJson) {
                .integer => |n| @intCast(n),
                else => return error.InvalidJson,
            },
            .kind = std.meta.stringToEnum(EventKind, kind_name) orelse .unknown,
            .session_id = switch (root.get("session_id") orelse .null) {
                .string => |s| s,
                else => null,
            },
            .json = json,
            .parsed = parsed,
            .allocator = allocator,
        };
    }

    /// Frees the document and the parsed value.
    pub fn deinit(self: Event) void {
        self.parsed.deinit();
        self.allocator.free(self.json);
    }

    /// Top-level member `key`, or `null`.
    pub fn get(self: Event, key: []const u8) ?std.json.Value {
        return self.parsed.value.object.get(key);
    }

    /// The parent session of a sub-agent's event (to show the tree), or `null` for top-level sessions.
    pub fn parentId(self: Event) ?[]const u8 {
        return self.string("parent_id");
    }

    /// Top-level string member `key` (`"delta"`, `"reason"`, ...), or `null` if missing or not a string.
    pub fn string(self: Event, key: []const u8) ?[]const u8 {
        return switch (self.get(key) orelse return null) {
            .string => |s| s,
            else => null,
        };
    }

    /// `approval.approval_id` of an `approval_pending` event.
    pub fn approvalId(self: Event) ?[]const u8 {
        const approval = self.get("approval") orelse return null;
        if (approval != .object) return null;
        return switch (approval.object.get("approval_id") orelse return null) {
            .string => |s| s,
            else => null,
        };
    }
};

/// An event delivered to a `Client.subscribe` callback. Borrowed: valid only during the callback.
pub const EventRef = struct {
    seq: u64,
    kind: EventKind,
    /// The session's ID, or `null` for client-level events.
    session_id: ?[]const u8,
    /// The event as JSON.
    json: []const u8,

    /// An owned, parsed copy (free it with `deinit`).
    pub fn toEvent(self: EventRef, allocator: std.mem.Allocator) !Event {
        return Event.fromJson(allocator, try allocator.dupe(u8, self.json));
    }
};

/// One call of a host tool (`Client.registerTool`). The strings are borrowed for the callback; `handle` stays valid
/// until `complete` succeeds, so copy the strings you need and complete it later from any thread if you like.
pub const ToolCall = struct {
    handle: *c.tandem_tool_call,
    session_id: []const u8,
    tool_call_id: []const u8,
    name: []const u8,
    /// The arguments, a JSON object.
    args_json: []const u8,

    /// Answers the call exactly once (`is_error`: `result` is an error message). `error.NotFound` when it was already
    /// completed.
    pub fn complete(self: ToolCall, result: [:0]const u8, is_error: bool) Error!void {
        try check(c.tandem_tool_call_complete(self.handle, result.ptr, is_error));
    }

    /// Whether the call was cancelled (turn aborted, session stopped) or is no longer pending; a cancelled call
    /// must still be completed.
    pub fn isCancelled(self: ToolCall) bool {
        return c.tandem_tool_call_is_cancelled(self.handle);
    }
};

/// One hook call (`Client.addHook`): the hook input document (borrowed for the callback) and the
/// reply slot. Answer with `reply` before the callback returns (the last answer counts), or not at all to let the
/// step go on unchanged.
pub const HookCall = struct {
    handle: *c.tandem_hook_reply,
    /// The hook input, a JSON object (docs/hooks.md).
    input_json: []const u8,

    /// Answers with `answer_json` (copied), e.g. `{"decision": "deny", "reason": "..."}`. `error.InvalidJson` for
    /// malformed JSON (recorded anyway, so the hook's `on_failure` default applies unless a later reply replaces it).
    pub fn reply(self: HookCall, answer_json: [:0]const u8) Error!void {
        try check(c.tandem_hook_reply_set(self.handle, answer_json.ptr));
    }
};

/// The C callback for a hook handler `fn (Context, HookCall) void`.
fn HookTrampoline(comptime Context: type, comptime handler: fn (Context, HookCall) void) type {
    return struct {
        fn call(userdata: ?*anyopaque, input: [*c]const u8, reply: ?*c.tandem_hook_reply) callconv(.c) void {
            handler(@ptrCast(@alignCast(userdata)), .{ .handle = reply.?, .input_json = std.mem.span(input) });
        }
    };
}

/// One model call for the host provider (`Client.setProvider`). In the callback its strings are borrowed; `clone`
/// makes a copy another thread can answer later (free it with `deinit`). The event helpers build their JSON with
/// `allocator` (the one given to `setProvider`, or to `clone`) and send it with `tandem_provider_emit`;
/// `error.NotFound` once the request ended or was aborted.
pub const ProviderRequest = struct {
    client: *c.tandem_client,
    session_id: [:0]const u8,
    request_id: u64,
    /// `{"session_id", "request_id", "model", "thinking_level", "system_prompt", "messages", "tools"}`.
    request_json: []const u8,
    allocator: std.mem.Allocator,
    owned: bool = false,

    /// A copy that outlives the callback, owned by `allocator`.
    pub fn clone(self: ProviderRequest, allocator: std.mem.Allocator) !ProviderRequest {
        const sid = try allocator.dupeZ(u8, self.session_id);
        errdefer allocator.free(sid);
        return .{
            .client = self.client,
            .session_id = sid,
            .request_id = self.request_id,
            .request_json = try allocator.dupe(u8, self.request_json),
            .allocator = allocator,
            .owned = true,
        };
    }

    /// Frees a `clone` (a no-op for the borrowed request of the callback).
    pub fn deinit(self: ProviderRequest) void {
        if (!self.owned) return;
        self.allocator.free(self.session_id);
        self.allocator.free(self.request_json);
    }

    /// Sends one event: a JSON object without `"request_id"` (added here), e.g. `{"type": "text_delta", "text": "Hi"}`.
    pub fn emit(self: ProviderRequest, event_json: []const u8) !void {
        const tagged = try withRequestId(self.allocator, self.request_id, event_json);
        defer self.allocator.free(tagged);
        try check(c.tandem_provider_emit(self.client, self.session_id.ptr, tagged.ptr));
    }

    fn emitValue(self: ProviderRequest, value: anytype) !void {
        const body = try std.json.stringifyAlloc(self.allocator, value, .{});
        defer self.allocator.free(body);
        try self.emit(body);
    }

    /// Streams answer text.
    pub fn text(self: ProviderRequest, delta: []const u8) !void {
        try self.emitValue(.{ .type = "text_delta", .text = delta });
    }

    /// Streams thinking text.
    pub fn thinking(self: ProviderRequest, delta: []const u8) !void {
        try self.emitValue(.{ .type = "thinking_delta", .text = delta });
    }

    /// The signature of the thinking so far.
    pub fn thinkingSignature(self: ProviderRequest, signature: []const u8) !void {
        try self.emitValue(.{ .type = "thinking_signature", .signature = signature });
    }

    /// Asks tandem to run tool `name` with `args_json` (a JSON object) after `done`.
    pub fn toolCall(self: ProviderRequest, id: []const u8, name: []const u8, args_json: []const u8) !void {
        const head = try std.json.stringifyAlloc(self.allocator, .{ .type = "tool_call", .id = id, .name = name }, .{});
        defer self.allocator.free(head);
        const body = try std.fmt.allocPrint(self.allocator, "{s}, \"args\": {s}}}", .{ head[0 .. head.len - 1], args_json });
        defer self.allocator.free(body);
        try self.emit(body);
    }

    /// Reports usage in tokens.
    pub fn usage(self: ProviderRequest, input: u64, output: u64) !void {
        try self.emitValue(.{ .type = "usage", .input = input, .output = output });
    }

    /// Ends the request; `stop_reason` `"max_tokens"` marks a cut answer.
    pub fn done(self: ProviderRequest, stop_reason: ?[]const u8) !void {
        if (stop_reason) |r| try self.emitValue(.{ .type = "done", .stop_reason = r }) else try self.emit("{\"type\": \"done\"}");
    }

    /// Ends the request with an error; retryable ones are retried with a new request.
    pub fn fail(self: ProviderRequest, message: []const u8, retryable: bool) !void {
        try self.emitValue(.{ .type = "error", .message = message, .retryable = retryable });
    }

    /// Whether the request no longer takes events (ended, turn aborted, session stopped).
    pub fn isCancelled(self: ProviderRequest) bool {
        return c.tandem_provider_request_is_cancelled(self.client, self.request_id);
    }
};

/// A tandem client: a runtime, its sessions and their events.
pub const Client = struct {
    ptr: *c.tandem_client,

    /// Creates a client from a JSON config (`null` for the defaults), e.g. `"{\"store_dir\": null}"`.
    pub fn init(config_json: ?[:0]const u8) Error!Client {
        var out: ?*c.tandem_client = null;
        try check(c.tandem_client_new(if (config_json) |s| s.ptr else null, &out));
        return .{ .ptr = out.? };
    }

    /// Shuts the client down and frees it. Not from an event callback.
    pub fn deinit(self: *Client) void {
        c.tandem_client_free(self.ptr);
        self.* = undefined;
    }

    /// Stops every session and wakes event pullers; afterwards only draining events and `deinit` are useful.
    pub fn shutdown(self: Client, timeout_ms: u32) Error!void {
        try check(c.tandem_client_shutdown(self.ptr, timeout_ms));
    }

    /// Serves this client's sessions over WebSocket (docs/remote.md) with JSON options (`null` for the defaults:
    /// plain ws on 127.0.0.1, any free port). Returns the URL to connect to, copied with `allocator`.
    pub fn listen(self: Client, allocator: std.mem.Allocator, options_json: ?[:0]const u8) ![]u8 {
        var out: [*c]u8 = null;
        try check(c.tandem_client_listen(self.ptr, if (options_json) |s| s.ptr else null, &out));
        return takeString(allocator, out);
    }

    /// Stops the remote gateway and disconnects its peers; sessions keep running. Nothing happens when not listening.
    pub fn stopListening(self: Client) Error!void {
        try check(c.tandem_client_stop_listening(self.ptr));
    }

    /// Starts a session with JSON options (`null` for the defaults). The session's ID is copied with `allocator`.
    pub fn startSession(self: Client, allocator: std.mem.Allocator, options_json: ?[:0]const u8) !Session {
        var out: [*c]u8 = null;
        try check(c.tandem_session_start(self.ptr, if (options_json) |s| s.ptr else null, &out));
        return Session.adopt(self.ptr, allocator, out);
    }

    /// The live session `id`, or a new one started with `options_json` (`null` for the defaults).
    pub fn startOrGetSession(self: Client, allocator: std.mem.Allocator, id: [:0]const u8, options_json: ?[:0]const u8) !Session {
        var out: [*c]u8 = null;
        try check(c.tandem_session_start_or_get(self.ptr, id.ptr, optZ(options_json), &out));
        return Session.adopt(self.ptr, allocator, out);
    }

    /// A handle for the existing session `id` (copied; no call is made).
    pub fn session(self: Client, allocator: std.mem.Allocator, id: []const u8) !Session {
        return .{ .client = self.ptr, .id = try allocator.dupeZ(u8, id), .allocator = allocator };
    }

    /// Metadata of every live session, a JSON array owned by `allocator`.
    pub fn listSessions(self: Client, allocator: std.mem.Allocator) ![]u8 {
        var out: [*c]u8 = null;
        try check(c.tandem_session_list(self.ptr, &out));
        return takeString(allocator, out);
    }

    /// The next pulled event, waiting up to `timeout_ms`; `null` on timeout. `error.ShuttingDown` once the client
    /// is shut down and drained. Free the event with `deinit`.
    pub fn nextEvent(self: Client, allocator: std.mem.Allocator, timeout_ms: u32) !?Event {
        var out: [*c]u8 = null;
        const status = c.tandem_client_next_event(self.ptr, timeout_ms, &out);
        if (status == c.TANDEM_ERR_TIMEOUT) return null;
        try check(status);
        return try Event.fromJson(allocator, try takeString(allocator, out));
    }

    /// Up to `max` queued events without waiting, as the JSON array tandem returns (possibly `[]`), owned by the
    /// caller (free it with `allocator`). Emptying the queue resets `readyFd`. `error.InvalidArgument` for `max` 0,
    /// `error.ShuttingDown` once the client is shut down and drained.
    pub fn nextEvents(self: Client, allocator: std.mem.Allocator, max: u32) ![]u8 {
        var out: [*c]u8 = null;
        try check(c.tandem_client_next_events(self.ptr, max, &out));
        return takeString(allocator, out);
    }

    /// The client's readiness descriptor: readable while events are queued for pulling, reset by the pulls that
    /// empty the queue, readable for good after shutdown. The client owns it (closed by `deinit`); only poll it.
    pub fn readyFd(self: Client) Error!std.posix.fd_t {
        var fd: c_int = -1;
        try check(c.tandem_client_ready_fd(self.ptr, &fd));
        return fd;
    }

    /// The oldest pulled event of session `session_id`, waiting up to `timeout_ms`; `null` on timeout. Other
    /// sessions' events stay queued, in order, for other pullers. `error.NotFound` once the session's stream ended
    /// (its `session_stopped` was pulled) or never began. Free the event with `deinit`.
    pub fn nextSessionEvent(self: Client, allocator: std.mem.Allocator, session_id: [:0]const u8, timeout_ms: u32) !?Event {
        var out: [*c]u8 = null;
        const status = c.tandem_client_next_session_event(self.ptr, session_id.ptr, timeout_ms, &out);
        if (status == c.TANDEM_ERR_TIMEOUT) return null;
        try check(status);
        return try Event.fromJson(allocator, try takeString(allocator, out));
    }

    /// An iterator over pulled events that ends when none arrives within `timeout_ms` or the client shuts down.
    pub fn events(self: Client, allocator: std.mem.Allocator, timeout_ms: u32) EventIterator {
        return .{ .client = self, .allocator = allocator, .timeout_ms = timeout_ms };
    }

    /// Calls `handler(context, event)` on tandem's dispatcher thread for each event (of `session_id`, or all), in
    /// order, until `unsubscribe`. `context` (a pointer) must stay valid until then. Returns the subscription ID.
    pub fn subscribe(
        self: Client,
        session_id: ?[:0]const u8,
        comptime Context: type,
        context: Context,
        comptime handler: fn (Context, EventRef) void,
    ) Error!u64 {
        const Trampoline = struct {
            fn call(userdata: ?*anyopaque, event: [*c]const c.tandem_event) callconv(.c) void {
                const e = event.*;
                handler(@ptrCast(@alignCast(userdata)), .{
                    .seq = e.seq,
                    .kind = std.meta.intToEnum(EventKind, e.kind) catch .unknown,
                    .session_id = if (e.session_id) |sid| std.mem.span(sid) else null,
                    .json = std.mem.span(e.json),
                });
            }
        };
        var id: u64 = 0;
        try check(c.tandem_client_subscribe(self.ptr, optZ(session_id), Trampoline.call, @ptrCast(context), null, &id));
        return id;
    }

    /// Ends a subscription: when it returns, its handler is not running and will not run again. Not from the
    /// subscription's own handler (`error.ReentrantCall`).
    pub fn unsubscribe(self: Client, subscription: u64) Error!void {
        try check(c.tandem_client_unsubscribe(self.ptr, subscription));
    }

    /// Registers a host tool (`spec_json`: `{"name", "description", "parameters", "destructive"}`). `handler(context,
    /// call)` runs on a tandem-owned thread (several at once are possible) and completes `call` exactly once, before
    /// returning or later from any thread. `context` (a pointer) must stay valid until the tool is unregistered and
    /// its calls have returned, or the client is deinitialized.
    pub fn registerTool(
        self: Client,
        spec_json: [:0]const u8,
        comptime Context: type,
        context: Context,
        comptime handler: fn (Context, ToolCall) void,
    ) Error!void {
        const Trampoline = struct {
            fn call(userdata: ?*anyopaque, handle: ?*c.tandem_tool_call, inv: [*c]const c.tandem_tool_invocation) callconv(.c) void {
                const i = inv.*;
                handler(@ptrCast(@alignCast(userdata)), .{
                    .handle = handle.?,
                    .session_id = std.mem.span(i.session_id),
                    .tool_call_id = std.mem.span(i.tool_call_id),
                    .name = std.mem.span(i.name),
                    .args_json = std.mem.span(i.args_json),
                });
            }
        };
        try check(c.tandem_client_register_tool(self.ptr, spec_json.ptr, Trampoline.call, @ptrCast(context), null));
    }

    /// Unregisters host tool `name`; calls already running finish.
    pub fn unregisterTool(self: Client, name: [:0]const u8) Error!void {
        try check(c.tandem_client_unregister_tool(self.ptr, name.ptr));
    }

    /// Adds a hook for every session, or for session `session_id` only (removed when it stops); `spec_json`:
    /// `{"event", "matcher", "timeout_ms", "on_failure"}`, see docs/hooks.md. `handler(context, call)` runs on a
    /// tandem-owned thread (several at once are possible) and answers with `call.reply`. `context` (a pointer) must
    /// stay valid until the hook is removed and its calls have returned, or the client is deinitialized. Returns the
    /// hook's ID for `removeHook`.
    pub fn addHook(
        self: Client,
        session_id: ?[:0]const u8,
        spec_json: [:0]const u8,
        comptime Context: type,
        context: Context,
        comptime handler: fn (Context, HookCall) void,
    ) Error!u64 {
        var id: u64 = 0;
        try check(c.tandem_client_add_hook(self.ptr, optZ(session_id), spec_json.ptr, HookTrampoline(Context, handler).call, @ptrCast(context), null, &id));
        return id;
    }

    /// Removes a hook of the client or of one of its sessions; a call already running finishes.
    pub fn removeHook(self: Client, hook_id: u64) Error!void {
        try check(c.tandem_client_remove_hook(self.ptr, hook_id));
    }

    /// Registers the host provider, replacing any previous one: sessions started with `"provider": "host"` call
    /// `handler(context, request)` on a tandem-owned thread for each model call; answer with the request's helpers,
    /// before returning or later from any thread (`request.clone`). `allocator` (thread-safe) holds a small record
    /// released by tandem when the provider is replaced, cleared or the client shuts down, and builds event JSON.
    pub fn setProvider(
        self: Client,
        allocator: std.mem.Allocator,
        comptime Context: type,
        context: Context,
        comptime handler: fn (Context, ProviderRequest) void,
    ) !void {
        const Box = struct {
            allocator: std.mem.Allocator,
            client: *c.tandem_client,
            context: Context,

            fn call(userdata: ?*anyopaque, req: [*c]const c.tandem_provider_request) callconv(.c) void {
                const box: *@This() = @ptrCast(@alignCast(userdata));
                const r = req.*;
                handler(box.context, .{
                    .client = box.client,
                    .session_id = std.mem.span(r.session_id),
                    .request_id = r.request_id,
                    .request_json = std.mem.span(r.request_json),
                    .allocator = box.allocator,
                });
            }
            fn free(userdata: ?*anyopaque) callconv(.c) void {
                const box: *@This() = @ptrCast(@alignCast(userdata));
                box.allocator.destroy(box);
            }
        };
        const box = try allocator.create(Box);
        box.* = .{ .allocator = allocator, .client = self.ptr, .context = context };
        const status = c.tandem_client_set_provider(self.ptr, Box.call, box, Box.free);
        // TANDEM_ERR_SHUTTING_DOWN comes after the arguments were checked: tandem has released the box already.
        if (status != c.TANDEM_OK and status != c.TANDEM_ERR_SHUTTING_DOWN) allocator.destroy(box);
        try check(status);
    }

    /// Unregisters the host provider; prompts of host sessions then end with an error.
    pub fn clearProvider(self: Client) Error!void {
        try check(c.tandem_client_set_provider(self.ptr, null, null, null));
    }

    /// Sends one host provider event of session `session_id` as it is: `event_json` must carry `"request_id"`
    /// (see `withRequestId`, or use the `ProviderRequest` helpers).
    pub fn providerEmit(self: Client, session_id: [:0]const u8, event_json: [:0]const u8) Error!void {
        try check(c.tandem_provider_emit(self.ptr, session_id.ptr, event_json.ptr));
    }

    /// Whether host provider request `request_id` no longer takes events.
    pub fn providerRequestIsCancelled(self: Client, request_id: u64) bool {
        return c.tandem_provider_request_is_cancelled(self.ptr, request_id);
    }

    /// Starts a background sub-agent working on `task` (options as for `startSession`, plus `detached`; `parent_id`
    /// a live session, whose settings it inherits and with which it stops, see `tandem_subagent_start`). Returns the
    /// handle JSON `{session_id, parent_session_id, task, model, started_at, detached}`.
    pub fn startSubagent(self: Client, allocator: std.mem.Allocator, parent_id: ?[:0]const u8, task: [:0]const u8, options_json: ?[:0]const u8) ![]u8 {
        var out: [*c]u8 = null;
        try check(c.tandem_subagent_start(self.ptr, optZ(parent_id), task.ptr, optZ(options_json), &out));
        return takeString(allocator, out);
    }

    /// Sub-agent handles, oldest first, as a JSON array: all, or those of `parent_id`.
    pub fn subagents(self: Client, allocator: std.mem.Allocator, parent_id: ?[:0]const u8) ![]u8 {
        var out: [*c]u8 = null;
        try check(c.tandem_subagent_list(self.ptr, optZ(parent_id), &out));
        return takeString(allocator, out);
    }

    /// Stored conversations, newest first, as a JSON array (`[]` with `store_dir: null`).
    pub fn conversations(self: Client, allocator: std.mem.Allocator) ![]u8 {
        var out: [*c]u8 = null;
        try check(c.tandem_conversation_list(self.ptr, &out));
        return takeString(allocator, out);
    }

    /// Deletes stored conversation `conversation_id` (`error.Busy` while a session has it open).
    pub fn deleteConversation(self: Client, conversation_id: [:0]const u8) Error!void {
        try check(c.tandem_conversation_delete(self.ptr, conversation_id.ptr));
    }
};

/// Pulls events from a client: `while (try it.next()) |event| { defer event.deinit(); ... }`.
pub const EventIterator = struct {
    client: Client,
    allocator: std.mem.Allocator,
    timeout_ms: u32,

    /// The next event, or `null` when the wait timed out or the client is shut down.
    pub fn next(self: *EventIterator) !?Event {
        return self.client.nextEvent(self.allocator, self.timeout_ms) catch |err| switch (err) {
            error.ShuttingDown => null,
            else => err,
        };
    }
};

/// A session: its client and its ID (owned). Every method is one C call.
pub const Session = struct {
    client: *c.tandem_client,
    id: [:0]u8,
    allocator: std.mem.Allocator,

    fn adopt(client: *c.tandem_client, allocator: std.mem.Allocator, id: [*c]u8) !Session {
        defer c.tandem_string_free(id);
        return .{ .client = client, .id = try allocator.dupeZ(u8, std.mem.span(@as([*:0]const u8, @ptrCast(id)))), .allocator = allocator };
    }

    /// Frees the ID (the session keeps running; see `stop`).
    pub fn deinit(self: *Session) void {
        self.allocator.free(self.id);
        self.* = undefined;
    }

    fn prompt(
        self: Session,
        comptime f: fn (?*c.tandem_client, [*c]const u8, [*c]const u8, [*c]c.tandem_prompt_result) callconv(.c) c.tandem_status,
        text: [:0]const u8,
    ) Error!PromptResult {
        var out: c.tandem_prompt_result = undefined;
        try check(f(self.client, self.id.ptr, text.ptr, &out));
        return @enumFromInt(out);
    }

    /// Sends a prompt: starts a turn when idle (`.sent`), else queues it as steering (`.queued_steering`).
    pub fn sendPrompt(self: Session, text: [:0]const u8) Error!PromptResult {
        return self.prompt(c.tandem_session_send_prompt, text);
    }

    /// Queues steering while a turn runs (seen after the current tool calls); sends it when idle.
    pub fn queueSteering(self: Session, text: [:0]const u8) Error!PromptResult {
        return self.prompt(c.tandem_session_queue_steering, text);
    }

    /// Queues a follow-up, sent when the turn ends; sends it when idle.
    pub fn queueFollowUp(self: Session, text: [:0]const u8) Error!PromptResult {
        return self.prompt(c.tandem_session_queue_follow_up, text);
    }

    /// Answers the pending approval named `approval_id` (`null`: whichever is pending).
    pub fn respondToApproval(self: Session, approval_id: ?[]const u8, decision: ApprovalDecision) !void {
        var buf: [256]u8 = undefined;
        const id_z: ?[:0]const u8 = if (approval_id) |a|
            std.fmt.bufPrintZ(&buf, "{s}", .{a}) catch return error.InvalidArgument
        else
            null;
        try check(c.tandem_session_respond_to_approval(
            self.client,
            self.id.ptr,
            if (id_z) |z| z.ptr else null,
            @intFromEnum(decision),
        ));
    }

    /// Approves the pending call once.
    pub fn approve(self: Session, approval_id: ?[]const u8) !void {
        return self.respondToApproval(approval_id, .approve);
    }

    /// Rejects the pending call; the agent is told it was refused.
    pub fn reject(self: Session, approval_id: ?[]const u8) !void {
        return self.respondToApproval(approval_id, .reject);
    }

    /// The tools this session trusts (approved for the turn or the session): `{"<name>": "turn" | "session"}`.
    /// Caller frees the JSON with `allocator`.
    pub fn trustedTools(self: Session, allocator: std.mem.Allocator) ![]u8 {
        return self.jsonCall(allocator, c.tandem_session_trusted_tools);
    }

    /// Revokes the trust of tool `name` (null: of every tool); `error.NotFound` when it holds none.
    pub fn revokeTrust(self: Session, name: ?[:0]const u8) Error!void {
        try check(c.tandem_session_revoke_trust(self.client, self.id.ptr, if (name) |n| n.ptr else null));
    }

    /// Aborts the running turn; a no-op when idle.
    pub fn abort(self: Session) Error!void {
        try check(c.tandem_session_abort(self.client, self.id.ptr));
    }

    /// Stops the session; blocks until it has stopped.
    pub fn stop(self: Session) Error!void {
        try check(c.tandem_session_stop(self.client, self.id.ptr));
    }

    /// Plan mode: destructive tools are refused.
    pub fn enterPlan(self: Session) Error!void {
        try check(c.tandem_session_enter_plan(self.client, self.id.ptr));
    }

    /// Leaves plan mode.
    pub fn enterExec(self: Session) Error!void {
        try check(c.tandem_session_enter_exec(self.client, self.id.ptr));
    }

    /// The session's status.
    pub fn status(self: Session) Error!SessionStatus {
        var out: c.tandem_session_status = undefined;
        try check(c.tandem_session_get_status(self.client, self.id.ptr, &out));
        return @enumFromInt(out);
    }

    fn jsonCall(
        self: Session,
        allocator: std.mem.Allocator,
        comptime f: fn (?*c.tandem_client, [*c]const u8, [*c][*c]u8) callconv(.c) c.tandem_status,
    ) ![]u8 {
        var out: [*c]u8 = null;
        try check(f(self.client, self.id.ptr, &out));
        return takeString(allocator, out);
    }

    /// The session's token (stable across restarts), owned by `allocator`.
    pub fn token(self: Session, allocator: std.mem.Allocator) ![]u8 {
        return self.jsonCall(allocator, c.tandem_session_token);
    }

    /// Every message as a JSON array, owned by `allocator`.
    pub fn messages(self: Session, allocator: std.mem.Allocator) ![]u8 {
        return self.jsonCall(allocator, c.tandem_session_messages);
    }

    /// Accumulated usage as JSON, owned by `allocator`.
    pub fn usage(self: Session, allocator: std.mem.Allocator) ![]u8 {
        return self.jsonCall(allocator, c.tandem_session_usage);
    }

    /// Metadata as JSON, owned by `allocator`.
    pub fn metadata(self: Session, allocator: std.mem.Allocator) ![]u8 {
        return self.jsonCall(allocator, c.tandem_session_metadata);
    }

    /// `{status, pending_approval, error, active_tool_name, sandbox, budget}` as JSON, owned by `allocator`
    /// (`budget`: the limits and running totals of this session and its sub-agents).
    pub fn snapshot(self: Session, allocator: std.mem.Allocator) ![]u8 {
        return self.jsonCall(allocator, c.tandem_session_snapshot);
    }

    /// The project context files in the system prompt, lowest precedence first, as a JSON array of
    /// `{path, reason, bytes, loaded_bytes, truncated, error?}` owned by `allocator`.
    pub fn contextFiles(self: Session, allocator: std.mem.Allocator) ![]u8 {
        return self.jsonCall(allocator, c.tandem_session_context_files);
    }

    /// Changes the limits of this session's tree at runtime: `{"max_cost": usd|null, "max_tokens_total": n|null}`
    /// (a key left out keeps its value, null removes the limit).
    pub fn setBudget(self: Session, budget_json: [:0]const u8) Error!void {
        return self.withName(c.tandem_session_set_budget, budget_json);
    }

    /// Files the session's tools changed, as JSON, owned by `allocator`.
    pub fn touchedFiles(self: Session, allocator: std.mem.Allocator) ![]u8 {
        return self.jsonCall(allocator, c.tandem_session_touched_files);
    }

    fn simple(self: Session, comptime f: fn (?*c.tandem_client, [*c]const u8) callconv(.c) c.tandem_status) Error!void {
        try check(f(self.client, self.id.ptr));
    }

    fn withName(
        self: Session,
        comptime f: fn (?*c.tandem_client, [*c]const u8, [*c]const u8) callconv(.c) c.tandem_status,
        arg: [:0]const u8,
    ) Error!void {
        try check(f(self.client, self.id.ptr, arg.ptr));
    }

    // -- prompts and queues

    /// Like `sendPrompt` with a JSON array of content parts (`{"type": "text", "text"}`, `{"type": "image", ...}`).
    pub fn sendPromptParts(self: Session, parts_json: [:0]const u8) Error!PromptResult {
        return self.prompt(c.tandem_session_send_prompt_parts, parts_json);
    }

    /// Like `queueFollowUp` with a JSON array of content parts (images stay with the entry).
    pub fn queueFollowUpParts(self: Session, parts_json: [:0]const u8) Error!PromptResult {
        return self.prompt(c.tandem_session_queue_follow_up_parts, parts_json);
    }

    /// Takes back the queued steering entries: a JSON array, owned by `allocator`.
    pub fn dequeueSteering(self: Session, allocator: std.mem.Allocator) ![]u8 {
        return self.jsonCall(allocator, c.tandem_session_dequeue_steering);
    }

    /// `{"steering": [...], "follow_up": [...]}`, unchanged, owned by `allocator`.
    pub fn queuedMessages(self: Session, allocator: std.mem.Allocator) ![]u8 {
        return self.jsonCall(allocator, c.tandem_session_queued_messages);
    }

    /// Takes back both queues: `{"steering": [...], "follow_up": [...]}`, owned by `allocator`.
    pub fn recallQueues(self: Session, allocator: std.mem.Allocator) ![]u8 {
        return self.jsonCall(allocator, c.tandem_session_recall_queues);
    }

    /// Empties both queues.
    pub fn clearQueues(self: Session) Error!void {
        return self.simple(c.tandem_session_clear_queues);
    }

    /// Resumes a turn a stream failure or `max_turns` cut off (`error.InvalidArgument` when the last turn was not
    /// cut off).
    pub fn continueTurn(self: Session) Error!void {
        return self.simple(c.tandem_session_continue);
    }

    /// Appends a system message.
    pub fn addSystemMessage(self: Session, text: [:0]const u8, level: MessageLevel) Error!void {
        try check(c.tandem_session_add_system_message(self.client, self.id.ptr, text.ptr, @intFromEnum(level)));
    }

    // -- history

    /// `{"messages": [...], "has_more": bool}`: up to `limit` messages below `before_id` (0: newest), newest first.
    pub fn messagesPage(self: Session, allocator: std.mem.Allocator, before_id: u64, limit: u32) ![]u8 {
        var out: [*c]u8 = null;
        try check(c.tandem_session_messages_page(self.client, self.id.ptr, before_id, limit, &out));
        return takeString(allocator, out);
    }

    /// The content parts of user message `message_id` (a JSON array, images with their base64 data), owned by
    /// `allocator`.
    pub fn messageParts(self: Session, allocator: std.mem.Allocator, message_id: u64) ![]u8 {
        var out: [*c]u8 = null;
        try check(c.tandem_session_message_parts(self.client, self.id.ptr, message_id, &out));
        return takeString(allocator, out);
    }

    /// `{"events": [...], "latest_seq", "truncated"}`: the session's kept events after `seq`.
    pub fn eventsSince(self: Session, allocator: std.mem.Allocator, seq: u64) ![]u8 {
        var out: [*c]u8 = null;
        try check(c.tandem_session_events_since(self.client, self.id.ptr, seq, &out));
        return takeString(allocator, out);
    }

    // -- context and conversations

    /// Compacts the model context: `{"compacted", "info", "summary"?}`. `error.Busy` while a turn runs.
    pub fn compact(self: Session, allocator: std.mem.Allocator) ![]u8 {
        return self.jsonCall(allocator, c.tandem_session_compact);
    }

    /// Writes a Markdown summary under `<workdir>/.tandem/context/`: `{"text", "path"}`.
    pub fn summarize(self: Session, allocator: std.mem.Allocator) ![]u8 {
        return self.jsonCall(allocator, c.tandem_session_summarize);
    }

    /// Archives the conversation and starts an empty one.
    pub fn newConversation(self: Session) Error!void {
        return self.simple(c.tandem_session_new_conversation);
    }

    /// Loads stored conversation `conversation_id` into the session.
    pub fn loadConversation(self: Session, conversation_id: [:0]const u8) Error!void {
        return self.withName(c.tandem_session_load_conversation, conversation_id);
    }

    // -- models, thinking, commands, skills

    /// Switches the model (`provider:model`).
    pub fn setModel(self: Session, model: [:0]const u8) Error!void {
        return self.withName(c.tandem_session_set_model, model);
    }

    /// Switches to the next entry of the `models` option: `{"model", "index", "total", "thinking_level"}`.
    pub fn cycleModel(self: Session, allocator: std.mem.Allocator) ![]u8 {
        return self.jsonCall(allocator, c.tandem_session_cycle_model);
    }

    /// Sets the thinking level: `off`, `low`, `medium` or `high`.
    pub fn setThinkingLevel(self: Session, level: [:0]const u8) Error!void {
        return self.withName(c.tandem_session_set_thinking_level, level);
    }

    /// Moves to the next thinking level and returns it (e.g. `"medium"`), owned by `allocator`.
    pub fn cycleThinkingLevel(self: Session, allocator: std.mem.Allocator) ![]u8 {
        const doc = try self.jsonCall(allocator, c.tandem_session_cycle_thinking_level);
        defer allocator.free(doc);
        const parsed = try std.json.parseFromSlice(struct { level: []const u8 }, allocator, doc, .{});
        defer parsed.deinit();
        return allocator.dupe(u8, parsed.value.level);
    }

    /// Models the session can use: `[{"model", "provider", "name", "current"}]`.
    pub fn availableModels(self: Session, allocator: std.mem.Allocator) ![]u8 {
        return self.jsonCall(allocator, c.tandem_session_available_models);
    }

    /// Slash commands: `[{"name", "description"}]`.
    pub fn commands(self: Session, allocator: std.mem.Allocator) ![]u8 {
        return self.jsonCall(allocator, c.tandem_session_commands);
    }

    /// Skills found for the session: `[{"name", "description", "path", "active"}]`.
    pub fn listSkills(self: Session, allocator: std.mem.Allocator) ![]u8 {
        return self.jsonCall(allocator, c.tandem_session_list_skills);
    }

    /// Activates skill `name` (`error.NotFound` when there is none).
    pub fn activateSkill(self: Session, name: [:0]const u8) Error!void {
        return self.withName(c.tandem_session_activate_skill, name);
    }

    /// Deactivates skill `name` (`error.NotFound` when it is not active).
    pub fn deactivateSkill(self: Session, name: [:0]const u8) Error!void {
        return self.withName(c.tandem_session_deactivate_skill, name);
    }

    // -- MCP servers

    /// The session's MCP servers: `[{"name", "transport", "enabled", "state", "detail", "stderr", "tools"}]`.
    pub fn mcpServers(self: Session, allocator: std.mem.Allocator) ![]u8 {
        return self.jsonCall(allocator, c.tandem_session_mcp_servers);
    }

    /// Enables or disables MCP server `name` (`error.NotFound` when the session has none of that name).
    pub fn setMcpEnabled(self: Session, name: [:0]const u8, enabled: bool) Error!void {
        return check(c.tandem_session_mcp_set_enabled(self.client, self.id.ptr, name.ptr, enabled));
    }

    // -- branches and collapses

    /// Saves the transcript as a new branch and cuts it after `message_id`: `{"number", "name", "message_count"}`.
    pub fn branchAt(self: Session, allocator: std.mem.Allocator, message_id: u64) ![]u8 {
        var out: [*c]u8 = null;
        try check(c.tandem_session_branch_at(self.client, self.id.ptr, message_id, &out));
        return takeString(allocator, out);
    }

    /// The branches: `[{"number", "name", "message_count", "created_at"}]`.
    pub fn listBranches(self: Session, allocator: std.mem.Allocator) ![]u8 {
        return self.jsonCall(allocator, c.tandem_session_list_branches);
    }

    /// Replaces the transcript with branch `number` (1-based).
    pub fn switchBranch(self: Session, number: u32) Error!void {
        try check(c.tandem_session_switch_branch(self.client, self.id.ptr, number));
    }

    /// Toggles whether tool call or thinking message `message_id` is collapsed.
    pub fn toggleToolCollapse(self: Session, message_id: u64) Error!void {
        try check(c.tandem_session_toggle_tool_collapse(self.client, self.id.ptr, message_id));
    }

    /// Expands everything if anything is collapsed, else collapses everything.
    pub fn toggleAllToolCollapses(self: Session) Error!void {
        return self.simple(c.tandem_session_toggle_all_tool_collapses);
    }

    // -- edit boundaries

    /// Limits edits of `path` to lines `start_line..=end_line` (0-based).
    pub fn setBoundary(self: Session, path: [:0]const u8, start_line: u32, end_line: u32) Error!void {
        try check(c.tandem_session_set_boundary(self.client, self.id.ptr, path.ptr, start_line, end_line));
    }

    /// Removes the boundary of `path`.
    pub fn clearBoundary(self: Session, path: [:0]const u8) Error!void {
        return self.withName(c.tandem_session_clear_boundary, path);
    }

    /// Removes every boundary.
    pub fn clearAllBoundaries(self: Session) Error!void {
        return self.simple(c.tandem_session_clear_all_boundaries);
    }

    /// The boundary of `path`: `null` or `{"start_line", "end_line"}` (JSON), owned by `allocator`.
    pub fn boundaryFor(self: Session, allocator: std.mem.Allocator, path: [:0]const u8) ![]u8 {
        var out: [*c]u8 = null;
        try check(c.tandem_session_boundary_for(self.client, self.id.ptr, path.ptr, &out));
        return takeString(allocator, out);
    }
};

test "every status maps to its own error" {
    var seen = std.StringHashMap(void).init(std.testing.allocator);
    defer seen.deinit();
    var status: c.tandem_status = 1;
    while (status <= c.TANDEM_ERR_INTERNAL) : (status += 1) {
        const err = errorFromStatus(status).?;
        try std.testing.expect(err != error.Unknown);
        try seen.put(@errorName(err), {});
    }
    try std.testing.expectEqual(@as(usize, c.TANDEM_ERR_INTERNAL), seen.count());
    try std.testing.expectEqual(@as(?Error, null), errorFromStatus(c.TANDEM_OK));
    try std.testing.expectEqual(@as(?Error, error.Unknown), errorFromStatus(999));
}

test "event kinds match the C names" {
    @setEvalBranchQuota(10_000);
    inline for (@typeInfo(EventKind).@"enum".fields) |f| {
        if (comptime !std.mem.eql(u8, f.name, "unknown")) {
            const upper = comptime blk: {
                var u: [f.name.len]u8 = undefined;
                _ = std.ascii.upperString(&u, f.name);
                break :blk u;
            };
            try std.testing.expectEqual(@field(c, "TANDEM_EVENT_KIND_" ++ &upper), f.value);
        }
    }
}

test "withRequestId puts the ID first" {
    const a = try withRequestId(std.testing.allocator, 7, " {\"type\": \"done\"}");
    defer std.testing.allocator.free(a);
    try std.testing.expectEqualStrings("{\"request_id\": 7, \"type\": \"done\"}", a);
    const b = try withRequestId(std.testing.allocator, 1, "{ }");
    defer std.testing.allocator.free(b);
    try std.testing.expectEqualStrings("{\"request_id\": 1}", b);
    try std.testing.expectError(error.InvalidArgument, withRequestId(std.testing.allocator, 1, "[]"));
}

test "version matches the header" {
    var buf: [32]u8 = undefined;
    const expected = try std.fmt.bufPrint(&buf, "{d}.{d}.{d}", .{
        c.TANDEM_VERSION_MAJOR, c.TANDEM_VERSION_MINOR, c.TANDEM_VERSION_PATCH,
    });
    try std.testing.expectEqualStrings(expected, version());
}
