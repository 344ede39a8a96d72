#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Reports training progress: a live bar redrawn in place on a terminal (batch, loss,
/// throughput, ETA), or a plain line every few seconds when the output is a file or a pipe.
public final class ProgressReporter {
    /// Whether standard output is a terminal.
    public let isTerminal: Bool
    /// Seconds between plain lines when not on a terminal.
    public var lineInterval: Double
    private var lastLine = 0.0
    private let start = DispatchTime.now().uptimeNanoseconds

    /// Creates a reporter that writes to standard output.
    public init(lineInterval: Double = 10) {
        isTerminal = isatty(STDOUT_FILENO) != 0
        self.lineInterval = lineInterval
    }

    /// Seconds since the reporter was created.
    public var elapsed: Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }

    /// Shows the state after `done` of `total` batches of an epoch.
    public func update(epoch: Int, epochs: Int, done: Int, total: Int, loss: Double, examplesPerSecond: Double,
                       epochElapsed: Double) {
        let eta = done > 0 ? epochElapsed / Double(done) * Double(total - done) : 0
        let stats = String(format: "loss %.4f  %.0f ex/s  ETA %@", loss, examplesPerSecond, Self.clock(eta))
        if isTerminal {
            let width = 30, filled = total > 0 ? width * done / total : width
            let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
            print("\r\u{1B}[2Kepoch \(epoch)/\(epochs) \(bar) \(done)/\(total)  \(stats)", terminator: "")
            fflush(stdout)
        } else if elapsed - lastLine >= lineInterval || done == total {
            lastLine = elapsed
            print("epoch \(epoch)/\(epochs) batch \(done)/\(total)  \(stats)")
            fflush(stdout)
        }
    }

    /// Ends the epoch's bar and prints a summary line.
    public func finishEpoch(_ line: String) {
        if isTerminal { print("\r\u{1B}[2K", terminator: "") }
        print(line)
        fflush(stdout)
    }

    /// Formats seconds as m:ss.
    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return String(format: "%d:%02d", s / 60, s % 60)
    }
}
