#include "CFuzzerDriver.h"

// Provided by libFuzzer (linked by -sanitize=fuzzer) since LLVM 11.
extern int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*test)(const uint8_t *data, size_t size));

int fuzz_run_driver(int argc, char **argv, FuzzTestOneInput test) {
    return LLVMFuzzerRunDriver(&argc, &argv, test);
}
