// Tests of bindings/cpp/tandem.hpp on real sessions (scripted model): streaming, approvals, steering, crash restart,
// RAII subscriptions, exceptions from status codes, callback exceptions, host tools and the JSON reader.
// Built by scripts/test-cpp.sh with -Wall -Wextra -Werror, plain and under AddressSanitizer + UBSan.
#include "tandem.hpp"

#include <unistd.h>

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

int failures = 0;
int checks = 0;

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
    session.approve(approval_id);
    CHECK_THROWS(TANDEM_ERR_NO_PENDING_APPROVAL, session.approve(approval_id));
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

}  // namespace

int main() {
    struct {
        const char *name;
        void (*fn)();
    } tests[] = {
        {"json_reader", test_json_reader}, {"errors", test_errors},     {"streaming", test_streaming},
        {"approvals", test_approvals},     {"steering", test_steering}, {"restart", test_restart},
        {"subscriptions", test_subscriptions}, {"host_tool", test_host_tool},
    };
    int failed_tests = 0;
    for (const auto &t : tests) {
        int before = failures;
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
    std::printf("%d checks, %d failed; %zu tests, %d failed\n", checks, failures, sizeof tests / sizeof tests[0],
                failed_tests);
    return failures == 0 ? 0 : 1;
}
