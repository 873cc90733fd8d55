/*
 * rng.h — a small deterministic random generator (splitmix64 seeding a
 * xoshiro256** stream) with uniform and Box–Muller normal draws. Used by the
 * tiny-model writer and tests; the same seed gives the same numbers on every
 * machine (only integer arithmetic and correctly rounded libm calls in
 * double).
 */
#ifndef I4_RNG_H
#define I4_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t s[4];
} i4_rng;

void i4_rng_seed(i4_rng *r, uint64_t seed);
uint64_t i4_rng_next(i4_rng *r);
/* Uniform double in [0, 1) with 53 random bits. */
double i4_rng_uniform(i4_rng *r);
/* Standard normal (Box–Muller, one value per call). */
double i4_rng_normal(i4_rng *r);

#endif
