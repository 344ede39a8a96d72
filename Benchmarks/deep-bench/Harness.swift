import DeepCore
import Foundation

/// How long to time: at least `iterations` and at least `seconds`, after 3 warm-up iterations.
struct Timing {
    var iterations: Int
    var seconds: Double

    /// Median milliseconds per call of `body`.
    func medianMilliseconds(_ body: @escaping () -> Void) -> Double {
        medianMilliseconds([body])[0]
    }

    /// Median milliseconds per call of each body, timed in alternation so that noise from the
    /// rest of the machine falls on all of them alike (for ratios).
    func medianMilliseconds(_ bodies: [() -> Void]) -> [Double] {
        PeakMemory.reset()
        defer { PeakMemory.record() }
        for body in bodies { for _ in 0..<3 { body() } }
        var times = [[Double]](repeating: [], count: bodies.count)
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(seconds * 1e9) * UInt64(bodies.count)
        while times[0].count < iterations || DispatchTime.now().uptimeNanoseconds < deadline {
            for (i, body) in bodies.enumerated() {
                let start = DispatchTime.now().uptimeNanoseconds
                body()
                times[i].append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
            }
            if times[0].count >= 200 { break }
        }
        return times.map(median)
    }
}

/// The median of `values` (non-empty).
func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    let mid = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/// A validation failure: a workload computed a wrong result, so its time means nothing.
struct BenchmarkValidationError: Error, CustomStringConvertible {
    let description: String
}

/// One named workload: validates its result against a reference, then times itself and returns
/// JSON lines.
struct Workload {
    let name: String
    let run: (Timing) throws -> [String]
}

/// One JSON result line in the shared format, with optional extra numeric fields and the peak
/// resident memory of the last timing (`peak_rss_mb`).
func resultLine(_ workload: String, ms: Double, impl: String = "deepstitch", extra: [String: Double] = [:]) -> String {
    var fields = ["\"workload\": \"\(workload)\"", "\"ms\": \(String(format: "%.4f", ms))", "\"impl\": \"\(impl)\""]
    if let peak = PeakMemory.lastMegabytes { fields.append("\"peak_rss_mb\": \(String(format: "%.1f", peak))") }
    for (key, value) in extra.sorted(by: { $0.key < $1.key }) {
        fields.append("\"\(key)\": \(String(format: "%.4f", value))")
    }
    return "{" + fields.joined(separator: ", ") + "}"
}

/// Throws unless every element of `a` is within `tolerance` (relative to the largest |b|) of `b`.
func validate(_ name: String, _ a: [Float], _ b: [Float], tolerance: Float = 1e-4) throws {
    guard a.count == b.count else { throw BenchmarkValidationError(description: "\(name): \(a.count) vs \(b.count) elements") }
    let scale = max(b.map(abs).max() ?? 1, 1e-6)
    for i in a.indices where abs(a[i] - b[i]) > tolerance * scale {
        throw BenchmarkValidationError(description: "\(name): element \(i) is \(a[i]), reference \(b[i])")
    }
}

/// The peak resident memory (RSS) of a timing: the kernel's high-water mark (`VmHWM`), reset
/// before the warm-up after handing freed memory back (`malloc_trim`), so that a workload's
/// checks against reference computations, run before its timing, do not count.
enum PeakMemory {
    /// Megabytes at the end of the last timing (nil before any, or where /proc is missing).
    nonisolated(unsafe) static var lastMegabytes: Double?

    /// Returns freed memory to the system and restarts the high-water mark at the current RSS.
    static func reset() {
        mallocTrim(0)
        try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
    }

    /// Reads the high-water mark into ``lastMegabytes``.
    static func record() {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kilobytes = Double(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
        else { return }
        lastMegabytes = kilobytes / 1024
    }
}

/// glibc's `malloc_trim` (declared in malloc.h, which the Glibc module leaves out).
@_silgen_name("malloc_trim") private func mallocTrim(_ pad: Int) -> Int32
