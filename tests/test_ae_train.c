/* test_ae_train.c — teaching the autoencoder (core/latent/ae_train.h) with a tiny network at 64x64:
 * the loss falls and the held-out reconstructions get better within 60 updates; a run stopped,
 * saved and resumed gives the weights and optimiser state of the run that never stopped, bit for
 * bit, on 1 or 2 threads; a damaged checkpoint or a file of another kind is refused with the file
 * named; the batch mix and the photo crops follow their seed; the scale factor is 1 / std. */
#include "testutil.h"
#include "latent/ae_train.h"
#include "base/err.h"
#include "base/fileio.h"
#include "base/parallel.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static dn_ae_config tiny_net(void) {
    dn_ae_config c = dn_ae_default_config();
    c.widths[0] = 8, c.widths[1] = 8, c.widths[2] = 16;
    c.groups = 4;
    return c;
}

static dn_ae_train_config tiny_run(long steps) {
    dn_ae_train_config t;
    dn_ae_train_config_default(&t);
    t.steps = steps;
    t.batch = 4;
    t.lr = 3e-3f;
    t.warmup = 5;
    t.photo_share = 0.5f;
    t.seed = 7;
    return t;
}

static void loss_falls_and_reconstructions_improve(void **state) {
    (void)state;
    dn_ae_config nc = tiny_net();
    dn_ae_train_config tc = tiny_run(60);
    dn_ae_trainer tr;
    if (dn_ae_trainer_init(&tr, &tc, &nc)) fail_msg("%s", dn_error());
    double before, after;
    if (dn_ae_heldout(&tr.net, 0, NULL, 16, NULL, NULL, &before)) fail_msg("%s", dn_error());
    double first = 0, last = 0;
    for (int s = 0; s < 60; s++) {
        dn_ae_train_stats st;
        assert_int_equal(dn_ae_trainer_step(&tr, &st), 0);
        assert_true(isfinite(st.loss) && st.rec > 0 && st.kl >= 0 && st.grad_norm > 0);
        if (s < 10) first += (double)st.rec;
        if (s >= 50) last += (double)st.rec;
    }
    if (dn_ae_heldout(&tr.net, 0, NULL, 16, NULL, NULL, &after)) fail_msg("%s", dn_error());
    print_message("reconstruction L1 %.4f -> %.4f; held-out pets PSNR %.2f -> %.2f dB\n", first / 10, last / 10, before,
                  after);
    assert_true(last < 0.75 * first);
    assert_true(after > before + 2.0);
    float scale;
    assert_int_equal(dn_ae_trainer_measure_scale(&tr, &scale), 0);
    assert_true(scale > 0.01f && scale < 100.0f);
    double ph;
    if (dn_ae_heldout(&tr.net, 1, NULL, 8, NULL, NULL, &ph)) fail_msg("%s", dn_error());
    assert_true(ph > 5.0 && ph < 60.0);
    dn_ae_trainer_free(&tr);
}

static void resume_is_bit_exact(void **state) {
    (void)state;
    dn_ae_config nc = tiny_net();
    dn_ae_train_config tc = tiny_run(12);
    snprintf(tc.out, sizeof tc.out, "tiny.dfa");
    dn_ae_trainer a, b;
    dn_threads_set(1);
    if (dn_ae_trainer_init(&a, &tc, &nc)) fail_msg("%s", dn_error());
    for (int s = 0; s < 12; s++) assert_int_equal(dn_ae_trainer_step(&a, NULL), 0);
    dn_threads_set(2);
    if (dn_ae_trainer_init(&b, &tc, &nc)) fail_msg("%s", dn_error());
    for (int s = 0; s < 6; s++) assert_int_equal(dn_ae_trainer_step(&b, NULL), 0);
    char path[512];
    snprintf(path, sizeof path, "%s/ae.ckpt", tu_tmpdir());
    if (dn_ae_trainer_save(&b, path)) fail_msg("%s", dn_error());
    dn_ae_trainer_free(&b);
    if (dn_ae_trainer_load(&b, path, 0)) fail_msg("%s", dn_error());
    assert_int_equal(b.step, 6);
    assert_string_equal(b.cfg.out, "tiny.dfa");
    for (int s = 0; s < 6; s++) assert_int_equal(dn_ae_trainer_step(&b, NULL), 0);
    assert_int_equal(a.net.n_params, b.net.n_params);
    assert_memory_equal(a.net.param_mem, b.net.param_mem, (size_t)a.net.n_params * sizeof(float));
    assert_memory_equal(a.opt.m, b.opt.m, (size_t)a.net.n_params * sizeof(float));
    assert_memory_equal(a.opt.v, b.opt.v, (size_t)a.net.n_params * sizeof(float));
    assert_true(a.loss_smooth == b.loss_smooth);
    dn_ae_trainer_free(&a);
    dn_ae_trainer_free(&b);
    dn_threads_set(1);

    /* a damaged checkpoint and a file of another kind are refused, naming the file */
    unsigned char *d;
    size_t n;
    assert_int_equal(dn_read_file(path, &d, &n, (size_t)1 << 28), 0);
    d[n / 2] ^= 1;
    char bad[600];
    snprintf(bad, sizeof bad, "%s/bad.ckpt", tu_tmpdir());
    assert_int_equal(dn_write_file_atomic(bad, d, n), 0);
    assert_int_equal(dn_ae_trainer_load(&b, bad, 0), -1);
    assert_non_null(strstr(dn_error(), bad));
    assert_null(b.net.param_mem);
    free(d);
    assert_int_equal(dn_ae_trainer_load(&b, tu_tiny_model(), 0), -1);
    assert_non_null(strstr(dn_error(), "not an autoencoder checkpoint"));
}

static void batch_mix_follows_the_seed(void **state) {
    (void)state;
    dn_ae_config nc = tiny_net();
    dn_ae_train_config tc = tiny_run(1);
    dn_ae_trainer tr;
    if (dn_ae_trainer_init(&tr, &tc, &nc)) fail_msg("%s", dn_error());
    enum { P = 3 * 64 * 64 };
    float *x = malloc(4 * P * sizeof(float)), *y = malloc(4 * P * sizeof(float));
    assert_non_null(x);
    assert_non_null(y);
    for (int i = 0; i < 4; i++) {
        dn_ae_train_picture(&tr, x + i * P, 3, i);
        dn_ae_train_picture(&tr, y + i * P, 3, i);
    }
    assert_memory_equal(x, y, 4 * P * sizeof(float)); /* same step, same pictures */
    dn_ae_train_picture(&tr, y, 4, 0);
    assert_memory_not_equal(x, y, P * sizeof(float)); /* another step, another crop */
    for (long i = 0; i < 4L * P; i++) assert_true(x[i] >= -1.0f && x[i] <= 1.0f);
    /* the two photo crops of a batch of 4 (share 0.5) come from the training photos */
    assert_int_equal(tr.photos.n, tr.photos.n_total - tr.photos.n_total / 4);
    assert_true(tr.photos.n >= 3);
    free(x), free(y);
    dn_ae_trainer_free(&tr);
    /* a missing photo folder says which package brings it */
    tc.photo_share = 0.25f;
    snprintf(tc.photos_dir, sizeof tc.photos_dir, "/nonexistent/photos");
    assert_int_equal(dn_ae_trainer_init(&tr, &tc, &nc), -1);
    assert_non_null(strstr(dn_error(), "mate-backgrounds"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(batch_mix_follows_the_seed),
        cmocka_unit_test(resume_is_bit_exact),
        cmocka_unit_test(loss_falls_and_reconstructions_improve),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
