/* test_rng.c — the generator's stream is fixed (same values on every machine) and its normals
 * have mean 0 and variance 1. */
#include "testutil.h"
#include "base/rng.h"
#include <math.h>
#include <stdlib.h>

static void first_values_are_fixed(void **state) {
    (void)state;
    dn_rng r;
    dn_rng_seed(&r, 42, 54);
    /* PCG32 reference stream for seed 42, stream 54 (from the PCG paper's demo program). */
    const uint32_t want[6] = {0xa15c02b7, 0x7b47f409, 0xba1d3330, 0x83d2f293, 0xbfa4784b, 0xcbed606e};
    for (int i = 0; i < 6; i++) assert_int_equal(dn_rng_u32(&r), want[i]);
}

/* The first normals of seed 42, stream 54, computed independently in Python from the PCG32 stream
 * above and Box-Muller (u1 = (u + 1) / 2^32, u2 = u / 2^32, cos then sin). Any change to the normal
 * transform changes every noised picture, so it must be deliberate. */
static void first_normals_are_fixed(void **state) {
    (void)state;
    dn_rng r;
    dn_rng_seed(&r, 42, 54);
    const double want[6] = {-0.9543370008468628, 0.11102823913097382, -0.7950063347816467,
                            -0.07483552396297455, 0.21960054337978363, -0.7286065816879272};
    for (int i = 0; i < 6; i++) tu_assert_close("normal", i, (double)dn_rng_normal(&r), want[i], 1e-6, 0);
}

/* Streams of one seed are different sequences and uncorrelated (per-image noise in a batch). */
static void streams_are_independent(void **state) {
    (void)state;
    dn_rng a, b;
    dn_rng_seed(&a, 42, 0);
    dn_rng_seed(&b, 42, 1);
    const int n = 100000;
    double sab = 0;
    int same = 0;
    for (int i = 0; i < n; i++) {
        float x = dn_rng_normal(&a), y = dn_rng_normal(&b);
        sab += (double)x * (double)y;
        same += x == y;
    }
    assert_true(same < 5);
    assert_true(fabs(sab / n) < 5.0 / sqrt(n)); /* correlation within 5 standard errors of 0 */
}

static void normals_have_unit_moments(void **state) {
    (void)state;
    dn_rng r;
    dn_rng_seed(&r, 7, 0);
    const int n = 200000;
    double s = 0, s2 = 0;
    for (int i = 0; i < n; i++) {
        double z = (double)dn_rng_normal(&r);
        s += z;
        s2 += z * z;
    }
    double mean = s / n, var = s2 / n - mean * mean;
    /* standard errors: mean 1/sqrt(n) = 0.0022, variance sqrt(2/n) = 0.0032; allow 5 of each */
    assert_true(fabs(mean) < 5 * 0.0023);
    assert_true(fabs(var - 1.0) < 5 * 0.0032);
}

static void below_stays_in_range(void **state) {
    (void)state;
    dn_rng r;
    dn_rng_seed(&r, 1, 1);
    int counts[7] = {0};
    for (int i = 0; i < 70000; i++) {
        uint32_t v = dn_rng_below(&r, 7);
        assert_true(v < 7);
        counts[v]++;
    }
    for (int i = 0; i < 7; i++) assert_true(abs(counts[i] - 10000) < 500);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(first_values_are_fixed),
        cmocka_unit_test(first_normals_are_fixed),
        cmocka_unit_test(streams_are_independent),
        cmocka_unit_test(normals_have_unit_moments),
        cmocka_unit_test(below_stays_in_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
