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
#include <webp/mux.h>
#include <jansson.h>

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
static int is_ascii(const char *t) {
    for (; *t; t++)
        if ((unsigned char)*t >= 0x80) return 0;
    return 1;
}

static int write_png(FILE *f, const uint8_t *rgb, int w, int h, const i4_image_metadata *meta) {
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
    /* Text chunks go before IDAT, where every viewer looks: iTXt `ideogram4`
     * (UTF-8 JSON) and `parameters` as tEXt when it is plain ASCII (what
     * AUTOMATIC1111 writes), else as iTXt (what it falls back to). */
    png_text text[2];
    int n_text = 0;
    memset(text, 0, sizeof text);
    if (meta && meta->json) {
        text[n_text].compression = PNG_ITXT_COMPRESSION_NONE;
        text[n_text].key = (png_charp)I4_IMAGE_META_KEY;
        text[n_text].text = (png_charp)meta->json;
        text[n_text].itxt_length = strlen(meta->json);
        text[n_text].lang = (png_charp) "";
        text[n_text].lang_key = (png_charp) "";
        n_text++;
    }
    if (meta && meta->parameters) {
        int plain = is_ascii(meta->parameters);
        text[n_text].compression = plain ? PNG_TEXT_COMPRESSION_NONE : PNG_ITXT_COMPRESSION_NONE;
        text[n_text].key = (png_charp) "parameters";
        text[n_text].text = (png_charp)meta->parameters;
        if (plain) text[n_text].text_length = strlen(meta->parameters);
        else {
            text[n_text].itxt_length = strlen(meta->parameters);
            text[n_text].lang = (png_charp) "";
            text[n_text].lang_key = (png_charp) "";
        }
        n_text++;
    }
    if (n_text) png_set_text(png, info, text, n_text);
    png_write_info(png, info);
    for (int y = 0; y < h; y++) png_write_row(png, (png_const_bytep)(rgb + (size_t)y * (size_t)w * 3));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return 0;
}

/* ---- XMP (WebP "XMP " chunk, JPEG APP1) ---- */

typedef struct {
    char *p;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->n + n + 1) cap *= 2;
        char *g = realloc(b->p, cap);
        if (!g) {
            b->oom = 1;
            return;
        }
        b->p = g;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void sb_str(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

/* Text as XML character data: & < > " escaped, control characters other
 * than tab and newline (not allowed in XML 1.0) dropped. */
static void sb_xml(sbuf *b, const char *s) {
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '&') sb_str(b, "&amp;");
        else if (c == '<') sb_str(b, "&lt;");
        else if (c == '>') sb_str(b, "&gt;");
        else if (c == '"') sb_str(b, "&quot;");
        else if (c < 0x20 && c != '\t' && c != '\n') continue;
        else sb_put(b, s, 1);
    }
}

/* An XMP packet holding the JSON (ideogram4:json) and the text parameters
 * (ideogram4:parameters), malloc'd; NULL when out of memory. */
static char *xmp_packet(const i4_image_metadata *meta) {
    sbuf b = {0};
    sb_str(&b, "<?xpacket begin=\"\xEF\xBB\xBF\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>\n"
               "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\">\n"
               " <rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">\n"
               "  <rdf:Description rdf:about=\"\" xmlns:ideogram4=\"" I4_IMAGE_XMP_NS "\">\n");
    if (meta->json) {
        sb_str(&b, "   <ideogram4:json>");
        sb_xml(&b, meta->json);
        sb_str(&b, "</ideogram4:json>\n");
    }
    if (meta->parameters) {
        sb_str(&b, "   <ideogram4:parameters>");
        sb_xml(&b, meta->parameters);
        sb_str(&b, "</ideogram4:parameters>\n");
    }
    sb_str(&b, "  </rdf:Description>\n </rdf:RDF>\n</x:xmpmeta>\n<?xpacket end=\"w\"?>");
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

/* ---- WebP ---- */
static int write_webp(FILE *f, const uint8_t *rgb, int w, int h, int quality, const i4_image_metadata *meta) {
    uint8_t *out = NULL;
    size_t n = quality < 0 ? WebPEncodeLosslessRGB(rgb, w, h, w * 3, &out)
                           : WebPEncodeRGB(rgb, w, h, w * 3, (float)quality, &out);
    if (n == 0) {
        WebPFree(out);
        return i4_error("libwebp: encoding failed (%dx%d)", w, h);
    }
    WebPData assembled = {out, n};
    WebPData muxed = {NULL, 0};
    if (meta && (meta->json || meta->parameters)) {
        /* The mux turns the simple file into the extended format (VP8X) with
         * an "XMP " chunk after the image. */
        char *xmp = xmp_packet(meta);
        WebPMux *mux = xmp ? WebPMuxNew() : NULL;
        WebPData image = {out, n}, chunk = {(const uint8_t *)xmp, xmp ? strlen(xmp) : 0};
        int ok = mux && WebPMuxSetImage(mux, &image, 0) == WEBP_MUX_OK &&
                 WebPMuxSetChunk(mux, "XMP ", &chunk, 1) == WEBP_MUX_OK &&
                 WebPMuxAssemble(mux, &muxed) == WEBP_MUX_OK;
        WebPMuxDelete(mux);
        free(xmp);
        if (!ok) {
            WebPDataClear(&muxed);
            WebPFree(out);
            return i4_error("libwebpmux: cannot add the XMP metadata");
        }
        assembled = muxed;
    }
    int ok = fwrite(assembled.bytes, 1, assembled.size, f) == assembled.size;
    int err = errno;
    WebPDataClear(&muxed);
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

/* The XMP namespace header of a JPEG APP1 segment, NUL included (XMP spec
 * part 3, 1.1.3); a segment holds at most 65533 bytes. */
static const char xmp_jpeg_header[] = "http://ns.adobe.com/xap/1.0/";
#define XMP_JPEG_MAX (65533 - sizeof xmp_jpeg_header)

/* The APP1 payload for meta (header + packet), malloc'd, or NULL. A packet
 * too big for one segment (a caption of tens of KB) is written without the
 * caption, with "caption_omitted": true (the PNG and the sidecar keep it). */
static uint8_t *jpeg_xmp_segment(const i4_image_metadata *meta, size_t *len) {
    char *xmp = xmp_packet(meta);
    if (xmp && strlen(xmp) > XMP_JPEG_MAX && meta->json) {
        free(xmp);
        xmp = NULL;
        json_t *j = json_loads(meta->json, 0, NULL);
        if (j && json_is_object(j)) {
            json_object_del(j, "caption");
            json_object_del(j, "prompt");
            json_object_set_new(j, "caption_omitted", json_true());
            char *small = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
            i4_image_metadata m2 = {small, NULL};
            xmp = small ? xmp_packet(&m2) : NULL;
            free(small);
        }
        json_decref(j);
    }
    if (!xmp || strlen(xmp) > XMP_JPEG_MAX) {
        free(xmp);
        return NULL;
    }
    size_t n = strlen(xmp);
    uint8_t *seg = malloc(sizeof xmp_jpeg_header + n);
    if (seg) {
        memcpy(seg, xmp_jpeg_header, sizeof xmp_jpeg_header);
        memcpy(seg + sizeof xmp_jpeg_header, xmp, n);
        *len = sizeof xmp_jpeg_header + n;
    }
    free(xmp);
    return seg;
}

static int write_jpeg(FILE *f, const uint8_t *rgb, int w, int h, int quality, const i4_image_metadata *meta) {
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
    if (meta && (meta->json || meta->parameters)) {
        size_t len = 0;
        uint8_t *seg = jpeg_xmp_segment(meta, &len);
        if (seg) jpeg_write_marker(&c, JPEG_APP0 + 1, seg, (unsigned)len);
        free(seg);
    }
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)(rgb + (size_t)c.next_scanline * (size_t)w * 3);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    return 0;
}

int i4_image_write_stream(FILE *f, i4_image_format fmt, int quality, const uint8_t *rgb, int width, int height) {
    return i4_image_write_stream_meta(f, fmt, quality, rgb, width, height, NULL);
}

int i4_image_write_stream_meta(FILE *f, i4_image_format fmt, int quality, const uint8_t *rgb, int width, int height,
                               const i4_image_metadata *meta) {
    if (width <= 0 || height <= 0) return i4_error("invalid image size %dx%d", width, height);
    if (quality > 100 || quality == 0) return i4_error("quality must be 1..100, got %d", quality);
    errno = 0;
    int rc = fmt == I4_IMAGE_PNG    ? write_png(f, rgb, width, height, meta)
             : fmt == I4_IMAGE_WEBP ? write_webp(f, rgb, width, height, quality, meta)
                                    : write_jpeg(f, rgb, width, height, quality, meta);
    /* Buffered bytes fail only when flushed: a full disk shows up here. */
    if (rc == 0 && (fflush(f) != 0 || ferror(f))) rc = write_error(f, errno, "write failed");
    return rc;
}

typedef struct {
    i4_image_format fmt;
    int quality, width, height;
    const uint8_t *rgb;
    const i4_image_metadata *meta;
} image_job;

static int write_job(FILE *f, void *ctx) {
    const image_job *j = ctx;
    return i4_image_write_stream_meta(f, j->fmt, j->quality, j->rgb, j->width, j->height, j->meta);
}

int i4_image_write(const char *path, i4_image_format fmt, int quality, const uint8_t *rgb, int width, int height) {
    return i4_image_write_meta(path, fmt, quality, rgb, width, height, NULL);
}

int i4_image_write_meta(const char *path, i4_image_format fmt, int quality, const uint8_t *rgb, int width, int height,
                        const i4_image_metadata *meta) {
    if (width <= 0 || height <= 0) return i4_error("%s: invalid image size %dx%d", path, width, height);
    if (quality > 100 || quality == 0) return i4_error("quality must be 1..100, got %d", quality);
    image_job job = {fmt, quality, width, height, rgb, meta};
    return i4_write_file_atomic(path, write_job, &job);
}
