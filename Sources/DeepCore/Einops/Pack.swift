// einops' `pack` and `unpack`: tensors of different ranks joined along the axes that a `*` in a
// shared pattern stands for ("b * c"), and split back given the packed shapes. Follows einops'
// `packing.py`; its errors carry the same reasons, thrown as `EinopsError`.

/// Packs tensors that share their leading and trailing axes into one (einops' `pack`): the axes
/// that `*` stands for are flattened in each tensor and the tensors joined along that axis.
///
///     let (packed, shapes) = try pack([cls, patches], "b * c")   // (B, C), (B, H, W, C) → (B, 1 + H·W, C)
///     // shapes == [[], [H, W]]
///
/// - Parameters:
///   - tensors: at least one tensor; each has the pattern's named axes, equal across tensors,
///     and any number of axes in place of `*`. Differentiable.
///   - pattern: axis names and one `*`, separated by spaces, e.g. `"i j * k"`.
/// - Returns: the packed tensor (…before, Σ ∏ packed axes, …after) and, per tensor, the shape
///   of the axes that `*` stood for (for ``unpack(_:_:_:)``).
/// - Throws: ``EinopsError`` for a malformed pattern (a repeated name, no `*`, an invalid axis
///   name), an empty list, a tensor with fewer axes than the pattern names, or tensors that
///   differ outside the packed axes.
public func pack(_ tensors: [Tensor], _ pattern: String) throws -> (packed: Tensor, shapes: [[Int]]) {
    let (before, after) = try packAxes(pattern, operation: "pack")
    guard !tensors.isEmpty else { throw EinopsError("pack(..., \"\(pattern)\") received an empty list of tensors") }
    var pieces: [Tensor] = [], shapes: [[Int]] = []
    var total = 0
    for (i, tensor) in tensors.enumerated() {
        let shape = tensor.shape
        guard shape.count >= before + after else {
            throw EinopsError("packed tensor #\(i) (enumeration starts with 0) has shape \(EinopsError.tuple(shape)), "
                              + "while pattern \(pattern) assumes at least \(before + after) axes")
        }
        let packedShape = Array(shape[before..<(shape.count - after)])
        let outside = Array(shape[..<before]) + Array(shape[(shape.count - after)...])
        let firstShape = tensors[0].shape, firstOutside = Array(firstShape[..<before]) + Array(firstShape[(firstShape.count - after)...])
        guard outside == firstOutside else {
            throw EinopsError("packed tensor #\(i) (enumeration starts with 0) has shape \(EinopsError.tuple(shape)), "
                              + "which differs from tensor #0's \(EinopsError.tuple(firstShape)) outside the axes of * in \(pattern)")
        }
        var length = 1, overflow = false
        for size in packedShape where !overflow { (length, overflow) = length.multipliedReportingOverflow(by: size) }
        if !overflow { (total, overflow) = total.addingReportingOverflow(length) }
        guard !overflow else {
            throw EinopsError("pack(..., \"\(pattern)\"): the packed axes of tensor #\(i) \(EinopsError.tuple(packedShape)) "
                              + "bring the packed length past Int.max (\(Int.max))")
        }
        shapes.append(packedShape)
        pieces.append(tensor.reshaped(Array(shape[..<before]) + [length] + Array(shape[(shape.count - after)...])))
    }
    return (Tensor.concatenate(pieces, axis: before), shapes)
}

/// Splits a packed tensor back into tensors (einops' `unpack`), the inverse of
/// ``pack(_:_:)``: the axis of `*` is cut into one piece per packed shape, each reshaped to it.
///
///     let parts = try unpack(packed, [[], [H, W]], "b * c")   // (B, 1 + H·W, C) → (B, C), (B, H, W, C)
///
/// - Parameters:
///   - tensor: (…before, N, …after), with the pattern's axes around `*`. Differentiable.
///   - packedShapes: one shape per result; at most one of them may hold one `-1`, inferred from
///     the length N that the others leave.
///   - pattern: as in ``pack(_:_:)``.
/// - Returns: one tensor per packed shape, (…before, packedShape, …after).
/// - Throws: ``EinopsError`` for a malformed pattern, an input whose rank is not the pattern's,
///   more than one shape with `-1`, or shapes whose lengths do not add up to N (also when an
///   inferred length would be negative or does not divide, which einops lets through in some
///   cases as overlapping pieces).
public func unpack(_ tensor: Tensor, _ packedShapes: [[Int]], _ pattern: String) throws -> [Tensor] {
    let (before, after) = try packAxes(pattern, operation: "unpack")
    let shape = tensor.shape
    guard shape.count == before + 1 + after else {
        throw EinopsError("unpack(..., \(pattern)) received input of wrong dim with shape \(EinopsError.tuple(shape))")
    }
    let unknown = packedShapes.indices.filter { packedShapes[$0].contains(-1) }
    guard unknown.count <= 1 else {
        throw EinopsError("unpack(..., \(pattern)) received more than one -1 in \(pythonList(packedShapes)) and can't infer dimensions")
    }
    let n = shape[before]
    let splitError = EinopsError("Error during unpack(..., \"\(pattern)\"): could not split axis of size \(n) "
                                 + "into requested \(pythonList(packedShapes))")
    // Each piece's shape with its -1 resolved, and its length along the packed axis.
    var resolved = packedShapes
    var lengths: [Int] = []
    for (i, packed) in packedShapes.enumerated() where i != unknown.first {
        guard let length = checkedProduct(packed) else { throw splitError }
        lengths.append(length)
    }
    var known = 0
    for length in lengths {
        let (sum, overflow) = known.addingReportingOverflow(length)
        guard !overflow else { throw splitError }
        known = sum
    }
    if let u = unknown.first {
        let rest = n - known
        let others = packedShapes[u].filter { $0 != -1 }
        guard rest >= 0, packedShapes[u].filter({ $0 == -1 }).count == 1,
              let factor = checkedProduct(others), factor > 0, rest % factor == 0 else { throw splitError }
        resolved[u] = packedShapes[u].map { $0 == -1 ? rest / factor : $0 }
        lengths.insert(rest, at: u)
    } else {
        guard known == n else { throw splitError }
    }
    let lead = Array(shape[..<before]), trail = Array(shape[(before + 1)...])
    var start = 0
    return zip(resolved, lengths).map { pieceShape, length in
        defer { start += length }
        return tensor.narrowed(axis: before, start: start, length: length).reshaped(lead + pieceShape + trail)
    }
}

/// The number of named axes before and after `*` in a pack pattern; throws einops' reasons.
private func packAxes(_ pattern: String, operation: String) throws -> (before: Int, after: Int) {
    let axes = pattern.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).map(String.init)
    guard Set(axes).count == axes.count else { throw EinopsError("Duplicates in axes names in \(operation)(..., \"\(pattern)\")") }
    guard let star = axes.firstIndex(of: "*") else { throw EinopsError("No *-axis in \(operation)(..., \"\(pattern)\")") }
    for axis in axes where axis != "*" && EinopsExpression.problem(withAxisName: axis) != nil {
        throw EinopsError("Invalid axis name \(axis) in \(operation)(..., \"\(pattern)\")")
    }
    return (star, axes.count - star - 1)
}

/// The product of `sizes`, nil when one is negative or the product overflows.
private func checkedProduct(_ sizes: [Int]) -> Int? {
    var product = 1
    for size in sizes {
        guard size >= 0 else { return nil }
        let (next, overflow) = product.multipliedReportingOverflow(by: size)
        guard !overflow else { return nil }
        product = next
    }
    return product
}

/// Shapes as Python prints a list of lists: `[[2], [1, -1]]`.
private func pythonList(_ shapes: [[Int]]) -> String {
    "[" + shapes.map { "[" + $0.map(String.init).joined(separator: ", ") + "]" }.joined(separator: ", ") + "]"
}
