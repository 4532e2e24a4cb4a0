/* nn_naive.c — the reference loops: every layer of nn.h that has a fast kernel, and SGEMM, as the
 * plain loops of its definition (read these first; the fast ones compute the same sums).
 * out[n,o,y,x] = b[o] + sum_{c,ky,kx} w[o,c,ky,kx] * x[n,c, y*s+ky-p, x*s+kx-p], p = K/2,
 * with x read as zero outside the image. Slow on purpose: every term is written out, so the fast
 * GEMM-based kernels (nn_conv.c, nn.c, gemm.c) can be checked against it (tests/test_nn.c,
 * tests/test_gemm.c). Compiled once, not per instruction set. */
#include "base/parallel.h"
#include "nn/gemm.h"
#include "nn/nn.h"
#include <assert.h>
#include <math.h>
#include <stdlib.h>

int dn_conv2d_out_size(int H, int K, int stride) { return (H + 2 * (K / 2) - K) / stride + 1; }

void dn_conv2d_forward_naive(float *out, const float *x, const float *w, const float *b,
                             int N, int C, int H, int W, int OC, int K, int stride) {
    int p = K / 2, Ho = dn_conv2d_out_size(H, K, stride), Wo = dn_conv2d_out_size(W, K, stride);
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OC; o++)
            for (int oy = 0; oy < Ho; oy++)
                for (int ox = 0; ox < Wo; ox++) {
                    float s = b ? b[o] : 0.0f;
                    for (int c = 0; c < C; c++)
                        for (int ky = 0; ky < K; ky++) {
                            int iy = oy * stride + ky - p;
                            if (iy < 0 || iy >= H) continue;
                            for (int kx = 0; kx < K; kx++) {
                                int ix = ox * stride + kx - p;
                                if (ix < 0 || ix >= W) continue;
                                s += w[((long)(o * C + c) * K + ky) * K + kx] *
                                     x[(((long)n * C + c) * H + iy) * W + ix];
                            }
                        }
                    out[(((long)n * OC + o) * Ho + oy) * Wo + ox] = s;
                }
}

/* The chain rule through the sum above: each output gradient g = dout[n,o,y,x] flows to
 * db[o] (+g), to every weight it multiplied (+g * x) and to every input it read (+g * w). */
void dn_conv2d_backward_naive(float *dx, float *dw, float *db, const float *dout, const float *x,
                              const float *w, int N, int C, int H, int W, int OC, int K, int stride) {
    int p = K / 2, Ho = dn_conv2d_out_size(H, K, stride), Wo = dn_conv2d_out_size(W, K, stride);
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OC; o++)
            for (int oy = 0; oy < Ho; oy++)
                for (int ox = 0; ox < Wo; ox++) {
                    float g = dout[(((long)n * OC + o) * Ho + oy) * Wo + ox];
                    if (db) db[o] += g;
                    for (int c = 0; c < C; c++)
                        for (int ky = 0; ky < K; ky++) {
                            int iy = oy * stride + ky - p;
                            if (iy < 0 || iy >= H) continue;
                            for (int kx = 0; kx < K; kx++) {
                                int ix = ox * stride + kx - p;
                                if (ix < 0 || ix >= W) continue;
                                long wi = ((long)(o * C + c) * K + ky) * K + kx;
                                long xi = (((long)n * C + c) * H + iy) * W + ix;
                                dw[wi] += g * x[xi];
                                if (dx) dx[xi] += g * w[wi];
                            }
                        }
                }
}

/* GroupNorm: per image n and group g of C/G channels, mu and var over the group's C/G x HW values
 * (biased variance, summed in double), xhat = (x - mu) / sqrt(var + eps), out = gamma xhat + beta. */
void dn_groupnorm_forward_naive(float *out, float *mean, float *rstd, const float *x,
                                const float *gamma, const float *beta, int N, int C, int HW, int G) {
    int CG = C / G;
    long len = (long)CG * HW;
    for (int n = 0; n < N; n++)
        for (int g = 0; g < G; g++) {
            long base = ((long)n * C + (long)g * CG) * HW;
            double s = 0, v = 0;
            for (long i = 0; i < len; i++) s += (double)x[base + i];
            double mu = s / (double)len;
            for (long i = 0; i < len; i++) v += ((double)x[base + i] - mu) * ((double)x[base + i] - mu);
            double r = 1.0 / sqrt(v / (double)len + 1e-5);
            mean[n * G + g] = (float)mu, rstd[n * G + g] = (float)r;
            for (int c = 0; c < CG; c++)
                for (int i = 0; i < HW; i++) {
                    long at = base + (long)c * HW + i;
                    double xh = ((double)x[at] - mu) * r;
                    out[at] = (float)(xh * (double)gamma[g * CG + c] + (double)beta[g * CG + c]);
                }
        }
}

/* The chain rule through it: dxhat = dout gamma; dgamma += sum dout xhat, dbeta += sum dout;
 * dx += rstd (dxhat - mean(dxhat) - xhat mean(dxhat xhat)), the means over the group. */
void dn_groupnorm_backward_naive(float *dx, float *dgamma, float *dbeta, const float *dout,
                                 const float *x, const float *mean, const float *rstd,
                                 const float *gamma, int N, int C, int HW, int G) {
    int CG = C / G;
    long len = (long)CG * HW;
    for (int n = 0; n < N; n++)
        for (int g = 0; g < G; g++) {
            long base = ((long)n * C + (long)g * CG) * HW;
            double mu = (double)mean[n * G + g], r = (double)rstd[n * G + g], sd = 0, sdx = 0;
            for (int c = 0; c < CG; c++)
                for (int i = 0; i < HW; i++) {
                    long at = base + (long)c * HW + i;
                    double xh = ((double)x[at] - mu) * r, d = (double)dout[at], dxh = d * (double)gamma[g * CG + c];
                    if (dgamma) dgamma[g * CG + c] += (float)(d * xh);
                    if (dbeta) dbeta[g * CG + c] += (float)d;
                    sd += dxh;
                    sdx += dxh * xh;
                }
            for (int c = 0; c < CG && dx; c++)
                for (int i = 0; i < HW; i++) {
                    long at = base + (long)c * HW + i;
                    double xh = ((double)x[at] - mu) * r, dxh = (double)dout[at] * (double)gamma[g * CG + c];
                    dx[at] += (float)(r * (dxh - sd / (double)len - xh * sdx / (double)len));
                }
        }
}

/* SiLU: y = x sigmoid(x) = x / (1 + e^-x); dy/dx = s (1 + x (1 - s)), s = sigmoid(x). */
void dn_silu_forward_naive(float *out, const float *x, long n) {
    for (long i = 0; i < n; i++) out[i] = x[i] / (1.0f + expf(-x[i]));
}

void dn_silu_backward_naive(float *dx, const float *dout, const float *x, long n) {
    for (long i = 0; i < n; i++) {
        float s = 1.0f / (1.0f + expf(-x[i]));
        dx[i] += dout[i] * s * (1.0f + x[i] * (1.0f - s));
    }
}

/* Nearest 2x upsampling: out[y][x] = in[y/2][x/2]; each input gets the sum of its four copies. */
void dn_upsample2x_forward_naive(float *out, const float *x, int N, int C, int H, int W) {
    for (long p = 0; p < (long)N * C; p++)
        for (int y = 0; y < 2 * H; y++)
            for (int xx = 0; xx < 2 * W; xx++)
                out[(p * 2 * H + y) * 2 * W + xx] = x[(p * H + y / 2) * W + xx / 2];
}

void dn_upsample2x_backward_naive(float *dx, const float *dout, int N, int C, int H, int W) {
    for (long p = 0; p < (long)N * C; p++)
        for (int y = 0; y < 2 * H; y++)
            for (int xx = 0; xx < 2 * W; xx++)
                dx[(p * H + y / 2) * W + xx / 2] += dout[(p * 2 * H + y) * 2 * W + xx];
}

/* Concatenation along channels: image n is a's Ca channels, then b's Cb. */
void dn_concat_forward_naive(float *out, const float *a, const float *b, int N, int Ca, int Cb, int HW) {
    for (int n = 0; n < N; n++)
        for (int c = 0; c < Ca + Cb; c++)
            for (int i = 0; i < HW; i++)
                out[((long)n * (Ca + Cb) + c) * HW + i] =
                    c < Ca ? a[((long)n * Ca + c) * HW + i] : b[((long)n * Cb + c - Ca) * HW + i];
}

void dn_concat_backward_naive(float *da, float *db, const float *dout, int N, int Ca, int Cb, int HW) {
    for (int n = 0; n < N; n++)
        for (int c = 0; c < Ca + Cb; c++)
            for (int i = 0; i < HW; i++) {
                float g = dout[((long)n * (Ca + Cb) + c) * HW + i];
                if (c < Ca && da) da[((long)n * Ca + c) * HW + i] += g;
                if (c >= Ca && db) db[((long)n * Cb + c - Ca) * HW + i] += g;
            }
}

/* Per-channel add: out[n,c,i] = x[n,c,i] + bias[n,c]; dbias[n,c] sums dout over the positions. */
void dn_add_channel_forward_naive(float *out, const float *x, const float *bias, int N, int C, int HW) {
    for (long p = 0; p < (long)N * C; p++)
        for (int i = 0; i < HW; i++) out[p * HW + i] = x[p * HW + i] + bias[p];
}

void dn_add_channel_backward_naive(float *dx, float *dbias, const float *dout, int N, int C, int HW) {
    for (long p = 0; p < (long)N * C; p++)
        for (int i = 0; i < HW; i++) {
            if (dx) dx[p * HW + i] += dout[p * HW + i];
            if (dbias) dbias[p] += dout[p * HW + i];
        }
}

/* ---- self-attention, the plain loops -----------------------------------------------------------
 * Per image n and head h, with q, k, v the (D, HW) slices of qkv:
 *   s[i,j] = sum_d q[d,i] k[d,j] / sqrt(D),  att[i,:] = softmax(s[i,:]),  out[d,i] = sum_j att[i,j] v[d,j]. */

void dn_attention_forward_naive(float *out, float *att, const float *qkv, int N, int C, int HW, int NH) {
    assert(C % NH == 0);
    int D = C / NH;
    float scale = 1.0f / sqrtf((float)D);
    for (int n = 0; n < N; n++)
        for (int h = 0; h < NH; h++) {
            const float *q = qkv + ((long)n * 3 * C + (long)h * D) * HW;
            const float *k = q + (long)C * HW, *v = q + 2L * C * HW;
            float *a = att + ((long)n * NH + h) * HW * HW;
            float *o = out + ((long)n * C + (long)h * D) * HW;
            for (int i = 0; i < HW; i++) {
                float *ai = a + (long)i * HW, mx = -INFINITY;
                for (int j = 0; j < HW; j++) {
                    float s = 0.0f;
                    for (int d = 0; d < D; d++) s += q[(long)d * HW + i] * k[(long)d * HW + j];
                    ai[j] = s * scale;
                    if (ai[j] > mx) mx = ai[j];
                }
                float z = 0.0f;
                for (int j = 0; j < HW; j++) {
                    ai[j] = expf(ai[j] - mx);
                    z += ai[j];
                }
                for (int j = 0; j < HW; j++) ai[j] /= z;
                for (int d = 0; d < D; d++) {
                    float s = 0.0f;
                    for (int j = 0; j < HW; j++) s += ai[j] * v[(long)d * HW + j];
                    o[(long)d * HW + i] = s;
                }
            }
        }
}

/* Backward, with g = dout: datt[i,j] = sum_d g[d,i] v[d,j]; dv[d,j] += sum_i att[i,j] g[d,i];
 * softmax: ds[i,j] = att[i,j] (datt[i,j] - sum_j' att[i,j'] datt[i,j']);
 * dq[d,i] += sum_j ds[i,j] k[d,j] / sqrt(D); dk[d,j] += sum_i ds[i,j] q[d,i] / sqrt(D). */
void dn_attention_backward_naive(float *dqkv, const float *dout, const float *qkv, const float *att,
                           int N, int C, int HW, int NH) {
    int D = C / NH;
    float scale = 1.0f / sqrtf((float)D);
    float *ds = dn_workspace(3, (size_t)HW * sizeof(float));
    if (!ds) return; /* out of memory: recorded for dn_workspace_check */
    for (int n = 0; n < N; n++)
        for (int h = 0; h < NH; h++) {
            long qo = ((long)n * 3 * C + (long)h * D) * HW;
            const float *q = qkv + qo, *k = q + (long)C * HW, *v = q + 2L * C * HW;
            float *dq = dqkv + qo, *dk = dq + (long)C * HW, *dv = dq + 2L * C * HW;
            const float *a = att + ((long)n * NH + h) * HW * HW;
            const float *g = dout + ((long)n * C + (long)h * D) * HW;
            for (int i = 0; i < HW; i++) {
                const float *ai = a + (long)i * HW;
                float dot = 0.0f;
                for (int j = 0; j < HW; j++) {
                    float s = 0.0f;
                    for (int d = 0; d < D; d++) s += g[(long)d * HW + i] * v[(long)d * HW + j];
                    ds[j] = s;
                    dot += ai[j] * s;
                }
                for (int j = 0; j < HW; j++) ds[j] = ai[j] * (ds[j] - dot) * scale;
                for (int d = 0; d < D; d++) {
                    float gi = g[(long)d * HW + i], qi = q[(long)d * HW + i], s = 0.0f;
                    for (int j = 0; j < HW; j++) {
                        dv[(long)d * HW + j] += ai[j] * gi;
                        dk[(long)d * HW + j] += ds[j] * qi;
                        s += ds[j] * k[(long)d * HW + j];
                    }
                    dq[(long)d * HW + i] += s;
                }
            }
        }
}

/* ---- SGEMM: the oracle (double accumulation) and the definition of dn_sgemm's bits ---------- */

void dn_sgemm_naive(int ta, int tb, int M, int N, int K, const float *A, int lda, const float *B,
                    int ldb, float beta, float *C, int ldc) {
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0.0;
            for (int k = 0; k < K; k++) {
                float a = ta ? A[(long)k * lda + i] : A[(long)i * lda + k];
                float b = tb ? B[(long)j * ldb + k] : B[(long)k * ldb + j];
                s += (double)a * (double)b;
            }
            float *c = &C[(long)i * ldc + j];
            *c = (float)(beta == 0.0f ? s : (double)beta * (double)*c + s);
        }
}

/* One rounding per term, in k order, starting from beta c: what every copy of dn_sgemm computes
 * (blocked, packed, vectorised and threaded, but element by element this very chain). */
void dn_sgemm_chain(int ta, int tb, int M, int N, int K, const float *A, int lda, const float *B,
                    int ldb, float beta, float *C, int ldc) {
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            float *c = &C[(long)i * ldc + j];
            float s = beta == 0.0f ? 0.0f : beta == 1.0f ? *c : beta * *c;
            for (int k = 0; k < K; k++) {
                float a = ta ? A[(long)k * lda + i] : A[(long)i * lda + k];
                float b = tb ? B[(long)j * ldb + k] : B[(long)k * ldb + j];
                s = fmaf(a, b, s);
            }
            *c = s;
        }
}
