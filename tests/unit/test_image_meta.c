/* test_image_meta.c — generation parameters inside PNG / WebP / JPEG files
 * (i4_image_write_meta, i4_image_read_meta) and the A1111 text (gen_meta.h).
 * Pillow reads the same files in tests/cli/test_metadata.sh. */
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ideogram4.h"
#include "pipeline/gen_meta.h"
#include "test.h"

static uint8_t pixels[32 * 16 * 3];

static void roundtrip(int *i4_failures, i4_image_format fmt, const char *name) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", i4_test_tmpdir(), name);
    const char *json = "{\"caption\":\"a <b> & \\\"c\\\" ünï\\n</ideogram4:json>\",\"seed\":7}";
    const char *params = "a <b> & \"c\" ünï\nSteps: 12, Seed: 7";
    i4_image_metadata m = {json, params};
    CHECK(i4_image_write_meta(path, fmt, -1, pixels, 32, 16, &m) == 0);
    char *j = NULL, *p = NULL;
    i4_image_format got = I4_IMAGE_PNG;
    CHECK(i4_image_read_meta(path, &got, &j, &p) == 0);
    CHECK(got == fmt);
    CHECK(j && !strcmp(j, json));
    CHECK(p && !strcmp(p, params));
    free(j);
    free(p);
}

I4_TEST(image_meta_png_roundtrip) { roundtrip(i4_failures, I4_IMAGE_PNG, "m.png"); }
I4_TEST(image_meta_webp_roundtrip) { roundtrip(i4_failures, I4_IMAGE_WEBP, "m.webp"); }
I4_TEST(image_meta_jpeg_roundtrip) { roundtrip(i4_failures, I4_IMAGE_JPEG, "m.jpg"); }

I4_TEST(image_meta_absent_and_not_an_image) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/plain.png", i4_test_tmpdir());
    CHECK(i4_image_write(path, I4_IMAGE_PNG, -1, pixels, 32, 16) == 0);
    char *j = (char *)1, *p = (char *)1;
    CHECK(i4_image_read_meta(path, NULL, &j, &p) == 0);
    CHECK(j == NULL && p == NULL);
    snprintf(path, sizeof path, "%s/x.txt", i4_test_tmpdir());
    FILE *f = fopen(path, "w");
    fputs("hello", f);
    fclose(f);
    CHECK(i4_image_read_meta(path, NULL, &j, &p) == -1);
    CHECK(strstr(i4_last_error(), "not a PNG, WebP or JPEG") != NULL);
}

/* A JPEG APP1 segment holds 64 KB: a longer packet keeps the JSON without
 * its caption; the PNG keeps everything. */
I4_TEST(image_meta_jpeg_drops_an_oversized_caption) {
    size_t n = 100000;
    char *cap = malloc(n + 1);
    memset(cap, 'x', n);
    cap[n] = 0;
    json_t *o = json_pack("{s:s,s:i}", "caption", cap, "seed", 9);
    char *json = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    i4_image_metadata m = {json, NULL};
    char path[PATH_MAX];
    for (int k = 0; k < 2; k++) {
        snprintf(path, sizeof path, "%s/big.%s", i4_test_tmpdir(), k ? "png" : "jpg");
        CHECK(i4_image_write_meta(path, k ? I4_IMAGE_PNG : I4_IMAGE_JPEG, -1, pixels, 32, 16, &m) == 0);
        char *j = NULL, *p = NULL;
        CHECK(i4_image_read_meta(path, NULL, &j, &p) == 0);
        json_t *back = j ? json_loads(j, 0, NULL) : NULL;
        CHECK(back && json_integer_value(json_object_get(back, "seed")) == 9);
        if (k) CHECK(back && strlen(json_string_value(json_object_get(back, "caption"))) == n);
        else CHECK(back && !json_object_get(back, "caption") && json_is_true(json_object_get(back, "caption_omitted")));
        json_decref(back);
        free(j);
        free(p);
    }
    free(json);
    json_decref(o);
    free(cap);
}

I4_TEST(gen_meta_a1111_text_and_json) {
    i4_meta_lora l[2] = {{"a.safetensors", 0.5}, {"b", 1}};
    i4_gen_meta g = {.caption = "{\"high_level_description\":\"x\"}", .seed = 42, .preset = "V4_DEFAULT_20",
                     .steps = 20, .width = 512, .height = 768, .guidance = -1, .loras = l, .n_loras = 2,
                     .format = "png", .batch_index = 1, .batch_count = 4};
    char *t = i4_gen_meta_parameters(&g);
    CHECK(t && !strncmp(t, "{\"high_level_description\":\"x\"}\nSteps: 20, Sampler: Euler, Schedule type: V4_DEFAULT_20, CFG scale: ", 96));
    CHECK(t && strstr(t, ", Seed: 42, Size: 512x768, Model: Ideogram 4, Lora: \"a.safetensors: 0.5, b: 1\", Batch size: 4, Batch pos: 1, Version: ideogram4.c "));
    free(t);
    json_t *j = i4_gen_meta_json(&g);
    CHECK(json_integer_value(json_object_get(j, "seed")) == 42);
    CHECK(json_integer_value(json_object_get(json_object_get(j, "batch"), "index")) == 2);
    CHECK(!strcmp(json_string_value(json_object_get(json_object_get(j, "guidance"), "schedule")), "V4_DEFAULT_20"));
    CHECK(json_array_size(json_object_get(j, "loras")) == 2);
    json_decref(j);
    g.guidance = 3.5;
    g.n_loras = 0;
    g.batch_count = 1;
    t = i4_gen_meta_parameters(&g);
    CHECK(t && strstr(t, "CFG scale: 3.5, Seed: 42") && !strstr(t, "Lora") && !strstr(t, "Batch"));
    free(t);
}
