/*
 * image.h — decoder output to 8-bit RGB (MODEL.md §7.5) and image files
 * written with real codecs (libpng, libwebp, libjpeg-turbo), always to a
 * temporary name first and renamed, so a failed run never leaves a
 * half-written image.
 */
#ifndef I4_IMAGE_H
#define I4_IMAGE_H

#include <stdint.h>

typedef enum { I4_IMAGE_PNG = 0, I4_IMAGE_WEBP = 1, I4_IMAGE_JPEG = 2 } i4_image_format;

/* "png" / "webp" / "jpeg" (also "jpg"); -1 when unknown. */
int i4_image_format_parse(const char *name, i4_image_format *out);
const char *i4_image_format_name(i4_image_format f);
const char *i4_image_format_ext(i4_image_format f);

/* rgb[(y*W + x)*3 + c] = round_half_even((clamp(img[c,y,x], -1, 1) + 1) * 127.5) (f32 arithmetic). */
void i4_image_to_rgb8(const float *chw, int width, int height, uint8_t *rgb);

/* quality: 1..100 for lossy webp/jpeg; < 0 = default (webp lossless, jpeg 95).
 * Ignored for png. */
/* Encode to an open stream and flush it; a full disk is reported as
 * "disk full (no space left on device)". */
#include <stdio.h>
int i4_image_write_stream(FILE *f, i4_image_format fmt, int quality, const uint8_t *rgb, int width, int height);
/* Write the file with i4_write_file_atomic (base/io.h): whole or not at all. */
int i4_image_write(const char *path, i4_image_format fmt, int quality, const uint8_t *rgb, int width, int height);

#endif
