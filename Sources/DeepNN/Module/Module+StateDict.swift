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

    /// Keys listed in ``description`` per list; the lists themselves keep them all.
    static let keysShown = 12

    public var description: String {
        var lines = ["error(s) in loading state dict" + (source.map { " from \($0)" } ?? "") + ":"]
        if matchedNothing {
            lines.append("  none of the weights' \(unexpectedKeys.count) keys is one of the module's \(missingKeys.count): "
                + "they are the weights of another model")
        }
        if !missingKeys.isEmpty { lines.append("  missing keys: " + Self.listed(missingKeys)) }
        if !unexpectedKeys.isEmpty { lines.append("  unexpected keys: " + Self.listed(unexpectedKeys)) }
        for m in shapeMismatches {
            lines.append("  size mismatch for \(m.key): the module has shape \(m.expected), the weights have \(m.found)")
        }
        return lines.joined(separator: "\n")
    }

    /// Whether the module and the weights share no key at all (set by the loader).
    var matchedNothing = false

    private static func listed(_ keys: [String]) -> String {
        guard keys.count > keysShown else { return keys.joined(separator: ", ") }
        return keys.prefix(keysShown).joined(separator: ", ") + ", … and \(keys.count - keysShown) more"
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
        error.matchedNothing = !own.isEmpty && !dict.isEmpty && error.missingKeys.count == own.count && error.unexpectedKeys.count == dict.count
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
