import DeepCore
import Foundation

/// Everything needed to resume training exactly: model weights and buffers, optimiser state,
/// the schedule's position, the default generator's state and the epoch, in one safetensors
/// file (tensors under `model.` and `optimizer.`, the rest as metadata), written atomically.
public struct Checkpoint {
    /// Epochs completed.
    public var epoch: Int
    /// Model state dict.
    public var model: [String: Tensor]
    /// Optimiser state.
    public var optimizer: [String: Tensor]
    /// Scheduler steps taken, if there is a scheduler.
    public var schedulerEpoch: Int?
    /// The default generator's state (dropout masks, etc.).
    public var generatorState: [UInt64]
    /// Best validation metric so far and epochs since it improved (early stopping).
    public var bestMetric: Double?
    /// Epochs without improvement.
    public var staleEpochs: Int

    /// Writes the checkpoint to `url` (temporary file, then rename: an interrupted save leaves
    /// the previous checkpoint intact).
    public func write(to url: URL) throws {
        var tensors: [String: Tensor] = [:]
        for (k, v) in model { tensors["model." + k] = v }
        for (k, v) in optimizer { tensors["optimizer." + k] = v }
        var metadata = ["format": "deepstitch-checkpoint-1", "epoch": String(epoch),
                        "generator": generatorState.map(String.init).joined(separator: ","),
                        "stale_epochs": String(staleEpochs)]
        if let schedulerEpoch { metadata["scheduler_epoch"] = String(schedulerEpoch) }
        if let bestMetric { metadata["best_metric"] = String(bestMetric) }
        try Safetensors.write(tensors, metadata: metadata, to: url)
    }

    /// Reads a checkpoint written by ``write(to:)``.
    public init(contentsOf url: URL) throws {
        let (tensors, metadata) = try Safetensors.readWithMetadata(from: url)
        func fail(_ reason: String) -> CheckpointError { CheckpointError(path: url.path, reason: reason) }
        guard metadata["format"] == "deepstitch-checkpoint-1" else { throw fail("not a DeepStitch checkpoint (format \(metadata["format"] ?? "missing"))") }
        guard let e = metadata["epoch"].flatMap(Int.init) else { throw fail("missing or bad epoch") }
        let words = (metadata["generator"] ?? "").split(separator: ",").compactMap { UInt64($0) }
        guard words.count == 4 else { throw fail("missing or bad generator state") }
        epoch = e
        generatorState = words
        schedulerEpoch = metadata["scheduler_epoch"].flatMap(Int.init)
        bestMetric = metadata["best_metric"].flatMap(Double.init)
        staleEpochs = metadata["stale_epochs"].flatMap(Int.init) ?? 0
        model = [:]; optimizer = [:]
        for (k, v) in tensors {
            if k.hasPrefix("model.") { model[String(k.dropFirst(6))] = v }
            else if k.hasPrefix("optimizer.") { optimizer[String(k.dropFirst(10))] = v }
            else { throw fail("unexpected tensor \(k)") }
        }
    }

    /// Creates a checkpoint from its parts.
    public init(epoch: Int, model: [String: Tensor], optimizer: [String: Tensor], schedulerEpoch: Int?,
                generatorState: [UInt64], bestMetric: Double?, staleEpochs: Int) {
        self.epoch = epoch
        self.model = model
        self.optimizer = optimizer
        self.schedulerEpoch = schedulerEpoch
        self.generatorState = generatorState
        self.bestMetric = bestMetric
        self.staleEpochs = staleEpochs
    }
}

/// A checkpoint file that cannot be used.
public struct CheckpointError: Error, CustomStringConvertible {
    /// The file.
    public let path: String
    /// What is wrong.
    public let reason: String
    public var description: String { "checkpoint \(path): \(reason)" }
}
