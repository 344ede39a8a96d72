// einops' rearrange, reduce and repeat. A pattern is analysed once per (operation, pattern,
// size names, rank) into an `EinopsRecipe` (cached), then executed by composing differentiable
// core ops: reshape to the input's elementary axes → permute (kept axes in output order, reduced
// axes last) → reduce the trailing axes → insert and broadcast the new axes → reshape to the
// output's groups. Max, min and prod reductions are a small op of their own, below.

import Synchronization

/// How ``Tensor/reduced(_:_:_:)`` combines the elements of the reduced axes.
public enum EinopsReduction: String, CaseIterable, Sendable {
    /// The sum of the reduced elements.
    case sum
    /// Their mean (the sum times 1 / count).
    case mean
    /// The largest; a NaN wins. The gradient goes to the first largest element.
    case max
    /// The smallest; a NaN wins. The gradient goes to the first smallest element.
    case min
    /// The product. The gradient of each element is the product of the others.
    case prod
}

extension Tensor {
    /// Reorders, splits and merges axes as a pattern says (einops' `rearrange`): transpose,
    /// reshape, squeeze, unsqueeze and flatten in one notation. Differentiable.
    ///
    ///     try x.rearranged("b c h w -> b h w c")                    // (B, C, H, W) → (B, H, W, C)
    ///     try x.rearranged("b (h w) c -> b c h w", ["h": 32])       // (B, 32·W, C) → (B, C, 32, W)
    ///     try x.rearranged("b ... -> b (...)")                      // (B, …) → (B, ∏…)
    ///
    /// Grammar: `"left -> right"`; names are identifiers not starting or ending with `_`;
    /// `(a b)` composes axes in C order (the last varies fastest); `1` or `()` is a unit axis;
    /// `...` (once per side) stands for the axes not named. Both sides must name the same axes.
    /// - Parameter pattern: the pattern, e.g. `"b (h w) c -> b c h w"`.
    /// - Parameter sizes: lengths of axes that cannot be inferred from the shape (one unknown per
    ///   input axis at most); a size that can be inferred is checked.
    /// - Throws: ``EinopsError`` quoting the pattern and the shape when the pattern is malformed
    ///   or does not fit the input, or when the axis lengths (given, anonymous or inferred)
    ///   multiply past `Int.max`, naming the axes.
    public func rearranged(_ pattern: String, _ sizes: [String: Int] = [:]) throws -> Tensor {
        try applyingEinops(.rearrange, pattern, sizes)
    }

    /// Stacks `tensors` on a new axis 0 and rearranges the result as in
    /// ``rearranged(_:_:)``: `"b h w -> h (b w)"` concatenates a list of (H, W) along W.
    /// - Parameter tensors: tensors of one shape S; the pattern's input is (count, S).
    /// - Throws: ``EinopsError`` as ``rearranged(_:_:)`` does (quoting the stacked shape, as
    ///   einops does), or when the list is empty or the shapes differ.
    public static func rearranged(_ tensors: [Tensor], _ pattern: String, _ sizes: [String: Int] = [:]) throws -> Tensor {
        try stackedForEinops(tensors, "rearrange", pattern, sizes).applyingEinops(.rearrange, pattern, sizes)
    }

    /// Reduces the axes that the left side names and the right side does not (einops' `reduce`),
    /// rearranging the rest. Differentiable.
    ///
    ///     try x.reduced("b c (h 2) (w 2) -> b c h w", .mean)   // 2×2 average pool: (B, C, 2H, 2W) → (B, C, H, W)
    ///     try x.reduced("b c h w -> b c 1 1", .max)            // (B, C, H, W) → (B, C, 1, 1)
    ///     try x.reduced("(a1 a2) ... -> a1", .sum, ["a1": 2])  // (2·A2, …) → (2)
    ///
    /// Numbers on the left are anonymous axes, always reduced. With `.max` and `.min` the whole
    /// gradient of a reduced block goes to its first extreme element in row-major order of the
    /// left side's axes (PyTorch's `amax` would split it evenly among ties).
    /// - Parameter pattern: as in ``rearranged(_:_:)``, but the right side names a subset of the
    ///   left side's axes.
    /// - Parameter reduction: how the reduced elements combine.
    /// - Parameter sizes: as in ``rearranged(_:_:)``.
    /// - Throws: ``EinopsError``, also when max or min reduce an empty axis.
    public func reduced(_ pattern: String, _ reduction: EinopsReduction, _ sizes: [String: Int] = [:]) throws -> Tensor {
        try applyingEinops(.reduce(reduction), pattern, sizes)
    }

    /// ``reduced(_:_:_:)`` with the reduction named by a string (`"sum"`, `"mean"`, `"max"`,
    /// `"min"`, `"prod"`), e.g. from a configuration file.
    /// - Throws: ``EinopsError`` for an unknown name, or as ``reduced(_:_:_:)``.
    public func reduced(_ pattern: String, _ reduction: String, _ sizes: [String: Int] = [:]) throws -> Tensor {
        guard let known = EinopsReduction(rawValue: reduction) else {
            let names = EinopsReduction.allCases.map { "'\($0.rawValue)'" }.joined(separator: ", ")
            throw EinopsError("Unknown reduction \(reduction). Expect one of (\(names)).")
                .inContext(operation: reduction, pattern: pattern, shape: shape, sizes: sizes)
        }
        return try reduced(pattern, known, sizes)
    }

    /// Stacks `tensors` on a new axis 0 and reduces the result as in ``reduced(_:_:_:)``
    /// (einops' `reduce` of a list): `"n h w -> h w"` with `.mean` averages a list of (H, W).
    /// - Parameter tensors: tensors of one shape S; the pattern's input is (count, S).
    /// - Throws: ``EinopsError`` as ``reduced(_:_:_:)`` does (quoting the stacked shape), or
    ///   when the list is empty or the shapes differ.
    public static func reduced(_ tensors: [Tensor], _ pattern: String, _ reduction: EinopsReduction,
                               _ sizes: [String: Int] = [:]) throws -> Tensor {
        try stackedForEinops(tensors, reduction.rawValue, pattern, sizes).reduced(pattern, reduction, sizes)
    }

    /// The list form of ``reduced(_:_:_:)`` with the reduction named by a string (`"sum"`, `"max"`, …).
    /// - Throws: ``EinopsError`` for an unknown name, or as the list form with a reduction.
    public static func reduced(_ tensors: [Tensor], _ pattern: String, _ reduction: String,
                               _ sizes: [String: Int] = [:]) throws -> Tensor {
        try stackedForEinops(tensors, reduction, pattern, sizes).reduced(pattern, reduction, sizes)
    }

    /// Stacks `tensors` on a new axis 0 and repeats the result as in ``repeated(_:_:)`` (einops'
    /// `repeat` of a list): `"n h w -> h (n w) c"` with `["c": 3]`.
    /// - Parameter tensors: tensors of one shape S; the pattern's input is (count, S).
    /// - Throws: ``EinopsError`` as ``repeated(_:_:)`` does (quoting the stacked shape), or
    ///   when the list is empty or the shapes differ.
    public static func repeated(_ tensors: [Tensor], _ pattern: String, _ sizes: [String: Int] = [:]) throws -> Tensor {
        try stackedForEinops(tensors, "repeat", pattern, sizes).repeated(pattern, sizes)
    }

    /// Repeats elements along new axes that the right side names (einops' `repeat`), rearranging
    /// the rest. Differentiable: the gradient sums over the copies.
    ///
    ///     try x.repeated("h w -> h w c", ["c": 3])            // (H, W) → (H, W, 3)
    ///     try x.repeated("h w -> (h 2) (w 2)")                // nearest upsampling: (H, W) → (2H, 2W)
    ///     try x.repeated("h w -> (r h) w", ["r": 2])          // tile: (H, W) → (2H, W)
    ///
    /// - Parameter pattern: as in ``rearranged(_:_:)``, but the right side names a superset of
    ///   the left side's axes; numbers on the right are new anonymous axes of that length.
    /// - Parameter sizes: the length of every new named axis, and any sizes as in
    ///   ``rearranged(_:_:)``.
    /// - Throws: ``EinopsError`` as ``rearranged(_:_:)`` does, or when a new axis has no size.
    public func repeated(_ pattern: String, _ sizes: [String: Int] = [:]) throws -> Tensor {
        try applyingEinops(.repeat, pattern, sizes)
    }

    /// Analyses (or fetches from the cache) and executes `pattern`, putting every error in
    /// einops' context.
    private func applyingEinops(_ operation: EinopsOperation, _ pattern: String, _ sizes: [String: Int]) throws -> Tensor {
        do {
            let recipe = try EinopsRecipeCache.recipe(pattern: pattern, operation: operation,
                                                      sizeNames: sizes.keys.sorted(), rank: rank)
            let lengths = try recipe.axisLengths(inputShape: shape, sizes: sizes)
            if !isMeta { try recipe.checkResultFitsInMemory(lengths) }
            return try executing(recipe, lengths: lengths, operation: operation)
        } catch let error as EinopsError {
            throw error.inContext(operation: operation.name, pattern: pattern, shape: shape, sizes: sizes)
        }
    }

    /// Runs `recipe` with the resolved elementary axis `lengths`.
    private func executing(_ recipe: EinopsRecipe, lengths: [Int], operation: EinopsOperation) throws -> Tensor {
        let inputCount = recipe.permutation.count
        var x = reshaped(Array(lengths[..<inputCount]))
        if recipe.permutation != Array(0..<inputCount) { x = x.permuted(recipe.permutation) }
        if recipe.reducedCount > 0, case .reduce(let reduction) = operation {
            x = try x.reducingTrailingAxes(recipe.reducedCount, by: reduction)
        }
        if !recipe.addedAxes.isEmpty {
            for (position, _) in recipe.addedAxes { x = x.unsqueezed(axis: position) }
            var target = x.shape
            for (position, axis) in recipe.addedAxes { target[position] = lengths[axis] }
            x = x.expanded(to: target)
        }
        return x.reshaped(recipe.outputAxes.map { group in group.reduce(1) { $0 * lengths[$1] } })
    }

    /// Reduces the last `count` axes.
    private func reducingTrailingAxes(_ count: Int, by reduction: EinopsReduction) throws -> Tensor {
        let axes = Array((rank - count)..<rank)
        switch reduction {
        case .sum:
            return sum(axes: axes)
        case .mean:
            return sum(axes: axes) * (1 / Float(axes.reduce(1) { $0 * shape[$1] }))
        case .max, .min, .prod:
            return try reducingRows(trailing: count, by: reduction)
        }
    }

    /// Max, min or prod over the last `count` axes, seen as rows of a contiguous copy:
    /// (…, R₁, …, R_count) → (…). The pullback gives a max or min row's gradient to its first
    /// extreme element (a NaN is the extreme, as it propagates), and a prod row's to each element
    /// as the product of the others (prefix · suffix products, exact with zeros).
    private func reducingRows(trailing count: Int, by reduction: EinopsReduction) throws -> Tensor {
        let outShape = Array(shape.dropLast(count))
        let rows = Shape.count(outShape), length = Shape.count(Array(shape.suffix(count)))
        guard reduction == .prod || length > 0 else {
            throw EinopsError("Cannot reduce \(reduction.rawValue) over axes with no elements")
        }
        let x = detached()
        return Tensor.op("einops_\(reduction.rawValue)", inputs: [self], shape: outShape) {
            let source = x.contiguous()
            let r = source.storage.pointer + source.offset
            var picks = [Int](repeating: 0, count: reduction == .prod ? 0 : rows)
            let result = Tensor.make(shape: outShape) { out in
                if reduction == .prod {
                    RowReductionKernels.product(r, out.baseAddress!, rows: rows, length: length)
                } else {
                    picks.withUnsafeMutableBufferPointer { picks in
                        RowReductionKernels.extremum(r, out.baseAddress!, picks: picks, rows: rows,
                                                     length: length, max: reduction == .max)
                    }
                }
            }
            // The pullback of prod reads the input; that of max and min only the picks.
            return (result, (reduction == .prod ? source : nil, picks))
        } pullback: { g, _, saved in
            let gc = g.contiguous()
            let gp = gc.storage.pointer + gc.offset
            return [Tensor.make(shape: x.shape) { dx in
                if let source = saved.0 {
                    RowReductionKernels.productGradient(source.storage.pointer + source.offset, gp, dx.baseAddress!,
                                                        rows: rows, length: length)
                } else {
                    saved.1.withUnsafeBufferPointer { picks in
                        RowReductionKernels.extremumGradient(gp, picks: picks, dx.baseAddress!, rows: rows, length: length)
                    }
                }
            }]
        }
    }

    /// The tensors stacked on a new axis 0 (a copy): S → (count, S). Differentiable. Throws, in
    /// einops' context for a list input to `operation`, when the list is empty or its shapes differ.
    private static func stackedForEinops(_ tensors: [Tensor], _ operation: String, _ pattern: String,
                                         _ sizes: [String: Int]) throws -> Tensor {
        func failure(_ reason: String) -> EinopsError {
            EinopsError(reason).inContext(operation: operation, pattern: pattern, shape: nil, sizes: sizes)
        }
        guard let first = tensors.first else {
            throw failure("Rearrange/Reduce/Repeat can't be applied to an empty list")
        }
        guard tensors.allSatisfy({ $0.shape == first.shape }) else {
            throw failure("All tensors of a list must have one shape, got \(tensors.map { EinopsError.tuple($0.shape) })")
        }
        return stack(tensors, axis: 0)
    }
}

/// Recipes already analysed, keyed by operation, pattern, size names and rank.
private enum EinopsRecipeCache {
    /// The whole of what a recipe depends on (a joined string let the names [""] and [], or
    /// ["a,b"] and ["a", "b"], share a recipe: found by fuzzing).
    private struct Key: Hashable {
        let operation: String, rank: Int, sizeNames: [String], pattern: String
    }

    private static let recipes = Mutex<[Key: EinopsRecipe]>([:])

    static func recipe(pattern: String, operation: EinopsOperation, sizeNames: [String], rank: Int) throws -> EinopsRecipe {
        let key = Key(operation: operation.name, rank: rank, sizeNames: sizeNames, pattern: pattern)
        if let cached = recipes.withLock({ $0[key] }) { return cached }
        let recipe = try EinopsRecipe(pattern: pattern, operation: operation, sizeNames: sizeNames, rank: rank)
        recipes.withLock { cache in
            if cache.count >= 1024 { cache.removeAll() }
            cache[key] = recipe
        }
        return recipe
    }
}
