/* test_optim.c — AdamW matches torch.optim.AdamW (golden values from tests/golden/adamw_golden.py),
 * its state is complete (a copy resumes bit-exactly), clipping, EMA and the learning-rate schedule. */
#include "testutil.h"
#include "nn/optim.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NP 6
#define NSTEP 5
static const float P0[NP] = {0.5f, -1.25f, 2.0f, 0.0f, -0.3f, 3.5f};
static const float T[NP] = {1.0f, 1.0f, -1.0f, 0.25f, -0.3f, 0.0f};
static const float W[NP] = {1.0f, 0.5f, 2.0f, 10.0f, 1.0f, 0.01f};

/* Printed by tests/golden/adamw_golden.py (torch 1.13, float32). */
static const float GOLD_DEFAULT[NSTEP][NP] = {
    /* lr 0.1, torch defaults (betas 0.9/0.999, eps 1e-8, weight_decay 0.01) */
    {0.5995f, -1.14874995f, 1.898f, 0.099999994f, -0.299700022f, 3.39650011f},
    {0.697722971f, -1.04774773f, 1.79620719f, 0.195649028f, -0.373812258f, 3.2931931f},
    {0.793378711f, -0.947100341f, 1.69469631f, 0.279929012f, -0.309791267f, 3.19014239f},
    {0.884637952f, -0.846922457f, 1.59354579f, 0.342653096f, -0.250153273f, 3.08741331f},
    {0.969060957f, -0.747336447f, 1.49283791f, 0.376936376f, -0.238611951f, 2.9850738f},
};
static const float GOLD_CUSTOM[NSTEP][NP] = {
    /* lr 0.05, betas 0.8/0.99, eps 1e-3, weight_decay 0.5 */
    {0.537450075f, -1.16877222f, 1.90000415f, 0.0499900058f, -0.292500019f, 3.36320448f},
    {0.573718131f, -1.08968151f, 1.80260539f, 0.0978374481f, -0.32100448f, 3.22995639f},
    {0.608657122f, -1.01274514f, 1.70780337f, 0.142731011f, -0.290092289f, 3.10024428f},
    {0.642116785f, -0.937979221f, 1.61559653f, 0.183651149f, -0.28005296f, 2.97405601f},
    {0.673946977f, -0.865397692f, 1.52598178f, 0.219418123f, -0.291594237f, 2.85137892f},
};

static void quad_grad(float *g, const float *p) {
    for (int i = 0; i < NP; i++) g[i] = 2.0f * W[i] * (p[i] - T[i]);
}

static void check_golden(const dn_adamw_config *cfg, float lr, const float gold[NSTEP][NP]) {
    dn_adamw opt;
    assert_int_equal(dn_adamw_init(&opt, NP, cfg), 0);
    float p[NP], g[NP];
    memcpy(p, P0, sizeof p);
    for (int s = 0; s < NSTEP; s++) {
        quad_grad(g, p);
        dn_adamw_step(&opt, p, g, lr);
        assert_int_equal(opt.step, s + 1);
        /* float32 on both sides; a few ulps of drift over 5 steps */
        tu_assert_allclose("AdamW vs torch", p, gold[s], NP, 1e-6, 1e-6);
    }
    dn_adamw_free(&opt);
}

static void adamw_matches_torch_defaults(void **state) {
    (void)state;
    dn_adamw_config cfg = dn_adamw_defaults();
    assert_true(cfg.beta1 == 0.9f && cfg.beta2 == 0.999f && cfg.eps == 1e-8f && cfg.weight_decay == 0.01f);
    check_golden(&cfg, 0.1f, GOLD_DEFAULT);
}

static void adamw_matches_torch_custom(void **state) {
    (void)state;
    dn_adamw_config cfg = {.beta1 = 0.8f, .beta2 = 0.99f, .eps = 1e-3f, .weight_decay = 0.5f};
    check_golden(&cfg, 0.05f, GOLD_CUSTOM);
}

/* First step by hand: m = (1-b1) g, v = (1-b2) g^2, and the bias-corrected step is lr sign(g). */
static void adamw_first_step_moments(void **state) {
    (void)state;
    dn_adamw_config cfg = dn_adamw_defaults();
    cfg.weight_decay = 0.0f;
    dn_adamw opt;
    assert_int_equal(dn_adamw_init(&opt, NP, &cfg), 0);
    float p[NP], g[NP];
    memcpy(p, P0, sizeof p);
    quad_grad(g, p);
    dn_adamw_step(&opt, p, g, 0.01f);
    for (int i = 0; i < NP; i++) {
        double gi = (double)g[i], p0 = (double)P0[i];
        tu_assert_close("m", i, (double)opt.m[i], 0.1 * gi, 1e-7, 1e-6);
        tu_assert_close("v", i, (double)opt.v[i], (double)(1.0f - 0.999f) * gi * gi, 1e-10, 1e-5); /* 1 - beta2 in float */
        double want = gi == 0.0 ? p0 : p0 - 0.01 * (gi > 0 ? 1 : -1);
        tu_assert_close("p", i, (double)p[i], want, 1e-6, 0);
    }
    dn_adamw_free(&opt);
}

/* Copying (m, v, step) into a fresh optimiser and continuing gives the same bits as not stopping:
 * the struct holds the whole state, which is what a checkpoint saves. */
static void adamw_state_resumes_exactly(void **state) {
    (void)state;
    dn_adamw_config cfg = dn_adamw_defaults();
    dn_adamw a, b;
    assert_int_equal(dn_adamw_init(&a, NP, &cfg), 0);
    float pa[NP], pb[NP], g[NP];
    memcpy(pa, P0, sizeof pa);
    for (int s = 0; s < 7; s++) quad_grad(g, pa), dn_adamw_step(&a, pa, g, 0.03f);
    assert_int_equal(dn_adamw_init(&b, NP, &cfg), 0);
    memcpy(b.m, a.m, NP * sizeof(float));
    memcpy(b.v, a.v, NP * sizeof(float));
    b.step = a.step;
    memcpy(pb, pa, sizeof pb);
    for (int s = 0; s < 9; s++) {
        quad_grad(g, pa), dn_adamw_step(&a, pa, g, 0.03f);
        quad_grad(g, pb), dn_adamw_step(&b, pb, g, 0.03f);
    }
    assert_memory_equal(pa, pb, sizeof pa);
    /* and the step count matters: a fresh optimiser (step 0) would diverge */
    dn_adamw c;
    assert_int_equal(dn_adamw_init(&c, NP, &cfg), 0);
    memcpy(c.m, a.m, NP * sizeof(float));
    memcpy(c.v, a.v, NP * sizeof(float));
    float pc[NP];
    memcpy(pc, pa, sizeof pc);
    quad_grad(g, pa), dn_adamw_step(&a, pa, g, 0.03f);
    quad_grad(g, pc), dn_adamw_step(&c, pc, g, 0.03f);
    assert_true(memcmp(pa, pc, sizeof pa) != 0);
    dn_adamw_free(&a), dn_adamw_free(&b), dn_adamw_free(&c);
    dn_adamw_free(NULL);
}

static void adamw_rejects_empty(void **state) {
    (void)state;
    dn_adamw opt;
    dn_adamw_config cfg = dn_adamw_defaults();
    assert_int_equal(dn_adamw_init(&opt, 0, &cfg), -1);
    dn_adamw_free(&opt);
}

static void clipping(void **state) {
    (void)state;
    float g[4] = {3.0f, -4.0f, 0.0f, 12.0f}; /* norm 13 */
    float h[4];
    memcpy(h, g, sizeof h);
    assert_true(fabsf(dn_clip_grad_norm(h, 4, 0.0f) - 13.0f) < 1e-5f); /* measure only */
    assert_memory_equal(h, g, sizeof h);
    assert_true(fabsf(dn_clip_grad_norm(h, 4, 20.0f) - 13.0f) < 1e-5f); /* under the limit */
    assert_memory_equal(h, g, sizeof h);
    float norm = dn_clip_grad_norm(h, 4, 1.0f);
    assert_true(fabsf(norm - 13.0f) < 1e-5f);            /* the norm before clipping */
    assert_true(fabsf(dn_clip_grad_norm(h, 4, 0.0f) - 1.0f) < 1e-5f); /* after: max_norm */
    for (int i = 0; i < 4; i++) tu_assert_close("direction kept", i, (double)h[i], (double)g[i] / 13.0, 1e-6, 1e-5);
    /* a long vector: the sum is accumulated without losing small terms */
    long n = 1000000;
    float *big = malloc((size_t)n * sizeof(float));
    assert_non_null(big);
    for (long i = 0; i < n; i++) big[i] = (i % 2) ? 1e-3f : -1e-3f;
    tu_assert_close("norm of 1e6 x 1e-3", 0, (double)dn_clip_grad_norm(big, n, 0.0f), 1.0, 0, 1e-5);
    free(big);
}

static void ema_constant_decay(void **state) {
    (void)state;
    float w0[3] = {1.0f, -2.0f, 0.5f}, p[3] = {0.0f, 0.0f, 4.5f};
    dn_ema e;
    assert_int_equal(dn_ema_init(&e, w0, 3, 0.9f, 0), 0);
    assert_memory_equal(e.w, w0, sizeof w0);
    for (int k = 1; k <= 20; k++) {
        assert_true(dn_ema_decay_next(&e) == 0.9f);
        dn_ema_update(&e, p);
        double d = pow(0.9, k); /* w_k = p + (w0 - p) d^k */
        for (int i = 0; i < 3; i++) tu_assert_close("ema", i, (double)e.w[i], (double)p[i] + (double)(w0[i] - p[i]) * d, 1e-5, 1e-5);
    }
    assert_int_equal(e.updates, 20);
    dn_ema_free(&e);
    dn_ema_free(NULL);
    assert_int_equal(dn_ema_init(&e, w0, 3, 1.0f, 0), -1); /* decay 1 would never move */
}

static void ema_warmup_decay(void **state) {
    (void)state;
    float w0[2] = {5.0f, 5.0f}, p[2] = {1.0f, -1.0f};
    dn_ema e;
    assert_int_equal(dn_ema_init(&e, w0, 2, 0.999f, 1), 0);
    assert_true(dn_ema_decay_next(&e) == 0.0f);
    dn_ema_update(&e, p); /* decay 0: the average becomes the weights */
    assert_memory_equal(e.w, p, sizeof p);
    tu_assert_close("decay s=1", 0, (double)dn_ema_decay_next(&e), 1.0 - pow(2.0, -2.0 / 3.0), 1e-6, 0);
    while (e.updates < 31) dn_ema_update(&e, p);
    tu_assert_close("decay s=31", 0, (double)dn_ema_decay_next(&e), 1.0 - pow(32.0, -2.0 / 3.0), 1e-6, 0);
    e.updates = 100000; /* the ramp is capped at `decay` */
    assert_true(dn_ema_decay_next(&e) == 0.999f);
    /* rising, never above the cap */
    float last = -1.0f;
    for (long s = 0; s < 50000; s += 37) {
        e.updates = s;
        float d = dn_ema_decay_next(&e);
        assert_true(d >= last && d <= 0.999f);
        last = d;
    }
    dn_ema_free(&e);
}

static void lr_schedule(void **state) {
    (void)state;
    dn_lr_schedule s = {.lr = 1e-3f, .min_lr = 1e-5f, .warmup = 4, .total = 104, .cosine = 0};
    tu_assert_close("warm 0", 0, (double)dn_lr_at(&s, 0), 0.25e-3, 1e-9, 1e-6);
    tu_assert_close("warm 1", 1, (double)dn_lr_at(&s, 1), 0.50e-3, 1e-9, 1e-6);
    tu_assert_close("warm 3", 3, (double)dn_lr_at(&s, 3), 1.00e-3, 1e-9, 1e-6);
    tu_assert_close("const", 50, (double)dn_lr_at(&s, 50), 1e-3, 1e-9, 1e-6);
    tu_assert_close("const late", 9999, (double)dn_lr_at(&s, 9999), 1e-3, 1e-9, 1e-6);
    s.cosine = 1;
    tu_assert_close("cos start", 4, (double)dn_lr_at(&s, 4), 1e-3, 1e-9, 1e-6);
    tu_assert_close("cos mid", 54, (double)dn_lr_at(&s, 54), (1e-3 + 1e-5) / 2, 1e-9, 1e-5);
    tu_assert_close("cos quarter", 29, (double)dn_lr_at(&s, 29), 1e-5 + (1e-3 - 1e-5) * 0.5 * (1 + sqrt(0.5)), 1e-9, 1e-5);
    tu_assert_close("cos end", 104, (double)dn_lr_at(&s, 104), 1e-5, 1e-10, 1e-5);
    tu_assert_close("cos after", 500, (double)dn_lr_at(&s, 500), 1e-5, 1e-10, 1e-5);
    for (long k = 5; k < 110; k++) assert_true(dn_lr_at(&s, k) <= dn_lr_at(&s, k - 1));
    s.warmup = 0;
    tu_assert_close("no warm-up", 0, (double)dn_lr_at(&s, 0), 1e-3, 1e-9, 1e-6);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(adamw_matches_torch_defaults),
        cmocka_unit_test(adamw_matches_torch_custom),
        cmocka_unit_test(adamw_first_step_moments),
        cmocka_unit_test(adamw_state_resumes_exactly),
        cmocka_unit_test(adamw_rejects_empty),
        cmocka_unit_test(clipping),
        cmocka_unit_test(ema_constant_decay),
        cmocka_unit_test(ema_warmup_decay),
        cmocka_unit_test(lr_schedule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
