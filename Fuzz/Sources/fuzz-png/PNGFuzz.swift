// libFuzzer entry point: the PNG decoder (CPNG over libpng) on arbitrary bytes, as an image. Any
// input must either decode or throw an ImageFileError; a trap, an
// out-of-bounds access or a hang is a bug. What decodes is encoded again and must decode to itself.
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
    guard let image = try? Image(data: bytes, path: "fuzz.png", maxPixels: 1 << 22) else { return }
    touchEveryElement(image.tensor())
    if let again = try? Image(data: image.encoded(as: .png)), again != image { fatalError("PNG round trip changed the image") }
}
