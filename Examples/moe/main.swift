// A mixture of experts: tokens come from four sources, each with its own linear rule y = Aₛ·x.
// One linear layer cannot fit all four; a router that sends each token to one of four linear
// experts can, once every expert has taken one source. A load-balancing loss keeps every
// expert in use.
//
//     swift run -c release example-moe
import DeepNN
import ExampleSupport

manualSeed(0)

// MARK: Data

let (dim, sources) = (8, 4)
var generator = RandomGenerator(seed: 1)
let centres = Tensor.randn([sources, dim], std: 2, generator: &generator)                    // where each source lies
let rules = Tensor.randn([sources, dim, dim], std: 1 / Float(dim).squareRoot(), generator: &generator)   // Aₛ

/// `sequences` sequences of 16 tokens (sequences, 16, dim), each token from a random source s
/// (centre + N(0, 1)), with targets Aₛ·x and the sources.
func tokens(sequences: Int) throws -> (x: Tensor, y: Tensor, source: [Int]) {
    let count = sequences * 16
    let source = (0..<count).map { _ in Int.random(in: 0..<sources, using: &generator) }
    let x = centres.indexSelected(axis: 0, indices: source) + Tensor.randn([count, dim], generator: &generator)
    let y = try einsum("tij,tj->ti", rules.indexSelected(axis: 0, indices: source), x)   // yₜ = A_sₜ xₜ: (count, dim)
    return (x.reshaped([sequences, 16, dim]), y.reshaped([sequences, 16, dim]), source)
}
let train = try tokens(sequences: 64), test = try tokens(sequences: 16)

// MARK: Model

// Four linear experts, one chosen per token (top-1 routing, as the Switch Transformer).
let moe = MoE(dModel: dim, experts: (0..<sources).map { _ in Linear(dim, dim) }, topK: 1)
print(try moe.summary(input: [64, 16, dim]))

/// Trains `model` on the training tokens with Adam for 300 full-batch steps; `extraLoss` is added
/// to the mean squared error. Returns the test error.
func fit(_ model: Module, extraLoss: () -> Tensor? = { nil }) -> Float {
    let optimizer = Adam(model.parameters, learningRate: 1e-2)
    for step in 1...300 {
        optimizer.zeroGrad()
        var loss = mseLoss(model(train.x), train.y)
        if let extra = extraLoss() { loss = loss + extra }
        loss.backward()
        optimizer.step()
        if step % 100 == 0 { print("  step \(step)  training loss \(fmt(loss.item()))") }
    }
    return withoutGrad { mseLoss(model(test.x), test.y).item() }
}

print("one linear layer:")
let denseError = fit(Linear(dim, dim))
// The load-balancing loss pushes the router to spread the tokens over the experts; without
// enough of it, most tokens crowd onto one or two experts early on and stay there.
print("the mixture of experts (+ 0.1 × load-balancing loss):")
let moeError = fit(moe) { 0.1 * moe.auxiliaryLoss }
print("test error: one linear layer \(fmt(denseError)), mixture of experts \(fmt(moeError))")

// MARK: Routing

_ = withoutGrad { moe(test.x) }
let routing = moe.routing!
print("tokens per expert on the test set: \(routing.tokensPerExpert)")
// Which expert took the tokens of each source.
var table = [[Int]](repeating: [Int](repeating: 0, count: sources), count: sources)
for (token, source) in test.source.enumerated() { table[source][routing.experts[token][0]] += 1 }
print("source → tokens sent to experts 0…3")
for (s, row) in table.enumerated() { print("  \(s): \(row)") }
let favourite = table.map { row in row.indices.max { row[$0] < row[$1] }! }
let purity = zip(table, favourite).map { row, e in Double(row[e]) / Double(row.reduce(0, +)) }

// The router's probabilities for the first test token.
let (best, ranked) = withoutGrad { softmax(moe.gate(test.x[0, 0..<1]), axis: -1) }.topK(2, along: -1)   // torch.topk
print("first test token (source \(test.source[0])): experts \(Int(ranked.scalars[0])) and \(Int(ranked.scalars[1])) with p = \(fmt(best.scalars[0])), \(fmt(best.scalars[1]))")

check(moeError < denseError / 5, "the experts fit \(fmt(denseError / moeError, 1))× better than one linear layer (more than 5×)")
check(purity.allSatisfy { $0 > 0.95 }, "each source goes to one expert: \(purity.map { fmt($0, 3) }) of its tokens")
check(Set(favourite).count == sources, "the four sources have four different experts: \(favourite)")
