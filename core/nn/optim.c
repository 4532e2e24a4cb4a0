/* optim.c — AdamW, learning-rate schedule, gradient clipping, EMA; see optim.h for the math. */
#include "nn/optim.h"
#include "base/err.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- AdamW ---------------------------------------------------------------------------------------- */

dn_adamw_config dn_adamw_defaults(void) {
    dn_adamw_config c = {.beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 0.01f};
    return c;
}

int dn_adamw_init(dn_adamw *opt, long n, const dn_adamw_config *cfg) {
    memset(opt, 0, sizeof *opt);
    if (n <= 0) return dn_fail("AdamW: %ld parameters (need at least one)", n);
    float *block = calloc((size_t)n * 2, sizeof(float));
    if (!block) return dn_fail("AdamW: out of memory for the moments of %ld parameters", n);
    opt->cfg = *cfg;
    opt->n = n;
    opt->m = block;
    opt->v = block + n;
    return 0;
}

void dn_adamw_free(dn_adamw *opt) {
    if (!opt) return;
    free(opt->m); /* m and v share one block */
    opt->m = opt->v = NULL;
}

void dn_adamw_step(dn_adamw *opt, float *params, const float *grads, float lr) {
    const dn_adamw_config c = opt->cfg;
    opt->step++;
    /* bias corrections in double: beta2^t for t in the tens of thousands loses digits in float */
    double bc1 = 1.0 - pow((double)c.beta1, (double)opt->step);
    double bc2 = 1.0 - pow((double)c.beta2, (double)opt->step);
    /* scalars in double then rounded, as torch computes them in Python */
    float step_size = (float)((double)lr / bc1);
    float sbc2 = (float)sqrt(bc2);
    float decay = (float)(1.0 - (double)lr * (double)c.weight_decay);
    float *m = opt->m, *v = opt->v;
    for (long i = 0; i < opt->n; i++) {
        float g = grads[i];
        params[i] *= decay;
        m[i] = c.beta1 * m[i] + (1.0f - c.beta1) * g;
        v[i] = c.beta2 * v[i] + (1.0f - c.beta2) * g * g;
        float denom = sqrtf(v[i]) / sbc2 + c.eps;
        params[i] -= step_size * m[i] / denom;
    }
}

/* ---- learning-rate schedule ------------------------------------------------------------------------ */

float dn_lr_at(const dn_lr_schedule *s, long step) {
    if (step < 0) step = 0;
    if (s->warmup > 0 && step < s->warmup) return s->lr * (float)(step + 1) / (float)s->warmup;
    if (!s->cosine) return s->lr;
    long span = s->total - s->warmup;
    double p = span > 0 ? (double)(step - s->warmup) / (double)span : 1.0;
    if (p > 1.0) p = 1.0;
    const double pi = 3.14159265358979323846;
    double k = 0.5 * (1.0 + cos(pi * p));
    return (float)((double)s->min_lr + (double)(s->lr - s->min_lr) * k);
}

/* ---- gradient clipping ----------------------------------------------------------------------------- */

float dn_clip_grad_norm(float *grads, long n, float max_norm) {
    double ss = 0.0;
    for (long i = 0; i < n; i++) ss += (double)grads[i] * (double)grads[i];
    float norm = (float)sqrt(ss);
    if (max_norm > 0.0f && norm > max_norm) {
        /* torch uses max_norm / (norm + 1e-6) so a norm of exactly max_norm is left alone */
        float scale = max_norm / (norm + 1e-6f);
        for (long i = 0; i < n; i++) grads[i] *= scale;
    }
    return norm;
}

/* ---- EMA ------------------------------------------------------------------------------------------- */

int dn_ema_init(dn_ema *e, const float *params, long n, float decay, int warmup) {
    memset(e, 0, sizeof *e);
    if (n <= 0) return dn_fail("EMA: %ld parameters (need at least one)", n);
    if (!(decay >= 0.0f && decay < 1.0f)) return dn_fail("EMA: decay %g is not in [0, 1)", (double)decay);
    e->w = malloc((size_t)n * sizeof(float));
    if (!e->w) return dn_fail("EMA: out of memory for a copy of %ld parameters", n);
    memcpy(e->w, params, (size_t)n * sizeof(float));
    e->decay = decay;
    e->warmup = warmup;
    e->power = 2.0f / 3.0f;
    e->n = n;
    return 0;
}

void dn_ema_free(dn_ema *e) {
    if (!e) return;
    free(e->w);
    e->w = NULL;
}

float dn_ema_decay_next(const dn_ema *e) {
    if (!e->warmup) return e->decay;
    double d = 1.0 - pow(1.0 + (double)e->updates, -(double)e->power);
    return d < (double)e->decay ? (float)d : e->decay;
}

void dn_ema_update(dn_ema *e, const float *params) {
    float d = dn_ema_decay_next(e);
    float one_minus = 1.0f - d;
    /* written as w -= (1 - d)(w - p), like diffusers, so w stays exactly put when p == w */
    for (long i = 0; i < e->n; i++) e->w[i] -= one_minus * (e->w[i] - params[i]);
    e->updates++;
}
