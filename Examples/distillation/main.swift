// Knowledge distillation: a large teacher learns the spirals, then a much smaller student learns
// from the teacher's softened outputs as well as from the labels (Hinton et al.), and ends up
// agreeing with the teacher.
//
//     swift run -c release example-distillation
import DeepNN
import ExampleSupport

manualSeed(0)

let trainLoader = DataLoader(spirals(pointsPerClass: 300, classes: 3, seed: 1), batchSize: 32, shuffle: true, seed: 0)
let test = spirals(pointsPerClass: 100, classes: 3, seed: 2)

let teacher = Sequential(Linear(2, 128), ReLU(), Linear(128, 128), ReLU(), Linear(128, 3))
let student = Sequential(Linear(2, 32), ReLU(), Linear(32, 32), ReLU(), Linear(32, 3))
print("teacher: \(teacher.parameterCount) parameters, student: \(student.parameterCount) (\(teacher.parameterCount / student.parameterCount)× fewer)")

// MARK: The teacher, trained on the labels

let teacherTrainer = Trainer(model: teacher, optimizer: Adam(teacher.parameters, learningRate: 1e-2), classCount: 3)
teacherTrainer.verbose = false
try teacherTrainer.fit(trainLoader, epochs: 20)
teacher.eval()
let teacherLogits = withoutGrad { teacher(test.inputs) }
print("teacher test accuracy \(fmt(accuracy(teacherLogits, test.labels)))")

/// How far the student's predictions are from the teacher's on the test points:
/// KL(teacher ‖ student) of their class probabilities, and the fraction of equal predictions.
func gapToTeacher() -> (kl: Float, agreement: Double) {
    student.eval()
    defer { student.train() }
    let studentLogits = withoutGrad { student(test.inputs) }
    let kl = klDivergence(logSoftmax(studentLogits, axis: 1), softmax(teacherLogits, axis: 1)).item()
    let agreement = zip(predictedClasses(studentLogits), predictedClasses(teacherLogits)).filter { $0 == $1 }.count
    return (kl, Double(agreement) / Double(test.count))
}
let before = gapToTeacher()
print("student before: KL to the teacher \(fmt(before.kl)), agrees on \(fmt(before.agreement))")

// MARK: The student, distilled

let optimizer = Adam(student.parameters, learningRate: 1e-2)
for epoch in 1...20 {
    for batch in trainLoader {
        let teacherOutput = withoutGrad { teacher(batch.inputs) }
        optimizer.zeroGrad()
        // α·T²·KL(softmax(t/T) ‖ softmax(s/T)) + (1 − α)·CE(s, y), with T = 4 and α = 0.9.
        let loss = distillationLoss(student: student(batch.inputs), teacher: teacherOutput, labels: batch.labels,
                                    temperature: 4, alpha: 0.9)
        loss.backward()
        optimizer.step()
    }
    if epoch % 5 == 0 {
        let gap = gapToTeacher()
        print("epoch \(epoch)  KL to the teacher \(fmt(gap.kl))  agreement \(fmt(gap.agreement))")
    }
}

let after = gapToTeacher()
student.eval()
let studentAccuracy = withoutGrad { accuracy(student(test.inputs), test.labels) }
print("student after: KL to the teacher \(fmt(after.kl)), agrees on \(fmt(after.agreement)), test accuracy \(fmt(studentAccuracy))")

check(accuracy(teacherLogits, test.labels) > 0.95, "the teacher is accurate: \(fmt(accuracy(teacherLogits, test.labels))) > 0.95")
check(after.kl < before.kl / 5, "the student came closer to the teacher: KL \(fmt(before.kl)) → \(fmt(after.kl)), more than 5×")
check(after.agreement > 0.9, "the student agrees with the teacher on \(fmt(after.agreement)) > 0.9 of the test points")
check(studentAccuracy > 0.85, "the student's test accuracy \(fmt(studentAccuracy)) > 0.85")
