import XCTest
import Foundation
@testable import DeepCore
import TestSupport

/// Reading torch.save files (issue 20) against files written by PyTorch
/// (Tests/Fixtures/make_torchsave.py): every dtype, views and shared storages, pickle protocols
/// 2 and 5, a checkpoint dict; and the restricted unpickler refusing what it must.
final class TorchFileTests: XCTestCase {
    private func torchFixture(_ name: String) -> URL { fixtureURL("torch/" + name) }

    /// Fails unless `body` throws a ``TensorFileError`` of `kind` whose text contains every phrase.
    private func assertTorchError<T>(_ kind: TensorFileError.Kind, _ phrases: String..., file: StaticString = #filePath,
                                     line: UInt = #line, _ body: () throws -> T) {
        do {
            _ = try body()
            XCTFail("nothing was thrown; expected \(kind) saying \(phrases)", file: file, line: line)
        } catch let error as TensorFileError {
            XCTAssertEqual(error.kind, kind, "\(error)", file: file, line: line)
            for phrase in phrases {
                XCTAssertTrue(error.description.contains(phrase), "\"\(phrase)\" not in: \(error)", file: file, line: line)
            }
        } catch {
            XCTFail("expected a TensorFileError, got \(error)", file: file, line: line)
        }
    }

    func testEveryDtypeAndViewInProtocols2And5() throws {
        let expected = loadFixtures("torch/dtypes")
        for name in ["dtypes_p2.pth", "dtypes_p5.pth"] {
            let value = try TorchFile.read(from: torchFixture(name))
            for (key, want) in expected {
                let parts = key.split(separator: ".").map(String.init)
                let got = try XCTUnwrap(value[parts[0]]?[parts[1]]?.tensorValue, "\(name): \(key) missing")
                XCTAssertEqual(got.shape, want.shape, "\(name): \(key)")
                XCTAssertEqual(got.scalars, want.scalars, "\(name): \(key)")
            }
            // Views of one storage share it, as in PyTorch (the storage is read once).
            let offset = try XCTUnwrap(value["views"]?["offset"]?.tensorValue)
            let strided = try XCTUnwrap(value["views"]?["strided"]?.tensorValue)
            XCTAssertTrue(offset.storage === strided.storage, name)
            XCTAssertEqual(offset.offset, 5)
            XCTAssertEqual(strided.strides, [7, 3])
            // Plain values.
            let list = try XCTUnwrap(value["list"]?.items, name)
            XCTAssertEqual(list.count, 6)
            XCTAssertEqual(list[0].intValue, 1)
            XCTAssertEqual(list[1].doubleValue, 2.5)
            XCTAssertEqual(list[2].stringValue, "three")
            guard case .none = list[3], case .bool(true) = list[4], case .tuple(let pair) = list[5] else {
                return XCTFail("\(name): list is \(list)")
            }
            XCTAssertEqual(pair.compactMap(\.intValue), [4, 5])
        }
    }

    func testCheckpointDictGivesTheModelStateDictAndTheRest() throws {
        let url = torchFixture("checkpoint.pth")
        let expected = loadFixtures("torch/checkpoint")
        let state = try TorchFile.readStateDict(from: url)
        XCTAssertEqual(Set(state.keys), Set(expected.keys.filter { $0.hasPrefix("model.") }.map { String($0.dropFirst(6)) }))
        for (key, tensor) in state {
            XCTAssertEqual(tensor.shape, expected["model." + key]!.shape, key)
            XCTAssertEqual(tensor.scalars, expected["model." + key]!.scalars, key)
        }
        let checkpoint = try TorchFile.read(from: url)
        XCTAssertEqual(checkpoint["epoch"]?.intValue, 3)
        let optimizer = try XCTUnwrap(checkpoint["optimizer"])
        let groups = try XCTUnwrap(optimizer["param_groups"]?.items)
        XCTAssertEqual(groups.first?["lr"]?.doubleValue, 1e-3)
        XCTAssertEqual(groups.first?["params"]?.items?.compactMap(\.intValue), Array(0..<6))
        // Optimiser state is keyed by parameter index (integer keys).
        guard case .dictionary(let perParameter)? = optimizer["state"], let first = perParameter.first else {
            return XCTFail("optimizer state is \(String(describing: optimizer["state"]))")
        }
        XCTAssertEqual(first.key.intValue, 0)
        XCTAssertEqual(first.value["exp_avg"]?.tensorValue?.scalars, expected["exp_avg.0"]!.scalars)
        // The optimizer's state is no state dict; the model's is found whatever its key.
        assertTorchError(.invalidField, "not a state dict: key 0 under \"state\" is not a string") { try TorchFile.stateDict(in: optimizer) }
        let nested = TorchValue.dictionary([(.string("state_dict"), .dictionary([(.string("fc"), .dictionary([
            (.string("weight"), .tensor(Tensor([1, 2], shape: [2]))), (.string("bias"), .tensor(Tensor(scalar: 3)))]))]))])
        XCTAssertEqual(try TorchFile.stateDict(in: nested).keys.sorted(), ["fc.bias", "fc.weight"])
        assertTorchError(.invalidField, "key 7 is not a string") {
            try TorchFile.stateDict(in: .dictionary([(.int(7), .tensor(Tensor(scalar: 1)))]))
        }
    }

    func testLegacyFormatThrowsSayingHowToResave() {
        let url = torchFixture("legacy.pth")
        XCTAssertTrue(TorchFile.isTorchSave(url))
        assertTorchError(.unsupportedVersion, url.path, "legacy torch.save format", "torch.save(torch.load(path, weights_only=True), new_path)") {
            try TorchFile.readStateDict(from: url)
        }
        assertTorchError(.badMagic, "not a torch.save zip archive: the file starts with 7b 22") {
            try TorchFile.read(data: Data("{\"a\": 1}".utf8))
        }
        XCTAssertFalse(TorchFile.isTorchSave(fixtureURL("vit_state.safetensors")))
    }

    /// The malicious and broken archives of Tests/Fixtures/malformed/ throw, naming what was refused.
    func testMaliciousAndBrokenArchivesThrowNamingWhatWasRefused() {
        let cases: [(String, TensorFileError.Kind, [String])] = [
            ("os-system", .forbiddenPickle, ["os-system/data.pkl, byte", "global posix.system is not allowed"]),
            ("builtins-eval", .forbiddenPickle, ["global builtins.eval is not allowed"]),
            ("numpy-reconstruct", .forbiddenPickle, ["global numpy.", "multiarray._reconstruct is not allowed"]),
            ("unknown-opcode", .forbiddenPickle, ["unknown-opcode/data.pkl, byte 2: opcode 0x69 ('i', INST) is not allowed"]),
            ("truncated-pickle", .invalidPickle, ["truncated-pickle/data.pkl, byte"]),
            ("missing-storage", .invalidArchive, ["refers to storage \"0\" but the archive has no missing-storage/data/0"]),
            ("deflated", .invalidArchive, ["deflated/data.pkl is compressed"]),
            ("storage-too-small", .sizeMismatch, ["storage-too-small/data/0 has 8 bytes but its FloatStorage of 4 elements needs 16"]),
            ("view-past-storage", .offsetsOutOfRange, ["size [2, 2], stride [1, 1] and storage offset 1 reaches element 3 of storage \"0\", which has 3 elements"]),
            ("not-a-zip", .invalidArchive, ["not a readable zip archive"]),
        ]
        for (name, kind, phrases) in cases {
            let url = fixtureURL("malformed/pth-\(name).pth")
            for phrase in phrases + ["pth-\(name).pth"] {
                assertTorchError(kind, phrase) { try TorchFile.read(from: url) }
            }
        }
    }

    // MARK: The unpickler on hand-made pickles

    /// Unpickles `bytes` as data.pkl and converts the result (storages unloaded: none may be named).
    private func unpickle(_ bytes: [UInt8]) throws -> TorchValue {
        let context = TensorFileContext(format: "torch", path: nil)
        let reader = TorchPickleReader(context: context)
        var unpickler = Unpickler(bytes, record: "t/data.pkl", context: context, callbacks: reader.callbacks)
        defer { PickleValue.dismantle(unpickler.takeRemains()) }
        return try reader.convert(try unpickler.load())
    }

    func testUnpicklerReadsPlainValuesAndRefusesAbuse() throws {
        let p: [UInt8] = [0x80, 2]
        // LONG1 of -2 and 2^40, BINFLOAT, SHORT_BINUNICODE, a list appended after a memo PUT.
        let value = try unpickle(p + [0x28, 0x8a, 1, 0xfe, 0x8a, 6, 0, 0, 0, 0, 0, 1, 0x47, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0,
                                      0x8c, 2, 0x68, 0x69, 0x5d, 0x71, 0, 0x4b, 9, 0x61, 0x68, 0, 0x74, 0x2e])
        let items = try XCTUnwrap(value.items)
        XCTAssertEqual(items[0].intValue, -2)
        XCTAssertEqual(items[1].intValue, 1 << 40)
        XCTAssertEqual(items[2].doubleValue, 1.5)
        XCTAssertEqual(items[3].stringValue, "hi")
        XCTAssertEqual(items[4].items?.compactMap(\.intValue), [9])
        XCTAssertEqual(items[5].items?.compactMap(\.intValue), [9], "a GET after APPEND sees the appended item")
        // Tuples nested a million deep (released without recursion) and a list that contains itself.
        let deep = p + [0x4e] + Array(repeating: 0x85, count: 1_000_000) + [0x2e]
        assertTorchError(.invalidPickle, "more than 200 deep") { try unpickle(deep) }
        assertTorchError(.invalidPickle, "more than 200 deep") { try unpickle(p + [0x5d, 0x71, 0, 0x68, 0, 0x61, 0x2e]) }
        // A memo entry referred to over and over: 2^40 values from a few bytes.
        var laughs = p + [0x4b, 1, 0x71, 0]
        for i in 0..<40 { laughs += [0x68, UInt8(i), 0x68, UInt8(i), 0x86, 0x71, UInt8(i + 1)] }
        assertTorchError(.invalidPickle, "expands to more than") { try unpickle(laughs + [0x2e]) }
        assertTorchError(.invalidPickle, "GET of memo entry 3, which was never PUT") { try unpickle(p + [0x68, 3, 0x2e]) }
        assertTorchError(.invalidPickle, "t/data.pkl, byte 2: SETITEM finds too few values") { try unpickle(p + [0x73, 0x2e]) }
        assertTorchError(.invalidPickle, "ends without STOP") { try unpickle(p + [0x4e]) }
        assertTorchError(.unsupportedVersion, "protocols 2 to 5") { try unpickle([0x4e, 0x2e]) }
        assertTorchError(.unsupportedVersion, "pickle protocol 1") { try unpickle([0x80, 1, 0x4e, 0x2e]) }
        assertTorchError(.invalidPickle, "1000 bytes needed") { try unpickle(p + [0x58, 0xe8, 3, 0, 0, 0x61]) }
        // Globals: only the allow-list, also through STACK_GLOBAL; REDUCE only on them.
        assertTorchError(.forbiddenPickle, "global builtins.getattr is not allowed") {
            try unpickle(p + Array("c__builtin__\ngetattr\n".utf8) + [0x2e])
        }
        assertTorchError(.forbiddenPickle, "global subprocess.run is not allowed") {
            try unpickle([0x80, 4, 0x8c, 10] + Array("subprocess".utf8) + [0x8c, 3] + Array("run".utf8) + [0x93, 0x2e])
        }
        assertTorchError(.forbiddenPickle, "REDUCE calls a int") { try unpickle(p + [0x4b, 1, 0x29, 0x52, 0x2e]) }
        assertTorchError(.forbiddenPickle, "BUILD on a list") { try unpickle(p + [0x5d, 0x4e, 0x62, 0x2e]) }
        assertTorchError(.forbiddenPickle, "persistent id that is not") { try unpickle(p + [0x4b, 1, 0x51, 0x2e]) }
        assertTorchError(.invalidPickle, "torch.device uncalled") { try unpickle(p + Array("ctorch\ndevice\n".utf8) + [0x2e]) }
    }
}
