// einops' `parse_shape`: a tensor's shape read into named lengths, to pass as sizes to another
// einops call. Follows einops 0.8's `parse_shape`; its errors carry the same reasons.

/// The lengths of a tensor's axes by name (einops' `parse_shape`).
///
///     try parseShape(x, "batch _ h w")     // x: (2, 3, 5, 7) → ["batch": 2, "h": 5, "w": 7]
///     try parseShape(x, "batch ...")       // → ["batch": 2]
///     try y.rearranged("(b c h w) -> b c h w", try parseShape(x, "b _ h w"))
///
/// - Parameters:
///   - tensor: any tensor (only its shape is read; shape-only tensors too).
///   - pattern: one entry per axis, separated by spaces: a name, `_` to skip an axis (it may
///     repeat), a number (the axis must have that length), `1` or `()` (a unit axis), or `...`
///     once for any number of axes.
/// - Throws: ``EinopsError`` with einops' reasons: a malformed pattern, composite axes
///   (`(a b)`), a rank the pattern does not fit, an anonymous or unit axis of another length.
public func parseShape(_ tensor: Tensor, _ pattern: String) throws -> [String: Int] {
    let shape = tensor.shape
    let context = "\(pattern) \(EinopsError.tuple(shape))"
    do {
        var occurrences = 0
        let expression = try EinopsExpression(parsing: pattern[...], occurrences: &occurrences, allowUnderscore: true)
        var groups: [[EinopsAxis]?] = []   // nil for the bare ellipsis
        for group in expression.groups {
            switch group {
            case .ellipsis: groups.append(nil)
            case .composed(let axes):
                guard axes.count <= 1 else { throw EinopsError("Can't parse shape with composite axes: \(context)") }
                guard axes.first != .ellipsis else { throw EinopsError("Can't parse shape with an ellipsis in parenthesis: \(context)") }
                groups.append(axes)
            }
        }
        if shape.count != groups.count {
            guard expression.hasEllipsis else {
                throw EinopsError("Can't parse shape with different number of dimensions: \(context)")
            }
            guard shape.count >= groups.count - 1 else {
                throw EinopsError("Can't parse shape with this number of dimensions: \(context)")
            }
        }
        if let ellipsis = groups.firstIndex(where: { $0 == nil }) {
            // The ellipsis stands for as many skipped axes as the rank leaves.
            groups.replaceSubrange(ellipsis...ellipsis, with: Array(repeating: [.named("_")], count: shape.count - groups.count + 1))
        }
        var lengths: [String: Int] = [:]
        for (axes, length) in zip(groups, shape) {
            switch axes?.first {
            case nil:
                guard length == 1 else { throw EinopsError("Length of axis is not 1: \(context)") }
            case .named(let name)?:
                if name != "_" { lengths[name] = length }
            case .anonymous(let value, _)?:
                guard value == length else { throw EinopsError("Length of anonymous axis does not match: \(context)") }
            case .ellipsis?, .ellipsisPart?:
                break
            }
        }
        return lengths
    } catch let error as EinopsError {
        throw error.withHeader(" Error while processing parse_shape pattern \"\(pattern)\".\n"
                               + " Input tensor shape: \(EinopsError.tuple(shape)).")
    }
}
