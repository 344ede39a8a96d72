/// Counts the floating-point operations of products (matmul, convolution) that shape-only
/// tensors pass through: a multiply-add counts as 2. Model summaries read it; it is only
/// advanced for shape-only (meta) tensors, so ordinary computation pays nothing.
///
/// Not thread-safe: run one summary at a time.
public enum FlopCounter {
    /// Operations counted so far.
    nonisolated(unsafe) public static var total: Int = 0

    /// Adds `count` operations.
    @inline(__always)
    public static func add(_ count: Int) { total &+= count }
}
