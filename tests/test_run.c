/* test_run.c — a cached diffusion run (core/diffusion/run.h): reverse frames are dn_gen's steps bit for bit
 * (every sampler, epsilon and v models, with and without guidance, img2img), every frame splits
 * into x + drift + random, the predictions are expressed as epsilon; forward frames have the law
 * of q(x_t | x0) and the chain's correlation between frames; the worker thread computes only what
 * is asked, gives the same bits with 1 and 2 U-Net threads, and stops promptly when freed.
 * The network is a tiny random U-Net (3x8x8 images, 3 classes), so the whole file runs in ~1 s. */
#include "testutil.h"
#include "base/err.h"
#include "diffusion/generate.h"
#include "base/parallel.h"
#include "base/rng.h"
#include "diffusion/run.h"
#include "diffusion/sampler.h"
#include "diffusion/schedule.h"
#include "nets/unet.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { C = 3, H = 8, W = 8, P = C * H * W, NCLASS = 3 };

static dn_sched sched;

static int setup(void **state) {
    (void)state;
    return dn_sched_init_default(&sched, DN_BETA_LINEAR, 1000);
}
static int teardown(void **state) {
    (void)state;
    dn_sched_free(&sched);
    return 0;
}

/* A tiny U-Net with random weights for size x size images; prediction DN_PRED_EPSILON or DN_PRED_V. */
static void tiny_net_sized(dn_unet *net, int prediction, int size) {
    dn_unet_config c = dn_unet_default_config(C, size, size, NCLASS);
    c.base_width = 8;
    c.n_levels = 2;
    c.mults[0] = 1, c.mults[1] = 2;
    c.attn_levels = 0;
    c.groups = 4;
    c.temb_width = 16;
    c.prediction = prediction;
    if (dn_unet_init(net, &c) < 0) fail_msg("%s", dn_error());
    dn_rng r;
    dn_rng_seed(&r, 7, 0);
    dn_unet_init_random(net, &r);
}
static void tiny_net(dn_unet *net, int prediction) { tiny_net_sized(net, prediction, H); }

static void some_image(float *x0, uint64_t seed) {
    dn_rng r;
    dn_rng_seed(&r, seed, 99);
    for (int j = 0; j < P; j++) x0[j] = 2.0f * dn_rng_uniform(&r) - 1.0f;
}

static dn_run_config base_config(dn_run_mode mode, const dn_unet *net, dn_sampler_kind kind, int steps) {
    dn_run_config c;
    memset(&c, 0, sizeof c);
    c.mode = mode;
    c.net = net;
    c.sched = &sched;
    dn_sampler_config_default(&c.sampler, kind, steps);
    c.channels = C, c.height = H, c.width = W;
    c.class_id = NCLASS; /* unconditional */
    c.cfg_scale = 1.0f;
    c.seed = 1234;
    return c;
}

static dn_run *start_ok(const dn_run_config *c) {
    dn_run *r = dn_run_start(c);
    if (!r) fail_msg("dn_run_start: %s", dn_error());
    return r;
}

/* x_{k+1} = x + drift + random to float rounding, on every frame; the last frame has no move */
static void check_moves(dn_run *r) {
    int K = dn_run_frames(r) - 1;
    for (int k = 0; k < K; k++) {
        const dn_run_frame *f = dn_run_frame_wait(r, k), *g = dn_run_frame_wait(r, k + 1);
        assert_non_null(f), assert_non_null(g);
        for (int j = 0; j < P; j++)
            tu_assert_close("x + drift + random", k * P + j,
                            (double)f->x[j] + (double)f->drift[j] + (double)f->random[j], (double)g->x[j], 1e-5, 1e-5);
    }
    const dn_run_frame *e = dn_run_frame_wait(r, K);
    for (int j = 0; j < P; j++) assert_true(e->drift[j] == 0.0f && e->random[j] == 0.0f);
}

// ----------------------------------------------------------------------------
// reverse

typedef struct {
    dn_sampler_kind kind;
    int steps, prediction, class_id;
    float w;
} rev_case;

/* Every frame of a run equals dn_gen's sample after the same number of steps (n = 1, same seed),
 * with the same pred_x0, drift and random; eps_pred is epsilon and equals the guided combination
 * of the converted parts. */
static void reverse_case(rev_case rc) {
    dn_unet net;
    tiny_net(&net, rc.prediction);
    dn_run_config c = base_config(DN_RUN_REVERSE, &net, rc.kind, rc.steps);
    c.class_id = rc.class_id;
    c.cfg_scale = rc.w;
    dn_run *r = start_ok(&c);
    dn_gen g;
    if (dn_gen_init(&g, &net, &sched, &c.sampler, 1, &rc.class_id, rc.w, c.seed) < 0)
        fail_msg("%s", dn_error());
    int K = dn_run_frames(r) - 1;
    assert_int_equal(K, g.sp.n);
    int guided = rc.class_id != NCLASS && rc.w != 1.0f;
    float x0[P], drift[P], rnd[P], eps[P];
    const dn_run_frame *f = dn_run_frame_wait(r, 0);
    assert_non_null(f);
    assert_memory_equal(f->x, g.x, sizeof(float) * P);
    for (int k = 0; k < K; k++) {
        f = dn_run_frame_wait(r, k);
        assert_non_null(f);
        assert_int_equal(f->k, k);
        assert_true(f->has_pred && !f->has_true);
        assert_int_equal(f->guided, guided);
        dn_step_out extra = {.pred_x0 = x0, .drift = drift, .random = rnd, .pred_eps = eps};
        dn_step_info info;
        dn_gen_step(&g, &extra, &info);
        const dn_run_frame *nf = dn_run_frame_wait(r, k + 1);
        assert_non_null(nf);
        assert_memory_equal(nf->x, g.x, sizeof(float) * P);
        assert_memory_equal(f->x0_pred, x0, sizeof x0);
        assert_memory_equal(f->drift, drift, sizeof drift);
        assert_memory_equal(f->random, rnd, sizeof rnd);
        assert_memory_equal(&f->info, &info, sizeof info);
        assert_true(f->t == g.sp.timesteps[k]);
        assert_true(f->alpha_bar == info.alpha_prod_t);
        if (rc.prediction == DN_PRED_EPSILON) assert_memory_equal(f->eps_pred, g.model_out, sizeof eps);
        else tu_assert_allclose("eps_pred", f->eps_pred, eps, P, 0, 0); /* the sampler's own */
        if (guided) {
            float comb[P];
            dn_cfg_combine(comb, f->eps_uncond, f->eps_cond, rc.w, P);
            tu_assert_allclose("guided eps = uncond + w (cond - uncond)", comb, f->eps_pred, P, 1e-4, 1e-4);
            assert_true(memcmp(f->eps_cond, f->eps_uncond, sizeof eps) != 0);
        } else {
            assert_ptr_equal(f->eps_cond, f->eps_pred);
            assert_ptr_equal(f->eps_uncond, f->eps_pred);
        }
        /* epsilon and x0 agree: x = sqrt(a) x0 + sqrt(1-a) eps in the network's (variance
         * preserving) input, where x0 was not clipped (Euler and DPM++ never clip) */
        if (rc.kind == DN_EULER || rc.kind == DN_DPMPP_2M) {
            float a = f->alpha_bar, s = rc.kind == DN_EULER ? sqrtf(1.0f / a) : 1.0f;
            for (int j = 0; j < P; j++)
                tu_assert_close("x = sqrt(a) x0 + sqrt(1-a) eps", j, (double)f->x[j] / (double)s,
                                sqrt((double)a) * (double)f->x0_pred[j] +
                                    sqrt(1.0 - (double)a) * (double)f->eps_pred[j],
                                2e-4, 2e-4);
        }
    }
    f = dn_run_frame_wait(r, K);
    assert_non_null(f);
    assert_false(f->has_pred);
    assert_true(f->alpha_bar > 0.99f);
    assert_null(dn_run_frame_wait(r, K + 1));
    check_moves(r);
    dn_gen_free(&g);
    dn_run_free(r);
    dn_unet_free(&net);
}

static void reverse_equals_dn_gen(void **state) {
    (void)state;
    const rev_case cases[] = {
        {DN_DDIM, 6, DN_PRED_EPSILON, 1, 3.0f},   {DN_DDIM, 5, DN_PRED_V, NCLASS, 1.0f},
        {DN_EULER, 5, DN_PRED_EPSILON, 2, 2.0f},  {DN_EULER, 4, DN_PRED_V, 0, 4.0f},
        {DN_DPMPP_2M, 6, DN_PRED_EPSILON, NCLASS, 1.0f}, {DN_DPMPP_2M, 5, DN_PRED_V, 1, 2.5f},
        {DN_DDPM, 5, DN_PRED_EPSILON, 0, 3.0f},   {DN_DDPM, 4, DN_PRED_V, NCLASS, 1.0f},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) reverse_case(cases[i]);
}

/* img2img: frame 0 is x0 noised to step `start` with the seed's first plane of noise, then the
 * sampler's steps from there (compared with the same loop written out). */
static void img2img_starts_part_way(void **state) {
    (void)state;
    dn_unet net;
    tiny_net(&net, DN_PRED_EPSILON);
    float x0[P];
    some_image(x0, 3);
    const dn_sampler_kind kinds[] = {DN_DDIM, DN_EULER, DN_DDPM};
    for (int q = 0; q < 3; q++) {
        dn_run_config c = base_config(DN_RUN_REVERSE, &net, kinds[q], 8);
        c.x0 = x0;
        c.start = 3;
        c.class_id = 2, c.cfg_scale = 2.0f;
        dn_run *r = start_ok(&c);
        assert_int_equal(dn_run_frames(r), 8 - 3 + 1);
        assert_true(dn_run_config_of(r)->x0 != x0); /* copied */
        /* the same by hand */
        dn_sampler sp;
        dn_sampler_config sc = c.sampler;
        sc.prediction_type = DN_PRED_EPSILON;
        assert_int_equal(dn_sampler_init(&sp, &sched, &sc), 0);
        dn_rng rng;
        dn_rng_seed(&rng, c.seed, 0);
        float noise[P], x[P], xin[P], out[P];
        dn_rng_normal_fill(&rng, noise, P);
        dn_sampler_add_noise(x, &sp, 3, x0, noise, P);
        dn_guide gd;
        assert_int_equal(dn_guide_init(&gd, &net, 2), 0);
        for (int k = 0; k <= 5; k++) {
            const dn_run_frame *f = dn_run_frame_wait(r, k);
            assert_non_null(f);
            assert_memory_equal(f->x, x, sizeof x);
            if (k == 5) break;
            int i = 3 + k, id = 2;
            assert_true(f->t == sp.timesteps[i]);
            dn_sampler_scale_model_input(xin, &sp, i, x, P);
            dn_guided_output(&gd, out, NULL, NULL, xin, sp.timesteps[i], &id, 1, 2.0f);
            dn_step_out o = {.prev_sample = x};
            dn_sampler_step(&o, NULL, NULL, &rng, &sp, i, out, x, 1, P);
        }
        dn_guide_free(&gd);
        dn_sampler_free(&sp);
        check_moves(r);
        dn_run_free(r);
    }
    dn_unet_free(&net);
}

// ----------------------------------------------------------------------------
// forward

/* Over many seeds, frame k's x - sqrt(abar) x0 is N(0, 1 - abar) and consecutive frames are
 * correlated as the chain makes them: Cov(x_a, x_b | x0) = sqrt(abar_b / abar_a) (1 - abar_a).
 * eps_true rebuilds x from x0; frame 0 is the clean image. */
static void forward_has_the_chain_law(void **state) {
    (void)state;
    enum { SEEDS = 60, K = 10 };
    float x0[P];
    some_image(x0, 5);
    static float xs[SEEDS][K + 1][P];
    double abar[K + 1], ts[K + 1];
    for (int s = 0; s < SEEDS; s++) {
        dn_run_config c = base_config(DN_RUN_FORWARD, NULL, DN_DDPM, K);
        c.x0 = x0;
        c.seed = 1000 + (uint64_t)s;
        dn_run *r = start_ok(&c);
        assert_int_equal(dn_run_frames(r), K + 1);
        dn_sampler sp;
        assert_int_equal(dn_sampler_init(&sp, &sched, &c.sampler), 0);
        for (int k = 0; k <= K; k++) {
            const dn_run_frame *f = dn_run_frame_wait(r, k);
            assert_non_null(f);
            assert_false(f->has_pred);
            memcpy(xs[s][k], f->x, sizeof x0);
            abar[k] = (double)f->alpha_bar, ts[k] = (double)f->t;
            if (k == 0) {
                assert_memory_equal(f->x, x0, sizeof x0);
                assert_true(f->t == 0.0f && f->alpha_bar == 1.0f && isinf(f->snr) && !f->has_true);
                continue;
            }
            assert_true(f->has_true);
            assert_true(f->t == sp.timesteps[K - k]); /* the reverse run's t's, increasing */
            assert_true(f->alpha_bar == sched.alphas_cumprod[sp.t_index[K - k]]);
            double a = (double)f->alpha_bar;
            for (int j = 0; j < P; j++)
                tu_assert_close("x = sqrt(abar) x0 + sqrt(1-abar) eps_true", j, (double)f->x[j],
                                sqrt(a) * (double)x0[j] + sqrt(1 - a) * (double)f->eps_true[j], 1e-5, 1e-5);
        }
        check_moves(r);
        dn_sampler_free(&sp);
        dn_run_free(r);
    }
    /* t_1 may be 0 too (leading spacing ends at t = 0: one step of noise) */
    for (int k = 1; k <= K; k++)
        assert_true(ts[k] >= ts[k - 1] && (k == 1 || ts[k] > ts[k - 1]) && abar[k] < abar[k - 1]);
    long n = (long)SEEDS * P;
    for (int k = 1; k <= K; k++) {
        double sa = sqrt(abar[k]), m = 0, v = 0, cv = 0;
        for (int s = 0; s < SEEDS; s++)
            for (int j = 0; j < P; j++) {
                double e = (double)xs[s][k][j] - sa * (double)x0[j];
                double ep = (double)xs[s][k - 1][j] - sqrt(abar[k - 1]) * (double)x0[j];
                m += e, v += e * e, cv += e * ep;
            }
        m /= n, v /= n, cv /= n;
        double var = 1.0 - abar[k], pvar = 1.0 - abar[k - 1];
        tu_assert_close("mean of x - sqrt(abar) x0", k, m, 0, 5 * sqrt(var / n), 0);
        tu_assert_close("variance of x", k, v, var, 5 * var * sqrt(2.0 / n), 0);
        double want = sqrt(abar[k] / abar[k - 1]) * pvar;
        tu_assert_close("covariance of consecutive frames", k, cv, want, 5 * sqrt(var * pvar / n) + 1e-9, 0);
    }
}

/* With a network: predictions at every k >= 1 as epsilon (what dn_guided_output gives at x_t, t),
 * err = |eps_true - eps_pred|, the guidance parts; v models converted. */
static void forward_predictions(void **state) {
    (void)state;
    for (int pred = 0; pred < 2; pred++) {
        dn_unet net;
        tiny_net(&net, pred ? DN_PRED_V : DN_PRED_EPSILON);
        float x0[P], out[P], cond[P], uncond[P];
        some_image(x0, 8);
        dn_run_config c = base_config(DN_RUN_FORWARD, &net, DN_EULER, 6);
        c.x0 = x0;
        c.class_id = 1, c.cfg_scale = 3.0f;
        dn_run *r = start_ok(&c);
        dn_guide gd;
        assert_int_equal(dn_guide_init(&gd, &net, 2), 0);
        int K = dn_run_frames(r) - 1, id = 1;
        assert_int_equal(K, 6);
        for (int k = 0; k <= K; k++) {
            const dn_run_frame *f = dn_run_frame_wait(r, k);
            assert_non_null(f);
            assert_int_equal(f->has_pred, k >= 1);
            if (k == 0) continue;
            assert_true(f->guided);
            dn_guided_output(&gd, out, uncond, cond, f->x, f->t, &id, 1, 3.0f);
            double a = (double)f->alpha_bar;
            for (int j = 0; j < P; j++) {
                double e = (double)out[j], ec = (double)cond[j], eu = (double)uncond[j];
                if (pred) { /* eps = sqrt(a) v + sqrt(1-a) x */
                    e = sqrt(a) * e + sqrt(1 - a) * (double)f->x[j];
                    ec = sqrt(a) * ec + sqrt(1 - a) * (double)f->x[j];
                    eu = sqrt(a) * eu + sqrt(1 - a) * (double)f->x[j];
                }
                tu_assert_close("eps_pred", j, (double)f->eps_pred[j], e, 1e-5, 1e-4);
                tu_assert_close("eps_cond", j, (double)f->eps_cond[j], ec, 1e-5, 1e-4);
                tu_assert_close("eps_uncond", j, (double)f->eps_uncond[j], eu, 1e-5, 1e-4);
                tu_assert_close("err", j, (double)f->err[j], fabs((double)f->eps_true[j] - (double)f->eps_pred[j]),
                                1e-6, 1e-6);
                tu_assert_close("x0_pred", j,
                                sqrt(a) * (double)f->x0_pred[j] + sqrt(1 - a) * (double)f->eps_pred[j], (double)f->x[j],
                                1e-4, 1e-4);
            }
        }
        dn_guide_free(&gd);
        dn_run_free(r);
        dn_unet_free(&net);
    }
}

// ----------------------------------------------------------------------------
// the worker

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The worker computes frame 0 at once and nothing further until asked; get returns NULL for a
 * frame not computed (and asks for it), the frame after wait; out of range is NULL. */
static void computes_only_what_is_asked(void **state) {
    (void)state;
    dn_unet net;
    tiny_net(&net, DN_PRED_EPSILON);
    dn_run_config c = base_config(DN_RUN_REVERSE, &net, DN_DDPM, 20);
    dn_run *r = start_ok(&c);
    assert_int_equal(dn_run_frames(r), 21);
    assert_non_null(dn_run_frame_wait(r, 0));
    sleep_ms(30);
    assert_int_equal(dn_run_ready(r), 1);
    assert_null(dn_run_frame_get(r, 5)); /* not ready: NULL, and now wanted */
    const dn_run_frame *f5 = dn_run_frame_wait(r, 5);
    assert_non_null(f5);
    assert_ptr_equal(dn_run_frame_get(r, 5), f5);
    assert_int_equal(f5->k, 5);
    sleep_ms(30);
    assert_int_equal(dn_run_ready(r), 6); /* stopped at the furthest wanted */
    dn_run_want(r, 1000);                 /* clamped to K */
    assert_non_null(dn_run_frame_wait(r, 20));
    assert_int_equal(dn_run_ready(r), 21);
    assert_null(dn_run_frame_get(r, -1));
    assert_null(dn_run_frame_get(r, 21));
    assert_null(dn_run_frame_wait(r, 21));
    dn_run_free(r);
    dn_run_free(NULL);
    dn_unet_free(&net);
}

/* Copy every buffer of every frame of a run (guided DDPM, which draws noise) */
static float *run_all(const dn_unet *net, int *nframes) {
    dn_run_config c = base_config(DN_RUN_REVERSE, net, DN_DDPM, 6);
    c.class_id = 0, c.cfg_scale = 2.0f;
    dn_run *r = start_ok(&c);
    int n = dn_run_frames(r);
    float *all = malloc(sizeof(float) * P * 7 * (size_t)n);
    assert_non_null(all);
    for (int k = 0; k < n; k++) {
        const dn_run_frame *f = dn_run_frame_wait(r, k);
        assert_non_null(f);
        const float *b[7] = {f->x, f->eps_pred, f->eps_cond, f->eps_uncond, f->x0_pred, f->drift, f->random};
        for (int q = 0; q < 7; q++) memcpy(all + ((size_t)k * 7 + q) * P, b[q], sizeof(float) * P);
    }
    dn_run_free(r);
    *nframes = n;
    return all;
}

static void same_bits_with_1_and_2_threads(void **state) {
    (void)state;
    dn_unet net;
    tiny_net(&net, DN_PRED_EPSILON);
    int n1, n2;
    dn_threads_set(1);
    float *a = run_all(&net, &n1);
    dn_threads_set(2);
    float *b = run_all(&net, &n2);
    dn_threads_set(1);
    assert_int_equal(n1, n2);
    assert_memory_equal(a, b, sizeof(float) * P * 7 * (size_t)n1);
    free(a), free(b);
    dn_unet_free(&net);
}

/* Freeing a run in the middle of a long computation returns at once (one U-Net evaluation at
 * most), with 1 and 2 threads; freeing right after start too. Leaks show under `make asan`.
 * 32x32 images here so that 1000 guided steps take seconds (a few ms each). */
static void free_while_computing(void **state) {
    (void)state;
    enum { S = 32 };
    dn_unet net;
    tiny_net_sized(&net, DN_PRED_EPSILON, S);
    for (int th = 1; th <= 2; th++) {
        dn_threads_set(th);
        dn_run_config c = base_config(DN_RUN_REVERSE, &net, DN_DDPM, 1000);
        c.height = c.width = S;
        c.class_id = 1, c.cfg_scale = 3.0f;
        dn_run *r = start_ok(&c);
        assert_non_null(dn_run_frame_wait(r, 0));
        dn_run_want(r, 1000);
        sleep_ms(20);
        assert_true(dn_run_ready(r) < 1001); /* busy, not done */
        double t0 = now();
        dn_run_free(r);
        assert_true(now() - t0 < 0.5);
        dn_run_free(start_ok(&c)); /* before frame 0 is done */
        c.mode = DN_RUN_FORWARD;
        float *x0 = calloc(C * S * S, sizeof(float));
        assert_non_null(x0);
        c.x0 = x0;
        r = start_ok(&c);
        dn_run_want(r, 500);
        sleep_ms(5);
        free(x0); /* the run has its own copy */
        t0 = now();
        dn_run_free(r);
        assert_true(now() - t0 < 0.5);
    }
    dn_threads_set(1);
    dn_unet_free(&net);
}

/* A kernel that cannot get its scratch memory does not crash and is not silent: dn_gen_step and
 * the run fail with one line saying so (here by a test limit on the workspace), and both work
 * again once memory is there. */
static void out_of_kernel_memory_is_reported(void **state) {
    (void)state;
    dn_unet net;
    tiny_net(&net, DN_PRED_EPSILON);
    dn_run_config c = base_config(DN_RUN_REVERSE, &net, DN_DDIM, 4);
    c.class_id = 1, c.cfg_scale = 2.0f;
    dn_gen g;
    assert_int_equal(dn_gen_init(&g, &net, &sched, &c.sampler, 1, &c.class_id, c.cfg_scale, 0), 0);
    dn_workspace_free(); /* this thread's buffers: grown again (and refused) at the next request */
    dn_workspace_limit(64);
    assert_int_equal(dn_gen_step(&g, NULL, NULL), -1);
    assert_non_null(strstr(dn_error(), "out of memory"));
    assert_non_null(strstr(dn_error(), "kernel scratch"));
    dn_workspace_limit(0);
    assert_int_equal(dn_gen_step(&g, NULL, NULL), 0);
    dn_gen_free(&g);
    dn_workspace_limit(64);
    dn_run *r = start_ok(&c); /* its worker thread starts with no buffers */
    assert_null(dn_run_frame_wait(r, 1));
    assert_int_equal(dn_run_failed(r), 1);
    assert_non_null(strstr(dn_error(), "kernel scratch"));
    dn_run_free(r);
    dn_workspace_limit(0);
    assert_int_equal(dn_workspace_check(), 0); /* nothing left recorded */
    r = start_ok(&c);
    assert_non_null(dn_run_frame_wait(r, 4));
    dn_run_free(r);
    dn_unet_free(&net);
}

static void expect_refused(const dn_run_config *c, const char *part) {
    dn_run *r = dn_run_start(c);
    if (r) {
        dn_run_free(r);
        fail_msg("a bad config (%s) was accepted", part);
    }
    if (!strstr(dn_error(), part)) fail_msg("message '%s' does not mention '%s'", dn_error(), part);
}

static void bad_configs_are_refused(void **state) {
    (void)state;
    dn_unet net;
    tiny_net(&net, DN_PRED_EPSILON);
    float x0[P];
    some_image(x0, 1);
    dn_run_config c = base_config(DN_RUN_REVERSE, NULL, DN_DDIM, 10);
    expect_refused(&c, "network");
    c = base_config(DN_RUN_FORWARD, &net, DN_DDIM, 10);
    expect_refused(&c, "clean image");
    c = base_config(DN_RUN_REVERSE, &net, DN_DDIM, 10);
    c.class_id = NCLASS + 1;
    expect_refused(&c, "class id");
    c.class_id = -1;
    expect_refused(&c, "class id");
    c = base_config(DN_RUN_REVERSE, &net, DN_DDIM, 10);
    c.width = 16;
    expect_refused(&c, "shape");
    c = base_config(DN_RUN_REVERSE, &net, DN_DDIM, 10);
    c.start = 2;
    expect_refused(&c, "x0");
    c.x0 = x0, c.start = 10;
    expect_refused(&c, "start step");
    c.start = -1;
    expect_refused(&c, "start step");
    c = base_config(DN_RUN_REVERSE, &net, DN_DDIM, 0);
    expect_refused(&c, "steps");
    c = base_config(DN_RUN_REVERSE, &net, DN_DDIM, 10);
    c.sched = NULL;
    expect_refused(&c, "schedule");
    dn_unet_free(&net);
}


/* A guide gives back its activations (a run kept for later) and makes them again: the same bits. */
static void guide_release_and_restore(void **state) {
    (void)state;
    dn_unet net;
    tiny_net(&net, DN_PRED_EPSILON);
    enum { N = 3 };
    float x[N * P], want[N * P], got[N * P];
    for (int b = 0; b < N; b++) some_image(x + b * P, (uint64_t)(20 + b));
    int ids[N] = {0, NCLASS, 2};
    dn_guide g;
    assert_int_equal(dn_guide_init(&g, &net, 2 * N), 0);
    dn_guided_output(&g, want, NULL, NULL, x, 400.0f, ids, N, 3.0f);
    dn_guide_release(&g);
    assert_null(g.acts.mem);
    assert_int_equal(dn_guide_restore(&g), 0);
    dn_guided_output(&g, got, NULL, NULL, x, 400.0f, ids, N, 3.0f);
    assert_memory_equal(got, want, sizeof got);
    dn_guide_free(&g);
    dn_unet_free(&net);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reverse_equals_dn_gen),
        cmocka_unit_test(out_of_kernel_memory_is_reported),
        cmocka_unit_test(img2img_starts_part_way),
        cmocka_unit_test(forward_has_the_chain_law),
        cmocka_unit_test(forward_predictions),
        cmocka_unit_test(computes_only_what_is_asked),
        cmocka_unit_test(same_bits_with_1_and_2_threads),
        cmocka_unit_test(guide_release_and_restore),
        cmocka_unit_test(free_while_computing),
        cmocka_unit_test(bad_configs_are_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
