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

    /// A finite number of seconds greater than zero.
    @Sendable static func seconds(_ text: String) throws -> Double {
        guard let value = Double(text), value.isFinite, value > 0 else {
            throw ValidationError("a finite number of seconds greater than 0 is expected (e.g. 600)")
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

    /// Fashion-MNIST classes, comma-separated, each by number (0–9) or name (case ignored:
    /// `sandal`, `ankle boot`, `T-shirt/top`), in increasing order without repeats; at least one
    /// class must stay.
    @Sendable static func classList(_ text: String) throws -> [Int] {
        let names = FashionMNIST.classNames.map { $0.lowercased() }
        var classes: [Int] = []
        for item in text.split(separator: ",", omittingEmptySubsequences: false).map({ $0.trimmingCharacters(in: .whitespaces) }) {
            guard let c = Int(item).flatMap({ names.indices.contains($0) ? $0 : nil }) ?? names.firstIndex(of: item.lowercased()) else {
                throw ValidationError("\"\(item)\" is no Fashion-MNIST class; give numbers 0 to 9 or names: \(FashionMNIST.classNames.joined(separator: ", "))")
            }
            classes.append(c)
        }
        let sorted = Array(Set(classes)).sorted()
        guard sorted.count < names.count else { throw ValidationError("holding out every class leaves nothing to train on") }
        return sorted
    }
}

/// Options naming a task and a model of the catalogue.
struct ModelOptions: ParsableArguments {
    @Option(help: "Task: classification (Fashion-MNIST), segmentation (FashionMNISTMosaic) or image-text (Fashion-MNIST against captions of its classes) (default: the model's, else classification).")
    var task: String?

    @Option(help: ArgumentHelp(ModelOptions.modelHelp))
    var model: String?

    /// The help of `--model`.
    static let modelHelp = "Model: \(ModelCatalog.names(for: .classification).joined(separator: ", ")) (classification; default cnn-bn), "
        + "\(ModelCatalog.names(for: .segmentation).joined(separator: ", ")) (segmentation; default unet), "
        + "\(ModelCatalog.names(for: .imageText).joined(separator: ", ")) (image-text; default clip); or the run's."

    func validate() throws {
        if let task { try OptionValue.choice(task, of: Task.names, option: "--task") }
        if let model {
            try OptionValue.choice(model, of: ModelCatalog.names, option: "--model")
            try checkTask(of: model)
        }
    }

    /// The task `--task` names, else that of `model` (or of `--model`), else classification.
    func resolvedTask(model other: String? = nil) -> Task {
        task.flatMap(Task.init(rawValue:)) ?? (other ?? model).map { ModelCatalog.entry($0).task } ?? .classification
    }

    /// Checks that `model` does the `--task` given.
    func checkTask(of model: String) throws {
        let modelTask = ModelCatalog.entry(model).task
        if let task, task != modelTask.rawValue {
            throw ValidationError("--task \(task) does not fit model \(model), a \(modelTask.rawValue) model; "
                + "\(task) models: \(ModelCatalog.names(for: resolvedTask()).joined(separator: ", "))")
        }
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
