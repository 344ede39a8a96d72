import ArgumentParser
import DeepNN
import Foundation

/// Parsers of option values that say what is allowed when a value is refused. Options taking
/// numbers parse `.unconditional`ly, so that `--epochs -1` reports the value rather than "Missing
/// value" (the `-1` read as an option name).
enum OptionValue {
    /// A whole number in `range`.
    static func wholeNumber(in range: ClosedRange<Int>) -> @Sendable (String) throws -> Int {
        { text in
            guard let value = Int(text), range.contains(value) else {
                let allowed = range.upperBound == Int.max ? "at least \(range.lowerBound)" : "from \(range.lowerBound) to \(range.upperBound)"
                throw ValidationError("a whole number \(allowed) is expected")
            }
            return value
        }
    }

    /// A finite number greater than zero.
    @Sendable static func positiveNumber(_ text: String) throws -> Float {
        guard let value = Float(text), value.isFinite, value > 0 else {
            throw ValidationError("a finite number greater than 0 is expected (e.g. 0.001)")
        }
        return value
    }

    /// An unsigned 64-bit number.
    @Sendable static func seed(_ text: String) throws -> UInt64 {
        guard let value = UInt64(text) else { throw ValidationError("a whole number from 0 to \(UInt64.max) is expected") }
        return value
    }

    /// One of `choices`.
    static func choice(_ value: String, of choices: [String], option: String) throws {
        guard choices.contains(value) else {
            throw ValidationError("\(option) \(value) is unknown; available: \(choices.joined(separator: ", "))")
        }
    }

    /// Largest batch: a batch of 28×28 images this big already takes 300 MB.
    static let batchSizes = 1...100_000
    /// Longest run.
    static let epochCounts = 1...10_000
    /// Threads preparing batches.
    static let workerCounts = 0...64
}

/// Options naming a model of the catalogue.
struct ModelOptions: ParsableArguments {
    @Option(help: "Model: \(ModelCatalog.names.joined(separator: ", ")) (default: cnn-bn, or the run's).")
    var model: String?

    func validate() throws {
        if let model { try OptionValue.choice(model, of: ModelCatalog.names, option: "--model") }
    }
}

/// Options locating the data.
struct DataOptions: ParsableArguments {
    @Option(help: "Dataset (only fashion-mnist).")
    var dataset = "fashion-mnist"

    @Option(help: "Folder with the IDX files (default: Debian's dataset-fashion-mnist location).")
    var dataDirectory = FashionMNIST.defaultDirectory

    @Option(parsing: .unconditional, help: "Threads preparing batches, 0 (the computing thread) to 64 (default: 1); the results do not depend on it.",
            transform: OptionValue.wholeNumber(in: OptionValue.workerCounts))
    var numWorkers = 1

    func validate() throws {
        try OptionValue.choice(dataset, of: ["fashion-mnist"], option: "--dataset")
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dataDirectory, isDirectory: &isFolder), isFolder.boolValue else {
            throw ValidationError("--data-directory \(dataDirectory) is not a folder; give the folder holding train-images-idx3-ubyte[.gz] and the other IDX files")
        }
    }
}
