import DeepCore
import Foundation

/// Everything needed to resume training exactly: model weights and buffers, optimiser state,
/// the schedule's position, the default generator's state, the epoch and every epoch's figures,
/// in one safetensors file (tensors under `model.` and `optimizer.`, the rest as metadata),
/// written atomically.
///
/// Reading checks every metadata field (epoch and counts whole and in range, a usable generator
/// state, finite figures); ``validate(model:optimizer:hasScheduler:)`` checks that the tensors fit
/// a model and an optimiser. ``Trainer/resume(from:)-(Checkpoint)`` does both before it changes
/// anything.
public struct Checkpoint {
    /// Epochs completed.
    public var epoch: Int
    /// Model state dict.
    public var model: [String: Tensor]
    /// Optimiser state.
    public var optimizer: [String: Tensor]
    /// The optimiser's class name (`"AdamW"`); nil when the file does not say.
    public var optimizerKind: String?
    /// Scheduler steps taken, if there is a scheduler.
    public var schedulerEpoch: Int?
    /// The scheduler's state beyond its position (``LRScheduler/stateDict()``:
    /// ``ReduceLROnPlateau``'s best metric and counters), stored as metadata under `scheduler.`.
    public var schedulerState: [String: Double]
    /// The default generator's state (dropout masks, etc.): four words, not all zero.
    public var generatorState: [UInt64]
    /// Best validation metric so far and epochs since it improved (early stopping).
    public var bestMetric: Double?
    /// Epochs without improvement.
    public var staleEpochs: Int
    /// The figures of epochs 1…`epoch` (empty when the file holds none).
    public var history: [EpochRecord]
    /// Strings kept with the run (the command line keeps its options here), stored as metadata
    /// under `run.`.
    public var settings: [String: String]
    /// The file read, when the checkpoint came from one (named in errors).
    public private(set) var path: String?

    /// The largest epoch, step or count a checkpoint may hold (2³¹ − 1): larger values are not
    /// from a real run and would overflow the arithmetic that uses them.
    public static let largestCount = Int(Int32.max)

    static let format = "deepstitch-checkpoint-1"

    /// Writes the checkpoint to `url` (temporary file, then rename: an interrupted save leaves
    /// the previous checkpoint intact).
    public func write(to url: URL) throws {
        var tensors: [String: Tensor] = [:]
        for (k, v) in model { tensors["model." + k] = v }
        for (k, v) in optimizer { tensors["optimizer." + k] = v }
        var metadata = ["format": Self.format, "epoch": String(epoch),
                        "generator": generatorState.map(String.init).joined(separator: ","),
                        "stale_epochs": String(staleEpochs), "history": EpochRecord.encode(history)]
        if let optimizerKind { metadata["optimizer"] = optimizerKind }
        if let schedulerEpoch { metadata["scheduler_epoch"] = String(schedulerEpoch) }
        for (k, v) in schedulerState { metadata["scheduler." + k] = String(v) }
        if let bestMetric { metadata["best_metric"] = String(bestMetric) }
        for (k, v) in settings { metadata["run." + k] = v }
        try Safetensors.write(tensors, metadata: metadata, to: url)
    }

    /// Reads a checkpoint written by ``write(to:)``, checking every metadata field.
    /// - Throws: ``TensorFileError`` when the file is not valid safetensors, ``CheckpointError``
    ///   naming the field and its value when a field is missing or out of range.
    public init(contentsOf url: URL) throws {
        try self.init(Safetensors.readWithMetadata(from: url), path: url.path)
    }

    /// Reads a checkpoint from the bytes of a file written by ``write(to:)`` (one rank read it
    /// and sent it to the others); `path` names the file in errors.
    /// - Throws: as ``init(contentsOf:)``.
    public init(data: Data, path: String) throws {
        do {
            try self.init(Safetensors.readWithMetadata(data: data), path: path)
        } catch var error as TensorFileError {
            error.path = path
            throw error
        }
    }

    private init(_ file: (tensors: [String: Tensor], metadata: [String: String]), path: String) throws {
        let (tensors, metadata) = file
        let fields = MetadataFields(metadata: metadata, path: path)
        guard metadata["format"] == Self.format else {
            throw fields.error("not a DeepStitch checkpoint (format \(metadata["format"].map { "\"\($0)\"" } ?? "missing"))")
        }
        epoch = try fields.count("epoch")
        staleEpochs = try fields.count("stale_epochs", default: 0)
        schedulerEpoch = try fields.optionalCount("scheduler_epoch")
        schedulerState = try fields.schedulerState()
        bestMetric = try fields.finite("best_metric")
        generatorState = try fields.generatorState()
        optimizerKind = metadata["optimizer"]
        history = try fields.history(epochs: epoch)
        settings = fields.settings()
        self.path = path
        model = [:]; optimizer = [:]
        for (k, v) in tensors {
            if k.hasPrefix("model.") { model[String(k.dropFirst(6))] = v }
            else if k.hasPrefix("optimizer.") { optimizer[String(k.dropFirst(10))] = v }
            else { throw fields.error("unexpected tensor \(k) (tensors are under model. or optimizer.)") }
        }
    }

    /// Creates a checkpoint from its parts.
    public init(epoch: Int, model: [String: Tensor], optimizer: [String: Tensor], optimizerKind: String? = nil,
                schedulerEpoch: Int?, schedulerState: [String: Double] = [:], generatorState: [UInt64], bestMetric: Double?,
                staleEpochs: Int, history: [EpochRecord] = [], settings: [String: String] = [:]) {
        self.epoch = epoch
        self.model = model
        self.optimizer = optimizer
        self.optimizerKind = optimizerKind
        self.schedulerEpoch = schedulerEpoch
        self.schedulerState = schedulerState
        self.generatorState = generatorState
        self.bestMetric = bestMetric
        self.staleEpochs = staleEpochs
        self.history = history
        self.settings = settings
    }

    /// An error about this checkpoint.
    func error(_ reason: String) -> CheckpointError {
        CheckpointError(path: path ?? "(in memory)", reason: reason)
    }
}

/// The metadata of a checkpoint file, read field by field with errors naming the field and value.
private struct MetadataFields {
    let metadata: [String: String]
    let path: String

    func error(_ reason: String) -> CheckpointError { CheckpointError(path: path, reason: reason) }

    /// A whole number in 0…``Checkpoint/largestCount``, or `fallback` when the field is absent
    /// and a fallback is given.
    func count(_ key: String, default fallback: Int? = nil) throws -> Int {
        guard let text = metadata[key] else {
            if let fallback { return fallback }
            throw error("missing \(key)")
        }
        guard let value = Int(text), (0...Checkpoint.largestCount).contains(value) else {
            throw error("\(key) \"\(text)\" is not a whole number from 0 to \(Checkpoint.largestCount)")
        }
        return value
    }

    /// ``count(_:default:)`` for a field that may be absent.
    func optionalCount(_ key: String) throws -> Int? {
        metadata[key] == nil ? nil : try count(key)
    }

    /// A finite number, or nil when the field is absent.
    func finite(_ key: String) throws -> Double? {
        guard let text = metadata[key] else { return nil }
        guard let value = Double(text), value.isFinite else { throw error("\(key) \"\(text)\" is not a finite number") }
        return value
    }

    /// The `scheduler.` fields, without the prefix: numbers (±∞ allowed: a best metric before
    /// any epoch), not NaN.
    func schedulerState() throws -> [String: Double] {
        var state: [String: Double] = [:]
        for (key, text) in metadata where key.hasPrefix("scheduler.") {
            guard let value = Double(text), !value.isNaN else { throw error("\(key) \"\(text)\" is not a number") }
            state[String(key.dropFirst("scheduler.".count))] = value
        }
        return state
    }

    /// The generator's four words, not all zero (a xoshiro state of zeros draws only zeros).
    func generatorState() throws -> [UInt64] {
        let text = metadata["generator"] ?? ""
        let words = text.split(separator: ",", omittingEmptySubsequences: false).map { UInt64($0) }
        guard words.count == 4, words.allSatisfy({ $0 != nil }) else {
            throw error("generator \"\(text)\" is not four comma-separated 64-bit words")
        }
        guard words.contains(where: { $0 != 0 }) else { throw error("generator \"\(text)\" is all zero, which draws only zeros") }
        return words.map { $0! }
    }

    /// The epochs' figures: absent, or exactly epochs 1…`epochs` in order.
    func history(epochs: Int) throws -> [EpochRecord] {
        guard let text = metadata["history"] else { return [] }
        guard let records = EpochRecord.decode(text) else { throw error("history is not a list of epoch records") }
        guard records.map(\.epoch) == Array(0..<records.count).map({ $0 + 1 }), records.count == epochs else {
            throw error("history holds epochs \(records.map(\.epoch)), the checkpoint is after epoch \(epochs)")
        }
        return records
    }

    /// The `run.` fields, without the prefix.
    func settings() -> [String: String] {
        Dictionary(uniqueKeysWithValues: metadata.filter { $0.key.hasPrefix("run.") }.map { (String($0.key.dropFirst(4)), $0.value) })
    }
}

/// A checkpoint file that cannot be used.
public struct CheckpointError: Error, CustomStringConvertible {
    /// The file.
    public let path: String
    /// What is wrong.
    public let reason: String

    /// An error about the checkpoint at `path`.
    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "checkpoint \(path): \(reason)" }
}
