#if canImport(Glibc)
import Glibc
#endif

// What an op looks like in an exchange graph (ONNX), and the trace that collects it. An op
// declared through `Tensor.op` may pass an `OpExport`: a few nodes over its inputs, built lazily
// and evaluated only while an `ExportTrace` runs on the calling thread (one load of a global
// counter otherwise). DeepCore knows nothing of protobuf; DeepNN turns the steps into a model.

/// How an op is written as nodes of an ONNX graph: node types, attributes and inputs, which are
/// the op's own inputs, earlier nodes of the same description, or constants.
///
///     OpExport("Conv", attributes: ["strides": .ints([1, 1]), "group": .int(1)])   // all inputs
public struct OpExport {
    /// An input of a node.
    public enum Value {
        /// The op's input at this index (an absent optional input is an absent node input).
        case input(Int)
        /// Output `output` of node `index` of this description.
        case node(Int, output: Int)
        /// A constant tensor of floats; a parameter or buffer keeps its state-dict name.
        case tensor(Tensor)
        /// A 1-D int64 constant (axes, starts, pads).
        case int64s([Int])
        /// A 1-D int64 target shape computed from the traced shapes (Reshape, Expand): the exporter
        /// keeps a dynamic batch axis symbolic in it.
        case shape([Int])
        /// No input in this slot (ONNX's empty name).
        case absent

        /// A 0-D float constant.
        public static func scalar(_ value: Float) -> Value { .tensor(Tensor(scalar: value)) }
    }

    /// A node attribute.
    public enum Attribute {
        case int(Int), ints([Int]), float(Float), floats([Float]), string(String)
        /// A subgraph (a `Scan` body): its inputs are the values the body receives, in order.
        case graph(Subgraph)
    }

    /// A graph used as an attribute: `inputCount` formal float inputs, `body` computing from them
    /// (`.input(i)` is formal input i; constants only as `.tensor`, `.int64s` and fixed `.shape`),
    /// `outputs` its results.
    public struct Subgraph {
        public var inputCount: Int
        public var body: OpExport
        public var outputs: [Value]
        /// Creates a subgraph description.
        public init(inputCount: Int, body: OpExport, outputs: [Value]) {
            (self.inputCount, self.body, self.outputs) = (inputCount, body, outputs)
        }
    }

    /// One node: its type, inputs (nil: the op's inputs in order) and attributes.
    public struct Node {
        public var opType: String
        public var inputs: [Value]?
        public var attributes: [String: Attribute]
        public var outputCount: Int
        /// Creates a node description.
        public init(_ opType: String, inputs: [Value]? = nil, attributes: [String: Attribute] = [:], outputCount: Int = 1) {
            (self.opType, self.inputs, self.attributes, self.outputCount) = (opType, inputs, attributes, outputCount)
        }
    }

    /// The nodes, in order.
    public var nodes: [Node]
    /// Which value is the op's result (by default the first output of the last node).
    public var result: Value

    /// A description of several nodes; the result is `result` or the last node's first output.
    public init(nodes: [Node], result: Value? = nil) {
        self.nodes = nodes
        self.result = result ?? .node(nodes.count - 1, output: 0)
    }

    /// A description of one node over `inputs` (nil: the op's inputs in order).
    public init(_ opType: String, inputs: [Value]? = nil, attributes: [String: Attribute] = [:]) {
        self.init(nodes: [Node(opType, inputs: inputs, attributes: attributes)])
    }

    /// The op's result is its first input itself (a view that changes nothing in the graph).
    public static var identity: OpExport { OpExport(nodes: [], result: .input(0)) }

    /// ONNX's element types FLOAT and INT64 (a `Cast`'s `to`).
    public static let floatType = 1, int64Type = 7
}

extension OpExport.Node {
    /// A `Cast` of index values (integers stored as Float) to int64.
    public static func castToInt64(_ value: OpExport.Value) -> OpExport.Node {
        .init("Cast", inputs: [value], attributes: ["to": .int(OpExport.int64Type)])
    }
}

/// The ops run on this thread while a trace records: each op's inputs, output and export
/// description, in order. Start one with ``record(_:)``.
public final class ExportTrace {
    /// One op call: `export` is nil when the op has no description (the exporter then throws,
    /// naming `op` and `modulePath`, the running module's path).
    public struct Step {
        public let op: String
        public let inputs: [Tensor?]
        public let output: Tensor
        public let export: OpExport?
        public let modulePath: String?
    }

    /// The steps recorded, in call order.
    public private(set) var steps: [Step] = []
    /// Depth of nested op forwards and hidden regions (nothing recorded inside).
    private var hidden = 0

    /// Traces running on any thread: the no-trace path reads only this.
    nonisolated(unsafe) private static var running = 0

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    /// The trace recording on this thread, if any.
    private static var current: ExportTrace? {
        get { pthread_getspecific(key).map { Unmanaged<ExportTrace>.fromOpaque($0).takeUnretainedValue() } }
        set { pthread_setspecific(key, newValue.map { Unmanaged.passUnretained($0).toOpaque() }) }
    }

    /// Runs `body` while recording every op it calls on this thread (ops called inside another
    /// op's forward are part of that op and are not recorded); returns `body`'s result and the trace.
    public static func record<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> (R, ExportTrace) {
        let trace = ExportTrace(), previous = current
        current = trace
        running += 1
        defer { running -= 1; current = previous }
        let result = try withExtendedLifetime(trace) { () throws(E) -> R in try body() }
        return (result, trace)
    }

    /// Runs `body` without recording its ops in this thread's trace (a module that writes its own
    /// nodes through ``append(op:inputs:output:export:)``).
    @inline(__always)
    public static func hiding<R>(_ body: () -> R) -> R {
        guard running > 0, let trace = current else { return body() }
        trace.hidden += 1
        defer { trace.hidden -= 1 }
        return body()
    }

    /// Records, when a trace records here, a step without an ONNX form named `op` (a module whose
    /// computation has no exportable form in its current settings): the export then throws,
    /// naming it and the module path.
    public static func recordUnsupported(_ op: String) {
        guard running > 0, let trace = current, trace.hidden == 0 else { return }
        trace.append(op: op, inputs: [], output: Tensor(scalar: 0), export: nil)
    }

    /// Whether a trace records ops called now on this thread.
    public static var isRecording: Bool { running > 0 && (current.map { $0.hidden == 0 } ?? false) }

    /// Records an op's step in this thread's trace when one records (the description is built only then).
    @inline(__always)
    static func note(_ name: String, inputs: [Tensor?], output: Tensor, export: () -> OpExport?) {
        guard running > 0, let trace = current, trace.hidden == 0 else { return }
        trace.append(op: name, inputs: inputs, output: output, export: export())
    }

    /// Adds a step unless recording is hidden here (inside an op's forward or a hidden region).
    public func append(op: String, inputs: [Tensor?], output: Tensor, export: OpExport?) {
        guard hidden == 0 else { return }
        steps.append(Step(op: op, inputs: inputs, output: output, export: export, modulePath: ShapeErrors.contextDescription?()))
    }
}
