/* forward.c — the forward noising process; see forward.h. */
#include "diffusion/forward.h"
#include <assert.h>
#include <math.h>

void dn_q_sample(float *xt, const float *x0, const float *eps, const dn_sched *s, int t, long n) {
    assert(t >= 0 && t < s->T);
    /* DDPM eq. 4: q(x_t | x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I), sampled by reparametrisation. */
    float a = s->sqrt_alphas_cumprod[t];
    float b = s->sqrt_one_minus_alphas_cumprod[t];
    for (long i = 0; i < n; i++) xt[i] = a * x0[i] + b * eps[i];
}

void dn_q_step(float *xt, float *drift, float *random, const float *xprev, const float *eps,
               const dn_sched *s, int t, long n) {
    assert(t >= 0 && t < s->T);
    /* DDPM eq. 2: q(x_t | x_{t-1}) = N(sqrt(1 - beta_t) x_{t-1}, beta_t I). */
    float keep = sqrtf(s->alphas[t]);  /* sqrt(1 - beta_t): the signal kept by this step */
    float kick = sqrtf(s->betas[t]);   /* sqrt(beta_t): the size of the fresh noise */
    /* sqrt(1-b) - 1 = -b / (1 + sqrt(1-b)): the same number without the cancellation that would
     * cost the small drift of the early steps most of its digits */
    float pull = -s->betas[t] / (1.0f + keep);
    for (long i = 0; i < n; i++) {
        float xp = xprev[i], e = eps[i];
        float r = kick * e;
        if (drift) drift[i] = pull * xp;
        if (random) random[i] = r;
        xt[i] = keep * xp + r;
    }
}

void dn_q_moments(double *mean, double *var, double x0, const dn_sched *s, int t) {
    assert(t >= 0 && t < s->T);
    double ab = (double)s->alphas_cumprod[t];
    *mean = sqrt(ab) * x0;
    *var = 1.0 - ab;
}
