/* bench_nn.c — speed of the SGEMM, of each conv2d shape of the default U-Net (GFLOP/s, forward
 * and backward), and of the whole U-Net (forward at batch 1 and 2, a training step at batch 64)
 * at 32x32x3 and 28x28x1. Not part of `make test` (named bench_*, not test_*). Build and run:
 *   make BUILD=build-nn build-nn/libdiffuse.a && cc -std=c11 -O2 -march=native -pthread -Icore \
 *     tests/bench_nn.c build-nn/libdiffuse.a -lm -o build-nn/bench_nn && ./build-nn/bench_nn [threads [gemm|conv|unet]]
 * Each number is the best of 5 repeats of >= 50 ms (the machine is shared; the best is the least
 * disturbed). The PyTorch counterpart of the U-Net rows is tests/golden/unet_twin.py bench. */
#define _POSIX_C_SOURCE 200809L
#include "nn/gemm.h"
#include "nn/nn.h"
#include "base/parallel.h"
#include "base/rng.h"
#include "nets/unet.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static float *randn(long n, uint64_t seed) {
    float *p = malloc((size_t)n * sizeof(float));
    dn_rng r;
    dn_rng_seed(&r, seed, 0);
    dn_rng_normal_fill(&r, p, n);
    return p;
}

/* best time of `reps` runs of at least ~50 ms each */
#define TIME_BEST(best, body)                                                                     \
    do {                                                                                          \
        best = 1e30;                                                                              \
        for (int rep_ = 0; rep_ < 5; rep_++) {                                                    \
            int iters_ = 0;                                                                       \
            double t0_ = now(), t1_;                                                              \
            do {                                                                                  \
                body;                                                                             \
                iters_++;                                                                         \
                t1_ = now();                                                                      \
            } while (t1_ - t0_ < 0.05);                                                           \
            double per_ = (t1_ - t0_) / iters_;                                                   \
            if (per_ < best) best = per_;                                                         \
        }                                                                                         \
    } while (0)

static void bench_gemm(int n) {
    float *A = randn((long)n * n, 1), *B = randn((long)n * n, 2), *C = malloc((size_t)n * n * 4);
    double t;
    TIME_BEST(t, dn_sgemm(0, 0, n, n, n, A, n, B, n, 0.0f, C, n));
    printf("sgemm %4d^3                     %8.3f ms  %6.1f GFLOP/s\n", n, t * 1e3, 2.0 * n * n * n / t * 1e-9);
    free(A); free(B); free(C);
}

static void bench_conv(int N, int C, int H, int OC, int K, int s) {
    int Ho = dn_conv2d_out_size(H, K, s);
    float *x = randn((long)N * C * H * H, 3), *w = randn((long)OC * C * K * K, 4), *b = randn(OC, 5);
    float *out = malloc((size_t)N * OC * Ho * Ho * 4), *dout = randn((long)N * OC * Ho * Ho, 6);
    float *dx = calloc((size_t)N * C * H * H, 4), *dw = calloc((size_t)OC * C * K * K, 4), *db = calloc(OC, 4);
    double fl = 2.0 * N * OC * Ho * Ho * C * K * K, tf, tb;
    TIME_BEST(tf, dn_conv2d_forward(out, x, w, b, N, C, H, H, OC, K, s));
    TIME_BEST(tb, dn_conv2d_backward(dx, dw, db, dout, x, w, N, C, H, H, OC, K, s));
    printf("conv N=%-2d %2dx%-2d %3d->%-3d k%d s%d  fwd %8.3f ms %6.1f GFLOP/s  bwd %8.3f ms %6.1f GFLOP/s\n",
           N, H, H, C, OC, K, s, tf * 1e3, fl / tf * 1e-9, tb * 1e3, 2 * fl / tb * 1e-9);
    free(x); free(w); free(b); free(out); free(dout); free(dx); free(dw); free(db);
}

/* The default U-Net at 32x32x3 or 28x28x1: forward at batch 1 and 2, and a training step
 * (forward + backward) at batch 64. */
static void bench_unet(int ch, int hw) {
    dn_unet m = {0};
    dn_unet_config c = dn_unet_default_config(ch, hw, hw, 10);
    if (dn_unet_init(&m, &c) != 0) { printf("unet init failed\n"); return; }
    dn_rng r;
    dn_rng_seed(&r, 1, 0);
    dn_unet_init_random(&m, &r);
    dn_unet_acts a = {0};
    dn_unet_params g;
    float *gmem = NULL;
    if (dn_unet_acts_alloc(&a, &m, 64) != 0 || dn_unet_grads_alloc(&m, &g, &gmem) != 0) return;
    float *x = randn(64 * 3 * 32 * 32, 7), *out = malloc(64 * 3 * 32 * 32 * 4), *dout = randn(64 * 3 * 32 * 32, 8);
    float t[64];
    int ids[64];
    for (int i = 0; i < 64; i++) t[i] = (float)(i * 15 % 1000), ids[i] = i % 11;
    double fl = dn_unet_flops(&c), tm;
    int batches[2] = {1, 2};
    for (int bi = 0; bi < 2; bi++) {
        int N = batches[bi];
        TIME_BEST(tm, dn_unet_forward(&m, &a, out, x, t, ids, N));
        printf("unet %dx%dx%d forward batch %d      %8.3f ms  %6.1f GFLOP/s (%.0f MFLOP/img)\n", hw, hw, ch, N, tm * 1e3,
               fl * N / tm * 1e-9, fl * 1e-6);
    }
    TIME_BEST(tm, (dn_unet_forward(&m, &a, out, x, t, ids, 64), dn_unet_backward(&m, &a, &g, NULL, dout)));
    printf("unet %dx%dx%d train step batch 64 %8.3f ms  %6.1f img/s  %6.1f GFLOP/s\n", hw, hw, ch, tm * 1e3, 64 / tm,
           3 * fl * 64 / tm * 1e-9);
    free(x); free(out); free(dout); free(gmem);
    dn_unet_acts_free(&a);
    dn_unet_free(&m);
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    const char *what = argc > 2 ? argv[2] : "all";
    dn_threads_set(threads);
    printf("threads %d\n", dn_threads_get());
    if (!strcmp(what, "all") || !strcmp(what, "gemm")) {
        bench_gemm(1024);
        bench_gemm(256);
    }
    if (!strcmp(what, "all") || !strcmp(what, "unet")) {
        bench_unet(3, 32);
        bench_unet(1, 28);
    }
    if (!strcmp(what, "all") || !strcmp(what, "conv")) {
        int batches[2] = {1, 64};
        for (int bi = 0; bi < 2; bi++) {
            int N = batches[bi];
            bench_conv(N, 3, 32, 32, 3, 1);
            bench_conv(N, 32, 32, 32, 3, 1);
            bench_conv(N, 32, 32, 32, 3, 2);
            bench_conv(N, 32, 16, 64, 3, 1);
            bench_conv(N, 64, 16, 64, 3, 1);
            bench_conv(N, 32, 16, 64, 1, 1);
            bench_conv(N, 64, 16, 64, 3, 2);
            bench_conv(N, 64, 8, 64, 3, 1);
            bench_conv(N, 128, 8, 64, 3, 1);
            bench_conv(N, 128, 16, 64, 3, 1);
            bench_conv(N, 64, 8, 192, 1, 1);
        }
    }
    return 0;
}
