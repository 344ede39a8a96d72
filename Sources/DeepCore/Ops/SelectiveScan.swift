// The differentiable selective scan (mamba-ssm's `selective_scan_ref`) over the fused kernels of
// `SelectiveScanKernels`: shape checks, packing of A, B, C into the kernels' layout (state axis
// innermost, padded to whole vectors), the checkpoints for the backward, and unpacking of the
// gradients to the operands' shapes; and the decoding step that advances a state by one token.

/// Mamba's selective scan, with the semantics of mamba-ssm's `selective_scan_ref`.
///
/// Letters: Bt batch, D channels, L length, N state size, G groups.
///
///     Δ = softplus(delta + deltaBias)            (softplus and bias each optional)
///     h_t = exp(Δ_t·A) ⊙ h_{t−1} + Δ_t·u_t·B_t     (h_{−1} = 0; h: (Bt, D, N))
///     y_t = ⟨h_t, C_t⟩ + D·u_t,   out = y · silu(z)  (when z is given)
///
/// One fused pass per (batch, channel) keeps the state in registers; the backward recomputes the
/// states from checkpoints every K = max(64, N) steps, so training memory grows with L, not with
/// L·N. Gradients flow to every operand.
///
/// - Parameters:
///   - u: (Bt, D, L) input.
///   - delta: (Bt, D, L) step sizes before bias and softplus.
///   - A: (D, N) state matrix (diagonal per channel), usually negative.
///   - B: (D, N) constant, (Bt, N, L) input-dependent, or (Bt, G, N, L) grouped: channel d uses
///     group d / (D/G).
///   - C: like `B`; an input-dependent B and C must have the same number of groups.
///   - D: (D) skip connection, or nil.
///   - z: (Bt, D, L) gate, or nil.
///   - deltaBias: (D) added to delta, or nil.
///   - deltaSoftplus: whether Δ goes through softplus (threshold 20, as PyTorch).
/// - Returns: (Bt, D, L).
public func selectiveScan(_ u: Tensor, _ delta: Tensor, _ A: Tensor, _ B: Tensor, _ C: Tensor, _ D: Tensor? = nil,
                          z: Tensor? = nil, deltaBias: Tensor? = nil, deltaSoftplus: Bool = false) -> Tensor {
    scan(u, delta, A, B, C, D, z: z, deltaBias: deltaBias, deltaSoftplus: deltaSoftplus, keepingLastState: false).output
}

/// ``selectiveScan(_:_:_:_:_:_:z:deltaBias:deltaSoftplus:)`` that also returns the last state
/// h_{L−1}: (Bt, D, N) (`return_last_state=True`). Like mamba-ssm's `selective_scan_fn`, no
/// gradient flows back through the last state.
public func selectiveScanWithState(_ u: Tensor, _ delta: Tensor, _ A: Tensor, _ B: Tensor, _ C: Tensor, _ D: Tensor? = nil,
                                   z: Tensor? = nil, deltaBias: Tensor? = nil,
                                   deltaSoftplus: Bool = false) -> (output: Tensor, lastState: Tensor) {
    let result = scan(u, delta, A, B, C, D, z: z, deltaBias: deltaBias, deltaSoftplus: deltaSoftplus, keepingLastState: true)
    return (result.output, result.lastState!)
}

/// One decoding step of the selective scan (mamba-ssm's `selective_state_update`): for every
/// (batch, channel), Δ = softplus(delta + deltaBias), state ← exp(Δ·A) ⊙ state + Δ·u·B, and
/// y = (⟨state, C⟩ + D·u)·silu(z). Running a sequence through it step by step from a zero state
/// gives ``selectiveScan(_:_:_:_:_:_:z:deltaBias:deltaSoftplus:)``'s outputs (input-dependent
/// B and C, one group). Inference only: not differentiated.
///
/// - Parameters:
///   - state: (Bt, D, N), contiguous: the state before the step; updated in place.
///   - u, delta: (Bt, D) this step's input and step size (before bias and softplus).
///   - A: (D, N); B, C: (Bt, N); D: (D), or nil; z: (Bt, D), or nil; deltaBias: (D), or nil.
/// - Returns: (Bt, D).
public func selectiveScanStep(_ state: Tensor, _ u: Tensor, _ delta: Tensor, _ A: Tensor, _ B: Tensor, _ C: Tensor,
                              _ D: Tensor? = nil, z: Tensor? = nil, deltaBias: Tensor? = nil,
                              deltaSoftplus: Bool = false) -> Tensor {
    guard shapeCheck(state.rank == 3, "selectiveScanStep: state \(state.shape) is not (Bt, D, N)") else { return .shapeFailure }
    let (batch, channels, stateSize) = (state.shape[0], state.shape[1], state.shape[2])
    let rows = [batch, channels], vectors = [batch, stateSize]
    guard shapeCheck(u.shape == rows && delta.shape == rows && (z == nil || z!.shape == rows),
                     "selectiveScanStep: u \(u.shape), delta \(delta.shape), z \(z?.shape ?? []) are not (Bt, D) = \(rows)"),
          shapeCheck(A.shape == [channels, stateSize] && B.shape == vectors && C.shape == vectors,
                     "selectiveScanStep: A \(A.shape), B \(B.shape), C \(C.shape) are not (D, N), (Bt, N), (Bt, N) for state \(state.shape)"),
          shapeCheck((D == nil || D!.shape == [channels]) && (deltaBias == nil || deltaBias!.shape == [channels]),
                     "selectiveScanStep: D \(D?.shape ?? []) or deltaBias \(deltaBias?.shape ?? []) is not (\(channels))")
    else { return .shapeFailure }
    require(state.isContiguous, "selectiveScanStep: state \(state.shape) must be contiguous (it is updated in place)")
    return Tensor.op("selective_scan_step", inputs: [state, u, delta, A, B, C, D, z, deltaBias], shape: rows) {
        let (x, dt, a, b, c) = (u.contiguous(), delta.contiguous(), A.contiguous(), B.contiguous(), C.contiguous())
        let (skip, gate, bias) = (D?.contiguous(), z?.contiguous(), deltaBias?.contiguous())
        func read(_ t: Tensor) -> UnsafePointer<Float> { UnsafePointer(start(t)) }
        return Tensor.make(shape: rows) { out in
            withExtendedLifetime((x, dt, a, b, c, skip, gate, bias)) {
                SelectiveScanKernels.stepState(
                    batch: batch, channels: channels, stateSize: stateSize, state: start(state),
                    x: read(x), dt: read(dt), A: read(a), B: read(b), C: read(c), D: skip.map(read), z: gate.map(read),
                    deltaBias: bias.map(read), deltaSoftplus: deltaSoftplus, out: out.baseAddress!)
            }
        }
    }
}

/// The scan behind both public functions; the last state only when `keepingLastState`.
private func scan(_ u: Tensor, _ delta: Tensor, _ A: Tensor, _ B: Tensor, _ C: Tensor, _ D: Tensor?, z: Tensor?,
                  deltaBias: Tensor?, deltaSoftplus: Bool, keepingLastState: Bool) -> (output: Tensor, lastState: Tensor?) {
    let failure = (Tensor.shapeFailure, Tensor.shapeFailure)
    guard shapeCheck(u.rank == 3 && delta.shape == u.shape && A.rank == 2,
                     "selectiveScan: u \(u.shape) and delta \(delta.shape) must be (Bt, D, L) alike, A \(A.shape) (D, N)")
    else { return failure }
    let (batch, channels, length, stateSize) = (u.shape[0], u.shape[1], u.shape[2], A.shape[1])
    guard shapeCheck(A.shape[0] == channels && stateSize > 0, "selectiveScan: A \(A.shape) for \(channels) channels of u \(u.shape)"),
          shapeCheck(z == nil || z!.shape == u.shape, "selectiveScan: z \(z?.shape ?? []) differs from u \(u.shape)"),
          shapeCheck(D == nil || D!.shape == [channels], "selectiveScan: D \(D?.shape ?? []) is not (\(channels))"),
          shapeCheck(deltaBias == nil || deltaBias!.shape == [channels],
                     "selectiveScan: deltaBias \(deltaBias?.shape ?? []) is not (\(channels))"),
          let bGroups = operandGroups(B, "B", batch: batch, channels: channels, length: length, stateSize: stateSize),
          let cGroups = operandGroups(C, "C", batch: batch, channels: channels, length: length, stateSize: stateSize),
          shapeCheck(bGroups == nil || cGroups == nil || bGroups == cGroups,
                     "selectiveScan: B \(B.shape) and C \(C.shape) have different numbers of groups")
    else { return failure }
    let problem = SelectiveScanKernels.Problem(batch: batch, channels: channels, length: length, stateSize: stateSize,
                                               bGroups: bGroups.flatMap { $0 }, cGroups: cGroups.flatMap { $0 },
                                               deltaSoftplus: deltaSoftplus)
    let inputs = [u, delta, A, B, C, D, z, deltaBias]
    // The checkpoints for the backward are stored only when the op is recorded.
    let recording = Tensor.willRecord(inputs: inputs)
    let np = problem.paddedStateSize
    // Set by the forward; stays shape-only when the forward does not run (a summary).
    var lastState = keepingLastState ? Tensor(metaShape: [batch, channels, stateSize], madeBy: "selectiveScan") : nil
    let (shapeB, shapeC) = (B.shape, C.shape)
    // Two multiply-adds per state element and step: the state update and the output.
    // ONNX: a Scan over L (B and C of one group only).
    let export: OpExport? = B.rank == 3 && C.rank == 3
        ? OpExport.selectiveScan(channels: channels, stateSize: stateSize, skip: D != nil, gate: z != nil, deltaBias: deltaBias != nil,
                         deltaSoftplus: deltaSoftplus) : nil
    let output = Tensor.op("selective_scan", inputs: inputs, shape: [batch, channels, length],
                           flops: 2 * 2 * batch * channels * length * stateSize, export: export) {
        let operands = ScanOperands(problem, u: u, delta: delta, A: A, B: B, C: C, D: D, z: z, deltaBias: deltaBias)
        // The kernels write every element of the checkpoints and of each gradient below.
        let checkpoints = recording ? Tensor.make(shape: [batch, channels, problem.checkpointCount, np]) { _ in } : nil
        let paddedState = keepingLastState ? Tensor.make(shape: [batch, channels, np]) { _ in } : nil
        let output = Tensor.make(shape: [batch, channels, length]) { out in
            operands.withPointers { x in
                SelectiveScanKernels.forward(problem, x, out: out.baseAddress!, lastState: paddedState.map(start),
                                             checkpoints: checkpoints.map(start))
            }
        }
        lastState = paddedState?.narrowed(axis: 2, start: 0, length: stateSize).contiguous()
        return (output, (operands, checkpoints))
    } pullback: { g, _, saved in
        // The pullback runs only when the op was recorded, so the checkpoints exist.
        let (operands, checkpoints) = (saved.0, saved.1!)
        let dout = g.rank == 3 && (g.strides[2] == 0 || g.strides[2] == 1) ? g : g.contiguous()
        func written(_ shape: [Int]) -> Tensor { Tensor.make(shape: shape) { _ in } }
        // du, dΔ (and dz) are added straight into u's, delta's (and z's) existing gradients when
        // they all have one that the kernels do not also read; nil is then returned for them.
        let reads = [dout, checkpoints, operands.u, operands.delta] + [operands.z].compactMap { $0 }
        let existing = [u, delta] + [z].compactMap { $0 }
        let accumulators = existing.compactMap { $0.accumulatingGradient }
        let storages = Set((accumulators + reads).map { ObjectIdentifier($0.storage) })
        let accumulates = accumulators.count == existing.count && storages.count == accumulators.count + reads.count
        let du = accumulates ? accumulators[0] : written(u.shape), dDelta = accumulates ? accumulators[1] : written(u.shape)
        let dz = z.map { accumulates ? accumulators[2] : written($0.shape) }
        let dA = written([channels, np])
        let dB = written([problem.packedCount(groups: problem.bGroups)])
        let dC = written([problem.packedCount(groups: problem.cGroups)])
        let dD = D.map { written($0.shape) }, dBias = deltaBias.map { written($0.shape) }
        withExtendedLifetime(dout) {
            operands.withPointers { x in
                let grads = SelectiveScanKernels.Gradients(
                    u: start(du), delta: start(dDelta), z: dz.map(start),
                    A: start(dA), B: start(dB), C: start(dC),
                    D: dD.map(start), deltaBias: dBias.map(start), accumulatesInputs: accumulates)
                let gradient = SelectiveScanKernels.OutputGradient(
                    pointer: start(dout), batchStride: dout.strides[0],
                    channelStride: dout.strides[1], stepStride: dout.strides[2])
                SelectiveScanKernels.backward(problem, x, checkpoints: start(checkpoints),
                                              outputGradient: gradient, into: grads)
            }
        }
        return [accumulates ? nil : du, accumulates ? nil : dDelta,
                dA.narrowed(axis: 1, start: 0, length: stateSize).contiguous(),
                unpacked(dB, shape: shapeB, problem), unpacked(dC, shape: shapeC, problem),
                dD, accumulates ? nil : dz, dBias]
    }
    return (output, lastState)
}

/// The groups of an input-dependent B or C (1 for (Bt, N, L)), `.some(nil)` for a constant (D, N)
/// one, or nil after a failed shape check.
private func operandGroups(_ t: Tensor, _ name: String, batch: Int, channels: Int, length: Int, stateSize: Int) -> Int?? {
    switch t.rank {
    case 2:
        guard shapeCheck(t.shape == [channels, stateSize], "selectiveScan: constant \(name) \(t.shape) is not (D, N) = \([channels, stateSize])")
        else { return nil }
        return .some(nil)
    case 3:
        guard shapeCheck(t.shape == [batch, stateSize, length], "selectiveScan: \(name) \(t.shape) is not (Bt, N, L) = \([batch, stateSize, length])")
        else { return nil }
        return 1
    case 4:
        let g = t.shape[1]
        guard shapeCheck(t.shape == [batch, g, stateSize, length] && g > 0 && channels % g == 0,
                         "selectiveScan: grouped \(name) \(t.shape) is not (Bt, G, N, L) with G dividing D = \(channels)")
        else { return nil }
        return g
    default:
        shapeCheck(false, "selectiveScan: \(name) \(t.shape) must be (D, N), (Bt, N, L) or (Bt, G, N, L)")
        return nil
    }
}

/// The operands in the kernels' layout, kept alive for the backward.
private struct ScanOperands {
    let u: Tensor, delta: Tensor, z: Tensor?, A: Tensor, B: Tensor, C: Tensor, D: Tensor?, deltaBias: Tensor?

    init(_ p: SelectiveScanKernels.Problem, u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor,
         D: Tensor?, z: Tensor?, deltaBias: Tensor?) {
        func plain(_ t: Tensor) -> Tensor { withoutGrad { t.contiguous().detached() } }
        (self.u, self.delta, self.z) = (plain(u), plain(delta), z.map(plain))
        (self.D, self.deltaBias) = (D.map(plain), deltaBias.map(plain))
        self.A = packed(A, p)
        (self.B, self.C) = (packed(B, p), packed(C, p))
    }

    func withPointers<R>(_ body: (SelectiveScanKernels.Operands) -> R) -> R {
        func read(_ t: Tensor) -> UnsafePointer<Float> { UnsafePointer(start(t)) }
        return withExtendedLifetime(self) {
            body(SelectiveScanKernels.Operands(u: read(u), delta: read(delta), z: z.map(read), A: read(A), B: read(B),
                                               C: read(C), D: D.map(read), deltaBias: deltaBias.map(read)))
        }
    }
}

/// A (D, N), B or C ((D, N), (Bt, N, L), (Bt, G, N, L)) rearranged with the state axis innermost
/// and zero-padded to Np: (D, Np) or (Bt, G, L, Np).
private func packed(_ t: Tensor, _ p: SelectiveScanKernels.Problem) -> Tensor {
    let np = p.paddedStateSize
    let src = start(t), s = t.strides
    if t.rank == 2 {
        return Tensor.make(shape: [t.shape[0] * np]) { out in
            SelectiveScanKernels.packConstant(src, rows: t.shape[0], stateSize: t.shape[1], rowStride: s[0], stateStride: s[1],
                                              paddedStateSize: np, into: out)
        }
    }
    let (batch, groups, n, length) = t.rank == 3 ? (t.shape[0], 1, t.shape[1], t.shape[2])
                                                  : (t.shape[0], t.shape[1], t.shape[2], t.shape[3])
    let strides = t.rank == 3 ? (s[0], 0, s[1], s[2]) : (s[0], s[1], s[2], s[3])
    return Tensor.make(shape: [batch * groups * length * np]) { out in
        SelectiveScanKernels.packInputDependent(src, batch: batch, groups: groups, stateSize: n, length: length,
                                                strides: strides, paddedStateSize: np, into: out.baseAddress!)
    }
}

/// The inverse of `packed` for a gradient: back to `shape`.
private func unpacked(_ t: Tensor, shape: [Int], _ p: SelectiveScanKernels.Problem) -> Tensor {
    let np = p.paddedStateSize, src = start(t)
    if shape.count == 2 {
        return Tensor.make(shape: shape) { out in
            SelectiveScanKernels.unpackConstant(src, rows: shape[0], stateSize: shape[1], paddedStateSize: np, into: out.baseAddress!)
        }
    }
    let (n, length) = (shape[shape.count - 2], shape[shape.count - 1])
    return Tensor.make(shape: shape) { out in
        SelectiveScanKernels.unpackInputDependent(src, blocks: shape.dropLast(2).reduce(1, *), stateSize: n, length: length,
                                                  paddedStateSize: np, into: out.baseAddress!)
    }
}

/// The first element of `t` in its storage.
private func start(_ t: Tensor) -> UnsafeMutablePointer<Float> { t.storage.pointer + t.offset }

extension OpExport {
    /// The selective scan as ONNX nodes over its inputs (u, Δ, A, B, C, D, z, Δ bias): the
    /// per-step factors exp(Δ·A) and Δ·B·u for all L at once (B, D, L, N), then a `Scan` along L
    /// whose body is hₜ = exp(ΔₜA)·hₜ₋₁ + ΔₜBₜuₜ and yₜ = Σₙ hₜ·Cₜ, then y + D·u and y · silu(z).
    static func selectiveScan(channels: Int, stateSize: Int, skip: Bool, gate: Bool, deltaBias: Bool,
                              deltaSoftplus: Bool) -> OpExport {
        var nodes: [Node] = []
        func add(_ opType: String, _ inputs: [Value], _ attributes: [String: Attribute] = [:], outputs: Int = 1) -> Value {
            nodes.append(Node(opType, inputs: inputs, attributes: attributes, outputCount: outputs))
            return .node(nodes.count - 1, output: 0)
        }
        var delta = Value.input(1)
        if deltaBias { delta = add("Add", [delta, add("Reshape", [.input(7), .int64s([channels, 1])])]) }
        if deltaSoftplus { delta = add("Softplus", [delta]) }
        let delta4 = add("Unsqueeze", [delta, .int64s([3])])                                           // (B, D, L, 1)
        let decay = add("Exp", [add("Mul", [delta4, add("Reshape", [.input(2), .int64s([channels, 1, stateSize])])])])
        let bRows = add("Unsqueeze", [add("Transpose", [.input(3)], ["perm": .ints([0, 2, 1])]), .int64s([1])])  // (B, 1, L, N)
        let drive = add("Mul", [add("Mul", [delta4, bRows]), add("Unsqueeze", [.input(0), .int64s([3])])])   // (B, D, L, N)
        // The zero initial state (B, D, N), shaped from the drive.
        let initial = add("Mul", [add("Squeeze", [add("Gather", [drive, .int64s([0])], ["axis": .int(2)]), .int64s([2])]), .scalar(0)])
        let body = OpExport(nodes: [
            .init("Mul", inputs: [.input(1), .input(0)]),
            .init("Add", inputs: [.node(0, output: 0), .input(2)]),                                  // hₜ (B, D, N)
            .init("Unsqueeze", inputs: [.input(3), .int64s([1])]),                                   // Cₜ (B, 1, N)
            .init("Mul", inputs: [.node(1, output: 0), .node(2, output: 0)]),
            .init("ReduceSum", inputs: [.node(3, output: 0), .int64s([2])], attributes: ["keepdims": .int(0)]),
        ])
        _ = add("Scan", [initial, decay, drive, .input(4)],
                       ["body": .graph(Subgraph(inputCount: 4, body: body, outputs: [.node(1, output: 0), .node(4, output: 0)])),
                        "num_scan_inputs": .int(3), "scan_input_axes": .ints([2, 2, 2]), "scan_output_axes": .ints([2])],
                       outputs: 2)
        var y = Value.node(nodes.count - 1, output: 1)
        if skip { y = add("Add", [y, add("Mul", [add("Reshape", [.input(5), .int64s([channels, 1])]), .input(0)])]) }
        if gate { y = add("Mul", [y, add("Mul", [.input(6), add("Sigmoid", [.input(6)])])]) }
        return OpExport(nodes: nodes, result: y)
    }
}
