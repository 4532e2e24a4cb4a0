/* test_forward.c — the forward process: the closed form q(x_t | x_0) has the mean and variance the
 * formula says, the step-by-step chain reaches the same distribution, and each chain step splits
 * exactly into drift and random motion. */
#include "testutil.h"
#include "diffusion/forward.h"
#include "base/rng.h"
#include "diffusion/schedule.h"
#include <math.h>
#include <stdlib.h>

enum { M = 40000 }; /* draws per statistical check */

static void moments(double *mean, double *var, const float *x, long n) {
    double s = 0, s2 = 0;
    for (long i = 0; i < n; i++) s += (double)x[i], s2 += (double)x[i] * (double)x[i];
    *mean = s / n;
    *var = s2 / n - *mean * *mean;
}

/* within 5 standard errors: of the mean sqrt(var/n), of the variance var sqrt(2/n) (Gaussian) */
static void expect_gaussian(const char *what, long i, const float *x, long n, double mean, double var) {
    double m, v;
    moments(&m, &v, x, n);
    tu_assert_close(what, i, m, mean, 5 * sqrt(var / n) + 1e-7, 0);
    tu_assert_close(what, i, v, var, 5 * var * sqrt(2.0 / n) + 1e-7, 0);
}

static void closed_form_is_exact_arithmetic(void **state) {
    (void)state;
    dn_sched s;
    assert_int_equal(dn_sched_init_default(&s, DN_BETA_LINEAR, 1000), 0);
    float x0[4] = {1, -1, 0.5f, 0}, eps[4] = {0, 1, -2, 0.25f}, xt[4];
    for (int t = 0; t < 1000; t += 111) {
        dn_q_sample(xt, x0, eps, &s, t, 4);
        double a = (double)s.alphas_cumprod[t];
        for (int i = 0; i < 4; i++)
            tu_assert_close("x_t", i, (double)xt[i], sqrt(a) * (double)x0[i] + sqrt(1 - a) * (double)eps[i], 1e-6, 1e-6);
    }
    /* in place over x0 (what `diffuse noise` does with one buffer) */
    dn_q_sample(x0, x0, eps, &s, 999, 4);
    tu_assert_close("in place", 1, (double)x0[1], sqrt((double)s.alphas_cumprod[999]) * -1.0 + sqrt(1 - (double)s.alphas_cumprod[999]), 1e-6, 1e-6);
    double mean, var;
    dn_q_moments(&mean, &var, 2.0, &s, 0);
    tu_assert_close("moments t=0", 0, var, 1e-4, 1e-7, 0); /* 1 - abar_0 = beta_0 (float alpha) */
    tu_assert_close("moments t=0", 1, mean, 2.0 * sqrt(1 - 1e-4), 1e-7, 0);
    dn_sched_free(&s);
}

/* Over many draws, q(x_t | x_0) has mean sqrt(abar_t) x0 and variance 1 - abar_t. */
static void closed_form_has_the_right_moments(void **state) {
    (void)state;
    float *x0 = malloc(sizeof(float) * M), *eps = malloc(sizeof(float) * M), *xt = malloc(sizeof(float) * M);
    assert_true(x0 && eps && xt);
    dn_rng r;
    dn_rng_seed(&r, 2024, 0);
    const float c = 0.8f;
    for (long i = 0; i < M; i++) x0[i] = c;
    for (int kind = 0; kind < 3; kind++) {
        dn_sched s;
        assert_int_equal(dn_sched_init_default(&s, (dn_beta_kind)kind, 1000), 0);
        const int ts[] = {0, 10, 250, 500, 999};
        for (int k = 0; k < 5; k++) {
            dn_rng_normal_fill(&r, eps, M);
            dn_q_sample(xt, x0, eps, &s, ts[k], M);
            double mean, var;
            dn_q_moments(&mean, &var, (double)c, &s, ts[k]);
            expect_gaussian(dn_beta_kind_name((dn_beta_kind)kind), ts[k], xt, M, mean, var);
        }
        dn_sched_free(&s);
    }
    free(x0);
    free(eps);
    free(xt);
}

/* Each chain step: x_t = x_{t-1} + drift + random, drift = (sqrt(1-beta) - 1) x_{t-1} pulls toward 0,
 * random = sqrt(beta) eps. */
static void step_splits_into_drift_and_random(void **state) {
    (void)state;
    dn_sched s;
    assert_int_equal(dn_sched_init_default(&s, DN_BETA_COSINE, 1000), 0);
    float xp[5] = {2, -1, 0, 0.3f, -4}, eps[5] = {0.5f, 0.5f, -1, 0, 2}, xt[5], drift[5], rnd[5];
    for (int t = 0; t < 1000; t += 99) {
        dn_q_step(xt, drift, rnd, xp, eps, &s, t, 5);
        double b = (double)s.betas[t];
        for (int i = 0; i < 5; i++) {
            tu_assert_close("drift", i, (double)drift[i], (sqrt(1 - b) - 1) * (double)xp[i], 1e-7, 1e-5);
            tu_assert_close("random", i, (double)rnd[i], sqrt(b) * (double)eps[i], 1e-7, 1e-6);
            tu_assert_close("x_t = x_prev + drift + random", i, (double)xp[i] + (double)drift[i] + (double)rnd[i], (double)xt[i], 1e-6, 1e-6);
            /* the drift always points toward 0 (or is 0 at 0) */
            assert_true(drift[i] * xp[i] <= 0.0f);
        }
    }
    /* NULL parts are allowed, and in place works */
    float y[5] = {2, -1, 0, 0.3f, -4};
    dn_q_step(y, NULL, NULL, y, eps, &s, 500, 5);
    dn_q_step(xt, NULL, NULL, xp, eps, &s, 500, 5);
    assert_memory_equal(y, xt, sizeof y);
    dn_sched_free(&s);
}

/* Exact propagation: with mean m and variance v, one step gives sqrt(alpha) m and alpha v + beta.
 * After steps 0..t this must be sqrt(abar_t) x0 and 1 - abar_t: the chain and the closed form
 * describe the same distribution (and agree on how t is counted). */
static void chain_moments_equal_closed_form(void **state) {
    (void)state;
    for (int kind = 0; kind < 3; kind++) {
        dn_sched s;
        assert_int_equal(dn_sched_init_default(&s, (dn_beta_kind)kind, 1000), 0);
        double m = 1.0, v = 0.0;
        for (int t = 0; t < 1000; t++) {
            m *= sqrt((double)s.alphas[t]);
            v = (double)s.alphas[t] * v + (double)s.betas[t];
            double cm, cv;
            dn_q_moments(&cm, &cv, 1.0, &s, t);
            tu_assert_close("chain mean", t, m, cm, 1e-6, 1e-5);
            tu_assert_close("chain var", t, v, cv, 1e-6, 1e-5);
        }
        dn_sched_free(&s);
    }
}

/* Sampling the chain step by step for many values gives, at several t, the closed form's moments. */
static void sampled_chain_matches_closed_form(void **state) {
    (void)state;
    enum { N = 20000 };
    float *x = malloc(sizeof(float) * N), *eps = malloc(sizeof(float) * N);
    assert_true(x && eps);
    dn_sched s;
    assert_int_equal(dn_sched_init_default(&s, DN_BETA_LINEAR, 1000), 0);
    dn_rng r;
    dn_rng_seed(&r, 99, 1);
    const float c = -0.6f;
    for (long i = 0; i < N; i++) x[i] = c;
    int checked = 0;
    for (int t = 0; t < 1000; t++) {
        dn_rng_normal_fill(&r, eps, N);
        dn_q_step(x, NULL, NULL, x, eps, &s, t, N);
        if (t == 0 || t == 49 || t == 300 || t == 999) {
            double mean, var;
            dn_q_moments(&mean, &var, (double)c, &s, t);
            expect_gaussian("chain", t, x, N, mean, var);
            checked++;
        }
    }
    assert_int_equal(checked, 4);
    dn_sched_free(&s);
    free(x);
    free(eps);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(closed_form_is_exact_arithmetic),
        cmocka_unit_test(closed_form_has_the_right_moments),
        cmocka_unit_test(step_splits_into_drift_and_random),
        cmocka_unit_test(chain_moments_equal_closed_form),
        cmocka_unit_test(sampled_chain_matches_closed_form),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
