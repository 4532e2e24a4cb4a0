/* bench_gemm.c — dn_sgemm against Debian's OpenBLAS (cblas_sgemm) on the same machine, in the
 * same run, with the same number of threads: a 1024^3 product and the products behind the
 * convolutions of the shipped U-Nets (M = output channels, N = pixels, K = input channels x 9),
 * plus dn_conv2d_forward itself on those layers (what the U-Net really runs: the implicit-im2col
 * GEMM of nn_conv.c, against OpenBLAS on the already unrolled matrix, which flatters OpenBLAS).
 * Run by scripts/bench.sh (`make bench`) once per kernel copy (DN_KERNELS=avx2, ...).
 *
 * usage: bench_gemm [--threads N] [--quick]
 * Prints one line per row: name <TAB> C GFLOP/s <TAB> OpenBLAS GFLOP/s. */
#include "err.h"
#include "gemm.h"
#include "kernels.h"
#include "nn.h"
#include "parallel.h"
#include "rng.h"
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void openblas_set_num_threads(int n); /* OpenBLAS's own (cblas.h declares it too) */

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct {
    int M, N, K;
    const float *A, *B;
    float *C;
    int which; /* 0 dn_sgemm, 1 OpenBLAS, 2 dn_conv2d_forward */
    int Cin, H, W; /* conv: input channels and size (K = Cin * 9, N = H * W) */
    const float *bias;
} job;

static void run(const job *j) {
    if (j->which == 0)
        dn_sgemm(0, 0, j->M, j->N, j->K, j->A, j->K, j->B, j->N, 0.0f, j->C, j->N);
    else if (j->which == 1)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, j->M, j->N, j->K, 1.0f, j->A, j->K, j->B, j->N,
                    0.0f, j->C, j->N);
    else
        dn_conv2d_forward(j->C, j->B, j->A, j->bias, 1, j->Cin, j->H, j->W, j->M, 3, 1);
}

/* GFLOP/s of the best run: one warm-up, then repeat until min_time (at least 3 runs). */
static double gflops(const job *j, double min_time) {
    run(j);
    double best = 1e30, t0 = now();
    int reps = 0;
    do {
        double t1 = now();
        run(j);
        double el = now() - t1;
        if (el < best) best = el;
        reps++;
    } while (reps < 3 || now() - t0 < min_time);
    return 2.0 * j->M * j->N * (double)j->K / best / 1e9;
}

int main(int argc, char **argv) {
    int threads = 1, quick = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--quick") == 0) quick = 1;
        else {
            fprintf(stderr, "usage: bench_gemm [--threads N] [--quick]\n");
            return 2;
        }
    }
    dn_threads_set(threads);
    openblas_set_num_threads(threads);
    double mt = quick ? 0.1 : 1.0;
    /* {name, M, N, K, Cin, H}: the 3x3 convolutions of the shipped U-Nets (widths 32, 64, 64 at
     * 32x32 / 16x16 / 8x8 for pets, 28 / 14 / 7 for fashion), batch 1 */
    static const struct {
        const char *name;
        int M, N, K, Cin, H;
    } rows[] = {
        {"sgemm_1024", 1024, 1024, 1024, 0, 0},
        {"conv_32x32_c32_32", 32, 1024, 288, 32, 32},   /* level 0 ResBlock */
        {"conv_32x32_c96_32", 32, 1024, 864, 96, 32},   /* level 0 up: concat(64 + 32) */
        {"conv_16x16_c64_64", 64, 256, 576, 64, 16},    /* level 1 */
        {"conv_16x16_c128_64", 64, 256, 1152, 128, 16}, /* level 1 up: concat(64 + 64) */
        {"conv_8x8_c64_64", 64, 64, 576, 64, 8},        /* level 2 and middle */
        {"conv_28x28_c32_32", 32, 784, 288, 32, 28},    /* fashion level 0 */
        {"conv_14x14_c64_64", 64, 196, 576, 64, 14},    /* fashion level 1 */
        {"conv_32x32_c32_3", 3, 1024, 288, 32, 32},     /* conv_out */
    };
    dn_rng r;
    dn_rng_seed(&r, 5, 0);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        int M = rows[i].M, N = rows[i].N, K = rows[i].K;
        float *A = malloc(sizeof(float) * (size_t)M * K), *B = malloc(sizeof(float) * (size_t)K * N);
        float *C = malloc(sizeof(float) * (size_t)M * N), *bias = calloc((size_t)M, sizeof(float));
        if (!A || !B || !C || !bias) {
            fprintf(stderr, "bench_gemm: out of memory\n");
            return 1;
        }
        dn_rng_normal_fill(&r, A, (long)M * K);
        dn_rng_normal_fill(&r, B, (long)K * N); /* conv: the input image, Cin x H x H <= K x N */
        job j = {M, N, K, A, B, C, 0, rows[i].Cin, rows[i].H, rows[i].H, bias};
        double c = gflops(&j, mt);
        j.which = 1;
        double o = gflops(&j, mt);
        printf("%s\t%.2f\t%.2f\n", rows[i].name, c, o);
        if (rows[i].Cin) { /* the convolution itself, against the same OpenBLAS product */
            j.which = 2;
            printf("%s_direct\t%.2f\t%.2f\n", rows[i].name, gflops(&j, mt), o);
        }
        fflush(stdout);
        free(A), free(B), free(C), free(bias);
    }
    printf("# kernels: %s (%s, %d x %d tile)\n", dn_kernels_get()->name, dn_kernels_get()->description,
           dn_kernels_get()->mr, dn_kernels_get()->nr);
    return 0;
}
