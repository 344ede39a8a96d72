// Dropout: a random mask of kept elements, scaled so that the expectation is unchanged.

/// `F.dropout` in training mode: each element kept with probability 1 − p and scaled by
/// 1/(1 − p), the rest zeroed; the pullback multiplies by the same mask. The mask is drawn from
/// `generator`, one uniform number per element in row-major order.
///
///     dropout(x, p: 0.1, generator: &DefaultRandom.generator)   // any shape → same
///
/// - Parameters:
///   - x: any shape.
///   - p: the probability of zeroing an element, in [0, 1).
/// - Returns: `x`'s shape.
public func dropout(_ x: Tensor, p: Float, generator: inout RandomGenerator) -> Tensor {
    let scale = 1 / (1 - p)
    return Tensor.op("dropout", inputs: [x], shape: x.shape) {
        let mask = Tensor.make(shape: x.shape) { m in
            for i in m.indices { m[i] = generator.nextUniform() >= p ? scale : 0 }
        }
        return (x * mask, mask)
    } pullback: { g, _, mask in [g * mask] }
}
