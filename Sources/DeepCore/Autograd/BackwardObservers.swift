import Foundation

/// Something that follows every ``Tensor/backward(_:retainGraph:)`` pass of the process: the
/// moment each leaf's gradient is final, each op's pullback, and the end (what
/// `DistributedDataParallel` needs to all-reduce gradients while the rest of the pass runs;
/// PyTorch's post-accumulate-grad hooks and autograd engine callbacks). Calls come on the thread
/// that runs the pass, outside any gradient recording.
public protocol BackwardObserver: AnyObject {
    /// `leaf` (a tensor no recorded op made, which requires gradients) has its final gradient of
    /// this pass in `leaf.grad` (nil when none reached it).
    func gradientIsReady(_ leaf: Tensor)
    /// One op's pullback has run (a chance to make progress on communication in flight).
    func pullbackFinished()
    /// The pass is over: every leaf's gradient of this pass is final.
    func backwardFinished()
}

/// The observers of backward passes. `backward` reads the list once per pass; with none
/// registered it costs one lock.
public enum BackwardObservers {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var observers: [WeakObserver] = []

    /// Starts calling `observer` on every backward pass (kept weakly: it stops when released).
    public static func add(_ observer: BackwardObserver) {
        lock.lock()
        defer { lock.unlock() }
        observers.removeAll { $0.value == nil || $0.value === observer }
        observers.append(WeakObserver(value: observer))
    }

    /// Stops calling `observer`.
    public static func remove(_ observer: BackwardObserver) {
        lock.lock()
        defer { lock.unlock() }
        observers.removeAll { $0.value == nil || $0.value === observer }
    }

    /// The observers registered now.
    static var current: [BackwardObserver] {
        lock.lock()
        defer { lock.unlock() }
        return observers.compactMap(\.value)
    }

    private struct WeakObserver {
        weak var value: BackwardObserver?
    }
}
