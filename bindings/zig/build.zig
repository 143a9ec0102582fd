//! Zig package for tandem: the `tandem` module (src/tandem.zig) over include/tandem.h, linked to libtandem.
//!
//!   zig build test                       runs the tests on real sessions (needs target/debug/libtandem.so)
//!   zig build example                    builds and runs examples/zig/quickstart.zig
//!   -Dtandem-include=DIR -Dtandem-lib=DIR   use another copy of the header / library (e.g. an installed one)
//!
//! As a dependency: `const tandem = b.dependency("tandem", .{}).module("tandem");` and
//! `exe.root_module.addImport("tandem", tandem);`.
const std = @import("std");

pub fn build(b: *std.Build) void {
    const target = b.standardTargetOptions(.{});
    const optimize = b.standardOptimizeOption(.{});
    const include_dir = b.option([]const u8, "tandem-include", "Directory with tandem.h") orelse
        b.pathFromRoot("../../include");
    const lib_dir = b.option([]const u8, "tandem-lib", "Directory with libtandem.so") orelse
        b.pathFromRoot("../../target/debug");

    const tandem = b.addModule("tandem", .{
        .root_source_file = b.path("src/tandem.zig"),
        .target = target,
        .optimize = optimize,
        .link_libc = true,
    });
    tandem.addIncludePath(.{ .cwd_relative = include_dir });
    tandem.addLibraryPath(.{ .cwd_relative = lib_dir });
    tandem.addRPath(.{ .cwd_relative = lib_dir });
    tandem.linkSystemLibrary("tandem", .{});

    // `zig build test`: the module's own tests, then the end-to-end session tests.
    const test_step = b.step("test", "Run the tandem binding tests on real sessions");
    const unit = b.addTest(.{ .root_module = tandem });
    test_step.dependOn(&b.addRunArtifact(unit).step);
    for ([_][]const u8{ "tests/sessions.zig", "tests/api.zig" }) |path| {
        const e2e_mod = b.createModule(.{
            .root_source_file = b.path(path),
            .target = target,
            .optimize = optimize,
        });
        e2e_mod.addImport("tandem", tandem);
        const e2e = b.addTest(.{ .root_module = e2e_mod });
        test_step.dependOn(&b.addRunArtifact(e2e).step);
    }

    // `zig build example -- [WORKDIR]`: the quickstart.
    const example_mod = b.createModule(.{
        .root_source_file = b.path("../../examples/zig/quickstart.zig"),
        .target = target,
        .optimize = optimize,
    });
    example_mod.addImport("tandem", tandem);
    const example = b.addExecutable(.{ .name = "quickstart", .root_module = example_mod });
    b.installArtifact(example);
    const run_example = b.addRunArtifact(example);
    if (b.args) |args| run_example.addArgs(args);
    b.step("example", "Build and run examples/zig/quickstart.zig").dependOn(&run_example.step);
}
