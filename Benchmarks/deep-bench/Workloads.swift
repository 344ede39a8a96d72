import CBLAS
import DeepCore

/// The workloads of `../shared/bench/README.md` that this build implements.
enum Workloads {
    static let all: [Workload] = [gemm1024, conv3x3Forward, conv3x3ForwardBackward, mlpStep, fmnistCNNStep,
                                  attentionFwdBwd, vitStep, attention2048Memory, resnet18Step, selectiveScanFwdBwd,
                                  imageFolderEpoch, miniLMEncode, resnet18InferB1, resnet18InferB32, vitInferB32, conv3dForwardBackward,
                                  mainJobStep]

    /// C = A·B, all 1024×1024: through `matmul` (single-threaded OpenBLAS calls on strips split
    /// among the library's threads), and through one `cblas_sgemm` call with OpenBLAS's own
    /// threads for the overhead comparison. Timed one after the other, not in alternation:
    /// OpenBLAS's workers spin for a while after each call and would slow whatever runs next.
    static let gemm1024 = Workload(name: "gemm_1024") { timing in
        let n = 1024
        var rng = RandomGenerator(seed: 0)
        let a = Tensor.randn([n, n], generator: &rng), b = Tensor.randn([n, n], generator: &rng)
        let direct = Tensor(zeros: [n, n])
        func callBLAS() {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(n), Int32(n), 1,
                        a.storage.pointer, Int32(n), b.storage.pointer, Int32(n), 0, direct.storage.pointer, Int32(n))
        }
        let ours = timing.medianMilliseconds { _ = matmul(a, b) }
        openblas_set_num_threads(Int32(Gemm.threadCount))
        callBLAS()
        try validate("gemm_1024", matmul(a, b).scalars, direct.scalars)
        let blas = timing.medianMilliseconds(callBLAS)
        openblas_set_num_threads(1)
        Gemm.stopOpenBLASWorkers()
        let flops = 2.0 * Double(n * n * n)
        return [
            resultLine("gemm_1024", ms: ours, extra: ["gflops": flops / ours / 1e6, "ratio_to_cblas": ours / blas]),
            resultLine("gemm_1024", ms: blas, impl: "cblas_sgemm", extra: ["gflops": flops / blas / 1e6]),
        ]
    }
}
