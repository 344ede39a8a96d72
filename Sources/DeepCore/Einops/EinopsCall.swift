// An einops call written as one line of text, so that patterns and sizes from outside (a
// configuration file, a corpus of malformed inputs, a fuzzer's bytes) can be checked without
// writing code, and without allocating: ``EinopsCall/outputShape()`` runs on a shape-only input.

/// One einops operation with its input shape, pattern and sizes, as a line of text:
/// `operation | input shape | pattern | sizes`.
///
///     rearrange | 6, 4 | (a b) c -> a b c | a=2      → (2, 3, 4)
///     repeat    | 3    | h -> (h 2) w     | w=5      → (6, 5)
///     mean      | 2, 3 | a b -> a                    → (2)
///
/// The operation is `rearrange`, `repeat` or a reduction (`sum`, `mean`, `max`, `min`, `prod`);
/// the shape lists sizes separated by commas (empty for a 0-D input); sizes are `name=value`
/// pairs separated by commas, and their field may be left out.
public struct EinopsCall: Equatable, Sendable {
    /// What to do.
    public var operation: EinopsOperation
    /// The input's shape.
    public var shape: [Int]
    /// The einops pattern, e.g. `"b (h w) c -> b c h w"`.
    public var pattern: String
    /// Lengths of axes, by name.
    public var sizes: [String: Int]

    /// A call of `operation` with `pattern` and `sizes` on an input of `shape`.
    public init(_ operation: EinopsOperation, shape: [Int], pattern: String, sizes: [String: Int] = [:]) {
        self.operation = operation
        self.shape = shape
        self.pattern = pattern
        self.sizes = sizes
    }

    /// Parses `operation | shape | pattern | sizes` (see the type's documentation).
    /// - Throws: ``EinopsError`` quoting the line and the field that is malformed: an unknown
    ///   operation, a size that is not a non-negative integer, a shape whose sizes multiply past
    ///   `Int.max`, a size not written `name=integer` or given twice.
    public init(parsing line: String) throws {
        func fail(_ field: String, _ reason: String) -> EinopsError {
            EinopsError("Cannot read einops call \"\(line)\": \(field) \(reason)")
        }
        let fields = line.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingWhitespace }
        guard (3...4).contains(fields.count) else {
            throw fail("the line", "has \(fields.count) fields separated by '|', expected operation | shape | pattern | sizes")
        }
        guard let operation = EinopsOperation(name: fields[0]) else {
            throw fail("operation", "'\(fields[0])' is not rearrange, repeat, sum, mean, max, min or prod")
        }
        var shape: [Int] = []
        var extent = 1
        let items = fields[1].isEmpty ? [] : fields[1].split(separator: ",", omittingEmptySubsequences: false).map(\.trimmingWhitespace)
        for item in items {
            guard let size = Int(item), size >= 0 else { throw fail("shape", "size '\(item)' is not a non-negative integer") }
            let (next, overflow) = extent.multipliedReportingOverflow(by: max(size, 1))
            guard !overflow else { throw fail("shape", "(\(fields[1])) has sizes whose product exceeds Int.max (\(Int.max))") }
            extent = next
            shape.append(size)
        }
        var sizes: [String: Int] = [:]
        let pairs = fields.count == 4 ? fields[3].split(separator: ",").map(\.trimmingWhitespace) : []
        for pair in pairs where !pair.isEmpty {
            let parts = pair.split(separator: "=", omittingEmptySubsequences: false).map(\.trimmingWhitespace)
            guard parts.count == 2, !parts[0].isEmpty, let value = Int(parts[1]) else {
                throw fail("size", "'\(pair)' is not name=integer")
            }
            guard sizes.updateValue(value, forKey: parts[0]) == nil else { throw fail("size", "'\(parts[0])' is given twice") }
        }
        self.init(operation, shape: shape, pattern: fields[2], sizes: sizes)
    }

    /// The call applied to `x` (whose shape need not be ``shape``).
    /// - Throws: ``EinopsError`` as the operation does.
    public func apply(to x: Tensor) throws -> Tensor {
        switch operation {
        case .rearrange: return try x.rearranged(pattern, sizes)
        case .repeat: return try x.repeated(pattern, sizes)
        case .reduce(let reduction): return try x.reduced(pattern, reduction, sizes)
        }
    }

    /// The shape of the result, computed on a shape-only input of ``shape`` (no element is
    /// allocated, however large the sizes).
    /// - Throws: ``EinopsError`` as the operation does.
    public func outputShape() throws -> [Int] {
        try apply(to: Tensor(metaShape: shape, madeBy: "EinopsCall")).shape
    }
}

extension StringProtocol {
    /// The text without leading and trailing spaces and tabs.
    fileprivate var trimmingWhitespace: String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
