import DeepCore

extension SelectiveScanKernels {
    /// Whether this CPU runs the scan's C kernels (AVX2 or AVX-512), whatever
    /// ``usesVectorExtensions`` is set to. Without them, the block and C row paths are the
    /// portable loops: tests comparing them skip rather than compare the portable loops with
    /// themselves.
    static var cpuHasVectorExtensions: Bool {
        let saved = usesVectorExtensions
        defer { usesVectorExtensions = saved }
        usesVectorExtensions = true
        return vectorExtensionWidth(Problem(batch: 1, channels: 1, length: 1, stateSize: 8, bGroups: nil, cGroups: nil,
                                            deltaSoftplus: false)) > 0
    }
}
