/* test_autoencoder.c — the autoencoder (core/nets/autoencoder.h): every parameter gradient of the
 * encoder and the decoder, and the gradients of the latent and of the picture, against central
 * finite differences; the operation list and FLOP count of the default config; the fully
 * convolutional network at a size other than its own; a float32 file that loads back bit for bit
 * (float16 within rounding), refusal of a flipped byte, every truncation, a NaN weight, a forged
 * config and a file of another kind. */
#include "testutil.h"
#include "nets/autoencoder.h"
#include "base/err.h"
#include "base/fileio.h"
#include "diffusion/model.h"
#include "data/image.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 2 channels 8x8, widths 4, 6, 8 (f = 4, so a ResBlock with a skip conv at each level), 2 groups,
 * 3 latent channels. */
static dn_ae_config tiny_config(void) {
    dn_ae_config c;
    memset(&c, 0, sizeof c);
    c.in_channels = 2, c.height = 8, c.width = 8;
    c.latent_channels = 3;
    c.n_levels = 3;
    c.widths[0] = 4, c.widths[1] = 6, c.widths[2] = 8;
    c.blocks = 1;
    c.groups = 2;
    return c;
}

static void make_tiny(dn_autoencoder *m, uint64_t seed) {
    dn_ae_config c = tiny_config();
    if (dn_ae_init(m, &c)) fail_msg("%s", dn_error());
    dn_rng r;
    dn_rng_seed(&r, seed, 0);
    dn_ae_init_random(m, &r);
    /* GroupNorm away from (1, 0), so its gradients are tested in general position */
    for (int i = 0; i < m->n_tensors; i++)
        if (strstr(m->tensors[i].name, "norm"))
            for (long k = 0; k < m->tensors[i].numel; k++)
                m->param_mem[m->tensors[i].offset + k] = 0.6f * dn_rng_uniform(&r) + (strstr(m->tensors[i].name, "bias") ? -0.3f : 0.7f);
    m->scale_factor = 0.8125f;
    m->psnr_pets = 31.25f, m->psnr_photos = 24.5f;
    strcpy(m->trained_on, "tiny test pictures");
}

enum { N = 2, C = 2, S = 8, Z = 3, ZS = 2 };
#define XN (N * C * S * S)
#define ZN (N * Z * ZS * ZS)

/* The loss the test differentiates: z = mean + exp(logvar / 2) eps with fixed eps, then
 * L = sum(r . decode(z)) + sum(q . logvar): it reaches every encoder and decoder parameter. */
typedef struct {
    float x[XN], eps[ZN], r[XN], q[ZN];
    float z[ZN], out[XN];
} fd_case;

static double loss_at(const dn_autoencoder *m, dn_ae_acts *a, fd_case *k) {
    const float *mo = dn_ae_encode_forward(m, a, k->x, N);
    double L = 0;
    for (int n = 0; n < N; n++)
        for (int j = 0; j < Z * ZS * ZS; j++) {
            float mu = mo[(n * 2 * Z) * ZS * ZS + j], lv = dn_ae_logvar(mo[(n * 2 * Z + Z) * ZS * ZS + j]);
            int zi = n * Z * ZS * ZS + j;
            k->z[zi] = mu + expf(0.5f * lv) * k->eps[zi];
            L += (double)k->q[zi] * (double)lv;
        }
    dn_ae_decode_forward(m, a, k->out, k->z, N);
    for (int i = 0; i < XN; i++) L += (double)k->r[i] * (double)k->out[i];
    return L;
}

static void gradients_match_finite_differences(void **state) {
    (void)state;
    dn_autoencoder m;
    make_tiny(&m, 5);
    fd_case *k = calloc(1, sizeof *k);
    assert_non_null(k);
    dn_rng r;
    dn_rng_seed(&r, 9, 1);
    for (int i = 0; i < XN; i++) k->x[i] = 2.0f * dn_rng_uniform(&r) - 1.0f, k->r[i] = dn_rng_uniform(&r) - 0.5f;
    for (int i = 0; i < ZN; i++) k->eps[i] = dn_rng_normal(&r), k->q[i] = dn_rng_uniform(&r) - 0.5f;
    dn_ae_acts a;
    if (dn_ae_acts_alloc(&a, &m, N, S, S)) fail_msg("%s", dn_error());
    dn_ae_params g;
    float *gmem;
    assert_int_equal(dn_ae_grads_alloc(&m, &g, &gmem), 0);

    /* analytic: decoder backward gives dz; the chain rule through the reparametrisation gives
     * dmoments; the encoder backward the rest */
    const float *mo = NULL;
    (void)loss_at(&m, &a, k);
    float dz[ZN], dmo[N * 2 * Z * ZS * ZS];
    dn_ae_decode_backward(&m, &a, &g, dz, k->r);
    mo = dn_ae_encode_forward(&m, &a, k->x, N); /* the encoder's activations again (the decode kept its own) */
    for (int n = 0; n < N; n++)
        for (int j = 0; j < Z * ZS * ZS; j++) {
            int zi = n * Z * ZS * ZS + j, mi = (n * 2 * Z) * ZS * ZS + j, li = (n * 2 * Z + Z) * ZS * ZS + j;
            float raw = mo[li], lv = dn_ae_logvar(raw);
            dmo[mi] = dz[zi];
            dmo[li] = raw == lv ? dz[zi] * k->eps[zi] * 0.5f * expf(0.5f * lv) + k->q[zi] : 0.0f;
        }
    dn_ae_encode_backward(&m, &a, &g, dmo);

    double worst = 0;
    for (long i = 0; i < m.n_params; i++) {
        float keep = m.param_mem[i], h = 1e-2f;
        m.param_mem[i] = keep + h;
        double lp = loss_at(&m, &a, k);
        m.param_mem[i] = keep - h;
        double lm = loss_at(&m, &a, k);
        m.param_mem[i] = keep;
        double num = (lp - lm) / (2.0 * (double)h), ana = (double)gmem[i];
        double err = fabs(num - ana) / (fabs(num) + fabs(ana) + 1e-3);
        if (err > worst) worst = err;
        tu_assert_close(m.tensors[0].name, i, ana, num, 3e-3, 3e-2);
    }
    print_message("checked %ld encoder and decoder gradients, worst relative error %.2g\n", m.n_params, worst);

    /* the gradient of the latent, from the decoder alone: L(z) = sum(r . decode(z)) */
    float z0[ZN];
    memcpy(z0, k->z, sizeof z0);
    for (int i = 0; i < ZN; i++) {
        float keep = z0[i], h = 1e-2f;
        double lp = 0, lm = 0;
        z0[i] = keep + h;
        dn_ae_decode_forward(&m, &a, k->out, z0, N);
        for (int j = 0; j < XN; j++) lp += (double)k->r[j] * (double)k->out[j];
        z0[i] = keep - h;
        dn_ae_decode_forward(&m, &a, k->out, z0, N);
        for (int j = 0; j < XN; j++) lm += (double)k->r[j] * (double)k->out[j];
        z0[i] = keep;
        tu_assert_close("dL/dz", i, (double)dz[i], (lp - lm) / (2.0 * (double)h), 3e-3, 3e-2);
    }
    /* backward ADDS into the weight gradients */
    float *first = malloc((size_t)m.n_params * sizeof(float));
    assert_non_null(first);
    memcpy(first, gmem, (size_t)m.n_params * sizeof(float));
    dn_ae_decode_forward(&m, &a, k->out, k->z, N);
    dn_ae_decode_backward(&m, &a, &g, NULL, k->r);
    for (long i = m.n_enc_params; i < m.n_params; i++)
        tu_assert_close("accumulated", i, (double)gmem[i] - (double)first[i], (double)first[i], 1e-6, 1e-4);
    free(first);
    free(gmem);
    free(k);
    dn_ae_acts_free(&a);
    dn_ae_free(&m);
}

/* The default config: 64x64x3 to 16x16x4; the list of operations the header describes; the FLOP
 * count from the layer shapes, by hand. */
static void default_config_is_the_documented_one(void **state) {
    (void)state;
    dn_ae_config c = dn_ae_default_config();
    assert_int_equal(dn_ae_config_check(&c), 0);
    assert_int_equal(dn_ae_factor(&c), 4);
    dn_autoencoder *m = calloc(1, sizeof *m);
    assert_non_null(m);
    assert_int_equal(dn_ae_init(m, &c), 0);
    assert_int_equal(m->n_params, dn_ae_param_count(&c));
    const char *names[] = {"enc.conv_in", "enc.down.0.res.0", "enc.down.0.down", "enc.down.1.res.0", "enc.down.1.down",
                           "enc.down.2.res.0", "enc.mid.res", "enc.norm_out", "enc.conv_out", "dec.conv_in",
                           "dec.mid.res", "dec.up.2.res.0", "dec.up.2.up", "dec.up.1.res.0", "dec.up.1.up",
                           "dec.up.0.res.0", "dec.norm_out", "dec.conv_out"};
    assert_int_equal(m->n_ops, 18);
    assert_int_equal(m->n_enc, 9);
    for (int i = 0; i < m->n_ops; i++) assert_string_equal(m->ops[i].name, names[i]);
    assert_int_equal(m->ops[8].cout, 8);  /* mean and log-variance of 4 channels */
    assert_int_equal(m->ops[17].cout, 3);
    /* by hand: conv 2 C_in C_out 9 HW, a ResBlock two convs (+ a 1x1 skip when widths differ) */
    double cv = 0;
#define CONV(ci, co, hw) (cv += 2.0 * (ci) * (co) * 9 * (hw))
    CONV(3, 16, 4096), CONV(16, 16, 4096), CONV(16, 16, 4096), CONV(16, 16, 1024); /* in, res0, down */
    CONV(16, 32, 1024), CONV(32, 32, 1024), cv += 2.0 * 16 * 32 * 1024, CONV(32, 32, 256); /* res1, down */
    CONV(32, 64, 256), CONV(64, 64, 256), cv += 2.0 * 32 * 64 * 256;                      /* res2 */
    CONV(64, 64, 256), CONV(64, 64, 256), CONV(64, 8, 256);                               /* mid, out */
    tu_assert_close("encode FLOPs", 0, dn_ae_encode_flops(&c, 64, 64), cv, 0, 1e-12);
    cv = 0;
    CONV(4, 64, 256), CONV(64, 64, 256), CONV(64, 64, 256), CONV(64, 64, 256), CONV(64, 64, 256); /* in, mid, res2 */
    CONV(64, 32, 1024), CONV(32, 32, 1024), CONV(32, 32, 1024);                                 /* up, res1 */
    CONV(32, 16, 4096), CONV(16, 16, 4096), CONV(16, 16, 4096), CONV(16, 3, 4096);              /* up, res0, out */
#undef CONV
    tu_assert_close("decode FLOPs", 0, dn_ae_decode_flops(&c, 64, 64), cv, 0, 1e-12);
    print_message("default autoencoder: %ld parameters (%ld encoder), %.0f MFLOP encode, %.0f MFLOP decode\n",
                  m->n_params, m->n_enc_params, dn_ae_encode_flops(&c, 64, 64) / 1e6, dn_ae_decode_flops(&c, 64, 64) / 1e6);
    dn_ae_free(m);
    free(m);
}

/* Fully convolutional: activations laid out for 16x8 pictures encode and decode them (latents
 * 4x2), batch by batch the same as one at a time; sizes that are not multiples of f are refused. */
static void any_multiple_of_f(void **state) {
    (void)state;
    dn_autoencoder m;
    make_tiny(&m, 3);
    dn_ae_acts a, one;
    if (dn_ae_acts_alloc(&a, &m, 2, 16, 8) || dn_ae_acts_alloc(&one, &m, 1, 16, 8)) fail_msg("%s", dn_error());
    enum { n = 3 };
    float x[n * C * 16 * 8], z[n * Z * 4 * 2], z1[n * Z * 4 * 2], y[n * C * 16 * 8], y1[n * C * 16 * 8];
    dn_rng r;
    dn_rng_seed(&r, 4, 0);
    for (size_t i = 0; i < sizeof x / sizeof x[0]; i++) x[i] = 2.0f * dn_rng_uniform(&r) - 1.0f;
    dn_ae_encode(&m, &a, z, x, n); /* batches of 2, then 1 */
    dn_ae_encode(&m, &one, z1, x, n);
    assert_memory_equal(z, z1, sizeof z);
    dn_ae_decode(&m, &a, y, z, n);
    dn_ae_decode(&m, &one, y1, z, n);
    assert_memory_equal(y, y1, sizeof y);
    for (size_t i = 0; i < sizeof y / sizeof y[0]; i++) assert_true(isfinite(y[i]));
    dn_ae_acts bad;
    assert_int_equal(dn_ae_acts_alloc(&bad, &m, 1, 10, 8), -1);
    assert_non_null(strstr(dn_error(), "multiples of 4"));
    assert_null(bad.mem);
    dn_ae_acts_free(&a);
    dn_ae_acts_free(&one);
    dn_ae_free(&m);
}

static void file_round_trip_and_refusals(void **state) {
    (void)state;
    dn_autoencoder m, back;
    make_tiny(&m, 11);
    char path[512];
    snprintf(path, sizeof path, "%s/tiny.dfa", tu_tmpdir());
    if (dn_ae_save(path, &m, DN_DTYPE_F32)) fail_msg("%s", dn_error());
    if (dn_ae_load(path, &back)) fail_msg("%s", dn_error());
    assert_int_equal(back.n_params, m.n_params);
    assert_memory_equal(&back.cfg, &m.cfg, sizeof m.cfg);
    assert_memory_equal(back.param_mem, m.param_mem, (size_t)m.n_params * sizeof(float));
    assert_true(back.scale_factor == 0.8125f);
    assert_true(fabsf(back.psnr_pets - 31.25f) < 1e-4f && fabsf(back.psnr_photos - 24.5f) < 1e-4f);
    assert_string_equal(back.trained_on, "tiny test pictures");
    dn_ae_free(&back);

    unsigned char *d32, *d16;
    size_t n32, n16;
    assert_int_equal(dn_ae_encode_file(&d32, &n32, &m, DN_DTYPE_F32), 0);
    assert_int_equal(dn_ae_encode_file(&d16, &n16, &m, DN_DTYPE_F16), 0);
    assert_int_equal(n32 - n16, (size_t)m.n_params * 2);
    assert_int_equal(dn_ae_decode_file(&back, d16, n16, "<f16>"), 0);
    for (long i = 0; i < m.n_params; i++)
        tu_assert_close("f16 weight", i, (double)back.param_mem[i], (double)m.param_mem[i], 1e-7, 1.0 / 1024);
    dn_ae_free(&back);
    free(d16);

    for (size_t at = 0; at < n32; at += 5) {
        d32[at] ^= 0x08;
        assert_int_equal(dn_ae_decode_file(&back, d32, n32, "flip.dfa"), -1);
        assert_null(back.param_mem);
        assert_non_null(strstr(dn_error(), "'flip.dfa'"));
        d32[at] ^= 0x08;
    }
    for (size_t len = 0; len < n32; len++) assert_int_equal(dn_ae_decode_file(&back, d32, len, "cut.dfa"), -1);
    /* a NaN weight behind a valid checksum */
    float nan = NAN;
    size_t fb = tu_find(d32, n32, "dec.conv_out.bias") + 17 + 4 + 4 + 4;
    memcpy(d32 + fb, &nan, 4);
    tu_refit_crc(d32, n32);
    assert_int_equal(dn_ae_decode_file(&back, d32, n32, "nan.dfa"), -1);
    assert_non_null(strstr(dn_error(), "NaN"));
    free(d32);
    /* a forged config: widths 4,6,8 -> 4,6,9 (not divisible by 2 groups) */
    assert_int_equal(dn_ae_encode_file(&d32, &n32, &m, DN_DTYPE_F32), 0);
    unsigned char *wv = d32 + tu_find(d32, n32, "autoencoder.widths") + 18 + 4;
    assert_memory_equal(wv, "4,6,8", 5);
    wv[4] = '9';
    tu_refit_crc(d32, n32);
    assert_int_equal(dn_ae_decode_file(&back, d32, n32, "forged.dfa"), -1);
    assert_non_null(strstr(dn_error(), "divisible"));
    free(d32);
    /* a U-Net model is not an autoencoder */
    assert_int_equal(dn_ae_load(tu_tiny_model(), &back), -1);
    assert_non_null(strstr(dn_error(), "not an autoencoder"));
    /* nor is a truncated file on disk; the message names it */
    assert_int_equal(dn_ae_encode_file(&d32, &n32, &m, DN_DTYPE_F32), 0);
    assert_int_equal(dn_write_file_atomic(path, d32, n32 - 9), 0);
    assert_int_equal(dn_ae_load(path, &back), -1);
    assert_non_null(strstr(dn_error(), path));
    free(d32);
    dn_ae_free(&m);
}

static void psnr_is_the_textbook_one(void **state) {
    (void)state;
    float a[4] = {-1, 0, 0.5f, 1}, b[4] = {-1, 0.1f, 0.5f, 0.9f};
    /* MSE = (0.01 + 0.01) / 4 = 0.005; 10 log10(4 / 0.005) = 29.03 dB */
    tu_assert_close("psnr", 0, dn_psnr(a, b, 4), 10.0 * log10(4.0 / 0.005), 1e-6, 1e-6);
    assert_true(dn_psnr(a, a, 4) == 200.0);
}

/* The PyTorch twin (tests/golden/ae_twin.py, which documents the golden file): its weights as a
 * .dfa written from docs/MODEL_FORMAT.md alone load; the moments, the latent, the reconstruction
 * and the loss L = mean|recon - x| + 1e-3 KL / (N C H W) match torch's (computed in float64), and
 * so do dL/dz, dL/dmoments (the reparametrisation, the KL term and the clamp of the log-variance,
 * active for 23 of the 32 values of the last channel) and every parameter's gradient. Each
 * quantity: |c - torch| <= atol + rtol |torch| elementwise, with atol = rtol max |torch| (rtol
 * 1e-5 for the forward, 1e-4 for the gradients). Dropping the clamp's zero gradient, or either KL
 * term, from dmoments fails it. */
static void matches_pytorch_twin(void **state) {
    (void)state;
    dn_autoencoder m;
    if (dn_ae_load("tests/golden/ae_small.dfa", &m)) fail_msg("%s (run from the repository root)", dn_error());
    assert_true(m.scale_factor == 1.0f && m.psnr_pets == 0.0f && m.psnr_photos == 0.0f);
    assert_non_null(strstr(m.trained_on, "ae_twin.py"));
    unsigned char *buf;
    size_t len;
    if (dn_read_file("tests/golden/ae_small.bin", &buf, &len, (size_t)1 << 22)) fail_msg("%s", dn_error());
    const unsigned char *p = buf, *end = buf + len;
    uint32_t u;
#define RD32() (assert_true(p + 4 <= end), memcpy(&u, p, 4), p += 4, (int)u) /* little-endian host */
    assert_true(len > 8 && memcmp(p, "DNGOLD01", 8) == 0);
    p += 8;
    assert_int_equal(RD32(), 12);
    const dn_ae_config *c = &m.cfg;
    int want_cfg[12] = {c->in_channels, c->height, c->width, c->latent_channels, c->n_levels, c->widths[0],
                        c->widths[1], c->widths[2], c->widths[3], c->widths[4], c->blocks, c->groups};
    for (int i = 0; i < 12; i++) assert_int_equal(RD32(), want_cfg[i]);
    int nb = RD32(), nt = RD32(), zc = c->latent_channels, H = c->height, W = c->width;
    int f = dn_ae_factor(c), zhw = (H / f) * (W / f);
    long nx = (long)nb * c->in_channels * H * W, nz = (long)nb * zc * zhw;
    enum { X, EPS, MOMENTS, ZED, RECON, LOSS, DMOMENTS, DZ, FIXED };
    const char *fixed[FIXED] = {"x", "eps", "moments", "z", "recon", "loss", "grad:moments", "grad:z"};
    long fixed_n[FIXED] = {nx, nz, 2 * nz, nz, nx, 1, 2 * nz, nz};
    assert_int_equal(nt, FIXED + m.n_tensors);
    float **t = calloc((size_t)nt, sizeof *t);
    assert_non_null(t);
    for (int i = 0; i < nt; i++) {
        char name[80], want[80];
        int nl = RD32();
        assert_true(nl < (int)sizeof name && p + nl <= end);
        memcpy(name, p, (size_t)nl), name[nl] = 0, p += nl;
        long numel = 1;
        for (int d = 0, nd = RD32(); d < nd; d++) numel *= RD32();
        snprintf(want, sizeof want, i < FIXED ? "%s" : "grad:%s", i < FIXED ? fixed[i] : m.tensors[i - FIXED].name);
        if (strcmp(name, want)) fail_msg("golden tensor %d is '%s', expected '%s'", i, name, want);
        assert_int_equal(numel, i < FIXED ? fixed_n[i] : m.tensors[i - FIXED].numel);
        assert_true(p + 4 * numel <= end);
        t[i] = malloc((size_t)numel * sizeof(float));
        memcpy(t[i], p, (size_t)numel * sizeof(float));
        p += 4 * numel;
    }
    assert_true(p == end);
#undef RD32

    /* forward: moments, z = mean + exp(logvar / 2) eps, recon, the loss */
    dn_ae_acts a;
    if (dn_ae_acts_alloc(&a, &m, nb, H, W)) fail_msg("%s", dn_error());
    const float *mo = dn_ae_encode_forward(&m, &a, t[X], nb);
    float *z = malloc((size_t)nz * 4), *dz = malloc((size_t)nz * 4), *dmo = malloc((size_t)nz * 8);
    float *recon = malloc((size_t)nx * 4), *drecon = malloc((size_t)nx * 4);
    const double kl_w = 1e-3 / (double)nx;
    double l1 = 0, kl = 0;
    for (int n = 0; n < nb; n++)
        for (int j = 0; j < zc * zhw; j++) {
            int zi = n * zc * zhw + j;
            float mu = mo[2 * n * zc * zhw + j], lv = dn_ae_logvar(mo[(2 * n + 1) * zc * zhw + j]);
            z[zi] = mu + expf(0.5f * lv) * t[EPS][zi];
            kl += 0.5 * ((double)mu * (double)mu + exp((double)lv) - 1.0 - (double)lv);
        }
    dn_ae_decode_forward(&m, &a, recon, z, nb);
    for (long i = 0; i < nx; i++) {
        double d = (double)recon[i] - (double)t[X][i];
        l1 += fabs(d);
        drecon[i] = (float)((d > 0) - (d < 0)) / (float)nx;
    }
    double loss = l1 / (double)nx + kl_w * kl;

    /* backward: the decoder gives dz; the reparametrisation, the KL term and the clamp give
     * dmoments; the encoder the rest */
    dn_ae_params g;
    float *gmem;
    assert_int_equal(dn_ae_grads_alloc(&m, &g, &gmem), 0);
    dn_ae_decode_backward(&m, &a, &g, dz, drecon);
    int clamped = 0;
    for (int n = 0; n < nb; n++)
        for (int j = 0; j < zc * zhw; j++) {
            int zi = n * zc * zhw + j, mi = 2 * n * zc * zhw + j, li = (2 * n + 1) * zc * zhw + j;
            float raw = mo[li], lv = dn_ae_logvar(raw);
            dmo[mi] = dz[zi] + (float)kl_w * mo[mi];
            dmo[li] = raw == lv ? dz[zi] * t[EPS][zi] * 0.5f * expf(0.5f * lv) + (float)(kl_w * 0.5 * (exp((double)lv) - 1.0))
                                : 0.0f;
            clamped += raw != lv;
        }
    assert_int_equal(clamped, 23);
    dn_ae_encode_backward(&m, &a, &g, dmo);

    /* compare: the outputs to rtol 1e-5, the gradients to 1e-4; atol = rtol max |torch| */
    float loss_f = (float)loss;
    struct {
        const char *what;
        const float *c, *torch;
        long n;
        double rtol;
    } cmp[6] = {{"moments", mo, t[MOMENTS], 2 * nz, 1e-5}, {"z", z, t[ZED], nz, 1e-5},
                {"recon", recon, t[RECON], nx, 1e-5},        {"loss", &loss_f, t[LOSS], 1, 1e-5},
                {"dL/dz", dz, t[DZ], nz, 1e-4},              {"dL/dmoments", dmo, t[DMOMENTS], 2 * nz, 1e-4}};
    double worst_abs = 0, worst_rel = 0, worst_ratio = 0;
    const char *worst_name = "";
    for (int q = 0; q < 6 + m.n_tensors; q++) {
        const char *what = q < 6 ? cmp[q].what : m.tensors[q - 6].name;
        const float *cv = q < 6 ? cmp[q].c : gmem + m.tensors[q - 6].offset;
        const float *tv = q < 6 ? cmp[q].torch : t[FIXED + q - 6];
        long n = q < 6 ? cmp[q].n : m.tensors[q - 6].numel;
        double rtol = q < 6 ? cmp[q].rtol : 1e-4, big = 0, ea = 0, ratio = 0;
        for (long i = 0; i < n; i++) big = fmax(big, fabs((double)tv[i]));
        double atol = rtol * big;
        for (long i = 0; i < n; i++) {
            double e = fabs((double)cv[i] - (double)tv[i]);
            ea = fmax(ea, e);
            ratio = fmax(ratio, e / (atol + rtol * fabs((double)tv[i]) + 1e-38));
        }
        if (q < 6)
            print_message("%-12s max abs err %.3g, max abs err / max |torch| %.3g (%.2f of the tolerance)\n", what, ea,
                          ea / big, ratio);
        else if (ratio > worst_ratio)
            worst_ratio = ratio, worst_name = what;
        if (q >= 6) worst_abs = fmax(worst_abs, ea), worst_rel = fmax(worst_rel, ea / big);
        if (!(ratio <= 1.0)) {
            for (long i = 0; i < n; i++) tu_assert_close(what, i, (double)cv[i], (double)tv[i], atol, rtol);
            fail_msg("%s: NaN", what);
        }
    }
    print_message("%d parameter gradients: max abs err %.3g, max abs err / max |torch| %.3g (worst: %s, %.2f of the "
                  "tolerance)\n", m.n_tensors, worst_abs, worst_rel, worst_name, worst_ratio);
    for (int i = 0; i < nt; i++) free(t[i]);
    free(t), free(buf), free(z), free(dz), free(dmo), free(recon), free(drecon), free(gmem);
    dn_ae_acts_free(&a);
    dn_ae_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gradients_match_finite_differences),
        cmocka_unit_test(default_config_is_the_documented_one),
        cmocka_unit_test(any_multiple_of_f),
        cmocka_unit_test(file_round_trip_and_refusals),
        cmocka_unit_test(psnr_is_the_textbook_one),
        cmocka_unit_test(matches_pytorch_twin),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
