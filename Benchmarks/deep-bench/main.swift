import ArgumentParser
import DeepCore
import Foundation

/// `deep-bench`: times the workloads of `../shared/bench/README.md` and prints one JSON line each.
struct DeepBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deep-bench",
        abstract: "Time DeepStitch workloads; one JSON line per workload (median ms per iteration).")

    @Argument(help: "Workloads to run (default: all). Known: \(Workloads.all.map(\.name).joined(separator: ", "))")
    var workloads: [String] = []

    @Option(help: "Minimum iterations after warm-up.")
    var iterations = 10

    @Option(help: "Minimum seconds of timed iterations.")
    var seconds = 1.0

    @Option(help: "Bytes of Winograd-transformed tiles per thread (ConvolutionSettings.winogradBudget; tuning experiments).")
    var winogradBudget: Int?

    func validate() throws {
        if let winogradBudget, winogradBudget < 1 { throw ValidationError("--winograd-budget must be positive, got \(winogradBudget)") }
    }

    func run() throws {
        #if DEBUG
        throw ValidationError("deep-bench refuses debug builds: run `swift run -c release deep-bench`")
        #else
        if let winogradBudget { ConvolutionSettings.winogradBudget = winogradBudget }
        let names = workloads.isEmpty ? Workloads.all.map(\.name) : workloads
        for name in names {
            guard let workload = Workloads.all.first(where: { $0.name == name }) else {
                throw ValidationError("unknown workload \(name); known: \(Workloads.all.map(\.name).joined(separator: ", "))")
            }
            for line in try workload.run(Timing(iterations: iterations, seconds: seconds)) {
                print(line)
            }
        }
        #endif
    }
}

DeepBench.main()
