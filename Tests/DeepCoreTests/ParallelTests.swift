import XCTest
import DeepCore

/// The worker pool behind `Parallel`: back-to-back jobs (workers still spinning) and jobs after
/// a pause (workers asleep) all run every chunk exactly once and return.
final class ParallelTests: XCTestCase {
    private func runJobs(_ jobs: Int, pauseMicroseconds: UInt32) {
        let saved = Gemm.threadCount
        defer { Gemm.threadCount = saved }
        Gemm.threadCount = 2
        let count = 64
        let seen = UnsafeMutableBufferPointer<Int>.allocate(capacity: count)
        defer { seen.deallocate() }
        seen.initialize(repeating: 0)
        for _ in 0..<jobs {
            Parallel.forEachChunk(count: count, chunks: 8, workers: 2) { worker, _, range in
                XCTAssertTrue(worker < 2)
                for i in range { seen[i] += 1 }
            }
            if pauseMicroseconds > 0 { usleep(pauseMicroseconds) }
        }
        XCTAssertEqual(Array(seen), [Int](repeating: jobs, count: count))
    }

    func testBackToBackJobsRunEveryChunkOnce() {
        runJobs(20_000, pauseMicroseconds: 0)
    }

    func testJobsAfterWorkersFellAsleepRunEveryChunkOnce() {
        runJobs(200, pauseMicroseconds: 300)
    }

    /// More participants than pool threads: the extra ones run on the caller.
    func testMoreWorkersThanThreadsStillCoverEveryChunk() {
        let saved = Gemm.threadCount
        defer { Gemm.threadCount = saved }
        Gemm.threadCount = 8
        let seen = UnsafeMutableBufferPointer<Int>.allocate(capacity: 100)
        defer { seen.deallocate() }
        seen.initialize(repeating: 0)
        Parallel.forEachChunk(count: 100, chunks: 16, workers: 8) { worker, _, range in
            XCTAssertTrue(worker < 8)
            for i in range { seen[i] += 1 }
        }
        XCTAssertEqual(Array(seen), [Int](repeating: 1, count: 100))
    }
}
