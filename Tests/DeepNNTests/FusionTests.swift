import XCTest
import DeepCore
import DeepNN

final class FusionTests: XCTestCase {
    /// Every parameter of `module` and every input got a nonzero gradient.
    private func assertGradientsReachEverything(_ module: Module, _ inputs: [Tensor], file: StaticString = #filePath, line: UInt = #line) {
        for (name, p) in module.namedParameters() {
            XCTAssertTrue(p.grad?.scalars.contains { $0 != 0 } ?? false, "no gradient for \(name)", file: file, line: line)
        }
        for (i, x) in inputs.enumerated() {
            XCTAssertTrue(x.grad?.scalars.contains { $0 != 0 } ?? false, "no gradient for input \(i)", file: file, line: line)
        }
    }

    func testCrossAttentionFusionEqualsAttentionPlusResidualNorm() {
        manualSeed(1)
        let fusion = CrossAttentionFusion(dModel: 4, numHeads: 1)
        XCTAssertEqual(fusion.namedParameters().map(\.0), ["attention.in_proj_weight", "attention.in_proj_bias",
                                                           "attention.out_proj.weight", "attention.out_proj.bias",
                                                           "norm.weight", "norm.bias"])
        // Identity projections: the block is layerNorm(a + softmax(a bᵀ/2) b).
        let eye = Tensor([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1], shape: [4, 4])
        withoutGrad {
            fusion.attention.inProjWeight!.assign(Tensor.concatenate([eye, eye, eye], axis: 0))
            fusion.attention.outProj.weight.assign(eye)
        }
        let a = Tensor.randn([2, 3, 4]), b = Tensor.randn([2, 5, 4])
        let expected = layerNorm(a + naiveAttention(a, b, b), normalizedShape: [4])
        assertClose(fusion(a, b), expected)
    }

    func testCrossAttentionFusionShapesGradientsAndPadding() {
        let fusion = CrossAttentionFusion(dModel: 8, numHeads: 2, contextDim: 6)
        let a = Tensor.randn([2, 3, 8]), b = Tensor.randn([2, 5, 6])
        a.requiresGrad = true
        b.requiresGrad = true
        let y = fusion(a, b)
        XCTAssertEqual(y.shape, [2, 3, 8])
        (y * Tensor.randn(y.shape)).sum().backward()
        assertGradientsReachEverything(fusion, [a, b])
        // Padded tokens of B do not change the result.
        let pad = Tensor([0, 0, 0, 1, 1, 0, 0, 0, 0, 1], shape: [2, 5])
        let changed = b.detached() + Tensor([0, 0, 0, 9, 9, 0, 0, 0, 0, 9], shape: [2, 5]).reshaped([2, 5, 1])
        assertClose(fusion(a, b, keyPaddingMask: pad), fusion(a, changed, keyPaddingMask: pad))
    }

    func testGatedFusionByHand() {
        let fusion = GatedFusion(dModel: 2)
        XCTAssertEqual(fusion.gate.weight.shape, [2, 4])
        // Gate logits: g₀ = a₀ + b₁ + 0.5, g₁ = −a₁ − 1.
        withoutGrad {
            fusion.gate.weight.assign(Tensor([1, 0, 0, 1, 0, -1, 0, 0], shape: [2, 4]))
            fusion.gate.bias!.assign(Tensor([0.5, -1]))
        }
        let a = Tensor([1, 2], shape: [1, 2]), b = Tensor([3, -1], shape: [1, 2])
        let g0 = 1 / (1 + exp(-Float(1 - 1 + 0.5))), g1 = 1 / (1 + exp(-Float(-2 - 1)))
        let expected = [g0 * 1 + (1 - g0) * 3, g1 * 2 + (1 - g1) * -1]
        assertClose(fusion(a, b).scalars, expected)
    }

    func testGatedFusionGradients() {
        let fusion = GatedFusion(dModel: 3)
        let a = Tensor.randn([2, 4, 3]), b = Tensor.randn([2, 4, 3])
        assertGradientsMatchFiniteDifferences([a, b]) { fusion($0[0], $0[1]) }
        (fusion(a, b) * Tensor.randn([2, 4, 3])).sum().backward()
        assertGradientsReachEverything(fusion, [a, b])
    }

    func testConcatFusion() {
        let fusion = ConcatFusion(dimA: 3, dimB: 2, outDim: 4)
        let a = Tensor.randn([5, 3]), b = Tensor.randn([5, 2])
        a.requiresGrad = true
        b.requiresGrad = true
        let y = fusion(a, b)
        XCTAssertEqual(y.shape, [5, 4])
        // proj([a; b]) = a·W_aᵀ + b·W_bᵀ + bias.
        let w = fusion.proj.weight.detached()
        let expected = matmul(a.detached(), w.narrowed(axis: 1, start: 0, length: 3).mT)
            + matmul(b.detached(), w.narrowed(axis: 1, start: 3, length: 2).mT) + fusion.proj.bias!.detached()
        assertClose(y, expected)
        (y * Tensor.randn(y.shape)).sum().backward()
        assertGradientsReachEverything(fusion, [a, b])
    }
}
