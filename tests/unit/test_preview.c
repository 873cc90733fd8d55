/*
 * test_preview.c — live previews (src/pipeline/preview.c): the linear map
 * fitted against the tiny model's VAE decoder reproduces the decoder's patch
 * means on held-out random latents better than a constant; the map applied
 * by hand; the in-memory PNG / data URL; and a generation that delivers one
 * preview per step of the token grid's size, the final latents unchanged.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ideogram4.h"
#include "model/vae.h"
#include "pipeline/preview.h"
#include "test.h"

I4_TEST(preview_fit_tiny_vae) {
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/vae", i4_test_tiny_model());
    i4_vae *m = NULL;
    REQUIRE(i4_vae_load(&m, dir, I4_PRECISION_F32, i4_test_backend()) == 0);
    i4_preview_map pm, again;
    REQUIRE(i4_preview_fit(m, 8, 8, 20260608u, &pm) == 0); /* the pipeline's fit */
    fprintf(stderr, "  preview fit (tiny VAE, 8 grids of 8x8): R^2 fit %.3f, held-out %.3f, constant %.3f, %.3fs\n",
            pm.r2_fit, pm.r2_heldout, pm.r2_const, pm.seconds);
    CHECK(pm.r2_fit > pm.r2_heldout - 1e-9);
    CHECK(pm.r2_heldout > pm.r2_const + 0.1);
    CHECK(pm.r2_heldout > 0.1);
    CHECK(pm.r2_const <= 0.01);
    /* deterministic (a small fit twice) */
    i4_preview_map a1;
    REQUIRE(i4_preview_fit(m, 1, 4, 7, &a1) == 0 && i4_preview_fit(m, 1, 4, 7, &again) == 0);
    CHECK(memcmp(a1.w, again.w, sizeof a1.w) == 0);
    i4_vae_free(m);

    /* apply: the affine map, clamped to [-1, 1], to 8 bits */
    float z[2 * I4_PREVIEW_CH] = {0};
    z[I4_PREVIEW_CH + 5] = 1000.0f; /* saturates */
    uint8_t rgb[6];
    i4_preview_apply(&pm, z, 2, rgb);
    for (int c = 0; c < 3; c++) {
        float b = pm.w[c][I4_PREVIEW_CH];
        b = b < -1 ? -1 : b > 1 ? 1 : b;
        CHECK(rgb[c] == (uint8_t)lrintf((b + 1) * 127.5f));
        CHECK(rgb[3 + c] == (pm.w[c][5] > 0 ? 255 : pm.w[c][5] < 0 ? 0 : rgb[c]));
    }
}

I4_TEST(preview_png_data_url) {
    uint8_t rgb[4 * 3 * 3];
    for (int i = 0; i < (int)sizeof rgb; i++) rgb[i] = (uint8_t)(i * 7);
    unsigned char *png = NULL;
    size_t n = 0;
    REQUIRE(i4_preview_png(rgb, 4, 3, &png, &n) == 0);
    CHECK(n > 40 && !memcmp(png, "\x89PNG\r\n\x1a\n", 8));
    /* IHDR width, height */
    CHECK(png[16] == 0 && png[19] == 4 && png[23] == 3);
    char *url = i4_preview_data_url(rgb, 4, 3);
    REQUIRE(url);
    CHECK(!strncmp(url, "data:image/png;base64,iVBORw0KGgo", 33));
    CHECK(strlen(url) == 22 + 4 * ((n + 2) / 3));
    free(url);
    free(png);
}

typedef struct {
    int calls, last_step, w, h, steps_seen[16], bad;
} preview_log;

static int on_preview(void *user, int index, int step, int steps, const uint8_t *rgb, int width, int height) {
    preview_log *l = user;
    if (index != 0 || step != l->last_step + 1 || steps != 3 || !rgb) l->bad++;
    l->last_step = step;
    l->w = width;
    l->h = height;
    l->calls++;
    return 0;
}

I4_TEST(preview_generate_tiny) {
    i4_pipeline *p = NULL;
    i4_load_options lo = {.model_dir = i4_test_tiny_model(), .precision = I4_PRECISION_F32};
    REQUIRE(i4_pipeline_load(&p, &lo) == 0);
    i4_generate_params gp;
    i4_generate_params_init(&gp);
    gp.prompt = "{\"high_level_description\":\"a red square\"}";
    gp.width = 64;
    gp.height = 48;
    gp.steps = 3;
    gp.preset = "V4_TURBO_12";
    i4_result plain, with;
    REQUIRE(i4_generate(p, &gp, NULL, NULL, &plain) == 0);
    preview_log l = {0};
    gp.preview = on_preview;
    int rc = i4_generate(p, &gp, NULL, &l, &with);
    CHECK(rc == 0);
    CHECK(l.calls == 3 && l.bad == 0 && l.w == 4 && l.h == 3);
    /* previews do not change the image */
    if (rc == 0) CHECK(!memcmp(plain.rgb, with.rgb, (size_t)64 * 48 * 3));
    double r2 = 0, secs = -1;
    CHECK(i4_pipeline_preview_fit(p, &r2, &secs) == 0 && secs >= 0);
    i4_result_free(&plain);
    if (rc == 0) i4_result_free(&with);
    i4_pipeline_free(p);
}
