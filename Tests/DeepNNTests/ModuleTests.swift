import XCTest
import DeepCore
import DeepNN

private final class Block: Module {
    let fc1 = Linear(4, 8)
    let fc2 = Linear(8, 4, bias: false)
    @Buffer var runningMean = Tensor(zeros: [4])
    @Parameter(key: "A_log") var aLog = Tensor(ones: [2])
    let heads: [Module] = [Linear(4, 2), Linear(4, 3)]
    @Child var tail: Module = Identity()

    override func forward(_ x: Tensor) -> Tensor { tail(fc2(fc1(x))) }
}

final class ModuleTests: XCTestCase {
    func testNamesFollowPyTorch() {
        let model = Sequential(Block(), Linear(4, 2))
        XCTAssertEqual(model.namedParameters().map(\.0), [
            // A module's own parameters come before its children's, as in PyTorch.
            "0.A_log", "0.fc1.weight", "0.fc1.bias", "0.fc2.weight",
            "0.heads.0.weight", "0.heads.0.bias", "0.heads.1.weight", "0.heads.1.bias",
            "1.weight", "1.bias",
        ])
        XCTAssertEqual(model.namedBuffers().map(\.0), ["0.running_mean"])
        // PyTorch's state-dict order: each module's own parameters, then its buffers, then its children.
        XCTAssertEqual(Array(model.stateDictKeys.prefix(5)), ["0.A_log", "0.running_mean", "0.fc1.weight", "0.fc1.bias", "0.fc2.weight"])
        XCTAssertTrue(model.parameters.allSatisfy(\.requiresGrad))
        XCTAssertEqual(model.parameterCount, 4 * 8 + 8 + 8 * 4 + 2 + 4 * 2 + 2 + 4 * 3 + 3 + 4 * 2 + 2)
    }

    func testTrainEvalReachEveryChild() {
        let model = Sequential(Block(), Linear(4, 2))
        model.eval()
        XCTAssertTrue(model.namedModules().allSatisfy { !$0.1.isTraining })
        model.train()
        XCTAssertTrue(model.namedModules().allSatisfy { $0.1.isTraining })
    }

    func testStateDictRoundTripAndStrictErrors() throws {
        let a = Sequential(Linear(3, 5), Linear(5, 2)), b = Sequential(Linear(3, 5), Linear(5, 2))
        let x = Tensor.randn([4, 3])
        XCTAssertNotEqual(a(x).scalars, b(x).scalars)
        try b.loadStateDict(a.stateDict())
        XCTAssertEqual(a(x).scalars, b(x).scalars)

        var bad = a.stateDict()
        bad["1.weight"] = Tensor(zeros: [3, 3])
        bad.removeValue(forKey: "0.bias")
        bad["extra"] = Tensor(zeros: [1])
        let before = b.stateDict().mapValues(\.scalars)
        XCTAssertThrowsError(try b.loadStateDict(bad)) { error in
            let e = error as! StateDictError
            XCTAssertEqual(e.missingKeys, ["0.bias"])
            XCTAssertEqual(e.unexpectedKeys, ["extra"])
            XCTAssertEqual(e.shapeMismatches.map(\.key), ["1.weight"])
        }
        XCTAssertEqual(b.stateDict().mapValues(\.scalars), before, "a failed load must leave the model unchanged")
    }

    func testReplaceByPath() throws {
        let model = Sequential(Block(), Linear(4, 2))
        let oldFirst = model.namedParameters().first!.1
        try model.replace(path: "0.tail", with: Linear(4, 4))
        XCTAssertTrue(model.namedParameters().map(\.0).contains("0.tail.weight"))
        XCTAssertThrowsError(try model.replace(path: "0.heads.1", with: Identity())) { error in
            XCTAssertTrue("\(error)".contains("not replaceable"), "\(error)")
        }
        XCTAssertThrowsError(try model.replace(path: "0.nothing", with: Identity()))
        try model.replace(path: "1", with: Linear(4, 3))
        XCTAssertEqual(model(Tensor.randn([2, 4])).shape, [2, 3])
        XCTAssertTrue(model.namedParameters().first!.1 === oldFirst)
    }
}
