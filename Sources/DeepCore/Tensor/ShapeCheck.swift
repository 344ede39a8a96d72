#if canImport(Glibc)
import Glibc
#endif

// Programmer's errors: shapes that do not fit, axes or arguments out of range, values read from a
// shape-only tensor. They stop the program with a message that names the op, the shapes and the
// module path — in release builds too (`fatalError` keeps its message under `-O`, where
// `precondition` drops it). During a shape-only run (a model summary) shape failures are recorded
// instead, so that the summary can throw them. Data from outside (files, patterns, options)
// throws instead: see `TensorFileError` and `EinopsError`.

/// Where a programmer's error (shapes that do not fit) is reported. Ops call ``shapeCheck(_:_:file:line:)``
/// and ``require(_:_:file:line:)``; the message names the op and the shapes, and this adds the
/// module path that a higher layer (DeepNN's module calls) reports through ``contextDescription``.
public enum ShapeErrors {
    /// Describes where the calling thread is (for DeepNN: the dotted path of the module running).
    nonisolated(unsafe) public static var contextDescription: (() -> String?)? = nil

    /// Collects failures on one thread during ``recording(_:)``.
    private final class Recorder {
        var first: String?
        /// Zeroed blocks handed out for values read from shape-only tensors; freed at the end.
        var scratch: [UnsafeMutablePointer<Float>] = []
        deinit { for block in scratch { block.deallocate() } }
    }

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

    /// `message` followed by the module path, when a module is running.
    public static func describe(_ message: String) -> String {
        message + (contextDescription?().map { " (in module \($0))" } ?? "")
    }

    /// Reports a failed check: recorded when ``recording(_:)`` is active on this thread, else
    /// the program stops with the message and the module path.
    public static func fail(_ message: String, file: StaticString = #file, line: UInt = #line) {
        if let recorder = currentRecorder {
            if recorder.first == nil { recorder.first = describe(message) }
            return
        }
        stop(message, file: file, line: line)
    }

    /// Stops the program with `message` and the module path, in every build configuration.
    /// During a shape-only run that has already recorded a failure, that failure is the cause
    /// (what follows ran on a placeholder) and is named first.
    public static func stop(_ message: String, file: StaticString = #file, line: UInt = #line) -> Never {
        let cause = currentRecorder?.first.map { "\($0)\nwhich led to: " } ?? ""
        fflush(nil)   // what the program printed before (buffered when piped) is not lost
        fatalError(cause + describe(message), file: file, line: line)
    }

    /// What ``TensorStorage/pointer`` does for a shape-only storage: outside a recording the
    /// program stops naming the op that made the tensor; inside one (a summary) the failure is
    /// recorded and a zeroed block of the storage's size stands in, so the run can finish and
    /// report it.
    static func valuesOfShapeOnly(_ storage: TensorStorage) -> UnsafeMutablePointer<Float> {
        let maker = storage.madeBy.map { " made by \($0)" } ?? ""
        let elements = storage.count == 1 ? "1 element" : "\(storage.count) elements"
        let message = "reads the values of a shape-only tensor\(maker) (\(elements)); "
            + "summaries and shape checks run on shapes only"
        guard let recorder = currentRecorder else { stop(message) }
        if recorder.first == nil { recorder.first = describe(message) }
        let block = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(storage.count, 16))
        block.initialize(repeating: 0, count: Swift.max(storage.count, 16))
        recorder.scratch.append(block)
        return block
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

/// Stops with `message` and the module path when `condition` is false, in release builds too
/// (unlike `precondition`, whose message `-O` drops). For arguments that must hold whatever the
/// run (indices in range, a probability in [0, 1)); never recorded, even during a summary.
///
///     require(p >= 0 && p < 1, "dropout: p \(p) is not in [0, 1)")
@inline(__always)
public func require(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
                    file: StaticString = #file, line: UInt = #line) {
    if !condition() { ShapeErrors.stop(message(), file: file, line: line) }
}

extension Tensor {
    /// What an op returns after a failed ``shapeCheck(_:_:file:line:)`` during a shape-only run
    /// (where the failure is recorded rather than fatal): a shape-only scalar.
    public static var shapeFailure: Tensor { Tensor(metaShape: [], madeBy: "a failed shape check") }
}
