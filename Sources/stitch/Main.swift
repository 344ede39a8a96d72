import ArgumentParser
import Foundation

/// `stitch`: train, evaluate and inspect DeepStitch models from the command line.
///
/// Every option is checked before any work: a wrong one stops the program with one line saying
/// what is allowed and exit code 64 (EX_USAGE). Other failures (a missing or damaged file) print
/// one error and exit with 1; an interrupted training run exits with 130 after keeping its last
/// complete checkpoint.
@main
struct Stitch: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stitch",
        abstract: "Train, evaluate and inspect DeepStitch models.",
        subcommands: [Train.self, Evaluate.self, Summarize.self, Export.self])

    /// Parses and runs the command; usage errors are reported on one line (ArgumentParser's own
    /// report adds the whole usage text).
    static func main() {
        // Under an MPI launcher every rank runs this: only `train` works together; the other
        // commands run on rank 0 alone, and what parsing prints (usage errors, --help), the same
        // on every rank, is printed by rank 0 once.
        let otherRank = (DistributedRun.launchedRank ?? 0) != 0
        var command: ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            if otherRank { Foundation.exit(exitCode(for: error).rawValue) }
            report(error)
        }
        if otherRank && !(command is Train) { return }
        do {
            try command.run()
        } catch {
            // A usage error found while running (a batch that does not split over the ranks) is
            // the same on every rank too; other failures may be a rank's own and are all told.
            if otherRank && exitCode(for: error) == .validationFailure { Foundation.exit(ExitCode.validationFailure.rawValue) }
            report(error)
        }
    }

    /// Prints `error` as the program's last words and exits: a usage error on one line with exit
    /// code 64, anything else as ArgumentParser reports it.
    static func report(_ error: Error) -> Never {
        let code = exitCode(for: error)
        guard code == .validationFailure else { exit(withError: error) }
        FileHandle.standardError.write(Data("Error: \(message(for: error))\n".utf8))
        Foundation.exit(code.rawValue)
    }
}
