import DeepCore
@testable import DeepNN
import TestSupport
import XCTest

/// The data-parallel pieces that need no second process: the sampler's shares (every rank
/// computed here), the backward observers DistributedDataParallel rides on, and the one-process
/// group, under which every piece is the plain one. The checks across processes run under
/// mpirun in StitchDistributedTests.
final class DistributedTests: XCTestCase {
    func testSamplerSharesHoldEveryExampleOncePlusTheFewestRepeats() {
        for worldSize in 1...4 {
            for count in [1, 5, 10, 11, 12, 13] {
                for epoch in 0..<2 {
                    let shares = (0..<worldSize).map { DistributedSampler(datasetCount: count, rank: $0, worldSize: worldSize, seed: 3).indices(epoch: epoch) }
                    let perRank = (count + worldSize - 1) / worldSize
                    XCTAssertEqual(Set(shares.map(\.count)), [perRank], "equal shares, \(count) over \(worldSize)")
                    let all = shares.flatMap { $0 }
                    XCTAssertEqual(Set(all), Set(0..<count), "every example, \(count) over \(worldSize)")
                    XCTAssertEqual(all.count - count, perRank * worldSize - count, "padding only")
                    let trimmed = (0..<worldSize).flatMap { DistributedSampler(datasetCount: count, rank: $0, worldSize: worldSize, seed: 3, dropLast: true).indices(epoch: epoch) }
                    XCTAssertEqual(trimmed.count, count / worldSize * worldSize)
                    XCTAssertEqual(Set(trimmed).count, trimmed.count, "no repeats with dropLast")
                }
            }
        }
        let sampler = DistributedSampler(datasetCount: 100, rank: 1, worldSize: 2, seed: 3)
        XCTAssertNotEqual(sampler.indices(epoch: 0), sampler.indices(epoch: 1), "a new order each epoch")
        XCTAssertEqual(sampler.indices(epoch: 1), DistributedSampler(datasetCount: 100, rank: 1, worldSize: 2, seed: 3).indices(epoch: 1))
        XCTAssertEqual(DistributedSampler(datasetCount: 7, rank: 1, worldSize: 3, shuffle: false).indices(epoch: 0), [1, 4, 0])
    }

    func testEvaluationSharesSplitWithoutRepeats() {
        let data = TensorDataset(inputs: Tensor(zeros: [10, 1]), labels: Array(0..<10))
        let group = SingleProcessGroup()
        XCTAssertEqual(Subset(data, evaluationShareOf: group).indices, Array(0..<10))
    }

    /// Records what backward tells observers.
    final class Recorder: BackwardObserver {
        var ready: [(ObjectIdentifier, [Float])] = []
        var pullbacks = 0, finished = 0
        func gradientIsReady(_ leaf: Tensor) { ready.append((ObjectIdentifier(leaf), leaf.grad?.scalars ?? [])) }
        func pullbackFinished() { pullbacks += 1 }
        func backwardFinished() { finished += 1 }
    }

    func testObserversSeeEachLeafOnceWithItsFinalGradient() {
        let recorder = Recorder()
        BackwardObservers.add(recorder)
        defer { BackwardObservers.remove(recorder) }
        let a = Tensor([1, 2, 3]), b = Tensor([4, 5, 6])
        a.requiresGrad = true; b.requiresGrad = true
        // a is used twice: its gradient is final only after both uses.
        ((a * b).sum() + (a * a).sum()).backward()
        XCTAssertEqual(recorder.finished, 1)
        XCTAssertGreaterThan(recorder.pullbacks, 0)
        XCTAssertEqual(recorder.ready.map(\.0).sorted { "\($0)" < "\($1)" }, [ObjectIdentifier(a), ObjectIdentifier(b)].sorted { "\($0)" < "\($1)" })
        XCTAssertEqual(recorder.ready.first { $0.0 == ObjectIdentifier(a) }?.1, a.grad!.scalars)
        XCTAssertEqual(a.grad!.scalars, [6, 9, 12])
    }

    func testOneProcessGroupLeavesTrainingAsItIs() throws {
        manualSeed(0)
        let model = FashionModels.batchNormCNN()
        manualSeed(0)
        let plain = FashionModels.batchNormCNN()
        let group = SingleProcessGroup()
        let synced = try SyncBatchNorm.convert(model, group: group)
        XCTAssertTrue(synced.module(at: "1") is SyncBatchNorm)
        XCTAssertEqual(synced.stateDict().keys.sorted(), plain.stateDict().keys.sorted())
        let ddp = DistributedDataParallel(synced, group: group)
        XCTAssertTrue(ddp.stateDict().keys.allSatisfy { $0.hasPrefix("module.") }, "PyTorch's names under DDP")
        manualSeed(1)
        let x = Tensor.randn([4, 1, 28, 28])
        manualSeed(2); let expected = plain(x)
        manualSeed(2); let actual = ddp(x)
        assertClose(actual, expected, atol: 1e-6, rtol: 1e-6)
        crossEntropy(actual, [0, 1, 2, 3]).backward()
        crossEntropy(expected, [0, 1, 2, 3]).backward()
        for (p, q) in zip(synced.parameters, plain.parameters) { assertClose(p.grad!, q.grad!, atol: 1e-6, rtol: 1e-5) }
        XCTAssertEqual(ConfusionMatrix(predictions: [0, 1], labels: [1, 1], classCount: 2).summed(over: group).matrix, [[0, 0], [1, 1]])
    }
}
