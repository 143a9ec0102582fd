// End-to-end tests of the Swift binding on real sessions (scripted model): streaming through the pull API and the
// AsyncStream, approvals, steering, a crash restart, and errors from status codes.
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
        try session.approve(pending.approvalID)
        XCTAssertThrowsError(try session.approve(pending.approvalID)) { error in
            XCTAssertEqual((error as? TandemError)?.status, .noPendingApproval)
        }
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
}
