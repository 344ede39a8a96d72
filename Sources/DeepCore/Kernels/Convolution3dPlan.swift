// The plan of a 3-D convolution of a batch: its sizes, and its forward and backward on raw
// buffers by lowering and GEMM (Vol2col.swift). The tensor ops (conv3d, convTranspose3d), which
// make plans from shapes, are in Ops/Convolution3d.swift and Ops/ConvolutionTranspose3d.swift.
//
// Per image and group, with K = (C/g)·kD·kH·kW:
//   forward        y_g  (C'/g × P) = W_g (C'/g × K) · col(x_g) (K × P)
//   weight grad    dW_g (C'/g × K) += dy_g · col(x_g)ᵀ               (summed over images)
//   input grad     dx_g = col2vol(W_gᵀ · dy_g)
// Two ways to lower, chosen per call (``Convolution3dSettings``):
// - slices (stride 1 and dilation 1 along depth, planes of at least
//   ``Convolution3dSettings/sliceLoweringThreshold`` positions, one lowered slice within the
//   budget): each input depth slice is lowered once by 2-D im2col and multiplied in one GEMM by
//   the weights of all kD depth taps stacked ((kD·C'/g) rows; OpenBLAS packs the lowered slice
//   once for all of them), and each tap's rows are added to the output slice that reads the
//   input slice through it (od = id + pD − kd). The weight gradient gathers those kD output-
//   gradient slices one under another and multiplies them by the lowered slice's transpose, once.
//   A vol2col would lower every input slice kD times.
// - bands: vol2col of a band of output rows (od, oh) whose lowered matrix stays within the 2-D
//   path's lowering budget (``ConvolutionSettings/loweringBudget``, sized for L2).
// A 1×1×1 stride-1 unpadded convolution multiplies the input itself (a single band). The input
// gradient of a convolution with stride 1 everywhere (and padding at most the dilated kernel's
// reach) is the forward convolution of dy with the flipped, transposed weight (GEMMs of depth K
// instead of a GEMM of depth C'/g and a col2vol scatter); other strides run
// GEMM and col2vol per band.
// The forward splits (image, chunk or band) pairs among threads (they write disjoint outputs); the
// band backward splits images, whose windows overlap in dx, and the slice weight gradient
// (image, chunk) pairs, with per-chunk partial sums of dW added in chunk order (deterministic).
// One image with one chunk runs its GEMMs split among the threads by ``Gemm``. A transposed
// convolution is the adjoint: Ops/ConvolutionTranspose3d.swift runs the same plan with forward
// and input gradient swapped.

/// Algorithm choices of the 3-D convolutions, for experiments and tests; the defaults are the
/// designed fastest (see Kernels/Convolution3dPlan.swift).
public enum Convolution3dSettings {
    /// Output positions H'·W' of a depth slice at or above which a convolution with stride 1 and
    /// dilation 1 along depth lowers each input slice once (shared by the kD output slices that
    /// read it) instead of lowering bands of output rows; 0 takes that path wherever the shape
    /// allows, `Int.max` never (tests).
    nonisolated(unsafe) public static var sliceLoweringThreshold = 64
    /// Bytes of the lowered input slice each thread holds at once on the slice path; a shape
    /// whose lowered slice does not fit lowers bands instead.
    nonisolated(unsafe) public static var sliceLoweringBudget = 16 << 20
    /// Whether the input gradient of a stride-1 convolution runs as the convolution of the output
    /// gradient with the flipped weight (else GEMM and col2vol, as for other strides).
    nonisolated(unsafe) public static var inputGradientByFlippedWeight = true
}

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

    /// y = conv(x, weight) + bias.
    ///
    /// - Parameters: x: (N, C, D, H, W); weight: (C', C/g, kD, kH, kW); bias: (C') or nil;
    ///   y: (N, C', D', H', W'), fully written.
    func forward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                 into y: UnsafeMutablePointer<Float>) {
        if let slices = slicesPerChunk {
            sliceForward(x: x, weight: weight, bias: bias, into: y, slices: slices)
        } else {
            bandForward(x: x, weight: weight, bias: bias, into: y)
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
        if let dx, let weight {
            if let flipped = flippedForInputGradient {
                let flippedWeight = TensorStorage(uninitializedCount: weightCount)
                withExtendedLifetime(flippedWeight) {
                    flip(weight, into: flippedWeight.pointer)
                    flipped.forward(x: dy, weight: flippedWeight.pointer, bias: nil, into: dx)
                }
            } else {
                bandBackward(outputGradient: dy, x: nil, weight: weight, inputGradient: dx, weightGradient: nil)
            }
        }
        if let dw, let x {
            if let slices = slicesPerChunk {
                sliceWeightGradient(outputGradient: dy, x: x, into: dw, slices: slices)
            } else {
                bandBackward(outputGradient: dy, x: x, weight: nil, inputGradient: nil, weightGradient: dw)
            }
        }
    }

    /// Runs `body(worker, items, accumulator)` over `0..<items` (images, or (image, chunk of
    /// slices) pairs) cut into chunks on the threads, each chunk accumulating into its own zeroed
    /// (C', K) buffer; returns their sum, added in chunk order. The chunk count is fixed by the
    /// shape (at most 8, fewer when the partial sums would pass 32 MB), so the sum is the same on
    /// any run.
    private func summingOverChunks(
        of items: Int, _ body: (_ worker: Int, _ items: Range<Int>, _ accumulator: UnsafeMutablePointer<Float>) -> Void
    ) -> TensorStorage {
        let chunks = Swift.max(1, Swift.min(items, 8, (32 << 20) / Swift.max(1, weightCount * MemoryLayout<Float>.stride)))
        let sums = TensorStorage(count: chunks * weightCount, repeating: 0)
        Parallel.forEachChunk(count: items, chunks: chunks, workers: Parallel.workers(items: items, work: work)) { worker, chunk, range in
            body(worker, range, sums.pointer + chunk * weightCount)
        }
        for i in weightCount..<chunks * weightCount { sums.pointer[i % weightCount] += sums.pointer[i] }
        return sums
    }
}

// MARK: - Bands of output rows (vol2col)

extension Convolution3dPlan {
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
    private func bandScratch(workers: Int, bandRows: Int) -> TensorStorage? {
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

    /// ``forward(x:weight:bias:into:)`` by bands, (image, band) pairs split among threads.
    private func bandForward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                             into y: UnsafeMutablePointer<Float>) {
        let g = geometry, P = g.outputVolume, K = g.loweredRows, M = outputChannelsPerGroup, width = g.plane.outputWidth
        let bandRows = rowsPerBand, bandCount = (g.outputRows + bandRows - 1) / bandRows
        let tasks = batch * bandCount, bandSize = K * bandRows * width
        let workers = Parallel.workers(items: tasks, work: work)
        let scratch = bandScratch(workers: workers, bandRows: bandRows)
        Parallel.forEachChunk(count: tasks, chunks: workers * Parallel.chunksPerWorker, workers: workers) { worker, _, range in
            let col = scratch.map { $0.pointer + worker * bandSize }
            for task in range {
                let (n, b) = task.quotientAndRemainder(dividingBy: bandCount)
                let rows = band(at: b * bandRows, rows: bandRows), columns = rows.count * width
                let yBand = y + n * outputImage + rows.lowerBound * width
                if let bias { fill(yBand, bias: bias, columns: columns) }
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

    /// Sets `columns` consecutive positions of each output channel of one image, from `y`, to
    /// the channel's bias.
    @inline(__always)
    private func fill(_ y: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>, columns: Int) {
        for co in 0..<outputChannels { (y + co * geometry.outputVolume).update(repeating: bias[co], count: columns) }
    }

    /// ``backward(outputGradient:x:weight:inputGradient:weightGradient:)`` by bands, images split
    /// among threads.
    private func bandBackward(outputGradient dy: UnsafePointer<Float>, x: UnsafePointer<Float>?, weight: UnsafePointer<Float>?,
                              inputGradient dx: UnsafeMutablePointer<Float>?, weightGradient dw: UnsafeMutablePointer<Float>?) {
        let g = geometry, P = g.outputVolume, K = g.loweredRows, M = outputChannelsPerGroup, width = g.plane.outputWidth
        let bandRows = rowsPerBand, bandSize = K * bandRows * width
        let scratch = bandScratch(workers: Parallel.workers(items: batch, work: work), bandRows: bandRows)
        let sums = summingOverChunks(of: batch) { worker, images, dwChunk in
            let col = scratch.map { $0.pointer + worker * bandSize }
            for n in images {
                if let dx, !g.isPointwise { (dx + n * inputImage).update(repeating: 0, count: inputImage) }
                for group in 0..<groups {
                    let offset = n * inputImage + group * g.channels * g.inputVolume
                    for start in stride(from: 0, to: g.outputRows, by: bandRows) {
                        let rows = band(at: start, rows: bandRows), columns = rows.count * width
                        let dyBand = dy + n * outputImage + group * M * P + start * width
                        if let x, dw != nil {
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
        dw?.update(from: sums.pointer, count: weightCount)
    }
}

// MARK: - Slices lowered once; the input gradient as a convolution

extension Convolution3dPlan {
    /// Output depth slices per task on the slice path, or nil when the plan lowers bands (see
    /// the file comment). An image is one task when the batch alone gives the threads enough
    /// tasks (``slicePathTasks``), else its output slices are cut into near-equal chunks; the
    /// chunks depend on the shape only, so the weight gradient's partial sums are the same on
    /// every run.
    var slicesPerChunk: Int? {
        let g = geometry
        guard g.strideDepth == 1, g.dilationDepth == 1, !g.isPointwise,
              g.plane.outputPlane >= Convolution3dSettings.sliceLoweringThreshold,
              sliceSize * MemoryLayout<Float>.stride <= Convolution3dSettings.sliceLoweringBudget else { return nil }
        let chunks = Swift.min(g.outputDepth, (Self.slicePathTasks + batch - 1) / batch)
        return (g.outputDepth + chunks - 1) / chunks
    }

    /// Tasks the slice path aims at for a batch: (image, chunk of output slices) pairs.
    private static let slicePathTasks = 4

    /// Elements of one lowered input slice of one group, (C/g)·kH·kW·H'·W'.
    private var sliceSize: Int { geometry.channels * geometry.plane.taps * geometry.plane.outputPlane }

    /// Elements of the products of one lowered slice with the kD stacked weight taps, kD·(C'/g)·H'·W'.
    private var stackSize: Int { geometry.kernelDepth * outputChannelsPerGroup * geometry.plane.outputPlane }

    /// The output slices `od ..< od + slices` of chunk `chunk`, clipped to D'.
    @inline(__always)
    private func sliceChunk(_ chunk: Int, slices: Int) -> Range<Int> {
        (chunk * slices)..<Swift.min((chunk + 1) * slices, geometry.outputDepth)
    }

    /// Calls `body(id, taps)` for each input depth slice `id` (inside the volume: the depth
    /// padding adds nothing) that the output slices `depths` read, with the depth taps `taps`
    /// through which they read it: output slice id + pD − kd for kd in `taps`, a contiguous range.
    @inline(__always)
    private func forEachInputSlice(of depths: Range<Int>, _ body: (_ depth: Int, _ taps: ClosedRange<Int>) -> Void) {
        let g = geometry, pD = g.paddingDepth, kD = g.kernelDepth
        let first = Swift.max(0, depths.lowerBound - pD), end = Swift.min(g.inputDepth, depths.upperBound - pD + kD - 1)
        guard first < end else { return }
        for id in first..<end {
            body(id, Swift.max(0, id + pD - (depths.upperBound - 1))...Swift.min(kD - 1, id + pD - depths.lowerBound))
        }
    }

    /// Copies the (C', C/g, kD, kH·kW) weight into `stacked` as (g, kD, C'/g, C/g, kH·kW): per
    /// group, the weights of each depth tap as one (C'/g) × (C/g)·kH·kW matrix, the taps stacked;
    /// with `back`, the other way.
    private func stackWeight(_ weight: UnsafePointer<Float>, into stacked: UnsafeMutablePointer<Float>, back: Bool = false) {
        let g = geometry, (C, kD, T, M) = (g.channels, g.kernelDepth, g.plane.taps, outputChannelsPerGroup)
        for group in 0..<groups {
            for o in 0..<M {
                for c in 0..<C {
                    for kd in 0..<kD {
                        let natural = weight + (((group * M + o) * C + c) * kD + kd) * T
                        let tap = stacked + (((group * kD + kd) * M + o) * C + c) * T
                        if back {
                            UnsafeMutablePointer(mutating: natural).update(from: tap, count: T)
                        } else {
                            tap.update(from: natural, count: T)
                        }
                    }
                }
            }
        }
    }

    /// ``forward(x:weight:bias:into:)`` on the slice path: (image, chunk of output slices) pairs
    /// split among threads. Each input slice a chunk reads is lowered once and multiplied by the
    /// stacked weights of the depth taps through which the chunk reads it (one GEMM of
    /// (taps·C'/g) rows, so OpenBLAS packs the lowered slice once); each tap's rows are then
    /// added to its output slice.
    private func sliceForward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                              into y: UnsafeMutablePointer<Float>, slices: Int) {
        let g = geometry, P = g.outputVolume, P2 = g.plane.outputPlane, K = g.channels * g.plane.taps, M = outputChannelsPerGroup
        let pD = g.paddingDepth, chunkCount = (g.outputDepth + slices - 1) / slices
        let tasks = batch * chunkCount, scratchSize = sliceSize + stackSize
        let workers = Parallel.workers(items: tasks, work: work)
        let scratch = TensorStorage(uninitializedCount: workers * scratchSize)
        let stacked = TensorStorage(uninitializedCount: weightCount)
        stackWeight(weight, into: stacked.pointer)
        Parallel.forEachChunk(count: tasks, chunks: workers * Parallel.chunksPerWorker, workers: workers) { worker, _, range in
            let col = scratch.pointer + worker * scratchSize, products = col + sliceSize
            for task in range {
                let (n, chunk) = task.quotientAndRemainder(dividingBy: chunkCount)
                let depths = sliceChunk(chunk, slices: slices)
                let yImage = y + n * outputImage
                if let bias {
                    fill(yImage + depths.lowerBound * P2, bias: bias, columns: depths.count * P2)
                } else {
                    for co in 0..<outputChannels { (yImage + co * P + depths.lowerBound * P2).update(repeating: 0, count: depths.count * P2) }
                }
                for group in 0..<groups {
                    let xGroup = x + n * inputImage + group * g.channels * g.inputVolume
                    forEachInputSlice(of: depths) { id, taps in
                        Vol2col.lowerSlice(xGroup, g, depth: id, into: col)
                        Gemm.multiply(m: taps.count * M, n: P2, k: K,
                                      a: stacked.pointer + group * weightGroup + taps.lowerBound * M * K,
                                      Gemm.Operand(transposed: false, leadingDimension: K),
                                      b: col, Gemm.Operand(transposed: false, leadingDimension: P2),
                                      c: products, ldc: P2)
                        for kd in taps {
                            let yGroup = yImage + group * M * P + (id + pD - kd) * P2
                            let rows = products + (kd - taps.lowerBound) * M * P2
                            for o in 0..<M { Self.add(rows + o * P2, to: yGroup + o * P, count: P2) }
                        }
                    }
                }
            }
        }
    }

    /// target[i] += source[i] for i in 0..<count.
    @inline(__always)
    private static func add(_ source: UnsafePointer<Float>, to target: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { target[i] += source[i] }
    }

    /// The weight gradient on the slice path: (image, chunk of output slices) pairs split among
    /// threads. For each input slice a chunk reads, the output-gradient slices of the depth taps
    /// that read it are gathered one under another and multiplied by the slice's lowering once
    /// (one GEMM of (taps·C'/g) rows), adding to those taps' rows of the stacked weight gradient.
    private func sliceWeightGradient(outputGradient dy: UnsafePointer<Float>, x: UnsafePointer<Float>,
                                     into dw: UnsafeMutablePointer<Float>, slices: Int) {
        let g = geometry, P = g.outputVolume, P2 = g.plane.outputPlane, K = g.channels * g.plane.taps, M = outputChannelsPerGroup
        let pD = g.paddingDepth, chunkCount = (g.outputDepth + slices - 1) / slices, tasks = batch * chunkCount
        let scratchSize = sliceSize + stackSize
        let scratch = TensorStorage(uninitializedCount: Parallel.workers(items: tasks, work: work) * scratchSize)
        let sums = summingOverChunks(of: tasks) { worker, range, dwChunk in
            let col = scratch.pointer + worker * scratchSize, gathered = col + sliceSize
            for task in range {
                let (n, chunk) = task.quotientAndRemainder(dividingBy: chunkCount)
                let depths = sliceChunk(chunk, slices: slices)
                for group in 0..<groups {
                    let xGroup = x + n * inputImage + group * g.channels * g.inputVolume
                    let dyGroup = dy + n * outputImage + group * M * P
                    forEachInputSlice(of: depths) { id, taps in
                        Vol2col.lowerSlice(xGroup, g, depth: id, into: col)
                        for kd in taps {
                            let rows = gathered + (kd - taps.lowerBound) * M * P2, source = dyGroup + (id + pD - kd) * P2
                            for o in 0..<M { (rows + o * P2).update(from: source + o * P, count: P2) }
                        }
                        Gemm.multiply(m: taps.count * M, n: K, k: P2,
                                      a: gathered, Gemm.Operand(transposed: false, leadingDimension: P2),
                                      b: col, Gemm.Operand(transposed: true, leadingDimension: P2),
                                      beta: 1, c: dwChunk + group * weightGroup + taps.lowerBound * M * K, ldc: K)
                    }
                }
            }
        }
        stackWeight(dw, into: sums.pointer, back: true)
    }

    /// The plan whose forward pass computes this one's input gradient (stride 1 on every axis,
    /// padding at most dilation·(k − 1)): the convolution of dy, of C'/g channels per group, with
    /// the flipped weight (see ``flip(_:into:)``), padded by dilation·(k − 1) − padding; nil
    /// otherwise or when turned off.
    var flippedForInputGradient: Convolution3dPlan? {
        let g = geometry, p = g.plane
        let kernel = [g.kernelDepth, p.kernelHeight, p.kernelWidth], dilation = [g.dilationDepth, p.dilationHeight, p.dilationWidth]
        let ownPadding = [g.paddingDepth, p.paddingHeight, p.paddingWidth]
        let padding = (0..<3).map { dilation[$0] * (kernel[$0] - 1) - ownPadding[$0] }
        guard Convolution3dSettings.inputGradientByFlippedWeight,
              g.strideDepth == 1, p.strideHeight == 1, p.strideWidth == 1, padding.allSatisfy({ $0 >= 0 }),
              g.outputDepth + 2 * padding[0] - dilation[0] * (kernel[0] - 1) == g.inputDepth,
              p.outputHeight + 2 * padding[1] - dilation[1] * (kernel[1] - 1) == p.inputHeight,
              p.outputWidth + 2 * padding[2] - dilation[2] * (kernel[2] - 1) == p.inputWidth
        else { return nil }
        return Convolution3dPlan(
            batch: batch, groups: groups,
            geometry: VolumeGeometry(channels: outputChannelsPerGroup, input: [g.outputDepth, p.outputHeight, p.outputWidth],
                                     kernel: kernel, stride: [1, 1, 1], padding: padding, dilation: dilation,
                                     output: [g.inputDepth, p.inputHeight, p.inputWidth]),
            outputChannelsPerGroup: g.channels)
    }

    /// Writes the weight of ``flippedForInputGradient``: per group, input and output channels
    /// swapped and the kernel reversed along every axis, (C, C'/g, kD, kH, kW) from
    /// (C', C/g, kD, kH, kW).
    private func flip(_ weight: UnsafePointer<Float>, into flipped: UnsafeMutablePointer<Float>) {
        let (C, M, T) = (geometry.channels, outputChannelsPerGroup, geometry.kernelDepth * geometry.plane.taps)
        for group in 0..<groups {
            for o in 0..<M {
                for c in 0..<C {
                    let source = weight + ((group * M + o) * C + c) * T, target = flipped + ((group * C + c) * M + o) * T
                    for t in 0..<T { target[T - 1 - t] = source[t] }
                }
            }
        }
    }
}
