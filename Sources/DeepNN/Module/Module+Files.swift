import DeepCore
import Foundation

extension Module {
    /// Writes the state dict as safetensors with PyTorch's names (atomically: a temporary file,
    /// then a rename), loadable by `safetensors.torch.load_file` and `load_state_dict`.
    public func save(to url: URL, metadata: [String: String] = [:]) throws {
        try Safetensors.write(stateDict(), metadata: metadata, to: url)
    }

    /// Loads weights written by ``save(to:metadata:)``, by PyTorch's `safetensors` package or by
    /// `torch.save` (a `.pth`/`.pt` state dict or a checkpoint with one under `"model"`,
    /// `"state_dict"` or `"model_state_dict"`; see ``TorchFile``). The format is recognised by
    /// the file's content, not its name. On any error (unreadable or malformed file, a pickle
    /// asking for anything but tensors, missing, unexpected or wrongly shaped keys) it throws and
    /// leaves the module unchanged.
    ///
    ///     try model.load(from: URL(fileURLWithPath: "resnet18.pth"))
    public func load(from url: URL, strict: Bool = true) throws {
        try withStateDict(from: url) { try loadStateDict($0, strict: strict) }
    }

    /// Reads the state dict of the file at `url` (as ``load(from:strict:)`` does) and hands it to
    /// `body`, naming the file in a ``StateDictError`` that `body` throws.
    func withStateDict(from url: URL, _ body: ([String: Tensor]) throws -> Void) throws {
        let dict = try StateDictFile.read(from: url).tensors
        do {
            try body(dict)
        } catch var error as StateDictError {
            error.source = url.path
            throw error
        }
    }
}
