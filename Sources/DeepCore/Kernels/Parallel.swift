import Dispatch

/// Splits a loop over independent items (images of a batch, channels) among threads.
///
/// The number of threads is OpenBLAS's (``Gemm/threadCount``), so one setting governs both. While
/// the threads run, OpenBLAS is held to one thread so that GEMMs called from the loop body do not
/// oversubscribe the cores; it is restored afterwards. Inside a parallel loop `Gemm.threadCount`
/// reads 1, so a nested parallel loop runs inline.
enum Parallel {
    /// Work (in multiply-adds or element visits) below which a loop is not worth splitting:
    /// waking a thread costs a few microseconds.
    nonisolated(unsafe) static var minimumWork = 1 << 16

    /// How many threads a loop over `items` items costing `work` in total should use.
    static func workers(items: Int, work: Int) -> Int {
        guard work >= minimumWork else { return 1 }
        return Swift.max(1, Swift.min(items, Gemm.threadCount))
    }

    /// Calls `body(worker, range)` once per worker, the ranges splitting `0..<count` into
    /// contiguous chunks of near-equal size, in parallel. `worker` runs over `0..<workers` and
    /// lets the body use per-thread scratch memory. The split is fixed by `count` and `workers`,
    /// so results that depend on summation order are reproducible.
    static func forEachChunk(count: Int, workers requested: Int,
                             _ body: (_ worker: Int, _ range: Range<Int>) -> Void) {
        let workers = Swift.max(1, Swift.min(requested, count))
        if count == 0 { return }
        if workers == 1 {
            body(0, 0..<count)
            return
        }
        let savedThreads = Gemm.threadCount
        Gemm.threadCount = 1
        defer { Gemm.threadCount = savedThreads }
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            body(worker, chunk(worker, of: workers, count: count))
        }
    }

    /// The `worker`-th of `workers` contiguous near-equal parts of `0..<count`.
    static func chunk(_ worker: Int, of workers: Int, count: Int) -> Range<Int> {
        let base = count / workers, extra = count % workers
        let start = worker * base + Swift.min(worker, extra)
        return start..<(start + base + (worker < extra ? 1 : 0))
    }
}
