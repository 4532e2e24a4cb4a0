/* gemm.c — SGEMM: packing, the register-tiled micro-kernel, and the blocked, threaded driver.
 * A kernel file (isa.h): compiled once per instruction set, each copy with its own register tile
 * and vector type; the micro-kernel calls one explicit fused multiply-add per term (vf_fma), so
 * no copy depends on how a compiler contracts `a * b + c`. No assembly. */
#include "nn/gemm.h"
#include "nn/isa.h"
#include "base/parallel.h"
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

/* The micro-kernel: ROWS x NVEC accumulator vectors c[i][v] (row i, columns v*VL ..), loaded from
 * C or zeroed; per k, NVEC vector loads of row k of B and ROWS broadcasts of column k of A feed
 * ROWS*NVEC fused multiply-adds; then C is stored back. BROW(k) gives row k of B, AVAL(k, i)
 * element (i, k) of A. A full tile is MR x NV vectors (MR x NR floats); at the bottom and right
 * edges of C fewer rows or vectors are computed. ROWS and NVEC are constants in every copy of the
 * body (BY_ROWS below), and all loops have constant bounds and are unrolled, so the accumulators
 * live in registers (isa.h's table counts them). */
#define KERNEL_BODY(ROWS, NVEC, BROW, AVAL)                                                       \
    dn_vf c[MR][NV];                                                                              \
    _Pragma("GCC unroll 16") for (int i = 0; i < (ROWS); i++)                                     \
        _Pragma("GCC unroll 16") for (int v = 0; v < (NVEC); v++)                                 \
            c[i][v] = load ? vf_load(C + i * ldc + v * VL) : vf_zero();                           \
    for (int k = 0; k < kc; k++) {                                                                \
        const float *brow_ = (BROW(k));                                                           \
        dn_vf b_[NV];                                                                             \
        _Pragma("GCC unroll 16") for (int v = 0; v < (NVEC); v++) b_[v] = vf_load(brow_ + v * VL); \
        _Pragma("GCC unroll 16") for (int i = 0; i < (ROWS); i++) {                               \
            dn_vf a_ = vf_set1(AVAL(k, i));                                                       \
            _Pragma("GCC unroll 16") for (int v = 0; v < (NVEC); v++) c[i][v] = vf_fma(a_, b_[v], c[i][v]); \
        }                                                                                         \
    }                                                                                             \
    _Pragma("GCC unroll 16") for (int i = 0; i < (ROWS); i++)                                     \
        _Pragma("GCC unroll 16") for (int v = 0; v < (NVEC); v++) vf_store(C + i * ldc + v * VL, c[i][v]);

/* One copy of the body per row count m = 1 .. MR: CALL(r) with r a constant. */
#if MR > 8
#error "BY_ROWS is written for MR <= 8"
#endif
#if MR > 5
#define BY_ROWS_4_5(CALL) case 4: CALL(4); break; case 5: CALL(5); break;
#elif MR > 4
#define BY_ROWS_4_5(CALL) case 4: CALL(4); break;
#else
#define BY_ROWS_4_5(CALL)
#endif
#if MR > 7
#define BY_ROWS_6_7(CALL) case 6: CALL(6); break; case 7: CALL(7); break;
#elif MR > 6
#define BY_ROWS_6_7(CALL) case 6: CALL(6); break;
#else
#define BY_ROWS_6_7(CALL)
#endif
#define BY_ROWS(m, CALL)                                                                          \
    switch (m) {                                                                                  \
    case 1: CALL(1); break;                                                                       \
    case 2: CALL(2); break;                                                                       \
    case 3: CALL(3); break;                                                                       \
    BY_ROWS_4_5(CALL)                                                                             \
    BY_ROWS_6_7(CALL)                                                                             \
    default: CALL(MR); break;                                                                     \
    }

/* Packed A and packed B (the classic kernel): rows 0 .. rows-1 of C, nvec vectors of columns. */
#define PACKED_B(k) (b + (k) * NR)
#define PACKED_A(k, i) (a[(k) * MR + (i)])
static inline __attribute__((always_inline)) void tile_packed(const int rows, const int nvec, int kc,
                                                              const float *restrict a, const float *restrict b,
                                                              float *restrict C, long ldc, int load) {
    KERNEL_BODY(rows, nvec, PACKED_B, PACKED_A)
}
/* m rows, nv vectors: all NV, or one (a narrow right edge); other widths compute all NV */
static void kernel_packed(int kc, const float *a, const float *b, float *C, long ldc, int m, int nv, int load) {
#define CALL_PACKED(r) tile_packed(r, NV, kc, a, b, C, ldc, load)
#define CALL_PACKED1(r) tile_packed(r, 1, kc, a, b, C, ldc, load)
    if (NV > 1 && nv == 1) {
        BY_ROWS(m, CALL_PACKED1)
    } else {
        BY_ROWS(m, CALL_PACKED)
    }
}

/* A as rows ap[i][k*lda] (any pointers), row k of B at b + boffs[k]. */
#define OFFS_B(k) (b + boffs[k])
#define STRIDED_A(k, i) (ap[i][(k) * lda])
static inline __attribute__((always_inline)) void tile_gen(const int rows, const int nvec, int kc,
                                                           const float *const *a, long lda, const float *b,
                                                           const long *boffs, float *C, long ldc, int load) {
    const float *ap[MR];
    for (int i = 0; i < rows; i++) ap[i] = a[i];
    KERNEL_BODY(rows, nvec, OFFS_B, STRIDED_A)
}
void dn_gemm_kernel_gen(int kc, const float *const *a, long lda, const float *b, const long *boffs, float *C,
                        long ldc, int m, int n, int load) {
#define CALL_GEN(r) tile_gen(r, NV, kc, a, lda, b, boffs, C, ldc, load)
#define CALL_GEN1(r) tile_gen(r, 1, kc, a, lda, b, boffs, C, ldc, load)
    if (NV > 1 && n <= VL) {
        BY_ROWS(m, CALL_GEN1)
    } else {
        BY_ROWS(m, CALL_GEN)
    }
}

void dn_gemm_kernel(int kc, const float *a, const float *b, float *C, long ldc, int m, int n, int load) {
    if (n == NR) {
        kernel_packed(kc, a, b, C, ldc, m, NV, load);
        return;
    }
    /* Right edge: the same kernel on a tile buffer as wide as the vectors it needs (so every
     * element is the same sequence of operations as in a full tile), then copy the valid part. */
    _Alignas(64) float t[MR * NR];
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) t[i * NR + j] = load ? C[i * ldc + j] : 0.0f;
    kernel_packed(kc, a, b, t, NR, m, (n + VL - 1) / VL, 1);
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) C[i * ldc + j] = t[i * NR + j];
}

/* ---- the blocked driver --------------------------------------------------------------------------
 * First op(A) is packed once, whole, into MR-row panels (panel p holds rows p*MR .. p*MR+MR-1 for
 * every k, column k at k*MR), and op(B) into NR-column panels (panel q, row k at k*NR), one task
 * per panel. When B is stored row-major (no transpose) and A has few rows, packing B would cost
 * about as much as the product (each B value meets only M rows), so B is read in place instead
 * (the micro-kernel takes row k of a tile at B + k*ldb, as conv2d's does) and only a last, partial
 * column panel is packed. Then C is cut into MC x NC tasks; each loops over K in KC slices and
 * runs the micro-kernel over every tile of its block: a KC x NR slice of B stays in L1 while it
 * meets the MC/MR panels of A, whose KC-deep slices stay in L2. Each element of C belongs to one
 * task and is summed over k in order, for any thread count. */
#define MC (128 / MR * MR) /* a whole number of tiles */
#define NC 256
#define INPLACE_MAX_M (2 * MC) /* read B in place up to this many rows (measured: docs/PERFORMANCE.md) */

typedef struct {
    int M, N, K, ldc;
    const float *A, *B;
    long ars, acs, brs, bcs; /* element (i,k) of op(A) is A[i*ars + k*acs]; (k,j) of op(B) B[k*brs + j*bcs] */
    float beta, *C;
    float *ap, *bp;          /* packed: A panel p at ap + p*MR*K; B panel q at bp + (q - q0)*NR*K */
    int na, q0, nq;          /* A panels; the B panels packed: q0 .. q0+nq-1 (all, or the partial one) */
    int tiles_n;             /* NC-wide column blocks */
    const long *boffs;       /* in place: row k of B at k*ldb (k < KC) */
} sgemm_job;

static int imin(int a, int b) { return a < b ? a : b; }

static void pack_task(void *vctx, int task) {
    const sgemm_job *g = vctx;
    if (task < g->na) {
        int i0 = task * MR;
        dn_gemm_pack_a(g->ap + (long)task * MR * g->K, g->A + i0 * g->ars, g->ars, g->acs, imin(MR, g->M - i0), g->K);
    } else {
        int q = g->q0 + task - g->na, j0 = q * NR;
        dn_gemm_pack_b(g->bp + (long)(q - g->q0) * NR * g->K, g->B + j0 * g->bcs, g->brs, g->bcs, g->K,
                       imin(NR, g->N - j0));
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
            int q = (j0 + j) / NR, n = imin(NR, nb - j);
            if (q >= g->q0 && q < g->q0 + g->nq) { /* a packed panel */
                const float *b = g->bp + (long)(q - g->q0) * NR * g->K + (long)p0 * NR;
                for (int i = 0; i < mb; i += MR)
                    dn_gemm_kernel(kc, g->ap + (long)((i0 + i) / MR) * MR * g->K + (long)p0 * MR, b,
                                   C + (long)i * g->ldc + j, g->ldc, imin(MR, mb - i), n, load);
                continue;
            }
            const float *b = g->B + (long)p0 * g->brs + (j0 + j); /* in place: row k at b + k*ldb */
            for (int i = 0; i < mb; i += MR) {
                const float *a = g->ap + (long)((i0 + i) / MR) * MR * g->K + (long)p0 * MR, *rows[MR];
                for (int r = 0; r < MR; r++) rows[r] = a + r; /* row r of the packed panel: stride MR */
                dn_gemm_kernel_gen(kc, rows, MR, b, g->boffs, C + (long)i * g->ldc + j, g->ldc, imin(MR, mb - i), NR, load);
            }
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
    /* in place, unless rows of B lie a multiple of 4 KB apart and each tile of B meets several
     * panels of A: those rows share one set of the L1 cache and evict each other before they are
     * reused (measured: 30% slower on AVX2 at 32x32 images; not on AVX-512) */
    int in_place = !tb && M <= INPLACE_MAX_M && !(DN_GEMM_ALIAS_STRIDE && ldb % DN_GEMM_ALIAS_STRIDE == 0 && na > 1);
    int q0 = in_place ? N / NR : 0, nq = nbp - q0; /* in place: only a partial last panel is packed */
    /* slots 0 and 1 of the calling thread's workspace (callers inside a kernel use slots 2, 3) */
    float *ap = dn_workspace(0, (size_t)na * MR * K * sizeof(float));
    float *bp = nq ? dn_workspace(1, (size_t)nq * NR * K * sizeof(float)) : NULL;
    if (!ap || (nq && !bp)) return; /* out of memory: recorded for dn_workspace_check */
    long boffs[KC];
    for (int k = 0; k < KC; k++) boffs[k] = (long)k * ldb;
    sgemm_job g = {M, N, K, ldc, A, B, ta ? 1 : lda, ta ? lda : 1, tb ? 1 : ldb, tb ? ldb : 1,
                   beta, C, ap, bp, na, q0, nq, (N + NC - 1) / NC, boffs};
    dn_parallel_for(na + nq, pack_task, &g);
    dn_parallel_for(((M + MC - 1) / MC) * g.tiles_n, sgemm_task, &g);
}
