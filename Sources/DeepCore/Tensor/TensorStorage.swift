#if canImport(Glibc)
import Glibc
#endif

/// A block of Float32 memory shared by a tensor and all of its views.
///
/// The block is 64-byte aligned so that BLAS and vectorised loops get full-width loads. It is
/// freed when the last tensor that refers to it goes away.
public final class TensorStorage {
    /// Number of Float32 elements in the block.
    public let count: Int
    /// The first element of the block. Reading it from a shape-only storage (``isMeta``) is a
    /// programmer's error that stops with the name of the op that made the tensor (during a
    /// summary, the failure is recorded and a zeroed scratch block stands in).
    @inline(__always)
    public var pointer: UnsafeMutablePointer<Float> {
        if isMeta { return ShapeErrors.valuesOfShapeOnly(self) }
        return base
    }
    /// The first element of the block, unchecked.
    private let base: UnsafeMutablePointer<Float>
    /// Whether this storage only stands for `count` elements without holding them (a
    /// shape-only tensor, used to check shapes and count FLOPs without computing).
    public let isMeta: Bool
    /// For a shape-only storage, the op that made it (named when something reads its values).
    public let madeBy: String?

    /// Allocates `count` uninitialised elements.
    public init(uninitializedCount count: Int) {
        require(count >= 0, "TensorStorage: negative element count \(count)")
        TensorStorage.configureAllocator
        self.count = count
        isMeta = false
        madeBy = nil
        var raw: UnsafeMutableRawPointer? = nil
        let bytes = Swift.max(count, 1) * MemoryLayout<Float>.stride
        guard posix_memalign(&raw, 64, bytes) == 0, let raw else {
            fatalError("TensorStorage: cannot allocate \(bytes) bytes")
        }
        base = raw.bindMemory(to: Float.self, capacity: Swift.max(count, 1))
    }

    /// Allocates `count` elements, each set to `value`.
    public convenience init(count: Int, repeating value: Float) {
        self.init(uninitializedCount: count)
        if value == 0 {
            memset(pointer, 0, count * MemoryLayout<Float>.stride)
        } else {
            pointer.initialize(repeating: value, count: count)
        }
    }

    /// Keeps freed tensor memory in the process for reuse: without this, glibc returns large
    /// blocks to the system and every training step pays page faults to zero them again.
    private static let configureAllocator: Void = {
        _ = glibcMallopt(-3 /* M_MMAP_THRESHOLD */, 32 << 20)
        _ = glibcMallopt(-1 /* M_TRIM_THRESHOLD */, 1 << 30)
    }()

    /// Storage that stands for `count` elements without allocating them. Ops given tensors on
    /// such storage compute only their result's shape.
    ///
    /// - Parameter madeBy: the op that made it, named if anything reads its values.
    public init(metaCount count: Int, madeBy: String? = nil) {
        require(count >= 0, "TensorStorage: negative element count \(count)")
        self.count = count
        isMeta = true
        self.madeBy = madeBy
        base = UnsafeMutablePointer(bitPattern: 64)!   // never dereferenced: `pointer` checks isMeta
    }

    /// The whole block as a buffer.
    public var buffer: UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: pointer, count: count)
    }

    deinit { if !isMeta { free(base) } }
}

/// glibc's `mallopt` (declared in <malloc.h>, which the Glibc module does not export).
@_silgen_name("mallopt")
private func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32
