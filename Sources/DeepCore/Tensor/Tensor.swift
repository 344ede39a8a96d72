/// An N-dimensional array of Float32 that records the operations applied to it for reverse-mode
/// differentiation.
///
/// A tensor is a strided view of a ``TensorStorage``: `shape`, `strides` and `offset` say where
/// each element lives, so reshaping a contiguous tensor, permuting, transposing, expanding,
/// narrowing and squeezing cost no copy. Tensors are reference types like PyTorch's: setting
/// `requiresGrad` or reading `grad` works on a `let`.
public final class Tensor {
    /// The memory this tensor views (shared with its views).
    public let storage: TensorStorage
    /// Size of each axis.
    public let shape: [Int]
    /// Distance in elements between neighbours along each axis (0 for a broadcast axis).
    public let strides: [Int]
    /// Index in `storage` of the element at all-zero indices.
    public let offset: Int

    /// The gradient accumulated by ``backward(_:)`` for a leaf tensor that requires it.
    public var grad: Tensor?

    /// The recorded operation that produced this tensor, `nil` for a leaf.
    var gradNode: GradNode?

    private var _requiresGrad = false

    /// Whether gradients flow to this tensor. Set it on leaves (parameters, inputs); results of
    /// operations on such tensors require gradients by themselves.
    public var requiresGrad: Bool {
        get { _requiresGrad }
        set {
            require(gradNode == nil || newValue,
                    "requiresGrad: cannot turn gradients off on a non-leaf tensor; use detached()")
            _requiresGrad = newValue
        }
    }

    /// Whether this tensor was created by the user rather than recorded by an op.
    public var isLeaf: Bool { gradNode == nil }

    /// Creates a view of `storage`.
    public init(storage: TensorStorage, shape: [Int], strides: [Int], offset: Int = 0) {
        require(shape.count == strides.count, "Tensor: shape \(shape) and strides \(strides) differ in rank")
        require(shape.allSatisfy { $0 >= 0 }, "Tensor: negative size in shape \(shape)")
        self.storage = storage
        self.shape = shape
        self.strides = strides
        self.offset = offset
    }

    /// Creates a contiguous tensor over `storage`.
    public convenience init(storage: TensorStorage, shape: [Int]) {
        require(Shape.count(shape) <= storage.count,
                "Tensor: shape \(shape) needs \(Shape.count(shape)) elements, storage has \(storage.count)")
        self.init(storage: storage, shape: shape, strides: Shape.contiguousStrides(shape))
    }

    /// Creates a tensor of `shape` from row-major `scalars`.
    ///
    ///     Tensor([1, 2, 3, 4], shape: [2, 2])
    public convenience init(_ scalars: [Float], shape: [Int]) {
        require(Shape.count(shape) == scalars.count,
                "Tensor: \(scalars.count) scalars do not fill shape \(shape)")
        let storage = TensorStorage(uninitializedCount: scalars.count)
        scalars.withUnsafeBufferPointer { src in
            if let base = src.baseAddress { storage.pointer.update(from: base, count: scalars.count) }
        }
        self.init(storage: storage, shape: shape)
    }

    /// Creates a 1-D tensor from `scalars`.
    public convenience init(_ scalars: [Float]) {
        self.init(scalars, shape: [scalars.count])
    }

    /// Creates a 0-D tensor holding `scalar`.
    public convenience init(scalar: Float) {
        self.init([scalar], shape: [])
    }

    /// A tensor of `shape` filled with zeros.
    public convenience init(zeros shape: [Int]) {
        self.init(storage: TensorStorage(count: Shape.count(shape), repeating: 0), shape: shape)
    }

    /// A tensor of `shape` filled with ones.
    public convenience init(ones shape: [Int]) {
        self.init(storage: TensorStorage(count: Shape.count(shape), repeating: 1), shape: shape)
    }

    /// A tensor of `shape` with every element `value`.
    public convenience init(repeating value: Float, shape: [Int]) {
        self.init(storage: TensorStorage(count: Shape.count(shape), repeating: value), shape: shape)
    }

    /// A contiguous tensor of `shape` whose elements are written by `body` (row-major order).
    /// The buffer starts uninitialised: `body` must write every element.
    public static func make(shape: [Int], _ body: (UnsafeMutableBufferPointer<Float>) throws -> Void) rethrows -> Tensor {
        let storage = TensorStorage(uninitializedCount: Shape.count(shape))
        try body(UnsafeMutableBufferPointer(start: storage.pointer, count: Shape.count(shape)))
        return Tensor(storage: storage, shape: shape)
    }

    /// The values 0, 1, … counting from `start` up to (not including) `end` by `step`.
    public static func arange(_ start: Float, _ end: Float, step: Float = 1) -> Tensor {
        require(step != 0, "arange: step must not be zero")
        let n = Swift.max(0, Int(((end - start) / step).rounded(.up)))
        return make(shape: [n]) { out in
            for i in 0..<n { out[i] = start + Float(i) * step }
        }
    }

    /// A shape-only tensor: it has a shape but no elements, and ops on it only compute shapes
    /// (used by model summaries). Reading its values stops with a message naming `madeBy`.
    public convenience init(metaShape shape: [Int], madeBy: String? = nil) {
        self.init(storage: TensorStorage(metaCount: Shape.count(shape), madeBy: madeBy), shape: shape)
    }

    /// Whether this is a shape-only tensor (see ``init(metaShape:)``).
    @inline(__always)
    public var isMeta: Bool { storage.isMeta }

    /// Number of axes.
    public var rank: Int { shape.count }
    /// Number of elements.
    public var count: Int { Shape.count(shape) }

    /// Whether the elements lie in row-major order without gaps, so `storage` can be read as a
    /// flat buffer from `offset`.
    public var isContiguous: Bool {
        var expected = 1
        for axis in stride(from: rank - 1, through: 0, by: -1) where shape[axis] != 1 {
            if strides[axis] != expected { return false }
            expected *= shape[axis]
        }
        return true
    }

    /// This tensor if it is contiguous, else a contiguous copy (differentiable).
    public func contiguous() -> Tensor {
        isContiguous ? self : copied()
    }

    /// Calls `body` with the elements in row-major order (copying a non-contiguous tensor first).
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        let c = withoutGrad { contiguous() }
        // Keep a contiguous copy alive while `body` reads it.
        return try withExtendedLifetime(c) { try body(UnsafeBufferPointer(start: c.storage.pointer + c.offset, count: c.count)) }
    }

    /// Calls `body` with the tensor's own elements to change them in place. The tensor must be
    /// contiguous. No gradient is recorded: use it for optimiser updates and initialisation.
    public func withUnsafeMutableBufferPointer<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        require(!isMeta, "withUnsafeMutableBufferPointer: a shape-only tensor of shape \(shape) has no values")
        require(isContiguous, "withUnsafeMutableBufferPointer: tensor of shape \(shape) with strides \(strides) is not contiguous")
        return try body(UnsafeMutableBufferPointer(start: storage.pointer + offset, count: count))
    }

    /// A row-major copy of the elements. A shape-only tensor has none: see ``TensorStorage/pointer``.
    public var scalars: [Float] {
        return withUnsafeBufferPointer { Array($0) }
    }

    /// The value of a tensor with one element. A shape-only tensor has none: see
    /// ``TensorStorage/pointer``.
    public func item() -> Float {
        require(count == 1, "item(): tensor of shape \(shape) has \(count) elements, not 1")
        return storage.pointer[offset]
    }

    /// The element at `indices` (one index per axis).
    public func scalar(at indices: [Int]) -> Float {
        require(indices.count == rank, "scalar(at:): \(indices.count) indices for a tensor of rank \(rank)")
        var position = offset
        for (axis, i) in indices.enumerated() {
            require(i >= 0 && i < shape[axis], "scalar(at:): index \(i) out of range for axis \(axis) of size \(shape[axis])")
            position += i * strides[axis]
        }
        return storage.pointer[position]
    }

    /// A new tensor sharing this one's elements with no recorded history; gradients do not flow
    /// through it.
    public func detached() -> Tensor {
        Tensor(storage: storage, shape: shape, strides: strides, offset: offset)
    }
}
