import CFuzzerDriver
import Foundation

/// Runs libFuzzer on `test` with this process's command line (libFuzzer's flags and corpus
/// folders) and exits with its status. Each fuzz target's `main.swift` calls it with its
/// `LLVMFuzzerTestOneInput`.
/// - Parameter test: one input's test: the bytes and their count; returns 0.
public func runFuzzer(_ test: @escaping @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> Never {
    exit(fuzz_run_driver(CommandLine.argc, CommandLine.unsafeArgv, test))
}
