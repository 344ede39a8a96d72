// The one entry point through which every op is declared. An op states its name, its inputs,
// its output shape and FLOPs, its forward (a kernel call) and its pullback; this file does the
// rest once for all of them:
// - shape-only inputs (model summaries): FLOPs are counted and a shape-only result of the declared
//   shape is returned without running the forward;
// - the forward runs without recording (what it calls inside is not part of the graph), and its
//   result is checked against the declared shape;
// - recording: only when gradients are on and some input requires them (the no-grad fast path);
//   the pullback receives the output's gradient and the output itself (detached, so a pullback
//   that needs it creates no reference cycle).

extension Tensor {
    /// The gradient of an op's output (first argument) and the output itself (second, detached) →
    /// one gradient per declared input, each of that input's shape, or nil where an input is nil or
    /// needs none. An input whose gradient was added in place (see ``accumulatingGradient``) also
    /// gets nil.
    public typealias Pullback = (_ gradient: Tensor, _ output: Tensor) -> [Tensor?]

    /// Declares a differentiable op and returns its result.
    ///
    ///     public func exp() -> Tensor {
    ///         Tensor.op("exp", inputs: [self], shape: shape) {
    ///             Elementwise.mapVectors(self, VectorMath.exp)
    ///         } pullback: { g, y in [g * y] }
    ///     }
    ///
    /// - Parameters:
    ///   - name: the op's name, for error messages and for what a shape-only result was made by.
    ///   - inputs: the tensors the result depends on (nil for an absent optional input, such as a
    ///     bias); the pullback returns one gradient per entry, in this order.
    ///   - shape: the result's shape (evaluated once, before the forward).
    ///   - flops: floating-point operations of the forward (a multiply-add counts as 2), counted
    ///     only for shape-only inputs (``FlopCounter``).
    ///   - forward: computes the result from the inputs; runs without recording, and only when no
    ///     input is shape-only.
    ///   - export: how the op is written in an ONNX graph (``OpExport``), built only while an
    ///     ``ExportTrace`` records; nil for an op that cannot be exported.
    ///   - pullback: see ``Pullback``; kept only when recording is on and an input requires
    ///     gradients.
    public static func op(_ name: String, inputs: [Tensor?], shape: [Int], flops: @autoclosure () -> Int = 0,
                          export: @autoclosure () -> OpExport? = nil,
                          forward: () -> Tensor, pullback: @escaping Pullback) -> Tensor {
        if let meta = shapeOnlyResult(name, inputs: inputs, shape: shape, flops: flops()) { return meta }
        let result = recorded(name, inputs: inputs, shape: shape, result: withoutGrad { ExportTrace.hiding(forward) }) { output in
            { g in pullback(g, output) }
        }
        ExportTrace.note(name, inputs: inputs, output: result, export: export)
        return result
    }

    /// Declares a differentiable op whose forward also saves values for its pullback (attention's
    /// per-row log-sum-exp, a pooling's argmax indices): `forward` returns the result and what
    /// the pullback receives as its third argument.
    public static func op<Saved>(_ name: String, inputs: [Tensor?], shape: [Int], flops: @autoclosure () -> Int = 0,
                                 export: @autoclosure () -> OpExport? = nil,
                                 forward: () -> (Tensor, Saved),
                                 pullback: @escaping (_ gradient: Tensor, _ output: Tensor, _ saved: Saved) -> [Tensor?]) -> Tensor {
        if let meta = shapeOnlyResult(name, inputs: inputs, shape: shape, flops: flops()) { return meta }
        let (result, saved) = withoutGrad { ExportTrace.hiding(forward) }
        let out = recorded(name, inputs: inputs, shape: shape, result: result) { output in
            { g in pullback(g, output, saved) }
        }
        ExportTrace.note(name, inputs: inputs, output: out, export: export)
        return out
    }

    /// `result` checked against the declared shape and, when gradients are on and an input
    /// requires them, recorded with the pullback that `makePullback` builds from the detached
    /// output (called only then, so the no-grad path allocates no closure).
    @inline(__always)
    private static func recorded(_ name: String, inputs: [Tensor?], shape: [Int], result: Tensor,
                                 makePullback: (_ output: Tensor) -> (Tensor) -> [Tensor?]) -> Tensor {
        require(result.shape == shape, "\(name): forward made a result of shape \(result.shape), declared \(shape)")
        guard willRecord(inputs: inputs) else { return result }
        // A forward may hand back an input itself (a reshape to the same shape): record on a view.
        let out = result.requiresGrad ? result.detached() : result
        let pullback = makePullback(out.detached())
        let present = inputs.compactMap { $0 }
        let declared = inputs.count
        // The engine pairs gradients with the inputs present; drop the absent inputs' slots.
        let absent = present.count == declared ? [] : inputs.indices.filter { inputs[$0] == nil }
        out.gradNode = GradNode(op: name, inputs: present) { g in
            var grads = pullback(g)
            require(grads.count == declared, "\(name): pullback returned \(grads.count) gradients for \(declared) inputs")
            for slot in absent.reversed() { grads.remove(at: slot) }
            return grads
        }
        out.requiresGrad = true
        return out
    }

    /// Declares an op without gradients (comparisons, argmax, index computations): its result never
    /// requires them. Shape-only inputs give a shape-only result, as for ``op(_:inputs:shape:flops:forward:pullback:)``.
    public static func op(_ name: String, inputs: [Tensor?], shape: [Int], flops: @autoclosure () -> Int = 0,
                          export: @autoclosure () -> OpExport? = nil, forward: () -> Tensor) -> Tensor {
        if let meta = shapeOnlyResult(name, inputs: inputs, shape: shape, flops: flops()) { return meta }
        let out = withoutGrad { ExportTrace.hiding(forward) }
        require(out.shape == shape, "\(name): forward made a result of shape \(out.shape), declared \(shape)")
        ExportTrace.note(name, inputs: inputs, output: out, export: export)
        return out
    }

    /// Whether an op over `inputs` called now will be recorded for autograd: gradients are on and
    /// an input requires them. For a forward that keeps state only its backward needs (the
    /// selective scan's checkpoints).
    public static func willRecord(inputs: [Tensor?]) -> Bool {
        GradMode.isEnabled && inputs.contains(where: { $0?.requiresGrad == true })
    }

    /// A shape-only result of `shape` (counting `flops`) when any input is shape-only, else nil.
    @inline(__always)
    private static func shapeOnlyResult(_ name: String, inputs: [Tensor?], shape: [Int], flops: @autoclosure () -> Int) -> Tensor? {
        guard inputs.contains(where: { $0?.isMeta == true }) else { return nil }
        FlopCounter.add(flops())
        return Tensor(metaShape: shape, madeBy: name)
    }
}
