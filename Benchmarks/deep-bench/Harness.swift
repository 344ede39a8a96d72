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

/// One JSON result line in the shared format, with optional extra numeric fields.
func resultLine(_ workload: String, ms: Double, impl: String = "deepstitch", extra: [String: Double] = [:]) -> String {
    var fields = ["\"workload\": \"\(workload)\"", "\"ms\": \(String(format: "%.4f", ms))", "\"impl\": \"\(impl)\""]
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
