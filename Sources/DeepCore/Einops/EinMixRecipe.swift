// The analysis behind einops' `EinMix` layer (DeepNN's `EinMix`): from a pattern, the weight's
// and the bias's axes and the axis lengths, the rearrangements around the product, the einsum
// equation, the parameters' shapes and their initialisation bounds. Follows einops 0.8's
// `_EinmixMixin.initialize_einmix`; its errors carry the same reasons.

/// What einops' `EinMix` computes, worked out once from its arguments: the input is rearranged
/// to its elementary axes (when the left side groups axes), multiplied with the weight by
/// ``einsumEquation``, the bias added, and the result rearranged to the right side's groups.
///
///     let recipe = try EinMixRecipe("b (h c) -> b h d", weightShape: "h c d", biasShape: "h d",
///                                   ["h": 4, "c": 8, "d": 16])
///     // preRearrange "b (h c) -> b h c", einsumEquation "bhc,hcd->bhd", weight (4, 8, 16), bias (4, 16)
public struct EinMixRecipe: Equatable, Sendable {
    /// The rearrangement of the input to elementary axes, and its sizes; nil when the left side
    /// has one axis per group.
    public let preRearrange: (pattern: String, sizes: [String: Int])?
    /// The rearrangement of the product to the right side's groups; nil when none is needed.
    public let postRearrange: String?
    /// The product of the (rearranged) input and the weight, in PyTorch's grammar with the axes
    /// renamed to letters in sorted order of their names, e.g. `"abc,bcd->abd"` (einops' `einsum_pattern`).
    public let einsumEquation: String
    /// The weight's shape: the lengths of the weight's axes, in its order.
    public let weightShape: [Int]
    /// The bias's shape, broadcast against the product (1 for the right side's axes it lacks);
    /// nil without bias.
    public let biasShape: [Int]?
    /// The weight is drawn uniform in ±`weightBound` = √(3 / fan_in), fan_in the product of the
    /// weight's axes that the output lacks.
    public let weightBound: Float
    /// The bias is drawn uniform in ±`biasBound` = √(1 / fan_in).
    public let biasBound: Float

    /// Analyses einops' `EinMix(pattern, weight_shape, bias_shape, **sizes)`.
    /// - Parameters:
    ///   - pattern: `"left -> right"` in einops' notation, e.g. `"t b (h cin) -> t b (h cout)"`.
    ///   - weightShape: the weight's axes, e.g. `"h cin cout"` (names only).
    ///   - biasShape: the bias's axes (a subset of the right side's), or nil for no bias.
    ///   - sizes: the length of every axis of the weight and the bias (and of any composed
    ///     input axis to split).
    /// - Throws: ``EinopsError`` with einops' reasons: an axis on the right found in neither the
    ///   input nor the weight, an ellipsis in the weight or on one side only, numbers, brackets
    ///   in the weight, a weight axis without a length or in neither side, a length of an unused
    ///   axis, bias axes not in the output or without length, bias axes before an ellipsis.
    public init(_ pattern: String, weightShape: String, biasShape: String? = nil, _ sizes: [String: Int] = [:]) throws {
        let sides = pattern.split(separator: "->", omittingEmptySubsequences: false)
        guard sides.count == 2 else {
            throw EinopsError("EinMix pattern must contain exactly one \"->\", got \(sides.count - 1): \(pattern)")
        }
        var occurrences = 0
        let left = try EinopsExpression(parsing: sides[0], occurrences: &occurrences)
        let right = try EinopsExpression(parsing: sides[1], occurrences: &occurrences)
        let weight = try EinopsExpression(parsing: weightShape[...], occurrences: &occurrences)
        let unrecognized = right.identifiers.subtracting(left.identifiers).subtracting(weight.identifiers)
        try Self.report(unrecognized, "Unrecognized identifiers on the right side of EinMix ")
        if weight.hasEllipsis { throw EinopsError("Ellipsis is not supported in weight, as its shape should be fully specified") }
        if left.hasEllipsis || right.hasEllipsis {
            guard left.hasEllipsis && right.hasEllipsis else { throw EinopsError("Ellipsis in EinMix should be on both sides, \(pattern)") }
            if left.hasParenthesizedEllipsis { throw EinopsError("Ellipsis on left side can't be in parenthesis, got \(pattern)") }
        }
        if [left, right, weight].contains(where: \.hasNonUnitaryAnonymousAxes) {
            throw EinopsError("Anonymous axes (numbers) are not allowed in EinMix")
        }
        if weightShape.contains("(") || weightShape.contains(")") {
            throw EinopsError("Parenthesis is not allowed in weight shape: \(weightShape)")
        }

        let leftNames = Self.elementaryNames(left), rightNames = Self.elementaryNames(right)
        if !Self.isElementary(left) {
            let names = Set(leftNames)
            preRearrange = ("\(sides[0])-> \(leftNames.joined(separator: " "))", sizes.filter { names.contains($0.key) })
        } else {
            preRearrange = nil
        }
        postRearrange = !Self.isElementary(right) || right.hasParenthesizedEllipsis
            ? "\(rightNames.joined(separator: " ")) ->\(sides[1])" : nil

        let weightNames = Self.elementaryNames(weight)
        if let missing = weightNames.first(where: { sizes[$0] == nil }) {
            throw EinopsError("Dimension \(missing) of weight should be specified")
        }
        let named = left.identifiers.union(weight.identifiers)
        try Self.report(Set(sizes.keys.map(EinopsAxis.named)).subtracting(named), "Axes ", " are not used in pattern")
        try Self.report(weight.identifiers.subtracting(left.identifiers).subtracting(right.identifiers), "Weight axes ", " are redundant")
        self.weightShape = weightNames.map { sizes[$0]! }
        var fanIn = 1
        for name in weightNames where !right.identifiers.contains(.named(name)) {
            let (product, overflow) = fanIn.multipliedReportingOverflow(by: sizes[name]!)
            guard !overflow else { throw EinopsError("The weight's fan-in overflows Int at axis \(name)") }
            fanIn = product
        }
        if let biasShape {
            let bias = try EinopsExpression(parsing: biasShape[...], occurrences: &occurrences)
            try Self.report(bias.identifiers.subtracting(right.identifiers), "Bias axes ", " not present in output")
            try Self.report(bias.identifiers.filter { axis in
                if case .named(let name) = axis { return sizes[name] == nil }
                return true
            }, "Sizes not provided for bias axes ")
            var shape: [Int] = [], sized = false
            for group in right.groups {
                let axes: [EinopsAxis]
                switch group {
                case .ellipsis: axes = [.ellipsis]
                case .composed(let composed): axes = composed
                }
                for axis in axes {
                    if axis == .ellipsis {
                        if sized { throw EinopsError("all bias dimensions should go after ellipsis in the output") }
                    } else if case .named(let name) = axis, bias.identifiers.contains(axis) {
                        shape.append(sizes[name]!)
                        sized = true
                    } else {
                        shape.append(1)
                    }
                }
            }
            self.biasShape = shape
        } else {
            self.biasShape = nil
        }
        weightBound = (3 / Float(fanIn)).squareRoot()
        biasBound = (1 / Float(fanIn)).squareRoot()

        // Letters for the axes in sorted order of their names, the ellipsis kept.
        let allNames = Set(leftNames + rightNames + weightNames).subtracting(["..."]).sorted()
        guard allNames.count <= 26 else {
            throw EinopsError("EinMix names \(allNames.count) axes; einsum letters allow 26")
        }
        let letters = Dictionary(uniqueKeysWithValues: zip(allNames, "abcdefghijklmnopqrstuvwxyz".map(String.init)))
        func spelled(_ names: [String]) -> String { names.map { letters[$0] ?? "..." }.joined() }
        einsumEquation = "\(spelled(leftNames)),\(spelled(weightNames))->\(spelled(rightNames))"
    }

    /// Whether every group of `expression` is one axis (a bare ellipsis counts as one).
    private static func isElementary(_ expression: EinopsExpression) -> Bool {
        expression.groups.allSatisfy { group in
            if case .composed(let axes) = group { return axes.count == 1 }
            return true
        }
    }

    /// The names of `expression`'s elementary axes in order, `...` for the ellipsis.
    private static func elementaryNames(_ expression: EinopsExpression) -> [String] {
        expression.groups.flatMap { group -> [String] in
            guard case .composed(let axes) = group else { return ["..."] }
            return axes.map { axis in
                if case .named(let name) = axis { return name }
                return "..."
            }
        }
    }

    /// Throws `prefix{axes}suffix` (einops' `_report_axes`) when `axes` is not empty.
    private static func report(_ axes: Set<EinopsAxis>, _ prefix: String, _ suffix: String = "") throws {
        guard !axes.isEmpty else { return }
        throw EinopsError(prefix + EinopsError.set(axes) + suffix)
    }

    public static func == (a: EinMixRecipe, b: EinMixRecipe) -> Bool {
        a.preRearrange?.pattern == b.preRearrange?.pattern && a.preRearrange?.sizes == b.preRearrange?.sizes
            && a.postRearrange == b.postRearrange && a.einsumEquation == b.einsumEquation && a.weightShape == b.weightShape
            && a.biasShape == b.biasShape && a.weightBound == b.weightBound && a.biasBound == b.biasBound
    }
}
