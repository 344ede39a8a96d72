import ArgumentParser
import DeepCore
import DeepNN
import Foundation

/// What a training run is: the model and the recipe values the options chose. Kept in every
/// checkpoint (``Trainer/settings``), so that `--resume` continues the same run without the
/// options being repeated, and refuses options that would change it (except `--epochs`, which
/// extends or shortens it).
struct RunSettings: Equatable {
    /// Classification or segmentation (runs written before segmentation existed: classification).
    var task: Task
    var model: String
    var optimizer: String
    var learningRate: Float
    var batchSize: Int
    var epochs: Int
    /// Training examples used (nil: all).
    var limit: Int?
    /// Training examples held out for validation (nil: the default, until the data is read; see
    /// ``RunData``).
    var validationSize: Int?
    var seed: UInt64
    /// Image–text: the sentence-transformers folder of the frozen text encoder.
    var textEncoder: String?
    /// Image–text: classes left out of training (zero-shot), in increasing order.
    var heldOut: [Int] = []

    /// The settings as checkpoint strings.
    var strings: [String: String] {
        var s = ["task": task.rawValue, "model": model, "optimizer": optimizer, "lr": String(learningRate), "batch_size": String(batchSize),
                 "epochs": String(epochs), "seed": String(seed)]
        if let limit { s["limit"] = String(limit) }
        if let validationSize { s["validation_size"] = String(validationSize) }
        if let textEncoder { s["text_encoder"] = textEncoder }
        if !heldOut.isEmpty { s["held_out"] = heldOut.map(String.init).joined(separator: ",") }
        return s
    }

    /// The settings of a new run: the options given, the model's recipe for the rest.
    init(_ options: Stitch.Train) {
        task = options.modelOptions.resolvedTask()
        model = options.modelOptions.model ?? task.defaultModel
        let recipe = ModelCatalog.entry(model).recipe
        optimizer = options.optimizer ?? recipe.optimizer
        learningRate = options.lr ?? recipe.learningRate
        batchSize = options.batchSize ?? recipe.batchSize
        epochs = options.epochs ?? recipe.epochs
        limit = options.limit
        validationSize = options.validationSize
        seed = options.seed ?? 0
        if task == .imageText {
            textEncoder = options.textEncoder ?? ImageTextRun.defaultTextEncoder
            heldOut = options.holdOut ?? []
        }
    }

    /// The settings a checkpoint keeps, each checked as its option would be.
    /// - Throws: ``CheckpointError`` naming the setting and its value.
    init(_ checkpoint: Checkpoint, path: String) throws {
        let s = checkpoint.settings
        func value<T>(_ key: String, _ parse: (String) throws -> T) throws -> T {
            guard let text = s[key] else { throw CheckpointError(path: path, reason: "missing run.\(key)") }
            do { return try parse(text) } catch {
                throw CheckpointError(path: path, reason: "run.\(key) \"\(text)\": \(error)")
            }
        }
        task = s["task"] == nil ? .classification : try value("task") { text in
            try OptionValue.choice(text, of: Task.names, option: "task")
            return Task(rawValue: text)!
        }
        let task = self.task
        model = try value("model") { try OptionValue.choice($0, of: ModelCatalog.names(for: task), option: "\(task.rawValue) model"); return $0 }
        optimizer = try value("optimizer") { try OptionValue.choice($0, of: Recipe.optimizers, option: "optimizer"); return $0 }
        learningRate = try value("lr", OptionValue.positiveNumber)
        batchSize = try value("batch_size", OptionValue.wholeNumber(in: OptionValue.batchSizes))
        epochs = try value("epochs", OptionValue.wholeNumber(in: OptionValue.epochCounts))
        limit = s["limit"] == nil ? nil : try value("limit", OptionValue.wholeNumber(in: 1...Int.max))
        // Runs written before validation examples were held out trained on all of them.
        validationSize = s["validation_size"] == nil ? 0 : try value("validation_size", OptionValue.wholeNumber(in: 0...Int.max))
        seed = try value("seed", OptionValue.seed)
        if task == .imageText {
            textEncoder = try value("text_encoder") { $0 }
            heldOut = s["held_out"] == nil ? [] : try value("held_out", OptionValue.classList)
        }
    }

    /// These settings continued with `options`: `--epochs` may change the length and
    /// `--text-encoder` name the encoder's new folder; any other option given must equal the run's.
    func continued(with options: Stitch.Train, in folder: String) throws -> RunSettings {
        let given: [(String, String?, String)] = [
            ("--task", options.modelOptions.task, task.rawValue),
            ("--model", options.modelOptions.model, model), ("--optimizer", options.optimizer, optimizer),
            ("--lr", options.lr.map { String($0) }, String(learningRate)),
            ("--batch-size", options.batchSize.map(String.init), String(batchSize)),
            ("--limit", options.limit.map(String.init), limit.map(String.init) ?? "none"),
            ("--validation-size", options.validationSize.map(String.init), validationSize.map(String.init) ?? "the default"),
            ("--seed", options.seed.map(String.init), String(seed)),
            ("--hold-out", options.holdOut.map { $0.map(String.init).joined(separator: ",") }, heldOut.isEmpty ? "none" : heldOut.map(String.init).joined(separator: ",")),
        ]
        for case let (name, value?, run) in given where value != run {
            throw ValidationError("\(name) \(value) differs from the run in \(folder) (\(run)); drop it to continue the run, "
                + "or start another with --overwrite or another --output")
        }
        var result = self
        result.epochs = options.epochs ?? epochs
        // The encoder may have moved: the run's captions are in its checkpoint, the encoder only
        // shapes the model (one of other sizes does not fit the checkpoint and is refused).
        result.textEncoder = options.textEncoder ?? textEncoder
        return result
    }
}
