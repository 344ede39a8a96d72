/// What a convolution does to its output after the bias, while the values are still in cache:
/// adds a residual laid out as the output, then clamps at zero — ResNet's `relu(bn(conv(x)) + x)`
/// once the BatchNorm is folded into the convolution, in one pass instead of three.
struct ConvolutionEpilogue {
    /// Added element by element, in the output's (N, C', H', W') layout; nil: nothing added.
    var residual: UnsafePointer<Float>?
    /// Whether the result is clamped at zero (ReLU).
    var clampsAtZero: Bool

    /// Leaves the output as the convolution computed it.
    static let none = ConvolutionEpilogue(residual: nil, clampsAtZero: false)

    /// Whether the epilogue changes nothing.
    var isNone: Bool { residual == nil && !clampsAtZero }

    /// Applies the epilogue to `count` values, which belong at element `offset` of the output
    /// (the residual is read from there); `values` may be the output itself or a copy on its way.
    @inline(__always)
    func apply(to values: UnsafeMutablePointer<Float>, count: Int, outputOffset offset: Int) {
        if isNone { return }
        let r = residual.map { $0 + offset }
        let zero = FloatVector(repeating: 0)
        var i = 0
        while i + FloatVector.scalarCount <= count {
            var v = FloatVector(UnsafeRawPointer(values + i).loadUnaligned(as: FloatVector.self))
            if let r { v += UnsafeRawPointer(r + i).loadUnaligned(as: FloatVector.self) }
            if clampsAtZero { v = v.replacing(with: zero, where: v .< zero) }
            UnsafeMutableRawPointer(values + i).storeBytes(of: v, as: FloatVector.self)
            i += FloatVector.scalarCount
        }
        while i < count {
            var v = values[i]
            if let r { v += r[i] }
            values[i] = clampsAtZero && v < 0 ? 0 : v
            i += 1
        }
    }
}
