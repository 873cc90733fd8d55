/* test_schedule.c — schedule values against docs/MODEL.md §12.1–12.2 (exact f32 bits). */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/schedule.h"
#include "tensor/dtype.h"
#include "test.h"

static int check_hex(const float *v, const uint32_t *want, int n, const char *what) {
    int bad = 0;
    for (int i = 0; i < n; i++) {
        if (i4_f32_to_bits(v[i]) != want[i]) {
            fprintf(stderr, "  %s[%d] = %08x (%.9g), expected %08x\n", what, i, i4_f32_to_bits(v[i]), v[i], want[i]);
            bad++;
        }
    }
    return bad;
}

I4_TEST(schedule_ndtri_accuracy) {
    /* Phi(ndtri(p)) == p to near double precision across the range, and known values. */
    CHECK(isinf(i4_ndtri(0.0)) && i4_ndtri(0.0) < 0);
    CHECK(isinf(i4_ndtri(1.0)) && i4_ndtri(1.0) > 0);
    CHECK(i4_ndtri(0.5) == 0.0);
    CHECK(isnan(i4_ndtri(-0.1)) && isnan(i4_ndtri(1.5)));
    CHECK_NEAR(i4_ndtri(0.975), 1.959963984540054, 1e-14);
    CHECK_NEAR(i4_ndtri(0.025), -1.959963984540054, 1e-14);
    CHECK_NEAR(i4_ndtri(1e-10), -6.361340902404056, 1e-12);
    CHECK_NEAR(i4_ndtri(0.8413447460685429), 1.0, 1e-14);
    double worst = 0;
    for (int k = 1; k < 2000; k++) {
        double p = k / 2000.0;
        double x = i4_ndtri(p);
        double back = 0.5 * erfc(-x / sqrt(2.0));
        double rel = fabs(back - p) / p;
        if (rel > worst) worst = rel;
    }
    CHECK(worst < 1e-14);
}

I4_TEST(schedule_turbo12_1024_exact) {
    const uint32_t u_hex[13] = {0x00000000, 0x3daaaaab, 0x3e2aaaab, 0x3e800000, 0x3eaaaaab, 0x3ed55556, 0x3f000000,
                                0x3f155555, 0x3f2aaaaa, 0x3f400000, 0x3f555555, 0x3f6aaaab, 0x3f800000};
    const uint32_t t_hex[13] = {0x3f7fdbc6, 0x3f45f799, 0x3f1f570a, 0x3efe5ce6, 0x3ec8a5d0, 0x3e9c04eb, 0x3e6e4800,
                                0x3e319be9, 0x3dffc620, 0x3dae8581, 0x3d587228, 0x3cd70fae, 0x3901637b};
    float u[13], t[13];
    i4_schedule_intervals(12, u);
    CHECK(check_hex(u, u_hex, 13, "u") == 0);
    const i4_preset *p = i4_preset_find("V4_TURBO_12");
    REQUIRE(p && p->steps == 12);
    double mu = i4_schedule_mu(p->mu, 1024, 1024);
    CHECK_NEAR(mu, 1.193147180560, 1e-12);
    i4_schedule_times(12, mu, p->sigma, t);
    CHECK(check_hex(t, t_hex, 13, "T") == 0);
    /* Guidance: 11 x 7 then 3 in run order. */
    for (int k = 0; k < 12; k++) CHECK(i4_preset_guidance(p, 12, k) == (k == 11 ? 3.0f : 7.0f));
    /* dt of the last step (docs/MODEL.md §12.1 table). */
    CHECK(t[0] - t[1] == 0.226137936f);
}

I4_TEST(schedule_default20_quality48_1024_exact) {
    const uint32_t d20[21] = {0x3f7fdbc6, 0x3f662002, 0x3f532975, 0x3f410cd5, 0x3f2f845a, 0x3f1e9435, 0x3f0e4fb4,
                              0x3efd96ca, 0x3ee0312f, 0x3ec487f2, 0x3eaaaaab, 0x3e929fc6, 0x3e78cb35, 0x3e4fe753,
                              0x3e2a775a, 0x3e085502, 0x3dd2a16d, 0x3d9a5e75, 0x3d4e79a4, 0x3cdffa88, 0x3901637b};
    const uint32_t q48[49] = {
        0x3f7fdbc6, 0x3f69f4cb, 0x3f5ed16c, 0x3f55488c, 0x3f4c98d1, 0x3f447917, 0x3f3cc4b4, 0x3f35665d, 0x3f2e5085,
        0x3f2779f3, 0x3f20dc14, 0x3f1a7205, 0x3f143808, 0x3f0e2b27, 0x3f0848fd, 0x3f028f8f, 0x3ef9fa58, 0x3eef20c2,
        0x3ee48fcd, 0x3eda452a, 0x3ed03ec5, 0x3ec67aaf, 0x3ebcf719, 0x3eb3b24d, 0x3eaaaaab, 0x3ea1de9c, 0x3e994c97,
        0x3e90f318, 0x3e88d0a3, 0x3e80e3ba, 0x3e7255b6, 0x3e63490e, 0x3e549e60, 0x3e46527a, 0x3e38620e, 0x3e2ac996,
        0x3e1d8549, 0x3e109108, 0x3e03e82e, 0x3def0ac0, 0x3dd6c483, 0x3dbeedc3, 0x3da771c4, 0x3d9033c5, 0x3d7210f0,
        0x3d434f03, 0x3d130524, 0x3cbc8679, 0x3901637b};
    float t[49];
    const i4_preset *p = i4_preset_find("V4_DEFAULT_20");
    REQUIRE(p);
    i4_schedule_times(20, i4_schedule_mu(p->mu, 1024, 1024), p->sigma, t);
    CHECK(check_hex(t, d20, 21, "T20") == 0);
    p = i4_preset_find("V4_QUALITY_48");
    REQUIRE(p && p->steps == 48);
    i4_schedule_times(48, i4_schedule_mu(p->mu, 1024, 1024), p->sigma, t);
    CHECK(check_hex(t, q48, 49, "T48") == 0);
    /* The LAST three steps of QUALITY_48 use 3.0 (docs/MODEL.md §11.1 item 4). */
    for (int k = 0; k < 48; k++) CHECK(i4_preset_guidance(p, 48, k) == (k >= 45 ? 3.0f : 7.0f));
    CHECK(i4_preset_find("V4_NOPE") == NULL);
    /* The public view (ideogram4.h). */
    CHECK(i4_preset_steps("V4_QUALITY_48") == 48 && i4_preset_steps("V4_DEFAULT_20") == 20 &&
          i4_preset_steps("V4_TURBO_12") == 12);
    CHECK(i4_preset_steps("V4_NOPE") == 0 && i4_preset_steps(NULL) == 0);
}

I4_TEST(schedule_turbo12_other_resolutions) {
    /* docs/MODEL.md §12.1 decimal lists (9 significant digits). */
    const double r512[13] = {0.999447227, 0.872165143, 0.767274976, 0.663818359, 0.563104868, 0.467109948, 0.377540678,
                             0.295618653, 0.222047776, 0.157048196, 0.100381978, 0.0511620529, 0.00012339458};
    const double r1536x1024[13] = {0.999447227, 0.735821009, 0.573735356, 0.446326941, 0.344770402,
                                   0.263543814, 0.198470756, 0.146273926, 0.104363717, 0.070683524,
                                   0.0435688086, 0.0215389151, 0.00012339458};
    float t[13];
    const i4_preset *p = i4_preset_find("V4_TURBO_12");
    i4_schedule_times(12, i4_schedule_mu(p->mu, 512, 512), p->sigma, t);
    for (int i = 0; i < 13; i++) CHECK_NEAR(t[i], r512[i], 1e-9 * fmax(1.0, r512[i] * 10));
    CHECK_NEAR(i4_schedule_mu(p->mu, 1536, 1024), 1.395879734614, 1e-12);
    i4_schedule_times(12, i4_schedule_mu(p->mu, 1536, 1024), p->sigma, t);
    for (int i = 0; i < 13; i++) CHECK_NEAR(t[i], r1536x1024[i], 1e-9 * fmax(1.0, r1536x1024[i] * 10));
    CHECK(i4_f32_to_bits((float)i4_schedule_t_min()) == 0x3901637b);
    CHECK(i4_f32_to_bits((float)i4_schedule_t_max()) == 0x3f7fdbc6);
}

/* Every preset at 512x512, 1024x1024 and 832x1248 against values computed by
 * tools/reference/ref_schedule.py (torch float64 ndtri). Exact f32 bits. */
I4_TEST(schedule_presets_sizes_vs_reference) {
    char path[256];
    json_error_t err;
    json_t *root = json_load_file(i4_test_vector_path("schedule.json", path, sizeof path), 0, &err);
    REQUIRE(root && json_is_array(root) && json_array_size(root) == 9);
    size_t i;
    json_t *c;
    json_array_foreach(root, i, c) {
        const i4_preset *p = i4_preset_find(json_string_value(json_object_get(c, "preset")));
        REQUIRE(p);
        int w = (int)json_integer_value(json_object_get(c, "width"));
        int h = (int)json_integer_value(json_object_get(c, "height"));
        json_t *hex = json_object_get(c, "times_hex");
        REQUIRE((int)json_array_size(hex) == p->steps + 1);
        float t[64];
        i4_schedule_times(p->steps, i4_schedule_mu(p->mu, w, h), p->sigma, t);
        for (int k = 0; k <= p->steps; k++) {
            unsigned want = (unsigned)strtoul(json_string_value(json_array_get(hex, (size_t)k)), NULL, 16);
            if (i4_f32_to_bits(t[k]) != want) {
                fprintf(stderr, "  %s %dx%d T[%d] = %08x, expected %08x\n", p->name, w, h, k, i4_f32_to_bits(t[k]), want);
                (*i4_failures)++;
            }
        }
    }
    json_decref(root);
}
