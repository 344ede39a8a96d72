import XCTest
import Foundation
import DeepCore

// Helpers for tests of tensor files (safetensors, npy).

/// Fails unless `body` throws a ``TensorFileError`` of `kind`, naming `key` and `byteOffset`
/// when given and with `mentioning` in its text; returns the error.
@discardableResult
public func assertTensorFileError<T>(_ kind: TensorFileError.Kind, key: String? = nil, at byteOffset: Int? = nil,
                                     mentioning words: String? = nil, file: StaticString = #filePath, line: UInt = #line,
                                     _ body: () throws -> T) -> TensorFileError? {
    do {
        _ = try body()
        XCTFail("expected a TensorFileError of kind \(kind), nothing was thrown", file: file, line: line)
    } catch let error as TensorFileError {
        XCTAssertEqual(error.kind, kind, "\(error)", file: file, line: line)
        if let key { XCTAssertEqual(error.key, key, "\(error)", file: file, line: line) }
        if let byteOffset { XCTAssertEqual(error.byteOffset, byteOffset, "\(error)", file: file, line: line) }
        if let words { XCTAssertTrue(error.description.contains(words), "\"\(words)\" not in: \(error)", file: file, line: line) }
        return error
    } catch {
        XCTFail("expected a TensorFileError of kind \(kind), got \(error)", file: file, line: line)
    }
    return nil
}

extension XCTestCase {
    /// A new empty directory, removed when the test ends.
    public func makeTemporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("DeepCoreTests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }
}
