/// Why a model could not be exported to ONNX: what was wrong and where (the op and the module
/// path, or the file).
public struct ONNXExportError: Error, CustomStringConvertible, Equatable {
    /// The kinds of failure.
    public enum Kind: Equatable, Sendable {
        /// Ops in the forward have no ONNX form yet (each named with its module path).
        case unsupportedOp
        /// A value the graph would hold fixed changes with a dynamic axis or with the input's
        /// values (a constant built from the batch size, a forward that branches on values).
        case inputDependent
        /// The input shapes or dynamic axes do not fit the model.
        case invalidInput
        /// The file could not be written.
        case io
    }

    /// What went wrong.
    public let kind: Kind
    /// The details: op names and module paths, or the path and the system's reason.
    public let message: String

    /// Creates an error of `kind`.
    public init(_ kind: Kind, _ message: String) {
        (self.kind, self.message) = (kind, message)
    }

    public var description: String { "ONNX export: \(message)" }
}
