// libFuzzer entry point: the JPEG decoder (CJPEG over libjpeg-turbo, and the EXIF orientation
// parser) on arbitrary bytes. Any input must either decode or throw an ImageFileError; a trap, an
// out-of-bounds access, an exit from libjpeg or a hang is a bug.
import DeepCore
@testable import DeepNN
import Foundation
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    read(fuzzData(data, size))
    return 0
}

/// The reader under test (the one call to change when its API changes).
func read(_ bytes: Data) {
    // 2^22 pixels at most (the library allows 2^28): the same checks, within libFuzzer's limits.
    guard let image = try? Image(data: bytes, path: "fuzz.jpg", maxPixels: 1 << 22) else { return }
    touchEveryElement(image.tensor())
}
