import XCTest
import DeepCore
import DeepNN

/// Squeeze-and-excitation against torchvision's `SqueezeExcitation`, CBAM against a plain PyTorch
/// CBAM (Tests/Fixtures/make_blocks.py): weights by name, outputs and gradients; summaries.
final class Attention2dTests: XCTestCase {
    let f = loadFixtures("blocks_attention2d")

    override func setUp() { manualSeed(7) }

    func testSqueezeExcitationMatchesTorchvision() throws {
        let se = SqueezeExcitation(channels: 16, squeezeChannels: 4)
        try loadFixtureState(se, f, prefix: "se")
        assertMatchesFixture(se, f, prefix: "se", parameters: ["fc1.weight", "fc2.bias"]) { [se($0[0])] }
    }

    func testSqueezeExcitationShapesAndParameters() throws {
        let se = SqueezeExcitation(channels: 64)
        XCTAssertEqual(se.fc1.weight.shape, [4, 64, 1, 1], "reduction 16 by default")
        XCTAssertEqual(se.namedParameters().map(\.0), ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"])
        let s = try se.summary(input: [2, 64, 7, 7])
        XCTAssertEqual(s.outputShape, [2, 64, 7, 7])
        XCTAssertEqual(s.totalParameters, 64 * 4 + 4 + 4 * 64 + 64)
        XCTAssertEqual(SqueezeExcitation(channels: 8).fc1.weight.shape[0], 1, "at least one squeeze channel")
        XCTAssertThrowsError(try se.summary(input: [2, 32, 7, 7])) { error in
            XCTAssertTrue("\(error)".contains("SqueezeExcitation") && "\(error)".contains("[2, 32, 7, 7]"), "\(error)")
        }
    }

    func testCBAMMatchesReference() throws {
        let cbam = CBAM(channels: 16, reduction: 4)
        try loadFixtureState(cbam, f, prefix: "cbam")
        assertMatchesFixture(cbam, f, prefix: "cbam",
                             parameters: ["channel_attention.fc1.weight", "spatial_attention.conv.weight"]) { [cbam($0[0])] }
        let small = CBAM(channels: 8, reduction: 2, kernelSize: 3)
        try loadFixtureState(small, f, prefix: "cbam3")
        assertMatchesFixture(small, f, prefix: "cbam3") { [small($0[0])] }
    }

    func testCBAMShapesParametersAndGradients() throws {
        let cbam = CBAM(channels: 64)
        XCTAssertEqual(cbam.namedParameters().map(\.0),
                       ["channel_attention.fc1.weight", "channel_attention.fc2.weight", "spatial_attention.conv.weight"])
        let s = try cbam.summary(input: [1, 64, 8, 8])
        XCTAssertEqual(s.outputShape, [1, 64, 8, 8])
        XCTAssertEqual(s.totalParameters, 64 * 4 * 2 + 2 * 49)
        let tiny = CBAM(channels: 4, reduction: 2, kernelSize: 3)
        assertGradientsMatchFiniteDifferences([Tensor.distinctRandom([1, 4, 3, 3])], eps: 1e-3) { tiny($0[0]) }
    }
}
