import Foundation
// The Winograd F(4×4, 3×3) path of ConvolutionPlan: 3×3 stride-1 undilated ungrouped
// convolutions with enough channels, the most common convolution of CNNs. The transforms are in
// Winograd.swift; here the tiles are cut into chunks of tile rows whose transformed input
// (36, C, T) and products (36, C', T) stay in L2, and each chunk runs 36 GEMMs per product.
// Images are split among threads as on the im2col path.

/// When 3×3 stride-1 convolutions take the Winograd path (see ``ConvolutionSettings``; the rule
/// is applied by `ConvolutionPlan.chosenAlgorithm`).
public enum WinogradPolicy {
        /// When it pays: at least 16 input and output channels and a plane large enough that the
        /// 36 products per 4×4 tile (the last row and column of tiles partly outside) cost at most
        /// 70 % of the 9 per output position of im2col, and 16 tiles or more in the batch; with
        /// fewer channels the transforms cost more than the
        /// multiplications they save, with fewer tiles the 36 GEMMs are too thin to pay for
        /// reading the transformed weights (four times the weights' size: ResNet-18's last stage
        /// on one 224² image, 4 tiles of 7×7). A plane of one tile is enough (ResNet-18's 4×4 stage
        /// at batch 32: forward 0.39 against 1.19 ms batched, forward and backward 1.9 against
        /// 3.6–4.0 ms).
        case automatic
        /// Never (tests compare the two paths).
        case never
        /// Whenever the shape allows it (tests).
        case always
}

/// Algorithm choices of the convolutions, for experiments and tests (like PyTorch's
/// `torch.backends` flags). The defaults are the measured fastest.
public enum ConvolutionSettings {
    /// When 3×3 stride-1 convolutions use Winograd F(4×4, 3×3).
    public static var winograd: WinogradPolicy {
        get { ConvolutionPlan.winogradPolicy }
        set { ConvolutionPlan.winogradPolicy = newValue }
    }
    /// Bytes of the im2col matrix each thread lowers at a time (kept in L2).
    public static var loweringBudget: Int {
        get { ConvolutionPlan.loweredBudget }
        set { ConvolutionPlan.loweredBudget = newValue }
    }
    /// Bytes of Winograd-transformed tiles each thread handles at a time.
    public static var winogradBudget: Int {
        get { ConvolutionPlan.winogradBudget }
        set { ConvolutionPlan.winogradBudget = newValue }
    }
    /// Output positions H'·W' at or below which a chunk of images is lowered into one matrix and
    /// multiplied by the weights in one GEMM (instead of one GEMM per image, which for small
    /// planes spends its time packing the weights); 0 turns the batched path off, `Int.max`
    /// forces it (tests). Winograd, when it runs, takes precedence (it wins at 8×8 with 64
    /// channels).
    public static var batchedLoweringThreshold: Int {
        get { ConvolutionPlan.batchedThreshold }
        set { ConvolutionPlan.batchedThreshold = newValue }
    }
    /// Bytes of lowered matrix and gathered outputs of one chunk of images on the batched path.
    public static var batchedLoweringBudget: Int {
        get { ConvolutionPlan.batchedBudget }
        set { ConvolutionPlan.batchedBudget = newValue }
    }
}

extension ConvolutionPlan {
    nonisolated(unsafe) static var winogradPolicy = WinogradPolicy.automatic

    /// Bytes of transformed input and products per thread.
    nonisolated(unsafe) static var winogradBudget = 2 << 20

    /// The tile grid of one image.
    var tiles: WinogradTiles {
        let g = geometry
        return WinogradTiles(height: g.inputHeight, width: g.inputWidth, paddingHeight: g.paddingHeight,
                             paddingWidth: g.paddingWidth, outputHeight: g.outputHeight, outputWidth: g.outputWidth)
    }

    /// Bytes of transformed input V and products M one tile row takes: 36·(C + C')·tilesPerRow floats.
    private var winogradBytesPerTileRow: Int {
        36 * (geometry.channels + outputChannels) * tiles.tilesPerRow * MemoryLayout<Float>.stride
    }

    /// Per-thread buffers of the Winograd path: transformed input V (36, C, ld), products M
    /// (36, C', ld) and scratch, where ld holds the tiles of a chunk of tile rows (see
    /// ``WinogradTiles/leadingDimension(tiles:)``).
    private struct WinogradScratch {
        let rowsPerChunk: Int, ld: Int
        let v: UnsafeMutablePointer<Float>, m: UnsafeMutablePointer<Float>, rows: UnsafeMutablePointer<Float>
    }

    /// Allocates the buffers of `workers` threads and calls `body` with a function giving each
    /// worker's buffers.
    private func withWinogradScratch(workers: Int, _ body: ((Int) -> WinogradScratch) -> Void) {
        let t = tiles, (c, k) = (geometry.channels, outputChannels)
        let rowsPerChunk = Swift.max(1, Swift.min(t.tileRows * batch, Self.winogradBudget / winogradBytesPerTileRow))
        let ld = WinogradTiles.leadingDimension(tiles: rowsPerChunk * t.tilesPerRow)
        let (vSize, mSize, rowSize) = (36 * c * ld, 36 * k * ld, t.scratchSize(ld: ld))
        let perWorker = vSize + mSize + rowSize
        let storage = TensorStorage(uninitializedCount: workers * perWorker)
        body { worker in
            let base = storage.pointer + worker * perWorker
            return WinogradScratch(rowsPerChunk: rowsPerChunk, ld: ld, v: base, m: base + vSize, rows: base + vSize + mSize)
        }
    }

    /// Calls `body(chunk)` for consecutive chunks of the tile rows of `images`, each chunk a list
    /// of (image, tile row) pairs of at most `rowsPerChunk`; tile row r of a chunk occupies tile
    /// columns r·tilesPerRow ..< (r+1)·tilesPerRow.
    private func forEachChunk(of images: Range<Int>, rowsPerChunk: Int, _ body: (_ rows: Range<Int>) -> Void) {
        let units = images.count * tiles.tileRows
        for start in stride(from: 0, to: units, by: rowsPerChunk) {
            body((images.lowerBound * tiles.tileRows + start)..<(images.lowerBound * tiles.tileRows + Swift.min(units, start + rowsPerChunk)))
        }
    }

    /// M[ξ] = U[ξ]·V[ξ] for the positions ξ in `positions`: U (36, C', C), V (36, C, ld) and M
    /// (36, C', ld), `tiles` columns of each.
    private func winogradProducts(_ u: UnsafePointer<Float>, _ v: UnsafePointer<Float>, into m: UnsafeMutablePointer<Float>,
                                  ld: Int, tiles: Int, positions: Range<Int>) {
        let (c, k) = (geometry.channels, outputChannels)
        for xi in positions {
            Gemm.multiply(m: k, n: tiles, k: c,
                          a: u + xi * k * c, Gemm.Operand(transposed: false, leadingDimension: c),
                          b: v + xi * c * ld, Gemm.Operand(transposed: false, leadingDimension: ld),
                          c: m + xi * k * ld, ldc: ld)
        }
    }

    /// The 36 transformed weight matrices (C' × C) each packed for ``PackedGemm`` and kept in
    /// `cache` (instead of the transformed weights), when the products run on them: a cache
    /// (weights that stay fixed), products of at most ``PackedGemm/columnLimit`` tiles, and a CPU
    /// with the packed kernels. OpenBLAS packs each position's weight on every call, which at
    /// batch 1 (few tiles, 36 weights of C'·C floats) costs about as much as the products.
    private func packedWinogradWeights(_ weight: UnsafePointer<Float>, cache: ConvolutionWeightCache?,
                                       columns: Int) -> TensorStorage? {
        let (c, k) = (geometry.channels, outputChannels)
        guard let cache, PackedGemm.panelRows > 0, columns <= PackedGemm.columnLimit else { return nil }
        return cache.weights(for: [4, k, c, PackedGemm.panelRows]) {
            let u = Winograd.transformedWeights(weight, outputChannels: k, channels: c)
            return withExtendedLifetime(u) { PackedGemm.pack(u.pointer, m: k, k: c, count: 36) }
        }
    }

    /// dU += dM·Vᵀ (beta 1) or dU = dM·Vᵀ (beta 0) at `positions`, over `tiles` tiles: dM (36, C', ld),
    /// V (36, C, ld), dU (36, C', C).
    private func weightGradientProducts(_ dm: UnsafePointer<Float>, _ v: UnsafePointer<Float>, into du: UnsafeMutablePointer<Float>,
                                        ld: Int, tiles: Int, positions: Range<Int>, beta: Float) {
        let (c, k) = (geometry.channels, outputChannels)
        for xi in positions {
            Gemm.multiply(m: k, n: c, k: tiles,
                          a: dm + xi * k * ld, Gemm.Operand(transposed: false, leadingDimension: ld),
                          b: v + xi * c * ld, Gemm.Operand(transposed: true, leadingDimension: ld),
                          beta: beta, c: du + xi * k * c, ldc: c)
        }
    }

    /// dV = Uᵀ·dM at `positions`, over `tiles` tiles: U (36, C', C), dM (36, C', ld), dV (36, C, ld).
    private func inputGradientProducts(_ u: UnsafePointer<Float>, _ dm: UnsafePointer<Float>, into dv: UnsafeMutablePointer<Float>,
                                       ld: Int, tiles: Int, positions: Range<Int>) {
        let (c, k) = (geometry.channels, outputChannels)
        for xi in positions {
            Gemm.multiply(m: c, n: tiles, k: k,
                          a: u + xi * k * c, Gemm.Operand(transposed: true, leadingDimension: c),
                          b: dm + xi * k * ld, Gemm.Operand(transposed: false, leadingDimension: ld),
                          c: dv + xi * c * ld, ldc: ld)
        }
    }

    /// Whether a convolution of this batch has at most 16 Winograd tiles per thread (one-tile
    /// planes): its forward and backward then run the whole batch's steps split among the
    /// threads (0.82 against 1.04 ms forward for ResNet-18's 4×4 stage at batch 32; 64 tiles per
    /// thread are faster by images).
    private func hasFewTiles(threads: Int) -> Bool { batch * tiles.tileRows * tiles.tilesPerRow <= 16 * threads }

    /// V = Bᵀ d B of a chunk's tiles, split among the threads by channels; thread w's scratch at
    /// `scratch + w·scratchSize`.
    private func transformInputByChannels(_ x: UnsafePointer<Float>, _ chunk: WinogradChunk, into v: UnsafeMutablePointer<Float>,
                                          ld: Int, scratch: UnsafeMutablePointer<Float>, scratchSize: Int, threads: Int) {
        let c = geometry.channels, plane = tiles.height * tiles.width
        Parallel.forEachChunk(count: c, chunks: threads, workers: threads) { worker, _, channels in
            Winograd.transformInput(x + channels.lowerBound * plane, inputImage: inputImage, channels: channels.count,
                                    ofChannels: c, tiles, chunk, into: v + channels.lowerBound * ld, ld: ld,
                                    scratch: scratch + worker * scratchSize)
        }
    }

    /// ``forward(x:weight:bias:into:weightCache:)`` by Winograd F(4×4, 3×3), with the transformed
    /// weights of `weightCache` when given (computed there once).
    func winogradForward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                         into y: UnsafeMutablePointer<Float>, weightCache: ConvolutionWeightCache? = nil,
                         epilogue: ConvolutionEpilogue = .none) {
        let t = tiles, (c, k) = (geometry.channels, outputChannels), tileRows = t.tileRows
        func transformed() -> TensorStorage {
            weightCache?.winogradWeights(weight, outputChannels: k, channels: c)
                ?? Winograd.transformedWeights(weight, outputChannels: k, channels: c)
        }
        func run(_ rows: Range<Int>, _ s: WinogradScratch, _ u: TensorStorage) {
            let chunk = WinogradChunk(units: rows, tileRows: tileRows)
            Winograd.transformInput(x, inputImage: inputImage, channels: c, t, chunk, into: s.v, ld: s.ld, scratch: s.rows)
            winogradProducts(u.pointer, s.v, into: s.m, ld: s.ld, tiles: rows.count * t.tilesPerRow, positions: 0..<36)
            Winograd.transformOutput(s.m, ld: s.ld, outputChannels: k, t, chunk,
                                     bias: bias, epilogue: epilogue, into: y, outputImage: outputImage, scratch: s.rows)
        }
        let threads = Parallel.workers(items: Int.max, work: work)
        if batch < threads || hasFewTiles(threads: threads) {
            // Fewer images than threads (inference on one image), or few tiles: every step of a
            // chunk of tile rows is split among the threads — the input transform by channels,
            // the 36 GEMMs by position, the output transform by output channels — so that each
            // thread reads its part of U once per chunk, and each GEMM has all the chunk's tiles.
            let units = batch * tileRows
            let rowsPerChunk = Swift.max(1, Swift.min(units, threads * Self.winogradBudget / winogradBytesPerTileRow))
            let ld = WinogradTiles.leadingDimension(tiles: rowsPerChunk * t.tilesPerRow), rowsSize = t.scratchSize(ld: ld)
            let storage = TensorStorage(uninitializedCount: 36 * (c + k) * ld + threads * rowsSize)
            let (v, m, rows) = (storage.pointer, storage.pointer + 36 * c * ld, storage.pointer + 36 * (c + k) * ld)
            let packed = packedWinogradWeights(weight, cache: weightCache, columns: rowsPerChunk * t.tilesPerRow)
            let u = packed == nil ? transformed() : nil
            for start in stride(from: 0, to: units, by: rowsPerChunk) {
                let chunk = WinogradChunk(units: start..<Swift.min(units, start + rowsPerChunk), tileRows: tileRows)
                transformInputByChannels(x, chunk, into: v, ld: ld, scratch: rows, scratchSize: rowsSize, threads: threads)
                let columns = chunk.units.count * t.tilesPerRow
                Parallel.forEachChunk(count: 36, chunks: threads, workers: threads) { _, _, positions in
                    guard let packed else {
                        return winogradProducts(u!.pointer, v, into: m, ld: ld, tiles: columns, positions: positions)
                    }
                    let size = PackedGemm.packedCount(m: k, k: c)
                    for xi in positions {
                        PackedGemm.multiply(packed.pointer + xi * size, m: k, k: c, b: v + xi * c * ld, ldb: ld, n: columns,
                                            c: m + xi * k * ld, ldc: ld)
                    }
                }
                Parallel.forEachChunk(count: k, chunks: threads, workers: threads) { worker, _, outputChannels in
                    Winograd.transformOutput(m, ld: ld, outputChannels: k, only: outputChannels, t, chunk, bias: bias,
                                             epilogue: epilogue, into: y, outputImage: outputImage, scratch: rows + worker * rowsSize)
                }
            }
            return
        }
        let workers = Parallel.workers(items: batch, work: work), u = transformed()
        withWinogradScratch(workers: workers) { scratchOf in
            Parallel.forEachChunk(count: batch, chunks: imageChunks(accumulator: 0), workers: workers) { worker, _, images in
                let s = scratchOf(worker)
                forEachChunk(of: images, rowsPerChunk: s.rowsPerChunk) { rows in run(rows, s, u) }
            }
        }
    }

    /// ``backward(outputGradient:x:weight:inputGradient:weightGradient:)`` by Winograd F(4×4, 3×3):
    /// dM = A dy Aᵀ, then dU += dM·Vᵀ and dV = Uᵀ·dM per position, then dx = B dV Bᵀ and
    /// dw = Gᵀ dU G. The output gradient may have any strides (a broadcast gradient of a sum is
    /// read in place).
    func winogradBackward(outputGradient dy: StridedImages, x: UnsafePointer<Float>?, weight: UnsafePointer<Float>?,
                          inputGradient dx: UnsafeMutablePointer<Float>?, weightGradient dw: UnsafeMutablePointer<Float>?) {
        let t = tiles, (c, k) = (geometry.channels, outputChannels), tileRows = t.tileRows, uSize = 36 * k * c
        let u = weight.map { Winograd.transformedWeights($0, outputChannels: k, channels: c) }
        let threads = Parallel.workers(items: Int.max, work: work)
        if hasFewTiles(threads: threads) {
            winogradBackwardBySteps(outputGradient: dy, x: x, transformedWeights: u, inputGradient: dx, weightGradient: dw,
                                    threads: threads)
            return
        }
        let workers = Parallel.workers(items: batch, work: work)
        // Each chunk of the batch sums its dU; they are added in order and transformed back.
        let chunks = imageChunks(accumulator: dw == nil ? 0 : uSize)
        let du = dw == nil ? nil : TensorStorage(count: chunks * uSize, repeating: 0)
        withWinogradScratch(workers: workers) { scratchOf in
            Parallel.forEachChunk(count: batch, chunks: chunks, workers: workers) { worker, chunk, images in
                let s = scratchOf(worker), cols = t.tilesPerRow
                forEachChunk(of: images, rowsPerChunk: s.rowsPerChunk) { rows in
                    let n = rows.count * cols, part = WinogradChunk(units: rows, tileRows: tileRows)
                    Winograd.transformOutputGradient(dy, outputChannels: k, t, part, into: s.m, ld: s.ld, scratch: s.rows)
                    if let x, let du {
                        Winograd.transformInput(x, inputImage: inputImage, channels: c, t, part, into: s.v, ld: s.ld,
                                                scratch: s.rows)
                        weightGradientProducts(s.m, s.v, into: du.pointer + chunk * uSize, ld: s.ld, tiles: n, positions: 0..<36,
                                               beta: 1)
                    }
                    if let dx, let u {
                        // dV overwrites V, which the weight gradient no longer needs.
                        inputGradientProducts(u.pointer, s.m, into: s.v, ld: s.ld, tiles: n, positions: 0..<36)
                        Winograd.transformInputGradient(s.v, ld: s.ld, channels: c, t, part, into: dx, inputImage: inputImage,
                                                        scratch: s.rows)
                    }
                }
            }
        }
        if let dw, let du {
            // Each element summed in chunk order (the same floats on any number of threads).
            let total = du.pointer
            Parallel.forEach(count: uSize, work: uSize * chunks) { range in
                for chunk in 1..<Swift.max(1, chunks) {
                    for i in range { total[i] += total[chunk * uSize + i] }
                }
            }
            Winograd.transformWeightGradient(total, outputChannels: k, channels: c, into: dw)
        }
    }
}

extension ConvolutionPlan {
    /// ``winogradBackward(outputGradient:x:weight:inputGradient:weightGradient:)`` for few tiles (at
    /// most 16 per thread: one-tile planes of a batch): the whole batch is one chunk and each step is
    /// split among the threads — dM by output channels, V and dx by input channels, the products by
    /// position — so each position's dU is one product over all the tiles, with no chunk sums.
    private func winogradBackwardBySteps(outputGradient dy: StridedImages, x: UnsafePointer<Float>?,
                                         transformedWeights u: TensorStorage?, inputGradient dx: UnsafeMutablePointer<Float>?,
                                         weightGradient dw: UnsafeMutablePointer<Float>?, threads: Int) {
        let t = tiles, (c, k) = (geometry.channels, outputChannels), plane = t.height * t.width
        let chunk = WinogradChunk(units: 0..<(batch * t.tileRows), tileRows: t.tileRows), n = chunk.units.count * t.tilesPerRow
        let ld = WinogradTiles.leadingDimension(tiles: n), rowsSize = t.scratchSize(ld: ld)
        let storage = TensorStorage(uninitializedCount: 36 * (c + k) * ld + threads * rowsSize + (dw == nil ? 0 : 36 * k * c))
        let (v, m, rows) = (storage.pointer, storage.pointer + 36 * c * ld, storage.pointer + 36 * (c + k) * ld)
        let du = rows + threads * rowsSize
        Parallel.forEachChunk(count: k, chunks: threads, workers: threads) { worker, _, outputChannels in
            Winograd.transformOutputGradient(dy, outputChannels: k, only: outputChannels, t, chunk, into: m, ld: ld,
                                             scratch: rows + worker * rowsSize)
        }
        if let x, dw != nil {
            transformInputByChannels(x, chunk, into: v, ld: ld, scratch: rows, scratchSize: rowsSize, threads: threads)
        }
        Parallel.forEachChunk(count: 36, chunks: threads, workers: threads) { _, _, positions in
            for xi in positions {
                if x != nil, dw != nil { weightGradientProducts(m, v, into: du, ld: ld, tiles: n, positions: xi..<(xi + 1), beta: 0) }
                // dV overwrites V, whose product for dU at this position is done.
                if dx != nil, let u { inputGradientProducts(u.pointer, m, into: v, ld: ld, tiles: n, positions: xi..<(xi + 1)) }
            }
        }
        if let dx {
            Parallel.forEachChunk(count: c, chunks: threads, workers: threads) { worker, _, channels in
                Winograd.transformInputGradient(v + channels.lowerBound * ld, ld: ld, channels: channels.count, ofChannels: c, t, chunk,
                                                into: dx + channels.lowerBound * plane, inputImage: inputImage,
                                                scratch: rows + worker * rowsSize)
            }
        }
        if let dw, x != nil { Winograd.transformWeightGradient(du, outputChannels: k, channels: c, into: dw) }
    }
}

extension Winograd {
    /// U = G g Gᵀ of every (c', c) pair of `w` (C', C, 3, 3), in new storage (36, C', C).
    static func transformedWeights(_ w: UnsafePointer<Float>, outputChannels: Int, channels: Int) -> TensorStorage {
        let u = TensorStorage(uninitializedCount: 36 * outputChannels * channels)
        transformWeights(w, outputChannels: outputChannels, channels: channels, into: u.pointer)
        return u
    }
}

/// The weights of one convolution as its algorithm computes with them (Winograd's transformed
/// taps, 4 times the weight's size; the window of taps that reach the input, see
/// ``KernelWindow``; the dense matrix of an image no larger than the kernel; or the weight in
/// the panels of the packed products), kept from call to call for weights that no longer change — a model for
/// inference (`Conv2d` holds one after `fuseForInference()`). Filled by the first convolution
/// given it; used only by calls that record no gradient to the weight. Call ``clear()`` after
/// changing the weights in place.
public final class ConvolutionWeightCache: @unchecked Sendable {
    private let lock = NSLock()
    private var transformed: TensorStorage?
    /// What `transformed` holds: the algorithm and the sizes it read.
    private var key: [Int] = []

    /// An empty cache.
    public init() {}

    /// Forgets what the cache holds (the weights changed).
    public func clear() {
        lock.lock()
        defer { lock.unlock() }
        transformed = nil
    }

    /// Whether the cache holds transformed weights.
    public var isFilled: Bool {
        lock.lock()
        defer { lock.unlock() }
        return transformed != nil
    }

    /// The Winograd transform of `w` (C', C, 3, 3): the one kept, or computed and kept.
    func winogradWeights(_ w: UnsafePointer<Float>, outputChannels: Int, channels: Int) -> TensorStorage {
        weights(for: [0, outputChannels, channels]) { Winograd.transformedWeights(w, outputChannels: outputChannels, channels: channels) }
    }

    /// The weights `make` computes for `key` (an algorithm and the sizes it reads): the ones
    /// kept, or computed and kept.
    func weights(for key: [Int], _ make: () -> TensorStorage) -> TensorStorage {
        lock.lock()
        defer { lock.unlock() }
        if let transformed, self.key == key { return transformed }
        let made = make()
        (transformed, self.key) = (made, key)
        return made
    }
}
