// quickstart.cpp: a session on the offline scripted model with the C++ binding (bindings/cpp/tandem.hpp):
// streams the answer, approves the file write it asks for, and prints what changed.
//
//   c++ -std=c++17 -Iinclude -Ibindings/cpp examples/cpp/quickstart.cpp -Ltarget/release -ltandem -o quickstart
//   ./quickstart [WORKDIR]
#include <filesystem>
#include <iostream>

#include "tandem.hpp"

int main(int argc, char **argv) {
    namespace fs = std::filesystem;
    const fs::path workdir = argc > 1 ? fs::path(argv[1]) : fs::temp_directory_path() / "tandem-quickstart-cpp";
    fs::create_directories(workdir);
    try {
        tandem::Client client(R"({"store_dir": null})");  // null: keep the conversation in memory
        tandem::Session session = client.start_session(
            R"({"model": "scripted:quickstart", "workdir": )" + tandem::json::quote(workdir.string()) +
            R"(, "script": [[{"text": "Writing a greeting. "},
                             {"tool_call": {"name": "write_file",
                                            "args": {"path": "hello.txt", "content": "hello from C++\n"}}}],
                            [{"text": "Done."}]]})");
        session.send("Please write a greeting to hello.txt");
        while (auto event = client.next_event(std::chrono::seconds(10))) {
            const tandem::json::Value &data = event->data();
            switch (event->kind) {
            case TANDEM_EVENT_KIND_TEXT_DELTA:
                std::cout << data["delta"].as_string() << std::flush;
                break;
            case TANDEM_EVENT_KIND_APPROVAL_PENDING:  // a real host would ask its user here
                std::cout << "\n[approving " << data["approval"]["name"].as_string() << "]\n";
                session.approve(data["approval"]["approval_id"].as_string());
                break;
            case TANDEM_EVENT_KIND_FILE_CHANGED:
                std::cout << "[" << data["action"].as_string() << " " << data["path"].as_string() << "]\n";
                break;
            case TANDEM_EVENT_KIND_TURN_ENDED:
                std::cout << "\n[turn " << data["reason"].as_string() << "]\n";
                return data["reason"].as_string() == "completed" ? 0 : 1;
            default:
                break;
            }
        }
        std::cerr << "no turn_ended within 10 s\n";
    } catch (const tandem::Error &e) {
        std::cerr << "tandem: " << e.what() << "\n";
    }
    return 1;
}
