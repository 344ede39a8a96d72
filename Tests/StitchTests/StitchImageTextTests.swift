import DeepCore
import DeepNN
import Foundation
import TestSupport
import XCTest

/// `stitch train|evaluate|summary --task image-text` on the tiny data folder, with the tiny
/// sentence encoder of the fixtures (`Tests/Fixtures/sentence_encoder_tiny`) standing in for
/// all-MiniLM-L6-v2: the jobs run end to end and their options are checked; whether they learn is
/// measured with MiniLM on the whole data set (README).
final class StitchImageTextTests: StitchTestCase {
    /// A quick image–text run: 120 training images (20 held out), batches of 20, the tiny encoder.
    var quick: [String] {
        ["--task", "image-text", "--limit", "120", "--validation-size", "20", "--batch-size", "20",
         "--text-encoder", fixtureURL("sentence_encoder_tiny").path]
    }

    func testClipTrainsEvaluatesAndSummarizes() throws {
        let run = try succeeds(["train"] + quick + ["--epochs", "1", "--output", "clip"])
        for words in ["text encoder (frozen): ", "16 dimensions; captions: 10 classes × 8 templates (\"a photo of a t-shirt.\"",
                      "model clip: ", "CLIP loss", "data: 100 training examples, 20 held out for validation, 50 test examples",
                      "test accuracy: ", "macro F1: ", "per-class test F1: "] {
            XCTAssertTrue(run.stdout.contains(words), "\"\(words)\" not in:\n\(run.stdout)")
        }
        XCTAssertFalse(run.stdout.contains("zero-shot"), run.stdout)
        // The saved weights hold the captions: `evaluate` needs no text encoder and gives the same figures.
        let evaluated = try succeeds(["evaluate", "--weights", "clip/model.safetensors"])
        for prefix in ["test accuracy:", "macro F1:"] {
            XCTAssertEqual(line(prefix, in: evaluated.stdout), line(prefix, in: run.stdout), prefix)
        }
        // Shape-only summaries with two inputs: images and a caption each.
        let clip = try succeeds(["summary", "--task", "image-text"]).stdout
        XCTAssertTrue(clip.contains("CLIPClassifier") && clip.contains("images") && clip.contains("caption embeddings")
                      && clip.contains("projection (Linear)") && clip.contains("[1, 384]"), clip)
        let fusion = try succeeds(["summary", "--model", "fusion", "--input", "2,1,28,28"]).stdout
        XCTAssertTrue(fusion.contains("CaptionMatcher") && fusion.contains("caption tokens") && fusion.contains("fusion (CrossAttentionFusion)")
                      && fusion.contains("[2, 16, 64]"), fusion)
    }

    func testFusionReportsMatchingAndZeroShot() throws {
        let run = try succeeds(["train"] + quick + ["--model", "fusion", "--hold-out", "sandal,9", "--epochs", "1", "--output", "fusion"])
        for words in ["model fusion: ", "matching loss", "(training without the classes Sandal, Ankle boot)",
                      "zero-shot accuracy on the classes held out of training (Sandal, Ankle boot): ",
                      "held-out images most often taken for: Sandal as ", "; accuracy among the held-out classes' captions alone: ",
                      "matching accuracy (each test image with its caption and a hard negative): ", "hard negatives rejected "] {
            XCTAssertTrue(run.stdout.contains(words), "\"\(words)\" not in:\n\(run.stdout)")
        }
        // 100 of the 120 images minus the held-out classes' train on.
        let data = try XCTUnwrap(line("data: ", in: run.stdout))
        XCTAssertFalse(data.hasPrefix("data: 100 training examples"), String(data))
    }

    func testResumeKeepsTheTextSettings() throws {
        let paused = try succeeds(["train"] + quick + ["--hold-out", "3", "--epochs", "2", "--stop-after", "1", "--output", "run"])
        XCTAssertTrue(paused.stdout.contains("stopped after epoch 1 of 2"), paused.stdout)
        let refused = try stitch("train", "--resume", "--hold-out", "4", "--output", "run")
        XCTAssertEqual(refused.status, 64, refused.stderr)
        XCTAssertTrue(refused.stderr.contains("--hold-out 4 differs from the run"), refused.stderr)
        let missing = try stitch("train", "--resume", "--text-encoder", "elsewhere", "--output", "run")
        XCTAssertEqual(missing.status, 64, missing.stderr)
        XCTAssertTrue(missing.stderr.contains("--text-encoder elsewhere is not a folder"), missing.stderr)
        // The encoder's folder may move: the run's captions are in its checkpoint.
        try FileManager.default.copyItem(at: fixtureURL("sentence_encoder_tiny"), to: path("moved"))
        let resumed = try succeeds("train", "--resume", "--text-encoder", "moved", "--output", "run")
        XCTAssertTrue(resumed.stdout.contains("resumed after epoch 1") && resumed.stdout.contains("zero-shot accuracy on the classes held out of training (Dress)"),
                      resumed.stdout)
    }

    func testWrongOptionsAreRefusedOnOneLine() throws {
        let cases: [([String], String)] = [
            (["--task", "image-text", "--text-encoder", "no/such/folder"], "--text-encoder no/such/folder is not a folder; fetch all-MiniLM-L6-v2"),
            (["--task", "image-text", "--hold-out", "sandals"], "\"sandals\" is no Fashion-MNIST class"),
            (["--task", "image-text", "--hold-out", "0,1,2,3,4,5,6,7,8,9"], "holding out every class leaves nothing to train on"),
            (["--hold-out", "5"], "--hold-out applies to --task image-text only"),
            (["--model", "unet", "--text-encoder", "x"], "--text-encoder applies to --task image-text only"),
            (["--task", "image-text", "--model", "cnn"], "--task image-text does not fit model cnn"),
        ]
        for (arguments, message) in cases {
            let run = try start(["train", "--output", "refused"] + arguments).finish()
            XCTAssertEqual(run.status, 64, "\(arguments): \(run.stderr)")
            XCTAssertEqual(run.errorLines.count, 1, "\(arguments): \(run.stderr)")
            XCTAssertTrue(run.stderr.contains(message), "\(arguments): \(run.stderr)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("refused/checkpoint.safetensors").path))
    }
}
