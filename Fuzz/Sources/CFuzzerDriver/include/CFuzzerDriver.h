// libFuzzer's driver, called from Swift: the fuzz targets are SwiftPM executables, whose `main`
// is their own top-level code, so they start libFuzzer explicitly rather than through
// libFuzzer's `main`.
#ifndef C_FUZZER_DRIVER_H
#define C_FUZZER_DRIVER_H

#include <stddef.h>
#include <stdint.h>

/// One input's test: returns 0 (libFuzzer's contract).
typedef int (*FuzzTestOneInput)(const uint8_t *data, size_t size);

/// Runs libFuzzer (`LLVMFuzzerRunDriver`) with the command line `argc`/`argv` on `test`;
/// returns its exit status.
int fuzz_run_driver(int argc, char **argv, FuzzTestOneInput test);

/// libFuzzer's own mutation of `data` (`size` bytes, room for `max_size`), for custom mutators;
/// returns the new size.
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);

#endif
