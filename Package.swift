// swift-tools-version:6.0
import PackageDescription

/// The runnable examples (`Examples/<name>/main.swift`, run as `swift run -c release example-<name>`),
/// in the order of Examples/README.md. Each checks its own result and exits 1 when it is wrong;
/// ExamplesTests runs every one.
let examples = ["tensors", "training", "transforms", "unet", "resnet-stitch", "vit", "fusion", "distillation",
                "moe", "mamba", "multiscale"]

let package = Package(
    name: "DeepStitch",
    products: [
        .library(name: "DeepCore", targets: ["DeepCore"]),
        .library(name: "DeepNN", targets: ["DeepNN"]),
        .library(name: "DeepDistributed", targets: ["DeepDistributed"]),
        .executable(name: "deep-bench", targets: ["deep-bench"]),
        .executable(name: "stitch", targets: ["stitch"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.20"),
    ],
    targets: [
        .systemLibrary(
            name: "CBLAS",
            path: "Sources/CBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev", "liblapacke-dev"])]
        ),
        .systemLibrary(
            // Not "CZlib": ZIPFoundation's own zlib module has that name.
            name: "CZlibSystem",
            path: "Sources/CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        // Open MPI, for DeepDistributed only: programs that do not train across processes need neither
        // the library nor an MPI environment.
        .systemLibrary(
            name: "CMPI",
            path: "Sources/CMPI",
            pkgConfig: "ompi-c",
            providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]
        ),
        // C, for the selective scan's AVX2/AVX-512 row kernels (function target attributes chosen
        // at run time; a Swift target cannot get ISA flags without unsafeFlags).
        .target(name: "CScanKernels", path: "Sources/CScanKernels", exclude: ["ScanTypes.inc", "ScanRow.inc", "ScanBlock.inc"]),
        // C, for elementwise math (GELU, the exponentials of softmax rows) in AVX2/AVX-512 likewise.
        .target(name: "CVectorKernels", path: "Sources/CVectorKernels", exclude: ["VectorMath.inc", "AttentionRows.inc", "MaxPooling.inc", "Winograd4.inc", "PackedGemm.inc", "DirectConvolution.inc"]),
        // C, for PNG and JPEG through libpng (libpng-dev) and libjpeg-turbo (libjpeg62-turbo-dev):
        // both report errors by longjmp, which must not cross Swift frames, so each setjmp is in C.
        .target(name: "CPNG", path: "Sources/CPNG", linkerSettings: [.linkedLibrary("png16")]),
        .target(name: "CJPEG", path: "Sources/CJPEG", linkerSettings: [.linkedLibrary("jpeg")]),
        .target(name: "DeepCore", dependencies: ["CBLAS", "CScanKernels", "CVectorKernels", "ZIPFoundation"], path: "Sources/DeepCore"),
        .target(name: "DeepNN", dependencies: ["DeepCore", "CVectorKernels", "CZlibSystem", "CPNG", "CJPEG", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
                path: "Sources/DeepNN", exclude: ["Export/ONNX/onnx.proto"]),
        .target(name: "DeepDistributed", dependencies: ["CMPI", "DeepCore", "DeepNN"], path: "Sources/DeepDistributed"),
        .executableTarget(
            name: "stitch",
            dependencies: ["DeepCore", "DeepNN", "DeepDistributed", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/stitch"
        ),
        .executableTarget(
            name: "deep-bench",
            dependencies: ["DeepCore", "DeepNN", "CBLAS",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Benchmarks/deep-bench"
        ),
        // Not a product: a program that makes a shape mistake, run by ReleaseErrorTests to check the
        // message a user of a release build sees.
        .executableTarget(name: "shape-error-demo", dependencies: ["DeepNN"], path: "Tests/ShapeErrorDemo"),
        // All-reduce latency and bandwidth over MPI (run under mpirun; `scripts/bench-allreduce.sh`).
        .executableTarget(name: "allreduce-bench", dependencies: ["CMPI", "DeepCore", "DeepDistributed"], path: "Benchmarks/allreduce-bench"),
        // Not a product: the data-parallel checks, run under mpirun by StitchDistributedTests.
        .executableTarget(name: "distributed-check", dependencies: ["DeepNN", "DeepDistributed"], path: "Tests/DistributedCheck"),
        .target(name: "TestSupport", dependencies: ["DeepCore"], path: "Tests/TestSupport"),
        .testTarget(name: "DeepCoreTests", dependencies: ["DeepCore", "TestSupport"], path: "Tests/DeepCoreTests"),
        .testTarget(name: "DeepNNTests", dependencies: ["DeepNN", "TestSupport"], path: "Tests/DeepNNTests"),
        // Runs the built `stitch` (every target is built with the tests) as a child process.
        .testTarget(name: "StitchTests", dependencies: ["DeepCore", "DeepNN", "TestSupport"], path: "Tests/StitchTests"),
        // What the examples share: `check`, printing helpers and the synthetic data sets.
        .target(name: "ExampleSupport", dependencies: ["DeepNN"], path: "Examples/Support"),
        // Runs every built example as a child process, as StitchTests runs `stitch`.
        .testTarget(name: "ExamplesTests", path: "Tests/ExamplesTests"),
    ] + examples.map { name in
        .executableTarget(name: "example-" + name, dependencies: ["DeepNN", "ExampleSupport"], path: "Examples/" + name)
    },
    swiftLanguageModes: [.v5]
)
