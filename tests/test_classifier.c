/* test_classifier.c — the evaluation classifier (core/nets/classifier.h): every parameter gradient
 * against central finite differences, probabilities that sum to one, a float32 file that loads
 * back bit for bit (float16 within rounding), refusal of a flipped byte, every truncation and a
 * NaN weight (with a re-forged checksum), and a short training on 3000 Fashion-MNIST images that
 * must beat chance (10%) by far on held-out test images; the same seed trains the same weights
 * bit for bit on 1 or 2 threads. */
#include "testutil.h"
#include "nets/classifier.h"
#include "data/data.h"
#include "base/err.h"
#include "base/fileio.h"
#include "diffusion/model.h"
#include "base/parallel.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* 2 channels 9x7 (odd sizes exercise the stride-2 rounding), layers 4 s1, 6 s2, 8 s2. */
static dn_cls_config tiny_config(void) {
    dn_cls_config c;
    memset(&c, 0, sizeof c);
    c.in_channels = 2, c.height = 9, c.width = 7;
    c.n_layers = 3;
    c.widths[0] = 4, c.strides[0] = 1;
    c.widths[1] = 6, c.strides[1] = 2;
    c.widths[2] = 8, c.strides[2] = 2;
    c.groups = 2;
    c.num_classes = 3;
    return c;
}

static void make_tiny(dn_classifier *m, uint64_t seed) {
    dn_cls_config c = tiny_config();
    assert_int_equal(dn_cls_init(m, &c), 0);
    dn_rng r;
    dn_rng_seed(&r, seed, 0);
    dn_cls_init_random(m, &r);
    /* move GroupNorm away from (1, 0) so its gradients are tested in general position */
    for (int l = 0; l < c.n_layers; l++)
        for (int k = 0; k < c.widths[l]; k++) {
            m->params.norm_w[l][k] = 0.5f + dn_rng_uniform(&r);
            m->params.norm_b[l][k] = dn_rng_uniform(&r) - 0.5f;
        }
    strcpy(m->dataset, "tiny");
    strcpy(m->class_names[0], "zero");
    strcpy(m->class_names[1], "one");
    strcpy(m->class_names[2], "Ankle boot");
    m->test_accuracy = 0.875f;
}

static float loss_at(const dn_classifier *m, dn_cls_acts *a, const float *x, const int *y, int N) {
    dn_cls_forward(m, a, x, N);
    return dn_cls_loss(a, y, m->cfg.num_classes);
}

static void gradients_match_finite_differences(void **state) {
    (void)state;
    dn_classifier m;
    make_tiny(&m, 5);
    enum { N = 3 };
    long plane = 2 * 9 * 7;
    float x[N * 2 * 9 * 7];
    int y[N] = {2, 0, 1};
    dn_rng r;
    dn_rng_seed(&r, 9, 1);
    for (long i = 0; i < N * plane; i++) x[i] = 2.0f * dn_rng_uniform(&r) - 1.0f;
    dn_cls_acts a;
    assert_int_equal(dn_cls_acts_alloc(&a, &m, N), 0);
    dn_cls_params g;
    float *gmem;
    assert_int_equal(dn_cls_grads_alloc(&m, &g, &gmem), 0);
    dn_cls_forward(&m, &a, x, N);
    /* softmax rows sum to 1 */
    for (int n = 0; n < N; n++) {
        double s = 0;
        for (int k = 0; k < 3; k++) s += (double)a.probs[n * 3 + k];
        tu_assert_close("softmax row sum", n, s, 1.0, 1e-6, 0);
    }
    dn_cls_backward(&m, &a, &g, y);
    /* every parameter (the tiny net has ~800): central differences in float32, h = 1e-2 */
    int checked = 0;
    double worst = 0;
    for (long i = 0; i < m.n_params; i++) {
        float keep = m.param_mem[i], h = 1e-2f;
        m.param_mem[i] = keep + h;
        double lp = (double)loss_at(&m, &a, x, y, N);
        m.param_mem[i] = keep - h;
        double lm = (double)loss_at(&m, &a, x, y, N);
        m.param_mem[i] = keep;
        double num = (lp - lm) / (2.0 * (double)h), ana = (double)gmem[i];
        double err = fabs(num - ana) / (fabs(num) + fabs(ana) + 1e-3);
        if (err > worst) worst = err;
        tu_assert_close("dLoss/dparam", i, ana, num, 2e-3, 2e-2);
        checked++;
    }
    assert_int_equal(checked, m.n_params);
    print_message("checked %d gradients, worst relative error %.2g\n", checked, worst);
    /* backward ADDS: a second backward doubles every gradient */
    float *first = malloc((size_t)m.n_params * sizeof(float));
    assert_non_null(first);
    memcpy(first, gmem, (size_t)m.n_params * sizeof(float));
    dn_cls_forward(&m, &a, x, N);
    dn_cls_backward(&m, &a, &g, y);
    for (long i = 0; i < m.n_params; i++) tu_assert_close("accumulated", i, (double)gmem[i], 2.0 * (double)first[i], 1e-6, 1e-5);
    free(first);
    free(gmem);
    dn_cls_acts_free(&a);
    dn_cls_free(&m);
}

static void file_round_trip_and_refusals(void **state) {
    (void)state;
    dn_classifier m, back;
    make_tiny(&m, 11);
    char path[512];
    snprintf(path, sizeof path, "%s/tiny.dfc", tu_tmpdir());
    assert_int_equal(dn_cls_save(path, &m, 0), 0);
    if (dn_cls_load(path, &back)) fail_msg("%s", dn_error());
    assert_int_equal(back.n_params, m.n_params);
    assert_memory_equal(&back.cfg, &m.cfg, sizeof m.cfg);
    assert_memory_equal(back.param_mem, m.param_mem, (size_t)m.n_params * sizeof(float));
    assert_string_equal(back.dataset, "tiny");
    assert_string_equal(back.class_names[2], "Ankle boot");
    assert_true(back.test_accuracy == 0.875f);
    dn_cls_free(&back);

    /* float16: half the weight bytes, values within half-precision rounding */
    unsigned char *d32, *d16;
    size_t n32, n16;
    assert_int_equal(dn_cls_encode(&d32, &n32, &m, 0), 0);
    assert_int_equal(dn_cls_encode(&d16, &n16, &m, 1), 0);
    assert_int_equal(n32 - n16, (size_t)m.n_params * 2);
    assert_int_equal(dn_cls_decode(&back, d16, n16, "<f16>"), 0);
    for (long i = 0; i < m.n_params; i++)
        tu_assert_close("f16 weight", i, (double)back.param_mem[i], (double)m.param_mem[i], 1e-7, 1.0 / 1024);
    dn_cls_free(&back);

    /* a flipped bit anywhere is refused, naming the file; the output stays zeroed */
    for (size_t at = 0; at < n32; at += 7) {
        d32[at] ^= 0x10;
        assert_int_equal(dn_cls_decode(&back, d32, n32, "flip.dfc"), -1);
        assert_null(back.param_mem);
        assert_non_null(strstr(dn_error(), "'flip.dfc'"));
        d32[at] ^= 0x10;
    }
    /* every truncation is refused */
    for (size_t len = 0; len < n32; len++) assert_int_equal(dn_cls_decode(&back, d32, len, "cut.dfc"), -1);
    assert_non_null(strstr(dn_error(), "cut.dfc"));
    /* a NaN weight behind a valid checksum is refused by name */
    float nan = NAN;
    size_t fb = tu_find(d32, n32, "fc.bias") + 7 + 4 + 4 + 4; /* after dtype, rank and its one dimension */
    memcpy(d32 + fb, &nan, 4);
    tu_refit_crc(d32, n32);
    assert_int_equal(dn_cls_decode(&back, d32, n32, "nan.dfc"), -1);
    assert_non_null(strstr(dn_error(), "NaN"));
    /* a forged config (stride 3) behind a valid checksum is refused */
    free(d32);
    free(d16);
    assert_int_equal(dn_cls_encode(&d32, &n32, &m, 0), 0);
    unsigned char *st = d32 + tu_find(d32, n32, "classifier.strides") + 18 + 4; /* its value "1,2,2" */
    st[2] = '3'; /* strides[1] */
    tu_refit_crc(d32, n32);
    assert_int_equal(dn_cls_decode(&back, d32, n32, "forged.dfc"), -1);
    assert_non_null(strstr(dn_error(), "stride 3"));
    /* the same file on disk, truncated: dn_cls_load names the path */
    assert_int_equal(dn_write_file_atomic(path, d32, n32 / 2), 0);
    assert_int_equal(dn_cls_load(path, &back), -1);
    assert_non_null(strstr(dn_error(), path));
    free(d32);
    dn_cls_free(&m);
}

/* Version 1 (before the container) still loads: a file of make_tiny(11) written by that version,
 * and the same refusals on it. */
static void legacy_v1_file_loads_and_refuses(void **state) {
    (void)state;
    dn_classifier m, back;
    make_tiny(&m, 11);
    unsigned char *d32;
    size_t n32;
    if (dn_read_file("tests/data/tiny_v1.dfc", &d32, &n32, 1 << 20) < 0) fail_msg("%s", dn_error());
    if (dn_cls_decode(&back, d32, n32, "tiny_v1.dfc")) fail_msg("%s", dn_error());
    assert_memory_equal(&back.cfg, &m.cfg, sizeof m.cfg);
    assert_memory_equal(back.param_mem, m.param_mem, (size_t)m.n_params * sizeof(float));
    assert_string_equal(back.dataset, "tiny");
    assert_string_equal(back.class_names[2], "Ankle boot");
    assert_true(back.test_accuracy == 0.875f);
    dn_cls_free(&back);
    for (size_t at = 0; at < n32; at += 7) {
        d32[at] ^= 0x10;
        assert_int_equal(dn_cls_decode(&back, d32, n32, "flip.dfc"), -1);
        assert_null(back.param_mem);
        assert_non_null(strstr(dn_error(), "'flip.dfc'"));
        d32[at] ^= 0x10;
    }
    for (size_t len = 0; len < n32; len++) assert_int_equal(dn_cls_decode(&back, d32, len, "cut.dfc"), -1);
    unsigned char *e = malloc(n32);
    assert_non_null(e);
    memcpy(e, d32, n32);
    float nan = NAN;
    memcpy(e + n32 - 4 - 4 * 5, &nan, 4);
    tu_refit_crc(e, n32);
    assert_int_equal(dn_cls_decode(&back, e, n32, "nan.dfc"), -1);
    assert_non_null(strstr(dn_error(), "is nan"));
    memcpy(e, d32, n32);
    int32_t three = 3;
    memcpy(e + 16 + 4 * (4 + DN_CLS_MAX_LAYERS + 1), &three, 4); /* strides[1] */
    tu_refit_crc(e, n32);
    assert_int_equal(dn_cls_decode(&back, e, n32, "forged.dfc"), -1);
    assert_non_null(strstr(dn_error(), "stride 3"));
    free(e), free(d32);
    dn_cls_free(&m);
}

static void progress(void *ctx, int epoch, long step, long total, float loss, float acc) {
    (void)ctx, (void)acc;
    if (step == total) print_message("epoch %d, step %ld/%ld, loss %.3f\n", epoch + 1, step, total, (double)loss);
}

/* 3000 training images, 3 epochs of a narrower net (16/32/64/64): must reach 70% on 1000 test
 * images (chance is 10%; the full classifier reaches about 90% on the whole set). */
static void short_training_learns_fashion(void **state) {
    (void)state;
    dn_data train, test;
    if (dn_data_open(&train, "fashion", 0, getenv("DIFFUSE_FASHION_DIR"))) fail_msg("%s", dn_error());
    if (dn_data_open(&test, "fashion", 1, getenv("DIFFUSE_FASHION_DIR"))) fail_msg("%s", dn_error());
    dn_cls_config c = dn_cls_default_config(1, 28, 28, 10);
    c.widths[0] = 16, c.widths[1] = 32, c.widths[2] = 64, c.widths[3] = 64;
    dn_classifier m;
    assert_int_equal(dn_cls_init(&m, &c), 0);
    dn_cls_train_config tc = dn_cls_train_defaults();
    tc.epochs = 3;
    tc.batch = 32;
    tc.lr = 3e-3f;
    tc.max_images = 3000;
    tc.augment = 0;
    tc.seed = 1;
    tc.progress = progress;
    if (dn_cls_train(&m, &train, &tc)) fail_msg("%s", dn_error());
    double acc;
    assert_int_equal(dn_cls_accuracy(&m, &test, 1000, &acc), 0);
    print_message("test accuracy after 3 x 3000 images: %.1f%%\n", 100 * acc);
    assert_true(acc >= 0.70);
    assert_string_equal(m.class_names[9], "Ankle boot");
    /* the wrong data set is refused */
    dn_data pets = {0};
    pets.channels = 3, pets.height = 32, pets.width = 32, pets.num_classes = 2, pets.name = "pets";
    assert_int_equal(dn_cls_accuracy(&m, &pets, 10, &acc), -1);
    dn_cls_free(&m);
    dn_data_close(&train);
    dn_data_close(&test);
}

/* The same seed gives the same weights bit for bit, whatever the thread count. */
static void training_is_reproducible(void **state) {
    (void)state;
    dn_data pets;
    if (dn_data_open(&pets, "pets", 0, NULL)) fail_msg("%s", dn_error());
    dn_cls_config c = dn_cls_default_config(3, 32, 32, 2);
    c.widths[0] = 8, c.widths[1] = 8, c.widths[2] = 16, c.widths[3] = 16;
    dn_classifier a, b;
    assert_int_equal(dn_cls_init(&a, &c), 0);
    assert_int_equal(dn_cls_init(&b, &c), 0);
    dn_cls_train_config tc = dn_cls_train_defaults();
    tc.epochs = 1, tc.batch = 16, tc.max_images = 64, tc.seed = 7;
    dn_threads_set(1);
    assert_int_equal(dn_cls_train(&a, &pets, &tc), 0);
    dn_threads_set(2);
    assert_int_equal(dn_cls_train(&b, &pets, &tc), 0);
    dn_threads_set(0);
    assert_memory_equal(a.param_mem, b.param_mem, (size_t)a.n_params * sizeof(float));
    tc.seed = 8;
    assert_int_equal(dn_cls_train(&b, &pets, &tc), 0);
    assert_true(memcmp(a.param_mem, b.param_mem, (size_t)a.n_params * sizeof(float)) != 0);
    assert_string_equal(a.class_names[1], pets.class_names[1]);
    dn_cls_free(&a);
    dn_cls_free(&b);
    dn_data_close(&pets);
}

int main(void) {
    dn_threads_set(0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gradients_match_finite_differences),
        cmocka_unit_test(file_round_trip_and_refusals),
        cmocka_unit_test(legacy_v1_file_loads_and_refuses),
        cmocka_unit_test(training_is_reproducible),
        cmocka_unit_test(short_training_learns_fashion),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
