import Foundation
import DeepCore

/// A sparse mixture-of-experts layer (Shazeer et al. 2017; Switch Transformer; Mixtral): a
/// router sends each token to its `topK` experts and mixes their outputs with softmax gates.
///
/// For tokens x (T, D):
///
///     p = softmax(x·gateᵀ)                      // (T, E) router probabilities, bias-free router
///     chosen = the topK largest pᵢ per token    // ties → lower expert index
///     g = p[chosen] / Σ p[chosen]               // renormalised over the chosen (topK > 1);
///                                               // topK = 1 keeps g = p_e, as Switch does
///     y = Σ_chosen g_e·expert_e(x)
///
/// **Capacity.** With a `capacityFactor` each expert takes at most
/// ⌈capacityFactor·T·topK / E⌉ tokens per forward pass. Slots are granted in priority order,
/// every token's first choice in token order, then every second choice, …; a choice over
/// capacity is dropped (its term is 0, the remaining gates are not renormalised), so a token
/// whose every choice is dropped gets 0, and a residual around the layer carries it, as in Switch.
/// Without a capacity factor no token is dropped (Mixtral).
///
/// **Auxiliary losses**, recomputed by each forward pass for the training loop to add:
/// - ``auxiliaryLoss``: the Switch load-balancing loss E·Σₑ fₑ·Pₑ, with fₑ the fraction of
///   tokens that chose e (among their topK, before capacity) and Pₑ the mean router probability
///   of e. It is 1 for a uniform router with topK = 1 (topK in general, Mixtral's form); only Pₑ
///   carries gradient. Switch weights it by 0.01, HF by 0.001.
/// - ``routerZLoss``: mean over tokens of logsumexp(logits)² (ST-MoE).
///
///     let moe = MoE(dModel: 64, numExperts: 8, hidden: 128, topK: 2, capacityFactor: 1.25)
///     let y = moe(x)                                      // (B, L, 64) → (B, L, 64)
///     let loss = crossEntropy(head(y), labels) + 0.01 * moe.auxiliaryLoss
///
/// Children: `gate` (Linear D → E, no bias), `experts.0`, `experts.1`, … (replaceable by path).
/// Shape: (B, L, D) or (N, D) → the same shape. Experts map (n, D) → (n, D).
public final class MoE: Module, AuxiliaryLossProducing {
    /// The router, D → E without bias.
    public let gate: Linear
    /// The experts, each (n, D) → (n, D).
    public let experts: ModuleList
    /// Experts per token.
    public let topK: Int
    /// Expert capacity as a multiple of the even share T·topK/E, or nil for no limit.
    public let capacityFactor: Double?

    /// The Switch load-balancing loss E·Σₑ fₑ·Pₑ of the last forward pass (a scalar; shape-only
    /// after a summary, 0 before any forward). It holds that pass's graph until the next one.
    public var auxiliaryLoss: Tensor { losses.auxiliary }
    /// The router z-loss mean(logsumexp(logits)²) of the last forward pass (a scalar).
    public var routerZLoss: Tensor { losses.routerZ }
    /// The last pass's losses (a tuple, so that reflection does not take them for parameters).
    private var losses = (auxiliary: Tensor(scalar: 0), routerZ: Tensor(scalar: 0))
    /// Where the last forward pass sent each token (nil before any, and after a summary).
    public private(set) var routing: Routing?

    /// The routing decisions of one forward pass.
    public struct Routing {
        /// For each token, its topK experts, most probable first.
        public let experts: [[Int]]
        /// For each token and choice, whether the expert had room (false: dropped).
        public let kept: [[Bool]]
        /// Tokens each expert may take, or nil without a limit.
        public let capacity: Int?
        /// Number of experts E.
        public let expertCount: Int
        /// Tokens each expert processed (E counts).
        public var tokensPerExpert: [Int] {
            var counts = [Int](repeating: 0, count: expertCount)
            for (choices, keeps) in zip(experts, kept) {
                for (e, k) in zip(choices, keeps) where k { counts[e] += 1 }
            }
            return counts
        }
        /// Number of (token, choice) pairs dropped for lack of capacity.
        public var droppedCount: Int { kept.joined().filter { !$0 }.count }
    }

    /// Creates the layer over given experts.
    /// - Parameters:
    ///   - dModel: token width D.
    ///   - experts: E modules mapping (n, D) → (n, D).
    ///   - topK: experts per token, 1 (Switch) …E.
    ///   - capacityFactor: capacity as a multiple of the even share, or nil for none.
    public init(dModel: Int, experts: [Module], topK: Int = 2, capacityFactor: Double? = nil) {
        require(!experts.isEmpty && topK >= 1 && topK <= experts.count,
                "MoE: topK \(topK) should be in 1...\(experts.count) (the number of experts)")
        require(capacityFactor.map { $0 > 0 } ?? true, "MoE: capacity factor \(capacityFactor!) should be positive")
        gate = Linear(dModel, experts.count, bias: false)
        self.experts = ModuleList(experts)
        self.topK = topK
        self.capacityFactor = capacityFactor
        super.init()
    }

    /// Creates the layer with `numExperts` feed-forward experts Linear(D, hidden), GELU,
    /// Linear(hidden, D) (named `experts.i.0`, `experts.i.2`).
    public convenience init(dModel: Int, numExperts: Int, hidden: Int, topK: Int = 2, capacityFactor: Double? = nil) {
        let experts: [Module] = (0..<numExperts).map { _ in Sequential(Linear(dModel, hidden), GELU(), Linear(hidden, dModel)) }
        self.init(dModel: dModel, experts: experts, topK: topK, capacityFactor: capacityFactor)
    }

    /// Tokens each expert may take out of `tokens`, or nil without a limit.
    public func capacity(tokens: Int) -> Int? {
        capacityFactor.map { Int(($0 * Double(tokens * topK) / Double(experts.count)).rounded(.up)) }
    }

    /// (B, L, D) or (N, D) → the same shape; sets ``auxiliaryLoss``, ``routerZLoss`` and ``routing``.
    public override func forward(_ x: Tensor) -> Tensor {
        let d = gate.weight.shape[1], e = experts.count, k = topK
        guard shapeCheck((x.rank == 2 || x.rank == 3) && x.shape.last == d,
                         "MoE: input of shape \(x.shape), expected (B, L, \(d)) or (N, \(d))") else { return .shapeFailure }
        let tokens = x.reshaped([-1, d])
        let t = tokens.shape[0]
        let logits = gate(tokens)                                                  // (T, E)
        if ExportTrace.isRecording { return exportedForward(x, tokens: tokens, logits: logits) }
        losses.routerZ = logits.logSumExp(axes: [1]).square().mean()
        if x.isMeta { return shapeOnlyForward(x, tokens: t) }
        let probabilities = softmax(logits, axis: -1)                              // (T, E)
        let route = Self.route(probabilities.scalars, tokens: t, experts: e, topK: k, capacity: capacity(tokens: t))
        routing = route

        // Load balancing: f (constant) from the choices before capacity, P from the router.
        var fraction = [Float](repeating: 0, count: e)
        for choices in route.experts { for c in choices { fraction[c] += 1 / Float(t) } }
        losses.auxiliary = Float(e) * (probabilities.mean(axis: 0) * Tensor(fraction)).sum()

        let chosen = probabilities.gathered(axis: 1, indices: Tensor(route.experts.joined().map(Float.init), shape: [t, k]))
        let gates = (k > 1 ? chosen / chosen.sum(axis: 1, keepingDims: true) : chosen).reshaped([t * k])
        var pieces: [Tensor] = [], rows: [Int] = []
        for expert in 0..<e {
            var tokenRows: [Int] = [], slots: [Int] = []
            for j in 0..<k { for token in 0..<t where route.experts[token][j] == expert && route.kept[token][j] {
                tokenRows.append(token)
                slots.append(token * k + j)
            } }
            if tokenRows.isEmpty { continue }
            let output = experts[expert](tokens.indexSelected(axis: 0, indices: tokenRows))
            guard shapeCheck(output.shape == [tokenRows.count, d],
                             "MoE: expert \(expert) (\(experts[expert].typeName)) mapped \([tokenRows.count, d]) to \(output.shape)")
            else { return .shapeFailure }
            pieces.append(output * gates.indexSelected(axis: 0, indices: slots).unsqueezed(axis: 1))
            rows += tokenRows
        }
        let combined = pieces.isEmpty ? Tensor(zeros: [t, d]) : scatterAddRows(Tensor.concatenate(pieces, axis: 0), rows: rows, count: t)
        return combined.reshaped(x.shape)
    }

    /// The forward as ONNX export traces it (no losses, no routing record): every expert runs on
    /// every token and its output is weighted by a (T, E) matrix holding each token's gates at its
    /// top-k experts (TopK, ScatterElements) and zeros elsewhere, which gives the routed forward's
    /// numbers. A capacity limit has no such form: it is recorded as an op the export names.
    private func exportedForward(_ x: Tensor, tokens: Tensor, logits: Tensor) -> Tensor {
        if capacityFactor != nil { ExportTrace.recordUnsupported("MoE capacity limit") }
        let probabilities = softmax(logits, axis: -1)                              // (T, E)
        let (chosen, experts) = probabilities.topK(topK, along: 1)                // (T, k) each
        let gates = topK > 1 ? chosen / chosen.sum(axis: 1, keepingDims: true) : chosen
        let weights = (probabilities * 0).scattered(axis: 1, indices: experts, source: gates)
        var combined: Tensor? = nil
        for (e, expert) in self.experts.modules.enumerated() {
            let term = expert(tokens) * weights.narrowed(axis: 1, start: e, length: 1)
            combined = combined.map { $0 + term } ?? term
        }
        return combined!.reshaped(x.shape)
    }

    /// The shape-only pass of a summary: each expert runs on its even share of the tokens (at most
    /// its capacity), so the summary lists the experts and counts their FLOPs.
    private func shapeOnlyForward(_ x: Tensor, tokens t: Int) -> Tensor {
        let d = x.shape.last!
        let share = Swift.min(capacity(tokens: t) ?? t, (t * topK + experts.count - 1) / experts.count)
        for (i, expert) in experts.modules.enumerated() {
            let out = expert(Tensor(metaShape: [share, d]))
            guard shapeCheck(out.shape == [share, d], "MoE: expert \(i) (\(expert.typeName)) mapped \([share, d]) to \(out.shape)")
            else { return .shapeFailure }
        }
        losses.auxiliary = Tensor(metaShape: [])
        routing = nil
        return Tensor(metaShape: x.shape)
    }

    /// Top-k choices per token from row-major probabilities (T, E), and which fit in `capacity`
    /// granted by choice rank, then token order.
    static func route(_ p: [Float], tokens t: Int, experts e: Int, topK k: Int, capacity: Int?) -> Routing {
        let choices = (0..<t).map { token -> [Int] in
            Array((0..<e).sorted { a, b in
                let (pa, pb) = (p[token * e + a], p[token * e + b])
                return pa != pb ? pa > pb : a < b
            }.prefix(k))
        }
        var kept = [[Bool]](repeating: [Bool](repeating: true, count: k), count: t)
        if let capacity {
            var load = [Int](repeating: 0, count: e)
            for j in 0..<k {
                for token in 0..<t {
                    let expert = choices[token][j]
                    if load[expert] < capacity { load[expert] += 1 } else { kept[token][j] = false }
                }
            }
        }
        return Routing(experts: choices, kept: kept, capacity: capacity, expertCount: e)
    }
}

/// A module whose forward pass also produces a loss for the training loop to add (MoE's load
/// balancing); ``Module/totalAuxiliaryLoss()`` gathers them across a model.
public protocol AuxiliaryLossProducing: AnyObject {
    /// The auxiliary loss of the last forward pass (a scalar).
    var auxiliaryLoss: Tensor { get }
}

extension Module {
    /// The sum of the auxiliary losses of this module and its descendants from their last forward
    /// pass (a scalar that carries their gradients), or nil when none produced one. Add it, weighted,
    /// to the task loss: `loss + 0.01 * model.totalAuxiliaryLoss()!`. Shape-only losses left by a
    /// summary are skipped.
    public func totalAuxiliaryLoss() -> Tensor? {
        let losses = namedModules().compactMap { ($0.1 as? AuxiliaryLossProducing)?.auxiliaryLoss }.filter { !$0.isMeta }
        guard let first = losses.first else { return nil }
        return losses.dropFirst().reduce(first, +)
    }
}
