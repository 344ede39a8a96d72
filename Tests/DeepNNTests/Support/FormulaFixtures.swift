import Foundation
import DeepCore
import DeepNN

// Weights written by a formula instead of stored: Tests/Fixtures/make_iformer.py fills a PyTorch
// model's state dict with `fill_by_formula` and stores only its outputs; these helpers fill the
// library's model the same way, so whole models are compared against fixtures of a few KB.

/// 2·frac(43758.5453·sin(1.3·k + 0.37·i + 0.1)) − 1 for i < count (a hash spread evenly over
/// [−1, 1)), in Double then rounded to Float, as the script's `pattern(shape, k)`.
func formulaValues(count: Int, k: Int) -> [Float] {
    (0..<count).map { i in
        let h = 43758.5453 * sin(1.3 * Double(k) + 0.37 * Double(i) + 0.1)
        return Float(2 * (h - h.rounded(.down)) - 1)
    }
}

/// The script's `pattern(shape, k)` as a tensor.
func formulaTensor(_ shape: [Int], k: Int) -> Tensor {
    Tensor(formulaValues(count: shape.reduce(1, *), k: k), shape: shape)
}

/// The script's `key_index`: Σⱼ (j+1)·code(nameⱼ) mod 997.
func formulaKeyIndex(_ name: String) -> Int {
    name.unicodeScalars.enumerated().reduce(0) { $0 + ($1.offset + 1) * Int($1.element.value) } % 997
}

/// Loads `module`'s state dict filled as the script's `fill_by_formula`: by key, 1 + 0.3·v for
/// one-dimensional `…weight`s (norms' scales) and layer scales, 0.1·v for running means,
/// 0.75 + 0.25·v for running variances, 0.3·v for other parameters; counters kept.
func fillByFormula(_ module: Module) throws {
    var dict: [String: Tensor] = [:]
    for (name, t) in module.stateDict() {
        let v = formulaValues(count: t.count, k: formulaKeyIndex(name))
        let values: [Float]
        if name.hasSuffix("running_var") { values = v.map { 0.75 + 0.25 * $0 } }
        else if name.hasSuffix("running_mean") { values = v.map { 0.1 * $0 } }
        else if name.hasSuffix("num_batches_tracked") { continue }
        else if t.rank == 1 && (name.hasSuffix("weight") || name.split(separator: ".").last!.hasPrefix("layer_scale")) {
            values = v.map { 1 + 0.3 * $0 }
        }
        else { values = v.map { 0.3 * $0 } }
        dict[name] = Tensor(values, shape: t.shape)
    }
    _ = try module.loadStateDict(dict, strict: false)
}
