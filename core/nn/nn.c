/* nn.c — the fast layers of nn.h: GroupNorm, SiLU, upsampling, concatenation, per-channel add,
 * self-attention (conv2d: nn_conv.c; linear, embedding, timestep embedding, MSE: nn_small.c;
 * the plain loops: nn_naive.c). Each kernel cites its formula; backward passes add into the
 * gradients they are given. A kernel file (isa.h): compiled once per instruction set. */
#include "nn/nn.h"
#include "nn/gemm.h"
#include "base/parallel.h"
#include <assert.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- vector helpers ---------------------------------------------------------------------------------
 * The elementwise kernels work on 16 floats at a time with GCC vector extensions (one AVX-512
 * register; AVX2, NEON and SSE split it into 2 or 4), and the tail with the same operations on
 * scalars, so each element gets the same bits wherever it falls. Sums run in 16 or 64 lanes
 * whatever the hardware, so their order is the same on every CPU too. Built with
 * -ffp-contract=off: no fused multiply-adds here, so every CPU rounds each step the same way. */
typedef float v16 __attribute__((vector_size(64)));
/* Always inlined: a 16-float vector passed to or returned from a real call goes through memory
 * where the registers are narrower than 64 bytes (AVX2, NEON, SSE). */
#define VINLINE static inline __attribute__((always_inline))

VINLINE v16 ld16(const float *p) {
    v16 v;
    memcpy(&v, p, sizeof v);
    return v;
}
VINLINE void st16(float *p, v16 v) { memcpy(p, &v, sizeof v); }
VINLINE float hsum16(v16 v) { /* fixed order: pairwise halves */
    float t[16];
    memcpy(t, &v, sizeof t);
    for (int w = 8; w >= 1; w /= 2)
        for (int i = 0; i < w; i++) t[i] += t[i + w];
    return t[0];
}

/* exp(x) for x in [-87, 88] (clamped), within 1 ulp (0.95 measured): x = n ln2 + r with |r| <= ln2/2
 * (Cody-Waite split of ln2), e^r by the Cephes expf minimax polynomial, 2^n put into the exponent
 * bits. Adding 1.5*2^23 rounds x log2(e) to the integer n and leaves n in the low bits of t, so
 * n is read from t's bits, without a branch. Scalar code: the loops that call it are plain loops
 * the compiler vectorises for the copy's instruction set (-O3), with the same operations per
 * element (no fusing, no reordering: -ffp-contract=off, no -ffast-math), so every copy and every
 * element gets the same bits. A NaN stays NaN (the clamps keep it, and p is NaN). */
static inline float exp_fixed(float x) {
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    float t = x * 1.44269504088896341f + 12582912.0f, n = t - 12582912.0f;
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    uint32_t tb, b;
    memcpy(&tb, &t, sizeof tb);
    b = (tb - 0x4B400000u + 127u) << 23; /* (n + 127) << 23: 2^n */
    float two_n;
    memcpy(&two_n, &b, sizeof two_n);
    return p * two_n;
}

/* Elementwise kernels run over fixed chunks of this many values (a multiple of 16), one task each. */
#define CHUNK 16384
/* ... and inside a chunk over blocks of this many (a stack buffer of exponentials). */
#define EW_BLOCK 256

/* ---- GroupNorm ---------------------------------------------------------------------------------
 * Per (n, group): mu = mean, var = biased variance over the C/G channels x HW positions,
 * xhat = (x - mu) * rstd with rstd = 1/sqrt(var + eps), out = xhat * gamma[c] + beta[c].
 * Sums run in 4 x 16 float lanes combined in a fixed order (two passes: mean, then squared
 * deviations, so there is no cancellation). */
#define GN_EPS 1e-5

/* sum_i f(i) over n values, 64 lanes; F(i) is a v16 expression of the 16 values at i. */
#define LANE_SUM(result, n, F, f)                                                                 \
    do {                                                                                          \
        v16 s0_ = {0}, s1_ = {0}, s2_ = {0}, s3_ = {0};                                           \
        long i_ = 0;                                                                              \
        for (; i_ + 64 <= (n); i_ += 64) {                                                        \
            s0_ += F(i_);                                                                         \
            s1_ += F(i_ + 16);                                                                    \
            s2_ += F(i_ + 32);                                                                    \
            s3_ += F(i_ + 48);                                                                    \
        }                                                                                         \
        for (; i_ + 16 <= (n); i_ += 16) s0_ += F(i_);                                            \
        float t_ = hsum16((s0_ + s1_) + (s2_ + s3_));                                              \
        for (; i_ < (n); i_++) t_ += f(i_);                                                        \
        result = t_;                                                                              \
    } while (0)

typedef struct {
    float *out, *mean, *rstd, *dx, *dgamma, *dbeta;
    const float *x, *gamma, *beta, *dout, *cmean, *crstd;
    int N, C, HW, G;
} gn_job;

static void gn_fwd_task(void *vctx, int task) {
    const gn_job *j = vctx;
    int n = task / j->G, g = task % j->G, CG = j->C / j->G, HW = j->HW;
    long len = (long)CG * HW, off = ((long)n * j->C + (long)g * CG) * HW;
    const float *x = j->x + off;
    float s, v;
#define F_X(i) ld16(x + (i))
#define f_X(i) x[i]
    LANE_SUM(s, len, F_X, f_X);
    float m = s / (float)len;
#define F_DEV(i) ((ld16(x + (i)) - m) * (ld16(x + (i)) - m))
#define f_DEV(i) ((x[i] - m) * (x[i] - m))
    LANE_SUM(v, len, F_DEV, f_DEV);
    float r = 1.0f / sqrtf(v / (float)len + (float)GN_EPS);
    j->mean[n * j->G + g] = m;
    j->rstd[n * j->G + g] = r;
    for (int c = 0; c < CG; c++) {
        float a = r * j->gamma[g * CG + c], b = j->beta[g * CG + c] - m * a;
        const float *xc = x + (long)c * HW;
        float *oc = j->out + off + (long)c * HW;
        int i = 0;
        for (; i + 16 <= HW; i += 16) st16(oc + i, ld16(xc + i) * a + b);
        for (; i < HW; i++) oc[i] = xc[i] * a + b;
    }
}

void dn_groupnorm_forward(float *out, float *mean, float *rstd, const float *x,
                          const float *gamma, const float *beta, int N, int C, int HW, int G) {
    assert(C % G == 0);
    gn_job j = {out, mean, rstd, NULL, NULL, NULL, x, gamma, beta, NULL, NULL, NULL, N, C, HW, G};
    dn_parallel_for(N * G, gn_fwd_task, &j);
}

/* With dxhat = dout * gamma: dgamma[c] += sum dout * xhat, dbeta[c] += sum dout, and
 * dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)), means taken over the group.
 * One task per group g, looping over the images in order (dgamma, dbeta sum over the batch). */
static void gn_bwd_task(void *vctx, int g) {
    const gn_job *j = vctx;
    int CG = j->C / j->G, HW = j->HW;
    long len = (long)CG * HW;
    for (int n = 0; n < j->N; n++) {
        float m = j->cmean[n * j->G + g], r = j->crstd[n * j->G + g];
        float sd = 0.0f, sdx = 0.0f; /* sum dxhat, sum dxhat * xhat over the group */
        for (int c = 0; c < CG; c++) {
            long off = ((long)n * j->C + (long)g * CG + c) * HW;
            const float *x = j->x + off, *d = j->dout + off;
            float gm = j->gamma[g * CG + c], sdo, sdoxh;
#define F_D(i) ld16(d + (i))
#define f_D(i) d[i]
            LANE_SUM(sdo, HW, F_D, f_D);
#define F_DXH(i) (ld16(d + (i)) * ((ld16(x + (i)) - m) * r))
#define f_DXH(i) (d[i] * ((x[i] - m) * r))
            LANE_SUM(sdoxh, HW, F_DXH, f_DXH);
            if (j->dgamma) j->dgamma[g * CG + c] += sdoxh;
            if (j->dbeta) j->dbeta[g * CG + c] += sdo;
            sd += sdo * gm;
            sdx += sdoxh * gm;
        }
        if (!j->dx) continue;
        float a = sd / (float)len, bq = sdx / (float)len;
        for (int c = 0; c < CG; c++) {
            long off = ((long)n * j->C + (long)g * CG + c) * HW;
            const float *x = j->x + off, *d = j->dout + off;
            float *dx = j->dx + off, gm = j->gamma[g * CG + c];
            int i = 0;
            for (; i + 16 <= HW; i += 16) {
                v16 xh = (ld16(x + i) - m) * r;
                st16(dx + i, ld16(dx + i) + r * (ld16(d + i) * gm - a - xh * bq));
            }
            for (; i < HW; i++) {
                float xh = (x[i] - m) * r;
                dx[i] += r * (d[i] * gm - a - xh * bq);
            }
        }
    }
}

void dn_groupnorm_backward(float *dx, float *dgamma, float *dbeta, const float *dout,
                           const float *x, const float *mean, const float *rstd,
                           const float *gamma, int N, int C, int HW, int G) {
    assert(C % G == 0);
    gn_job j = {NULL, NULL, NULL, dx, dgamma, dbeta, x, gamma, NULL, dout, mean, rstd, N, C, HW, G};
    dn_parallel_for(G, gn_bwd_task, &j);
}

/* ---- SiLU: y = x sigmoid(x); dy/dx = s (1 + x (1 - s)) with s = sigmoid(x) ---------------------- */

typedef struct {
    float *out;
    const float *x, *dout;
    long n;
} ew_job;

static void silu_fwd_task(void *vctx, int task) {
    const ew_job *j = vctx;
    long i0 = (long)task * CHUNK, end = i0 + CHUNK < j->n ? i0 + CHUNK : j->n;
    float *restrict out = j->out;
    const float *restrict x = j->x;
    float e[EW_BLOCK]; /* e^-x of a block first, then the division: the same operations, but
                        * written as one loop gcc vectorises the division badly (2.8x slower) */
    for (long b = i0; b < end; b += EW_BLOCK) {
        int nb = end - b < EW_BLOCK ? (int)(end - b) : EW_BLOCK;
        for (int i = 0; i < nb; i++) e[i] = exp_fixed(-x[b + i]);
        for (int i = 0; i < nb; i++) out[b + i] = x[b + i] / (1.0f + e[i]);
    }
}

void dn_silu_forward(float *out, const float *x, long n) {
    ew_job j = {out, x, NULL, n};
    dn_parallel_for((int)((n + CHUNK - 1) / CHUNK), silu_fwd_task, &j);
}

static void silu_bwd_task(void *vctx, int task) {
    const ew_job *j = vctx;
    long i0 = (long)task * CHUNK, end = i0 + CHUNK < j->n ? i0 + CHUNK : j->n;
    float *restrict dx = j->out;
    const float *restrict x = j->x, *restrict dout = j->dout;
    float e[EW_BLOCK];
    for (long b = i0; b < end; b += EW_BLOCK) {
        int nb = end - b < EW_BLOCK ? (int)(end - b) : EW_BLOCK;
        for (int i = 0; i < nb; i++) e[i] = exp_fixed(-x[b + i]);
        for (int i = 0; i < nb; i++) {
            float s = 1.0f / (1.0f + e[i]);
            dx[b + i] += dout[b + i] * s * (1.0f + x[b + i] * (1.0f - s));
        }
    }
}

void dn_silu_backward(float *dx, const float *dout, const float *x, long n) {
    ew_job j = {dx, x, dout, n};
    dn_parallel_for((int)((n + CHUNK - 1) / CHUNK), silu_bwd_task, &j);
}

/* The copy-like layers below run one task per image. */
typedef struct {
    float *o1, *o2;
    const float *i1, *i2;
    int C, C2, H, W; /* channels (and second channel count), height, width (or HW, 1) */
} img_job;

/* ---- nearest 2x upsampling: out[y,x] = in[y/2,x/2]; each input gets the sum of its 4 copies ---- */

static void up_fwd_task(void *vctx, int n) {
    const img_job *j = vctx;
    int H = j->H, W = j->W;
    for (int c = 0; c < j->C; c++) {
        const float *xp = j->i1 + ((long)n * j->C + c) * H * W;
        float *op = j->o1 + ((long)n * j->C + c) * 4 * H * W;
        for (int y = 0; y < H; y++) {
            float *r0 = op + (long)(2 * y) * 2 * W, *r1 = r0 + 2 * W;
            for (int xx = 0; xx < W; xx++) r0[2 * xx] = r0[2 * xx + 1] = xp[y * W + xx];
            memcpy(r1, r0, (size_t)(2 * W) * sizeof(float));
        }
    }
}

void dn_upsample2x_forward(float *out, const float *x, int N, int C, int H, int W) {
    img_job j = {out, NULL, x, NULL, C, 0, H, W};
    dn_parallel_for(N, up_fwd_task, &j);
}

static void up_bwd_task(void *vctx, int n) {
    const img_job *j = vctx;
    int H = j->H, W = j->W;
    for (int c = 0; c < j->C; c++) {
        float *dp = j->o1 + ((long)n * j->C + c) * H * W;
        const float *op = j->i1 + ((long)n * j->C + c) * 4 * H * W;
        for (int y = 0; y < H; y++)
            for (int xx = 0; xx < W; xx++) {
                const float *o = op + (long)(2 * y) * 2 * W + 2 * xx;
                dp[y * W + xx] += (o[0] + o[1]) + (o[2 * W] + o[2 * W + 1]);
            }
    }
}

void dn_upsample2x_backward(float *dx, const float *dout, int N, int C, int H, int W) {
    img_job j = {dx, NULL, dout, NULL, C, 0, H, W};
    dn_parallel_for(N, up_bwd_task, &j);
}

/* ---- channel concatenation: copies; backward splits the gradient back ----------------------- */

static void cat_fwd_task(void *vctx, int n) {
    const img_job *j = vctx;
    long la = (long)j->C * j->H, lb = (long)j->C2 * j->H;
    memcpy(j->o1 + n * (la + lb), j->i1 + n * la, (size_t)la * sizeof(float));
    memcpy(j->o1 + n * (la + lb) + la, j->i2 + n * lb, (size_t)lb * sizeof(float));
}

void dn_concat_forward(float *out, const float *a, const float *b, int N, int Ca, int Cb, int HW) {
    img_job j = {out, NULL, a, b, Ca, Cb, HW, 1};
    dn_parallel_for(N, cat_fwd_task, &j);
}

static void add_into(float *d, const float *s, long n) {
    long i = 0;
    for (; i + 16 <= n; i += 16) st16(d + i, ld16(d + i) + ld16(s + i));
    for (; i < n; i++) d[i] += s[i];
}

static void cat_bwd_task(void *vctx, int n) {
    const img_job *j = vctx;
    long la = (long)j->C * j->H, lb = (long)j->C2 * j->H;
    const float *d = j->i1 + n * (la + lb);
    if (j->o1) add_into(j->o1 + n * la, d, la);
    if (j->o2) add_into(j->o2 + n * lb, d + la, lb);
}

void dn_concat_backward(float *da, float *db, const float *dout, int N, int Ca, int Cb, int HW) {
    img_job j = {da, db, dout, NULL, Ca, Cb, HW, 1};
    dn_parallel_for(N, cat_bwd_task, &j);
}

/* ---- per-channel add: out = x + bias[n,c] broadcast over HW ----------------------------------- */

static void addc_fwd_task(void *vctx, int n) {
    const img_job *j = vctx;
    int HW = j->H;
    for (long p = (long)n * j->C; p < (long)(n + 1) * j->C; p++) {
        const float *x = j->i1 + p * HW;
        float *o = j->o1 + p * HW, bv = j->i2[p];
        int i = 0;
        for (; i + 16 <= HW; i += 16) st16(o + i, ld16(x + i) + bv);
        for (; i < HW; i++) o[i] = x[i] + bv;
    }
}

void dn_add_channel_forward(float *out, const float *x, const float *bias, int N, int C, int HW) {
    img_job j = {out, NULL, x, bias, C, 0, HW, 1};
    dn_parallel_for(N, addc_fwd_task, &j);
}

static void addc_bwd_task(void *vctx, int n) {
    const img_job *j = vctx;
    int HW = j->H;
    for (long p = (long)n * j->C; p < (long)(n + 1) * j->C; p++) {
        const float *d = j->i1 + p * HW;
        if (j->o1) add_into(j->o1 + p * HW, d, HW);
        if (j->o2) {
            float sum;
#define F_G(i) ld16(d + (i))
#define f_G(i) d[i]
            LANE_SUM(sum, HW, F_G, f_G);
            j->o2[p] += sum;
        }
    }
}

void dn_add_channel_backward(float *dx, float *dbias, const float *dout, int N, int C, int HW) {
    img_job j = {dx, dbias, dout, NULL, C, 0, HW, 1};
    dn_parallel_for(N, addc_bwd_task, &j);
}

/* ---- self-attention ------------------------------------------------------------------------------
 * Per image n and head h, with q, k, v the (D, HW) slices of qkv:
 *   s = q^T k / sqrt(D) (HW, HW),  att[i,:] = softmax(s[i,:]),  out (D, HW) = v att^T,
 * the two products as SGEMMs (the plain loops are dn_attention_*_naive in nn_naive.c).
 * One task per (n, h). */

typedef struct {
    float *out, *att, *dqkv;
    const float *qkv, *dout, *catt;
    int C, HW, NH, D;
} att_job;

/* One softmax row in place: a[j] = exp(a[j]*scale - max) / sum. The sum runs in 16 lanes (lane l
 * adds a[l], a[l+16], ...), then the lanes pairwise, then the tail: the same order on every CPU. */
static void softmax_row(float *restrict a, int n, float scale) {
    float mx = -INFINITY;
    for (int j = 0; j < n; j++) {
        a[j] *= scale;
        if (a[j] > mx) mx = a[j];
    }
    for (int j = 0; j < n; j++) a[j] = exp_fixed(a[j] - mx);
    v16 z16 = {0};
    int j = 0;
    for (; j + 16 <= n; j += 16) z16 += ld16(a + j);
    float z = hsum16(z16);
    for (; j < n; j++) z += a[j];
    float inv = 1.0f / z;
    for (j = 0; j < n; j++) a[j] *= inv;
}

static void att_fwd_task(void *vctx, int task) {
    const att_job *g = vctx;
    int n = task / g->NH, h = task % g->NH, HW = g->HW, D = g->D;
    const float *q = g->qkv + ((long)n * 3 * g->C + (long)h * D) * HW;
    const float *k = q + (long)g->C * HW, *v = q + 2L * g->C * HW;
    float *a = g->att + ((long)n * g->NH + h) * HW * HW;
    float *o = g->out + ((long)n * g->C + (long)h * D) * HW;
    dn_sgemm(1, 0, HW, HW, D, q, HW, k, HW, 0.0f, a, HW); /* a[i,j] = sum_d q[d,i] k[d,j] */
    float scale = 1.0f / sqrtf((float)D);
    for (int i = 0; i < HW; i++) softmax_row(a + (long)i * HW, HW, scale);
    dn_sgemm(0, 1, D, HW, HW, v, HW, a, HW, 0.0f, o, HW); /* o[d,i] = sum_j v[d,j] a[i,j] */
}

void dn_attention_forward(float *out, float *att, const float *qkv, int N, int C, int HW, int NH) {
    assert(C % NH == 0);
    att_job g = {out, att, NULL, qkv, NULL, NULL, C, HW, NH, C / NH};
    dn_parallel_for(N * NH, att_fwd_task, &g);
}

/* Backward, g = dout: datt = g^T v; dv += g att; ds = att (datt - rowsum(att datt)) / sqrt(D);
 * dq += k ds^T; dk += q ds. */
static void att_bwd_task(void *vctx, int task) {
    const att_job *g = vctx;
    int n = task / g->NH, h = task % g->NH, HW = g->HW, D = g->D;
    long qo = ((long)n * 3 * g->C + (long)h * D) * HW;
    const float *q = g->qkv + qo, *k = q + (long)g->C * HW, *v = q + 2L * g->C * HW;
    float *dq = g->dqkv + qo, *dk = dq + (long)g->C * HW, *dv = dq + 2L * g->C * HW;
    const float *a = g->catt + ((long)n * g->NH + h) * HW * HW;
    const float *go = g->dout + ((long)n * g->C + (long)h * D) * HW;
    float *ds = dn_workspace(3, (size_t)HW * HW * sizeof(float));
    if (!ds) return; /* out of memory: recorded for dn_workspace_check */
    float scale = 1.0f / sqrtf((float)D);
    dn_sgemm(1, 0, HW, HW, D, go, HW, v, HW, 0.0f, ds, HW); /* datt[i,j] = sum_d g[d,i] v[d,j] */
    dn_sgemm(0, 0, D, HW, HW, go, HW, a, HW, 1.0f, dv, HW); /* dv[d,j] += sum_i g[d,i] a[i,j] */
    for (int i = 0; i < HW; i++) {
        const float *ai = a + (long)i * HW;
        float *di = ds + (long)i * HW;
        float dot = 0.0f;
        for (int j = 0; j < HW; j++) dot += ai[j] * di[j];
        for (int j = 0; j < HW; j++) di[j] = ai[j] * (di[j] - dot) * scale;
    }
    dn_sgemm(0, 1, D, HW, HW, k, HW, ds, HW, 1.0f, dq, HW); /* dq[d,i] += sum_j k[d,j] ds[i,j] */
    dn_sgemm(0, 0, D, HW, HW, q, HW, ds, HW, 1.0f, dk, HW); /* dk[d,j] += sum_i q[d,i] ds[i,j] */
}

void dn_attention_backward(float *dqkv, const float *dout, const float *qkv, const float *att,
                           int N, int C, int HW, int NH) {
    assert(C % NH == 0);
    att_job g = {NULL, NULL, dqkv, qkv, dout, att, C, HW, NH, C / NH};
    dn_parallel_for(N * NH, att_bwd_task, &g);
}
