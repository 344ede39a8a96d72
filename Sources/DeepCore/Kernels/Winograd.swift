// Winograd F(2×2, 3×3) transforms for 3×3 stride-1 convolution (Lavin & Gray, 2015).
//
// The output is cut into 2×2 tiles; tile t reads a 4×4 input tile d (overlapping its neighbours
// by 2). With the 4×4 "positions" ξ = 4i + j:
//   U = G g Gᵀ              (weights, per c', c)      dg = Gᵀ dU G
//   V = Bᵀ d B              (input, per c, t)         dd = B dV Bᵀ, scatter-added
//   M[ξ] = U[ξ] · V[ξ]      (GEMM, C' × C · C × T)
//   Y = Aᵀ M A              (2×2 output tile)         dM = A dY Aᵀ
// so a 3×3 convolution costs 16 GEMMs of depth C instead of one of depth 9·C: 2.25× fewer
// multiply-adds, with transforms whose coefficients are 0, ±1 and ±½ (exact in Float32 up to the
// usual rounding of the sums). Every backward transform is the exact adjoint of its forward one.
//
// Layouts: U and dU (16, C', C); V and dV (16, C, T); M and dM (16, C', T), where T counts the
// tiles of a chunk of tile rows (`tilesPerRow` tiles each); tile row r of a chunk occupies
// columns r·tilesPerRow ..< (r+1)·tilesPerRow. The transforms run four tiles at a time (SIMD4,
// the baseline x86-64 width) in loops that each touch few streams: the separable transforms are
// applied one axis at a time through small scratch rows, with even and odd columns split or
// merged by shuffles.

/// The tile grid of a Winograd F(2×2, 3×3) convolution of one image.
///
/// A tile row holds `tilesPerRow` tiles, rounded up to a multiple of 4 so that the transforms run
/// four tiles at a time; the extra tiles read zero padding and their outputs are dropped.
struct WinogradTiles {
    var height: Int, width: Int                 // input plane H × W
    var paddingHeight: Int, paddingWidth: Int
    var outputHeight: Int, outputWidth: Int     // H' = H + 2p − 2, likewise W'

    var tileRows: Int { (outputHeight + 1) / 2 }
    var tilesPerRow: Int { ((outputWidth + 1) / 2 + 3) / 4 * 4 }
    /// Length of a padded scratch row: the 2·tilesPerRow + 2 columns a tile row reads, plus
    /// room for the last shuffled load.
    var rowLength: Int { 2 * tilesPerRow + 4 }
    /// Floats of scratch one thread needs for chunks of `ld` tiles.
    func scratchSize(ld: Int) -> Int { 8 * ld + 4 * rowLength }
}

/// Four tiles at a time.
private typealias Lanes = SIMD4<Float>

@inline(__always) private func load(_ p: UnsafePointer<Float>) -> Lanes {
    UnsafeRawPointer(p).loadUnaligned(as: Lanes.self)
}

@inline(__always) private func store(_ v: Lanes, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: Lanes.self)
}

/// Columns 2i, 2i+2, 2i+4, 2i+6 and 2i+1, …, 2i+7 of the eight floats in `lo`, `hi`.
@inline(__always) private func split(_ lo: Lanes, _ hi: Lanes) -> (even: Lanes, odd: Lanes) {
    (Lanes(lo[0], lo[2], hi[0], hi[2]), Lanes(lo[1], lo[3], hi[1], hi[3]))
}

/// The eight floats e0, o0, e1, o1, e2, o2, e3, o3 as two vectors: the inverse of ``split``.
@inline(__always) private func merge(_ even: Lanes, _ odd: Lanes) -> (Lanes, Lanes) {
    (Lanes(even[0], odd[0], even[1], odd[1]), Lanes(even[2], odd[2], even[3], odd[3]))
}

/// Copies `count` floats `step` apart (or none when `src` is nil) into `row` at `offset`, zeroing
/// the other `length − count` positions.
@inline(__always) private func fillRow(_ row: UnsafeMutablePointer<Float>, length: Int, from src: UnsafePointer<Float>?,
                                       count: Int, step: Int = 1, offset: Int) {
    guard let src else { ShortRow.zero(row, count: length); return }
    let n = Swift.max(0, Swift.min(count, length - offset))
    ShortRow.zero(row, count: offset)
    if step == 1 {
        ShortRow.copy(src, to: row + offset, count: n)
    } else {
        for i in 0..<n { row[offset + i] = src[i * step] }
    }
    ShortRow.zero(row + offset + n, count: length - offset - n)
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
}

enum Winograd {
    /// U = G g Gᵀ for every (c', c).
    ///
    /// - Parameters: w: (C', C, 3, 3); u: (16, C', C).
    static func transformWeights(_ w: UnsafePointer<Float>, outputChannels: Int, channels: Int,
                                 into u: UnsafeMutablePointer<Float>) {
        // Memory-bound (16 planes written per pair): split among the threads by pairs.
        let pairs = outputChannels * channels
        let workers = Parallel.workers(items: pairs / 1024, work: 16 * pairs)
        Parallel.forEachChunk(count: pairs, chunks: workers, workers: workers) { _, _, range in
            transformWeights(w, pairs: pairs, range, into: u)
        }
    }

    /// ``transformWeights(_:outputChannels:channels:into:)`` of the (c', c) pairs `range` of `pairs`.
    private static func transformWeights(_ w: UnsafePointer<Float>, pairs: Int, _ range: Range<Int>, into u: UnsafeMutablePointer<Float>) {
        // (a, b, c) ↦ G (a, b, c) = (a, (a + b + c)/2, (a − b + c)/2, c)
        @inline(__always) func g(_ a: Float, _ b: Float, _ c: Float) -> (Float, Float, Float, Float) {
            (a, 0.5 * (a + b + c), 0.5 * (a - b + c), c)
        }
        for p in range {
            let w = w + p * 9
            // Columns of G g (4 × 3), then each of its rows times Gᵀ.
            let c0 = g(w[0], w[3], w[6]), c1 = g(w[1], w[4], w[7]), c2 = g(w[2], w[5], w[8])
            @inline(__always) func store(_ i: Int, _ r: (Float, Float, Float)) {
                let v = g(r.0, r.1, r.2)
                u[(4 * i) * pairs + p] = v.0; u[(4 * i + 1) * pairs + p] = v.1
                u[(4 * i + 2) * pairs + p] = v.2; u[(4 * i + 3) * pairs + p] = v.3
            }
            store(0, (c0.0, c1.0, c2.0)); store(1, (c0.1, c1.1, c2.1))
            store(2, (c0.2, c1.2, c2.2)); store(3, (c0.3, c1.3, c2.3))
        }
    }

    /// dg = Gᵀ dU G for every (c', c): the adjoint of ``transformWeights``.
    ///
    /// - Parameters: du: (16, C', C); dw: (C', C, 3, 3), overwritten.
    static func transformWeightGradient(_ du: UnsafePointer<Float>, outputChannels: Int, channels: Int,
                                        into dw: UnsafeMutablePointer<Float>) {
        let pairs = outputChannels * channels
        // (a, b, c, d) ↦ Gᵀ (a, b, c, d) = (a + (b + c)/2, (b − c)/2, (b + c)/2 + d)
        @inline(__always) func gt(_ a: Float, _ b: Float, _ c: Float, _ d: Float) -> (Float, Float, Float) {
            (a + 0.5 * (b + c), 0.5 * (b - c), 0.5 * (b + c) + d)
        }
        for p in 0..<pairs {
            @inline(__always) func at(_ i: Int, _ j: Int) -> Float { du[(4 * i + j) * pairs + p] }
            // Columns of Gᵀ dU (3 × 4), then each of its rows times G.
            let c0 = gt(at(0, 0), at(1, 0), at(2, 0), at(3, 0)), c1 = gt(at(0, 1), at(1, 1), at(2, 1), at(3, 1))
            let c2 = gt(at(0, 2), at(1, 2), at(2, 2), at(3, 2)), c3 = gt(at(0, 3), at(1, 3), at(2, 3), at(3, 3))
            let g = dw + p * 9
            @inline(__always) func store(_ i: Int, _ r: (Float, Float, Float)) {
                g[3 * i] = r.0; g[3 * i + 1] = r.1; g[3 * i + 2] = r.2
            }
            store(0, gt(c0.0, c1.0, c2.0, c3.0)); store(1, gt(c0.1, c1.1, c2.1, c3.1)); store(2, gt(c0.2, c1.2, c2.2, c3.2))
        }
    }

    /// V = Bᵀ d B for the tiles of tile row `th` of C input planes, written at tile column
    /// `column` of a (16, C, ld) buffer.
    ///
    /// - Parameters: x: C planes H × W; v: (16, C, ld); scratch: 4·rowLength floats.
    static func transformInput(_ x: UnsafePointer<Float>, channels: Int, _ t: WinogradTiles, tileRow th: Int,
                               into v: UnsafeMutablePointer<Float>, column: Int, ld: Int,
                               scratch: UnsafeMutablePointer<Float>) {
        let n = t.tilesPerRow, len = t.rowLength, plane = t.height * t.width, xi = channels * ld
        let (r0, r1, r2, r3) = (scratch, scratch + len, scratch + 2 * len, scratch + 3 * len)
        for c in 0..<channels {
            // The tile row's four input rows, zero-padded (column j is input column j − pW),
            // then Bᵀ d along the columns: rows (d0 − d2, d1 + d2, d2 − d1, d1 − d3).
            for k in 0..<4 {
                let ih = 2 * th - t.paddingHeight + k
                fillRow(scratch + k * len, length: len, from: ih >= 0 && ih < t.height ? x + c * plane + ih * t.width : nil,
                        count: t.width, offset: t.paddingWidth)
            }
            for i in stride(from: 0, to: len, by: 4) {
                let (a, b, cc, d) = (load(r0 + i), load(r1 + i), load(r2 + i), load(r3 + i))
                store(a - cc, r0 + i); store(b + cc, r1 + i); store(cc - b, r2 + i); store(b - d, r3 + i)
            }
            // Then (…) B along the rows: tile tw reads columns 2tw ..< 2tw + 4.
            for k in 0..<4 {
                let row = scratch + k * len, out = v + (4 * k) * xi + c * ld + column
                for tw in stride(from: 0, to: n, by: 4) {
                    let (p0, p1, p2) = (load(row + 2 * tw), load(row + 2 * tw + 4), load(row + 2 * tw + 8))
                    let (a, b) = split(p0, p1), (cc, d) = split(Lanes(p0[2], p0[3], p1[0], p1[1]), Lanes(p1[2], p1[3], p2[0], p2[1]))
                    store(a - cc, out + tw); store(b + cc, out + xi + tw)
                    store(cc - b, out + 2 * xi + tw); store(b - d, out + 3 * xi + tw)
                }
            }
        }
    }

    /// dd = B dV Bᵀ for the tiles of tile row `th`, added into C input-gradient planes (the
    /// adjoint of ``transformInput``; padding positions are dropped).
    ///
    /// - Parameters: dv: (16, C, ld); dx: C planes H × W, accumulated into; scratch: 4·rowLength.
    static func transformInputGradient(_ dv: UnsafePointer<Float>, column: Int, ld: Int, channels: Int,
                                       _ t: WinogradTiles, tileRow th: Int, into dx: UnsafeMutablePointer<Float>,
                                       scratch: UnsafeMutablePointer<Float>) {
        let n = t.tilesPerRow, len = t.rowLength, plane = t.height * t.width, xi = channels * ld
        let (r0, r1, r2, r3) = (scratch, scratch + len, scratch + 2 * len, scratch + 3 * len)
        for c in 0..<channels {
            // Bᵀ's adjoint maps (e0, e1, e2, e3) to (e0, e1 − e2 + e3, −e0 + e1 + e2, −e3): first
            // along the rows of dV, summed over the tiles that share a column (tile tw covers
            // columns 2tw ..< 2tw + 4); the part of four tiles that reaches into the next four
            // is carried in a register, so that every scratch column is written once.
            for k in 0..<4 {
                let row = scratch + k * len, src = dv + (4 * k) * xi + c * ld + column
                var carry = Lanes(repeating: 0)
                for tw in stride(from: 0, to: n, by: 4) {
                    let (a, b, cc, d) = (load(src + tw), load(src + xi + tw), load(src + 2 * xi + tw), load(src + 3 * xi + tw))
                    let (lo, hi) = merge(a, b - cc + d), (lo2, hi2) = merge(b + cc - a, -d)
                    store(lo + Lanes(0, 0, lo2[0], lo2[1]) + carry, row + 2 * tw)
                    store(hi + Lanes(lo2[2], lo2[3], hi2[0], hi2[1]), row + 2 * tw + 4)
                    carry = Lanes(hi2[2], hi2[3], 0, 0)
                }
                store(carry, row + 2 * n)
            }
            // Then along the columns; the rows inside the input are added to dx.
            for i in stride(from: 0, to: len, by: 4) {
                let (a, b, cc, d) = (load(r0 + i), load(r1 + i), load(r2 + i), load(r3 + i))
                store(b - cc + d, r1 + i); store(b + cc - a, r2 + i); store(-d, r3 + i)
            }
            for k in 0..<4 {
                let ih = 2 * th - t.paddingHeight + k
                guard ih >= 0 && ih < t.height else { continue }
                let src = scratch + k * len + t.paddingWidth, dst = dx + c * plane + ih * t.width
                for iw in 0..<Swift.min(t.width, len - t.paddingWidth) { dst[iw] += src[iw] }
            }
        }
    }

    /// Y = Aᵀ M A (+ bias), then the epilogue, for the tiles of a chunk, written to the C' output
    /// planes of each tile row's image (only the positions inside H' × W').
    ///
    /// - Parameters: m: (16, C', ld); y: images of C' planes H' × W', `outputImage` floats
    ///   apart; bias: (C') or nil; scratch: `t.scratchSize(ld:)`.
    static func transformOutput(_ m: UnsafePointer<Float>, ld: Int, outputChannels: Int, _ t: WinogradTiles,
                                _ chunk: WinogradChunk, bias: UnsafePointer<Float>?, epilogue: ConvolutionEpilogue = .none,
                                into y: UnsafeMutablePointer<Float>, outputImage: Int, scratch: UnsafeMutablePointer<Float>) {
        let n = t.tilesPerRow, tiles = chunk.units.count * n, plane = t.outputHeight * t.outputWidth, xi = outputChannels * ld
        let s = scratch, row = scratch + 8 * ld     // s: rows S_ij = (Aᵀ M)_ij, i < 2, j < 4, at (4i + j)·ld
        for co in 0..<outputChannels {
            let base = m + co * ld
            // Aᵀ M along the columns: S0j = M0j + M1j + M2j, S1j = M1j − M2j − M3j.
            for j in 0..<4 {
                let (m0, m1, m2, m3) = (base + j * xi, base + (4 + j) * xi, base + (8 + j) * xi, base + (12 + j) * xi)
                let (s0, s1) = (s + j * ld, s + (4 + j) * ld)
                for i in stride(from: 0, to: tiles, by: 4) {
                    let (a, b, c, d) = (load(m0 + i), load(m1 + i), load(m2 + i), load(m3 + i))
                    store(a + b + c, s0 + i); store(b - c - d, s1 + i)
                }
            }
            // Then (…) A along the rows: Y·0 = S·0 + S·1 + S·2, Y·1 = S·1 − S·2 − S·3, written
            // over S·0 and S·1.
            let b = Lanes(repeating: bias?[co] ?? 0)
            for k in 0..<2 {
                let (p0, p1, p2, p3) = (s + 4 * k * ld, s + (4 * k + 1) * ld, s + (4 * k + 2) * ld, s + (4 * k + 3) * ld)
                for i in stride(from: 0, to: tiles, by: 4) {
                    let (a, bb, c, d) = (load(p0 + i), load(p1 + i), load(p2 + i), load(p3 + i))
                    store(a + bb + c + b, p0 + i); store(bb - c - d + b, p1 + i)
                }
            }
            // Output rows 2th and 2th + 1 interleave the tile columns of Y·0 and Y·1.
            for r in 0..<chunk.units.count {
                let th = chunk.tileRow(r), offset = chunk.image(r) * outputImage + co * plane
                for k in 0..<2 where 2 * th + k < t.outputHeight {
                    let (even, odd) = (s + 4 * k * ld + r * n, s + (4 * k + 1) * ld + r * n)
                    for tw in stride(from: 0, to: n, by: 4) {
                        let (lo, hi) = merge(load(even + tw), load(odd + tw))
                        store(lo, row + 2 * tw); store(hi, row + 2 * tw + 4)
                    }
                    let rowOffset = offset + (2 * th + k) * t.outputWidth
                    epilogue.apply(to: row, count: t.outputWidth, outputOffset: rowOffset)
                    ShortRow.copy(row, to: y + rowOffset, count: t.outputWidth)
                }
            }
        }
    }

    /// dM = A dY Aᵀ for the tiles of a chunk (the adjoint of ``transformOutput``; positions past
    /// H' × W' count as zero).
    ///
    /// - Parameters: dy: images of C' planes H' × W', any strides; dm: (16, C', ld);
    ///   scratch: `t.scratchSize(ld:)`.
    static func transformOutputGradient(_ dy: StridedImages, outputChannels: Int,
                                        _ t: WinogradTiles, _ chunk: WinogradChunk, into dm: UnsafeMutablePointer<Float>,
                                        ld: Int, scratch: UnsafeMutablePointer<Float>) {
        let n = t.tilesPerRow, tiles = chunk.units.count * n, xi = outputChannels * ld
        let g = scratch, row = scratch + 8 * ld     // g: G00, G01, G10, G11 (dY by row, column parity) at k·ld
        for co in 0..<outputChannels {
            for r in 0..<chunk.units.count {
                let th = chunk.tileRow(r)
                for k in 0..<2 {
                    let inside = 2 * th + k < t.outputHeight
                    fillRow(row, length: t.rowLength, from: inside ? dy.row(chunk.image(r), co, 2 * th + k) : nil,
                            count: t.outputWidth, step: dy.column, offset: 0)
                    let (even, odd) = (g + 2 * k * ld + r * n, g + (2 * k + 1) * ld + r * n)
                    for tw in stride(from: 0, to: n, by: 4) {
                        let (e, o) = split(load(row + 2 * tw), load(row + 2 * tw + 4))
                        store(e, even + tw); store(o, odd + tw)
                    }
                }
            }
            // A dY: rows (g0, g0 + g1, g0 − g1, −g1); then (p, q) ↦ (p, p + q, p − q, −q) along
            // the rows.
            let base = dm + co * ld
            let (g00, g01, g10, g11) = (g, g + ld, g + 2 * ld, g + 3 * ld)
            for i in 0..<4 {
                let out = base + 4 * i * xi
                for tt in stride(from: 0, to: tiles, by: 4) {
                    let (a, b, c, d) = (load(g00 + tt), load(g01 + tt), load(g10 + tt), load(g11 + tt))
                    let (p, q) = i == 0 ? (a, b) : i == 1 ? (a + c, b + d) : i == 2 ? (a - c, b - d) : (-c, -d)
                    store(p, out + tt); store(p + q, out + xi + tt); store(p - q, out + 2 * xi + tt); store(-q, out + 3 * xi + tt)
                }
            }
        }
    }
}
