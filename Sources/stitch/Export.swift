import ArgumentParser
import DeepCore
import DeepNN
import Foundation

extension Stitch {
    /// `stitch export --format onnx --weights W --output X.onnx`: the model named in the weights'
    /// metadata (or `--model`), loaded with them, written as an ONNX graph with a dynamic batch axis.
    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Export saved weights with their model to ONNX (opset 17, dynamic batch axis).")

        @Option(help: "Format to write: onnx.")
        var format = "onnx"

        @OptionGroup var modelOptions: ModelOptions

        @Option(help: WeightsFile.help)
        var weights = "runs/latest/model.safetensors"

        @Option(help: "The .onnx file to write (default: the weights file with the extension .onnx).")
        var output: String?

        @Flag(help: "Replace an existing output file.")
        var overwrite = false

        /// The output path: `--output`, or the weights' path with `.onnx`.
        var outputPath: String { output ?? URL(fileURLWithPath: weights).deletingPathExtension().appendingPathExtension("onnx").path }

        func validate() throws {
            try OptionValue.choice(format, of: ["onnx"], option: "--format")
            try WeightsFile.check(weights, option: "--weights")
            if !overwrite && FileManager.default.fileExists(atPath: outputPath) {
                throw ValidationError("--output \(outputPath) exists; replace it with --overwrite or choose another --output")
            }
        }

        func run() throws {
            let file = try WeightsFile(path: weights, option: "--weights")
            let (name, entry, model) = try file.loadedModel(modelOptions)
            // Fashion-MNIST images (1, 28, 28) for classification, mosaics (1, 64, 64) for segmentation.
            let side = entry.task == .segmentation ? 64 : 28
            try model.exportONNX(to: URL(fileURLWithPath: outputPath), inputShapes: [[1, 1, side, side]])
            print("model \(name): \(weights) → \(outputPath) (ONNX opset 17, input (batch, 1, \(side), \(side)))")
        }
    }
}
