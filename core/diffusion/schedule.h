/* schedule.h — the noise schedule: how much noise each forward step adds (beta_t) and what follows
 * from it (alpha_t = 1 - beta_t, alpha-bar_t = prod_{s<=t} alpha_s, its square roots, the
 * signal-to-noise ratio). Names and formulas follow Hugging Face diffusers (docs/REFERENCE.md). */
#ifndef DN_SCHEDULE_H
#define DN_SCHEDULE_H

typedef enum {
    DN_BETA_LINEAR,        /* linspace(beta_start, beta_end, T) (DDPM) */
    DN_BETA_SCALED_LINEAR, /* linspace(sqrt(beta_start), sqrt(beta_end), T)^2 (Stable Diffusion) */
    DN_BETA_COSINE,        /* "squaredcos_cap_v2", improved DDPM (Nichol & Dhariwal 2021) */
} dn_beta_kind;

typedef struct {
    int T;                   /* num_train_timesteps; t runs 0 .. T-1 */
    dn_beta_kind kind;
    float beta_start, beta_end;  /* unused by the cosine schedule */
    /* Each (T), all in one allocation owned by the struct: */
    float *betas;            /* beta_t */
    float *alphas;           /* 1 - beta_t */
    float *alphas_cumprod;   /* alpha-bar_t, accumulated in double, stored as float */
    float *sqrt_alphas_cumprod;           /* sqrt(alpha-bar_t): how much signal is left */
    float *sqrt_one_minus_alphas_cumprod; /* sqrt(1 - alpha-bar_t): how much noise is in */
    float *snr;              /* alpha-bar_t / (1 - alpha-bar_t) */
} dn_sched;

/* Build a schedule with T >= 2 steps. beta_start/end are ignored for DN_BETA_COSINE.
 * Returns 0, or -1 with dn_error() (bad T or betas, out of memory). */
int dn_sched_init(dn_sched *s, dn_beta_kind kind, int T, float beta_start, float beta_end);
/* The usual defaults: linear 1e-4..0.02, scaled_linear 0.00085..0.012. */
int dn_sched_init_default(dn_sched *s, dn_beta_kind kind, int T);
void dn_sched_free(dn_sched *s); /* accepts NULL and a zeroed struct */

/* "linear" | "scaled_linear" | "squaredcos_cap_v2" (also "cosine") -> kind; 0 or -1 + dn_error. */
int dn_beta_kind_parse(const char *name, dn_beta_kind *out);
const char *dn_beta_kind_name(dn_beta_kind kind);

#endif
