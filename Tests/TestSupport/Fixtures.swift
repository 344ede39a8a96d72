import Foundation
import DeepCore

/// Path of a fixture file under `Tests/Fixtures/`.
public func fixtureURL(_ name: String) -> URL {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures").appendingPathComponent(name)
}

private struct FixtureEntry: Decodable {
    let shape: [Int]
    let data: [Double]
}

/// Reads `Tests/Fixtures/<name>.json`, written by a script beside it (see `fixture_util.py`),
/// as tensors by key. Fails the calling test by trapping with the file name when it is missing.
public func loadFixtures(_ name: String) -> [String: Tensor] {
    let url = fixtureURL(name + ".json")
    guard let data = try? Data(contentsOf: url) else { fatalError("fixture \(url.path) is missing: run its script under Tests/Fixtures") }
    do {
        let entries = try JSONDecoder().decode([String: FixtureEntry].self, from: data)
        return entries.mapValues { Tensor($0.data.map(Float.init), shape: $0.shape) }
    } catch {
        fatalError("fixture \(url.path) is malformed: \(error)")
    }
}
