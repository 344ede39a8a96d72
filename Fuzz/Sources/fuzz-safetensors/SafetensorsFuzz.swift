// libFuzzer entry point: the safetensors reader on arbitrary bytes. Any input must either load
// or throw; a trap, an out-of-bounds read or a hang is a bug.
import DeepCore
import Foundation
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    read(fuzzData(data, size))
    return 0
}

/// Mutations that keep the safetensors header length consistent (see `mutateSafetensors`).
@_cdecl("LLVMFuzzerCustomMutator")
public func mutate(_ data: UnsafeMutablePointer<UInt8>?, _ size: Int, _ maxSize: Int, _ seed: UInt32) -> Int {
    mutateSafetensors(data, size, maxSize, seed)
}

/// The reader under test (the one call to change when its API changes).
func read(_ bytes: Data) {
    guard let (tensors, _) = try? Safetensors.readWithMetadata(data: bytes) else { return }
    for tensor in tensors.values { touchEveryElement(tensor) }
}
