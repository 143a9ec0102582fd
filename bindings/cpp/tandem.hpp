// tandem.hpp: header-only C++17 bindings for libtandem (include/tandem.h).
//
//   #include "tandem.hpp"            // with -I<tandem>/include -I<tandem>/bindings/cpp, link -ltandem
//
//   tandem::Client client(R"({"store_dir": null})");
//   tandem::Session session = client.start_session(R"({"model": "scripted:echo"})");
//   session.send("hello");
//   while (auto event = client.next_event(std::chrono::seconds(5))) {
//       if (event->kind == TANDEM_EVENT_KIND_TEXT_DELTA) std::cout << event->data()["delta"].as_string();
//       if (event->kind == TANDEM_EVENT_KIND_TURN_ENDED) break;
//   }
//
// Conventions:
//  - Errors are exceptions: every failing C call throws tandem::Error, which carries the tandem_status and the
//    library's last-error message for the calling thread. A timeout of next_event() is not an error: it returns
//    std::nullopt.
//  - Strings go in and come out as std::string (UTF-8); every char* tandem returns is freed here.
//  - JSON documents come back as std::string; tandem::json::parse() reads them (events parse themselves: data()).
//  - Client owns the tandem_client (move-only). Session is a cheap copyable handle (client + ID) that keeps the
//    library client alive; after the Client is destroyed its sessions' calls throw TANDEM_ERR_SHUTTING_DOWN.
//  - Subscription (move-only) unsubscribes in its destructor. Callbacks run on tandem's dispatcher thread; an
//    exception a callback throws is caught there (it must not unwind into C) and rethrown by
//    Subscription::unsubscribe() / Subscription::rethrow_if_failed() on the host's thread.
//  - Thread-safety is the C library's: every method may be called from any thread, including callbacks, except
//    destroying the Client or unsubscribing a subscription from inside its own callback.
#ifndef TANDEM_HPP
#define TANDEM_HPP

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tandem.h"

namespace tandem {

// ---- errors ------------------------------------------------------------------------------------------------------

/// A tandem call failed: status() is the tandem_status, message() the library's explanation.
class Error : public std::runtime_error {
public:
    Error(tandem_status status, std::string message)
        : std::runtime_error(std::string(tandem_status_name(status)) + (message.empty() ? "" : ": " + message)),
          status_(status), message_(std::move(message)) {}

    /// The status code, e.g. TANDEM_ERR_NOT_FOUND.
    tandem_status status() const noexcept { return status_; }
    /// The status's C name, e.g. "TANDEM_ERR_NOT_FOUND".
    const char *status_name() const noexcept { return tandem_status_name(status_); }
    /// tandem_last_error_message() as it was right after the failure.
    const std::string &message() const noexcept { return message_; }

private:
    tandem_status status_;
    std::string message_;
};

namespace detail {

/// Throws tandem::Error for anything but TANDEM_OK, with the calling thread's last-error message.
inline void check(tandem_status status) {
    if (status != TANDEM_OK) throw Error(status, tandem_last_error_message());
}

/// Owns a char* tandem returned; frees it with tandem_string_free.
struct StringFree {
    void operator()(char *s) const noexcept { tandem_string_free(s); }
};
using OwnedString = std::unique_ptr<char, StringFree>;

/// Calls a C function whose last parameter is `char **out`, and returns the result as a std::string.
template <typename Fn, typename... Args>
std::string call_string(Fn fn, Args... args) {
    char *out = nullptr;
    check(fn(args..., &out));
    OwnedString owned(out);
    return owned ? std::string(owned.get()) : std::string();
}

inline const char *c_str_or_null(const std::optional<std::string> &s) { return s ? s->c_str() : nullptr; }

inline uint32_t to_timeout_ms(std::chrono::milliseconds timeout) {
    if (timeout.count() <= 0) return 0;
    if (timeout.count() >= 0xFFFFFFFFLL) return 0xFFFFFFFFu;
    return static_cast<uint32_t>(timeout.count());
}

}  // namespace detail

/// The library's version, e.g. "0.1.0".
inline std::string version() { return tandem_version(); }

/// The C name of a status value.
inline std::string status_name(tandem_status status) { return tandem_status_name(status); }

/// The stable session ID for a working directory ("workdir-" + 16 hex digits).
inline std::string workdir_session_id(const std::string &path) {
    return detail::call_string(tandem_workdir_session_id, path.c_str());
}

/// Queue entries (a JSON array of strings or content-part arrays, as recall_queues() returns them) as one text for
/// a prompt input: entries separated by a blank line, images left out.
inline std::string queue_entries_to_text(const std::string &entries_json) {
    return detail::call_string(tandem_queue_entries_to_text, entries_json.c_str());
}

// ---- JSON --------------------------------------------------------------------------------------------------------

namespace json {

/// A parse error in a JSON document.
class ParseError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// A decoded JSON value. Lookups never throw: a missing member or index gives a null value, so
/// `event.data()["approval"]["approval_id"].as_string()` is safe; the as_*() accessors throw std::logic_error when
/// the value has another type.
class Value {
public:
    enum class Type { Null, Bool, Number, String, Array, Object };

    Value() = default;

    Type type() const noexcept { return type_; }
    bool is_null() const noexcept { return type_ == Type::Null; }
    bool is_string() const noexcept { return type_ == Type::String; }
    bool is_number() const noexcept { return type_ == Type::Number; }
    bool is_bool() const noexcept { return type_ == Type::Bool; }
    bool is_array() const noexcept { return type_ == Type::Array; }
    bool is_object() const noexcept { return type_ == Type::Object; }

    bool as_bool() const { return expect(Type::Bool), bool_; }
    double as_number() const { return expect(Type::Number), number_; }
    int64_t as_int() const { return static_cast<int64_t>(as_number()); }
    const std::string &as_string() const { return expect(Type::String), string_; }

    /// Elements of an array, or members of an object (0 for anything else).
    size_t size() const noexcept { return items_.size(); }
    /// Element `i` of an array (null when out of range or not an array).
    const Value &operator[](size_t i) const noexcept {
        return type_ == Type::Array && i < items_.size() ? items_[i] : null_value();
    }
    /// Member `key` of an object (null when missing or not an object).
    const Value &operator[](std::string_view key) const noexcept {
        if (type_ == Type::Object)
            for (size_t i = 0; i < keys_.size(); i++)
                if (keys_[i] == key) return items_[i];
        return null_value();
    }
    const Value &operator[](const char *key) const noexcept { return (*this)[std::string_view(key)]; }
    /// Whether an object has member `key`.
    bool contains(std::string_view key) const noexcept {
        if (type_ != Type::Object) return false;
        for (const auto &k : keys_)
            if (k == key) return true;
        return false;
    }
    /// The member names of an object, in document order.
    const std::vector<std::string> &keys() const & noexcept { return keys_; }
    /// On a temporary the names are moved out, so `for (auto &k : json::parse(doc).keys())` is safe.
    std::vector<std::string> keys() && noexcept { return std::move(keys_); }
    /// The elements of an array (or member values of an object), in order.
    const std::vector<Value> &items() const & noexcept { return items_; }
    /// On a temporary the elements are moved out, so `for (auto &m : json::parse(doc).items())` is safe.
    std::vector<Value> items() && noexcept { return std::move(items_); }

    /// A string member, or `fallback` when it is missing or not a string.
    std::string get_string(std::string_view key, std::string fallback = "") const {
        const Value &v = (*this)[key];
        return v.is_string() ? v.string_ : fallback;
    }

private:
    friend class Parser;
    static const Value &null_value() noexcept {
        static const Value null;
        return null;
    }
    void expect(Type t) const {
        if (type_ != t) throw std::logic_error("tandem::json::Value: wrong type");
    }

    Type type_ = Type::Null;
    bool bool_ = false;
    double number_ = 0;
    std::string string_;
    std::vector<std::string> keys_;  // objects: keys_[i] names items_[i]
    std::vector<Value> items_;
};

/// A small strict JSON parser (RFC 8259), enough for tandem's documents.
class Parser {
public:
    explicit Parser(std::string_view text) : s_(text) {}

    Value parse_document() {
        Value v = parse_value(0);
        skip_ws();
        if (pos_ != s_.size()) fail("trailing characters");
        return v;
    }

private:
    [[noreturn]] void fail(const char *what) const {
        throw ParseError(std::string("JSON: ") + what + " at offset " + std::to_string(pos_));
    }
    void skip_ws() {
        while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r'))
            pos_++;
    }
    bool consume(char c) {
        skip_ws();
        if (pos_ < s_.size() && s_[pos_] == c) {
            pos_++;
            return true;
        }
        return false;
    }
    void literal(std::string_view word) {
        if (s_.substr(pos_, word.size()) != word) fail("invalid literal");
        pos_ += word.size();
    }

    Value parse_value(int depth) {
        if (depth > 256) fail("nesting too deep");
        skip_ws();
        if (pos_ >= s_.size()) fail("unexpected end");
        Value v;
        char c = s_[pos_];
        if (c == '{') {
            pos_++;
            v.type_ = Value::Type::Object;
            if (consume('}')) return v;
            do {
                skip_ws();
                if (pos_ >= s_.size() || s_[pos_] != '"') fail("expected a member name");
                v.keys_.push_back(parse_string());
                if (!consume(':')) fail("expected ':'");
                v.items_.push_back(parse_value(depth + 1));
            } while (consume(','));
            if (!consume('}')) fail("expected '}'");
        } else if (c == '[') {
            pos_++;
            v.type_ = Value::Type::Array;
            if (consume(']')) return v;
            do v.items_.push_back(parse_value(depth + 1));
            while (consume(','));
            if (!consume(']')) fail("expected ']'");
        } else if (c == '"') {
            v.type_ = Value::Type::String;
            v.string_ = parse_string();
        } else if (c == 't') {
            literal("true");
            v.type_ = Value::Type::Bool;
            v.bool_ = true;
        } else if (c == 'f') {
            literal("false");
            v.type_ = Value::Type::Bool;
        } else if (c == 'n') {
            literal("null");
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            size_t start = pos_;
            while (pos_ < s_.size() && std::string_view("+-0123456789.eE").find(s_[pos_]) != std::string_view::npos)
                pos_++;
            std::string number(s_.substr(start, pos_ - start));
            char *end = nullptr;
            v.number_ = std::strtod(number.c_str(), &end);
            if (end != number.c_str() + number.size()) fail("invalid number");
            v.type_ = Value::Type::Number;
        } else {
            fail("unexpected character");
        }
        return v;
    }

    unsigned hex4() {
        if (pos_ + 4 > s_.size()) fail("short \\u escape");
        unsigned cp = 0;
        for (int i = 0; i < 4; i++) {
            char h = s_[pos_++];
            cp <<= 4;
            if (h >= '0' && h <= '9') cp |= unsigned(h - '0');
            else if (h >= 'a' && h <= 'f') cp |= unsigned(h - 'a' + 10);
            else if (h >= 'A' && h <= 'F') cp |= unsigned(h - 'A' + 10);
            else fail("invalid \\u escape");
        }
        return cp;
    }

    static void append_utf8(std::string &out, unsigned cp) {
        if (cp < 0x80) {
            out += char(cp);
        } else if (cp < 0x800) {
            out += char(0xC0 | (cp >> 6));
            out += char(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            out += char(0xE0 | (cp >> 12));
            out += char(0x80 | ((cp >> 6) & 0x3F));
            out += char(0x80 | (cp & 0x3F));
        } else {
            out += char(0xF0 | (cp >> 18));
            out += char(0x80 | ((cp >> 12) & 0x3F));
            out += char(0x80 | ((cp >> 6) & 0x3F));
            out += char(0x80 | (cp & 0x3F));
        }
    }

    std::string parse_string() {
        pos_++;  // the opening quote
        std::string out;
        while (true) {
            if (pos_ >= s_.size()) fail("unterminated string");
            char c = s_[pos_++];
            if (c == '"') return out;
            if (static_cast<unsigned char>(c) < 0x20) fail("control character in string");
            if (c != '\\') {
                out += c;
                continue;
            }
            if (pos_ >= s_.size()) fail("unterminated escape");
            switch (char e = s_[pos_++]) {
            case '"': case '\\': case '/': out += e; break;
            case 'b': out += '\b'; break;
            case 'f': out += '\f'; break;
            case 'n': out += '\n'; break;
            case 'r': out += '\r'; break;
            case 't': out += '\t'; break;
            case 'u': {
                unsigned cp = hex4();
                if (cp >= 0xD800 && cp < 0xDC00 && s_.substr(pos_, 2) == "\\u") {
                    pos_ += 2;
                    unsigned low = hex4();
                    if (low < 0xDC00 || low > 0xDFFF) fail("invalid surrogate pair");
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                } else if (cp >= 0xD800 && cp < 0xE000) {
                    cp = 0xFFFD;  // a lone surrogate
                }
                append_utf8(out, cp);
                break;
            }
            default: fail("invalid escape");
            }
        }
    }

    std::string_view s_;
    size_t pos_ = 0;
};

/// Parses a JSON document; throws json::ParseError when it is malformed.
inline Value parse(std::string_view text) { return Parser(text).parse_document(); }

/// `s` as a JSON string literal (quotes included), for building option documents.
inline std::string quote(std::string_view s) {
    static const char hex[] = "0123456789abcdef";
    std::string out = "\"";
    for (char ch : s) {
        unsigned char c = static_cast<unsigned char>(ch);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += ch;
        } else if (c == '\n') {
            out += "\\n";
        } else if (c < 0x20) {
            out += "\\u00";
            out += hex[c >> 4];
            out += hex[c & 15];
        } else {
            out += ch;
        }
    }
    return out + "\"";
}

}  // namespace json

// ---- events ------------------------------------------------------------------------------------------------------

/// An event: the fields every event has, its JSON document, and the document parsed (data()).
struct Event {
    uint64_t seq = 0;
    /// A tandem_event_kind value (TANDEM_EVENT_KIND_TEXT_DELTA, ...); 0 for kinds newer than this header.
    uint32_t kind = 0;
    /// The session's ID; empty for client-level events (events_dropped).
    std::string session_id;
    /// The parent session of a sub-agent's event (so a host can show the tree); empty for top-level sessions.
    std::string parent_id;
    /// The JSON tag, e.g. "text_delta".
    std::string kind_name;
    /// The whole event as JSON: {"seq", "session_id", "kind", ...}.
    std::string json;

    /// The parsed document: data()["delta"].as_string(), data()["approval"]["approval_id"].as_string(), ...
    const json::Value &data() const { return *data_; }

    /// Builds an event from its JSON document (what tandem_client_next_event returns).
    static Event from_json(std::string text) {
        Event e;
        e.data_ = std::make_shared<json::Value>(json::parse(text));
        const json::Value &d = *e.data_;
        e.seq = static_cast<uint64_t>(d["seq"].as_number());
        e.session_id = d.get_string("session_id");
        e.parent_id = d.get_string("parent_id");
        e.kind_name = d.get_string("kind");
        e.kind = kind_from_name(e.kind_name);
        e.json = std::move(text);
        return e;
    }

    /// The tandem_event_kind for a JSON tag (0 when unknown).
    static uint32_t kind_from_name(std::string_view name) {
        static const char *const names[] = {
            "session_started", "session_stopped", "session_restarted", "subagent_started", "status_changed",
            "messages_changed", "text_delta", "thinking_delta", "tool_started", "tool_update", "tool_ended",
            "tool_auto_approved", "approval_pending", "approval_resolved", "file_changed", "prompt_queued",
            "queues_recalled", "context_usage", "turn_limit_reached", "turn_ended", "error", "events_dropped",
            "retrying", "options_restored", "command_ran", "sandbox_limited", "subagent_finished", "boundary_violated",
            "mcp_server_status", "hook_failed", "plan_updated"};
        for (uint32_t i = 0; i < sizeof names / sizeof names[0]; i++)
            if (name == names[i]) return i + 1;  // the C values are 1-based in this order up to 31
        static const struct {
            const char *name;
            uint32_t kind;
        } later[] = {{"context_files_loaded", TANDEM_EVENT_KIND_CONTEXT_FILES_LOADED},
                     {"budget_exhausted", TANDEM_EVENT_KIND_BUDGET_EXHAUSTED}};
        for (const auto &k : later)
            if (name == k.name) return k.kind;
        return 0;
    }

private:
    std::shared_ptr<const json::Value> data_ = std::make_shared<json::Value>();
};

class Client;

/// A callback subscription (Client::subscribe). Move-only; the destructor unsubscribes.
class Subscription {
public:
    Subscription() = default;
    Subscription(const Subscription &) = delete;
    Subscription &operator=(const Subscription &) = delete;
    Subscription(Subscription &&other) noexcept { *this = std::move(other); }
    Subscription &operator=(Subscription &&other) noexcept {
        if (this != &other) {
            reset();
            client_ = std::move(other.client_);
            state_ = std::move(other.state_);
            id_ = std::exchange(other.id_, 0);
        }
        return *this;
    }
    /// Unsubscribes (errors are ignored here; call unsubscribe() to see them).
    ~Subscription() { reset(); }

    /// The subscription's ID (0 once unsubscribed).
    uint64_t id() const noexcept { return id_; }

    /// Ends the subscription: when it returns, the callback is not running and will not run again. Rethrows the
    /// first exception the callback threw, if any. Not from the subscription's own callback
    /// (TANDEM_ERR_REENTRANT_CALL).
    void unsubscribe() {
        if (id_ != 0) {
            if (auto client = client_.lock()) {
                tandem_status st = tandem_client_unsubscribe(client.get(), id_);
                if (st != TANDEM_ERR_NOT_FOUND && st != TANDEM_ERR_SHUTTING_DOWN) detail::check(st);
            }
            id_ = 0;
        }
        rethrow_if_failed();
    }

    /// Rethrows (once) the first exception the callback threw.
    void rethrow_if_failed() {
        if (!state_) return;
        std::exception_ptr error;
        {
            std::lock_guard<std::mutex> lock(state_->mu);
            error = std::exchange(state_->error, nullptr);
        }
        if (error) std::rethrow_exception(error);
    }

private:
    friend class Client;
    struct State {
        std::function<void(const Event &)> callback;
        std::mutex mu;
        std::exception_ptr error;
    };

    static void trampoline(void *userdata, const tandem_event *event) {
        auto *state = static_cast<std::shared_ptr<State> *>(userdata)->get();
        try {
            state->callback(Event::from_json(event->json));
        } catch (...) {  // nothing may unwind into C: keep it for the host's thread
            std::lock_guard<std::mutex> lock(state->mu);
            if (!state->error) state->error = std::current_exception();
        }
    }
    static void release(void *userdata) { delete static_cast<std::shared_ptr<State> *>(userdata); }

    void reset() noexcept {
        if (id_ != 0) {
            if (auto client = client_.lock()) tandem_client_unsubscribe(client.get(), id_);
            id_ = 0;
        }
    }

    std::weak_ptr<tandem_client> client_;
    std::shared_ptr<State> state_;
    uint64_t id_ = 0;
};

// ---- hooks -------------------------------------------------------------------------------------------------------

/// A hook (Client::add_hook, Session::add_hook): gets the hook input document (docs/hooks.md) and returns the answer
/// document, e.g. {"decision": "deny", "reason": "..."}, or std::nullopt to let the step go on. It runs on a
/// tandem-owned thread; an exception answers {"error": what()}, so the hook's on_failure default applies.
using HookHandler = std::function<std::optional<std::string>(const std::string &input_json)>;

namespace detail {
struct HookRegistration {
    static void trampoline(void *userdata, const char *input, tandem_hook_reply *reply) {
        const HookHandler &handler = **static_cast<std::shared_ptr<HookHandler> *>(userdata);
        std::optional<std::string> answer;
        try {
            answer = handler(input != nullptr ? input : "{}");
        } catch (const std::exception &e) {
            answer = "{\"error\":" + json::quote(e.what()) + "}";
        } catch (...) {
            answer = "{\"error\":\"unknown C++ exception\"}";
        }
        if (answer) tandem_hook_reply_set(reply, answer->c_str());
    }
    static void release(void *userdata) { delete static_cast<std::shared_ptr<HookHandler> *>(userdata); }
    /// Registers `handler` through `add(callback, userdata, userdata_free, &id)`; returns the hook's ID.
    template <typename Add>
    static uint64_t add(HookHandler handler, Add add) {
        auto shared = std::make_shared<HookHandler>(std::move(handler));
        auto *userdata = new std::shared_ptr<HookHandler>(shared);
        uint64_t id = 0;
        tandem_status st = add(&trampoline, static_cast<void *>(userdata), &release, &id);
        // A failure after the arguments were checked has released the userdata already; one before has not.
        if (st != TANDEM_OK && shared.use_count() == 2) delete userdata;
        check(st);
        return id;
    }
};
}  // namespace detail

// ---- sessions ----------------------------------------------------------------------------------------------------

/// A session, addressed by its ID. Copyable; every method is one C call and throws tandem::Error on failure
/// (TANDEM_ERR_NOT_FOUND once the session has stopped).
class Session {
public:
    Session(std::shared_ptr<tandem_client> client, std::string id) : client_(std::move(client)), id_(std::move(id)) {}

    /// The session's ID.
    const std::string &id() const noexcept { return id_; }

    /// Sends a prompt: a turn starts when idle (TANDEM_PROMPT_RESULT_SENT); while a turn runs it is queued as
    /// steering (TANDEM_PROMPT_RESULT_QUEUED_STEERING). Every sent prompt ends with one turn_ended event.
    tandem_prompt_result send(const std::string &prompt) const {
        return prompt_call(tandem_session_send_prompt, prompt);
    }
    /// Like send() with a JSON array of content parts.
    tandem_prompt_result send_parts(const std::string &parts_json) const {
        return prompt_call(tandem_session_send_prompt_parts, parts_json);
    }
    /// Queues steering while a turn runs (seen after the current tool calls); sends it when idle.
    tandem_prompt_result queue_steering(const std::string &prompt) const {
        return prompt_call(tandem_session_queue_steering, prompt);
    }
    /// Queues a follow-up sent when the turn ends; sends it when idle.
    tandem_prompt_result queue_follow_up(const std::string &prompt) const {
        return prompt_call(tandem_session_queue_follow_up, prompt);
    }
    /// Like queue_follow_up() with a JSON array of content parts (images stay with the entry).
    tandem_prompt_result queue_follow_up_parts(const std::string &parts_json) const {
        return prompt_call(tandem_session_queue_follow_up_parts, parts_json);
    }
    /// Takes back queued steering: a JSON array of entries.
    std::string dequeue_steering() const { return str(tandem_session_dequeue_steering); }
    /// {"steering": [...], "follow_up": [...]}, unchanged.
    std::string queued_messages() const { return str(tandem_session_queued_messages); }
    /// Takes back both queues: {"steering": [...], "follow_up": [...]}.
    std::string recall_queues() const { return str(tandem_session_recall_queues); }
    /// Empties both queues.
    void clear_queues() const { detail::check(tandem_session_clear_queues(c(), id_.c_str())); }
    /// Aborts the running turn (turn_ended with reason "aborted"); a no-op when idle.
    void abort() const { detail::check(tandem_session_abort(c(), id_.c_str())); }
    /// Resumes a turn a stream failure or max_turns cut off.
    void continue_turn() const { detail::check(tandem_session_continue(c(), id_.c_str())); }
    /// Stops the session; blocks until it has stopped.
    void stop() const { detail::check(tandem_session_stop(c(), id_.c_str())); }

    /// Answers the pending approval named `approval_id` (std::nullopt: whichever is pending).
    void respond_to_approval(tandem_approval_decision decision,
                             const std::optional<std::string> &approval_id = std::nullopt) const {
        detail::check(
            tandem_session_respond_to_approval(c(), id_.c_str(), detail::c_str_or_null(approval_id), decision));
    }
    /// Approves the pending call once.
    void approve(const std::optional<std::string> &approval_id = std::nullopt) const {
        respond_to_approval(TANDEM_APPROVAL_DECISION_APPROVE, approval_id);
    }
    /// Rejects the pending call (the agent is told it was refused).
    void reject(const std::optional<std::string> &approval_id = std::nullopt) const {
        respond_to_approval(TANDEM_APPROVAL_DECISION_REJECT, approval_id);
    }
    /// The tools this session trusts (approved for the turn or the session): {"<name>": "turn" | "session"}.
    std::string trusted_tools() const { return str(tandem_session_trusted_tools); }
    /// Revokes the trust of tool `name` (std::nullopt: of every tool); TANDEM_ERR_NOT_FOUND when it holds none.
    void revoke_trust(const std::optional<std::string> &name = std::nullopt) const {
        detail::check(tandem_session_revoke_trust(c(), id_.c_str(), detail::c_str_or_null(name)));
    }
    /// Plan mode: destructive tools are refused.
    void enter_plan() const { detail::check(tandem_session_enter_plan(c(), id_.c_str())); }
    /// Leaves plan mode.
    void enter_exec() const { detail::check(tandem_session_enter_exec(c(), id_.c_str())); }

    /// The session's status.
    tandem_session_status status() const {
        tandem_session_status out{};
        detail::check(tandem_session_get_status(c(), id_.c_str(), &out));
        return out;
    }
    /// The session's token (stable across restarts).
    std::string token() const { return str(tandem_session_token); }
    /// Every message as a JSON array, oldest first.
    std::string messages() const { return str(tandem_session_messages); }
    /// The content parts of user message `message_id` as a JSON array, images with their base64 data.
    std::string message_parts(uint64_t message_id) const {
        return detail::call_string(tandem_session_message_parts, c(), id_.c_str(), message_id);
    }
    /// {"messages": [...], "has_more": bool}: up to `limit` messages below `before_id` (0: newest), newest first.
    std::string messages_page(uint64_t before_id, uint32_t limit) const {
        return detail::call_string(tandem_session_messages_page, c(), id_.c_str(), before_id, limit);
    }
    /// {"input", "output", "cache_read", "cache_write", "cost"}.
    std::string usage() const { return str(tandem_session_usage); }
    /// The session's metadata document.
    std::string metadata() const { return str(tandem_session_metadata); }
    /// {status, pending_approval, error, active_tool_name, sandbox, budget} (budget: the limits and running totals
    /// of this session and its sub-agents).
    std::string snapshot() const { return str(tandem_session_snapshot); }
    /// The project context files in the system prompt, lowest precedence first:
    /// [{"path", "reason", "bytes", "loaded_bytes", "truncated", "error"?}] ([] when none or turned off).
    std::string context_files() const { return str(tandem_session_context_files); }
    /// Changes the limits of this session's tree at runtime: {"max_cost": usd|null, "max_tokens_total": n|null}
    /// (a key left out keeps its value, null removes the limit).
    void set_budget(const std::string &budget_json) const {
        detail::check(tandem_session_set_budget(c(), id_.c_str(), budget_json.c_str()));
    }
    /// {"events": [...], "latest_seq", "truncated"}: the history after `seq`.
    std::string events_since(uint64_t seq) const {
        return detail::call_string(tandem_session_events_since, c(), id_.c_str(), seq);
    }
    /// Appends a system message.
    void add_system_message(const std::string &text, tandem_message_level level = TANDEM_MESSAGE_LEVEL_INFO) const {
        detail::check(tandem_session_add_system_message(c(), id_.c_str(), text.c_str(), level));
    }
    /// Switches the model ("provider:model").
    void set_model(const std::string &model) const {
        detail::check(tandem_session_set_model(c(), id_.c_str(), model.c_str()));
    }
    /// Sets the thinking level (off, low, medium, high).
    void set_thinking_level(const std::string &level) const {
        detail::check(tandem_session_set_thinking_level(c(), id_.c_str(), level.c_str()));
    }
    /// Files the session's tools changed: [{"path", "action", "timestamp_ms"}].
    std::string touched_files() const { return str(tandem_session_touched_files); }
    /// Compacts the model context: {"compacted", "info", "summary"?}.
    std::string compact() const { return str(tandem_session_compact); }
    /// Archives the conversation and starts an empty one.
    void new_conversation() const { detail::check(tandem_session_new_conversation(c(), id_.c_str())); }
    /// Loads stored conversation `conversation_id` into the session (see Client::conversations()).
    void load_conversation(const std::string &conversation_id) const {
        detail::check(tandem_session_load_conversation(c(), id_.c_str(), conversation_id.c_str()));
    }
    /// Writes a Markdown summary under <workdir>/.tandem/context/: {"text", "path"}.
    std::string summarize() const { return str(tandem_session_summarize); }

    // -- models and thinking levels
    /// Switches to the next entry of the session's `models` option: {"model", "index", "total", "thinking_level"}.
    std::string cycle_model() const { return str(tandem_session_cycle_model); }
    /// Moves to the next thinking level (off, low, medium, high, off, ...) and returns it, e.g. "medium".
    std::string cycle_thinking_level() const {
        return json::parse(str(tandem_session_cycle_thinking_level)).get_string("level");
    }
    /// Models the session can use: [{"model", "provider", "name", "current"}].
    std::string available_models() const { return str(tandem_session_available_models); }
    /// Slash commands a host can offer: [{"name", "description"}].
    std::string commands() const { return str(tandem_session_commands); }

    // -- skills
    /// Skills found for the session: [{"name", "description", "path", "active"}].
    std::string skills() const { return str(tandem_session_list_skills); }
    /// Activates skill `name` (TANDEM_ERR_NOT_FOUND when there is none).
    void activate_skill(const std::string &name) const {
        detail::check(tandem_session_activate_skill(c(), id_.c_str(), name.c_str()));
    }
    /// Deactivates skill `name` (TANDEM_ERR_NOT_FOUND when it is not active).
    void deactivate_skill(const std::string &name) const {
        detail::check(tandem_session_deactivate_skill(c(), id_.c_str(), name.c_str()));
    }

    // -- MCP servers
    /// The session's MCP servers: [{"name", "transport", "enabled", "state", "detail", "stderr", "tools"}].
    std::string mcp_servers() const { return str(tandem_session_mcp_servers); }
    /// Enables or disables MCP server `name` (TANDEM_ERR_NOT_FOUND when the session has none of that name).
    void set_mcp_enabled(const std::string &name, bool enabled) const {
        detail::check(tandem_session_mcp_set_enabled(c(), id_.c_str(), name.c_str(), enabled));
    }

    // -- branches and collapses
    /// Saves the transcript as a new branch and cuts it after `message_id`: {"number", "name", "message_count"}.
    std::string branch_at(uint64_t message_id) const {
        return detail::call_string(tandem_session_branch_at, c(), id_.c_str(), message_id);
    }
    /// The branches: [{"number", "name", "message_count", "created_at"}].
    std::string branches() const { return str(tandem_session_list_branches); }
    /// Replaces the transcript with branch `number` (1-based).
    void switch_branch(uint32_t number) const {
        detail::check(tandem_session_switch_branch(c(), id_.c_str(), number));
    }
    /// Toggles whether tool call or thinking message `message_id` is collapsed.
    void toggle_tool_collapse(uint64_t message_id) const {
        detail::check(tandem_session_toggle_tool_collapse(c(), id_.c_str(), message_id));
    }
    /// Expands everything if anything is collapsed, else collapses everything.
    void toggle_all_tool_collapses() const {
        detail::check(tandem_session_toggle_all_tool_collapses(c(), id_.c_str()));
    }

    // -- edit boundaries
    /// Limits edits of `path` to lines start_line..=end_line (0-based).
    void set_boundary(const std::string &path, uint32_t start_line, uint32_t end_line) const {
        detail::check(tandem_session_set_boundary(c(), id_.c_str(), path.c_str(), start_line, end_line));
    }
    /// Removes the boundary of `path` (a no-op when there is none).
    void clear_boundary(const std::string &path) const {
        detail::check(tandem_session_clear_boundary(c(), id_.c_str(), path.c_str()));
    }
    /// Removes every boundary.
    void clear_all_boundaries() const { detail::check(tandem_session_clear_all_boundaries(c(), id_.c_str())); }
    /// The boundary of `path`: "null" or {"start_line", "end_line"}.
    std::string boundary_for(const std::string &path) const {
        return detail::call_string(tandem_session_boundary_for, c(), id_.c_str(), path.c_str());
    }

    /// Adds a hook for this session only (tandem_client_add_hook; `spec_json` as for Client::add_hook); it is
    /// removed when the session stops. Returns its ID for Client::remove_hook.
    uint64_t add_hook(const std::string &spec_json, HookHandler handler) const {
        return detail::HookRegistration::add(std::move(handler), [&](auto cb, void *ud, auto fr, uint64_t *id) {
            return tandem_client_add_hook(c(), id_.c_str(), spec_json.c_str(), cb, ud, fr, id);
        });
    }

    /// The underlying C client, for calls this wrapper does not cover.
    tandem_client *c_client() const noexcept { return client_.get(); }

private:
    tandem_client *c() const noexcept { return client_.get(); }
    template <typename Fn>
    std::string str(Fn fn) const {
        return detail::call_string(fn, c(), id_.c_str());
    }
    template <typename Fn>
    tandem_prompt_result prompt_call(Fn fn, const std::string &text) const {
        tandem_prompt_result out{};
        detail::check(fn(c(), id_.c_str(), text.c_str(), &out));
        return out;
    }

    std::shared_ptr<tandem_client> client_;
    std::string id_;
};

// ---- host tools and the host provider -----------------------------------------------------------------------------

/// What a host tool is asked (Client::register_tool).
struct ToolInvocation {
    std::string session_id;
    std::string tool_call_id;
    std::string name;
    /// The arguments, a JSON object.
    std::string args_json;
};

/// One call of a host tool registered with Client::register_tool_async: the invocation and the handle to answer
/// it. Copyable (copies name the same call); complete it exactly once, from any thread. A stale handle (already
/// completed) is an error (TANDEM_ERR_NOT_FOUND), never a crash.
class ToolCall {
public:
    ToolCall(tandem_tool_call *call, ToolInvocation invocation) : call_(call), invocation_(std::move(invocation)) {}

    const ToolInvocation &invocation() const noexcept { return invocation_; }
    const std::string &session_id() const noexcept { return invocation_.session_id; }
    const std::string &tool_call_id() const noexcept { return invocation_.tool_call_id; }
    const std::string &name() const noexcept { return invocation_.name; }
    /// The arguments, a JSON object.
    const std::string &args_json() const noexcept { return invocation_.args_json; }

    /// Answers the call (tandem_tool_call_complete); `is_error` marks `result` as an error message.
    void complete(const std::string &result, bool is_error = false) const {
        detail::check(tandem_tool_call_complete(call_, result.c_str(), is_error));
    }
    /// Whether the call was cancelled (turn aborted, session stopped) or already completed; a cancelled call must
    /// still be completed.
    bool is_cancelled() const noexcept { return tandem_tool_call_is_cancelled(call_); }
    /// The C handle.
    tandem_tool_call *get() const noexcept { return call_; }

private:
    tandem_tool_call *call_;
    ToolInvocation invocation_;
};

namespace detail {

/// The members of a JSON array of objects (what tandem_client_next_events returns), each as its own text.
inline std::vector<std::string> split_json_array(std::string_view text) {
    std::vector<std::string> items;
    int depth = 0;
    bool in_string = false, escaped = false;
    size_t start = 0;
    for (size_t i = 0; i < text.size(); i++) {
        char ch = text[i];
        if (in_string) {
            if (escaped) escaped = false;
            else if (ch == '\\') escaped = true;
            else if (ch == '"') in_string = false;
            continue;
        }
        if (ch == '"') {
            in_string = true;
        } else if (ch == '{' || ch == '[') {
            if (depth == 1 && ch == '{') start = i;
            depth++;
        } else if (ch == '}' || ch == ']') {
            depth--;
            if (depth == 1 && ch == '}') items.emplace_back(text.substr(start, i + 1 - start));
        }
    }
    return items;
}

/// `event_json` (an object) with `"request_id": id` as its first member.
inline std::string with_request_id(uint64_t request_id, std::string_view event_json) {
    size_t i = 0;
    auto ws = [&] {
        while (i < event_json.size() && (event_json[i] == ' ' || event_json[i] == '\t' || event_json[i] == '\n' ||
                                         event_json[i] == '\r'))
            i++;
    };
    ws();
    if (i >= event_json.size() || event_json[i] != '{')
        throw Error(TANDEM_ERR_INVALID_ARGUMENT, "a provider event must be a JSON object");
    i++;
    ws();
    std::string out = "{\"request_id\": " + std::to_string(request_id);
    if (i < event_json.size() && event_json[i] != '}') out += ", ";
    out.append(event_json.substr(i));
    return out;
}

}  // namespace detail

/// One model call for the host provider (Client::set_provider). Copyable; answer it with events, from the callback
/// or later from any thread, and end it with done() or error(). Every method is one tandem_provider_emit call and
/// throws tandem::Error (TANDEM_ERR_NOT_FOUND once the request ended or was aborted; TANDEM_ERR_SHUTTING_DOWN once
/// the client is gone).
class ProviderRequest {
public:
    ProviderRequest(std::weak_ptr<tandem_client> client, std::string session_id, uint64_t request_id,
                    std::string request_json)
        : client_(std::move(client)), session_id_(std::move(session_id)), request_id_(request_id),
          request_json_(std::move(request_json)) {}

    /// The calling session's ID.
    const std::string &session_id() const noexcept { return session_id_; }
    /// The request's ID (unique within the client).
    uint64_t request_id() const noexcept { return request_id_; }
    /// The request as JSON: {"session_id", "request_id", "model", "thinking_level", "system_prompt", "messages",
    /// "tools"}.
    const std::string &request_json() const noexcept { return request_json_; }
    /// The request parsed (parsed on first use).
    const json::Value &request() const {
        std::call_once(parsed_->once, [&] { parsed_->value = json::parse(request_json_); });
        return parsed_->value;
    }

    /// Sends one event, a JSON object without "request_id" (added here), e.g. {"type": "text_delta", "text": "Hi"}.
    void emit(const std::string &event_json) const {
        auto client = client_.lock();
        if (!client) throw Error(TANDEM_ERR_SHUTTING_DOWN, "the client is gone");
        std::string tagged = detail::with_request_id(request_id_, event_json);
        detail::check(tandem_provider_emit(client.get(), session_id_.c_str(), tagged.c_str()));
    }
    /// Streams answer text.
    void text(const std::string &text) const { emit(R"({"type": "text_delta", "text": )" + json::quote(text) + "}"); }
    /// Streams thinking text.
    void thinking(const std::string &text) const {
        emit(R"({"type": "thinking_delta", "text": )" + json::quote(text) + "}");
    }
    /// The signature of the thinking so far.
    void thinking_signature(const std::string &signature) const {
        emit(R"({"type": "thinking_signature", "signature": )" + json::quote(signature) + "}");
    }
    /// Asks tandem to run tool `name` with `args_json` (an object) after done(); its result comes in the next request.
    void tool_call(const std::string &call_id, const std::string &name, const std::string &args_json = "{}") const {
        emit(R"({"type": "tool_call", "id": )" + json::quote(call_id) + R"(, "name": )" + json::quote(name) +
             R"(, "args": )" + args_json + "}");
    }
    /// Reports usage (tokens; cost in USD).
    void usage(uint64_t input, uint64_t output, uint64_t cache_read = 0, uint64_t cache_write = 0) const {
        emit(R"({"type": "usage", "input": )" + std::to_string(input) + R"(, "output": )" + std::to_string(output) +
             R"(, "cache_read": )" + std::to_string(cache_read) + R"(, "cache_write": )" +
             std::to_string(cache_write) + "}");
    }
    /// Ends the request; `stop_reason` "max_tokens" marks a cut answer.
    void done(const std::optional<std::string> &stop_reason = std::nullopt) const {
        emit(stop_reason ? R"({"type": "done", "stop_reason": )" + json::quote(*stop_reason) + "}"
                         : std::string(R"({"type": "done"})"));
    }
    /// Ends the request with an error; retryable ones are retried with a new request.
    void error(const std::string &message, bool retryable = false) const {
        emit(R"({"type": "error", "message": )" + json::quote(message) + R"(, "retryable": )" +
             (retryable ? "true" : "false") + "}");
    }
    /// Whether the request no longer takes events: it ended, its turn was aborted or its session stopped.
    bool is_cancelled() const noexcept {
        auto client = client_.lock();
        return !client || tandem_provider_request_is_cancelled(client.get(), request_id_);
    }

private:
    struct Parsed {
        std::once_flag once;
        json::Value value;
    };
    std::weak_ptr<tandem_client> client_;
    std::string session_id_;
    uint64_t request_id_;
    std::string request_json_;
    std::shared_ptr<Parsed> parsed_ = std::make_shared<Parsed>();
};

// ---- the client --------------------------------------------------------------------------------------------------

/// A tandem client (tandem_client_new): a runtime, its sessions and their events. Move-only; the destructor shuts
/// it down (stopping sessions and ending subscriptions) and frees it. Not from a callback.
class Client {
public:
    /// Creates a client from a JSON config ("" for the defaults), e.g. R"({"store_dir": null})".
    explicit Client(const std::string &config_json = "") {
        tandem_client *raw = nullptr;
        detail::check(tandem_client_new(config_json.empty() ? nullptr : config_json.c_str(), &raw));
        client_ = std::shared_ptr<tandem_client>(raw, [](tandem_client *p) { tandem_client_free(p); });
    }
    Client(const Client &) = delete;
    Client &operator=(const Client &) = delete;
    Client(Client &&) noexcept = default;
    Client &operator=(Client &&other) noexcept {
        if (this != &other) {
            close();
            client_ = std::move(other.client_);
        }
        return *this;
    }
    ~Client() { close(); }

    /// Stops every session, delivers queued callbacks, wakes pullers (idempotent).
    void shutdown(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
        detail::check(tandem_client_shutdown(c(), detail::to_timeout_ms(timeout)));
    }

    /// Serves this client's sessions over WebSocket (docs/remote.md) with JSON options ("" for defaults: plain ws on
    /// 127.0.0.1, any free port); returns the URL to connect to, e.g. "ws://127.0.0.1:40123".
    std::string listen(const std::string &options_json = "") const {
        return detail::call_string(tandem_client_listen, c(), options_json.empty() ? nullptr : options_json.c_str());
    }
    /// Stops the remote gateway and disconnects its peers; sessions keep running. Nothing happens when not listening.
    void stop_listening() const { detail::check(tandem_client_stop_listening(c())); }

    /// Starts a session with JSON options ("" for defaults), e.g. R"({"model": "scripted:echo", "workdir": "/x"})".
    Session start_session(const std::string &options_json = "") const {
        std::string id = detail::call_string(tandem_session_start, c(),
                                             options_json.empty() ? nullptr : options_json.c_str());
        return Session(client_, std::move(id));
    }
    /// The live session `id`, or a new one started with `options_json`.
    Session start_or_get_session(const std::string &id, const std::string &options_json = "") const {
        std::string sid = detail::call_string(tandem_session_start_or_get, c(), id.c_str(),
                                              options_json.empty() ? nullptr : options_json.c_str());
        return Session(client_, std::move(sid));
    }
    /// A handle for an existing session ID (no call is made).
    Session session(const std::string &id) const { return Session(client_, id); }
    /// Metadata of every live session, a JSON array.
    std::string sessions() const { return detail::call_string(tandem_session_list, c()); }

    /// Waits up to `timeout` for the next pulled event; std::nullopt on timeout. Throws TANDEM_ERR_SHUTTING_DOWN
    /// once the client is shut down and drained.
    std::optional<Event> next_event(std::chrono::milliseconds timeout) const {
        char *out = nullptr;
        tandem_status st = tandem_client_next_event(c(), detail::to_timeout_ms(timeout), &out);
        if (st == TANDEM_ERR_TIMEOUT) return std::nullopt;
        detail::check(st);
        detail::OwnedString owned(out);
        return Event::from_json(owned.get());
    }

    /// Takes up to `max` queued events without waiting (tandem_client_next_events): one ABI crossing per batch,
    /// possibly none. Emptying the queue resets ready_fd(). Throws TANDEM_ERR_INVALID_ARGUMENT for `max` 0 and
    /// TANDEM_ERR_SHUTTING_DOWN once the client is shut down and drained.
    std::vector<Event> next_events(uint32_t max) const {
        char *out = nullptr;
        detail::check(tandem_client_next_events(c(), max, &out));
        detail::OwnedString owned(out);
        std::vector<Event> events;
        for (auto &text : detail::split_json_array(owned.get())) events.push_back(Event::from_json(std::move(text)));
        return events;
    }

    /// The client's readiness descriptor (tandem_client_ready_fd): readable while events are queued for pulling,
    /// reset by the pulls that empty the queue, readable for good after shutdown. Owned by the client (closed when
    /// it is destroyed); only poll it, never read, write or close it.
    int ready_fd() const {
        int fd = -1;
        detail::check(tandem_client_ready_fd(c(), &fd));
        return fd;
    }

    /// Waits up to `timeout` for the oldest pulled event of session `session_id`; std::nullopt on timeout. Other
    /// sessions' events stay queued, in order, for other pullers and next_event(). Throws TANDEM_ERR_NOT_FOUND
    /// once the session's stream ended (its session_stopped was pulled) or never began.
    std::optional<Event> next_session_event(const std::string &session_id, std::chrono::milliseconds timeout) const {
        char *out = nullptr;
        tandem_status st =
            tandem_client_next_session_event(c(), session_id.c_str(), detail::to_timeout_ms(timeout), &out);
        if (st == TANDEM_ERR_TIMEOUT) return std::nullopt;
        detail::check(st);
        detail::OwnedString owned(out);
        return Event::from_json(owned.get());
    }

    /// Calls `callback` on tandem's dispatcher thread for each event (of `session_id`, or all) until the returned
    /// Subscription is destroyed or unsubscribed.
    Subscription subscribe(std::function<void(const Event &)> callback,
                           const std::optional<std::string> &session_id = std::nullopt) const {
        Subscription sub;
        sub.state_ = std::make_shared<Subscription::State>();
        sub.state_->callback = std::move(callback);
        auto *userdata = new std::shared_ptr<Subscription::State>(sub.state_);
        uint64_t id = 0;
        tandem_status st = tandem_client_subscribe(c(), detail::c_str_or_null(session_id), &Subscription::trampoline,
                                                   userdata, &Subscription::release, &id);
        // A failure after the arguments were checked has released the userdata already; one before has not.
        if (st != TANDEM_OK && sub.state_.use_count() == 2) delete userdata;
        detail::check(st);
        sub.client_ = client_;
        sub.id_ = id;
        return sub;
    }

    /// Registers a host tool. `spec_json` is {"name", "description", "parameters", "destructive"}. `handler` runs
    /// on a tandem-owned thread and returns the result text; an exception becomes an error result (its what()).
    void register_tool(const std::string &spec_json, std::function<std::string(const ToolInvocation &)> handler) {
        auto shared = std::make_shared<ToolHandler>(std::move(handler));
        auto *userdata = new std::shared_ptr<ToolHandler>(shared);
        tandem_status st = tandem_client_register_tool(c(), spec_json.c_str(), &tool_trampoline, userdata,
                                                       &tool_release);
        // A failure after the arguments were checked has released the userdata already; one before has not.
        if (st != TANDEM_OK && shared.use_count() == 2) delete userdata;
        detail::check(st);
    }
    /// Registers a host tool answered asynchronously: `handler` gets a ToolCall and completes it exactly once, before
    /// returning or later from any thread (ToolCall::complete). An exception thrown by `handler` completes the call
    /// as an error (if it was not completed yet).
    void register_tool_async(const std::string &spec_json, std::function<void(const ToolCall &)> handler) {
        auto shared = std::make_shared<AsyncToolHandler>(std::move(handler));
        auto *userdata = new std::shared_ptr<AsyncToolHandler>(shared);
        tandem_status st = tandem_client_register_tool(c(), spec_json.c_str(), &async_tool_trampoline, userdata,
                                                       &async_tool_release);
        if (st != TANDEM_OK && shared.use_count() == 2) delete userdata;
        detail::check(st);
    }
    /// Unregisters host tool `name`.
    void unregister_tool(const std::string &name) { detail::check(tandem_client_unregister_tool(c(), name.c_str())); }

    // -- hooks

    /// Adds a hook for every session (tandem_client_add_hook). `spec_json` is {"event", "matcher", "timeout_ms",
    /// "on_failure"} (docs/hooks.md). Returns the hook's ID for remove_hook().
    uint64_t add_hook(const std::string &spec_json, HookHandler handler) {
        return detail::HookRegistration::add(std::move(handler), [&](auto cb, void *ud, auto fr, uint64_t *id) {
            return tandem_client_add_hook(c(), nullptr, spec_json.c_str(), cb, ud, fr, id);
        });
    }
    /// Removes a hook of the client or of one of its sessions (tandem_client_remove_hook); a running call finishes.
    void remove_hook(uint64_t hook_id) { detail::check(tandem_client_remove_hook(c(), hook_id)); }

    // -- the host provider

    /// Registers the host provider (tandem_client_set_provider), replacing any previous one; an empty `handler`
    /// unregisters. Sessions started with {"provider": "host"} call `handler` on a tandem-owned thread for each
    /// model call; answer through the ProviderRequest, before returning or later from any thread. An exception
    /// thrown by `handler` ends the request with an error event carrying its what(). The handler is released
    /// exactly once: after it is replaced or unregistered and its last call returned, or at shutdown.
    void set_provider(std::function<void(const ProviderRequest &)> handler) {
        if (!handler) {
            detail::check(tandem_client_set_provider(c(), nullptr, nullptr, nullptr));
            return;
        }
        auto shared = std::make_shared<ProviderState>();
        shared->handler = std::move(handler);
        shared->client = client_;
        auto *userdata = new std::shared_ptr<ProviderState>(shared);
        tandem_status st = tandem_client_set_provider(c(), &provider_trampoline, userdata, &provider_release);
        // A failure after the arguments were checked has released the userdata already; one before has not.
        if (st != TANDEM_OK && shared.use_count() == 2) delete userdata;
        detail::check(st);
    }
    /// Unregisters the host provider: prompts of host sessions end with an error until one is registered again.
    void clear_provider() { set_provider(nullptr); }
    /// Sends one host provider event for request `request_id` of session `session_id` (tandem_provider_emit);
    /// `event_json` is an object without "request_id", which is added here.
    void provider_emit(const std::string &session_id, uint64_t request_id, const std::string &event_json) const {
        std::string tagged = detail::with_request_id(request_id, event_json);
        detail::check(tandem_provider_emit(c(), session_id.c_str(), tagged.c_str()));
    }
    /// Whether host provider request `request_id` no longer takes events.
    bool provider_request_is_cancelled(uint64_t request_id) const noexcept {
        return !client_ || tandem_provider_request_is_cancelled(client_.get(), request_id);
    }

    // -- sub-agents and stored conversations

    /// Starts a background sub-agent working on `task` (options as for start_session, plus "detached"; `parent`: a
    /// live session's ID, whose settings it inherits and with which it stops, see tandem_subagent_start). Returns the
    /// handle {session_id, parent_session_id, task, model, started_at, detached}.
    std::string start_subagent(const std::string &task, const std::string &options_json = "",
                               const std::optional<std::string> &parent = std::nullopt) const {
        return detail::call_string(tandem_subagent_start, c(), detail::c_str_or_null(parent), task.c_str(),
                                   options_json.empty() ? nullptr : options_json.c_str());
    }
    /// Sub-agent handles, oldest first: all of them, or those of `parent`. A JSON array.
    std::string subagents(const std::optional<std::string> &parent = std::nullopt) const {
        return detail::call_string(tandem_subagent_list, c(), detail::c_str_or_null(parent));
    }
    /// Stored conversations, newest first (a JSON array; [] with store_dir null).
    std::string conversations() const { return detail::call_string(tandem_conversation_list, c()); }
    /// Deletes stored conversation `conversation_id` (TANDEM_ERR_BUSY while a session has it open).
    void delete_conversation(const std::string &conversation_id) const {
        detail::check(tandem_conversation_delete(c(), conversation_id.c_str()));
    }

    /// The underlying C client (owned by this object), for calls this wrapper does not cover.
    tandem_client *get() const noexcept { return client_.get(); }

private:
    tandem_client *c() const {
        if (!client_) throw Error(TANDEM_ERR_SHUTTING_DOWN, "the client was moved from");
        return client_.get();
    }
    void close() noexcept {
        // Shutting down first releases every subscription, so callbacks holding Sessions drop their references;
        // the tandem_client itself is freed when the last Session lets go of it.
        if (client_) tandem_client_shutdown(client_.get(), 5000);
        client_.reset();
    }

    using ToolHandler = std::function<std::string(const ToolInvocation &)>;

    static void tool_trampoline(void *userdata, tandem_tool_call *call, const tandem_tool_invocation *inv) {
        const ToolHandler &handler = **static_cast<std::shared_ptr<ToolHandler> *>(userdata);
        std::string result;
        bool is_error = false;
        try {
            result = handler(ToolInvocation{inv->session_id, inv->tool_call_id, inv->name, inv->args_json});
        } catch (const std::exception &e) {
            result = e.what();
            is_error = true;
        } catch (...) {
            result = "unknown C++ exception";
            is_error = true;
        }
        tandem_tool_call_complete(call, result.c_str(), is_error);
    }
    static void tool_release(void *userdata) { delete static_cast<std::shared_ptr<ToolHandler> *>(userdata); }

    using AsyncToolHandler = std::function<void(const ToolCall &)>;

    static void async_tool_trampoline(void *userdata, tandem_tool_call *call, const tandem_tool_invocation *inv) {
        const AsyncToolHandler &handler = **static_cast<std::shared_ptr<AsyncToolHandler> *>(userdata);
        std::string message;
        try {
            handler(ToolCall(call, ToolInvocation{inv->session_id, inv->tool_call_id, inv->name, inv->args_json}));
            return;
        } catch (const std::exception &e) {
            message = e.what();
        } catch (...) {
            message = "unknown C++ exception";
        }
        // TANDEM_ERR_NOT_FOUND here means the handler completed the call before throwing: nothing to do.
        tandem_tool_call_complete(call, message.c_str(), true);
    }
    static void async_tool_release(void *userdata) {
        delete static_cast<std::shared_ptr<AsyncToolHandler> *>(userdata);
    }

    struct ProviderState {
        std::function<void(const ProviderRequest &)> handler;
        std::weak_ptr<tandem_client> client;
    };

    static void provider_trampoline(void *userdata, const tandem_provider_request *req) {
        const ProviderState &state = **static_cast<std::shared_ptr<ProviderState> *>(userdata);
        ProviderRequest request(state.client, req->session_id ? req->session_id : "", req->request_id,
                                req->request_json ? req->request_json : "{}");
        std::string message;
        try {
            state.handler(request);
            return;
        } catch (const std::exception &e) {
            message = e.what();
        } catch (...) {
            message = "unknown C++ exception";
        }
        try {
            request.error(message);
        } catch (...) {  // the request had already ended
        }
    }
    static void provider_release(void *userdata) { delete static_cast<std::shared_ptr<ProviderState> *>(userdata); }

    std::shared_ptr<tandem_client> client_;
};

}  // namespace tandem

#endif  // TANDEM_HPP
