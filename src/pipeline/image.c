/* image.c — 8-bit conversion and PNG / WebP / JPEG writers (see image.h). */
#include "pipeline/image.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* jpeglib.h needs stdio.h and stddef.h first */
#include <jpeglib.h>
#include <webp/encode.h>

#include "base/error.h"
#include "base/io.h"

/* The reason a write to f failed, with a full disk said in plain words
 * (the codecs only say "encoding failed"). */
static int write_error(FILE *f, int err, const char *codec_msg) {
    if (err == ENOSPC || err == EDQUOT || (f && ferror(f) && err)) return i4_write_failed(err, "write failed");
    return i4_error("%s", codec_msg);
}

int i4_image_format_parse(const char *name, i4_image_format *out) {
    if (!strcmp(name, "png")) *out = I4_IMAGE_PNG;
    else if (!strcmp(name, "webp")) *out = I4_IMAGE_WEBP;
    else if (!strcmp(name, "jpeg") || !strcmp(name, "jpg")) *out = I4_IMAGE_JPEG;
    else return i4_error("unknown image format '%s' (png, webp or jpeg)", name);
    return 0;
}

const char *i4_image_format_name(i4_image_format f) {
    return f == I4_IMAGE_WEBP ? "webp" : f == I4_IMAGE_JPEG ? "jpeg" : "png";
}

const char *i4_image_format_ext(i4_image_format f) {
    return f == I4_IMAGE_WEBP ? ".webp" : f == I4_IMAGE_JPEG ? ".jpg" : ".png";
}

void i4_image_to_rgb8(const float *chw, int width, int height, uint8_t *rgb) {
    size_t plane = (size_t)width * (size_t)height;
    for (size_t p = 0; p < plane; p++) {
        for (int c = 0; c < 3; c++) {
            float v = chw[(size_t)c * plane + p];
            if (!(v > -1.0f)) v = -1.0f; /* also maps NaN to -1 */
            if (v > 1.0f) v = 1.0f;
            float s = (v + 1.0f) * 127.5f;
            rgb[p * 3 + (size_t)c] = (uint8_t)nearbyintf(s); /* default rounding mode: half to even */
        }
    }
}

/* ---- PNG ---- */
static int write_png(FILE *f, const uint8_t *rgb, int w, int h) {
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    if (!png) return i4_error("libpng: cannot create writer");
    png_infop info = png_create_info_struct(png);
    if (!info || setjmp(png_jmpbuf(png))) {
        int err = errno;
        png_destroy_write_struct(&png, &info);
        return write_error(f, err, "libpng: encoding failed");
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < h; y++) png_write_row(png, (png_const_bytep)(rgb + (size_t)y * (size_t)w * 3));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return 0;
}

/* ---- WebP ---- */
static int write_webp(FILE *f, const uint8_t *rgb, int w, int h, int quality) {
    uint8_t *out = NULL;
    size_t n = quality < 0 ? WebPEncodeLosslessRGB(rgb, w, h, w * 3, &out)
                           : WebPEncodeRGB(rgb, w, h, w * 3, (float)quality, &out);
    if (n == 0) {
        WebPFree(out);
        return i4_error("libwebp: encoding failed (%dx%d)", w, h);
    }
    int ok = fwrite(out, 1, n, f) == n;
    int err = errno;
    WebPFree(out);
    return ok ? 0 : write_error(f, err, "write failed");
}

/* ---- JPEG ---- */
typedef struct {
    struct jpeg_error_mgr base;
    jmp_buf jump;
} jpeg_err;

static void jpeg_fail(j_common_ptr cinfo) {
    jpeg_err *e = (jpeg_err *)cinfo->err;
    longjmp(e->jump, 1);
}

static int write_jpeg(FILE *f, const uint8_t *rgb, int w, int h, int quality) {
    struct jpeg_compress_struct c;
    jpeg_err err;
    c.err = jpeg_std_error(&err.base);
    err.base.error_exit = jpeg_fail;
    if (setjmp(err.jump)) {
        int e = errno;
        jpeg_destroy_compress(&c);
        return write_error(f, e, "libjpeg: encoding failed");
    }
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, f);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, quality < 0 ? 95 : quality, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)(rgb + (size_t)c.next_scanline * (size_t)w * 3);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    return 0;
}

int i4_image_write_stream(FILE *f, i4_image_format fmt, int quality, const uint8_t *rgb, int width, int height) {
    if (width <= 0 || height <= 0) return i4_error("invalid image size %dx%d", width, height);
    if (quality > 100 || quality == 0) return i4_error("quality must be 1..100, got %d", quality);
    errno = 0;
    int rc = fmt == I4_IMAGE_PNG    ? write_png(f, rgb, width, height)
             : fmt == I4_IMAGE_WEBP ? write_webp(f, rgb, width, height, quality)
                                    : write_jpeg(f, rgb, width, height, quality);
    /* Buffered bytes fail only when flushed: a full disk shows up here. */
    if (rc == 0 && (fflush(f) != 0 || ferror(f))) rc = write_error(f, errno, "write failed");
    return rc;
}

typedef struct {
    i4_image_format fmt;
    int quality, width, height;
    const uint8_t *rgb;
} image_job;

static int write_job(FILE *f, void *ctx) {
    const image_job *j = ctx;
    return i4_image_write_stream(f, j->fmt, j->quality, j->rgb, j->width, j->height);
}

int i4_image_write(const char *path, i4_image_format fmt, int quality, const uint8_t *rgb, int width, int height) {
    if (width <= 0 || height <= 0) return i4_error("%s: invalid image size %dx%d", path, width, height);
    if (quality > 100 || quality == 0) return i4_error("quality must be 1..100, got %d", quality);
    image_job job = {fmt, quality, width, height, rgb};
    return i4_write_file_atomic(path, write_job, &job);
}
