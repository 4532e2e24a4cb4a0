/* gemm.c — SGEMM: packing, the register-tiled micro-kernel, and the blocked, threaded driver.
 * Written in plain C with GCC vector extensions (a v16 is 16 floats, one AVX-512 register); the
 * compiler turns `acc += b * a` into fused multiply-adds (this file is built with
 * -ffp-contract=fast, see the Makefile). No intrinsics, no assembly. */
#include "gemm.h"
#include "parallel.h"
#include <assert.h>
#include <string.h>

#define MR DN_GEMM_MR
#define NR DN_GEMM_NR
#define KC DN_GEMM_KC
#define NV (NR / 16) /* vectors per tile row */

typedef float v16 __attribute__((vector_size(64)));

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

void dn_gemm_pack_a(float *dst, const float *A, long rs, long cs, int m, int kc) {
    if (cs == 1) { /* rows contiguous along k: read each row once */
        for (int i = 0; i < m; i++)
            for (int k = 0; k < kc; k++) dst[k * MR + i] = A[i * rs + k];
    } else {
        for (int k = 0; k < kc; k++)
            for (int i = 0; i < m; i++) dst[k * MR + i] = A[i * rs + k * cs];
    }
    for (int k = 0; k < kc; k++)
        for (int i = m; i < MR; i++) dst[k * MR + i] = 0.0f;
}

void dn_gemm_pack_b(float *dst, const float *B, long rs, long cs, int kc, int n) {
    if (cs == 1 && n == NR) {
        for (int k = 0; k < kc; k++) memcpy(dst + k * NR, B + k * rs, NR * sizeof(float));
        return;
    }
    for (int k = 0; k < kc; k++) {
        for (int j = 0; j < n; j++) dst[k * NR + j] = B[k * rs + j * cs];
        for (int j = n; j < NR; j++) dst[k * NR + j] = 0.0f;
    }
}

/* The full MR x NR tile (8 x 32), accumulators in 16 named registers: per k, two vector loads of
 * b and eight broadcasts of a feed 16 fused multiply-adds. Named variables, not an array, so GCC
 * keeps them in registers. */
#if MR != 8 || NR != 32
#error "kernel_full is written for an 8 x 32 tile"
#endif
static inline v16 loadv(const float *p) {
    v16 v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline void storev(float *p, v16 v) { memcpy(p, &v, sizeof v); }

/* The body shared by the micro-kernels: 16 accumulators c<i><v> (row i, vector v), loaded from C
 * or zeroed; per k, BROW(k) gives the k-th row of B (NR floats) and AVAL(k, i) the k-th value of
 * row i of A; then C is stored back. */
#define KERNEL_BODY(BROW, AVAL)                                                                   \
    v16 c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51, c60, c61, c70, c71;           \
    if (load) {                                                                                   \
        c00 = loadv(C + 0 * ldc); c01 = loadv(C + 0 * ldc + 16);                                   \
        c10 = loadv(C + 1 * ldc); c11 = loadv(C + 1 * ldc + 16);                                   \
        c20 = loadv(C + 2 * ldc); c21 = loadv(C + 2 * ldc + 16);                                   \
        c30 = loadv(C + 3 * ldc); c31 = loadv(C + 3 * ldc + 16);                                   \
        c40 = loadv(C + 4 * ldc); c41 = loadv(C + 4 * ldc + 16);                                   \
        c50 = loadv(C + 5 * ldc); c51 = loadv(C + 5 * ldc + 16);                                   \
        c60 = loadv(C + 6 * ldc); c61 = loadv(C + 6 * ldc + 16);                                   \
        c70 = loadv(C + 7 * ldc); c71 = loadv(C + 7 * ldc + 16);                                   \
    } else {                                                                                      \
        c00 = c01 = c10 = c11 = c20 = c21 = c30 = c31 = (v16){0};                                 \
        c40 = c41 = c50 = c51 = c60 = c61 = c70 = c71 = (v16){0};                                 \
    }                                                                                             \
    for (int k = 0; k < kc; k++) {                                                                \
        const float *brow_ = (BROW(k));                                                           \
        v16 b0 = loadv(brow_), b1 = loadv(brow_ + 16);                                            \
        float a_;                                                                                 \
        a_ = AVAL(k, 0); c00 += b0 * a_; c01 += b1 * a_;                                          \
        a_ = AVAL(k, 1); c10 += b0 * a_; c11 += b1 * a_;                                          \
        a_ = AVAL(k, 2); c20 += b0 * a_; c21 += b1 * a_;                                          \
        a_ = AVAL(k, 3); c30 += b0 * a_; c31 += b1 * a_;                                          \
        a_ = AVAL(k, 4); c40 += b0 * a_; c41 += b1 * a_;                                          \
        a_ = AVAL(k, 5); c50 += b0 * a_; c51 += b1 * a_;                                          \
        a_ = AVAL(k, 6); c60 += b0 * a_; c61 += b1 * a_;                                          \
        a_ = AVAL(k, 7); c70 += b0 * a_; c71 += b1 * a_;                                          \
    }                                                                                             \
    storev(C + 0 * ldc, c00); storev(C + 0 * ldc + 16, c01);                                      \
    storev(C + 1 * ldc, c10); storev(C + 1 * ldc + 16, c11);                                      \
    storev(C + 2 * ldc, c20); storev(C + 2 * ldc + 16, c21);                                      \
    storev(C + 3 * ldc, c30); storev(C + 3 * ldc + 16, c31);                                      \
    storev(C + 4 * ldc, c40); storev(C + 4 * ldc + 16, c41);                                      \
    storev(C + 5 * ldc, c50); storev(C + 5 * ldc + 16, c51);                                      \
    storev(C + 6 * ldc, c60); storev(C + 6 * ldc + 16, c61);                                      \
    storev(C + 7 * ldc, c70); storev(C + 7 * ldc + 16, c71);

/* Packed A and packed B (the classic kernel). */
#define PACKED_B(k) (b + (k) * NR)
#define PACKED_A(k, i) (a[(k) * MR + (i)])
static inline void kernel_full(int kc, const float *restrict a, const float *restrict b,
                               float *restrict C, long ldc, int load) {
    KERNEL_BODY(PACKED_B, PACKED_A)
}

/* A as MR rows a_i[k*lda] (any pointers), row k of B at b + boffs[k]. */
#define OFFS_B(k) (b + boffs[k])
#define STRIDED_A(k, i) (a##i[(k) * lda])
#define STRIDED_A_(k, i) STRIDED_A(k, i)
void dn_gemm_kernel_gen(int kc, const float *const a[DN_GEMM_MR], long lda, const float *b,
                        const long *boffs, float *C, long ldc, int load) {
    const float *restrict a0 = a[0], *restrict a1 = a[1], *restrict a2 = a[2], *restrict a3 = a[3];
    const float *restrict a4 = a[4], *restrict a5 = a[5], *restrict a6 = a[6], *restrict a7 = a[7];
    KERNEL_BODY(OFFS_B, STRIDED_A_)
}

void dn_gemm_kernel(int kc, const float *a, const float *b, float *C, long ldc, int m, int n, int load) {
    if (m == MR && n == NR) {
        kernel_full(kc, a, b, C, ldc, load);
        return;
    }
    /* Edge tile: run the same kernel on a full tile in a buffer (so every element is the same
     * sequence of operations as in a full tile), then copy the valid part. */
    float t[MR * NR] __attribute__((aligned(64)));
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) t[i * NR + j] = load ? C[i * ldc + j] : 0.0f;
    kernel_full(kc, a, b, t, NR, 1);
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) C[i * ldc + j] = t[i * NR + j];
}

/* ---- the blocked driver --------------------------------------------------------------------------
 * C is cut into MC x NC tasks; each task loops over K in KC slices: pack its slice of op(A) into
 * MR-row panels and of op(B) into NR-column panels, then run the micro-kernel over every tile.
 * Each element of C belongs to one task and is summed over k in order, for any thread count. */
#define MC 128
#define NC 256

typedef struct {
    int ta, tb, M, N, K, lda, ldb, ldc;
    const float *A, *B;
    float beta, *C;
    int tiles_n; /* number of NC-wide column blocks */
} sgemm_job;

static void sgemm_task(void *vctx, int task) {
    const sgemm_job *g = vctx;
    int i0 = (task / g->tiles_n) * MC, j0 = (task % g->tiles_n) * NC;
    int mb = g->M - i0 < MC ? g->M - i0 : MC, nb = g->N - j0 < NC ? g->N - j0 : NC;
    float *ap = dn_workspace(0, (size_t)MC * KC * sizeof(float));
    float *bp = dn_workspace(1, (size_t)NC * KC * sizeof(float));
    float *C = g->C + (long)i0 * g->ldc + j0;
    if (g->beta != 0.0f && g->beta != 1.0f)
        for (int i = 0; i < mb; i++)
            for (int j = 0; j < nb; j++) C[(long)i * g->ldc + j] *= g->beta;
    /* element (i,k) of op(A) is A[i*ars + k*acs]; element (k,j) of op(B) is B[k*brs + j*bcs] */
    long ars = g->ta ? 1 : g->lda, acs = g->ta ? g->lda : 1;
    long brs = g->tb ? 1 : g->ldb, bcs = g->tb ? g->ldb : 1;
    for (int p0 = 0; p0 < g->K; p0 += KC) {
        int kc = g->K - p0 < KC ? g->K - p0 : KC;
        int load = p0 > 0 || g->beta != 0.0f;
        for (int j = 0; j < nb; j += NR)
            dn_gemm_pack_b(bp + (long)j * kc, g->B + p0 * brs + (j0 + j) * bcs, brs, bcs, kc,
                           nb - j < NR ? nb - j : NR);
        for (int i = 0; i < mb; i += MR)
            dn_gemm_pack_a(ap + (long)i * kc, g->A + (i0 + i) * ars + p0 * acs, ars, acs,
                           mb - i < MR ? mb - i : MR, kc);
        for (int j = 0; j < nb; j += NR)
            for (int i = 0; i < mb; i += MR)
                dn_gemm_kernel(kc, ap + (long)i * kc, bp + (long)j * kc, C + (long)i * g->ldc + j,
                               g->ldc, mb - i < MR ? mb - i : MR, nb - j < NR ? nb - j : NR, load);
    }
}

void dn_sgemm(int ta, int tb, int M, int N, int K, const float *A, int lda, const float *B, int ldb,
              float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) { /* empty sum: C = beta C */
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) C[(long)i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[(long)i * ldc + j];
        return;
    }
    sgemm_job g = {ta, tb, M, N, K, lda, ldb, ldc, A, B, beta, C, (N + NC - 1) / NC};
    dn_parallel_for(((M + MC - 1) / MC) * g.tiles_n, sgemm_task, &g);
}
