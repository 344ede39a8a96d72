#ifndef CPNG_H
#define CPNG_H
#include <stddef.h>
#include <stdint.h>

/// A decoded PNG: `height` rows of `width * channels` samples of `bit_depth` bits (8, or 16 in
/// host byte order), interleaved (HWC). `pixels` is malloc'd; free it with `cpng_free`.
typedef struct {
    uint32_t width;
    uint32_t height;
    int channels;
    int bit_depth;
    void *pixels;
} cpng_image;

/// Decodes the PNG `data` of `size` bytes: palette → RGB (RGBA with tRNS), gray < 8 bits → 8
/// (scaled to 0…255), tRNS → alpha, interlaced images de-interlaced, 16-bit samples kept. With
/// `raw_indices` (for class-index masks) a palette image gives its indices and gray of 1, 2 or 4
/// bits its unscaled values, one 8-bit channel, and tRNS is ignored. Refuses images of more than
/// `max_pixels` pixels. Returns 0, or -1 with the reason in `message` (libpng's errors are caught
/// here in C: its longjmp never crosses a Swift frame).
int cpng_decode(const uint8_t *data, size_t size, uint64_t max_pixels, int raw_indices, cpng_image *out,
                char *message, size_t message_size);

/// Encodes `height` rows of `width * channels` samples (1–4 channels; 8-bit, or 16-bit in host
/// byte order) as PNG. On success `*out` is a malloc'd buffer of `*out_size` bytes (free it with
/// `cpng_free`) and the result is 0; otherwise -1 with the reason in `message`.
int cpng_encode(const void *pixels, uint32_t width, uint32_t height, int channels, int bit_depth,
                uint8_t **out, size_t *out_size, char *message, size_t message_size);

/// Frees a buffer returned by `cpng_decode` or `cpng_encode`.
void cpng_free(void *buffer);

#endif
