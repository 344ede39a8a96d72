import DeepNN
import Foundation

/// Verifies one result of an example, in release builds too (unlike `assert`): prints
/// `✓ message` when `condition` holds; otherwise prints `check failed: message` on standard
/// error and ends the program with exit status 1, so that a wrong result fails the run.
///
///     check(lastLoss < firstLoss / 5, "the loss fell from \(firstLoss) to \(lastLoss), at least 5×")
public func check(_ condition: Bool, _ message: @autoclosure () -> String) {
    guard condition else {
        fflush(stdout)                                     // what was printed so far comes first
        FileHandle.standardError.write(Data("check failed: \(message())\n".utf8))
        exit(1)
    }
    print("✓ \(message())")
}

/// `value` with `digits` decimals, as Python's `f"{value:.4f}"`.
public func fmt<F: BinaryFloatingPoint>(_ value: F, _ digits: Int = 4) -> String {
    String(format: "%.\(digits)f", Double(value))
}

/// The largest absolute difference between the elements of `a` and `b`
/// (`(a - b).abs().max().item()`).
public func maxDifference(_ a: Tensor, _ b: Tensor) -> Float {
    (a - b).abs().max().item()
}
