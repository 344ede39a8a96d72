import XCTest
import DeepCore
import DeepNN
#if canImport(Glibc)
import Glibc
#endif

/// Resident memory in bytes, from /proc/self/statm; nil when it cannot be read.
private func residentBytes() -> Int? {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return nil }
    let fields = text.split(separator: " ")
    guard fields.count > 1, let pages = Int(fields[1]) else { return nil }
    return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
}

final class MemoryTests: XCTestCase {
    /// 1000 forward+backward steps of a small MLP must not grow resident memory: the graph of
    /// each step is released after backward.
    func testTrainingLoopKeepsResidentMemoryFlat() throws {
        try XCTSkipIf(residentBytes() == nil, "/proc/self/statm cannot be read: resident memory is unknown")
        manualSeed(3)
        let model = Sequential(Linear(64, 128), ReLU(), Linear(128, 10))
        let opt = SGD(model.parameters, learningRate: 0.01, momentum: 0.9)
        var rng = RandomGenerator(seed: 1)
        let x = Tensor.randn([32, 64], generator: &rng)
        let labels = (0..<32).map { $0 % 10 }
        func step() {
            opt.zeroGrad()
            crossEntropy(model(x), labels).backward()
            opt.step()
        }
        for _ in 0..<100 { step() }
        let warm = try XCTUnwrap(residentBytes())
        for _ in 0..<1000 { step() }
        let after = try XCTUnwrap(residentBytes())
        let growth = after - warm
        print("resident memory after 100 steps: \(warm / 1024) KiB, after 1100: \(after / 1024) KiB, growth \(growth / 1024) KiB")
        // One step allocates ~100 KiB of tensors; a leak of the graph would grow by ~100 MB.
        XCTAssertLessThan(growth, 2 << 20, "resident memory grew by \(growth / 1024) KiB over 1000 steps")
    }
}
