import DeepCore

/// The Mamba block (mamba-ssm's `mamba_simple.Mamba`): input projection to x and a gate z,
/// causal depthwise convolution and SiLU on x, input-dependent Δ, B, C from x, the selective
/// scan gated by z, output projection.
///
/// Parameters, named as in mamba-ssm (D = dInner = expand·dModel, N = dState, R = dtRank):
/// `in_proj.weight` (2D, dModel), `conv1d.weight` (D, 1, dConv), `conv1d.bias` (D),
/// `x_proj.weight` (R + 2N, D), `dt_proj.weight` (D, R), `dt_proj.bias` (D), `A_log` (D, N),
/// `D` (D), `out_proj.weight` (dModel, D) (plus `in_proj.bias`, `out_proj.bias` with `bias`).
///
/// Initialisation as mamba-ssm: Linear and Conv1d layers PyTorch's default; `dt_proj.weight`
/// uniform in ±R^−½·dtScale; `dt_proj.bias` the inverse softplus of dt = exp(U(ln dtMin, ln dtMax))
/// floored at dtInitFloor; `A_log[d, n] = ln(n + 1)` (S4D-real, A = −[1 … N]); `D = 1`.
///
/// Shape: (B, L, dModel) → (B, L, dModel). ``step(_:cache:)`` decodes one token at a time with a
/// cached convolution window and state, giving the same outputs as the full sequence.
public final class Mamba: Module {
    /// (D, N), key `A_log`: A = −exp(A_log).
    @Parameter public var aLog: Tensor
    /// (D), key `D`: the skip connection D·u of the scan.
    @Parameter public var skip: Tensor
    /// dModel → 2D (x and the gate z).
    public let inProj: Linear
    /// Causal depthwise convolution over x, SiLU fused.
    public let conv1d: CausalDepthwiseConv1d
    /// D → R + 2N: [dt | B | C] per token.
    public let xProj: Linear
    /// R → D: Δ before softplus; its bias is the scan's delta bias.
    public let dtProj: Linear
    /// D → dModel.
    public let outProj: Linear
    /// dModel, N, dConv, D, R.
    public let dModel: Int, dState: Int, dConv: Int, dInner: Int, dtRank: Int

    /// Creates the block with mamba-ssm's defaults; `dtRank` nil means ⌈dModel/16⌉.
    public init(dModel: Int, dState: Int = 16, dConv: Int = 4, expand: Int = 2, dtRank: Int? = nil,
                dtMin: Float = 1e-3, dtMax: Float = 0.1, dtInitFloor: Float = 1e-4, dtScale: Float = 1,
                convBias: Bool = true, bias: Bool = false) {
        let dInner = expand * dModel, rank = dtRank ?? (dModel + 15) / 16
        (self.dModel, self.dState, self.dConv, self.dInner, self.dtRank) = (dModel, dState, dConv, dInner, rank)
        inProj = Linear(dModel, 2 * dInner, bias: bias)
        conv1d = CausalDepthwiseConv1d(channels: dInner, kernelSize: dConv, bias: convBias, activation: .silu)
        xProj = Linear(dInner, rank + 2 * dState, bias: false)
        dtProj = Linear(rank, dInner, bias: true)
        outProj = Linear(dInner, dModel, bias: bias)
        _aLog = Parameter(wrappedValue: Tensor.make(shape: [dInner, dState]) { out in
            for d in 0..<dInner { for n in 0..<dState { out[d * dState + n] = Float(Double(n + 1).logarithm) } }
        }, key: "A_log")
        _skip = Parameter(wrappedValue: Tensor(ones: [dInner]), key: "D")
        super.init()
        initializeTimeStep(dtMin: dtMin, dtMax: dtMax, floor: dtInitFloor, scale: dtScale, generator: &DefaultRandom.generator)
    }

    /// Draws `dt_proj` as mamba-ssm's `dt_init="random"`.
    private func initializeTimeStep(dtMin: Float, dtMax: Float, floor: Float, scale: Float, generator: inout RandomGenerator) {
        let bound = scale / Float(dtRank).squareRoot()
        dtProj.weight.assign(Tensor.rand(dtProj.weight.shape, low: -bound, high: bound, generator: &generator))
        let (lo, hi) = (Double(dtMin).logarithm, Double(dtMax).logarithm)
        let biasValues = (0..<dInner).map { _ -> Float in
            let dt = Swift.max((Double(generator.nextUniform()) * (hi - lo) + lo).exponential, Double(floor))
            return Float(inverseSoftplus(dt))
        }
        dtProj.bias!.assign(Tensor(biasValues))
    }

    /// (B, L, dModel) → (B, L, dModel).
    public override func forward(_ x: Tensor) -> Tensor {
        run(x).output
    }

    /// The full-sequence forward that also fills `cache` for decoding the tokens after `x`
    /// (mamba-ssm's prefill): the last dConv inputs of the convolution and the last state.
    public func callAsFunction(_ x: Tensor, cache: inout MambaInferenceCache) -> Tensor {
        traced(inputs: [x]) {
            let (output, state, convInput) = run(x)
            guard !output.isMeta else { return output }
            let length = convInput.shape[2], kept = Swift.min(length, dConv)
            withoutGrad {
                let window = Tensor(zeros: [convInput.shape[0], dInner, dConv])
                window.narrowed(axis: 2, start: dConv - kept, length: kept)
                    .assign(convInput.narrowed(axis: 2, start: length - kept, length: kept))
                cache = MambaInferenceCache(convState: window, ssmState: state.contiguous())
            }
            return output
        }
    }

    /// The forward, returning the output, the last state (B, D, N) and the convolution's input x (B, D, L).
    private func run(_ hs: Tensor) -> (output: Tensor, state: Tensor, convInput: Tensor) {
        guard shapeCheck(hs.rank == 3 && hs.shape[2] == dModel, "Mamba: input \(hs.shape) is not (B, L, \(dModel))")
        else { return (.shapeFailure, .shapeFailure, .shapeFailure) }
        let xz = inProj(hs)                                                    // (B, L, 2D)
        let x = xz.narrowed(axis: 2, start: 0, length: dInner).transposed(1, 2)  // (B, D, L)
        let z = xz.narrowed(axis: 2, start: dInner, length: dInner).transposed(1, 2)
        let u = conv1d(x)                                                      // silu(conv(x))
        let xDbl = xProj(u.transposed(1, 2))                                   // (B, L, R + 2N)
        let dt = xDbl.narrowed(axis: 2, start: 0, length: dtRank)
        let B = xDbl.narrowed(axis: 2, start: dtRank, length: dState).transposed(1, 2)            // (B, N, L)
        let C = xDbl.narrowed(axis: 2, start: dtRank + dState, length: dState).transposed(1, 2)
        let delta = matmul(dt, dtProj.weight.mT).transposed(1, 2)             // (B, D, L), bias in the scan
        let (y, state) = selectiveScanWithState(u, delta, -aLog.exp(), B, C, skip, z: z, deltaBias: dtProj.bias,
                                                deltaSoftplus: true)
        return (outProj(y.transposed(1, 2)), state, x)
    }

    /// An empty cache (zero convolution window and state) for decoding a batch of `batchSize`.
    public func makeCache(batchSize: Int) -> MambaInferenceCache {
        MambaInferenceCache(convState: Tensor(zeros: [batchSize, dInner, dConv]),
                            ssmState: Tensor(zeros: [batchSize, dInner, dState]))
    }

    /// Decodes one token per sequence: (B, dModel) → (B, dModel), advancing `cache` (mamba-ssm's
    /// `step`). Running a sequence through `step` token by token, from an empty cache, gives the
    /// full forward's outputs. Inference only: nothing is recorded for gradients.
    public func step(_ x: Tensor, cache: inout MambaInferenceCache) -> Tensor {
        let batch = x.shape.first ?? 0
        guard shapeCheck(x.rank == 2 && x.shape[1] == dModel, "Mamba.step: input \(x.shape) is not (B, \(dModel))"),
              shapeCheck(cache.convState.shape == [batch, dInner, dConv] && cache.ssmState.shape == [batch, dInner, dState],
                         "Mamba.step: cache of shapes \(cache.convState.shape), \(cache.ssmState.shape) for a batch of \(batch)")
        else { return .shapeFailure }
        return withoutGrad {
            let xz = inProj(x)                                                 // (B, 2D)
            let xs = xz.narrowed(axis: 1, start: 0, length: dInner)
            let z = xz.narrowed(axis: 1, start: dInner, length: dInner)
            let u = conv1d.step(xs, window: cache.convState)                   // silu(conv(x)), the window advanced
            let xDbl = xProj(u)                                                // (B, R + 2N)
            let B = xDbl.narrowed(axis: 1, start: dtRank, length: dState)
            let C = xDbl.narrowed(axis: 1, start: dtRank + dState, length: dState)
            let dt = matmul(xDbl.narrowed(axis: 1, start: 0, length: dtRank), dtProj.weight.mT)
            let y = selectiveScanStep(cache.ssmState, u, dt, -aLog.exp(), B, C, skip, z: z, deltaBias: dtProj.bias,
                                      deltaSoftplus: true)
            return outProj(y)
        }
    }
}

/// A residual Mamba layer, x + Mamba(norm(x)), named as mamba-ssm's `Block`: `norm` and `mixer`.
///
/// Shape: (B, L, dModel) → (B, L, dModel).
public final class MambaBlock: Module {
    /// The normalisation before the mixer.
    public enum Norm {
        /// `RMSNorm(dModel, eps: 1e-5)` (mamba-ssm's default with `rms_norm=True`).
        case rmsNorm
        /// `LayerNorm(dModel, eps: 1e-5)`.
        case layerNorm
    }

    /// RMSNorm or LayerNorm over dModel.
    public let norm: Module
    /// The Mamba block.
    public let mixer: Mamba

    /// Creates the layer; the Mamba options are ``Mamba``'s.
    public init(dModel: Int, norm: Norm = .rmsNorm, dState: Int = 16, dConv: Int = 4, expand: Int = 2) {
        self.norm = norm == .rmsNorm ? RMSNorm(dModel, eps: 1e-5) : LayerNorm(dModel, eps: 1e-5)
        mixer = Mamba(dModel: dModel, dState: dState, dConv: dConv, expand: expand)
        super.init()
    }

    /// (B, L, dModel) → (B, L, dModel).
    public override func forward(_ x: Tensor) -> Tensor {
        x + mixer(norm(x))
    }

    /// One decoding step, (B, dModel) → (B, dModel); see ``Mamba/step(_:cache:)``.
    public func step(_ x: Tensor, cache: inout MambaInferenceCache) -> Tensor {
        withoutGrad { x + mixer.step(norm(x), cache: &cache) }
    }
}

/// The decoding state of a ``Mamba`` block (mamba-ssm's `inference_params` entry).
public struct MambaInferenceCache {
    /// (B, D, dConv): the last dConv inputs of the convolution, oldest first.
    public var convState: Tensor
    /// (B, D, N): the scan's state.
    public var ssmState: Tensor

    /// A cache holding `convState` and `ssmState` (contiguous; updated in place by `step`).
    public init(convState: Tensor, ssmState: Tensor) {
        require(convState.isContiguous && ssmState.isContiguous, "MambaInferenceCache: states must be contiguous")
        self.convState = convState
        self.ssmState = ssmState
    }
}

/// softplus⁻¹(y) = y + log(−expm1(−y)) (mamba-ssm's dt bias initialisation).
func inverseSoftplus(_ y: Double) -> Double {
    y + (-(-y).exponentialMinusOne).logarithm
}

private extension Double {
    var logarithm: Double { _log(self) }
    var exponential: Double { _exp(self) }
    var exponentialMinusOne: Double { _expm1(self) }
}

#if canImport(Glibc)
import Glibc
private func _log(_ x: Double) -> Double { Glibc.log(x) }
private func _exp(_ x: Double) -> Double { Glibc.exp(x) }
private func _expm1(_ x: Double) -> Double { Glibc.expm1(x) }
#endif
