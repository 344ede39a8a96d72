// libFuzzer entry point: the gzip reader of the datasets (`readPossiblyGzipped`, internal to
// DeepNN, hence the testable import; scripts/fuzz.sh builds with -enable-testing) on arbitrary
// bytes, compressed or not. Any input must either load or throw; a trap, a hang or memory out of
// proportion to the input is a bug.
@testable import DeepNN
import Foundation
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    read(fuzzData(data, size))
    return 0
}

/// The reader under test (the one call to change when an in-memory entry point exists).
func read(_ bytes: Data) {
    let url = temporaryInputFile(bytes, name: "input.gz")
    guard let inflated = try? readPossiblyGzipped(url.path) else { return }
    _ = inflated.count
}
