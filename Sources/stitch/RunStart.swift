import ArgumentParser
import DeepNN
import Foundation

/// What `stitch train` needs of a trainer, whatever its task, to start, resume and interrupt a run.
protocol RunTrainer: AnyObject {
    /// The run's settings, stored in its checkpoints.
    var settings: [String: String] { get set }
    /// Asks training to stop after the current batch.
    func requestStop()
    /// Restores a checkpoint, checked in full first.
    func resume(from checkpoint: Checkpoint) throws
}

extension Trainer: RunTrainer {}
extension SegmentationTrainer: RunTrainer {}

extension Stitch.Train {
    /// Starts the run in its folder — creates it, stops `trainer` on Ctrl-C/SIGTERM, replaces an
    /// earlier run when `--overwrite`, resumes from `checkpoint` — and trains with `fit`. An
    /// interruption ends the program with exit 130, the last complete epoch's checkpoint kept.
    /// - Returns: the Ctrl-C handler (keep it alive until the model is saved) and when training
    ///   started.
    func startRun(_ trainer: some RunTrainer, settings: RunSettings, checkpoint: Checkpoint?,
                  fit: () throws -> Void) throws -> (interruption: Interruption, started: Date) {
        // Under MPI, rank 0 alone touches the folder.
        if DistributedRun.isMain { try folder.create() }
        let interruption = Interruption { trainer.requestStop() }
        if overwrite && DistributedRun.isMain { try folder.removeEarlierRun() }
        if let checkpoint {
            try trainer.resume(from: checkpoint)
            print("resumed after epoch \(checkpoint.epoch)")
        }
        trainer.settings = settings.strings
        let started = Date()
        do {
            try fit()
        } catch let stop as TrainingInterrupted {
            FileHandle.standardError.write(Data("interrupted: the checkpoint of epoch \(stop.completedEpochs) in \(folder.url.path) is kept; continue with --resume --output \(output)\n".utf8))
            throw ExitCode(130)
        }
        return (interruption, started)
    }
}
