extension Tensor: CustomStringConvertible {
    /// A readable rendering like PyTorch's: nested brackets for small tensors, the shape and a
    /// few corner values for large ones, and whether it requires gradients. A shape-only tensor
    /// shows its shape and the op that made it.
    public var description: String {
        if isMeta {
            return "tensor(shape-only, shape: \(shape)\(storage.madeBy.map { ", made by: \($0)" } ?? ""))"
        }
        let values = scalars
        func format(_ v: Float) -> String {
            if v.isNaN { return "nan" }
            if v.isInfinite { return v > 0 ? "inf" : "-inf" }
            if v == v.rounded(), Swift.abs(v) < 1e7 { return String(Int(v)) + "." }
            let s = String(format4(v))
            return s
        }
        func render(_ axis: Int, _ start: Int, _ indent: String) -> String {
            if rank == 0 { return format(values[0]) }
            let n = shape[axis]
            let step = shape[(axis + 1)...].reduce(1, *)
            let limit = 6
            let indices = n > limit ? Array(0..<3) + [-1] + Array((n - 3)..<n) : Array(0..<n)
            let parts = indices.map { i -> String in
                if i < 0 { return "..." }
                return axis == rank - 1 ? format(values[start + i]) : render(axis + 1, start + i * step, indent + " ")
            }
            let separator = axis == rank - 1 ? ", " : ",\n" + indent + " "
            return "[" + parts.joined(separator: separator) + "]"
        }
        let body = count == 0 ? "[]" : render(0, 0, "")
        return "tensor(\(body), shape: \(shape)\(requiresGrad ? ", requiresGrad: true" : ""))"
    }
}

/// Formats with 4 significant decimals, like PyTorch's default print.
private func format4(_ v: Float) -> String {
    let magnitude = abs(v)
    if magnitude != 0 && (magnitude < 1e-4 || magnitude >= 1e6) {
        var exponent = Int(Float(log10(Double(magnitude))).rounded(.down))
        var mantissa = Double(v) / pow10(exponent)
        if abs(mantissa) >= 9.99995 { mantissa /= 10; exponent += 1 }
        return fixed(mantissa, 4) + "e" + (exponent < 0 ? "-" : "+") + String(abs(exponent))
    }
    return fixed(Double(v), 4)
}

private func pow10(_ e: Int) -> Double {
    var r = 1.0
    for _ in 0..<abs(e) { r *= 10 }
    return e < 0 ? 1 / r : r
}

private func fixed(_ v: Double, _ digits: Int) -> String {
    let scale = pow10(digits)
    let rounded = (abs(v) * scale).rounded() / scale
    let whole = Int(rounded)
    var frac = Int(((rounded - Double(whole)) * scale).rounded())
    var w = whole
    if frac >= Int(scale) { w += 1; frac -= Int(scale) }
    var fracString = String(frac)
    while fracString.count < digits { fracString = "0" + fracString }
    return (v < 0 ? "-" : "") + String(w) + "." + fracString
}

#if canImport(Glibc)
import Glibc
#endif
