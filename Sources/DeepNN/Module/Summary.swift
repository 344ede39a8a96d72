import DeepCore

/// A model's structure checked without computing: each module call with its output shape,
/// parameter count and FLOPs, like torchinfo's table. Made by ``Module/summary(input:)``.
public struct Summary: CustomStringConvertible {
    /// One module call.
    public struct Row {
        /// Dotted path of the module ("" for the model itself).
        public let path: String
        /// The module's type name.
        public let typeName: String
        /// Nesting depth (0 for the model).
        public let depth: Int
        /// Shape of the module's input.
        public let inputShape: [Int]
        /// Shape of the module's output.
        public let outputShape: [Int]
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
            return [name, "\(row.outputShape)", row.parameterCount == 0 ? "--" : fmt(row.parameterCount), fmt(row.flops)]
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

/// A stitched model whose shapes do not fit, found by ``Module/summary(input:)``.
public struct ShapeMismatchError: Error, CustomStringConvertible {
    /// The failed check's message: the op, both shapes and the module path.
    public let message: String
    public var description: String { message }
}

extension Module {
    /// Runs this model's own forward on a shape-only input (no storage, no arithmetic), in
    /// evaluation mode, and tabulates each module call.
    ///
    /// - Parameter input: the input shape, e.g. `[1, 3, 224, 224]`.
    /// - Throws: ``ShapeMismatchError`` naming the module path and the two shapes when the
    ///   model's parts do not fit.
    public func summary(input: [Int]) throws -> Summary {
        let wasTraining = isTraining
        eval()
        defer { train(wasTraining) }
        let root = self
        let stack = ModuleScope.current
        var rows: [Summary.Row] = []
        var open: [(index: Int, flopsAtStart: Int)] = []
        var pending: [Int: Summary.Row] = [:]
        let savedWill = stack.willRun, savedDid = stack.didRun
        let baseDepth = stack.modules.count
        stack.willRun = { s, x in
            rows.append(Summary.Row(path: "", typeName: "", depth: 0, inputShape: x.shape, outputShape: [],
                                    parameterCount: 0, flops: 0))
            open.append((rows.count - 1, FlopCounter.total))
            _ = s
        }
        stack.didRun = { s, y in
            let (index, start) = open.removeLast()
            let module = s.modules.last!
            let chain = Array(s.modules[baseDepth...])
            let path = chain.count > 1 ? ModuleScope.path(of: chain) : ""
            pending[index] = Summary.Row(path: path, typeName: module.typeName, depth: chain.count - 1,
                                         inputShape: rows[index].inputShape, outputShape: y.shape,
                                         parameterCount: module.namedLocalParameters().reduce(0) { $0 + $1.1.count },
                                         flops: FlopCounter.total - start)
        }
        defer { stack.willRun = savedWill; stack.didRun = savedDid }
        let flopsBefore = FlopCounter.total
        let (output, failure) = ShapeErrors.recording { root(Tensor(metaShape: input)) }
        if let failure { throw ShapeMismatchError(message: failure) }
        let finished = rows.indices.compactMap { pending[$0] }
        let params = parameters
        return Summary(rows: finished, totalParameters: params.reduce(0) { $0 + $1.count },
                       trainableParameters: params.filter(\.requiresGrad).reduce(0) { $0 + $1.count },
                       totalFlops: FlopCounter.total - flopsBefore, outputShape: output.shape)
    }
}
