import Foundation

/// Files of weights in either format the library reads, told apart by content, not by name:
/// safetensors, or what `torch.save` writes (`.pth`, `.pt`; see ``TorchFile``).
public enum StateDictFile {
    /// The state dict of the file at `url`, by PyTorch's names, and its metadata (safetensors'
    /// `__metadata__`; empty for a torch.save file).
    /// - Throws: ``TensorFileError`` naming the file and what is wrong with it.
    public static func read(from url: URL) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        try TorchFile.isTorchSave(url) ? (TorchFile.readStateDict(from: url), [:]) : Safetensors.readWithMetadata(from: url)
    }
}
