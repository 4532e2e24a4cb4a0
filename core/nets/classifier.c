/* classifier.c — see classifier.h. Sections: config / parameters / activations / forward /
 * backward / training / file. */
#include "nets/classifier.h"
#include "base/err.h"
#include "base/fileio.h"
#include "base/parallel.h"
#include "base/tensorfile.h"
#include "nn/nn.h"
#include "nn/optim.h"
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* ---- config ------------------------------------------------------------------------------------ */

dn_cls_config dn_cls_default_config(int in_channels, int height, int width, int num_classes) {
    dn_cls_config c;
    memset(&c, 0, sizeof c);
    c.in_channels = in_channels;
    c.height = height;
    c.width = width;
    /* A fourth, stride-2 layer widens the receptive field to the whole garment before the
     * average pool: on 10k fashion images x 2 epochs, 85% instead of 75% for three layers. */
    c.n_layers = 4;
    c.widths[0] = 32, c.strides[0] = 1;
    c.widths[1] = 64, c.strides[1] = 2;
    c.widths[2] = 128, c.strides[2] = 2;
    c.widths[3] = 128, c.strides[3] = 2;
    c.groups = 8;
    c.num_classes = num_classes;
    return c;
}

int dn_cls_config_check(const dn_cls_config *c) {
    if (c->in_channels < 1 || c->in_channels > 16)
        return dn_fail("classifier config: in_channels %d (1..16)", c->in_channels);
    if (c->height < 1 || c->height > 1024 || c->width < 1 || c->width > 1024)
        return dn_fail("classifier config: image %dx%d (1..1024 a side)", c->height, c->width);
    if (c->n_layers < 1 || c->n_layers > DN_CLS_MAX_LAYERS)
        return dn_fail("classifier config: n_layers %d (1..%d)", c->n_layers, DN_CLS_MAX_LAYERS);
    if (c->groups < 1 || c->groups > 1024) return dn_fail("classifier config: groups %d (1..1024)", c->groups);
    for (int l = 0; l < DN_CLS_MAX_LAYERS; l++) {
        if (l >= c->n_layers) {
            if (c->widths[l] || c->strides[l])
                return dn_fail("classifier config: layer %d is beyond n_layers %d but has width %d, stride %d",
                               l, c->n_layers, c->widths[l], c->strides[l]);
            continue;
        }
        if (c->widths[l] < 1 || c->widths[l] > 1024 || c->widths[l] % c->groups)
            return dn_fail("classifier config: width %d of layer %d (1..1024, a multiple of groups %d)",
                           c->widths[l], l, c->groups);
        if (c->strides[l] != 1 && c->strides[l] != 2)
            return dn_fail("classifier config: stride %d of layer %d (1 or 2)", c->strides[l], l);
    }
    if (c->num_classes < 2 || c->num_classes > DN_CLS_MAX_CLASSES)
        return dn_fail("classifier config: num_classes %d (2..%d)", c->num_classes, DN_CLS_MAX_CLASSES);
    return 0;
}

int dn_cls_layer_size(const dn_cls_config *c, int l, int *h, int *w) {
    int H = c->height, W = c->width;
    for (int i = 0; i <= l; i++) {
        H = dn_conv2d_out_size(H, 3, c->strides[i]);
        W = dn_conv2d_out_size(W, 3, c->strides[i]);
    }
    *h = H, *w = W;
    return H * W;
}

/* ---- parameters: one walk over the tensors, in file order ---------------------------------------- */

/* Hands out consecutive slices of base (NULL: only counts). */
static long walk_params(const dn_cls_config *c, dn_cls_params *p, float *base) {
    long off = 0;
    memset(p, 0, sizeof *p);
#define TAKE(ptr, n) (ptr = base ? base + off : NULL, off += (long)(n))
    int cin = c->in_channels;
    for (int l = 0; l < c->n_layers; l++) {
        int oc = c->widths[l];
        TAKE(p->conv_w[l], (long)oc * cin * 9);
        TAKE(p->conv_b[l], oc);
        TAKE(p->norm_w[l], oc);
        TAKE(p->norm_b[l], oc);
        cin = oc;
    }
    TAKE(p->fc_w, (long)c->num_classes * cin);
    TAKE(p->fc_b, c->num_classes);
#undef TAKE
    return off;
}

long dn_cls_param_count(const dn_cls_config *c) {
    if (dn_cls_config_check(c)) return 0;
    dn_cls_params p;
    return walk_params(c, &p, NULL);
}

int dn_cls_init(dn_classifier *m, const dn_cls_config *c) {
    memset(m, 0, sizeof *m);
    if (dn_cls_config_check(c)) return -1;
    m->cfg = *c;
    m->n_params = dn_cls_param_count(c);
    m->param_mem = calloc((size_t)m->n_params, sizeof(float));
    if (!m->param_mem) {
        memset(m, 0, sizeof *m);
        return dn_fail("cannot allocate the classifier: out of memory for %ld floats", m->n_params);
    }
    walk_params(c, &m->params, m->param_mem);
    m->test_accuracy = -1.0f;
    return 0;
}

void dn_cls_free(dn_classifier *m) {
    if (!m) return;
    free(m->param_mem);
    memset(m, 0, sizeof *m);
}

static void uniform_fill(dn_rng *r, float *v, long n, long fan_in) {
    float bound = 1.0f / sqrtf((float)fan_in);
    for (long k = 0; k < n; k++) v[k] = (2.0f * dn_rng_uniform(r) - 1.0f) * bound;
}

void dn_cls_init_random(dn_classifier *m, dn_rng *r) {
    const dn_cls_config *c = &m->cfg;
    dn_cls_params *p = &m->params;
    int cin = c->in_channels;
    for (int l = 0; l < c->n_layers; l++) {
        int oc = c->widths[l];
        uniform_fill(r, p->conv_w[l], (long)oc * cin * 9, (long)cin * 9);
        uniform_fill(r, p->conv_b[l], oc, (long)cin * 9);
        for (int k = 0; k < oc; k++) p->norm_w[l][k] = 1.0f, p->norm_b[l][k] = 0.0f;
        cin = oc;
    }
    uniform_fill(r, p->fc_w, (long)c->num_classes * cin, cin);
    uniform_fill(r, p->fc_b, c->num_classes, cin);
}

int dn_cls_grads_alloc(const dn_classifier *m, dn_cls_params *grads, float **mem) {
    *mem = calloc((size_t)m->n_params, sizeof(float));
    if (!*mem) return dn_fail("cannot allocate classifier gradients: out of memory for %ld floats", m->n_params);
    walk_params(&m->cfg, grads, *mem);
    return 0;
}

/* ---- activations: count, then slice one allocation ----------------------------------------------- */

static size_t acts_walk(dn_cls_acts *a, const dn_cls_config *c, int B, float *base) {
    size_t off = 0, big = (size_t)c->in_channels * (size_t)c->height * (size_t)c->width;
#define GRAB(ptr, n) (ptr = base ? base + off : NULL, off += (size_t)(n))
    for (int l = 0; l < c->n_layers; l++) {
        int h, w;
        size_t n = (size_t)B * (size_t)c->widths[l] * (size_t)dn_cls_layer_size(c, l, &h, &w);
        size_t per = n / (size_t)B;
        if (per > big) big = per;
        GRAB(a->conv[l], n);
        GRAB(a->gn[l], n);
        GRAB(a->act[l], n);
        GRAB(a->mean[l], (size_t)B * (size_t)c->groups);
        GRAB(a->rstd[l], (size_t)B * (size_t)c->groups);
    }
    int F = c->widths[c->n_layers - 1], K = c->num_classes;
    GRAB(a->feat, (size_t)B * (size_t)F);
    GRAB(a->dfeat, (size_t)B * (size_t)F);
    GRAB(a->logits, (size_t)B * (size_t)K);
    GRAB(a->probs, (size_t)B * (size_t)K);
    GRAB(a->dlogits, (size_t)B * (size_t)K);
    GRAB(a->s0, (size_t)B * big);
    GRAB(a->s1, (size_t)B * big);
#undef GRAB
    return off;
}

int dn_cls_acts_alloc(dn_cls_acts *a, const dn_classifier *m, int max_batch) {
    memset(a, 0, sizeof *a);
    if (max_batch < 1) return dn_fail("classifier batch %d (at least 1)", max_batch);
    size_t n = acts_walk(a, &m->cfg, max_batch, NULL);
    a->mem = malloc(n * sizeof(float));
    if (!a->mem) {
        memset(a, 0, sizeof *a);
        return dn_fail("cannot allocate classifier activations: out of memory for %zu floats", n);
    }
    acts_walk(a, &m->cfg, max_batch, a->mem);
    a->n_floats = n;
    a->max_batch = max_batch;
    return 0;
}

void dn_cls_acts_free(dn_cls_acts *a) {
    if (!a) return;
    free(a->mem);
    memset(a, 0, sizeof *a);
}

/* ---- forward ------------------------------------------------------------------------------------ */

void dn_cls_forward(const dn_classifier *m, dn_cls_acts *a, const float *x, int N) {
    const dn_cls_config *c = &m->cfg;
    const dn_cls_params *p = &m->params;
    assert(N >= 1 && N <= a->max_batch);
    a->n = N;
    a->x = x;
    const float *in = x;
    int C = c->in_channels, H = c->height, W = c->width, G = c->groups;
    for (int l = 0; l < c->n_layers; l++) {
        int oc = c->widths[l], s = c->strides[l];
        int Ho = dn_conv2d_out_size(H, 3, s), Wo = dn_conv2d_out_size(W, 3, s);
        dn_conv2d_forward(a->conv[l], in, p->conv_w[l], p->conv_b[l], N, C, H, W, oc, 3, s);
        dn_groupnorm_forward(a->gn[l], a->mean[l], a->rstd[l], a->conv[l], p->norm_w[l], p->norm_b[l],
                             N, oc, Ho * Wo, G);
        dn_silu_forward(a->act[l], a->gn[l], (long)N * oc * Ho * Wo);
        in = a->act[l], C = oc, H = Ho, W = Wo;
    }
    /* global average pool: feat[n,c] = mean over the H x W positions */
    int HW = H * W, K = c->num_classes;
    for (int n = 0; n < N; n++)
        for (int ch = 0; ch < C; ch++) {
            const float *v = in + ((long)n * C + ch) * HW;
            double s = 0;
            for (int i = 0; i < HW; i++) s += (double)v[i];
            a->feat[(long)n * C + ch] = (float)(s / HW);
        }
    dn_linear_forward(a->logits, a->feat, p->fc_w, p->fc_b, N, C, K);
    /* softmax, shifted by the row maximum so exp never overflows */
    for (int n = 0; n < N; n++) {
        const float *z = a->logits + (long)n * K;
        float *q = a->probs + (long)n * K, mx = z[0];
        for (int k = 1; k < K; k++) mx = z[k] > mx ? z[k] : mx;
        double s = 0;
        for (int k = 0; k < K; k++) s += (double)(q[k] = expf(z[k] - mx));
        for (int k = 0; k < K; k++) q[k] = (float)((double)q[k] / s);
    }
}

float dn_cls_loss(const dn_cls_acts *a, const int *labels, int K) {
    /* -log softmax(z)[y] = logsumexp(z) - z[y], computed from the logits (exact for tiny probs) */
    double sum = 0;
    for (int n = 0; n < a->n; n++) {
        const float *z = a->logits + (long)n * K;
        float mx = z[0];
        for (int k = 1; k < K; k++) mx = z[k] > mx ? z[k] : mx;
        double s = 0;
        for (int k = 0; k < K; k++) s += exp((double)(z[k] - mx));
        sum += (double)mx + log(s) - (double)z[labels[n]];
    }
    return (float)(sum / a->n);
}

/* ---- backward ----------------------------------------------------------------------------------- */

void dn_cls_backward(const dn_classifier *m, dn_cls_acts *a, dn_cls_params *g, const int *labels) {
    const dn_cls_config *c = &m->cfg;
    const dn_cls_params *p = &m->params;
    int N = a->n, K = c->num_classes, L = c->n_layers, F = c->widths[L - 1], G = c->groups;
    /* d(mean CE)/dlogits = (softmax - onehot) / N */
    for (int n = 0; n < N; n++)
        for (int k = 0; k < K; k++)
            a->dlogits[(long)n * K + k] = (a->probs[(long)n * K + k] - (k == labels[n] ? 1.0f : 0.0f)) / (float)N;
    memset(a->dfeat, 0, (size_t)N * (size_t)F * sizeof(float));
    dn_linear_backward(a->dfeat, g->fc_w, g->fc_b, a->dlogits, a->feat, p->fc_w, N, F, K);
    /* average pool: every position gets dfeat / HW */
    int h, w;
    int HW = dn_cls_layer_size(c, L - 1, &h, &w);
    float *cur = a->s0, *other = a->s1;
    for (long nc = 0; nc < (long)N * F; nc++)
        for (int i = 0; i < HW; i++) cur[nc * HW + i] = a->dfeat[nc] / (float)HW;
    for (int l = L - 1; l >= 0; l--) {
        int oc = c->widths[l], hw = dn_cls_layer_size(c, l, &h, &w);
        int Hin = c->height, Win = c->width, cin = c->in_channels;
        if (l > 0) dn_cls_layer_size(c, l - 1, &Hin, &Win), cin = c->widths[l - 1];
        size_t n_out = (size_t)N * (size_t)oc * (size_t)hw;
        memset(other, 0, n_out * sizeof(float)); /* cur = d act[l]  ->  other = d gn[l] */
        dn_silu_backward(other, cur, a->gn[l], (long)n_out);
        memset(cur, 0, n_out * sizeof(float)); /* other = d gn[l]  ->  cur = d conv[l] */
        dn_groupnorm_backward(cur, g->norm_w[l], g->norm_b[l], other, a->conv[l], a->mean[l], a->rstd[l],
                              p->norm_w[l], N, oc, hw, G);
        const float *in = l > 0 ? a->act[l - 1] : a->x;
        if (l > 0) {                             /* cur = d conv[l]  ->  other = d act[l-1] */
            memset(other, 0, (size_t)N * (size_t)cin * (size_t)Hin * (size_t)Win * sizeof(float));
            dn_conv2d_backward(other, g->conv_w[l], g->conv_b[l], cur, in, p->conv_w[l], N, cin, Hin, Win,
                               oc, 3, c->strides[l]);
            float *t = cur;
            cur = other, other = t;
        } else {
            dn_conv2d_backward(NULL, g->conv_w[l], g->conv_b[l], cur, in, p->conv_w[l], N, cin, Hin, Win,
                               oc, 3, c->strides[l]);
        }
    }
}

/* ---- training and measuring ----------------------------------------------------------------------- */

dn_cls_train_config dn_cls_train_defaults(void) {
    dn_cls_train_config t;
    memset(&t, 0, sizeof t);
    t.epochs = 3;
    t.batch = 64;
    t.lr = 3e-3f;
    t.weight_decay = 0.01f;
    t.augment = 1;
    t.report_every = 100;
    return t;
}

void dn_cls_set_names(dn_classifier *m, const dn_data *d) {
    snprintf(m->dataset, sizeof m->dataset, "%s", d->name);
    for (int k = 0; k < d->num_classes && k < DN_CLS_MAX_CLASSES; k++)
        snprintf(m->class_names[k], sizeof m->class_names[k], "%s", d->class_names[k]);
}

static int shape_matches(const dn_classifier *m, const dn_data *d) {
    const dn_cls_config *c = &m->cfg;
    if (c->in_channels != d->channels || c->height != d->height || c->width != d->width ||
        c->num_classes != d->num_classes)
        return dn_fail("the classifier takes %dx%dx%d images in %d classes, but data set '%s' has "
                       "%dx%dx%d images in %d classes", c->in_channels, c->height, c->width, c->num_classes,
                       d->name, d->channels, d->height, d->width, d->num_classes);
    return 0;
}

/* level 1: a random horizontal flip; level 2: also a shift of up to 2 pixels (edge pixels
 * repeat). In place. */
static void augment_image(float *x, float *tmp, int C, int H, int W, int level, dn_rng *r) {
    int flip = (int)dn_rng_below(r, 2), dy = 0, dx = 0;
    if (level >= 2) dy = (int)dn_rng_below(r, 5) - 2, dx = (int)dn_rng_below(r, 5) - 2;
    memcpy(tmp, x, (size_t)C * (size_t)H * (size_t)W * sizeof(float));
    for (int ch = 0; ch < C; ch++)
        for (int y = 0; y < H; y++)
            for (int xx = 0; xx < W; xx++) {
                int sy = y + dy, sx = (flip ? W - 1 - xx : xx) + dx;
                sy = sy < 0 ? 0 : sy >= H ? H - 1 : sy;
                sx = sx < 0 ? 0 : sx >= W ? W - 1 : sx;
                x[((long)ch * H + y) * W + xx] = tmp[((long)ch * H + sy) * W + sx];
            }
}

int dn_cls_train(dn_classifier *m, const dn_data *d, const dn_cls_train_config *tc) {
    if (shape_matches(m, d)) return -1;
    if (tc->batch < 1 || tc->epochs < 1) return dn_fail("classifier training: batch %d, epochs %d", tc->batch, tc->epochs);
    const dn_cls_config *c = &m->cfg;
    long n = tc->max_images > 0 && tc->max_images < d->n ? tc->max_images : d->n;
    int B = tc->batch < n ? tc->batch : (int)n;
    long plane = (long)c->in_channels * c->height * c->width;
    long steps_per_epoch = n / B, total = steps_per_epoch * tc->epochs;
    int status = -1;
    dn_cls_acts a = {0};
    dn_cls_params grads;
    float *gmem = NULL, *x = malloc((size_t)B * (size_t)plane * sizeof(float));
    float *tmp = malloc((size_t)plane * sizeof(float));
    long *all = malloc((size_t)d->n * sizeof(long)), *idx = malloc((size_t)B * sizeof(long));
    int *y = malloc((size_t)B * sizeof(int));
    dn_adamw opt = {0};
    dn_adamw_config ac = dn_adamw_defaults();
    ac.weight_decay = tc->weight_decay;
    if (!x || !tmp || !all || !idx || !y) {
        dn_fail("classifier training: out of memory");
        goto done;
    }
    if (dn_cls_acts_alloc(&a, m, B) || dn_cls_grads_alloc(m, &grads, &gmem) ||
        dn_adamw_init(&opt, m->n_params, &ac)) {
        if (!opt.m && gmem) dn_fail("classifier training: out of memory for the optimizer");
        goto done;
    }
    dn_rng r;
    dn_rng_seed(&r, tc->seed, 0);
    dn_cls_init_random(m, &r);
    dn_cls_set_names(m, d);
    m->test_accuracy = -1.0f;
    /* the subset: a seeded shuffle of the whole split, first n kept; reshuffled every epoch */
    for (long i = 0; i < d->n; i++) all[i] = i;
    for (long i = d->n - 1; i > 0; i--) {
        long j = (long)dn_rng_below(&r, (uint32_t)(i + 1)), t = all[i];
        all[i] = all[j], all[j] = t;
    }
    dn_lr_schedule sched = {tc->lr, tc->lr / 20, total / 10 < 100 ? total / 10 : 100, total, 1};
    long step = 0;
    for (int e = 0; e < tc->epochs; e++) {
        for (long i = n - 1; i > 0; i--) {
            long j = (long)dn_rng_below(&r, (uint32_t)(i + 1)), t = all[i];
            all[i] = all[j], all[j] = t;
        }
        double loss_sum = 0;
        long right = 0, seen = 0, since = 0; /* since the last report */
        for (long s = 0; s < steps_per_epoch; s++, step++) {
            memcpy(idx, all + s * B, (size_t)B * sizeof(long));
            dn_data_batch(d, x, y, idx, B);
            if (tc->augment)
                for (int b = 0; b < B; b++) augment_image(x + (long)b * plane, tmp, c->in_channels, c->height, c->width, tc->augment, &r);
            memset(gmem, 0, (size_t)m->n_params * sizeof(float));
            dn_cls_forward(m, &a, x, B);
            loss_sum += (double)dn_cls_loss(&a, y, c->num_classes);
            for (int b = 0; b < B; b++) {
                const float *q = a.probs + (long)b * c->num_classes;
                int best = 0;
                for (int k = 1; k < c->num_classes; k++) best = q[k] > q[best] ? k : best;
                right += best == y[b];
            }
            seen += B, since++;
            dn_cls_backward(m, &a, &grads, y);
            if (dn_workspace_check() < 0) goto done; /* no update from gradients a kernel could not compute */
            dn_adamw_step(&opt, m->param_mem, gmem, dn_lr_at(&sched, step));
            int last = s == steps_per_epoch - 1;
            if (tc->progress && (last || (tc->report_every > 0 && (step + 1) % tc->report_every == 0))) {
                tc->progress(tc->ctx, e, step + 1, total, (float)(loss_sum / (double)since),
                             (float)right / (float)seen);
                loss_sum = 0, right = 0, seen = 0, since = 0;
            }
        }
    }
    for (long i = 0; i < m->n_params; i++)
        if (!isfinite(m->param_mem[i])) {
            dn_fail("classifier training diverged: weight %ld is %g (lower the learning rate)", i,
                    (double)m->param_mem[i]);
            goto done;
        }
    status = 0;
done:
    dn_cls_acts_free(&a);
    dn_adamw_free(&opt);
    free(gmem), free(x), free(tmp), free(all), free(idx), free(y);
    return status;
}

int dn_cls_apply(const dn_classifier *m, float *feat, float *probs, const float *x, long n) {
    const dn_cls_config *c = &m->cfg;
    long plane = (long)c->in_channels * c->height * c->width;
    int B = n < 256 ? (int)n : 256, F = c->widths[c->n_layers - 1], K = c->num_classes;
    if (n < 1) return 0;
    dn_cls_acts a;
    if (dn_cls_acts_alloc(&a, m, B)) return -1;
    for (long i = 0; i < n; i += B) {
        int b = n - i < B ? (int)(n - i) : B;
        dn_cls_forward(m, &a, x + i * plane, b);
        if (feat) memcpy(feat + i * F, a.feat, (size_t)b * (size_t)F * sizeof(float));
        if (probs) memcpy(probs + i * K, a.probs, (size_t)b * (size_t)K * sizeof(float));
    }
    dn_cls_acts_free(&a);
    return dn_workspace_check();
}

int dn_cls_accuracy(const dn_classifier *m, const dn_data *d, long n, double *acc) {
    *acc = 0;
    if (shape_matches(m, d)) return -1;
    if (n <= 0 || n > d->n) n = d->n;
    const dn_cls_config *c = &m->cfg;
    long plane = (long)c->in_channels * c->height * c->width;
    int B = n < 256 ? (int)n : 256, K = c->num_classes;
    float *x = malloc((size_t)B * (size_t)plane * sizeof(float));
    long *idx = malloc((size_t)B * sizeof(long));
    int *y = malloc((size_t)B * sizeof(int));
    dn_cls_acts a = {0};
    if (!x || !idx || !y || dn_cls_acts_alloc(&a, m, B)) {
        free(x), free(idx), free(y);
        return dn_fail("classifier accuracy: out of memory");
    }
    long right = 0;
    for (long i = 0; i < n; i += B) {
        int b = n - i < B ? (int)(n - i) : B;
        for (int j = 0; j < b; j++) idx[j] = i + j;
        dn_data_batch(d, x, y, idx, b);
        dn_cls_forward(m, &a, x, b);
        for (int j = 0; j < b; j++) {
            const float *q = a.probs + (long)j * K;
            int best = 0;
            for (int k = 1; k < K; k++) best = q[k] > q[best] ? k : best;
            right += best == y[j];
        }
    }
    *acc = (double)right / (double)n;
    dn_cls_acts_free(&a);
    free(x), free(idx), free(y);
    return dn_workspace_check();
}

/* ---- the .dfc file -----------------------------------------------------------------------------
 * magic(8) version(u32) n_config(u32)=N_CFG config(N_CFG x i32) dtype(u32) test_accuracy(f32)
 * dataset(str) n_names(u32)=num_classes names(str each) n_params(u32) values crc32(u32).
 * Little-endian; str = u32 length + bytes. */

#define N_CFG (5 + 2 * DN_CLS_MAX_LAYERS + 1) /* 18 */
#define MAX_STR 31


/* printable one-line text of at most MAX_STR bytes */
static int name_ok(const char *s, size_t n) {
    if (n > MAX_STR) return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 32 || ch == 127) return 0;
    }
    return 1;
}

/* The tensors of a config in file order (the order of param_mem): names, shapes, offsets. */
typedef struct {
    int n;
    char name[4 * DN_CLS_MAX_LAYERS + 2][24];
    int rank[4 * DN_CLS_MAX_LAYERS + 2], shape[4 * DN_CLS_MAX_LAYERS + 2][4];
    long offset[4 * DN_CLS_MAX_LAYERS + 2], numel[4 * DN_CLS_MAX_LAYERS + 2];
} cls_tensors;

static void add_tensor(cls_tensors *t, long *off, int rank, int s0, int s1, int s2, int s3, const char *fmt, int l) {
    int k = t->n++;
    snprintf(t->name[k], sizeof t->name[k], fmt, l);
    int s[4] = {s0, s1, s2, s3};
    long n = 1;
    for (int d = 0; d < 4; d++) t->shape[k][d] = d < rank ? s[d] : 1, n *= d < rank ? s[d] : 1;
    t->rank[k] = rank, t->numel[k] = n, t->offset[k] = *off;
    *off += n;
}

/* The same walk as walk_params, with names. */
static void list_tensors(const dn_cls_config *c, cls_tensors *t) {
    long off = 0;
    t->n = 0;
    int cin = c->in_channels;
    for (int l = 0; l < c->n_layers; l++) {
        int oc = c->widths[l];
        add_tensor(t, &off, 4, oc, cin, 3, 3, "conv.%d.weight", l);
        add_tensor(t, &off, 1, oc, 0, 0, 0, "conv.%d.bias", l);
        add_tensor(t, &off, 1, oc, 0, 0, 0, "norm.%d.weight", l);
        add_tensor(t, &off, 1, oc, 0, 0, 0, "norm.%d.bias", l);
        cin = oc;
    }
    add_tensor(t, &off, 2, c->num_classes, cin, 0, 0, "fc.weight", 0);
    add_tensor(t, &off, 1, c->num_classes, 0, 0, 0, "fc.bias", 0);
}

/* "32,64,128": n comma-separated numbers */
static void put_list(char *buf, size_t size, const int *v, int n) {
    buf[0] = 0;
    for (int i = 0; i < n; i++) snprintf(buf + strlen(buf), size - strlen(buf), "%s%d", i ? "," : "", v[i]);
}

int dn_cls_encode(unsigned char **data, size_t *len, const dn_classifier *m, int dtype) {
    *data = NULL, *len = 0;
    const dn_cls_config *c = &m->cfg;
    if (dtype != 0 && dtype != 1) return dn_fail("cannot encode classifier: dtype %d (0 float32, 1 float16)", dtype);
    if (dn_cls_config_check(c)) return -1;
    if (!name_ok(m->dataset, strnlen(m->dataset, sizeof m->dataset)))
        return dn_fail("cannot encode classifier: data set name is not one line under 32 bytes");
    for (int k = 0; k < c->num_classes; k++)
        if (!name_ok(m->class_names[k], strnlen(m->class_names[k], 32)) || strchr(m->class_names[k], '\n'))
            return dn_fail("cannot encode classifier: class name %d is not one line under 32 bytes", k);
    if (!(m->test_accuracy == -1.0f || (m->test_accuracy >= 0.0f && m->test_accuracy <= 1.0f)))
        return dn_fail("cannot encode classifier: test accuracy %g (0..1, or -1 unknown)", (double)m->test_accuracy);
    char buf[DN_CLS_MAX_CLASSES * 32 + 64];
    dn_tf_writer w;
    dn_tf_write_begin(&w, DN_CLS_KIND);
#define PUT_INT(key, v) (snprintf(buf, sizeof buf, "%d", (v)), dn_tf_write_meta(&w, key, buf))
    PUT_INT("classifier.in_channels", c->in_channels);
    PUT_INT("classifier.height", c->height);
    PUT_INT("classifier.width", c->width);
    PUT_INT("classifier.n_layers", c->n_layers);
    put_list(buf, sizeof buf, c->widths, c->n_layers);
    dn_tf_write_meta(&w, "classifier.widths", buf);
    put_list(buf, sizeof buf, c->strides, c->n_layers);
    dn_tf_write_meta(&w, "classifier.strides", buf);
    PUT_INT("classifier.groups", c->groups);
    PUT_INT("classifier.num_classes", c->num_classes);
#undef PUT_INT
    snprintf(buf, sizeof buf, "%.9g", (double)m->test_accuracy);
    dn_tf_write_meta(&w, "test_accuracy", buf);
    dn_tf_write_meta(&w, "dataset", m->dataset);
    buf[0] = 0;
    for (int k = 0; k < c->num_classes; k++) snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s", k ? "\n" : "", m->class_names[k]);
    dn_tf_write_meta(&w, "class_names", buf);
    cls_tensors t;
    list_tensors(c, &t);
    for (int i = 0; i < t.n; i++)
        dn_tf_write_tensor(&w, t.name[i], dtype ? DN_DTYPE_F16 : DN_DTYPE_F32, t.rank[i], t.shape[i],
                           m->param_mem + t.offset[i]);
    if (dn_tf_write_end(&w, data, len) < 0) return dn_fail_context("cannot save classifier");
    return 0;
}

int dn_cls_save(const char *path, const dn_classifier *m, int dtype) {
    unsigned char *data;
    size_t len;
    if (dn_cls_encode(&data, &len, m, dtype)) return dn_fail_context("cannot save classifier '%s'", path);
    int rc = dn_write_file_atomic(path, data, len);
    free(data);
    return rc;
}

typedef struct {
    const unsigned char *p;
    size_t len, off;
} reader;

static int get_u32(reader *r, uint32_t *v) {
    if (r->len - r->off < 4) return -1;
    const unsigned char *b = r->p + r->off;
    *v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    r->off += 4;
    return 0;
}

/* a string of at most MAX_STR bytes into out[32] */
static int get_name(reader *r, char *out) {
    uint32_t n;
    if (get_u32(r, &n) || n > MAX_STR || r->len - r->off < n) return -1;
    memcpy(out, r->p + r->off, n);
    out[n] = 0;
    r->off += n;
    return name_ok(out, n) ? 0 : -1;
}

/* The reader of version 1 (before the container), kept so that older files still load. */
static int decode_v1(dn_classifier *m, const unsigned char *data, size_t len, const char *name) {
    memset(m, 0, sizeof *m);
    size_t header = 8 + 4;
    if (len < header + 4) return dn_fail("cannot load classifier '%s': only %zu bytes, too short to be one", name, len);
    if (memcmp(data, DN_CLS_MAGIC, 8))
        return dn_fail("cannot load classifier '%s': not a diffuse classifier file (no DIFFCLS magic)", name);
    reader r = {data, len - 4, 8};
    uint32_t v, ncfg;
    get_u32(&r, &v);
    if (v != DN_CLS_VERSION)
        return dn_fail("cannot load classifier '%s': format version %u, this build reads version %d", name, v,
                       DN_CLS_VERSION);
    const unsigned char *t = data + len - 4;
    uint32_t stored = (uint32_t)t[0] | (uint32_t)t[1] << 8 | (uint32_t)t[2] << 16 | (uint32_t)t[3] << 24;
    if (stored != (uint32_t)crc32(0L, data, (uInt)(len - 4)))
        return dn_fail("cannot load classifier '%s': checksum mismatch, the file is truncated or corrupted "
                       "(re-download or retrain it)", name);
#define BAD(fmt, ...) do { dn_cls_free(m); return dn_fail("cannot load classifier '%s': " fmt, name, __VA_ARGS__); } while (0)
    if (get_u32(&r, &ncfg) || ncfg != N_CFG) BAD("%s", "config block of the wrong size");
    int32_t ci[N_CFG];
    for (int i = 0; i < N_CFG; i++) {
        if (get_u32(&r, &v)) BAD("%s", "truncated config");
        ci[i] = (int32_t)v;
    }
    dn_cls_config c;
    int k = 0;
    c.in_channels = ci[k++], c.height = ci[k++], c.width = ci[k++], c.n_layers = ci[k++];
    for (int l = 0; l < DN_CLS_MAX_LAYERS; l++) c.widths[l] = ci[k++];
    for (int l = 0; l < DN_CLS_MAX_LAYERS; l++) c.strides[l] = ci[k++];
    c.groups = ci[k++], c.num_classes = ci[k++];
    if (dn_cls_config_check(&c)) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s", dn_error());
        BAD("%s", msg);
    }
    uint32_t dtype, acc_bits;
    if (get_u32(&r, &dtype) || dtype > 1) BAD("%s", "bad dtype (0 float32, 1 float16)");
    if (get_u32(&r, &acc_bits)) BAD("%s", "truncated header");
    float acc;
    memcpy(&acc, &acc_bits, 4);
    if (!(acc == -1.0f || (acc >= 0.0f && acc <= 1.0f))) BAD("%s", "test accuracy outside 0..1");
    char dataset[32];
    if (get_name(&r, dataset)) BAD("%s", "bad data set name");
    uint32_t nn;
    if (get_u32(&r, &nn) || nn != (uint32_t)c.num_classes) BAD("%s", "class-name count differs from num_classes");
    char names[DN_CLS_MAX_CLASSES][32];
    for (int i = 0; i < c.num_classes; i++)
        if (get_name(&r, names[i])) BAD("bad name of class %d", i);
    long np = dn_cls_param_count(&c);
    uint32_t npf;
    if (get_u32(&r, &npf) || (long)npf != np) BAD("%s", "weight count differs from what the config implies");
    size_t bytes = (size_t)np * (dtype ? 2 : 4);
    if (r.len - r.off != bytes)
        BAD("%zu bytes of weights where %zu are expected", r.len - r.off, bytes);
    if (dn_cls_init(m, &c)) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s", dn_error());
        BAD("%s", msg);
    }
    const unsigned char *p = data + r.off;
    for (long i = 0; i < np; i++) {
        float f;
        if (dtype == 0) {
            uint32_t u = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 | (uint32_t)p[4 * i + 2] << 16 |
                         (uint32_t)p[4 * i + 3] << 24;
            memcpy(&f, &u, 4);
        } else {
            f = dn_f16_to_f32((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
        }
        if (!isfinite(f)) BAD("weight %ld is %g", i, (double)f);
        m->param_mem[i] = f;
    }
#undef BAD
    memcpy(m->dataset, dataset, sizeof dataset);
    memcpy(m->class_names, names, sizeof(names[0]) * (size_t)c.num_classes);
    m->test_accuracy = acc;
    return 0;
}

/* A required integer entry, or a comma list of n of them. */
static int entry_ints(const dn_tf *f, const char *key, int *out, int n, const char *name) {
    if (dn_tf_meta_ints(f, key, out, n, -(1L << 30), 1L << 30) < 0)
        return dn_fail_context("cannot load classifier '%s'", name);
    return 0;
}

int dn_cls_decode(dn_classifier *m, const unsigned char *data, size_t len, const char *name) {
    memset(m, 0, sizeof *m);
    if (len >= 8 && !memcmp(data, DN_CLS_MAGIC, 8)) return decode_v1(m, data, len, name);
    dn_tf f;
    if (dn_tf_parse(&f, data, len, name) < 0) return dn_fail_context("cannot load classifier");
#define BAD(...) do { dn_fail(__VA_ARGS__); goto fail; } while (0)
    if (strcmp(f.kind, DN_CLS_KIND)) BAD("cannot load classifier '%s': it is a '%s' file, not a classifier", name, f.kind);
    dn_cls_config c;
    memset(&c, 0, sizeof c);
    if (entry_ints(&f, "classifier.in_channels", &c.in_channels, 1, name) ||
        entry_ints(&f, "classifier.height", &c.height, 1, name) || entry_ints(&f, "classifier.width", &c.width, 1, name) ||
        entry_ints(&f, "classifier.n_layers", &c.n_layers, 1, name) ||
        entry_ints(&f, "classifier.groups", &c.groups, 1, name) ||
        entry_ints(&f, "classifier.num_classes", &c.num_classes, 1, name))
        goto fail;
    if (c.n_layers < 1 || c.n_layers > DN_CLS_MAX_LAYERS)
        BAD("cannot load classifier '%s': %d layers (1..%d)", name, c.n_layers, DN_CLS_MAX_LAYERS);
    if (entry_ints(&f, "classifier.widths", c.widths, c.n_layers, name) ||
        entry_ints(&f, "classifier.strides", c.strides, c.n_layers, name))
        goto fail;
    if (dn_cls_config_check(&c)) {
        dn_fail_context("cannot load classifier '%s'", name);
        goto fail;
    }
    const char *acc_s = dn_tf_meta(&f, "test_accuracy"), *ds = dn_tf_meta(&f, "dataset"), *cn = dn_tf_meta(&f, "class_names");
    char *e = NULL;
    float acc = acc_s ? strtof(acc_s, &e) : 0.0f;
    if (!acc_s || !*acc_s || *e || !(acc == -1.0f || (acc >= 0.0f && acc <= 1.0f)))
        BAD("cannot load classifier '%s': test accuracy outside 0..1", name);
    if (!ds || !name_ok(ds, strlen(ds))) BAD("cannot load classifier '%s': bad data set name", name);
    char names[DN_CLS_MAX_CLASSES][32];
    int nn = 0;
    for (const char *q = cn; q && nn < DN_CLS_MAX_CLASSES;) {
        const char *nl = strchr(q, '\n');
        size_t l = nl ? (size_t)(nl - q) : strlen(q);
        if (!name_ok(q, l)) break;
        memcpy(names[nn], q, l);
        names[nn++][l] = 0;
        if (!nl) break;
        q = nl + 1;
    }
    if (!cn || nn != c.num_classes) BAD("cannot load classifier '%s': class names differ from num_classes", name);
    cls_tensors t;
    list_tensors(&c, &t);
    if (f.n_tensors != t.n) BAD("cannot load classifier '%s': %d tensors, the config needs %d", name, f.n_tensors, t.n);
    if (dn_cls_init(m, &c)) {
        dn_fail_context("cannot load classifier '%s'", name);
        goto fail;
    }
    for (int i = 0; i < t.n; i++) {
        const dn_tf_tensor *q = &f.tensors[i];
        int same = !strcmp(q->name, t.name[i]) && q->rank == t.rank[i];
        for (int d = 0; d < 4 && same; d++) same = q->shape[d] == t.shape[i][d];
        if (!same) BAD("cannot load classifier '%s': tensor %d is '%s', the config expects '%s' of another shape", name, i, q->name, t.name[i]);
        dn_tf_values(q, m->param_mem + t.offset[i]);
    }
#undef BAD
    snprintf(m->dataset, sizeof m->dataset, "%s", ds); /* ds lives in f */
    dn_tf_free(&f);
    memcpy(m->class_names, names, sizeof(names[0]) * (size_t)c.num_classes);
    m->test_accuracy = acc;
    return 0;
fail:
    dn_tf_free(&f);
    dn_cls_free(m);
    return -1;
}

int dn_cls_load(const char *path, dn_classifier *m) {
    memset(m, 0, sizeof *m);
    unsigned char *data;
    size_t len;
    if (dn_read_file(path, &data, &len, DN_CLS_MAX_BYTES)) return -1;
    int rc = dn_cls_decode(m, data, len, path);
    free(data);
    return rc;
}
