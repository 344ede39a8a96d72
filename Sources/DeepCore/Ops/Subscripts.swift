// Multi-axis indexing, PyTorch's basic indexing: `x[.all, 0]` for `x[:, 0]`, `x[0..<2, .all, 1]`,
// `x[.ellipsis, -1]` for `x[..., -1]`, `x[.newAxis]` for `x[None]`, steps with
// `stride(from:to:by:)` or `.slice(start, end, step)`. The result is a view (it shares the
// storage); its pullback writes the gradient into zeros of the input's shape. Assigning through
// the same subscript writes in place (`x[.all, 0] = y`, y broadcast to the selection).
//
// `ViewLayout` describes any view as a start index and per-axis steps over the base's axes; the
// subscripts here, `diagonal` and `flipped` (Structural.swift) are all made from one.

/// One item of a multi-axis subscript: an integer (drops its axis), a range or stride (keeps it),
/// `.all` (`:`), `.ellipsis` (`...`: as many `.all` as the other items leave) or `.newAxis`
/// (`None`: inserts an axis of size 1). Negative integers and bounds count from the end, and
/// slice bounds are clamped to the axis, as in Python.
///
///     x[.all, 0]                            // x[:, 0]      (N, L, D) → (N, D)
///     x[0..<2, .all, 1]                     // x[0:2, :, 1] (N, L, D) → (2, L)
///     x[.ellipsis, -1]                      // x[..., -1]   (N, L, D) → (N, L)
///     x[1...]                               // x[1:]        (N, L, D) → (N - 1, L, D)
///     x[.all, stride(from: 0, to: 6, by: 2)] // x[:, 0:6:2]
///     x[.slice(nil, nil, 2), .newAxis]      // x[::2, None]
public struct TensorIndex: Hashable, Sendable, CustomStringConvertible, ExpressibleByIntegerLiteral {
    enum Kind: Hashable, Sendable {
        case all, ellipsis, newAxis
        case single(Int)
        case slice(start: Int?, end: Int?, step: Int)
    }

    let kind: Kind

    init(_ kind: Kind) { self.kind = kind }

    /// The element at `index` along its axis (negative counts from the end); the axis is dropped.
    public init(_ index: Int) { kind = .single(index) }

    /// An integer literal: the element at that index.
    public init(integerLiteral index: Int) { self.init(index) }

    /// Python's spelling: `:`, `...`, `None`, `3`, `1:5:2`.
    public var description: String {
        switch kind {
        case .all: return ":"
        case .ellipsis: return "..."
        case .newAxis: return "None"
        case .single(let i): return "\(i)"
        case let .slice(start, end, step):
            let bounds = "\(start.map(String.init) ?? ""):\(end.map(String.init) ?? "")"
            return step == 1 ? bounds : bounds + ":\(step)"
        }
    }
}

/// What a multi-axis subscript takes: ``TensorIndex`` itself (`.all`, `.ellipsis`, `.newAxis`,
/// `.slice(start, end, step)`), `Int`, the ranges of `Int` (`a..<b`, `a...b`, `a...`, `..<b`,
/// `...b`) and `stride(from:to:by:)` / `stride(from:through:by:)` of `Int`.
public protocol TensorIndexConvertible {
    /// This item as a ``TensorIndex``.
    var tensorIndex: TensorIndex { get }
}

extension TensorIndexConvertible where Self == TensorIndex {
    /// Every element of an axis (Python's `:`).
    public static var all: TensorIndex { TensorIndex(.all) }
    /// As many `.all` as the other items leave axes (Python's `...`); at most one per subscript.
    public static var ellipsis: TensorIndex { TensorIndex(.ellipsis) }
    /// A new axis of size 1 (Python's `None`); takes no axis of the tensor.
    public static var newAxis: TensorIndex { TensorIndex(.newAxis) }

    /// Python's `start:end:step`: nil bounds are the axis's ends, negative ones count from the
    /// end, and both are clamped to the axis. `step` must be positive (as in PyTorch).
    public static func slice(_ start: Int?, _ end: Int?, _ step: Int = 1) -> TensorIndex {
        TensorIndex(.slice(start: start, end: end, step: step))
    }
}

extension TensorIndex: TensorIndexConvertible {
    public var tensorIndex: TensorIndex { self }

    /// The exclusive end of a slice whose last index is `last` (nil, the axis's end, for -1).
    static func end(after last: Int) -> Int? { last == -1 || last == .max ? nil : last + 1 }
}

extension Int: TensorIndexConvertible {
    public var tensorIndex: TensorIndex { TensorIndex(self) }
}

extension Range: TensorIndexConvertible where Bound == Int {
    public var tensorIndex: TensorIndex { .slice(lowerBound, upperBound) }
}

extension ClosedRange: TensorIndexConvertible where Bound == Int {
    public var tensorIndex: TensorIndex { .slice(lowerBound, TensorIndex.end(after: upperBound)) }
}

extension PartialRangeFrom: TensorIndexConvertible where Bound == Int {
    public var tensorIndex: TensorIndex { .slice(lowerBound, nil) }
}

extension PartialRangeUpTo: TensorIndexConvertible where Bound == Int {
    public var tensorIndex: TensorIndex { .slice(nil, upperBound) }
}

extension PartialRangeThrough: TensorIndexConvertible where Bound == Int {
    public var tensorIndex: TensorIndex { .slice(nil, TensorIndex.end(after: upperBound)) }
}

extension StrideTo: TensorIndexConvertible where Element == Int {
    /// `stride(from: a, to: b, by: s)` is Python's `a:b:s`.
    public var tensorIndex: TensorIndex {
        let (from, to, by) = TensorIndex.strideBounds(customMirror, "to")
        return .slice(from, to, by)
    }
}

extension StrideThrough: TensorIndexConvertible where Element == Int {
    /// `stride(from: a, through: b, by: s)` is Python's `a:b+1:s`.
    public var tensorIndex: TensorIndex {
        let (from, through, by) = TensorIndex.strideBounds(customMirror, "through")
        return .slice(from, TensorIndex.end(after: through), by)
    }
}

extension TensorIndex {
    /// The start, end and step of a standard-library stride, which it shows only through its
    /// mirror (children `from`, `to` or `through`, `by`).
    static func strideBounds(_ mirror: Mirror, _ endLabel: String) -> (Int, Int, Int) {
        let values = Dictionary(mirror.children.compactMap { child in
            (child.value as? Int).flatMap { value in child.label.map { ($0, value) } }
        }, uniquingKeysWith: { first, _ in first })
        guard let from = values["from"], let end = values[endLabel], let by = values["by"] else {
            ShapeErrors.stop("subscript: cannot read the bounds of stride \(mirror.subjectType) (children \(values))")
        }
        return (from, end, by)
    }
}

/// Where a view's elements lie in terms of its base's axes: view element (i₀, i₁, …) is base
/// element `start + Σₖ iₖ · steps[k]` (`start` and each `steps[k]` one integer per base axis).
/// A diagonal steps along two base axes at once; a new axis of size 1 along none.
struct ViewLayout {
    /// The view's shape.
    var shape: [Int]
    /// The base index of the view's first element, one entry per base axis.
    var start: [Int]
    /// Per view axis, how far one step along it moves along each base axis.
    var steps: [[Int]]

    /// The layout of a tensor of `shape` itself: start 0, one unit step per axis.
    init(identityOf shape: [Int]) {
        self.shape = shape
        start = [Int](repeating: 0, count: shape.count)
        steps = shape.indices.map { axis in shape.indices.map { $0 == axis ? 1 : 0 } }
    }

    init(shape: [Int], start: [Int], steps: [[Int]]) {
        (self.shape, self.start, self.steps) = (shape, start, steps)
    }

    /// The view of `base` (not recorded).
    func view(of base: Tensor) -> Tensor {
        var offset = base.offset
        for (axis, i) in start.enumerated() where i != 0 { offset += i * base.strides[axis] }
        let strides = steps.map { step in zip(step, base.strides).reduce(0) { $0 + $1.0 * $1.1 } }
        return Tensor(storage: base.storage, shape: shape, strides: strides, offset: offset)
    }
}

extension Tensor {
    /// The view of this tensor that `layout` describes, differentiable: the pullback writes the
    /// gradient into zeros of this tensor's shape at the view's positions (which must be
    /// distinct: no broadcast step).
    func viewed(_ name: String, as layout: ViewLayout) -> Tensor {
        let inputShape = shape
        return Tensor.op(name, inputs: [self], shape: layout.shape) { layout.view(of: self) } pullback: { g, _ in
            let dx = Tensor(zeros: inputShape)
            layout.view(of: dx).assign(g)
            return [dx]
        }
    }

    /// The elements that `items` select, as a view: one item per axis (fewer: the rest are
    /// `.all`), integers drop their axis, `.ellipsis` stands for the axes the others leave,
    /// `.newAxis` inserts one. PyTorch's basic indexing (see ``TensorIndex``).
    ///
    ///     h[.all, 0]                 // h[:, 0]        (N, L, D) → (N, D): a ViT's class token
    ///     x[0..<2, .all, -1]         // x[0:2, :, -1]  (N, L, D) → (2, L)
    ///     x[.ellipsis, .newAxis]     // x[..., None]   (N, L, D) → (N, L, D, 1)
    ///
    /// Setting writes `newValue`, broadcast to the selection's shape, into this tensor's elements
    /// in place (no autograd record), like `x[:, 0] = y`: refused while gradients are on for a
    /// tensor that requires them (wrap it in ``withoutGrad(_:)``, as for `+=`) and for a value
    /// that requires them (its gradient would be lost: pass `y.detached()`, or build the result
    /// with ops).
    ///
    /// An integer out of range, too many items, a second ellipsis or a step that is not positive
    /// stop with a message naming the subscript and the shape.
    public subscript(_ items: any TensorIndexConvertible...) -> Tensor {
        get { self[indices: items.map(\.tensorIndex)] }
        set { self[indices: items.map(\.tensorIndex)] = newValue }
    }

    /// ``subscript(_:)`` with the items as an array (for indices built by code).
    ///
    ///     x[indices: [.all] + [TensorIndex](repeating: 0, count: x.rank - 1)]
    public subscript(indices items: [TensorIndex]) -> Tensor {
        get { viewed("subscript", as: layout(indexedBy: items)) }
        set { assign(newValue, at: items) }
    }

    /// The layout of `self[items]`, stopping with the message of a bad index.
    private func layout(indexedBy items: [TensorIndex]) -> ViewLayout {
        switch Tensor.subscriptLayout(items, shape: shape) {
        case .success(let layout): return layout
        case .failure(let error): ShapeErrors.stop(error.message)
        }
    }

    /// Writes `value`, broadcast, into `self[items]` (the setter of ``subscript(indices:)``).
    private func assign(_ value: Tensor, at items: [TensorIndex]) {
        let name = "subscript \(Tensor.describe(items)) ="
        require(!requiresGrad || !GradMode.isEnabled,
                "\(name): in-place write into a tensor of shape \(shape) that requires gradients; wrap it in withoutGrad")
        require(!value.requiresGrad || !GradMode.isEnabled,
                "\(name): the value of shape \(value.shape) requires gradients, which an in-place write does not record; "
                    + "assign value.detached(), or build the result with ops (Tensor.concatenate, select(where:))")
        let window = layout(indexedBy: items).view(of: self)
        // Leading axes of size 1 beyond the selection's rank are dropped, as PyTorch does.
        var source = value
        while source.rank > window.rank, source.shape[0] == 1 { source = source.squeezed(axis: 0) }
        require(Shape.broadcast(source.shape, window.shape, op: name) == window.shape,
                "\(name): a value of shape \(value.shape) does not broadcast to the selection's shape \(window.shape) "
                    + "(tensor of shape \(shape))")
        withoutGrad {
            // A value that shares this tensor's storage is read in full before anything is written.
            let independent = source.storage === storage && !source.isMeta ? Elementwise.copy(source) : source
            window.assign(independent.expanded(to: window.shape))
        }
    }

    /// A bad subscript: the message names the subscript, the item at fault and the shape.
    struct SubscriptError: Error, Equatable {
        let message: String
    }

    /// `[item, …]` in Python's spelling, for messages.
    static func describe(_ items: [TensorIndex]) -> String {
        "[" + items.map(\.description).joined(separator: ", ") + "]"
    }

    /// The layout of `x[items]` for `x` of `shape`, or what is wrong with `items`: more items
    /// that take an axis than the tensor has axes, a second ellipsis, an integer out of range, a
    /// step that is not positive.
    static func subscriptLayout(_ items: [TensorIndex], shape: [Int]) -> Result<ViewLayout, SubscriptError> {
        let name = "subscript \(describe(items))"
        let rank = shape.count
        let taking = items.filter { item in
            switch item.kind { case .ellipsis, .newAxis: return false; default: return true }
        }.count
        let ellipses = items.filter { $0.kind == .ellipsis }.count
        guard ellipses <= 1 else { return .failure(SubscriptError(message: "\(name): more than one ellipsis")) }
        guard taking <= rank else {
            let count = taking == 1 ? "1 index" : "\(taking) indices"
            return .failure(SubscriptError(message: "\(name): \(count) for a tensor of rank \(rank) (shape \(shape))"))
        }
        // The ellipsis (or the end) stands for the axes the other items leave.
        var expanded: [TensorIndex.Kind] = []
        for item in items {
            if item.kind == .ellipsis {
                expanded += [TensorIndex.Kind](repeating: .all, count: rank - taking)
            } else {
                expanded.append(item.kind)
            }
        }
        if ellipses == 0 { expanded += [TensorIndex.Kind](repeating: .all, count: rank - taking) }

        var layout = ViewLayout(shape: [], start: [Int](repeating: 0, count: rank), steps: [])
        func keep(_ axis: Int?, size: Int, step: Int) {
            var vector = [Int](repeating: 0, count: rank)
            if let axis { vector[axis] = step }
            layout.shape.append(size)
            layout.steps.append(vector)
        }
        var axis = 0
        for kind in expanded {
            switch kind {
            case .newAxis:
                keep(nil, size: 1, step: 0)
                continue
            case .ellipsis:
                continue   // expanded above
            case .all:
                keep(axis, size: shape[axis], step: 1)
            case .single(let index):
                let n = shape[axis]
                let i = index < 0 ? index + n : index
                guard i >= 0 && i < n else {
                    return .failure(SubscriptError(message:
                        "\(name): index \(index) is out of range for axis \(axis) of size \(n) (tensor of shape \(shape))"))
                }
                layout.start[axis] = i
            case let .slice(start, end, step):
                guard step > 0 else {
                    return .failure(SubscriptError(message:
                        "\(name): step \(step) along axis \(axis) of shape \(shape) is not positive; PyTorch's indexing "
                            + "takes positive steps only (flipped(axes:) reverses an axis)"))
                }
                let n = shape[axis]
                func clamped(_ bound: Int?, _ otherwise: Int) -> Int {
                    guard let bound else { return otherwise }
                    return Swift.min(Swift.max(bound < 0 ? bound + n : bound, 0), n)
                }
                let first = clamped(start, 0), last = clamped(end, n)
                let length = last > first ? (last - first - 1) / step + 1 : 0
                layout.start[axis] = length > 0 ? first : 0
                keep(axis, size: length, step: step)
            }
            axis += 1
        }
        return .success(layout)
    }
}
