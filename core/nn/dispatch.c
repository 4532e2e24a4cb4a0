/* dispatch.c — picks the copy of the kernels this CPU runs (kernels.h) and gives the plain names
 * dn_sgemm, dn_conv2d_forward, ... to it: each is one call through the table in use.
 * Compiled once, for the baseline of the CPU family. */
#include "nn/kernels.h"
#include "base/err.h"
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* The copies the Makefile builds for each CPU family (its KERNEL_ISAS), fastest first.
 * DN_ONLY_GENERIC: a build with the plain-C copy alone (the fuzzers, scripts/fuzz.sh). */
#if defined(DN_ONLY_GENERIC)
extern const dn_kernels dn_kernels_table_generic;
static const dn_kernels *const all[] = {&dn_kernels_table_generic, NULL};
#elif defined(__x86_64__)
extern const dn_kernels dn_kernels_table_avx512, dn_kernels_table_avx2, dn_kernels_table_generic;
static const dn_kernels *const all[] = {&dn_kernels_table_avx512, &dn_kernels_table_avx2,
                                        &dn_kernels_table_generic, NULL};
#elif defined(__aarch64__)
extern const dn_kernels dn_kernels_table_neon, dn_kernels_table_generic;
static const dn_kernels *const all[] = {&dn_kernels_table_neon, &dn_kernels_table_generic, NULL};
#else
extern const dn_kernels dn_kernels_table_generic;
static const dn_kernels *const all[] = {&dn_kernels_table_generic, NULL};
#endif

const dn_kernels *const *dn_kernels_all(int *n_out) {
    if (n_out) *n_out = (int)(sizeof all / sizeof all[0]) - 1;
    return all;
}

int dn_kernels_supported(const dn_kernels *k) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    /* x86-64-v3 (Haswell, Zen 1 and later): what -march=x86-64-v3 lets the compiler use that
     * matters here. The CPU check also asks the OS (XGETBV) whether it saves the registers. */
    int v3 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
             __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2");
    if (!strcmp(k->name, "avx2")) return v3;
    if (!strcmp(k->name, "avx512")) /* x86-64-v4: Skylake-X, Ice Lake, Zen 4 and later */
        return v3 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512dq") &&
               __builtin_cpu_supports("avx512vl");
#endif
    (void)k;
    return 1; /* generic everywhere; NEON is part of every 64-bit ARM CPU */
}

static const dn_kernels *find(const char *name) {
    for (int i = 0; all[i]; i++)
        if (!strcmp(all[i]->name, name) && dn_kernels_supported(all[i])) return all[i];
    return NULL;
}

static _Atomic(const dn_kernels *) current;

const dn_kernels *dn_kernels_get(void) {
    const dn_kernels *k = atomic_load_explicit(&current, memory_order_acquire);
    if (k) return k;
    /* first call: DN_KERNELS if it names a copy this CPU runs, else the fastest that it runs
     * (two threads racing here pick the same one) */
    const char *want = getenv("DN_KERNELS");
    k = want ? find(want) : NULL;
    for (int i = 0; !k && all[i]; i++)
        if (dn_kernels_supported(all[i])) k = all[i];
    atomic_store_explicit(&current, k, memory_order_release);
    return k;
}

int dn_kernels_use(const char *name) {
    const dn_kernels *k = find(name);
    if (!k) {
        char list[128] = "";
        for (int i = 0; all[i]; i++)
            if (dn_kernels_supported(all[i])) {
                if (list[0]) strcat(list, ", ");
                strcat(list, all[i]->name);
            }
        return dn_fail("no kernels '%s' for this CPU (it runs: %s)", name, list);
    }
    atomic_store_explicit(&current, k, memory_order_release);
    return 0;
}

/* ---- the plain names: one call through the table ------------------------------------------ */
#define IN_USE (dn_kernels_get())

void dn_sgemm(int ta, int tb, int M, int N, int K, const float *A, int lda, const float *B, int ldb,
              float beta, float *C, int ldc) {
    IN_USE->sgemm(ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc);
}
void dn_conv2d_forward(float *out, const float *x, const float *w, const float *b, int N, int C, int H,
                       int W, int OC, int K, int stride) {
    IN_USE->conv2d_forward(out, x, w, b, N, C, H, W, OC, K, stride);
}
void dn_conv2d_backward(float *dx, float *dw, float *db, const float *dout, const float *x, const float *w,
                        int N, int C, int H, int W, int OC, int K, int stride) {
    IN_USE->conv2d_backward(dx, dw, db, dout, x, w, N, C, H, W, OC, K, stride);
}
void dn_groupnorm_forward(float *out, float *mean, float *rstd, const float *x, const float *gamma,
                          const float *beta, int N, int C, int HW, int G) {
    IN_USE->groupnorm_forward(out, mean, rstd, x, gamma, beta, N, C, HW, G);
}
void dn_groupnorm_backward(float *dx, float *dgamma, float *dbeta, const float *dout, const float *x,
                           const float *mean, const float *rstd, const float *gamma, int N, int C, int HW,
                           int G) {
    IN_USE->groupnorm_backward(dx, dgamma, dbeta, dout, x, mean, rstd, gamma, N, C, HW, G);
}
void dn_silu_forward(float *out, const float *x, long n) { IN_USE->silu_forward(out, x, n); }
void dn_silu_backward(float *dx, const float *dout, const float *x, long n) { IN_USE->silu_backward(dx, dout, x, n); }
void dn_upsample2x_forward(float *out, const float *x, int N, int C, int H, int W) {
    IN_USE->upsample2x_forward(out, x, N, C, H, W);
}
void dn_upsample2x_backward(float *dx, const float *dout, int N, int C, int H, int W) {
    IN_USE->upsample2x_backward(dx, dout, N, C, H, W);
}
void dn_concat_forward(float *out, const float *a, const float *b, int N, int Ca, int Cb, int HW) {
    IN_USE->concat_forward(out, a, b, N, Ca, Cb, HW);
}
void dn_concat_backward(float *da, float *db, const float *dout, int N, int Ca, int Cb, int HW) {
    IN_USE->concat_backward(da, db, dout, N, Ca, Cb, HW);
}
void dn_add_channel_forward(float *out, const float *x, const float *bias, int N, int C, int HW) {
    IN_USE->add_channel_forward(out, x, bias, N, C, HW);
}
void dn_add_channel_backward(float *dx, float *dbias, const float *dout, int N, int C, int HW) {
    IN_USE->add_channel_backward(dx, dbias, dout, N, C, HW);
}
void dn_attention_forward(float *out, float *att, const float *qkv, int N, int C, int HW, int NH) {
    IN_USE->attention_forward(out, att, qkv, N, C, HW, NH);
}
void dn_attention_backward(float *dqkv, const float *dout, const float *qkv, const float *att, int N, int C,
                           int HW, int NH) {
    IN_USE->attention_backward(dqkv, dout, qkv, att, N, C, HW, NH);
}
