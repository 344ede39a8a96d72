// Elementwise comparisons (0/1 masks), the elementwise maximum and minimum of two tensors, and
// selection by a mask. All broadcast their operands like NumPy/PyTorch.

// MARK: - Comparisons

extension Tensor {
    /// A comparison of this tensor with `other`, both broadcast: `forward(a, b)` makes the 0/1
    /// mask from the broadcast operands. Masks carry no gradient: nothing is recorded.
    @inline(__always)
    private func mask(_ name: String, _ other: Tensor, _ forward: (Tensor, Tensor) -> Tensor) -> Tensor {
        let (a, b) = Tensor.broadcastPair(detached(), other.detached(), op: name)
        return Tensor.op(name, inputs: [a, b], shape: a.shape) { forward(a, b) }
    }

    /// A comparison of every element with a scalar: `forward` makes the 0/1 mask. (*) → (*).
    @inline(__always)
    private func mask(_ name: String, _ forward: () -> Tensor) -> Tensor {
        Tensor.op(name, inputs: [self], shape: shape, forward: forward)
    }

    /// 1 where `self == other`, else 0 (`torch.eq` as Float). Broadcasts:
    /// (*A), (*B) → broadcast(*A, *B). No gradient flows through a comparison.
    public func isEqual(to other: Tensor) -> Tensor {
        mask("isEqual", other) { a, b in Elementwise.zip(a, b) { $0 == $1 ? 1 : 0 } }
    }
    /// 1 where `self != other`, else 0 (`torch.ne`; NaN differs from everything). Broadcasts.
    public func isNotEqual(to other: Tensor) -> Tensor {
        mask("isNotEqual", other) { a, b in Elementwise.zip(a, b) { $0 != $1 ? 1 : 0 } }
    }
    /// 1 where `self < other`, else 0 (`torch.lt`). Broadcasts.
    public func isLess(than other: Tensor) -> Tensor {
        mask("isLess", other) { a, b in Elementwise.zip(a, b) { $0 < $1 ? 1 : 0 } }
    }
    /// 1 where `self <= other`, else 0 (`torch.le`). Broadcasts.
    public func isLessOrEqual(to other: Tensor) -> Tensor {
        mask("isLessOrEqual", other) { a, b in Elementwise.zip(a, b) { $0 <= $1 ? 1 : 0 } }
    }
    /// 1 where `self > other`, else 0 (`torch.gt`). Broadcasts.
    public func isGreater(than other: Tensor) -> Tensor {
        mask("isGreater", other) { a, b in Elementwise.zip(a, b) { $0 > $1 ? 1 : 0 } }
    }
    /// 1 where `self >= other`, else 0 (`torch.ge`). Broadcasts.
    public func isGreaterOrEqual(to other: Tensor) -> Tensor {
        mask("isGreaterOrEqual", other) { a, b in Elementwise.zip(a, b) { $0 >= $1 ? 1 : 0 } }
    }

    /// 1 where an element equals `value`, else 0. (*) → (*).
    public func isEqual(to value: Float) -> Tensor { mask("isEqual") { Elementwise.map(self) { $0 == value ? 1 : 0 } } }
    /// 1 where an element differs from `value`, else 0. (*) → (*).
    public func isNotEqual(to value: Float) -> Tensor { mask("isNotEqual") { Elementwise.map(self) { $0 != value ? 1 : 0 } } }
    /// 1 where an element is less than `value`, else 0. (*) → (*).
    public func isLess(than value: Float) -> Tensor { mask("isLess") { Elementwise.map(self) { $0 < value ? 1 : 0 } } }
    /// 1 where an element is at most `value`, else 0. (*) → (*).
    public func isLessOrEqual(to value: Float) -> Tensor { mask("isLessOrEqual") { Elementwise.map(self) { $0 <= value ? 1 : 0 } } }
    /// 1 where an element is greater than `value`, else 0. (*) → (*).
    public func isGreater(than value: Float) -> Tensor { mask("isGreater") { Elementwise.map(self) { $0 > value ? 1 : 0 } } }
    /// 1 where an element is at least `value`, else 0. (*) → (*).
    public func isGreaterOrEqual(to value: Float) -> Tensor { mask("isGreaterOrEqual") { Elementwise.map(self) { $0 >= value ? 1 : 0 } } }
}

// MARK: - Maximum and minimum

/// The larger of `a` and `b` at each position (`torch.maximum`; NaN if either is NaN).
/// Broadcasts: (*A), (*B) → broadcast(*A, *B).
///
/// Gradient as PyTorch: all to the larger operand, and split in halves on a tie.
public func maximum(_ a: Tensor, _ b: Tensor) -> Tensor {
    Tensor.elementwise(
        "maximum", a, b, { a, b in Elementwise.zip(a, b) { a, b in (a > b || a.isNaN) ? a : b } },
        lhsGradient: { g, a, b in Elementwise.zip3(g, a, b) { g, a, b in a == b ? g * 0.5 : (a < b ? 0 : g) } },
        rhsGradient: { g, a, b in Elementwise.zip3(g, a, b) { g, a, b in a == b ? g * 0.5 : (a > b ? 0 : g) } })
}

/// The smaller of `a` and `b` at each position (`torch.minimum`; NaN if either is NaN).
/// Broadcasts: (*A), (*B) → broadcast(*A, *B).
///
/// Gradient as PyTorch: all to the smaller operand, and split in halves on a tie.
public func minimum(_ a: Tensor, _ b: Tensor) -> Tensor {
    Tensor.elementwise(
        "minimum", a, b, { a, b in Elementwise.zip(a, b) { a, b in (a < b || a.isNaN) ? a : b } },
        lhsGradient: { g, a, b in Elementwise.zip3(g, a, b) { g, a, b in a == b ? g * 0.5 : (a > b ? 0 : g) } },
        rhsGradient: { g, a, b in Elementwise.zip3(g, a, b) { g, a, b in a == b ? g * 0.5 : (a < b ? 0 : g) } })
}

// MARK: - Selection

/// Elements of `a` where `condition` is nonzero and of `b` elsewhere (`torch.where(condition,
/// a, b)`), broadcasting all three: (*C), (*A), (*B) → broadcast(*C, *A, *B).
///
///     select(where: x.isGreater(than: 0), x, otherwise: 0.1 * x)   // a leaky ReLU
///
/// Differentiable with respect to `a` and `b`: each receives the output gradient where it was
/// selected and 0 elsewhere. `condition` (typically a mask from a comparison) gets no gradient.
public func select(where condition: Tensor, _ a: Tensor, otherwise b: Tensor) -> Tensor {
    let (a1, b1) = Tensor.broadcastPair(a, b, op: "select")
    let (c, a2) = Tensor.broadcastPair(condition.detached(), a1, op: "select")
    let b2 = b1.expanded(to: a2.shape)
    return Tensor.op("select", inputs: [a2, b2, c], shape: c.shape) {
        Elementwise.zip3(c, a2, b2) { c, a, b in c != 0 ? a : b }
    } pullback: { g, _ in
        [a2.requiresGrad ? Elementwise.zip(g, c) { g, c in c != 0 ? g : 0 } : nil,
         b2.requiresGrad ? Elementwise.zip(g, c) { g, c in c != 0 ? 0 : g } : nil,
         nil]
    }
}
