// swift-tools-version:6.0
// libFuzzer targets for DeepStitch's readers of outside data (issue 17). A package of its own so
// that the main package's `swift build --build-tests` never builds them with the tests. Built
// (-sanitize=fuzzer,address -enable-testing) and run by `scripts/fuzz.sh`; each executable is
// one reader's `LLVMFuzzerTestOneInput`, started from its main.swift through libFuzzer's driver.
import PackageDescription

/// The fuzz targets: `fuzz-<name>` in Sources/fuzz-<name>, seed corpus in corpus/<name>.
let targets = ["safetensors", "npy", "idx", "gzip", "einops", "checkpoint", "png", "jpeg", "mask", "pth"]

let package = Package(
    name: "DeepStitchFuzz",
    dependencies: [.package(name: "DeepStitch", path: ".."),
                   // fuzz-pth builds archives around its inputs.
                   .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.20")],
    targets: [
        .target(name: "CFuzzerDriver"),
        .target(name: "FuzzSupport", dependencies: ["CFuzzerDriver", .product(name: "DeepCore", package: "DeepStitch")]),
    ] + targets.map { name in
        .executableTarget(
            name: "fuzz-\(name)",
            dependencies: ["FuzzSupport",
                           .product(name: "DeepCore", package: "DeepStitch"),
                           .product(name: "DeepNN", package: "DeepStitch")]
                + (name == "pth" ? [.product(name: "ZIPFoundation", package: "ZIPFoundation")] : []),
            path: "Sources/fuzz-\(name)")
    },
    swiftLanguageModes: [.v5]
)
