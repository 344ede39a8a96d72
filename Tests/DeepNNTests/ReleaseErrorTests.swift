import Foundation
import XCTest

/// A programmer's error stops the program with its message, in release builds too: these tests run
/// `shape-error-demo` (Tests/ShapeErrorDemo, built with the package in the configuration under
/// test) as a user would and read what it prints before it stops.
final class ReleaseErrorTests: XCTestCase {
    func testConvolutionChannelMistakeNamesOpShapesAndModule() throws {
        let (status, stderr, stdout) = try runDemo("conv")
        XCTAssertNotEqual(status, 0, "the program should stop by a trap; stderr:\n\(stderr)")
        // What the program printed before the mistake reaches a pipe (stdout is flushed first).
        XCTAssertTrue(stdout.contains("calling the model"), "stdout lost before the stop: \(stdout)")
        for part in ["conv2d", "[16, 8, 3, 3]", "[1, 3, 10, 10]", "(in module 1 (Conv2d))"] {
            XCTAssertTrue(stderr.contains(part), "stderr lacks \"\(part)\":\n\(stderr)")
        }
    }

    func testVolumeConvolutionChannelMistakeNamesOpShapesAndModule() throws {
        let (status, stderr, _) = try runDemo("conv3d")
        XCTAssertNotEqual(status, 0, "the program should stop by a trap; stderr:\n\(stderr)")
        for part in ["conv3d", "[16, 8, 3, 3, 3]", "[1, 3, 6, 6, 6]", "(in module 1 (Conv3d))"] {
            XCTAssertTrue(stderr.contains(part), "stderr lacks \"\(part)\":\n\(stderr)")
        }
    }

    func testMistakeInsideAMultiInputModuleNamesItsPath() throws {
        let (status, stderr, _) = try runDemo("bilinear")
        XCTAssertNotEqual(status, 0, "the program should stop by a trap; stderr:\n\(stderr)")
        for part in ["Bilinear", "[2, 4] and [2, 4]", "[2, 4, 5]", "(in module 1.bilinear (Bilinear))"] {
            XCTAssertTrue(stderr.contains(part), "stderr lacks \"\(part)\":\n\(stderr)")
        }
    }

    func testTrainingAModelPreparedForInferenceStopsWithAMessage() throws {
        let (status, stderr, stdout) = try runDemo("fused")
        XCTAssertNotEqual(status, 0, "the program should stop by a trap; stderr:\n\(stderr)")
        XCTAssertTrue(stdout.contains("folded 1"), stdout)
        for part in ["Conv2d: this layer was prepared for inference (fuseForInference)", "build the model again to train it"] {
            XCTAssertTrue(stderr.contains(part), "stderr lacks \"\(part)\":\n\(stderr)")
        }
    }

    /// Runs the demo with `argument`; returns its exit status (the signal number when a trap
    /// stopped it), its standard error and its standard output (both piped, as a user's shell
    /// would redirect them). Fails when the program is missing or exits normally.
    private func runDemo(_ argument: String, file: StaticString = #filePath, line: UInt = #line) throws -> (Int32, String, String) {
        let candidates = [Bundle.main.bundleURL,
                          Bundle(for: Self.self).bundleURL.deletingLastPathComponent(),
                          URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()]
            .map { $0.appendingPathComponent("shape-error-demo") }
        let executable = try XCTUnwrap(
            candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) },
            "shape-error-demo is not built next to the tests (looked for \(candidates.map(\.path))); "
                + "build every target with `swift build -c release --build-tests`", file: file, line: line)
        let process = Process()
        process.executableURL = executable
        process.arguments = [argument]
        // No backtrace symbolication: the message is all the test reads.
        process.environment = ProcessInfo.processInfo.environment.merging(["SWIFT_BACKTRACE": "enable=no"]) { $1 }
        let (errors, output) = (Pipe(), Pipe())
        process.standardError = errors
        process.standardOutput = output
        try process.run()
        // stdout is small (one line): read stderr to its end first, then stdout.
        let data = errors.fileHandleForReading.readDataToEndOfFile()
        let printed = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let stderr = String(decoding: data, as: UTF8.self)
        XCTAssertEqual(process.terminationReason, .uncaughtSignal,
                       "the program should stop by a trap, not exit (status \(process.terminationStatus)); stderr:\n\(stderr)",
                       file: file, line: line)
        return (process.terminationStatus, stderr, String(decoding: printed, as: UTF8.self))
    }
}
