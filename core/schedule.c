/* schedule.c — betas and their cumulative products; see schedule.h and docs/REFERENCE.md. */
#include "schedule.h"
#include "err.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* alpha-bar of the cosine schedule at fraction u of the way (improved DDPM eq. 17, s = 0.008). */
static double cosine_abar(double u) {
    double c = cos((u + 0.008) / 1.008 * 3.14159265358979323846 / 2.0);
    return c * c;
}

int dn_sched_init(dn_sched *s, dn_beta_kind kind, int T, float beta_start, float beta_end) {
    memset(s, 0, sizeof *s);
    if (T < 2 || T > 100000) return dn_fail("schedule: T = %d is out of range (2 .. 100000)", T);
    if (kind != DN_BETA_COSINE &&
        !(beta_start > 0.0f && beta_end >= beta_start && beta_end < 1.0f))
        return dn_fail("schedule: betas %g .. %g must satisfy 0 < start <= end < 1",
                       (double)beta_start, (double)beta_end);
    float *block = malloc(sizeof(float) * 6 * (size_t)T);
    if (!block) return dn_fail("schedule: out of memory for T = %d", T);
    s->T = T;
    s->kind = kind;
    s->beta_start = beta_start;
    s->beta_end = beta_end;
    s->betas = block;
    s->alphas = block + T;
    s->alphas_cumprod = block + 2 * T;
    s->sqrt_alphas_cumprod = block + 3 * T;
    s->sqrt_one_minus_alphas_cumprod = block + 4 * T;
    s->snr = block + 5 * T;

    for (int i = 0; i < T; i++) {
        if (kind == DN_BETA_LINEAR) {
            /* float32 linspace as start + i * step (REFERENCE.md) */
            float step = (beta_end - beta_start) / (float)(T - 1);
            s->betas[i] = beta_start + (float)i * step;
        } else if (kind == DN_BETA_SCALED_LINEAR) {
            float a = sqrtf(beta_start), b = sqrtf(beta_end);
            float v = a + (float)i * ((b - a) / (float)(T - 1));
            s->betas[i] = v * v;
        } else {
            double b = 1.0 - cosine_abar((double)(i + 1) / T) / cosine_abar((double)i / T);
            s->betas[i] = (float)(b < 0.999 ? b : 0.999);
        }
    }
    double prod = 1.0;
    for (int i = 0; i < T; i++) {
        s->alphas[i] = 1.0f - s->betas[i];
        prod *= (double)s->alphas[i];
        float ab = (float)prod;
        s->alphas_cumprod[i] = ab;
        s->sqrt_alphas_cumprod[i] = sqrtf(ab);
        s->sqrt_one_minus_alphas_cumprod[i] = sqrtf(1.0f - ab);
        s->snr[i] = ab / (1.0f - ab);
    }
    return 0;
}

int dn_sched_init_default(dn_sched *s, dn_beta_kind kind, int T) {
    if (kind == DN_BETA_SCALED_LINEAR) return dn_sched_init(s, kind, T, 0.00085f, 0.012f);
    return dn_sched_init(s, kind, T, 0.0001f, 0.02f);
}

void dn_sched_free(dn_sched *s) {
    if (!s) return;
    free(s->betas);
    memset(s, 0, sizeof *s);
}

int dn_beta_kind_parse(const char *name, dn_beta_kind *out) {
    if (!strcmp(name, "linear")) *out = DN_BETA_LINEAR;
    else if (!strcmp(name, "scaled_linear")) *out = DN_BETA_SCALED_LINEAR;
    else if (!strcmp(name, "squaredcos_cap_v2") || !strcmp(name, "cosine")) *out = DN_BETA_COSINE;
    else return dn_fail("unknown schedule '%s' (use linear, scaled_linear or squaredcos_cap_v2)", name);
    return 0;
}

const char *dn_beta_kind_name(dn_beta_kind kind) {
    switch (kind) {
    case DN_BETA_LINEAR: return "linear";
    case DN_BETA_SCALED_LINEAR: return "scaled_linear";
    case DN_BETA_COSINE: return "squaredcos_cap_v2";
    }
    return "?";
}
