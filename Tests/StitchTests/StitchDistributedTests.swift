import DeepCore
import DeepNN
import Foundation
import XCTest

/// Data-parallel training under Open MPI as a user runs it: `mpirun` on loopback with TCP forced
/// (`--mca btl tcp,self`, the path between machines), 2 and 3 ranks. `distributed-check` (built
/// next to `stitch`) checks the library's pieces on every rank; `stitch train` under `mpirun`
/// checks the command line's run, its resume and what happens when a rank dies.
final class StitchDistributedTests: StitchTestCase {
    /// `mpirun` with the options of these tests for `ranks` processes.
    func mpirun(_ ranks: Int) -> [String] {
        ["mpirun", "--allow-run-as-root", "--oversubscribe", "--bind-to", "none", "-np", String(ranks), "--mca", "btl", "tcp,self"]
    }

    /// Lets `mpirun` run as root (CI runs as root) and bounds every collective to 60 s.
    let environment = ["OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1", "DEEPSTITCH_COLLECTIVE_TIMEOUT": "60"]

    /// Runs `program arguments` on `ranks` ranks and checks that every rank ended with status 0.
    @discardableResult
    func succeedsOnRanks(_ ranks: Int, _ arguments: [String], program: String = "stitch",
                         file: StaticString = #filePath, line: UInt = #line) throws -> Run {
        let run = try start(arguments, program: program, launcher: mpirun(ranks), environment: environment, file: file, line: line).finish()
        XCTAssertTrue(run.reason == .exit && run.status == 0,
                      "mpirun -np \(ranks) \(program) \(arguments.joined(separator: " ")) ended with \(run.reason) \(run.status):\n\(run.stdout)\n\(run.stderr)",
                      file: file, line: line)
        return run
    }

    /// After several SGD and AdamW steps every rank's weights equal one process's on the whole
    /// batch, for an MLP, a CNN with SyncBatchNorm and a ViT; gradient accumulation with noSync
    /// equals the large batch; the sampler's shares hold every example; SyncBatchNorm equals
    /// BatchNorm over the whole batch.
    func testDataParallelEqualsOneProcess() throws {
        for ranks in [2, 3] {
            let run = try succeedsOnRanks(ranks, ["equality", "accumulation", "sampler", "syncbatchnorm", "gradient"], program: "distributed-check")
            let passed = run.stdout.split(separator: "\n").filter { $0.hasPrefix("ok ") }.map { String($0.dropFirst(3)) }
            XCTAssertEqual(passed, ["mlp sgd", "mlp adamw", "cnn syncbatchnorm sgd", "cnn syncbatchnorm adamw", "vit sgd", "vit adamw",
                                    "mlp noSync accumulation sgd", "vit noSync accumulation adamw", "sampler",
                                    "SyncBatchNorm forward and running statistics", "summed(over:) gradient against finite differences"],
                           "\(ranks) ranks:\n\(run.stdout)")
        }
    }

    /// `stitch train` under mpirun prints and writes once; a run stopped after epoch 1 and
    /// resumed from rank 0's checkpoint ends as the run that never stopped.
    func testStitchTrainsDataParallelAndResumesIdentically() throws {
        let options = ["train", "--model", "cnn-bn", "--epochs", "2", "--batch-size", "20", "--validation-size", "40"]
        let whole = try succeedsOnRanks(2, options + ["--output", "whole"])
        XCTAssertEqual(whole.stdout.components(separatedBy: "epoch 1/2  train loss").count - 1, 1, "one rank prints:\n\(whole.stdout)")
        XCTAssertNotNil(line("data: 160 training examples, 40 held out for validation, 50 test examples", in: whole.stdout), whole.stdout)
        XCTAssertNotNil(line("test accuracy:", in: whole.stdout), whole.stdout)
        try succeedsOnRanks(2, options + ["--stop-after", "1", "--output", "parts"])
        let resumed = try succeedsOnRanks(2, ["train", "--resume", "--output", "parts", "--data-directory", "data"])
        XCTAssertNotNil(line("resumed after epoch 1", in: resumed.stdout), resumed.stdout)
        XCTAssertEqual(try metricsRows("parts"), try metricsRows("whole"))
        XCTAssertEqual(try Data(contentsOf: path("parts/model.safetensors")), try Data(contentsOf: path("whole/model.safetensors")))
        XCTAssertEqual(line("test accuracy:", in: resumed.stdout), line("test accuracy:", in: whole.stdout))

        // A damaged checkpoint: rank 0 says so once, naming the file; nothing of the run changes.
        let checkpoint = path("parts/checkpoint.safetensors"), model = try Data(contentsOf: path("parts/model.safetensors"))
        var damaged = try Data(contentsOf: checkpoint)
        damaged[8] = UInt8(ascii: "x")
        try damaged.write(to: checkpoint)
        let refused = try start(["train", "--resume", "--epochs", "3", "--output", "parts", "--data-directory", "data"],
                                launcher: mpirun(2), environment: environment).finish()
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertEqual(refused.stderr.components(separatedBy: "safetensors file \(checkpoint.path)").count - 1, 1, refused.stderr)
        XCTAssertEqual(try Data(contentsOf: checkpoint), damaged)
        XCTAssertEqual(try Data(contentsOf: path("parts/model.safetensors")), model)
    }

    /// Segmentation trains data-parallel too: one rank prints the figures and writes the files;
    /// with a time budget every rank stops after the same batch.
    func testSegmentationTrainsDataParallel() throws {
        let run = try succeedsOnRanks(2, ["train"] + StitchSegmentationTests.quick + ["--epochs", "1", "--output", "seg"])
        XCTAssertEqual(run.stdout.components(separatedBy: "mean IoU:").count - 1, 1, run.stdout)
        XCTAssertTrue(FileManager.default.fileExists(atPath: path("seg/sheet.png").path))
        XCTAssertTrue(FileManager.default.fileExists(atPath: path("seg/model.safetensors").path))
        let budget = try succeedsOnRanks(3, ["train"] + StitchSegmentationTests.quick
                                            + ["--batch-size", "6", "--epochs", "50", "--time-budget", "0.5", "--validation-size", "0", "--output", "budget"])
        XCTAssertNotNil(line("time budget of 0.5 s reached", in: budget.stdout), budget.stdout)
    }

    /// A batch that does not split over the ranks is refused on one line.
    func testUnevenBatchIsRefused() throws {
        let run = try start(["train", "--model", "mlp", "--batch-size", "20", "--output", "uneven"], launcher: mpirun(3), environment: environment).finish()
        XCTAssertNotEqual(run.status, 0)
        XCTAssertEqual(run.stderr.components(separatedBy: "--batch-size 20 does not split evenly over the 3 ranks; give a multiple of 3").count - 1,
                       1, "told once:\n\(run.stderr)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("uneven").path), "a refused run leaves no folder")
        let help = try start(["train", "--help"], launcher: mpirun(2), environment: environment).finish()
        XCTAssertEqual(help.stdout.components(separatedBy: "USAGE:").count - 1, 1, "help printed once:\n\(help.stdout)")
    }

    /// A rank killed during training ends the whole job with an error within a bounded time (no
    /// hang), and the last checkpoint stays whole.
    func testKilledRankEndsTheJob() throws {
        let child = try start(["train", "--model", "mlp", "--epochs", "400", "--batch-size", "20", "--output", "killed"],
                              launcher: mpirun(2), environment: environment)
        let checkpoint = path("killed/checkpoint.safetensors")
        let began = Date()
        while !FileManager.default.fileExists(atPath: checkpoint.path) && Date().timeIntervalSince(began) < 60 { usleep(50_000) }
        XCTAssertTrue(FileManager.default.fileExists(atPath: checkpoint.path), "no checkpoint after 60 s")
        let victim = try XCTUnwrap(Self.rankProcess(1, of: child.process.processIdentifier), "rank 1's process not found")
        kill(victim, SIGKILL)
        let killed = Date()
        while child.process.isRunning && Date().timeIntervalSince(killed) < 60 { usleep(50_000) }
        XCTAssertFalse(child.process.isRunning, "the job still runs 60 s after rank 1 was killed")
        let run = child.finish()
        XCTAssertLessThan(Date().timeIntervalSince(killed), 60)
        XCTAssertNotEqual(run.status, 0, "the job ended with status 0 after losing a rank")
        XCTAssertTrue(run.stderr.contains("signal 9") || run.stderr.contains("Killed"), run.stderr)
        let kept = try Checkpoint(contentsOf: checkpoint)
        XCTAssertGreaterThanOrEqual(kept.epoch, 1)
    }

    /// A rank that does not join a collective (alive, but stuck) ends the job once the timeout
    /// has passed, with a message naming the collective — not a hang.
    func testCollectiveTimeoutEndsTheJob() throws {
        let began = Date()
        let run = try start(["hang"], program: "distributed-check", launcher: mpirun(2),
                            environment: environment.merging(["DEEPSTITCH_COLLECTIVE_TIMEOUT": "2"]) { $1 }).finish()
        XCTAssertNotEqual(run.status, 0)
        XCTAssertLessThan(Date().timeIntervalSince(began), 25, "the job was not ended by the 2 s timeout")
        XCTAssertTrue(run.stderr.contains("Error (rank 0 of 2): MPI barrier did not complete within 2 s: another rank has stopped or hangs"), run.stderr)
        XCTAssertFalse(run.stdout.contains("FAIL"), run.stdout)
    }

    /// The process of rank `rank` among the descendants of `launcher` (from `/proc`: its
    /// environment holds `OMPI_COMM_WORLD_RANK`).
    static func rankProcess(_ rank: Int, of launcher: Int32) -> Int32? {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        var parents: [Int32: Int32] = [:]
        for entry in entries {
            guard let pid = Int32(entry), let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 2, let parent = Int32(fields[1]) { parents[pid] = parent }
        }
        func descends(_ pid: Int32) -> Bool {
            var current = pid
            for _ in 0..<8 {
                guard let parent = parents[current] else { return false }
                if parent == launcher { return true }
                current = parent
            }
            return false
        }
        for pid in parents.keys where descends(pid) {
            guard let environ = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { continue }
            let variables = environ.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            if variables.contains("OMPI_COMM_WORLD_RANK=\(rank)") { return pid }
        }
        return nil
    }
}
