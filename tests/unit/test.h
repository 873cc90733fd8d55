/*
 * test.h — a tiny test harness. Each I4_TEST registers itself (constructor
 * attribute) into the runner's list; the runner executes them in name order
 * (or those whose name contains argv[1]) and ends with "N passed, N failed".
 * CHECK records a failure and continues; REQUIRE stops the test.
 */
#ifndef I4_TEST_H
#define I4_TEST_H

#include <math.h>
#include <stdio.h>

typedef void (*i4_test_fn)(int *failures);
void i4_test_register(const char *name, i4_test_fn fn);

#define I4_TEST(name)                                                                         \
    static void test_##name(int *i4_failures);                                                \
    __attribute__((constructor)) static void register_##name(void) {                          \
        i4_test_register(#name, test_##name);                                                 \
    }                                                                                         \
    static void test_##name(int *i4_failures)

#define CHECK(cond)                                                                           \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            fprintf(stderr, "  %s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);        \
            (*i4_failures)++;                                                                 \
        }                                                                                     \
    } while (0)

#define REQUIRE(cond)                                                                         \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            fprintf(stderr, "  %s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #cond);      \
            (*i4_failures)++;                                                                 \
            return;                                                                           \
        }                                                                                     \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                                 \
    do {                                                                                      \
        double i4_a = (a), i4_b = (b);                                                        \
        if (!(fabs(i4_a - i4_b) <= (tol))) {                                                  \
            fprintf(stderr, "  %s:%d: CHECK_NEAR failed: %s = %.9g, %s = %.9g (tol %g)\n",    \
                    __FILE__, __LINE__, #a, i4_a, #b, i4_b, (double)(tol));                    \
            (*i4_failures)++;                                                                 \
        }                                                                                     \
    } while (0)

/* Relative L2 error ||a-b|| / max(||b||, tiny). */
double i4_test_rel_l2(const float *a, const float *b, size_t n);
/* A fresh temporary directory for this test (removed by the runner at exit). */
const char *i4_test_tmpdir(void);

/* The tiny checkpoint the golden vectors were made from (seed
 * I4_TEST_TINY_SEED), written once per runner process into the temp dir. */
#define I4_TEST_TINY_SEED 1
const char *i4_test_tiny_model(void);
/* The backend the model tests run on: made once from $IDEOGRAM4_BACKEND
 * (default auto) and the default thread count; NULL (and a message) when
 * it cannot be made. Lives until the runner exits. */
struct i4_backend;
struct i4_backend *i4_test_backend(void);
/* Path of a file under tests/vectors (the runner runs from the repo root). */
const char *i4_test_vector_path(const char *name, char *buf, size_t size);

#endif
