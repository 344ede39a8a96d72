// A training loop written out: a small MLP learns three interleaved spirals with Adam, and is
// scored on held-out points with accuracy, per-class precision and recall, and F1.
//
//     swift run -c release example-training
import DeepNN
import ExampleSupport

manualSeed(0)

// MARK: Data

let data = spirals(pointsPerClass: 300, classes: 3, noise: 0.2, seed: 1)    // (900, 2), labels 0…2
// Hold out a fifth of the points, chosen at random, for testing (torch.utils.data.random_split).
let parts = randomSplit(data, sizes: [720, 180], seed: 1)
let trainSet = parts[0], testSet = parts[1]
check(Set(trainSet.indices).isDisjoint(with: testSet.indices) && trainSet.count == 720, "random_split: 720 + 180 disjoint points")
// Two threads prepare the batches ahead (num_workers=2); the batches are the same as with none.
let trainLoader = DataLoader(trainSet, batchSize: 32, shuffle: true, seed: 0, numWorkers: 2)
let testLoader = DataLoader(testSet, batchSize: 256)
print("train \(trainSet.count) points in \(trainLoader.count) batches, test \(testSet.count)")

// MARK: Model, loss, optimiser

let model = Sequential(Linear(2, 64), ReLU(), Linear(64, 64), ReLU(), Linear(64, 3))
print(try model.summary(input: [32, 2]))
let optimizer = Adam(model.parameters, learningRate: 1e-2)

/// Mean loss and confusion matrix over `loader`, in evaluation mode and without recording.
func evaluate(_ loader: DataLoader) -> (loss: Float, confusion: ConfusionMatrix) {
    model.eval()                                            // model.eval()
    defer { model.train() }
    var lossSum: Float = 0, seen = 0
    var confusion = ConfusionMatrix(classCount: 3)
    withoutGrad {                                           // with torch.no_grad():
        for batch in loader {
            let logits = model(batch.inputs)
            lossSum += crossEntropy(logits, batch.labels).item() * Float(batch.labels.count)
            seen += batch.labels.count
            confusion.add(predictions: predictedClasses(logits), labels: batch.labels)   // logits.argmax(1)
        }
    }
    return (lossSum / Float(seen), confusion)
}

// MARK: The training loop

var epochLosses: [Float] = []
for epoch in 1...20 {
    model.train()
    var lossSum: Float = 0, seen = 0
    for batch in trainLoader {
        optimizer.zeroGrad()                                // optimizer.zero_grad()
        let loss = crossEntropy(model(batch.inputs), batch.labels)
        loss.backward()                                     // loss.backward()
        optimizer.step()                                    // optimizer.step()
        lossSum += loss.item() * Float(batch.labels.count)
        seen += batch.labels.count
    }
    epochLosses.append(lossSum / Float(seen))
    if epoch % 5 == 0 {
        let test = evaluate(testLoader)
        print("epoch \(epoch)  train loss \(fmt(epochLosses.last!))  test loss \(fmt(test.loss))  test accuracy \(fmt(test.confusion.accuracy))")
    }
}

// MARK: Metrics

let (testLoss, confusion) = evaluate(testLoader)
print("\nconfusion matrix (rows: true class, columns: predicted)")
for row in confusion.matrix { print("  ", row) }
print("class  precision  recall  F1     support")
for c in 0..<3 {
    print("\(c)      \(fmt(confusion.precision[c]))     \(fmt(confusion.recall[c]))  \(fmt(confusion.f1[c]))  \(confusion.support[c])")
}
print("accuracy \(fmt(confusion.accuracy))  macro recall \(fmt(confusion.macroRecall))  macro F1 \(fmt(confusion.macroF1))  test loss \(fmt(testLoss))")

check(epochLosses.last! < epochLosses.first! / 5,
      "the training loss fell from \(fmt(epochLosses.first!)) to \(fmt(epochLosses.last!)), more than 5×")
check(confusion.accuracy > 0.9, "test accuracy \(fmt(confusion.accuracy)) > 0.9")
check(confusion.recall.min()! > 0.85, "every class is recalled above 0.85: \(confusion.recall.map { fmt($0, 3) })")
check(confusion.macroF1 > 0.9, "macro F1 \(fmt(confusion.macroF1)) > 0.9")
