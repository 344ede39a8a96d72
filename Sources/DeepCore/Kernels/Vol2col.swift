// Window kernels of 3-D convolution over raw buffers: vol2col (lowering a volume to a matrix whose
// product with the weights is the convolution) and col2vol (its adjoint, a scatter-add). A 3-D
// window is a stack of 2-D windows, one per kernel depth tap: for input channel c, depth tap kd
// and output depth od, the lowered rows (c, kd, ·, ·) over the columns of slice od are the 2-D
// im2col of the input plane (c, od·sD − pD + kd·dD), so both kernels hand each such plane to
// Im2col with a one-channel ConvGeometry of the height and width axes.
//
// Legend: C channels of one group, D×H×W input volume, kD×kH×kW kernel, D'×H'×W' output volume,
// K = C·kD·kH·kW rows of the lowered matrix, P = D'·H'·W' output positions. An output "row" is
// one (od, oh) pair, numbered od·H' + oh; a band of output rows is a range of them, whose lowered
// matrix has rows.count·W' columns.

/// The sizes of a 3-D convolution as seen from one image and one group.
///
/// As ``ConvGeometry``, the input and output sizes are both stored (a transposed convolution
/// computes the input size from the output size); the kernels work for any pair.
struct VolumeGeometry {
    /// Input channels of one group.
    var channels: Int
    var inputDepth: Int, kernelDepth: Int, strideDepth: Int, paddingDepth: Int, dilationDepth: Int, outputDepth: Int
    /// The height and width axes, as a 2-D convolution of one channel.
    var plane: ConvGeometry

    /// The geometry of `channels` channels of a (D, H, W) `input` with a (kD, kH, kW) `kernel`,
    /// stride, padding and dilation per axis, giving an `output` of (D', H', W').
    init(channels: Int, input: [Int], kernel: [Int], stride: [Int], padding: [Int], dilation: [Int], output: [Int]) {
        self.channels = channels
        (inputDepth, kernelDepth, strideDepth, paddingDepth, dilationDepth, outputDepth)
            = (input[0], kernel[0], stride[0], padding[0], dilation[0], output[0])
        plane = ConvGeometry(channels: 1, inputHeight: input[1], inputWidth: input[2],
                             kernelHeight: kernel[1], kernelWidth: kernel[2],
                             strideHeight: stride[1], strideWidth: stride[2], paddingHeight: padding[1], paddingWidth: padding[2],
                             dilationHeight: dilation[1], dilationWidth: dilation[2],
                             outputHeight: output[1], outputWidth: output[2])
    }

    /// Elements of one input channel, D·H·W.
    var inputVolume: Int { inputDepth * plane.inputPlane }
    /// Output positions P = D'·H'·W'.
    var outputVolume: Int { outputDepth * plane.outputPlane }
    /// Output rows D'·H' (see the file comment).
    var outputRows: Int { outputDepth * plane.outputHeight }
    /// Rows K = C·kD·kH·kW of the lowered matrix.
    var loweredRows: Int { channels * kernelDepth * plane.taps }

    /// Whether the lowered matrix equals the input (1×1×1 kernel, stride 1, no padding).
    var isPointwise: Bool {
        kernelDepth == 1 && strideDepth == 1 && paddingDepth == 0 && outputDepth == inputDepth && plane.isPointwise
    }

    /// The input depth that output depth `od` reads at depth tap `kd`, or -1 in the padding.
    @inline(__always)
    func inputDepth(output od: Int, tap kd: Int) -> Int {
        let d = od * strideDepth - paddingDepth + kd * dilationDepth
        return d >= 0 && d < inputDepth ? d : -1
    }

    /// Calls `body(od, rows, column)` for each output depth slice that the output rows `rows`
    /// (numbered od·H' + oh) cross: `rows` the output rows oh of that slice in the band, `column`
    /// the band's first column of them.
    @inline(__always)
    func forEachSlice(outputRows rows: Range<Int>, _ body: (_ depth: Int, _ rows: Range<Int>, _ column: Int) -> Void) {
        let height = plane.outputHeight
        var r = rows.lowerBound
        while r < rows.upperBound {
            let (od, oh) = r.quotientAndRemainder(dividingBy: height)
            let end = Swift.min(rows.upperBound, (od + 1) * height)
            body(od, oh..<(oh + end - r), (r - rows.lowerBound) * plane.outputWidth)
            r = end
        }
    }
}

/// vol2col and col2vol: between C input volumes and the K × (rows·W') lowered matrix of a band
/// of output rows; and the lowering of whole input depth slices (for convolutions of stride 1
/// and dilation 1 along depth, whose output slices share them).
enum Vol2col {
    /// Writes the lowered matrix of the output rows `outputRows` to `col`; padding taps become zeros.
    ///
    /// - Parameters:
    ///   - x: C volumes of D×H×W, contiguous.
    ///   - col: K × (outputRows.count · W'), row-major, overwritten.
    static func lower(_ x: UnsafePointer<Float>, _ g: VolumeGeometry, outputRows: Range<Int>,
                      into col: UnsafeMutablePointer<Float>) {
        forEachPlane(g, outputRows: outputRows) { row, column, rows, input, ld in
            let dst = col + row * ld + column
            guard input >= 0 else {
                for tap in 0..<g.plane.taps { (dst + tap * ld).update(repeating: 0, count: rows.count * g.plane.outputWidth) }
                return
            }
            Im2col.lower(x + input, g.plane, outputRows: rows, into: dst, leadingDimension: ld)
        }
    }

    /// Adds the lowered matrix `col` of the output rows `outputRows` back into the input volumes
    /// (col2vol, the adjoint of ``lower(_:_:outputRows:into:)``); padding taps are dropped.
    ///
    /// - Parameters:
    ///   - col: K × (outputRows.count · W'), row-major.
    ///   - x: C volumes of D×H×W, contiguous, accumulated into.
    static func scatterAdd(_ col: UnsafePointer<Float>, _ g: VolumeGeometry, outputRows: Range<Int>,
                           into x: UnsafeMutablePointer<Float>) {
        forEachPlane(g, outputRows: outputRows) { row, column, rows, input, ld in
            guard input >= 0 else { return }
            Im2col.scatterAdd(col + row * ld + column, g.plane, outputRows: rows, into: x + input, leadingDimension: ld)
        }
    }

    /// Calls `body(row, column, rows, input, ld)` for every channel c, depth tap kd and output
    /// depth slice that `outputRows` crosses: the 2-D window of input plane `input` (offset
    /// (c·D + id)·H·W, or -1 in the depth padding) over the output rows `rows` of that slice
    /// fills the lowered rows from `row` = (c·kD + kd)·kH·kW, from column `column`, of a matrix
    /// with leading dimension `ld`.
    @inline(__always)
    private static func forEachPlane(_ g: VolumeGeometry, outputRows: Range<Int>,
                                     _ body: (_ row: Int, _ column: Int, _ rows: Range<Int>, _ input: Int, _ ld: Int) -> Void) {
        let ld = outputRows.count * g.plane.outputWidth
        for c in 0..<g.channels {
            for kd in 0..<g.kernelDepth {
                g.forEachSlice(outputRows: outputRows) { od, rows, column in
                    let depth = g.inputDepth(output: od, tap: kd)
                    body((c * g.kernelDepth + kd) * g.plane.taps, column, rows, depth < 0 ? -1 : (c * g.inputDepth + depth) * g.plane.inputPlane, ld)
                }
            }
        }
    }

    /// Lowers input depth slice `depth` (inside the volume) into `col`: the 2-D im2col of its C
    /// planes, C·kH·kW rows × H'·W' columns. For stride 1 and dilation 1 along depth, output
    /// slice od reads slice od − pD + kd through depth tap kd.
    ///
    /// - Parameters: x: C volumes of D×H×W, contiguous; col: C·kH·kW·H'·W' floats, overwritten.
    static func lowerSlice(_ x: UnsafePointer<Float>, _ g: VolumeGeometry, depth: Int, into col: UnsafeMutablePointer<Float>) {
        require(depth >= 0 && depth < g.inputDepth, "Vol2col.lowerSlice: depth \(depth) outside 0..<\(g.inputDepth)")
        for c in 0..<g.channels {
            Im2col.lower(x + (c * g.inputDepth + depth) * g.plane.inputPlane, g.plane, outputRows: 0..<g.plane.outputHeight,
                         into: col + c * g.plane.taps * g.plane.outputPlane)
        }
    }
}
