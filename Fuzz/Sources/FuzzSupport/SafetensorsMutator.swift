import CFuzzerDriver

/// A custom mutation for safetensors files (`LLVMFuzzerCustomMutator` of the targets that read
/// them): libFuzzer's mutation, then, for every other input, the 8-byte header length rewritten
/// to fit the mutated JSON header. Without it nearly every change to the header (a longer shape,
/// a bigger number) also breaks the length and is refused before the header is looked at; with
/// it the failing inputs are still plain files.
/// - Parameters:
///   - data: the input, mutated in place.
///   - size: its size.
///   - maxSize: the room in `data`.
///   - seed: libFuzzer's random seed for this mutation.
/// - Returns: the new size.
public func mutateSafetensors(_ data: UnsafeMutablePointer<UInt8>?, _ size: Int, _ maxSize: Int, _ seed: UInt32) -> Int {
    guard let data else { return 0 }
    let mutated = LLVMFuzzerMutate(data, size, maxSize)
    if seed % 2 == 0 { fitHeaderLength(UnsafeMutableBufferPointer(start: data, count: mutated)) }
    return mutated
}

/// Rewrites the little-endian header length in the first 8 bytes of `file` to span the JSON
/// object that starts at byte 8 and the spaces after it (the writers' padding); leaves `file`
/// alone when no complete object starts there.
func fitHeaderLength(_ file: UnsafeMutableBufferPointer<UInt8>) {
    guard file.count > 8, file[8] == UInt8(ascii: "{"), var end = closingBrace(in: file, from: 8) else { return }
    while end + 1 < file.count, file[end + 1] == UInt8(ascii: " ") { end += 1 }
    var length = UInt64(end - 7).littleEndian
    withUnsafeBytes(of: &length) { bytes in for i in 0..<8 { file[i] = bytes[i] } }
}

/// The index of the `}` closing the JSON object whose `{` is at `start` (braces inside strings
/// do not count), or nil.
private func closingBrace(in bytes: UnsafeMutableBufferPointer<UInt8>, from start: Int) -> Int? {
    var depth = 0, inString = false, escaped = false
    for i in start..<bytes.count {
        let byte = bytes[i]
        if inString {
            if escaped { escaped = false } else if byte == UInt8(ascii: "\\") { escaped = true } else if byte == UInt8(ascii: "\"") { inString = false }
        } else if byte == UInt8(ascii: "\"") {
            inString = true
        } else if byte == UInt8(ascii: "{") {
            depth += 1
        } else if byte == UInt8(ascii: "}") {
            depth -= 1
            if depth == 0 { return i }
        }
    }
    return nil
}
