// Parsing of einsum equations in PyTorch's grammar ("bhqd,bhkd->bhqk", "ii", "...ij,...jk") into
// an `EinsumEquation`: each operand's subscripts and the output's, as label numbers, before the
// operands' shapes are known. einops' named-axes notation (Einops/EinopsEinsum.swift) parses into
// the same type. The error type for data from outside sits here too.

/// The error thrown by ``einsum(_:_:)-(String,[Tensor])`` when an equation is malformed or does not
/// fit its operands.
///
/// The message quotes the equation and the operands' shapes, then says what is wrong:
///
///     Error while processing einsum equation "ij,jk->ik". Operand shapes: (2, 3), (4, 5).
///      subscript j has size 4 in operand 1, which does not broadcast with size 3 seen before
public struct EinsumError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The equation as given.
    public let equation: String
    /// What is wrong, without the context (e.g. `output subscript k does not appear in any operand`).
    public let reason: String
    /// The full message: equation, operand shapes and reason.
    public let message: String

    init(equation: String, shapes: [[Int]], reason: String) {
        self.equation = equation
        self.reason = reason
        let described = shapes.isEmpty ? "none" : shapes.map(EinopsError.tuple).joined(separator: ", ")
        message = "Error while processing einsum equation \"\(equation)\". Operand shapes: \(described).\n \(reason)"
    }

    public var description: String { message }
}

/// Why an equation cannot be evaluated, before the entry point puts it in context (as an
/// ``EinsumError`` or, for einops' notation, an ``EinopsError``).
struct EinsumProblem: Error {
    let reason: String
    init(_ reason: String) { self.reason = reason }
}

/// An einsum equation after parsing: the subscripts of each operand and of the output, labels
/// numbered from 0. Shapes are bound later (``EinsumBinding``).
struct EinsumEquation: Sendable {
    /// One subscript: a label, or the ellipsis standing for the axes no label names.
    enum Subscript: Hashable, Sendable {
        case label(Int)
        case ellipsis
    }

    /// Each operand's subscripts, in axis order.
    var operands: [[Subscript]]
    /// The output's subscripts (the implicit output already worked out).
    var output: [Subscript]
    /// Each label's name for messages (`j`, or einops' `head`), by number.
    var labelNames: [String]
    /// What a label is called in messages: `subscript` (PyTorch) or `axis` (einops).
    var labelNoun: String

    init(operands: [[Subscript]], output: [Subscript], labelNames: [String], labelNoun: String) {
        self.operands = operands
        self.output = output
        self.labelNames = labelNames
        self.labelNoun = labelNoun
    }

    /// Parses `equation` in PyTorch's grammar for `operandCount` operands: letters `a-zA-Z` are
    /// labels, `...` an ellipsis (once per operand), `,` separates operands, spaces are ignored,
    /// `->` introduces the output; without it the output is the ellipsis followed by the labels
    /// that appear exactly once, in ASCII order (`A`–`Z` before `a`–`z`).
    init(pytorch equation: String, operandCount: Int) throws {
        labelNames = (UInt8(ascii: "A")...UInt8(ascii: "Z")).map { String(UnicodeScalar($0)) }
            + (UInt8(ascii: "a")...UInt8(ascii: "z")).map { String(UnicodeScalar($0)) }
        labelNoun = "subscript"
        let scalars = Array(equation.unicodeScalars)
        var arrow: Int?
        for i in scalars.indices.dropLast() where scalars[i] == "-" && scalars[i + 1] == ">" {
            arrow = i
            break
        }
        let lhsEnd = arrow ?? scalars.count
        let named = scalars[..<lhsEnd].filter { $0 == "," }.count + 1
        guard operandCount >= 1 else { throw EinsumProblem("einsum needs at least one operand") }
        guard named == operandCount else {
            throw EinsumProblem("the equation names \(named) operand\(named == 1 ? "" : "s"), but \(operandCount) "
                                + "\(operandCount == 1 ? "was" : "were") given")
        }
        operands = [[]]
        var i = 0
        while i < lhsEnd {
            let c = scalars[i]
            let operand = operands.count - 1
            switch c {
            case " ":
                break
            case ",":
                operands.append([])
            case ".":
                try Self.expectEllipsis(scalars, at: i, end: lhsEnd, in: "operand \(operand)",
                                        already: operands[operand].contains(.ellipsis))
                operands[operand].append(.ellipsis)
                i += 2
            default:
                operands[operand].append(.label(try Self.label(c, at: i)))
            }
            i += 1
        }
        guard let arrow else {
            output = Self.implicitOutput(operands, labelCount: labelNames.count)
            return
        }
        output = []
        i = arrow + 2
        while i < scalars.count {
            let c = scalars[i]
            switch c {
            case " ":
                break
            case ".":
                try Self.expectEllipsis(scalars, at: i, end: scalars.count, in: "the output", already: output.contains(.ellipsis))
                output.append(.ellipsis)
                i += 2
            default:
                let label = try Self.label(c, at: i)
                let name = labelNames[label]
                guard !output.contains(.label(label)) else {
                    throw EinsumProblem("output subscript \(name) appears more than once in the output")
                }
                guard operands.contains(where: { $0.contains(.label(label)) }) else {
                    throw EinsumProblem("output subscript \(name) does not appear in any operand")
                }
                output.append(.label(label))
            }
            i += 1
        }
    }

    /// The label number of a letter (ASCII order: `A` is 0, `a` is 26), or a problem naming the
    /// character and its position.
    private static func label(_ c: Unicode.Scalar, at index: Int) throws -> Int {
        switch c.value {
        case 65...90: return Int(c.value) - 65
        case 97...122: return Int(c.value) - 97 + 26
        default:
            let shown = c == "-" || c == ">" ? "'\(c)' (an arrow is written ->, once)" : "'\(c)'"
            throw EinsumProblem("invalid subscript \(shown) at index \(index): subscripts are letters in [a-zA-Z]")
        }
    }

    /// Checks that a `.` at `index` starts an ellipsis `...` ending before `end`, the first one of
    /// `part`.
    private static func expectEllipsis(_ scalars: [Unicode.Scalar], at index: Int, end: Int, in part: String,
                                       already: Bool) throws {
        guard index + 2 < end, scalars[index + 1] == ".", scalars[index + 2] == "." else {
            throw EinsumProblem("'.' at index \(index) in \(part) is not part of an ellipsis (...)")
        }
        guard !already else { throw EinsumProblem("\(part) has a second ellipsis, at index \(index)") }
    }

    /// PyTorch's implicit output: the ellipsis (when an operand has one), then the labels that
    /// appear exactly once in the whole equation, in label order.
    private static func implicitOutput(_ operands: [[Subscript]], labelCount: Int) -> [Subscript] {
        var counts = [Int](repeating: 0, count: labelCount)
        for case .label(let l) in operands.joined() { counts[l] += 1 }
        let ellipsis: [Subscript] = operands.contains { $0.contains(.ellipsis) } ? [.ellipsis] : []
        return ellipsis + counts.indices.filter { counts[$0] == 1 }.map(Subscript.label)
    }
}
