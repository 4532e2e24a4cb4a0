/* train.c — the training loop and its checkpoints; see train.h. */
#include "diffusion/train.h"
#include "base/err.h"
#include "base/fileio.h"
#include "base/tensorfile.h"
#include "nn/nn.h"
#include "diffusion/forward.h"
#include "latent/latent.h"
#include "diffusion/sampler.h"
#include "base/parallel.h"
#include "base/rng.h"
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define STREAM_EPOCH ((uint64_t)1 << 40) /* + epoch: the shuffled order of that epoch */
#define STREAM_INIT ((uint64_t)1 << 41)  /* the initial weights */

void dn_train_config_default(dn_train_config *c, const char *data) {
    memset(c, 0, sizeof *c);
    snprintf(c->data, sizeof c->data, "%s", data ? data : "");
    c->steps = 10000;
    c->batch = 64;
    c->lr = 2e-4f;
    c->min_lr = 1e-5f;
    c->warmup = 500;
    c->cosine = 1;
    c->clip = 1.0f;
    c->weight_decay = 0.0f;
    c->ema_decay = 0.999f;
    c->p_uncond = 0.1f;
    c->seed = 0;
    c->schedule = DN_BETA_LINEAR;
    c->T = 1000;
    c->beta_start = 1e-4f;
    c->beta_end = 0.02f;
}

static int config_check(const dn_train_config *c) {
    if (c->steps < 1 || c->steps > 100000000L) return dn_fail("steps must be 1 .. 100000000, not %ld", c->steps);
    if (c->batch < 1 || c->batch > 4096) return dn_fail("batch must be 1 .. 4096, not %d", c->batch);
    if (!(c->lr > 0 && c->lr < 1)) return dn_fail("learning rate must be in (0, 1), not %g", (double)c->lr);
    if (!(c->min_lr >= 0 && c->min_lr <= c->lr)) return dn_fail("min_lr must be in [0, lr], not %g", (double)c->min_lr);
    if (c->warmup < 0) return dn_fail("warm-up must be >= 0");
    if (!(c->weight_decay >= 0 && c->weight_decay < 1)) return dn_fail("weight decay must be in [0, 1)");
    if (!(c->ema_decay >= 0 && c->ema_decay < 1)) return dn_fail("EMA decay must be in [0, 1), not %g", (double)c->ema_decay);
    if (!(c->p_uncond >= 0 && c->p_uncond <= 1)) return dn_fail("p_uncond must be in [0, 1], not %g", (double)c->p_uncond);
    if (!(c->clip == c->clip)) return dn_fail("clip must be a number");
    return 0;
}

static int alloc_buffers(dn_trainer *tr) {
    const dn_unet_config *nc = &tr->net.cfg;
    size_t B = (size_t)tr->cfg.batch;
    size_t plane = (size_t)nc->in_channels * nc->height * nc->width;
    tr->order = malloc((size_t)tr->data.n * sizeof(long));
    tr->idx = malloc(B * sizeof(long));
    tr->ids = malloc(B * sizeof(int));
    tr->x0 = malloc(B * plane * sizeof(float));
    tr->xt = malloc(B * plane * sizeof(float));
    tr->eps = malloc(B * plane * sizeof(float));
    tr->target = malloc(B * plane * sizeof(float));
    tr->out = malloc(B * plane * sizeof(float));
    tr->dout = malloc(B * plane * sizeof(float));
    tr->tvals = malloc(B * sizeof(float));
    tr->order_epoch = -1;
    if (!tr->order || !tr->idx || !tr->ids || !tr->x0 || !tr->xt || !tr->eps || !tr->target || !tr->out ||
        !tr->dout || !tr->tvals)
        return dn_fail("out of memory for training buffers (batch %d)", tr->cfg.batch);
    if (dn_unet_grads_alloc(&tr->net, &tr->grads, &tr->grad_mem) < 0) return -1;
    if (dn_unet_acts_alloc(&tr->acts, &tr->net, tr->cfg.batch) < 0) return -1;
    return 0;
}

/* Everything except the weights and optimiser state: data, schedule, buffers. */
static int open_parts(dn_trainer *tr, const char *fashion_dir) {
    const dn_train_config *c = &tr->cfg;
    if (config_check(c) < 0) return -1;
    if (c->autoencoder[0]) { /* latent diffusion: the data set is the pictures' latents */
        dn_data pics;
        if (dn_ae_load(c->autoencoder, &tr->ae) < 0 || dn_data_open(&pics, c->data, 0, fashion_dir) < 0) return -1;
        int rc = dn_latent_data(&tr->data, &tr->ae, &pics, c->latent_n);
        dn_data_close(&pics);
        if (rc < 0) return -1;
    } else if (dn_data_open(&tr->data, c->data, 0, fashion_dir) < 0) {
        return -1;
    }
    const dn_unet_config *nc = &tr->net.cfg;
    if (nc->in_channels != tr->data.channels || nc->out_channels != tr->data.channels ||
        nc->height != tr->data.height || nc->width != tr->data.width)
        return dn_fail("the network takes %dx%dx%d images, the %s data set has %dx%dx%d", nc->in_channels,
                       nc->height, nc->width, c->data, tr->data.channels, tr->data.height, tr->data.width);
    if (nc->num_classes != tr->data.num_classes)
        return dn_fail("the network has %d classes, the %s data set %d", nc->num_classes, c->data,
                       tr->data.num_classes);
    if (dn_sched_init(&tr->sched, c->schedule, c->T, c->beta_start, c->beta_end) < 0) return -1;
    return alloc_buffers(tr);
}

int dn_trainer_init(dn_trainer *tr, const dn_train_config *cfg, const dn_unet_config *ncfg,
                    const char *fashion_dir) {
    memset(tr, 0, sizeof *tr);
    tr->cfg = *cfg;
    if (dn_unet_init(&tr->net, ncfg) < 0) goto fail;
    if (open_parts(tr, fashion_dir) < 0) goto fail;
    dn_rng r;
    dn_rng_seed(&r, cfg->seed, STREAM_INIT);
    dn_unet_init_random(&tr->net, &r);
    dn_adamw_config ac = dn_adamw_defaults();
    ac.weight_decay = cfg->weight_decay;
    if (dn_adamw_init(&tr->opt, tr->net.n_params, &ac) < 0 ||
        dn_ema_init(&tr->ema, tr->net.param_mem, tr->net.n_params, cfg->ema_decay, 1) < 0) {
        dn_fail("out of memory for the optimiser state");
        goto fail;
    }
    return 0;
fail:
    dn_fail_context("cannot start training");
    dn_trainer_free(tr);
    return -1;
}

void dn_trainer_free(dn_trainer *tr) {
    if (!tr) return;
    dn_data_close(&tr->data);
    dn_ae_free(&tr->ae);
    dn_sched_free(&tr->sched);
    dn_unet_free(&tr->net);
    free(tr->grad_mem);
    dn_unet_acts_free(&tr->acts);
    dn_adamw_free(&tr->opt);
    dn_ema_free(&tr->ema);
    free(tr->order), free(tr->idx), free(tr->ids), free(tr->x0), free(tr->xt), free(tr->eps);
    free(tr->target), free(tr->out), free(tr->dout), free(tr->tvals);
    memset(tr, 0, sizeof *tr);
}

/* The index of the k-th training sample of the run (epochs are fresh shuffles). */
static long sample_index(dn_trainer *tr, long long k) {
    long n = tr->data.n;
    long epoch = (long)(k / n), pos = (long)(k % n);
    if (epoch != tr->order_epoch) {
        dn_rng r;
        dn_rng_seed(&r, tr->cfg.seed, STREAM_EPOCH + (uint64_t)epoch);
        for (long i = 0; i < n; i++) tr->order[i] = i;
        for (long i = n - 1; i > 0; i--) { /* Fisher-Yates */
            long j = (long)dn_rng_below(&r, (uint32_t)(i + 1));
            long t = tr->order[i];
            tr->order[i] = tr->order[j], tr->order[j] = t;
        }
        tr->order_epoch = epoch;
    }
    return tr->order[pos];
}

typedef struct {
    const dn_trainer *tr;
    long plane;
} load_ctx;

static void load_task(void *p, int b) {
    const load_ctx *c = p;
    const dn_trainer *tr = c->tr;
    dn_data_batch(&tr->data, tr->x0 + (size_t)b * c->plane, tr->ids + b, tr->idx + b, 1);
}

int dn_trainer_step(dn_trainer *tr, dn_train_stats *st) {
    const dn_train_config *c = &tr->cfg;
    const dn_unet_config *nc = &tr->net.cfg;
    int B = c->batch;
    long plane = (long)nc->in_channels * nc->height * nc->width;
    long total = (long)B * plane;

    /* 1. pick images */
    for (int b = 0; b < B; b++) tr->idx[b] = sample_index(tr, (long long)tr->step * B + b);
    load_ctx lc = {tr, plane};
    dn_parallel_for(B, load_task, &lc);

    /* 2.-3. noise, step, condition; corrupt */
    dn_rng r;
    dn_rng_seed(&r, c->seed, (uint64_t)tr->step);
    for (int b = 0; b < B; b++) {
        int t = (int)dn_rng_below(&r, (uint32_t)c->T);
        if (dn_rng_uniform(&r) < c->p_uncond) tr->ids[b] = nc->num_classes;
        float *x0 = tr->x0 + (size_t)b * plane, *eps = tr->eps + (size_t)b * plane;
        dn_rng_normal_fill(&r, eps, plane);
        dn_q_sample(tr->xt + (size_t)b * plane, x0, eps, &tr->sched, t, plane);
        tr->tvals[b] = (float)t;
        dn_pred_target(tr->target + (size_t)b * plane, (dn_pred_type)nc->prediction, x0, eps,
                       tr->sched.sqrt_alphas_cumprod[t], tr->sched.sqrt_one_minus_alphas_cumprod[t], plane);
    }

    /* 4. predict, measure, learn */
    dn_unet_forward(&tr->net, &tr->acts, tr->out, tr->xt, tr->tvals, tr->ids, B);
    float loss = dn_mse_forward(tr->out, tr->target, total);
    memset(tr->dout, 0, (size_t)total * sizeof(float));
    dn_mse_backward(tr->dout, tr->out, tr->target, total, 1.0f);
    memset(tr->grad_mem, 0, (size_t)tr->net.n_params * sizeof(float));
    dn_unet_backward(&tr->net, &tr->acts, &tr->grads, NULL, tr->dout);
    if (dn_workspace_check() < 0) return -1; /* no update from gradients a kernel could not compute */
    float gnorm = dn_clip_grad_norm(tr->grad_mem, tr->net.n_params, c->clip);
    dn_lr_schedule ls = {c->lr, c->min_lr, c->warmup, c->steps, c->cosine};
    float lr = dn_lr_at(&ls, tr->step);
    dn_adamw_step(&tr->opt, tr->net.param_mem, tr->grad_mem, lr);
    dn_ema_update(&tr->ema, tr->net.param_mem);
    tr->loss_smooth = tr->step == 0 ? (double)loss : 0.98 * tr->loss_smooth + 0.02 * (double)loss;
    tr->step++;
    if (st) st->loss = loss, st->grad_norm = gnorm, st->lr = lr;
    return 0;
}

void dn_trainer_ema_weights(const dn_trainer *tr, dn_unet *dst) {
    assert(dst->n_params == tr->net.n_params);
    memcpy(dst->param_mem, tr->ema.w, (size_t)tr->net.n_params * sizeof(float));
}

/* ---- metadata: the settings as "train.*" entries ----------------------------------------------- */
static void set_num(dn_model_meta *m, const char *k, double v) {
    char buf[64];
    snprintf(buf, sizeof buf, "%.9g", v);
    dn_model_meta_set(m, k, buf);
}

void dn_trainer_meta(const dn_trainer *tr, dn_model_meta *m) {
    const dn_train_config *c = &tr->cfg;
    dn_model_meta_init(m);
    snprintf(m->dataset, sizeof m->dataset, "%s", c->data);
    m->n_class_names = tr->data.num_classes;
    for (int k = 0; k < tr->data.num_classes; k++)
        snprintf(m->class_names[k], sizeof m->class_names[k], "%s", tr->data.class_names[k]);
    m->schedule = c->schedule;
    m->num_train_timesteps = c->T;
    m->beta_start = c->beta_start;
    m->beta_end = c->beta_end;
    m->train_steps = tr->step;
    m->seed = c->seed;
    set_num(m, "train.steps", (double)c->steps);
    set_num(m, "train.batch", c->batch);
    set_num(m, "train.lr", (double)c->lr);
    set_num(m, "train.min_lr", (double)c->min_lr);
    set_num(m, "train.warmup", (double)c->warmup);
    set_num(m, "train.cosine", c->cosine);
    set_num(m, "train.clip", (double)c->clip);
    set_num(m, "train.weight_decay", (double)c->weight_decay);
    set_num(m, "train.ema_decay", (double)c->ema_decay);
    set_num(m, "train.p_uncond", (double)c->p_uncond);
    set_num(m, "train.loss", tr->loss_smooth);
    if (c->out[0]) dn_model_meta_set(m, "train.out", c->out);
    if (c->autoencoder[0]) {
        dn_model_meta_set(m, "train.autoencoder", c->autoencoder);
        set_num(m, "train.latent_n", (double)tr->data.n);
    }
}

static int get_num(const dn_model_meta *m, const char *k, double *v) {
    const char *s = dn_model_meta_get(m, k);
    char *end;
    if (!s) return dn_fail("entry '%s' is missing", k);
    *v = strtod(s, &end);
    if (end == s || *end || !isfinite(*v)) return dn_fail("entry '%s' is not a number: '%s'", k, s);
    return 0;
}

static int config_from_meta(dn_train_config *c, double *loss, const dn_model_meta *m) {
    memset(c, 0, sizeof *c);
    if (!m->dataset[0] || strlen(m->dataset) >= sizeof c->data) return dn_fail("no data set named");
    strcpy(c->data, m->dataset);
    double v[11];
    static const char *const keys[11] = {"train.steps", "train.batch", "train.lr", "train.min_lr",
                                         "train.warmup", "train.cosine", "train.clip", "train.weight_decay",
                                         "train.ema_decay", "train.p_uncond", "train.loss"};
    for (int i = 0; i < 11; i++)
        if (get_num(m, keys[i], &v[i]) < 0) return -1;
    if (v[0] < 1 || v[0] > 1e8 || v[1] < 1 || v[1] > 4096 || v[4] < 0 || v[4] > 1e8)
        return dn_fail("training settings out of range");
    c->steps = (long)v[0], c->batch = (int)v[1], c->lr = (float)v[2], c->min_lr = (float)v[3];
    c->warmup = (long)v[4], c->cosine = v[5] != 0, c->clip = (float)v[6], c->weight_decay = (float)v[7];
    c->ema_decay = (float)v[8], c->p_uncond = (float)v[9];
    *loss = v[10];
    const char *o = dn_model_meta_get(m, "train.out");
    if (o) snprintf(c->out, sizeof c->out, "%s", o);
    const char *ae = dn_model_meta_get(m, "train.autoencoder");
    if (ae) {
        double n;
        if (strlen(ae) >= sizeof c->autoencoder || get_num(m, "train.latent_n", &n) < 0 || n < 1 || n > 1e9)
            return dn_fail("bad latent-diffusion settings (train.autoencoder, train.latent_n)");
        snprintf(c->autoencoder, sizeof c->autoencoder, "%s", ae);
        c->latent_n = (long)n;
    }
    c->seed = m->seed;
    c->schedule = m->schedule;
    c->T = m->num_train_timesteps;
    c->beta_start = m->beta_start;
    c->beta_end = m->beta_end;
    return config_check(c);
}

/* ---- checkpoints ---------------------------------------------------------------------------------
 * "DIFFCKPT" | u32 version 1 | u64 model bytes | a float32 model file of the raw weights and the
 * run's metadata | u64 n | float ema[n], m[n], v[n] | i64 optimiser step, EMA updates, trainer step
 * | u32 CRC-32 of everything before. Native byte order (checked by the version word). */
#define CKPT_MAGIC "DIFFCKPT" /* the checkpoints before the container, recognised to say so */


#define CKPT_KIND "checkpoint"

/* The checkpoint in the container (base/tensorfile.h): the model's entries and weights (float32)
 * as in a model file, the counters as "checkpoint.*" entries, then the EMA weights and Adam's two
 * moments as three flat tensors. */
int dn_trainer_save(const dn_trainer *tr, const char *path) {
    dn_model_meta meta;
    dn_trainer_meta(tr, &meta);
    dn_tf_writer w;
    dn_tf_write_begin(&w, CKPT_KIND);
    if (dn_model_write_meta(&w, &tr->net, &meta) < 0) {
        dn_tf_write_abort(&w);
        return dn_fail_context("cannot save checkpoint '%s'", path);
    }
    char num[32];
    snprintf(num, sizeof num, "%ld", tr->opt.step);
    dn_tf_write_meta(&w, "checkpoint.opt_step", num);
    snprintf(num, sizeof num, "%ld", tr->ema.updates);
    dn_tf_write_meta(&w, "checkpoint.ema_updates", num);
    snprintf(num, sizeof num, "%ld", tr->step);
    dn_tf_write_meta(&w, "checkpoint.step", num);
    dn_model_write_tensors(&w, &tr->net, DN_DTYPE_F32);
    int n[1] = {(int)tr->net.n_params};
    dn_tf_write_tensor(&w, "checkpoint.ema", DN_DTYPE_F32, 1, n, tr->ema.w);
    dn_tf_write_tensor(&w, "checkpoint.adam_m", DN_DTYPE_F32, 1, n, tr->opt.m);
    dn_tf_write_tensor(&w, "checkpoint.adam_v", DN_DTYPE_F32, 1, n, tr->opt.v);
    unsigned char *data;
    size_t len;
    if (dn_tf_write_end(&w, &data, &len) < 0) return dn_fail_context("cannot save checkpoint '%s'", path);
    int rc = dn_write_file_atomic(path, data, len);
    free(data);
    return rc;
}

/* A "checkpoint.*" counter, >= 0. */
static int counter(const dn_tf *f, const char *key, long *v) {
    const char *s = dn_tf_meta(f, key);
    char *e;
    if (!s || *s < '0' || *s > '9') return -1;
    long long x = strtoll(s, &e, 10);
    if (*e || x < 0 || x > (1LL << 62)) return -1;
    *v = (long)x;
    return 0;
}

int dn_trainer_load(dn_trainer *tr, const char *path, long steps, const char *fashion_dir) {
    memset(tr, 0, sizeof *tr);
    unsigned char *data = NULL;
    size_t len = 0;
    if (dn_read_file(path, &data, &len, (size_t)4 * DN_MODEL_MAX_BYTES) < 0) return -1;
    int rc = -1;
    dn_tf f = {0};
    if (len >= 8 && !memcmp(data, CKPT_MAGIC, 8)) {
        dn_fail("'%s' is a checkpoint of an older diffuse (before the file container); resume it with "
                "that version, or start the run again (its model files still load)", path);
        goto out;
    }
    if (dn_tf_parse(&f, data, len, path) < 0) goto out;
    if (strcmp(f.kind, CKPT_KIND)) {
        dn_fail("'%s' is a '%s' file, not a diffuse checkpoint", path, f.kind);
        goto out;
    }
    dn_model_meta meta;
    double loss = 0;
    if (dn_model_read(&f, &tr->net, &meta, path, "checkpoint.", 3) < 0) goto out;
    if (config_from_meta(&tr->cfg, &loss, &meta) < 0) {
        dn_fail_context("checkpoint '%s' has bad training settings", path);
        goto out;
    }
    if (steps > 0) tr->cfg.steps = steps;
    long opt_step, ema_updates, step;
    const dn_tf_tensor *te = dn_tf_find(&f, "checkpoint.ema"), *tm = dn_tf_find(&f, "checkpoint.adam_m"),
                       *tv = dn_tf_find(&f, "checkpoint.adam_v");
    long n = tr->net.n_params;
    if (counter(&f, "checkpoint.opt_step", &opt_step) || counter(&f, "checkpoint.ema_updates", &ema_updates) ||
        counter(&f, "checkpoint.step", &step) || !te || !tm || !tv || te->numel != n || tm->numel != n ||
        tv->numel != n || step != opt_step || step != meta.train_steps) {
        dn_fail("checkpoint '%s' is damaged or inconsistent (optimiser state missing, of the wrong size, or "
                "step counters that disagree)", path);
        goto out;
    }
    if (open_parts(tr, fashion_dir) < 0) goto out;
    dn_adamw_config ac = dn_adamw_defaults();
    ac.weight_decay = tr->cfg.weight_decay;
    if (dn_adamw_init(&tr->opt, n, &ac) < 0 || dn_ema_init(&tr->ema, tr->net.param_mem, n, tr->cfg.ema_decay, 1) < 0) {
        dn_fail("out of memory for the optimiser state");
        goto out;
    }
    dn_tf_values(te, tr->ema.w);
    dn_tf_values(tm, tr->opt.m);
    dn_tf_values(tv, tr->opt.v);
    tr->opt.step = opt_step;
    tr->ema.updates = ema_updates;
    tr->step = step;
    tr->loss_smooth = loss;
    rc = 0;
out:
    dn_tf_free(&f);
    free(data);
    if (rc < 0) {
        if (!strstr(dn_error(), path)) dn_fail_context("cannot resume from '%s'", path);
        dn_trainer_free(tr);
    }
    return rc;
}
