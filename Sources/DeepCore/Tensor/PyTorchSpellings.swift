// PyTorch's spellings of tensor methods and `torch.*` functions, declared unavailable so that a
// user who types them gets the compiler's fix-it to this library's name instead of "no member".
// Nothing here runs. (`F.*` functions: PyTorchFunctionalSpellings.swift.)
//
//   PyTorch                         here
//   x.reshape(s), x.view(2, 3)      x.reshaped([…]), x.view([…])
//   x.permute(…), x.transpose(a, b) x.permuted([…]), x.transposed(a, b)
//   x.unsqueeze(d), x.squeeze(d)    x.unsqueezed(axis: d), x.squeezed(axis: d)
//   x.flatten(s, e)                 x.flattened(from: s, through: e)
//   x.expand(…), x.narrow(d, s, n)  x.expanded(to: […]), x.narrowed(axis: d, start: s, length: n)
//   x.chunk(n, d), x.split(n, d)    x.chunked(n, axis: d), x.split(size: n, axis: d)
//   x.detach(), x.clone()           x.detached(), x.copied()
//   x.size(), x.dim(), x.numel()    x.shape, x.rank, x.count
//   x.t(), x.T, x.mm(y), x.bmm(y)   x.transposed(0, 1), x.mT, matmul(x, y)
//   x.masked_fill(m, v)             x.filled(where: m, with: v)
//   x.index_select(d, i)            x.indexSelected(axis: d, indices: i)
//   x.gather(d, i)                  x.gathered(axis: d, indices: i)
//   x.sum(dim:keepdim:) and mean, argmax, argmin: sum(axis:keepingDims:) (axes: for a list)
//   x.max(dim:), x.min(dim:)        x.max(axis:) values, x.argmax(axis:) indices
//   x.clamp(…), x.clip(…)           x.clamped(min:max:)
//   x.requires_grad, x.is_leaf      x.requiresGrad, x.isLeaf
//   x.item(), x.contiguous()        the same
//   x.tolist(), x.numpy()           x.scalars (row-major) with x.shape
//   x.zero_()                       x.assign(Tensor(zeros: x.shape)); gradients: optimizer.zeroGrad()
//   torch.cat, torch.stack          Tensor.concatenate(_:axis:), Tensor.stack(_:axis:)
//   torch.zeros/ones/full           Tensor(zeros:), Tensor(ones:), Tensor(repeating:shape:)
//   torch.mm, torch.bmm             matmul(_:_:)
//   torch.no_grad, manual_seed      withoutGrad { … }, manualSeed(_:)
//
// Every declaration's distinguishing label has no default, so it never matches a call that an
// available declaration takes. Tensor methods must not share a base name with a free function
// (`matmul`, `softmax`, …): inside `extension Tensor` the member would hide the function.

extension Tensor {
    /// PyTorch's `x.reshape(shape)`.
    @available(*, unavailable, renamed: "reshaped(_:)")
    public func reshape(_ shape: [Int]) -> Tensor { fatalError() }

    /// PyTorch's `x.reshape(2, 3)`.
    @available(*, unavailable, message: "use reshaped with the shape as an array: x.reshaped([2, 3])")
    public func reshape(_ shape: Int...) -> Tensor { fatalError() }

    /// PyTorch's `x.view(2, 3)`.
    @available(*, unavailable, message: "use view or reshaped with the shape as an array: x.view([2, 3])")
    public func view(_ shape: Int...) -> Tensor { fatalError() }

    /// PyTorch's `x.permute(dims)`.
    @available(*, unavailable, renamed: "permuted(_:)")
    public func permute(_ dims: [Int]) -> Tensor { fatalError() }

    /// PyTorch's `x.permute(0, 2, 1)`.
    @available(*, unavailable, message: "use permuted with the axes as an array: x.permuted([0, 2, 1])")
    public func permute(_ dims: Int...) -> Tensor { fatalError() }

    /// PyTorch's `x.transpose(dim0, dim1)`.
    @available(*, unavailable, renamed: "transposed(_:_:)")
    public func transpose(_ dim0: Int, _ dim1: Int) -> Tensor { fatalError() }

    /// PyTorch's `x.unsqueeze(dim)`.
    @available(*, unavailable, renamed: "unsqueezed(axis:)")
    public func unsqueeze(_ dim: Int) -> Tensor { fatalError() }

    /// PyTorch's `x.squeeze()`.
    @available(*, unavailable, renamed: "squeezed()")
    public func squeeze() -> Tensor { fatalError() }

    /// PyTorch's `x.squeeze(dim)`.
    @available(*, unavailable, renamed: "squeezed(axis:)")
    public func squeeze(_ dim: Int) -> Tensor { fatalError() }

    /// PyTorch's `x.flatten(start_dim, end_dim)`.
    @available(*, unavailable, renamed: "flattened(from:through:)")
    public func flatten(_ startDim: Int = 0, _ endDim: Int = -1) -> Tensor { fatalError() }

    /// PyTorch's `x.flatten(start_dim=…, end_dim=…)`.
    @available(*, unavailable, renamed: "flattened(from:through:)")
    public func flatten(startDim: Int, endDim: Int = -1) -> Tensor { fatalError() }

    /// PyTorch's `x.expand(sizes)`.
    @available(*, unavailable, renamed: "expanded(to:)")
    public func expand(_ sizes: [Int]) -> Tensor { fatalError() }

    /// PyTorch's `x.expand(2, 3)`.
    @available(*, unavailable, message: "use expanded(to:) with the shape as an array: x.expanded(to: [2, 3])")
    public func expand(_ sizes: Int...) -> Tensor { fatalError() }

    /// PyTorch's `x.narrow(dim, start, length)`.
    @available(*, unavailable, renamed: "narrowed(axis:start:length:)")
    public func narrow(_ dim: Int, _ start: Int, _ length: Int) -> Tensor { fatalError() }

    /// PyTorch's `x.chunk(chunks, dim=…)`.
    @available(*, unavailable, renamed: "chunked(_:axis:)")
    public func chunk(_ chunks: Int, dim: Int = 0) -> [Tensor] { fatalError() }

    /// PyTorch's `x.split(split_size, dim=…)`.
    @available(*, unavailable, renamed: "split(size:axis:)")
    public func split(_ splitSize: Int, dim: Int = 0) -> [Tensor] { fatalError() }

    /// PyTorch's `x.split([sizes], dim=…)`.
    @available(*, unavailable, renamed: "split(sizes:axis:)")
    public func split(_ sizes: [Int], dim: Int = 0) -> [Tensor] { fatalError() }

    /// PyTorch's `x.detach()`.
    @available(*, unavailable, renamed: "detached()")
    public func detach() -> Tensor { fatalError() }

    /// PyTorch's `x.clone()`.
    @available(*, unavailable, renamed: "copied()")
    public func clone() -> Tensor { fatalError() }

    /// PyTorch's `x.size()`.
    @available(*, unavailable, message: "use the shape property: x.shape")
    public func size() -> [Int] { fatalError() }

    /// PyTorch's `x.size(dim)`.
    @available(*, unavailable, message: "use the shape property: x.shape[dim]")
    public func size(_ dim: Int) -> Int { fatalError() }

    /// PyTorch's `x.dim()`.
    @available(*, unavailable, message: "use the rank property: x.rank")
    public func dim() -> Int { fatalError() }

    /// PyTorch's `x.ndim`.
    @available(*, unavailable, renamed: "rank")
    public var ndim: Int { fatalError() }

    /// PyTorch's `x.numel()`.
    @available(*, unavailable, message: "use the count property: x.count")
    public func numel() -> Int { fatalError() }

    /// PyTorch's `x.t()`.
    @available(*, unavailable, message: "use x.transposed(0, 1), or x.mT to swap the last two axes")
    public func t() -> Tensor { fatalError() }

    /// PyTorch's `x.T`.
    @available(*, unavailable, message: "use x.mT to swap the last two axes, or x.permuted([…]) to reverse them all")
    public var T: Tensor { fatalError() }

    /// PyTorch's `x.mm(y)`.
    @available(*, unavailable, message: "use the function matmul(x, y)")
    public func mm(_ other: Tensor) -> Tensor { fatalError() }

    /// PyTorch's `x.bmm(y)`.
    @available(*, unavailable, message: "use the function matmul(x, y), which batches over the leading axes")
    public func bmm(_ other: Tensor) -> Tensor { fatalError() }

    /// PyTorch's `x.masked_fill(mask, value)`.
    @available(*, unavailable, renamed: "filled(where:with:)")
    public func masked_fill(_ mask: Tensor, _ value: Float) -> Tensor { fatalError() }

    /// PyTorch's `x.index_select(dim, index)`.
    @available(*, unavailable, renamed: "indexSelected(axis:indices:)")
    public func index_select(_ dim: Int, _ index: [Int]) -> Tensor { fatalError() }

    /// PyTorch's `x.index_select(dim, index)` in camel case.
    @available(*, unavailable, renamed: "indexSelected(axis:indices:)")
    public func indexSelect(_ dim: Int, _ index: [Int]) -> Tensor { fatalError() }

    /// PyTorch's `x.gather(dim, index)`.
    @available(*, unavailable, renamed: "gathered(axis:indices:)")
    public func gather(_ dim: Int, _ index: Tensor) -> Tensor { fatalError() }

    /// PyTorch's `x.gather(dim=…, index=…)`.
    @available(*, unavailable, renamed: "gathered(axis:indices:)")
    public func gather(dim: Int, index: Tensor) -> Tensor { fatalError() }

    /// PyTorch's `x.sum(dim, keepdim)`.
    @available(*, unavailable, renamed: "sum(axis:keepingDims:)")
    public func sum(dim: Int, keepdim: Bool = false) -> Tensor { fatalError() }

    /// PyTorch's `x.sum([dims], keepdim)`.
    @available(*, unavailable, renamed: "sum(axes:keepingDims:)")
    public func sum(dim: [Int], keepdim: Bool = false) -> Tensor { fatalError() }

    /// PyTorch's `x.mean(dim, keepdim)`.
    @available(*, unavailable, renamed: "mean(axis:keepingDims:)")
    public func mean(dim: Int, keepdim: Bool = false) -> Tensor { fatalError() }

    /// PyTorch's `x.mean([dims], keepdim)`.
    @available(*, unavailable, renamed: "mean(axes:keepingDims:)")
    public func mean(dim: [Int], keepdim: Bool = false) -> Tensor { fatalError() }

    /// PyTorch's `x.argmax(dim, keepdim)`.
    @available(*, unavailable, renamed: "argmax(axis:keepingDims:)")
    public func argmax(dim: Int, keepdim: Bool = false) -> Tensor { fatalError() }

    /// PyTorch's `x.argmin(dim, keepdim)`.
    @available(*, unavailable, renamed: "argmin(axis:keepingDims:)")
    public func argmin(dim: Int, keepdim: Bool = false) -> Tensor { fatalError() }

    /// PyTorch's `x.max(dim)`, which returns values and indices.
    @available(*, unavailable, message: "use max(axis:keepingDims:) for the values and argmax(axis:keepingDims:) for the indices")
    public func max(dim: Int, keepdim: Bool = false) -> (values: Tensor, indices: Tensor) { fatalError() }

    /// PyTorch's `x.min(dim)`, which returns values and indices.
    @available(*, unavailable, message: "use min(axis:keepingDims:) for the values and argmin(axis:keepingDims:) for the indices")
    public func min(dim: Int, keepdim: Bool = false) -> (values: Tensor, indices: Tensor) { fatalError() }

    /// PyTorch's `x.clamp(min, max)`.
    @available(*, unavailable, renamed: "clamped(min:max:)")
    public func clamp(min: Float? = nil, max: Float? = nil) -> Tensor { fatalError() }

    /// PyTorch's `x.clip(min, max)`.
    @available(*, unavailable, renamed: "clamped(min:max:)")
    public func clip(min: Float? = nil, max: Float? = nil) -> Tensor { fatalError() }

    /// PyTorch's `x.requires_grad`.
    @available(*, unavailable, renamed: "requiresGrad")
    public var requires_grad: Bool { get { fatalError() } set { fatalError() } }

    /// PyTorch's `x.requires_grad_()`.
    @available(*, unavailable, message: "set the property: x.requiresGrad = true")
    public func requires_grad_(_ requiresGrad: Bool = true) -> Tensor { fatalError() }

    /// PyTorch's `x.is_leaf`.
    @available(*, unavailable, renamed: "isLeaf")
    public var is_leaf: Bool { fatalError() }

    /// PyTorch's `x.zero_()`.
    @available(*, unavailable, message: "use x.assign(Tensor(zeros: x.shape)); for gradients, optimizer.zeroGrad() or p.grad = nil")
    public func zero_() -> Tensor { fatalError() }

    /// PyTorch's `x.tolist()`.
    @available(*, unavailable, message: "use x.scalars, the elements in row-major order, with x.shape")
    public func tolist() -> [Float] { fatalError() }

    /// PyTorch's `x.numpy()`.
    @available(*, unavailable, message: "use x.scalars, the elements in row-major order, with x.shape (or x.writeNpy(to:))")
    public func numpy() -> [Float] { fatalError() }

    /// `torch.cat(tensors, dim)` as a static method.
    @available(*, unavailable, renamed: "concatenate(_:axis:)")
    public static func cat(_ tensors: [Tensor], dim: Int = 0) -> Tensor { fatalError() }

    /// `torch.concatenate(tensors, dim)` with PyTorch's label.
    @available(*, unavailable, renamed: "concatenate(_:axis:)")
    public static func concatenate(_ tensors: [Tensor], dim: Int) -> Tensor { fatalError() }

    /// `torch.stack(tensors, dim)` with PyTorch's label.
    @available(*, unavailable, renamed: "stack(_:axis:)")
    public static func stack(_ tensors: [Tensor], dim: Int) -> Tensor { fatalError() }

    /// `torch.zeros(shape)` as a static method.
    @available(*, unavailable, renamed: "init(zeros:)")
    public static func zeros(_ shape: [Int]) -> Tensor { fatalError() }

    /// `torch.ones(shape)` as a static method.
    @available(*, unavailable, renamed: "init(ones:)")
    public static func ones(_ shape: [Int]) -> Tensor { fatalError() }

    /// `torch.full(shape, value)` as a static method.
    @available(*, unavailable, message: "use Tensor(repeating: value, shape: [...])")
    public static func full(_ shape: [Int], _ value: Float) -> Tensor { fatalError() }
}

/// `torch.cat(tensors, dim)`.
@available(*, unavailable, renamed: "Tensor.concatenate(_:axis:)")
public func cat(_ tensors: [Tensor], dim: Int = 0) -> Tensor { fatalError() }

/// `torch.concat(tensors, dim)`.
@available(*, unavailable, renamed: "Tensor.concatenate(_:axis:)")
public func concat(_ tensors: [Tensor], dim: Int = 0) -> Tensor { fatalError() }

/// `torch.stack(tensors, dim)`.
@available(*, unavailable, renamed: "Tensor.stack(_:axis:)")
public func stack(_ tensors: [Tensor], dim: Int = 0) -> Tensor { fatalError() }

/// `torch.mm(a, b)`.
@available(*, unavailable, renamed: "matmul(_:_:)")
public func mm(_ a: Tensor, _ b: Tensor) -> Tensor { fatalError() }

/// `torch.bmm(a, b)`.
@available(*, unavailable, renamed: "matmul(_:_:)")
public func bmm(_ a: Tensor, _ b: Tensor) -> Tensor { fatalError() }

/// `with torch.no_grad():` as a closure.
@available(*, unavailable, renamed: "withoutGrad(_:)")
public func no_grad<R>(_ body: () throws -> R) rethrows -> R { fatalError() }

/// `torch.no_grad()` in camel case.
@available(*, unavailable, renamed: "withoutGrad(_:)")
public func noGrad<R>(_ body: () throws -> R) rethrows -> R { fatalError() }

/// `torch.manual_seed(seed)`.
@available(*, unavailable, renamed: "manualSeed(_:)")
public func manual_seed(_ seed: UInt64) { fatalError() }
