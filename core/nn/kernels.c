/* kernels.c — this copy's table of kernels (kernels.h). A kernel file (isa.h): compiled once per
 * instruction set, where the names below are that set's (kernel_names.h renames them). */
#include "nn/kernels.h"
#include "nn/isa.h"

#if DN_ISA_ID == DN_ISA_ID_avx512
#define DESCRIPTION "AVX-512 + FMA: 16-float vectors, 32 registers"
#elif DN_ISA_ID == DN_ISA_ID_avx2
#define DESCRIPTION "AVX2 + FMA: 8-float vectors, 16 registers"
#elif DN_ISA_ID == DN_ISA_ID_neon
#define DESCRIPTION "NEON: 4-float vectors, 32 registers"
#else
#define DESCRIPTION "plain C: scalar fmaf"
#endif

const dn_kernels dn_kernels_table = {
    .name = DN_ISA_STR,
    .description = DESCRIPTION,
    .mr = DN_GEMM_MR,
    .nr = DN_GEMM_NR,
    .sgemm = dn_sgemm,
    .gemm_pack_a = dn_gemm_pack_a,
    .gemm_pack_b = dn_gemm_pack_b,
    .gemm_kernel = dn_gemm_kernel,
    .gemm_kernel_gen = dn_gemm_kernel_gen,
    .conv2d_forward = dn_conv2d_forward,
    .conv2d_backward = dn_conv2d_backward,
    .groupnorm_forward = dn_groupnorm_forward,
    .groupnorm_backward = dn_groupnorm_backward,
    .silu_forward = dn_silu_forward,
    .silu_backward = dn_silu_backward,
    .upsample2x_forward = dn_upsample2x_forward,
    .upsample2x_backward = dn_upsample2x_backward,
    .concat_forward = dn_concat_forward,
    .concat_backward = dn_concat_backward,
    .add_channel_forward = dn_add_channel_forward,
    .add_channel_backward = dn_add_channel_backward,
    .attention_forward = dn_attention_forward,
    .attention_backward = dn_attention_backward,
};
