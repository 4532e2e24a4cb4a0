/* bench_gemm.c — dn_sgemm against Debian's OpenBLAS (cblas_sgemm) on the same machine, in the
 * same run, with the same number of threads: a 1024^3 product and the products behind the
 * convolutions of the shipped U-Nets (M = output channels, N = pixels, K = input channels x 9),
 * plus dn_conv2d_forward itself on those layers (what the U-Net really runs: the implicit-im2col
 * GEMM of nn_conv.c, against OpenBLAS on the already unrolled matrix, which flatters OpenBLAS).
 * Run by scripts/bench.sh (`make bench`) once per kernel copy (DN_KERNELS=avx2, ...).
 *
 * Before timing, each OpenBLAS product is checked against dn_sgemm_naive (an OpenBLAS kernel
 * that computes wrong results on this CPU would make the comparison meaningless).
 *
 * usage: bench_gemm [--threads N] [--quick]   rows for the kernels in use (DN_KERNELS chooses)
 *        bench_gemm --list                     the copies of the kernels this CPU runs
 * Prints one line per row: name <TAB> C GFLOP/s <TAB> OpenBLAS GFLOP/s, then "# " lines: the
 * kernels, OpenBLAS's kernel for this CPU and the largest relative error of its products. */
#include "base/err.h"
#include "nn/gemm.h"
#include "nn/kernels.h"
#include "nn/nn.h"
#include "base/parallel.h"
#include "base/rng.h"
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <math.h>

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

/* max |openblas - naive| / max |naive| over C (M x N) */
static double openblas_error(int M, int N, int K, const float *A, const float *B, float *C) {
    float *R = malloc(sizeof(float) * (size_t)M * N);
    if (!R) return INFINITY;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, A, K, B, N, 0.0f, C, N);
    dn_sgemm_naive(0, 0, M, N, K, A, K, B, N, 0.0f, R, N);
    double worst = 0, scale = 0;
    for (long i = 0; i < (long)M * N; i++) {
        worst = fmax(worst, fabs((double)C[i] - (double)R[i]));
        scale = fmax(scale, fabs((double)R[i]));
    }
    free(R);
    return worst / (scale > 0 ? scale : 1);
}

int main(int argc, char **argv) {
    int threads = 1, quick = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--quick") == 0) quick = 1;
        else if (strcmp(argv[i], "--list") == 0) {
            int n;
            const dn_kernels *const *all = dn_kernels_all(&n);
            for (int k = 0; k < n; k++)
                if (dn_kernels_supported(all[k])) printf("%s\n", all[k]->name);
            return 0;
        }
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
    double blas_err = 0;
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
        blas_err = fmax(blas_err, openblas_error(M, N, K, A, B, C));
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
    printf("# openblas: %s core, %d thread(s), largest relative error of its products %.2g%s\n", openblas_get_corename(),
           openblas_get_num_threads(), blas_err, blas_err < 1e-5 ? "" : " (WRONG RESULTS: do not trust its times)");
    return 0;
}
