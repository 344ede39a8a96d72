import Foundation
import XCTest

/// Runs every example of `Examples/` as a user would (`swift run -c release example-<name>`): the
/// executable built next to the tests (`swift build --build-tests` builds every target) as a
/// child process, which must end with exit status 0 — every check it makes of its own result
/// passed — within its time bound.
final class ExamplesTests: XCTestCase {
    /// Seconds one example may take: each takes a few on two cores in a release build; the bound
    /// leaves room for a busy machine. A debug build gets ten times as long.
    static let timeBound: Double = {
        #if DEBUG
        return 300
        #else
        return 30
        #endif
    }()

    func testTensors() throws { try runExample("tensors") }
    func testTraining() throws { try runExample("training") }
    func testTransforms() throws { try runExample("transforms") }
    func testUNet() throws { try runExample("unet") }
    func testResNetStitch() throws { try runExample("resnet-stitch") }
    func testViT() throws { try runExample("vit") }
    func testFusion() throws { try runExample("fusion") }
    func testDistillation() throws { try runExample("distillation") }
    func testMoE() throws { try runExample("moe") }
    func testMamba() throws { try runExample("mamba") }
    func testMultiscale() throws { try runExample("multiscale") }

    /// The tests above name every folder of `Examples/` that holds a `main.swift`.
    func testEveryExampleIsRun() throws {
        let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Examples").standardized
        let folders = try FileManager.default.contentsOfDirectory(atPath: examples.path).filter {
            FileManager.default.fileExists(atPath: examples.appendingPathComponent($0 + "/main.swift").path)
        }
        let tested = ["tensors", "training", "transforms", "unet", "resnet-stitch", "vit", "fusion", "distillation", "moe",
                      "mamba", "multiscale"]
        XCTAssertEqual(Set(folders), Set(tested), "add a test method for each example in \(examples.path)")
    }

    /// Runs `example-<name>` and checks that it exits with status 0 within ``timeBound`` and
    /// printed its checks (`✓ …` lines); on failure, reports the end of its output.
    func runExample(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let process = Process()
        process.executableURL = try Self.executable("example-" + name, file: file, line: line)
        process.environment = ProcessInfo.processInfo.environment.merging(["SWIFT_BACKTRACE": "enable=no"]) { $1 }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("example-\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        process.currentDirectoryURL = folder
        // Output goes to files: a pipe that nobody reads would stop a chatty child.
        let stdoutURL = folder.appendingPathComponent("stdout"), stderrURL = folder.appendingPathComponent("stderr")
        for url in [stdoutURL, stderrURL] { _ = FileManager.default.createFile(atPath: url.path, contents: nil) }
        process.standardOutput = try FileHandle(forWritingTo: stdoutURL)
        process.standardError = try FileHandle(forWritingTo: stderrURL)

        let finished = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in finished.signal() }
        let start = Date()
        try process.run()
        let inTime = finished.wait(timeout: .now() + Self.timeBound) == .success
        if !inTime {
            process.terminate()
            finished.wait()
        }
        let seconds = Date().timeIntervalSince(start)
        let read = { (url: URL) in (try? String(contentsOf: url, encoding: .utf8)) ?? "" }
        let (stdout, stderr) = (read(stdoutURL), read(stderrURL))
        let tail = "\n--- standard error ---\n\(stderr.suffix(2_000))\n--- standard output (end) ---\n\(stdout.suffix(3_000))"
        print("example-\(name): \(String(format: "%.1f", seconds)) s")
        XCTAssertTrue(inTime, "example-\(name) ran for more than \(Self.timeBound) s and was stopped\(tail)", file: file, line: line)
        guard inTime else { return }
        XCTAssertEqual(process.terminationReason, .exit, "example-\(name) crashed (signal \(process.terminationStatus))\(tail)", file: file, line: line)
        XCTAssertEqual(process.terminationStatus, 0, "example-\(name) failed\(tail)", file: file, line: line)
        XCTAssertTrue(stdout.contains("✓ "), "example-\(name) printed no check\(tail)", file: file, line: line)
    }

    /// The built `example-<name>`, found next to the tests as `stitch` is by StitchTests.
    static func executable(_ name: String, file: StaticString, line: UInt) throws -> URL {
        let candidates = [Bundle.main.bundleURL,
                          Bundle(for: ExamplesTests.self).bundleURL.deletingLastPathComponent(),
                          URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()]
            .map { $0.appendingPathComponent(name) }
        return try XCTUnwrap(candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) },
                             "\(name) is not built next to the tests (looked for \(candidates.map(\.path))); "
                                 + "build every target with `swift build -c release --build-tests`", file: file, line: line)
    }
}
