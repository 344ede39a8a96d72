// Tensor basics and einops: creating tensors, arithmetic and broadcasting, matrix products,
// reductions, views, autograd, and einops patterns — the first chapter of a PyTorch tutorial.
//
//     swift run -c release example-tensors
import DeepNN
import ExampleSupport

manualSeed(0)                                               // torch.manual_seed(0)

// MARK: Creating tensors

let a = Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3])           // torch.tensor([[1., 2., 3.], [4., 5., 6.]])
print(a)
print("shape \(a.shape), \(a.count) elements, rank \(a.rank)")
print(Tensor(zeros: [2, 3]), Tensor(ones: [2]), Tensor.arange(0, 5), separator: "\n")
let noise = Tensor.randn([2, 3])                            // torch.randn(2, 3)
print("randn:", noise)
manualSeed(0)
check(Tensor.randn([2, 3]).scalars == noise.scalars, "the same seed gives the same random numbers")

// MARK: Arithmetic and broadcasting

let b = a * 2 + 1                                           // elementwise, with scalars
check(b.scalars == [3, 5, 7, 9, 11, 13], "a * 2 + 1 = [[3, 5, 7], [9, 11, 13]]")
let columnScale = Tensor([1, 10, 100])                      // (3) is broadcast over the rows of (2, 3)
check((a * columnScale).scalars == [1, 20, 300, 4, 50, 600], "a * [1, 10, 100] broadcasts over rows")
let rowShift = Tensor([100, 200], shape: [2, 1])            // (2, 1) is broadcast over the columns
check((a + rowShift).scalars == [101, 102, 103, 204, 205, 206], "a + [[100], [200]] broadcasts over columns")

// MARK: Matrix products

let gram = matmul(a, a.mT)                                  // a @ a.T: (2, 3) @ (3, 2) → (2, 2)
print("a @ a.T =", gram)
check(gram.scalars == [14, 32, 32, 77], "a @ a.T = [[14, 32], [32, 77]]")
let batch = Tensor.randn([4, 2, 3])                         // batched: (4, 2, 3) @ (3, 5) → (4, 2, 5)
check(matmul(batch, Tensor.randn([3, 5])).shape == [4, 2, 5], "a batched matmul gives (4, 2, 5)")

// MARK: Reductions

check(a.sum().item() == 21, "a.sum() = 21")
check(a.sum(axis: 0).scalars == [5, 7, 9], "a.sum(dim=0) = [5, 7, 9]")
check(a.mean(axis: 1).scalars == [2, 5], "a.mean(dim=1) = [2, 5]")
check(a.max(axis: 1, keepingDims: true).shape == [2, 1], "a.max(dim=1, keepdim=True) has shape (2, 1)")
check(a.argmax(axis: 1).scalars == [2, 2], "a.argmax(dim=1) = [2, 2]")
let (top, topIndices) = a.topK(2, along: 1)                // torch.topk(a, 2, dim=1)
check(top.scalars == [3, 2, 6, 5] && topIndices.scalars == [2, 1, 2, 1], "a.topk(2, dim=1): values [[3, 2], [6, 5]] at [[2, 1], [2, 1]]")
let (ascending, order) = a[1].sorted(descending: false)     // torch.sort(a[1])
check(ascending.scalars == [4, 5, 6] && order.scalars == [0, 1, 2], "torch.sort(a[1]) gives values and their positions")

// MARK: Reshaping and views (no copy)

check(a.reshaped([3, 2]).shape == [3, 2] && a.view([-1]).shape == [6], "reshape / view")
check(a.transposed(0, 1).shape == [3, 2] && a.permuted([1, 0]).scalars == [1, 4, 2, 5, 3, 6], "transpose / permute")
check(a.unsqueezed(axis: 0).shape == [1, 2, 3] && a.unsqueezed(axis: 0).squeezed().shape == [2, 3], "unsqueeze / squeeze")
check(a[1].scalars == [4, 5, 6] && a[0..<1].shape == [1, 3], "a[1] is a row, a[0:1] keeps the axis")
let firstColumn = a[.all, 0]                                // a[:, 0], a view
check(firstColumn.scalars == [1, 4], "the first column a[:, 0] = [1, 4]")
check(a[.ellipsis, -1].scalars == [3, 6] && a[.all, stride(from: 0, to: 3, by: 2)].scalars == [1, 3, 4, 6],
      "a[..., -1] = [3, 6], a[:, 0:3:2] = [[1, 3], [4, 6]]")
// A view shares its elements with the tensor it views: writing through it changes the original.
let c = a.copied()                                          // a.clone()
c[0].assign(Tensor(zeros: [3]))                             // c[0] = 0
check(c.scalars == [0, 0, 0, 4, 5, 6] && a.scalars == [1, 2, 3, 4, 5, 6], "writing c[0] = 0 changes c, not a")

// MARK: Joining

check(Tensor.concatenate([a, a], axis: 0).shape == [4, 3], "torch.cat([a, a], dim=0) is (4, 3)")
check(Tensor.stack([a, a], axis: 0).shape == [2, 2, 3], "torch.stack([a, a]) is (2, 2, 3)")
check(a.chunked(3, axis: 1).map(\.shape) == [[2, 1], [2, 1], [2, 1]], "a.chunk(3, dim=1) gives three columns")

// MARK: Autograd

let w = Tensor([2, -1, 0.5])
w.requiresGrad = true                                       // w = torch.tensor([2., -1., .5], requires_grad=True)
let loss = matmul(a, w).square().sum()                      // Σᵢ (a w)ᵢ², with a w = [1.5, 6]
loss.backward()
print("loss \(loss.item()), dloss/dw =", w.grad!)
// By hand: dloss/dw = 2 aᵀ (a w) = 2·[1·1.5 + 4·6, 2·1.5 + 5·6, 3·1.5 + 6·6] = [51, 66, 81].
check(loss.item() == 38.25, "loss = 1.5² + 6² = 38.25")
check(maxDifference(w.grad!, Tensor([51, 66, 81])) < 1e-4, "w.grad = 2 aᵀ(a w) = [51, 66, 81]")
let frozen = withoutGrad { a * w }                          // with torch.no_grad():
check(!frozen.requiresGrad, "nothing is recorded inside withoutGrad (torch.no_grad)")

// MARK: einops

let images = Tensor.randn([2, 3, 8, 8])                     // (b, c, h, w)
let patches = try images.rearranged("b c (h p1) (w p2) -> b (h w) (p1 p2 c)", ["p1": 4, "p2": 4])
print("patches:", patches.shape)
check(patches.shape == [2, 4, 48], "8×8 images cut into four 4×4 patches of 48 values: (2, 4, 48)")
let restored = try patches.rearranged("b (h w) (p1 p2 c) -> b c (h p1) (w p2)", ["h": 2, "p1": 4, "p2": 4])
check(restored.scalars == images.scalars, "the inverse pattern puts the patches back exactly")
let channelMeans = try images.reduced("b c h w -> b c", .mean)
check(maxDifference(channelMeans, images.mean(axes: [2, 3])) < 1e-6, "reduce 'b c h w -> b c' mean = global average pooling")
let pooled = try images.reduced("b c (h 2) (w 2) -> b c h w", .max)
check(maxDifference(pooled, maxPool2d(images, kernelSize: 2)) == 0, "reduce '(h 2) (w 2)' max = 2×2 max pooling")
let tiled = try Tensor([1, 2, 3]).repeated("c -> c n", ["n": 2])
check(tiled.scalars == [1, 1, 2, 2, 3, 3], "repeat 'c -> c n' copies each element n times")

// Attention scores of 2 heads over 4 tokens, "bhqd,bhkd->bhqk".
let q = Tensor.randn([1, 2, 4, 8]), k = Tensor.randn([1, 2, 4, 8])
let scores = try einsum("bhqd,bhkd->bhqk", q, k)           // torch.einsum: through one batched GEMM
check(maxDifference(scores, matmul(q, k.mT)) < 1e-5, "einsum('bhqd,bhkd->bhqk') = q @ kᵀ")
check(scores.shape == [1, 2, 4, 4], "attention scores have shape (1, 2, 4, 4)")
check(abs(scores[0][1].scalar(at: [2, 3]) - (q[0][1][2] * k[0][1][3]).sum().item()) < 1e-4,
      "score[0, 1, 2, 3] is the dot product of query 2 and key 3 of head 1")
