import XCTest

/// Every option is checked before any work: a wrong one stops `stitch` with exit code 64
/// (EX_USAGE), one line saying what is allowed, and nothing written.
final class StitchOptionTests: StitchTestCase {
    func assertRefused(_ arguments: [String], _ words: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let child = try start(arguments, file: file, line: line)
        let run = child.finish()
        let command = "stitch " + arguments.joined(separator: " ")
        XCTAssertEqual(run.reason, .exit, "\(command) trapped: \(run.stderr)", file: file, line: line)
        XCTAssertEqual(run.status, 64, "\(command): \(run.stderr)", file: file, line: line)
        XCTAssertEqual(run.errorLines.count, 1, "\(command) should say what is wrong on one line:\n\(run.stderr)", file: file, line: line)
        XCTAssertTrue(run.stderr.contains(words), "\(command): \"\(words)\" not in: \(run.stderr)", file: file, line: line)
        XCTAssertEqual(run.stdout, "", "\(command) should do no work", file: file, line: line)
    }

    func testTrainingOptions() throws {
        let batch = "is invalid for '--batch-size <batch-size>': a whole number from 1 to 100000 is expected"
        try assertRefused(["train", "--batch-size", "0"], "The value '0' " + batch)
        try assertRefused(["train", "--batch-size=-5"], "The value '-5' " + batch)
        try assertRefused(["train", "--batch-size", "-5"], "The value '-5' " + batch)
        try assertRefused(["train", "--batch-size", "9223372036854775807"], batch)
        let limit = "is invalid for '--limit <limit>': a whole number at least 1 is expected"
        try assertRefused(["train", "--limit=-1"], "The value '-1' " + limit)
        try assertRefused(["train", "--limit", "0"], "The value '0' " + limit)
        try assertRefused(["train", "--limit", "99999999999999999999"], limit)
        try assertRefused(["train", "--validation-size=-1"],
                          "The value '-1' is invalid for '--validation-size <validation-size>': a whole number at least 0 is expected")
        try assertRefused(["train", "--validation-size", "99999999999999999999"], "a whole number at least 0 is expected")
        // Sizes that do not fit the data's 200 training examples.
        try assertRefused(["train", "--validation-size", "201"], "--validation-size 201 is more than the 200 training examples; choose from 0 to 136")
        try assertRefused(["train", "--validation-size", "150"],
                          "--validation-size 150 leaves 50 of the 200 training examples to train on, fewer than --batch-size 64; "
                              + "choose a validation size from 0 to 136 or a smaller batch size")
        try assertRefused(["train", "--validation-size", "200", "--batch-size", "1"], "--validation-size 200 leaves 0 of the 200 training examples")
        try assertRefused(["train", "--limit", "64"], "--validation-size 5 (the default) leaves 59 of the 64 training examples to train on")
        try assertRefused(["train", "--batch-size", "300"], "--batch-size 300 is more than the 200 training examples; choose a batch size from 1 to 200")
        let workers = "is invalid for '--num-workers <num-workers>': a whole number from 0 to 64 is expected"
        try assertRefused(["train", "--num-workers", "-1"], "The value '-1' " + workers)
        try assertRefused(["train", "--num-workers", "65"], "The value '65' " + workers)
        try assertRefused(["evaluate", "--num-workers", "65"], "The value '65' " + workers)
        let epochs = "is invalid for '--epochs <epochs>': a whole number from 1 to 10000 is expected"
        try assertRefused(["train", "--epochs", "0"], "The value '0' " + epochs)
        try assertRefused(["train", "--epochs", "-1"], "The value '-1' " + epochs)
        try assertRefused(["train", "--epochs=-1"], "The value '-1' " + epochs)
        try assertRefused(["train", "--epochs", "9223372036854775807"], epochs)
        try assertRefused(["train", "--epochs", "99999999999999999999"], epochs)
        let lr = "is invalid for '--lr <lr>': a finite number greater than 0 is expected"
        try assertRefused(["train", "--lr", "nan"], "The value 'nan' " + lr)
        try assertRefused(["train", "--lr=-1"], "The value '-1' " + lr)
        try assertRefused(["train", "--lr", "inf"], lr)
        try assertRefused(["train", "--seed", "-1"], "is invalid for '--seed <seed>'")
        try assertRefused(["train", "--stop-after", "3", "--epochs", "2"], "--stop-after 3 is beyond --epochs 2")
        try assertRefused(["train", "--model", "nope"], "--model nope is unknown; available: mlp, cnn, cnn-bn")
        try assertRefused(["train", "--optimizer", "rmsprop"], "--optimizer rmsprop is unknown; available: adam, adamw, sgd")
        try assertRefused(["train", "--dataset", "mnist"], "--dataset mnist is unknown")
        try assertRefused(["train", "--data-directory", "nowhere"], "--data-directory nowhere is not a folder")
        XCTAssertEqual(visibleContents, ["data"], "nothing written")
    }

    func testOutputFolderOptions() throws {
        try Data("notes".utf8).write(to: path("notes.txt"))
        try assertRefused(["train", "--output", "notes.txt"], "notes.txt is a file; give a folder")
        try assertRefused(["train", "--resume"], "--resume: no checkpoint.safetensors in")
        try assertRefused(["train", "--resume", "--overwrite"], "--resume and --overwrite exclude each other")
        XCTAssertEqual(visibleContents, ["data", "notes.txt"], "nothing written")
        XCTAssertEqual(try String(contentsOf: path("notes.txt"), encoding: .utf8), "notes")
    }

    func testEvaluateAndSummaryOptions() throws {
        try assertRefused(["evaluate", "--batch-size", "0"], "The value '0' is invalid for '--batch-size <batch-size>'")
        try assertRefused(["evaluate", "--batch-size", "100001"], "a whole number from 1 to 100000 is expected")
        try assertRefused(["evaluate", "--weights", "data"], "--weights data is a folder; give the weights file in it")
        try assertRefused(["evaluate", "--weights", "missing.safetensors"], "--weights missing.safetensors does not exist")
        let sizes = "is invalid for '--input <input>': comma-separated sizes of at least 1 are expected (e.g. 1,1,28,28)"
        try assertRefused(["summary", "--input=-1,1,28,28"], "The value '-1,1,28,28' " + sizes)
        try assertRefused(["summary", "--input", "-1,1,28,28"], "The value '-1,1,28,28' " + sizes)
        try assertRefused(["summary", "--input", "1,x,28,28"], "The value '1,x,28,28' " + sizes)
        try assertRefused(["summary", "--input", "1,1,99999999999,99999999999"], "an input of at most 2147483648 elements is expected")
        try assertRefused(["summary", "--model", "resnet50"], "--model resnet50 is unknown")
    }
}
