// libFuzzer entry point: the IDX reader (MNIST's format) on arbitrary bytes. Any input must
// either load or throw; a trap or a hang is a bug.
import DeepNN
import Foundation
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    read(fuzzData(data, size))
    return 0
}

/// The reader under test (the one call to change when its API changes).
func read(_ bytes: Data) {
    guard let array = try? IDXArray(data: [UInt8](bytes), path: "fuzz.idx") else { return }
    _ = array.shape.reduce(0, +) &+ array.bytes.count
}
