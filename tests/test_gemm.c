/* test_gemm.c — the packed, blocked SGEMM equals the naive triple loop (double accumulation) to
 * float rounding for every transposition, odd and edge sizes, leading dimensions wider than the
 * matrix, and beta 0 / 1 / other; and it gives the same bits for 1, 2, 3 and 4 threads. */
#include "testutil.h"
#include "gemm.h"
#include "parallel.h"
#include "rng.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* 64-byte aligned floats (aligned_alloc wants a size that is a multiple of the alignment) */
static float *falign(long n) {
    float *p = aligned_alloc(64, (size_t)(n + 15) / 16 * 64);
    assert_non_null(p);
    return p;
}

static float *randn(dn_rng *r, long n) {
    float *p = malloc((size_t)n * sizeof(float));
    assert_non_null(p);
    dn_rng_normal_fill(r, p, n);
    return p;
}

/* Tolerance: the fast kernel sums K products in float (fused multiply-adds, blocked by KC), the
 * oracle in double, so |fast - exact| <= ~K eps sum|a b| in the worst case and ~sqrt(K) eps in
 * practice. We allow 4e-6 sqrt(K) * (sum_k |a_ik b_kj|) + 1e-6 |beta c|, i.e. about
 * 30 sqrt(K) ulps of the scale of the terms: tight enough to catch a missing or repeated term. */
static void check_case(dn_rng *r, int ta, int tb, int M, int N, int K, int pad, float beta) {
    int lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
    long na = (long)(ta ? K : M) * lda, nb = (long)(tb ? N : K) * ldb, nc = (long)M * ldc;
    float *A = randn(r, na), *B = randn(r, nb), *C0 = randn(r, nc);
    float *C = malloc((size_t)nc * sizeof(float)), *R = malloc((size_t)nc * sizeof(float));
    memcpy(C, C0, (size_t)nc * sizeof(float));
    memcpy(R, C0, (size_t)nc * sizeof(float));
    if (beta == 0.0f)
        for (long i = 0; i < nc; i++) C[i] = NAN; /* beta 0 must overwrite, never read C */
    dn_sgemm(ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc);
    dn_sgemm_naive(ta, tb, M, N, K, A, lda, B, ldb, beta, R, ldc);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double mag = 0.0;
            for (int k = 0; k < K; k++) {
                float a = ta ? A[(long)k * lda + i] : A[(long)i * lda + k];
                float b = tb ? B[(long)j * ldb + k] : B[(long)k * ldb + j];
                mag += fabs((double)a * (double)b);
            }
            double tol = 4e-6 * sqrt((double)K + 1) * mag + 1e-6 * fabs((double)beta * (double)C0[(long)i * ldc + j]) + 1e-30;
            long at = (long)i * ldc + j;
            if (!(fabs((double)C[at] - (double)R[at]) <= tol)) {
                print_error("sgemm ta=%d tb=%d M=%d N=%d K=%d beta=%g: C[%d,%d] = %.9g, want %.9g\n",
                            ta, tb, M, N, K, (double)beta, i, j, (double)C[at], (double)R[at]);
                fail();
            }
        }
    /* padding columns of C are never written */
    for (int i = 0; i < M; i++)
        for (int j = N; j < ldc; j++) {
            long at = (long)i * ldc + j;
            if (beta == 0.0f) assert_true(isnan(C[at]));
            else assert_true(C[at] == C0[at]);
        }
    free(A); free(B); free(C0); free(C); free(R);
}

static void matches_naive(void **state) {
    (void)state;
    dn_rng r;
    dn_rng_seed(&r, 11, 0);
    /* sizes around the tile (8 x 32), the KC slice (256) and the MC x NC task block (128 x 256) */
    const int sizes[][3] = {{1, 1, 1},    {7, 5, 3},     {8, 32, 16},   {9, 33, 17},   {3, 100, 27},
                            {64, 64, 64}, {37, 29, 257}, {130, 70, 9},  {17, 259, 31}, {129, 257, 513}};
    const float betas[] = {0.0f, 1.0f, 0.5f};
    for (unsigned s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (int t = 0; t < 4; t++)
            check_case(&r, t & 1, t >> 1, sizes[s][0], sizes[s][1], sizes[s][2], (int)(s % 3) * 3,
                       betas[(s + (unsigned)t) % 3]);
}

static void same_bits_any_threads(void **state) {
    (void)state;
    dn_rng r;
    dn_rng_seed(&r, 12, 0);
    int M = 300, N = 530, K = 600;
    float *A = randn(&r, (long)M * K), *B = randn(&r, (long)K * N), *C0 = randn(&r, (long)M * N);
    float *ref = malloc((size_t)M * N * sizeof(float)), *C = malloc((size_t)M * N * sizeof(float));
    for (int th = 1; th <= 4; th++) {
        dn_threads_set(th);
        memcpy(C, C0, (size_t)M * N * sizeof(float));
        dn_sgemm(0, 1, M, N, K, A, K, B, K, 1.0f, C, N); /* B read as (N,K) transposed */
        if (th == 1) memcpy(ref, C, (size_t)M * N * sizeof(float));
        else assert_memory_equal(C, ref, (size_t)M * N * sizeof(float));
    }
    dn_threads_set(1);
    free(A); free(B); free(C0); free(ref); free(C);
}

/* The micro-kernel alone: an edge tile gives the same bits as the same rows/columns of a full tile
 * (so the position of an element in the blocking never changes its value). */
static void edge_tile_same_bits(void **state) {
    (void)state;
    dn_rng r;
    dn_rng_seed(&r, 13, 0);
    int kc = 37;
    float *a = falign((long)kc * DN_GEMM_MR);
    float *b = falign((long)kc * DN_GEMM_NR);
    dn_rng_normal_fill(&r, a, (long)kc * DN_GEMM_MR);
    dn_rng_normal_fill(&r, b, (long)kc * DN_GEMM_NR);
    float full[DN_GEMM_MR * DN_GEMM_NR], edge[DN_GEMM_MR * DN_GEMM_NR];
    dn_gemm_kernel(kc, a, b, full, DN_GEMM_NR, DN_GEMM_MR, DN_GEMM_NR, 0);
    for (int m = 1; m <= DN_GEMM_MR; m += 3)
        for (int n = 1; n <= DN_GEMM_NR; n += 5) {
            for (int i = 0; i < DN_GEMM_MR * DN_GEMM_NR; i++) edge[i] = -7.0f;
            dn_gemm_kernel(kc, a, b, edge, DN_GEMM_NR, m, n, 0);
            for (int i = 0; i < DN_GEMM_MR; i++)
                for (int j = 0; j < DN_GEMM_NR; j++) {
                    if (i < m && j < n) assert_true(edge[i * DN_GEMM_NR + j] == full[i * DN_GEMM_NR + j]);
                    else assert_true(edge[i * DN_GEMM_NR + j] == -7.0f); /* outside: untouched */
                }
        }
    free(a); free(b);
}

/* The in-place kernel (conv2d's) is the same arithmetic as the packed one: rows of A through
 * strided pointers and rows of B at arbitrary offsets give the same bits as packed copies. */
static void kernel_gen_same_bits(void **state) {
    (void)state;
    dn_rng r;
    dn_rng_seed(&r, 14, 0);
    int kc = 45, MR = DN_GEMM_MR, NR = DN_GEMM_NR;
    long lda = 3, nbuf = 4000;
    float *abuf = malloc((size_t)nbuf * sizeof(float)), *bbuf = malloc((size_t)nbuf * sizeof(float));
    dn_rng_normal_fill(&r, abuf, nbuf);
    dn_rng_normal_fill(&r, bbuf, nbuf);
    const float *a[DN_GEMM_MR];
    long boffs[45];
    for (int i = 0; i < MR; i++) a[i] = abuf + 7 * i + (i % 3); /* rows overlap: any pointers */
    for (int k = 0; k < kc; k++) boffs[k] = (long)dn_rng_below(&r, (uint32_t)(nbuf - NR));
    float *ap = falign((long)kc * MR);
    float *bp = falign((long)kc * NR);
    for (int k = 0; k < kc; k++) {
        for (int i = 0; i < MR; i++) ap[k * MR + i] = a[i][k * lda];
        for (int j = 0; j < NR; j++) bp[k * NR + j] = bbuf[boffs[k] + j];
    }
    float c1[DN_GEMM_MR * DN_GEMM_NR], c2[DN_GEMM_MR * DN_GEMM_NR];
    for (int load = 0; load < 2; load++) {
        dn_rng_normal_fill(&r, c1, MR * NR);
        memcpy(c2, c1, sizeof c1);
        dn_gemm_kernel(kc, ap, bp, c1, NR, MR, NR, load);
        dn_gemm_kernel_gen(kc, a, lda, bbuf, boffs, c2, NR, load);
        assert_memory_equal(c1, c2, sizeof c1);
        /* and against the double-precision sum */
        for (int i = 0; i < MR; i++)
            for (int j = 0; j < NR; j++) {
                double want = 0, mag = 0;
                for (int k = 0; k < kc; k++) {
                    want += (double)a[i][k * lda] * (double)bbuf[boffs[k] + j];
                    mag += fabs((double)a[i][k * lda] * (double)bbuf[boffs[k] + j]);
                }
                if (!load) tu_assert_close("kernel_gen", i * NR + j, (double)c1[i * NR + j], want, 4e-6 * sqrt(kc) * mag, 0);
            }
    }
    free(abuf); free(bbuf); free(ap); free(bp);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(matches_naive),
        cmocka_unit_test(same_bits_any_threads),
        cmocka_unit_test(edge_tile_same_bits),
        cmocka_unit_test(kernel_gen_same_bits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
