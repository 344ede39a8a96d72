import DeepCore
import Foundation

/// Turns the steps of an ``ExportTrace`` into an ONNX graph: one or more nodes per step from its
/// ``OpExport``, parameters and buffers as initializers under their state-dict names, other
/// constants as anonymous initializers.
///
/// Dynamic axes: the forward is traced once more per dynamic axis with that axis doubled (the
/// variants). A target shape (`OpExport.Value.shape`) whose entries change with an axis gets
/// them computed from the input's size (`-1` in a Reshape with one such entry, else `Shape` →
/// `Slice` → `Mul`/`Div` → `Concat`); anything else that changes (an attribute, a constant, the
/// list of ops) throws ``ONNXExportError`` of kind `.inputDependent` rather than fixing a wrong number.
struct ONNXGraphBuilder {
    /// One variant trace: the dynamic axis of the input it doubled, its size in the base trace, and
    /// the variant's steps.
    struct Variant {
        let axis: Int
        let baseSize: Int
        let steps: [ExportTrace.Step]
        let outputShape: [Int]
    }

    private(set) var graph = Onnx_GraphProto()
    private var names: [ObjectIdentifier: String] = [:]
    /// The same names by what a tensor views, so that a detached view of a traced value (an
    /// index tensor an op detaches) is that value.
    private var namesByView: [ViewKey: String] = [:]
    private let parameterNames: [ObjectIdentifier: String]
    private let parameterViews: [ViewKey: String]
    private var initialized: Set<String> = []
    private var counter = 0
    private let inputName: String
    /// The 1-D int64 value holding the input's size along each dynamic axis, once made.
    private var axisSizes: [Int: String] = [:]

    /// A builder whose graph input `inputName` is `input`; `parameters` are the model's named
    /// parameters and buffers.
    init(input: Tensor, inputName: String, parameters: [(String, Tensor)]) {
        var byTensor: [ObjectIdentifier: String] = [:], byView: [ViewKey: String] = [:]
        for (name, tensor) in parameters where byTensor[ObjectIdentifier(tensor)] == nil {
            byTensor[ObjectIdentifier(tensor)] = name
            if byView[ViewKey(tensor)] == nil { byView[ViewKey(tensor)] = name }
        }
        (parameterNames, parameterViews) = (byTensor, byView)
        self.inputName = inputName
        setName(inputName, for: input)
    }

    /// What a tensor views: its storage and layout.
    private struct ViewKey: Hashable {
        let storage: ObjectIdentifier
        let offset: Int
        let shape: [Int], strides: [Int]
        init(_ t: Tensor) { (storage, offset, shape, strides) = (ObjectIdentifier(t.storage), t.offset, t.shape, t.strides) }
    }

    private mutating func setName(_ name: String, for tensor: Tensor) {
        names[ObjectIdentifier(tensor)] = name
        if namesByView[ViewKey(tensor)] == nil { namesByView[ViewKey(tensor)] = name }
    }

    /// The name of the value `tensor` holds in the graph: made by a traced step, the input, a
    /// parameter, or a new anonymous constant (then checked unchanged in the variants' `others`).
    mutating func name(of tensor: Tensor, others: [Tensor?], step: ExportTrace.Step) throws(ONNXExportError) -> String {
        let id = ObjectIdentifier(tensor)
        if let name = names[id] ?? namesByView[ViewKey(tensor)] { return name }
        if let name = parameterNames[id] ?? parameterViews[ViewKey(tensor)] {
            addInitializer(name: name, tensor)
            names[id] = name
            return name
        }
        for other in others where other.map({ $0.shape != tensor.shape || $0.scalars != tensor.scalars }) ?? true {
            throw ONNXExportError(.inputDependent, "a constant of shape \(tensor.shape) used by \(step.op)\(where: step) "
                + "changes with a dynamic axis or with the input's values (built outside traced ops?)")
        }
        let name = fresh("const")
        addInitializer(name: name, tensor)
        names[id] = name
        return name
    }

    /// Adds the nodes of `step` (number `index`), comparing it with the same step of each variant.
    mutating func add(_ step: ExportTrace.Step, index: Int, variants: [Variant]) throws(ONNXExportError) {
        guard let export = step.export else {
            throw ONNXExportError(.unsupportedOp, "\(step.op)\(where: step) has no ONNX form")
        }
        let others = try variants.map { variant throws(ONNXExportError) -> (Variant, OpExport) in
            let other = variant.steps[index]
            guard other.op == step.op, let description = other.export, description.nodes.count == export.nodes.count else {
                throw ONNXExportError(.inputDependent, "the forward runs other ops when axis \(variant.axis) changes (\(step.op) "
                    + "became \(other.op)\(where: step))")
            }
            return (variant, description)
        }
        var outputs: [[String]] = []
        for (n, node) in export.nodes.enumerated() {
            var proto = Onnx_NodeProto()
            proto.opType = node.opType
            proto.name = "\(step.op)_\(index)" + (export.nodes.count > 1 ? "_\(n)" : "")
            let inputs = node.inputs ?? step.inputs.indices.map { .input($0) }
            for (slot, value) in inputs.enumerated() {
                let otherValues = others.map { variant, description in
                    (variant, (description.nodes[n].inputs ?? step.inputs.indices.map { .input($0) })[slot], variant.steps[index])
                }
                proto.input.append(try resolve(value, others: otherValues, step: step, outputs: outputs,
                                               isReshape: node.opType == "Reshape"))
            }
            while proto.input.last == "" { proto.input.removeLast() }
            for (key, attribute) in node.attributes.sorted(by: { $0.key < $1.key }) {
                for (_, description) in others where description.nodes[n].attributes[key].map({ !$0.sameNumbers(as: attribute) }) ?? true {
                    throw ONNXExportError(.inputDependent, "attribute \(key) of \(step.op)\(where: step) changes with a dynamic axis")
                }
                if case .graph(let subgraph) = attribute {
                    proto.attribute.append(try subgraphAttribute(key, subgraph, step: step))
                } else {
                    proto.attribute.append(try attribute.proto(named: key, step: step))
                }
            }
            let names = (0..<node.outputCount).map { _ in fresh(step.op) }
            proto.output = names
            outputs.append(names)
            graph.node.append(proto)
        }
        let result = try resolve(export.result, others: [], step: step, outputs: outputs, isReshape: false)
        setName(result, for: step.output)
    }

    /// The graph value for `value`; `others` are the same value in each variant (with its step).
    private mutating func resolve(_ value: OpExport.Value, others: [(Variant, OpExport.Value, ExportTrace.Step)],
                                  step: ExportTrace.Step, outputs: [[String]], isReshape: Bool) throws(ONNXExportError) -> String {
        switch value {
        case .absent:
            return ""
        case .input(let i):
            guard let tensor = step.inputs[i] else { return "" }
            return try name(of: tensor, others: others.map { $0.2.inputs[i] }, step: step)
        case .node(let n, let output):
            return outputs[n][output]
        case .tensor(let tensor):
            return try name(of: tensor, others: others.map { if case .tensor(let t) = $0.1 { t } else { nil } }, step: step)
        case .int64s(let values):
            for (_, other, _) in others {
                guard case .int64s(let v) = other, v == values else {
                    throw ONNXExportError(.inputDependent, "an index list of \(step.op)\(where: step) changes with a dynamic axis")
                }
            }
            return addInt64s(values)
        case .shape(let dims):
            return try shape(dims, others: others, step: step, isReshape: isReshape)
        }
    }

    /// A 1-D int64 target shape: fixed entries as they are, entries that change with a dynamic
    /// axis computed from the input's size along it.
    private mutating func shape(_ dims: [Int], others: [(Variant, OpExport.Value, ExportTrace.Step)],
                                step: ExportTrace.Step, isReshape: Bool) throws(ONNXExportError) -> String {
        // For each entry that changes: (axis, multiplier, divisor).
        var dynamic: [Int: (axis: Int, times: Int, over: Int)] = [:]
        for (variant, other, _) in others {
            guard case .shape(let v) = other, v.count == dims.count else {
                throw ONNXExportError(.inputDependent, "the rank of a shape of \(step.op)\(where: step) changes with axis \(variant.axis)")
            }
            for d in dims.indices where v[d] != dims[d] {
                let size = variant.baseSize
                guard dynamic[d] == nil, v[d] == 2 * dims[d], dims[d] > 0,
                      dims[d] % size == 0 || size % dims[d] == 0 else {
                    throw ONNXExportError(.inputDependent, "entry \(d) of shape \(dims) of \(step.op)\(where: step) is not "
                        + "proportional to one dynamic axis")
                }
                dynamic[d] = dims[d] % size == 0 ? (variant.axis, dims[d] / size, 1) : (variant.axis, 1, size / dims[d])
            }
        }
        if dynamic.isEmpty { return addInt64s(dims) }
        if isReshape && dynamic.count == 1, let d = dynamic.keys.first {
            var target = dims
            target[d] = -1
            return addInt64s(target)
        }
        var pieces: [String] = []
        var fixed: [Int] = []
        for d in dims.indices {
            guard let (axis, times, over) = dynamic[d] else { fixed.append(dims[d]); continue }
            if !fixed.isEmpty { pieces.append(addInt64s(fixed)); fixed = [] }
            var piece = axisSize(axis)
            if times != 1 { piece = addNode("Mul", [piece, addInt64s([times])]) }
            if over != 1 { piece = addNode("Div", [piece, addInt64s([over])]) }
            pieces.append(piece)
        }
        if !fixed.isEmpty { pieces.append(addInt64s(fixed)) }
        return addNode("Concat", pieces, attributes: [Self.intAttribute("axis", 0)])
    }

    /// The input's size along `axis` as a 1-D int64 value of one entry.
    private mutating func axisSize(_ axis: Int) -> String {
        if let name = axisSizes[axis] { return name }
        let shape = addNode("Shape", [inputName])
        let name = addNode("Slice", [shape, addInt64s([axis]), addInt64s([axis + 1])])
        axisSizes[axis] = name
        return name
    }

    /// Appends a node of one output and returns the output's name.
    private mutating func addNode(_ opType: String, _ inputs: [String], attributes: [Onnx_AttributeProto] = []) -> String {
        var node = Onnx_NodeProto()
        node.opType = opType
        node.input = inputs
        node.attribute = attributes
        let output = fresh(opType.lowercased())
        node.name = output
        node.output = [output]
        graph.node.append(node)
        return output
    }

    /// Appends an Identity node from `value` to the graph output `name`.
    mutating func addOutput(_ value: String, name: String) {
        var node = Onnx_NodeProto()
        node.opType = "Identity"
        node.name = "output_identity"
        node.input = [value]
        node.output = [name]
        graph.node.append(node)
    }

    /// The graph value of a traced tensor (the result of a step, or the input).
    func value(of tensor: Tensor) -> String? { names[ObjectIdentifier(tensor)] }

    private mutating func fresh(_ stem: String) -> String {
        counter += 1
        return "\(stem)_\(counter)"
    }

    private mutating func addInt64s(_ values: [Int]) -> String {
        let tensor = Self.int64Tensor(fresh("ints"), values)
        graph.initializer.append(tensor)
        return tensor.name
    }

    private mutating func addInitializer(name: String, _ tensor: Tensor) {
        guard initialized.insert(name).inserted else { return }
        graph.initializer.append(Self.floatTensor(name, tensor))
    }

    /// A 1-D int64 initializer.
    static func int64Tensor(_ name: String, _ values: [Int]) -> Onnx_TensorProto {
        var tensor = Onnx_TensorProto()
        tensor.name = name
        tensor.dataType = Int32(Onnx_TensorProto.DataType.int64.rawValue)
        tensor.dims = [Int64(values.count)]
        tensor.int64Data = values.map(Int64.init)
        return tensor
    }

    /// A float initializer holding `tensor`'s values, little-endian.
    static func floatTensor(_ name: String, _ tensor: Tensor) -> Onnx_TensorProto {
        var proto = Onnx_TensorProto()
        proto.name = name
        proto.dataType = Int32(Onnx_TensorProto.DataType.float.rawValue)
        proto.dims = tensor.shape.map(Int64.init)
        proto.rawData = tensor.scalars.withUnsafeBufferPointer { Data(buffer: $0) }
        return proto
    }

    /// A float tensor's value info with `dims`, or of any shape when nil.
    static func valueInfo(_ name: String, dims: [ONNXDimension]?) -> Onnx_ValueInfoProto {
        var tensorType = Onnx_TypeProto.Tensor()
        tensorType.elemType = Int32(Onnx_TensorProto.DataType.float.rawValue)
        if let dims {
            var shape = Onnx_TensorShapeProto()
            shape.dim = dims.map { dim in
                var d = Onnx_TensorShapeProto.Dimension()
                switch dim {
                case .size(let n): d.dimValue = Int64(n)
                case .symbol(let s): d.dimParam = s
                }
                return d
            }
            tensorType.shape = shape
        }
        var type = Onnx_TypeProto()
        type.tensorType = tensorType
        var info = Onnx_ValueInfoProto()
        info.name = name
        info.type = type
        return info
    }

    /// A graph attribute (a `Scan` body) from its description: formal float inputs, nodes,
    /// constants as the subgraph's own initializers, and its outputs through Identity nodes.
    private mutating func subgraphAttribute(_ key: String, _ subgraph: OpExport.Subgraph,
                                            step: ExportTrace.Step) throws(ONNXExportError) -> Onnx_AttributeProto {
        var body = Onnx_GraphProto()
        body.name = fresh("\(step.op)_\(key)")
        let inputs = (0..<subgraph.inputCount).map { _ in fresh("body_input") }
        body.input = inputs.map { Self.valueInfo($0, dims: nil) }
        var outputs: [[String]] = []
        func name(of value: OpExport.Value) throws(ONNXExportError) -> String {
            switch value {
            case .absent: return ""
            case .input(let i): return inputs[i]
            case .node(let n, let output): return outputs[n][output]
            case .tensor(let tensor):
                body.initializer.append(Self.floatTensor(fresh("body_const"), tensor))
            case .int64s(let values), .shape(let values):
                body.initializer.append(Self.int64Tensor(fresh("body_ints"), values))
            }
            return body.initializer[body.initializer.count - 1].name
        }
        for node in subgraph.body.nodes {
            var proto = Onnx_NodeProto()
            proto.opType = node.opType
            proto.name = fresh("body_\(node.opType)")
            for value in node.inputs ?? [] { proto.input.append(try name(of: value)) }
            for (key, attribute) in node.attributes.sorted(by: { $0.key < $1.key }) {
                proto.attribute.append(try attribute.proto(named: key, step: step))
            }
            proto.output = (0..<node.outputCount).map { _ in fresh("body_\(node.opType.lowercased())") }
            outputs.append(proto.output)
            body.node.append(proto)
        }
        for value in subgraph.outputs {
            var identity = Onnx_NodeProto()
            identity.opType = "Identity"
            identity.input = [try name(of: value)]
            identity.output = [fresh("body_output")]
            identity.name = identity.output[0]
            body.node.append(identity)
            body.output.append(Self.valueInfo(identity.output[0], dims: nil))
        }
        var attribute = Onnx_AttributeProto()
        attribute.name = key
        attribute.type = .graph
        attribute.g = body
        return attribute
    }

    static func intAttribute(_ name: String, _ value: Int) -> Onnx_AttributeProto {
        var attribute = Onnx_AttributeProto()
        attribute.name = name
        attribute.type = .int
        attribute.i = Int64(value)
        return attribute
    }
}

extension OpExport.Attribute {
    /// Whether both hold the same numbers and strings (subgraphs are compared by their steps).
    func sameNumbers(as other: OpExport.Attribute) -> Bool {
        switch (self, other) {
        case (.int(let a), .int(let b)): a == b
        case (.ints(let a), .ints(let b)): a == b
        case (.float(let a), .float(let b)): a == b
        case (.floats(let a), .floats(let b)): a == b
        case (.string(let a), .string(let b)): a == b
        case (.graph, .graph): true
        default: false
        }
    }

    /// The attribute as a protobuf message named `name`.
    func proto(named name: String, step: ExportTrace.Step) throws(ONNXExportError) -> Onnx_AttributeProto {
        var attribute = Onnx_AttributeProto()
        attribute.name = name
        switch self {
        case .int(let v): attribute.type = .int; attribute.i = Int64(v)
        case .ints(let v): attribute.type = .ints; attribute.ints = v.map(Int64.init)
        case .float(let v): attribute.type = .float; attribute.f = v
        case .floats(let v): attribute.type = .floats; attribute.floats = v
        case .string(let v): attribute.type = .string; attribute.s = Data(v.utf8)
        case .graph:
            throw ONNXExportError(.unsupportedOp, "\(step.op)\(where: step) nests a subgraph in a subgraph, which the exporter does not write")
        }
        return attribute
    }
}

extension String.StringInterpolation {
    /// " in module <path>" for a step run inside a module, else nothing.
    mutating func appendInterpolation(where step: ExportTrace.Step) {
        if let path = step.modulePath { appendLiteral(" in module \(path)") }
    }
}
