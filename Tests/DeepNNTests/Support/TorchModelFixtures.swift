import XCTest
import Foundation
import DeepCore
import DeepNN

/// Comparisons of whole models with PyTorch fixtures written by `Tests/Fixtures/make_resnet.py`
/// and `make_unet.py`: state-dict layouts, and logits/gradients/running statistics.
enum TorchModelFixtures {
    /// A PyTorch model's state-dict layout: `[[key, shape], …]` in PyTorch's order, and more.
    struct Layout: Decodable {
        private let state_dict: [[Entry]]
        /// PyTorch's `named_parameters()` names, when recorded.
        let parameters: [String]?
        /// PyTorch's `named_buffers()` names, when recorded.
        let buffers: [String]?
        /// Number of parameter elements.
        let parameter_count: Int
        /// FLOPs of a forward pass at 1×3×224×224 (`torch.utils.flop_counter`), when recorded.
        let flops_1x3x224x224: Int?

        private enum Entry: Decodable {
            case name(String), shape([Int])
            init(from decoder: Decoder) throws {
                let c = try decoder.singleValueContainer()
                if let s = try? c.decode(String.self) { self = .name(s) } else { self = .shape(try c.decode([Int].self)) }
            }
        }

        /// (key, shape) pairs in PyTorch's state-dict order.
        var stateDict: [(key: String, shape: [Int])] {
            state_dict.map { pair in
                guard case .name(let k) = pair[0], case .shape(let s) = pair[1] else { fatalError("malformed layout entry") }
                return (k, s)
            }
        }
    }

    /// The layouts in `Tests/Fixtures/<file>`, by model name.
    static func layouts(_ file: String) throws -> [String: Layout] {
        try JSONDecoder().decode([String: Layout].self, from: Data(contentsOf: fixtureURL(file)))
    }

    /// `model`'s state-dict entries in PyTorch's order: module by module, its parameters then its buffers.
    static func moduleOrderedState(_ model: Module) -> [(key: String, shape: [Int])] {
        model.namedModules().flatMap { path, module in
            (module.namedLocalParameters() + module.namedLocalBuffers()).map { name, t in
                (path.isEmpty ? name : path + "." + name, t.shape)
            }
        }
    }

    /// Fails unless `model`'s state dict has PyTorch's keys, order, shapes and parameter count.
    static func assertLayout(_ model: Module, matches torch: Layout, _ name: String,
                             file: StaticString = #filePath, line: UInt = #line) {
        let ours = moduleOrderedState(model), theirs = torch.stateDict
        XCTAssertEqual(ours.map(\.key), theirs.map(\.key), "\(name) state-dict keys", file: file, line: line)
        XCTAssertEqual(ours.map(\.shape), theirs.map(\.shape), "\(name) state-dict shapes", file: file, line: line)
        let dict = model.stateDict()
        XCTAssertEqual(dict.count, theirs.count, name, file: file, line: line)
        for (key, shape) in theirs { XCTAssertEqual(dict[key]?.shape, shape, "\(name) \(key)", file: file, line: line) }
        if let parameters = torch.parameters {
            XCTAssertEqual(model.namedParameters().map(\.0), parameters, "\(name) parameter order", file: file, line: line)
        }
        if let buffers = torch.buffers {
            XCTAssertEqual(model.namedBuffers().map(\.0), buffers, "\(name) buffer order", file: file, line: line)
        }
        XCTAssertEqual(model.parameterCount, torch.parameter_count, "\(name) parameter count", file: file, line: line)
    }

    /// Loads `<fixture>.safetensors` into `model` strictly, then, in eval and then train mode,
    /// runs the fixture's input, takes `crossEntropy(logits, labels)` and compares logits and the
    /// recorded gradients (`<mode>.grad.input`, `<mode>.grad.<parameter>`) with PyTorch's, and
    /// finally the running statistics after the train-mode pass (`train.after.<buffer>`), all
    /// within 1e-4 relative. Returns how many tensors were compared.
    @discardableResult
    static func assertMatchesTorch(_ model: Module, fixture: String, file: StaticString = #filePath, line: UInt = #line) throws -> Int {
        try model.load(from: fixtureURL(fixture + ".safetensors"), strict: true)
        let io = try Safetensors.read(from: fixtureURL(fixture + "_io.safetensors"))
        let input = try XCTUnwrap(io["input"]), labels = try XCTUnwrap(io["labels"]).scalars.map { Int($0) }
        let parameters = Dictionary(uniqueKeysWithValues: model.namedParameters())
        var compared = 0
        for mode in ["eval", "train"] {
            model.train(mode == "train")
            for p in model.parameters { p.grad = nil }
            let x = input.copied()
            x.requiresGrad = true
            let logits = model(x)
            crossEntropy(logits, labels).backward()
            assertCloseRelative(logits, try XCTUnwrap(io["\(mode).logits"]), "\(fixture) \(mode) logits", file: file, line: line)
            compared += 1
            for (key, expected) in io where key.hasPrefix("\(mode).grad.") {
                let target = String(key.dropFirst("\(mode).grad.".count))
                let actual = target == "input" ? x.grad : parameters[target]?.grad
                assertCloseRelative(try XCTUnwrap(actual, key, file: file, line: line), expected, "\(fixture) \(key)", file: file, line: line)
                compared += 1
            }
        }
        let buffers = Dictionary(uniqueKeysWithValues: model.namedBuffers())
        for (key, expected) in io where key.hasPrefix("train.after.") {
            let buffer = try XCTUnwrap(buffers[String(key.dropFirst("train.after.".count))], key, file: file, line: line)
            assertCloseRelative(buffer, expected, "\(fixture) \(key)", file: file, line: line)
            compared += 1
        }
        return compared
    }

    /// Close within 1e-4 relative, elementwise or to the tensor's largest magnitude (gradients
    /// have elements near zero whose own relative error means nothing).
    static func assertCloseRelative(_ actual: Tensor, _ expected: Tensor, _ message: String,
                                    file: StaticString = #filePath, line: UInt = #line) {
        let scale = expected.scalars.map(abs).max() ?? 0
        assertClose(actual, expected, atol: 1e-4 * scale, rtol: 1e-4, message, file: file, line: line)
    }
}
