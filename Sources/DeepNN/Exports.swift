// DeepNN's users see DeepCore's tensors and functions (the ops, losses and fused kernels that
// modules call) with `import DeepNN` alone.
@_exported import DeepCore
