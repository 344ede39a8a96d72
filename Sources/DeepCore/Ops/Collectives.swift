extension Tensor {
    /// The elementwise sum of this tensor over the ranks of `group`, differentiable: the
    /// gradient of each rank's input is the sum over the ranks of the result's gradients (each
    /// rank's loss depends on every rank's input). What a statistic over the whole distributed
    /// batch is built from (``SyncBatchNorm``'s means and variances). Every rank must call it at
    /// the same point, with the same shape. Shape: (*) → same.
    public func summed(over group: ProcessGroup) -> Tensor {
        Tensor.op("all_reduce", inputs: [self], shape: shape) {
            let total = self.copied()
            group.allReduce(total)
            return total
        } pullback: { g, _ in
            let total = g.copied()
            group.allReduce(total)
            return [total]
        }
    }
}
