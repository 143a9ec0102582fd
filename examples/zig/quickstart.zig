//! quickstart.zig: a session on the offline scripted model with the Zig binding: streams the answer, approves the
//! file write it asks for, and prints what changed.
//!
//!   cd bindings/zig && zig build example -- [WORKDIR]
const std = @import("std");
const tandem = @import("tandem");

pub fn main() !u8 {
    var gpa = std.heap.GeneralPurposeAllocator(.{}){};
    defer _ = gpa.deinit();
    const allocator = gpa.allocator();

    const args = try std.process.argsAlloc(allocator);
    defer std.process.argsFree(allocator, args);
    const workdir = if (args.len > 1) args[1] else "/tmp/tandem-quickstart-zig";
    try std.fs.cwd().makePath(workdir);

    var client = try tandem.Client.init("{\"store_dir\": null}"); // null: keep the conversation in memory
    defer client.deinit();
    const options = try std.fmt.allocPrintZ(allocator,
        \\{{"model": "scripted:quickstart", "workdir": "{s}", "script": [[{{"text": "Writing a greeting. "}},
        \\  {{"tool_call": {{"name": "write_file", "args": {{"path": "hello.txt", "content": "hello from Zig\n"}}}}}}],
        \\  [{{"text": "Done."}}]]}}
    , .{workdir});
    defer allocator.free(options);
    var session = try client.startSession(allocator, options);
    defer session.deinit();
    _ = try session.sendPrompt("Please write a greeting to hello.txt");

    const out = std.io.getStdOut().writer();
    var it = client.events(allocator, 10_000);
    while (try it.next()) |event| {
        defer event.deinit();
        switch (event.kind) {
            .text_delta => try out.print("{s}", .{event.string("delta").?}),
            .approval_pending => { // a real host would ask its user here
                try out.print("\n[approving write_file]\n", .{});
                try session.approve(event.approvalId().?);
            },
            .file_changed => try out.print("[{s} {s}]\n", .{ event.string("action").?, event.string("path").? }),
            .turn_ended => {
                const reason = event.string("reason").?;
                try out.print("\n[turn {s}]\n", .{reason});
                return if (std.mem.eql(u8, reason, "completed")) 0 else 1;
            },
            else => {},
        }
    }
    std.debug.print("no turn_ended within 10 s\n", .{});
    return 1;
}
