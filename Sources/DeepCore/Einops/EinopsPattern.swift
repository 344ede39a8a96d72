// Parsing of einops patterns ("b (h w) c -> b c h w") and their analysis into a recipe: the
// elementary axes, how each input axis splits into them, the permutation, the reduced and the
// added axes, and how the output axes group them. Follows einops' `parsing.py` and
// `_prepare_transformation_recipe`; the errors carry the same reasons.

import Foundation
/// An elementary axis named on one side of a pattern.
enum EinopsAxis: Hashable, Sendable, CustomStringConvertible {
    /// A name such as `h`.
    case named(String)
    /// A number n > 1. Every occurrence is a distinct axis, told apart by `occurrence`.
    case anonymous(length: Int, occurrence: Int)
    /// `...` before it is expanded.
    case ellipsis
    /// Axis `index` of those that `...` stands for.
    case ellipsisPart(Int)

    /// As einops prints it in a set: `'h'`, `2-axis`, `'…'`, `'…0'`.
    var description: String {
        switch self {
        case .named(let name): return "'\(name)'"
        case .anonymous(let length, _): return "\(length)-axis"
        case .ellipsis: return "'…'"
        case .ellipsisPart(let index): return "'…\(index)'"
        }
    }
}

/// One side of a pattern: its groups (input or output axes) and the identifiers they use.
struct EinopsExpression {
    /// An axis of the tensor on this side.
    enum Group {
        /// A bare `...`: several axes once expanded.
        case ellipsis
        /// Elementary axes composed in C order; empty for `1` or `()`, a unit axis.
        case composed([EinopsAxis])
    }

    private(set) var groups: [Group] = []
    /// Every axis named on this side (`1`s excepted), `.ellipsis` included.
    private(set) var identifiers: Set<EinopsAxis> = []
    private(set) var hasEllipsis = false
    private(set) var hasParenthesizedEllipsis = false
    private(set) var hasNonUnitaryAnonymousAxes = false

    /// Parses `text`; anonymous axes are numbered from `occurrences`, which is advanced so that
    /// the two sides of a pattern never share an anonymous axis. With `allowUnderscore`, `_` is a
    /// name that may repeat (`parse_shape`'s skipped axis); with `allowDuplicates`, any name may
    /// repeat (einsum's diagonals), as einops' `ParsedExpression` options.
    init(parsing text: Substring, occurrences: inout Int, allowUnderscore: Bool = false, allowDuplicates: Bool = false) throws {
        let ellipsisMark: Character = "…"
        var characters = Array(text)
        if characters.contains(".") {
            let dots = characters.indices.filter { characters[$0] == "." }
            guard dots.count == 3, dots[2] - dots[0] == 2 else {
                throw EinopsError(!Self.hasThreeDotsInARow(characters)
                    ? "Expression may contain dots only inside ellipsis (...)"
                    : "Expression may contain dots only inside ellipsis (...); only one ellipsis for tensor ")
            }
            characters.replaceSubrange(dots[0]...dots[2], with: [ellipsisMark])
            hasEllipsis = true
        }
        var bracket: [EinopsAxis]?
        var token = ""
        func addToken() throws {
            defer { token = "" }
            if token.isEmpty { return }
            if token == String(ellipsisMark) {
                guard identifiers.insert(.ellipsis).inserted else {
                    throw EinopsError("Indexing expression contains duplicate dimension \"…\"")
                }
                hasEllipsis = true
                if bracket == nil { groups.append(.ellipsis) } else { bracket!.append(.ellipsis); hasParenthesizedEllipsis = true }
                return
            }
            let axis: EinopsAxis
            if token.allSatisfy({ $0.isASCII && $0.isWholeNumber }) {
                guard let value = Int(token) else { throw EinopsError("Anonymous axis \(token) is too long") }
                if value == 1 {
                    if bracket == nil { groups.append(.composed([])) }   // a 1 inside brackets is ignored
                    return
                }
                guard value > 1 else { throw EinopsError("Anonymous axis should have positive length, not \(value)") }
                axis = .anonymous(length: value, occurrence: occurrences)
                occurrences += 1
                hasNonUnitaryAnonymousAxes = true
            } else {
                if let problem = Self.problem(withAxisName: token), !(allowUnderscore && token == "_") {
                    throw EinopsError("Invalid axis identifier: \(token)\n\(problem)")
                }
                axis = .named(token)
            }
            guard identifiers.insert(axis).inserted || allowDuplicates || (allowUnderscore && token == "_") else {
                throw EinopsError("Indexing expression contains duplicate dimension \"\(token)\"")
            }
            if bracket == nil { groups.append(.composed([axis])) } else { bracket!.append(axis) }
        }
        for character in characters {
            switch character {
            case " ", "(", ")":
                try addToken()
                if character == "(" {
                    guard bracket == nil else {
                        throw EinopsError("Axis composition is one-level (brackets inside brackets not allowed)")
                    }
                    bracket = []
                } else if character == ")" {
                    guard let group = bracket else { throw EinopsError("Brackets are not balanced") }
                    groups.append(.composed(group))
                    bracket = nil
                }
            case _ where character.isLetter || character.isNumber || character == "_" || character == ellipsisMark:
                token.append(character)
            default:
                throw EinopsError("Unknown character '\(character)'")
            }
        }
        if bracket != nil { throw EinopsError("Imbalanced parentheses in expression: \"\(String(characters))\"") }
        try addToken()
    }

    private static func hasThreeDotsInARow(_ characters: [Character]) -> Bool {
        characters.indices.dropLast(2).contains { characters[$0] == "." && characters[$0 + 1] == "." && characters[$0 + 2] == "." }
    }

    /// Why `name` is not a valid axis name, or nil: it must be an identifier (a letter or `_`,
    /// then letters, digits, `_`) that neither starts nor ends with `_`.
    static func problem(withAxisName name: String) -> String? {
        guard let first = name.first, first.isLetter || first == "_",
              name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
            return "not a valid python identifier"
        }
        if name.hasPrefix("_") || name.hasSuffix("_") { return "axis name should not start or end with underscore" }
        return nil
    }
}

/// The einops operations: ``Tensor/rearranged(_:_:)``, ``Tensor/repeated(_:_:)`` and
/// ``Tensor/reduced(_:_:_:)`` with a reduction.
public enum EinopsOperation: Equatable, Sendable {
    case rearrange, `repeat`, reduce(EinopsReduction)

    /// The name einops' errors use: `rearrange`, `repeat` or the reduction's (`sum`, `max`, …).
    public var name: String {
        switch self {
        case .rearrange: return "rearrange"
        case .repeat: return "repeat"
        case .reduce(let reduction): return reduction.rawValue
        }
    }

    /// The operation called `name` (as ``name`` spells it), nil for an unknown name.
    public init?(name: String) {
        switch name {
        case "rearrange": self = .rearrange
        case "repeat": self = .repeat
        default:
            guard let reduction = EinopsReduction(rawValue: name) else { return nil }
            self = .reduce(reduction)
        }
    }
}

/// A pattern analysed for one operation, input rank and set of given size names; the lengths
/// themselves are resolved per call by ``axisLengths(inputShape:sizes:)``.
///
/// Elementary axes are numbered: first those of the input in order (the ellipsis expanded), then
/// the axes only the output has (repeat).
struct EinopsRecipe: Sendable {
    /// How one input axis splits: the elementary axes whose length is known beforehand and the
    /// one (at most) inferred by division.
    struct InputAxis: Sendable {
        var known: [Int]
        var unknown: Int?
    }

    /// Length of each elementary axis when fixed by the pattern (an anonymous axis), else 0.
    var fixedLengths: [Int]
    /// Each elementary axis as errors name it: `'h'`, `4-axis`, `'…0'`.
    var axisNames: [String]
    /// Elementary axis of each given size.
    var sizeAxes: [String: Int]
    var inputAxes: [InputAxis]
    /// The order of the input's elementary axes after transposition: the kept ones in output
    /// order, then the reduced ones.
    var permutation: [Int]
    /// How many trailing axes of the transposed tensor are reduced.
    var reducedCount: Int
    /// Axes the output adds: (position among the output's elementary axes, elementary axis).
    var addedAxes: [(position: Int, axis: Int)]
    /// The elementary axes composed into each output axis.
    var outputAxes: [[Int]]

    init(pattern: String, operation: EinopsOperation, sizeNames: [String], rank: Int) throws {
        let sides = pattern.split(separator: "->", omittingEmptySubsequences: false)
        guard sides.count == 2 else { throw EinopsError("Pattern must contain exactly one \"->\", got \(sides.count - 1)") }
        var occurrences = 0
        let left = try EinopsExpression(parsing: sides[0], occurrences: &occurrences)
        let right = try EinopsExpression(parsing: sides[1], occurrences: &occurrences)
        try Self.checkIdentifiers(left, right, operation: operation, sizeNames: sizeNames, pattern: pattern)

        // Expand the ellipsis into as many axes as the rank leaves for it.
        var ellipsisAxes: [EinopsAxis] = []
        if left.hasEllipsis {
            let others = left.groups.count - 1
            guard rank >= others else { throw EinopsError("Wrong shape: expected >=\(others) dims. Received \(rank)-dim tensor.") }
            ellipsisAxes = (0..<(rank - others)).map(EinopsAxis.ellipsisPart)
        } else if rank != left.groups.count {
            throw EinopsError("Wrong shape: expected \(left.groups.count) dims. Received \(rank)-dim tensor.")
        }
        func expand(_ groups: [EinopsExpression.Group]) -> [[EinopsAxis]] {
            groups.flatMap { group -> [[EinopsAxis]] in
                switch group {
                case .ellipsis: return ellipsisAxes.map { [$0] }
                case .composed(let axes): return [axes.flatMap { $0 == .ellipsis ? ellipsisAxes : [$0] }]
                }
            }
        }
        let leftGroups = expand(left.groups), rightGroups = expand(right.groups)
        let leftOrder = leftGroups.flatMap { $0 }, rightOrder = rightGroups.flatMap { $0 }
        let leftSet = Set(leftOrder), rightSet = Set(rightOrder)
        let elementary = leftOrder + rightOrder.filter { !leftSet.contains($0) }
        var position: [EinopsAxis: Int] = [:]
        for (i, axis) in elementary.enumerated() { position[axis] = i }

        axisNames = elementary.map(\.description)
        fixedLengths = elementary.map { if case .anonymous(let length, _) = $0 { return length } else { return 0 } }
        sizeAxes = [:]
        for name in sizeNames {
            guard Self.isAxisName(name) else { throw EinopsError("Invalid name for an axis \(name)") }
            guard let axis = position[.named(name)] else { throw EinopsError("Axis \(name) is not used in transform") }
            sizeAxes[name] = axis
        }
        let given = Set(sizeAxes.values)
        inputAxes = try leftGroups.map { group in
            let unknown = group.filter { axis in
                if case .anonymous = axis { return false }
                return !given.contains(position[axis]!)
            }
            guard unknown.count <= 1 else { throw EinopsError("Could not infer sizes for \(EinopsError.set(unknown))") }
            return InputAxis(known: group.filter { !unknown.contains($0) }.map { position[$0]! },
                             unknown: unknown.first.map { position[$0]! })
        }
        let reduced = leftOrder.filter { !rightSet.contains($0) }
        permutation = (rightOrder.filter { leftSet.contains($0) } + reduced).map { position[$0]! }
        reducedCount = reduced.count
        addedAxes = rightOrder.enumerated().filter { !leftSet.contains($0.element) }.map { ($0.offset, position[$0.element]!) }
        outputAxes = rightGroups.map { $0.map { position[$0]! } }
    }

    /// The checks of which identifiers each side may have, per operation.
    private static func checkIdentifiers(_ left: EinopsExpression, _ right: EinopsExpression, operation: EinopsOperation,
                                         sizeNames: [String], pattern: String) throws {
        if !left.hasEllipsis && right.hasEllipsis {
            throw EinopsError("Ellipsis found in right side, but not left side of a pattern \(pattern)")
        }
        if left.hasParenthesizedEllipsis {
            throw EinopsError("Ellipsis inside parenthesis in the left side is not allowed: \(pattern)")
        }
        switch operation {
        case .rearrange:
            if left.hasNonUnitaryAnonymousAxes || right.hasNonUnitaryAnonymousAxes {
                throw EinopsError("Non-unitary anonymous axes are not supported in rearrange (exception is length 1)")
            }
            let difference = left.identifiers.symmetricDifference(right.identifiers)
            if !difference.isEmpty {
                throw EinopsError("Identifiers only on one side of expression (should be on both): \(EinopsError.set(difference))")
            }
        case .repeat:
            let difference = left.identifiers.subtracting(right.identifiers)
            if !difference.isEmpty {
                throw EinopsError("Unexpected identifiers on the left side of repeat: \(EinopsError.set(difference))")
            }
            let withoutSize = right.identifiers.filter { axis in
                guard case .named(let name) = axis else { return false }
                return !left.identifiers.contains(axis) && !sizeNames.contains(name)
            }
            if !withoutSize.isEmpty {
                throw EinopsError("Specify sizes for new axes in repeat: \(EinopsError.set(withoutSize))")
            }
        case .reduce:
            let difference = right.identifiers.subtracting(left.identifiers)
            if !difference.isEmpty {
                throw EinopsError("Unexpected identifiers on the right side of reduce \(operation.name): \(EinopsError.set(difference))")
            }
        }
    }

    private static func isAxisName(_ name: String) -> Bool { EinopsExpression.problem(withAxisName: name) == nil }

    /// Length of every elementary axis for an input of `inputShape` and the given `sizes`
    /// (whose names were those the recipe was made for). Throws when they do not fit, or when
    /// the lengths multiply past `Int.max` (zeros counted as 1, as strides count them).
    func axisLengths(inputShape: [Int], sizes: [String: Int]) throws -> [Int] {
        var lengths = fixedLengths
        for (name, value) in sizes {
            guard value >= 0 else { throw EinopsError("Size of axis \(name) must not be negative, got \(value)") }
            guard let axis = sizeAxes[name] else { throw EinopsError("Axis \(name) is not used in transform") }
            lengths[axis] = value
        }
        for (length, axis) in zip(inputShape, inputAxes) {
            let knownProduct = axis.known.contains { lengths[$0] == 0 } ? 0 : try checkedProduct(of: axis.known, lengths)
            if let unknown = axis.unknown {
                guard knownProduct > 0, length % knownProduct == 0 else {
                    throw EinopsError("Shape mismatch, can't divide axis of length \(length) in chunks of \(knownProduct)")
                }
                lengths[unknown] = length / knownProduct
            } else if length != knownProduct {
                throw EinopsError("Shape mismatch, \(length) != \(knownProduct)")
            }
        }
        _ = try checkedProduct(of: Array(lengths.indices), lengths)
        return lengths
    }

    /// Throws when the result, of the given elementary axis `lengths`, would take more bytes
    /// than the machine's physical memory (the allocator could only end the process, without
    /// a message). Not for shape-only inputs, whose results hold nothing.
    func checkResultFitsInMemory(_ lengths: [Int]) throws {
        let outputCount = outputAxes.joined().reduce(1) { $0 * lengths[$1] }
        let bytes = outputCount.multipliedReportingOverflow(by: MemoryLayout<Float>.stride)
        guard bytes.overflow || UInt64(bytes.partialValue) > Self.memoryLimit else { return }
        let factors = outputAxes.joined().filter { lengths[$0] > 1 }.map { "\(axisNames[$0]) (\(lengths[$0]))" }
        throw EinopsError("The result would hold \(outputCount) elements (\(factors.joined(separator: " × "))), "
                          + "more than this machine's \(Self.memoryLimit >> 20) MiB of memory can hold")
    }

    /// The most bytes a result may take: the machine's physical memory.
    static let memoryLimit = ProcessInfo.processInfo.physicalMemory

    /// The product of the lengths of `axes`, a zero counted as 1; throws naming the axes when it
    /// overflows `Int`.
    private func checkedProduct(of axes: [Int], _ lengths: [Int]) throws -> Int {
        var product = 1
        for (i, axis) in axes.enumerated() {
            let (next, overflow) = product.multipliedReportingOverflow(by: max(lengths[axis], 1))
            if overflow {
                let factors = axes[...i].filter { lengths[$0] > 1 }.map { "\(axisNames[$0]) (\(lengths[$0]))" }
                throw EinopsError("Axis lengths overflow at axis \(axisNames[axis]): \(factors.joined(separator: " × ")) "
                                  + "exceeds Int.max (\(Int.max))")
            }
            product = next
        }
        return product
    }
}
