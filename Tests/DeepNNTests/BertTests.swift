import XCTest
import Foundation
import DeepCore
import DeepNN

/// BertModel against Hugging Face transformers' `BertModel` (Tests/Fixtures/make_bert.py: vocab
/// 120, hidden 32, 2 layers, 4 heads, intermediate 64, 40 positions, 2 token types).
final class BertTests: XCTestCase {
    private let fixtures = loadFixtures("bert_tiny")

    /// The fixture's model with its weights, in evaluation mode.
    private func fixtureModel(config name: String = "bert_tiny_config.json") throws -> BertModel {
        let model = BertModel(config: try BertConfig(contentsOf: fixtureURL(name)))
        try model.loadHuggingFace(from: fixtureURL("bert_tiny.safetensors"))
        model.eval()
        return model
    }

    private func run(_ model: BertModel, _ batch: String) -> BertOutput {
        model(inputIds: fixtures["\(batch).ids"]!, attentionMask: fixtures["\(batch).mask"]!,
              tokenTypeIds: fixtures["\(batch).types"])
    }

    func testReadsTheConfigFile() throws {
        let config = try BertConfig(contentsOf: fixtureURL("bert_tiny_config.json"))
        XCTAssertEqual(config, BertConfig(vocabSize: 120, hiddenSize: 32, numHiddenLayers: 2, numAttentionHeads: 4,
                                          intermediateSize: 64, maxPositionEmbeddings: 40))
        XCTAssertEqual(config.layerNormEps, 1e-12)
        XCTAssertEqual(try BertConfig(contentsOf: fixtureURL("bert_tiny_gelu_new_config.json")).hiddenAct, .geluTanh)
    }

    func testStateDictKeysAreHuggingFaces() throws {
        let model = BertModel(config: try BertConfig(contentsOf: fixtureURL("bert_tiny_config.json")))
        let file = try Safetensors.readWithMetadata(from: fixtureURL("bert_tiny.safetensors"))
        let keys = file.metadata["keys"]!.split(separator: ",").map(String.init)
        XCTAssertEqual(keys.count, 39)
        XCTAssertEqual(model.stateDictKeys, keys)
        XCTAssertTrue(keys.contains("encoder.layer.1.attention.self.query.weight"))
        XCTAssertTrue(keys.contains("embeddings.LayerNorm.bias"))
        let headless = BertModel(config: model.config, addPoolingLayer: false)
        XCTAssertEqual(headless.stateDictKeys, keys.filter { !$0.hasPrefix("pooler.") })
    }

    func testMatchesTransformersOutputs() throws {
        let model = try fixtureModel()
        for batch in ["b0", "b1", "b2"] {
            let out = withoutGrad { run(model, batch) }
            assertClose(out.lastHiddenState, fixtures["\(batch).last"]!, atol: 1e-5, rtol: 1e-4, "\(batch) last_hidden_state")
            assertClose(out.poolerOutput!, fixtures["\(batch).pooled"]!, atol: 1e-5, rtol: 1e-4, "\(batch) pooler_output")
        }
        let tanhModel = try fixtureModel(config: "bert_tiny_gelu_new_config.json")
        let out = withoutGrad { run(tanhModel, "b1") }
        assertClose(out.lastHiddenState, fixtures["gelu_new.b1.last"]!, atol: 1e-5, rtol: 1e-4, "gelu_new last_hidden_state")
        assertClose(out.poolerOutput!, fixtures["gelu_new.b1.pooled"]!, atol: 1e-5, rtol: 1e-4, "gelu_new pooler_output")
    }

    func testGradientsMatchTransformers() throws {
        let model = try fixtureModel()
        (run(model, "b1").lastHiddenState * fixtures["b1.w"]!).sum().backward()
        assertClose(model.embeddings.wordEmbeddings.weight.grad!, fixtures["b1.d_word"]!, atol: 1e-5, rtol: 1e-4,
                    "gradient of embeddings.word_embeddings.weight")
        assertClose(model.encoder.layer[1].attention.selfAttention.query.weight.grad!, fixtures["b1.d_query1"]!,
                    atol: 1e-5, rtol: 1e-4, "gradient of encoder.layer.1.attention.self.query.weight")
        // The padding row gets no gradient.
        XCTAssertTrue(model.embeddings.wordEmbeddings.weight.grad![0].scalars.allSatisfy { $0 == 0 })
    }

    func testTrainingModeAppliesDropout() throws {
        let model = try fixtureModel()
        model.train()
        manualSeed(1)
        let first = run(model, "b1").lastHiddenState, second = run(model, "b1").lastHiddenState
        XCTAssertGreaterThan((first - second).abs().max().item(), 1e-3)
        XCTAssertTrue(first.scalars.allSatisfy(\.isFinite))
        model.eval()
        assertClose(withoutGrad { run(model, "b1").lastHiddenState }, fixtures["b1.last"]!, atol: 1e-5, rtol: 1e-4, "after train()")
    }

    func testPaddingDoesNotChangeTheRealTokens() throws {
        let model = try fixtureModel()
        // Row 1 of b1 has 5 real tokens out of 9: alone and unpadded, or with other padding ids,
        // its real positions come out the same.
        let ids = fixtures["b1.ids"]![1].unsqueezed(axis: 0), types = fixtures["b1.types"]![1].unsqueezed(axis: 0)
        let mask = fixtures["b1.mask"]![1].unsqueezed(axis: 0)
        let padded = withoutGrad { model(inputIds: ids, attentionMask: mask, tokenTypeIds: types).lastHiddenState }
        let alone = withoutGrad {
            model(inputIds: ids.narrowed(axis: 1, start: 0, length: 5), tokenTypeIds: types.narrowed(axis: 1, start: 0, length: 5))
        }
        assertClose(padded.narrowed(axis: 1, start: 0, length: 5), alone.lastHiddenState, atol: 1e-5, rtol: 1e-4, "unpadded")
        let otherPadding = Tensor.concatenate([ids.narrowed(axis: 1, start: 0, length: 5), Tensor([7, 99, 3, 50], shape: [1, 4])], axis: 1)
        let changed = withoutGrad { model(inputIds: otherPadding, attentionMask: mask, tokenTypeIds: types).lastHiddenState }
        assertClose(changed.narrowed(axis: 1, start: 0, length: 5), padded.narrowed(axis: 1, start: 0, length: 5),
                    atol: 1e-6, rtol: 1e-6, "other ids at padding positions")
        // Without the mask the padding is attended to, and the real tokens change.
        let unmasked = withoutGrad { model(inputIds: ids, tokenTypeIds: types).lastHiddenState }
        XCTAssertGreaterThan((unmasked - padded).narrowed(axis: 1, start: 0, length: 5).abs().max().item(), 1e-3)
    }

    func testGradientsMatchFiniteDifferences() {
        manualSeed(3)
        let config = BertConfig(vocabSize: 10, hiddenSize: 8, numHiddenLayers: 1, numAttentionHeads: 2, intermediateSize: 16,
                                maxPositionEmbeddings: 6, initializerRange: 0.5)
        let model = BertModel(config: config)
        model.eval()
        let ids = Tensor([1, 4, 9, 2, 0, 3, 5, 7, 8, 6], shape: [2, 5])
        let mask = Tensor([1, 1, 1, 1, 0, 1, 1, 1, 1, 1], shape: [2, 5])
        let types = Tensor([0, 0, 1, 1, 1, 0, 1, 0, 1, 0], shape: [2, 5])
        let layer = model.encoder.layer[0]
        let parameters = [layer.attention.selfAttention.key.weight, layer.attention.selfAttention.value.bias!,
                          layer.intermediate.dense.weight, model.embeddings.tokenTypeEmbeddings.weight, model.pooler!.dense.weight]
        assertGradientsMatchFiniteDifferences(parameters, eps: 1e-2, atol: 3e-3, rtol: 3e-2) { _ in
            let out = model(inputIds: ids, attentionMask: mask, tokenTypeIds: types)
            return Tensor.concatenate([out.lastHiddenState.reshaped([2, -1]), out.poolerOutput!], axis: 1)
        }
    }

    func testFreshModelHasHuggingFaceInitialisation() {
        manualSeed(0)
        let model = BertModel(config: BertConfig(vocabSize: 50, hiddenSize: 64, numHiddenLayers: 1, numAttentionHeads: 4,
                                                 intermediateSize: 128, maxPositionEmbeddings: 16))
        let query = model.encoder.layer[0].attention.selfAttention.query.weight.scalars
        let std = (query.map { $0 * $0 }.reduce(0, +) / Float(query.count)).squareRoot()
        XCTAssertEqual(std, 0.02, accuracy: 0.002)
        XCTAssertTrue(model.embeddings.wordEmbeddings.weight[0].scalars.allSatisfy { $0 == 0 })
        XCTAssertTrue(model.pooler!.dense.bias!.scalars.allSatisfy { $0 == 0 })
        XCTAssertTrue(model.embeddings.layerNorm.weight!.scalars.allSatisfy { $0 == 1 })
        XCTAssertTrue(model.parameters.allSatisfy(\.requiresGrad))
    }

    func testLoadsOldCheckpointsAndModelFolders() throws {
        let state = try Safetensors.read(from: fixtureURL("bert_tiny.safetensors"))
        let config = try BertConfig(contentsOf: fixtureURL("bert_tiny_config.json"))
        var old = state
        old["embeddings.position_ids"] = Tensor((0..<40).map(Float.init), shape: [1, 40])
        try BertModel(config: config).loadHuggingFaceStateDict(old)
        // A BertFor… checkpoint: the encoder under "bert.", a head beside it.
        var prefixed = Dictionary(uniqueKeysWithValues: state.map { ("bert." + $0.key, $0.value) })
        prefixed["cls.predictions.bias"] = Tensor(zeros: [120])
        XCTAssertThrowsError(try BertModel(config: config).loadHuggingFaceStateDict(prefixed)) { error in
            XCTAssertEqual((error as? StateDictError)?.unexpectedKeys, ["cls.predictions.bias"])
        }
        let loaded = try BertModel(config: config).loadHuggingFaceStateDict(prefixed, strict: false)
        XCTAssertEqual(loaded.missing, [])

        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bert-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.copyItem(at: fixtureURL("bert_tiny_config.json"), to: folder.appendingPathComponent("config.json"))
        XCTAssertThrowsError(try BertModel.load(directory: folder)) { error in
            XCTAssertTrue("\(error)".contains("pytorch_model.bin"), "\(error)")
        }
        try FileManager.default.copyItem(at: fixtureURL("bert_tiny.safetensors"), to: folder.appendingPathComponent("model.safetensors"))
        let model = try BertModel.load(directory: folder)
        model.eval()
        assertClose(withoutGrad { run(model, "b0").lastHiddenState }, fixtures["b0.last"]!, atol: 1e-5, rtol: 1e-4, "folder")
    }

    func testConfigErrorsNameTheFileAndTheField() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bert-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let base = #""vocab_size": 100, "num_hidden_layers": 2, "intermediate_size": 64"#
        let cases: [(String, String, String)] = [
            (#"{\#(base), "num_attention_heads": 4}"#, "hidden_size", "missing"),
            (#"{\#(base), "hidden_size": 30, "num_attention_heads": 4}"#, "num_attention_heads", "do not divide"),
            (#"{\#(base), "hidden_size": "big", "num_attention_heads": 4}"#, "hidden_size", "not a valid"),
            (#"{"vocab_size": 0, "num_hidden_layers": 2, "intermediate_size": 64, "hidden_size": 32, "num_attention_heads": 4}"#,
             "vocab_size", "positive"),
            (#"{\#(base), "hidden_size": 32, "num_attention_heads": 4, "hidden_act": "gelu_fancy"}"#, "hidden_act", "gelu_fancy"),
            (#"{\#(base), "hidden_size": 32, "num_attention_heads": 4, "position_embedding_type": "relative_key"}"#,
             "position_embedding_type", "not supported"),
            (#"{\#(base), "hidden_size": 32, "num_attention_heads": 4, "pad_token_id": 100}"#, "pad_token_id", "0..<vocab_size"),
            (#"{\#(base), "hidden_size": 32, "num_attention_heads": 4, "model_type": "roberta"}"#, "model_type", "roberta"),
        ]
        for (i, (json, field, reason)) in cases.enumerated() {
            let url = folder.appendingPathComponent("config\(i).json")
            try Data(json.utf8).write(to: url)
            XCTAssertThrowsError(try BertConfig(contentsOf: url), json) { error in
                guard let error = error as? BertConfigError else { return XCTFail("\(error)") }
                XCTAssertEqual(error.source, url.path)
                XCTAssertEqual(error.field, field, "\(error)")
                XCTAssertTrue(error.reason.contains(reason), "\(error)")
                XCTAssertTrue(error.description.contains(url.path) && error.description.contains(field), error.description)
            }
        }
        let url = folder.appendingPathComponent("ok.json")
        try Data(#"{\#(base), "hidden_size": 32, "num_attention_heads": 4, "pad_token_id": null, "unknown": [1]}"#.utf8).write(to: url)
        XCTAssertNil(try BertConfig(contentsOf: url).padTokenId)
        XCTAssertThrowsError(try BertConfig(contentsOf: folder.appendingPathComponent("absent.json"))) { error in
            XCTAssertTrue("\(error)".contains("absent.json"), "\(error)")
        }
    }

    func testShapeOnlySummaryAndShapeErrors() throws {
        let model = BertModel(config: try BertConfig(contentsOf: fixtureURL("bert_tiny_config.json")))
        let summary = try model.summary(inputs: [[2, 8], [2, 8], [2, 8]]) { x in
            model(inputIds: x[0], attentionMask: x[1], tokenTypeIds: x[2]).lastHiddenState
        }
        XCTAssertEqual(summary.outputShape, [2, 8, 32])
        XCTAssertEqual(summary.totalParameters, model.parameterCount)
        XCTAssertEqual(try model.summary(input: [3, 40]).outputShape, [3, 40, 32])
        XCTAssertThrowsError(try model.summary(input: [3, 41])) { error in
            XCTAssertTrue("\(error)".contains("maxPositionEmbeddings 40"), "\(error)")
        }
        XCTAssertThrowsError(try model.summary(inputs: [[2, 8], [2, 7]]) { x in
            model(inputIds: x[0], attentionMask: x[1]).lastHiddenState
        }) { error in
            XCTAssertTrue("\(error)".contains("attentionMask of shape [2, 7]"), "\(error)")
        }
    }
}
