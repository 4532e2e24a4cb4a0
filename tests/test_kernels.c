/* test_kernels.c — the same pixels on every CPU: every copy of the kernels this CPU runs (kernels.h:
 * avx512, avx2 and the plain-C fmaf copy on x86-64; neon and plain C on ARM) gives the same bits
 * as the others, layer by layer (conv2d forward and backward at stride 1 and 2, 3x3 and 1x1,
 * GroupNorm, SiLU, upsampling, concatenation, per-channel add, attention) and for a small U-Net's
 * forward and backward pass. Odd sizes on purpose: channel counts that are no multiple of any
 * tile, images whose width is no multiple of any vector. Where the CPU runs one copy only, the
 * test says so and checks that copy against itself (2 threads against 1). */
#include "testutil.h"
#include "base/err.h"
#include "nn/kernels.h"
#include "base/parallel.h"
#include "base/rng.h"
#include "nets/unet.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The copies this CPU runs; copies[0] is the reference. */
static const dn_kernels *copies[8];
static int ncopies;

static int setup(void **state) {
    (void)state;
    int n;
    const dn_kernels *const *all = dn_kernels_all(&n);
    for (int i = 0; i < n; i++)
        if (dn_kernels_supported(all[i])) copies[ncopies++] = all[i];
    if (ncopies == 1) copies[ncopies++] = copies[0]; /* then the one copy at 2 threads against 1 */
    printf("# copies this CPU runs:");
    for (int i = 0; i < ncopies; i++) printf(" %s", copies[i]->name);
    printf("\n");
    return 0;
}

static float *randn(dn_rng *r, long n) {
    float *p = malloc(sizeof(float) * (size_t)n);
    assert_non_null(p);
    dn_rng_normal_fill(r, p, n);
    return p;
}

static float *copy_of(const float *x, long n) {
    float *p = malloc(sizeof(float) * (size_t)n);
    assert_non_null(p);
    memcpy(p, x, sizeof(float) * (size_t)n);
    return p;
}

/* Bits equal, or fail naming the copy, the tensor and the first element that differs. */
static void same_bits(const char *copy, const char *what, const float *got, const float *want, long n) {
    for (long i = 0; i < n; i++)
        if (memcmp(&got[i], &want[i], sizeof(float)))
            fail_msg("%s: %s[%ld] = %.9g, the %s copy gives %.9g", copy, what, i, (double)got[i], copies[0]->name,
                     (double)want[i]);
}

/* The first copy's result is kept as the reference; every later copy's must equal it, bit for bit
 * (then it is freed). */
static void keep_or_compare(int c, const char *what, float **ref, float *got, long n) {
    if (c == 0) {
        *ref = got;
        return;
    }
    same_bits(copies[c]->name, what, got, *ref, n);
    free(got);
}

/* conv2d: forward, then backward (dx, dw, db added into non-zero buffers) at N = 2. */
static void conv_case(int C, int H, int W, int OC, int K, int s) {
    int N = 2, Ho = dn_conv2d_out_size(H, K, s), Wo = dn_conv2d_out_size(W, K, s);
    long nx = (long)N * C * H * W, nw = (long)OC * C * K * K, no = (long)N * OC * Ho * Wo;
    dn_rng r;
    dn_rng_seed(&r, (uint64_t)(C * 1000 + H * 10 + OC + K + s), 0);
    float *x = randn(&r, nx), *w = randn(&r, nw), *b = randn(&r, OC), *dout = randn(&r, no);
    float *dx0 = randn(&r, nx), *dw0 = randn(&r, nw), *db0 = randn(&r, OC);
    float *ref[4] = {NULL};
    for (int c = 0; c < ncopies; c++) {
        const dn_kernels *k = copies[c];
        float *out = malloc(sizeof(float) * (size_t)no), *dx = copy_of(dx0, nx), *dw = copy_of(dw0, nw),
              *db = copy_of(db0, OC);
        dn_threads_set(1 + c % 2);
        k->conv2d_forward(out, x, w, b, N, C, H, W, OC, K, s);
        k->conv2d_backward(dx, dw, db, dout, x, w, N, C, H, W, OC, K, s);
        dn_threads_set(1);
        float *got[4] = {out, dx, dw, db};
        long len[4] = {no, nx, nw, OC};
        static const char *names[4] = {"conv out", "conv dx", "conv dw", "conv db"};
        for (int t = 0; t < 4; t++) keep_or_compare(c, names[t], &ref[t], got[t], len[t]);
    }
    for (int t = 0; t < 4; t++) free(ref[t]);
    free(x), free(w), free(b), free(dout), free(dx0), free(dw0), free(db0);
}

static void conv2d_every_copy(void **state) {
    (void)state;
    conv_case(3, 13, 11, 5, 3, 1);   /* nothing a multiple of anything */
    conv_case(7, 9, 17, 13, 3, 2);   /* stride 2, odd sizes */
    conv_case(32, 16, 16, 32, 3, 1); /* a U-Net layer */
    conv_case(6, 10, 10, 9, 1, 1);   /* 1x1 (the skip and attention projections) */
    conv_case(16, 8, 8, 3, 3, 1);    /* conv_out: 3 output channels */
}

/* GroupNorm, SiLU, upsampling, concatenation, per-channel add: forward and backward. */
static void elementwise_every_copy(void **state) {
    (void)state;
    int N = 2, C = 12, G = 4, H = 7, W = 9, HW = H * W, Cb = 5;
    long n = (long)N * C * HW;
    dn_rng r;
    dn_rng_seed(&r, 77, 0);
    float *x = randn(&r, n), *gam = randn(&r, C), *bet = randn(&r, C), *dout = randn(&r, 4 * n);
    float *xb = randn(&r, (long)N * Cb * HW), *bias = randn(&r, (long)N * C), *acc0 = randn(&r, 4 * n);
    enum { NT = 12 };
    long len[NT] = {n, N * G, N * G, n, C, C, n, n, 4 * n, n, (long)N * (C + Cb) * HW, n};
    static const char *names[NT] = {"gn out", "gn mean", "gn rstd", "gn dx", "gn dgamma", "gn dbeta",
                                    "silu out", "silu dx", "upsample out", "upsample dx", "concat out",
                                    "addc out"};
    float *ref[NT] = {NULL};
    for (int c = 0; c < ncopies; c++) {
        const dn_kernels *k = copies[c];
        float *o[NT];
        for (int t = 0; t < NT; t++) o[t] = copy_of(acc0, len[t]); /* backward adds into these */
        k->groupnorm_forward(o[0], o[1], o[2], x, gam, bet, N, C, HW, G);
        k->groupnorm_backward(o[3], o[4], o[5], dout, x, o[1], o[2], gam, N, C, HW, G);
        k->silu_forward(o[6], x, n);
        k->silu_backward(o[7], dout, x, n);
        k->upsample2x_forward(o[8], x, N, C, H, W);
        k->upsample2x_backward(o[9], dout, N, C, H, W);
        k->concat_forward(o[10], x, xb, N, C, Cb, HW);
        k->add_channel_forward(o[11], x, bias, N, C, HW);
        for (int t = 0; t < NT; t++) keep_or_compare(c, names[t], &ref[t], o[t], len[t]);
    }
    for (int t = 0; t < NT; t++) free(ref[t]);
    free(x), free(gam), free(bet), free(dout), free(xb), free(bias), free(acc0);
}

static void attention_every_copy(void **state) {
    (void)state;
    int N = 2, C = 12, NH = 3, HW = 37; /* 37 positions: no multiple of any vector */
    long nq = (long)N * 3 * C * HW, no = (long)N * C * HW, na = (long)N * NH * HW * HW;
    dn_rng r;
    dn_rng_seed(&r, 78, 0);
    float *qkv = randn(&r, nq), *dout = randn(&r, no), *d0 = randn(&r, nq);
    float *ref[3] = {NULL};
    for (int c = 0; c < ncopies; c++) {
        const dn_kernels *k = copies[c];
        float *out = malloc(sizeof(float) * (size_t)no), *att = malloc(sizeof(float) * (size_t)na), *dq = copy_of(d0, nq);
        k->attention_forward(out, att, qkv, N, C, HW, NH);
        k->attention_backward(dq, dout, qkv, att, N, C, HW, NH);
        float *got[3] = {out, att, dq};
        long len[3] = {no, na, nq};
        static const char *names[3] = {"attention out", "attention weights", "attention dqkv"};
        for (int t = 0; t < 3; t++) keep_or_compare(c, names[t], &ref[t], got[t], len[t]);
    }
    for (int t = 0; t < 3; t++) free(ref[t]);
    free(qkv), free(dout), free(d0);
}

/* A small U-Net (3 channels, 12x12, widths 8/16, attention at the lower level, 3 classes):
 * forward at batch 2 and backward into every parameter gradient and dx, per copy. */
static void unet_every_copy(void **state) {
    (void)state;
    dn_unet_config cfg = dn_unet_default_config(3, 12, 12, 3);
    cfg.base_width = 8;
    cfg.n_levels = 2;
    cfg.mults[0] = 1, cfg.mults[1] = 2;
    cfg.attn_levels = 2;
    cfg.groups = 4;
    cfg.heads = 2;
    cfg.temb_width = 16;
    dn_unet m;
    assert_int_equal(dn_unet_init(&m, &cfg), 0);
    dn_rng r;
    dn_rng_seed(&r, 3, 0);
    dn_unet_init_random(&m, &r);
    int N = 2, ids[2] = {1, 3};
    long n = (long)N * 3 * 12 * 12;
    float t[2] = {17.0f, 901.0f}, *x = randn(&r, n), *R = randn(&r, n);
    float *out_ref = NULL, *dx_ref = NULL, *g_ref = NULL;
    const dn_kernels *before = dn_kernels_get();
    for (int c = 0; c < ncopies; c++) {
        assert_int_equal(dn_kernels_use(copies[c]->name), 0);
        dn_unet_acts a;
        dn_unet_params grads;
        float *gmem, *out = malloc(sizeof(float) * (size_t)n), *dx = calloc((size_t)n, sizeof(float));
        assert_int_equal(dn_unet_acts_alloc(&a, &m, N), 0);
        assert_int_equal(dn_unet_grads_alloc(&m, &grads, &gmem), 0);
        dn_unet_forward(&m, &a, out, x, t, ids, N);
        dn_unet_backward(&m, &a, &grads, dx, R);
        if (c == 0) {
            out_ref = out, dx_ref = dx, g_ref = gmem;
        } else {
            same_bits(copies[c]->name, "U-Net out", out, out_ref, n);
            same_bits(copies[c]->name, "U-Net dx", dx, dx_ref, n);
            same_bits(copies[c]->name, "U-Net parameter gradients", gmem, g_ref, m.n_params);
            free(out), free(dx), free(gmem);
        }
        dn_unet_acts_free(&a);
        printf("# %s: U-Net forward and backward (%ld parameters)%s\n", copies[c]->name, m.n_params,
               c ? " bit for bit as the first" : "");
    }
    assert_int_equal(dn_kernels_use(before->name), 0);
    free(out_ref), free(dx_ref), free(g_ref), free(x), free(R);
    dn_unet_free(&m);
}

/* An unknown or unrunnable copy is refused with a message naming what this CPU runs. */
static void unknown_copy_refused(void **state) {
    (void)state;
    const dn_kernels *before = dn_kernels_get();
    assert_int_equal(dn_kernels_use("sse9"), -1);
    assert_non_null(strstr(dn_error(), "sse9"));
    assert_non_null(strstr(dn_error(), copies[0]->name));
    assert_ptr_equal(dn_kernels_get(), before);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(conv2d_every_copy),
        cmocka_unit_test(elementwise_every_copy),
        cmocka_unit_test(attention_every_copy),
        cmocka_unit_test(unet_every_copy),
        cmocka_unit_test(unknown_copy_refused),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
