// End-to-end tests of the Swift binding on real sessions (scripted model): streaming through the pull API and the
// AsyncStream, approvals, steering, a crash restart, errors from status codes, and the rest of the API: models,
// skills, boundaries, branches, collapses, conversations, sub-agents, queues, host tools and the host provider
// answered from other threads.
import Foundation
import XCTest
@testable import Tandem

final class TandemTests: XCTestCase {
    let config = #"{"store_dir": null}"#

    /// Pulls events until `kind` arrives for `session`; the events before it go to `log`.
    @discardableResult
    func pull(_ client: Client, until kind: EventKind, of session: Session, log: inout [Event]) throws -> Event {
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            guard let event = try client.nextEvent(timeoutMs: 500) else { continue }
            log.append(event)
            if event.kind == kind && event.sessionID == session.id { return event }
        }
        XCTFail("no \(kind) event within 10 s")
        throw TandemError(rawStatus: Status.timeout.rawValue, message: "test wait")
    }

    func text(_ log: [Event]) -> String { log.filter { $0.kind == .textDelta }.compactMap { $0.string("delta") }.joined() }

    func tempDir() throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("tandem-swift-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url.path
    }

    func testVersionMatchesHeader() {
        XCTAssertEqual(libraryVersion(), "\(TANDEM_VERSION_MAJOR).\(TANDEM_VERSION_MINOR).\(TANDEM_VERSION_PATCH)")
    }

    func testGovernance() throws {
        let client = try Client(config: config)
        let dir = try tempDir()
        try FileManager.default.createDirectory(atPath: dir + "/.git", withIntermediateDirectories: true)
        try "Be brief.\n".write(toFile: dir + "/AGENTS.md", atomically: true, encoding: .utf8)
        let task = { (p: String) in #"{"tool_call": {"name": "task", "args": {"prompt": "\#(p)", "model": "scripted:echo"}}}"# }
        let options = #"{"model": "scripted:x", "approval": "none", "max_tokens_total": 4, "workdir": "\#(dir)", "script": [["# +
            task("alpha") + ", " + task("beta") + #"], [{"text": "done"}]]}"#
        let session = try client.startSession(options: options)
        XCTAssertTrue(try session.contextFilesJSON().contains(#""reason":"workdir""#))
        _ = try session.send("delegate")
        var log: [Event] = []
        let ended = try pull(client, until: .turnEnded, of: session, log: &log)
        // Each echo sub-agent reports 1 + 1 tokens: the tree's 4 are spent before the parent's next model call.
        XCTAssertEqual(ended.string("reason"), "budget_exhausted")
        let results = log.filter { $0.kind == .toolEnded && $0.sessionID == session.id }.compactMap { $0.string("result") }
        XCTAssertEqual(results.sorted(), ["alpha", "beta"])
        XCTAssertTrue(log.contains { $0.parentID == session.id })
        XCTAssertTrue(log.contains { $0.kind == .budgetExhausted })
        XCTAssertThrowsError(try session.setBudget(#"{"max_tokens_total": 0}"#))
        try session.setBudget(#"{"max_tokens_total": null}"#)
        _ = try session.send("go on")
        XCTAssertEqual(try pull(client, until: .turnEnded, of: session, log: &log).string("reason"), "completed")
    }

    func testStreaming() throws {
        let client = try Client(config: config)
        let session = try client.startSession(options: #"{"model": "scripted:echo"}"#)
        XCTAssertEqual(try session.send("hello from Swift"), .sent)
        var log: [Event] = []
        let ended = try pull(client, until: .turnEnded, of: session, log: &log)
        XCTAssertEqual(ended.string("reason"), "completed")
        XCTAssertEqual(text(log), "hello from Swift")
        XCTAssertEqual(log.map(\.seq), Array(1...UInt64(log.count)))
        XCTAssertEqual(try session.status(), .idle)
    }

    func testSessionPull() throws {
        let client = try Client(config: config)
        let a = try client.startSession()
        let b = try client.startSession()
        XCTAssertEqual(try a.send("alpha"), .sent)
        XCTAssertEqual(try b.send("beta"), .sent)
        var mine: [Event] = []
        while let event = try client.nextEvent(session: a, timeoutMs: 10_000) {
            mine.append(event)
            if event.kind == .turnEnded { break }
        }
        XCTAssertEqual(mine.last?.kind, .turnEnded)
        XCTAssertTrue(mine.allSatisfy { $0.sessionID == a.id })
        XCTAssertEqual(mine.map(\.seq), Array(1...UInt64(mine.count)))
        XCTAssertEqual(text(mine), "alpha")
        // b's events stayed queued for an unfiltered pull.
        var rest: [Event] = []
        try pull(client, until: .turnEnded, of: b, log: &rest)
        XCTAssertEqual(rest.first?.kind, .sessionStarted)
        XCTAssertEqual(text(rest), "beta")
        try a.stop()
        XCTAssertEqual(try client.nextEvent(session: a, timeoutMs: 10_000)?.kind, .sessionStopped)
        XCTAssertEqual(status { _ = try client.nextEvent(session: a, timeoutMs: 10_000) }, .notFound)
    }

    func testAsyncStream() async throws {
        let client = try Client(config: config)
        let session = try client.startSession()
        let events = try client.events(session: session)
        try session.send("streamed")
        var received: [Event] = []
        for await event in events {
            received.append(event)
            if event.kind == .turnEnded { break }
        }
        XCTAssertEqual(text(received), "streamed")
    }

    func testApproval() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let client = try Client(config: config)
        let session = try client.startSession(options: """
            {"workdir": "\(dir)", "script": [[{"tool_call": {"name": "write_file",
              "args": {"path": "f.txt", "content": "hi"}}}], [{"text": "done"}]]}
            """)
        try session.send("write it")
        var log: [Event] = []
        let pending = try pull(client, until: .approvalPending, of: session, log: &log)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/f.txt"))
        try session.respond(to: pending.approvalID, with: .approveSession)
        XCTAssertThrowsError(try session.approve(pending.approvalID)) { error in
            XCTAssertEqual((error as? TandemError)?.status, .noPendingApproval)
        }
        XCTAssertEqual(try session.trustedToolsJSON(), #"{"write_file":"session"}"#)
        try session.revokeTrust("write_file")
        XCTAssertEqual(status { try session.revokeTrust("write_file") }, .notFound)
        try session.revokeTrust(nil)
        try pull(client, until: .turnEnded, of: session, log: &log)
        XCTAssertEqual(try String(contentsOfFile: dir + "/f.txt", encoding: .utf8), "hi")
    }

    func testSteering() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let client = try Client(config: config)
        let session = try client.startSession(options: """
            {"workdir": "\(dir)", "script": [[{"text": "working"}, {"delay_ms": 300},
              {"tool_call": {"name": "list_directory", "args": {"path": "."}}}], [{"text": "steered"}]]}
            """)
        try session.send("go")
        var log: [Event] = []
        try pull(client, until: .textDelta, of: session, log: &log)
        XCTAssertEqual(try session.send("turn left"), .queuedSteering)
        try pull(client, until: .turnEnded, of: session, log: &log)
        let messages = try JSONSerialization.jsonObject(with: Data(try session.messagesJSON().utf8)) as! [[String: Any]]
        let texts = messages.filter { ["user", "assistant"].contains($0["kind"] as? String) }.compactMap { $0["text"] as? String }
        XCTAssertEqual(texts, ["go", "working", "turn left", "steered"])
    }

    func testRestart() throws {
        let client = try Client(config: config)
        let session = try client.startSession(
            options: #"{"script": [[{"text": "before"}], [{"panic": "boom"}], [{"text": "after"}]]}"#)
        let token = try session.token()
        var log: [Event] = []
        try session.send("one")
        try pull(client, until: .turnEnded, of: session, log: &log)
        try session.send("two")
        let restarted = try pull(client, until: .sessionRestarted, of: session, log: &log)
        XCTAssertEqual(restarted.data["attempt"] as? Int, 1)
        var sent = false
        for _ in 0..<200 where !sent {
            do { try session.send("three"); sent = true } catch let e as TandemError where e.status == .restartPending {
                Thread.sleep(forTimeInterval: 0.01)
            }
        }
        XCTAssertTrue(sent)
        log.removeAll()
        try pull(client, until: .turnEnded, of: session, log: &log)
        XCTAssertEqual(text(log), "after")
        XCTAssertEqual(try session.token(), token)
    }

    func testErrors() throws {
        XCTAssertThrowsError(try Client(config: "{not json")) { error in
            let e = error as? TandemError
            XCTAssertEqual(e?.status, .invalidJSON)
            XCTAssertEqual(e?.statusName, "TANDEM_ERR_INVALID_JSON")
            XCTAssertFalse(e?.message.isEmpty ?? true)
        }
        let client = try Client(config: config)
        XCTAssertThrowsError(try client.session(id: "session-404").send("hello?")) { error in
            XCTAssertEqual((error as? TandemError)?.status, .notFound)
        }
    }

    // MARK: - The rest of the API

    func json(_ text: String) throws -> Any { try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed]) }
    func object(_ text: String) throws -> [String: Any] { try json(text) as? [String: Any] ?? [:] }
    func array(_ text: String) throws -> [[String: Any]] { try json(text) as? [[String: Any]] ?? [] }
    func status(of body: () throws -> Void) -> Status? {
        do { try body(); return .ok } catch let e as TandemError { return e.status } catch { return nil }
    }

    func testModelsSkillsBoundaries() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/.tandem/skills/review", withIntermediateDirectories: true)
        try "---\ndescription: Reviews code.\n---\nBe picky.\n".write(
            toFile: dir + "/.tandem/skills/review/SKILL.md", atomically: true, encoding: .utf8)
        let client = try Client(config: config)
        let session = try client.startSession(
            options: #"{"workdir": "\#(dir)", "models": ["scripted:echo", "scripted:demo"]}"#)
        XCTAssertEqual(try object(session.cycleModelJSON())["model"] as? String, "scripted:demo")
        XCTAssertEqual(try array(session.availableModelsJSON()).map { $0["current"] as? Bool }, [false, true])
        try session.setModel("scripted:echo")
        XCTAssertEqual(status { try session.setModel("no-prefix") }, .invalidArgument)
        try session.setThinkingLevel("low")
        XCTAssertEqual(try session.cycleThinkingLevel(), "medium")
        XCTAssertEqual(status { try session.setThinkingLevel("extreme") }, .invalidArgument)
        XCTAssertNoThrow(try array(session.commandsJSON()))
        let skills = try array(session.skillsJSON())
        XCTAssertEqual(skills.first?["name"] as? String, "review")
        XCTAssertEqual(skills.first?["description"] as? String, "Reviews code.")
        try session.activateSkill("review")
        try session.deactivateSkill("review")
        XCTAssertEqual(status { try session.deactivateSkill("review") }, .notFound)
        try session.setBoundary(path: "a.txt", startLine: 1, endLine: 3)
        let boundary = try object(session.boundaryJSON(path: "a.txt"))
        XCTAssertEqual(boundary["start_line"] as? Int, 1)
        XCTAssertEqual(boundary["end_line"] as? Int, 3)
        XCTAssertEqual(status { try session.setBoundary(path: "b.txt", startLine: 5, endLine: 2) }, .invalidArgument)
        try session.clearBoundary(path: "a.txt")
        XCTAssertEqual(try session.boundaryJSON(path: "a.txt"), "null")
        try session.setBoundary(path: "b.txt", startLine: 0, endLine: 0)
        try session.clearAllBoundaries()
        XCTAssertEqual(try session.boundaryJSON(path: "b.txt"), "null")
        try session.send("summarize me")
        var log: [Event] = []
        try pull(client, until: .turnEnded, of: session, log: &log)
        try session.addSystemMessage("note", level: .error)
        let page = try object(session.messagesPageJSON(beforeID: 0, limit: 1))
        XCTAssertEqual((page["messages"] as? [[String: Any]])?.first?["text"] as? String, "note")
        XCTAssertEqual(page["has_more"] as? Bool, true)
        let summary = try object(session.summarizeJSON())
        XCTAssertTrue(FileManager.default.fileExists(atPath: summary["path"] as? String ?? "/nonexistent"))
        XCTAssertNotNil(try object(session.compactJSON())["compacted"] as? Bool)
        XCTAssertFalse((try object(session.eventsSinceJSON(seq: 0))["events"] as? [Any] ?? []).isEmpty)
        XCTAssertNoThrow(try object(session.snapshotJSON()))
        XCTAssertNoThrow(try array(session.touchedFilesJSON()))
        try session.enterPlan()
        XCTAssertEqual(try session.status(), .plan)
        try session.enterExec()
    }

    func testBranchesAndCollapses() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let client = try Client(config: config)
        let session = try client.startSession(options: """
            {"workdir": "\(dir)", "script": [[{"thinking": "hmm"},
              {"tool_call": {"name": "list_directory", "args": {"path": "."}}}], [{"text": "ok"}]]}
            """)
        try session.send("look")
        var log: [Event] = []
        try pull(client, until: .turnEnded, of: session, log: &log)
        let messages = try array(session.messagesJSON())
        let tool = try XCTUnwrap(messages.first { $0["kind"] as? String == "tool_call" })
        let user = try XCTUnwrap(messages.first { $0["kind"] as? String == "user" })
        let toolID = UInt64(tool["id"] as? Int ?? 0), userID = UInt64(user["id"] as? Int ?? 0)
        try session.toggleToolCollapse(toolID)
        let toggled = try array(session.messagesJSON()).first { ($0["id"] as? Int) == Int(toolID) }
        XCTAssertNotEqual(toggled?["collapsed"] as? Bool, tool["collapsed"] as? Bool)
        try session.toggleAllToolCollapses()
        XCTAssertEqual(status { try session.toggleToolCollapse(userID) }, .invalidArgument)
        XCTAssertEqual(status { try session.continueTurn() }, .invalidArgument)
        let branch = try object(session.branch(at: userID))
        XCTAssertEqual(branch["number"] as? Int, 1)
        XCTAssertEqual(try array(session.branchesJSON()).first?["message_count"] as? Int, messages.count)
        try session.switchBranch(1)
        XCTAssertEqual(try array(session.messagesJSON()).count, messages.count)
        XCTAssertEqual(status { try session.switchBranch(9) }, .notFound)
    }

    func testConversations() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let client = try Client(config: #"{"store_dir": "\#(dir)/store"}"#)
        let session = try client.startSession()
        try session.send("keep me")
        var log: [Event] = []
        try pull(client, until: .turnEnded, of: session, log: &log)
        let old = try XCTUnwrap(object(session.metadataJSON())["conversation_id"] as? String)
        try session.newConversation()
        XCTAssertTrue(try array(client.conversationsJSON()).contains { $0["id"] as? String == old })
        try session.loadConversation(old)
        XCTAssertTrue(try session.messagesJSON().contains("keep me"))
        XCTAssertEqual(status { try client.deleteConversation(old) }, .busy)
        XCTAssertEqual(status { _ = try session.summarizeJSON() }, .notSupported)
        try session.newConversation()
        try client.deleteConversation(old)
        XCTAssertEqual(status { try client.deleteConversation(old) }, .notFound)
        XCTAssertEqual(try Client(config: config).conversationsJSON(), "[]")
    }

    func testSubagentsQueuesAndHelpers() throws {
        let client = try Client(config: config)
        let parent = try client.startOrGetSession(id: "parent")
        XCTAssertEqual(parent.id, "parent")
        XCTAssertEqual(try client.startOrGetSession(id: "parent").id, "parent")
        XCTAssertEqual(try array(client.sessionsJSON()).count, 1)
        let handle = try object(client.startSubagent(task: "count to three", parent: parent.id))
        XCTAssertEqual(handle["parent_session_id"] as? String, "parent")
        let subID = try XCTUnwrap(handle["session_id"] as? String)
        XCTAssertEqual(try array(client.subagentsJSON(parent: "parent")).map { $0["session_id"] as? String }, [subID])
        XCTAssertEqual(try client.subagentsJSON(parent: "nobody"), "[]")
        var log: [Event] = []
        try pull(client, until: .turnEnded, of: client.session(id: subID), log: &log)

        let wid = try workdirSessionID("/tmp/x/../y")
        XCTAssertEqual(wid, try workdirSessionID("/tmp/y"))
        XCTAssertTrue(wid.hasPrefix("workdir-") && wid.count == 24)
        XCTAssertEqual(statusName(Status.busy.rawValue), "TANDEM_ERR_BUSY")

        let slow = try client.startSession(options: #"{"script": [[{"text": "slow"}, {"delay_ms": 400}, {"text": "!"}]]}"#)
        XCTAssertEqual(try slow.sendParts(#"[{"type": "text", "text": "parts"}]"#), .sent)
        XCTAssertEqual(try slow.queueFollowUp("later"), .queuedFollowUp)
        XCTAssertEqual(try slow.queueSteering("steer"), .queuedSteering)
        let queued = try object(slow.queuedMessagesJSON())
        XCTAssertEqual((queued["steering"] as? [Any])?.count, 1)
        XCTAssertEqual((queued["follow_up"] as? [Any])?.count, 1)
        XCTAssertTrue(try slow.dequeueSteeringJSON().contains("steer"))
        XCTAssertTrue(try slow.recallQueuesJSON().contains("later"))
        try slow.queueFollowUp("again")
        try slow.clearQueues()
        XCTAssertEqual((try object(slow.queuedMessagesJSON())["follow_up"] as? [Any])?.count, 0)
        try pull(client, until: .turnEnded, of: slow, log: &log)
    }

    func testHostToolsAnsweredFromAnotherThread() throws {
        let client = try Client(config: config)
        let refusedTwice = expectation(description: "a spent handle is refused")
        try client.registerTool(specJSON: #"{"name": "slow_add", "description": "Adds later.", "parameters": {"type": "object"}}"#,
                                handler: { call in
            XCTAssertFalse(call.isCancelled)
            let args = call.arguments
            DispatchQueue.global().asyncAfter(deadline: .now() + 0.05) {
                let sum = (args["a"] as? Int ?? 0) + (args["b"] as? Int ?? 0)
                try? call.complete(String(sum))
                if call.isCancelled, (try? call.complete("again")) == nil { refusedTwice.fulfill() }
            }
        })
        try client.registerTool(specJSON: #"{"name": "thrower", "description": "Throws.", "parameters": {"type": "object"}}"#,
                                returning: { _ in throw TandemError(rawStatus: 0, message: "tool failed") })
        XCTAssertEqual(status {
            try client.registerTool(specJSON: #"{"name": "slow_add", "description": "x", "parameters": {"type": "object"}}"#,
                                    returning: { _ in "" })
        }, .alreadyExists)
        let session = try client.startSession(options: """
            {"script": [[{"tool_call": {"name": "slow_add", "args": {"a": 20, "b": 22}}},
              {"tool_call": {"name": "thrower", "args": {}}}], [{"text": "ok"}]]}
            """)
        try session.send("go")
        var log: [Event] = []
        try pull(client, until: .turnEnded, of: session, log: &log)
        let ended = log.filter { $0.kind == .toolEnded }
        XCTAssertEqual(ended.first { $0.string("name") == "slow_add" }?.string("result"), "42")
        XCTAssertTrue(ended.first { $0.string("name") == "thrower" }?.string("result")?.contains("tool failed") ?? false)
        wait(for: [refusedTwice], timeout: 10)
        try client.unregisterTool("slow_add")
        XCTAssertEqual(status { try client.unregisterTool("slow_add") }, .notFound)
    }

    func testHooksDenyRewriteAndAddContext() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let client = try Client(config: config)
        let session = try client.startSession(options: """
            {"model": "scripted:x", "approval": "none", "workdir": "\(dir)", "script": [
              [{"tool_call": {"name": "write_file", "args": {"path": "a.env", "content": "x"}}}],
              [{"tool_call": {"name": "write_file", "args": {"path": "b.txt", "content": "draft"}}}],
              [{"text": "ok"}]]}
            """)
        try session.addHook(specJSON: #"{"event": "PreToolUse", "matcher": "Write|Edit"}"#) { input in
            let args = input["tool_input"] as? [String: Any] ?? [:]
            if args["path"] as? String == "a.env" { return ["decision": "deny", "reason": "no env files"] }
            return ["tool_input": ["path": "c.txt", "content": "final"]]
        }
        let post = try client.addHook(specJSON: #"{"event": "PostToolUse", "matcher": "Write"}"#) { _ in
            ["additional_context": "formatted"]
        }
        XCTAssertEqual(status { try client.addHook(specJSON: #"{"event": "Later"}"#) { _ in nil } }, .invalidArgument)
        try session.send("go")
        var log: [Event] = []
        try pull(client, until: .turnEnded, of: session, log: &log)
        let results = log.filter { $0.kind == .toolEnded }.compactMap { $0.string("result") }
        XCTAssertEqual(results.first, "Blocked by a PreToolUse hook: no env files")
        XCTAssertTrue(results.last?.hasSuffix("\n\nformatted") ?? false)
        XCTAssertEqual(try String(contentsOfFile: dir + "/c.txt", encoding: .utf8), "final")
        try client.removeHook(post)
        XCTAssertEqual(status { try client.removeHook(post) }, .notFound)
    }

    func testHostProviderAnsweredFromAnotherThread() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "alpha\n".write(toFile: dir + "/a.txt", atomically: true, encoding: .utf8)
        let client = try Client(config: config)
        let lock = NSLock()
        var models: [String] = []
        try client.setProvider { request in
            lock.lock(); models.append(request.request["model"] as? String ?? ""); lock.unlock()
            let hasResult = (request.request["messages"] as? [[String: Any]] ?? []).contains { $0["role"] as? String == "tool_result" }
            DispatchQueue.global().async {
                if !hasResult {
                    try? request.text("Reading.")
                    try? request.toolCall(id: "c1", name: "read_file", arguments: ["path": "a.txt"])
                    try? request.usage(input: 10, output: 2)
                    try? request.done()
                } else {
                    try? request.text(" It says alpha.")
                    try? request.done(stopReason: "max_tokens")
                }
            }
        }
        let session = try client.startSession(
            options: #"{"provider": "host", "model": "host:swift", "workdir": "\#(dir)", "tools": ["read_file"]}"#)
        try session.send("what is in a.txt?")
        var log: [Event] = []
        let ended = try pull(client, until: .turnEnded, of: session, log: &log)
        XCTAssertEqual(ended.string("reason"), "completed")
        XCTAssertEqual(text(log.filter { $0.sessionID == session.id }), "Reading. It says alpha.")
        lock.lock(); XCTAssertEqual(models, ["host:swift", "host:swift"]); lock.unlock()

        // Abort: the parked request is cancelled and refuses events.
        let parked = expectation(description: "a request arrives")
        var pending: ProviderRequest?
        try client.setProvider { request in
            lock.lock(); pending = request; lock.unlock()
            parked.fulfill()
        }
        try session.send("x")
        wait(for: [parked], timeout: 10)
        lock.lock(); let request = try XCTUnwrap(pending); lock.unlock()
        try request.text("partial")
        XCTAssertFalse(client.providerRequestIsCancelled(request.requestID))
        try session.abort()
        XCTAssertEqual(try pull(client, until: .turnEnded, of: session, log: &log).string("reason"), "aborted")
        XCTAssertTrue(request.isCancelled)
        XCTAssertEqual(status { try request.done() }, .notFound)
        XCTAssertEqual(status { try client.providerEmit(sessionID: session.id, requestID: request.requestID, event: ["type": "bogus"]) },
                       .invalidArgument)

        // Without a host provider the session's provider is not ready: the prompt is refused, nothing recorded.
        try client.setProvider(nil)
        XCTAssertEqual(status { try session.send("y") }, .providerNotReady)
    }
}
