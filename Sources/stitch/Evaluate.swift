import ArgumentParser
import DeepCore
import DeepNN
import Foundation

extension Stitch {
    struct Evaluate: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Evaluate saved weights on the test split.")

        @OptionGroup var modelOptions: ModelOptions
        @OptionGroup var data: DataOptions

        @Option(parsing: .unconditional, help: "Examples per batch, 1 to 100000 (default: 500; segmentation 100).",
                transform: OptionValue.wholeNumber(in: OptionValue.batchSizes))
        var batchSize: Int?

        @Option(parsing: .unconditional, help: "Evaluate only the first N test examples (segmentation: test mosaics) (quick runs).",
                transform: OptionValue.wholeNumber(in: 1...Int.max))
        var limit: Int?

        @Option(help: WeightsFile.help)
        var weights = "runs/latest/model.safetensors"

        func validate() throws { try WeightsFile.check(weights, option: "--weights") }

        func run() throws {
            let file = try WeightsFile(path: weights, option: "--weights")
            let (name, entry, model) = try file.loadedModel(modelOptions)
            if entry.task == .segmentation {
                let test = try FashionMNISTMosaic.testSplit(directory: data.dataDirectory,
                                                            count: min(FashionMNISTMosaic.testCount, limit ?? FashionMNISTMosaic.testCount))
                let trainer = SegmentationTrainer(model: model, optimizer: SGD(model.parameters, learningRate: 0), classCount: FashionMNISTMosaic.classCount)
                trainer.diceWeight = entry.recipe.diceWeight
                trainer.classNames = FashionMNISTMosaic.classNames
                print("model \(name): \(weights)")
                try trainer.test(DataLoader(test, batchSize: batchSize ?? SegmentationRunData.evaluationBatchSize, numWorkers: data.numWorkers))
                return
            }
            let all = try FashionMNIST(split: .test, directory: data.dataDirectory, transform: entry.recipe.testTransform)
            let test = Subset(all, indices: Array(0..<min(all.count, limit ?? all.count)))
            let trainer = Trainer(model: model, optimizer: SGD(model.parameters, learningRate: 0), classCount: 10)
            print("model \(name): \(weights)")
            try trainer.test(DataLoader(test, batchSize: batchSize ?? 500, numWorkers: data.numWorkers))
        }
    }
}
