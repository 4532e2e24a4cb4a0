/* sampler.c — DDPM, DDIM, Euler and DPM-Solver++ 2M steps; see sampler.h and docs/DIFFUSION.md.
 * Scalars are computed in float in the order diffusers (PyTorch float32) computes them, so the
 * golden loops of diffusers' tests agree to their tolerances. */
#include "diffusion/sampler.h"
#include "base/err.h"
#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Round every operation as written (no fused multiply-adds the compiler invents): the results are
 * compared bit for bit with PyTorch. GCC in ISO C mode already does this; clang needs telling. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

/* ---- configuration --------------------------------------------------------------------------- */

void dn_sampler_config_default(dn_sampler_config *c, dn_sampler_kind kind, int num_inference_steps) {
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->num_inference_steps = num_inference_steps;
    c->timestep_spacing = (kind == DN_DDPM || kind == DN_DDIM) ? DN_SPACING_LEADING : DN_SPACING_LINSPACE;
    c->steps_offset = 0;
    c->prediction_type = DN_PRED_EPSILON;
    c->clip_sample = (kind == DN_DDPM || kind == DN_DDIM);
    c->clip_sample_range = 1.0f;
    c->variance_type = DN_VAR_FIXED_SMALL;
    c->eta = 0.0f;
    c->set_alpha_to_one = 1;
    c->lower_order_final = 1;
    c->final_sigmas_type = DN_FINAL_SIGMA_ZERO;
}

void dn_sampler_config_recommended(dn_sampler_config *c, dn_sampler_kind kind, int num_inference_steps) {
    dn_sampler_config_default(c, kind, num_inference_steps);
    c->use_clipped_model_output = kind == DN_DDIM;
}

void dn_sampler_config_latent(dn_sampler_config *c) { c->clip_sample = 0; }

/* ---- timesteps and sigmas -------------------------------------------------------------------- */

/* sigma of trained step t: sqrt((1 - abar) / abar), float32 as torch computes it */
static float sigma_of(const dn_sched *s, int t) {
    float a = s->alphas_cumprod[t];
    return sqrtf((1.0f - a) / a);
}

/* np.interp(x, arange(T), sigma(t)) in double, as Euler's set_timesteps does */
static double sigma_interp(const dn_sched *s, double x) {
    if (x <= 0.0) return (double)sigma_of(s, 0);
    if (x >= s->T - 1) return (double)sigma_of(s, s->T - 1);
    int j = (int)floor(x);
    double f0 = (double)sigma_of(s, j), f1 = (double)sigma_of(s, j + 1);
    if (x == (double)j) return f0;
    return (f1 - f0) * (x - (double)j) + f0;
}

/* The timesteps of diffusers' set_timesteps, descending, as doubles (whole numbers except Euler
 * linspace). rint rounds half to even, like numpy's round. Returns the count (DPM++ drops repeats). */
static int make_timesteps(double *ts, const dn_sampler_config *c, int T) {
    int N = c->num_inference_steps;
    dn_spacing sp = c->timestep_spacing;
    if (c->kind == DN_DPMPP_2M) {
        /* DPM++ spaces N+1 points and drops the last (t = 0) */
        if (sp == DN_SPACING_LINSPACE) {
            double step = (double)(T - 1) / N;
            for (int i = 0; i < N; i++) ts[i] = rint((N - i) * step);
        } else if (sp == DN_SPACING_LEADING) {
            int ratio = T / (N + 1);
            for (int i = 0; i < N; i++) ts[i] = (double)((N - i) * ratio + c->steps_offset);
        } else {
            double ratio = (double)T / N;
            for (int i = 0; i < N; i++) ts[i] = rint(T - i * ratio) - 1.0;
        }
        int m = 0; /* np.unique keeps the first of equal timesteps */
        for (int i = 0; i < N; i++)
            if (m == 0 || ts[m - 1] != ts[i]) ts[m++] = ts[i];
        return m;
    }
    if (sp == DN_SPACING_LINSPACE) {
        /* numpy linspace(0, T-1, N): i * step, the last exactly T-1 */
        double step = N > 1 ? (double)(T - 1) / (N - 1) : 0.0;
        for (int i = 0; i < N; i++) {
            int k = N - 1 - i;
            double v = (k == N - 1 && N > 1) ? (double)(T - 1) : k * step;
            ts[i] = c->kind == DN_EULER ? v : rint(v); /* Euler keeps fractional t */
        }
    } else if (sp == DN_SPACING_LEADING) {
        int ratio = T / N;
        for (int i = 0; i < N; i++) ts[i] = (double)((N - 1 - i) * ratio + c->steps_offset);
    } else {
        /* round(arange(T, 0, -T/N)) - 1; diffusers' arange can yield N+1 points, we keep N */
        double ratio = (double)T / N;
        for (int i = 0; i < N; i++) ts[i] = rint(T - i * ratio) - 1.0;
    }
    return N;
}

int dn_sampler_init(dn_sampler *sp, const dn_sched *s, const dn_sampler_config *cfg) {
    memset(sp, 0, sizeof *sp);
    int T = s->T, N = cfg->num_inference_steps;
    if (N < 1 || N > T)
        return dn_fail("sampler: %d steps is out of range (1 .. %d, the trained steps)", N, T);
    if (cfg->steps_offset < 0 || cfg->steps_offset >= T)
        return dn_fail("sampler: steps_offset %d is out of range (0 .. %d)", cfg->steps_offset, T - 1);
    if (cfg->clip_sample && !(cfg->clip_sample_range > 0.0f))
        return dn_fail("sampler: clip_sample_range %g must be > 0", (double)cfg->clip_sample_range);
    if (!(cfg->eta >= 0.0f && cfg->eta <= 1.0f))
        return dn_fail("sampler: eta %g is out of range (0 .. 1)", (double)cfg->eta);
    double *ts = malloc(sizeof(double) * (size_t)N);
    /* one block: timesteps (N floats), sigmas (N+1 floats), t_index and prev_t (N ints each) */
    char *block = malloc(sizeof(float) * (2 * (size_t)N + 1) + sizeof(int) * 2 * (size_t)N);
    if (!ts || !block) {
        free(ts);
        free(block);
        return dn_fail("sampler: out of memory for %d steps", N);
    }
    int n = make_timesteps(ts, cfg, T);
    for (int i = 0; i < n; i++) {
        if (ts[i] < 0.0 || ts[i] > T - 1) {
            double bad = ts[i];
            free(ts);
            free(block);
            return dn_fail("sampler: timestep %g falls outside 0 .. %d (lower steps_offset or the step count)",
                           bad, T - 1);
        }
    }
    sp->cfg = *cfg;
    sp->sched = s;
    sp->n = n;
    sp->timesteps = (float *)block;
    sp->sigmas = sp->timesteps + N;
    sp->t_index = (int *)(sp->sigmas + N + 1);
    sp->prev_t = sp->t_index + N;
    float final_alpha = cfg->set_alpha_to_one ? 1.0f : s->alphas_cumprod[0];
    for (int i = 0; i < n; i++) {
        sp->timesteps[i] = (float)ts[i];
        sp->t_index[i] = (int)lrint(ts[i]);
        if (cfg->kind == DN_DDIM)
            sp->prev_t[i] = sp->t_index[i] - T / N; /* diffusers' DDIM: t - T // N */
        else
            sp->prev_t[i] = i + 1 < n ? (int)lrint(ts[i + 1]) : -1;
        sp->sigmas[i] = cfg->kind == DN_EULER ? (float)sigma_interp(s, ts[i]) : sigma_of(s, sp->t_index[i]);
    }
    if (cfg->kind == DN_EULER || cfg->kind == DN_DPMPP_2M)
        sp->sigmas[n] = cfg->final_sigmas_type == DN_FINAL_SIGMA_MIN ? sigma_of(s, 0) : 0.0f;
    else if (cfg->kind == DN_DDIM)
        sp->sigmas[n] = sqrtf((1.0f - final_alpha) / final_alpha);
    else
        sp->sigmas[n] = 0.0f;
    sp->init_noise_sigma = 1.0f;
    if (cfg->kind == DN_EULER) {
        float mx = 0.0f;
        for (int i = 0; i <= n; i++) mx = sp->sigmas[i] > mx ? sp->sigmas[i] : mx;
        sp->init_noise_sigma = cfg->timestep_spacing == DN_SPACING_LEADING ? sqrtf(mx * mx + 1.0f) : mx;
    }
    free(ts);
    return 0;
}

void dn_sampler_free(dn_sampler *sp) {
    if (!sp) return;
    free(sp->timesteps);
    memset(sp, 0, sizeof *sp);
}

int dn_dpm_state_init(dn_dpm_state *st, long n) {
    memset(st, 0, sizeof *st);
    st->prev_x0 = calloc((size_t)n, sizeof(float));
    if (!st->prev_x0) return dn_fail("sampler: out of memory for DPM++ state of %ld values", n);
    st->n = n;
    st->prev_step = -1;
    return 0;
}

void dn_dpm_state_reset(dn_dpm_state *st) {
    st->prev_step = -1;
    st->lower_order_nums = 0;
}

void dn_dpm_state_free(dn_dpm_state *st) {
    if (!st) return;
    free(st->prev_x0);
    memset(st, 0, sizeof *st);
}

/* ---- variances ------------------------------------------------------------------------------- */

float dn_ddim_variance(const dn_sched *s, int t, int prev_t, int set_alpha_to_one) {
    float a_t = s->alphas_cumprod[t];
    float a_p = prev_t >= 0 ? s->alphas_cumprod[prev_t] : (set_alpha_to_one ? 1.0f : s->alphas_cumprod[0]);
    float b_t = 1.0f - a_t, b_p = 1.0f - a_p;
    return (b_p / b_t) * (1.0f - a_t / a_p); /* DDIM eq. 16 squared, eta = 1 */
}

float dn_ddpm_variance(const dn_sched *s, int t, int prev_t, dn_var_type type) {
    float a_t = s->alphas_cumprod[t];
    float a_p = prev_t >= 0 ? s->alphas_cumprod[prev_t] : 1.0f;
    float cur_beta = 1.0f - a_t / a_p;
    if (type == DN_VAR_FIXED_LARGE) return cur_beta;
    float v = (1.0f - a_p) / (1.0f - a_t) * cur_beta; /* beta-tilde, DDPM eq. 7 */
    return v > 1e-20f ? v : 1e-20f;
}

/* ---- the prediction types: what the model's output says, for a sample x = alpha x0 + sigma eps ---- */

void dn_predict(float *x0, float *eps, dn_pred_type p, float x, float m, float alpha, float sigma) {
    if (p == DN_PRED_EPSILON) {        /* the noise itself */
        *x0 = (x - sigma * m) / alpha;
        *eps = m;
    } else if (p == DN_PRED_SAMPLE) {  /* the clean image itself */
        *x0 = m;
        *eps = (x - alpha * m) / sigma;
    } else {                           /* v = alpha eps - sigma x0 (Salimans & Ho 2022) */
        *x0 = alpha * x - sigma * m;
        *eps = alpha * m + sigma * x;
    }
}

void dn_pred_target(float *target, dn_pred_type p, const float *x0, const float *eps, float alpha, float sigma,
                    long n) {
    if (p == DN_PRED_V)
        for (long i = 0; i < n; i++) target[i] = alpha * eps[i] - sigma * x0[i];
    else memcpy(target, p == DN_PRED_SAMPLE ? x0 : eps, (size_t)n * sizeof(float));
}

/* ---- one step: a function per sampler, each next to its equation ----------------------------- */

static float clampf(float v, float r) { return v < -r ? -r : (v > r ? r : v); }

/* Value j of a step's results: x0 and eps as predicted, the drift and random parts of the move,
 * and the next sample (= x + drift + random, as the step computed it). */
static void emit(const dn_step_out *o, long j, float x0, float eps, float drift, float random, float next) {
    if (o->pred_x0) o->pred_x0[j] = x0;
    if (o->pred_eps) o->pred_eps[j] = eps;
    if (o->drift) o->drift[j] = drift;
    if (o->random) o->random[j] = random;
    o->prev_sample[j] = next;
}

/* What every step function is given: the step's outputs, the sample and the model's output for
 * it (batch images of per values each), the generators, and the numbers it reports. */
typedef struct {
    const dn_step_out *out;
    dn_step_info *inf;
    dn_dpm_state *st;
    dn_rng *rngs;
    const dn_sampler *sp;
    int i, batch;
    long n, per;
    const float *model_output, *sample;
} step_args;

/* alpha-bar after step i for DDPM and DDIM: of the trained step it moves to, or past the end the
 * final alpha (1, or alphas_cumprod[0] for DDIM without set_alpha_to_one). */
static float alpha_prev(const dn_sampler *sp, int prev) {
    const dn_sched *s = sp->sched;
    const dn_sampler_config *c = &sp->cfg;
    if (prev >= 0) return s->alphas_cumprod[prev];
    return c->kind == DN_DDIM && !c->set_alpha_to_one ? s->alphas_cumprod[0] : 1.0f;
}

/* The numbers of a DDPM or DDIM step, for captions and plots. */
static void report(dn_step_info *inf, int prev, float a_t, float a_p, float std) {
    inf->t_prev = prev;
    inf->alpha_prod_t = a_t;
    inf->alpha_prod_prev = a_p;
    inf->noise_std = std;
}

/* DDPM (Ho et al. 2020, eq. 7): the mean of the posterior q(x_prev | x_t, x0) from the predicted
 * x0 and x_t, plus sqrt(variance) z:
 *   x_prev = sqrt(abar_prev) beta_t' / (1 - abar_t) x0 + sqrt(alpha_t') (1 - abar_prev) / (1 - abar_t) x_t + std z
 * with alpha_t' = abar_t / abar_prev, beta_t' = 1 - alpha_t' (the step may skip trained steps). */
static void ddpm_step(const step_args *a) {
    const dn_sampler *sp = a->sp;
    const dn_sampler_config *c = &sp->cfg;
    int t = sp->t_index[a->i], prev = sp->prev_t[a->i];
    float a_t = sp->sched->alphas_cumprod[t], a_p = alpha_prev(sp, prev);
    float b_t = 1.0f - a_t, b_p = 1.0f - a_p;
    float sa = sqrtf(a_t), sb = sqrtf(b_t);
    float cur_a = a_t / a_p, cur_b = 1.0f - cur_a;
    float k_x0 = (sqrtf(a_p) * cur_b) / b_t, k_x = sqrtf(cur_a) * b_p / b_t;
    int add_noise = t > 0; /* the last step to t = 0 adds none */
    float std = add_noise ? sqrtf(dn_ddpm_variance(sp->sched, t, prev, c->variance_type)) : 0.0f;
    assert(!add_noise || a->rngs);
    for (int b = 0; b < a->batch; b++)
        for (long j = b * a->per; j < (b + 1) * a->per; j++) {
            float x = a->sample[j], x0, e;
            dn_predict(&x0, &e, c->prediction_type, x, a->model_output[j], sa, sb);
            if (c->clip_sample) x0 = clampf(x0, c->clip_sample_range);
            float mean = k_x0 * x0 + k_x * x;
            float r = add_noise ? std * dn_rng_normal(&a->rngs[b]) : 0.0f;
            emit(a->out, j, x0, e, mean - x, r, mean + r);
        }
    report(a->inf, prev, a_t, a_p, std);
}

/* DDIM (Song et al. 2021, eq. 12): jump to the level of the next step along the predicted noise,
 *   x_prev = sqrt(abar_prev) x0 + sqrt(1 - abar_prev - std^2) eps + std z,
 * std = eta sqrt(DDIM variance); eta = 0 (the default) is deterministic. */
static void ddim_step(const step_args *a) {
    const dn_sampler *sp = a->sp;
    const dn_sampler_config *c = &sp->cfg;
    int t = sp->t_index[a->i], prev = sp->prev_t[a->i];
    float a_t = sp->sched->alphas_cumprod[t], a_p = alpha_prev(sp, prev);
    float sa = sqrtf(a_t), sb = sqrtf(1.0f - a_t);
    float var = dn_ddim_variance(sp->sched, t, prev, c->set_alpha_to_one);
    float std = c->eta * sqrtf(var);
    float k_x0 = sqrtf(a_p), k_e = sqrtf(fmaxf(1.0f - a_p - std * std, 0.0f)); /* >= 0 in exact arithmetic */
    int add_noise = c->eta > 0.0f;
    assert(!add_noise || a->rngs);
    for (int b = 0; b < a->batch; b++)
        for (long j = b * a->per; j < (b + 1) * a->per; j++) {
            float x = a->sample[j], x0, e;
            dn_predict(&x0, &e, c->prediction_type, x, a->model_output[j], sa, sb);
            if (c->clip_sample) {
                x0 = clampf(x0, c->clip_sample_range);
                if (c->use_clipped_model_output) e = (x - sa * x0) / sb; /* the noise the clipped x0 implies */
            }
            float mean = k_x0 * x0 + k_e * e;
            float r = add_noise ? std * dn_rng_normal(&a->rngs[b]) : 0.0f;
            emit(a->out, j, x0, e, mean - x, r, mean + r);
        }
    report(a->inf, prev, a_t, a_p, std);
}

/* Euler (Karras et al. 2022): one Euler step of the probability-flow ODE dx/dsigma = (x - x0) / sigma
 * for samples x = x0 + sigma eps (variance exploding: x lives at scale sqrt(sigma^2 + 1)),
 *   x_next = x + (sigma_next - sigma) (x - x0) / sigma.
 * The network is fed x / sqrt(sigma^2 + 1) (dn_sampler_scale_model_input), so a v-prediction
 * is converted at that variance-preserving scale. */
static void euler_step(const step_args *a) {
    const dn_sampler *sp = a->sp;
    const dn_sampler_config *c = &sp->cfg;
    float sigma = sp->sigmas[a->i], dt = sp->sigmas[a->i + 1] - sigma;
    float s2 = sigma * sigma + 1.0f, vp = sqrtf(s2);
    for (long j = 0; j < a->n; j++) {
        float x = a->sample[j], m = a->model_output[j], x0, e;
        if (c->prediction_type == DN_PRED_V) dn_predict(&x0, &e, DN_PRED_V, x / vp, m, 1.0f / vp, sigma / vp);
        else dn_predict(&x0, &e, c->prediction_type, x, m, 1.0f, sigma);
        float d = (x - x0) / sigma; /* the derivative, which is the noise estimate */
        float move = d * dt;
        emit(a->out, j, x0, d, move, 0.0f, x + move);
    }
    a->inf->alpha_prod_t = 1.0f / s2;
    a->inf->alpha_prod_prev = 1.0f / (sp->sigmas[a->i + 1] * sp->sigmas[a->i + 1] + 1.0f);
}

/* DPM-Solver++ 2M (Lu et al. 2022): data prediction, multistep, order 2, midpoint form. With
 * alpha = 1/sqrt(sigma^2+1), s = sigma alpha and lambda = log(alpha / s) (half the log-SNR),
 * h = lambda_next - lambda:
 *   order 1: x_next = (s_next / s) x - alpha_next (e^-h - 1) x0
 *   order 2: the same with x0 replaced by x0 + (x0 - x0_prev) / (2 r), r = h_prev / h. */
static void dpmpp_2m_step(const step_args *a) {
    const dn_sampler *sp = a->sp;
    const dn_sampler_config *c = &sp->cfg;
    dn_dpm_state *st = a->st;
    int i = a->i;
    assert(st && st->n == a->n);
    float sig0 = sp->sigmas[i], sigt = sp->sigmas[i + 1];
    float al_s0 = 1.0f / sqrtf(sig0 * sig0 + 1.0f), s_s0 = sig0 * al_s0;
    float al_t = 1.0f / sqrtf(sigt * sigt + 1.0f), s_t = sigt * al_t;
    float lam_s0 = logf(al_s0) - logf(s_s0), lam_t = logf(al_t) - logf(s_t);
    float h = lam_t - lam_s0;
    float ratio = s_t / s_s0;
    float coef = al_t * (expf(-h) - 1.0f);
    /* First order on the first step (no history), when the history is not the step just before
     * (a viewer jumped), and on the last step when lower_order_final (fewer than 15 steps)
     * or when it lands on sigma 0 (lambda = inf there). diffusers' lower_order_second only
     * matters for order 3. */
    int last = i == sp->n - 1;
    int lower_final = last && ((c->lower_order_final && sp->n < 15) || c->final_sigmas_type == DN_FINAL_SIGMA_ZERO);
    int order = (st->lower_order_nums >= 1 && st->prev_step == i - 1 && i >= 1 && !lower_final) ? 2 : 1;
    float inv_r0 = 0.0f, half_coef = 0.5f * coef;
    if (order == 2) {
        float sig1 = sp->sigmas[i - 1];
        float al_s1 = 1.0f / sqrtf(sig1 * sig1 + 1.0f), s_s1 = sig1 * al_s1;
        float lam_s1 = logf(al_s1) - logf(s_s1);
        float r0 = (lam_s0 - lam_s1) / h;
        inv_r0 = 1.0f / r0;
    }
    for (long j = 0; j < a->n; j++) {
        float x = a->sample[j], x0, e;
        dn_predict(&x0, &e, c->prediction_type, x, a->model_output[j], al_s0, s_s0);
        float v = ratio * x - coef * x0;
        if (order == 2) {
            float d1 = inv_r0 * (x0 - st->prev_x0[j]);
            v = v - half_coef * d1;
        }
        st->prev_x0[j] = x0;
        emit(a->out, j, x0, e, v - x, 0.0f, v);
    }
    st->prev_step = i;
    if (st->lower_order_nums < 2) st->lower_order_nums++;
    a->inf->alpha_prod_t = al_s0 * al_s0;
    a->inf->alpha_prod_prev = al_t * al_t;
    a->inf->order = order;
}

void dn_sampler_step(const dn_step_out *out, dn_step_info *info, dn_dpm_state *st, dn_rng *rngs,
                     const dn_sampler *sp, int i, const float *model_output, const float *sample,
                     int batch, long n) {
    assert(out && out->prev_sample && sp && i >= 0 && i < sp->n && batch >= 1 && n % batch == 0);
    dn_step_info inf;
    memset(&inf, 0, sizeof inf);
    inf.t = sp->timesteps[i];
    inf.t_prev = -1;
    inf.sigma = sp->sigmas[i];
    inf.sigma_next = sp->sigmas[i + 1];
    inf.order = 1;
    step_args a = {out, &inf, st, rngs, sp, i, batch, n, n / batch, model_output, sample};
    switch (sp->cfg.kind) {
    case DN_DDPM: ddpm_step(&a); break;
    case DN_DDIM: ddim_step(&a); break;
    case DN_EULER: euler_step(&a); break;
    case DN_DPMPP_2M: dpmpp_2m_step(&a); break;
    }
    if (info) *info = inf;
}

/* ---- helpers around the step ----------------------------------------------------------------- */

void dn_sampler_scale_model_input(float *out, const dn_sampler *sp, int i, const float *sample, long n) {
    assert(i >= 0 && i < sp->n);
    if (sp->cfg.kind != DN_EULER) {
        if (out != sample) memmove(out, sample, sizeof(float) * (size_t)n);
        return;
    }
    float sigma = sp->sigmas[i];
    float d = sqrtf(sigma * sigma + 1.0f);
    for (long j = 0; j < n; j++) out[j] = sample[j] / d;
}

void dn_sampler_add_noise(float *out, const dn_sampler *sp, int i, const float *x0, const float *noise,
                          long n) {
    assert(i >= 0 && i < sp->n);
    if (sp->cfg.kind == DN_EULER) {
        float sigma = sp->sigmas[i];
        for (long j = 0; j < n; j++) out[j] = x0[j] + noise[j] * sigma;
    } else if (sp->cfg.kind == DN_DPMPP_2M) {
        float sigma = sp->sigmas[i];
        float al = 1.0f / sqrtf(sigma * sigma + 1.0f), s = sigma * al;
        for (long j = 0; j < n; j++) out[j] = al * x0[j] + s * noise[j];
    } else {
        int t = sp->t_index[i];
        float a = sqrtf(sp->sched->alphas_cumprod[t]), b = sqrtf(1.0f - sp->sched->alphas_cumprod[t]);
        for (long j = 0; j < n; j++) out[j] = a * x0[j] + b * noise[j];
    }
}

void dn_sampler_init_noise(float *x, const dn_sampler *sp, dn_rng *rngs, int batch, long n) {
    assert(batch >= 1 && n % batch == 0);
    long per = n / batch;
    for (int b = 0; b < batch; b++)
        for (long j = b * per; j < (b + 1) * per; j++) x[j] = sp->init_noise_sigma * dn_rng_normal(&rngs[b]);
}

void dn_cfg_combine(float *out, const float *uncond, const float *cond, float w, long n) {
    /* Ho & Salimans 2022: extrapolate from the unconditional toward the conditional prediction */
    for (long j = 0; j < n; j++) out[j] = uncond[j] + w * (cond[j] - uncond[j]);
}

/* ---- names ----------------------------------------------------------------------------------- */

static const char *kind_names[] = {"ddpm", "ddim", "euler", "dpm++2m"};
static const char *spacing_names[] = {"linspace", "leading", "trailing"};
static const char *pred_names[] = {"epsilon", "v_prediction", "sample"};
static const char *var_names[] = {"fixed_small", "fixed_large"};

static int lookup(const char *name, const char *const *names, int count) {
    for (int k = 0; k < count; k++)
        if (!strcmp(name, names[k])) return k;
    return -1;
}

int dn_sampler_kind_parse(const char *name, dn_sampler_kind *out) {
    int k = lookup(name, kind_names, 4);
    if (k < 0 && (!strcmp(name, "dpmpp_2m") || !strcmp(name, "dpm-solver++"))) k = DN_DPMPP_2M;
    if (k < 0) return dn_fail("unknown sampler '%s' (use ddpm, ddim, euler or dpm++2m)", name);
    *out = (dn_sampler_kind)k;
    return 0;
}

int dn_spacing_parse(const char *name, dn_spacing *out) {
    int k = lookup(name, spacing_names, 3);
    if (k < 0) return dn_fail("unknown timestep spacing '%s' (use linspace, leading or trailing)", name);
    *out = (dn_spacing)k;
    return 0;
}

int dn_pred_type_parse(const char *name, dn_pred_type *out) {
    int k = lookup(name, pred_names, 3);
    if (k < 0) return dn_fail("unknown prediction type '%s' (use epsilon, v_prediction or sample)", name);
    *out = (dn_pred_type)k;
    return 0;
}

int dn_var_type_parse(const char *name, dn_var_type *out) {
    int k = lookup(name, var_names, 2);
    if (k < 0) return dn_fail("unknown variance type '%s' (use fixed_small or fixed_large)", name);
    *out = (dn_var_type)k;
    return 0;
}

const char *dn_sampler_kind_name(dn_sampler_kind k) { return (unsigned)k < 4 ? kind_names[k] : "?"; }
const char *dn_spacing_name(dn_spacing s) { return (unsigned)s < 3 ? spacing_names[s] : "?"; }
const char *dn_pred_type_name(dn_pred_type p) { return (unsigned)p < 3 ? pred_names[p] : "?"; }
const char *dn_var_type_name(dn_var_type v) { return (unsigned)v < 2 ? var_names[v] : "?"; }
