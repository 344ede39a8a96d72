#ifndef CJPEG_H
#define CJPEG_H
#include <stddef.h>
#include <stdint.h>

/// A decoded JPEG: `height` rows of `width * channels` 8-bit samples (1 gray, 3 RGB), interleaved
/// (HWC). `pixels` is malloc'd; free it with `cjpeg_free`.
typedef struct {
    uint32_t width;
    uint32_t height;
    int channels;
    uint8_t *pixels;
} cjpeg_image;

/// Decodes the JPEG `data` of `size` bytes (baseline or progressive; gray stays gray, colour
/// becomes RGB; CMYK/YCCK refused). Data ending early is an error. Refuses images of more than
/// `max_pixels` pixels. Returns 0, or -1 with the reason in `message` (libjpeg's errors are caught
/// here in C: its longjmp never crosses a Swift frame, and it never exits the process).
int cjpeg_decode(const uint8_t *data, size_t size, uint64_t max_pixels, cjpeg_image *out,
                 char *message, size_t message_size);

/// Encodes `height` rows of `width * channels` 8-bit samples (1 gray or 3 RGB) as a baseline
/// JPEG of `quality` (1–100; libjpeg's default 4:2:0 chroma subsampling). On success `*out` is a
/// malloc'd buffer of `*out_size` bytes (free it with `cjpeg_free`) and the result is 0;
/// otherwise -1 with the reason in `message`.
int cjpeg_encode(const uint8_t *pixels, uint32_t width, uint32_t height, int channels, int quality,
                 uint8_t **out, size_t *out_size, char *message, size_t message_size);

/// Frees a buffer returned by `cjpeg_decode` or `cjpeg_encode`.
void cjpeg_free(void *buffer);

#endif
