/* isa.h — the instruction set a kernel file is compiled for, and the four vector operations the
 * GEMM micro-kernel needs (load, store, broadcast, fused multiply-add) on each.
 *
 * One binary carries several copies of the kernels (gemm.c, nn.c, nn_conv.c, kernels.c): the
 * Makefile compiles those files once per instruction set of the CPU family, with -DDN_ISA=NAME and
 * that set's -march, and kernels.h picks a copy at start-up from the CPU (as OpenBLAS's
 * DYNAMIC_ARCH does). The sets and their register tiles (MR rows x NR columns of C in registers):
 *
 *   NAME     compiled with        vector       registers  tile    accumulators
 *   avx512   -march=x86-64-v4     16 floats    32         8 x 32  16 (+ 2 for B, 1 for A)
 *   avx2     -march=x86-64-v3     8 floats     16         6 x 16  12 (+ 2 for B, 1 for A)
 *   neon     -march=armv8-a       4 floats     32         8 x 8   16 (+ 2 for B, 2 for A)
 *   generic  the baseline         1 float      -          4 x 4   16 scalars, fmaf
 *
 * The tile only decides which elements of C are computed together, never how: every element is
 * the same chain of fused multiply-adds, c = fma(a_k, b_k, c) for k = 0, 1, ..., on every set
 * (fmaf where the CPU has no FMA instruction: slow, but the same bits). So the same inputs give
 * the same pixels on every CPU (tests/test_kernels.c checks every copy against that chain).
 *
 * Only kernel files include this header. */
#ifndef DN_ISA_H
#define DN_ISA_H

#ifndef DN_ISA
#error "isa.h is for the kernel files, compiled with -DDN_ISA=avx512|avx2|neon|generic (see the Makefile)"
#endif

/* DN_ISA_ID: which set, as a number the preprocessor can compare. */
#define DN_ISA_ID_avx512 1
#define DN_ISA_ID_avx2 2
#define DN_ISA_ID_neon 3
#define DN_ISA_ID_generic 4
#define DN_ISA_IDCAT2(a, b) a##b
#define DN_ISA_IDCAT(a, b) DN_ISA_IDCAT2(a, b)
#define DN_ISA_ID DN_ISA_IDCAT(DN_ISA_ID_, DN_ISA)
#define DN_ISA_STR2(x) #x
#define DN_ISA_STR1(x) DN_ISA_STR2(x)
#define DN_ISA_STR DN_ISA_STR1(DN_ISA) /* "avx2" */

#if DN_ISA_ID == DN_ISA_ID_avx512
#if !defined(__AVX512F__) || !defined(__FMA__)
#error "the avx512 kernels need -march=x86-64-v4 (or -mavx512f -mfma)"
#endif
#include <immintrin.h>
#define DN_VL 16 /* floats per vector */
#define DN_GEMM_MR 8
#define DN_GEMM_NR 32
#define DN_GEMM_ALIAS_STRIDE 0 /* floats; see dn_sgemm's in-place rule (gemm.c) */
typedef __m512 dn_vf;
static inline dn_vf vf_load(const float *p) { return _mm512_loadu_ps(p); }
static inline void vf_store(float *p, dn_vf v) { _mm512_storeu_ps(p, v); }
static inline dn_vf vf_set1(float a) { return _mm512_set1_ps(a); }
static inline dn_vf vf_zero(void) { return _mm512_setzero_ps(); }
static inline dn_vf vf_fma(dn_vf a, dn_vf b, dn_vf c) { return _mm512_fmadd_ps(a, b, c); } /* a b + c */

#elif DN_ISA_ID == DN_ISA_ID_avx2
#if !defined(__AVX2__) || !defined(__FMA__)
#error "the avx2 kernels need -march=x86-64-v3 (or -mavx2 -mfma)"
#endif
#include <immintrin.h>
#define DN_VL 8
#define DN_GEMM_MR 6
#define DN_GEMM_NR 16
#define DN_GEMM_ALIAS_STRIDE 1024
typedef __m256 dn_vf;
static inline dn_vf vf_load(const float *p) { return _mm256_loadu_ps(p); }
static inline void vf_store(float *p, dn_vf v) { _mm256_storeu_ps(p, v); }
static inline dn_vf vf_set1(float a) { return _mm256_set1_ps(a); }
static inline dn_vf vf_zero(void) { return _mm256_setzero_ps(); }
static inline dn_vf vf_fma(dn_vf a, dn_vf b, dn_vf c) { return _mm256_fmadd_ps(a, b, c); }

#elif DN_ISA_ID == DN_ISA_ID_neon
#if !defined(__ARM_NEON) || !defined(__aarch64__)
#error "the neon kernels are for 64-bit ARM (aarch64)"
#endif
#include <arm_neon.h>
#define DN_VL 4
#define DN_GEMM_MR 8
#define DN_GEMM_NR 8
#define DN_GEMM_ALIAS_STRIDE 1024
typedef float32x4_t dn_vf;
static inline dn_vf vf_load(const float *p) { return vld1q_f32(p); }
static inline void vf_store(float *p, dn_vf v) { vst1q_f32(p, v); }
static inline dn_vf vf_set1(float a) { return vdupq_n_f32(a); }
static inline dn_vf vf_zero(void) { return vdupq_n_f32(0.0f); }
static inline dn_vf vf_fma(dn_vf a, dn_vf b, dn_vf c) { return vfmaq_f32(c, a, b); } /* c + a b, fused */

#elif DN_ISA_ID == DN_ISA_ID_generic
#include <math.h>
#define DN_VL 1
#define DN_GEMM_MR 4
#define DN_GEMM_NR 4
#define DN_GEMM_ALIAS_STRIDE 1024
typedef float dn_vf;
static inline dn_vf vf_load(const float *p) { return *p; }
static inline void vf_store(float *p, dn_vf v) { *p = v; }
static inline dn_vf vf_set1(float a) { return a; }
static inline dn_vf vf_zero(void) { return 0.0f; }
static inline dn_vf vf_fma(dn_vf a, dn_vf b, dn_vf c) { return fmaf(a, b, c); } /* one rounding */

#else
#error "unknown DN_ISA (avx512, avx2, neon or generic)"
#endif

#define DN_GEMM_NV (DN_GEMM_NR / DN_VL) /* vectors per tile row */

#endif
