// Tandem: Swift bindings for libtandem (include/tandem.h).
//
//     let client = try Client(config: #"{"store_dir": null}"#)
//     let session = try client.startSession(options: #"{"model": "scripted:echo"}"#)
//     let events = try client.events(session: session)      // AsyncStream<Event>, subscribed from here on
//     try session.send("hello")
//     for await event in events {
//         if event.kind == .textDelta, let delta = event.string("delta") { print(delta, terminator: "") }
//         if event.kind == .approvalPending { try session.approve(event.approvalID) }
//         if event.kind == .turnEnded { break }
//     }
//
// Failing calls throw `TandemError` (the status and the library's last-error message). Strings are Swift `String`s
// in and out; every C string tandem returns is freed here. Enum values are the C ABI's numbers, which never change.
import CTandem
import Foundation

// MARK: - Errors

/// The `tandem_status` values (`ok` is 0; the values never change).
public enum Status: UInt32, Sendable {
    case ok = 0, nullArgument, invalidUTF8, invalidJSON, invalidArgument, notFound, alreadyExists, restartPending,
         providerNotReady, notSupported, noPendingApproval, busy, timeout, reentrantCall, shuttingDown, forked, io,
         provider, panic, `internal`
}

/// A tandem call failed: `status` says how (nil for values newer than this binding), `message` why.
public struct TandemError: Error, CustomStringConvertible, Sendable {
    public let rawStatus: UInt32
    public let message: String
    public var status: Status? { Status(rawValue: rawStatus) }
    /// The C name, e.g. "TANDEM_ERR_NOT_FOUND".
    public var statusName: String { String(cString: tandem_status_name(rawStatus)) }
    public var description: String { message.isEmpty ? statusName : "\(statusName): \(message)" }
}

@inline(__always)
func check(_ status: UInt32) throws {
    if status != Status.ok.rawValue {
        throw TandemError(rawStatus: status, message: String(cString: tandem_last_error_message()))
    }
}

/// Calls a C function whose last parameter is `char **out` and returns the result as a String.
func callString(_ body: (UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> UInt32) throws -> String {
    var out: UnsafeMutablePointer<CChar>? = nil
    try check(body(&out))
    defer { tandem_string_free(out) }
    return out.map { String(cString: $0) } ?? ""
}

func withOptionalCString<R>(_ s: String?, _ body: (UnsafePointer<CChar>?) throws -> R) rethrows -> R {
    guard let s else { return try body(nil) }
    return try s.withCString { try body($0) }
}

/// The library's version, e.g. "0.1.0".
public func libraryVersion() -> String { String(cString: tandem_version()) }

// MARK: - Enums

/// What happened to a prompt.
public enum PromptResult: UInt32, Sendable { case sent = 0, queuedSteering, queuedFollowUp, command }

/// A session's status.
public enum SessionStatus: UInt32, Sendable { case idle = 0, thinking, toolExecuting, error, plan }

/// A host's answer to an approval.
public enum ApprovalDecision: UInt32, Sendable { case approve = 0, approveTurn, approveSession, reject }

/// Event kinds: the raw values are the JSON "kind" tags.
public enum EventKind: String, Sendable {
    case sessionStarted = "session_started", sessionStopped = "session_stopped"
    case sessionRestarted = "session_restarted", subagentStarted = "subagent_started"
    case statusChanged = "status_changed", messagesChanged = "messages_changed"
    case textDelta = "text_delta", thinkingDelta = "thinking_delta"
    case toolStarted = "tool_started", toolUpdate = "tool_update", toolEnded = "tool_ended"
    case toolAutoApproved = "tool_auto_approved", approvalPending = "approval_pending"
    case approvalResolved = "approval_resolved", fileChanged = "file_changed", promptQueued = "prompt_queued"
    case queuesRecalled = "queues_recalled", contextUsage = "context_usage"
    case turnLimitReached = "turn_limit_reached", turnEnded = "turn_ended", error = "error"
    case eventsDropped = "events_dropped", retrying = "retrying", optionsRestored = "options_restored"
    case commandRan = "command_ran", sandboxLimited = "sandbox_limited"
    case subagentFinished = "subagent_finished"
    case boundaryViolated = "boundary_violated"
    case mcpServerStatus = "mcp_server_status"
    case hookFailed = "hook_failed"
    case planUpdated = "plan_updated"
    case contextFilesLoaded = "context_files_loaded", budgetExhausted = "budget_exhausted"
    /// A kind newer than this binding.
    case unknown = ""
}

// MARK: - Events

/// One event: the fields every event has, its JSON, and the decoded document (`data`).
public struct Event: @unchecked Sendable {
    public let seq: UInt64
    public let kind: EventKind
    /// The session's ID; nil for client-level events.
    public let sessionID: String?
    /// The parent session of a sub-agent's event (to show the tree); nil for top-level sessions.
    public let parentID: String?
    /// The event as JSON: {"seq", "session_id", "kind", ...}.
    public let json: String
    /// The decoded document.
    public let data: [String: Any]

    /// Decodes an event document (what `tandem_client_next_event` returns).
    public init(json: String) throws {
        guard let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else {
            throw TandemError(rawStatus: Status.invalidJSON.rawValue, message: "not an event: \(json)")
        }
        self.json = json
        self.data = object
        self.seq = (object["seq"] as? NSNumber)?.uint64Value ?? 0
        self.kind = EventKind(rawValue: object["kind"] as? String ?? "") ?? .unknown
        self.sessionID = object["session_id"] as? String
        self.parentID = object["parent_id"] as? String
    }

    /// A top-level string member ("delta", "reason", ...), or nil.
    public func string(_ key: String) -> String? { data[key] as? String }

    /// `approval.approval_id` of an `approval_pending` event.
    public var approvalID: String? { (data["approval"] as? [String: Any])?["approval_id"] as? String }
}

// MARK: - Client

/// A tandem client: a runtime, its sessions and their events. Freed (after shutting down) when released.
public final class Client: @unchecked Sendable {
    let raw: OpaquePointer

    /// Creates a client from a JSON config (nil for the defaults), e.g. `{"store_dir": null}`.
    public init(config: String? = nil) throws {
        var out: OpaquePointer? = nil
        try check(withOptionalCString(config) { tandem_client_new($0, &out) })
        raw = out!
    }

    deinit { tandem_client_free(raw) }

    /// Stops every session, ends every subscription (finishing their streams) and wakes event pullers.
    public func shutdown(timeoutMs: UInt32 = 5000) throws { try check(tandem_client_shutdown(raw, timeoutMs)) }

    /// Serves this client's sessions over WebSocket (docs/remote.md) with JSON options (nil for the defaults: plain
    /// ws on 127.0.0.1, any free port); returns the URL to connect to.
    public func listen(options: String? = nil) throws -> String {
        try withOptionalCString(options) { opts in try callString { tandem_client_listen(raw, opts, $0) } }
    }

    /// Stops the remote gateway and disconnects its peers; sessions keep running. Nothing happens when not listening.
    public func stopListening() throws { try check(tandem_client_stop_listening(raw)) }

    /// Starts a session with JSON options (nil for the defaults).
    public func startSession(options: String? = nil) throws -> Session {
        let id = try withOptionalCString(options) { opts in try callString { tandem_session_start(raw, opts, $0) } }
        return Session(client: self, id: id)
    }

    /// A handle for an existing session ID (no call is made).
    public func session(id: String) -> Session { Session(client: self, id: id) }

    /// The next pulled event, waiting up to `timeoutMs`; nil on timeout.
    public func nextEvent(timeoutMs: UInt32) throws -> Event? {
        var out: UnsafeMutablePointer<CChar>? = nil
        let status = tandem_client_next_event(raw, timeoutMs, &out)
        if status == Status.timeout.rawValue { return nil }
        try check(status)
        defer { tandem_string_free(out) }
        return try Event(json: String(cString: out!))
    }

    /// Up to `max` queued events without waiting (one ABI crossing; possibly none). Emptying the queue resets
    /// `readyFD()`. Throws `.invalidArgument` for `max` 0 and `.shuttingDown` once the client is shut down and drained.
    public func nextEvents(max: UInt32) throws -> [Event] {
        var out: UnsafeMutablePointer<CChar>? = nil
        try check(tandem_client_next_events(raw, max, &out))
        defer { tandem_string_free(out) }
        let text = String(cString: out!)
        guard let items = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [Any] else {
            throw TandemError(rawStatus: Status.invalidJSON.rawValue, message: "not an event array: \(text)")
        }
        return try items.map { item in
            let data = try JSONSerialization.data(withJSONObject: item)
            return try Event(json: String(decoding: data, as: UTF8.self))
        }
    }

    /// The client's readiness descriptor, for a DispatchSource or poll(2): readable while events are queued for
    /// pulling, reset by the pulls that empty the queue, readable for good after shutdown. The client owns it
    /// (closed when the client is freed); only poll it, never read, write or close it.
    public func readyFD() throws -> Int32 {
        var fd: Int32 = -1
        try check(tandem_client_ready_fd(raw, &fd))
        return fd
    }

    /// The oldest pulled event of `session`, waiting up to `timeoutMs`; nil on timeout. Other sessions' events stay
    /// queued, in order, for other pullers and `nextEvent(timeoutMs:)`. Throws `.notFound` once the session's stream
    /// ended (its `session_stopped` was pulled) or never began.
    public func nextEvent(session: Session, timeoutMs: UInt32) throws -> Event? {
        var out: UnsafeMutablePointer<CChar>? = nil
        let status = tandem_client_next_session_event(raw, session.id, timeoutMs, &out)
        if status == Status.timeout.rawValue { return nil }
        try check(status)
        defer { tandem_string_free(out) }
        return try Event(json: String(cString: out!))
    }

    /// Events of `session` (or all) as an AsyncStream, subscribed from this call on. Ending the iteration (or
    /// cancelling its task) unsubscribes; shutting the client down finishes the stream.
    public func events(session: Session? = nil) throws -> AsyncStream<Event> {
        let box = SubscriptionBox()
        let stream = AsyncStream<Event>(bufferingPolicy: .unbounded) { box.continuation = $0 }
        let userdata = Unmanaged.passRetained(box).toOpaque()
        var id: UInt64 = 0
        let status = withOptionalCString(session?.id) { sid in
            tandem_client_subscribe(raw, sid, subscriptionCallback, userdata, subscriptionRelease, &id)
        }
        if status != Status.ok.rawValue {
            // Released by tandem if the failure came after the arguments were checked; otherwise by us.
            if !box.released { Unmanaged<SubscriptionBox>.fromOpaque(userdata).release() }
            try check(status)
        }
        box.continuation?.onTermination = { [weak self, box] _ in
            guard let self, !box.released else { return }
            _ = tandem_client_unsubscribe(self.raw, id)
        }
        return stream
    }
}

/// What the dispatcher thread feeds: the stream's continuation.
final class SubscriptionBox: @unchecked Sendable {
    var continuation: AsyncStream<Event>.Continuation?
    private let lock = NSLock()
    private var _released = false
    var released: Bool {
        get { lock.lock(); defer { lock.unlock() }; return _released }
        set { lock.lock(); _released = newValue; lock.unlock() }
    }
}

private let subscriptionCallback: tandem_event_callback = { userdata, event in
    guard let userdata, let event, let json = event.pointee.json else { return }
    let box = Unmanaged<SubscriptionBox>.fromOpaque(userdata).takeUnretainedValue()
    if let decoded = try? Event(json: String(cString: json)) { box.continuation?.yield(decoded) }
}

private let subscriptionRelease: tandem_userdata_free = { userdata in
    guard let userdata else { return }
    let box = Unmanaged<SubscriptionBox>.fromOpaque(userdata).takeRetainedValue()
    box.released = true
    box.continuation?.finish()
}

// MARK: - Session

/// A session, addressed by its ID. Every method is one C call and throws `TandemError` (`.notFound` once stopped).
public struct Session: Sendable {
    public let client: Client
    public let id: String

    /// Sends a prompt: starts a turn when idle, or queues it as steering while one runs.
    @discardableResult
    public func send(_ prompt: String) throws -> PromptResult {
        var out: UInt32 = 0
        try check(tandem_session_send_prompt(client.raw, id, prompt, &out))
        return PromptResult(rawValue: out) ?? .sent
    }

    /// Queues a follow-up, sent when the turn ends (or sends it when idle).
    @discardableResult
    public func queueFollowUp(_ prompt: String) throws -> PromptResult {
        var out: UInt32 = 0
        try check(tandem_session_queue_follow_up(client.raw, id, prompt, &out))
        return PromptResult(rawValue: out) ?? .sent
    }

    /// Answers the pending approval named `approvalID` (nil: whichever is pending).
    public func respond(to approvalID: String?, with decision: ApprovalDecision) throws {
        try check(withOptionalCString(approvalID) {
            tandem_session_respond_to_approval(client.raw, id, $0, decision.rawValue)
        })
    }

    /// Approves the pending call once.
    public func approve(_ approvalID: String?) throws { try respond(to: approvalID, with: .approve) }

    /// Rejects the pending call.
    public func reject(_ approvalID: String?) throws { try respond(to: approvalID, with: .reject) }

    /// The tools this session trusts (approved for the turn or the session): `{"<name>": "turn" | "session"}`.
    public func trustedToolsJSON() throws -> String {
        try callString { tandem_session_trusted_tools(client.raw, id, $0) }
    }

    /// Revokes the trust of tool `name` (nil: of every tool); `.notFound` when it holds none.
    public func revokeTrust(_ name: String?) throws {
        try check(withOptionalCString(name) { tandem_session_revoke_trust(client.raw, id, $0) })
    }

    /// Aborts the running turn.
    public func abort() throws { try check(tandem_session_abort(client.raw, id)) }

    /// Stops the session.
    public func stop() throws { try check(tandem_session_stop(client.raw, id)) }

    /// The session's status.
    public func status() throws -> SessionStatus {
        var out: UInt32 = 0
        try check(tandem_session_get_status(client.raw, id, &out))
        return SessionStatus(rawValue: out) ?? .error
    }

    /// The session's token (stable across restarts).
    public func token() throws -> String { try callString { tandem_session_token(client.raw, id, $0) } }

    /// Every message as a JSON array.
    public func messagesJSON() throws -> String { try callString { tandem_session_messages(client.raw, id, $0) } }

    /// Accumulated usage as JSON.
    public func usageJSON() throws -> String { try callString { tandem_session_usage(client.raw, id, $0) } }
}
