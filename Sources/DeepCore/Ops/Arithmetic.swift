// Elementwise arithmetic with NumPy broadcasting. Broadcasting is done once, by `expanded(to:)`,
// whose pullback sums the gradient back; so each pullback here deals with equal shapes only.

extension Tensor {
    /// Expands `a` and `b` to their common broadcast shape; on a recorded shape failure (during
    /// a shape-only run) two shape-only scalars.
    public static func broadcastPair(_ a: Tensor, _ b: Tensor, op: String) -> (Tensor, Tensor) {
        if a.shape == b.shape { return (a, b) }
        guard let shape = Shape.broadcast(a.shape, b.shape, op: op) else { return (.shapeFailure, .shapeFailure) }
        return (a.expanded(to: shape), b.expanded(to: shape))
    }

    /// Elementwise sum with broadcasting.
    public static func + (lhs: Tensor, rhs: Tensor) -> Tensor {
        let (a, b) = broadcastPair(lhs, rhs, op: "+")
        return Tensor.op("add", inputs: [a, b], shape: a.shape, export: OpExport("Add")) {
            Elementwise.zip(a, b, +, vector: { $0 + $1 })
        } pullback: { g, _ in [g, g] }
    }

    /// Elementwise difference with broadcasting.
    public static func - (lhs: Tensor, rhs: Tensor) -> Tensor {
        let (a, b) = broadcastPair(lhs, rhs, op: "-")
        return Tensor.op("sub", inputs: [a, b], shape: a.shape, export: OpExport("Sub")) {
            Elementwise.zip(a, b, -, vector: { $0 - $1 })
        } pullback: { g, _ in [g, -g] }
    }

    /// Elementwise product with broadcasting.
    public static func * (lhs: Tensor, rhs: Tensor) -> Tensor {
        let (a, b) = broadcastPair(lhs, rhs, op: "*")
        let (da, db) = (a.detached(), b.detached())
        return Tensor.op("mul", inputs: [a, b], shape: a.shape, export: OpExport("Mul")) {
            Elementwise.zip(a, b, *, vector: { $0 * $1 })
        } pullback: { g, _ in
            [a.requiresGrad ? g * db : nil, b.requiresGrad ? g * da : nil]
        }
    }

    /// Elementwise quotient with broadcasting.
    public static func / (lhs: Tensor, rhs: Tensor) -> Tensor {
        let (a, b) = broadcastPair(lhs, rhs, op: "/")
        let (da, db) = (a.detached(), b.detached())
        return Tensor.op("div", inputs: [a, b], shape: a.shape, export: OpExport("Div")) {
            Elementwise.zip(a, b, /, vector: { $0 / $1 })
        } pullback: { g, _ in
            [a.requiresGrad ? g / db : nil,
             b.requiresGrad ? Elementwise.zip3(g, da, db) { g, x, y in -g * x / (y * y) } : nil]
        }
    }

    /// Elementwise negation.
    public static prefix func - (x: Tensor) -> Tensor {
        Tensor.op("neg", inputs: [x], shape: x.shape, export: OpExport("Neg")) { Elementwise.map(x) { -$0 } } pullback: { g, _ in [-g] }
    }

    /// Adds a scalar to every element.
    public static func + (lhs: Tensor, rhs: Float) -> Tensor {
        Tensor.op("add_scalar", inputs: [lhs], shape: lhs.shape, export: OpExport("Add", inputs: [.input(0), .scalar(rhs)])) { Elementwise.map(lhs) { $0 + rhs } } pullback: { g, _ in [g] }
    }
    /// Adds a scalar to every element.
    public static func + (lhs: Float, rhs: Tensor) -> Tensor { rhs + lhs }
    /// Subtracts a scalar from every element.
    public static func - (lhs: Tensor, rhs: Float) -> Tensor { lhs + (-rhs) }
    /// Subtracts every element from a scalar.
    public static func - (lhs: Float, rhs: Tensor) -> Tensor { -rhs + lhs }

    /// Multiplies every element by a scalar.
    public static func * (lhs: Tensor, rhs: Float) -> Tensor {
        Tensor.op("mul_scalar", inputs: [lhs], shape: lhs.shape, export: OpExport("Mul", inputs: [.input(0), .scalar(rhs)])) { Elementwise.map(lhs) { $0 * rhs } } pullback: { g, _ in [g * rhs] }
    }
    /// Multiplies every element by a scalar.
    public static func * (lhs: Float, rhs: Tensor) -> Tensor { rhs * lhs }
    /// Divides every element by a scalar.
    public static func / (lhs: Tensor, rhs: Float) -> Tensor { lhs * (1 / rhs) }
    /// Divides a scalar by every element.
    public static func / (lhs: Float, rhs: Tensor) -> Tensor {
        let x = rhs.detached()
        return Tensor.op("rdiv_scalar", inputs: [rhs], shape: rhs.shape, export: OpExport("Div", inputs: [.scalar(lhs), .input(0)])) { Elementwise.map(rhs) { lhs / $0 } } pullback: { g, _ in
            [Elementwise.zip(g, x) { g, x in -g * lhs / (x * x) }]
        }
    }

    /// Adds `other` into this tensor's elements in place, without recording (for optimisers).
    public static func += (lhs: Tensor, rhs: Tensor) {
        require(!lhs.requiresGrad || !GradMode.isEnabled,
                "+=: in-place update of a tensor that requires gradients; wrap it in withoutGrad")
        let r = rhs.expanded(to: lhs.shape)
        let dst = lhs.storage.pointer, src = r.storage.pointer
        StridedLoop.forEachRow(shape: lhs.shape, strides: [lhs.strides, r.strides], offsets: [lhs.offset, r.offset]) { n, off, rs in
            let d = dst + off[0], s = src + off[1], td = rs[0], ts = rs[1]
            for i in 0..<n { d[i * td] += s[i * ts] }
        }
    }
}
