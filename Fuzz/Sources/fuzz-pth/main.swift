// Starts libFuzzer on this target's `LLVMFuzzerTestOneInput`.
import FuzzSupport

runFuzzer(fuzz)
