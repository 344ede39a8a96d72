import DeepCore
import DeepNN
import Foundation

extension Workloads {
    /// The folder `../shared/bench/torch_bench.py` writes once: 10,000 Fashion-MNIST training
    /// images as 28×28 grayscale PNGs, one sub-folder per class.
    static let imageFolderRoot = URL(fileURLWithPath: "/tmp/deepstitch-imagefolder")

    /// One epoch over ``imageFolderRoot``: decode every PNG (converted to RGB, as torchvision's
    /// loader does), `ToTensor`, shuffled batches of 64 prepared by 2 worker threads.
    static let imageFolderEpoch = Workload(name: "imagefolder_epoch") { timing in
        guard FileManager.default.fileExists(atPath: imageFolderRoot.path) else {
            throw BenchmarkValidationError(description: "imagefolder_epoch: \(imageFolderRoot.path) is missing; write it with "
                + "`/tmp/venv/bin/python -c 'import torch_bench; torch_bench.make_imagefolder()'` in ../shared/bench")
        }
        let data = try ImageFolder(root: imageFolderRoot, transform: ToTensor())
        let loader = DataLoader(data, batchSize: 64, shuffle: true, seed: 0, numWorkers: 2)
        var seen = 0, first: [Int] = []
        for batch in loader {
            if first.isEmpty { first = batch.inputs.shape }
            seen += batch.labels.count
        }
        guard seen == data.count, seen >= 10_000, first == [64, 3, 28, 28] else {
            throw BenchmarkValidationError(description: "imagefolder_epoch: an epoch gave \(seen) of \(data.count) images, first batch \(first)")
        }
        return [resultLine("imagefolder_epoch", ms: timing.medianMilliseconds { for _ in loader {} })]
    }
}
