/// The error thrown by ``Tensor/rearranged(_:_:)``, ``Tensor/reduced(_:_:_:)`` and
/// ``Tensor/repeated(_:_:)`` when a pattern is malformed or does not fit the input.
///
/// The message follows einops': it names the operation, quotes the pattern, the input shape and
/// the given sizes, then says what is wrong, e.g.
///
///      Error while processing rearrange-reduction pattern "a b -> a".
///      Input tensor shape: (2, 3). Additional info: {}.
///      Identifiers only on one side of expression (should be on both): {'b'}
public struct EinopsError: Error, CustomStringConvertible, Equatable, Sendable {
    /// What is wrong, without the context (e.g. `Shape mismatch, 2 != 3`).
    public let reason: String
    /// The full message: operation, pattern, input shape, sizes and reason.
    public let message: String

    /// A context-free error: the op wraps it with ``inContext(operation:pattern:shape:sizes:)``.
    init(_ reason: String) {
        self.reason = reason
        self.message = reason
    }

    private init(reason: String, message: String) {
        self.reason = reason
        self.message = message
    }

    public var description: String { message }

    /// This error with einops' context: `operation` is `rearrange`, `repeat` or the reduction's
    /// name; `shape` is nil for a list input.
    func inContext(operation: String, pattern: String, shape: [Int]?, sizes: [String: Int]) -> EinopsError {
        var message = " Error while processing \(operation)-reduction pattern \"\(pattern)\"."
        if let shape {
            message += "\n Input tensor shape: \(EinopsError.tuple(shape)). "
        } else {
            message += "\n Input is list. "
        }
        message += "Additional info: \(EinopsError.dictionary(sizes)).\n \(reason)"
        return EinopsError(reason: reason, message: message)
    }

    /// This error under `header`, which says what was being done on which input (`Error while
    /// processing einsum pattern …`): the header, then the reason on its own line.
    func withHeader(_ header: String) -> EinopsError {
        EinopsError(reason: reason, message: header + "\n " + reason)
    }

    /// A shape as Python prints a tuple: `(6,)`, `(2, 3)`, `()`.
    static func tuple(_ shape: [Int]) -> String {
        shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
    }

    /// Sizes as Python prints a dict, keys sorted: `{'h': 2, 'w': 3}`.
    static func dictionary(_ sizes: [String: Int]) -> String {
        "{" + sizes.sorted { $0.key < $1.key }.map { "'\($0.key)': \($0.value)" }.joined(separator: ", ") + "}"
    }

    /// Items as Python prints a set, sorted: `{'b', 'c'}`.
    static func set<S: Sequence>(_ items: S) -> String where S.Element: CustomStringConvertible {
        "{" + items.map(\.description).sorted().joined(separator: ", ") + "}"
    }
}
