/* gemm.c — SGEMM: packing, the register-tiled micro-kernel, and the blocked, threaded driver.
 * A kernel file (isa.h): compiled once per instruction set, each copy with its own register tile
 * and vector type; the micro-kernel calls one explicit fused multiply-add per term (vf_fma), so
 * no copy depends on how a compiler contracts `a * b + c`. No assembly. */
#include "gemm.h"
#include "isa.h"
#include "parallel.h"
#include <assert.h>
#include <string.h>

#define MR DN_GEMM_MR
#define NR DN_GEMM_NR
#define NV DN_GEMM_NV
#define VL DN_VL
#define KC DN_GEMM_KC

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

/* The MR x NR tile: MR x NV accumulator vectors c[i][v] (row i, columns v*VL ..), loaded from C
 * or zeroed; per k, NV vector loads of row k of B and MR broadcasts of column k of A feed MR*NV
 * fused multiply-adds; then C is stored back. BROW(k) gives row k of B (NR floats), AVAL(k, i)
 * element (i, k) of A. The loops have constant bounds and are unrolled, so the accumulators live
 * in registers (isa.h's table counts them). */
#define KERNEL_BODY(BROW, AVAL)                                                                   \
    dn_vf c[MR][NV];                                                                              \
    _Pragma("GCC unroll 16") for (int i = 0; i < MR; i++)                                         \
        _Pragma("GCC unroll 16") for (int v = 0; v < NV; v++)                                     \
            c[i][v] = load ? vf_load(C + i * ldc + v * VL) : vf_zero();                           \
    for (int k = 0; k < kc; k++) {                                                                \
        const float *brow_ = (BROW(k));                                                           \
        dn_vf b_[NV];                                                                             \
        _Pragma("GCC unroll 16") for (int v = 0; v < NV; v++) b_[v] = vf_load(brow_ + v * VL);    \
        _Pragma("GCC unroll 16") for (int i = 0; i < MR; i++) {                                   \
            dn_vf a_ = vf_set1(AVAL(k, i));                                                       \
            _Pragma("GCC unroll 16") for (int v = 0; v < NV; v++) c[i][v] = vf_fma(a_, b_[v], c[i][v]); \
        }                                                                                         \
    }                                                                                             \
    _Pragma("GCC unroll 16") for (int i = 0; i < MR; i++)                                         \
        _Pragma("GCC unroll 16") for (int v = 0; v < NV; v++) vf_store(C + i * ldc + v * VL, c[i][v]);

/* Packed A and packed B (the classic kernel). */
#define PACKED_B(k) (b + (k) * NR)
#define PACKED_A(k, i) (a[(k) * MR + (i)])
static inline void kernel_full(int kc, const float *restrict a, const float *restrict b,
                               float *restrict C, long ldc, int load) {
    KERNEL_BODY(PACKED_B, PACKED_A)
}

/* A as MR rows ap[i][k*lda] (any pointers), row k of B at b + boffs[k]. */
#define OFFS_B(k) (b + boffs[k])
#define STRIDED_A(k, i) (ap[i][(k) * lda])
void dn_gemm_kernel_gen(int kc, const float *const *a, long lda, const float *b,
                        const long *boffs, float *C, long ldc, int load) {
    const float *ap[MR];
    for (int i = 0; i < MR; i++) ap[i] = a[i];
    KERNEL_BODY(OFFS_B, STRIDED_A)
}

void dn_gemm_kernel(int kc, const float *a, const float *b, float *C, long ldc, int m, int n, int load) {
    if (m == MR && n == NR) {
        kernel_full(kc, a, b, C, ldc, load);
        return;
    }
    /* Edge tile: run the same kernel on a full tile in a buffer (so every element is the same
     * sequence of operations as in a full tile), then copy the valid part. */
    _Alignas(64) float t[MR * NR];
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) t[i * NR + j] = load ? C[i * ldc + j] : 0.0f;
    kernel_full(kc, a, b, t, NR, 1);
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) C[i * ldc + j] = t[i * NR + j];
}

/* ---- the blocked driver --------------------------------------------------------------------------
 * First op(A) and op(B) are packed once, whole: A into MR-row panels (panel p holds rows
 * p*MR .. p*MR+MR-1 for every k, column k at k*MR), B into NR-column panels (column panel q, row k
 * at k*NR), one task per panel. Then C is cut into MC x NC tasks; each loops over K in KC slices
 * and runs the micro-kernel over every tile of its block: a KC x NR slice of a B panel stays in L1
 * while it meets the MC/MR panels of A, whose KC-deep slices stay in L2. Each element of C belongs
 * to one task and is summed over k in order, for any thread count. */
#define MC (128 / MR * MR) /* a whole number of tiles */
#define NC 256

typedef struct {
    int M, N, K, ldc;
    const float *A, *B;
    long ars, acs, brs, bcs; /* element (i,k) of op(A) is A[i*ars + k*acs]; (k,j) of op(B) B[k*brs + j*bcs] */
    float beta, *C;
    float *ap, *bp;          /* the packed panels: A panel p at ap + p*MR*K, B panel q at bp + q*NR*K */
    int na, tiles_n;         /* A panels (the B panels follow them as pack tasks); NC-wide column blocks */
} sgemm_job;

static int imin(int a, int b) { return a < b ? a : b; }

static void pack_task(void *vctx, int task) {
    const sgemm_job *g = vctx;
    if (task < g->na) {
        int i0 = task * MR;
        dn_gemm_pack_a(g->ap + (long)task * MR * g->K, g->A + i0 * g->ars, g->ars, g->acs, imin(MR, g->M - i0), g->K);
    } else {
        int q = task - g->na, j0 = q * NR;
        dn_gemm_pack_b(g->bp + (long)q * NR * g->K, g->B + j0 * g->bcs, g->brs, g->bcs, g->K, imin(NR, g->N - j0));
    }
}

static void sgemm_task(void *vctx, int task) {
    const sgemm_job *g = vctx;
    int i0 = (task / g->tiles_n) * MC, j0 = (task % g->tiles_n) * NC;
    int mb = imin(MC, g->M - i0), nb = imin(NC, g->N - j0);
    float *C = g->C + (long)i0 * g->ldc + j0;
    if (g->beta != 0.0f && g->beta != 1.0f)
        for (int i = 0; i < mb; i++)
            for (int j = 0; j < nb; j++) C[(long)i * g->ldc + j] *= g->beta;
    for (int p0 = 0; p0 < g->K; p0 += KC) {
        int kc = imin(KC, g->K - p0), load = p0 > 0 || g->beta != 0.0f;
        for (int j = 0; j < nb; j += NR) {
            const float *b = g->bp + (long)((j0 + j) / NR) * NR * g->K + (long)p0 * NR;
            for (int i = 0; i < mb; i += MR)
                dn_gemm_kernel(kc, g->ap + (long)((i0 + i) / MR) * MR * g->K + (long)p0 * MR, b,
                               C + (long)i * g->ldc + j, g->ldc, imin(MR, mb - i), imin(NR, nb - j), load);
        }
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
    int na = (M + MR - 1) / MR, nbp = (N + NR - 1) / NR;
    /* slots 0 and 1 of the calling thread's workspace (callers inside a kernel use slots 2, 3) */
    float *ap = dn_workspace(0, (size_t)na * MR * K * sizeof(float));
    float *bp = dn_workspace(1, (size_t)nbp * NR * K * sizeof(float));
    sgemm_job g = {M, N, K, ldc, A, B, ta ? 1 : lda, ta ? lda : 1, tb ? 1 : ldb, tb ? ldb : 1,
                   beta, C, ap, bp, na, (N + NC - 1) / NC};
    dn_parallel_for(na + nbp, pack_task, &g);
    dn_parallel_for(((M + MC - 1) / MC) * g.tiles_n, sgemm_task, &g);
}
