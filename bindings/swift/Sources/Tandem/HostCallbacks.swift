// Host tools (tandem_client_register_tool) and the host provider (tandem_client_set_provider). Handlers run on
// tandem-owned threads, possibly several at once; what they get is copied into Swift values, so they may keep it and
// answer later from any thread.
import CTandem
import Foundation

// MARK: - Host tools

/// One call of a host tool: what the model asked, and the handle to answer it. Complete it exactly once, from any
/// thread; a handle that was already completed is refused with `.notFound`, never a crash.
public struct ToolCall: @unchecked Sendable {
    let handle: OpaquePointer?
    public let sessionID: String
    public let toolCallID: String
    public let name: String
    /// The arguments, a JSON object.
    public let argumentsJSON: String

    /// Answers the call (`isError`: `result` is an error message).
    public func complete(_ result: String, isError: Bool = false) throws {
        try check(tandem_tool_call_complete(handle, result, isError))
    }

    /// Whether the call was cancelled (turn aborted, session stopped) or is no longer pending. A cancelled call must
    /// still be completed.
    public var isCancelled: Bool { tandem_tool_call_is_cancelled(handle) }

    /// The decoded arguments.
    public var arguments: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(argumentsJSON.utf8))) as? [String: Any] ?? [:]
    }
}

/// What tandem keeps for a registered tool: the handler. Released by tandem's `userdata_free`.
final class ToolBox: @unchecked Sendable {
    let handler: (ToolCall) -> Void
    private let lock = NSLock()
    private var _released = false
    var released: Bool {
        get { lock.lock(); defer { lock.unlock() }; return _released }
        set { lock.lock(); _released = newValue; lock.unlock() }
    }
    init(_ handler: @escaping (ToolCall) -> Void) { self.handler = handler }
}

private let toolCallback: tandem_tool_callback = { userdata, call, invocation in
    guard let userdata, let invocation else { return }
    let box = Unmanaged<ToolBox>.fromOpaque(userdata).takeUnretainedValue()
    let inv = invocation.pointee
    box.handler(ToolCall(
        handle: call,
        sessionID: inv.session_id.map { String(cString: $0) } ?? "",
        toolCallID: inv.tool_call_id.map { String(cString: $0) } ?? "",
        name: inv.name.map { String(cString: $0) } ?? "",
        argumentsJSON: inv.args_json.map { String(cString: $0) } ?? "{}"))
}

private let toolRelease: tandem_userdata_free = { userdata in
    guard let userdata else { return }
    let box = Unmanaged<ToolBox>.fromOpaque(userdata).takeRetainedValue()
    box.released = true
}

// MARK: - Host provider

/// One model call for the host provider (`Client.setProvider`). Answer with events, from the handler or later from
/// any thread, and end it with `done` or `error`. Each method is one `tandem_provider_emit` call (the request ID is
/// added here) and throws `.notFound` once the request ended or was aborted.
public struct ProviderRequest: @unchecked Sendable {
    public let client: Client
    public let sessionID: String
    public let requestID: UInt64
    /// `{"session_id", "request_id", "model", "thinking_level", "system_prompt", "messages", "tools"}`.
    public let requestJSON: String

    /// The decoded request.
    public var request: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(requestJSON.utf8))) as? [String: Any] ?? [:]
    }

    /// Sends one event, e.g. `["type": "text_delta", "text": "Hi"]`.
    public func emit(_ event: [String: Any]) throws {
        try client.providerEmit(sessionID: sessionID, requestID: requestID, event: event)
    }

    /// Streams answer text.
    public func text(_ text: String) throws { try emit(["type": "text_delta", "text": text]) }

    /// Streams thinking text.
    public func thinking(_ text: String) throws { try emit(["type": "thinking_delta", "text": text]) }

    /// The signature of the thinking so far.
    public func thinkingSignature(_ signature: String) throws {
        try emit(["type": "thinking_signature", "signature": signature])
    }

    /// Asks tandem to run tool `name` after `done`; its result comes in the next request.
    public func toolCall(id: String, name: String, arguments: [String: Any] = [:]) throws {
        try emit(["type": "tool_call", "id": id, "name": name, "args": arguments])
    }

    /// Reports usage (tokens; `cost` in USD).
    public func usage(input: UInt64, output: UInt64, cacheRead: UInt64 = 0, cacheWrite: UInt64 = 0) throws {
        try emit(["type": "usage", "input": NSNumber(value: input), "output": NSNumber(value: output),
                  "cache_read": NSNumber(value: cacheRead), "cache_write": NSNumber(value: cacheWrite)])
    }

    /// Ends the request (`stopReason` "max_tokens" marks a cut answer).
    public func done(stopReason: String? = nil) throws {
        var event: [String: Any] = ["type": "done"]
        if let stopReason { event["stop_reason"] = stopReason }
        try emit(event)
    }

    /// Ends the request with an error; retryable ones are retried with a new request.
    public func error(_ message: String, retryable: Bool = false) throws {
        try emit(["type": "error", "message": message, "retryable": retryable])
    }

    /// Whether the request no longer takes events (ended, turn aborted, session stopped).
    public var isCancelled: Bool { client.providerRequestIsCancelled(requestID) }
}

/// What tandem keeps for the provider: the handler and the client, weakly (the client owns the registration).
final class ProviderBox: @unchecked Sendable {
    let handler: (ProviderRequest) -> Void
    weak var client: Client?
    private let lock = NSLock()
    private var _released = false
    var released: Bool {
        get { lock.lock(); defer { lock.unlock() }; return _released }
        set { lock.lock(); _released = newValue; lock.unlock() }
    }
    init(_ handler: @escaping (ProviderRequest) -> Void, client: Client) {
        self.handler = handler
        self.client = client
    }
}

private let providerCallback: tandem_provider_callback = { userdata, request in
    guard let userdata, let request else { return }
    let box = Unmanaged<ProviderBox>.fromOpaque(userdata).takeUnretainedValue()
    guard let client = box.client else { return }  // the client is going away; its requests end with it
    let req = request.pointee
    box.handler(ProviderRequest(
        client: client,
        sessionID: req.session_id.map { String(cString: $0) } ?? "",
        requestID: req.request_id,
        requestJSON: req.request_json.map { String(cString: $0) } ?? "{}"))
}

private let providerRelease: tandem_userdata_free = { userdata in
    guard let userdata else { return }
    let box = Unmanaged<ProviderBox>.fromOpaque(userdata).takeRetainedValue()
    box.released = true
}

/// `event` with `"request_id"` added, as JSON.
func providerEventJSON(requestID: UInt64, event: [String: Any]) throws -> String {
    var tagged = event
    tagged["request_id"] = NSNumber(value: requestID)
    guard JSONSerialization.isValidJSONObject(tagged) else {
        throw TandemError(rawStatus: Status.invalidArgument.rawValue, message: "not a JSON object: \(event)")
    }
    let data = try JSONSerialization.data(withJSONObject: tagged)
    return String(decoding: data, as: UTF8.self)
}

extension Client {
    /// Registers a host tool (`specJSON`: `{"name", "description", "parameters", "destructive"}`). `handler` runs on a
    /// tandem-owned thread for each call and completes it exactly once, before returning or later from any thread.
    public func registerTool(specJSON: String, handler: @escaping (ToolCall) -> Void) throws {
        let box = ToolBox(handler)
        let userdata = Unmanaged.passRetained(box).toOpaque()
        let status = tandem_client_register_tool(raw, specJSON, toolCallback, userdata, toolRelease)
        if status != Status.ok.rawValue {
            // Released by tandem if the failure came after the arguments were checked; otherwise by us.
            if !box.released { Unmanaged<ToolBox>.fromOpaque(userdata).release() }
            try check(status)
        }
    }

    /// Registers a host tool whose handler returns the result text; a thrown error becomes an error result.
    public func registerTool(specJSON: String, returning result: @escaping (ToolCall) throws -> String) throws {
        try registerTool(specJSON: specJSON, handler: { (call: ToolCall) -> Void in
            let answer: String
            do {
                answer = try result(call)
            } catch {
                try? call.complete("\(error)", isError: true)
                return
            }
            try? call.complete(answer)
        })
    }

    /// Unregisters host tool `name`; calls already running finish.
    public func unregisterTool(_ name: String) throws { try check(tandem_client_unregister_tool(raw, name)) }

    /// Registers the host provider, replacing any previous one; nil unregisters (prompts of host sessions then end
    /// with an error). Sessions started with `"provider": "host"` call `handler` on a tandem-owned thread for each
    /// model call.
    public func setProvider(_ handler: ((ProviderRequest) -> Void)?) throws {
        guard let handler else {
            try check(tandem_client_set_provider(raw, nil, nil, nil))
            return
        }
        let box = ProviderBox(handler, client: self)
        let userdata = Unmanaged.passRetained(box).toOpaque()
        let status = tandem_client_set_provider(raw, providerCallback, userdata, providerRelease)
        if status != Status.ok.rawValue {
            if !box.released { Unmanaged<ProviderBox>.fromOpaque(userdata).release() }
            try check(status)
        }
    }

    /// Sends one host provider event for request `requestID` of session `sessionID` (`tandem_provider_emit`; the
    /// request ID is added to `event`).
    public func providerEmit(sessionID: String, requestID: UInt64, event: [String: Any]) throws {
        let json = try providerEventJSON(requestID: requestID, event: event)
        try check(tandem_provider_emit(raw, sessionID, json))
    }

    /// Whether host provider request `requestID` no longer takes events.
    public func providerRequestIsCancelled(_ requestID: UInt64) -> Bool {
        tandem_provider_request_is_cancelled(raw, requestID)
    }
}
