/* rng.h — the seeded random generator: PCG32 (O'Neill 2014, XSH-RR output) with Gaussian samples
 * by the Box-Muller transform. Integer state, so the same seed gives the same stream on every
 * machine. State is a plain struct passed by pointer; there is no global generator. */
#ifndef DN_RNG_H
#define DN_RNG_H
#include <stdint.h>

typedef struct {
    uint64_t state; /* LCG state */
    uint64_t inc;   /* stream selector, always odd */
    int has_spare;  /* Box-Muller makes two normals; the second is kept here */
    float spare;
} dn_rng;

/* Seed a generator. `stream` picks one of 2^63 independent sequences for the same seed (use it
 * to give each image of a batch its own noise, so results do not depend on thread count). */
void dn_rng_seed(dn_rng *r, uint64_t seed, uint64_t stream);
uint32_t dn_rng_u32(dn_rng *r);
/* Uniform in [0, 1) with 24 random bits. */
float dn_rng_uniform(dn_rng *r);
/* Uniform integer in [0, n), n > 0, without modulo bias. */
uint32_t dn_rng_below(dn_rng *r, uint32_t n);
/* Standard normal N(0, 1). */
float dn_rng_normal(dn_rng *r);
/* out[i] ~ N(0, 1), i < n. */
void dn_rng_normal_fill(dn_rng *r, float *out, long n);

#endif
