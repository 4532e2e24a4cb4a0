/* rng.c — PCG32 and Box-Muller; see rng.h. */
#include "base/rng.h"
#include <math.h>

void dn_rng_seed(dn_rng *r, uint64_t seed, uint64_t stream) {
    /* The PCG paper's seeding: state from zero, step, add the seed, step. */
    r->state = 0;
    r->inc = (stream << 1) | 1u;
    r->has_spare = 0;
    r->spare = 0.0f;
    dn_rng_u32(r);
    r->state += seed;
    dn_rng_u32(r);
}

uint32_t dn_rng_u32(dn_rng *r) {
    uint64_t old = r->state;
    r->state = old * 6364136223846793005ULL + r->inc;
    uint32_t xorshifted = (uint32_t)(((old >> 18) ^ old) >> 27);
    uint32_t rot = (uint32_t)(old >> 59);
    return (xorshifted >> rot) | (xorshifted << ((32 - rot) & 31));
}

float dn_rng_uniform(dn_rng *r) { return (float)(dn_rng_u32(r) >> 8) * (1.0f / 16777216.0f); }

uint32_t dn_rng_below(dn_rng *r, uint32_t n) {
    /* Reject the values of the last incomplete block of n so every result is equally likely. */
    uint32_t threshold = (uint32_t)(-n) % n;
    for (;;) {
        uint32_t x = dn_rng_u32(r);
        if (x >= threshold) return x % n;
    }
}

float dn_rng_normal(dn_rng *r) {
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    /* Box-Muller: u1 in (0, 1] so log(u1) is finite; radius sqrt(-2 ln u1), angle 2 pi u2. */
    double u1 = ((double)dn_rng_u32(r) + 1.0) / 4294967296.0;
    double u2 = (double)dn_rng_u32(r) / 4294967296.0;
    double rad = sqrt(-2.0 * log(u1));
    double ang = 6.283185307179586 * u2;
    r->spare = (float)(rad * sin(ang));
    r->has_spare = 1;
    return (float)(rad * cos(ang));
}

void dn_rng_normal_fill(dn_rng *r, float *out, long n) {
    for (long i = 0; i < n; i++) out[i] = dn_rng_normal(r);
}
