import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Turns Ctrl-C (SIGINT) and SIGTERM into a call of `handler` on another thread, instead of
/// killing the process in the middle of writing a file. A second signal kills as usual.
final class Interruption {
    private var sources: [DispatchSourceSignal] = []

    /// Starts catching the signals until the object is released.
    init(_ handler: @escaping @Sendable () -> Void) {
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                handler()
                signal(number, SIG_DFL)
            }
            source.resume()
            sources.append(source)
        }
    }

    deinit {
        for source in sources { source.cancel() }
        for number in [SIGINT, SIGTERM] { signal(number, SIG_DFL) }
    }
}
