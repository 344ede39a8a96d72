import CMPI
import DeepCore
import Foundation

/// The ranks of an MPI job (`mpirun -np N`, `srun`, a hostfile) as a ``ProcessGroup``
/// (`torch.distributed.init_process_group("mpi")`), over Open MPI.
///
/// MPI starts only when ``world()`` is first called: a program that never calls it needs no MPI
/// environment. Every collective is a non-blocking MPI call completed by polling, so that:
/// - an MPI error ends every rank (`MPI_Abort`) with a message naming the collective, its size
///   and the rank;
/// - a collective that does not complete within ``timeout`` (a rank stuck or gone without MPI
///   noticing) also ends the job, with the same kind of message, rather than hanging;
/// - `startAllReduce` returns at once, and its work progresses whenever the group is polled
///   (``CollectiveWork/isComplete``), so gradients travel while backward goes on.
///
/// MPI is finalised when the process exits.
public final class MPIProcessGroup: ProcessGroup {
    public let rank: Int
    public let worldSize: Int
    /// Seconds a collective may take before the job is ended as hung (default 300, or
    /// `DEEPSTITCH_COLLECTIVE_TIMEOUT` from the environment).
    public var timeout: Double
    /// Seconds spent waiting for collectives to complete (for measurements).
    public private(set) var waitingSeconds = 0.0
    private let communicator: MPI_Comm?

    nonisolated(unsafe) private static var worldGroup: MPIProcessGroup?
    private static let lock = NSLock()

    /// Whether this process was started by an MPI launcher (`mpirun`, `mpiexec`, `srun` with
    /// PMI/PMIx), read from the launcher's environment variables without starting MPI.
    public static var isLaunched: Bool {
        let environment = ProcessInfo.processInfo.environment
        return ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"].contains { environment[$0] != nil }
    }

    /// The number of ranks on this machine, from the launcher's environment (1 when not launched).
    public static var localSize: Int {
        let environment = ProcessInfo.processInfo.environment
        for key in ["OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "SLURM_NTASKS_PER_NODE"] {
            if let value = environment[key].flatMap(Int.init), value > 0 { return value }
        }
        return 1
    }

    /// The group of every rank of the job, starting MPI on first use (`MPI_Init_thread`, with
    /// any one thread at a time calling MPI). Started without a launcher, it is a job of one.
    /// - Throws: ``DistributedError`` when MPI does not start.
    public static func world() throws -> MPIProcessGroup {
        lock.lock()
        defer { lock.unlock() }
        if let worldGroup { return worldGroup }
        var provided: Int32 = 0
        var initialized: Int32 = 0
        MPI_Initialized(&initialized)
        if initialized == 0 {
            let code = MPI_Init_thread(nil, nil, Int32(MPI_THREAD_SERIALIZED), &provided)
            guard code == MPI_SUCCESS else { throw DistributedError(message: "MPI did not start (\(errorString(code)))") }
            atexit {
                var finalized: Int32 = 0
                MPI_Finalized(&finalized)
                if finalized == 0 { MPI_Finalize() }
            }
        }
        var communicator: MPI_Comm? = cmpi_comm_null()
        MPI_Comm_dup(cmpi_comm_world(), &communicator)
        MPI_Comm_set_errhandler(communicator, cmpi_errors_return())
        var rank: Int32 = 0, size: Int32 = 0
        MPI_Comm_rank(communicator, &rank)
        MPI_Comm_size(communicator, &size)
        let group = MPIProcessGroup(communicator: communicator, rank: Int(rank), worldSize: Int(size))
        worldGroup = group
        return group
    }

    private init(communicator: MPI_Comm?, rank: Int, worldSize: Int) {
        self.communicator = communicator
        self.rank = rank
        self.worldSize = worldSize
        timeout = ProcessInfo.processInfo.environment["DEEPSTITCH_COLLECTIVE_TIMEOUT"].flatMap(Double.init).flatMap { $0 > 0 ? $0 : nil } ?? 300
    }

    public func startAllReduce(_ buffer: UnsafeMutableBufferPointer<Float>, _ operation: ReduceOperation) -> CollectiveWork {
        let count = checkedCount(buffer.count, "allReduce")
        return start("allReduce of \(buffer.count) floats") { request in
            MPI_Iallreduce(cmpi_in_place(), buffer.baseAddress, count, cmpi_float(), Self.mpiOperation(operation), communicator, &request)
        }
    }

    public func allReduce(_ buffer: UnsafeMutableBufferPointer<Double>, _ operation: ReduceOperation) {
        let count = checkedCount(buffer.count, "allReduce")
        start("allReduce of \(buffer.count) doubles") { request in
            MPI_Iallreduce(cmpi_in_place(), buffer.baseAddress, count, cmpi_double(), Self.mpiOperation(operation), communicator, &request)
        }.wait()
    }

    public func broadcast(_ buffer: UnsafeMutableRawBufferPointer, from root: Int) {
        let count = checkedCount(buffer.count, "broadcast")
        start("broadcast of \(buffer.count) bytes from rank \(root)") { request in
            MPI_Ibcast(buffer.baseAddress, count, cmpi_byte(), Int32(root), communicator, &request)
        }.wait()
    }

    public func allGather(_ send: UnsafeBufferPointer<Float>, into receive: UnsafeMutableBufferPointer<Float>) {
        require(receive.count == send.count * worldSize,
                "allGather: \(receive.count) floats to receive \(send.count) from each of \(worldSize) ranks")
        let count = checkedCount(send.count, "allGather")
        start("allGather of \(send.count) floats") { request in
            MPI_Iallgather(send.baseAddress, count, cmpi_float(), receive.baseAddress, count, cmpi_float(), communicator, &request)
        }.wait()
    }

    public func barrier() {
        start("barrier") { request in MPI_Ibarrier(communicator, &request) }.wait()
    }

    public func abort(_ message: String) -> Never {
        FileHandle.standardError.write(Data("Error (rank \(rank) of \(worldSize)): \(message)\n".utf8))
        MPI_Abort(cmpi_comm_world(), 1)
        exit(1)
    }

    /// Starts a non-blocking collective through `call`, ending the job if MPI refuses it.
    private func start(_ what: String, _ call: (inout MPI_Request?) -> Int32) -> MPIWork {
        var request: MPI_Request? = cmpi_request_null()
        let code = call(&request)
        if code != MPI_SUCCESS { abort("MPI \(what) failed to start: \(Self.errorString(code))") }
        return MPIWork(group: self, request: request, what: what)
    }

    /// `count` as MPI's Int32 count, ending the job when larger.
    private func checkedCount(_ count: Int, _ what: String) -> Int32 {
        guard let value = Int32(exactly: count) else { abort("\(what): \(count) elements is more than MPI's limit of \(Int32.max) in one call") }
        return value
    }

    fileprivate func addWaiting(_ seconds: Double) { waitingSeconds += seconds }

    private static func mpiOperation(_ operation: ReduceOperation) -> MPI_Op {
        switch operation {
        case .sum: return cmpi_sum()
        case .max: return cmpi_max()
        case .min: return cmpi_min()
        }
    }

    fileprivate static func errorString(_ code: Int32) -> String {
        var buffer = [CChar](repeating: 0, count: Int(MPI_MAX_ERROR_STRING) + 1)
        var length: Int32 = 0
        MPI_Error_string(code, &buffer, &length)
        return String(cString: buffer) + " (MPI error \(code))"
    }
}

/// A non-blocking MPI collective in flight.
final class MPIWork: CollectiveWork {
    private let group: MPIProcessGroup
    private var request: MPI_Request?
    private let what: String
    private let started = DispatchTime.now()
    private var done = false

    init(group: MPIProcessGroup, request: MPI_Request?, what: String) {
        self.group = group
        self.request = request
        self.what = what
    }

    var isComplete: Bool {
        if done { return true }
        var flag: Int32 = 0
        let code = MPI_Test(&request, &flag, cmpi_status_ignore())
        if code != MPI_SUCCESS { group.abort("MPI \(what) failed: \(MPIProcessGroup.errorString(code))") }
        done = flag != 0
        return done
    }

    /// Polls until complete, yielding the core between polls (each poll moves the transfer on:
    /// Open MPI progresses non-blocking collectives only inside MPI calls, and a sleep between
    /// polls stalls a large one; a yield costs nothing when no other thread waits for the core).
    /// After a second of waiting (a slow rank, not a transfer) it sleeps 1 ms between polls
    /// instead; it ends the job after the group's timeout.
    func wait() {
        if done { return }
        let began = DispatchTime.now()
        while !isComplete {
            let now = DispatchTime.now().uptimeNanoseconds
            if Double(now - started.uptimeNanoseconds) / 1e9 > group.timeout {
                group.abort("MPI \(what) did not complete within \(Int(group.timeout)) s: another rank has stopped or hangs "
                            + "(set DEEPSTITCH_COLLECTIVE_TIMEOUT to wait longer)")
            }
            if now - began.uptimeNanoseconds < 1_000_000_000 { sched_yield() } else { usleep(1000) }
        }
        group.addWaiting(Double(DispatchTime.now().uptimeNanoseconds - began.uptimeNanoseconds) / 1e9)
    }
}

/// MPI did not start.
public struct DistributedError: Error, CustomStringConvertible {
    /// What went wrong.
    public let message: String
    public var description: String { message }
}
