import ArgumentParser
import DeepNN
import Foundation

extension Stitch {
    struct Summarize: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "summary", abstract: "Print a model's layers, shapes, parameters and FLOPs without computing.")

        @OptionGroup var modelOptions: ModelOptions

        @Option(parsing: .unconditional, help: "Input shape, comma-separated sizes of at least 1 (default: 1,1,28,28; segmentation 1,1,64,64; image-text: the images', with one caption per image).",
                transform: Summarize.parseShape)
        var input: [Int]?

        /// The largest input a summary takes (2³¹ elements): sizes past it are no real input and
        /// would overflow the counts of elements and FLOPs.
        static let largestInput = 1 << 31

        /// The sizes of a comma-separated shape, each at least 1, whose product is at most
        /// ``largestInput``.
        @Sendable static func parseShape(_ text: String) throws -> [Int] {
            let sizes = text.split(separator: ",", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !sizes.isEmpty, sizes.allSatisfy({ ($0 ?? 0) >= 1 }) else {
                throw ValidationError("comma-separated sizes of at least 1 are expected (e.g. 1,1,28,28)")
            }
            var count = 1
            for size in sizes.map({ $0! }) {
                let (product, overflow) = count.multipliedReportingOverflow(by: size)
                guard !overflow, product <= largestInput else {
                    throw ValidationError("an input of at most \(largestInput) elements is expected")
                }
                count = product
            }
            return sizes.map { $0! }
        }

        func run() throws {
            let task = modelOptions.resolvedTask()
            let model = ModelCatalog.entry(modelOptions.model ?? task.defaultModel).make()
            let image = input ?? task.defaultInput
            print(task == .imageText ? try ImageTextRun.summary(model, image: image) : try model.summary(input: image))
        }
    }
}
