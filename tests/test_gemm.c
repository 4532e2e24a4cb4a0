/* test_gemm.c — the packed, blocked SGEMM equals the naive triple loop (double accumulation) to
 * float rounding for every transposition, odd and edge sizes, leading dimensions wider than the
 * matrix, and beta 0 / 1 / other; and it gives the same bits for 1, 2, 3 and 4 threads. */
#include "testutil.h"
#include "nn/gemm.h"
#include "nn/kernels.h"
#include "base/parallel.h"
#include "base/rng.h"
#include <math.h>
#include <stdio.h>
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

/* The micro-kernel alone, for every copy this CPU runs (kernels.h): an edge tile gives the same
 * bits as the same rows/columns of a full tile (so the position of an element in the blocking
 * never changes its value). */
static void edge_tile_same_bits(void **state) {
    (void)state;
    int ncopies;
    const dn_kernels *const *all = dn_kernels_all(&ncopies);
    for (int c = 0; c < ncopies; c++) {
        const dn_kernels *K = all[c];
        if (!dn_kernels_supported(K)) continue;
        int MR = K->mr, NR = K->nr, kc = 37;
        dn_rng r;
        dn_rng_seed(&r, 13, 0);
        float *a = falign((long)kc * MR), *b = falign((long)kc * NR);
        float *full = falign(MR * NR), *edge = falign(MR * NR);
        dn_rng_normal_fill(&r, a, (long)kc * MR);
        dn_rng_normal_fill(&r, b, (long)kc * NR);
        K->gemm_kernel(kc, a, b, full, NR, MR, NR, 0);
        for (int m = 1; m <= MR; m += 3)
            for (int n = 1; n <= NR; n += 5) {
                for (int i = 0; i < MR * NR; i++) edge[i] = -7.0f;
                K->gemm_kernel(kc, a, b, edge, NR, m, n, 0);
                for (int i = 0; i < MR; i++)
                    for (int j = 0; j < NR; j++) {
                        if (i < m && j < n) assert_true(edge[i * NR + j] == full[i * NR + j]);
                        else assert_true(edge[i * NR + j] == -7.0f); /* outside: untouched */
                    }
            }
        printf("# %s: %d x %d tile, edge tiles ok\n", K->name, MR, NR);
        free(a), free(b), free(full), free(edge);
    }
}

/* The in-place kernel (conv2d's) is the same arithmetic as the packed one: rows of A through
 * strided pointers and rows of B at arbitrary offsets give the same bits as packed copies; and
 * both are the fmaf chain of gemm.h, whatever the copy. */
static void kernel_gen_same_bits(void **state) {
    (void)state;
    int ncopies;
    const dn_kernels *const *all = dn_kernels_all(&ncopies);
    for (int c = 0; c < ncopies; c++) {
        const dn_kernels *K = all[c];
        if (!dn_kernels_supported(K)) continue;
        dn_rng r;
        dn_rng_seed(&r, 14, 0);
        int kc = 45, MR = K->mr, NR = K->nr;
        long lda = 3, nbuf = 4000;
        float *abuf = malloc((size_t)nbuf * sizeof(float)), *bbuf = malloc((size_t)nbuf * sizeof(float));
        dn_rng_normal_fill(&r, abuf, nbuf);
        dn_rng_normal_fill(&r, bbuf, nbuf);
        const float **a = malloc(sizeof(float *) * (size_t)MR);
        long boffs[45];
        for (int i = 0; i < MR; i++) a[i] = abuf + 7 * i + (i % 3); /* rows overlap: any pointers */
        for (int k = 0; k < kc; k++) boffs[k] = (long)dn_rng_below(&r, (uint32_t)(nbuf - NR));
        float *ap = falign((long)kc * MR), *bp = falign((long)kc * NR);
        for (int k = 0; k < kc; k++) {
            for (int i = 0; i < MR; i++) ap[k * MR + i] = a[i][k * lda];
            for (int j = 0; j < NR; j++) bp[k * NR + j] = bbuf[boffs[k] + j];
        }
        float *c1 = falign(MR * NR), *c2 = falign(MR * NR), *c3 = falign(MR * NR);
        for (int load = 0; load < 2; load++) {
            dn_rng_normal_fill(&r, c1, MR * NR);
            memcpy(c2, c1, sizeof(float) * (size_t)(MR * NR));
            memcpy(c3, c1, sizeof(float) * (size_t)(MR * NR));
            K->gemm_kernel(kc, ap, bp, c1, NR, MR, NR, load);
            K->gemm_kernel_gen(kc, a, lda, bbuf, boffs, c2, NR, MR, NR, load);
            assert_memory_equal(c1, c2, sizeof(float) * (size_t)(MR * NR));
            for (int m = 1; m < MR; m++) { /* fewer rows: the same bits in those, the rest untouched */
                float *c4 = falign(MR * NR);
                memcpy(c4, c3, sizeof(float) * (size_t)(MR * NR));
                K->gemm_kernel_gen(kc, a, lda, bbuf, boffs, c4, NR, m, NR, load);
                assert_memory_equal(c4, c1, sizeof(float) * (size_t)(m * NR));
                assert_memory_equal(c4 + m * NR, c3 + m * NR, sizeof(float) * (size_t)((MR - m) * NR));
                free(c4);
            }
            { /* one column wanted: the first vector of every row computed, the same bits */
                float *c5 = falign(MR * NR);
                memcpy(c5, c3, sizeof(float) * (size_t)(MR * NR));
                K->gemm_kernel_gen(kc, a, lda, bbuf, boffs, c5, NR, MR, 1, load);
                for (int i = 0; i < MR; i++) assert_true(memcmp(&c5[i * NR], &c1[i * NR], sizeof(float)) == 0);
                free(c5);
            }
            for (int i = 0; i < MR; i++)
                for (int j = 0; j < NR; j++) {
                    float s = load ? c3[i * NR + j] : 0.0f; /* the chain */
                    for (int k = 0; k < kc; k++) s = fmaf(a[i][k * lda], bbuf[boffs[k] + j], s);
                    assert_true(memcmp(&s, &c1[i * NR + j], sizeof s) == 0);
                }
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
        free(abuf), free(bbuf), free(ap), free(bp), free(c1), free(c2), free(c3), free(a);
    }
}

/* dn_sgemm of every copy this CPU runs is gemm.h's chain, bit for bit: transpositions, edge and
 * odd sizes, K across several KC slices, beta 0 / 1 / other, 1 and 2 threads. */
static void every_copy_is_the_chain(void **state) {
    (void)state;
    static const int shapes[][3] = {{1, 1, 1}, {7, 5, 3}, {13, 33, 17}, {64, 64, 64}, {70, 130, 300},
                                    {129, 257, 520}, {6, 16, 1}, {3, 1000, 9}};
    static const float betas[] = {0.0f, 1.0f, 0.5f};
    int ncopies;
    const dn_kernels *const *all = dn_kernels_all(&ncopies);
    const dn_kernels *before = dn_kernels_get();
    dn_rng r;
    dn_rng_seed(&r, 21, 0);
    for (int c = 0; c < ncopies; c++) {
        if (!dn_kernels_supported(all[c])) continue;
        assert_int_equal(dn_kernels_use(all[c]->name), 0);
        int cases = 0;
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            for (int t = 0; t < 4; t++) {
                int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2], ta = t & 1, tb = t >> 1;
                float beta = betas[(s + (size_t)t) % 3];
                int lda = (ta ? M : K) + 1, ldb = (tb ? K : N) + 2, ldc = N + 3;
                long na = (long)(ta ? K : M) * lda, nb = (long)(tb ? N : K) * ldb, nc = (long)M * ldc;
                float *A = randn(&r, na), *B = randn(&r, nb), *C = randn(&r, nc);
                float *want = malloc(sizeof(float) * (size_t)nc);
                memcpy(want, C, sizeof(float) * (size_t)nc);
                dn_sgemm_chain(ta, tb, M, N, K, A, lda, B, ldb, beta, want, ldc);
                dn_threads_set(1 + (t & 1));
                dn_sgemm(ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc);
                dn_threads_set(1);
                if (memcmp(C, want, sizeof(float) * (size_t)nc) != 0) {
                    for (long i = 0; i < nc; i++)
                        if (memcmp(&C[i], &want[i], sizeof(float)))
                            fail_msg("%s: sgemm ta=%d tb=%d %dx%dx%d beta=%g: C[%ld] = %.9g, the chain %.9g",
                                     all[c]->name, ta, tb, M, N, K, (double)beta, i, (double)C[i], (double)want[i]);
                }
                cases++;
                free(A), free(B), free(C), free(want);
            }
        printf("# %s (%s, %d x %d tile): %d products equal the fmaf chain bit for bit\n", all[c]->name,
               all[c]->description, all[c]->mr, all[c]->nr, cases);
    }
    assert_int_equal(dn_kernels_use(before->name), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(matches_naive),
        cmocka_unit_test(same_bits_any_threads),
        cmocka_unit_test(edge_tile_same_bits),
        cmocka_unit_test(kernel_gen_same_bits),
        cmocka_unit_test(every_copy_is_the_chain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
