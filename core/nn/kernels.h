/* kernels.h — which copy of the fast kernels runs: one per instruction set, picked from the CPU.
 * The kernels of gemm.h and nn.h (SGEMM, conv2d, GroupNorm, SiLU, attention, ...) are compiled
 * once per instruction set of the CPU family (x86-64: avx512, avx2, generic; 64-bit ARM: neon,
 * generic; see isa.h), and every copy fills one dn_kernels table. The plain names (dn_sgemm,
 * dn_conv2d_forward, ...) call through the table in use, which is chosen at the first call: the
 * environment variable DN_KERNELS if it names a copy this CPU can run, else the fastest such copy.
 * Every copy gives the same bits (isa.h says why), so the choice changes speed, never pictures. */
#ifndef DN_KERNELS_H
#define DN_KERNELS_H
#include "nn/gemm.h"
#include "nn/nn.h"

typedef struct {
    const char *name;        /* "avx512", "avx2", "neon", "generic" */
    const char *description; /* e.g. "AVX-512 + FMA, 16-float vectors, 8 x 32 tile" */
    int mr, nr;              /* the SGEMM register tile (gemm.h) */
    /* gemm.h */
    __typeof__(dn_sgemm) *sgemm;
    __typeof__(dn_gemm_pack_a) *gemm_pack_a;
    __typeof__(dn_gemm_pack_b) *gemm_pack_b;
    __typeof__(dn_gemm_kernel) *gemm_kernel;
    __typeof__(dn_gemm_kernel_gen) *gemm_kernel_gen;
    /* nn.h */
    __typeof__(dn_conv2d_forward) *conv2d_forward;
    __typeof__(dn_conv2d_backward) *conv2d_backward;
    __typeof__(dn_groupnorm_forward) *groupnorm_forward;
    __typeof__(dn_groupnorm_backward) *groupnorm_backward;
    __typeof__(dn_silu_forward) *silu_forward;
    __typeof__(dn_silu_backward) *silu_backward;
    __typeof__(dn_upsample2x_forward) *upsample2x_forward;
    __typeof__(dn_upsample2x_backward) *upsample2x_backward;
    __typeof__(dn_concat_forward) *concat_forward;
    __typeof__(dn_concat_backward) *concat_backward;
    __typeof__(dn_add_channel_forward) *add_channel_forward;
    __typeof__(dn_add_channel_backward) *add_channel_backward;
    __typeof__(dn_attention_forward) *attention_forward;
    __typeof__(dn_attention_backward) *attention_backward;
} dn_kernels;

/* The copies this binary holds, fastest first (NULL-terminated); *n_out (if not NULL) = count. */
const dn_kernels *const *dn_kernels_all(int *n_out);
/* Whether this CPU can run copy k (its instructions are there, and the OS saves their registers). */
int dn_kernels_supported(const dn_kernels *k);
/* The copy in use (chosen at the first call, as above). */
const dn_kernels *dn_kernels_get(void);
/* Use the copy named `name` from now on. -1 with a message (dn_error) naming the copies this CPU
 * runs, if the binary has no such copy or the CPU cannot run it. Call it while no kernel runs. */
int dn_kernels_use(const char *name);

#ifdef DN_ISA
/* kernels.c, compiled per instruction set: this copy's table. */
extern const dn_kernels dn_kernels_table;
#endif

#endif
