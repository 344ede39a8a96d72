import CVectorKernels

/// The C kernels of CVectorKernels (elementwise math, attention rows, packed products), compiled
/// for AVX-512 and AVX2/FMA and chosen at run time.
enum VectorKernels {
    /// The vector width the kernels use: 16 (AVX-512), 8 (AVX2 with FMA) or 0 (neither), at most
    /// ``widthLimit``.
    static var width: Int { Int(ds_vector_width()) }

    /// The widest vectors the kernels may use, for tests: 16 (the CPU's), 8 (AVX2 even where the
    /// CPU has AVX-512), 0 (none: the callers' portable paths). Weights packed before must be
    /// packed again (``PackedGemm/panelRows`` changes).
    nonisolated(unsafe) static var widthLimit = 16 {
        didSet { ds_limit_vector_width(Int32(widthLimit)) }
    }
}
