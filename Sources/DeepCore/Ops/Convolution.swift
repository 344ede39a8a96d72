// Convolution by lowering and GEMM.
//
// Per image and group, with K = (C/g)·kH·kW and P = H'·W':
//   forward        y_g  (C'/g × P) = W_g (C'/g × K) · col(x_g) (K × P)
//   weight grad    dW_g (C'/g × K) += dy_g · col(x_g)ᵀ               (summed over images)
//   input grad     dx_g = col2im(W_gᵀ · dy_g)
// The lowered matrix is built for a band of output rows at a time, sized to stay in L2; a 1×1
// stride-1 unpadded convolution multiplies the input itself. Images are split among threads,
// each running single-threaded GEMMs, which beats OpenBLAS's threading of these thin products
// (and parallelises the lowering). Small output planes lower a chunk of images into one matrix
// instead (ConvolutionBatched). Depthwise groups (one input channel) use direct loops,
// and 3×3 stride-1 convolutions with enough channels Winograd F(2×2, 3×3) (ConvolutionWinograd).
// A transposed convolution is the adjoint of a convolution: ConvolutionTranspose.swift runs the
// same plan with forward and input gradient swapped.

/// A 2-D convolution of a batch: everything the kernels need besides the buffers.
struct ConvolutionPlan {
    var batch: Int
    var groups: Int
    /// Sizes seen from one image and one group.
    var geometry: ConvGeometry
    /// Output channels of one group, C'/g.
    var outputChannelsPerGroup: Int

    var inputChannels: Int { groups * geometry.channels }
    var outputChannels: Int { groups * outputChannelsPerGroup }
    /// Elements of one input image, C·H·W.
    var inputImage: Int { inputChannels * geometry.inputPlane }
    /// Elements of one output image, C'·H'·W'.
    var outputImage: Int { outputChannels * geometry.outputPlane }
    /// Elements of one group's weights, (C'/g)·K.
    var weightGroup: Int { outputChannelsPerGroup * geometry.loweredRows }
    /// Elements of the weight, C'·K.
    var weightCount: Int { groups * weightGroup }
    /// Multiply-adds of the forward pass (each gradient costs the same).
    var work: Int { batch * outputChannels * geometry.outputPlane * geometry.loweredRows }

    /// Whether the groups are depthwise (one input channel, at most two output channels) and so
    /// run the direct loops: a GEMM with one or two rows is slower than them. With more output
    /// channels per input channel (a first layer on grey images) im2col and GEMM win.
    var isDepthwise: Bool { geometry.channels == 1 && outputChannelsPerGroup <= 2 && !geometry.isPointwise }

    /// Chunks the batch is cut into for the threads (see ``Parallel``): a count fixed by the
    /// shape, so that per-chunk partial sums of `accumulator` floats, added in chunk order, give
    /// the same result on any run; at most 8, and fewer when the partial sums would pass 32 MB.
    func imageChunks(accumulator: Int) -> Int {
        Swift.min(batch, Swift.max(1, Swift.min(8, (32 << 20) / Swift.max(1, accumulator * MemoryLayout<Float>.stride))))
    }

    /// Bytes of lowered matrix per thread that keep it, the weights and the output band in L2.
    nonisolated(unsafe) static var loweredBudget = 1 << 20

    /// Output rows per band of the lowered matrix: within the budget, bands of near-equal size.
    var rowsPerBand: Int {
        let g = geometry
        if g.isPointwise { return g.outputHeight }
        let rowBytes = g.loweredRows * g.outputWidth * MemoryLayout<Float>.stride
        let most = Swift.max(1, Swift.min(g.outputHeight, Self.loweredBudget / Swift.max(rowBytes, 1)))
        let bands = (g.outputHeight + most - 1) / most
        return (g.outputHeight + bands - 1) / bands
    }

    /// Bands `0..<H'` split into consecutive ranges of `rowsPerBand` rows.
    func bands() -> StrideTo<Int> { stride(from: 0, to: geometry.outputHeight, by: rowsPerBand) }

    /// y = conv(x, weight) + bias.
    ///
    /// - Parameters: x: (N, C, H, W); weight: (C', C/g, kH, kW); bias: (C') or nil;
    ///   y: (N, C', H', W'), fully written.
    func forward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                 into y: UnsafeMutablePointer<Float>) {
        if usesWinograd {
            winogradForward(x: x, weight: weight, bias: bias, into: y)
            return
        }
        if usesBatchedLowering {
            batchedForward(x: x, weight: weight, bias: bias, into: y)
            return
        }
        let g = geometry, P = g.outputPlane, K = g.loweredRows, M = outputChannelsPerGroup
        let fill = { (plane: UnsafeMutablePointer<Float>, channel: Int) in
            plane.update(repeating: bias?[channel] ?? 0, count: P)
        }
        if isDepthwise {
            Parallel.forEach(count: batch * outputChannels, work: work) { planes in
                for plane in planes {
                    let (n, co) = plane.quotientAndRemainder(dividingBy: outputChannels)
                    fill(y + plane * P, co)
                    DepthwiseKernel.forward(x + n * inputImage + (co / M) * g.inputPlane, weight + co * K, g, into: y + plane * P)
                }
            }
            return
        }
        let bandRows = rowsPerBand, bandSize = K * bandRows * g.outputWidth
        let workers = Parallel.workers(items: batch, work: work)
        let scratch = g.isPointwise ? nil : TensorStorage(uninitializedCount: workers * bandSize)
        Parallel.forEachChunk(count: batch, chunks: imageChunks(accumulator: 0), workers: workers) { worker, _, images in
            let col = scratch.map { $0.pointer + worker * bandSize }
            for n in images {
                let yn = y + n * outputImage
                if bias != nil { for co in 0..<outputChannels { fill(yn + co * P, co) } }
                for group in 0..<groups {
                    let xg = x + n * inputImage + group * g.channels * g.inputPlane
                    for start in bands() {
                        let rows = start..<Swift.min(start + bandRows, g.outputHeight)
                        let (lowered, ld) = lowering(xg, rows: rows, into: col)
                        Gemm.multiply(m: M, n: rows.count * g.outputWidth, k: K,
                                      a: weight + group * weightGroup, Gemm.Operand(transposed: false, leadingDimension: K),
                                      b: lowered, Gemm.Operand(transposed: false, leadingDimension: ld),
                                      beta: bias == nil ? 0 : 1,
                                      c: yn + group * M * P + start * g.outputWidth, ldc: P)
                    }
                }
            }
        }
    }

    /// The lowered matrix of one group's input planes `xg` for output rows `rows`, and its
    /// leading dimension: the input itself for a pointwise convolution, else im2col into `col`.
    @inline(__always)
    private func lowering(_ xg: UnsafePointer<Float>, rows: Range<Int>,
                          into col: UnsafeMutablePointer<Float>?) -> (UnsafePointer<Float>, Int) {
        let g = geometry
        guard let col else { return (xg + rows.lowerBound * g.outputWidth, g.outputPlane) }
        Im2col.lower(xg, g, outputRows: rows, into: col)
        return (UnsafePointer(col), rows.count * g.outputWidth)
    }

    /// The gradients of a convolution with respect to its input and weight.
    ///
    /// - Parameters: dy: (N, C', H', W'); x: (N, C, H, W), needed for `dw`; weight:
    ///   (C', C/g, kH, kW), needed for `dx`; dx: (N, C, H, W) and dw: (C', C/g, kH, kW), fully
    ///   written when given.
    func backward(outputGradient dy: UnsafePointer<Float>, x: UnsafePointer<Float>?, weight: UnsafePointer<Float>?,
                  inputGradient dx: UnsafeMutablePointer<Float>?, weightGradient dw: UnsafeMutablePointer<Float>?) {
        require((dw == nil || x != nil) && (dx == nil || weight != nil), "ConvolutionPlan.backward: missing operand")
        if usesWinograd {
            let images = StridedImages(contiguous: dy, channels: outputChannels, height: geometry.outputHeight, width: geometry.outputWidth)
            winogradBackward(outputGradient: images, x: x, weight: weight, inputGradient: dx, weightGradient: dw)
            return
        }
        if usesBatchedLowering {
            batchedBackward(outputGradient: dy, x: x, weight: weight, inputGradient: dx, weightGradient: dw)
            return
        }
        if isDepthwise {
            depthwiseBackward(outputGradient: dy, x: x, weight: weight, inputGradient: dx, weightGradient: dw)
            return
        }
        let g = geometry, P = g.outputPlane, K = g.loweredRows, M = outputChannelsPerGroup
        let bandRows = rowsPerBand, bandSize = K * bandRows * g.outputWidth
        let workers = Parallel.workers(items: batch, work: work)
        let scratch = g.isPointwise ? nil : TensorStorage(uninitializedCount: workers * bandSize)
        // Chunk 0 of the batch accumulates into dw, the others into partial sums added in order.
        let chunks = imageChunks(accumulator: dw == nil ? 0 : weightCount)
        let partials = dw != nil && chunks > 1 ? TensorStorage(count: (chunks - 1) * weightCount, repeating: 0) : nil
        dw?.update(repeating: 0, count: weightCount)
        Parallel.forEachChunk(count: batch, chunks: chunks, workers: workers) { worker, chunk, images in
            let col = scratch.map { $0.pointer + worker * bandSize }
            let dwChunk = chunk == 0 ? dw : partials.map { $0.pointer + (chunk - 1) * weightCount }
            for n in images {
                if let dx, !g.isPointwise { (dx + n * inputImage).update(repeating: 0, count: inputImage) }
                for group in 0..<groups {
                    let offset = n * inputImage + group * g.channels * g.inputPlane
                    for start in bands() {
                        let rows = start..<Swift.min(start + bandRows, g.outputHeight)
                        let columns = rows.count * g.outputWidth
                        let dyBand = dy + n * outputImage + group * M * P + start * g.outputWidth
                        if let x, let dwChunk {
                            let (lowered, ld) = lowering(x + offset, rows: rows, into: col)
                            Gemm.multiply(m: M, n: K, k: columns,
                                          a: dyBand, Gemm.Operand(transposed: false, leadingDimension: P),
                                          b: lowered, Gemm.Operand(transposed: true, leadingDimension: ld),
                                          beta: 1, c: dwChunk + group * weightGroup, ldc: K)
                        }
                        if let weight, let dx {
                            // dcol = W_gᵀ · dy_band, straight into dx when the lowering is the identity.
                            let target = col ?? dx + offset + start * g.outputWidth
                            Gemm.multiply(m: K, n: columns, k: M,
                                          a: weight + group * weightGroup, Gemm.Operand(transposed: true, leadingDimension: K),
                                          b: dyBand, Gemm.Operand(transposed: false, leadingDimension: P),
                                          c: target, ldc: col == nil ? P : columns)
                            if let col { Im2col.scatterAdd(col, g, outputRows: rows, into: dx + offset) }
                        }
                    }
                }
            }
        }
        if let dw, let partials {
            for i in 0..<(chunks - 1) * weightCount { dw[i % weightCount] += partials.pointer[i] }
        }
    }

    /// ``backward(outputGradient:x:weight:inputGradient:weightGradient:)`` by direct loops, for
    /// groups of one input channel: output plane (n, c') reads input plane (n, c'/(C'/g)).
    private func depthwiseBackward(outputGradient dy: UnsafePointer<Float>, x: UnsafePointer<Float>?, weight: UnsafePointer<Float>?,
                                   inputGradient dx: UnsafeMutablePointer<Float>?, weightGradient dw: UnsafeMutablePointer<Float>?) {
        let g = geometry, P = g.outputPlane, K = g.loweredRows, M = outputChannelsPerGroup
        if let dx, let weight {
            // One task per input plane (n, c): it gathers from the group's M output planes.
            let items = batch * inputChannels
            Parallel.forEach(count: items, work: work) { planes in
                for plane in planes {
                    let (n, c) = plane.quotientAndRemainder(dividingBy: inputChannels)
                    let target = dx + plane * g.inputPlane
                    target.update(repeating: 0, count: g.inputPlane)
                    for co in c * M..<(c + 1) * M {
                        DepthwiseKernel.inputGradient(dy + n * outputImage + co * P, weight + co * K, g, into: target)
                    }
                }
            }
        }
        if let dw, let x {
            // One task per output channel: it sums over the batch.
            Parallel.forEach(count: outputChannels, work: work) { channels in
                for co in channels {
                    (dw + co * K).update(repeating: 0, count: K)
                    for n in 0..<batch {
                        DepthwiseKernel.weightGradient(x + n * inputImage + (co / M) * g.inputPlane,
                                                       dy + n * outputImage + co * P, g, into: dw + co * K)
                    }
                }
            }
        }
    }
}

extension Tensor {
    /// Per-channel sums of an (N, C, ...) tensor, a (C) tensor: the gradient of a bias added to
    /// every position of every image.
    func channelSums() -> Tensor {
        guard isContiguous else { return sum(axes: [0] + Array(2..<rank)) }
        let c = self, channels = shape[1], plane = count / Swift.max(1, shape[0] * channels)
        return Tensor.make(shape: [channels]) { out in
            out.update(repeating: 0)
            let src = c.storage.pointer + c.offset
            for n in 0..<shape[0] {
                for ch in 0..<channels {
                    // Four partial sums, so that the loop runs four lanes wide.
                    let p = src + (n * channels + ch) * plane
                    var lanes = SIMD4<Float>(), i = 0
                    while i + 4 <= plane { lanes += UnsafeRawPointer(p + i).loadUnaligned(as: SIMD4<Float>.self); i += 4 }
                    var s = lanes.sum()
                    while i < plane { s += p[i]; i += 1 }
                    out[ch] += s
                }
            }
        }
    }
}

extension ConvolutionPlan {
    /// Plans a convolution of an input of shape `input`, (N, C, H, W) or (N, C, L), with a weight
    /// of shape (C', C/groups, kH, kW) or (C', C/groups, k); `stride`, `padding` and `dilation`
    /// have one entry per spatial axis. Throws a ``ShapeCheckFailure`` naming `op` and the shapes
    /// when they do not fit together.
    init(op: String, input: [Int], weight: [Int], stride: [Int], padding: [Int], dilation: [Int], groups: Int) throws {
        let axes = input.count - 2
        try ShapeCheckFailure.require(axes == 1 || axes == 2, "\(op): x of shape \(input) should have rank 3 (N, C, L) or 4 (N, C, H, W)")
        try ShapeCheckFailure.require(weight.count == input.count,
            "\(op): weight of shape \(weight) should have rank \(input.count) like x of shape \(input)")
        try ShapeCheckFailure.require(stride.count == axes && padding.count == axes && dilation.count == axes,
            "\(op): stride \(stride), padding \(padding) and dilation \(dilation) need \(axes) entries each")
        try ShapeCheckFailure.require(stride.allSatisfy { $0 > 0 } && dilation.allSatisfy { $0 > 0 } && padding.allSatisfy { $0 >= 0 },
            "\(op): stride \(stride) and dilation \(dilation) must be positive and padding \(padding) non-negative")
        try ShapeCheckFailure.require(groups > 0, "\(op): groups \(groups) must be positive")
        let (channels, outChannels) = (input[1], weight[0])
        try ShapeCheckFailure.require(channels % groups == 0,
            "\(op): input channels \(channels) of x \(input) are not divisible by groups \(groups)")
        try ShapeCheckFailure.require(outChannels % groups == 0,
            "\(op): output channels \(outChannels) of weight \(weight) are not divisible by groups \(groups)")
        try ShapeCheckFailure.require(weight[1] * groups == channels,
            "\(op): weight \(weight) takes \(weight[1]) channels per group × \(groups) groups = \(weight[1] * groups) input channels, x \(input) has \(channels)")
        // A 1-D convolution is a 2-D one over a height of 1.
        func spatial(_ values: [Int], _ unit: Int) -> [Int] { axes == 1 ? [unit] + values : values }
        let size = spatial(Array(input[2...]), 1), kernel = spatial(Array(weight[2...]), 1)
        let s = spatial(stride, 1), p = spatial(padding, 0), d = spatial(dilation, 1)
        let out = (0..<2).map { ConvGeometry.outputSize(input: size[$0], kernel: kernel[$0], stride: s[$0], padding: p[$0], dilation: d[$0]) }
        try ShapeCheckFailure.require(out.allSatisfy { $0 > 0 },
            "\(op): kernel \(Array(weight[2...])) with dilation \(dilation) is larger than the input \(Array(input[2...])) padded by \(padding) (x \(input), weight \(weight))")
        self.init(batch: input[0], groups: groups,
                  geometry: ConvGeometry(channels: channels / groups, inputHeight: size[0], inputWidth: size[1],
                                         kernelHeight: kernel[0], kernelWidth: kernel[1],
                                         strideHeight: s[0], strideWidth: s[1], paddingHeight: p[0], paddingWidth: p[1],
                                         dilationHeight: d[0], dilationWidth: d[1], outputHeight: out[0], outputWidth: out[1]),
                  outputChannelsPerGroup: outChannels / groups)
    }
}

/// A shape or setting that does not fit an op; its description names the op and the shapes.
/// Ops check their arguments in throwing functions, so that tests can read the messages, and
/// stop with the message: a mismatch is a programming error.
struct ShapeCheckFailure: Error, CustomStringConvertible {
    let description: String

    /// Throws `message` unless `condition` holds.
    static func require(_ condition: Bool, _ message: @autoclosure () -> String) throws {
        if !condition { throw ShapeCheckFailure(description: message()) }
    }

    /// The value of `body`, or nil after reporting its failure through ``shapeCheck(_:_:file:line:)``
    /// (a stop with the message and module path, or a recorded failure in a shape-only run).
    static func checked<T>(_ body: () throws -> T) -> T? {
        do { return try body() } catch {
            shapeCheck(false, "\(error)")
            return nil
        }
    }
}

extension Tensor {
    /// The first element of a contiguous tensor (valid while the tensor lives).
    var basePointer: UnsafeMutablePointer<Float> { storage.pointer + offset }

    /// A contiguous tensor of `shape` whose elements are not initialised yet.
    static func uninitialized(_ shape: [Int]) -> Tensor {
        Tensor(storage: TensorStorage(uninitializedCount: Shape.count(shape)), shape: shape)
    }
}

/// Runs `plan` on the 4-D (N, C, H, W) input and (C', C/g, kH, kW) weight and records the op.
private func convolution(_ x: Tensor, _ weight: Tensor, bias: Tensor?, plan: ConvolutionPlan, op: String) -> Tensor {
    if let bias {
        guard shapeCheck(bias.shape == [plan.outputChannels],
                         "\(op): bias of shape \(bias.shape) for \(plan.outputChannels) output channels (weight \(weight.shape))")
        else { return .shapeFailure }
    }
    let g = plan.geometry
    let outputShape = [plan.batch, plan.outputChannels, g.outputHeight, g.outputWidth]
    if let meta = Tensor.metaResult(outputShape, x, weight) {
        FlopCounter.add(2 * Shape.count(outputShape) * (weight.count / Swift.max(plan.outputChannels, 1)))
        return meta
    }
    let x = x.contiguous(), weight = weight.contiguous(), bias = bias?.contiguous()
    let y = Tensor.uninitialized([plan.batch, plan.outputChannels, g.outputHeight, g.outputWidth])
    withExtendedLifetime((x, weight, bias)) {
        plan.forward(x: x.basePointer, weight: weight.basePointer, bias: bias.map { UnsafePointer($0.basePointer) }, into: y.basePointer)
    }
    let needsX = x.requiresGrad, needsWeight = weight.requiresGrad, needsBias = bias?.requiresGrad ?? false
    // Keep only what the pullback reads.
    let savedX = needsWeight ? x.detached() : nil, savedWeight = needsX ? weight.detached() : nil
    return y.recording(op, inputs: [x, weight] + (bias.map { [$0] } ?? [])) { grad in
        // The Winograd path reads any strides; the GEMMs of the others need rows in place.
        let dy = plan.usesWinograd ? grad : grad.contiguous()
        let dx = needsX ? Tensor.uninitialized(x.shape) : nil
        let dw = needsWeight ? Tensor.uninitialized(weight.shape) : nil
        withExtendedLifetime((dy, savedX, savedWeight)) {
            let (xs, ws) = (savedX.map { UnsafePointer($0.basePointer) }, savedWeight.map { UnsafePointer($0.basePointer) })
            if plan.usesWinograd {
                plan.winogradBackward(outputGradient: StridedImages(dy), x: xs, weight: ws,
                                      inputGradient: dx?.basePointer, weightGradient: dw?.basePointer)
            } else {
                plan.backward(outputGradient: dy.basePointer, x: xs, weight: ws,
                              inputGradient: dx?.basePointer, weightGradient: dw?.basePointer)
            }
        }
        return [dx, dw] + (bias == nil ? [] : [needsBias ? dy.channelSums() : nil])
    }
}

/// 2-D convolution of a batch of images (PyTorch's `conv2d`, a cross-correlation).
///
///     conv2d(x, w, bias: b, padding: [1, 1])   // (N, C, H, W) ⊛ (C', C/g, kH, kW) → (N, C', H', W')
///
/// H' = ⌊(H + 2·padding[0] − dilation[0]·(kH − 1) − 1) / stride[0]⌋ + 1, and likewise W'.
/// Runs as im2col and GEMM (a plain GEMM for 1×1 stride-1 kernels without padding), or direct
/// loops when groups have one input channel (depthwise).
/// - Parameters:
///   - x: (N, C, H, W).
///   - weight: (C', C/groups, kH, kW).
///   - bias: (C'), added to every output position, or nil.
///   - stride: step of the window, (height, width).
///   - padding: zeros added on both sides, (height, width).
///   - dilation: spacing between kernel taps, (height, width).
///   - groups: the channels split into `groups` independent convolutions; C and C' must be
///     divisible by it. `groups == C` is a depthwise convolution.
/// - Returns: (N, C', H', W').
public func conv2d(_ x: Tensor, _ weight: Tensor, bias: Tensor? = nil, stride: [Int] = [1, 1], padding: [Int] = [0, 0],
                   dilation: [Int] = [1, 1], groups: Int = 1) -> Tensor {
    guard shapeCheck(x.rank == 4, "conv2d: x of shape \(x.shape) should be (N, C, H, W)") else { return .shapeFailure }
    guard let plan = ShapeCheckFailure.checked({
        try ConvolutionPlan(op: "conv2d", input: x.shape, weight: weight.shape, stride: stride,
                            padding: padding, dilation: dilation, groups: groups)
    }) else { return .shapeFailure }
    let g = plan.geometry
    if !x.isMeta, let (rows, columns) = reachableTaps(g), rows.count < weight.shape[2] || columns.count < weight.shape[3] {
        // Kernel rows or columns that only ever read padding (a 3×3 kernel on ResNet's 1×1
        // last stage) contribute nothing and get zero gradient: convolve with the taps that
        // remain, the padding shifted by the taps dropped before them.
        return conv2d(x, kernelWindow(weight, rows: rows, columns: columns), bias: bias, stride: stride,
                      padding: [g.paddingHeight - rows.lowerBound * g.dilationHeight,
                                g.paddingWidth - columns.lowerBound * g.dilationWidth],
                      dilation: dilation, groups: groups)
    }
    if !x.isMeta, groups == 1, bias.map({ $0.shape == [weight.shape[0]] }) ?? true, g.outputHeight == 1, g.outputWidth == 1, g.paddingHeight == 0, g.paddingWidth == 0,
       g.kernelHeight == g.inputHeight, g.kernelWidth == g.inputWidth {
        // One window covering the whole image (ResNet's last stage after the taps above are
        // dropped): a Linear layer over the flattened image, one GEMM, no lowering.
        let (n, outputChannels) = (x.shape[0], weight.shape[0])
        return linear(x.reshaped([n, -1]), weight: weight.reshaped([outputChannels, -1]), bias: bias)
            .reshaped([n, outputChannels, 1, 1])
    }
    return convolution(x, weight, bias: bias, plan: plan, op: "conv2d")
}

/// Rows `rows` and columns `columns` of every kernel plane of a (C', C/g, kH, kW) weight, as a
/// contiguous (C', C/g, rows, columns) tensor; the gradient goes back into the window, zero
/// elsewhere.
private func kernelWindow(_ weight: Tensor, rows: Range<Int>, columns: Range<Int>) -> Tensor {
    let w = weight.contiguous()
    let planes = w.shape[0] * w.shape[1], (kh, kw) = (w.shape[2], w.shape[3])
    let (wh, ww) = (rows.count, columns.count)
    let first = rows.lowerBound * kw + columns.lowerBound
    /// Copies between the window of every plane of a full (kh, kw) kernel and the compact
    /// (wh, ww) one, planes split among threads: `toWindow` gathers, otherwise scatters into
    /// zeros.
    func transfer(full: UnsafeMutablePointer<Float>, window: UnsafeMutablePointer<Float>, toWindow: Bool) {
        Parallel.forEach(count: planes, work: planes * kh * kw) { range in
            if !toWindow { (full + range.lowerBound * kh * kw).update(repeating: 0, count: range.count * kh * kw) }
            for p in range {
                for i in 0..<wh {
                    let f = full + p * kh * kw + first + i * kw, c = window + (p * wh + i) * ww
                    for j in 0..<ww {
                        if toWindow { c[j] = f[j] } else { f[j] = c[j] }
                    }
                }
            }
        }
    }
    let source = w.detached()
    let window = Tensor.make(shape: [w.shape[0], w.shape[1], wh, ww]) { out in
        transfer(full: source.basePointer, window: out.baseAddress!, toWindow: true)
    }
    return window.recording("kernelWindow", inputs: [w]) { g in
        let gc = g.contiguous()
        return [Tensor.make(shape: source.shape) { out in
            transfer(full: out.baseAddress!, window: gc.basePointer, toWindow: false)
        }]
    }
}

/// The kernel rows and columns that some output position reads inside the input, when dropping
/// the others leaves a convolution of the same output size with non-negative symmetric padding
/// (nil otherwise, or when there is nothing to drop).
private func reachableTaps(_ g: ConvGeometry) -> (rows: Range<Int>, columns: Range<Int>)? {
    func reachable(input: Int, output: Int, kernel: Int, stride: Int, padding: Int, dilation: Int) -> Range<Int>? {
        guard padding > 0, output > 0 else { return 0..<kernel }
        let taps = (0..<kernel).filter { k in
            (0..<output).contains { o in (0..<input).contains(o * stride - padding + k * dilation) }
        }
        guard let first = taps.first, let last = taps.last else { return nil }
        let kept = last - first + 1, newPadding = padding - first * dilation
        guard newPadding >= 0, ConvGeometry.outputSize(input: input, kernel: kept, stride: stride, padding: newPadding,
                                                       dilation: dilation) == output else { return nil }
        return first..<(last + 1)
    }
    guard let rows = reachable(input: g.inputHeight, output: g.outputHeight, kernel: g.kernelHeight,
                               stride: g.strideHeight, padding: g.paddingHeight, dilation: g.dilationHeight),
          let columns = reachable(input: g.inputWidth, output: g.outputWidth, kernel: g.kernelWidth,
                                  stride: g.strideWidth, padding: g.paddingWidth, dilation: g.dilationWidth)
    else { return nil }
    return (rows, columns)
}

/// 2-D convolution with the same stride, padding and dilation along height and width (see the
/// overload taking `[Int]` pairs).
///
///     conv2d(x, w, padding: 1)   // (N, C, H, W) ⊛ (C', C/g, kH, kW) → (N, C', H', W')
@_disfavoredOverload
public func conv2d(_ x: Tensor, _ weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int = 0,
                   dilation: Int = 1, groups: Int = 1) -> Tensor {
    conv2d(x, weight, bias: bias, stride: [stride, stride], padding: [padding, padding],
           dilation: [dilation, dilation], groups: groups)
}

/// 1-D convolution of a batch of sequences (PyTorch's `conv1d`).
///
///     conv1d(x, w, padding: 1)   // (N, C, L) ⊛ (C', C/g, k) → (N, C', L')
///
/// L' = ⌊(L + 2·padding − dilation·(k − 1) − 1) / stride⌋ + 1. Padding is symmetric; a causal
/// convolution (each output sees only the current and earlier positions, as in Mamba) pads by
/// `dilation·(k − 1)` and keeps the first L outputs:
///
///     conv1d(x, w, padding: k - 1, groups: C).narrowed(axis: 2, start: 0, length: L)
/// - Parameters:
///   - x: (N, C, L).
///   - weight: (C', C/groups, k).
///   - bias: (C') or nil.
///   - groups: `groups == C` is a depthwise convolution (direct loops, no GEMM).
/// - Returns: (N, C', L').
public func conv1d(_ x: Tensor, _ weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int = 0,
                   dilation: Int = 1, groups: Int = 1) -> Tensor {
    guard shapeCheck(x.rank == 3, "conv1d: x of shape \(x.shape) should be (N, C, L)") else { return .shapeFailure }
    guard let plan = ShapeCheckFailure.checked({
        try ConvolutionPlan(op: "conv1d", input: x.shape, weight: weight.shape, stride: [stride],
                            padding: [padding], dilation: [dilation], groups: groups)
    }) else { return .shapeFailure }
    return convolution(x.unsqueezed(axis: 2), weight.unsqueezed(axis: 2), bias: bias, plan: plan, op: "conv1d")
        .squeezed(axis: 2)
}
