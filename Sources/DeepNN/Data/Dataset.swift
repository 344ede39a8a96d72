import DeepCore

/// One labelled example.
public struct Example {
    /// The input, e.g. (C, H, W).
    public var input: Tensor
    /// The class id.
    public var label: Int
    /// A dense target when there is one, e.g. a segmentation mask (H, W) of class ids as Float
    /// (``SegmentationFolder``, ``FashionMNISTMosaic``); nil for classification. A ``DataLoader``
    /// stacks the targets of a batch into ``Batch/targets`` (N, H, W).
    public var target: Tensor?

    /// Creates an example.
    public init(input: Tensor, label: Int, target: Tensor? = nil) {
        self.input = input
        self.label = label
        self.target = target
    }
}

/// A collection of labelled examples indexed from 0 (`torch.utils.data.Dataset`).
///
/// `example(at:generator:)` may be called from several of a ``DataLoader``'s worker threads at
/// once, so it must only read shared state; random transforms draw from the generator given, so
/// results depend only on the loader's seed. Combine datasets with ``Subset``, ``ConcatDataset``
/// and ``randomSplit(_:sizes:seed:)``.
public protocol Dataset {
    /// Number of examples.
    var count: Int { get }
    /// The example at `index`, with random transforms drawn from `generator`.
    func example(at index: Int, generator: inout RandomGenerator) -> Example
}

/// A dataset held in memory as tensors: inputs (N, …) and labels.
public struct TensorDataset: Dataset {
    /// (N, …).
    public let inputs: Tensor
    /// N class ids.
    public let labels: [Int]

    /// Creates the dataset; `inputs.shape[0]` must equal `labels.count`.
    public init(inputs: Tensor, labels: [Int]) {
        require(inputs.shape.first == labels.count, "TensorDataset: \(inputs.shape) inputs for \(labels.count) labels")
        self.inputs = inputs
        self.labels = labels
    }

    public var count: Int { labels.count }

    public func example(at index: Int, generator: inout RandomGenerator) -> Example {
        Example(input: inputs[index], label: labels[index])
    }
}
