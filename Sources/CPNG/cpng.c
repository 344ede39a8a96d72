// PNG through libpng's classic API. libpng reports errors by longjmp: every setjmp is here, in C,
// so a corrupt file never unwinds through Swift frames.
#include "cpng.h"
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    jmp_buf jump;
    char *message;
    size_t message_size;
} error_state;

typedef struct {
    const uint8_t *data;
    size_t size;
    size_t offset;
} memory_reader;

typedef struct {
    uint8_t *data;
    size_t size;
    size_t capacity;
    int failed;
} memory_writer;

static void on_error(png_structp png, png_const_charp text) {
    error_state *state = (error_state *)png_get_error_ptr(png);
    snprintf(state->message, state->message_size, "%s", text);
    longjmp(state->jump, 1);
}

static void on_warning(png_structp png, png_const_charp text) {
    (void)png;
    (void)text;
}

static void read_memory(png_structp png, png_bytep destination, png_size_t count) {
    memory_reader *reader = (memory_reader *)png_get_io_ptr(png);
    if (count > reader->size - reader->offset) png_error(png, "the file is truncated (it ends inside a chunk)");
    memcpy(destination, reader->data + reader->offset, count);
    reader->offset += count;
}

static void write_memory(png_structp png, png_bytep source, png_size_t count) {
    memory_writer *writer = (memory_writer *)png_get_io_ptr(png);
    if (count > writer->capacity - writer->size) {
        size_t capacity = writer->capacity ? writer->capacity : 4096;
        while (capacity - writer->size < count) {
            if (capacity > SIZE_MAX / 2) png_error(png, "the encoded PNG is too large");
            capacity *= 2;
        }
        uint8_t *grown = (uint8_t *)realloc(writer->data, capacity);
        if (!grown) png_error(png, "out of memory");
        writer->data = grown;
        writer->capacity = capacity;
    }
    memcpy(writer->data + writer->size, source, count);
    writer->size += count;
}

static void flush_memory(png_structp png) { (void)png; }

static int is_little_endian(void) {
    const uint16_t one = 1;
    return *(const uint8_t *)&one == 1;
}

int cpng_decode(const uint8_t *data, size_t size, uint64_t max_pixels, int raw_indices, cpng_image *out,
                char *message, size_t message_size) {
    memset(out, 0, sizeof *out);
    if (size < 8 || png_sig_cmp((png_const_bytep)data, 0, 8) != 0) {
        snprintf(message, message_size, "not a PNG file (wrong signature)");
        return -1;
    }
    error_state state;
    state.message = message;
    state.message_size = message_size;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &state, on_error, on_warning);
    if (!png) {
        snprintf(message, message_size, "cannot create the PNG reader");
        return -1;
    }
    png_infop info = png_create_info_struct(png);
    // Volatile: changed after setjmp and read after a longjmp.
    uint8_t *volatile pixels = NULL;
    png_bytep *volatile rows = NULL;
    memory_reader reader = {data, size, 0};
    if (!info || setjmp(state.jump)) {
        if (!info) snprintf(message, message_size, "cannot create the PNG reader");
        png_destroy_read_struct(&png, info ? &info : NULL, NULL);
        free(pixels);
        free(rows);
        return -1;
    }
    png_set_read_fn(png, &reader, read_memory);
    png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
    png_set_chunk_malloc_max(png, 8u << 20);
    png_read_info(png, info);
    png_uint_32 width = png_get_image_width(png, info);
    png_uint_32 height = png_get_image_height(png, info);
    if ((uint64_t)width * height > max_pixels) {
        snprintf(message, message_size, "%u x %u pixels exceed the limit of %llu pixels", width, height,
                 (unsigned long long)max_pixels);
        longjmp(state.jump, 1);
    }
    int color_type = png_get_color_type(png, info);
    int depth = png_get_bit_depth(png, info);
    if (raw_indices && (color_type == PNG_COLOR_TYPE_PALETTE || color_type == PNG_COLOR_TYPE_GRAY)) {
        if (depth < 8) png_set_packing(png);
    } else {
        if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
        if (color_type == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
        if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
    }
    if (depth == 16 && is_little_endian()) png_set_swap(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    int channels = png_get_channels(png, info);
    int out_depth = png_get_bit_depth(png, info);
    size_t row_bytes = png_get_rowbytes(png, info);
    if (channels < 1 || channels > 4 || (out_depth != 8 && out_depth != 16) ||
        row_bytes != (size_t)width * (size_t)channels * (size_t)(out_depth / 8)) {
        snprintf(message, message_size, "unsupported PNG layout (%d channels of %d bits)", channels, out_depth);
        longjmp(state.jump, 1);
    }
    // width * height <= max_pixels (< 2^40) and row_bytes <= 8 * width: no overflow in 64 bits.
    pixels = (uint8_t *)malloc(row_bytes * height ? row_bytes * height : 1);
    rows = (png_bytep *)malloc(sizeof(png_bytep) * (height ? height : 1));
    if (!pixels || !rows) {
        snprintf(message, message_size, "out of memory for %u x %u pixels", width, height);
        longjmp(state.jump, 1);
    }
    for (png_uint_32 y = 0; y < height; y++) rows[y] = pixels + (size_t)y * row_bytes;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    free(rows);
    out->width = width;
    out->height = height;
    out->channels = channels;
    out->bit_depth = out_depth;
    out->pixels = pixels;
    return 0;
}

int cpng_encode(const void *pixels, uint32_t width, uint32_t height, int channels, int bit_depth,
                uint8_t **out, size_t *out_size, char *message, size_t message_size) {
    *out = NULL;
    *out_size = 0;
    static const int color_types[] = {PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB,
                                      PNG_COLOR_TYPE_RGB_ALPHA};
    if (channels < 1 || channels > 4 || (bit_depth != 8 && bit_depth != 16) || width == 0 || height == 0) {
        snprintf(message, message_size, "cannot encode %u x %u pixels of %d channels of %d bits as PNG", width,
                 height, channels, bit_depth);
        return -1;
    }
    error_state state;
    state.message = message;
    state.message_size = message_size;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &state, on_error, on_warning);
    if (!png) {
        snprintf(message, message_size, "cannot create the PNG writer");
        return -1;
    }
    png_infop info = png_create_info_struct(png);
    memory_writer writer = {NULL, 0, 0, 0};
    png_bytep *volatile rows = NULL;
    if (!info || setjmp(state.jump)) {
        if (!info) snprintf(message, message_size, "cannot create the PNG writer");
        png_destroy_write_struct(&png, info ? &info : NULL);
        free(writer.data);
        free(rows);
        return -1;
    }
    png_set_write_fn(png, &writer, write_memory, flush_memory);
    png_set_IHDR(png, info, width, height, bit_depth, color_types[channels - 1], PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    if (bit_depth == 16 && is_little_endian()) png_set_swap(png);
    size_t row_bytes = (size_t)width * (size_t)channels * (size_t)(bit_depth / 8);
    rows = (png_bytep *)malloc(sizeof(png_bytep) * height);
    if (!rows) png_error(png, "out of memory");
    for (uint32_t y = 0; y < height; y++) rows[y] = (png_bytep)pixels + (size_t)y * row_bytes;
    png_write_image(png, rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(rows);
    *out = writer.data;
    *out_size = writer.size;
    return 0;
}

void cpng_free(void *buffer) { free(buffer); }
