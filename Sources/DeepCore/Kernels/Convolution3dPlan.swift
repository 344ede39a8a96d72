// The plan of a 3-D convolution of a batch: its sizes, and its forward and backward on raw
// buffers by vol2col and GEMM (Vol2col.swift). The tensor ops (conv3d, convTranspose3d), which
// make plans from shapes, are in Ops/Convolution3d.swift and Ops/ConvolutionTranspose3d.swift.
//
// Per image, group and band of output rows (see Vol2col.swift), with K = (C/g)·kD·kH·kW:
//   forward        y_g  (C'/g × band) = W_g (C'/g × K) · col(x_g) (K × band)
//   weight grad    dW_g (C'/g × K) += dy_g · col(x_g)ᵀ               (summed over images)
//   input grad     dx_g = col2vol(W_gᵀ · dy_g)
// A band holds as many output rows as keep its lowered matrix within the 2-D path's lowering
// budget (``ConvolutionSettings/loweringBudget``, sized for L2), so the scratch stays small
// whatever the volume: each thread holds one band. The forward splits (image, band) pairs among
// threads (bands write disjoint outputs); the backward splits images, whose windows overlap
// across bands in dx, with per-chunk partial sums of dW added in chunk order (deterministic). A
// 1×1×1 stride-1 unpadded convolution multiplies the input itself. A single image with a single
// band runs its GEMMs split among the threads by ``Gemm``.

/// A 3-D convolution of a batch: everything the kernels need besides the buffers.
struct Convolution3dPlan {
    var batch: Int
    var groups: Int
    /// Sizes seen from one image and one group.
    var geometry: VolumeGeometry
    /// Output channels of one group, C'/g.
    var outputChannelsPerGroup: Int

    var inputChannels: Int { groups * geometry.channels }
    var outputChannels: Int { groups * outputChannelsPerGroup }
    /// Elements of one input image, C·D·H·W.
    var inputImage: Int { inputChannels * geometry.inputVolume }
    /// Elements of one output image, C'·D'·H'·W'.
    var outputImage: Int { outputChannels * geometry.outputVolume }
    /// Elements of one group's weights, (C'/g)·K.
    var weightGroup: Int { outputChannelsPerGroup * geometry.loweredRows }
    /// Elements of the weight, C'·K.
    var weightCount: Int { groups * weightGroup }
    /// Multiply-adds of the forward pass (each gradient costs the same).
    var work: Int { batch * outputChannels * geometry.outputVolume * geometry.loweredRows }

    /// Output rows per band: the lowered matrix within ``ConvolutionSettings/loweringBudget``,
    /// bands of near-equal size; all rows at once for a pointwise convolution.
    var rowsPerBand: Int {
        let g = geometry, total = g.outputRows
        if g.isPointwise { return total }
        let rowBytes = g.loweredRows * g.plane.outputWidth * MemoryLayout<Float>.stride
        let most = Swift.max(1, Swift.min(total, ConvolutionPlan.loweredBudget / Swift.max(rowBytes, 1)))
        let bands = (total + most - 1) / most
        return (total + bands - 1) / bands
    }

    /// The band of output rows that starts at `start`.
    @inline(__always)
    private func band(at start: Int, rows: Int) -> Range<Int> { start..<Swift.min(start + rows, geometry.outputRows) }

    /// Scratch for one band's lowered matrix per worker, or nil when the lowering is the input itself.
    private func scratch(workers: Int, bandRows: Int) -> TensorStorage? {
        let g = geometry
        return g.isPointwise ? nil : TensorStorage(uninitializedCount: workers * g.loweredRows * bandRows * g.plane.outputWidth)
    }

    /// The lowered matrix of one group's input volumes `xg` for the output rows `rows`, and its
    /// leading dimension: the input itself for a pointwise convolution, else vol2col into `col`.
    @inline(__always)
    private func lowering(_ xg: UnsafePointer<Float>, rows: Range<Int>,
                          into col: UnsafeMutablePointer<Float>?) -> (UnsafePointer<Float>, Int) {
        let g = geometry
        guard let col else { return (xg + rows.lowerBound * g.plane.outputWidth, g.outputVolume) }
        Vol2col.lower(xg, g, outputRows: rows, into: col)
        return (UnsafePointer(col), rows.count * g.plane.outputWidth)
    }

    /// y = conv(x, weight) + bias.
    ///
    /// - Parameters: x: (N, C, D, H, W); weight: (C', C/g, kD, kH, kW); bias: (C') or nil;
    ///   y: (N, C', D', H', W'), fully written.
    func forward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                 into y: UnsafeMutablePointer<Float>) {
        let g = geometry, P = g.outputVolume, K = g.loweredRows, M = outputChannelsPerGroup, width = g.plane.outputWidth
        let bandRows = rowsPerBand, bandCount = (g.outputRows + bandRows - 1) / bandRows
        let tasks = batch * bandCount, bandSize = K * bandRows * width
        let workers = Parallel.workers(items: tasks, work: work)
        let scratch = scratch(workers: workers, bandRows: bandRows)
        Parallel.forEachChunk(count: tasks, chunks: workers * Parallel.chunksPerWorker, workers: workers) { worker, _, range in
            let col = scratch.map { $0.pointer + worker * bandSize }
            for task in range {
                let (n, b) = task.quotientAndRemainder(dividingBy: bandCount)
                let rows = band(at: b * bandRows, rows: bandRows), columns = rows.count * width
                let yBand = y + n * outputImage + rows.lowerBound * width
                if let bias {
                    for co in 0..<outputChannels { (yBand + co * P).update(repeating: bias[co], count: columns) }
                }
                for group in 0..<groups {
                    let (lowered, ld) = lowering(x + n * inputImage + group * g.channels * g.inputVolume, rows: rows, into: col)
                    Gemm.multiply(m: M, n: columns, k: K,
                                  a: weight + group * weightGroup, Gemm.Operand(transposed: false, leadingDimension: K),
                                  b: lowered, Gemm.Operand(transposed: false, leadingDimension: ld),
                                  beta: bias == nil ? 0 : 1, c: yBand + group * M * P, ldc: P)
                }
            }
        }
    }

    /// The gradients of the convolution with respect to its input and weight.
    ///
    /// - Parameters: dy: (N, C', D', H', W'), contiguous; x: (N, C, D, H, W), needed for `dw`;
    ///   weight: (C', C/g, kD, kH, kW), needed for `dx`; dx: (N, C, D, H, W) and
    ///   dw: (C', C/g, kD, kH, kW), fully written when given.
    func backward(outputGradient dy: UnsafePointer<Float>, x: UnsafePointer<Float>?, weight: UnsafePointer<Float>?,
                  inputGradient dx: UnsafeMutablePointer<Float>?, weightGradient dw: UnsafeMutablePointer<Float>?) {
        require((dw == nil || x != nil) && (dx == nil || weight != nil), "Convolution3dPlan.backward: missing operand")
        let g = geometry, P = g.outputVolume, K = g.loweredRows, M = outputChannelsPerGroup, width = g.plane.outputWidth
        let bandRows = rowsPerBand, bandSize = K * bandRows * width
        let workers = Parallel.workers(items: batch, work: work)
        let scratch = scratch(workers: workers, bandRows: bandRows)
        // Chunk 0 of the batch accumulates into dw, the others into partial sums added in order:
        // a chunk count fixed by the shape (at most 8, partial sums within 32 MB).
        let chunks = dw == nil ? workers * Parallel.chunksPerWorker
            : Swift.min(batch, Swift.max(1, Swift.min(8, (32 << 20) / Swift.max(1, weightCount * MemoryLayout<Float>.stride))))
        let partials = dw != nil && chunks > 1 ? TensorStorage(count: (chunks - 1) * weightCount, repeating: 0) : nil
        dw?.update(repeating: 0, count: weightCount)
        Parallel.forEachChunk(count: batch, chunks: chunks, workers: workers) { worker, chunk, images in
            let col = scratch.map { $0.pointer + worker * bandSize }
            let dwChunk = chunk == 0 ? dw : partials.map { $0.pointer + (chunk - 1) * weightCount }
            for n in images {
                if let dx, !g.isPointwise { (dx + n * inputImage).update(repeating: 0, count: inputImage) }
                for group in 0..<groups {
                    let offset = n * inputImage + group * g.channels * g.inputVolume
                    for start in stride(from: 0, to: g.outputRows, by: bandRows) {
                        let rows = band(at: start, rows: bandRows), columns = rows.count * width
                        let dyBand = dy + n * outputImage + group * M * P + start * width
                        if let x, let dwChunk {
                            let (lowered, ld) = lowering(x + offset, rows: rows, into: col)
                            Gemm.multiply(m: M, n: K, k: columns,
                                          a: dyBand, Gemm.Operand(transposed: false, leadingDimension: P),
                                          b: lowered, Gemm.Operand(transposed: true, leadingDimension: ld),
                                          beta: 1, c: dwChunk + group * weightGroup, ldc: K)
                        }
                        if let weight, let dx {
                            // dcol = W_gᵀ · dy_band, straight into dx when the lowering is the identity.
                            Gemm.multiply(m: K, n: columns, k: M,
                                          a: weight + group * weightGroup, Gemm.Operand(transposed: true, leadingDimension: K),
                                          b: dyBand, Gemm.Operand(transposed: false, leadingDimension: P),
                                          c: col ?? dx + offset + start * width, ldc: col == nil ? P : columns)
                            if let col { Vol2col.scatterAdd(col, g, outputRows: rows, into: dx + offset) }
                        }
                    }
                }
            }
        }
        if let dw, let partials {
            for i in 0..<(chunks - 1) * weightCount { dw[i % weightCount] += partials.pointer[i] }
        }
    }
}
