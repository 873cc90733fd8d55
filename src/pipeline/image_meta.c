/*
 * image_meta.c — reading back the generation parameters an image carries
 * (written by image.c; layout in ideogram4.h, i4_image_metadata): PNG text
 * chunks through libpng, the WebP "XMP " chunk through libwebpmux, the JPEG
 * APP1 XMP segment through libjpeg's saved markers. The XMP packet is our
 * own, so two elements are found by name and their character data
 * unescaped; no general XML parser is needed.
 */
#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* jpeglib.h needs stdio.h and stddef.h first */
#include <jpeglib.h>
#include <webp/mux.h>

#include "base/error.h"
#include "base/io.h"
#include "base/utf8.h"
#include "ideogram4.h"

/* ---- XMP: the text of <tag>...</tag>, unescaped (malloc'd), or NULL ---- */

static void put_utf8(char *out, size_t *o, unsigned long cp) {
    if (cp < 0x80) out[(*o)++] = (char)cp;
    else if (cp < 0x800) {
        out[(*o)++] = (char)(0xC0 | (cp >> 6));
        out[(*o)++] = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out[(*o)++] = (char)(0xE0 | (cp >> 12));
        out[(*o)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[(*o)++] = (char)(0x80 | (cp & 0x3F));
    } else {
        out[(*o)++] = (char)(0xF0 | (cp >> 18));
        out[(*o)++] = (char)(0x80 | ((cp >> 12) & 0x3F));
        out[(*o)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[(*o)++] = (char)(0x80 | (cp & 0x3F));
    }
}

static char *xml_text(const char *xml, size_t len, const char *tag) {
    char open[64], close[64];
    snprintf(open, sizeof open, "<%s>", tag);
    snprintf(close, sizeof close, "</%s>", tag);
    const char *end = xml + len;
    const char *a = memmem(xml, len, open, strlen(open));
    if (!a) return NULL;
    a += strlen(open);
    const char *b = memmem(a, (size_t)(end - a), close, strlen(close));
    if (!b) return NULL;
    char *out = malloc((size_t)(b - a) + 1);
    if (!out) return NULL;
    size_t o = 0;
    for (const char *p = a; p < b;) {
        if (*p != '&') {
            out[o++] = *p++;
            continue;
        }
        const char *semi = memchr(p, ';', (size_t)(b - p));
        size_t n = semi ? (size_t)(semi - p) : 0;
        if (n == 4 && !strncmp(p, "&amp", 4)) out[o++] = '&';
        else if (n == 3 && !strncmp(p, "&lt", 3)) out[o++] = '<';
        else if (n == 3 && !strncmp(p, "&gt", 3)) out[o++] = '>';
        else if (n == 5 && !strncmp(p, "&quot", 5)) out[o++] = '"';
        else if (n == 5 && !strncmp(p, "&apos", 5)) out[o++] = '\'';
        else if (n > 2 && n < 12 && p[1] == '#') {
            char num[16];
            memcpy(num, p + 2, n - 2);
            num[n - 2] = 0;
            char *e;
            unsigned long cp = num[0] == 'x' ? strtoul(num + 1, &e, 16) : strtoul(num, &e, 10);
            /* "&#...;" is never longer than the character it encodes. */
            if (*e || cp == 0 || cp > 0x10FFFF) {
                out[o++] = '&';
                p++;
                continue;
            }
            put_utf8(out, &o, cp);
        } else {
            out[o++] = *p++;
            continue;
        }
        p = semi + 1;
    }
    out[o] = 0;
    return out;
}

static void from_xmp(const char *xml, size_t len, char **json, char **parameters) {
    *json = xml_text(xml, len, "ideogram4:json");
    *parameters = xml_text(xml, len, "ideogram4:parameters");
}

/* ---- PNG ---- */
static int read_png(FILE *f, const char *path, char **json, char **parameters) {
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return i4_error("libpng: cannot create a reader");
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        free(*json);
        free(*parameters);
        *json = *parameters = NULL;
        return i4_error("%s: not a readable PNG file", path);
    }
    png_init_io(png, f);
    png_read_info(png, info); /* every chunk up to the first IDAT */
    png_textp text = NULL;
    int n = 0;
    png_get_text(png, info, &text, &n);
    for (int i = 0; i < n; i++) {
        char **dst = !strcmp(text[i].key, I4_IMAGE_META_KEY) ? json : !strcmp(text[i].key, "parameters") ? parameters : NULL;
        if (!dst || *dst) continue;
        size_t len = text[i].compression > 0 ? text[i].itxt_length : text[i].text_length;
        if (text[i].compression <= 0) {
            /* tEXt / zTXt are Latin-1: convert to UTF-8. */
            char *u = malloc(len * 2 + 1);
            size_t o = 0;
            if (u) {
                for (size_t k = 0; k < len; k++) put_utf8(u, &o, (unsigned char)text[i].text[k]);
                u[o] = 0;
            }
            *dst = u;
        } else {
            *dst = strndup(text[i].text, len);
        }
    }
    png_destroy_read_struct(&png, &info, NULL);
    return 0;
}

/* ---- WebP ---- */
static int read_webp(FILE *f, const char *path, char **json, char **parameters) {
    size_t len = 0;
    char *data = i4_read_stream(f, &len);
    if (!data) return i4_error("%s: cannot read the file", path);
    WebPData whole = {(const uint8_t *)data, len}, chunk = {NULL, 0};
    WebPMux *mux = WebPMuxCreate(&whole, 0);
    if (!mux) {
        free(data);
        return i4_error("%s: not a readable WebP file", path);
    }
    if (WebPMuxGetChunk(mux, "XMP ", &chunk) == WEBP_MUX_OK) from_xmp((const char *)chunk.bytes, chunk.size, json, parameters);
    WebPMuxDelete(mux);
    free(data);
    return 0;
}

/* ---- JPEG ---- */
typedef struct {
    struct jpeg_error_mgr base;
    jmp_buf jump;
} jpeg_err;

static void jpeg_fail(j_common_ptr cinfo) { longjmp(((jpeg_err *)cinfo->err)->jump, 1); }

static int read_jpeg(FILE *f, const char *path, char **json, char **parameters) {
    static const char header[] = "http://ns.adobe.com/xap/1.0/"; /* NUL included */
    struct jpeg_decompress_struct d;
    jpeg_err err;
    d.err = jpeg_std_error(&err.base);
    err.base.error_exit = jpeg_fail;
    if (setjmp(err.jump)) {
        jpeg_destroy_decompress(&d);
        return i4_error("%s: not a readable JPEG file", path);
    }
    jpeg_create_decompress(&d);
    jpeg_stdio_src(&d, f);
    jpeg_save_markers(&d, JPEG_APP0 + 1, 0xFFFF);
    jpeg_read_header(&d, TRUE);
    for (jpeg_saved_marker_ptr m = d.marker_list; m; m = m->next) {
        if (m->marker != JPEG_APP0 + 1 || m->data_length < sizeof header ||
            memcmp(m->data, header, sizeof header))
            continue;
        from_xmp((const char *)m->data + sizeof header, m->data_length - sizeof header, json, parameters);
        break;
    }
    jpeg_destroy_decompress(&d);
    return 0;
}

int i4_image_read_meta(const char *path, i4_image_format *fmt, char **json, char **parameters) {
    *json = *parameters = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return i4_error("%s: %s", path, strerror(errno));
    unsigned char magic[12] = {0};
    size_t n = fread(magic, 1, sizeof magic, f);
    rewind(f);
    int rc;
    i4_image_format kind;
    if (n >= 8 && !memcmp(magic, "\x89PNG\r\n\x1a\n", 8)) kind = I4_IMAGE_PNG, rc = read_png(f, path, json, parameters);
    else if (n >= 12 && !memcmp(magic, "RIFF", 4) && !memcmp(magic + 8, "WEBP", 4))
        kind = I4_IMAGE_WEBP, rc = read_webp(f, path, json, parameters);
    else if (n >= 3 && magic[0] == 0xFF && magic[1] == 0xD8 && magic[2] == 0xFF)
        kind = I4_IMAGE_JPEG, rc = read_jpeg(f, path, json, parameters);
    else {
        fclose(f);
        return i4_error("%s: not a PNG, WebP or JPEG file", path);
    }
    fclose(f);
    if (rc == 0 && fmt) *fmt = kind;
    return rc;
}
