/* nn_small.c — the layers of nn.h that are plain loops in every build: linear (the time-embedding
 * MLP, a few thousand multiply-adds), embedding lookup, the sinusoidal timestep embedding and the
 * MSE loss. They are too small to need a fast copy per instruction set (kernels.h), so they are
 * compiled once; separate multiplies and adds (no contraction), the same bits on every CPU. */
#include "nn/nn.h"
#include <assert.h>
#include <math.h>
#include <string.h>

/* ---- linear: out = x w^T + b; dx += dout w, dw += dout^T x, db += sum_n dout ---------------------- */

void dn_linear_forward(float *out, const float *x, const float *w, const float *b,
                       int N, int IN, int OUT) {
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OUT; o++) {
            float s = b ? b[o] : 0.0f;
            for (int i = 0; i < IN; i++) s += x[(long)n * IN + i] * w[(long)o * IN + i];
            out[(long)n * OUT + o] = s;
        }
}

void dn_linear_backward(float *dx, float *dw, float *db, const float *dout, const float *x,
                        const float *w, int N, int IN, int OUT) {
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OUT; o++) {
            float g = dout[(long)n * OUT + o];
            if (db) db[o] += g;
            for (int i = 0; i < IN; i++) {
                if (dw) dw[(long)o * IN + i] += g * x[(long)n * IN + i];
                if (dx) dx[(long)n * IN + i] += g * w[(long)o * IN + i];
            }
        }
}

/* ---- embedding: a row lookup; its gradient adds each output row back into its table row -------- */

void dn_embedding_forward(float *out, const int *ids, const float *table, int N, int V, int D) {
    for (int n = 0; n < N; n++) {
        assert(ids[n] >= 0 && ids[n] < V);
        memcpy(out + (long)n * D, table + (long)ids[n] * D, (size_t)D * sizeof(float));
    }
}

void dn_embedding_backward(float *dtable, const float *dout, const int *ids, int N, int V, int D) {
    for (int n = 0; n < N; n++) {
        assert(ids[n] >= 0 && ids[n] < V);
        for (int d = 0; d < D; d++) dtable[(long)ids[n] * D + d] += dout[(long)n * D + d];
    }
}

/* ---- sinusoidal timestep embedding ------------------------------------------------------------------
 * Computed in float32 in the same order as diffusers' get_timestep_embedding, so the angles (and so
 * the values) match PyTorch to rounding even for t near 1000. */
void dn_timestep_embedding(float *out, const float *t, int N, int D) {
    assert(D % 2 == 0);
    int half = D / 2;
    const float lnmax = -9.21034037197618f; /* -ln(10000) */
    for (int n = 0; n < N; n++)
        for (int i = 0; i < half; i++) {
            float f = expf(lnmax * (float)i / (float)half);
            float arg = t[n] * f;
            out[(long)n * D + i] = cosf(arg);
            out[(long)n * D + half + i] = sinf(arg);
        }
}

/* ---- MSE: L = mean (pred - target)^2; dL/dpred = 2 (pred - target) / n ---------------------------- */

float dn_mse_forward(const float *pred, const float *target, long n) {
    double s = 0.0;
    for (long i = 0; i < n; i++) {
        double d = (double)pred[i] - (double)target[i];
        s += d * d;
    }
    return (float)(s / (double)n);
}

void dn_mse_backward(float *dpred, const float *pred, const float *target, long n, float dloss) {
    float k = 2.0f * dloss / (float)n;
    for (long i = 0; i < n; i++) dpred[i] += k * (pred[i] - target[i]);
}
