import Dispatch
import Foundation
import Synchronization

/// The threads behind ``Parallel``: a fixed set of workers that stay awake (spinning on one
/// atomic) for a short while after each job, so that the many short parallel regions of a
/// training step (GEMM strips, elementwise ops, optimiser updates) start without waking a
/// sleeping thread each time — the reason OpenMP pools spin too. After ``spinDuration`` without
/// work a worker sleeps on its own semaphore until the next job.
///
/// One job runs at a time (``Parallel`` guarantees it); the caller's thread is participant 0.
final class WorkerPool: @unchecked Sendable {
    /// The pool, created with its threads on first use.
    static let shared = WorkerPool(threads: Swift.max(0, Gemm.blasThreadsAtStart - 1))

    /// Nanoseconds a worker keeps polling for the next job before it sleeps.
    static let spinDuration: UInt64 = 100_000

    private let threads: Int
    /// Bumped once per job; workers compare it with the last one they ran.
    private let generation = Atomic<Int>(0)
    /// Pool threads that have not finished the current job.
    private let pending = Atomic<Int>(0)
    /// Per worker: whether it is (about to be) asleep, and the semaphore it sleeps on.
    private final class Slot: Sendable {
        let asleep = Atomic<Bool>(false)
        let wakeup = DispatchSemaphore(value: 0)
    }
    private let slots: [Slot]
    /// The current job and its participant count, written before `generation` is bumped.
    nonisolated(unsafe) private var job: ((Int) -> Void)?
    nonisolated(unsafe) private var participants = 0

    private init(threads: Int) {
        self.threads = threads
        slots = (0..<threads).map { _ in Slot() }
        for index in 0..<threads {
            let thread = Thread { [self] in workerLoop(index) }
            thread.name = "DeepStitch worker \(index + 1)"
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    /// Runs `body(participant)` for participants `0..<count` at once, 0 on the calling thread,
    /// and returns when all have finished. Participants beyond the pool's threads run on the
    /// caller after its own share.
    func run(participants count: Int, _ body: (Int) -> Void) {
        withoutActuallyEscaping(body) { body in
            let helpers = Swift.min(count - 1, threads)
            job = body
            participants = helpers + 1
            pending.store(threads, ordering: .relaxed)
            generation.add(1, ordering: .sequentiallyConsistent)
            for slot in slots where slot.asleep.load(ordering: .sequentiallyConsistent) {
                slot.wakeup.signal()
            }
            body(0)
            for extra in (helpers + 1)..<Swift.max(helpers + 1, count) { body(extra) }
            var spins = 0
            while pending.load(ordering: .acquiring) != 0 {
                spins += 1
                if spins > 1000 { sched_yield() }
            }
            job = nil
        }
    }

    private func workerLoop(_ index: Int) {
        var seen = 0
        while true {
            var deadline = DispatchTime.now().uptimeNanoseconds + Self.spinDuration
            var polls = 0
            while generation.load(ordering: .acquiring) == seen {
                polls += 1
                if polls & 255 != 0 { continue }
                if DispatchTime.now().uptimeNanoseconds < deadline { continue }
                let slot = slots[index]
                slot.asleep.store(true, ordering: .sequentiallyConsistent)
                if generation.load(ordering: .sequentiallyConsistent) == seen { slot.wakeup.wait() }
                slot.asleep.store(false, ordering: .relaxed)
                deadline = DispatchTime.now().uptimeNanoseconds + Self.spinDuration
            }
            seen = generation.load(ordering: .acquiring)
            if index + 1 < participants, let job { job(index + 1) }
            pending.subtract(1, ordering: .releasing)
        }
    }
}
