/*
 * image.h — decoder output to 8-bit RGB (docs/MODEL.md §7.5) and image files
 * written with real codecs (libpng, libwebp, libjpeg-turbo), always to a
 * temporary name first and renamed, so a failed run never leaves a
 * half-written image.
 */
#ifndef I4_IMAGE_H
#define I4_IMAGE_H

#include <stdint.h>
#include <stdio.h>

/* i4_image_format, its names and i4_image_write are public (ideogram4.h). */
#include "ideogram4.h"

/* rgb[(y*W + x)*3 + c] = round_half_even((clamp(img[c,y,x], -1, 1) + 1) * 127.5) (f32 arithmetic). */
void i4_image_to_rgb8(const float *chw, int width, int height, uint8_t *rgb);

/* Encode to an open stream and flush it (quality as for i4_image_write); a
 * full disk is reported as "disk full (no space left on device)".
 * i4_image_write runs this through i4_write_file_atomic (base/io.h). */
int i4_image_write_stream(FILE *f, i4_image_format fmt, int quality, const uint8_t *rgb, int width, int height);
/* The same with metadata (NULL = none; see i4_image_write_meta). */
int i4_image_write_stream_meta(FILE *f, i4_image_format fmt, int quality, const uint8_t *rgb, int width, int height,
                               const i4_image_metadata *meta);

#endif
