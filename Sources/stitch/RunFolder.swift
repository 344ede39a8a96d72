import ArgumentParser
import Foundation

/// The output folder of a training run and the files `stitch train` writes there. A run is never
/// replaced unless asked: a folder holding any of these files takes `--resume` (continue it) or
/// `--overwrite` (start again).
struct RunFolder {
    /// The folder.
    let url: URL

    /// The files of a run, in the order they are listed in messages.
    static let fileNames = ["checkpoint.safetensors", "model.safetensors", "metrics.csv", "loss.svg", "accuracy.svg",
                            "confusion_matrix.svg", "test_confusion_matrix.svg",
                            "mean_iou.svg", "sheet.png"]

    /// The checkpoint written after every epoch.
    var checkpoint: URL { url.appendingPathComponent("checkpoint.safetensors") }
    /// The weights of the finished run.
    var model: URL { url.appendingPathComponent("model.safetensors") }

    /// The run files present.
    var existingFiles: [String] {
        Self.fileNames.filter { FileManager.default.fileExists(atPath: url.appendingPathComponent($0).path) }
    }

    /// Checks that the folder can take the run: a folder (or nothing yet) at `--output`; with
    /// `resume`, a checkpoint to resume; without `resume` or `overwrite`, no earlier run.
    func validate(resume: Bool, overwrite: Bool) throws {
        let path = url.path
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), !isFolder.boolValue {
            throw ValidationError("--output \(path) is a file; give a folder for the run's checkpoint, model, metrics and plots")
        }
        if resume && overwrite { throw ValidationError("--resume and --overwrite exclude each other: continue the run in \(path) or replace it") }
        if resume {
            guard FileManager.default.fileExists(atPath: checkpoint.path) else {
                throw ValidationError("--resume: no checkpoint.safetensors in \(path) to continue")
            }
        } else if !overwrite, !existingFiles.isEmpty {
            throw ValidationError("\(path) already holds a run (\(existingFiles.joined(separator: ", "))); "
                + "continue it with --resume, replace it with --overwrite, or choose another --output")
        }
    }

    /// Creates the folder (and its parents).
    func create() throws {
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        } catch {
            throw RunFolderError(message: "cannot create the output folder \(url.path): \(Self.reason(error))")
        }
    }

    /// Removes the files of an earlier run (`--overwrite`), so that none is mistaken for the new
    /// run's.
    func removeEarlierRun() throws {
        for name in existingFiles {
            let file = url.appendingPathComponent(name)
            do { try FileManager.default.removeItem(at: file) } catch {
                throw RunFolderError(message: "cannot remove \(file.path) of the earlier run: \(Self.reason(error))")
            }
        }
    }

    /// The system's reason inside a Foundation file error.
    static func reason(_ error: Error) -> String {
        let underlying = (error as NSError).userInfo[NSUnderlyingErrorKey] as? NSError
        return underlying.map { String(cString: strerror(Int32($0.code))) } ?? error.localizedDescription
    }
}

/// The output folder cannot be made or cleared.
struct RunFolderError: Error, CustomStringConvertible {
    /// What failed and why.
    let message: String
    var description: String { message }
}
