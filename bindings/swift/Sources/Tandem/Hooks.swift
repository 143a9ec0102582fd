// Hooks (tandem_client_add_hook): a handler sees each step of a session (tool calls, prompts,
// turn ends, session start, compaction) as one JSON document and answers with one. Handlers run on tandem-owned
// threads, possibly several at once.
import CTandem
import Foundation

/// What tandem keeps for a registered hook: the handler. Released by tandem's `userdata_free`.
final class HookBox: @unchecked Sendable {
    let handler: ([String: Any]) throws -> [String: Any]?
    private let lock = NSLock()
    private var _released = false
    var released: Bool {
        get { lock.lock(); defer { lock.unlock() }; return _released }
        set { lock.lock(); _released = newValue; lock.unlock() }
    }
    init(_ handler: @escaping ([String: Any]) throws -> [String: Any]?) { self.handler = handler }
}

private func answerJSON(_ answer: [String: Any]) -> String {
    guard let data = try? JSONSerialization.data(withJSONObject: answer) else {
        return #"{"error": "the hook's answer is not JSON"}"#
    }
    return String(decoding: data, as: UTF8.self)
}

private let hookCallback: tandem_hook_callback = { userdata, input, reply in
    guard let userdata else { return }
    let box = Unmanaged<HookBox>.fromOpaque(userdata).takeUnretainedValue()
    let text = input.map { String(cString: $0) } ?? "{}"
    let event = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
    let answer: [String: Any]?
    do {
        answer = try box.handler(event)
    } catch {
        // The hook failed: its on_failure default applies.
        answer = ["error": "\(error)"]
    }
    if let answer { _ = tandem_hook_reply_set(reply, answerJSON(answer)) }
}

private let hookRelease: tandem_userdata_free = { userdata in
    guard let userdata else { return }
    let box = Unmanaged<HookBox>.fromOpaque(userdata).takeRetainedValue()
    box.released = true
}

/// Registers `handler` through `add(callback, userdata, free, &id)`; returns the hook's ID.
private func registerHook(
    _ handler: @escaping ([String: Any]) throws -> [String: Any]?,
    _ add: (tandem_hook_callback, UnsafeMutableRawPointer, tandem_userdata_free, UnsafeMutablePointer<UInt64>) -> UInt32
) throws -> UInt64 {
    let box = HookBox(handler)
    let userdata = Unmanaged.passRetained(box).toOpaque()
    var id: UInt64 = 0
    let status = add(hookCallback, userdata, hookRelease, &id)
    if status != Status.ok.rawValue {
        // Released by tandem if the failure came after the arguments were checked; otherwise by us.
        if !box.released { Unmanaged<HookBox>.fromOpaque(userdata).release() }
        try check(status)
    }
    return id
}

extension Client {
    /// Adds a hook for every session (`specJSON`: `{"event", "matcher", "timeout_ms", "on_failure"}`, see
    /// docs/hooks.md). `handler` gets the hook input and returns the answer (e.g. `["decision": "deny", "reason":
    /// "..."]`), or nil to let the step go on; a thrown error takes the hook's `on_failure` default. Returns the
    /// hook's ID for `removeHook`.
    @discardableResult
    public func addHook(specJSON: String, handler: @escaping ([String: Any]) throws -> [String: Any]?) throws -> UInt64 {
        try registerHook(handler) { cb, ud, fr, id in tandem_client_add_hook(raw, nil, specJSON, cb, ud, fr, id) }
    }

    /// Removes a hook of the client or of one of its sessions; a call already running finishes.
    public func removeHook(_ hookID: UInt64) throws { try check(tandem_client_remove_hook(raw, hookID)) }
}

extension Session {
    /// Adds a hook for this session only, as `Client.addHook`; it is removed when the session stops.
    @discardableResult
    public func addHook(specJSON: String, handler: @escaping ([String: Any]) throws -> [String: Any]?) throws -> UInt64 {
        try registerHook(handler) { cb, ud, fr, id in tandem_client_add_hook(client.raw, self.id, specJSON, cb, ud, fr, id) }
    }
}
