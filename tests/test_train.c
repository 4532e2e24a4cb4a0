/* test_train.c — the training loop learns (held-out loss falls), is a pure function of its seed,
 * and a checkpoint resumes it bit for bit; corrupted checkpoints are refused. */
#include "testutil.h"
#include "base/err.h"
#include "diffusion/forward.h"
#include "nn/nn.h"
#include "base/parallel.h"
#include "base/rng.h"
#include "diffusion/train.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A tiny U-Net so a few hundred updates take seconds. */
static dn_unet_config tiny(const char *data) {
    int pets = !strcmp(data, "pets");
    dn_unet_config c = dn_unet_default_config(pets ? 3 : 1, pets ? 32 : 28, pets ? 32 : 28, pets ? 2 : 10);
    c.base_width = 16;
    c.n_levels = 2;
    c.mults[0] = 1, c.mults[1] = 2;
    c.attn_levels = 0;
    c.groups = 4;
    c.temb_width = 32;
    return c;
}

static dn_train_config settings(const char *data, long steps) {
    dn_train_config c;
    dn_train_config_default(&c, data);
    c.steps = steps;
    c.batch = 16;
    c.lr = 1e-3f;
    c.warmup = 20;
    c.seed = 7;
    return c;
}

/* The noise-prediction error on held-out images (test split) at fixed t and noise. */
static double heldout_loss(dn_trainer *tr) {
    dn_data test;
    assert_int_equal(dn_data_open(&test, tr->cfg.data, 1, NULL), 0);
    enum { N = 16 };
    const dn_unet_config *nc = &tr->net.cfg;
    long plane = (long)nc->in_channels * nc->height * nc->width;
    float *x0 = malloc(sizeof(float) * N * (size_t)plane), *eps = malloc(sizeof(float) * N * (size_t)plane);
    float *xt = malloc(sizeof(float) * N * (size_t)plane), *out = malloc(sizeof(float) * N * (size_t)plane);
    long idx[N];
    int ids[N];
    float t[N];
    for (int i = 0; i < N; i++) idx[i] = i * 37;
    dn_data_batch(&test, x0, ids, idx, N);
    dn_rng r;
    dn_rng_seed(&r, 99, 0);
    dn_rng_normal_fill(&r, eps, N * plane);
    for (int i = 0; i < N; i++) {
        t[i] = (float)(50 + 60 * i);
        dn_q_sample(xt + i * plane, x0 + i * plane, eps + i * plane, &tr->sched, (int)t[i], plane);
    }
    dn_unet_acts a;
    assert_int_equal(dn_unet_acts_alloc(&a, &tr->net, N), 0);
    dn_unet_forward(&tr->net, &a, out, xt, t, ids, N);
    double loss = (double)dn_mse_forward(out, eps, N * plane);
    dn_unet_acts_free(&a);
    free(x0), free(eps), free(xt), free(out);
    dn_data_close(&test);
    return loss;
}

/* Fashion-MNIST, 150 updates of batch 16: the held-out loss must fall well below where it
 * started (an untrained network is near 1, the variance of the noise). */
static void test_loss_falls(void **state) {
    (void)state;
    dn_train_config c = settings("fashion", 150);
    dn_unet_config nc = tiny("fashion");
    dn_trainer tr;
    assert_int_equal(dn_trainer_init(&tr, &c, &nc, NULL), 0);
    double before = heldout_loss(&tr);
    double first = 0, last = 0;
    for (int s = 0; s < 150; s++) {
        dn_train_stats st;
        dn_trainer_step(&tr, &st);
        assert_true(st.loss == st.loss && st.grad_norm >= 0);
        if (s < 20) first += (double)st.loss / 20.0;
        if (s >= 130) last += (double)st.loss / 20.0;
    }
    double after = heldout_loss(&tr);
    printf("# fashion tiny: train loss %.4f -> %.4f, held-out %.4f -> %.4f\n", first, last, before, after);
    assert_true(before > 0.5);
    assert_true(after < 0.5 * before);
    assert_true(last < 0.5 * first);
    assert_int_equal(tr.step, 150);
    dn_trainer_free(&tr);
}

static int same_state(const dn_trainer *a, const dn_trainer *b) {
    size_t n = (size_t)a->net.n_params * sizeof(float);
    return a->net.n_params == b->net.n_params && a->step == b->step && a->opt.step == b->opt.step &&
           a->ema.updates == b->ema.updates && !memcmp(a->net.param_mem, b->net.param_mem, n) &&
           !memcmp(a->ema.w, b->ema.w, n) && !memcmp(a->opt.m, b->opt.m, n) && !memcmp(a->opt.v, b->opt.v, n);
}

/* Pets: 30 straight updates == 13 updates, checkpoint, load, 17 more (crossing the warm-up and an
 * epoch boundary is not needed for exactness, but the data order, t, noise and dropout must all
 * come back). Also: the same seed twice gives the same weights, another seed other weights. */
static void test_resume_exact(void **state) {
    (void)state;
    dn_threads_set(2);
    dn_train_config c = settings("pets", 30);
    dn_unet_config nc = tiny("pets");
    dn_trainer a, b, d;
    assert_int_equal(dn_trainer_init(&a, &c, &nc, NULL), 0);
    for (int s = 0; s < 30; s++) dn_trainer_step(&a, NULL);

    assert_int_equal(dn_trainer_init(&b, &c, &nc, NULL), 0);
    for (int s = 0; s < 13; s++) dn_trainer_step(&b, NULL);
    char path[512];
    snprintf(path, sizeof path, "%s/run.ckpt", tu_tmpdir());
    assert_int_equal(dn_trainer_save(&b, path), 0);
    dn_trainer_free(&b);
    if (dn_trainer_load(&b, path, 0, NULL) < 0) fail_msg("%s", dn_error());
    assert_int_equal(b.step, 13);
    assert_int_equal(b.cfg.steps, 30);
    assert_int_equal(b.cfg.batch, 16);
    for (int s = 13; s < 30; s++) dn_trainer_step(&b, NULL);
    assert_true(same_state(&a, &b));

    /* one thread gives the same run as two (every kernel is thread-count independent) */
    dn_threads_set(1);
    assert_int_equal(dn_trainer_init(&d, &c, &nc, NULL), 0);
    for (int s = 0; s < 30; s++) dn_trainer_step(&d, NULL);
    assert_true(same_state(&a, &d));
    dn_trainer_free(&d);
    c.seed = 8;
    assert_int_equal(dn_trainer_init(&d, &c, &nc, NULL), 0);
    for (int s = 0; s < 30; s++) dn_trainer_step(&d, NULL);
    assert_false(same_state(&a, &d));
    dn_trainer_free(&d);
    dn_trainer_free(&a);
    dn_trainer_free(&b);
}

/* A checkpoint with any one byte changed, or cut short, is refused with a message, and the
 * trainer comes back zeroed. */
static void test_checkpoint_refusals(void **state) {
    (void)state;
    dn_train_config c = settings("pets", 5);
    dn_unet_config nc = tiny("pets");
    dn_trainer a;
    assert_int_equal(dn_trainer_init(&a, &c, &nc, NULL), 0);
    dn_trainer_step(&a, NULL);
    char path[512], bad[512];
    snprintf(path, sizeof path, "%s/ok.ckpt", tu_tmpdir());
    snprintf(bad, sizeof bad, "%s/bad.ckpt", tu_tmpdir());
    assert_int_equal(dn_trainer_save(&a, path), 0);
    dn_trainer_free(&a);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)len);
    assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    long probes[] = {0, 9, 13, 100, len / 2, len - 40, len - 1};
    for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
        buf[probes[i]] ^= 0x10;
        f = fopen(bad, "wb");
        fwrite(buf, 1, (size_t)len, f);
        fclose(f);
        buf[probes[i]] ^= 0x10;
        dn_trainer t;
        assert_int_equal(dn_trainer_load(&t, bad, 0, NULL), -1);
        assert_non_null(strstr(dn_error(), "bad.ckpt"));
        assert_null(t.net.param_mem);
    }
    long cuts[] = {0, 5, 12, 200, len - 5};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        f = fopen(bad, "wb");
        fwrite(buf, 1, (size_t)cuts[i], f);
        fclose(f);
        dn_trainer t;
        assert_int_equal(dn_trainer_load(&t, bad, 0, NULL), -1);
    }
    dn_trainer t;
    assert_int_equal(dn_trainer_load(&t, path, 0, NULL), 0);
    assert_int_equal(t.step, 1);
    dn_trainer_free(&t);
    free(buf);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loss_falls),
        cmocka_unit_test(test_resume_exact),
        cmocka_unit_test(test_checkpoint_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
