/* test_image.c — 8-bit conversion (docs/MODEL.md §7.5) and PNG/WebP/JPEG files read back with the codecs. */
#include <limits.h>
#include <png.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <jpeglib.h>
#include <webp/decode.h>

#include "ideogram4.h"
#include "base/error.h"
#include "pipeline/image.h"
#include "test.h"

I4_TEST(image_rgb8_conversion_rounds_half_even) {
    /* 1 pixel wide, 6 tall; channel planes. */
    float img[3 * 6] = {-1.0f, 1.0f, 0.0f, -2.0f, 5.0f, -0.99607843f, /* R */
                        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    uint8_t rgb[6 * 3];
    i4_image_to_rgb8(img, 1, 6, rgb);
    CHECK(rgb[0 * 3] == 0);
    CHECK(rgb[1 * 3] == 255);
    CHECK(rgb[2 * 3] == 128); /* 127.5 -> 128 (even) */
    CHECK(rgb[3 * 3] == 0);   /* clamped */
    CHECK(rgb[4 * 3] == 255); /* clamped */
    CHECK(rgb[5 * 3] == 0 || rgb[5 * 3] == 1);
    float half = -1.0f + 1.0f / 127.5f * 0.5f; /* (x+1)*127.5 ~= 0.5 */
    float one[3] = {half, 0, 0};
    uint8_t px[3];
    i4_image_to_rgb8(one, 1, 1, px);
    CHECK(px[0] == 0); /* 0.5 rounds to even 0 */
}

static void make_pattern(uint8_t *rgb, int w, int h) {
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = rgb + ((size_t)y * w + x) * 3;
            p[0] = (uint8_t)(x * 7);
            p[1] = (uint8_t)(y * 11);
            p[2] = (uint8_t)((x ^ y) * 3);
        }
}

static uint8_t *read_file(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)len);
    *n = fread(buf, 1, (size_t)len, f);
    fclose(f);
    return buf;
}

I4_TEST(image_png_roundtrip_exact) {
    int w = 37, h = 21;
    uint8_t *rgb = malloc((size_t)w * h * 3);
    make_pattern(rgb, w, h);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/t.png", i4_test_tmpdir());
    REQUIRE(i4_image_write(path, I4_IMAGE_PNG, -1, rgb, w, h) == 0);
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    REQUIRE(png_image_begin_read_from_file(&img, path));
    img.format = PNG_FORMAT_RGB;
    CHECK(img.width == (png_uint_32)w && img.height == (png_uint_32)h);
    uint8_t *back = malloc(PNG_IMAGE_SIZE(img));
    REQUIRE(png_image_finish_read(&img, NULL, back, 0, NULL));
    CHECK(memcmp(back, rgb, (size_t)w * h * 3) == 0);
    free(back);
    free(rgb);
    struct stat st;
    char tmp[PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    CHECK(stat(tmp, &st) != 0); /* no temporary left behind */
}

I4_TEST(image_webp_lossless_and_lossy) {
    int w = 40, h = 24;
    uint8_t *rgb = malloc((size_t)w * h * 3);
    make_pattern(rgb, w, h);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/t.webp", i4_test_tmpdir());
    REQUIRE(i4_image_write(path, I4_IMAGE_WEBP, -1, rgb, w, h) == 0);
    size_t n;
    uint8_t *data = read_file(path, &n);
    int bw = 0, bh = 0;
    uint8_t *back = WebPDecodeRGB(data, n, &bw, &bh);
    REQUIRE(back && bw == w && bh == h);
    CHECK(memcmp(back, rgb, (size_t)w * h * 3) == 0); /* lossless by default */
    WebPFree(back);
    free(data);
    REQUIRE(i4_image_write(path, I4_IMAGE_WEBP, 80, rgb, w, h) == 0);
    data = read_file(path, &n);
    back = WebPDecodeRGB(data, n, &bw, &bh);
    CHECK(back && bw == w && bh == h);
    WebPFree(back);
    free(data);
    free(rgb);
}

I4_TEST(image_jpeg_decodes_close) {
    int w = 32, h = 16;
    uint8_t *rgb = malloc((size_t)w * h * 3);
    for (int i = 0; i < w * h * 3; i++) rgb[i] = (uint8_t)(100 + (i % 3) * 40); /* smooth: JPEG-friendly */
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/t.jpg", i4_test_tmpdir());
    REQUIRE(i4_image_write(path, I4_IMAGE_JPEG, -1, rgb, w, h) == 0);
    FILE *f = fopen(path, "rb");
    REQUIRE(f);
    struct jpeg_decompress_struct d;
    struct jpeg_error_mgr jerr;
    d.err = jpeg_std_error(&jerr);
    jpeg_create_decompress(&d);
    jpeg_stdio_src(&d, f);
    jpeg_read_header(&d, TRUE);
    jpeg_start_decompress(&d);
    CHECK((int)d.output_width == w && (int)d.output_height == h && d.output_components == 3);
    uint8_t *back = malloc((size_t)w * h * 3);
    while (d.output_scanline < d.output_height) {
        JSAMPROW row = back + (size_t)d.output_scanline * w * 3;
        jpeg_read_scanlines(&d, &row, 1);
    }
    jpeg_finish_decompress(&d);
    jpeg_destroy_decompress(&d);
    fclose(f);
    int maxdiff = 0;
    for (int i = 0; i < w * h * 3; i++) {
        int dd = abs((int)back[i] - (int)rgb[i]);
        if (dd > maxdiff) maxdiff = dd;
    }
    CHECK(maxdiff <= 6);
    free(back);
    free(rgb);
}

I4_TEST(image_write_errors_leave_nothing) {
    uint8_t px[3] = {1, 2, 3};
    CHECK(i4_image_write("/nonexistent-dir/x.png", I4_IMAGE_PNG, -1, px, 1, 1) != 0 &&
          strstr(i4_last_error(), "/nonexistent-dir/x.png"));
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/q.jpg", i4_test_tmpdir());
    CHECK(i4_image_write(path, I4_IMAGE_JPEG, 101, px, 1, 1) != 0 && strstr(i4_last_error(), "quality"));
    struct stat st;
    CHECK(stat(path, &st) != 0);
    i4_image_format f;
    CHECK(i4_image_format_parse("jpg", &f) == 0 && f == I4_IMAGE_JPEG);
    CHECK(i4_image_format_parse("gif", &f) != 0);
}

/* A full disk is reported as such (the codecs only say "encoding failed"). */
I4_TEST(image_write_disk_full_is_reported) {
    uint8_t rgb[16 * 16 * 3];
    memset(rgb, 100, sizeof rgb);
    for (int fmt = 0; fmt < 3; fmt++) {
        FILE *f = fopen("/dev/full", "wb");
        REQUIRE(f);
        int rc = i4_image_write_stream(f, (i4_image_format)fmt, -1, rgb, 16, 16);
        fclose(f);
        CHECK(rc != 0);
        CHECK(strstr(i4_last_error(), "disk full") != NULL);
    }
}
