// einops' `einsum`: the same contraction as `einsum(_:_:)` with axes named by words
// ("b h q d, b h k d -> b h q k"), the tensors first and the pattern last. The pattern is parsed
// with einops' expression parser into the `EinsumEquation` that PyTorch's grammar also parses
// into, so both evaluate alike (GEMM per pair of operands).

/// einops' `einsum`: Einstein summation over named axes.
///
///     try einsum(q, k, pattern: "b h q d, b h k d -> b h q k")      // (B, H, Q, D), (B, H, K, D) → (B, H, Q, K)
///     try einsum(w, x, pattern: "out in, ... in -> ... out")        // (O, I), (…, I) → (…, O)
///     try einsum(m, pattern: "i i ->")                              // trace: (N, N) → ()
///
/// Grammar (einops 0.8): the left side lists one expression per tensor, separated by commas;
/// axis names are identifiers (`_` allowed; a name may repeat in one tensor for a diagonal);
/// `...` broadcasts as in ``einsum(_:_:)-(String,[Tensor])``; axes on the left but not on the
/// right are summed. `->` is required. Compositions `(a b)`, unit axes `()` and numbers are not
/// supported, as in einops. Unlike einops (which maps names to letters), any number of distinct
/// names is accepted.
/// - Parameters:
///   - tensors: one tensor per expression on the left.
///   - pattern: e.g. `"batch h w, h w channel -> batch channel"`.
/// - Throws: ``EinopsError`` with einops' reason (`Einsum pattern must contain '->'.`,
///   `Unknown axis k on right side of einsum i j -> k.`, `Shape rearrangement is not yet
///   supported in einsum.`, …) under a header quoting the pattern and the tensors' shapes; also
///   when the tensors do not fit the pattern (ranks, sizes of one axis that do not broadcast).
public func einsum(_ tensors: [Tensor], pattern: String) throws -> Tensor {
    do {
        return try EinsumEquation(einops: pattern, operandCount: tensors.count).evaluate(tensors)
    } catch let error as EinopsError {
        throw error.withHeader(einsumHeader(pattern, tensors))
    } catch let problem as EinsumProblem {
        throw EinopsError(problem.reason).withHeader(einsumHeader(pattern, tensors))
    }
}

/// einops' `einsum` with the tensors listed: `try einsum(x, y, pattern: "a b, b c -> a c")`.
public func einsum(_ tensors: Tensor..., pattern: String) throws -> Tensor {
    try einsum(tensors, pattern: pattern)
}

private func einsumHeader(_ pattern: String, _ tensors: [Tensor]) -> String {
    " Error while processing einsum pattern \"\(pattern)\".\n Input tensor shapes: "
        + tensors.map { EinopsError.tuple($0.shape) }.joined(separator: ", ") + "."
}

extension EinsumEquation {
    /// Parses einops' einsum pattern for `operandCount` tensors (see
    /// ``einsum(_:pattern:)-([Tensor],String)``); labels are numbered in order of appearance.
    init(einops pattern: String, operandCount: Int) throws {
        let sides = pattern.split(separator: "->", omittingEmptySubsequences: false)
        guard sides.count == 2 else {
            throw EinopsError(sides.count == 1 ? "Einsum pattern must contain '->'." : "Einsum pattern must contain '->' only once.")
        }
        var names: [String] = [], numbers: [String: Int] = [:], occurrences = 0
        var operands: [[Subscript]] = []
        for text in sides[0].split(separator: ",", omittingEmptySubsequences: false) {
            let expression = try EinopsExpression(parsing: text, occurrences: &occurrences, allowUnderscore: true, allowDuplicates: true)
            var subscripts: [Subscript] = []
            for group in expression.groups {
                guard let name = try Self.axisName(group) else { subscripts.append(.ellipsis); continue }
                if numbers[name] == nil {
                    numbers[name] = names.count
                    names.append(name)
                }
                subscripts.append(.label(numbers[name]!))
            }
            operands.append(subscripts)
        }
        let right = try EinopsExpression(parsing: sides[1], occurrences: &occurrences, allowUnderscore: true)
        var output: [Subscript] = []
        for group in right.groups {
            guard let name = try Self.axisName(group) else { output.append(.ellipsis); continue }
            guard let label = numbers[name] else { throw EinopsError("Unknown axis \(name) on right side of einsum \(pattern).") }
            output.append(.label(label))
        }
        guard operandCount >= 1 else { throw EinopsError("einsum takes at least one tensor, followed by the pattern") }
        guard operands.count == operandCount else {
            throw EinopsError("The pattern has \(operands.count) expression\(operands.count == 1 ? "" : "s") on its left side, "
                              + "for \(operandCount) tensor\(operandCount == 1 ? "" : "s")")
        }
        self.init(operands: operands, output: output, labelNames: names, labelNoun: "axis")
    }

    /// The name of a group of an einsum expression, nil for a bare ellipsis; throws einops'
    /// reasons for what einsum does not support.
    private static func axisName(_ group: EinopsExpression.Group) throws -> String? {
        guard case .composed(let axes) = group else { return nil }
        guard !axes.isEmpty else { throw EinopsError("Singleton () axes are not yet supported in einsum.") }
        guard axes.count == 1 else { throw EinopsError("Shape rearrangement is not yet supported in einsum.") }
        switch axes[0] {
        case .named(let name): return name
        case .anonymous: throw EinopsError("Anonymous axes are not yet supported in einsum.")
        case .ellipsis, .ellipsisPart: throw EinopsError("Ellipsis inside parenthesis is not supported in einsum.")
        }
    }
}
