// JPEG through libjpeg(-turbo). Its default error manager exits the process; this one records the
// message and longjmps back to a setjmp here, in C, so no Swift frame is ever unwound.
#include "cjpeg.h"
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include <jerror.h>

typedef struct {
    struct jpeg_error_mgr base;
    jmp_buf jump;
    char *message;
    size_t message_size;
} error_manager;

static void on_error(j_common_ptr info) {
    error_manager *manager = (error_manager *)info->err;
    char text[JMSG_LENGTH_MAX];
    manager->base.format_message(info, text);
    snprintf(manager->message, manager->message_size, "%s", text);
    longjmp(manager->jump, 1);
}

// Warnings (level -1) are ignored, except data ending early, which is an error as in PIL; trace
// messages (level >= 0) are ignored.
static void on_message(j_common_ptr info, int level) {
    if (level < 0 && info->err->msg_code == JWRN_JPEG_EOF) {
        error_manager *manager = (error_manager *)info->err;
        snprintf(manager->message, manager->message_size, "the file is truncated (the JPEG data ends early)");
        longjmp(manager->jump, 1);
    }
}

static void install(error_manager *manager, char *message, size_t message_size) {
    jpeg_std_error(&manager->base);
    manager->base.error_exit = on_error;
    manager->base.emit_message = on_message;
    manager->message = message;
    manager->message_size = message_size;
}

int cjpeg_decode(const uint8_t *data, size_t size, uint64_t max_pixels, cjpeg_image *out,
                 char *message, size_t message_size) {
    memset(out, 0, sizeof *out);
    if (size < 3 || data[0] != 0xFF || data[1] != 0xD8 || data[2] != 0xFF) {
        snprintf(message, message_size, "not a JPEG file (wrong signature)");
        return -1;
    }
    struct jpeg_decompress_struct info;
    error_manager manager;
    install(&manager, message, message_size);
    info.err = &manager.base;
    uint8_t *volatile pixels = NULL;
    if (setjmp(manager.jump)) {
        jpeg_destroy_decompress(&info);
        free(pixels);
        return -1;
    }
    jpeg_create_decompress(&info);
    // Whole-image buffers (progressive coefficients) beyond this have no backing store: an error.
    info.mem->max_memory_to_use = 1024L << 20;
    jpeg_mem_src(&info, data, (unsigned long)size);
    jpeg_read_header(&info, TRUE);
    if (info.jpeg_color_space == JCS_CMYK || info.jpeg_color_space == JCS_YCCK) {
        snprintf(message, message_size, "CMYK JPEG images are not supported");
        longjmp(manager.jump, 1);
    }
    uint64_t pixel_count = (uint64_t)info.image_width * info.image_height;
    if (pixel_count > max_pixels) {
        snprintf(message, message_size, "%u x %u pixels exceed the limit of %llu pixels", info.image_width,
                 info.image_height, (unsigned long long)max_pixels);
        longjmp(manager.jump, 1);
    }
    info.out_color_space = info.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&info);
    int channels = info.output_components;
    if (channels != 1 && channels != 3) {
        snprintf(message, message_size, "unsupported JPEG with %d output components", channels);
        longjmp(manager.jump, 1);
    }
    size_t row_bytes = (size_t)info.output_width * (size_t)channels;
    size_t total = row_bytes * info.output_height;
    pixels = (uint8_t *)malloc(total ? total : 1);
    if (!pixels) {
        snprintf(message, message_size, "out of memory for %u x %u pixels", info.output_width, info.output_height);
        longjmp(manager.jump, 1);
    }
    while (info.output_scanline < info.output_height) {
        JSAMPROW row = pixels + (size_t)info.output_scanline * row_bytes;
        jpeg_read_scanlines(&info, &row, 1);
    }
    jpeg_finish_decompress(&info);
    out->width = info.output_width;
    out->height = info.output_height;
    out->channels = channels;
    out->pixels = pixels;
    jpeg_destroy_decompress(&info);
    return 0;
}

int cjpeg_encode(const uint8_t *pixels, uint32_t width, uint32_t height, int channels, int quality,
                 uint8_t **out, size_t *out_size, char *message, size_t message_size) {
    *out = NULL;
    *out_size = 0;
    if ((channels != 1 && channels != 3) || width == 0 || height == 0 || width > 65500 || height > 65500) {
        snprintf(message, message_size, "cannot encode %u x %u pixels of %d channels as JPEG (1 or 3 channels, "
                 "at most 65500 pixels a side)", width, height, channels);
        return -1;
    }
    struct jpeg_compress_struct info;
    error_manager manager;
    install(&manager, message, message_size);
    info.err = &manager.base;
    unsigned char *volatile buffer = NULL;
    unsigned long buffer_size = 0;
    if (setjmp(manager.jump)) {
        jpeg_destroy_compress(&info);
        free(buffer);
        return -1;
    }
    jpeg_create_compress(&info);
    jpeg_mem_dest(&info, (unsigned char **)&buffer, &buffer_size);
    info.image_width = width;
    info.image_height = height;
    info.input_components = channels;
    info.in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&info);
    jpeg_set_quality(&info, quality, TRUE);
    jpeg_start_compress(&info, TRUE);
    size_t row_bytes = (size_t)width * (size_t)channels;
    while (info.next_scanline < info.image_height) {
        JSAMPROW row = (JSAMPROW)(pixels + (size_t)info.next_scanline * row_bytes);
        jpeg_write_scanlines(&info, &row, 1);
    }
    jpeg_finish_compress(&info);
    jpeg_destroy_compress(&info);
    *out = buffer;
    *out_size = buffer_size;
    return 0;
}

void cjpeg_free(void *buffer) { free(buffer); }
