// All-reduce latency and bandwidth through the library's process group, in the manner of
// `osu_allreduce` (OSU Micro-Benchmarks) with NCCL-tests' "bus bandwidth":
//
//     mpirun --allow-run-as-root --oversubscribe --bind-to none -np 2 --mca btl tcp,self \
//         .build/release/allreduce-bench [--max-mb 100] [--iterations-scale 1] [--json] [--path library]
//
// For each message size (1 KiB, 2 KiB, … 64 MiB, then 100 MiB; floats) every rank runs a few
// warm-up all-reduces, meets the others at a barrier, then times a block of all-reduces through
// `group.allReduce(buffer)` — the path DistributedDataParallel and users take (a non-blocking
// `MPI_Iallreduce` completed by polling). Reported per size, from rank 0:
// - latency: the block's time over its iterations, the largest over the ranks (µs);
// - algbw = bytes / latency, busbw = algbw × 2(n − 1)/n (NCCL-tests' definition for all-reduce:
//   the bytes each rank's link carries in a ring all-reduce, comparable across n), in GB/s (10⁹).
// Each size is first checked: an all-reduce of rank + 1 everywhere must give n(n + 1)/2.
//
// `--path` picks what is timed, to tell the library's cost from the transport's:
// - `library` (default): `group.allReduce(buffer)` = `startAllReduce(…).wait()`, whose wait
//   polls `MPI_Test` with sleeps growing from 1 µs to 1 ms between polls (to leave the cores to
//   the rest of backward);
// - `poll`: the same `startAllReduce`, then `isComplete` polled without sleeping;
// - `yield`: the same, with `sched_yield()` between polls (gives the core up only to a thread
//   that is ready to run, instead of sleeping at least the timer slack, ~50-90 µs on Linux);
// - `mpi`: Open MPI's blocking `MPI_Allreduce` on `MPI_COMM_WORLD`, not through the library.
// Sizes are binary: 1 KiB = 1024 bytes, 1 MiB = 2²⁰ bytes (the table writes KB and MB, as osu does).
import CMPI
import DeepCore
import DeepDistributed
import Foundation

/// What one timed all-reduce is (`--path`).
enum Path: String {
    case library, poll, yield, mpi

    /// One in-place sum of `buffer` over the ranks of `group`.
    func allReduce(_ buffer: UnsafeMutableBufferPointer<Float>, _ group: MPIProcessGroup) {
        switch self {
        case .library:
            group.allReduce(buffer)
        case .poll:
            let work = group.startAllReduce(buffer, .sum)
            while !work.isComplete {}
        case .yield:
            let work = group.startAllReduce(buffer, .sum)
            while !work.isComplete { sched_yield() }
        case .mpi:
            let code = MPI_Allreduce(cmpi_in_place(), buffer.baseAddress, Int32(buffer.count), cmpi_float(), cmpi_sum(), cmpi_comm_world())
            if code != MPI_SUCCESS { group.abort("allreduce-bench: MPI_Allreduce of \(buffer.count) floats failed (MPI error \(code))") }
        }
    }
}

/// The command line: `--max-mb M` (largest size, MiB; default 100), `--iterations-scale F`
/// (multiplies the warm-up and timed iteration counts; default 1), `--json` (one JSON line per
/// size after the table), `--path library|poll|yield|mpi` (what is timed; default library).
struct Options {
    var maxMB = 100.0
    var path = Path.library
    var iterationsScale = 1.0
    var json = false

    static let usage = """
        usage: allreduce-bench [--max-mb M] [--iterations-scale F] [--json] [--path P]   (under mpirun)
          --max-mb M             largest message in MiB (default 100; sizes 1 KiB … 64 MiB, then 100 MiB)
          --iterations-scale F   multiply the iteration counts by F > 0 (default 1; e.g. 0.1 for a quick run)
          --json                 also print one JSON line per size
          --path P               what is timed: library (group.allReduce, the default), poll (startAllReduce,
                                 then isComplete without sleeping), yield (the same with sched_yield between
                                 polls) or mpi (blocking MPI_Allreduce, not through the library)
        """

    /// Reads the options; a bad one ends the program with a message naming it (on every rank
    /// alike, before any collective, so no rank is left waiting).
    static func parse(_ arguments: [String]) -> Options {
        var options = Options()
        var rest = arguments[...]
        func value(_ name: String) -> Double {
            guard let text = rest.popFirst() else { fail("\(name) needs a value") }
            guard let number = Double(text), number.isFinite, number > 0 else { fail("\(name) \(text): not a positive number") }
            return number
        }
        while let argument = rest.popFirst() {
            switch argument {
            case "--max-mb": options.maxMB = value(argument)
            case "--iterations-scale": options.iterationsScale = value(argument)
            case "--json": options.json = true
            case "--path":
                guard let text = rest.popFirst() else { fail("--path needs a value") }
                guard let path = Path(rawValue: text) else { fail("--path \(text): not library, poll, yield or mpi") }
                options.path = path
            case "-h", "--help": print(usage); exit(0)
            default: fail("unknown argument \(argument)")
            }
        }
        return options
    }

    static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("allreduce-bench: \(message)\n\(usage)\n".utf8))
        exit(2)
    }
}

/// One message size's plan: bytes, warm-up and timed iteration counts.
struct Plan {
    let bytes: Int
    let warmUp: Int
    let iterations: Int

    /// 1 KiB, 2 KiB, … 64 MiB and 100 MiB, up to `maxMB`. About 256 MiB are reduced per timed
    /// block (1000 iterations at most, 5 at least: 1000 up to 256 KiB, 5 at 64 and 100 MiB), and a
    /// tenth as many (at least 2) to warm up; both scaled by `scale` (at least 1 iteration).
    static func all(maxMB: Double, scale: Double) -> [Plan] {
        let largest = Int(min(maxMB, 1e6) * 1_048_576)
        let sizes = (10...26).map { 1 << $0 } + [100 * 1_048_576]
        return sizes.filter { $0 <= largest }.map { bytes in
            let iterations = min(1000, max(5, (256 * 1_048_576) / bytes))
            return Plan(bytes: bytes,
                        warmUp: max(1, Int((Double(max(2, iterations / 10)) * scale).rounded())),
                        iterations: max(1, Int((Double(iterations) * scale).rounded())))
        }
    }

    /// "1 KB", "64 MB": binary units, as osu prints them.
    var label: String {
        bytes >= 1_048_576 ? "\(bytes / 1_048_576) MB" : "\(bytes / 1024) KB"
    }
}

/// One size's measurement, as every rank agrees on it.
struct Row {
    let plan: Plan
    /// Average seconds per all-reduce: the largest over the ranks, and the smallest.
    let seconds: Double, fastestRankSeconds: Double
    let worldSize: Int

    var algorithmBandwidth: Double { Double(plan.bytes) / seconds / 1e9 }
    var busBandwidth: Double { algorithmBandwidth * 2 * Double(worldSize - 1) / Double(worldSize) }

    var markdown: String {
        "| \(plan.label) | \(plan.bytes) | \(plan.iterations) | \(format(seconds * 1e6)) | \(format(fastestRankSeconds * 1e6))"
            + " | \(format(algorithmBandwidth)) | \(format(busBandwidth)) |"
    }

    var json: String {
        "{\"path\":\"\(options.path.rawValue)\",\"bytes\":\(plan.bytes),\"floats\":\(plan.bytes / 4),\"ranks\":\(worldSize),\"iterations\":\(plan.iterations),"
            + "\"latency_us\":\(format(seconds * 1e6)),\"latency_min_rank_us\":\(format(fastestRankSeconds * 1e6)),"
            + "\"algbw_gbps\":\(format(algorithmBandwidth)),\"busbw_gbps\":\(format(busBandwidth))}"
    }
}

/// Three significant digits at least, two decimals at most (0.0123, 1.23, 123.45, 12345.67).
func format(_ value: Double) -> String {
    let decimals = value >= 100 ? 2 : value >= 1 ? 3 : 4
    return String(format: "%.\(decimals)f", value)
}

func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

#if DEBUG
FileHandle.standardError.write(Data("allreduce-bench refuses debug builds: build with `swift build -c release --product allreduce-bench`\n".utf8))
exit(2)
#endif

let options = Options.parse(Array(CommandLine.arguments.dropFirst()))
let plans = Plan.all(maxMB: options.maxMB, scale: options.iterationsScale)
guard let largestBytes = plans.last?.bytes else { Options.fail("--max-mb \(options.maxMB) is below the smallest size, 1 KiB") }
let group = try MPIProcessGroup.world()

let storage = UnsafeMutableBufferPointer<Float>.allocate(capacity: largestBytes / 4)
storage.initialize(repeating: 0)

if group.isMain {
    let host = ProcessInfo.processInfo.hostName
    let cores = ProcessInfo.processInfo.activeProcessorCount
    print("allreduce-bench: \(group.worldSize) ranks (rank 0 on \(host), \(cores) cores), "
          + "iterations × \(options.iterationsScale), path \(options.path.rawValue) (.sum of floats, in place)")
    print("")
    print("| size | bytes | iterations | latency µs (max over ranks) | min over ranks | algbw GB/s | busbw GB/s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
}

var rows: [Row] = []
for plan in plans {
    let buffer = UnsafeMutableBufferPointer(rebasing: storage[0..<(plan.bytes / 4)])
    // Check: rank + 1 everywhere sums to n(n + 1)/2 everywhere (exact in Float for any n here).
    buffer.update(repeating: Float(group.rank + 1))
    options.path.allReduce(buffer, group)
    let expected = Float(group.worldSize * (group.worldSize + 1) / 2)
    if let wrong = buffer.firstIndex(where: { $0 != expected }) {
        group.abort("allreduce-bench: \(plan.label): element \(wrong) is \(buffer[wrong]) after the all-reduce, expected \(expected)")
    }
    // Zeros while timing: sums stay zero (no growth to infinity, no subnormals).
    buffer.update(repeating: 0)
    for _ in 0..<plan.warmUp { options.path.allReduce(buffer, group) }
    group.barrier()
    let start = now()
    for _ in 0..<plan.iterations { options.path.allReduce(buffer, group) }
    let seconds = Double(now() - start) / 1e9 / Double(plan.iterations)
    let slowest = group.allReduce([seconds], .max)[0], fastest = group.allReduce([seconds], .min)[0]
    let row = Row(plan: plan, seconds: slowest, fastestRankSeconds: fastest, worldSize: group.worldSize)
    rows.append(row)
    if group.isMain {
        print(row.markdown)
        fflush(stdout)
    }
}

if group.isMain && options.json {
    print("")
    for row in rows { print(row.json) }
}
