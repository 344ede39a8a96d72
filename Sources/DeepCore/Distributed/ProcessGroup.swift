/// How ``ProcessGroup/allReduce(_:_:)`` combines the ranks' values (`torch.distributed.ReduceOp`).
public enum ReduceOperation: Sendable {
    case sum, max, min
}

/// A collective started by a ``ProcessGroup`` and not yet known to be complete (`torch.distributed.Work`).
/// Its buffers must stay alive and untouched until ``wait()`` returns or ``isComplete`` reads true.
public protocol CollectiveWork: AnyObject {
    /// Makes progress and tells whether the collective is complete (it never blocks).
    var isComplete: Bool { get }
    /// Blocks until the collective is complete.
    func wait()
}

/// The processes that train one model together, each with its own part of the data
/// (`torch.distributed.ProcessGroup`): the collectives data-parallel training needs, with any
/// engine behind them (``SingleProcessGroup`` here; `MPIProcessGroup` in DeepDistributed).
///
/// Every rank must call the same collectives in the same order with buffers of the same size.
/// A collective cannot fail halfway on one rank only: an engine's error (a rank that died, a
/// network failure, a collective that does not complete within the engine's timeout) ends every
/// rank with a message naming the collective, its size and the rank, rather than leaving the
/// others waiting forever.
public protocol ProcessGroup: AnyObject {
    /// This process's index in the group, 0 ..< ``worldSize``.
    var rank: Int { get }
    /// The number of processes in the group.
    var worldSize: Int { get }
    /// Starts combining `buffer` elementwise over the ranks, in place: once complete, every rank
    /// holds the same result.
    func startAllReduce(_ buffer: UnsafeMutableBufferPointer<Float>, _ operation: ReduceOperation) -> CollectiveWork
    /// Combines `buffer` elementwise over the ranks, in place (Double, for sums of counts and losses).
    func allReduce(_ buffer: UnsafeMutableBufferPointer<Double>, _ operation: ReduceOperation)
    /// Copies rank `root`'s bytes into `buffer` on every other rank (of the same size everywhere).
    func broadcast(_ buffer: UnsafeMutableRawBufferPointer, from root: Int)
    /// Every rank's `send` (of the same count on every rank) into `receive`, rank after rank:
    /// `receive` holds `worldSize × send.count` floats.
    func allGather(_ send: UnsafeBufferPointer<Float>, into receive: UnsafeMutableBufferPointer<Float>)
    /// Returns once every rank has called it.
    func barrier()
    /// Ends every rank of the group with `message` (an error one rank found that the others
    /// cannot know about).
    func abort(_ message: String) -> Never
}

extension ProcessGroup {
    /// Combines `buffer` over the ranks, in place, and returns when done.
    public func allReduce(_ buffer: UnsafeMutableBufferPointer<Float>, _ operation: ReduceOperation = .sum) {
        startAllReduce(buffer, operation).wait()
    }

    /// Combines a contiguous tensor over the ranks, in place (`dist.all_reduce(tensor)`).
    /// Shape: (*) → same, the same on every rank.
    public func allReduce(_ tensor: Tensor, _ operation: ReduceOperation = .sum) {
        require(tensor.isContiguous && !tensor.isMeta,
                "allReduce: tensor of shape \(tensor.shape) is not contiguous (all-reduce works in place)")
        tensor.withUnsafeMutableBufferPointer { allReduce($0, operation) }
    }

    /// The elementwise combination of `values` over the ranks (each rank passes as many).
    public func allReduce(_ values: [Double], _ operation: ReduceOperation = .sum) -> [Double] {
        var result = values
        result.withUnsafeMutableBufferPointer { allReduce($0, operation) }
        return result
    }

    /// Copies rank `root`'s tensor into `tensor` on every rank (`dist.broadcast`); contiguous, of
    /// the same shape on every rank.
    public func broadcast(_ tensor: Tensor, from root: Int = 0) {
        require(tensor.isContiguous && !tensor.isMeta,
                "broadcast: tensor of shape \(tensor.shape) is not contiguous (broadcast works in place)")
        require((0..<worldSize).contains(root), "broadcast: root \(root) is not a rank of a group of \(worldSize)")
        tensor.withUnsafeMutableBufferPointer { broadcast(UnsafeMutableRawBufferPointer($0), from: root) }
    }

    /// Rank `root`'s bytes on every rank (the others pass anything, e.g. `[]`): a file read by
    /// rank 0 only, such as a checkpoint, for every rank to parse.
    public func broadcast(bytes: [UInt8], from root: Int = 0) -> [UInt8] {
        var count = [Double(rank == root ? bytes.count : 0)]
        count.withUnsafeMutableBufferPointer { allReduce($0, .max) }
        var result = rank == root ? bytes : [UInt8](repeating: 0, count: Int(count[0]))
        result.withUnsafeMutableBytes { broadcast($0, from: root) }
        return result
    }

    /// Every rank's tensor, stacked on a new first axis (`dist.all_gather`, then `torch.stack`).
    /// Shape: (*) of the same shape on every rank → (worldSize, *).
    public func allGather(_ tensor: Tensor) -> Tensor {
        require(!tensor.isMeta, "allGather: tensor of shape \(tensor.shape) is shape-only")
        let out = Tensor(zeros: [worldSize] + tensor.shape)
        guard tensor.count > 0 else { return out }
        let source = tensor.contiguous()
        source.withUnsafeBufferPointer { send in
            out.withUnsafeMutableBufferPointer { allGather(send, into: $0) }
        }
        return out
    }

    /// Whether this process is rank 0, the one that prints and writes files.
    public var isMain: Bool { rank == 0 }
}

/// The group of one process (rank 0 of 1): every collective leaves its buffers as they are. What
/// a program uses when it was not started by a launcher, so that the same code runs alone.
public final class SingleProcessGroup: ProcessGroup {
    /// Creates the group.
    public init() {}

    public var rank: Int { 0 }
    public var worldSize: Int { 1 }

    public func startAllReduce(_ buffer: UnsafeMutableBufferPointer<Float>, _ operation: ReduceOperation) -> CollectiveWork {
        CompletedWork()
    }

    public func allReduce(_ buffer: UnsafeMutableBufferPointer<Double>, _ operation: ReduceOperation) {}
    public func broadcast(_ buffer: UnsafeMutableRawBufferPointer, from root: Int) {}

    public func allGather(_ send: UnsafeBufferPointer<Float>, into receive: UnsafeMutableBufferPointer<Float>) {
        require(receive.count == send.count, "allGather: \(receive.count) floats to receive \(send.count) from one rank")
        _ = receive.initialize(from: send)
    }

    public func barrier() {}

    public func abort(_ message: String) -> Never {
        require(false, message)
        fatalError(message)
    }
}

/// Work that was complete when it started.
final class CompletedWork: CollectiveWork {
    var isComplete: Bool { true }
    func wait() {}
}
