import CVectorKernels

// Winograd F(4×4, 3×3) for 3×3 stride-1 convolution (Lavin & Gray, 2015).
//
// The output is cut into 4×4 tiles; tile t reads a 6×6 input tile d (overlapping its neighbours
// by 2). With the 6×6 "positions" ξ = 6i + j:
//   U = G g Gᵀ              (weights, per c', c)      dg = Gᵀ dU G
//   V = Bᵀ d B              (input, per c, t)         dd = B dV Bᵀ, scatter-added
//   M[ξ] = U[ξ] · V[ξ]      (GEMM, C' × C · C × T)
//   Y = Aᵀ M A              (4×4 output tile)         dM = A dY Aᵀ
// so a 3×3 convolution costs 36 GEMMs of depth C per 16 outputs instead of 9·16 multiply-adds:
// 4× fewer. Every backward transform is the exact adjoint of its forward one. The input, output
// and gradient transforms run eight tiles at a time in CVectorKernels (Winograd4.inc: AVX2/FMA
// when the CPU has it); the weight transforms, run once per step or once per inference model,
// are here.
//
// Layouts: U and dU (36, C', C); V and dV (36, C, ld); M and dM (36, C', ld), where a chunk's
// tiles lie tile row after tile row (`tilesPerRow` each) and ld leaves the kernels room to write
// whole vectors of eight tiles (see CVectorKernels.h).

/// The tile grid of a Winograd F(4×4, 3×3) convolution of one image.
struct WinogradTiles {
    var height: Int, width: Int                 // input plane H × W
    var paddingHeight: Int, paddingWidth: Int
    var outputHeight: Int, outputWidth: Int     // H' = H + 2p − 2, likewise W'

    var tileRows: Int { (outputHeight + 3) / 4 }
    var tilesPerRow: Int { (outputWidth + 3) / 4 }
    /// Length of a padded scratch row: the 4·tilesPerRow + 2 columns a tile row reads, with the
    /// tiles rounded up to vectors of eight, plus the next block of eight read ahead.
    var rowLength: Int { 4 * ((tilesPerRow + 7) / 8 * 8) + 32 }
    /// The plane length of a chunk of `tiles` tiles.
    static func leadingDimension(tiles: Int) -> Int { (tiles + 7) / 8 * 8 + 8 }
    /// Floats of scratch one thread needs for chunks of planes `ld` long: 16 output planes and
    /// seven rows (the input transform's six and a row of zeros).
    func scratchSize(ld: Int) -> Int { 16 * ld + 7 * rowLength }

    /// The grid as the C kernels take it.
    var kernelGeometry: ds_winograd_tiles {
        ds_winograd_tiles(height: height, width: width, padHeight: paddingHeight, padWidth: paddingWidth,
                          tilesPerRow: tilesPerRow, rowLength: rowLength)
    }
}

/// Copies `count` floats `step` apart (or none when `src` is nil) into `row`, zeroing the other
/// `length − count` positions.
@inline(__always) private func fillRow(_ row: UnsafeMutablePointer<Float>, length: Int, from src: UnsafePointer<Float>?,
                                       count: Int, step: Int) {
    guard let src else { ShortRow.zero(row, count: length); return }
    let n = Swift.max(0, Swift.min(count, length))
    if step == 1 {
        ShortRow.copy(src, to: row, count: n)
    } else {
        for i in 0..<n { row[i] = src[i * step] }
    }
    ShortRow.zero(row + n, count: length - n)
}

/// A batch of (C, H, W) images anywhere in memory: the first element and the step along each
/// axis, so that a broadcast or permuted gradient is read without a contiguous copy.
struct StridedImages {
    var base: UnsafePointer<Float>
    var image: Int, channel: Int, row: Int, column: Int

    /// A contiguous batch of (C, H, W) images.
    init(contiguous base: UnsafePointer<Float>, channels: Int, height: Int, width: Int) {
        (self.base, image, channel, row, column) = (base, channels * height * width, height * width, width, 1)
    }

    /// Images whose element (n, c, h, w) is at `base + n·image + c·channel + h·row + w·column`.
    init(base: UnsafePointer<Float>, image: Int, channel: Int, row: Int, column: Int) {
        (self.base, self.image, self.channel, self.row, self.column) = (base, image, channel, row, column)
    }

    /// Whether `images` (C, H, W) images lie contiguously, one after another (steps along axes
    /// of size 1 do not matter).
    func isContiguous(images: Int, channels: Int, height: Int, width: Int) -> Bool {
        (width == 1 || column == 1) && (height == 1 || row == width) && (channels == 1 || channel == height * width)
            && (images == 1 || image == channels * height * width)
    }

    /// The first element of row `h` of channel `c` of image `n`.
    @inline(__always) func row(_ n: Int, _ c: Int, _ h: Int) -> UnsafePointer<Float> {
        base + n * image + c * channel + h * row
    }
}

/// A chunk of tile rows: the (image, tile row) pairs `units.lowerBound + r` for r < units.count,
/// unit u being tile row u % tileRows of image u / tileRows.
struct WinogradChunk {
    var units: Range<Int>
    var tileRows: Int
    @inline(__always) func image(_ r: Int) -> Int { (units.lowerBound + r) / tileRows }
    @inline(__always) func tileRow(_ r: Int) -> Int { (units.lowerBound + r) % tileRows }

    /// Calls `body` for each run of the chunk's tile rows that lie in one image, in order: the
    /// image, its tile rows, and the position in the chunk of the run's first row.
    func forEachImage(_ body: (_ image: Int, _ tileRows: Range<Int>, _ firstRow: Int) -> Void) {
        var r = 0
        while r < units.count {
            let first = tileRow(r), count = Swift.min(units.count - r, tileRows - first)
            body(image(r), first..<(first + count), r)
            r += count
        }
    }
}

enum Winograd {
    /// Whether the transforms may run their AVX2/FMA copies (where the CPU has them); tests turn
    /// this off to check the baseline x86-64 copies that CPUs without AVX2 run.
    nonisolated(unsafe) static var usesVectorExtensions = true {
        didSet { ds_winograd4_use_baseline(usesVectorExtensions ? 0 : 1) }
    }

    /// G (a, b, c) of eight pairs (c', c) at once, one per lane: a column of three taps to its six
    /// positions, written to `o[0 ..< 6]`.
    @inline(__always) private static func g(_ a: FloatVector, _ b: FloatVector, _ c: FloatVector, into o: UnsafeMutablePointer<FloatVector>) {
        let sixth: Float = 1 / 6, even = (a * 0.25 + c) * sixth, odd = b * (sixth * 0.5), ac = (a + c) * sixth
        (o[0], o[1], o[2], o[3], o[4], o[5]) = (a * 0.25, -ac - b * sixth, b * sixth - ac, even + odd, even - odd, c)
    }

    /// Gᵀ (u[0] … u[5]) of eight pairs at once: six positions back to three taps, the adjoint of
    /// ``g(_:_:_:into:)``; `u` is read at `u[k·step]`.
    @inline(__always) private static func gt(_ u: UnsafePointer<FloatVector>, step: Int = 1) -> (FloatVector, FloatVector, FloatVector) {
        let (u0, u1, u2, u3, u4, u5) = (u[0], u[step], u[2 * step], u[3 * step], u[4 * step], u[5 * step])
        return (u0 / 4 - (u1 + u2) / 6 + (u3 + u4) / 24, (u2 - u1) / 6 + (u3 - u4) / 12, (u3 + u4 - u1 - u2) / 6 + u5)
    }

    /// Runs `body(first, count, taps)` for the (c', c) pairs in groups of eight (the last may be
    /// shorter), split among threads; `taps` is 9 vectors of scratch, lane l for pair first + l.
    private static func forEachEightPairs(_ pairs: Int, _ body: (Int, Int, UnsafeMutablePointer<FloatVector>) -> Void) {
        // Memory-bound (36 planes per pair): split among the threads by pairs.
        let groups = (pairs + 7) / 8
        let workers = Parallel.workers(items: pairs / 1024, work: 36 * pairs)
        Parallel.forEachChunk(count: groups, chunks: workers, workers: workers) { _, _, range in
            withUnsafeTemporaryAllocation(of: FloatVector.self, capacity: 9 + 36) { scratch in
                let taps = scratch.baseAddress!
                taps.initialize(repeating: FloatVector(), count: 9 + 36)
                for group in range { body(8 * group, Swift.min(8, pairs - 8 * group), taps) }
            }
        }
    }

    /// U = G g Gᵀ for every (c', c), eight pairs per vector.
    ///
    /// - Parameters: w: (C', C, 3, 3); u: (36, C', C).
    static func transformWeights(_ w: UnsafePointer<Float>, outputChannels: Int, channels: Int,
                                 into u: UnsafeMutablePointer<Float>) {
        let pairs = outputChannels * channels
        forEachEightPairs(pairs) { first, count, taps in
            // Tap k of the eight pairs in one vector.
            for l in 0..<count { for k in 0..<9 { taps[k][l] = w[(first + l) * 9 + k] } }
            // Columns of G g (6 × 3, column s at columns[6s ..< 6s + 6]), then each of its rows times Gᵀ.
            let columns = taps + 9
            for s in 0..<3 { g(taps[s], taps[3 + s], taps[6 + s], into: columns + 6 * s) }
            let row = columns + 18
            for i in 0..<6 {
                g(columns[i], columns[6 + i], columns[12 + i], into: row)
                for j in 0..<6 { VectorMath.store(row[j], u + (6 * i + j) * pairs + first, count: count) }
            }
        }
    }

    /// dg = Gᵀ dU G for every (c', c): the adjoint of ``transformWeights``, eight pairs per vector.
    ///
    /// - Parameters: du: (36, C', C); dw: (C', C, 3, 3), overwritten.
    static func transformWeightGradient(_ du: UnsafePointer<Float>, outputChannels: Int, channels: Int,
                                        into dw: UnsafeMutablePointer<Float>) {
        let pairs = outputChannels * channels
        forEachEightPairs(pairs) { first, count, taps in
            // dU's 36 positions (6i + j), then the three rows of Gᵀ dU (row r at rows[6r ..< 6r + 6]),
            // then each row times G: the taps 3r ..< 3r + 3.
            let positions = taps + 9
            for k in 0..<36 { positions[k] = VectorMath.load(du + k * pairs + first, count: count) }
            withUnsafeTemporaryAllocation(of: FloatVector.self, capacity: 18) { rows in
                let rows = rows.baseAddress!
                for j in 0..<6 { (rows[j], rows[6 + j], rows[12 + j]) = gt(positions + j, step: 6) }
                for r in 0..<3 { (taps[3 * r], taps[3 * r + 1], taps[3 * r + 2]) = gt(rows + 6 * r) }
            }
            for l in 0..<count { for k in 0..<9 { dw[(first + l) * 9 + k] = taps[k][l] } }
        }
    }
}

extension Winograd {
    /// Planes of at most this many tiles per row (output width ≤ 8) take the gathered input
    /// transform, eight tiles of any tile rows and images per vector: measured on ResNet-18's
    /// stages at batch 32, 0.39 against 0.58 ms for the 4×4 stage, 0.43–0.50 against 0.50 for the
    /// 8×8 one; four tiles per row (the main job's 14×14 maps) are faster by tile rows.
    static let gatheredTilesPerRow = 2

    /// V = Bᵀ d B for the tiles of a chunk's tile rows, tile row r of the chunk written from tile
    /// r·tilesPerRow of a (36, C, ld) buffer — or of `channels` of its `ofChannels` planes, from
    /// v's first. Narrow planes (``gatheredTilesPerRow``) are gathered tile by tile across the
    /// chunk's images; wider ones run tile row by tile row.
    ///
    /// - Parameters: x: images of C planes H × W, `inputImage` floats apart (from the first
    ///   plane transformed); v: (36, C, ld); scratch: 7·rowLength floats.
    static func transformInput(_ x: UnsafePointer<Float>, inputImage: Int, channels: Int, ofChannels all: Int? = nil,
                               _ t: WinogradTiles, _ chunk: WinogradChunk, into v: UnsafeMutablePointer<Float>, ld: Int,
                               scratch: UnsafeMutablePointer<Float>) {
        var geometry = t.kernelGeometry
        if t.tilesPerRow <= gatheredTilesPerRow {
            ds_winograd4_input_gathered(x, inputImage, channels, t.height * t.width, &geometry, t.tileRows, chunk.units.lowerBound,
                                        chunk.units.count, v, ld, (all ?? channels) * ld, scratch)
            return
        }
        chunk.forEachImage { image, rows, first in
            ds_winograd4_input(x + image * inputImage, channels, t.height * t.width, &geometry, rows.lowerBound, rows.count,
                               v + first * t.tilesPerRow, ld, (all ?? channels) * ld, scratch)
        }
    }

    /// dd = B dV Bᵀ for the tiles of a chunk's tile rows, into the C input-gradient planes of each
    /// row's image (the adjoint of ``transformInput``; padding positions are dropped). An image's
    /// tile rows must come in order from 0, in this chunk or earlier ones: the first tile row
    /// to reach a row of dx writes it, the next adds into it (no zeroing needed). With `ofChannels`,
    /// `channels` of a (36, ofChannels, ld) buffer from dv's first, into as many planes from dx's.
    ///
    /// - Parameters: dv: (36, C, ld); dx: images of C planes H × W, `inputImage` floats apart;
    ///   scratch: 6·rowLength.
    static func transformInputGradient(_ dv: UnsafePointer<Float>, ld: Int, channels: Int, ofChannels all: Int? = nil,
                                       _ t: WinogradTiles, _ chunk: WinogradChunk, into dx: UnsafeMutablePointer<Float>,
                                       inputImage: Int, scratch: UnsafeMutablePointer<Float>) {
        var geometry = t.kernelGeometry
        chunk.forEachImage { image, rows, first in
            ds_winograd4_input_gradient(dv + first * t.tilesPerRow, ld, (all ?? channels) * ld, channels, &geometry, rows.lowerBound,
                                        rows.count, dx + image * inputImage, t.height * t.width, scratch)
        }
    }

    /// Y = Aᵀ M A (+ bias), then the epilogue, for the tiles of a chunk, written to the C' output
    /// planes of each tile row's image (only the positions inside H' × W'; only the output
    /// channels `only` when given).
    ///
    /// - Parameters: m: (36, C', ld); y: images of C' planes H' × W', `outputImage` floats
    ///   apart; bias: (C') or nil; scratch: `t.scratchSize(ld:)`.
    static func transformOutput(_ m: UnsafePointer<Float>, ld: Int, outputChannels: Int, only: Range<Int>? = nil,
                                _ t: WinogradTiles, _ chunk: WinogradChunk, bias: UnsafePointer<Float>?,
                                epilogue: ConvolutionEpilogue = .none, into y: UnsafeMutablePointer<Float>, outputImage: Int,
                                scratch: UnsafeMutablePointer<Float>) {
        let n = t.tilesPerRow, plane = t.outputHeight * t.outputWidth
        let planes = scratch, row = scratch + 16 * ld     // Y's 16 planes, then one output row
        for co in only ?? 0..<outputChannels {
            ds_winograd4_output(m + co * ld, outputChannels * ld, chunk.units.count * n, bias?[co] ?? 0, planes, ld)
            for r in 0..<chunk.units.count {
                let th = chunk.tileRow(r), offset = chunk.image(r) * outputImage + co * plane
                for i in 0..<4 where 4 * th + i < t.outputHeight {
                    ds_winograd4_merge_row(planes + 4 * i * ld + r * n, ld, n, row)
                    let rowOffset = offset + (4 * th + i) * t.outputWidth
                    epilogue.apply(to: row, count: t.outputWidth, outputOffset: rowOffset)
                    ShortRow.copy(row, to: y + rowOffset, count: t.outputWidth)
                }
            }
        }
    }

    /// dM = A dY Aᵀ for the tiles of a chunk (the adjoint of ``transformOutput``; positions past
    /// H' × W' count as zero; only the output channels `only` when given).
    ///
    /// - Parameters: dy: images of C' planes H' × W', any strides; dm: (36, C', ld);
    ///   scratch: `t.scratchSize(ld:)`.
    static func transformOutputGradient(_ dy: StridedImages, outputChannels: Int, only: Range<Int>? = nil, _ t: WinogradTiles,
                                        _ chunk: WinogradChunk, into dm: UnsafeMutablePointer<Float>, ld: Int,
                                        scratch: UnsafeMutablePointer<Float>) {
        let n = t.tilesPerRow
        let planes = scratch, row = scratch + 16 * ld     // dY's 16 planes by position in the tile, then one row
        for co in only ?? 0..<outputChannels {
            for r in 0..<chunk.units.count {
                let th = chunk.tileRow(r)
                for k in 0..<4 {
                    let inside = 4 * th + k < t.outputHeight
                    fillRow(row, length: t.rowLength, from: inside ? dy.row(chunk.image(r), co, 4 * th + k) : nil,
                            count: t.outputWidth, step: dy.column)
                    ds_winograd4_split_row(row, n, planes + 4 * k * ld + r * n, ld)
                }
            }
            ds_winograd4_output_gradient(planes, ld, chunk.units.count * n, dm + co * ld, outputChannels * ld)
        }
    }
}
