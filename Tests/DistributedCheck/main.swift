// Run by StitchDistributedTests under `mpirun -np 2|3`: checks on every rank that data-parallel
// training gives the weights of one process on the whole batch, and prints one "ok <check>" line
// per check from rank 0 (or "FAIL <check>: <why>" on the rank that found it, and exits 1).
//
//     mpirun --allow-run-as-root --oversubscribe -np 2 --mca btl tcp,self distributed-check equality
import DeepCore
import DeepDistributed
import DeepNN
import Foundation

let group = try MPIProcessGroup.world()
Gemm.threadCount = max(1, ProcessInfo.processInfo.activeProcessorCount / MPIProcessGroup.localSize)
var failures = 0

/// Reports a check: "ok" from rank 0 when every rank passed, "FAIL" from each rank that did not.
func report(_ name: String, _ problem: String?) {
    if let problem { print("FAIL \(name) (rank \(group.rank)): \(problem)"); failures += 1 }
    let failed = group.allReduce([problem == nil ? 0 : 1], .max)[0] > 0
    if group.isMain && !failed { print("ok \(name)") }
}

/// The largest |a − b| over max |b| (1e-30 at least), over every tensor of two state dicts.
func worstRelativeDifference(_ a: [String: Tensor], _ b: [String: Tensor]) -> (Double, String) {
    var worst = (0.0, "")
    for (key, reference) in b {
        guard let value = a[key] else { return (.infinity, key + " missing") }
        let r = reference.scalars, v = value.scalars
        let scale = max(Double(r.map { abs($0) }.max() ?? 0), 1e-30)
        let difference = zip(r, v).map { Double(abs($0 - $1)) }.max() ?? 0
        if difference / scale > worst.0 { worst = (difference / scale, key) }
    }
    return worst
}

/// ‖a − b‖ / ‖b‖ over every value of two state dicts together (the weights as one vector), and
/// the tensor with the largest share of ‖a − b‖.
func relativeDifference(_ a: [String: Tensor], _ b: [String: Tensor]) -> (Double, String) {
    var squaredDifference = 0.0, squaredNorm = 0.0, largest = (0.0, "")
    for (key, reference) in b {
        guard let value = a[key] else { return (.infinity, key + " missing") }
        let d = zip(reference.scalars, value.scalars).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }
        squaredDifference += d
        squaredNorm += reference.scalars.reduce(0.0) { $0 + Double($1) * Double($1) }
        if d > largest.0 { largest = (d, key) }
    }
    return ((squaredDifference / max(squaredNorm, 1e-300)).squareRoot(), largest.1)
}

/// Whether every rank holds exactly the same values (checked through their sum and maximum).
func sameOnEveryRank(_ state: [String: Tensor]) -> Bool {
    let values = state.keys.sorted().flatMap { state[$0]!.scalars.map(Double.init) }
    let largest = group.allReduce(values, .max), smallest = group.allReduce(values, .min)
    return largest == smallest
}

typealias Make = () -> Module
typealias MakeOptimizer = ([Tensor]) -> Optimizer

/// Trains `steps` steps data-parallel (this rank's rows of each global batch, `microBatches`
/// backward passes per step under noSync but the last) and on the whole batch in one process;
/// compares the weights.
func checkEquality(_ name: String, make: Make, optimizer makeOptimizer: MakeOptimizer, inputShape: [Int], perRank: Int,
                   steps: Int = 3, microBatches: Int = 1, syncBatchNorm: Bool = false, tolerance: Double = 1e-6) {
    manualSeed(1)
    let single = make()
    manualSeed(group.rank == 0 ? 1 : 7 + UInt64(group.rank))   // the other ranks start elsewhere: DDP must copy rank 0's weights
    var local = make()
    if syncBatchNorm { local = try! SyncBatchNorm.convert(local, group: group) }
    let ddp = DistributedDataParallel(local, group: group, bucketCapMB: 0.05, firstBucketCapMB: 0.01)
    let singleOptimizer = makeOptimizer(single.parameters), localOptimizer = makeOptimizer(local.parameters)
    let global = perRank * group.worldSize * microBatches
    for step in 0..<steps {
        manualSeed(100 + UInt64(step))
        let x = Tensor.randn([global] + inputShape)
        let labels = (0..<global).map { ($0 * 7 + step) % 10 }
        singleOptimizer.zeroGrad()
        crossEntropy(single(x), labels).backward()
        singleOptimizer.step()

        localOptimizer.zeroGrad()
        for micro in 0..<microBatches {
            // Micro-batch `micro` of the global batch: its rows for this rank.
            let start = micro * perRank * group.worldSize + group.rank * perRank
            let rows = x[start..<(start + perRank)]
            let part = Array(labels[start..<(start + perRank)])
            let pass = { crossEntropy(ddp(rows), part) * (1 / Float(microBatches)) }
            if micro < microBatches - 1 { ddp.noSync { pass().backward() } } else { pass().backward() }
        }
        localOptimizer.step()
    }
    let (difference, key) = relativeDifference(local.stateDict(), single.stateDict())
    var problem: String? = difference <= tolerance ? nil : "relative difference \(difference), most of it in \(key) (tolerance \(tolerance))"
    if problem == nil, !sameOnEveryRank(local.stateDict()) { problem = "the ranks' weights differ" }
    if problem == nil, group.isMain { print(String(format: "  %@: relative difference %.2e (largest part in %@)", name, difference, key)) }
    report(name, problem)
}

let mlp: Make = { Sequential(Flatten(), Linear(784, 64), ReLU(), Linear(64, 10)) }
/// The BatchNorm CNN without its dropout (whose masks depend on how the batch is split), its
/// convolutions by im2col: Winograd F(4×4, 3×3) sums its weight gradient over tiles whose
/// transforms are far larger than the gradient (it keeps 3e-6 of the largest value, as the
/// convolution tests check), and the order of that sum follows the batch split — enough for 3
/// steps to part by 1.6e-4. This check is about the data-parallel bookkeeping, not about the
/// convolution's rounding.
let cnn: Make = {
    ConvolutionSettings.winograd = .never
    let model = FashionModels.batchNormCNN()
    for (path, module) in model.namedModules() where module is Dropout { try! model.replace(path: path, with: Identity()) }
    return model
}
let vit: Make = { VisionTransformer(imageSize: 28, patchSize: 7, numLayers: 2, numHeads: 2, hiddenDim: 32, mlpDim: 64, numClasses: 10, inChannels: 1) }
let sgd: MakeOptimizer = { SGD($0, learningRate: 0.01, momentum: 0.9) }
/// AdamW with eps 1e-5 rather than 1e-8. Adam divides each gradient element by its own size, so
/// an element whose gradient is near zero (the ViT's attention key bias, zero in exact
/// arithmetic; a Linear before BatchNorm) is mostly rounding noise, which a small eps turns into
/// steps of up to ±lr that differ with the order of summation — between any two ways of computing
/// the same gradient, one process or several. Seen after 3 steps, whole-model relative
/// difference: CNN with SyncBatchNorm 6.4e-4 at eps 1e-6, 6.7e-7 at 1e-5, 1.1e-7 at 1e-3
/// (SGD: 5e-8); the ViT 1.9e-6 at eps 1e-8.
let adamw: MakeOptimizer = { AdamW($0, learningRate: 1e-3, eps: 1e-5, weightDecay: 0.01) }

/// The sampler: each epoch, the ranks' shares together hold every index, the padding repeats
/// the fewest, and every rank has as many.
func checkSampler() {
    for count in [10, 11, 12, 7, 1] {
        for dropLast in [false, true] {
            for epoch in 0..<3 {
                let sampler = DistributedSampler(datasetCount: count, group: group, seed: 5, dropLast: dropLast)
                let mine = sampler.indices(epoch: epoch)
                var problem: String? = mine.count == sampler.count ? nil : "\(mine.count) indices, count says \(sampler.count)"
                let gathered = group.allGather(Tensor(mine.map(Float.init))).scalars.map { Int($0) }
                var seen = [Int](repeating: 0, count: count)
                for i in gathered { seen[i] += 1 }
                if dropLast {
                    if seen.contains(where: { $0 > 1 }) { problem = "an index twice with dropLast: \(gathered)" }
                    if gathered.count != count / group.worldSize * group.worldSize { problem = "\(gathered.count) indices with dropLast" }
                } else {
                    if seen.contains(0) { problem = "index \(seen.firstIndex(of: 0)!) in no share: \(gathered)" }
                    if gathered.count - count != seen.reduce(0) { $0 + $1 - 1 } { problem = "more repeats than padding: \(gathered)" }
                }
                if epoch > 0, count >= 10, mine == sampler.indices(epoch: epoch - 1) { problem = "epoch \(epoch) repeats epoch \(epoch - 1)'s order" }
                if let problem { report("sampler count \(count) dropLast \(dropLast) epoch \(epoch)", problem); return }
            }
        }
    }
    report("sampler", nil)
}

/// SyncBatchNorm's running statistics and outputs against BatchNorm over the whole batch.
func checkSyncBatchNorm() {
    manualSeed(3)
    let x = Tensor.randn([4 * group.worldSize, 3, 5, 5], mean: 2, std: 3)
    let whole = BatchNorm2d(3), sync = SyncBatchNorm(3, group: group)
    let mine = x[(group.rank * 4)..<(group.rank * 4 + 4)]
    let expected = whole(x)[(group.rank * 4)..<(group.rank * 4 + 4)]
    let out = sync(mine)
    var worst = worstRelativeDifference(["y": out], ["y": expected])
    let stats = worstRelativeDifference(sync.stateDict(), whole.stateDict())
    if stats.0 > worst.0 { worst = stats }
    // Gradients: of Σ y·w for fixed random w, as the loss of the whole batch (each rank's part;
    // the ranks' weight gradients summed, as DDP sums them before averaging).
    manualSeed(4)
    let w = Tensor.randn(x.shape)
    let xs = x.detached(), mineLeaf = mine.detached()
    xs.requiresGrad = true; mineLeaf.requiresGrad = true
    (whole(xs) * w).sum().backward()
    (sync(mineLeaf) * w[(group.rank * 4)..<(group.rank * 4 + 4)]).sum().backward()
    let weightGrad = sync.weight!.grad!.copied(), biasGrad = sync.bias!.grad!.copied()
    group.allReduce(weightGrad); group.allReduce(biasGrad)
    let grads = worstRelativeDifference(["x.grad": mineLeaf.grad!, "weight.grad": weightGrad, "bias.grad": biasGrad],
                                        ["x.grad": xs.grad![(group.rank * 4)..<(group.rank * 4 + 4)], "weight.grad": whole.weight!.grad!, "bias.grad": whole.bias!.grad!])
    if grads.0 > worst.0 { worst = grads }
    report("SyncBatchNorm forward and running statistics", worst.0 <= 1e-6 ? nil : "relative difference \(worst.0) in \(worst.1)")
}

/// Finite differences through `summed(over:)`: the job's loss is Σ over ranks of Σ w_r ⊙
/// (x_r summed over the ranks)²; nudging one element of rank r's input changes every rank's loss.
func checkSummedGradient() {
    manualSeed(11 + UInt64(group.rank))
    let x = Tensor.randn([5]), w = Tensor.randn([5])
    func jobLoss(_ input: Tensor) -> Double {
        let total = input.summed(over: group)
        return group.allReduce([Double((total * total * w).sum().item())])[0]
    }
    let leaf = x.detached()
    leaf.requiresGrad = true
    let total = leaf.summed(over: group)
    (total * total * w).sum().backward()
    let analytic = leaf.grad!.scalars
    var worst = 0.0
    let h: Float = 1e-2
    for r in 0..<group.worldSize {
        for i in 0..<5 {
            func nudged(_ delta: Float) -> Double {
                var values = x.scalars
                if r == group.rank { values[i] += delta }
                return jobLoss(Tensor(values))
            }
            let numeric = (nudged(h) - nudged(-h)) / Double(2 * h)
            if r == group.rank { worst = max(worst, abs(numeric - Double(analytic[i])) / max(1, abs(numeric))) }
        }
    }
    report("summed(over:) gradient against finite differences", worst <= 1e-3 ? nil : "relative error \(worst)")
}

/// A collective that a rank does not join in time ends the job with the timeout's message.
func checkHang() {
    if group.rank == 1 { sleep(30) }
    group.barrier()
    report("hang was not detected", "the barrier completed")
}

let checks = CommandLine.arguments.dropFirst()
for check in checks {
    switch check {
    case "equality":
        checkEquality("mlp sgd", make: mlp, optimizer: sgd, inputShape: [1, 28, 28], perRank: 4)
        checkEquality("mlp adamw", make: mlp, optimizer: adamw, inputShape: [1, 28, 28], perRank: 4)
        checkEquality("cnn syncbatchnorm sgd", make: cnn, optimizer: sgd, inputShape: [1, 28, 28], perRank: 8, syncBatchNorm: true)
        checkEquality("cnn syncbatchnorm adamw", make: cnn, optimizer: adamw, inputShape: [1, 28, 28], perRank: 8, syncBatchNorm: true)
        checkEquality("vit sgd", make: vit, optimizer: sgd, inputShape: [1, 28, 28], perRank: 4)
        checkEquality("vit adamw", make: vit, optimizer: adamw, inputShape: [1, 28, 28], perRank: 4)
    case "accumulation":
        checkEquality("mlp noSync accumulation sgd", make: mlp, optimizer: sgd, inputShape: [1, 28, 28], perRank: 3, microBatches: 3)
        checkEquality("vit noSync accumulation adamw", make: vit, optimizer: adamw, inputShape: [1, 28, 28], perRank: 2, microBatches: 2)
    case "sampler": checkSampler()
    case "syncbatchnorm": checkSyncBatchNorm()
    case "gradient": checkSummedGradient()
    case "hang": checkHang()
    default:
        FileHandle.standardError.write(Data("distributed-check: unknown check \(check)\n".utf8))
        exit(64)
    }
}
exit(failures == 0 ? 0 : 1)
