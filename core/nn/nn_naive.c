/* nn_naive.c — the oracle kernels: conv2d, attention and SGEMM as the plain loops of their
 * definitions.
 * out[n,o,y,x] = b[o] + sum_{c,ky,kx} w[o,c,ky,kx] * x[n,c, y*s+ky-p, x*s+kx-p], p = K/2,
 * with x read as zero outside the image. Slow on purpose: every term is written out, so the fast
 * GEMM-based kernels (nn_conv.c, nn.c, gemm.c) can be checked against it (tests/test_nn.c,
 * tests/test_gemm.c). Compiled once, not per instruction set. */
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
    float *ds = malloc((size_t)HW * sizeof(float));
    assert(ds && "out of memory in dn_attention_backward");
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
    free(ds);
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
