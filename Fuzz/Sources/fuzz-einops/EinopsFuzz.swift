// libFuzzer entry point: einops' rearrange, reduce and repeat with a pattern and axis sizes from
// the input, on a small tensor. Any pattern and any sizes must either work or throw an
// EinopsError; a trap (overflowing sizes), a hang or a huge allocation is a bug.
//
// Input (UTF-8 text, as in Fuzz/corpus/einops): the first line is the pattern; each further line
// is `name=value`, an axis size, or `shape=d0,d1,…`, the input's shape (default 2,3,4; ignored
// beyond 8 axes or 4096 elements or with an axis outside 0...4096). Lines without `=` are ignored.
import DeepCore
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let request = EinopsRequest(text: String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self))
    apply(request)
    return 0
}

/// The operations under test (the calls to change when their API changes): each with the
/// pattern alone, then with the sizes (a pattern analysed once is cached, and its reuse with
/// other sizes must be checked as strictly as a first use).
func apply(_ request: EinopsRequest) {
    let x = Tensor((0..<request.shape.reduce(1, *)).map(Float.init), shape: request.shape)
    let bounded = request.outputIsBounded
    for sizes in request.sizes.isEmpty ? [[:]] : [[:], request.sizes] {
        _ = try? x.rearranged(request.pattern, sizes)
        _ = try? Tensor.rearranged([x, x], request.pattern, sizes)
        if bounded || x.count > 0 {
            for reduction in EinopsReduction.allCases { _ = try? x.reduced(request.pattern, reduction, sizes) }
        }
        if bounded { _ = try? x.repeated(request.pattern, sizes) }
    }
}

/// A pattern, axis sizes and an input shape parsed from the fuzzer's text.
struct EinopsRequest {
    /// Most elements of the input tensor, and longest axis (the harness's bounds, not the
    /// library's: the input is not what is tested).
    static let maxInputCount = 4096
    /// Most elements an operation may legitimately produce in the harness.
    static let maxOutputCount = 1 << 20

    var pattern = ""
    var sizes: [String: Int] = [:]
    var shape = [2, 3, 4]

    init(text: String) {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        pattern = lines.first.map(String.init) ?? ""
        for line in lines.dropFirst() {
            guard let equals = line.firstIndex(of: "=") else { continue }
            let name = String(line[..<equals]), value = line[line.index(after: equals)...]
            if name == "shape" {
                let dims = value.split(separator: ",").compactMap { Int($0) }
                if dims.count <= 8, dims.allSatisfy({ (0...Self.maxInputCount).contains($0) }),
                   let count = Self.checkedProduct(dims), count <= Self.maxInputCount { shape = dims }
            } else if let size = Int(value) {
                sizes[name] = size
            }
        }
    }

    /// Whether every operation can be called without the harness asking for a legitimately huge
    /// tensor: the output has at most input count × every size × every number in the pattern
    /// elements. Below ``maxOutputCount`` it is small; past `Int.max` no result can exist, so
    /// the library must throw; in between a correct library may allocate, and `repeat` (or
    /// `reduce` of an empty input, whose kept axes may be as long as the sizes say) is skipped.
    /// `rearrange` and `reduce` of a non-empty input never make more elements than they get.
    var outputIsBounded: Bool {
        var factors = shape + sizes.values.map { $0 == Int.min ? Int.max : abs($0) }
        for digits in pattern.split(whereSeparator: { !("0"..."9").contains($0) }) {
            guard let literal = Int(digits) else { return true }
            factors.append(literal)
        }
        guard let bound = Self.checkedProduct(factors.map { max($0, 1) }) else { return true }
        return bound <= Self.maxOutputCount
    }

    /// The product of `values`, or nil when it overflows.
    static func checkedProduct(_ values: [Int]) -> Int? {
        var product = 1
        for v in values {
            let (p, overflow) = product.multipliedReportingOverflow(by: v)
            if overflow { return nil }
            product = p
        }
        return product
    }
}
