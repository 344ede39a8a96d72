// libFuzzer entry point: the gzip reader of the datasets on arbitrary bytes, compressed or not:
// `Gzip.decompress` with a bound, and gzipped IDX files (`IDXArray(fileData:path:)`, inflated no
// further than their header announces). Any input must either load or throw; a trap, a hang or
// memory out of proportion to the input is a bug.
import DeepNN
import Foundation
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    read(fuzzData(data, size))
    return 0
}

/// The readers under test.
func read(_ bytes: Data) {
    if let inflated = try? Gzip.decompress(data: bytes, limit: 1 << 20, path: "fuzz.gz") { _ = inflated.count }
    if let array = try? IDXArray(fileData: bytes, path: "fuzz.idx.gz") { _ = array.shape }
}
