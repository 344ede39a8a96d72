import DeepCore
import Foundation

/// Data-parallel training (`torch.nn.parallel.DistributedDataParallel`): every rank of `group`
/// holds the same model, runs it on its own part of each batch, and after `backward()` every
/// rank holds the gradients averaged over the ranks — so the optimiser steps are those of one
/// process on the whole batch, on every rank.
///
/// - At creation, rank 0's parameters and buffers are copied to every rank.
/// - In training mode each forward first copies rank 0's buffers to every rank (BatchNorm's
///   running statistics stay the same everywhere; `broadcastBuffers: false` keeps each rank's).
/// - Gradients are averaged in buckets of about `bucketCapMB` megabytes (the first one
///   `firstBucketCapMB`, so that communication starts early), parameters in reverse order, as
///   PyTorch buckets them. Each bucket's all-reduce starts as soon as backward has made all its
///   gradients (buckets start in order, the same on every rank), and runs while backward goes
///   on; `backward()` returns once all are averaged.
/// - ``noSync(_:)`` skips the averaging for backward passes inside it (gradient accumulation):
///   the gradients summed locally are averaged by the first backward after it.
/// - A parameter that no gradient reached on a rank counts as zero there; it gets a gradient
///   only where some rank gave it one.
///
/// The state dict holds the model's under `module.` as PyTorch's does; save `ddp.module` for a
/// file that loads into the bare model.
///
///     let group = try MPIProcessGroup.world()
///     let ddp = DistributedDataParallel(model, group: group)
///     let loss = crossEntropy(ddp(batch.inputs), batch.labels)   // this rank's part of the batch
///     loss.backward()                                             // gradients averaged over the ranks
///     optimizer.step()
public final class DistributedDataParallel: Module {
    /// The model replicated on every rank.
    public let module: Module
    /// The ranks that train together.
    public let group: ProcessGroup
    /// Whether training forwards copy rank 0's buffers to every rank.
    public let broadcastBuffers: Bool
    private let reducer: GradientReducer

    /// Wraps `module`, copying rank 0's parameters and buffers to every rank (all ranks must
    /// create it at the same point, with models of the same layout).
    /// - Parameters:
    ///   - bucketCapMB: megabytes of gradients per all-reduce (PyTorch's 25).
    ///   - firstBucketCapMB: megabytes of the first bucket (PyTorch's 1), the last parameters'.
    ///   - overlapsCommunication: start each bucket while backward runs (false: all at its end,
    ///     for measuring what the overlap saves).
    public init(_ module: Module, group: ProcessGroup, bucketCapMB: Double = 25, firstBucketCapMB: Double = 1,
                broadcastBuffers: Bool = true, overlapsCommunication: Bool = true) {
        require(bucketCapMB > 0 && firstBucketCapMB > 0,
                "DistributedDataParallel: bucket caps \(firstBucketCapMB) and \(bucketCapMB) MB are not positive")
        self.module = module
        self.group = group
        self.broadcastBuffers = broadcastBuffers
        let parameters = module.trainableParameters
        let layout = group.allReduce([Double(parameters.count), Double(parameters.reduce(0) { $0 + $1.count })], .max)
        let mine = [Double(parameters.count), Double(parameters.reduce(0) { $0 + $1.count })]
        if layout != mine {
            group.abort("DistributedDataParallel: rank \(group.rank)'s \(module.typeName) has \(Int(mine[0])) trainable parameters "
                        + "of \(Int(mine[1])) values, another rank's \(Int(layout[0])) of \(Int(layout[1])): every rank must build the same model")
        }
        reducer = GradientReducer(parameters: parameters, group: group, bucketCap: Self.floats(megabytes: bucketCapMB),
                                  firstBucketCap: Self.floats(megabytes: firstBucketCapMB), overlaps: overlapsCommunication)
        super.init()
        copyFromRankZero(module.namedParameters().map(\.1) + module.namedBuffers().map(\.1))
        BackwardObservers.add(reducer)
    }

    deinit { BackwardObservers.remove(reducer) }

    /// The module's output for this rank's part of the batch. Shape: as the module's.
    public override func forward(_ x: Tensor) -> Tensor {
        if isTraining && broadcastBuffers { copyFromRankZero(module.namedBuffers().map(\.1)) }
        return module(x)
    }

    /// Runs `body` (forward and backward passes) without averaging gradients: they accumulate on
    /// each rank, and the next backward outside averages their sums (`ddp.no_sync()`).
    public func noSync<Result>(_ body: () throws -> Result) rethrows -> Result {
        let was = reducer.isSyncing
        reducer.isSyncing = false
        defer { reducer.isSyncing = was }
        return try body()
    }

    /// The number of gradient buckets and the parameters in each, first bucket first.
    public var bucketSizes: [Int] { reducer.buckets.map(\.parameters.count) }

    /// Seconds backward passes have waited for gradient all-reduces after their last op (the
    /// communication that overlap did not hide), since creation.
    public var communicationWaitSeconds: Double { reducer.waitSeconds }

    /// Megabytes → Float count, at least 1.
    private static func floats(megabytes: Double) -> Int {
        max(1, Int(megabytes * 1_048_576 / Double(MemoryLayout<Float>.stride)))
    }

    /// Copies rank 0's values of `tensors` to every rank, in one broadcast.
    private func copyFromRankZero(_ tensors: [Tensor]) {
        guard group.worldSize > 1, !tensors.isEmpty else { return }
        let flat = Tensor(zeros: [tensors.reduce(0) { $0 + $1.count }])
        flat.withUnsafeMutableBufferPointer { buffer in
            var offset = 0
            for t in tensors {
                t.contiguous().withUnsafeBufferPointer { source in
                    for i in 0..<source.count { buffer[offset + i] = source[i] }
                }
                offset += t.count
            }
        }
        group.broadcast(flat, from: 0)
        flat.withUnsafeBufferPointer { buffer in
            var offset = 0
            for t in tensors {
                require(t.isContiguous, "DistributedDataParallel: a parameter or buffer of shape \(t.shape) is not contiguous")
                t.withUnsafeMutableBufferPointer { target in
                    for i in 0..<target.count { target[i] = buffer[offset + i] }
                }
                offset += t.count
            }
        }
    }
}

/// The gradient buckets of a ``DistributedDataParallel`` and their all-reduces during backward
/// (PyTorch's `Reducer`).
final class GradientReducer: BackwardObserver {
    struct Bucket {
        /// Indices into `parameters`, in the order their gradients are laid out.
        var parameters: [Int]
        /// The gradients, laid end to end (allocated once; the all-reduce works in place).
        let values: UnsafeMutableBufferPointer<Float>
        var ready = 0
    }

    let parameters: [Tensor]
    let group: ProcessGroup
    private(set) var buckets: [Bucket] = []
    /// (bucket, offset) of each parameter.
    private var place: [(bucket: Int, offset: Int)] = []
    private var index: [ObjectIdentifier: Int] = [:]
    private var isReady: [Bool]
    private var hadGradient: [Bool]
    private var work: [CollectiveWork] = []
    private var passStarted = false
    let overlaps: Bool
    var isSyncing = true
    private(set) var waitSeconds = 0.0

    init(parameters: [Tensor], group: ProcessGroup, bucketCap: Int, firstBucketCap: Int, overlaps: Bool) {
        self.parameters = parameters
        self.group = group
        self.overlaps = overlaps
        isReady = Array(repeating: false, count: parameters.count)
        hadGradient = isReady
        place = Array(repeating: (0, 0), count: parameters.count)
        var current: [Int] = [], size = 0
        for i in parameters.indices.reversed() {
            let cap = buckets.isEmpty ? firstBucketCap : bucketCap
            if !current.isEmpty && size + parameters[i].count > cap {
                addBucket(current, size: size)
                current = []; size = 0
            }
            current.append(i)
            size += parameters[i].count
        }
        if !current.isEmpty { addBucket(current, size: size) }
        for (i, p) in parameters.enumerated() { index[ObjectIdentifier(p)] = i }
    }

    private func addBucket(_ members: [Int], size: Int) {
        var offset = 0
        for i in members {
            place[i] = (buckets.count, offset)
            offset += parameters[i].count
        }
        let values = UnsafeMutableBufferPointer<Float>.allocate(capacity: size)
        values.initialize(repeating: 0)
        buckets.append(Bucket(parameters: members, values: values))
    }

    deinit { for b in buckets { b.values.deallocate() } }

    func gradientIsReady(_ leaf: Tensor) {
        guard isSyncing, group.worldSize > 1, let i = index[ObjectIdentifier(leaf)], !isReady[i] else { return }
        passStarted = true
        markReady(i)
        if overlaps { startReadyBuckets() }
    }

    func pullbackFinished() {
        // Polling lets the engine move the buckets in flight along.
        if let last = work.last { _ = last.isComplete }
    }

    func backwardFinished() {
        guard passStarted else { return }
        for i in parameters.indices where !isReady[i] { markReady(i) }
        startReadyBuckets()
        let began = DispatchTime.now()
        for w in work { w.wait() }
        waitSeconds += Double(DispatchTime.now().uptimeNanoseconds - began.uptimeNanoseconds) / 1e9
        let ranks = Float(group.worldSize)
        for (i, p) in parameters.enumerated() {
            let (b, offset) = place[i]
            let averaged = UnsafeBufferPointer(rebasing: buckets[b].values[offset..<(offset + p.count)])
            if !hadGradient[i] {
                guard averaged.contains(where: { $0 != 0 }) else { continue }
                p.grad = Tensor(zeros: p.shape)
            }
            p.grad!.withUnsafeMutableBufferPointer { grad in
                for k in 0..<grad.count { grad[k] = averaged[k] / ranks }
            }
        }
        for b in buckets.indices { buckets[b].ready = 0 }
        for i in isReady.indices { isReady[i] = false; hadGradient[i] = false }
        work = []
        passStarted = false
    }

    /// Copies parameter `i`'s gradient (zeros when it has none) into its bucket.
    private func markReady(_ i: Int) {
        let p = parameters[i]
        let (b, offset) = place[i]
        isReady[i] = true
        if let grad = p.grad {
            require(grad.isContiguous && grad.shape == p.shape,
                    "DistributedDataParallel: gradient of shape \(grad.shape) for a parameter of shape \(p.shape)")
            hadGradient[i] = true
            let values = buckets[b].values
            grad.withUnsafeBufferPointer { source in
                for k in 0..<source.count { values[offset + k] = source[k] }
            }
        } else {
            for k in offset..<(offset + p.count) { buckets[b].values[k] = 0 }
        }
        buckets[b].ready += 1
    }

    /// Starts the all-reduce of each complete bucket after the last one started, in order.
    private func startReadyBuckets() {
        while work.count < buckets.count, buckets[work.count].ready == buckets[work.count].parameters.count {
            let b = work.count
            work.append(group.startAllReduce(buckets[b].values, .sum))
        }
    }
}
