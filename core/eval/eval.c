/* eval.c — see eval.h. Sections: sampling / the numbers of a set / real data and floors. */
#include "eval/eval.h"
#include "base/err.h"
#include "base/parallel.h"
#include "base/rng.h"
#include "diffusion/generate.h"
#include "eval/frechet.h"
#include "latent/latent.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* The size of the pictures a model makes: its own, or its autoencoder's decodings. */
static void picture_shape(const dn_unet *net, const dn_autoencoder *ae, int *C, int *H, int *W) {
    int f = ae ? dn_ae_factor(&ae->cfg) : 1;
    *C = ae ? ae->cfg.in_channels : net->cfg.in_channels, *H = net->cfg.height * f, *W = net->cfg.width * f;
}

int dn_eval_check(const dn_unet *net, const dn_autoencoder *ae, const dn_classifier *cls, const char *net_name,
                  const char *cls_name) {
    const dn_cls_config *cc = &cls->cfg;
    int K = net->cfg.num_classes, C, H, W;
    picture_shape(net, ae, &C, &H, &W);
    if (cc->in_channels != C || cc->height != H || cc->width != W || (K && cc->num_classes != K))
        return dn_fail("the classifier '%s' takes %dx%dx%d images in %d classes; the model '%s' makes "
                       "%dx%dx%d images in %d classes", cls_name, cc->in_channels, cc->height, cc->width,
                       cc->num_classes, net_name, C, H, W, K);
    return 0;
}

/* ---- sampling ---------------------------------------------------------------------------------- */

/* n samples with class ids (NULL = unconditional) at guidance w into x (n x plane). */
static int sample(const dn_eval *e, const int *ids, float w, const char *what, float *x) {
    const dn_eval_config *c = &e->c;
    dn_sampler_config sc;
    dn_sampler_config_recommended(&sc, DN_DDIM, c->steps);
    if (c->ae) dn_sampler_config_latent(&sc);
    dn_gen g;
    if (dn_gen_init(&g, c->net, c->sched, &sc, c->n, ids, w, c->seed)) return -1;
    double t0 = now();
    while (g.i < g.sp.n) {
        if (dn_gen_step(&g, NULL, NULL) < 0) {
            dn_gen_free(&g);
            return -1;
        }
        if (c->progress) c->progress(c->ctx, what, g.i, g.sp.n, now() - t0);
    }
    int rc = 0;
    if (c->ae) rc = dn_latent_decode(c->ae, x, g.x, c->n, c->net->cfg.height, c->net->cfg.width);
    else memcpy(x, g.x, (size_t)c->n * (size_t)g.plane * sizeof(float));
    dn_gen_free(&g);
    return rc;
}

/* ---- the numbers of a set ------------------------------------------------------------------------ */

static int argmax(const float *p, int K) {
    int b = 0;
    for (int k = 1; k < K; k++) b = p[k] > p[b] ? k : b;
    return b;
}

/* Accuracy (when ids is given), decisiveness and the histograms from n rows of K probabilities. */
static void classify_stats(dn_eval_set *s, const float *probs, const int *ids, int n, int K) {
    memset(s, 0, sizeof *s);
    s->n = n;
    long right = 0, dec = 0;
    for (int i = 0; i < n; i++) {
        const float *p = probs + (long)i * K;
        int a = argmax(p, K);
        s->hist[a]++;
        dec += p[a] > 0.9f;
        if (ids && ids[i] < K) {
            s->per_class_n[ids[i]]++;
            s->per_class_right[ids[i]] += a == ids[i];
            right += a == ids[i];
        }
    }
    s->accuracy = ids ? (double)right / n : -1;
    s->decisive = (double)dec / n;
}

int dn_eval_samples(dn_eval *e, const int *ids, float w, const char *what, dn_eval_set *s) {
    int n = e->c.n;
    if (sample(e, ids, w, what, e->x) || dn_cls_apply(e->c.cls, e->feat, e->probs, e->x, n)) return -1;
    classify_stats(s, e->probs, ids, n, e->K);
    return dn_frechet_features(&s->fd, e->feat, n, e->test_feat, e->nt, e->F);
}

/* ---- real data and floors ------------------------------------------------------------------------ */

int dn_eval_open(dn_eval *e, const dn_eval_config *c) {
    memset(e, 0, sizeof *e);
    e->c = *c;
    const dn_cls_config *cc = &c->cls->cfg;
    if (dn_eval_check(c->net, c->ae, c->cls, "model", "classifier") < 0) return -1;
    int PC, PH, PW;
    picture_shape(c->net, c->ae, &PC, &PH, &PW);
    if (c->n < 2 || c->n > 10000) return dn_fail("%d samples per set: choose 2 .. 10000", c->n);
    int n = c->n;
    e->F = cc->widths[cc->n_layers - 1], e->K = cc->num_classes;
    e->plane = (long)PC * PH * PW;
    e->nt = c->n_real > 0 && c->n_real < c->test->n ? c->n_real : c->test->n;
    long nt = e->nt, nb = n > 256 ? 256 : n, plane = e->plane;
    int F = e->F, K = e->K;
    float *test_prob = malloc((size_t)nt * (size_t)K * sizeof(float));
    float *tmp = malloc((size_t)nb * (size_t)plane * sizeof(float));
    float *fa = malloc((size_t)n * (size_t)F * sizeof(float));
    int *test_y = malloc((size_t)nt * sizeof(int));
    long *idx = malloc((size_t)(n > nt ? n : nt) * sizeof(long));
    e->test_feat = malloc((size_t)nt * (size_t)F * sizeof(float));
    e->x = malloc((size_t)n * (size_t)plane * sizeof(float));
    e->feat = malloc((size_t)n * (size_t)F * sizeof(float));
    e->probs = malloc((size_t)n * (size_t)K * sizeof(float));
    int rc = -1;
    if (!test_prob || !tmp || !fa || !test_y || !idx || !e->test_feat || !e->x || !e->feat || !e->probs) {
        dn_fail("out of memory for %d samples and %ld test images", n, nt);
        goto done;
    }
    /* the test split through the classifier, in chunks (pets are drawn on the fly) */
    for (long i = 0; i < nt; i += nb) {
        int b = nt - i < nb ? (int)(nt - i) : (int)nb;
        for (int j = 0; j < b; j++) idx[j] = i + j;
        dn_data_batch(c->test, tmp, test_y + i, idx, b);
        if (dn_cls_apply(c->cls, e->test_feat + i * F, test_prob + i * K, tmp, b)) goto done;
    }
    long right = 0;
    for (long i = 0; i < nt; i++) right += argmax(test_prob + i * K, K) == test_y[i];
    classify_stats(&e->real, test_prob, NULL, (int)nt, K);
    e->real.accuracy = (double)right / (double)nt;
    /* the floors: the distance real data has to the test set at the same sample size (n training
     * images, chosen by the seed), and between the two halves of the test set */
    dn_rng r;
    dn_rng_seed(&r, c->seed, 0x5eed);
    for (int i = 0; i < n; i++) idx[i] = (long)dn_rng_below(&r, (uint32_t)c->train->n);
    for (int i = 0; i < n; i += (int)nb) {
        int b = n - i < nb ? n - i : (int)nb;
        dn_data_batch(c->train, e->x + (long)i * plane, NULL, idx + i, b);
    }
    if (dn_cls_apply(c->cls, fa, NULL, e->x, n) || dn_frechet_features(&e->floor_n, fa, n, e->test_feat, nt, F) ||
        dn_frechet_features(&e->floor_half, e->test_feat, nt / 2, e->test_feat + (nt / 2) * F, nt - nt / 2, F))
        goto done;
    rc = 0;
done:
    free(test_prob), free(tmp), free(fa), free(test_y), free(idx);
    if (rc < 0) dn_eval_close(e);
    return rc;
}

void dn_eval_close(dn_eval *e) {
    free(e->test_feat), free(e->x), free(e->feat), free(e->probs);
    memset(e, 0, sizeof *e);
}

int dn_eval_reconstruction(const dn_autoencoder *ae, const dn_classifier *cls, const dn_data *test, long n,
                           double *acc, double *acc_rec, double *psnr) {
    if (n < 1 || n > test->n) n = test->n;
    enum { B = 64 };
    int f = dn_ae_factor(&ae->cfg), K = cls->cfg.num_classes;
    long plane = (long)test->channels * test->height * test->width;
    long zl = (long)ae->cfg.latent_channels * (test->height / f) * (test->width / f);
    float *x = malloc((size_t)B * plane * sizeof(float)), *r = malloc((size_t)B * plane * sizeof(float));
    float *z = malloc((size_t)B * zl * sizeof(float)), *p = malloc((size_t)B * K * sizeof(float));
    int *y = malloc(B * sizeof(int));
    long idx[B], right = 0, right_rec = 0;
    double se = 0;
    dn_ae_acts a = {0};
    int rc = -1;
    if (!x || !r || !z || !p || !y || dn_ae_acts_alloc(&a, ae, B, test->height, test->width) < 0) {
        dn_fail("out of memory to measure the autoencoder");
        goto out;
    }
    for (long i = 0; i < n; i += B) {
        int b = n - i < B ? (int)(n - i) : B;
        for (int j = 0; j < b; j++) idx[j] = i + j;
        dn_data_batch(test, x, y, idx, b);
        dn_ae_encode(ae, &a, z, x, b);
        dn_ae_decode(ae, &a, r, z, b);
        for (long k = 0; k < b * plane; k++) se += ((double)x[k] - (double)r[k]) * ((double)x[k] - (double)r[k]);
        if (dn_cls_apply(cls, NULL, p, x, b) < 0) goto out;
        for (int j = 0; j < b; j++) right += argmax(p + j * K, K) == y[j];
        if (dn_cls_apply(cls, NULL, p, r, b) < 0) goto out;
        for (int j = 0; j < b; j++) right_rec += argmax(p + j * K, K) == y[j];
    }
    if (dn_workspace_check() < 0) goto out;
    *acc = (double)right / (double)n, *acc_rec = (double)right_rec / (double)n;
    *psnr = se > 0 ? 10.0 * log10(4.0 / (se / ((double)n * (double)plane))) : 200.0;
    rc = 0;
out:
    dn_ae_acts_free(&a);
    free(x), free(r), free(z), free(p), free(y);
    return rc;
}
