/* report.c — bench result lines, JSON or aligned text (see report.h). */
#include "bench/report.h"

#include <stdlib.h>

static double gflops(const i4_bench_result *r) { return r->t.min > 0 ? r->flops / r->t.min * 1e-9 : 0.0; }

static void print_json(i4_bench_report *rep, i4_bench_result *r) {
    const double g = gflops(r);
    json_t *o = json_object();
    json_object_set_new(o, "op", json_string(r->op));
    json_object_set(o, "shape", r->shape ? r->shape : json_object());
    json_object_set_new(o, "backend", json_string(r->backend));
    json_object_set_new(o, "isa", json_string(r->isa));
    json_object_set_new(o, "precision", json_string(r->precision));
    json_object_set_new(o, "threads", json_integer(r->threads));
    json_object_set_new(o, "seconds_min", json_real(r->t.min));
    json_object_set_new(o, "seconds_median", json_real(r->t.median));
    json_object_set_new(o, "gflops", json_real(g));
    json_object_set_new(o, "peak_gflops", json_real(r->peak_gflops));
    json_object_set_new(o, "peak_ratio", json_real(r->peak_gflops > 0 ? g / r->peak_gflops : 0.0));
    json_object_set_new(o, "foreign_cpu", r->t.foreign >= 0 ? json_real(r->t.foreign) : json_null());
    if (r->extrapolated) json_object_set_new(o, "extrapolated", json_true());
    char *s = json_dumps(o, JSON_PRESERVE_ORDER | JSON_COMPACT | JSON_REAL_PRECISION(6));
    if (s) fprintf(rep->out, "%s\n", s);
    free(s);
    json_decref(o);
}

static void print_text(i4_bench_report *rep, const i4_bench_result *r) {
    if (!rep->header_done) {
        fprintf(rep->out, "%-10s %-48s %-6s %3s %-4s %10s %10s %9s %7s %9s\n", "op", "shape", "isa", "thr", "prec",
                "min s", "median s", "GFLOP/s", "%peak", "foreign s");
        rep->header_done = 1;
    }
    const double g = gflops(r);
    char foreign[32];
    if (r->t.foreign >= 0) snprintf(foreign, sizeof foreign, "%9.2f", r->t.foreign);
    else snprintf(foreign, sizeof foreign, "%9s", "?");
    fprintf(rep->out, "%-10s %-48s %-6s %3d %-4s %10.4g %10.4g %9.1f %6.1f%% %s\n", r->op, r->shape_text, r->isa,
            r->threads, r->precision, r->t.min, r->t.median, g, r->peak_gflops > 0 ? 100.0 * g / r->peak_gflops : 0.0,
            foreign);
}

void i4_bench_report_line(i4_bench_report *rep, i4_bench_result *r) {
    if (rep->json) print_json(rep, r);
    else print_text(rep, r);
    fflush(rep->out);
    json_decref(r->shape);
    r->shape = NULL;
}
