// libFuzzer entry point: the torch.save reader (issue 20) on arbitrary bytes. Any input must
// either load or throw; a trap, an out-of-bounds read or a hang is a bug.
//
// An input starting with "PK" is read as a whole .pth file (the zip layer). Any other input is
// read as the pickle: it becomes the data.pkl of an archive built here, beside storages
// data/0 … data/31 of 512 bytes each, so that mutations reach the unpickler (inside a real
// archive they would mostly break the record's CRC first).
import DeepCore
import Foundation
import FuzzSupport
import ZIPFoundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = fuzzData(data, size)
    read(bytes.starts(with: [0x50, 0x4B]) ? bytes : archive(pickle: bytes))
    return 0
}

/// The reader under test (the one call to change when its API changes).
func read(_ bytes: Data) {
    guard let value = try? TorchFile.read(data: bytes) else { return }
    touch(value)
    _ = try? TorchFile.stateDict(in: value)
}

/// Reads every element of each tensor of `value`; of a tensor too large to read whole (a view
/// with zero strides over a small storage), the last element it reaches.
func touch(_ value: TorchValue) {
    switch value {
    case .tensor(let t):
        if t.count <= 1 << 16 {
            touchEveryElement(t)
        } else {
            let last = zip(t.shape, t.strides).reduce(t.offset) { $0 + ($1.0 - 1) * $1.1 }
            precondition(last < t.storage.count, "a view of shape \(t.shape) reaches past its storage")
            _ = t.storage.pointer[last]
        }
    case .list(let items), .tuple(let items): items.forEach(touch)
    case .dictionary(let pairs): pairs.forEach { touch($0.key); touch($0.value) }
    default: break
    }
}

/// A torch.save archive (top folder "archive") with `pickle` as its data.pkl.
func archive(pickle: Data) -> Data {
    do {
        let archive = try Archive(accessMode: .create)
        func add(_ name: String, _ bytes: Data) throws {
            try archive.addEntry(with: "archive/" + name, type: .file, uncompressedSize: Int64(bytes.count)) { position, size in
                bytes.subdata(in: Int(position)..<(Int(position) + size))
            }
        }
        try add("data.pkl", pickle)
        try add("byteorder", Data("little".utf8))
        for key in 0..<32 { try add("data/\(key)", storageBytes) }
        return archive.data ?? Data()
    } catch {
        fatalError("fuzz harness: cannot build an archive: \(error)")
    }
}

/// The bytes of every storage: a ramp, so that converted values differ.
private let storageBytes = Data((0..<512).map { UInt8(truncatingIfNeeded: $0 &* 37) })
