import DeepCore
import Foundation

extension Module {
    /// Writes the state dict as safetensors with PyTorch's names (atomically: a temporary file,
    /// then a rename), loadable by `safetensors.torch.load_file` and `load_state_dict`.
    public func save(to url: URL, metadata: [String: String] = [:]) throws {
        try Safetensors.write(stateDict(), metadata: metadata, to: url)
    }

    /// Loads weights written by ``save(to:metadata:)`` or by PyTorch's `safetensors` package.
    /// On any error (unreadable file, missing, unexpected or wrongly shaped keys) it throws and
    /// leaves the module unchanged.
    public func load(from url: URL, strict: Bool = true) throws {
        let dict = try Safetensors.read(from: url)
        do {
            try loadStateDict(dict, strict: strict)
        } catch var error as StateDictError {
            error.source = url.path
            throw error
        }
    }
}
