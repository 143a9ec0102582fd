// Tests of bindings/cpp/tandem.hpp on real sessions (scripted model): streaming, approvals, steering, crash restart,
// RAII subscriptions, exceptions from status codes, callback exceptions, host tools (sync and async), the host
// provider answered from other threads, models, skills, boundaries, branches, collapses, conversations, sub-agents
// MCP servers and the JSON reader.
// Built by scripts/test-cpp.sh with -Wall -Wextra -Werror, plain and under AddressSanitizer + UBSan.
#include "tandem.hpp"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

// Atomic: some checks run on tandem's threads and on the tests' own answering threads.
std::atomic<int> failures{0};
std::atomic<int> checks{0};

#define CHECK(cond)                                                                           \
    do {                                                                                      \
        checks++;                                                                             \
        if (!(cond)) {                                                                        \
            failures++;                                                                       \
            std::fprintf(stderr, "  %s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                                     \
    } while (0)

#define CHECK_EQ(a, b)                                                                                            \
    do {                                                                                                          \
        checks++;                                                                                                 \
        auto va = (a);                                                                                            \
        auto vb = (b);                                                                                            \
        if (!(va == vb)) {                                                                                        \
            failures++;                                                                                           \
            std::ostringstream os;                                                                                \
            os << va << " != " << vb;                                                                             \
            std::fprintf(stderr, "  %s:%d: CHECK_EQ(%s, %s) failed: %s\n", __FILE__, __LINE__, #a, #b,           \
                         os.str().c_str());                                                                       \
        }                                                                                                         \
    } while (0)

// Runs `body`; passes only if it throws tandem::Error with `status`.
template <typename F>
void check_throws(tandem_status status, F body, int line) {
    checks++;
    try {
        body();
        failures++;
        std::fprintf(stderr, "  line %d: no exception, expected %s\n", line, tandem_status_name(status));
    } catch (const tandem::Error &e) {
        if (e.status() != status) {
            failures++;
            std::fprintf(stderr, "  line %d: got %s, expected %s\n", line, e.what(), tandem_status_name(status));
        }
    }
}
#define CHECK_THROWS(status, ...) check_throws(status, [&] { __VA_ARGS__; }, __LINE__)

constexpr auto WAIT = std::chrono::seconds(10);

const char *const CONFIG = R"({"store_dir": null})";

// Pulls events into `log` until `pred` matches one (returned), or fails after WAIT.
template <typename Pred>
std::optional<tandem::Event> pull_until(const tandem::Client &client, std::vector<tandem::Event> &log, Pred pred) {
    auto deadline = std::chrono::steady_clock::now() + WAIT;
    while (std::chrono::steady_clock::now() < deadline) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        auto event = client.next_event(left);
        if (!event) break;
        log.push_back(*event);
        if (pred(*event)) return event;
    }
    failures++;
    std::fprintf(stderr, "  no matching event within the wait; saw %zu events\n", log.size());
    return std::nullopt;
}

auto kind_is(uint32_t kind, const std::string &session) {
    return [kind, session](const tandem::Event &e) { return e.kind == kind && e.session_id == session; };
}

std::string streamed_text(const std::vector<tandem::Event> &log, const std::string &session) {
    std::string text;
    for (const auto &e : log)
        if (e.kind == TANDEM_EVENT_KIND_TEXT_DELTA && e.session_id == session) text += e.data()["delta"].as_string();
    return text;
}

std::string make_tempdir() {
    char tmpl[] = "/tmp/tandem-cpp-XXXXXX";
    char *dir = mkdtemp(tmpl);
    if (!dir) std::abort();
    return dir;
}

std::string read_file(const std::string &path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// ---- tests ---------------------------------------------------------------------------------------------------

void test_json_reader() {
    auto v = tandem::json::parse(R"( {"a": [1, -2.5e1, true, null], "s": "x\u00e9\ud83d\ude00\n", "o": {}} )");
    CHECK(v.is_object());
    CHECK_EQ(v["a"].size(), size_t(4));
    CHECK_EQ(v["a"][1].as_number(), -25.0);
    CHECK(v["a"][2].as_bool());
    CHECK(v["a"][3].is_null());
    CHECK(v["a"][99].is_null());
    CHECK(v["missing"]["deeper"].is_null());
    CHECK_EQ(v["s"].as_string(), std::string("x\xc3\xa9\xf0\x9f\x98\x80\n"));
    CHECK(v["o"].is_object() && v["o"].size() == 0);
    CHECK_EQ(tandem::json::parse(tandem::json::quote("a\"b\\c\n\x01")).as_string(), std::string("a\"b\\c\n\x01"));
    for (const char *bad : {"", "{", "[1,]", "{\"a\" 1}", "tru", "\"\\x\"", "1 2", "\"a"}) {
        checks++;
        try {
            tandem::json::parse(bad);
            failures++;
            std::fprintf(stderr, "  parsed invalid JSON: %s\n", bad);
        } catch (const tandem::json::ParseError &) {
        }
    }
    bool threw = false;
    try {
        (void)v["a"].as_string();
    } catch (const std::logic_error &) {
        threw = true;
    }
    CHECK(threw);
}

void test_errors() {
    CHECK_EQ(tandem::version(), std::to_string(TANDEM_VERSION_MAJOR) + "." + std::to_string(TANDEM_VERSION_MINOR) +
                                    "." + std::to_string(TANDEM_VERSION_PATCH));
    CHECK_THROWS(TANDEM_ERR_INVALID_JSON, tandem::Client("{not json"));
    try {
        tandem::Client bad(R"({"no_such_key": 1})");
        CHECK(false);
    } catch (const tandem::Error &e) {
        CHECK_EQ(e.status(), TANDEM_ERR_INVALID_ARGUMENT);
        CHECK_EQ(std::string(e.status_name()), std::string("TANDEM_ERR_INVALID_ARGUMENT"));
        CHECK(e.message().find("no_such_key") != std::string::npos);
        CHECK(std::string(e.what()).rfind("TANDEM_ERR_INVALID_ARGUMENT: ", 0) == 0);
    }
    tandem::Client client(CONFIG);
    CHECK_THROWS(TANDEM_ERR_NOT_FOUND, client.session("session-404").send("hello?"));
    client.start_session(R"({"session_id": "mine"})");
    CHECK_THROWS(TANDEM_ERR_ALREADY_EXISTS, client.start_session(R"({"session_id": "mine"})"));
    CHECK_EQ(client.start_or_get_session("mine").id(), std::string("mine"));
    CHECK_THROWS(TANDEM_ERR_NO_PENDING_APPROVAL, client.session("mine").approve());
    // The remote gateway: plain ws only on loopback, and one at a time.
    CHECK_THROWS(TANDEM_ERR_INVALID_ARGUMENT, client.listen(R"({"address": "0.0.0.0:0"})"));
    CHECK(client.listen().rfind("ws://127.0.0.1:", 0) == 0);
    CHECK_THROWS(TANDEM_ERR_ALREADY_EXISTS, client.listen());
    client.stop_listening();
    CHECK(client.listen().rfind("ws://127.0.0.1:", 0) == 0);
    // After the client is gone, a session handle fails cleanly instead of touching freed memory.
    tandem::Session orphan = client.session("mine");
    client = tandem::Client(CONFIG);
    CHECK_THROWS(TANDEM_ERR_SHUTTING_DOWN, orphan.status());
}

void test_streaming() {
    tandem::Client client(CONFIG);
    tandem::Session session = client.start_session(R"({"model": "scripted:echo"})");
    CHECK_EQ(session.send("hello from C++"), TANDEM_PROMPT_RESULT_SENT);
    std::vector<tandem::Event> log;
    auto ended = pull_until(client, log, kind_is(TANDEM_EVENT_KIND_TURN_ENDED, session.id()));
    CHECK(ended && (*ended).data()["reason"].as_string() == "completed");
    CHECK_EQ(streamed_text(log, session.id()), std::string("hello from C++"));
    CHECK(!log.empty() && log.front().kind == TANDEM_EVENT_KIND_SESSION_STARTED);
    for (size_t i = 0; i < log.size(); i++) CHECK_EQ(log[i].seq, uint64_t(i + 1));
    CHECK_EQ(session.status(), TANDEM_SESSION_STATUS_IDLE);
    auto messages = tandem::json::parse(session.messages());
    std::string answer;
    for (const auto &m : messages.items())
        if (m["kind"].as_string() == "assistant") answer = m["text"].as_string();
    CHECK_EQ(answer, std::string("hello from C++"));
    CHECK(tandem::json::parse(session.usage())["output"].as_int() > 0);
    CHECK_EQ(tandem::json::parse(client.sessions())[size_t(0)]["id"].as_string(), session.id());
    auto replay = tandem::json::parse(session.events_since(0));
    CHECK_EQ(replay["events"].size(), log.size());
}

void test_session_pull() {
    tandem::Client client(CONFIG);
    tandem::Session a = client.start_session();
    tandem::Session b = client.start_session();
    CHECK_EQ(a.send("alpha"), TANDEM_PROMPT_RESULT_SENT);
    CHECK_EQ(b.send("beta"), TANDEM_PROMPT_RESULT_SENT);
    // Only a's events, in sequence order, through its turn_ended.
    std::vector<tandem::Event> log;
    while (auto e = client.next_session_event(a.id(), WAIT)) {
        log.push_back(*e);
        if (e->kind == TANDEM_EVENT_KIND_TURN_ENDED) break;
    }
    CHECK(!log.empty() && log.back().kind == TANDEM_EVENT_KIND_TURN_ENDED);
    for (size_t i = 0; i < log.size(); i++) {
        CHECK_EQ(log[i].session_id, a.id());
        CHECK_EQ(log[i].seq, uint64_t(i + 1));
    }
    CHECK_EQ(streamed_text(log, a.id()), std::string("alpha"));
    CHECK(!client.next_session_event(a.id(), std::chrono::milliseconds(20)));
    // b's events all stayed queued for an unfiltered pull.
    std::vector<tandem::Event> rest;
    CHECK(pull_until(client, rest, kind_is(TANDEM_EVENT_KIND_TURN_ENDED, b.id())));
    CHECK(!rest.empty() && rest.front().kind == TANDEM_EVENT_KIND_SESSION_STARTED);
    for (size_t i = 0; i < rest.size(); i++) CHECK_EQ(rest[i].seq, uint64_t(i + 1));
    CHECK_EQ(streamed_text(rest, b.id()), std::string("beta"));
    // After the session's session_stopped, the filtered pull says NOT_FOUND.
    a.stop();
    auto stopped = client.next_session_event(a.id(), WAIT);
    CHECK(stopped && stopped->kind == TANDEM_EVENT_KIND_SESSION_STOPPED);
    CHECK_THROWS(TANDEM_ERR_NOT_FOUND, client.next_session_event(a.id(), WAIT));
    CHECK_THROWS(TANDEM_ERR_NOT_FOUND, client.next_session_event("no-such-session", WAIT));
}

void test_ready_fd_and_batches() {
    tandem::Client client(CONFIG);
    int fd = client.ready_fd();
    CHECK(fd >= 0);
    CHECK_EQ(client.ready_fd(), fd);
    CHECK_THROWS(TANDEM_ERR_INVALID_ARGUMENT, client.next_events(0));
    tandem::Session s = client.start_session();
    CHECK_EQ(s.send("one two three"), TANDEM_PROMPT_RESULT_SENT);
    std::vector<tandem::Event> log;
    auto deadline = std::chrono::steady_clock::now() + WAIT;
    while (std::chrono::steady_clock::now() < deadline &&
           (log.empty() || log.back().kind != TANDEM_EVENT_KIND_TURN_ENDED)) {
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, 1000) != 1) continue;
        for (auto &e : client.next_events(2)) log.push_back(std::move(e));
    }
    CHECK(!log.empty() && log.back().kind == TANDEM_EVENT_KIND_TURN_ENDED);
    CHECK_EQ(streamed_text(log, s.id()), std::string("one two three"));
    for (size_t i = 0; i < log.size(); i++) CHECK_EQ(log[i].seq, uint64_t(i + 1));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    while (!client.next_events(64).empty()) {
    }
    pollfd p{fd, POLLIN, 0};
    CHECK_EQ(poll(&p, 1, 50), 0);
    client.shutdown();
    CHECK_EQ(poll(&p, 1, 5000), 1);
}

std::string write_options(const std::string &workdir, const std::string &file) {
    return R"({"workdir": )" + tandem::json::quote(workdir) +
           R"(, "script": [[{"text": "writing"}, {"tool_call": {"name": "write_file", "args": {"path": ")" + file +
           R"(", "content": "hi"}}}], [{"text": "done"}]]})";
}

void test_approvals() {
    tandem::Client client(CONFIG);
    std::string dir = make_tempdir();
    tandem::Session session = client.start_session(write_options(dir, "f.txt"));
    session.send("write it");
    std::vector<tandem::Event> log;
    auto pending = pull_until(client, log, kind_is(TANDEM_EVENT_KIND_APPROVAL_PENDING, session.id()));
    if (!pending) return;
    const auto &approval = pending->data()["approval"];
    CHECK_EQ(approval["name"].as_string(), std::string("write_file"));
    CHECK(access((dir + "/f.txt").c_str(), F_OK) != 0);
    std::string approval_id = approval["approval_id"].as_string();
    CHECK_EQ(session.trusted_tools(), std::string("{}"));
    session.respond_to_approval(TANDEM_APPROVAL_DECISION_APPROVE_SESSION, approval_id);
    CHECK_THROWS(TANDEM_ERR_NO_PENDING_APPROVAL, session.approve(approval_id));
    CHECK_EQ(session.trusted_tools(), std::string(R"({"write_file":"session"})"));
    session.revoke_trust("write_file");
    CHECK_EQ(session.trusted_tools(), std::string("{}"));
    CHECK_THROWS(TANDEM_ERR_NOT_FOUND, session.revoke_trust("write_file"));
    session.revoke_trust();
    pull_until(client, log, kind_is(TANDEM_EVENT_KIND_TURN_ENDED, session.id()));
    CHECK_EQ(read_file(dir + "/f.txt"), std::string("hi"));
    bool changed = false;
    for (const auto &e : log) changed |= e.kind == TANDEM_EVENT_KIND_FILE_CHANGED && e.data()["action"].as_string() == "created";
    CHECK(changed);

    // Rejected: the file is not written and the tool reports it.
    tandem::Session other = client.start_session(write_options(dir, "g.txt"));
    other.send("write it");
    log.clear();
    pending = pull_until(client, log, kind_is(TANDEM_EVENT_KIND_APPROVAL_PENDING, other.id()));
    if (!pending) return;
    other.reject(pending->data()["approval"]["approval_id"].as_string());
    pull_until(client, log, kind_is(TANDEM_EVENT_KIND_TURN_ENDED, other.id()));
    CHECK(access((dir + "/g.txt").c_str(), F_OK) != 0);
    bool rejected = false;
    for (const auto &e : log) rejected |= e.kind == TANDEM_EVENT_KIND_TOOL_ENDED && e.data()["is_error"].as_bool();
    CHECK(rejected);
    std::filesystem::remove_all(dir);
}

void test_steering() {
    tandem::Client client(CONFIG);
    std::string dir = make_tempdir();
    tandem::Session session = client.start_session(
        R"({"workdir": )" + tandem::json::quote(dir) +
        R"(, "script": [[{"text": "working"}, {"delay_ms": 300}, {"tool_call": {"name": "list_directory", "args": {"path": "."}}}], [{"text": "steered"}]]})");
    session.send("go");
    std::vector<tandem::Event> log;
    pull_until(client, log, kind_is(TANDEM_EVENT_KIND_TEXT_DELTA, session.id()));
    CHECK_EQ(session.send("turn left"), TANDEM_PROMPT_RESULT_QUEUED_STEERING);
    auto queued = pull_until(client, log, kind_is(TANDEM_EVENT_KIND_PROMPT_QUEUED, session.id()));
    CHECK(queued && queued->data()["queue"].as_string() == "steering");
    pull_until(client, log, kind_is(TANDEM_EVENT_KIND_TURN_ENDED, session.id()));
    std::vector<std::string> texts;
    const auto messages = tandem::json::parse(session.messages());
    for (const auto &m : messages.items())
        if (m["kind"].as_string() == "user" || m["kind"].as_string() == "assistant") texts.push_back(m["text"].as_string());
    CHECK(texts == (std::vector<std::string>{"go", "working", "turn left", "steered"}));
    std::filesystem::remove_all(dir);
}

void test_restart() {
    tandem::Client client(CONFIG);
    tandem::Session session =
        client.start_session(R"({"script": [[{"text": "before"}], [{"panic": "boom"}], [{"text": "after"}]]})");
    std::string token = session.token();
    std::vector<tandem::Event> log;
    session.send("one");
    pull_until(client, log, kind_is(TANDEM_EVENT_KIND_TURN_ENDED, session.id()));
    session.send("two");
    log.clear();
    auto restarted = pull_until(client, log, kind_is(TANDEM_EVENT_KIND_SESSION_RESTARTED, session.id()));
    CHECK(restarted && restarted->data()["attempt"].as_int() == 1);
    int interrupted = 0;
    for (const auto &e : log)
        interrupted += e.kind == TANDEM_EVENT_KIND_TURN_ENDED && e.data()["reason"].as_string() == "interrupted";
    CHECK_EQ(interrupted, 1);
    for (int i = 0;; i++) {
        try {
            session.send("three");
            break;
        } catch (const tandem::Error &e) {
            if (e.status() != TANDEM_ERR_RESTART_PENDING || i > 200) throw;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
    }
    log.clear();
    pull_until(client, log, kind_is(TANDEM_EVENT_KIND_TURN_ENDED, session.id()));
    CHECK_EQ(streamed_text(log, session.id()), std::string("after"));
    CHECK_EQ(session.token(), token);
}

void test_subscriptions() {
    tandem::Client client(R"({"store_dir": null, "pull_events": false})");
    tandem::Session session = client.start_session();
    std::mutex mu;
    std::condition_variable cv;
    std::vector<tandem::Event> seen;
    std::atomic<int> calls{0};
    bool ended = false;
    const auto main_thread = std::this_thread::get_id();
    std::atomic<bool> on_other_thread{true};
    {
        tandem::Subscription sub = client.subscribe(
            [&](const tandem::Event &e) {
                calls++;
                if (std::this_thread::get_id() == main_thread) on_other_thread = false;
                std::lock_guard<std::mutex> lock(mu);
                seen.push_back(e);
                if (e.kind == TANDEM_EVENT_KIND_TURN_ENDED) ended = true;
                cv.notify_all();
            },
            session.id());
        CHECK(sub.id() != 0);
        session.send("pushed");
        std::unique_lock<std::mutex> lock(mu);
        CHECK(cv.wait_for(lock, WAIT, [&] { return ended; }));
    }  // the destructor unsubscribes
    CHECK(on_other_thread.load());
    CHECK_EQ(streamed_text(seen, session.id()), std::string("pushed"));
    int before = calls.load();
    session.send("again");
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    CHECK_EQ(calls.load(), before);

    // An exception thrown by a callback does not unwind into C; unsubscribe() rethrows it on this thread.
    std::atomic<bool> thrown{false};
    tandem::Subscription failing = client.subscribe([&](const tandem::Event &e) {
        if (e.kind == TANDEM_EVENT_KIND_TURN_ENDED) {
            thrown = true;
            throw std::runtime_error("from a callback");
        }
    });
    session.send("three");
    for (int i = 0; i < 1000 && !thrown; i++) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    CHECK(thrown.load());
    bool rethrown = false;
    try {
        failing.unsubscribe();
    } catch (const std::runtime_error &e) {
        rethrown = std::string(e.what()) == "from a callback";
    }
    CHECK(rethrown);
    CHECK_EQ(failing.id(), uint64_t(0));

    // A callback may answer an approval itself.
    std::string dir = make_tempdir();
    tandem::Session writer = client.start_session(write_options(dir, "cb.txt"));
    std::atomic<bool> done{false};
    tandem::Subscription approver = client.subscribe(
        [&](const tandem::Event &e) {
            if (e.kind == TANDEM_EVENT_KIND_APPROVAL_PENDING) writer.approve(e.data()["approval"]["approval_id"].as_string());
            if (e.kind == TANDEM_EVENT_KIND_TURN_ENDED) done = true;
        },
        writer.id());
    writer.send("go");
    for (int i = 0; i < 1000 && !done; i++) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    CHECK_EQ(read_file(dir + "/cb.txt"), std::string("hi"));
    approver.unsubscribe();
    std::filesystem::remove_all(dir);
}

void test_host_tool() {
    tandem::Client client(CONFIG);
    client.register_tool(R"({"name": "add", "description": "Adds a and b.", "parameters": {"type": "object"}})",
                         [](const tandem::ToolInvocation &inv) {
                             auto args = tandem::json::parse(inv.args_json);
                             return std::to_string(args["a"].as_int() + args["b"].as_int());
                         });
    client.register_tool(R"({"name": "broken", "description": "Fails.", "parameters": {"type": "object"}})",
                         [](const tandem::ToolInvocation &) -> std::string { throw std::runtime_error("tool failed"); });
    CHECK_THROWS(TANDEM_ERR_ALREADY_EXISTS,
                 client.register_tool(R"({"name": "add", "description": "x", "parameters": {"type": "object"}})",
                                      [](const tandem::ToolInvocation &) { return std::string(); }));
    CHECK_THROWS(TANDEM_ERR_INVALID_JSON, client.register_tool("{", [](const tandem::ToolInvocation &) {
        return std::string();
    }));
    tandem::Session session = client.start_session(
        R"({"script": [[{"tool_call": {"name": "add", "args": {"a": 2, "b": 3}}}, {"tool_call": {"name": "broken", "args": {}}}], [{"text": "ok"}]]})");
    session.send("use the tools");
    std::vector<tandem::Event> log;
    pull_until(client, log, kind_is(TANDEM_EVENT_KIND_TURN_ENDED, session.id()));
    std::string add_result, broken_result;
    for (const auto &e : log) {
        if (e.kind != TANDEM_EVENT_KIND_TOOL_ENDED) continue;
        if (e.data()["name"].as_string() == "add") add_result = e.data()["result"].as_string();
        if (e.data()["name"].as_string() == "broken" && e.data()["is_error"].as_bool())
            broken_result = e.data()["result"].as_string();
    }
    CHECK_EQ(add_result, std::string("5"));
    CHECK(broken_result.find("tool failed") != std::string::npos);
    client.unregister_tool("add");
    CHECK_THROWS(TANDEM_ERR_NOT_FOUND, client.unregister_tool("add"));
}

// The messages of a session, parsed.
tandem::json::Value messages_of(const tandem::Session &session) { return tandem::json::parse(session.messages()); }

void test_models_skills_boundaries() {
    tandem::Client client(CONFIG);
    std::string dir = make_tempdir();
    std::filesystem::create_directories(dir + "/.tandem/skills/review");
    std::ofstream(dir + "/.tandem/skills/review/SKILL.md") << "---\ndescription: Reviews code.\n---\nBe picky.\n";
    tandem::Session session = client.start_session(R"({"workdir": )" + tandem::json::quote(dir) +
                                                   R"(, "models": ["scripted:echo", "scripted:demo"]})");
    // Models and thinking levels.
    auto cycled = tandem::json::parse(session.cycle_model());
    CHECK_EQ(cycled["model"].as_string(), std::string("scripted:demo"));
    CHECK_EQ(cycled["index"].as_int(), int64_t(2));
    auto models = tandem::json::parse(session.available_models());
    CHECK_EQ(models.size(), size_t(2));
    CHECK(!models[size_t(0)]["current"].as_bool() && models[size_t(1)]["current"].as_bool());
    session.set_model("scripted:echo");
    CHECK_EQ(tandem::json::parse(session.metadata())["model"].as_string(), std::string("scripted:echo"));
    CHECK_THROWS(TANDEM_ERR_INVALID_ARGUMENT, session.set_model("no-provider-prefix"));
    session.set_thinking_level("low");
    CHECK_EQ(session.cycle_thinking_level(), std::string("medium"));
    CHECK_THROWS(TANDEM_ERR_INVALID_ARGUMENT, session.set_thinking_level("extreme"));
    CHECK(tandem::json::parse(session.commands()).is_array());
    // Skills.
    auto skills = tandem::json::parse(session.skills());
    CHECK_EQ(skills.size(), size_t(1));
    CHECK_EQ(skills[size_t(0)]["name"].as_string(), std::string("review"));
    CHECK_EQ(skills[size_t(0)]["description"].as_string(), std::string("Reviews code."));
    CHECK(!skills[size_t(0)]["active"].as_bool());
    session.activate_skill("review");
    CHECK(tandem::json::parse(session.skills())[size_t(0)]["active"].as_bool());
    session.deactivate_skill("review");
    CHECK_THROWS(TANDEM_ERR_NOT_FOUND, session.deactivate_skill("review"));
    CHECK_THROWS(TANDEM_ERR_NOT_FOUND, session.activate_skill("nope"));
    // Boundaries.
    session.set_boundary("a.txt", 1, 3);
    auto boundary = tandem::json::parse(session.boundary_for("a.txt"));
    CHECK_EQ(boundary["start_line"].as_int(), int64_t(1));
    CHECK_EQ(boundary["end_line"].as_int(), int64_t(3));
    CHECK_THROWS(TANDEM_ERR_INVALID_ARGUMENT, session.set_boundary("b.txt", 5, 2));
    session.clear_boundary("a.txt");
    CHECK(tandem::json::parse(session.boundary_for("a.txt")).is_null());
    session.set_boundary("a.txt", 0, 0);
    session.set_boundary("b.txt", 0, 0);
    session.clear_all_boundaries();
    CHECK(tandem::json::parse(session.boundary_for("b.txt")).is_null());
    // System messages, pages, summaries.
    session.send("summarize me");
    std::vector<tandem::Event> log;
    pull_until(client, log, kind_is(TANDEM_EVENT_KIND_TURN_ENDED, session.id()));
    session.add_system_message("note", TANDEM_MESSAGE_LEVEL_ERROR);
    auto messages = messages_of(session);
    CHECK_EQ(messages[messages.size() - 1]["text"].as_string(), std::string("note"));
    auto page = tandem::json::parse(session.messages_page(0, 1));
    CHECK_EQ(page["messages"].size(), size_t(1));
    CHECK(page["has_more"].as_bool());
    CHECK_THROWS(TANDEM_ERR_INVALID_ARGUMENT, session.add_system_message("x", tandem_message_level(7)));
    auto summary = tandem::json::parse(session.summarize());
    CHECK(!summary["text"].as_string().empty());
    CHECK(std::filesystem::exists(summary["path"].as_string()));
    CHECK(tandem::json::parse(session.compact())["compacted"].is_bool());
    std::filesystem::remove_all(dir);
}

void test_branches_and_collapses() {
    tandem::Client client(CONFIG);
    std::string dir = make_tempdir();
    tandem::Session session = client.start_session(
        R"({"workdir": )" + tandem::json::quote(dir) +
        R"(, "script": [[{"thinking": "hmm"}, {"tool_call": {"name": "list_directory", "args": {"path": "."}}}], [{"text": "ok"}]]})");
    session.send("look");
    std::vector<tandem::Event> log;
    pull_until(client, log, kind_is(TANDEM_EVENT_KIND_TURN_ENDED, session.id()));
    auto messages = messages_of(session);
    uint64_t tool_id = 0, user_id = 0;
    bool tool_collapsed = false;
    for (const auto &m : messages.items()) {
        if (m["kind"].as_string() == "tool_call") {
            tool_id = uint64_t(m["id"].as_int());
            tool_collapsed = m["collapsed"].is_bool() && m["collapsed"].as_bool();
        }
        if (m["kind"].as_string() == "user" && user_id == 0) user_id = uint64_t(m["id"].as_int());
    }
    CHECK(tool_id != 0 && user_id != 0);
    session.toggle_tool_collapse(tool_id);
    bool now = !tool_collapsed;
    for (const auto &m : messages_of(session).items())
        if (uint64_t(m["id"].as_int()) == tool_id) now = m["collapsed"].is_bool() && m["collapsed"].as_bool();
    CHECK(now != tool_collapsed);
    session.toggle_all_tool_collapses();
    CHECK_THROWS(TANDEM_ERR_INVALID_ARGUMENT, session.toggle_tool_collapse(user_id));
    CHECK_THROWS(TANDEM_ERR_INVALID_ARGUMENT, session.continue_turn());  // the last turn was not cut off

    size_t full = messages_of(session).size();
    auto branch = tandem::json::parse(session.branch_at(user_id));
    CHECK_EQ(branch["number"].as_int(), int64_t(1));
    auto cut = messages_of(session);
    CHECK_EQ(uint64_t(cut[cut.size() - 1]["id"].as_int()), user_id);
    auto branches = tandem::json::parse(session.branches());
    CHECK_EQ(branches.size(), size_t(1));
    CHECK_EQ(size_t(branches[size_t(0)]["message_count"].as_int()), full);
    session.switch_branch(1);
    CHECK_EQ(messages_of(session).size(), full);
    CHECK_THROWS(TANDEM_ERR_NOT_FOUND, session.switch_branch(9));
    CHECK_THROWS(TANDEM_ERR_NOT_FOUND, session.switch_branch(0));
    std::filesystem::remove_all(dir);
}

void test_conversations() {
    std::string dir = make_tempdir();
    {
        tandem::Client client(R"({"store_dir": )" + tandem::json::quote(dir + "/store") + "}");
        tandem::Session session = client.start_session();
        session.send("keep me");
        std::vector<tandem::Event> log;
        pull_until(client, log, kind_is(TANDEM_EVENT_KIND_TURN_ENDED, session.id()));
        std::string old = tandem::json::parse(session.metadata())["conversation_id"].as_string();
        session.new_conversation();
        CHECK(tandem::json::parse(session.metadata())["conversation_id"].as_string() != old);
        bool listed = false;
        for (const auto &conv : tandem::json::parse(client.conversations()).items()) listed |= conv["id"].as_string() == old;
        CHECK(listed);
        std::string fresh = tandem::json::parse(session.metadata())["conversation_id"].as_string();
        CHECK_THROWS(TANDEM_ERR_BUSY, client.delete_conversation(fresh));  // the session has it open
        session.load_conversation(old);
        bool kept = false;
        for (const auto &m : messages_of(session).items()) kept |= m.get_string("text") == "keep me";
        CHECK(kept);
        CHECK_THROWS(TANDEM_ERR_NOT_SUPPORTED, session.summarize());  // no workdir
        session.new_conversation();
        client.delete_conversation(old);
        for (const auto &conv : tandem::json::parse(client.conversations()).items())
            CHECK(conv["id"].as_string() != old);
        CHECK_THROWS(TANDEM_ERR_NOT_FOUND, client.delete_conversation(old));
        CHECK_THROWS(TANDEM_ERR_NOT_FOUND, session.load_conversation(old));
    }
    tandem::Client memory(CONFIG);
    CHECK_EQ(memory.conversations(), std::string("[]"));
    std::filesystem::remove_all(dir);
}

void test_subagents_and_misc() {
    tandem::Client client(CONFIG);
    tandem::Session parent = client.start_session();
    auto handle = tandem::json::parse(client.start_subagent("count to three", "", parent.id()));
    CHECK_EQ(handle["parent_session_id"].as_string(), parent.id());
    CHECK_EQ(handle["task"].as_string(), std::string("count to three"));
    std::string sub_id = handle["session_id"].as_string();
    auto listed = tandem::json::parse(client.subagents(parent.id()));
    CHECK_EQ(listed.size(), size_t(1));
    CHECK_EQ(listed[size_t(0)]["session_id"].as_string(), sub_id);
    CHECK_EQ(tandem::json::parse(client.subagents()).size(), size_t(1));
    CHECK_EQ(tandem::json::parse(client.subagents(std::string("nobody"))).size(), size_t(0));
    CHECK_THROWS(TANDEM_ERR_NOT_FOUND, client.start_subagent("x", "", std::string("session-404")));
    std::vector<tandem::Event> log;
    pull_until(client, log, kind_is(TANDEM_EVENT_KIND_TURN_ENDED, sub_id));
    CHECK(tandem::json::parse(client.session(sub_id).metadata())["background"].as_bool());

    // Small helpers and the queue calls.
    std::string wid = tandem::workdir_session_id("/tmp/x/../y");
    CHECK_EQ(wid.rfind("workdir-", 0), size_t(0));
    CHECK_EQ(wid.size(), size_t(8 + 16));
    CHECK_EQ(wid, tandem::workdir_session_id("/tmp/y"));
    CHECK_EQ(tandem::status_name(TANDEM_ERR_BUSY), std::string("TANDEM_ERR_BUSY"));
    CHECK_EQ(tandem::queue_entries_to_text(R"(["a", [{"type": "text", "text": "b"}]])"), std::string("a\n\nb"));
    tandem::Session slow = client.start_session(R"({"script": [[{"text": "slow"}, {"delay_ms": 400}, {"text": "!"}]]})");
    CHECK_EQ(slow.send_parts(R"([{"type": "text", "text": "parts"}])"), TANDEM_PROMPT_RESULT_SENT);
    CHECK_EQ(slow.queue_follow_up("later"), TANDEM_PROMPT_RESULT_QUEUED_FOLLOW_UP);
    CHECK_EQ(slow.queue_steering("steer"), TANDEM_PROMPT_RESULT_QUEUED_STEERING);
    auto queued = tandem::json::parse(slow.queued_messages());
    CHECK_EQ(queued["steering"].size(), size_t(1));
    CHECK_EQ(queued["follow_up"].size(), size_t(1));
    auto steering = tandem::json::parse(slow.dequeue_steering());
    CHECK_EQ(steering.size(), size_t(1));
    CHECK_EQ(steering[size_t(0)][size_t(0)]["text"].as_string(), std::string("steer"));
    auto recalled = tandem::json::parse(slow.recall_queues());
    CHECK_EQ(recalled["follow_up"].size(), size_t(1));
    slow.queue_follow_up("again");
    slow.clear_queues();
    CHECK_EQ(tandem::json::parse(slow.queued_messages())["follow_up"].size(), size_t(0));
    pull_until(client, log, kind_is(TANDEM_EVENT_KIND_TURN_ENDED, slow.id()));
    parent.enter_plan();
    CHECK_EQ(parent.status(), TANDEM_SESSION_STATUS_PLAN);
    parent.enter_exec();
    CHECK_EQ(parent.status(), TANDEM_SESSION_STATUS_IDLE);
    CHECK(tandem::json::parse(parent.snapshot()).is_object());
    CHECK(tandem::json::parse(parent.touched_files()).is_array());
    parent.abort();  // a no-op when idle
}

// A blocking queue of provider requests, answered by the test's own threads.
struct RequestQueue {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<tandem::ProviderRequest> items;
    void push(const tandem::ProviderRequest &r) {
        std::lock_guard<std::mutex> lock(mu);
        items.push_back(r);
        cv.notify_all();
    }
    std::optional<tandem::ProviderRequest> pop() {
        std::unique_lock<std::mutex> lock(mu);
        if (!cv.wait_for(lock, WAIT, [&] { return !items.empty(); })) return std::nullopt;
        tandem::ProviderRequest r = items.front();
        items.erase(items.begin());
        return r;
    }
};

void test_host_provider() {
    tandem::Client client(CONFIG);
    std::string dir = make_tempdir();
    std::ofstream(dir + "/a.txt") << "alpha\n";
    std::mutex mu;
    std::vector<std::string> models, tool_results;
    std::vector<std::thread> answerers;
    std::atomic<int> late_refused{0};
    client.set_provider([&](const tandem::ProviderRequest &req) {
        CHECK(!req.is_cancelled());
        const auto &request = req.request();
        bool has_result = false;
        {
            std::lock_guard<std::mutex> lock(mu);
            models.push_back(request["model"].as_string());
            for (const auto &m : request["messages"].items())
                if (m["role"].as_string() == "tool_result") {
                    has_result = true;
                    tool_results.push_back(m["content"].as_string());
                }
            // Answer from another thread, after the callback returned.
            answerers.emplace_back([req, has_result, &late_refused] {
                if (!has_result) {
                    req.text("Reading.");
                    req.tool_call("c1", "read_file", R"({"path": "a.txt"})");
                    req.usage(10, 2);
                    req.done();
                } else {
                    req.text(" It says alpha.");
                    req.done("max_tokens");
                }
                if (req.is_cancelled()) {
                    try {
                        req.text("late");
                    } catch (const tandem::Error &e) {
                        if (e.status() == TANDEM_ERR_NOT_FOUND) late_refused++;
                    }
                }
            });
        }
    });
    tandem::Session session = client.start_session(R"({"provider": "host", "model": "host:cpp", "workdir": )" +
                                                   tandem::json::quote(dir) + R"(, "tools": ["read_file"]})");
    session.send("what is in a.txt?");
    std::vector<tandem::Event> log;
    auto ended = pull_until(client, log, kind_is(TANDEM_EVENT_KIND_TURN_ENDED, session.id()));
    CHECK(ended && ended->data()["reason"].as_string() == "completed");
    CHECK_EQ(streamed_text(log, session.id()), std::string("Reading. It says alpha."));
    {
        std::lock_guard<std::mutex> lock(mu);
        CHECK(models == (std::vector<std::string>{"host:cpp", "host:cpp"}));
        CHECK(tool_results.size() == 1 && tool_results[0].find("alpha") != std::string::npos);
    }
    for (auto &t : answerers) t.join();
    CHECK_EQ(late_refused.load(), 2);
    bool noted = false;
    for (const auto &m : messages_of(session).items())
        noted |= m["kind"].as_string() == "system" && m.get_string("text").find("output token limit") != std::string::npos;
    CHECK(noted);
    CHECK(tandem::json::parse(session.usage())["input"].as_int() >= 10);

    // Abort cancels an open request; late events are refused; bad events are invalid.
    RequestQueue pending;
    client.set_provider([&](const tandem::ProviderRequest &req) { pending.push(req); });
    session.send("x");
    auto req = pending.pop();
    CHECK(req.has_value());
    if (!req) return;
    req->text("partial");
    CHECK(!client.provider_request_is_cancelled(req->request_id()));
    session.abort();
    log.clear();
    ended = pull_until(client, log, kind_is(TANDEM_EVENT_KIND_TURN_ENDED, session.id()));
    CHECK(ended && ended->data()["reason"].as_string() == "aborted");
    CHECK(req->is_cancelled());
    CHECK_THROWS(TANDEM_ERR_NOT_FOUND, req->done());
    CHECK_THROWS(TANDEM_ERR_INVALID_ARGUMENT, client.provider_emit(session.id(), req->request_id(), R"({"type": "bogus"})"));
    CHECK_THROWS(TANDEM_ERR_INVALID_ARGUMENT, req->emit("[]"));
    CHECK_EQ(tandem::detail::with_request_id(7, " { } "), std::string("{\"request_id\": 7} "));

    // A throwing handler ends the turn with its message.
    client.set_provider([](const tandem::ProviderRequest &) -> void { throw std::runtime_error("no model here"); });
    session.send("y");
    log.clear();
    ended = pull_until(client, log, kind_is(TANDEM_EVENT_KIND_TURN_ENDED, session.id()));
    CHECK(ended && ended->data()["reason"].as_string() == "error");
    bool reported = false;
    for (const auto &e : log)
        reported |= e.kind == TANDEM_EVENT_KIND_ERROR && e.json.find("no model here") != std::string::npos;
    CHECK(reported);

    // Unregistered: the provider of host sessions is not ready, and prompts are refused.
    client.clear_provider();
    CHECK_THROWS(TANDEM_ERR_PROVIDER_NOT_READY, session.send("z"));
    std::filesystem::remove_all(dir);
}

void test_async_tool() {
    tandem::Client client(CONFIG);
    std::vector<std::thread> workers;
    std::mutex mu;
    client.register_tool_async(
        R"({"name": "slow_add", "description": "Adds a and b later.", "parameters": {"type": "object"}})",
        [&](const tandem::ToolCall &call) {
            CHECK(!call.is_cancelled());
            std::lock_guard<std::mutex> lock(mu);
            workers.emplace_back([call] {
                std::this_thread::sleep_for(std::chrono::milliseconds(50));
                auto args = tandem::json::parse(call.args_json());
                call.complete(std::to_string(args["a"].as_int() + args["b"].as_int()));
                CHECK(call.is_cancelled());  // spent handles report cancelled
                CHECK_THROWS(TANDEM_ERR_NOT_FOUND, call.complete("again"));
            });
        });
    client.register_tool_async(R"({"name": "thrower", "description": "Throws.", "parameters": {"type": "object"}})",
                               [](const tandem::ToolCall &) { throw std::runtime_error("async failure"); });
    tandem::Session session = client.start_session(
        R"({"script": [[{"tool_call": {"name": "slow_add", "args": {"a": 20, "b": 22}}}, {"tool_call": {"name": "thrower", "args": {}}}], [{"text": "ok"}]]})");
    session.send("go");
    std::vector<tandem::Event> log;
    pull_until(client, log, kind_is(TANDEM_EVENT_KIND_TURN_ENDED, session.id()));
    std::string add_result, thrown;
    for (const auto &e : log) {
        if (e.kind != TANDEM_EVENT_KIND_TOOL_ENDED) continue;
        if (e.data()["name"].as_string() == "slow_add") add_result = e.data()["result"].as_string();
        if (e.data()["name"].as_string() == "thrower" && e.data()["is_error"].as_bool()) thrown = e.data()["result"].as_string();
    }
    CHECK_EQ(add_result, std::string("42"));
    CHECK(thrown.find("async failure") != std::string::npos);
    std::lock_guard<std::mutex> lock(mu);
    for (auto &t : workers) t.join();
    CHECK(tandem_tool_call_is_cancelled(nullptr));
}


// MCP servers: a session with the fake stdio server (tests/mcp/fake_server.py; the tests run from the repository
// root) lists it with its tools, disables it and enables it again, each change reported by mcp_server_status.
void test_mcp_servers() {
    tandem::Client client(CONFIG);
    tandem::Session session = client.start_session(
        R"({"model": "scripted:echo", "mcp_servers": {"fake": {"command": "python3", "args": ["tests/mcp/fake_server.py", "ok"]}}})");
    std::vector<tandem::Event> log;
    auto state_is = [&](const std::string &state) {
        return [&session, state](const tandem::Event &e) {
            return e.kind == TANDEM_EVENT_KIND_MCP_SERVER_STATUS && e.session_id == session.id() &&
                   e.data()["state"].as_string() == state;
        };
    };
    auto ready = pull_until(client, log, state_is("ready"));
    CHECK(ready.has_value());
    if (ready) CHECK_EQ(ready->data()["server"].as_string(), std::string("fake"));
    auto servers = tandem::json::parse(session.mcp_servers());
    CHECK_EQ(servers.size(), size_t(1));
    CHECK_EQ(servers[size_t(0)]["state"].as_string(), std::string("ready"));
    CHECK_EQ(servers[size_t(0)]["transport"].as_string(), std::string("stdio"));
    bool write_gated = false;
    for (size_t i = 0; i < servers[size_t(0)]["tools"].size(); i++) {
        const auto &t = servers[size_t(0)]["tools"][i];
        if (t["tool"].as_string() == "write") write_gated = t["gated"].as_bool();
    }
    CHECK(write_gated);
    session.set_mcp_enabled("fake", false);
    auto disabled = pull_until(client, log, state_is("disabled"));
    CHECK(disabled.has_value());
    servers = tandem::json::parse(session.mcp_servers());
    CHECK(!servers[size_t(0)]["enabled"].as_bool());
    CHECK_EQ(servers[size_t(0)]["tools"].size(), size_t(0));
    session.set_mcp_enabled("fake", true);
    CHECK(pull_until(client, log, state_is("ready")).has_value());
    CHECK(tandem::json::parse(session.mcp_servers())[size_t(0)]["enabled"].as_bool());
    CHECK_THROWS(TANDEM_ERR_NOT_FOUND, session.set_mcp_enabled("nope", true));
}

// Governance: the model's task tool runs two sub-agents in one turn and gets both answers; their events name the
// parent; a token budget across the tree ends the next turn with budget_exhausted until raised; context files.
void test_governance() {
    tandem::Client client(CONFIG);
    char dir[] = "/tmp/tandem-cpp-gov-XXXXXX";
    CHECK(mkdtemp(dir) != nullptr);
    std::string work(dir);
    CHECK(std::system(("mkdir -p " + work + "/.git && echo 'Be brief.' > " + work + "/AGENTS.md").c_str()) == 0);
    std::string script = R"([[{"tool_call": {"name": "task", "args": {"prompt": "alpha", "model": "scripted:echo"}}},
        {"tool_call": {"name": "task", "args": {"prompt": "beta", "model": "scripted:echo"}}}], [{"text": "done"}]])";
    tandem::Session session = client.start_session(R"({"model": "scripted:x", "approval": "none", "workdir": ")" +
                                                   work + R"(", "max_tokens_total": 4, "script": )" + script + "}");
    auto files = tandem::json::parse(session.context_files());
    CHECK_EQ(files.size(), size_t(1));
    CHECK_EQ(files[size_t(0)]["reason"].as_string(), std::string("workdir"));
    session.send("delegate");
    std::vector<tandem::Event> log;
    auto ended = pull_until(client, log, kind_is(TANDEM_EVENT_KIND_TURN_ENDED, session.id()));
    CHECK(ended.has_value());
    // alpha and beta report 1 + 1 tokens each: the tree's 4 are spent before the parent's next model call.
    if (ended) CHECK_EQ(ended->data()["reason"].as_string(), std::string("budget_exhausted"));
    std::vector<std::string> results;
    bool child_events = false, stopped = false;
    for (const auto &e : log) {
        if (e.kind == TANDEM_EVENT_KIND_TOOL_ENDED && e.session_id == session.id())
            results.push_back(e.data()["result"].as_string());
        child_events |= e.parent_id == session.id();
        stopped |= e.kind == TANDEM_EVENT_KIND_BUDGET_EXHAUSTED && e.data()["limit"].as_string() == "max_tokens_total";
    }
    std::sort(results.begin(), results.end());
    CHECK(results == (std::vector<std::string>{"alpha", "beta"}));
    CHECK(child_events);
    CHECK(stopped);
    CHECK_EQ(tandem::Event::kind_from_name("budget_exhausted"), uint32_t(TANDEM_EVENT_KIND_BUDGET_EXHAUSTED));
    CHECK_EQ(tandem::Event::kind_from_name("plan_updated"), uint32_t(TANDEM_EVENT_KIND_PLAN_UPDATED));
    CHECK_EQ(tandem::json::parse(session.snapshot())["budget"]["tree_tokens"].as_number(), 4.0);
    CHECK_THROWS(TANDEM_ERR_INVALID_ARGUMENT, session.set_budget(R"({"max_tokens_total": 0})"));
    session.set_budget(R"({"max_tokens_total": null})");
    session.send("go on");
    ended = pull_until(client, log, kind_is(TANDEM_EVENT_KIND_TURN_ENDED, session.id()));
    CHECK(ended.has_value());
    if (ended) CHECK_EQ(ended->data()["reason"].as_string(), std::string("completed"));
    CHECK(std::system(("rm -rf " + work).c_str()) == 0);
}

}  // namespace

void test_hooks() {
    tandem::Client client(CONFIG);
    std::string dir = make_tempdir();
    tandem::Session session = client.start_session(
        R"({"model": "scripted:x", "approval": "none", "workdir": )" + tandem::json::quote(dir) +
        R"(, "script": [[{"tool_call": {"name": "write_file", "args": {"path": "a.env", "content": "x"}}}],
            [{"tool_call": {"name": "write_file", "args": {"path": "b.txt", "content": "draft"}}}],
            [{"text": "ok"}]]})");
    std::atomic<int> calls{0};
    session.add_hook(R"({"event": "PreToolUse", "matcher": "Write|Edit"})",
                     [&](const std::string &input) -> std::optional<std::string> {
                         calls++;
                         auto in = tandem::json::parse(input);
                         if (in["tool_input"]["path"].as_string() == "a.env")
                             return R"({"decision": "deny", "reason": "no env files"})";
                         return R"({"tool_input": {"path": "c.txt", "content": "final"}})";
                     });
    uint64_t post = client.add_hook(R"({"event": "PostToolUse", "matcher": "Write"})",
                                    [](const std::string &) -> std::optional<std::string> {
                                        return R"({"additional_context": "formatted"})";
                                    });
    client.add_hook(R"({"event": "UserPromptSubmit"})", [](const std::string &input) -> std::optional<std::string> {
        if (input.find("deploy") != std::string::npos) throw std::runtime_error("no deploys");
        return std::nullopt;
    });
    CHECK_THROWS(TANDEM_ERR_INVALID_JSON, client.add_hook("{", [](const std::string &) { return std::nullopt; }));
    CHECK_THROWS(TANDEM_ERR_INVALID_ARGUMENT,
                 client.add_hook(R"({"event": "Later"})", [](const std::string &) { return std::nullopt; }));
    // A throwing prompt hook answers {"error": ...}: its default (continue) lets the prompt through.
    session.send("deploy");
    std::vector<tandem::Event> log;
    pull_until(client, log, kind_is(TANDEM_EVENT_KIND_TURN_ENDED, session.id()));
    std::vector<std::string> results;
    for (const auto &e : log)
        if (e.kind == TANDEM_EVENT_KIND_TOOL_ENDED) results.push_back(e.data()["result"].as_string());
    CHECK_EQ(results.size(), size_t(2));
    if (results.size() == 2) {
        CHECK_EQ(results[0], std::string("Blocked by a PreToolUse hook: no env files"));
        CHECK(results[1].size() >= 11 && results[1].substr(results[1].size() - 11) == "\n\nformatted");
    }
    CHECK_EQ(calls.load(), 2);
    CHECK_EQ(read_file(dir + "/c.txt"), std::string("final"));
    CHECK(session.messages().find("no deploys") != std::string::npos);
    client.remove_hook(post);
    CHECK_THROWS(TANDEM_ERR_NOT_FOUND, client.remove_hook(post));
    std::filesystem::remove_all(dir);
}

int main() {
    struct {
        const char *name;
        void (*fn)();
    } tests[] = {
        {"json_reader", test_json_reader}, {"errors", test_errors},     {"streaming", test_streaming},
        {"session_pull", test_session_pull}, {"ready_fd_and_batches", test_ready_fd_and_batches},
        {"approvals", test_approvals},     {"steering", test_steering}, {"restart", test_restart},
        {"subscriptions", test_subscriptions}, {"host_tool", test_host_tool},
        {"models_skills_boundaries", test_models_skills_boundaries},
        {"branches_and_collapses", test_branches_and_collapses},
        {"conversations", test_conversations},
        {"subagents_and_misc", test_subagents_and_misc},
        {"host_provider", test_host_provider},
        {"async_tool", test_async_tool},
        {"mcp_servers", test_mcp_servers},
        {"governance", test_governance},
        {"hooks", test_hooks},
    };
    int failed_tests = 0;
    for (const auto &t : tests) {
        int before = failures.load();
        try {
            t.fn();
        } catch (const std::exception &e) {
            failures++;
            std::fprintf(stderr, "  uncaught exception: %s\n", e.what());
        }
        bool ok = failures == before;
        failed_tests += !ok;
        std::printf("%s %s\n", ok ? "ok  " : "FAIL", t.name);
    }
    std::printf("%d checks, %d failed; %zu tests, %d failed\n", checks.load(), failures.load(),
                sizeof tests / sizeof tests[0], failed_tests);
    return failures == 0 ? 0 : 1;
}
