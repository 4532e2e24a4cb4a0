/* test_sampler.c — the samplers against Hugging Face diffusers' own deterministic test loops
 * (tests/schedulers/test_scheduler_*.py), their timesteps and variances, and the split of every
 * step into drift + random. The dummy data and model are those of diffusers' SchedulerCommonTest
 * (tests/schedulers/test_schedulers.py): shape (4,3,8,8), k = 256c + 32h + 4w + b,
 * dummy_sample_deter = k / 768, dummy_noise_deter = (767 - k) / 768, model(x, t) = x * t / (t + 1). */
#include "testutil.h"
#include "base/err.h"
#include "diffusion/sampler.h"
#include "diffusion/schedule.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NV 768 /* 4 * 3 * 8 * 8 */

/* value at flat index j of a (4,3,8,8) tensor built as diffusers builds it: arange(768) reshaped
 * (3,8,8,4) then permuted to (4,3,8,8), so element [b,c,h,w] holds k = 256c + 32h + 4w + b */
static int k_of(int j) {
    int b = j / 192, c = (j / 64) % 3, h = (j / 8) % 8, w = j % 8;
    return 256 * c + 32 * h + 4 * w + b;
}
static void dummy_sample(float *x) {
    for (int j = 0; j < NV; j++) x[j] = (float)k_of(j) / 768.0f;
}
static void dummy_noise(float *x) {
    for (int j = 0; j < NV; j++) x[j] = (float)(767 - k_of(j)) / 768.0f;
}
static void dummy_model(float *m, const float *x, float t) {
    for (int j = 0; j < NV; j++) m[j] = x[j] * t / (t + 1.0f);
}
static double abs_sum(const float *x) {
    double s = 0;
    for (int j = 0; j < NV; j++) s += fabs((double)x[j]);
    return s;
}

typedef struct {
    int T;
    float beta_start;
    int start; /* first step index (diffusers' t_start * order), > 0 adds noise first */
    int scaled_step; /* Euler tests pass the scaled sample to step(), as diffusers' test loop does */
} loop_setup;

/* diffusers' full_loop: returns sum(|x|) after the loop */
static double run_loop(const dn_sampler_config *c, loop_setup ls) {
    dn_sched s;
    assert_int_equal(dn_sched_init(&s, DN_BETA_LINEAR, ls.T, ls.beta_start, 0.02f), 0);
    dn_sampler sp;
    assert_int_equal(dn_sampler_init(&sp, &s, c), 0);
    dn_dpm_state st;
    assert_int_equal(dn_dpm_state_init(&st, NV), 0);
    float x[NV], m[NV], noise[NV];
    dummy_sample(x);
    for (int j = 0; j < NV; j++) x[j] *= sp.init_noise_sigma;
    if (ls.start > 0) {
        dummy_noise(noise);
        dn_sampler_add_noise(x, &sp, ls.start, x, noise, NV);
    }
    for (int i = ls.start; i < sp.n; i++) {
        float xin[NV];
        dn_sampler_scale_model_input(xin, &sp, i, x, NV);
        if (ls.scaled_step) memcpy(x, xin, sizeof x);
        dummy_model(m, xin, sp.timesteps[i]);
        dn_step_out o = {.prev_sample = x};
        dn_sampler_step(&o, NULL, &st, NULL, &sp, i, m, x, 1, NV);
    }
    double sum = abs_sum(x);
    dn_dpm_state_free(&st);
    dn_sampler_free(&sp);
    dn_sched_free(&s);
    return sum;
}

static void check(const char *what, double sum, double want_sum, double want_mean) {
    double mean = sum / NV;
    print_message("  %-26s sum %.4f (diffusers %.4f)  mean %.4g (%.4g)\n", what, sum, want_sum, mean, want_mean);
    if (want_sum >= 0) tu_assert_close(what, 0, sum, want_sum, 1e-2, 0);
    tu_assert_close(what, 1, mean, want_mean, 1e-3, 0);
}

static void ddim_golden_loops(void **state) {
    (void)state;
    dn_sampler_config c;
    loop_setup d = {1000, 0.0001f, 0, 0};
    dn_sampler_config_default(&c, DN_DDIM, 10);
    /* test_scheduler_ddim.py: test_full_loop_no_noise */
    check("ddim", run_loop(&c, d), 172.0067, 0.223967);
    /* test_full_loop_with_v_prediction */
    c.prediction_type = DN_PRED_V;
    check("ddim v_prediction", run_loop(&c, d), 52.5302, 0.0684);
    /* test_full_loop_with_set_alpha_to_one / _no_set_alpha_to_one (beta_start 0.01) */
    dn_sampler_config_default(&c, DN_DDIM, 10);
    loop_setup d01 = {1000, 0.01f, 0, 0};
    check("ddim set_alpha_to_one", run_loop(&c, d01), 149.8295, 0.1951);
    c.set_alpha_to_one = 0;
    check("ddim no set_alpha_to_one", run_loop(&c, d01), 149.0784, 0.1941);
    /* test_full_loop_with_noise: t_start = 8, add_noise then the last two steps */
    dn_sampler_config_default(&c, DN_DDIM, 10);
    loop_setup dn = {1000, 0.0001f, 8, 0};
    check("ddim with noise", run_loop(&c, dn), 354.5418, 0.4616);
}

static void euler_golden_loops(void **state) {
    (void)state;
    dn_sampler_config c;
    loop_setup e = {1100, 0.0001f, 0, 1};
    dn_sampler_config_default(&c, DN_EULER, 10);
    /* test_scheduler_euler.py: test_full_loop_no_noise (T = 1100) */
    check("euler", run_loop(&c, e), 10.0807, 0.0131);
    /* test_full_loop_with_v_prediction */
    c.prediction_type = DN_PRED_V;
    check("euler v_prediction", run_loop(&c, e), 0.0002, 2.2676e-06);
    /* test_full_loop_with_noise: t_start = num_inference_steps - 2 */
    dn_sampler_config_default(&c, DN_EULER, 10);
    loop_setup en = {1100, 0.0001f, 8, 1};
    check("euler with noise", run_loop(&c, en), 57062.9297, 74.3007);
}

static void dpm_golden_loops(void **state) {
    (void)state;
    dn_sampler_config c;
    loop_setup d = {1000, 0.0001f, 0, 0};
    /* test_scheduler_dpm_multi.py get_scheduler_config: order 2, midpoint, lower_order_final off,
     * final_sigmas_type sigma_min */
    dn_sampler_config_default(&c, DN_DPMPP_2M, 10);
    c.lower_order_final = 0;
    c.final_sigmas_type = DN_FINAL_SIGMA_MIN;
    check("dpm++2m", run_loop(&c, d), -1, 0.3301); /* test_full_loop_no_noise */
    c.prediction_type = DN_PRED_V;
    check("dpm++2m v_prediction", run_loop(&c, d), -1, 0.2251); /* test_full_loop_with_v_prediction */
    c.prediction_type = DN_PRED_EPSILON;
    loop_setup dn = {1000, 0.0001f, 5, 0};
    check("dpm++2m with noise", run_loop(&c, dn), 318.4111, 0.4146); /* test_full_loop_with_noise */
}


// ----------------------------------------------------------------------------
// timesteps

static dn_sched linear1000(void) {
    dn_sched s;
    assert_int_equal(dn_sched_init_default(&s, DN_BETA_LINEAR, 1000), 0);
    return s;
}

static void expect_timesteps(dn_sampler_kind kind, dn_spacing spacing, int steps_offset, int N,
                             const float *want, int count) {
    dn_sched s = linear1000();
    dn_sampler_config c;
    dn_sampler_config_default(&c, kind, N);
    c.timestep_spacing = spacing;
    c.steps_offset = steps_offset;
    dn_sampler sp;
    assert_int_equal(dn_sampler_init(&sp, &s, &c), 0);
    assert_int_equal(sp.n, count);
    for (int i = 0; i < count; i++) tu_assert_close(dn_spacing_name(spacing), i, (double)sp.timesteps[i], (double)want[i], 1e-3, 0);
    dn_sampler_free(&sp);
    dn_sched_free(&s);
}

static void timesteps_for_each_spacing(void **state) {
    (void)state;
    /* test_scheduler_ddim.py test_steps_offset: leading, steps_offset 1, N 5 */
    expect_timesteps(DN_DDIM, DN_SPACING_LEADING, 1, 5, (const float[]){801, 601, 401, 201, 1}, 5);
    /* the rest computed with numpy from diffusers' set_timesteps (numpy rounds half to even:
     * linspace(0, 999, 7) has 832.5 -> 832, 499.5 -> 500, 166.5 -> 166) */
    expect_timesteps(DN_DDIM, DN_SPACING_LEADING, 0, 10, (const float[]){900, 800, 700, 600, 500, 400, 300, 200, 100, 0}, 10);
    expect_timesteps(DN_DDIM, DN_SPACING_LINSPACE, 0, 10, (const float[]){999, 888, 777, 666, 555, 444, 333, 222, 111, 0}, 10);
    expect_timesteps(DN_DDIM, DN_SPACING_TRAILING, 0, 10, (const float[]){999, 899, 799, 699, 599, 499, 399, 299, 199, 99}, 10);
    expect_timesteps(DN_DDPM, DN_SPACING_LINSPACE, 0, 7, (const float[]){999, 832, 666, 500, 333, 166, 0}, 7);
    expect_timesteps(DN_DDPM, DN_SPACING_LEADING, 0, 7, (const float[]){852, 710, 568, 426, 284, 142, 0}, 7);
    expect_timesteps(DN_DDPM, DN_SPACING_TRAILING, 0, 7, (const float[]){999, 856, 713, 570, 428, 285, 142}, 7);
    expect_timesteps(DN_DDPM, DN_SPACING_TRAILING, 0, 3, (const float[]){999, 666, 332}, 3);
    /* DPM-Solver++ spaces N + 1 points and drops t = 0 */
    expect_timesteps(DN_DPMPP_2M, DN_SPACING_LINSPACE, 0, 10, (const float[]){999, 899, 799, 699, 599, 500, 400, 300, 200, 100}, 10);
    expect_timesteps(DN_DPMPP_2M, DN_SPACING_LEADING, 0, 7, (const float[]){875, 750, 625, 500, 375, 250, 125}, 7);
    expect_timesteps(DN_DPMPP_2M, DN_SPACING_TRAILING, 0, 3, (const float[]){999, 666, 332}, 3);
    expect_timesteps(DN_DPMPP_2M, DN_SPACING_LINSPACE, 0, 3, (const float[]){999, 666, 333}, 3);
    /* Euler keeps fractional timesteps: linspace(0, 999, 7) */
    expect_timesteps(DN_EULER, DN_SPACING_LINSPACE, 0, 7, (const float[]){999, 832.5f, 666, 499.5f, 333, 166.5f, 0}, 7);
    expect_timesteps(DN_EULER, DN_SPACING_TRAILING, 0, 3, (const float[]){999, 666, 332}, 3);
}

static void euler_sigmas_and_scaling(void **state) {
    (void)state;
    dn_sched s;
    assert_int_equal(dn_sched_init_default(&s, DN_BETA_LINEAR, 1100), 0);
    dn_sampler_config c;
    dn_sampler_config_default(&c, DN_EULER, 10);
    dn_sampler sp;
    assert_int_equal(dn_sampler_init(&sp, &s, &c), 0);
    /* sigma at whole t is sqrt((1 - abar) / abar); in between it is interpolated linearly */
    double top = sqrt((1.0 - (double)s.alphas_cumprod[1099]) / (double)s.alphas_cumprod[1099]);
    tu_assert_close("sigma_max", 0, (double)sp.sigmas[0], top, 0, 1e-6);
    tu_assert_close("init_noise_sigma", 0, (double)sp.init_noise_sigma, top, 0, 1e-6);
    assert_true(sp.sigmas[sp.n] == 0.0f);
    for (int i = 0; i < sp.n; i++) assert_true(sp.sigmas[i] > sp.sigmas[i + 1]);
    double t = (double)sp.timesteps[1]; /* 976.888... */
    int j = (int)t;
    double s0 = sqrt((1.0 - (double)s.alphas_cumprod[j]) / (double)s.alphas_cumprod[j]);
    double s1 = sqrt((1.0 - (double)s.alphas_cumprod[j + 1]) / (double)s.alphas_cumprod[j + 1]);
    tu_assert_close("interpolated sigma", 1, (double)sp.sigmas[1], s0 + (s1 - s0) * (t - j), 0, 1e-5);
    float x[4] = {1, -2, 3, 0}, y[4];
    dn_sampler_scale_model_input(y, &sp, 2, x, 4);
    for (int k = 0; k < 4; k++)
        tu_assert_close("scale_model_input", k, (double)y[k], (double)x[k] / sqrt((double)sp.sigmas[2] * (double)sp.sigmas[2] + 1), 1e-7, 1e-6);
    dn_sampler_free(&sp);
    /* leading spacing: init_noise_sigma = sqrt(sigma_max^2 + 1) */
    c.timestep_spacing = DN_SPACING_LEADING;
    assert_int_equal(dn_sampler_init(&sp, &s, &c), 0);
    tu_assert_close("init_noise_sigma leading", 0, (double)sp.init_noise_sigma,
                    sqrt((double)sp.sigmas[0] * (double)sp.sigmas[0] + 1.0), 0, 1e-6);
    dn_sampler_free(&sp);
    /* other samplers start from unit noise and only copy the model input */
    dn_sampler_config_default(&c, DN_DDIM, 10);
    assert_int_equal(dn_sampler_init(&sp, &s, &c), 0);
    assert_true(sp.init_noise_sigma == 1.0f);
    dn_sampler_scale_model_input(y, &sp, 2, x, 4);
    for (int k = 0; k < 4; k++) assert_true(y[k] == x[k]);
    dn_sampler_free(&sp);
    dn_sched_free(&s);
}

static void bad_configs_fail_with_a_reason(void **state) {
    (void)state;
    dn_sched s = linear1000();
    dn_sampler sp;
    dn_sampler_config c;
    dn_sampler_config_default(&c, DN_DDIM, 0);
    assert_int_equal(dn_sampler_init(&sp, &s, &c), -1);
    assert_non_null(strstr(dn_error(), "steps"));
    c.num_inference_steps = 1001;
    assert_int_equal(dn_sampler_init(&sp, &s, &c), -1);
    /* N = T with steps_offset 1 would need t = 1000 */
    c.num_inference_steps = 1000;
    c.steps_offset = 1;
    assert_int_equal(dn_sampler_init(&sp, &s, &c), -1);
    assert_non_null(strstr(dn_error(), "timestep"));
    dn_sampler_config_default(&c, DN_DDIM, 10);
    c.eta = 1.5f;
    assert_int_equal(dn_sampler_init(&sp, &s, &c), -1);
    dn_sampler_free(&sp); /* zeroed by the failed init: harmless */
    dn_sampler_free(NULL);
    /* N = T is allowed: the full DDPM chain */
    dn_sampler_config_default(&c, DN_DDPM, 1000);
    assert_int_equal(dn_sampler_init(&sp, &s, &c), 0);
    assert_int_equal(sp.n, 1000);
    assert_true(sp.timesteps[0] == 999.0f && sp.timesteps[999] == 0.0f);
    assert_int_equal(sp.prev_t[0], 998);
    assert_int_equal(sp.prev_t[999], -1);
    dn_sampler_free(&sp);
    dn_sched_free(&s);
}

static void names_parse_and_print(void **state) {
    (void)state;
    dn_sampler_kind k;
    for (int i = 0; i < 4; i++) {
        assert_int_equal(dn_sampler_kind_parse(dn_sampler_kind_name((dn_sampler_kind)i), &k), 0);
        assert_int_equal(k, i);
    }
    assert_int_equal(dn_sampler_kind_parse("dpmpp_2m", &k), 0);
    assert_int_equal(k, DN_DPMPP_2M);
    assert_int_equal(dn_sampler_kind_parse("plms", &k), -1);
    assert_non_null(strstr(dn_error(), "plms"));
    dn_spacing sp;
    assert_int_equal(dn_spacing_parse("trailing", &sp), 0);
    assert_int_equal(sp, DN_SPACING_TRAILING);
    assert_int_equal(dn_spacing_parse("middle", &sp), -1);
    dn_pred_type p;
    assert_int_equal(dn_pred_type_parse("v_prediction", &p), 0);
    assert_int_equal(p, DN_PRED_V);
    assert_int_equal(dn_pred_type_parse("noise", &p), -1);
    dn_var_type v;
    assert_int_equal(dn_var_type_parse("fixed_large", &v), 0);
    assert_int_equal(v, DN_VAR_FIXED_LARGE);
    assert_int_equal(dn_var_type_parse("learned", &v), -1);
    assert_string_equal(dn_pred_type_name(DN_PRED_SAMPLE), "sample");
    assert_string_equal(dn_var_type_name(DN_VAR_FIXED_SMALL), "fixed_small");
}

// ----------------------------------------------------------------------------
// variances

static void ddpm_and_ddim_variances(void **state) {
    (void)state;
    dn_sched s = linear1000();
    /* test_scheduler_ddpm.py test_variance (fixed_small, prev = t - 1), tolerance 1e-5 */
    tu_assert_close("ddpm var(0)", 0, (double)dn_ddpm_variance(&s, 0, -1, DN_VAR_FIXED_SMALL), 0.0, 1e-5, 0);
    tu_assert_close("ddpm var(487)", 487, (double)dn_ddpm_variance(&s, 487, 486, DN_VAR_FIXED_SMALL), 0.00979, 1e-5, 0);
    tu_assert_close("ddpm var(999)", 999, (double)dn_ddpm_variance(&s, 999, 998, DN_VAR_FIXED_SMALL), 0.02, 1e-5, 0);
    /* test_scheduler_ddim.py test_variance */
    tu_assert_close("ddim var(0,0)", 0, (double)dn_ddim_variance(&s, 0, 0, 1), 0.0, 1e-5, 0);
    tu_assert_close("ddim var(420,400)", 420, (double)dn_ddim_variance(&s, 420, 400, 1), 0.14771, 1e-5, 0);
    tu_assert_close("ddim var(980,960)", 980, (double)dn_ddim_variance(&s, 980, 960, 1), 0.32460, 1e-5, 0);
    tu_assert_close("ddim var(487,486)", 487, (double)dn_ddim_variance(&s, 487, 486, 1), 0.00979, 1e-5, 0);
    tu_assert_close("ddim var(999,998)", 999, (double)dn_ddim_variance(&s, 999, 998, 1), 0.02, 1e-5, 0);
    /* fixed_large is beta_t itself for one-step moves; fixed_small (beta-tilde) is never larger */
    for (int t = 1; t < 1000; t += 37) {
        /* 1 - abar_t / abar_{t-1} in float loses digits to cancellation: compare absolutely */
        tu_assert_close("fixed_large = beta", t, (double)dn_ddpm_variance(&s, t, t - 1, DN_VAR_FIXED_LARGE), (double)s.betas[t], 2e-7, 0);
        assert_true(dn_ddpm_variance(&s, t, t - 1, DN_VAR_FIXED_SMALL) <= dn_ddpm_variance(&s, t, t - 1, DN_VAR_FIXED_LARGE));
    }
    /* fixed_small is floored at 1e-20 (diffusers clamps before the log) */
    assert_true(dn_ddpm_variance(&s, 0, -1, DN_VAR_FIXED_SMALL) == 1e-20f);
    dn_sched_free(&s);
}

// ----------------------------------------------------------------------------
// the step's parts: next = sample + drift + random, and x0/eps agree with the sample

static const dn_sampler_kind kinds[4] = {DN_DDPM, DN_DDIM, DN_EULER, DN_DPMPP_2M};

static void drift_plus_random_is_the_move(void **state) {
    (void)state;
    dn_sched s = linear1000();
    for (int kk = 0; kk < 4; kk++) {
        for (int pt = 0; pt < 3; pt++) {
            dn_sampler_config c;
            dn_sampler_config_default(&c, kinds[kk], kinds[kk] == DN_DDPM ? 50 : 10);
            c.prediction_type = (dn_pred_type)pt;
            c.eta = 0.5f; /* DDIM with noise */
            dn_sampler sp;
            assert_int_equal(dn_sampler_init(&sp, &s, &c), 0);
            dn_dpm_state st;
            assert_int_equal(dn_dpm_state_init(&st, NV), 0);
            dn_rng rng;
            dn_rng_seed(&rng, 5, 0);
            float x[NV], xin[NV], m[NV], nx[NV], eps[NV], x0[NV], drift[NV], rnd[NV];
            dn_sampler_init_noise(x, &sp, &rng, 1, NV);
            int noisy_steps = 0;
            for (int i = 0; i < sp.n; i++) {
                dn_sampler_scale_model_input(xin, &sp, i, x, NV);
                dummy_model(m, xin, sp.timesteps[i]);
                dn_step_out o = {nx, eps, x0, drift, rnd};
                dn_step_info info;
                dn_sampler_step(&o, &info, &st, &rng, &sp, i, m, x, 1, NV);
                double max_rand = 0;
                for (int j = 0; j < NV; j++) {
                    double move = (double)nx[j] - (double)x[j], parts = (double)drift[j] + (double)rnd[j];
                    double tol = 4e-7 * (fabs((double)x[j]) + fabs((double)nx[j]) + fabs((double)drift[j]) + fabs((double)rnd[j])) + 1e-30;
                    if (fabs(move - parts) > tol)
                        fail_msg("%s %s step %d value %d: next - sample %.9g != drift + random %.9g",
                                 dn_sampler_kind_name(kinds[kk]), dn_pred_type_name(c.prediction_type), i, j, move, parts);
                    max_rand = fmax(max_rand, fabs((double)rnd[j]));
                }
                /* only DDPM (t > 0) and DDIM with eta > 0 add noise, of the std they report (DDIM's
                 * last step to alpha-bar 1 has variance 0) */
                int adds = (kinds[kk] == DN_DDPM && sp.timesteps[i] > 0) ||
                           (kinds[kk] == DN_DDIM && dn_ddim_variance(&s, sp.t_index[i], sp.prev_t[i], 1) > 0.0f);
                if (!adds) assert_true(max_rand == 0.0 && info.noise_std == 0.0f);
                else {
                    assert_true(max_rand > 0.0 && max_rand < 6.0 * (double)info.noise_std);
                    noisy_steps++;
                }
                memcpy(x, nx, sizeof x);
            }
            if (kinds[kk] == DN_DDPM || kinds[kk] == DN_DDIM) assert_true(noisy_steps > 0);
            dn_dpm_state_free(&st);
            dn_sampler_free(&sp);
        }
    }
    dn_sched_free(&s);
}

/* For DDIM/DDPM without clipping, the predicted x0 and eps must rebuild the sample:
 * x = sqrt(abar) x0 + sqrt(1 - abar) eps, whatever the prediction type. */
static void x0_and_eps_rebuild_the_sample(void **state) {
    (void)state;
    dn_sched s = linear1000();
    for (int pt = 0; pt < 3; pt++) {
        dn_sampler_config c;
        dn_sampler_config_default(&c, DN_DDIM, 10);
        c.prediction_type = (dn_pred_type)pt;
        c.clip_sample = 0;
        dn_sampler sp;
        assert_int_equal(dn_sampler_init(&sp, &s, &c), 0);
        float x[NV], m[NV], nx[NV], eps[NV], x0[NV];
        dummy_sample(x);
        dummy_noise(m);
        for (int i = 0; i < sp.n; i += 3) {
            dn_step_out o = {.prev_sample = nx, .pred_eps = eps, .pred_x0 = x0};
            dn_sampler_step(&o, NULL, NULL, NULL, &sp, i, m, x, 1, NV);
            double a = (double)s.alphas_cumprod[sp.t_index[i]];
            for (int j = 0; j < NV; j++)
                tu_assert_close("sqrt(a) x0 + sqrt(1-a) eps", j, sqrt(a) * (double)x0[j] + sqrt(1 - a) * (double)eps[j], (double)x[j], 1e-4, 1e-4);
        }
        dn_sampler_free(&sp);
    }
    dn_sched_free(&s);
}

/* Clipping bounds the predicted x0 to +-clip_sample_range; off, it can leave [-1, 1]. */
static void clip_sample_bounds_x0(void **state) {
    (void)state;
    dn_sched s = linear1000();
    dn_sampler_config c;
    dn_sampler_config_default(&c, DN_DDPM, 10);
    c.clip_sample_range = 0.5f;
    dn_sampler sp;
    assert_int_equal(dn_sampler_init(&sp, &s, &c), 0);
    float x[NV], m[NV], nx[NV], x0[NV];
    for (int j = 0; j < NV; j++) {
        x[j] = 3.0f * ((float)k_of(j) / 384.0f - 1.0f);
        m[j] = -x[j];
    }
    dn_rng rng;
    dn_rng_seed(&rng, 1, 0);
    dn_step_out o = {.prev_sample = nx, .pred_x0 = x0};
    dn_sampler_step(&o, NULL, NULL, &rng, &sp, 0, m, x, 1, NV);
    float lo = 0, hi = 0;
    for (int j = 0; j < NV; j++) lo = fminf(lo, x0[j]), hi = fmaxf(hi, x0[j]);
    assert_true(lo == -0.5f && hi == 0.5f);
    dn_sampler_free(&sp);
    c.clip_sample = 0;
    assert_int_equal(dn_sampler_init(&sp, &s, &c), 0);
    dn_sampler_step(&o, NULL, NULL, &rng, &sp, 0, m, x, 1, NV);
    for (int j = 0; j < NV; j++) hi = fmaxf(hi, x0[j]);
    assert_true(hi > 1.0f);
    dn_sampler_free(&sp);
    dn_sched_free(&s);
}

/* DDIM with use_clipped_model_output (the project's recommended setting): where x0 is clipped the
 * step's eps is re-derived from the clipped x0, so x0 and eps still rebuild the sample, and the
 * step is DDIM eq. 12 with that pair; where nothing is clipped it is the plain step. */
static void ddim_clipped_model_output_rederives_eps(void **state) {
    (void)state;
    dn_sched s = linear1000();
    dn_sampler_config c, plain;
    dn_sampler_config_recommended(&c, DN_DDIM, 10);
    dn_sampler_config_default(&plain, DN_DDIM, 10);
    assert_int_equal(c.use_clipped_model_output, 1);
    assert_int_equal(plain.use_clipped_model_output, 0);
    for (int k = DN_DDPM; k <= DN_DPMPP_2M; k++) {
        if (k == DN_DDIM) continue;
        dn_sampler_config a, b;
        dn_sampler_config_recommended(&a, (dn_sampler_kind)k, 10);
        dn_sampler_config_default(&b, (dn_sampler_kind)k, 10);
        assert_memory_equal(&a, &b, sizeof a);
    }
    dn_sampler sp, sp0;
    assert_int_equal(dn_sampler_init(&sp, &s, &c), 0);
    assert_int_equal(dn_sampler_init(&sp0, &s, &plain), 0);
    float x[NV], m[NV], nx[NV], x0[NV], e[NV], nx0[NV], e0[NV];
    for (int j = 0; j < NV; j++) {
        x[j] = 1.5f * ((float)k_of(j) / 384.0f - 1.0f);
        m[j] = j % 2 ? -3.0f * x[j] : x[j]; /* odd j: x0 far outside [-1, 1] at mid t, even j inside */
    }
    int i = 4, t = sp.t_index[i], prev = sp.prev_t[i];
    double a_t = (double)s.alphas_cumprod[t], a_p = prev >= 0 ? (double)s.alphas_cumprod[prev] : 1.0;
    dn_step_out o = {.prev_sample = nx, .pred_x0 = x0, .pred_eps = e};
    dn_step_out o0 = {.prev_sample = nx0, .pred_eps = e0};
    dn_sampler_step(&o, NULL, NULL, NULL, &sp, i, m, x, 1, NV);
    dn_sampler_step(&o0, NULL, NULL, NULL, &sp0, i, m, x, 1, NV);
    int clipped = 0, same = 0;
    for (int j = 0; j < NV; j++) {
        assert_true(x0[j] >= -1.0f && x0[j] <= 1.0f);
        double X0 = (double)x0[j], E = (double)e[j];
        double back = sqrt(a_t) * X0 + sqrt(1.0 - a_t) * E;
        assert_true(fabs(back - (double)x[j]) < 1e-4);
        double want = sqrt(a_p) * X0 + sqrt(1.0 - a_p) * E;
        assert_true(fabs(want - (double)nx[j]) < 1e-4);
        double x0_model = ((double)x[j] - sqrt(1.0 - a_t) * (double)m[j]) / sqrt(a_t);
        if (fabs(x0_model) > 1.01) {
            clipped++;
            assert_true(fabsf(x0[j]) == 1.0f);
            assert_true(fabsf(e[j] - m[j]) > 1e-3f); /* eps changed where x0 was clipped */
        } else if (fabs(x0_model) < 0.99) {
            same++;
            assert_true(fabsf(e[j] - m[j]) < 1e-4f && fabsf(nx[j] - nx0[j]) < 1e-5f);
        }
        assert_true(e0[j] == m[j]); /* diffusers' default keeps the model's eps */
    }
    assert_true(clipped > NV / 4 && same > NV / 4);
    dn_sampler_free(&sp);
    dn_sampler_free(&sp0);
    dn_sched_free(&s);
}

/* Image b's noise comes from rngs[b]: a batch of two gives the same bits as two runs of one. */
static void batching_does_not_change_results(void **state) {
    (void)state;
    dn_sched s = linear1000();
    dn_sampler_config c;
    dn_sampler_config_default(&c, DN_DDPM, 20);
    dn_sampler sp;
    assert_int_equal(dn_sampler_init(&sp, &s, &c), 0);
    enum { P = 96 };
    float xb[2 * P], m[2 * P], xs[2][P];
    dn_rng rb[2], rs;
    dn_rng_seed(&rb[0], 9, 0);
    dn_rng_seed(&rb[1], 9, 1);
    dn_sampler_init_noise(xb, &sp, rb, 2, 2 * P);
    for (int i = 0; i < sp.n; i++) {
        for (int j = 0; j < 2 * P; j++) m[j] = 0.9f * xb[j];
        dn_step_out o = {.prev_sample = xb};
        dn_sampler_step(&o, NULL, NULL, rb, &sp, i, m, xb, 2, 2 * P);
    }
    for (int b = 0; b < 2; b++) {
        dn_rng_seed(&rs, 9, (uint64_t)b);
        dn_sampler_init_noise(xs[b], &sp, &rs, 1, P);
        for (int i = 0; i < sp.n; i++) {
            float mm[P];
            for (int j = 0; j < P; j++) mm[j] = 0.9f * xs[b][j];
            dn_step_out o = {.prev_sample = xs[b]};
            dn_sampler_step(&o, NULL, NULL, &rs, &sp, i, mm, xs[b], 1, P);
        }
        assert_memory_equal(xs[b], xb + b * P, sizeof(float) * P);
    }
    dn_sampler_free(&sp);
    dn_sched_free(&s);
}

/* DPM-Solver++ 2M: first step first order, then second order; the last step is first order with
 * lower_order_final (N < 15) or when it lands on sigma 0, where the result is the predicted x0. */
static void dpm_orders_and_state(void **state) {
    (void)state;
    dn_sched s = linear1000();
    for (int variant = 0; variant < 3; variant++) {
        dn_sampler_config c;
        dn_sampler_config_default(&c, DN_DPMPP_2M, 10); /* lower_order_final on, final sigma 0 */
        if (variant >= 1) c.final_sigmas_type = DN_FINAL_SIGMA_MIN;
        if (variant == 2) c.lower_order_final = 0;
        dn_sampler sp;
        assert_int_equal(dn_sampler_init(&sp, &s, &c), 0);
        dn_dpm_state st;
        assert_int_equal(dn_dpm_state_init(&st, NV), 0);
        float x[NV], m[NV], x0[NV];
        dummy_sample(x);
        for (int i = 0; i < sp.n; i++) {
            dummy_model(m, x, sp.timesteps[i]);
            dn_step_info info;
            dn_step_out o = {.prev_sample = x, .pred_x0 = x0};
            dn_sampler_step(&o, &info, &st, NULL, &sp, i, m, x, 1, NV);
            int want = i == 0 ? 1 : (i == sp.n - 1 && variant < 2 ? 1 : 2);
            assert_int_equal(info.order, want);
        }
        if (variant == 0) assert_memory_equal(x, x0, sizeof x); /* sigma 0: x = x0 */
        /* after a reset (or a jump) the next step is first order again */
        dn_dpm_state_reset(&st);
        dn_step_info info;
        dn_step_out o = {.prev_sample = x};
        dn_sampler_step(&o, &info, &st, NULL, &sp, 3, m, x, 1, NV);
        assert_int_equal(info.order, 1);
        dn_sampler_step(&o, &info, &st, NULL, &sp, 5, m, x, 1, NV);
        assert_int_equal(info.order, 1);
        dn_dpm_state_free(&st);
        dn_sampler_free(&sp);
    }
    dn_sched_free(&s);
}

static void cfg_combines_predictions(void **state) {
    (void)state;
    float u[3] = {1, 2, -1}, c[3] = {3, 2, 1}, out[3];
    dn_cfg_combine(out, u, c, 0.0f, 3);
    assert_memory_equal(out, u, sizeof u);
    dn_cfg_combine(out, u, c, 1.0f, 3);
    assert_memory_equal(out, c, sizeof c);
    dn_cfg_combine(out, u, c, 7.5f, 3);
    tu_assert_close("cfg", 0, (double)out[0], 1 + 7.5 * 2, 0, 1e-6);
    tu_assert_close("cfg", 1, (double)out[1], 2, 0, 1e-6);
    tu_assert_close("cfg", 2, (double)out[2], -1 + 7.5 * 2, 0, 1e-6);
    dn_cfg_combine(u, u, c, 2.0f, 3); /* in place */
    tu_assert_close("cfg in place", 0, (double)u[0], 5, 0, 1e-6);
}

// ----------------------------------------------------------------------------
// end to end: with the exact noise predictor for Gaussian data, every sampler turns noise into
// samples with the data's mean and variance

#define GM 0.3  /* data mean */
#define GS 0.5  /* data standard deviation */

/* The optimal model for x0 ~ N(GM, GS^2) at alpha-bar a: x_t ~ N(sqrt(a) GM, a GS^2 + 1 - a), so
 * E[eps | x_t] = sqrt(1-a) (x_t - sqrt(a) GM) / (a GS^2 + 1 - a), E[x0 | x_t] from x_t = sqrt(a) x0
 * + sqrt(1-a) eps, and v = sqrt(a) eps - sqrt(1-a) x0, in whichever form the sampler expects. */
static void exact_model(float *m, const float *xt, long n, double a, dn_pred_type p) {
    for (long j = 0; j < n; j++) {
        double e = sqrt(1 - a) * ((double)xt[j] - sqrt(a) * GM) / (a * GS * GS + 1 - a);
        double x0 = ((double)xt[j] - sqrt(1 - a) * e) / sqrt(a);
        m[j] = (float)(p == DN_PRED_EPSILON ? e : p == DN_PRED_SAMPLE ? x0 : sqrt(a) * e - sqrt(1 - a) * x0);
    }
}

static void run_exact(float *x, long n, dn_sampler_kind kind, int N, dn_pred_type p, float eta, uint64_t seed) {
    dn_sched s = linear1000();
    dn_sampler_config c;
    dn_sampler_config_default(&c, kind, N);
    c.prediction_type = p;
    c.clip_sample = 0;
    c.eta = eta;
    /* linspace runs from t = 999 to t = 0, so the last jump (to no noise) is small; DPM++ drops
     * t = 0 and lands on sigma_min instead */
    c.timestep_spacing = DN_SPACING_LINSPACE;
    c.final_sigmas_type = DN_FINAL_SIGMA_MIN;
    dn_sampler sp;
    assert_int_equal(dn_sampler_init(&sp, &s, &c), 0);
    dn_dpm_state st;
    assert_int_equal(dn_dpm_state_init(&st, n), 0);
    float *m = malloc(sizeof(float) * (size_t)n), *xin = malloc(sizeof(float) * (size_t)n);
    assert_non_null(m);
    assert_non_null(xin);
    dn_rng rng;
    dn_rng_seed(&rng, seed, 3);
    dn_sampler_init_noise(x, &sp, &rng, 1, n);
    for (int i = 0; i < sp.n; i++) {
        dn_sampler_scale_model_input(xin, &sp, i, x, n);
        double a = 1.0 / ((double)sp.sigmas[i] * (double)sp.sigmas[i] + 1.0); /* alpha-bar at this step */
        exact_model(m, xin, n, a, p);
        dn_step_out o = {.prev_sample = x};
        dn_sampler_step(&o, NULL, &st, &rng, &sp, i, m, x, 1, n);
    }
    free(m);
    free(xin);
    dn_dpm_state_free(&st);
    dn_sampler_free(&sp);
    dn_sched_free(&s);
}

static void samplers_reach_the_data_distribution(void **state) {
    (void)state;
#ifndef GAUSS_M
#define GAUSS_M 20000
#endif
    enum { M = GAUSS_M };
    float *x = malloc(sizeof(float) * M), *y = malloc(sizeof(float) * M);
    assert_non_null(x);
    assert_non_null(y);
    struct { dn_sampler_kind k; int N; float eta; double bias; } runs[] = {
        /* bias: allowance for the discretisation error of N steps, on top of 5 standard errors.
         * Measured with M = 400000 (build with -DGAUSS_M=400000): mean errors <= 0.002, variance
         * errors ddpm 1000 -0.0044, ddim 200 -0.0057, euler 200 -0.0071, dpm++2m 100 +0.0069; they
         * shrink as N grows (ddim 500: -0.0029), which is the samplers converging, not noise. */
        {DN_DDPM, 1000, 0, 0.01}, {DN_DDIM, 200, 0, 0.01}, {DN_EULER, 200, 0, 0.01}, {DN_DPMPP_2M, 100, 0, 0.01},
    };
    for (size_t r = 0; r < sizeof runs / sizeof runs[0]; r++) {
        run_exact(x, M, runs[r].k, runs[r].N, DN_PRED_EPSILON, runs[r].eta, 11);
        double sm = 0, s2 = 0;
        for (int j = 0; j < M; j++) sm += (double)x[j], s2 += (double)x[j] * (double)x[j];
        double mean = sm / M, var = s2 / M - mean * mean;
        double se_mean = GS / sqrt(M), se_var = GS * GS * sqrt(2.0 / M);
        print_message("  %-8s N=%-4d eta=%.0f  mean %.4f (%.2f)  var %.4f (%.4f)\n", dn_sampler_kind_name(runs[r].k),
                      runs[r].N, (double)runs[r].eta, mean, GM, var, GS * GS);
        tu_assert_close("sampled mean", (long)r, mean, GM, 5 * se_mean + runs[r].bias, 0);
        tu_assert_close("sampled variance", (long)r, var, GS * GS, 5 * se_var + runs[r].bias, 0);
        /* the three prediction types describe the same exact model: same trajectories */
        run_exact(x, 1000, runs[r].k, runs[r].N, DN_PRED_EPSILON, runs[r].eta, 12);
        for (int p = 1; p < 3; p++) {
            run_exact(y, 1000, runs[r].k, runs[r].N, (dn_pred_type)p, runs[r].eta, 12);
            for (int j = 0; j < 1000; j++) tu_assert_close(dn_pred_type_name((dn_pred_type)p), j, (double)y[j], (double)x[j], 2e-3, 2e-3);
        }
    }
    free(x);
    free(y);
}

/* DDPM and DDIM with eta > 0 add noise. With the exact model each step is affine in x plus noise,
 * x' = A x + B + std z, so the sampled mean and variance can be predicted exactly step by step:
 * m' = A m + B, v' = A^2 v + std^2. A and B are read off the step's own drift at x = 0 and x = 1;
 * std is the step's reported noise_std. The samples must match within 5 standard errors. */
static void stochastic_steps_add_the_right_noise(void **state) {
    (void)state;
    enum { M = 20000 };
    dn_sched s = linear1000();
    float *x = malloc(sizeof(float) * M), *m = malloc(sizeof(float) * M);
    assert_non_null(x);
    assert_non_null(m);
    struct { dn_sampler_kind k; int N; float eta; dn_var_type v; } runs[] = {
        {DN_DDPM, 50, 0, DN_VAR_FIXED_SMALL}, {DN_DDPM, 50, 0, DN_VAR_FIXED_LARGE},
        {DN_DDIM, 50, 1.0f, DN_VAR_FIXED_SMALL}, {DN_DDIM, 20, 0.5f, DN_VAR_FIXED_SMALL},
    };
    for (size_t r = 0; r < sizeof runs / sizeof runs[0]; r++) {
        dn_sampler_config c;
        dn_sampler_config_default(&c, runs[r].k, runs[r].N);
        c.clip_sample = 0;
        c.eta = runs[r].eta;
        c.variance_type = runs[r].v;
        dn_sampler sp;
        assert_int_equal(dn_sampler_init(&sp, &s, &c), 0);
        dn_rng rng, probe_rng;
        dn_rng_seed(&rng, 21, 0);
        dn_rng_seed(&probe_rng, 22, 0);
        dn_sampler_init_noise(x, &sp, &rng, 1, M);
        double pm = 0, pv = 1; /* predicted mean and variance: x_T ~ N(0, 1) */
        for (int i = 0; i < sp.n; i++) {
            double a = (double)s.alphas_cumprod[sp.t_index[i]];
            float probe[2] = {0, 1}, pmod[2], pnext[2], pdrift[2];
            exact_model(pmod, probe, 2, a, DN_PRED_EPSILON);
            dn_step_info info;
            dn_step_out po = {.prev_sample = pnext, .drift = pdrift};
            dn_sampler_step(&po, &info, NULL, &probe_rng, &sp, i, pmod, probe, 1, 2);
            double B = (double)pdrift[0], A = 1.0 + (double)pdrift[1] - B;
            pm = A * pm + B;
            pv = A * A * pv + (double)info.noise_std * (double)info.noise_std;
            exact_model(m, x, M, a, DN_PRED_EPSILON);
            dn_step_out o = {.prev_sample = x};
            dn_sampler_step(&o, NULL, NULL, &rng, &sp, i, m, x, 1, M);
        }
        double sm = 0, s2 = 0;
        for (int j = 0; j < M; j++) sm += (double)x[j], s2 += (double)x[j] * (double)x[j];
        double mean = sm / M, var = s2 / M - mean * mean;
        print_message("  %-5s N=%-3d eta=%.1f %-11s mean %.4f (predicted %.4f)  var %.4f (predicted %.4f)\n",
                      dn_sampler_kind_name(runs[r].k), runs[r].N, (double)runs[r].eta, dn_var_type_name(runs[r].v),
                      mean, pm, var, pv);
        tu_assert_close("mean", (long)r, mean, pm, 5 * sqrt(pv / M), 0);
        tu_assert_close("variance", (long)r, var, pv, 5 * pv * sqrt(2.0 / M), 0);
        dn_sampler_free(&sp);
    }
    free(x);
    free(m);
    dn_sched_free(&s);
}

/* DDIM with eta = 1 is DDPM with fixed_small (DDIM paper, section 4.1): same steps, same noise,
 * same samples. */
static void ddim_eta_one_is_ddpm(void **state) {
    (void)state;
    dn_sched s = linear1000();
    float xa[NV], xb[NV], m[NV];
    for (int k = 0; k < 2; k++) {
        dn_sampler_config c;
        dn_sampler_config_default(&c, k ? DN_DDIM : DN_DDPM, 25);
        c.eta = 1.0f;
        c.clip_sample = 0; /* with clipping DDIM keeps the unclipped eps, DDPM does not */
        dn_sampler sp;
        assert_int_equal(dn_sampler_init(&sp, &s, &c), 0);
        dn_rng rng;
        dn_rng_seed(&rng, 77, 0);
        float *x = k ? xb : xa;
        dn_sampler_init_noise(x, &sp, &rng, 1, NV);
        for (int i = 0; i < sp.n; i++) {
            dummy_model(m, x, sp.timesteps[i]);
            dn_step_out o = {.prev_sample = x};
            dn_sampler_step(&o, NULL, NULL, &rng, &sp, i, m, x, 1, NV);
        }
        dn_sampler_free(&sp);
    }
    tu_assert_allclose("ddim eta=1 vs ddpm", xb, xa, NV, 1e-5, 1e-4);
    dn_sched_free(&s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ddim_golden_loops),
        cmocka_unit_test(euler_golden_loops),
        cmocka_unit_test(dpm_golden_loops),
        cmocka_unit_test(timesteps_for_each_spacing),
        cmocka_unit_test(euler_sigmas_and_scaling),
        cmocka_unit_test(bad_configs_fail_with_a_reason),
        cmocka_unit_test(names_parse_and_print),
        cmocka_unit_test(ddpm_and_ddim_variances),
        cmocka_unit_test(drift_plus_random_is_the_move),
        cmocka_unit_test(x0_and_eps_rebuild_the_sample),
        cmocka_unit_test(clip_sample_bounds_x0),
        cmocka_unit_test(ddim_clipped_model_output_rederives_eps),
        cmocka_unit_test(batching_does_not_change_results),
        cmocka_unit_test(dpm_orders_and_state),
        cmocka_unit_test(cfg_combines_predictions),
        cmocka_unit_test(stochastic_steps_add_the_right_noise),
        cmocka_unit_test(ddim_eta_one_is_ddpm),
        cmocka_unit_test(samplers_reach_the_data_distribution),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
