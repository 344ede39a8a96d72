import ArgumentParser
import DeepCore
import DeepNN
import Foundation

/// Weights named on the command line (`--weights`, `--initial-weights`): the model.safetensors that
/// `stitch train` wrote, another safetensors state dict, or a torch.save state dict (.pth, .pt),
/// told apart by content.
struct WeightsFile {
    /// The path as given.
    let path: String
    /// The option that named it, for messages.
    let option: String
    /// The state dict, by PyTorch's names.
    let tensors: [String: Tensor]
    /// The catalogue model the file says it holds (`stitch.model`, written by `stitch train`).
    let savedModel: String?

    /// The help of a `--weights` option.
    static let help = ArgumentHelp("Weights written by `stitch train` (model.safetensors; its model is the default --model), or a torch.save state dict (.pth, .pt).")

    /// Checks, before any work, that `path` names a file.
    /// - Throws: `ValidationError` naming `option` when it is missing or a folder.
    static func check(_ path: String, option: String) throws {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
            throw ValidationError("\(option) \(path) does not exist; give the model.safetensors that `stitch train` wrote, or a .pth")
        }
        if isFolder.boolValue {
            throw ValidationError("\(option) \(path) is a folder; give the weights file in it (e.g. \(URL(fileURLWithPath: path).appendingPathComponent("model.safetensors").path))")
        }
    }

    /// Reads the file.
    /// - Throws: `TensorFileError` naming the file when it is damaged or not weights; a
    ///   `ValidationError` when it names a model this `stitch` does not know.
    init(path: String, option: String) throws {
        let metadata: [String: String]
        (tensors, metadata) = try StateDictFile.read(from: URL(fileURLWithPath: path))
        savedModel = try metadata["stitch.model"].map { saved in
            try OptionValue.choice(saved, of: ModelCatalog.names, option: "the model named in \(path)")
            return saved
        }
        self.path = path
        self.option = option
    }

    /// The model these weights go into: `--model` when given (it must be the file's own model when
    /// the file names one), else the file's, else the task's default.
    /// - Throws: `ValidationError` when `--model` and the file disagree, or the model does not do `--task`.
    func modelName(_ options: ModelOptions) throws -> String {
        if let given = options.model { try checkHolds(given, option: "--model") }
        let name = options.model ?? savedModel ?? options.resolvedTask().defaultModel
        try options.checkTask(of: name)
        return name
    }

    /// Checks that the file may hold weights of catalogue model `name` (`option` chose it).
    /// - Throws: `ValidationError` when the file says it holds another model's.
    func checkHolds(_ name: String, option: String) throws {
        if let savedModel, name != savedModel {
            throw ValidationError("\(option) \(name) does not fit \(self.option) \(path): it holds the weights of model \(savedModel) "
                + "(written by `stitch train`); give --model \(savedModel)")
        }
    }

    /// Loads the weights into `model`, the catalogue's `name`.
    /// - Throws: ``StateDictError`` naming the file and the model when they do not fit.
    func load(into model: Module, name: String) throws {
        do { try model.loadStateDict(tensors) } catch var error as StateDictError {
            error.source = "\(path) (into model \(name))"
            throw error
        }
    }

    /// A fresh catalogue model (the one ``modelName(_:)`` picks) holding these weights.
    func loadedModel(_ options: ModelOptions) throws -> (name: String, entry: ModelCatalog.Entry, model: Module) {
        let name = try modelName(options)
        let entry = ModelCatalog.entry(name)
        let model = entry.makeOverCaptions.map { $0(ImageTextRun.placeholder(shapedLike: tensors)) } ?? entry.make()
        try load(into: model, name: name)
        return (name, entry, model)
    }
}
