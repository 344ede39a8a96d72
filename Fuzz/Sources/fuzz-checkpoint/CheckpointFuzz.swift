// libFuzzer entry point: resuming training from a checkpoint file (`Trainer.resume(from:)`, as
// `stitch train --resume` does) into a small model with BatchNorm, under the default recipe
// (AdamW stepped with a one-cycle schedule) and under SGD with momentum, then taking one training
// step. Any file must either be refused with an error or leave a trainer that can train; a trap
// or a hang is a bug.
import DeepCore
import DeepNN
import Foundation
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let url = temporaryInputFile(fuzzData(data, size), name: "checkpoint.safetensors")
    for recipe in Recipe.allCases { resumeAndStep(from: url, recipe) }
    return 0
}

/// Mutations that keep the safetensors header length consistent (see `mutateSafetensors`).
@_cdecl("LLVMFuzzerCustomMutator")
public func mutate(_ data: UnsafeMutablePointer<UInt8>?, _ size: Int, _ maxSize: Int, _ seed: UInt32) -> Int {
    mutateSafetensors(data, size, maxSize, seed)
}

/// The optimiser and schedule of the trainer a checkpoint is loaded into.
enum Recipe: CaseIterable {
    /// AdamW with OneCycleLR stepped per batch (the CLI's default recipe).
    case adamWOneCycle
    /// SGD with Nesterov momentum and a per-epoch StepLR.
    case sgdStep
}

/// A fresh small trainer (a model with BatchNorm, the recipe's optimiser and schedule), the
/// same on every call.
func makeTrainer(_ recipe: Recipe) -> Trainer {
    manualSeed(0)
    let model = Sequential(Linear(4, 8), BatchNorm1d(8), ReLU(), Linear(8, 3))
    let optimizer: Optimizer
    let scheduler: LRScheduler
    switch recipe {
    case .adamWOneCycle:
        optimizer = AdamW(model.parameters, learningRate: 1e-3, weightDecay: 0.05)
        scheduler = OneCycleLR(optimizer, maxLearningRate: 1e-3, totalSteps: 10)
    case .sgdStep:
        optimizer = SGD(model.parameters, learningRate: 0.1, momentum: 0.9, nesterov: true, weightDecay: 5e-4)
        scheduler = StepLR(optimizer, stepSize: 2)
    }
    let trainer = Trainer(model: model, optimizer: optimizer, scheduler: scheduler, classCount: 3)
    trainer.verbose = false
    return trainer
}

/// One training step on a fixed batch of four examples, stepping the schedule per batch.
func trainOneBatch(_ trainer: Trainer) {
    trainer.model.train()
    trainer.optimizer.zeroGrad()
    let inputs = Tensor((0..<16).map { Float($0) / 16 }, shape: [4, 4])
    crossEntropy(trainer.model(inputs), [0, 1, 2, 0]).backward()
    trainer.optimizer.step()
    // A one-cycle schedule stepped past its 10 steps stops the program, as PyTorch raises: a
    // programmer's error, not the file's.
    if (trainer.scheduler?.lastEpoch ?? 0) < 10 { trainer.scheduler?.step() }
}

/// Builds a fresh trainer for `recipe`, resumes it from `url` (the call under test) and, when
/// the checkpoint was accepted, trains one batch.
func resumeAndStep(from url: URL, _ recipe: Recipe) {
    let trainer = makeTrainer(recipe)
    guard (try? trainer.resume(from: url)) != nil else { return }
    trainOneBatch(trainer)
    _ = trainer.checkpoint()
}

/// Writes the seed corpus into `folder`: for each recipe, the checkpoint of a fresh trainer and
/// of one after two batches (with an epoch count and a best metric) (`FUZZ_WRITE_SEEDS=<folder> fuzz-checkpoint`).
func writeSeeds(to folder: URL) throws {
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    for recipe in Recipe.allCases {
        let trainer = makeTrainer(recipe)
        try trainer.checkpoint().write(to: folder.appendingPathComponent("\(recipe)-fresh.checkpoint.safetensors"))
        trainOneBatch(trainer)
        trainOneBatch(trainer)
        var trained = trainer.checkpoint()
        (trained.epoch, trained.bestMetric, trained.staleEpochs) = (2, 0.75, 1)
        try trained.write(to: folder.appendingPathComponent("\(recipe)-trained.checkpoint.safetensors"))
    }
}
