import XCTest
import DeepCore
import DeepNN

// Helpers shared by the stitching-block tests: loading a module's weights from a fixture written
// by Tests/Fixtures/make_blocks.py, comparing a forward and backward with PyTorch's, and training
// a stitched model for a few steps.

/// Loads `module`'s parameters and buffers from the fixture's state under `<prefix>.`, strictly:
/// every module key must be in the fixture and every fixture state key must belong to the module.
/// The fixture's state is every key under the prefix except inputs `x…`, outputs `y…`, output
/// gradients `gy…`, gradients `grad.…`, buffers after a step `after.…` and the `records` named
/// (other values the script stored).
func loadFixtureState(_ module: Module, _ fixture: [String: Tensor], prefix: String, records: Set<String> = [],
                      file: StaticString = #filePath, line: UInt = #line) throws {
    func isState(_ name: String) -> Bool {
        let numbered = ["x", "y", "gy"].contains { name.hasPrefix($0) && name.dropFirst($0.count).allSatisfy(\.isNumber) }
        return !numbered && !name.hasPrefix("grad.") && !name.hasPrefix("after.") && !records.contains(name)
    }
    var dict: [String: Tensor] = [:]
    for (key, value) in fixture where key.hasPrefix(prefix + ".") {
        let name = String(key.dropFirst(prefix.count + 1))
        if isState(name) { dict[name] = value }
    }
    _ = try module.loadStateDict(dict, strict: true)
}

/// Runs `forward` on the fixture's inputs `<prefix>.<name>`, checks the outputs `<prefix>.y<i>`,
/// then backpropagates Σ (yᵢ·gyᵢ) and checks the inputs' gradients `<prefix>.grad.<name>` and
/// the listed parameters' gradients.
func assertMatchesFixture(_ module: Module, _ f: [String: Tensor], prefix: String, inputs: [String] = ["x"],
                          parameters: [String] = [], atol: Float = 1e-4, rtol: Float = 1e-3,
                          file: StaticString = #filePath, line: UInt = #line,
                          _ forward: ([Tensor]) -> [Tensor]) {
    let xs = inputs.map { f["\(prefix).\($0)"]!.copied() }
    for x in xs { x.requiresGrad = true }
    let ys = forward(xs)
    var loss = Tensor(scalar: 0)
    for (i, y) in ys.enumerated() {
        assertClose(y, f["\(prefix).y\(i)"]!, atol: atol, rtol: rtol, "\(prefix) output \(i)", file: file, line: line)
        loss = loss + (y * f["\(prefix).gy\(i)"]!).sum()
    }
    loss.backward()
    for (name, x) in zip(inputs, xs) {
        assertClose(x.grad ?? Tensor(zeros: x.shape), f["\(prefix).grad.\(name)"]!, atol: atol, rtol: rtol,
                    "\(prefix) gradient of \(name)", file: file, line: line)
    }
    let named = Dictionary(uniqueKeysWithValues: module.namedParameters())
    for name in parameters {
        guard let p = named[name] else { XCTFail("\(prefix): no parameter \(name)", file: file, line: line); continue }
        assertClose(p.grad ?? Tensor(zeros: p.shape), f["\(prefix).grad.\(name)"]!, atol: atol, rtol: rtol,
                    "\(prefix) gradient of \(name)", file: file, line: line)
    }
}

/// Trains `model` with Adam on one fixed batch for `steps` steps of cross-entropy (plus
/// `extraLoss()` after each forward) and returns the losses.
func trainOnBatch(_ model: Module, inputs: Tensor, labels: [Int], steps: Int = 12, learningRate: Float = 1e-2,
                  extraLoss: (() -> Tensor)? = nil) -> [Float] {
    let optimizer = Adam(model.parameters, learningRate: learningRate)
    var losses: [Float] = []
    for _ in 0..<steps {
        optimizer.zeroGrad()
        var loss = crossEntropy(model(inputs), labels)
        if let extraLoss { loss = loss + extraLoss() }
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    }
    return losses
}

/// Fails unless the losses end well below where they started and stay finite.
func assertLossFalls(_ losses: [Float], by factor: Float = 0.7, _ message: String = "",
                     file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertTrue(losses.allSatisfy(\.isFinite), "losses not finite \(message): \(losses)", file: file, line: line)
    guard let first = losses.first, let last = losses.last else { return XCTFail("no losses", file: file, line: line) }
    XCTAssertLessThan(last, first * factor, "loss did not fall \(message): \(losses)", file: file, line: line)
}

/// A seeded batch of `count` images (C, H, W) whose class (0..<classes) shifts the mean of the
/// first channel, so a small CNN can learn it in a few steps.
func syntheticImages(count: Int, channels: Int, size: Int, classes: Int, seed: UInt64 = 0) -> (Tensor, [Int]) {
    var rng = RandomGenerator(seed: seed)
    let labels = (0..<count).map { $0 % classes }
    let noise = Tensor.randn([count, channels, size, size], generator: &rng)
    let offset = Tensor.make(shape: [count, channels, 1, 1]) { out in
        for n in 0..<count { for c in 0..<channels { out[n * channels + c] = c == 0 ? Float(labels[n]) - Float(classes - 1) / 2 : 0 } }
    }
    return (noise * 0.5 + offset, labels)
}
