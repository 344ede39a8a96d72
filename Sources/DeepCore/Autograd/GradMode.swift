#if canImport(Glibc)
import Glibc
#endif

/// Per-thread switch for recording operations. Recording is on unless a ``withoutGrad(_:)``
/// block is running on this thread.
enum GradMode {
    // A non-nil value on a thread means recording is off there.
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    static var isEnabled: Bool {
        get { pthread_getspecific(key) == nil }
        set { pthread_setspecific(key, newValue ? nil : UnsafeRawPointer(bitPattern: 1)) }
    }
}

/// Runs `body` without recording operations for autograd (PyTorch's `torch.no_grad()`); results
/// computed inside do not require gradients.
@discardableResult
public func withoutGrad<R>(_ body: () throws -> R) rethrows -> R {
    let previous = GradMode.isEnabled
    GradMode.isEnabled = false
    defer { GradMode.isEnabled = previous }
    return try body()
}

/// Whether operations on this thread are being recorded for autograd.
public var isGradEnabled: Bool { GradMode.isEnabled }
