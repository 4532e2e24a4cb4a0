/* kernel_names.h — lets one binary hold several copies of the kernels, one per instruction set.
 * The Makefile compiles each kernel file (gemm.c, nn.c, nn_conv.c, kernels.c) once per set with
 * -DDN_ISA=NAME; there, this header (included by gemm.h and nn.h) renames every kernel dn_X to
 * dn_X_NAME, so that the copies link side by side. Everywhere else DN_ISA is undefined, the names
 * stay plain, and dn_X is the dispatcher's (kernels.c's twin, dispatch.c), which calls the copy
 * chosen for this CPU (kernels.h). */
#ifndef DN_KERNEL_NAMES_H
#define DN_KERNEL_NAMES_H
#ifdef DN_ISA
#define DN_ISA_CAT2(a, b) a##_##b
#define DN_ISA_CAT(a, b) DN_ISA_CAT2(a, b)
#define DN_ISA_NAME(f) DN_ISA_CAT(f, DN_ISA) /* dn_sgemm -> dn_sgemm_avx2 */
/* gemm.h */
#define dn_sgemm DN_ISA_NAME(dn_sgemm)
#define dn_gemm_pack_a DN_ISA_NAME(dn_gemm_pack_a)
#define dn_gemm_pack_b DN_ISA_NAME(dn_gemm_pack_b)
#define dn_gemm_kernel DN_ISA_NAME(dn_gemm_kernel)
#define dn_gemm_kernel_gen DN_ISA_NAME(dn_gemm_kernel_gen)
/* nn.h */
#define dn_conv2d_forward DN_ISA_NAME(dn_conv2d_forward)
#define dn_conv2d_backward DN_ISA_NAME(dn_conv2d_backward)
#define dn_groupnorm_forward DN_ISA_NAME(dn_groupnorm_forward)
#define dn_groupnorm_backward DN_ISA_NAME(dn_groupnorm_backward)
#define dn_silu_forward DN_ISA_NAME(dn_silu_forward)
#define dn_silu_backward DN_ISA_NAME(dn_silu_backward)
#define dn_upsample2x_forward DN_ISA_NAME(dn_upsample2x_forward)
#define dn_upsample2x_backward DN_ISA_NAME(dn_upsample2x_backward)
#define dn_concat_forward DN_ISA_NAME(dn_concat_forward)
#define dn_concat_backward DN_ISA_NAME(dn_concat_backward)
#define dn_add_channel_forward DN_ISA_NAME(dn_add_channel_forward)
#define dn_add_channel_backward DN_ISA_NAME(dn_add_channel_backward)
#define dn_attention_forward DN_ISA_NAME(dn_attention_forward)
#define dn_attention_backward DN_ISA_NAME(dn_attention_backward)
/* kernels.h: this copy's table */
#define dn_kernels_table DN_ISA_NAME(dn_kernels_table)
#endif
#endif
