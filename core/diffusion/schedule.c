/* schedule.c — betas and their cumulative products; see schedule.h and docs/REFERENCE.md. */
#include "diffusion/schedule.h"
#include "base/err.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Round every operation as written (no fused multiply-adds the compiler invents): the results are
 * compared bit for bit with PyTorch. GCC in ISO C mode already does this; clang needs telling. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

/* alpha-bar of the cosine schedule at fraction u of the way (improved DDPM eq. 17, s = 0.008). */
static double cosine_abar(double u) {
    double c = cos((u + 0.008) / 1.008 * 3.14159265358979323846 / 2.0);
    return c * c;
}

/* torch.linspace(start, end, n) in float32, bit for bit as PyTorch's x86 CPU kernel computes it, so
 * that betas and everything after them equal diffusers' to the last bit (checked against torch 1.13):
 * step = (end - start) / (n - 1); the first half counts up from start, the second half down from
 * end (both with one rounding, a fused multiply-add); the kernel works in blocks of 8 (AVX2), each
 * block is base + j * step, and the tail after the last full pair of blocks is done one by one. */
static void linspace_f32(float *out, float start, float end, int n) {
    float step = (end - start) / (float)(n - 1);
    int half = n / 2, vec = n / 16 * 16;
    for (int i = 0; i < n;) {
        float base = i < half ? fmaf(step, (float)i, start) : fmaf(-step, (float)(n - 1 - i), end);
        if (i < vec) {
            for (int j = 0; j < 8; j++) out[i + j] = base + (float)j * step;
            i += 8;
        } else {
            out[i++] = base;
        }
    }
}

/* The decimal a float was written as: the shortest %g form that reads back as the same float.
 * diffusers takes sqrt(beta) of the Python double 0.012, not of the float nearest to it; the two
 * square roots can round to different floats. */
static double shortest_decimal(float f) {
    char buf[32];
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, (double)f);
        double d = strtod(buf, NULL);
        if ((float)d == f) return d;
    }
    return (double)f;
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

    if (kind == DN_BETA_LINEAR) {
        linspace_f32(s->betas, beta_start, beta_end, T);
    } else if (kind == DN_BETA_SCALED_LINEAR) {
        /* linspace(sqrt(start), sqrt(end))^2, the square roots taken in double as Python does */
        linspace_f32(s->betas, (float)sqrt(shortest_decimal(beta_start)),
                     (float)sqrt(shortest_decimal(beta_end)), T);
        for (int i = 0; i < T; i++) s->betas[i] = s->betas[i] * s->betas[i];
    } else {
        for (int i = 0; i < T; i++) {
            /* improved DDPM eq. 17, capped at 0.999 so the last steps do not destroy everything */
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
