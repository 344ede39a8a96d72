#if canImport(Glibc)
import Glibc
#endif

/// Where a programmer's error (shapes that do not fit) is reported. Ops call ``shapeCheck(_:_:)``;
/// the message names the op and the shapes, and this adds the module path that a higher layer
/// (DeepNN's module calls) reports through ``contextDescription``.
public enum ShapeErrors {
    /// Describes where the calling thread is (for DeepNN: the dotted path of the module running).
    nonisolated(unsafe) public static var contextDescription: (() -> String?)? = nil

    /// Collects failures on one thread during ``recording(_:)``.
    private final class Recorder { var first: String? }

    private static let recorderKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    private static var currentRecorder: Recorder? {
        pthread_getspecific(recorderKey).map { Unmanaged<Recorder>.fromOpaque($0).takeUnretainedValue() }
    }

    /// Runs `body` with failed shape checks on this thread recorded instead of stopping the
    /// program (for shape-only runs such as summaries); returns the first failure's message.
    public static func recording<R>(_ body: () throws -> R) rethrows -> (result: R, failure: String?) {
        let recorder = Recorder()
        let previous = pthread_getspecific(recorderKey)
        pthread_setspecific(recorderKey, Unmanaged.passUnretained(recorder).toOpaque())
        defer { pthread_setspecific(recorderKey, previous) }
        let result = try withExtendedLifetime(recorder) { try body() }
        return (result, recorder.first)
    }

    /// Whether a recording on this thread has already seen a failure.
    public static var hasRecordedFailure: Bool { currentRecorder?.first != nil }

    /// Reports a failed check: recorded when ``recording(_:)`` is active on this thread, else
    /// the program stops with the message and the module path.
    public static func fail(_ message: String, file: StaticString = #file, line: UInt = #line) {
        let context = contextDescription?().map { " (in module \($0))" } ?? ""
        if let recorder = currentRecorder {
            if recorder.first == nil { recorder.first = message + context }
            return
        }
        preconditionFailure(message + context, file: file, line: line)
    }
}

/// Stops with `message` (which names the op and the shapes) and the module path when
/// `condition` is false; see ``ShapeErrors``. Returns the condition, so that during a shape-only
/// run, where failures are recorded instead, an op can stop early:
///
///     guard shapeCheck(a.shape == b.shape, "op: \(a.shape) vs \(b.shape)") else { return .shapeFailure }
@inline(__always) @discardableResult
public func shapeCheck(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
                       file: StaticString = #file, line: UInt = #line) -> Bool {
    if condition() { return true }
    ShapeErrors.fail(message(), file: file, line: line)
    return false
}

extension Tensor {
    /// What an op returns after a failed ``shapeCheck(_:_:file:line:)`` during a shape-only run
    /// (where the failure is recorded rather than fatal): a shape-only scalar.
    public static var shapeFailure: Tensor { Tensor(metaShape: []) }
}
