import DeepCore

/// A model's structure checked without computing: each module call with its output shape,
/// parameter count and FLOPs, like torchinfo's table. Made by ``Module/summary(input:)`` (one
/// input) or `Module/summary(inputs:forward:)` (several, positional or named).
public struct Summary: CustomStringConvertible {
    /// One module call.
    public struct Row {
        /// Dotted path of the module ("" for the model itself).
        public let path: String
        /// The module's type name.
        public let typeName: String
        /// Nesting depth (0 for the model).
        public let depth: Int
        /// Shapes of the module call's inputs, in order (one for most modules; query, key and
        /// value for ``MultiheadAttention``; both streams for a fusion block).
        public let inputShapes: [[Int]]
        /// Shapes of the module call's outputs (one except for modules returning several).
        public let outputShapes: [[Int]]
        /// Shape of the module's (first) input.
        public var inputShape: [Int] { inputShapes.first ?? [] }
        /// Shape of the module's (first) output.
        public var outputShape: [Int] { outputShapes.first ?? [] }
        /// Parameters held directly by this module (not its children).
        public let parameterCount: Int
        /// FLOPs of this call including its children's (a multiply-add counts as 2).
        public let flops: Int
    }

    /// The module calls in the order they ran.
    public let rows: [Row]
    /// All parameter elements of the model.
    public let totalParameters: Int
    /// Parameter elements that require gradients.
    public let trainableParameters: Int
    /// FLOPs of one forward pass for the given input (a multiply-add counts as 2).
    public let totalFlops: Int
    /// The model's output shape.
    public let outputShape: [Int]

    public var description: String {
        func fmt(_ n: Int) -> String {
            let s = String(n)
            var out = ""
            for (i, c) in s.reversed().enumerated() { if i > 0 && i % 3 == 0 { out.append(",") }; out.append(c) }
            return String(out.reversed())
        }
        let header = ["Layer (type)", "Output Shape", "Param #", "FLOPs"]
        var table = rows.map { row -> [String] in
            let name = String(repeating: "  ", count: row.depth) + (row.path.isEmpty ? row.typeName : "\(row.path) (\(row.typeName))")
            let shapes = row.outputShapes.map { "\($0)" }.joined(separator: ", ")
            return [name, shapes, row.parameterCount == 0 ? "--" : fmt(row.parameterCount), fmt(row.flops)]
        }
        table.insert(header, at: 0)
        let widths = (0..<4).map { c in table.map { $0[c].count }.max() ?? 0 }
        let rule = String(repeating: "=", count: widths.reduce(0, +) + 6)
        var lines = [rule]
        for (i, r) in table.enumerated() {
            lines.append((0..<4).map { c in
                c == 0 ? r[c].padding(toLength: widths[c], withPad: " ", startingAt: 0)
                    : String(repeating: " ", count: widths[c] - r[c].count) + r[c]
            }.joined(separator: "  "))
            if i == 0 { lines.append(rule) }
        }
        lines.append(rule)
        lines.append("Total params: \(fmt(totalParameters))")
        lines.append("Trainable params: \(fmt(trainableParameters))")
        lines.append("Non-trainable params: \(fmt(totalParameters - trainableParameters))")
        lines.append("Total FLOPs: \(fmt(totalFlops))")
        lines.append(rule)
        return lines.joined(separator: "\n")
    }
}

/// A stitched model whose shapes do not fit, or whose forward reads element values (a summary
/// runs on shapes only), found by ``Module/summary(input:)``.
public struct ShapeMismatchError: Error, CustomStringConvertible {
    /// The failed check's message: the op, both shapes and the module path; or, for a forward
    /// that reads values (`item()`, `.scalars`), "reads the values of a shape-only tensor … (in
    /// module PATH)".
    public let message: String
    public var description: String { message }
}

extension Module {
    /// Runs this model's own forward on a shape-only input (no storage, no arithmetic), in
    /// evaluation mode, and tabulates each module call, like torchinfo's
    /// `summary(model, input_size=(1, 3, 224, 224))`.
    ///
    ///     print(try ResNet.resnet18().summary(input: [1, 3, 224, 224]))
    ///
    /// - Parameter input: the input shape, e.g. `[1, 3, 224, 224]`.
    /// - Throws: ``ShapeMismatchError`` naming the module path and the two shapes when the
    ///   model's parts do not fit, or the module whose forward reads element values.
    public func summary(input: [Int]) throws -> Summary {
        try summarize(inputs: [input]) { self($0[0]) }
    }

    /// The summary of a model called with several inputs (torchinfo's
    /// `summary(model, input_size=[(1, 3, 32, 32), (1, 16)])`): `forward` receives shape-only
    /// tensors of the given shapes, in order, and calls the model as its own signature wants.
    ///
    ///     let s = try model.summary(inputs: [[1, 3, 32, 32], [1, 16]]) { x in model(image: x[0], text: x[1]) }
    ///
    /// The model's row lists every input shape (``Summary/Row/inputShapes``), and so does the
    /// row of each module called with several tensors.
    ///
    /// - Parameters:
    ///   - inputs: the input shapes, e.g. `[[1, 3, 32, 32], [1, 16]]`.
    ///   - forward: calls the model on the inputs (shape-only tensors of those shapes).
    /// - Throws: ``ShapeMismatchError``, as ``summary(input:)``.
    public func summary(inputs: [[Int]], forward: ([Tensor]) -> Tensor) throws -> Summary {
        try summarize(inputs: inputs, forward)
    }

    /// The summary of a model whose inputs have names (torchinfo's `input_data` as a dict):
    /// `forward` receives shape-only tensors by name; the model's row lists their shapes in the
    /// order written.
    ///
    ///     let s = try model.summary(inputs: ["image": [1, 3, 32, 32], "text": [1, 16]]) { x in
    ///         model(image: x["image"]!, text: x["text"]!)
    ///     }
    ///
    /// - Parameters:
    ///   - inputs: each input's name and shape.
    ///   - forward: calls the model on the inputs (shape-only tensors by name).
    /// - Throws: ``ShapeMismatchError``, as ``summary(input:)``.
    public func summary(inputs: KeyValuePairs<String, [Int]>, forward: ([String: Tensor]) -> Tensor) throws -> Summary {
        let names = inputs.map(\.key)
        return try summarize(inputs: inputs.map(\.value)) { tensors in
            forward(Dictionary(zip(names, tensors), uniquingKeysWith: { first, _ in first }))
        }
    }

    /// Runs `forward` on shape-only tensors of shapes `inputs` as a call of this module, in
    /// evaluation mode, recording each module call through the module scope's hooks.
    private func summarize(inputs: [[Int]], _ forward: ([Tensor]) -> Tensor) throws -> Summary {
        let wasTraining = isTraining
        eval()
        defer { train(wasTraining) }
        let stack = ModuleScope.current
        var rows: [Summary.Row] = []
        var open: [(index: Int, flopsAtStart: Int, inputShapes: [[Int]])] = []
        var pending: [Int: Summary.Row] = [:]
        let savedWill = stack.willRun, savedDid = stack.didRun
        let baseDepth = stack.modules.count
        stack.willRun = { _, xs in
            // A placeholder keeps the rows in the order the calls started.
            rows.append(Summary.Row(path: "", typeName: "", depth: 0, inputShapes: [], outputShapes: [],
                                    parameterCount: 0, flops: 0))
            open.append((rows.count - 1, FlopCounter.total, xs.map(\.shape)))
        }
        stack.didRun = { s, ys in
            let (index, start, inputShapes) = open.removeLast()
            let module = s.modules.last!
            let chain = Array(s.modules[baseDepth...])
            let path = chain.count > 1 ? ModuleScope.path(of: chain) : ""
            pending[index] = Summary.Row(path: path, typeName: module.typeName, depth: chain.count - 1,
                                         inputShapes: inputShapes, outputShapes: ys.map(\.shape),
                                         parameterCount: module.namedLocalParameters().reduce(0) { $0 + $1.1.count },
                                         flops: FlopCounter.total - start)
        }
        defer { stack.willRun = savedWill; stack.didRun = savedDid }
        let flopsBefore = FlopCounter.total
        let tensors = inputs.map { Tensor(metaShape: $0) }
        let (output, failure) = ShapeErrors.recording {
            ModuleScope.run(self, inputs: tensors, outputs: { [$0] }) { forward(tensors) }
        }
        if let failure { throw ShapeMismatchError(message: failure) }
        let finished = rows.indices.compactMap { pending[$0] }
        let params = parameters
        return Summary(rows: finished, totalParameters: params.reduce(0) { $0 + $1.count },
                       trainableParameters: params.filter(\.requiresGrad).reduce(0) { $0 + $1.count },
                       totalFlops: FlopCounter.total - flopsBefore, outputShape: output?.shape ?? [])
    }
}
