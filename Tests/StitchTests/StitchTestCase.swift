import DeepCore
import Foundation
import TestSupport
import XCTest

/// Runs the built `stitch` as a user would: a child process in a temporary folder that holds a
/// tiny Fashion-MNIST in `data/` (200 training and 50 test images in IDX format).
///
/// The program is the `stitch` built next to the tests (`swift build --build-tests` builds it),
/// or the one named by the environment variable `STITCH_EXECUTABLE` (to run these tests against
/// another build).
class StitchTestCase: XCTestCase {
    /// The temporary working folder of the test.
    var folder: URL!

    override func setUpWithError() throws {
        folder = try makeTemporaryDirectory()
        try Self.writeTinyFashionMNIST(to: folder.appendingPathComponent("data"))
    }

    /// What a run of `stitch` did.
    struct Run {
        /// How it ended: `.exit` or `.uncaughtSignal` (a trap).
        let reason: Process.TerminationReason
        /// The exit status, or the signal number.
        let status: Int32
        let stdout: String
        let stderr: String

        /// The lines of standard error.
        var errorLines: [Substring] { stderr.split(separator: "\n") }
    }

    /// Runs `stitch` with `arguments` in the test's folder (after `train` and `evaluate`,
    /// `--data-directory data` unless the arguments name a data directory) and waits for it.
    func stitch(_ arguments: String..., file: StaticString = #filePath, line: UInt = #line) throws -> Run {
        let child = try start(arguments, file: file, line: line)
        child.process.waitUntilExit()
        return child.finish()
    }

    /// Runs `stitch` with `arguments` and checks that it ran to the end with status 0.
    @discardableResult
    func succeeds(_ arguments: String..., file: StaticString = #filePath, line: UInt = #line) throws -> Run {
        try succeeds(arguments, file: file, line: line)
    }

    /// Runs `stitch` with `arguments` and checks that it ran to the end with status 0.
    @discardableResult
    func succeeds(_ arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws -> Run {
        let run = try start(arguments, file: file, line: line).finish()
        XCTAssertTrue(run.reason == .exit && run.status == 0,
                      "stitch \(arguments.joined(separator: " ")) ended with \(run.reason) \(run.status):\n\(run.stderr)", file: file, line: line)
        return run
    }

    /// The line of `output` starting with `prefix`.
    func line(_ prefix: String, in output: String) -> Substring? {
        output.split(separator: "\n").first { $0.hasPrefix(prefix) }
    }

    /// A running `stitch` whose output goes to files.
    struct Child {
        let process: Process
        let stdout: URL, stderr: URL

        /// Waits for the end and reads the output.
        func finish() -> Run {
            process.waitUntilExit()
            let read = { (url: URL) in (try? String(contentsOf: url, encoding: .utf8)) ?? "" }
            return Run(reason: process.terminationReason, status: process.terminationStatus, stdout: read(stdout), stderr: read(stderr))
        }
    }

    /// Starts `stitch` with `arguments` (see ``stitch(_:file:line:)``); it is killed if it runs
    /// for more than two minutes.
    /// - Parameters:
    ///   - program: another program built next to `stitch` to run instead (its name).
    ///   - launcher: a command that starts the program, such as `mpirun -np 2`, and `environment`
    ///     variables for it.
    func start(_ arguments: [String], program: String = "stitch", launcher: [String] = [], environment: [String: String] = [:],
               file: StaticString = #filePath, line: UInt = #line) throws -> Child {
        var arguments = arguments
        if program == "stitch", ["train", "evaluate"].contains(arguments.first), !arguments.contains(where: { $0.hasPrefix("--data-directory") }) {
            arguments.insert(contentsOf: ["--data-directory", "data"], at: 1)
        }
        let executable = try Self.executable(file: file, line: line).deletingLastPathComponent().appendingPathComponent(program)
        let process = Process()
        if let command = launcher.first {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [command] + launcher.dropFirst() + [executable.path] + arguments
        } else {
            process.executableURL = executable
            process.arguments = arguments
        }
        process.currentDirectoryURL = folder
        process.environment = ProcessInfo.processInfo.environment.merging(["SWIFT_BACKTRACE": "enable=no"].merging(environment) { $1 }) { $1 }
        let name = UUID().uuidString
        let stdout = folder.appendingPathComponent(".out-\(name)"), stderr = folder.appendingPathComponent(".err-\(name)")
        _ = FileManager.default.createFile(atPath: stdout.path, contents: nil)
        _ = FileManager.default.createFile(atPath: stderr.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: stdout)
        process.standardError = try FileHandle(forWritingTo: stderr)
        try process.run()
        DispatchQueue.global().asyncAfter(deadline: .now() + 120) { [weak process] in
            if let process, process.isRunning { process.terminate() }
        }
        return Child(process: process, stdout: stdout, stderr: stderr)
    }

    /// The `stitch` program to test.
    static func executable(file: StaticString, line: UInt) throws -> URL {
        if let path = ProcessInfo.processInfo.environment["STITCH_EXECUTABLE"] { return URL(fileURLWithPath: path) }
        let candidates = [Bundle.main.bundleURL,
                          Bundle(for: StitchTestCase.self).bundleURL.deletingLastPathComponent(),
                          URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()]
            .map { $0.appendingPathComponent("stitch") }
        return try XCTUnwrap(candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) },
                             "stitch is not built next to the tests (looked for \(candidates.map(\.path))); "
                                 + "build every target with `swift build -c release --build-tests`", file: file, line: line)
    }

    /// The files and folders in the test's folder, but for the captured output.
    var visibleContents: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
    }

    /// A file of the test's folder.
    func path(_ relative: String) -> URL { folder.appendingPathComponent(relative) }

    /// The rows of a run's `metrics.csv` without the header, each without its last field (the
    /// seconds, which differ between runs).
    func metricsRows(_ run: String) throws -> [String] {
        let text = try String(contentsOf: path(run + "/metrics.csv"), encoding: .utf8)
        return text.split(separator: "\n").dropFirst().map { String($0[..<$0.lastIndex(of: ",")!]) }
    }

    /// Writes `train-images-idx3-ubyte` and the three other files of a small Fashion-MNIST: 200
    /// training and 50 test images of 28×28 pixels, labels 0…9 in turn, each class a brighter band
    /// at its own rows over seeded noise (so that a model can learn it).
    static func writeTinyFashionMNIST(to directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var generator = RandomGenerator(seed: 17)
        for (prefix, count) in [("train", 200), ("t10k", 50)] {
            var images = bigEndian([0x0803, UInt32(count), 28, 28]), labels = bigEndian([0x0801, UInt32(count)])
            for i in 0..<count {
                let label = i % 10
                labels.append(UInt8(label))
                for row in 0..<28 {
                    for _ in 0..<28 {
                        let band = row / 3 == label ? 160 : 0
                        images.append(UInt8(band + Int(generator.next() % 90)))
                    }
                }
            }
            try Data(images).write(to: directory.appendingPathComponent("\(prefix)-images-idx3-ubyte"))
            try Data(labels).write(to: directory.appendingPathComponent("\(prefix)-labels-idx1-ubyte"))
        }
    }

    private static func bigEndian(_ words: [UInt32]) -> [UInt8] {
        words.flatMap { w in [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: w >> $0) } }
    }
}
