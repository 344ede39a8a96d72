// Window kernels of 2-D convolution over raw buffers: im2col (lowering an image to a matrix whose
// product with the weights is the convolution), col2im (its adjoint, a scatter-add), and the
// direct loops used when each group has one input channel (depthwise), where a GEMM would have a
// single row. All of them walk the same windows through `ConvGeometry.forEachWindowRow`. Also the
// window of kernel taps a convolution keeps, and the per-channel bias loops.
//
// Legend: C channels of one group, H×W input plane, kH×kW kernel, H'×W' output plane,
// K = C·kH·kW rows of the lowered matrix, P = H'·W' output positions.

/// The sizes of a 2-D convolution as seen from one image and one group.
///
/// The input and output sizes are both stored: a convolution computes the output size from the
/// input size, a transposed convolution the other way round (with output padding), and the
/// kernels below work for any pair, skipping taps that fall outside the input.
struct ConvGeometry {
    /// Input channels of one group.
    var channels: Int
    var inputHeight: Int, inputWidth: Int
    var kernelHeight: Int, kernelWidth: Int
    var strideHeight: Int, strideWidth: Int
    var paddingHeight: Int, paddingWidth: Int
    var dilationHeight: Int, dilationWidth: Int
    var outputHeight: Int, outputWidth: Int

    /// Output size along one axis of a convolution or pooling (PyTorch's formula); may be < 1
    /// when the dilated kernel is larger than the padded input. With `ceilMode` a last partial
    /// window counts, unless it would start in the right padding.
    static func outputSize(input: Int, kernel: Int, stride: Int, padding: Int, dilation: Int,
                           ceilMode: Bool = false) -> Int {
        let span = input + 2 * padding - dilation * (kernel - 1) - 1
        guard ceilMode else { return span.floorDivided(by: stride) + 1 }
        var size = span.ceilDivided(by: stride) + 1
        if (size - 1) * stride >= input + padding { size -= 1 }
        return size
    }

    /// Elements of one input plane (H·W).
    var inputPlane: Int { inputHeight * inputWidth }
    /// Output positions P = H'·W'.
    var outputPlane: Int { outputHeight * outputWidth }
    /// Taps of the kernel window, kH·kW.
    var taps: Int { kernelHeight * kernelWidth }
    /// Rows K = C·kH·kW of the lowered matrix.
    var loweredRows: Int { channels * taps }

    /// Whether the lowered matrix equals the input (1×1 kernel, stride 1, no padding), so that
    /// the convolution is a plain GEMM on the input.
    var isPointwise: Bool {
        kernelHeight == 1 && kernelWidth == 1 && strideHeight == 1 && strideWidth == 1
            && paddingHeight == 0 && paddingWidth == 0
            && outputHeight == inputHeight && outputWidth == inputWidth
    }

    /// Calls `body` for every lowered row `(c, ki, kj)` and every output row `oh` in
    /// `outputRows`, in that nesting order, with:
    /// - `row`: the lowered row index `c·kH·kW + ki·kW + kj`;
    /// - `outputRow`: `oh - outputRows.lowerBound`;
    /// - `input`: offset of input row `ih = oh·sH - pH + ki·dH` of channel c (`c·H·W + ih·W`),
    ///   or -1 when that row lies in the padding;
    /// - `columns`: the output columns whose tap lies inside the input row;
    /// - `inputColumn`: the input column read by output column `columns.lowerBound`
    ///   (consecutive output columns read every `strideWidth`-th input column).
    @inline(__always)
    func forEachWindowRow(
        outputRows: Range<Int>,
        _ body: (_ row: Int, _ outputRow: Int, _ input: Int, _ columns: Range<Int>, _ inputColumn: Int) -> Void
    ) {
        var row = 0
        for c in 0..<channels {
            for ki in 0..<kernelHeight {
                for kj in 0..<kernelWidth {
                    // Output columns ow with 0 <= ow·sW - pW + kj·dW < W.
                    let shift = kj * dilationWidth - paddingWidth
                    let first = Swift.max(0, (-shift).ceilDivided(by: strideWidth))
                    let end = Swift.min(outputWidth, (inputWidth - 1 - shift).floorDivided(by: strideWidth) + 1)
                    let columns = first..<Swift.max(first, end)
                    let inputColumn = first * strideWidth + shift
                    for oh in outputRows {
                        let ih = oh * strideHeight - paddingHeight + ki * dilationHeight
                        let input = ih >= 0 && ih < inputHeight ? (c * inputHeight + ih) * inputWidth : -1
                        body(row, oh - outputRows.lowerBound, input, columns, inputColumn)
                    }
                    row += 1
                }
            }
        }
    }
}

/// The kernel rows and columns that a convolution keeps: those some output position reads inside
/// the input. The others only ever read padding (a 3×3 kernel on ResNet's 1×1 last stage), so
/// they contribute nothing and get zero gradient.
struct KernelWindow {
    var rows: Range<Int>, columns: Range<Int>
    /// The whole kernel, kH × kW.
    var kernelHeight: Int, kernelWidth: Int

    /// The window of `g`'s kernel when dropping the taps outside it leaves a convolution of the
    /// same output size with non-negative symmetric padding; nil when there is nothing to drop
    /// or the rest would not be such a convolution.
    init?(reachableIn g: ConvGeometry) {
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
                                      stride: g.strideWidth, padding: g.paddingWidth, dilation: g.dilationWidth),
              rows.count < g.kernelHeight || columns.count < g.kernelWidth
        else { return nil }
        (self.rows, self.columns, kernelHeight, kernelWidth) = (rows, columns, g.kernelHeight, g.kernelWidth)
    }

    /// `g` with the window's kernel, the padding shifted by the taps dropped before it.
    func applied(to g: ConvGeometry) -> ConvGeometry {
        var g = g
        g.paddingHeight -= rows.lowerBound * g.dilationHeight
        g.paddingWidth -= columns.lowerBound * g.dilationWidth
        (g.kernelHeight, g.kernelWidth) = (rows.count, columns.count)
        return g
    }

    /// Copies the window of each of `planes` kH × kW kernel planes of `full` into the compact
    /// rows × columns planes of `window`.
    func gather(_ full: UnsafePointer<Float>, planes: Int, into window: UnsafeMutablePointer<Float>) {
        transfer(full: UnsafeMutablePointer(mutating: full), window: window, planes: planes, toWindow: true)
    }

    /// Writes the compact planes of `window` into the window of each of `planes` kH × kW planes
    /// of `full`, zeros elsewhere (the adjoint of ``gather(_:planes:into:)``).
    func scatter(_ window: UnsafePointer<Float>, planes: Int, into full: UnsafeMutablePointer<Float>) {
        transfer(full: full, window: UnsafeMutablePointer(mutating: window), planes: planes, toWindow: false)
    }

    /// Copies between the window of every plane of the full kernel and the compact one, planes
    /// split among threads: `toWindow` gathers, otherwise scatters into zeros.
    private func transfer(full: UnsafeMutablePointer<Float>, window: UnsafeMutablePointer<Float>, planes: Int, toWindow: Bool) {
        let (kh, kw, wh, ww) = (kernelHeight, kernelWidth, rows.count, columns.count)
        let first = rows.lowerBound * kw + columns.lowerBound
        Parallel.forEach(count: planes, work: planes * kh * kw) { range in
            if !toWindow { (full + range.lowerBound * kh * kw).update(repeating: 0, count: range.count * kh * kw) }
            if wh == 1 && ww == 1 {
                // One tap kept (a 3×3 kernel on 1×1 planes): a strided copy, without the per-plane loops.
                let (f, c, step) = (full + first, window, kh * kw)
                if toWindow {
                    for p in range { c[p] = f[p * step] }
                } else {
                    for p in range { f[p * step] = c[p] }
                }
                return
            }
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
}

/// Loops over the (C, H·W) channel planes of a batch: a per-channel bias and its gradient.
enum ChannelPlanes {
    /// Sets each of the C planes of one image to its channel's bias.
    ///
    /// - Parameters: y: C planes of `plane` floats, overwritten; bias: (C).
    @inline(__always)
    static func fill(_ y: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>, channels: Int, plane: Int) {
        for c in 0..<channels { (y + c * plane).update(repeating: bias[c], count: plane) }
    }

    /// Copies `row` into each of `rows` rows of `length` floats.
    ///
    /// - Parameters: y: rows × length, overwritten; row: (length).
    static func fillRows(_ y: UnsafeMutablePointer<Float>, with row: UnsafePointer<Float>, rows: Int, length: Int) {
        for r in 0..<rows { (y + r * length).update(from: row, count: length) }
    }

    /// Adds each channel's bias to every position of its planes.
    ///
    /// - Parameters: y: (N, C, plane), accumulated into; bias: (C).
    static func addBias(_ bias: UnsafePointer<Float>, to y: UnsafeMutablePointer<Float>, images: Int, channels: Int, plane: Int) {
        for p in 0..<images * channels {
            let b = bias[p % channels], row = y + p * plane
            for i in 0..<plane { row[i] += b }
        }
    }

    /// The sum over images and positions of each channel: the gradient of a bias.
    ///
    /// - Parameters: x: (N, C, plane); sums: (C), overwritten.
    static func sums(_ x: UnsafePointer<Float>, images: Int, channels: Int, plane: Int, into sums: UnsafeMutablePointer<Float>) {
        sums.update(repeating: 0, count: channels)
        for n in 0..<images {
            for ch in 0..<channels {
                // Four partial sums, so that the loop runs four lanes wide.
                let p = x + (n * channels + ch) * plane
                var lanes = SIMD4<Float>(), i = 0
                while i + 4 <= plane { lanes += UnsafeRawPointer(p + i).loadUnaligned(as: SIMD4<Float>.self); i += 4 }
                var s = lanes.sum()
                while i < plane { s += p[i]; i += 1 }
                sums[ch] += s
            }
        }
    }
}

extension Int {
    /// ⌊self / divisor⌋ for a positive divisor.
    @inline(__always)
    func floorDivided(by divisor: Int) -> Int {
        self >= 0 ? self / divisor : -((-self + divisor - 1) / divisor)
    }

    /// ⌈self / divisor⌉ for a positive divisor.
    @inline(__always)
    func ceilDivided(by divisor: Int) -> Int {
        -((-self).floorDivided(by: divisor))
    }
}

/// Copies and zero fills of short rows (a few dozen floats, the rows of an image), four floats
/// at a time inline: at these lengths a call to memmove or memset costs more than the work.
enum ShortRow {
    @inline(__always)
    static func copy(_ src: UnsafePointer<Float>, to dst: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i + 4 <= count {
            UnsafeMutableRawPointer(dst + i).storeBytes(of: UnsafeRawPointer(src + i).loadUnaligned(as: SIMD4<Float>.self),
                                                        as: SIMD4<Float>.self)
            i += 4
        }
        while i < count { dst[i] = src[i]; i += 1 }
    }

    /// src[0], src[2], …, src[2·(count − 1)] into dst (a stride-2 row); reads nothing past the last.
    @inline(__always)
    static func copyEveryOther(_ src: UnsafePointer<Float>, to dst: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i + 8 <= count {
            UnsafeMutableRawPointer(dst + i).storeBytes(of: VectorMath.loadEveryOther(src + 2 * i), as: FloatVector.self)
            i += 8
        }
        while i < count { dst[i] = src[2 * i]; i += 1 }
    }

    @inline(__always)
    static func zero(_ dst: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i + 4 <= count { UnsafeMutableRawPointer(dst + i).storeBytes(of: SIMD4<Float>(), as: SIMD4<Float>.self); i += 4 }
        while i < count { dst[i] = 0; i += 1 }
    }
}

/// im2col and col2im: between C input planes and the K × (rows·W') lowered matrix of a band of
/// output rows.
enum Im2col {
    /// Writes the lowered matrix of output rows `outputRows` to `col`, or of `images` images side
    /// by side (image i's columns start at `i · columnStride`).
    ///
    /// - Parameters:
    ///   - x: C planes of H×W, contiguous; image i starts at `x + i · imageStride`.
    ///   - col: K × (outputRows.count · W') per image, row-major with rows `leadingDimension`
    ///     apart (by default outputRows.count · W'); padding taps become zeros, or are skipped
    ///     when `zeroed` (the caller cleared `col`, cheaper for small planes, mostly padding).
    static func lower(_ x: UnsafePointer<Float>, _ g: ConvGeometry, outputRows: Range<Int>,
                      into col: UnsafeMutablePointer<Float>, leadingDimension: Int? = nil,
                      images: Int = 1, imageStride: Int = 0, columnStride: Int = 0, zeroed: Bool = false) {
        let width = g.outputWidth, ld = leadingDimension ?? outputRows.count * width, step = g.strideWidth
        g.forEachWindowRow(outputRows: outputRows) { row, outputRow, input, columns, inputColumn in
            if zeroed && (input < 0 || columns.isEmpty) { return }
            for i in 0..<images {
                let dst = col + row * ld + outputRow * width + i * columnStride
                guard input >= 0 else {
                    ShortRow.zero(dst, count: width)
                    continue
                }
                if !zeroed { ShortRow.zero(dst, count: columns.lowerBound) }
                let src = x + i * imageStride + input + inputColumn, out = dst + columns.lowerBound, n = columns.count
                if step == 1 {
                    ShortRow.copy(src, to: out, count: n)
                } else if step == 2 {
                    ShortRow.copyEveryOther(src, to: out, count: n)
                } else {
                    for j in 0..<n { out[j] = src[j * step] }
                }
                if !zeroed { ShortRow.zero(dst + columns.upperBound, count: width - columns.upperBound) }
            }
        }
    }

    /// Adds the lowered matrix `col` of output rows `outputRows` back into the input planes
    /// (col2im, the adjoint of ``lower(_:_:outputRows:into:leadingDimension:images:imageStride:columnStride:zeroed:)``),
    /// of `images` images side by side; padding taps are dropped.
    ///
    /// - Parameters:
    ///   - col: K × (outputRows.count · W') per image, row-major with rows `leadingDimension`
    ///     apart (by default outputRows.count · W'); image i's columns start at `i · columnStride`.
    ///   - x: C planes of H×W, contiguous, accumulated into; image i starts at `x + i · imageStride`.
    static func scatterAdd(_ col: UnsafePointer<Float>, _ g: ConvGeometry, outputRows: Range<Int>,
                           into x: UnsafeMutablePointer<Float>, leadingDimension: Int? = nil,
                           images: Int = 1, imageStride: Int = 0, columnStride: Int = 0) {
        let width = g.outputWidth, ld = leadingDimension ?? outputRows.count * width, step = g.strideWidth
        g.forEachWindowRow(outputRows: outputRows) { row, outputRow, input, columns, inputColumn in
            guard input >= 0 else { return }
            for i in 0..<images {
                let src = col + row * ld + outputRow * width + columns.lowerBound + i * columnStride
                let dst = x + i * imageStride + input + inputColumn
                if step == 1 {
                    for j in 0..<columns.count { dst[j] += src[j] }
                } else {
                    for j in 0..<columns.count { dst[j * step] += src[j] }
                }
            }
        }
    }
}

/// Direct loops for a convolution whose groups have one input channel (depthwise and its channel
/// multipliers): each output plane is a weighted sum of shifted copies of one input plane.
/// The geometry's `channels` must be 1.
enum DepthwiseKernel {
    /// `y += Σ_taps w[tap] · shifted(x)` for one plane.
    ///
    /// - Parameters: x: H×W; w: kH·kW taps; y: H'×W', accumulated into.
    static func forward(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ g: ConvGeometry,
                        into y: UnsafeMutablePointer<Float>) {
        let width = g.outputWidth, step = g.strideWidth
        g.forEachWindowRow(outputRows: 0..<g.outputHeight) { tap, outputRow, input, columns, inputColumn in
            guard input >= 0 else { return }
            let weight = w[tap], src = x + input + inputColumn
            let dst = y + outputRow * width + columns.lowerBound
            if step == 1 {
                for i in 0..<columns.count { dst[i] += weight * src[i] }
            } else {
                for i in 0..<columns.count { dst[i] += weight * src[i * step] }
            }
        }
    }

    /// `dx += Σ_taps w[tap] · shifted⁻¹(dy)` for one plane: the gradient with respect to x.
    ///
    /// - Parameters: dy: H'×W'; w: kH·kW taps; dx: H×W, accumulated into.
    static func inputGradient(_ dy: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ g: ConvGeometry,
                              into dx: UnsafeMutablePointer<Float>) {
        let width = g.outputWidth, step = g.strideWidth
        g.forEachWindowRow(outputRows: 0..<g.outputHeight) { tap, outputRow, input, columns, inputColumn in
            guard input >= 0 else { return }
            let weight = w[tap], src = dy + outputRow * width + columns.lowerBound
            let dst = dx + input + inputColumn
            if step == 1 {
                for i in 0..<columns.count { dst[i] += weight * src[i] }
            } else {
                for i in 0..<columns.count { dst[i * step] += weight * src[i] }
            }
        }
    }

    /// `dw[tap] += Σ dy · shifted(x)` for one plane: the gradient with respect to the taps.
    ///
    /// - Parameters: x: H×W; dy: H'×W'; dw: kH·kW taps, accumulated into.
    static func weightGradient(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ g: ConvGeometry,
                               into dw: UnsafeMutablePointer<Float>) {
        let width = g.outputWidth, step = g.strideWidth
        g.forEachWindowRow(outputRows: 0..<g.outputHeight) { tap, outputRow, input, columns, inputColumn in
            guard input >= 0 else { return }
            let src = x + input + inputColumn, grad = dy + outputRow * width + columns.lowerBound
            var sum: Float = 0
            if step == 1 {
                // Four partial sums, so that the loop runs four lanes wide.
                var lanes = SIMD4<Float>(), i = 0
                while i + 4 <= columns.count {
                    lanes += UnsafeRawPointer(grad + i).loadUnaligned(as: SIMD4<Float>.self)
                        * UnsafeRawPointer(src + i).loadUnaligned(as: SIMD4<Float>.self)
                    i += 4
                }
                sum = lanes.sum()
                while i < columns.count { sum += grad[i] * src[i]; i += 1 }
            } else {
                for i in 0..<columns.count { sum += grad[i] * src[i * step] }
            }
            dw[tap] += sum
        }
    }
}
