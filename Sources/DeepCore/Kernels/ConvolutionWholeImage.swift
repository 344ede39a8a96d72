// The whole-image paths of ConvolutionPlan (conv2d only). A convolution is a linear map of each
// image; when every output position reads all or most of the image, that map is one matrix
//   y_n (C'·P) = M (C'·P × C·H·W) · x_n          for every image n,
// run as one GEMM over the batch on the tensors as they lie, with no lowering:
//   forward        Y (N × C'·P) = X (N × C·H·W) · Mᵀ
//   input grad     dX = dY · M
//   weight grad    dM = dYᵀ · X, each entry added back onto the tap it holds
// - wholeImage: one unpadded window covering each image, a 1×1 output: M is the weight itself.
// - denseMatrix: an image of no more positions than the kernel has taps (3×3 on ResNet's 2×2
//   stage at 32²): M holds each tap where it reads the input and zeros elsewhere, so it has no
//   more entries than im2col multiplies, without im2col's products with the padding (on a 2×2
//   plane, 20 of im2col's 36 per channel pair; M has no zeros there). M is built on each call,
//   or kept by a ConvolutionWeightCache.

extension ConvolutionPlan {
    /// Whether M of ``ConvolutionAlgorithm/denseMatrix`` suits the shape: conv2d (`wholeImage`:
    /// whether there is a bias) ungrouped, at least ``denseMatrixMinimumBatch`` images (fewer
    /// would read M, larger than the weight, for too few products), an input plane of at most
    /// as many positions as the kernel has taps, and M of at most ``denseMatrixLimit`` floats.
    func fitsDenseMatrix(wholeImage: Bool?) -> Bool {
        let g = geometry, (size, overflow) = outputImage.multipliedReportingOverflow(by: inputImage)
        return wholeImage != nil && groups == 1 && batch >= Self.denseMatrixMinimumBatch && g.inputPlane <= g.taps
            && !overflow && size <= Self.denseMatrixLimit
    }

    /// Images below which a dense matrix is not used.
    static let denseMatrixMinimumBatch = 8
    /// Floats of the largest dense matrix built (64 MB).
    static let denseMatrixLimit = 1 << 24

    /// The entries of M of one (c', c) channel pair, by output position p: the kernel taps that
    /// read inside the image and the input positions q they read (row p, column q of the pair's
    /// P × H·W block; no two share a q), as flat lists with the offset of each position's run.
    private var denseEntries: (starts: [Int], taps: [Int], inputs: [Int]) {
        let g = geometry
        var (starts, taps, inputs) = ([0], [Int](), [Int]())
        for oh in 0..<g.outputHeight {
            for ow in 0..<g.outputWidth {
                for ki in 0..<g.kernelHeight {
                    let ih = oh * g.strideHeight - g.paddingHeight + ki * g.dilationHeight
                    guard ih >= 0 && ih < g.inputHeight else { continue }
                    for kj in 0..<g.kernelWidth {
                        let iw = ow * g.strideWidth - g.paddingWidth + kj * g.dilationWidth
                        guard iw >= 0 && iw < g.inputWidth else { continue }
                        taps.append(ki * g.kernelWidth + kj)
                        inputs.append(ih * g.inputWidth + iw)
                    }
                }
                starts.append(taps.count)
            }
        }
        return (starts, taps, inputs)
    }

    /// Calls `body(co, p, row, taps, inputs, count)` for every row of M (output channel co,
    /// position p; `row` its C·H·W floats in `matrix`) with position p's entries, the rows of
    /// each output channel on one thread.
    @inline(__always)
    private func forEachDenseRow(of matrix: UnsafeMutablePointer<Float>,
                                 _ body: (Int, Int, UnsafeMutablePointer<Float>, UnsafePointer<Int>, UnsafePointer<Int>, Int) -> Void) {
        let P = geometry.outputPlane, columns = inputImage, (starts, taps, inputs) = denseEntries
        taps.withUnsafeBufferPointer { taps in
            inputs.withUnsafeBufferPointer { inputs in
                Parallel.forEach(count: outputChannels, work: outputChannels * P * columns) { channels in
                    for co in channels {
                        for p in 0..<P {
                            body(co, p, matrix + (co * P + p) * columns, taps.baseAddress! + starts[p],
                                 inputs.baseAddress! + starts[p], starts[p + 1] - starts[p])
                        }
                    }
                }
            }
        }
    }

    /// M (C'·P × C·H·W) of `weight` (C', C, kH, kW): row c'·P + p, column c·H·W + q holds the
    /// tap of w[c', c] that output position p reads at input position q, or zero.
    func denseMatrix(_ weight: UnsafePointer<Float>) -> TensorStorage {
        let g = geometry, Q = g.inputPlane, taps = g.taps, C = g.channels
        let m = TensorStorage(uninitializedCount: outputImage * inputImage)
        forEachDenseRow(of: m.pointer) { co, _, row, kernelTaps, inputs, count in
            let w = weight + co * C * taps
            if count == Q {
                // Every input position read (entries in input order): the row in one sequential pass.
                var (source, target) = (w, row)
                for _ in 0..<C {
                    for q in 0..<Q { target[q] = source[kernelTaps[q]] }
                    source += taps
                    target += Q
                }
                return
            }
            row.update(repeating: 0, count: C * Q)
            for e in 0..<count {
                let (source, target) = (w + kernelTaps[e], row + inputs[e])
                for c in 0..<C { target[c * Q] = source[c * taps] }
            }
        }
        return m
    }

    /// dw (C', C, kH, kW) = the sum of the entries of dM (C'·P × C·H·W) on each tap, zero for
    /// taps that read no input (the adjoint of ``denseMatrix(_:)``).
    private func foldDenseGradient(_ dm: UnsafeMutablePointer<Float>, into dw: UnsafeMutablePointer<Float>) {
        let g = geometry, Q = g.inputPlane, taps = g.taps, C = g.channels
        forEachDenseRow(of: dm) { co, p, row, kernelTaps, inputs, count in
            let w = dw + co * C * taps
            if p == 0 { w.update(repeating: 0, count: C * taps) }
            if count == Q {
                var (source, target) = (UnsafePointer(row), w)
                for _ in 0..<C {
                    for q in 0..<Q { target[kernelTaps[q]] += source[q] }
                    source += Q
                    target += taps
                }
                return
            }
            for e in 0..<count {
                let (source, target) = (row + inputs[e], w + kernelTaps[e])
                for c in 0..<C { target[c * taps] += source[c * Q] }
            }
        }
    }

    /// ``forward(x:weight:bias:into:weightCache:epilogue:)`` by one GEMM over the batch: y (N ×
    /// C'·P) = x (N × C·H·W) · Mᵀ, onto the bias when there is one; M is the weight
    /// (wholeImage) or its dense matrix, from `weightCache` when given.
    func wholeImageForward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                           into y: UnsafeMutablePointer<Float>, weightCache: ConvolutionWeightCache?) {
        let g = geometry, (rows, columns) = (outputImage, inputImage)
        if let bias {
            for n in 0..<batch { ChannelPlanes.fill(y + n * rows, bias: bias, channels: outputChannels, plane: g.outputPlane) }
        }
        withMatrix(weight, weightCache: weightCache) { m in
            Gemm.multiply(m: batch, n: rows, k: columns,
                          a: x, Gemm.Operand(transposed: false, leadingDimension: columns),
                          b: m, Gemm.Operand(transposed: true, leadingDimension: columns),
                          beta: bias == nil ? 0 : 1, c: y, ldc: rows, pieceWork: wholeImagePieceWork)
        }
    }

    /// ``backward(outputGradient:x:weight:inputGradient:weightGradient:)`` by one GEMM over the
    /// batch each: dx (N × C·H·W) = dy · M and dM (C'·P × C·H·W) = dyᵀ · x, which is dw for
    /// wholeImage and is added onto the taps for denseMatrix.
    func wholeImageBackward(outputGradient dy: UnsafePointer<Float>, x: UnsafePointer<Float>?, weight: UnsafePointer<Float>?,
                            inputGradient dx: UnsafeMutablePointer<Float>?, weightGradient dw: UnsafeMutablePointer<Float>?) {
        let (rows, columns) = (outputImage, inputImage)
        if let dx, let weight {
            withMatrix(weight, weightCache: nil) { m in
                Gemm.multiply(m: batch, n: columns, k: rows,
                              a: dy, Gemm.Operand(transposed: false, leadingDimension: rows),
                              b: m, Gemm.Operand(transposed: false, leadingDimension: columns),
                              c: dx, ldc: columns, pieceWork: wholeImagePieceWork)
            }
        }
        guard let dw, let x else { return }
        let dm = algorithm == .denseMatrix ? TensorStorage(uninitializedCount: rows * columns) : nil
        Gemm.multiply(m: rows, n: columns, k: batch,
                      a: dy, Gemm.Operand(transposed: true, leadingDimension: rows),
                      b: x, Gemm.Operand(transposed: false, leadingDimension: columns),
                      c: dm?.pointer ?? dw, ldc: columns, pieceWork: wholeImagePieceWork)
        if let dm { foldDenseGradient(dm.pointer, into: dw) }
    }

    /// The pieces the GEMMs run in (``ConvolutionAlgorithm/wholeImage(pieceWork:)``); nil for
    /// the dense matrix.
    private var wholeImagePieceWork: Int? {
        if case .wholeImage(let pieceWork) = algorithm { return pieceWork }
        return nil
    }

    /// Calls `body` with M (C'·P × C·H·W): the weight itself for wholeImage, else the dense
    /// matrix, kept in `weightCache` when given.
    private func withMatrix(_ weight: UnsafePointer<Float>, weightCache: ConvolutionWeightCache?,
                            _ body: (UnsafePointer<Float>) -> Void) {
        if algorithm != .denseMatrix { return body(weight) }
        let g = geometry
        let key = [2, outputChannels, g.channels, g.inputHeight, g.inputWidth, g.kernelHeight, g.kernelWidth,
                   g.strideHeight, g.strideWidth, g.paddingHeight, g.paddingWidth, g.dilationHeight, g.dilationWidth]
        let m = weightCache?.weights(for: key) { denseMatrix(weight) } ?? denseMatrix(weight)
        withExtendedLifetime(m) { body(m.pointer) }
    }
}
