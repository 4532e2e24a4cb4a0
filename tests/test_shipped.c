/* test_shipped.c — the models in assets/models/ (issue 5): each loads with the metadata the viewer
 * and the lessons rely on, a copy with one flipped byte is refused, a short deterministic sample
 * matches the committed reference, and a handful of guided samples per class is mostly recognised
 * by the shipped classifier.
 * The references (tests/data/shipped_NAME_ref.bin: float32 values of 2 samples, DDIM 10 steps,
 * seed 0) are written by `DN_WRITE_REF=1 build/tests/test_shipped` when a model is replaced. */
#include "testutil.h"
#include "nets/classifier.h"
#include "base/err.h"
#include "diffusion/generate.h"
#include "nn/kernels.h"
#include "diffusion/model.h"
#include "base/parallel.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name;           /* pets, fashion */
    int channels, side, classes;
    const char *first_class, *last_class;
} shipped;

static const shipped models[] = {
    {"pets", 3, 32, 2, "cat", "dog"},
    {"fashion", 1, 28, 10, "T-shirt/top", "Ankle boot"},
};

static void load(const shipped *s, dn_unet *net, dn_model_meta *meta, dn_sched *sched) {
    char path[256];
    snprintf(path, sizeof path, "assets/models/%s.dfm", s->name);
    if (dn_model_load(path, net, meta) < 0) fail_msg("%s", dn_error());
    assert_int_equal(net->cfg.in_channels, s->channels);
    assert_int_equal(net->cfg.height, s->side);
    assert_int_equal(net->cfg.num_classes, s->classes);
    assert_int_equal(meta->n_class_names, s->classes);
    assert_string_equal(meta->class_names[0], s->first_class);
    assert_string_equal(meta->class_names[s->classes - 1], s->last_class);
    assert_string_equal(meta->dataset, s->name);
    assert_non_null(dn_model_meta_get(meta, "sample.cfg_scale"));
    assert_true(meta->train_steps > 0);
    assert_int_equal(dn_sched_init(sched, meta->schedule, meta->num_train_timesteps, meta->beta_start, meta->beta_end), 0);
}

static float cfg_of(const dn_model_meta *meta) { return strtof(dn_model_meta_get(meta, "sample.cfg_scale"), NULL); }

/* Load, metadata, size limit, and refusal of single flipped bytes. */
static void test_load_and_refuse(void **state) {
    (void)state;
    for (size_t m = 0; m < sizeof models / sizeof models[0]; m++) {
        dn_unet net;
        dn_model_meta meta;
        dn_sched sched;
        load(&models[m], &net, &meta, &sched);
        char path[256];
        snprintf(path, sizeof path, "assets/models/%s.dfm", models[m].name);
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        fseek(f, 0, SEEK_END);
        long len = ftell(f);
        fseek(f, 0, SEEK_SET);
        assert_true(len <= 8L << 20); /* the limit: 8 MB */
        unsigned char *buf = malloc((size_t)len);
        assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
        fclose(f);
        long probes[] = {3, 40, len / 3, len / 2, len - 100, len - 2};
        for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
            buf[probes[i]] ^= 0x04;
            dn_unet bad;
            dn_model_meta bm;
            assert_int_equal(dn_model_decode(&bad, &bm, buf, (size_t)len, "flipped.dfm"), -1);
            assert_non_null(strstr(dn_error(), "flipped.dfm"));
            assert_null(bad.param_mem);
            buf[probes[i]] ^= 0x04;
        }
        free(buf);
        printf("# %s: %ld parameters, %ld training steps, %.2f MB\n", models[m].name, net.n_params, meta.train_steps,
               (double)len / 1048576.0);
        dn_sched_free(&sched);
        dn_unet_free(&net);
    }
}

/* Two samples (the first and the last class), DDIM 10 steps, seed 0, against the reference, bit
 * for bit, with every vector copy of the kernels this CPU runs (kernels.h; the plain-C copy is
 * ~50x slower: DN_TEST_GENERIC=1 adds it, as `make isa-check` does; test_kernels checks it on a
 * small U-Net). The
 * reference was written on another machine: the same bits on every CPU is the promise (isa.h). */
static void test_reference_sample(void **state) {
    (void)state;
    dn_threads_set(2);
    const dn_kernels *before = dn_kernels_get();
    int ncopies;
    const dn_kernels *const *all = dn_kernels_all(&ncopies);
    for (size_t m = 0; m < sizeof models / sizeof models[0]; m++) {
        dn_unet net;
        dn_model_meta meta;
        dn_sched sched;
        load(&models[m], &net, &meta, &sched);
        int ids[2] = {0, models[m].classes - 1};
        dn_sampler_config sc;
        dn_sampler_config_recommended(&sc, DN_DDIM, 10);
        char path[256];
        snprintf(path, sizeof path, "tests/data/shipped_%s_ref.bin", models[m].name);
        for (int c = 0; c < ncopies; c++) {
            if (!dn_kernels_supported(all[c]) || (!strcmp(all[c]->name, "generic") && !getenv("DN_TEST_GENERIC")))
                continue;
            assert_int_equal(dn_kernels_use(all[c]->name), 0);
            dn_gen g;
            assert_int_equal(dn_gen_init(&g, &net, &sched, &sc, 2, ids, cfg_of(&meta), 0), 0);
            while (g.i < g.sp.n) dn_gen_step(&g, NULL, NULL);
            long n = 2 * g.plane;
            if (getenv("DN_WRITE_REF") && all[c] == before) {
                FILE *f = fopen(path, "wb");
                assert_non_null(f);
                assert_int_equal(fwrite(g.x, sizeof(float), (size_t)n, f), (size_t)n);
                fclose(f);
                printf("# wrote %s\n", path);
            }
            float *ref = malloc(sizeof(float) * (size_t)n);
            FILE *f = fopen(path, "rb");
            if (!f) fail_msg("%s missing: run DN_WRITE_REF=1 build/tests/test_shipped after replacing a model", path);
            assert_int_equal(fread(ref, sizeof(float), (size_t)n, f), (size_t)n);
            fclose(f);
            long differ = 0;
            double worst = 0;
            for (long i = 0; i < n; i++) {
                differ += memcmp(&g.x[i], &ref[i], sizeof(float)) != 0;
                worst = fmax(worst, fabs((double)g.x[i] - (double)ref[i]));
            }
            printf("# %s, %s kernels: reference sample, %ld of %ld values differ (largest difference %.3g)\n",
                   models[m].name, all[c]->name, differ, n, worst);
            assert_int_equal(differ, 0);
            free(ref);
            dn_gen_free(&g);
        }
        dn_sched_free(&sched);
        dn_unet_free(&net);
    }
    assert_int_equal(dn_kernels_use(before->name), 0);
}

/* A handful of guided samples of every class (DDIM 20 steps, the recommended guidance): most must
 * be classified as the class they were drawn for. The full measurement is `diffuse eval`. */
static void test_quality_smoke(void **state) {
    (void)state;
    dn_threads_set(2);
    for (size_t m = 0; m < sizeof models / sizeof models[0]; m++) {
        dn_unet net;
        dn_model_meta meta;
        dn_sched sched;
        load(&models[m], &net, &meta, &sched);
        char path[256];
        snprintf(path, sizeof path, "assets/models/%s-classifier.dfc", models[m].name);
        dn_classifier cls;
        if (dn_cls_load(path, &cls) < 0) fail_msg("%s", dn_error());
        int K = models[m].classes, per = K == 2 ? 8 : 4, n = K * per;
        int *ids = malloc(sizeof(int) * (size_t)n);
        for (int i = 0; i < n; i++) ids[i] = i % K;
        dn_sampler_config sc;
        dn_sampler_config_recommended(&sc, DN_DDIM, 20);
        dn_gen g;
        assert_int_equal(dn_gen_init(&g, &net, &sched, &sc, n, ids, cfg_of(&meta), 7), 0);
        while (g.i < g.sp.n) dn_gen_step(&g, NULL, NULL);
        float *probs = malloc(sizeof(float) * (size_t)n * (size_t)K);
        assert_int_equal(dn_cls_apply(&cls, NULL, probs, g.x, n), 0);
        int right = 0;
        for (int i = 0; i < n; i++) {
            int best = 0;
            for (int k = 1; k < K; k++)
                if (probs[i * K + k] > probs[i * K + best]) best = k;
            right += best == ids[i];
        }
        printf("# %s: %d of %d guided samples (w = %g) classified as their class\n", models[m].name, right, n,
               (double)cfg_of(&meta));
        assert_true(right * 10 >= n * 6); /* most: at least 60% */
        free(probs), free(ids);
        dn_gen_free(&g);
        dn_cls_free(&cls);
        dn_sched_free(&sched);
        dn_unet_free(&net);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_and_refuse),
        cmocka_unit_test(test_reference_sample),
        cmocka_unit_test(test_quality_smoke),
    };
    if (getenv("DN_TEST_ONLY")) cmocka_set_test_filter(getenv("DN_TEST_ONLY")); /* e.g. make isa-check */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
