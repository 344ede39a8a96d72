// The batched-lowering path of ConvolutionPlan, for small output planes (the late stages of a
// CNN, 8×8 down to 1×1). There a GEMM per image has only H'·W' columns, and OpenBLAS packs the
// whole weight matrix for each of them: the packing, not the arithmetic, takes the time. Here a
// chunk of images is lowered side by side into one K × (images·P) matrix, so each group runs
// one GEMM per chunk:
//   forward        Y_g  (C'/g × images·P) = W_g · col,  then scattered to (N, C', H', W')
//   weight grad    dW_g += dY_g · colᵀ,                  dY_g gathered from (N, C', H', W')
//   input grad     dcol = W_gᵀ · dY_g,                   then col2im per image
// Chunks run one after another with OpenBLAS's own threads on the large GEMMs (added in chunk
// order, so the result is deterministic); the lowering and col2im of a chunk are split among
// threads by image.

extension ConvolutionPlan {
    /// Output positions H'·W' at or below which a chunk of images is lowered into one matrix.
    nonisolated(unsafe) static var batchedThreshold = 64

    /// Bytes of lowered matrix and gathered outputs of one chunk of images.
    nonisolated(unsafe) static var batchedBudget = 16 << 20

    /// Images per chunk: as many as fit in ``batchedBudget``, in chunks of near-equal size.
    private var imagesPerChunk: Int {
        let g = geometry
        let bytes = (g.loweredRows + outputChannelsPerGroup) * g.outputPlane * MemoryLayout<Float>.stride
        let most = Swift.max(1, Swift.min(batch, Self.batchedBudget / Swift.max(bytes, 1)))
        let chunks = (batch + most - 1) / most
        return (batch + chunks - 1) / chunks
    }

    /// Calls `body(images, col, matrix)` for each chunk of images, with scratch for the lowered
    /// matrix `col` (K × images·P) and a gathered output matrix (C'/g × images·P).
    private func forEachImageChunk(_ body: (Range<Int>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) -> Void) {
        let g = geometry, per = imagesPerChunk
        let col = TensorStorage(uninitializedCount: g.loweredRows * per * g.outputPlane)
        let matrix = TensorStorage(uninitializedCount: outputChannelsPerGroup * per * g.outputPlane)
        withExtendedLifetime((col, matrix)) {
            for start in stride(from: 0, to: batch, by: per) {
                body(start..<Swift.min(start + per, batch), col.pointer, matrix.pointer)
            }
        }
    }

    /// Calls `body` with one part of `images` per thread that `work` deserves.
    private func forEachPart(of images: Range<Int>, work: Int, _ body: (Range<Int>) -> Void) {
        let workers = Parallel.workers(items: images.count, work: work)
        Parallel.forEachChunk(count: images.count, chunks: workers, workers: workers) { _, _, part in
            body((images.lowerBound + part.lowerBound)..<(images.lowerBound + part.upperBound))
        }
    }

    /// Lowers group `group` of images `images` of `x` side by side into `col` (K × images·P).
    private func lowerChunk(_ x: UnsafePointer<Float>, images: Range<Int>, group: Int, into col: UnsafeMutablePointer<Float>) {
        let g = geometry, P = g.outputPlane, ld = images.count * P
        // Cleared at once, the padding taps (most of a small plane's) are then skipped.
        col.update(repeating: 0, count: g.loweredRows * ld)
        forEachPart(of: images, work: g.loweredRows * ld) { part in
            Im2col.lower(x + part.lowerBound * inputImage + group * g.channels * g.inputPlane, g, outputRows: 0..<g.outputHeight,
                         into: col + (part.lowerBound - images.lowerBound) * P, leadingDimension: ld,
                         images: part.count, imageStride: inputImage, columnStride: P, zeroed: true)
        }
    }

    /// Copies between group `group` of images `images` of an (N, C', H', W') tensor and the
    /// (C'/g × images·P) matrix: `toMatrix` gathers, otherwise it scatters adding `bias`.
    @inline(__always)
    private func transfer(_ images: Range<Int>, group: Int, tensor: UnsafeMutablePointer<Float>,
                          matrix: UnsafeMutablePointer<Float>, toMatrix: Bool, bias: UnsafePointer<Float>? = nil) {
        let P = geometry.outputPlane, M = outputChannelsPerGroup, ld = images.count * P
        for (i, n) in images.enumerated() {
            for m in 0..<M {
                let co = group * M + m
                let planar = tensor + n * outputImage + co * P, row = matrix + m * ld + i * P
                if toMatrix {
                    ShortRow.copy(planar, to: row, count: P)
                } else {
                    let b = bias?[co] ?? 0
                    for p in 0..<P { planar[p] = row[p] + b }
                }
            }
        }
    }

    /// ``forward(x:weight:bias:into:)`` by batched lowering.
    func batchedForward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                        into y: UnsafeMutablePointer<Float>, epilogue: ConvolutionEpilogue = .none) {
        let K = geometry.loweredRows, M = outputChannelsPerGroup
        forEachImageChunk { images, col, product in
            let columns = images.count * geometry.outputPlane
            for group in 0..<groups {
                lowerChunk(x, images: images, group: group, into: col)
                Gemm.multiply(m: M, n: columns, k: K,
                              a: weight + group * weightGroup, Gemm.Operand(transposed: false, leadingDimension: K),
                              b: col, Gemm.Operand(transposed: false, leadingDimension: columns),
                              c: product, ldc: columns)
                transfer(images, group: group, tensor: y, matrix: product, toMatrix: false, bias: bias)
            }
            let start = images.lowerBound * outputImage
            epilogue.apply(to: y + start, count: images.count * outputImage, outputOffset: start)
        }
    }

    /// ``backward(outputGradient:x:weight:inputGradient:weightGradient:)`` by batched lowering.
    func batchedBackward(outputGradient dy: UnsafePointer<Float>, x: UnsafePointer<Float>?, weight: UnsafePointer<Float>?,
                         inputGradient dx: UnsafeMutablePointer<Float>?, weightGradient dw: UnsafeMutablePointer<Float>?) {
        let g = geometry, P = g.outputPlane, K = g.loweredRows, M = outputChannelsPerGroup
        dw?.update(repeating: 0, count: weightCount)
        forEachImageChunk { images, col, gathered in
            let columns = images.count * P
            dx?.advanced(by: images.lowerBound * inputImage).update(repeating: 0, count: images.count * inputImage)
            for group in 0..<groups {
                transfer(images, group: group, tensor: UnsafeMutablePointer(mutating: dy), matrix: gathered, toMatrix: true)
                if let x, let dw {
                    lowerChunk(x, images: images, group: group, into: col)
                    Gemm.multiply(m: M, n: K, k: columns,
                                  a: gathered, Gemm.Operand(transposed: false, leadingDimension: columns),
                                  b: col, Gemm.Operand(transposed: true, leadingDimension: columns),
                                  beta: 1, c: dw + group * weightGroup, ldc: K)
                }
                if let weight, let dx {
                    Gemm.multiply(m: K, n: columns, k: M,
                                  a: weight + group * weightGroup, Gemm.Operand(transposed: true, leadingDimension: K),
                                  b: gathered, Gemm.Operand(transposed: false, leadingDimension: columns),
                                  c: col, ldc: columns)
                    forEachPart(of: images, work: K * columns) { part in
                        Im2col.scatterAdd(col + (part.lowerBound - images.lowerBound) * P, g, outputRows: 0..<g.outputHeight,
                                          into: dx + part.lowerBound * inputImage + group * g.channels * g.inputPlane,
                                          leadingDimension: columns, images: part.count, imageStride: inputImage, columnStride: P)
                    }
                }
            }
        }
    }
}
