import XCTest
import DeepCore
import DeepNN

/// einops' EinMix layer: outputs and gradients against einops' torch layer with its state dict
/// (Tests/Fixtures/make_einops.py), the decomposition and restrictions of einops'
/// tests/test_layers.py, einops' initialisation, and use inside a model.
final class EinMixTests: XCTestCase {
    /// make_einops.py's EINMIX_CASES: name, pattern, weight shape, bias shape, sizes.
    static let cases: [(String, String, String, String?, [String: Int])] = [
        ("transpose_mix", "b c_in h w -> w c_out h b", "c_in c_out", nil, ["c_out": 13, "c_in": 12]),
        ("transpose_mix_bias", "b c_in h w -> w c_out h b", "c_in c_out", "c_out", ["c_out": 13, "c_in": 12]),
        ("scalar_weight", "b c_in h w -> w c_in h b", "", nil, ["c_in": 12]),
        ("flatten_mix", "b c_in h w -> b c_out", "c_in h w c_out", nil, ["c_in": 6, "h": 3, "w": 4, "c_out": 5]),
        ("per_head", "b t head c_in -> b t head c_out", "head c_in c_out", nil, ["head": 4, "c_in": 5, "c_out": 6]),
        ("grouped", "b ... (a c) -> b ... (a d)", "c d", "a d", ["a": 2, "c": 3, "d": 4]),
        ("ellipsis_regroup", "a ... (b c) -> a (... d b)", "c d b", "d b", ["b": 2, "c": 3, "d": 4]),
        ("compose_batch", "b c1 -> (b c2)", "c1 c2", "c2", ["c1": 6, "c2": 5]),
        ("split_batch", "(b c2) -> b c3", "c2 c3", "c3", ["c2": 5, "c3": 4]),
    ]

    func testMatchesEinopsWithItsStateDict() throws {
        let f = loadFixtures("einops_extras")
        for (name, pattern, weightShape, biasShape, sizes) in Self.cases {
            let prefix = "einmix/\(name)."
            let layer = try EinMix(pattern, weightShape: weightShape, biasShape: biasShape, sizes)
            let state = Dictionary(uniqueKeysWithValues: f.filter { $0.key.hasPrefix(prefix + "state.") }
                .map { (String($0.key.dropFirst((prefix + "state.").count)), $0.value) })
            XCTAssertEqual(Set(layer.stateDictKeys), Set(state.keys), name)
            try layer.loadStateDict(state, strict: true)
            let x = f[prefix + "x"]!.copied()
            x.requiresGrad = true
            let y = layer(x)
            assertClose(y, f[prefix + "y"]!, atol: 1e-5, rtol: 1e-4, "\(name) output")
            (y * f[prefix + "w"]!).sum().backward()
            assertClose(x.grad!, f[prefix + "dx"]!, atol: 1e-4, rtol: 1e-4, "\(name) input gradient")
            for (key, p) in layer.namedParameters() {
                assertClose(p.grad ?? Tensor(zeros: p.shape), f[prefix + "grad." + key]!, atol: 1e-4, rtol: 1e-4, "\(name) grad \(key)")
            }
            // And back: our state dict has einops' names and shapes.
            for (key, value) in layer.stateDict() { XCTAssertEqual(value.shape, state[key]?.shape, "\(name) \(key)") }
        }
    }

    /// einops' test_einmix_decomposition (with its `_EinmixDebugger`'s fields).
    func testDecompositionAsEinops() throws {
        let cases: [(EinMixRecipe, String?, [String: Int]?, String?, String, [Int], [Int]?)] = [
            (try EinMixRecipe("a b c d e -> e d c b a", weightShape: "d a b", ["d": 2, "a": 3, "b": 5]),
             nil, nil, nil, "abcde,dab->edcba", [2, 3, 5], nil),
            (try EinMixRecipe("a b c d e -> e d c b a", weightShape: "d a b", biasShape: "a b c d e",
                              ["a": 1, "b": 2, "c": 3, "d": 4, "e": 5]),
             nil, nil, nil, "abcde,dab->edcba", [4, 1, 2], [5, 4, 3, 2, 1]),
            (try EinMixRecipe("... -> ...", weightShape: "", biasShape: ""), nil, nil, nil, "...,->...", [], []),
            (try EinMixRecipe("b a ...  -> b c ...", weightShape: "b a c", ["a": 1, "b": 2, "c": 3]),
             nil, nil, nil, "ba...,bac->bc...", [2, 1, 3], nil),
            (try EinMixRecipe("(b a) ... -> b c (...)", weightShape: "b a c", ["a": 1, "b": 2, "c": 3]),
             "(b a) ... -> b a ...", ["a": 1, "b": 2], "b c ... -> b c (...)", "ba...,bac->bc...", [2, 1, 3], nil),
            (try EinMixRecipe("b ... (a c) -> b ... (a d)", weightShape: "c d", biasShape: "a d", ["a": 1, "c": 3, "d": 4]),
             "b ... (a c) -> b ... a c", ["a": 1, "c": 3], "b ... a d -> b ... (a d)", "b...ac,cd->b...ad", [3, 4], [1, 1, 4]),
            (try EinMixRecipe("a ... (b c) -> a (... d b)", weightShape: "c d b", biasShape: "d b", ["b": 2, "c": 3, "d": 4]),
             "a ... (b c) -> a ... b c", ["b": 2, "c": 3], "a ... d b -> a (... d b)", "a...bc,cdb->a...db", [3, 4, 2], [1, 4, 2]),
        ]
        for (recipe, pre, preSizes, post, equation, weightShape, biasShape) in cases {
            XCTAssertEqual(recipe.preRearrange?.pattern, pre, equation)
            XCTAssertEqual(recipe.preRearrange?.sizes, preSizes, equation)
            XCTAssertEqual(recipe.postRearrange, post, equation)
            XCTAssertEqual(recipe.einsumEquation, equation)
            XCTAssertEqual(recipe.weightShape, weightShape, equation)
            XCTAssertEqual(recipe.biasShape, biasShape, equation)
        }
    }

    /// einops' test_einmix_restrictions and the other checks of `initialize_einmix`.
    func testRestrictionsThrowEinopsReasons() {
        let cases: [(String, String, String?, [String: Int], String)] = [
            ("a b c d e -> e d c b a", "d a b", nil, ["d": 2, "a": 3], "Dimension b of weight should be specified"),
            ("a b c d e -> e d c b a", "w a b", nil, ["d": 2, "a": 3, "b": 1], "Dimension w of weight should be specified"),
            ("(...) a -> ... a", "a", nil, ["a": 1], "Ellipsis on left side can't be in parenthesis, got (...) a -> ... a"),
            ("(...) a -> a ...", "a", "a", ["a": 1], "Ellipsis on left side can't be in parenthesis"),
            ("a ... -> a ...", "a", "a", ["a": 1], "all bias dimensions should go after ellipsis in the output"),
            ("a b -> a c", "b", nil, ["b": 2], "Unrecognized identifiers on the right side of EinMix {'c'}"),
            ("a b -> a c", "b c ...", nil, ["b": 2, "c": 2], "Ellipsis is not supported in weight"),
            ("a ... -> a", "a", nil, ["a": 2], "Ellipsis in EinMix should be on both sides, a ... -> a"),
            ("a 2 -> a c", "a c", nil, ["a": 2, "c": 2], "Anonymous axes (numbers) are not allowed in EinMix"),
            ("a b -> a c", "(b c)", nil, ["b": 2, "c": 2], "Parenthesis is not allowed in weight shape: (b c)"),
            ("a b -> a c", "b c", nil, ["b": 2, "c": 2, "z": 3], "Axes {'z'} are not used in pattern"),
            ("a b -> a c", "b c q", nil, ["b": 2, "c": 2, "q": 3], "Weight axes {'q'} are redundant"),
            ("a b -> a c", "b c", "b", ["b": 2, "c": 2], "Bias axes {'b'} not present in output"),
            ("a b -> a c", "b c", "a", ["b": 2, "c": 2], "Sizes not provided for bias axes {'a'}"),
            ("a b -> a c -> d", "b c", nil, ["b": 2, "c": 2], "EinMix pattern must contain exactly one \"->\""),
            ("a b -> a c)", "b c", nil, ["b": 2, "c": 2], "Brackets are not balanced"),
        ]
        for (pattern, weightShape, biasShape, sizes, phrase) in cases {
            XCTAssertThrowsError(try EinMix(pattern, weightShape: weightShape, biasShape: biasShape, sizes), pattern) { error in
                XCTAssertTrue((error as? EinopsError)?.message.contains(phrase) == true, "\(pattern): \(error)")
            }
        }
    }

    /// einops' initialisation: weight uniform in ±√(3 / fan_in), bias in ±√(1 / fan_in), fan_in
    /// the product of the weight's axes the output lacks.
    func testInitialisationAsEinops() throws {
        manualSeed(7)
        let layer = try EinMix("b (h cin) -> b (h cout)", weightShape: "h cin cout", biasShape: "h cout", ["h": 4, "cin": 50, "cout": 60])
        XCTAssertEqual(layer.weight.shape, [4, 50, 60])
        XCTAssertEqual(layer.bias?.shape, [1, 4, 60], "b (h cout): 1 for the batch axis")
        let (weightBound, biasBound) = ((3 / Float(50)).squareRoot(), (1 / Float(50)).squareRoot())
        XCTAssertEqual(layer.recipe.weightBound, weightBound, accuracy: 1e-7)
        XCTAssertEqual(layer.recipe.biasBound, biasBound, accuracy: 1e-7)
        let w = layer.weight.scalars, b = layer.bias!.scalars
        XCTAssertTrue(w.allSatisfy { abs($0) <= weightBound } && b.allSatisfy { abs($0) <= biasBound })
        XCTAssertGreaterThan(w.max()!, 0.95 * weightBound)
        XCTAssertLessThan(w.min()!, -0.95 * weightBound)
        // The standard deviation of U(-a, a) is a / √3 = √(1 / fan_in).
        let mean = w.reduce(0, +) / Float(w.count)
        let std = (w.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(w.count)).squareRoot()
        XCTAssertEqual(std, (1 / Float(50)).squareRoot(), accuracy: 0.005)
        XCTAssertTrue(layer.weight.requiresGrad && layer.bias!.requiresGrad)
        XCTAssertEqual(layer.stateDictKeys.sorted(), ["bias", "weight"])
        XCTAssertEqual(try EinMix("a b -> a c", weightShape: "b c", ["b": 2, "c": 3]).stateDictKeys, ["weight"])
    }

    /// The model of einops' test_layers.py (`create_torch_model`) in part: EinMix layers that
    /// fold the batch into their output and out again, inside a Sequential that trains.
    func testInsideAModelWithSummaryAndGradients() throws {
        let model = Sequential(
            Linear(12, 8), ReLU(),
            try EinMix("b c1 -> (b c2)", weightShape: "c1 c2", biasShape: "c2", ["c1": 8, "c2": 8]),
            try EinMix("(b c2) -> b c3", weightShape: "c2 c3", biasShape: "c3", ["c2": 8, "c3": 8]),
            Linear(8, 3))
        let x = Tensor.randn([5, 12])
        let y = model(x)
        XCTAssertEqual(y.shape, [5, 3])
        y.sum().backward()
        XCTAssertTrue(model.parameters.allSatisfy { $0.grad != nil })
        XCTAssertEqual(try model.summary(input: [5, 12]).description.contains("EinMix"), true)
        // A copy through the state dict computes the same.
        let copy = Sequential(
            Linear(12, 8), ReLU(),
            try EinMix("b c1 -> (b c2)", weightShape: "c1 c2", biasShape: "c2", ["c1": 8, "c2": 8]),
            try EinMix("(b c2) -> b c3", weightShape: "c2 c3", biasShape: "c3", ["c2": 8, "c3": 8]),
            Linear(8, 3))
        try copy.loadStateDict(model.stateDict())
        assertClose(copy(x), y)
        XCTAssertTrue(model.stateDictKeys.contains("2.weight") && model.stateDictKeys.contains("3.bias"))
    }

    func testFiniteDifferences() throws {
        let layer = try EinMix("b ... (a c) -> b ... (a d)", weightShape: "c d", biasShape: "a d", ["a": 2, "c": 3, "d": 4])
        // The parameters are perturbed in place; the layer reads them.
        assertGradientsMatchFiniteDifferences([Tensor.randn([2, 3, 6]), layer.weight, layer.bias!]) { xs in layer(xs[0]) }
        let mix = try EinMix("b hw c -> b hw2 c", weightShape: "hw hw2", biasShape: "hw2", ["hw": 4, "hw2": 3])
        assertGradientsMatchFiniteDifferences([Tensor.randn([2, 4, 5]).mT.mT, mix.weight, mix.bias!]) { xs in mix(xs[0]) }
    }
}
