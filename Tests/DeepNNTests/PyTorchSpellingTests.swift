import Foundation
import XCTest

/// A user who types PyTorch's spelling (`x.reshape`, `F.cross_entropy`, `nhead:`) gets the
/// compiler's fix-it to the library's name. These tests meet the declarations as a user does:
/// they run `swiftc -typecheck` on small programs importing the built DeepNN module (built with
/// the tests, in the configuration under test) and read the diagnostics.
final class PyTorchSpellingTests: XCTestCase {
    /// Every annotated line of `Tests/Fixtures/spellings/PyTorchUser.swift` draws exactly its
    /// expected error (renamed to the right name, or the right message), and the library's own
    /// names beside them draw nothing: no unavailable declaration hides or makes ambiguous a real
    /// call.
    func testPyTorchSpellingsDrawTheLibrarysName() throws {
        let source = try String(contentsOf: Self.packageRoot.appendingPathComponent("Tests/Fixtures/spellings/PyTorchUser.swift"),
                                encoding: .utf8)
        let lines = source.components(separatedBy: "\n")
        let errors = try typecheck(source, name: "main.swift")
        var checked = 0
        for (index, line) in lines.enumerated() {
            let number = index + 1
            let found = errors[number] ?? []
            guard let comment = line.range(of: "// ", options: .backwards), !line.hasPrefix("//") else {
                XCTAssertEqual(found, [], "line \(number) `\(line)` should compile")
                continue
            }
            let expectation = line[comment.upperBound...]
            let code = line[..<comment.lowerBound].trimmingCharacters(in: .whitespaces)
            if expectation == "ok" {
                XCTAssertEqual(found, [], "line \(number) `\(code)` should compile")
            } else if expectation.hasPrefix("renamed: ") {
                let name = expectation.dropFirst("renamed: ".count)
                XCTAssertEqual(found.count, 1, "line \(number) `\(code)`: \(found)")
                XCTAssertTrue(found.allSatisfy { $0.hasSuffix("has been renamed to '\(name)'") || $0.hasSuffix("has been replaced by '\(name)'") },
                              "line \(number) `\(code)` should be renamed to '\(name)': \(found)")
            } else if let message = ["unavailable: ": "is unavailable: ", "error: ": ""]
                .first(where: { expectation.hasPrefix($0.key) })
                .map({ $0.value + expectation.dropFirst($0.key.count) }) {
                XCTAssertEqual(found.count, 1, "line \(number) `\(code)`: \(found)")
                XCTAssertTrue(found.allSatisfy { $0.contains(message) }, "line \(number) `\(code)` should say \"\(message)\": \(found)")
            } else {
                XCTAssertEqual(found, [], "line \(number) `\(line)` should compile")
                continue
            }
            checked += 1
        }
        XCTAssertGreaterThan(checked, 150, "the user program lost its annotations")
    }

    /// Every `renamed:` target in the library's sources names a declaration that exists, so each
    /// fix-it produces code that compiles: a program refers to each target by its full name (a
    /// key path for a property). "Ambiguous" (two overloads of that name) and "could not be
    /// inferred" (a generic one) also prove it exists; "cannot find" or "has no member" do not.
    func testEveryRenamedTargetExists() throws {
        var references: [(target: String, file: String)] = []
        let sources = ["Sources/DeepCore", "Sources/DeepNN"].map { Self.packageRoot.appendingPathComponent($0) }
        for directory in sources {
            let files = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: nil)!
                .compactMap { $0 as? URL }.filter { $0.pathExtension == "swift" }
            for file in files {
                let text = try String(contentsOf: file, encoding: .utf8)
                references += Self.renamedTargets(in: text).map { ($0, file.lastPathComponent) }
            }
        }
        XCTAssertGreaterThan(references.count, 100, "the spelling declarations were not found")
        let program = "import DeepNN\n" + references.map { "_ = \($0.target)" }.joined(separator: "\n") + "\n"
        let errors = try typecheck(program, name: "main.swift")
        for (line, messages) in errors {
            let unproven = messages.filter { !$0.hasPrefix("ambiguous use of") && !$0.contains("could not be inferred") }
            let reference = line >= 2 && line - 2 < references.count ? references[line - 2] : (target: "?", file: "?")
            XCTAssertEqual(unproven, [], "renamed target `\(reference.target)` in \(reference.file) does not exist")
        }
    }

    /// The targets of `renamed:` in `text` as expressions: `Type.member(labels:)` inside
    /// `extension Type` (a call in a closure for a method without arguments), `\Type.property`
    /// for a property, the name itself outside extensions.
    static func renamedTargets(in text: String) -> [String] {
        var context: String?
        var targets: [String] = []
        for line in text.components(separatedBy: "\n") {
            if line.hasPrefix("extension ") {
                context = line.dropFirst("extension ".count).prefix { $0.isLetter || $0.isNumber || $0 == "_" }.description
            } else if line.hasPrefix("}") {
                context = nil
            }
            guard let start = line.range(of: "renamed: \"") else { continue }
            let target = String(line[start.upperBound...].prefix { $0 != "\"" })
            switch (context, target.contains("(")) {
            case (nil, _): targets.append(target)
            case (let type?, _) where target.hasSuffix("()"): targets.append("{ (v: \(type)) in v.\(target) }")
            case (let type?, true): targets.append("\(type).\(target)")
            case (let type?, false): targets.append("\\\(type).\(target)")
            }
        }
        return targets
    }

    /// Type-checks `source` as a program importing the built DeepNN module; returns the errors
    /// by line.
    private func typecheck(_ source: String, name: String) throws -> [Int: [String]] {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("spellings-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent(name)
        try source.write(to: file, atomically: true, encoding: .utf8)
        let build = try XCTUnwrap(Self.buildDirectory, "DeepNN.swiftmodule is not built next to the tests; build every "
                                  + "target with `swift build -c release --build-tests`")
        let root = Self.packageRoot.path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        // The module search paths of a package depending on this one: the Swift modules, the
        // C modules' maps (those of the C targets CScanKernels, CVectorKernels, CPNG and CJPEG are
        // generated by the build; ZIPFoundation's zlib module is in its checkout, in the build
        // folder above them).
        let checkouts = [build.products.deletingLastPathComponent(), build.products.deletingLastPathComponent().deletingLastPathComponent()]
            .map { (folder: URL) -> String in folder.appendingPathComponent("checkouts/ZIPFoundation/Sources/CZLib").path }
        let generated: [String] = ["CScanKernels", "CVectorKernels", "CPNG", "CJPEG"].map { build.products.appendingPathComponent($0 + ".build").path }
        let searchPaths: [String] = [build.modules.path, root + "/Sources/CBLAS", root + "/Sources/CZlib"] + generated + checkouts
        process.arguments = ["swiftc", "-typecheck", "-diagnostic-style=llvm"] + searchPaths.flatMap { ["-I", $0] }
            + [file.path]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let output = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        var byLine: [Int: [String]] = [:]
        let prefix = file.path + ":"
        for line in output.components(separatedBy: "\n") where line.hasPrefix(prefix) {
            let fields = line.dropFirst(prefix.count).split(separator: ":", maxSplits: 3)
            guard fields.count == 4, let number = Int(fields[0]), fields[2] == " error" else { continue }
            byLine[number, default: []].append(fields[3].trimmingCharacters(in: .whitespaces))
        }
        XCTAssertTrue(output.contains(prefix) || process.terminationStatus == 0,
                      "swiftc failed without diagnosing \(name):\n\(output)")
        return byLine
    }

    /// The package's root folder.
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The build folder holding the test bundle, and its folder of Swift modules (holding
    /// `DeepNN.swiftmodule`).
    static let buildDirectory: (products: URL, modules: URL)? = {
        let builds = [Bundle.main.bundleURL, Bundle(for: PyTorchSpellingTests.self).bundleURL.deletingLastPathComponent(),
                      URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()]
        return builds.flatMap { [($0, $0.appendingPathComponent("Modules")), ($0, $0)] }
            .first { FileManager.default.fileExists(atPath: $0.1.appendingPathComponent("DeepNN.swiftmodule").path) }
            .map { (products: $0.0, modules: $0.1) }
    }()
}
