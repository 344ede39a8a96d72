import XCTest
import Foundation
import DeepCore
import DeepNN

/// Segmentation batches through the `DataLoader`: masks collated as (N, H, W) targets, the same
/// batches for any number of workers, and `SegmentationFolder`'s paired transforms drawn from the
/// loader's seeded generators.
final class SegmentationLoaderTests: XCTestCase {
    /// Ten Fashion-MNIST-sized items of varied pixels.
    private func items() -> FashionMNIST {
        FashionMNIST(pixels: (0..<10).flatMap { j in (0..<784).map { p in UInt8((p * 31 + j * 17) % 256) } },
                     labels: Array(0..<10), transform: nil)
    }

    /// Each epoch's batches: inputs, targets and labels as plain values.
    private func epochs(_ loader: DataLoader, _ count: Int = 2) -> [[(inputs: [Float], targets: [Float], labels: [Int])]] {
        (0..<count).map { _ in
            loader.map { ($0.inputs.scalars, $0.targets?.scalars ?? [], $0.labels) }
        }
    }

    private func assertSame(_ a: [[(inputs: [Float], targets: [Float], labels: [Int])]],
                            _ b: [[(inputs: [Float], targets: [Float], labels: [Int])]], _ message: String,
                            file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.map { $0.map(\.inputs) }, b.map { $0.map(\.inputs) }, "\(message): inputs", file: file, line: line)
        XCTAssertEqual(a.map { $0.map(\.targets) }, b.map { $0.map(\.targets) }, "\(message): targets", file: file, line: line)
        XCTAssertEqual(a.map { $0.map(\.labels) }, b.map { $0.map(\.labels) }, "\(message): labels", file: file, line: line)
    }

    /// Fresh mosaics: inputs (N, 1, 64, 64) and masks (N, 64, 64), the same for the same seed on
    /// 0, 2 or 3 workers, new each epoch, dropping the last partial batch; a resumed loader and
    /// `batches(epoch:)` give that epoch's mosaics.
    func testMosaicBatchesCarryMasksAndDoNotDependOnTheWorkers() {
        let data = FashionMNISTMosaic(items: items(), count: 7)
        let loader = DataLoader(data, batchSize: 3, seed: 1, dropLast: true)
        XCTAssertEqual(loader.count, 2)
        let first = loader.batches(epoch: 0).next()!
        XCTAssertEqual(loader.epoch, 0, "batches(epoch:) leaves the epoch alone")
        XCTAssertEqual(first.inputs.shape, [3, 1, 64, 64])
        XCTAssertEqual(first.targets?.shape, [3, 64, 64])
        XCTAssertEqual(first.count, 3)
        XCTAssertEqual(first.labels, [0, 0, 0])
        XCTAssertEqual(first.targetLabels, first.targets!.scalars.map { Int($0) })
        // The mask labels an item's class where its pixel is at least 64 of 255, else background.
        XCTAssertTrue(zip(first.inputs.scalars, first.targets!.scalars).allSatisfy { ($0.0 * 255 >= 63.5) == ($0.1 != 0) })

        let reference = epochs(loader)
        XCTAssertEqual(reference[0].count, 2)
        XCTAssertNotEqual(reference[0].map(\.targets), reference[1].map(\.targets), "another epoch gives new mosaics")
        XCTAssertEqual(reference[0][0].targets, first.targets!.scalars)
        for workers in [2, 3] {
            assertSame(epochs(DataLoader(data, batchSize: 3, seed: 1, dropLast: true, numWorkers: workers)), reference, "\(workers) workers")
        }
        XCTAssertNotEqual(epochs(DataLoader(data, batchSize: 3, seed: 2, dropLast: true, numWorkers: 2))[0].map(\.targets),
                          reference[0].map(\.targets), "another seed gives other mosaics")
        let resumed = DataLoader(data, batchSize: 3, seed: 1, dropLast: true, numWorkers: 2)
        resumed.epoch = 1
        assertSame(epochs(resumed, 1), [reference[1]], "resumed at epoch 1")
        XCTAssertEqual(IteratorSequence(loader.batches(epoch: 1)).map { $0.targets!.scalars }, reference[1].map(\.targets))
    }

    /// A fixed split's mosaics come through the loader in order, with any number of workers, and a
    /// shuffled loader visits them in its sampler's order.
    func testFixedMosaicsComeInTheSamplersOrder() {
        let split = FashionMNISTMosaic(items: items(), count: 5, seed: 3)
        for workers in [0, 2] {
            let batches = Array(DataLoader(split, batchSize: 2, numWorkers: workers))
            XCTAssertEqual(batches.map(\.count), [2, 2, 1])
            XCTAssertEqual(batches.flatMap { $0.targets!.scalars }, split.fixed!.flatMap { $0.classes.map(Float.init) })
            let shuffled = DataLoader(split, batchSize: 2, shuffle: true, seed: 9, numWorkers: workers)
            let order = shuffled.order(epoch: 0)
            XCTAssertEqual(shuffled.flatMap { $0.targets!.scalars }, order.flatMap { split.fixed![$0].classes.map(Float.init) })
        }
        XCTAssertNil(DataLoader(TensorDataset(inputs: Tensor(zeros: [4, 2]), labels: [0, 1, 0, 1]), batchSize: 2).first { _ in true }?.targets,
                     "classification batches carry no targets")
    }

    // MARK: SegmentationFolder with paired transforms

    /// Six pairs of various sizes written by the library's PNG encoder: masks of class indices
    /// 0…4 (one channel), images whose red channel is 50 × the mask (green and blue vary).
    private func generatedFolder() throws -> URL {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("segfolder-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: root) }
        for sub in ["images", "masks"] {
            try FileManager.default.createDirectory(at: root.appendingPathComponent(sub), withIntermediateDirectories: true)
        }
        var g = RandomGenerator(seed: 12)
        for i in 0..<6 {
            let (h, w) = (18 + 2 * i, 30 - 2 * i)
            let classes = (0..<(h * w)).map { _ in UInt8(g.next() % 5) }
            let rgb = classes.flatMap { [50 * $0, UInt8(truncatingIfNeeded: g.next()), UInt8(i * 40)] }
            try Image(width: w, height: h, channels: 1, samples: .uint8(classes))
                .write(to: root.appendingPathComponent("masks/p\(i).png"), format: .png)
            try Image(width: w, height: h, channels: 3, samples: .uint8(rgb))
                .write(to: root.appendingPathComponent("images/p\(i).png"), format: .png)
        }
        return root
    }

    /// Through a loader with 2 workers: the same batches for the same seed (and on the caller's
    /// thread), other draws for another seed or epoch; after a random resized crop and flips the
    /// masks are still class indices 0…4 and the image's red channel is still 50 × the mask (one
    /// draw for both, nearest interpolation); with bilinear for the image the mask stays integral.
    func testSegmentationFolderAppliesOnePairedDrawFromTheLoadersGenerator() throws {
        let root = try generatedFolder()
        let aligned = try SegmentationFolder(root: root, transform: PairedCompose([
            PairedRandomResizedCrop(RandomResizedCrop((12, 16), scale: 0.3...1, interpolation: .nearest)),
            PairedRandomFlip(), PairedRandomFlip(vertical: true),
        ]))
        XCTAssertEqual(aligned.count, 6)
        let loader = DataLoader(aligned, batchSize: 4, shuffle: true, seed: 5, numWorkers: 2)
        let reference = epochs(loader)
        XCTAssertEqual(reference[0].map { $0.labels.count }, [4, 2])
        assertSame(epochs(DataLoader(aligned, batchSize: 4, shuffle: true, seed: 5, numWorkers: 2)), reference, "same seed")
        assertSame(epochs(DataLoader(aligned, batchSize: 4, shuffle: true, seed: 5)), reference, "no workers")
        XCTAssertNotEqual(epochs(DataLoader(aligned, batchSize: 4, shuffle: true, seed: 6, numWorkers: 2))[0].map(\.targets),
                          reference[0].map(\.targets))
        for batch in DataLoader(aligned, batchSize: 3, seed: 7, numWorkers: 2) {
            XCTAssertEqual(batch.inputs.shape, [3, 3, 12, 16])
            XCTAssertEqual(batch.targets?.shape, [3, 12, 16])
            let masks = batch.targets!.scalars
            XCTAssertTrue(masks.allSatisfy { $0.rounded() == $0 && (0...4).contains($0) })
            XCTAssertEqual(batch.inputs[.all, 0].scalars, masks.map { 50 * $0 }, "image and mask moved together")
        }

        let smooth = try SegmentationFolder(root: root, transform: PairedCompose([
            PairedRandomResizedCrop(RandomResizedCrop((12, 16))), PairedRandomFlip(), ImageOnly(ToTensor()),
        ]))
        for batch in DataLoader(smooth, batchSize: 3, seed: 7, numWorkers: 2) {
            XCTAssertTrue(batch.targets!.scalars.allSatisfy { $0.rounded() == $0 && (0...4).contains($0) })
            XCTAssertTrue(batch.inputs.scalars.allSatisfy { (-0.01...1.01).contains($0) })
        }
        // Without a transform the examples keep their sizes: one per batch.
        var g = RandomGenerator(seed: 0)
        let plain = try SegmentationFolder(root: root).example(at: 2, generator: &g)
        XCTAssertEqual(plain.input.shape, [3, 22, 26])
        XCTAssertEqual(plain.input[0].scalars, plain.target!.scalars.map { 50 * $0 })
    }

    // MARK: The mask reader

    /// `Image(maskData:)` reads gray and palette PNGs of class indices (8- and 16-bit here, as the
    /// library writes them) and throws, naming the source, on anything else: no bytes, a JPEG, a
    /// PNG cut short or with more than one channel.
    func testMaskReaderReadsClassIndicesAndRefusesOtherBytes() throws {
        let classes: [UInt8] = [0, 3, 7, 1, 0, 2]
        let gray = try Image(width: 3, height: 2, channels: 1, samples: .uint8(classes)).encoded(as: .png)
        XCTAssertEqual(try Image(maskData: gray).tensor(scaled: false).scalars, classes.map(Float.init))
        let deep = try Image(width: 2, height: 1, channels: 1, samples: .uint16([300, 65535])).encoded(as: .png)
        XCTAssertEqual(try Image(maskData: deep).tensor(scaled: false).scalars, [300, 65535])

        let rgb = try Image(width: 2, height: 1, channels: 3, samples: .uint8([1, 2, 3, 4, 5, 6])).encoded(as: .png)
        let grayAlpha = try Image(width: 1, height: 1, channels: 2, samples: .uint8([4, 255])).encoded(as: .png)
        let jpeg = try Image(width: 8, height: 8, channels: 1, samples: .uint8(Array(repeating: 9, count: 64))).encoded(as: .jpeg(quality: 90))
        let refused: [(Data, String)] = [
            (Data(), "a mask must be a PNG file of class indices"),
            (jpeg, "a mask must be a PNG file of class indices"),
            (gray.prefix(8), "corrupt PNG"),
            (gray.prefix(gray.count - 20), "corrupt PNG"),
            (rgb, "a mask must have 1 channel of class indices (gray or palette), this one has 3"),
            (grayAlpha, "this one has 2"),
        ]
        for (bytes, phrase) in refused {
            XCTAssertThrowsError(try Image(maskData: bytes, path: "m.png")) {
                XCTAssertTrue("\($0)".hasPrefix("m.png: ") && "\($0)".contains(phrase), "\($0)")
            }
        }
    }
}
