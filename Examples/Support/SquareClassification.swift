import DeepNN

/// Trains `model` to tell the `label` of square images (``squareImages(count:side:channels:label:seed:)``)
/// with the library's `Trainer` — the loop of example-training: zero_grad, forward,
/// cross-entropy, backward, step — then scores it on held-out images, prints the figures, and
/// checks the result: the training loss fell more than 3× and the test accuracy is above 0.9.
///
/// - Parameters:
///   - trainCount: training images (seed 1), in shuffled batches of 32; half as many test images (seed 2).
///   - side, channels: the images' size, (channels, side, side).
///   - epochs: passes over the training images.
public func trainSquareClassifier(_ model: Module, optimizer: Optimizer, label: SquareLabel, side: Int, channels: Int = 1,
                                  trainCount: Int, epochs: Int) throws {
    let trainLoader = DataLoader(squareImages(count: trainCount, side: side, channels: channels, label: label, seed: 1),
                                 batchSize: 32, shuffle: true, seed: 0)
    let testLoader = DataLoader(squareImages(count: trainCount / 2, side: side, channels: channels, label: label, seed: 2),
                                batchSize: 128)
    let trainer = Trainer(model: model, optimizer: optimizer, classCount: label.classCount)
    let history = try trainer.fit(trainLoader, epochs: epochs)          // prints a line per epoch
    let test = trainer.evaluate(testLoader)                              // eval mode, without recording
    print("test accuracy \(fmt(test.accuracy)), macro F1 \(fmt(test.macroF1))")

    let (first, last) = (history.first!.trainLoss, history.last!.trainLoss)
    check(last < first / 3, "the training loss fell more than 3×: \(fmt(first)) → \(fmt(last))")
    check(test.accuracy > 0.9, "test accuracy \(fmt(test.accuracy)) > 0.9 (chance: \(fmt(1 / Double(label.classCount), 2)))")
}
