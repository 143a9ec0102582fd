//! tandem for Zig: a thin wrapper over include/tandem.h.
//!
//! - Failing calls return `tandem.Error` (one error per `tandem_status`); `lastErrorMessage()` explains the last
//!   failure on the calling thread.
//! - Strings go in as `[:0]const u8` (string literals coerce; build others with `allocPrintZ`) and come out as
//!   `[]u8` copies owned by the allocator you pass; the C strings are freed here.
//! - Events come from an iterator (`client.events(allocator, timeout_ms)`) as `Event` values that own their JSON
//!   and its parsed `std.json.Value`; call `event.deinit()`.
//! - `Client` owns the C client; `deinit` shuts it down and frees it. `Session` is a client pointer plus an owned ID.
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
};

/// A session's status.
pub const SessionStatus = enum(u32) {
    idle = c.TANDEM_SESSION_STATUS_IDLE,
    thinking = c.TANDEM_SESSION_STATUS_THINKING,
    tool_executing = c.TANDEM_SESSION_STATUS_TOOL_EXECUTING,
    @"error" = c.TANDEM_SESSION_STATUS_ERROR,
    plan = c.TANDEM_SESSION_STATUS_PLAN,
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

    /// Starts a session with JSON options (`null` for the defaults). The session's ID is copied with `allocator`.
    pub fn startSession(self: Client, allocator: std.mem.Allocator, options_json: ?[:0]const u8) !Session {
        var out: [*c]u8 = null;
        try check(c.tandem_session_start(self.ptr, if (options_json) |s| s.ptr else null, &out));
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

    /// An iterator over pulled events that ends when none arrives within `timeout_ms` or the client shuts down.
    pub fn events(self: Client, allocator: std.mem.Allocator, timeout_ms: u32) EventIterator {
        return .{ .client = self, .allocator = allocator, .timeout_ms = timeout_ms };
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

    /// `{status, pending_approval, error, active_tool_name}` as JSON, owned by `allocator`.
    pub fn snapshot(self: Session, allocator: std.mem.Allocator) ![]u8 {
        return self.jsonCall(allocator, c.tandem_session_snapshot);
    }

    /// Files the session's tools changed, as JSON, owned by `allocator`.
    pub fn touchedFiles(self: Session, allocator: std.mem.Allocator) ![]u8 {
        return self.jsonCall(allocator, c.tandem_session_touched_files);
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

test "version matches the header" {
    var buf: [32]u8 = undefined;
    const expected = try std.fmt.bufPrint(&buf, "{d}.{d}.{d}", .{
        c.TANDEM_VERSION_MAJOR, c.TANDEM_VERSION_MINOR, c.TANDEM_VERSION_PATCH,
    });
    try std.testing.expectEqualStrings(expected, version());
}
