import DeepCore
import DeepNN
import Foundation

extension Workloads {
    /// The model folder of all-MiniLM-L6-v2: `DEEPSTITCH_MINILM_DIR`, else where
    /// `scripts/fetch-minilm.sh` unpacks it.
    static var miniLMFolder: URL {
        if let path = ProcessInfo.processInfo.environment["DEEPSTITCH_MINILM_DIR"] { return URL(fileURLWithPath: path) }
        let cache = ProcessInfo.processInfo.environment["XDG_CACHE_HOME"] ?? (NSHomeDirectory() + "/.cache")
        return URL(fileURLWithPath: cache).appendingPathComponent("deepstitch/all-MiniLM-L6-v2")
    }

    /// Sentence embeddings with the pretrained all-MiniLM-L6-v2 (`SentenceEncoder`, at most 64
    /// tokens per sentence): one batch of 32 sentences — the first 32 of
    /// `Tests/Fixtures/minilm_sentences.txt` (English, other languages, punctuation, emoji) —
    /// tokenized, encoded, mean-pooled and normalised; `sentences_per_s` is what
    /// `Tests/Fixtures/check_minilm.py --time-only` gives for sentence-transformers. Validated:
    /// unit-length rows, the same embeddings on a second call (the equality with
    /// sentence-transformers is `scripts/check-minilm.sh`'s).
    static let miniLMEncode = Workload(name: "minilm_encode_b32") { timing in
        let folder = miniLMFolder
        guard FileManager.default.fileExists(atPath: folder.appendingPathComponent("modules.json").path) else {
            throw BenchmarkValidationError(description: "minilm_encode_b32: no model in \(folder.path); fetch it with `bash scripts/fetch-minilm.sh`")
        }
        let loaded = try SentenceEncoder.load(directory: folder)
        let encoder = SentenceEncoder(tokenizer: loaded.tokenizer, model: loaded.model, pooling: loaded.pooling,
                                      normalizes: loaded.normalizes, maxSequenceLength: 64)
        let text = try String(contentsOfFile: "Tests/Fixtures/minilm_sentences.txt", encoding: .utf8)
        let batch = Array(text.split(separator: "\n").map(String.init).prefix(32))
        guard batch.count == 32 else { throw BenchmarkValidationError(description: "minilm_encode_b32: \(batch.count) sentences, not 32") }
        let first = encoder.encode(batch)
        let norms = (first * first).sum(axis: 1).scalars
        try validate("minilm_encode_b32 norms", norms, Array(repeating: 1, count: 32), tolerance: 1e-5)
        try validate("minilm_encode_b32 repeat", encoder.encode(batch).scalars, first.scalars, tolerance: 0)
        let ms = timing.medianMilliseconds { _ = encoder.encode(batch) }
        return [resultLine("minilm_encode_b32", ms: ms, extra: ["sentences_per_s": 32_000 / ms])]
    }
}
