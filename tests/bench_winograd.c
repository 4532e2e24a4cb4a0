/* bench_winograd.c — a study, not a kernel: how much faster could the U-Net's forward pass be
 * with Winograd F(2x2, 3x3) convolutions (Lavin & Gray 2016)? Printed by `make bench` after the
 * tables (docs/PERFORMANCE.md, "What would close the gap").
 *
 * F(2x2, 3x3) computes each 2x2 block of a 3x3 stride-1 convolution's output from a 4x4 input
 * tile with 16 multiplies per (input, output) channel pair instead of 36: after a fixed linear
 * transform of every input tile (V = B^T d B) and of every filter (U = G g G^T), the convolution
 * becomes 16 independent matrix products M[xi] = U[xi] (OC x C) * V[xi] (C x tiles), followed by
 * an output transform (Y = A^T M A). Those 16 products are the part no implementation avoids;
 * the transforms are extra passes over memory.
 *
 * This program times the default pets U-Net (32x32x3) at batch 2 (one guided sampling step):
 * the whole forward, the time inside its 3x3 stride-1 convolutions (by wrapping
 * dn_conv2d_forward at link time, -Wl,--wrap), and, for each of those layers, the 16 Winograd
 * products alone with dn_sgemm at the layer's sizes. Replacing each 3x3 convolution by its
 * products alone (free transforms, which no implementation has) bounds what Winograd F(2x2, 3x3)
 * can give the forward pass. usage: bench_winograd (DN_KERNELS chooses the copy, kernels.h). */
#include "base/err.h"
#include "nn/gemm.h"
#include "nn/kernels.h"
#include "nn/nn.h"
#include "base/rng.h"
#include "nets/unet.h"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* ---- the wrapped convolution: time 3x3 stride-1 calls, record their sizes ---------------------- */

void __real_dn_conv2d_forward(float *out, const float *x, const float *w, const float *b, int N, int C,
                              int H, int W, int OC, int K, int stride);
void __wrap_dn_conv2d_forward(float *out, const float *x, const float *w, const float *b, int N, int C,
                              int H, int W, int OC, int K, int stride);

#define MAX_LAYERS 64
static double conv3_time, other_time;
static int recording, n_layers, layers[MAX_LAYERS][5]; /* N, C, H, W, OC */

void __wrap_dn_conv2d_forward(float *out, const float *x, const float *w, const float *b, int N, int C,
                              int H, int W, int OC, int K, int stride) {
    double t0 = now();
    __real_dn_conv2d_forward(out, x, w, b, N, C, H, W, OC, K, stride);
    double el = now() - t0;
    if (K != 3 || stride != 1) {
        other_time += el;
        return;
    }
    conv3_time += el;
    if (recording && n_layers < MAX_LAYERS) {
        int *l = layers[n_layers++];
        l[0] = N, l[1] = C, l[2] = H, l[3] = W, l[4] = OC;
    }
}

/* The 16 products of one layer, best of reps: U (16, OC, C) times V (16, C, P) into M (16, OC, P). */
static double products_time(int N, int C, int H, int W, int OC, int reps) {
    long P = (long)N * ((H + 1) / 2) * ((W + 1) / 2);
    float *U = malloc(sizeof(float) * 16 * (size_t)OC * (size_t)C);
    float *V = malloc(sizeof(float) * 16 * (size_t)C * (size_t)P);
    float *M = malloc(sizeof(float) * 16 * (size_t)OC * (size_t)P);
    if (!U || !V || !M) {
        fprintf(stderr, "bench_winograd: out of memory\n");
        exit(1);
    }
    for (long i = 0; i < 16L * OC * C; i++) U[i] = 0.01f * (float)(i % 7);
    for (long i = 0; i < 16L * C * P; i++) V[i] = 0.01f * (float)(i % 5);
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        for (int xi = 0; xi < 16; xi++)
            dn_sgemm(0, 0, OC, (int)P, C, U + (long)xi * OC * C, C, V + (long)xi * C * P, (int)P, 0.0f,
                     M + (long)xi * OC * P, (int)P);
        double el = now() - t0;
        if (el < best) best = el;
    }
    free(U), free(V), free(M);
    return best;
}

int main(void) {
    dn_unet_config cfg = dn_unet_default_config(3, 32, 32, 2);
    dn_unet m;
    dn_unet_acts a;
    dn_rng r;
    dn_rng_seed(&r, 0, 0);
    if (dn_unet_init(&m, &cfg) || dn_unet_acts_alloc(&a, &m, 2)) {
        fprintf(stderr, "bench_winograd: %s\n", dn_error());
        return 1;
    }
    dn_unet_init_random(&m, &r);
    enum { N = 2 };
    long n = (long)N * 3 * 32 * 32;
    float *x = malloc(sizeof(float) * (size_t)n), *out = malloc(sizeof(float) * (size_t)n);
    float t[N] = {500.0f, 500.0f};
    int ids[N] = {1, 2}; /* a class and the null class: a guided step */
    if (!x || !out) return 1;
    dn_rng_normal_fill(&r, x, n);

    double best = 1e30, best3 = 0, best_other = 0;
    for (int i = 0; i < 201; i++) {
        recording = i == 1;
        conv3_time = other_time = 0;
        double t0 = now();
        dn_unet_forward(&m, &a, out, x, t, ids, N);
        double el = now() - t0;
        if (i > 0 && el < best) best = el, best3 = conv3_time, best_other = other_time;
    }
    double prod = 0;
    for (int l = 0; l < n_layers; l++)
        prod += products_time(layers[l][0], layers[l][1], layers[l][2], layers[l][3], layers[l][4], 50);
    printf("winograd study, %s kernels, pets U-Net 32x32x3, batch 2, 1 thread (best of 200):\n",
           dn_kernels_get()->name);
    printf("  forward %.2f ms: %d 3x3 stride-1 convolutions %.2f ms (%.0f%%), other convolutions %.2f ms, "
           "everything else %.2f ms\n",
           best * 1e3, n_layers, best3 * 1e3, 100 * best3 / best, best_other * 1e3,
           (best - best3 - best_other) * 1e3);
    printf("  their Winograd F(2x2,3x3) products alone: %.2f ms (%.2fx fewer ms than the direct convolutions)\n",
           prod * 1e3, best3 / prod);
    printf("  forward with those products and free transforms: %.2f ms: at most %.2fx faster\n",
           (best - best3 + prod) * 1e3, best / (best - best3 + prod));
    dn_unet_acts_free(&a);
    dn_unet_free(&m);
    free(x), free(out);
    return 0;
}
