// Logical ops and checks on values: and/or/xor/not, any/all, NaN and infinity tests (0/1 masks
// like the comparisons of Ops/Comparison.swift: nonzero, NaN included, counts as true, and no
// gradient), and two differentiable elementwise ops: replacing NaN and infinities
// (`torch.nan_to_num`) and linear interpolation (`torch.lerp`).

// MARK: - Logical ops

extension Tensor {
    /// 1 where both `self` and `other` are nonzero, else 0 (`torch.logical_and` as Float).
    /// Broadcasts: (*A), (*B) → broadcast(*A, *B). No gradient.
    public func logicalAnd(_ other: Tensor) -> Tensor {
        truthTable("logicalAnd", other) { a, b in Elementwise.zip(a, b) { ($0 != 0 && $1 != 0) ? 1 : 0 } }
    }

    /// 1 where `self` or `other` is nonzero, else 0 (`torch.logical_or`). Broadcasts. No gradient.
    public func logicalOr(_ other: Tensor) -> Tensor {
        truthTable("logicalOr", other) { a, b in Elementwise.zip(a, b) { ($0 != 0 || $1 != 0) ? 1 : 0 } }
    }

    /// 1 where exactly one of `self` and `other` is nonzero, else 0 (`torch.logical_xor`).
    /// Broadcasts. No gradient.
    public func logicalXor(_ other: Tensor) -> Tensor {
        truthTable("logicalXor", other) { a, b in Elementwise.zip(a, b) { ($0 != 0) != ($1 != 0) ? 1 : 0 } }
    }

    /// 1 where an element is zero, else 0 (`torch.logical_not`; NaN is nonzero). (*) → (*).
    public func logicalNot() -> Tensor {
        Tensor.op("logicalNot", inputs: [self], shape: shape) { Elementwise.map(self) { $0 == 0 ? 1 : 0 } }
    }

    /// 1 where an element is NaN, else 0 (`torch.isnan`). (*) → (*), no gradient.
    public func isNaN() -> Tensor {
        Tensor.op("isNaN", inputs: [self], shape: shape) { Elementwise.map(self) { $0.isNaN ? 1 : 0 } }
    }

    /// 1 where an element is neither infinite nor NaN, else 0 (`torch.isfinite`). (*) → (*).
    public func isFinite() -> Tensor {
        Tensor.op("isFinite", inputs: [self], shape: shape) { Elementwise.map(self) { $0.isFinite ? 1 : 0 } }
    }

    /// 1 where an element is +inf or -inf, else 0 (`torch.isinf`). (*) → (*).
    public func isInfinite() -> Tensor {
        Tensor.op("isInfinite", inputs: [self], shape: shape) { Elementwise.map(self) { $0.isInfinite ? 1 : 0 } }
    }

    /// A 0/1 result of the broadcast operands, never recording a gradient.
    private func truthTable(_ name: String, _ other: Tensor, _ forward: (Tensor, Tensor) -> Tensor) -> Tensor {
        let (a, b) = Tensor.broadcastPair(detached(), other.detached(), op: name)
        return Tensor.op(name, inputs: [a, b], shape: a.shape) { forward(a, b) }
    }
}

// MARK: - Any and all

extension Tensor {
    /// 1 where some element along `axis` is nonzero (NaN included), else 0, like
    /// `torch.any(dim=)`; 0 for an empty axis. (…, n, …) → (…, …), or (…, 1, …) keeping it.
    public func any(along axis: Int, keepingDims: Bool = false) -> Tensor {
        anyNonzero(axes: [axis], keepingDims: keepingDims)
    }

    /// 1 where every element along `axis` is nonzero (NaN included), else 0, like
    /// `torch.all(dim=)`; 1 for an empty axis. (…, n, …) → (…, …), or (…, 1, …) keeping it.
    public func all(along axis: Int, keepingDims: Bool = false) -> Tensor {
        allNonzero(axes: [axis], keepingDims: keepingDims)
    }

    /// 1 if some element is nonzero, else 0 (`torch.any`; 0 for no elements). (*) → ().
    public func any() -> Tensor { anyNonzero(axes: nil, keepingDims: false) }

    /// 1 if every element is nonzero, else 0 (`torch.all`; 1 for no elements). (*) → ().
    public func all() -> Tensor { allNonzero(axes: nil, keepingDims: false) }

    // Both count elements with a sum of 0/1 Floats: not exact past 2^24, but a sum of
    // nonnegative numbers is zero only when every term is.

    /// 1 where the count of nonzero elements over `axes` (all when nil) is positive.
    private func anyNonzero(axes: [Int]?, keepingDims: Bool) -> Tensor {
        let axes = reductionAxes(axes, op: "any")
        return Tensor.op("any", inputs: [self], shape: reducedShape(axes, keepingDims: keepingDims)) {
            let count = Elementwise.map(self) { $0 != 0 ? 1 : 0 }.sum(axes: axes, keepingDims: keepingDims)
            return Elementwise.map(count) { $0 > 0 ? 1 : 0 }
        }
    }

    /// 1 where the count of zero elements over `axes` (all when nil) is zero.
    private func allNonzero(axes: [Int]?, keepingDims: Bool) -> Tensor {
        let axes = reductionAxes(axes, op: "all")
        return Tensor.op("all", inputs: [self], shape: reducedShape(axes, keepingDims: keepingDims)) {
            let count = Elementwise.map(self) { $0 == 0 ? 1 : 0 }.sum(axes: axes, keepingDims: keepingDims)
            return Elementwise.map(count) { $0 == 0 ? 1 : 0 }
        }
    }
}

// MARK: - Differentiable elementwise ops

extension Tensor {
    /// This tensor with NaN, +inf and -inf replaced, like `torch.nan_to_num`.
    ///
    ///     logits.replacingNaN()   // NaN → 0, ±inf → ±Float.greatestFiniteMagnitude
    ///
    /// - Parameters:
    ///   - nan: what NaN becomes (0 by default).
    ///   - posinf: what +inf becomes (the largest finite Float by default).
    ///   - neginf: what -inf becomes (the most negative finite Float by default).
    /// - Returns: this tensor's shape; the gradient passes where the element was finite and is
    ///   zero where it was replaced (as PyTorch's).
    public func replacingNaN(nan: Float = 0, posinf: Float? = nil, neginf: Float? = nil) -> Tensor {
        let up = posinf ?? .greatestFiniteMagnitude, down = neginf ?? -.greatestFiniteMagnitude
        return elementwise("replacingNaN", {
            Elementwise.map(self) { $0.isFinite ? $0 : ($0.isNaN ? nan : ($0 > 0 ? up : down)) }
        }) { g, x, _ in
            Elementwise.zip(g, x) { g, x in x.isFinite ? g : 0 }
        }
    }

    /// Linear interpolation from this tensor to `end` by a scalar weight, like `torch.lerp`:
    /// `self + weight · (end - self)` (computed from the nearer end, as PyTorch does).
    /// Broadcasts: (*A), (*B) → broadcast(*A, *B).
    ///
    ///     ema.lerp(to: weights, weight: 0.01)
    ///
    /// - Returns: the broadcast shape; gradients `1 - weight` for this tensor and `weight` for
    ///   `end`.
    public func lerp(to end: Tensor, weight: Float) -> Tensor {
        Tensor.elementwise("lerp", self, end, { a, b in Elementwise.zip(a, b) { Tensor.lerp($0, $1, weight) } },
                           lhsGradient: { g, _, _ in g * (1 - weight) },
                           rhsGradient: { g, _, _ in g * weight })
    }

    /// Linear interpolation from this tensor to `end` by a tensor of weights, like `torch.lerp`:
    /// `self + weight · (end - self)`, all three broadcast together:
    /// (*A), (*B), (*W) → broadcast(*A, *B, *W).
    ///
    ///     a.lerp(to: b, weight: gate)   // (N, D), (N, D), (N, 1) → (N, D)
    ///
    /// - Returns: the broadcast shape; differentiable in all three: `1 - weight` for this
    ///   tensor, `weight` for `end` and `end - self` for `weight`.
    public func lerp(to end: Tensor, weight: Tensor) -> Tensor {
        guard let pair = Shape.broadcast(shape, end.shape, op: "lerp"),
              let target = Shape.broadcast(pair, weight.shape, op: "lerp") else { return .shapeFailure }
        let a = expanded(to: target), b = end.expanded(to: target), w = weight.expanded(to: target)
        return Tensor.op("lerp", inputs: [a, b, w], shape: target, flops: 3 * Shape.count(target)) {
            Elementwise.zip3(a, b, w) { Tensor.lerp($0, $1, $2) }
        } pullback: { g, _ in
            let (a0, b0, w0) = (a.detached(), b.detached(), w.detached())
            return [a.requiresGrad ? Elementwise.zip(g, w0) { g, w in g * (1 - w) } : nil,
                    b.requiresGrad ? Elementwise.zip(g, w0) { g, w in g * w } : nil,
                    w.requiresGrad ? Elementwise.zip3(g, a0, b0) { g, a, b in g * (b - a) } : nil]
        }
    }

    /// `start + weight · (end - start)`, computed from `end` when |weight| ≥ 0.5 (as PyTorch
    /// does, so weight 1 gives `end` exactly).
    @inline(__always)
    static func lerp(_ start: Float, _ end: Float, _ weight: Float) -> Float {
        Swift.abs(weight) < 0.5 ? start + weight * (end - start) : end - (end - start) * (1 - weight)
    }
}
