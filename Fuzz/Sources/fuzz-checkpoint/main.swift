// Starts libFuzzer on this target's `LLVMFuzzerTestOneInput`, or writes the seed corpus when
// FUZZ_WRITE_SEEDS names a folder.
import Foundation
import FuzzSupport

if let folder = ProcessInfo.processInfo.environment["FUZZ_WRITE_SEEDS"] {
    try writeSeeds(to: URL(fileURLWithPath: folder))
    exit(0)
}
runFuzzer(fuzz)
