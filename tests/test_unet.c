/* test_unet.c — the U-Net against its PyTorch twin (tests/golden/unet_small.bin and .dfm, written
 * once by tests/golden/unet_twin.py): output and every gradient; against central finite
 * differences of the whole network; the same bits with 1 and 2 threads; plus config checks,
 * batch independence and conditioning. */
#include "testutil.h"
#include "base/err.h"
#include "diffusion/model.h"
#include "nn/nn.h"
#include "base/parallel.h"
#include "base/rng.h"
#include "nets/unet.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the golden file (format in unet_twin.py) ------------------------------------------------- */

typedef struct {
    char name[64];
    int ndim, shape[4];
    long numel;
    float *data;
} gtensor;

typedef struct {
    dn_unet_config cfg;
    int batch, n;
    gtensor *t;
    unsigned char *buf;
} golden;

static uint32_t rd32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void golden_load(golden *g, const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s (run from the repository root)", path);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    g->buf = malloc((size_t)len);
    assert_non_null(g->buf);
    assert_int_equal(fread(g->buf, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    const unsigned char *p = g->buf, *end = g->buf + len;
    assert_memory_equal(p, "DNGOLD01", 8);
    p += 8;
    int nc = (int)rd32(p);
    p += 4;
    assert_int_equal(nc, 17);
    int ci[17];
    for (int i = 0; i < 17; i++, p += 4) ci[i] = (int)rd32(p);
    dn_unet_config *c = &g->cfg;
    memset(c, 0, sizeof *c);
    c->in_channels = ci[0], c->out_channels = ci[1], c->height = ci[2], c->width = ci[3];
    c->base_width = ci[4], c->n_levels = ci[5];
    for (int l = 0; l < 4; l++) c->mults[l] = ci[6 + l];
    c->blocks = ci[10], c->attn_levels = ci[11], c->groups = ci[12], c->heads = ci[13];
    c->temb_width = ci[14], c->num_classes = ci[15], c->prediction = ci[16];
    g->batch = (int)rd32(p);
    g->n = (int)rd32(p + 4);
    p += 8;
    g->t = calloc((size_t)g->n, sizeof(gtensor));
    for (int i = 0; i < g->n; i++) {
        gtensor *t = &g->t[i];
        uint32_t nl = rd32(p);
        assert_true(nl < sizeof t->name);
        memcpy(t->name, p + 4, nl);
        p += 4 + nl;
        t->ndim = (int)rd32(p);
        p += 4;
        t->numel = 1;
        for (int d = 0; d < t->ndim; d++, p += 4) t->numel *= t->shape[d] = (int)rd32(p);
        t->data = malloc((size_t)t->numel * sizeof(float));
        memcpy(t->data, p, (size_t)t->numel * sizeof(float)); /* little-endian host assumed */
        p += t->numel * 4;
        assert_true(p <= end);
    }
    assert_true(p == end);
}

static gtensor *gfind(golden *g, const char *name) {
    for (int i = 0; i < g->n; i++)
        if (strcmp(g->t[i].name, name) == 0) return &g->t[i];
    fail_msg("golden file has no tensor '%s'", name);
    return NULL;
}

static void golden_free(golden *g) {
    for (int i = 0; i < g->n; i++) free(g->t[i].data);
    free(g->t);
    free(g->buf);
}

/* Compare with a tolerance relative to the tensor's largest value: float32 sums in different
 * orders differ by a few ulps of the largest terms, not of each small entry. */
static double max_rel_err(const float *a, const float *b, long n) {
    double mx = 0, err = 0;
    for (long i = 0; i < n; i++) mx = fmax(mx, fabs((double)b[i]));
    for (long i = 0; i < n; i++) err = fmax(err, fabs((double)a[i] - (double)b[i]));
    return err / fmax(mx, 1e-30);
}

#define GOLDEN_TOL 1e-4 /* max |c - torch| / max |torch| per tensor */

static void matches_pytorch(void **state) {
    (void)state;
    golden g;
    golden_load(&g, "tests/golden/unet_small.bin");
    dn_unet m;
    assert_int_equal(dn_unet_init(&m, &g.cfg), 0);
    /* same names, shapes and order as the twin's parameters */
    int k = 0;
    for (int i = 0; i < g.n; i++) {
        if (strncmp(g.t[i].name, "param:", 6)) continue;
        assert_true(k < m.n_tensors);
        const dn_net_tensor *t = &m.tensors[k++];
        if (strcmp(t->name, g.t[i].name + 6)) fail_msg("tensor %d: C '%s', torch '%s'", k - 1, t->name, g.t[i].name + 6);
        assert_int_equal(t->numel, g.t[i].numel);
        assert_int_equal(t->ndim, g.t[i].ndim);
        for (int d = 0; d < t->ndim; d++) assert_int_equal(t->shape[d], g.t[i].shape[d]);
        memcpy(m.param_mem + t->offset, g.t[i].data, (size_t)t->numel * sizeof(float));
    }
    assert_int_equal(k, m.n_tensors);

    int N = g.batch;
    gtensor *x = gfind(&g, "x"), *tt = gfind(&g, "t"), *idf = gfind(&g, "ids");
    gtensor *target = gfind(&g, "target"), *want = gfind(&g, "out");
    int ids[8];
    for (int i = 0; i < N; i++) ids[i] = (int)idf->data[i];
    dn_unet_acts a;
    assert_int_equal(dn_unet_acts_alloc(&a, &m, N), 0);
    float *out = malloc((size_t)want->numel * sizeof(float));
    dn_unet_forward(&m, &a, out, x->data, tt->data, ids, N);
    double e = max_rel_err(out, want->data, want->numel);
    print_message("output: max rel err %.3g\n", e);
    assert_true(e < GOLDEN_TOL);
    float loss = dn_mse_forward(out, target->data, want->numel);
    tu_assert_close("loss", 0, (double)loss, (double)gfind(&g, "loss")->data[0], 0, 1e-5);

    dn_unet_params grads;
    float *gmem;
    assert_int_equal(dn_unet_grads_alloc(&m, &grads, &gmem), 0);
    float *dout = calloc((size_t)want->numel, sizeof(float));
    float *dx = malloc((size_t)x->numel * sizeof(float));
    dn_mse_backward(dout, out, target->data, want->numel, 1.0f);
    dn_unet_backward(&m, &a, &grads, dx, dout);
    e = max_rel_err(dx, gfind(&g, "grad:x")->data, x->numel);
    print_message("grad x: max rel err %.3g\n", e);
    assert_true(e < GOLDEN_TOL);
    double worst = 0;
    for (int i = 0; i < m.n_tensors; i++) {
        const dn_net_tensor *t = &m.tensors[i];
        char name[64];
        snprintf(name, sizeof name, "grad:%s", t->name);
        gtensor *gt = gfind(&g, name);
        e = max_rel_err(gmem + t->offset, gt->data, t->numel);
        if (e > worst) worst = e;
        if (!(e < GOLDEN_TOL)) fail_msg("gradient of %s: max rel err %.3g > %g", t->name, e, GOLDEN_TOL);
    }
    print_message("%d parameter gradients: worst max rel err %.3g\n", m.n_tensors, worst);
    free(out), free(dout), free(dx), free(gmem);
    dn_unet_acts_free(&a);
    dn_unet_free(&m);
    golden_free(&g);
}

/* The same weights as a model file written by the twin from docs/MODEL_FORMAT.md alone: the
 * format description is complete, and the loaded network gives PyTorch's output. */
static void python_written_model_file(void **state) {
    (void)state;
    golden g;
    golden_load(&g, "tests/golden/unet_small.bin");
    dn_unet m;
    dn_model_meta meta;
    if (dn_model_load("tests/golden/unet_small.dfm", &m, &meta)) fail_msg("%s", dn_error());
    assert_memory_equal(&m.cfg, &g.cfg, sizeof m.cfg);
    for (int i = 0; i < m.n_tensors; i++) {
        char name[64];
        snprintf(name, sizeof name, "param:%s", m.tensors[i].name);
        assert_memory_equal(m.param_mem + m.tensors[i].offset, gfind(&g, name)->data,
                            (size_t)m.tensors[i].numel * sizeof(float));
    }
    assert_string_equal(meta.dataset, "golden");
    assert_int_equal(meta.n_class_names, 3);
    assert_string_equal(meta.class_names[1], "one");
    assert_true(meta.seed == 1234);
    assert_string_equal(dn_model_meta_get(&meta, "written_by"), "unet_twin.py");
    gtensor *x = gfind(&g, "x"), *want = gfind(&g, "out"), *idf = gfind(&g, "ids");
    int ids[2] = {(int)idf->data[0], (int)idf->data[1]};
    dn_unet_acts a;
    assert_int_equal(dn_unet_acts_alloc(&a, &m, g.batch), 0);
    float *out = malloc((size_t)want->numel * sizeof(float));
    dn_unet_forward(&m, &a, out, x->data, gfind(&g, "t")->data, ids, g.batch);
    assert_true(max_rel_err(out, want->data, want->numel) < GOLDEN_TOL);
    free(out);
    dn_unet_acts_free(&a);
    dn_unet_free(&m);
    golden_free(&g);
}

/* ---- finite differences ---------------------------------------------------------------------- */

static dn_unet_config tiny_config(void) {
    dn_unet_config c = dn_unet_default_config(2, 4, 4, 2);
    c.base_width = 4;
    c.n_levels = 2;
    c.mults[0] = 1, c.mults[1] = 2;
    c.attn_levels = 3;
    c.groups = 2;
    c.heads = 2;
    c.temb_width = 8;
    return c;
}

/* Non-trivial weights: PyTorch init, then GroupNorm weights/biases moved off 1/0. */
static void random_net(dn_unet *m, const dn_unet_config *c, uint64_t seed) {
    assert_int_equal(dn_unet_init(m, c), 0);
    dn_rng r;
    dn_rng_seed(&r, seed, 1);
    dn_unet_init_random(m, &r);
    for (int i = 0; i < m->n_tensors; i++)
        if (strstr(m->tensors[i].name, "norm"))
            for (long k = 0; k < m->tensors[i].numel; k++)
                m->param_mem[m->tensors[i].offset + k] += 0.3f * dn_rng_normal(&r);
}

/* L = sum out * R, accumulated in double (the oracle's precision); dL/dout = R */
static double loss_of(const dn_unet *m, dn_unet_acts *a, float *out, const float *x, const float *t,
                      const int *ids, int N, const float *R, long n) {
    dn_unet_forward(m, a, out, x, t, ids, N);
    double s = 0;
    for (long i = 0; i < n; i++) s += (double)out[i] * (double)R[i];
    return s;
}

static void whole_net_finite_differences(void **state) {
    (void)state;
    dn_unet_config c = tiny_config();
    dn_unet m;
    random_net(&m, &c, 5);
    int N = 2;
    long nin = (long)N * c.in_channels * c.height * c.width, nout = (long)N * c.out_channels * c.height * c.width;
    float *x = malloc((size_t)nin * 4), *out = malloc((size_t)nout * 4), *R = malloc((size_t)nout * 4);
    float *dx = malloc((size_t)nin * 4);
    float t[2] = {3.0f, 700.0f};
    int ids[2] = {0, 2};
    dn_rng r;
    dn_rng_seed(&r, 9, 2);
    dn_rng_normal_fill(&r, x, nin);
    dn_rng_normal_fill(&r, R, nout);
    dn_unet_acts a;
    assert_int_equal(dn_unet_acts_alloc(&a, &m, N), 0);
    dn_unet_params grads;
    float *gmem;
    assert_int_equal(dn_unet_grads_alloc(&m, &grads, &gmem), 0);
    loss_of(&m, &a, out, x, t, ids, N, R, nout);
    dn_unet_backward(&m, &a, &grads, dx, R);

    /* two random entries of every parameter tensor, and 8 input values */
    const float h = 1e-2f;
    int checked = 0;
    double worst = 0;
    for (int i = 0; i < m.n_tensors + 1; i++) {
        for (int rep = 0; rep < (i < m.n_tensors ? 2 : 8); rep++) {
            float *v, an;
            const char *what;
            if (i < m.n_tensors) {
                const dn_net_tensor *tt = &m.tensors[i];
                long k = tt->offset + (long)dn_rng_below(&r, (uint32_t)tt->numel);
                /* class rows no image uses have gradient 0 either way; pick a used one */
                if (strncmp(tt->name, "class_emb", 9) == 0)
                    k = tt->offset + (long)ids[rep] * c.temb_width + (long)dn_rng_below(&r, (uint32_t)c.temb_width);
                v = &m.param_mem[k];
                an = gmem[k];
                what = tt->name;
            } else {
                long k = (long)dn_rng_below(&r, (uint32_t)nin);
                v = &x[k];
                an = dx[k];
                what = "input";
            }
            float v0 = *v;
            *v = v0 + h;
            double lp = loss_of(&m, &a, out, x, t, ids, N, R, nout);
            *v = v0 - h;
            double lm = loss_of(&m, &a, out, x, t, ids, N, R, nout);
            *v = v0;
            double fd = (lp - lm) / (2.0 * (double)h);
            double err = fabs(fd - (double)an) / (1e-2 + fabs(fd));
            if (err > worst) worst = err;
            if (err > 3e-2) fail_msg("%s: finite difference %.6g, backward %.6g", what, fd, (double)an);
            checked++;
        }
    }
    print_message("%d finite-difference checks, worst relative error %.3g\n", checked, worst);
    free(x), free(out), free(R), free(dx), free(gmem);
    dn_unet_acts_free(&a);
    dn_unet_free(&m);
}

/* ---- threads, batches, configs ------------------------------------------------------------------ */

static void run_once(const dn_unet *m, dn_unet_acts *a, float *out, float *gmem, dn_unet_params *g,
                     float *dx, const float *x, const float *t, const int *ids, int N, const float *R) {
    memset(gmem, 0, (size_t)m->n_params * sizeof(float));
    dn_unet_forward(m, a, out, x, t, ids, N);
    dn_unet_backward(m, a, g, dx, R);
}

static void same_bits_for_1_and_2_threads(void **state) {
    (void)state;
    dn_unet_config c = dn_unet_default_config(3, 32, 32, 10);
    dn_unet m;
    random_net(&m, &c, 11);
    int N = 3; /* odd, so a split across threads is uneven */
    long nin = (long)N * 3 * 32 * 32;
    float *x = malloc((size_t)nin * 4), *R = malloc((size_t)nin * 4), *o1 = malloc((size_t)nin * 4),
          *o2 = malloc((size_t)nin * 4), *d1 = malloc((size_t)nin * 4), *d2 = malloc((size_t)nin * 4);
    dn_rng r;
    dn_rng_seed(&r, 3, 3);
    dn_rng_normal_fill(&r, x, nin);
    dn_rng_normal_fill(&r, R, nin);
    float t[3] = {10.0f, 900.0f, 333.3f};
    int ids[3] = {4, 10, 0};
    dn_unet_acts a;
    assert_int_equal(dn_unet_acts_alloc(&a, &m, N), 0);
    dn_unet_params ga, gb; /* two gradient blocks, one per thread count */
    float *g1, *g2;
    assert_int_equal(dn_unet_grads_alloc(&m, &ga, &g1), 0);
    assert_int_equal(dn_unet_grads_alloc(&m, &gb, &g2), 0);
    int before = dn_threads_get();
    dn_threads_set(1);
    run_once(&m, &a, o1, g1, &ga, d1, x, t, ids, N, R);
    dn_threads_set(2);
    run_once(&m, &a, o2, g2, &gb, d2, x, t, ids, N, R);
    dn_threads_set(before);
    assert_memory_equal(o1, o2, (size_t)nin * 4);
    assert_memory_equal(d1, d2, (size_t)nin * 4);
    assert_memory_equal(g1, g2, (size_t)m.n_params * 4);
    free(x), free(R), free(o1), free(o2), free(d1), free(d2), free(g1), free(g2);
    dn_unet_acts_free(&a);
    dn_unet_free(&m);
}

/* Image i's output does not depend on the other images of its batch; the class changes it. */
static void batch_independent_and_conditioned(void **state) {
    (void)state;
    dn_unet_config c = dn_unet_default_config(1, 28, 28, 10); /* 28 -> 14 -> 7 */
    dn_unet m;
    random_net(&m, &c, 12);
    long n1 = 28 * 28;
    float x[3 * 28 * 28], out3[3 * 28 * 28], out1[28 * 28];
    dn_rng r;
    dn_rng_seed(&r, 4, 4);
    dn_rng_normal_fill(&r, x, 3 * n1);
    float t[3] = {999.0f, 0.0f, 250.5f};
    int ids[3] = {0, 10, 7};
    dn_unet_acts a;
    assert_int_equal(dn_unet_acts_alloc(&a, &m, 3), 0);
    dn_unet_forward(&m, &a, out3, x, t, ids, 3);
    for (long i = 0; i < 3 * n1; i++) assert_true(isfinite(out3[i]));
    for (int b = 0; b < 3; b++) {
        dn_unet_forward(&m, &a, out1, x + b * n1, t + b, ids + b, 1);
        tu_assert_allclose("batch of 1 vs batch of 3", out1, out3 + b * n1, n1, 1e-5, 1e-4);
    }
    int other = 3;
    dn_unet_forward(&m, &a, out1, x, t, &other, 1);
    double diff = 0;
    for (long i = 0; i < n1; i++) diff += fabs((double)out1[i] - (double)out3[i]);
    assert_true(diff / (double)n1 > 1e-4); /* another class, another prediction */
    dn_unet_acts_free(&a);
    dn_unet_free(&m);
}

static void default_config_sizes(void **state) {
    (void)state;
    dn_unet_config c = dn_unet_default_config(3, 32, 32, 10);
    assert_int_equal(dn_unet_config_check(&c), 0);
    /* parameter count of the PyTorch twin (unet_twin.py) for the same config */
    assert_int_equal(dn_unet_param_count(&c), 1115363);
    double f = dn_unet_flops(&c);
    print_message("default 32x32x3: %ld parameters, %.1f MFLOP per forward\n",
                  dn_unet_param_count(&c), f / 1e6);
    assert_true(f > 3e8 && f < 7e8);
    dn_unet m;
    assert_int_equal(dn_unet_init(&m, &c), 0);
    long sum = 0;
    for (int i = 0; i < m.n_tensors; i++) {
        assert_int_equal(m.tensors[i].offset, sum); /* consecutive, in order */
        sum += m.tensors[i].numel;
    }
    assert_int_equal(sum, m.n_params);
    dn_unet_free(&m);
}

static void bad_configs_refused(void **state) {
    (void)state;
    dn_unet_config c = dn_unet_default_config(1, 30, 30, 10);
    assert_int_equal(dn_unet_config_check(&c), -1); /* 30 is not divisible by 4 */
    assert_non_null(strstr(dn_error(), "divisible by 4"));
    c = dn_unet_default_config(3, 32, 32, 10);
    c.groups = 7;
    assert_int_equal(dn_unet_config_check(&c), -1);
    c = dn_unet_default_config(3, 32, 32, 10);
    c.heads = 5;
    assert_int_equal(dn_unet_config_check(&c), -1);
    c = dn_unet_default_config(3, 32, 32, 10);
    c.attn_levels = 1; /* 1024 positions is fine... */
    assert_int_equal(dn_unet_config_check(&c), 0);
    c.height = c.width = 128; /* ...16384 is not */
    assert_int_equal(dn_unet_config_check(&c), -1);
    c = dn_unet_default_config(3, 32, 32, 10);
    c.n_levels = 5;
    assert_int_equal(dn_unet_config_check(&c), -1);
    c = dn_unet_default_config(3, 32, 32, 10);
    c.base_width = 1024, c.mults[1] = c.mults[2] = 2;
    assert_int_equal(dn_unet_config_check(&c), -1); /* too many parameters */
    c = dn_unet_default_config(3, 32, 32, 10);
    c.prediction = 2; /* "sample" prediction is the sampler's, not a U-Net output type here */
    assert_int_equal(dn_unet_config_check(&c), -1);
    dn_unet m;
    assert_int_equal(dn_unet_init(&m, &c), -1);
    dn_unet_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(default_config_sizes),
        cmocka_unit_test(bad_configs_refused),
        cmocka_unit_test(matches_pytorch),
        cmocka_unit_test(python_written_model_file),
        cmocka_unit_test(whole_net_finite_differences),
        cmocka_unit_test(batch_independent_and_conditioned),
        cmocka_unit_test(same_bits_for_1_and_2_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
