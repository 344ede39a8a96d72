// The plan of a 2-D convolution of a batch: its sizes and the algorithm that computes it, chosen
// once when the plan is made. Its forward and its backward each switch on that algorithm once;
// they work on raw buffers. The tensor ops (conv2d, conv1d, convTranspose2d), which make plans
// from shapes, are in Ops/Convolution.swift and Ops/ConvolutionTranspose.swift.
//
// Per image and group, with K = (C/g)·kH·kW and P = H'·W':
//   forward        y_g  (C'/g × P) = W_g (C'/g × K) · col(x_g) (K × P)
//   weight grad    dW_g (C'/g × K) += dy_g · col(x_g)ᵀ               (summed over images)
//   input grad     dx_g = col2im(W_gᵀ · dy_g)
// The algorithms:
// - im2col: the lowered matrix is built for a band of output rows at a time, sized to stay in
//   L2; a 1×1 stride-1 unpadded convolution multiplies the input itself. Images are split among
//   threads, each running single-threaded GEMMs, which beats OpenBLAS's threading of these thin
//   products (and parallelises the lowering).
// - batchedLowering: small output planes lower a chunk of images into one matrix instead
//   (ConvolutionBatched.swift).
// - depthwise: groups of one input channel run direct loops.
// - winograd: 3×3 stride-1 convolutions with enough channels run Winograd F(4×4, 3×3)
//   (ConvolutionWinograd.swift).
// - wholeImage, denseMatrix: (conv2d only) a convolution whose output positions each read the
//   whole image, one GEMM over the batch, as a linear layer (ConvolutionWholeImage.swift).
// - direct: at most four input channels (a first layer), each vector of output positions summed
//   over the taps by C kernels (ConvolutionDirect.swift); its gradients are im2col's.
// A transposed convolution is the adjoint of a convolution: Ops/ConvolutionTranspose.swift runs
// the same plan with forward and input gradient swapped.

/// How a ``ConvolutionPlan`` computes its convolution; chosen when the plan is made (see
/// ``ConvolutionPlan/chosenAlgorithm``).
enum ConvolutionAlgorithm: Equatable {
    /// Winograd F(4×4, 3×3): 36 GEMMs of depth C per chunk of 4×4 tiles.
    case winograd
    /// A chunk of images lowered side by side into one matrix, one GEMM per group and chunk.
    case batchedLowering
    /// Direct loops over the planes, for groups of one input channel.
    case depthwise
    /// Per image, bands of output rows lowered (im2col) and multiplied by the weights.
    case im2col
    /// One window over each whole unpadded image: one GEMM (N × K)·(C' × K)ᵀ over the batch, run
    /// as `linear` ran it: in pieces of `pieceWork` multiply-adds when given (see
    /// ``Gemm/multiply(m:n:k:alpha:a:_:b:_:beta:c:ldc:pieceWork:)``).
    case wholeImage(pieceWork: Int?)
    /// An image of no more positions than the kernel has taps: one GEMM over the batch with the
    /// (C'·H'·W') × (C·H·W) matrix of the convolution, built from the weight.
    case denseMatrix
    /// Few input channels: each vector of output positions summed over the taps by the C kernels
    /// (ConvolutionDirect.swift); the gradients as im2col computes them.
    case direct
}

/// A 2-D convolution of a batch: everything the kernels need besides the buffers.
struct ConvolutionPlan {
    var batch: Int
    var groups: Int
    /// Sizes seen from one image and one group, of the convolution computed (after ``window``).
    var geometry: ConvGeometry
    /// Output channels of one group, C'/g.
    var outputChannelsPerGroup: Int
    /// The kernel rows and columns of the op's weight that the computed convolution uses (taps
    /// that only read padding dropped), or nil for the whole weight.
    var window: KernelWindow?
    /// How the convolution runs.
    private(set) var algorithm = ConvolutionAlgorithm.im2col

    /// A plan for these sizes; with `wholeImageBias` (conv2d only: whether there is a bias) a
    /// convolution reading each whole image may run as one GEMM over the batch.
    init(batch: Int, groups: Int, geometry: ConvGeometry, outputChannelsPerGroup: Int, window: KernelWindow? = nil,
         wholeImageBias: Bool? = nil) {
        (self.batch, self.groups, self.geometry, self.outputChannelsPerGroup, self.window)
            = (batch, groups, geometry, outputChannelsPerGroup, window)
        algorithm = chosenAlgorithm(wholeImageBias: wholeImageBias)
    }

    /// The algorithm, by the measured rules, in this order:
    /// 1. wholeImage (conv2d): one ungrouped window covering the whole unpadded image, 1×1
    ///    output (ResNet's last stage after its padding taps are dropped); with a bias the GEMM
    ///    runs in pieces for batches up to 64, as `linear` does, without one whole, as `matmul`;
    /// 2. winograd: a 3×3 stride-1 undilated ungrouped shape, when ``ConvolutionSettings/winograd``
    ///    chooses it (automatic: at least 16 input and output channels and a plane large enough
    ///    that the 36 products per 4×4 tile cost at most 70 % of the 9 per output position of
    ///    im2col, and 16 tiles in the batch);
    /// 3. denseMatrix (conv2d): ungrouped, at least 8 images, an input plane of no more positions
    ///    than the kernel has taps (3×3 on 2×2), its matrix at most 64 MB;
    /// 4. direct: ungrouped, undilated, not pointwise, at most 4 input channels, output rows at
    ///    least a vector wide (``fitsDirect``), unless depthwise fits;
    /// 5. batchedLowering: not depthwise, more than one image and an output plane of at most
    ///    ``ConvolutionSettings/batchedLoweringThreshold`` positions;
    /// 6. depthwise: one input channel and at most two output channels per group, not 1×1
    ///    pointwise (a GEMM with one or two rows is slower than the direct loops; with more output
    ///    channels per input channel, a first layer on grey images, direct or im2col wins);
    /// 7. im2col otherwise.
    private func chosenAlgorithm(wholeImageBias: Bool?) -> ConvolutionAlgorithm {
        let g = geometry
        if let hasBias = wholeImageBias, groups == 1, g.outputHeight == 1, g.outputWidth == 1,
           g.paddingHeight == 0, g.paddingWidth == 0, g.kernelHeight == g.inputHeight, g.kernelWidth == g.inputWidth {
            return .wholeImage(pieceWork: hasBias && batch <= 64 ? 1 << 20 : nil)
        }
        if fitsWinograd {
            switch Self.winogradPolicy {
            case .always: return .winograd
            case .never: break
            case .automatic:
                let tileCount = tiles.tileRows * tiles.tilesPerRow
                if g.channels >= 16 && outputChannelsPerGroup >= 16 && batch * tileCount >= 16
                    && 36 * tileCount * 10 <= 9 * g.outputPlane * 7 { return .winograd }
            }
        }
        if fitsDenseMatrix(wholeImage: wholeImageBias) { return .denseMatrix }
        let depthwise = g.channels == 1 && outputChannelsPerGroup <= 2 && !g.isPointwise
        if fitsDirect && !depthwise && !g.isPointwise { return .direct }
        if !depthwise && batch > 1 && g.outputPlane <= Self.batchedThreshold { return .batchedLowering }
        return depthwise ? .depthwise : .im2col
    }

    /// This plan run by `algorithm` instead of the chosen one (tests compare the algorithms); the
    /// shape must suit it.
    func using(_ algorithm: ConvolutionAlgorithm) -> ConvolutionPlan {
        let g = geometry
        switch algorithm {
        case .winograd: require(fitsWinograd, "ConvolutionPlan.using: Winograd needs a 3×3 stride-1 ungrouped shape")
        case .depthwise: require(g.channels == 1, "ConvolutionPlan.using: depthwise needs one input channel per group")
        case .wholeImage:
            require(groups == 1 && g.outputPlane == 1 && g.paddingHeight == 0 && g.paddingWidth == 0
                    && g.kernelHeight == g.inputHeight && g.kernelWidth == g.inputWidth,
                    "ConvolutionPlan.using: wholeImage needs one ungrouped unpadded window over the image")
        case .denseMatrix: require(groups == 1, "ConvolutionPlan.using: denseMatrix needs an ungrouped shape")
        case .direct: require(fitsDirect, "ConvolutionPlan.using: direct needs an ungrouped undilated shape of few channels")
        case .batchedLowering, .im2col: break
        }
        var plan = self
        plan.algorithm = algorithm
        return plan
    }

    /// Whether the shape is a 3×3 stride-1 undilated ungrouped convolution (Winograd's).
    private var fitsWinograd: Bool {
        let g = geometry
        return groups == 1 && g.kernelHeight == 3 && g.kernelWidth == 3
            && g.strideHeight == 1 && g.strideWidth == 1 && g.dilationHeight == 1 && g.dilationWidth == 1
            && g.outputHeight == g.inputHeight + 2 * g.paddingHeight - 2
            && g.outputWidth == g.inputWidth + 2 * g.paddingWidth - 2
    }

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

    /// Chunks the batch is cut into for the threads (see ``Parallel``): a count fixed by the
    /// shape, so that per-chunk partial sums of `accumulator` floats, added in chunk order, give
    /// the same result on any run; at most 8, and fewer when the partial sums would pass 32 MB.
    func imageChunks(accumulator: Int) -> Int {
        Swift.min(batch, Swift.max(1, Swift.min(8, (32 << 20) / Swift.max(1, accumulator * MemoryLayout<Float>.stride))))
    }

    /// y = conv(x, weight) + bias, then the `epilogue` (a residual added, ReLU) applied to each
    /// part of y as soon as it is computed.
    ///
    /// - Parameters: x: (N, C, H, W); weight: (C', C/g, kH, kW) of ``geometry``; bias: (C') or
    ///   nil; y: (N, C', H', W'), fully written.
    func forward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                 into y: UnsafeMutablePointer<Float>, weightCache: ConvolutionWeightCache? = nil,
                 epilogue: ConvolutionEpilogue = .none) {
        switch algorithm {
        case .winograd: winogradForward(x: x, weight: weight, bias: bias, into: y, weightCache: weightCache, epilogue: epilogue)
        case .batchedLowering: batchedForward(x: x, weight: weight, bias: bias, into: y, epilogue: epilogue)
        case .depthwise: depthwiseForward(x: x, weight: weight, bias: bias, into: y, epilogue: epilogue)
        case .im2col: im2colForward(x: x, weight: weight, bias: bias, into: y, weightCache: weightCache, epilogue: epilogue)
        case .direct: directForward(x: x, weight: weight, bias: bias, into: y, epilogue: epilogue)
        case .wholeImage, .denseMatrix:
            wholeImageForward(x: x, weight: weight, bias: bias, into: y, weightCache: weightCache)
            epilogue.apply(to: y, count: batch * outputImage, outputOffset: 0)
        }
    }

    /// Whether ``backward(outputGradient:x:weight:inputGradient:weightGradient:)`` reads an output
    /// gradient of any strides (a broadcast gradient of a sum in place); the other algorithms
    /// need it contiguous.
    var readsStridedOutputGradient: Bool { algorithm == .winograd }

    /// The gradients of a convolution with respect to its input and weight.
    ///
    /// - Parameters: dy: (N, C', H', W'), contiguous unless ``readsStridedOutputGradient``;
    ///   x: (N, C, H, W), needed for `dw`; weight: (C', C/g, kH, kW), needed for `dx`;
    ///   dx: (N, C, H, W) and dw: (C', C/g, kH, kW), fully written when given.
    func backward(outputGradient dy: StridedImages, x: UnsafePointer<Float>?, weight: UnsafePointer<Float>?,
                  inputGradient dx: UnsafeMutablePointer<Float>?, weightGradient dw: UnsafeMutablePointer<Float>?) {
        require((dw == nil || x != nil) && (dx == nil || weight != nil), "ConvolutionPlan.backward: missing operand")
        let g = geometry
        require(readsStridedOutputGradient
                || dy.isContiguous(images: batch, channels: outputChannels, height: g.outputHeight, width: g.outputWidth),
                "ConvolutionPlan.backward: \(algorithm) needs a contiguous output gradient")
        switch algorithm {
        case .winograd:
            winogradBackward(outputGradient: dy, x: x, weight: weight, inputGradient: dx, weightGradient: dw)
        case .batchedLowering:
            batchedBackward(outputGradient: dy.base, x: x, weight: weight, inputGradient: dx, weightGradient: dw)
        case .depthwise:
            depthwiseBackward(outputGradient: dy.base, x: x, weight: weight, inputGradient: dx, weightGradient: dw)
        case .im2col, .direct:
            im2colBackward(outputGradient: dy.base, x: x, weight: weight, inputGradient: dx, weightGradient: dw)
        case .wholeImage, .denseMatrix:
            wholeImageBackward(outputGradient: dy.base, x: x, weight: weight, inputGradient: dx, weightGradient: dw)
        }
    }

    /// The output gradient `dy` of a contiguous (N, C', H', W') buffer, for
    /// ``backward(outputGradient:x:weight:inputGradient:weightGradient:)``.
    func outputImages(_ dy: UnsafePointer<Float>) -> StridedImages {
        StridedImages(contiguous: dy, channels: outputChannels, height: geometry.outputHeight, width: geometry.outputWidth)
    }
}

extension ConvolutionPlan {
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

    /// ``forward(x:weight:bias:into:)`` by im2col and GEMM over (image, band of output rows)
    /// items: whole images to the threads, each running single-threaded GEMMs, or, for fewer
    /// images than threads, each image's bands (``rowsPerThreadBand``); each band lowered, then
    /// multiplied onto its bias, then given the epilogue. With `weightCache`, on the weight packed
    /// there when ``packedWeight(_:cache:)`` takes it.
    private func im2colForward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                               into y: UnsafeMutablePointer<Float>, weightCache: ConvolutionWeightCache?,
                               epilogue: ConvolutionEpilogue) {
        let g = geometry, P = g.outputPlane, K = g.loweredRows, M = outputChannelsPerGroup, W = g.outputWidth
        let threadBands = rowsPerThreadBand, bandRows = threadBands ?? rowsPerBand
        let bandsPerImage = g.outputHeight.ceilDivided(by: bandRows), items = batch * bandsPerImage, bandSize = K * bandRows * W
        let workers = Parallel.workers(items: threadBands == nil ? batch : items, work: work)
        let scratch = g.isPointwise ? nil : TensorStorage(uninitializedCount: workers * bandSize)
        let packed = packedWeight(weight, cache: weightCache)
        Parallel.forEachChunk(count: items, chunks: threadBands == nil ? imageChunks(accumulator: 0) : items,
                              workers: workers) { worker, _, items in
            let col = scratch.map { $0.pointer + worker * bandSize }
            for item in items {
                let (n, band) = item.quotientAndRemainder(dividingBy: bandsPerImage)
                let rows = band * bandRows..<Swift.min((band + 1) * bandRows, g.outputHeight)
                let (start, columns) = (n * outputImage + rows.lowerBound * W, rows.count * W)
                if bias != nil || packed != nil {
                    for co in 0..<outputChannels { (y + start + co * P).update(repeating: bias?[co] ?? 0, count: columns) }
                }
                for group in 0..<groups {
                    let (lowered, ld) = lowering(x + n * inputImage + group * g.channels * g.inputPlane, rows: rows, into: col)
                    if let packed {
                        PackedGemm.multiplyAdd(packed.pointer, m: M, k: K, b: lowered, ldb: ld, n: columns, c: y + start, ldc: P)
                        continue
                    }
                    Gemm.multiply(m: M, n: columns, k: K,
                                  a: weight + group * weightGroup, Gemm.Operand(transposed: false, leadingDimension: K),
                                  b: lowered, Gemm.Operand(transposed: false, leadingDimension: ld),
                                  beta: bias == nil ? 0 : 1, c: y + start + group * M * P, ldc: P)
                }
                for co in 0..<outputChannels {
                    epilogue.apply(to: y + start + co * P, count: columns, outputOffset: start + co * P)
                }
            }
        }
    }

    /// The weight packed for ``PackedGemm`` (kept in `cache`), when the products run on it: a
    /// cache (weights that stay fixed), one group, an output plane of at most
    /// ``PackedGemm/columnLimit`` positions, and a CPU with the packed kernels.
    private func packedWeight(_ weight: UnsafePointer<Float>, cache: ConvolutionWeightCache?) -> TensorStorage? {
        let (M, K) = (outputChannelsPerGroup, geometry.loweredRows)
        guard let cache, groups == 1, PackedGemm.panelRows > 0, geometry.outputPlane <= PackedGemm.columnLimit else { return nil }
        return cache.weights(for: [3, M, K, PackedGemm.panelRows]) { PackedGemm.pack(weight, m: M, k: K) }
    }

    /// Output columns below which a band of rows is not given a thread of its own.
    nonisolated(unsafe) static var threadBandColumns = 256

    /// For fewer images than threads, rows per band when each image's bands are split among the
    /// threads (a whole number of bands per thread, within ``rowsPerBand``), or nil when the
    /// images go to the threads whole: enough images, a pointwise convolution (no lowering), or
    /// bands narrower than ``threadBandColumns`` (each GEMM packs the whole weight).
    private var rowsPerThreadBand: Int? {
        let g = geometry, threads = Parallel.workers(items: Int.max, work: work)
        guard batch < threads, !g.isPointwise else { return nil }
        let bandsPerImage = g.outputHeight.ceilDivided(by: rowsPerBand).ceilDivided(by: threads) * threads
        let rows = g.outputHeight.ceilDivided(by: bandsPerImage)
        return rows * g.outputWidth >= Self.threadBandColumns ? rows : nil
    }

    /// The lowered matrix of one group's input planes `xg` for output rows `rows`, and its
    /// leading dimension: the input itself for a pointwise convolution, else im2col into `col`.
    @inline(__always)
    private func lowering(_ xg: UnsafePointer<Float>, rows: Range<Int>,
                          into col: UnsafeMutablePointer<Float>?) -> (UnsafePointer<Float>, Int) {
        let g = geometry, ld = rows.count * g.outputWidth
        guard let col else { return (xg + rows.lowerBound * g.outputWidth, g.outputPlane) }
        // Channels split among the threads when none is busy (one image, its GEMM threaded next).
        Parallel.forEach(count: g.channels, work: g.loweredRows * ld) { channels in
            var part = g
            part.channels = channels.count
            Im2col.lower(xg + channels.lowerBound * g.inputPlane, part, outputRows: rows,
                         into: col + channels.lowerBound * g.taps * ld, leadingDimension: ld)
        }
        return (UnsafePointer(col), ld)
    }

    /// ``backward(outputGradient:x:weight:inputGradient:weightGradient:)`` by im2col and GEMM.
    private func im2colBackward(outputGradient dy: UnsafePointer<Float>, x: UnsafePointer<Float>?, weight: UnsafePointer<Float>?,
                                inputGradient dx: UnsafeMutablePointer<Float>?, weightGradient dw: UnsafeMutablePointer<Float>?) {
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

    /// ``forward(x:weight:bias:into:)`` by direct loops, for groups of one input channel: output
    /// plane (n, c') reads input plane (n, c'/(C'/g)).
    private func depthwiseForward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                                  into y: UnsafeMutablePointer<Float>, epilogue: ConvolutionEpilogue) {
        let g = geometry, P = g.outputPlane, K = g.loweredRows, M = outputChannelsPerGroup
        Parallel.forEach(count: batch * outputChannels, work: work) { planes in
            for plane in planes {
                let (n, co) = plane.quotientAndRemainder(dividingBy: outputChannels)
                (y + plane * P).update(repeating: bias?[co] ?? 0, count: P)
                DepthwiseKernel.forward(x + n * inputImage + (co / M) * g.inputPlane, weight + co * K, g, into: y + plane * P)
                epilogue.apply(to: y + plane * P, count: P, outputOffset: plane * P)
            }
        }
    }

    /// ``backward(outputGradient:x:weight:inputGradient:weightGradient:)`` by direct loops, for
    /// groups of one input channel.
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
