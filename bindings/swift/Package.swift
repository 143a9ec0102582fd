// swift-tools-version:5.9
// tandem for Swift: `CTandem` is the C API (include/tandem.h through pkg-config), `Tandem` the Swift layer.
//
// Against an installed tandem (`make install`, so `pkg-config tandem` works):   swift build && swift test
// Against this checkout (what scripts/test-swift.sh does):
//   swift test -Xcc -I../../include -Xlinker -L../../target/debug -Xlinker -rpath -Xlinker ../../target/debug
import PackageDescription

let package = Package(
    name: "Tandem",
    platforms: [.macOS(.v12)],
    products: [
        .library(name: "Tandem", targets: ["Tandem"]),
    ],
    targets: [
        .systemLibrary(name: "CTandem", path: "Sources/CTandem", pkgConfig: "tandem"),
        .target(name: "Tandem", dependencies: ["CTandem"]),
        .testTarget(name: "TandemTests", dependencies: ["Tandem"]),
    ]
)
