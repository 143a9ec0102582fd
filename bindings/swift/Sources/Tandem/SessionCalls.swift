// The rest of the session and client calls of include/tandem.h: queues, history, models, skills, branches,
// collapses, boundaries, conversations, sub-agents and small helpers. JSON results are returned as `String`s (the
// `...JSON` names); decode them with JSONSerialization or Codable.
import CTandem
import Foundation

// MARK: - Helpers

/// The C name of a status value, e.g. "TANDEM_ERR_NOT_FOUND".
public func statusName(_ status: UInt32) -> String { String(cString: tandem_status_name(status)) }

/// The detail of the calling thread's last failed tandem call ("" if none).
public func lastErrorMessage() -> String { String(cString: tandem_last_error_message()) }

/// The stable session ID for a working directory ("workdir-" + 16 hex digits).
public func workdirSessionID(_ path: String) throws -> String {
    try callString { tandem_workdir_session_id(path, $0) }
}

/// Queue entries (a JSON array of strings or content-part arrays, as `recallQueuesJSON` returns them) as one text
/// for a prompt input: entries separated by a blank line, images left out.
public func queueEntriesToText(_ entriesJSON: String) throws -> String {
    try callString { tandem_queue_entries_to_text(entriesJSON, $0) }
}

/// Severity of a system message.
public enum MessageLevel: UInt32, Sendable { case info = 0, error }

// MARK: - Client

extension Client {
    /// The live session `id`, or a new one started with `options` (nil for the defaults).
    public func startOrGetSession(id: String, options: String? = nil) throws -> Session {
        let sid = try withOptionalCString(options) { opts in
            try callString { tandem_session_start_or_get(raw, id, opts, $0) }
        }
        return Session(client: self, id: sid)
    }

    /// Metadata of every live session, in start order, as a JSON array.
    public func sessionsJSON() throws -> String { try callString { tandem_session_list(raw, $0) } }

    /// Starts a background sub-agent working on `task` (options as for `startSession`, plus `detached`; `parent` a live
    /// session's ID, whose settings it inherits and with which it stops, see `tandem_subagent_start`).
    /// Returns the handle JSON `{session_id, parent_session_id, task, model, started_at, detached}`.
    public func startSubagent(task: String, options: String? = nil, parent: String? = nil) throws -> String {
        try withOptionalCString(parent) { p in
            try withOptionalCString(options) { o in
                try callString { tandem_subagent_start(raw, p, task, o, $0) }
            }
        }
    }

    /// Sub-agent handles, oldest first, as a JSON array: all, or those of `parent`.
    public func subagentsJSON(parent: String? = nil) throws -> String {
        try withOptionalCString(parent) { p in try callString { tandem_subagent_list(raw, p, $0) } }
    }

    /// Stored conversations, newest first, as a JSON array (`[]` with `store_dir: null`).
    public func conversationsJSON() throws -> String { try callString { tandem_conversation_list(raw, $0) } }

    /// Deletes stored conversation `id` (`.busy` while a session has it open).
    public func deleteConversation(_ id: String) throws { try check(tandem_conversation_delete(raw, id)) }
}

// MARK: - Session

extension Session {
    @inline(__always)
    func promptCall(_ body: (UnsafeMutablePointer<UInt32>) -> UInt32) throws -> PromptResult {
        var out: UInt32 = 0
        try check(body(&out))
        return PromptResult(rawValue: out) ?? .sent
    }

    // -- prompts and queues

    /// Like `send` with a JSON array of content parts (`{"type": "text", "text"}`, `{"type": "image", ...}`).
    @discardableResult
    public func sendParts(_ partsJSON: String) throws -> PromptResult {
        try promptCall { tandem_session_send_prompt_parts(client.raw, id, partsJSON, $0) }
    }

    /// Like `queueFollowUp` with a JSON array of content parts (images stay with the entry).
    @discardableResult
    public func queueFollowUpParts(_ partsJSON: String) throws -> PromptResult {
        try promptCall { tandem_session_queue_follow_up_parts(client.raw, id, partsJSON, $0) }
    }

    /// Queues steering while a turn runs (seen after the current tool calls); sends it when idle.
    @discardableResult
    public func queueSteering(_ prompt: String) throws -> PromptResult {
        try promptCall { tandem_session_queue_steering(client.raw, id, prompt, $0) }
    }

    /// Takes back the queued steering entries: a JSON array of entries (arrays of content parts).
    public func dequeueSteeringJSON() throws -> String {
        try callString { tandem_session_dequeue_steering(client.raw, id, $0) }
    }

    /// `{"steering": [...], "follow_up": [...]}`, unchanged.
    public func queuedMessagesJSON() throws -> String {
        try callString { tandem_session_queued_messages(client.raw, id, $0) }
    }

    /// Takes back both queues: `{"steering": [...], "follow_up": [...]}`.
    public func recallQueuesJSON() throws -> String {
        try callString { tandem_session_recall_queues(client.raw, id, $0) }
    }

    /// Empties both queues.
    public func clearQueues() throws { try check(tandem_session_clear_queues(client.raw, id)) }

    /// Resumes a turn a stream failure or `max_turns` cut off (`.invalidArgument` when the last turn was not cut off).
    public func continueTurn() throws { try check(tandem_session_continue(client.raw, id)) }

    /// Plan mode: destructive tools are refused.
    public func enterPlan() throws { try check(tandem_session_enter_plan(client.raw, id)) }

    /// Leaves plan mode.
    public func enterExec() throws { try check(tandem_session_enter_exec(client.raw, id)) }

    /// Appends a system message.
    public func addSystemMessage(_ text: String, level: MessageLevel = .info) throws {
        try check(tandem_session_add_system_message(client.raw, id, text, level.rawValue))
    }

    // -- history and state

    /// `{"messages": [...], "has_more": bool}`: up to `limit` messages below `beforeID` (0: newest), newest first.
    public func messagesPageJSON(beforeID: UInt64 = 0, limit: UInt32 = 50) throws -> String {
        try callString { tandem_session_messages_page(client.raw, id, beforeID, limit, $0) }
    }

    /// The content parts of user message `messageID` as JSON, images with their base64 data.
    public func messagePartsJSON(messageID: UInt64) throws -> String {
        try callString { tandem_session_message_parts(client.raw, id, messageID, $0) }
    }

    /// The session's metadata document.
    public func metadataJSON() throws -> String { try callString { tandem_session_metadata(client.raw, id, $0) } }

    /// `{status, pending_approval, error, active_tool_name, sandbox, budget}` (`budget`: the limits and running
    /// totals of this session and its sub-agents).
    public func snapshotJSON() throws -> String { try callString { tandem_session_snapshot(client.raw, id, $0) } }

    /// The project context files in the system prompt, lowest precedence first:
    /// `[{path, reason, bytes, loaded_bytes, truncated, error?}]`.
    public func contextFilesJSON() throws -> String {
        try callString { tandem_session_context_files(client.raw, id, $0) }
    }

    /// Changes the limits of this session's tree at runtime: `{"max_cost": usd|null, "max_tokens_total": n|null}`
    /// (a key left out keeps its value, null removes the limit).
    public func setBudget(_ budgetJSON: String) throws {
        try check(tandem_session_set_budget(client.raw, id, budgetJSON))
    }

    /// `{"events": [...], "latest_seq", "truncated"}`: the kept events after `seq`.
    public func eventsSinceJSON(seq: UInt64 = 0) throws -> String {
        try callString { tandem_session_events_since(client.raw, id, seq, $0) }
    }

    /// Files the session's tools changed: `[{"path", "action", "timestamp_ms"}]`.
    public func touchedFilesJSON() throws -> String {
        try callString { tandem_session_touched_files(client.raw, id, $0) }
    }

    // -- context and conversations

    /// Compacts the model context: `{"compacted", "info", "summary"?}` (`.busy` while a turn runs).
    public func compactJSON() throws -> String { try callString { tandem_session_compact(client.raw, id, $0) } }

    /// Writes a Markdown summary under `<workdir>/.tandem/context/`: `{"text", "path"}`.
    public func summarizeJSON() throws -> String { try callString { tandem_session_summarize(client.raw, id, $0) } }

    /// Archives the conversation and starts an empty one.
    public func newConversation() throws { try check(tandem_session_new_conversation(client.raw, id)) }

    /// Loads stored conversation `conversationID` into the session.
    public func loadConversation(_ conversationID: String) throws {
        try check(tandem_session_load_conversation(client.raw, id, conversationID))
    }

    // -- models, thinking, commands, skills

    /// Switches the model (`provider:model`).
    public func setModel(_ model: String) throws { try check(tandem_session_set_model(client.raw, id, model)) }

    /// Switches to the next entry of the `models` option: `{"model", "index", "total", "thinking_level"}`.
    public func cycleModelJSON() throws -> String { try callString { tandem_session_cycle_model(client.raw, id, $0) } }

    /// Sets the thinking level: off, low, medium or high.
    public func setThinkingLevel(_ level: String) throws {
        try check(tandem_session_set_thinking_level(client.raw, id, level))
    }

    /// Moves to the next thinking level and returns it (e.g. "medium").
    @discardableResult
    public func cycleThinkingLevel() throws -> String {
        let json = try callString { tandem_session_cycle_thinking_level(client.raw, id, $0) }
        let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        return object?["level"] as? String ?? ""
    }

    /// Models the session can use: `[{"model", "provider", "name", "current"}]`.
    public func availableModelsJSON() throws -> String {
        try callString { tandem_session_available_models(client.raw, id, $0) }
    }

    /// Slash commands: `[{"name", "description"}]`.
    public func commandsJSON() throws -> String { try callString { tandem_session_commands(client.raw, id, $0) } }

    /// Skills found for the session: `[{"name", "description", "path", "active"}]`.
    public func skillsJSON() throws -> String { try callString { tandem_session_list_skills(client.raw, id, $0) } }

    /// Activates skill `name` (`.notFound` when there is none).
    public func activateSkill(_ name: String) throws { try check(tandem_session_activate_skill(client.raw, id, name)) }

    /// Deactivates skill `name` (`.notFound` when it is not active).
    public func deactivateSkill(_ name: String) throws {
        try check(tandem_session_deactivate_skill(client.raw, id, name))
    }

    // -- MCP servers

    /// The session's MCP servers: `[{"name", "transport", "enabled", "state", "detail", "stderr", "tools"}]`.
    public func mcpServersJSON() throws -> String { try callString { tandem_session_mcp_servers(client.raw, id, $0) } }

    /// Enables or disables MCP server `name` (`.notFound` when the session has none of that name).
    public func setMCPEnabled(_ name: String, _ enabled: Bool) throws {
        try check(tandem_session_mcp_set_enabled(client.raw, id, name, enabled))
    }

    // -- branches and collapses

    /// Saves the transcript as a new branch and cuts it after `messageID`: `{"number", "name", "message_count"}`.
    public func branch(at messageID: UInt64) throws -> String {
        try callString { tandem_session_branch_at(client.raw, id, messageID, $0) }
    }

    /// The branches: `[{"number", "name", "message_count", "created_at"}]`.
    public func branchesJSON() throws -> String { try callString { tandem_session_list_branches(client.raw, id, $0) } }

    /// Replaces the transcript with branch `number` (1-based).
    public func switchBranch(_ number: UInt32) throws { try check(tandem_session_switch_branch(client.raw, id, number)) }

    /// Toggles whether tool call or thinking message `messageID` is collapsed.
    public func toggleToolCollapse(_ messageID: UInt64) throws {
        try check(tandem_session_toggle_tool_collapse(client.raw, id, messageID))
    }

    /// Expands everything if anything is collapsed, else collapses everything.
    public func toggleAllToolCollapses() throws { try check(tandem_session_toggle_all_tool_collapses(client.raw, id)) }

    // -- edit boundaries

    /// Limits edits of `path` to lines `startLine...endLine` (0-based).
    public func setBoundary(path: String, startLine: UInt32, endLine: UInt32) throws {
        try check(tandem_session_set_boundary(client.raw, id, path, startLine, endLine))
    }

    /// Removes the boundary of `path`.
    public func clearBoundary(path: String) throws { try check(tandem_session_clear_boundary(client.raw, id, path)) }

    /// Removes every boundary.
    public func clearAllBoundaries() throws { try check(tandem_session_clear_all_boundaries(client.raw, id)) }

    /// The boundary of `path`: `null` or `{"start_line", "end_line"}`.
    public func boundaryJSON(path: String) throws -> String {
        try callString { tandem_session_boundary_for(client.raw, id, path, $0) }
    }
}
