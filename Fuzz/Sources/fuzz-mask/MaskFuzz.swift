// libFuzzer entry point: the class-index mask reader (`Image(maskData:)`, what SegmentationFolder
// reads masks with: PNG gray or palette, indices unscaled) on arbitrary bytes. Any input must
// either decode to one channel of class indices or throw an ImageFileError; a trap, an
// out-of-bounds access or a hang is a bug. What decodes becomes a (H, W) target as
// SegmentationFolder makes it, is encoded again as a gray PNG and must read back to itself.
import DeepCore
@testable import DeepNN
import Foundation
import FuzzSupport

/// Reads `bytes` as a mask and checks what decodes (the reader's call is the one line to change
/// when its API changes). At most 2^22 pixels (the library allows 2^28): the same checks, within
/// libFuzzer's limits.
func checkMask(_ bytes: Data) {
    guard let mask = try? Image(maskData: bytes, path: "fuzz-mask.png", maxPixels: 1 << 22) else { return }
    if mask.channels != 1 { fatalError("the mask reader returned \(mask.channels) channels") }
    let target = mask.tensor(scaled: false).reshaped([mask.height, mask.width])
    let largest: Float = mask.bitDepth == 16 ? 65535 : 255
    if !target.scalars.allSatisfy({ $0 >= 0 && $0 <= largest && $0.rounded() == $0 }) {
        fatalError("a mask value is not a class index 0…\(Int(largest))")
    }
    if let again = try? Image(maskData: mask.encoded(as: .png)), again != mask { fatalError("mask round trip changed the classes") }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    checkMask(fuzzData(data, size))
    return 0
}
