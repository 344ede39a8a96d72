import DeepCore
import Foundation
import SwiftProtobuf

// Export to ONNX: the forward runs once in evaluation mode on seeded random inputs under an
// ExportTrace (DeepCore), and once more per dynamic axis with that axis doubled; ONNXGraphBuilder
// turns the steps into nodes and the ModelProto is written atomically.

extension Module {
    /// Writes this model as an ONNX file (opset 17) that ONNX Runtime and other ONNX tools run:
    /// the forward traced on inputs of `inputShapes`, the parameters and buffers as initializers
    /// under their state-dict names (`layer1.0.conv1.weight`), the input named `input` and the
    /// result `output`.
    ///
    ///     try model.exportONNX(to: URL(fileURLWithPath: "resnet18.onnx"), inputShapes: [[1, 3, 224, 224]])
    ///     // input: (batch, 3, 224, 224) → output: (batch, 1000)
    ///
    /// The model is traced in evaluation mode (its modes are restored afterwards) and without
    /// gradients. Nothing is written when the export fails.
    /// - Parameters:
    ///   - url: the `.onnx` file to create or replace.
    ///   - inputShapes: the shape of the forward's one input, e.g. (N, C, H, W).
    ///   - dynamicAxes: input axes whose size the graph leaves open, with their names; by default
    ///     the batch axis. Every shape the forward computes from a dynamic axis is computed in the
    ///     graph from the input's size along it.
    /// - Throws: ``ONNXExportError``: `.unsupportedOp` naming each op without an ONNX form and its
    ///   module path, `.inputDependent` when a value the graph would fix changes with a dynamic
    ///   axis or with the input's values, `.invalidInput`, or `.io` naming the path.
    public func exportONNX(to url: URL, inputShapes: [[Int]], dynamicAxes: [Int: String] = [0: "batch"]) throws(ONNXExportError) {
        let model = try onnxModel(inputShapes: inputShapes, dynamicAxes: dynamicAxes)
        do {
            let data: Data = try model.serializedBytes()
            try AtomicWrite.write(data, to: url)
        } catch {
            throw ONNXExportError(.io, "cannot write \(url.path): \(error)")
        }
    }

    /// The ONNX model that ``exportONNX(to:inputShapes:dynamicAxes:)`` writes.
    func onnxModel(inputShapes: [[Int]], dynamicAxes: [Int: String] = [0: "batch"]) throws(ONNXExportError) -> Onnx_ModelProto {
        guard inputShapes.count == 1, let requested = inputShapes.first else {
            throw ONNXExportError(.invalidInput, "\(typeName) takes one input, got \(inputShapes.count) input shapes \(inputShapes)")
        }
        guard requested.allSatisfy({ $0 > 0 }), dynamicAxes.keys.allSatisfy(requested.indices.contains) else {
            throw ONNXExportError(.invalidInput, "input shape \(requested) must have positive sizes and contain the dynamic axes \(dynamicAxes.keys.sorted())")
        }
        // A dynamic axis is traced at size 2 at least: at size 1 a broadcast along it is no op at all.
        var shape = requested
        for axis in dynamicAxes.keys where shape[axis] == 1 { shape[axis] = 2 }
        let base = traceForExport(shape: shape, seed: 0)
        let variants = try dynamicAxes.keys.sorted().map { axis throws(ONNXExportError) -> ONNXGraphBuilder.Variant in
            var doubled = shape
            doubled[axis] *= 2
            let variant = traceForExport(shape: doubled, seed: UInt64(axis + 1))
            guard variant.trace.steps.count == base.trace.steps.count else {
                throw ONNXExportError(.inputDependent, "the forward runs \(base.trace.steps.count) ops on shape \(shape) but "
                    + "\(variant.trace.steps.count) on \(doubled): it branches on axis \(axis) or on the input's values")
            }
            return ONNXGraphBuilder.Variant(axis: axis, baseSize: shape[axis], steps: variant.trace.steps,
                                            outputShape: variant.output.shape)
        }
        let unsupported = base.trace.steps.filter { $0.export == nil }
        if !unsupported.isEmpty {
            var seen = Set<String>()
            let list = unsupported.map { "\($0.op)\(where: $0)" }.filter { seen.insert($0).inserted }
            throw ONNXExportError(.unsupportedOp, "no ONNX form for \(list.joined(separator: "; "))")
        }
        var builder = ONNXGraphBuilder(input: base.input, inputName: "input", parameters: namedParameters() + namedBuffers())
        for (index, step) in base.trace.steps.enumerated() {
            try builder.add(step, index: index, variants: variants)
        }
        guard let result = builder.value(of: base.output) else {
            throw ONNXExportError(.inputDependent, "the output of \(typeName) was not computed by traced ops")
        }
        builder.addOutput(result, name: "output")
        var graph = builder.graph
        graph.name = typeName
        graph.input = [ONNXGraphBuilder.valueInfo("input", dims: shape.indices.map { axis in dynamicAxes[axis].map { .symbol($0) } ?? .size(shape[axis]) })]
        let outputDims = base.output.shape.indices.map { d -> ONNXDimension in
            let size = base.output.shape[d]
            guard let variant = variants.first(where: { $0.outputShape[d] != size }), let name = dynamicAxes[variant.axis] else {
                return .size(size)
            }
            return .symbol(size == variant.baseSize ? name : "\(name)_output_\(d)")
        }
        graph.output = [ONNXGraphBuilder.valueInfo("output", dims: outputDims)]
        var model = Onnx_ModelProto()
        model.irVersion = 8
        model.producerName = "DeepStitch"
        var opset = Onnx_OperatorSetIdProto()
        opset.domain = ""
        opset.version = 17
        model.opsetImport = [opset]
        model.graph = graph
        return model
    }

    /// Runs the forward on seeded normal values of `shape` under an export trace, in evaluation
    /// mode and without gradients.
    private func traceForExport(shape: [Int], seed: UInt64) -> (input: Tensor, output: Tensor, trace: ExportTrace) {
        var generator = RandomGenerator(seed: seed)
        let input = Tensor.randn(shape, generator: &generator)
        let modules = namedModules().map(\.1)
        let modes = modules.map(\.isTraining)
        eval()
        defer { for (module, mode) in zip(modules, modes) { module.train(mode) } }
        let (output, trace) = withoutGrad { ExportTrace.record { self(input) } }
        return (input, output, trace)
    }

}

/// One axis of a graph input or output: a fixed size or a named, open one.
enum ONNXDimension {
    case size(Int)
    case symbol(String)
}
