import DeepCore
import Foundation

/// What was wrong when loading weights into a module: every missing, unexpected and wrongly
/// shaped key at once.
public struct StateDictError: Error, CustomStringConvertible {
    /// Keys the module has that the weights lack.
    public var missingKeys: [String] = []
    /// Keys in the weights that the module does not have.
    public var unexpectedKeys: [String] = []
    /// Keys whose shapes differ: (key, the module's shape, the weights' shape).
    public var shapeMismatches: [(key: String, expected: [Int], found: [Int])] = []
    /// Where the weights came from, when they came from a file.
    public var source: String?

    var isEmpty: Bool { missingKeys.isEmpty && unexpectedKeys.isEmpty && shapeMismatches.isEmpty }

    public var description: String {
        var lines = ["error(s) in loading state dict" + (source.map { " from \($0)" } ?? "") + ":"]
        if !missingKeys.isEmpty { lines.append("  missing keys: " + missingKeys.joined(separator: ", ")) }
        if !unexpectedKeys.isEmpty { lines.append("  unexpected keys: " + unexpectedKeys.joined(separator: ", ")) }
        for m in shapeMismatches {
            lines.append("  size mismatch for \(m.key): the module has shape \(m.expected), the weights have \(m.found)")
        }
        return lines.joined(separator: "\n")
    }
}

extension Module {
    /// Parameters and buffers by dotted name, as views sharing this module's storage (detached).
    public func stateDict() -> [String: Tensor] {
        var dict: [String: Tensor] = [:]
        for (name, t) in namedParameters() + namedBuffers() { dict[name] = t.detached() }
        return dict
    }

    /// The state-dict keys in module order (parameters and buffers, as PyTorch orders them per module).
    public var stateDictKeys: [String] {
        collect { $0.namedLocalParameters() + $0.namedLocalBuffers() }.map(\.0)
    }

    /// Copies `dict`'s values into this module's parameters and buffers, in place (optimisers
    /// keep their references).
    ///
    /// - Parameter strict: when true, missing and unexpected keys are errors; wrongly shaped
    ///   values are errors in either mode. All problems are reported together, and on any error
    ///   the module is left unchanged.
    /// - Returns: with `strict` false, the keys that were missing and unexpected.
    @discardableResult
    public func loadStateDict(_ dict: [String: Tensor], strict: Bool = true) throws -> (missing: [String], unexpected: [String]) {
        let own = namedParameters() + namedBuffers()
        var error = StateDictError()
        let ownKeys = Set(own.map(\.0))
        error.missingKeys = own.map(\.0).filter { dict[$0] == nil }
        error.unexpectedKeys = dict.keys.filter { !ownKeys.contains($0) }.sorted()
        for (name, tensor) in own {
            if let value = dict[name], value.shape != tensor.shape {
                error.shapeMismatches.append((name, tensor.shape, value.shape))
            }
        }
        if !error.shapeMismatches.isEmpty || (strict && !error.isEmpty) { throw error }
        withoutGrad {
            for (name, tensor) in own {
                if let value = dict[name] { tensor.assign(value) }
            }
        }
        return (error.missingKeys, error.unexpectedKeys)
    }
}
