import Synchronization

/// Splits a loop over independent items (images of a batch, channels) among threads.
///
/// The items are cut into fixed contiguous chunks that threads claim one after another, so a
/// thread slowed down by another process on the machine takes fewer chunks instead of holding
/// the others up; the chunks themselves depend only on the item count and the requested chunk
/// count, so per-chunk partial sums added in chunk order give the same result whichever thread
/// ran which chunk.
///
/// One pool of threads (``WorkerPool``, sized from OpenBLAS's thread count at start) does all
/// the work: OpenBLAS itself always runs single-threaded, and
/// ``Gemm/multiply(m:n:k:alpha:a:_:b:_:beta:c:ldc:)`` splits large products among these threads.
/// (OpenBLAS's own workers spin for a while after each product; on a small machine they would
/// compete for the cores with the loops that follow.) The thread count is ``Gemm/threadCount``,
/// which starts at OpenBLAS's (`OPENBLAS_NUM_THREADS`, or the cores). One parallel loop runs at
/// a time: a loop started inside another one, or from another thread while one runs, runs inline,
/// and `Gemm.threadCount` reads 1 meanwhile.
public enum Parallel {
    /// Work (in multiply-adds or element visits) below which a loop is not worth splitting:
    /// handing a job to the (usually still spinning) pool costs about a microsecond. A variable
    /// so that tests can force splitting.
    nonisolated(unsafe) public static var minimumWork = 1 << 14

    /// Chunks per thread when the chunk count is free: enough to even out a slow thread.
    static let chunksPerWorker = 4

    /// How many threads a loop over `items` items costing `work` in total should use.
    static func workers(items: Int, work: Int) -> Int {
        guard work >= minimumWork else { return 1 }
        return Swift.max(1, Swift.min(items, Gemm.threadCount))
    }

    /// Threads the library may use, as set by the user (see ``Gemm/threadCount``).
    nonisolated(unsafe) static var configuredThreads = Gemm.blasThreadsAtStart
    /// 1 while a parallel loop runs.
    static let busy = Atomic<Int>(0)

    /// Calls `body(worker, chunk, range)` for each of `chunks` contiguous near-equal parts of
    /// `0..<count` (fewer when `count` is smaller), on `workers` threads that claim the chunks in
    /// order. `worker` runs over `0..<workers` (for per-thread scratch memory), `chunk` over the
    /// chunks (for per-chunk partial results).
    public static func forEachChunk(count: Int, chunks: Int, workers: Int,
                             _ body: (_ worker: Int, _ chunk: Int, _ range: Range<Int>) -> Void) {
        if count == 0 { return }
        let chunks = Swift.max(1, Swift.min(chunks, count))
        let workers = Swift.max(1, Swift.min(workers, chunks))
        if workers == 1 {
            for c in 0..<chunks { body(0, c, part(c, of: chunks, count: count)) }
            return
        }
        guard busy.compareExchange(expected: 0, desired: 1, ordering: .acquiring).exchanged else {
            for c in 0..<chunks { body(0, c, part(c, of: chunks, count: count)) }
            return
        }
        defer { busy.store(0, ordering: .releasing) }
        let next = Atomic<Int>(0)
        WorkerPool.shared.run(participants: workers) { worker in
            while true {
                let c = next.wrappingAdd(1, ordering: .relaxed).oldValue
                if c >= chunks { return }
                body(worker, c, part(c, of: chunks, count: count))
            }
        }
    }

    /// The `index`-th of `parts` contiguous near-equal parts of `0..<count`.
    public static func part(_ index: Int, of parts: Int, count: Int) -> Range<Int> {
        let base = count / parts, extra = count % parts
        let start = index * base + Swift.min(index, extra)
        return start..<(start + base + (index < extra ? 1 : 0))
    }

    /// Calls `body(range)` for chunks of `0..<count` on as many threads as `work` deserves
    /// (see ``workers(items:work:)``), for loops without per-chunk results.
    public static func forEach(count: Int, work: Int, _ body: (_ range: Range<Int>) -> Void) {
        let workers = workers(items: count, work: work)
        forEachChunk(count: count, chunks: workers * chunksPerWorker, workers: workers) { _, _, range in body(range) }
    }
}
