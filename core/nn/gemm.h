/* gemm.h — single-precision matrix multiply (SGEMM), the engine under conv2d and linear.
 * C = beta C + op(A) op(B), row-major, op(A): (M,K), op(B): (K,N), C: (M,N).
 * The fast path is the classic Goto/BLIS scheme: copy ("pack") a KC-deep slice of B into
 * NR-wide column panels and of A into MR-tall row panels, so the micro-kernel reads both
 * sequentially, and let a register-tiled micro-kernel add an MR x NR tile of C as KC rank-1
 * updates. The kernel is public, with a variant that reads its operands in place, so conv2d
 * (nn_conv.c) runs it straight on shifted image planes (an implicit im2col). Threads: parallel.h.
 * The register tile MR x NR follows the instruction set (isa.h: 8 x 32 on AVX-512, 6 x 16 on
 * AVX2, 8 x 8 on NEON, 4 x 4 in plain C); the copy in use is kernels.h's, its tile
 * dn_kernels_get()->mr, ->nr. Whatever the tile, each element of C is the same chain of fused
 * multiply-adds in k order, so every CPU gives the same bits. Speed: docs/PERFORMANCE.md. */
#ifndef DN_GEMM_H
#define DN_GEMM_H
#include "nn/kernel_names.h"

/* Depth of one packed slice: an MR x KC panel of A plus a KC x NR panel of B stay in L1/L2. */
#define DN_GEMM_KC 256

/* C = beta C + op(A) op(B). ta/tb nonzero: A is stored (K,M) with row stride lda / B is stored
 * (N,K). beta is 0 (C is overwritten; its old contents may be NaN) or any other value. Threaded
 * over 128 x 256 blocks of C (parallel.h). Each element is exactly
 *     c = (beta == 0 ? 0 : beta == 1 ? c : beta * c);  for k = 0 .. K-1: c = fmaf(a_ik, b_kj, c)
 * (that loop is dn_sgemm_chain), so the result is the same for any thread count, tile or CPU. */
void dn_sgemm(int ta, int tb, int M, int N, int K, const float *A, int lda, const float *B, int ldb,
              float beta, float *C, int ldc);
/* The oracle: three loops, double accumulation (nn_naive.c). */
void dn_sgemm_naive(int ta, int tb, int M, int N, int K, const float *A, int lda, const float *B,
                    int ldb, float beta, float *C, int ldc);
/* The definition of dn_sgemm's bits: the loop above, one fmaf per term (nn_naive.c). */
void dn_sgemm_chain(int ta, int tb, int M, int N, int K, const float *A, int lda, const float *B,
                    int ldb, float beta, float *C, int ldc);

/* The pieces below are one copy's (kernels.h), for that copy's tile MR x NR. */

/* Packing. a element (i,k) is A[i*rs + k*cs]; writes dst[k*MR + i] for k < kc, i < MR, with zeros
 * for rows i >= m (so edge tiles need no special kernel). */
void dn_gemm_pack_a(float *dst, const float *A, long rs, long cs, int m, int kc);
/* b element (k,j) is B[k*rs + j*cs]; writes dst[k*NR + j] for k < kc, j < NR, zeros for j >= n. */
void dn_gemm_pack_b(float *dst, const float *B, long rs, long cs, int kc, int n);

/* The micro-kernel: for i < m, j < n (m <= MR, n <= NR):
 *   C[i*ldc + j] = (load ? C[i*ldc + j] : 0) + sum_{k<kc} a[k*MR + i] b[k*NR + j],
 * summed in order k = 0, 1, ... (one fused multiply-add per k). a, b: packed panels (any
 * alignment: the kernels load unaligned). */
void dn_gemm_kernel(int kc, const float *a, const float *b, float *C, long ldc, int m, int n, int load);

/* The same micro-kernel with operands read in place, for conv2d (nn_conv.c) and dn_sgemm: rows
 * i < m (m <= MR) of C, columns j < n (n <= NR) rounded up to whole vectors (isa.h's DN_VL; all
 * NR when n > one vector), which it reads and writes, so C needs that room; row i of A is
 * a[i][k*lda] (any m pointers), row k of B is at b + boffs[k] (any alignment: e.g. shifted rows of
 * a zero-padded image, an implicit im2col). Same arithmetic as dn_gemm_kernel. */
void dn_gemm_kernel_gen(int kc, const float *const *a, long lda, const float *b,
                        const long *boffs, float *C, long ldc, int m, int n, int load);

#endif
