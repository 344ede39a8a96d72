import ArgumentParser
import DeepCore
import DeepDistributed
import DeepNN
import Foundation

/// `stitch train` started by an MPI launcher (`mpirun -np N stitch train …`, `srun`) trains
/// data-parallel by itself: every rank takes its share of each batch (`--batch-size` is the
/// whole batch, split evenly), gradients are averaged, BatchNorm layers become SyncBatchNorm (so
/// that the run is the one-process run on the whole batch), and only rank 0 prints and writes
/// the run's files. Each rank uses the cores of its machine divided by the ranks on it.
enum DistributedRun {
    /// This process's rank as the launcher set it, read without starting MPI (nil when not
    /// launched by one).
    static var launchedRank: Int? {
        let environment = ProcessInfo.processInfo.environment
        return ["OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"].lazy.compactMap { environment[$0].flatMap(Int.init) }.first
    }

    /// Whether this process writes the run's files and prints: rank 0, or a process on its own.
    static var isMain: Bool { (launchedRank ?? 0) == 0 }

    /// The ranks of the job when launched by MPI (starting MPI), nil otherwise. The other ranks'
    /// standard output is silenced (their errors still show).
    static func start() throws -> ProcessGroup? {
        guard MPIProcessGroup.isLaunched else { return nil }
        let group = try MPIProcessGroup.world()
        Gemm.threadCount = max(1, ProcessInfo.processInfo.activeProcessorCount / MPIProcessGroup.localSize)
        if group.rank != 0 { _ = freopen("/dev/null", "w", stdout) }
        return group
    }

    /// Whether gradient all-reduces start during backward: yes, unless the environment sets
    /// `DEEPSTITCH_DDP_OVERLAP=0` (to measure what the overlap saves).
    static var overlapsCommunication: Bool { ProcessInfo.processInfo.environment["DEEPSTITCH_DDP_OVERLAP"] != "0" }

    /// The line that ends a data-parallel run: ranks, threads and the communication time that
    /// backward passes waited for (`waited`) and all collectives together.
    static func summary(group: ProcessGroup, waited: Double) -> String {
        let collectives = (group as? MPIProcessGroup)?.waitingSeconds ?? 0
        return String(format: "data-parallel: %d ranks × %d threads; backward waited %.2f s for gradient all-reduces (overlap %@), %.2f s in all collectives on rank 0",
                      group.worldSize, Gemm.threadCount, waited, overlapsCommunication ? "on" : "off", collectives)
    }

    /// The seed of a rank's training loader, whose per-batch generators draw augmentations and
    /// fresh mosaics: `seed` mixed with the rank, so that ranks do not draw the same ones for
    /// their batches of the same index (the sampler's shared seed stays `seed`).
    static func loaderSeed(_ seed: UInt64, group: ProcessGroup) -> UInt64 {
        seed ^ (UInt64(group.rank) &* 0x9E37_79B9_7F4A_7C15)
    }

    /// The examples per rank of a `batchSize` batch over `group`.
    /// - Throws: `ValidationError` when the batch does not split evenly.
    static func batchSizePerRank(_ batchSize: Int, group: ProcessGroup?) throws -> Int {
        guard let group, group.worldSize > 1 else { return batchSize }
        guard batchSize % group.worldSize == 0 else {
            throw ValidationError("--batch-size \(batchSize) does not split evenly over the \(group.worldSize) ranks; give a multiple of \(group.worldSize)")
        }
        return batchSize / group.worldSize
    }

    /// The checkpoint at `url` as rank 0 reads it, on every rank (the other ranks need not see
    /// the file: its bytes are broadcast).
    /// - Throws: errors reading or checking the file.
    static func checkpoint(at url: URL, group: ProcessGroup?) throws -> Checkpoint {
        guard let group, group.worldSize > 1 else { return try Checkpoint(contentsOf: url) }
        let bytes = group.broadcast(bytes: group.isMain ? [UInt8](try Data(contentsOf: url)) : [], from: 0)
        do {
            return try Checkpoint(data: Data(bytes), path: url.path)
        } catch where !group.isMain {
            // The same bytes fail the same way on rank 0, which tells the user; the others end quietly.
            exit(1)
        }
    }
}
