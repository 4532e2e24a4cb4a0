/* sampler.h — the reverse process: turning noise back into an image one step at a time with the
 * samplers of Hugging Face diffusers (DDPM, DDIM, Euler, DPM-Solver++ 2M), their timestep spacings,
 * prediction types and clipping. Names, defaults and formulas follow diffusers (docs/DIFFUSION.md).
 *
 * Use (the model is called by the caller between steps; a sampler only sees its output):
 *   dn_sampler sp;  dn_sampler_config c;  dn_sampler_config_default(&c, DN_DDIM, 50);
 *   dn_sampler_init(&sp, &sched, &c);               // timesteps, sigmas
 *   dn_sampler_init_noise(x, &sp, rngs, batch, n);  // x_T ~ N(0, init_noise_sigma^2)
 *   for (int i = 0; i < sp.n; i++) {
 *       dn_sampler_scale_model_input(xin, &sp, i, x, n);    // Euler divides by sqrt(sigma^2+1)
 *       model(eps, xin, sp.timesteps[i]);                   // the U-Net, not part of this module
 *       dn_step_out o = {.prev_sample = x};                 // plus any of the viewer's buffers
 *       dn_sampler_step(&o, NULL, &dpm, rngs, &sp, i, eps, x, batch, n);
 *   }
 * Every step splits its move in two, what a viewer shows:
 *   prev_sample = sample + drift + random
 *   drift  = mean - sample: the deterministic part (where the update would go without new noise)
 *   random = std * z:      the fresh Gaussian noise added (zero for DDIM eta=0, Euler, DPM++, DDPM t=0)
 * Both are computed in float from the same numbers as prev_sample (= mean + random, as diffusers
 * orders it), so the identity holds exactly in real arithmetic and to float rounding in C. */
#ifndef DN_SAMPLER_H
#define DN_SAMPLER_H
#include "base/rng.h"
#include "diffusion/schedule.h"
#include "nets/unet.h" /* dn_pred_type: what the network outputs */

typedef enum { DN_DDPM, DN_DDIM, DN_EULER, DN_DPMPP_2M } dn_sampler_kind;
/* diffusers' timestep_spacing */
typedef enum { DN_SPACING_LINSPACE, DN_SPACING_LEADING, DN_SPACING_TRAILING } dn_spacing;
/* DDPM's variance_type: the posterior variance (fixed_small) or beta_t (fixed_large) */
typedef enum { DN_VAR_FIXED_SMALL, DN_VAR_FIXED_LARGE } dn_var_type;
/* Euler's and DPM++'s final_sigmas_type: end at sigma 0 or at the smallest trained sigma */
typedef enum { DN_FINAL_SIGMA_ZERO, DN_FINAL_SIGMA_MIN } dn_final_sigma;

typedef struct {
    dn_sampler_kind kind;
    int num_inference_steps;      /* 1 .. T */
    dn_spacing timestep_spacing;
    int steps_offset;             /* added to "leading" timesteps (Stable Diffusion uses 1) */
    dn_pred_type prediction_type;
    int clip_sample;              /* DDPM, DDIM: clamp the predicted x0 ... */
    float clip_sample_range;      /* ... to [-range, range] */
    int use_clipped_model_output; /* DDIM: re-derive eps from the clipped x0 (GLIDE; diffusers'
                                     step(use_clipped_model_output=True)), so the step's two
                                     parts agree; off keeps the model's eps (diffusers' default) */
    dn_var_type variance_type;    /* DDPM */
    float eta;                    /* DDIM: 0 deterministic, 1 as noisy as DDPM */
    int set_alpha_to_one;         /* DDIM: the step after the last uses alpha-bar 1 (else alpha-bar_0) */
    int lower_order_final;        /* DPM++: first-order last step when fewer than 15 steps */
    dn_final_sigma final_sigmas_type; /* Euler, DPM++ */
} dn_sampler_config;

/* diffusers' defaults for each scheduler class (DDPMScheduler, DDIMScheduler, EulerDiscreteScheduler,
 * DPMSolverMultistepScheduler): spacing leading/leading/linspace/linspace, clip_sample on for
 * DDPM and DDIM (range 1) without use_clipped_model_output, fixed_small, eta 0, set_alpha_to_one, lower_order_final on, final sigma 0. */
void dn_sampler_config_default(dn_sampler_config *c, dn_sampler_kind kind, int num_inference_steps);
/* How this project samples its models (the CLI, the viewer, the evaluator, training's sample
 * grids): diffusers' defaults plus use_clipped_model_output for DDIM. With guidance the
 * extrapolated prediction often implies an x0 far outside [-1, 1]; clipping x0 but keeping the
 * model's eps then moves every step along two disagreeing directions, and the pictures fill with
 * texture (measured on the fashion model, DDIM 50 steps, w = 3: 32% of samples recognised with the
 * model's eps, 99% with the re-derived one; docs/TRAINING.md). Euler and DPM++ never clip. */
void dn_sampler_config_recommended(dn_sampler_config *c, dn_sampler_kind kind, int num_inference_steps);
/* For a latent model (latent/latent.h): its x0 is a latent of about unit variance, not a picture
 * in [-1, 1], so it is never clipped (Stable Diffusion's schedulers run with clip_sample off). */
void dn_sampler_config_latent(dn_sampler_config *c);

typedef struct {
    dn_sampler_config cfg;
    const dn_sched *sched;  /* borrowed: must outlive the sampler */
    int n;                  /* number of steps */
    float *timesteps;       /* (n) descending; the t the model is told (diffusers' scheduler.timesteps);
                               whole numbers except Euler with linspace spacing */
    int *t_index;           /* (n) the trained step whose alpha-bar step i uses (DDPM, DDIM, DPM++;
                               Euler: timesteps rounded, for display only) */
    int *prev_t;            /* (n) the trained step it moves to, -1 = past the end (DDPM, DDIM) */
    float *sigmas;          /* (n+1) noise level sqrt((1 - abar) / abar) at step i; sigmas[n] is where
                               the last step lands (0 or sigma_min for Euler/DPM++, 0 for DDPM/DDIM) */
    float init_noise_sigma; /* std of the starting noise: 1, or Euler's largest sigma */
} dn_sampler;

/* Compute timesteps and sigmas. 0, or -1 + dn_error (bad step count or offset, out of memory). */
int dn_sampler_init(dn_sampler *sp, const dn_sched *s, const dn_sampler_config *cfg);
void dn_sampler_free(dn_sampler *sp); /* accepts NULL and a zeroed struct */

/* DPM-Solver++ 2M remembers the previous step's x0 prediction. Plain struct, caller-owned; a viewer
 * that caches steps can copy it. Unused (may be NULL) for the other samplers. */
typedef struct {
    long n;            /* values (whole batch) */
    float *prev_x0;    /* (n) x0 predicted at step prev_step */
    int prev_step;     /* index of that step, -1 = none yet (the next step is first order) */
    int lower_order_nums; /* steps taken so far, capped at the order (diffusers' counter) */
} dn_dpm_state;
int dn_dpm_state_init(dn_dpm_state *st, long n); /* 0 or -1 + dn_error (out of memory) */
void dn_dpm_state_reset(dn_dpm_state *st);       /* forget history (start a new sample) */
void dn_dpm_state_free(dn_dpm_state *st);        /* accepts NULL and a zeroed struct */

/* Where one step writes. Caller-owned buffers of n values; prev_sample is required (it may alias
 * the input sample), the others may be NULL when not wanted. */
typedef struct {
    float *prev_sample; /* the next, less noisy sample */
    float *pred_eps;    /* the noise the model's output implies */
    float *pred_x0;     /* the clean image it implies (after clipping; what the update used) */
    float *drift;       /* mean - sample: the deterministic move */
    float *random;      /* std * z: the noise added */
} dn_step_out;

/* The scalars of one step, for captions and plots. */
typedef struct {
    float t;            /* timestep the model was told */
    int t_prev;         /* trained step moved to (-1 past the end; DDPM/DDIM) */
    float alpha_prod_t, alpha_prod_prev; /* alpha-bar now and after (Euler/DPM++: 1/(sigma^2+1)) */
    float sigma, sigma_next;             /* noise level now and after, sqrt((1-abar)/abar) */
    float noise_std;    /* std of the random part (0 when none is added) */
    int order;          /* DPM++: 1 or 2; else 1 */
} dn_step_info;

/* One step i (0 .. sp->n - 1) from `sample` given the model's output for it.
 * sample, model_output: (batch, n / batch) values; rngs: (batch) generators, image b draws its noise
 * from rngs[b] so results do not depend on how images are batched (may be NULL when the step adds
 * no noise: DDIM eta=0, Euler, DPM++, DDPM at t=0). st: DPM++ state of n values, else NULL.
 * info may be NULL. Asserts on misuse; cannot fail. */
void dn_sampler_step(const dn_step_out *out, dn_step_info *info, dn_dpm_state *st, dn_rng *rngs,
                     const dn_sampler *sp, int i, const float *model_output, const float *sample,
                     int batch, long n);

/* What the model is fed at step i: sample / sqrt(sigma_i^2 + 1) for Euler (its samples live at
 * scale sqrt(sigma^2 + 1)), a copy for the others. out may alias sample. */
void dn_sampler_scale_model_input(float *out, const dn_sampler *sp, int i, const float *sample, long n);

/* Noise a clean x0 to the level of step i, as diffusers' add_noise (to start part-way, img2img):
 * DDPM/DDIM sqrt(abar) x0 + sqrt(1-abar) noise; DPM++ the same via sigma; Euler x0 + sigma noise. */
void dn_sampler_add_noise(float *out, const dn_sampler *sp, int i, const float *x0, const float *noise,
                          long n);

/* The starting sample: init_noise_sigma * N(0, 1), image b from rngs[b]. x: (batch, n / batch). */
void dn_sampler_init_noise(float *x, const dn_sampler *sp, dn_rng *rngs, int batch, long n);

/* Classifier-free guidance: out = uncond + w (cond - uncond); w = 1 is the conditional output,
 * w = 0 the unconditional, w > 1 pushes further toward the condition. out may alias either. */
void dn_cfg_combine(float *out, const float *uncond, const float *cond, float w, long n);

/* What a model output m says about a sample x = alpha x0 + sigma eps (variance preserving:
 * alpha = sqrt(abar), sigma = sqrt(1 - abar)), for each prediction type: the clean image x0 and
 * the noise eps it implies. The one conversion: every sampler step, the viewer's runs and
 * training's targets (dn_pred_target, its inverse) use these formulas. */
void dn_predict(float *x0, float *eps, dn_pred_type p, float x, float m, float alpha, float sigma);
/* What the network should output for x = alpha x0 + sigma eps: eps, x0, or v = alpha eps - sigma x0. */
void dn_pred_target(float *target, dn_pred_type p, const float *x0, const float *eps, float alpha, float sigma,
                    long n);

/* DDIM's variance of step t -> prev_t (DDIM eq. 16 with eta = 1):
 * (1 - abar_prev) / (1 - abar_t) * (1 - abar_t / abar_prev); abar_prev = final alpha when prev_t < 0. */
float dn_ddim_variance(const dn_sched *s, int t, int prev_t, int set_alpha_to_one);
/* DDPM's variance of step t -> prev_t (DDPM eq. 7): fixed_small max(beta-tilde, 1e-20) with
 * beta-tilde = (1 - abar_prev) / (1 - abar_t) * beta_t', fixed_large beta_t' = 1 - abar_t / abar_prev. */
float dn_ddpm_variance(const dn_sched *s, int t, int prev_t, dn_var_type type);

/* Names as diffusers writes them; parse returns 0 or -1 + dn_error naming the choices. */
int dn_sampler_kind_parse(const char *name, dn_sampler_kind *out); /* ddpm ddim euler dpm++2m */
int dn_spacing_parse(const char *name, dn_spacing *out);           /* linspace leading trailing */
int dn_pred_type_parse(const char *name, dn_pred_type *out);       /* epsilon v_prediction sample */
int dn_var_type_parse(const char *name, dn_var_type *out);         /* fixed_small fixed_large */
const char *dn_sampler_kind_name(dn_sampler_kind k);
const char *dn_spacing_name(dn_spacing s);
const char *dn_pred_type_name(dn_pred_type p);
const char *dn_var_type_name(dn_var_type v);

#endif
