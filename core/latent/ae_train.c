/* ae_train.c — see ae_train.h. */
#include "latent/ae_train.h"
#include "base/err.h"
#include "base/fileio.h"
#include "base/parallel.h"
#include "base/rng.h"
#include "data/image.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STREAM_PICK ((uint64_t)1 << 40)  /* + step: which pictures */
#define STREAM_EPS ((uint64_t)1 << 41)   /* + step: the reparametrisation noise */
#define STREAM_INIT ((uint64_t)1 << 42)  /* the initial weights */
#define STREAM_CROP ((uint64_t)1 << 43)  /* + step * batch + i: a training crop */
#define HELDOUT_SEED 777                 /* the held-out photo crops */

void dn_ae_train_config_default(dn_ae_train_config *c) {
    memset(c, 0, sizeof *c);
    c->steps = 4000;
    c->batch = 32;
    c->lr = 1e-3f;
    c->min_lr = 2e-5f;
    c->warmup = 200;
    c->clip = 1.0f;
    c->kl_weight = 1e-6f;
    c->loss = DN_AE_LOSS_L1;
    c->photo_share = 0.25f;
}

static int config_check(const dn_ae_train_config *c) {
    if (c->steps < 1 || c->steps > 100000000L) return dn_fail("steps must be 1 .. 100000000, not %ld", c->steps);
    if (c->batch < 1 || c->batch > 1024) return dn_fail("batch must be 1 .. 1024, not %d", c->batch);
    if (!(c->lr > 0 && c->lr < 1)) return dn_fail("learning rate must be in (0, 1), not %g", (double)c->lr);
    if (!(c->min_lr >= 0 && c->min_lr <= c->lr)) return dn_fail("min_lr must be in [0, lr]");
    if (c->warmup < 0) return dn_fail("warm-up must be >= 0");
    if (!(c->weight_decay >= 0 && c->weight_decay < 1)) return dn_fail("weight decay must be in [0, 1)");
    if (!(c->kl_weight >= 0 && c->kl_weight <= 1)) return dn_fail("KL weight must be in [0, 1], not %g", (double)c->kl_weight);
    if (c->loss != DN_AE_LOSS_L1 && c->loss != DN_AE_LOSS_MSE) return dn_fail("loss must be l1 or mse");
    if (!(c->photo_share >= 0 && c->photo_share <= 1)) return dn_fail("photo share must be in [0, 1]");
    if (!(c->clip == c->clip)) return dn_fail("clip must be a number");
    return 0;
}

static int n_photos_in_batch(const dn_ae_train_config *c) { return (int)lroundf(c->photo_share * (float)c->batch); }

void dn_ae_train_picture(const dn_ae_trainer *tr, float *x, long step, int i) {
    int side = tr->net.cfg.height;
    if (i < n_photos_in_batch(&tr->cfg)) {
        dn_photos_crop(&tr->photos, x, side, tr->cfg.seed, STREAM_CROP + (uint64_t)step * (uint64_t)tr->cfg.batch + (uint64_t)i);
        return;
    }
    dn_rng r;
    dn_rng_seed(&r, tr->cfg.seed, STREAM_PICK + (uint64_t)step * 4096 + (uint64_t)i);
    long idx = (long)dn_rng_below(&r, (uint32_t)tr->pets.n);
    dn_data_batch(&tr->pets, x, NULL, &idx, 1);
}

typedef struct {
    const dn_ae_trainer *tr;
    long step;
    long plane;
} pick_ctx;

static void pick_task(void *ctx, int i) {
    pick_ctx *p = ctx;
    dn_ae_train_picture(p->tr, p->tr->x + (long)i * p->plane, p->step, i);
}

static void free_buffers(dn_ae_trainer *tr) {
    free(tr->x), free(tr->z), free(tr->eps), free(tr->recon), free(tr->drecon), free(tr->dz), free(tr->dmo);
    tr->x = tr->z = tr->eps = tr->recon = tr->drecon = tr->dz = tr->dmo = NULL;
}

/* Data, buffers, activations, gradients, optimiser for tr->cfg and tr->net. */
static int open_parts(dn_ae_trainer *tr) {
    const dn_ae_config *c = &tr->net.cfg;
    if (c->in_channels != 3 || c->height != 64 || c->width != 64)
        return dn_fail("the autoencoder trainer trains on 3x64x64 pictures, not %dx%dx%d", c->in_channels, c->width,
                       c->height);
    if (dn_data_open(&tr->pets, "pets64", 0, NULL) < 0) return -1;
    if (n_photos_in_batch(&tr->cfg) > 0 && dn_photos_open(&tr->photos, tr->cfg.photos_dir[0] ? tr->cfg.photos_dir : NULL, 0) < 0)
        return -1;
    int f = dn_ae_factor(c), B = tr->cfg.batch;
    size_t xn = (size_t)B * 3 * c->height * c->width, zn = (size_t)B * c->latent_channels * (c->height / f) * (c->width / f);
    tr->x = malloc(xn * sizeof(float)), tr->recon = malloc(xn * sizeof(float)), tr->drecon = malloc(xn * sizeof(float));
    tr->z = malloc(zn * sizeof(float)), tr->eps = malloc(zn * sizeof(float)), tr->dz = malloc(zn * sizeof(float));
    tr->dmo = malloc(2 * zn * sizeof(float));
    if (!tr->x || !tr->recon || !tr->drecon || !tr->z || !tr->eps || !tr->dz || !tr->dmo)
        return dn_fail("out of memory for the training buffers");
    if (dn_ae_acts_alloc(&tr->acts, &tr->net, B, c->height, c->width) < 0) return -1;
    if (dn_ae_grads_alloc(&tr->net, &tr->grads, &tr->grad_mem) < 0) return -1;
    dn_adamw_config ac = dn_adamw_defaults();
    ac.weight_decay = tr->cfg.weight_decay;
    if (dn_adamw_init(&tr->opt, tr->net.n_params, &ac) < 0) return dn_fail("out of memory for the optimiser state");
    return 0;
}

void dn_ae_trainer_free(dn_ae_trainer *tr) {
    free_buffers(tr);
    dn_data_close(&tr->pets);
    dn_photos_close(&tr->photos);
    dn_ae_free(&tr->net);
    free(tr->grad_mem);
    dn_ae_acts_free(&tr->acts);
    dn_adamw_free(&tr->opt);
    memset(tr, 0, sizeof *tr);
}

int dn_ae_trainer_init(dn_ae_trainer *tr, const dn_ae_train_config *cfg, const dn_ae_config *nc) {
    memset(tr, 0, sizeof *tr);
    if (config_check(cfg) < 0) return -1;
    tr->cfg = *cfg;
    if (dn_ae_init(&tr->net, nc) < 0) return -1;
    dn_rng r;
    dn_rng_seed(&r, cfg->seed, STREAM_INIT);
    dn_ae_init_random(&tr->net, &r);
    if (open_parts(tr) < 0) {
        dn_ae_trainer_free(tr);
        return -1;
    }
    return 0;
}

static float lr_at(const dn_ae_train_config *c, long step) {
    dn_lr_schedule s = {c->lr, c->min_lr, c->warmup, c->steps, 1};
    return dn_lr_at(&s, step);
}

int dn_ae_trainer_step(dn_ae_trainer *tr, dn_ae_train_stats *st) {
    const dn_ae_config *c = &tr->net.cfg;
    int B = tr->cfg.batch, f = dn_ae_factor(c), Z = c->latent_channels;
    long plane = 3L * c->height * c->width, zl = (long)Z * (c->height / f) * (c->width / f);
    long nx = B * plane;
    pick_ctx pc = {tr, tr->step, plane};
    dn_parallel_for(B, pick_task, &pc);
    dn_rng r;
    dn_rng_seed(&r, tr->cfg.seed, STREAM_EPS + (uint64_t)tr->step);
    dn_rng_normal_fill(&r, tr->eps, B * zl);

    /* forward: moments, the sampled latent, the reconstruction */
    const float *mo = dn_ae_encode_forward(&tr->net, &tr->acts, tr->x, B);
    double kl = 0;
    for (int n = 0; n < B; n++)
        for (long j = 0; j < zl; j++) {
            float mu = mo[n * 2 * zl + j], lv = dn_ae_logvar(mo[n * 2 * zl + zl + j]);
            tr->z[n * zl + j] = mu + expf(0.5f * lv) * tr->eps[n * zl + j];
            kl += 0.5 * ((double)mu * (double)mu + exp((double)lv) - 1.0 - (double)lv);
        }
    dn_ae_decode_forward(&tr->net, &tr->acts, tr->recon, tr->z, B);
    double rec = 0, se = 0, inv = 1.0 / (double)nx;
    int l1 = tr->cfg.loss == DN_AE_LOSS_L1;
    for (long i = 0; i < nx; i++) {
        double d = (double)tr->recon[i] - (double)tr->x[i];
        rec += l1 ? fabs(d) : d * d;
        se += d * d;
        tr->drecon[i] = (float)(l1 ? (d > 0 ? inv : d < 0 ? -inv : 0.0) : 2.0 * d * inv);
    }
    rec *= inv;
    /* loss = rec + w KL_sum / (B plane): the same ratio as Stable Diffusion's per-picture sums */
    float kw = (float)((double)tr->cfg.kl_weight / (double)nx);
    double loss = rec + (double)kw * kl;

    /* backward: decoder, then through the reparametrisation (and the KL) into the encoder */
    memset(tr->grad_mem, 0, (size_t)tr->net.n_params * sizeof(float));
    dn_ae_decode_backward(&tr->net, &tr->acts, &tr->grads, tr->dz, tr->drecon);
    for (int n = 0; n < B; n++)
        for (long j = 0; j < zl; j++) {
            long zi = n * zl + j, mi = n * 2 * zl + j, li = mi + zl;
            float mu = mo[mi], raw = mo[li], lv = dn_ae_logvar(raw), sd = expf(0.5f * lv);
            tr->dmo[mi] = tr->dz[zi] + kw * mu;
            tr->dmo[li] = raw == lv ? tr->dz[zi] * tr->eps[zi] * 0.5f * sd + kw * 0.5f * (sd * sd - 1.0f) : 0.0f;
        }
    dn_ae_encode_backward(&tr->net, &tr->acts, &tr->grads, tr->dmo);
    if (dn_workspace_check() < 0) return -1;
    float gn = dn_clip_grad_norm(tr->grad_mem, tr->net.n_params, tr->cfg.clip);
    float lr = lr_at(&tr->cfg, tr->step);
    dn_adamw_step(&tr->opt, tr->net.param_mem, tr->grad_mem, lr);
    tr->step++;
    double psnr = se > 0 ? 10.0 * log10(4.0 / (se * inv)) : 200.0;
    tr->loss_smooth = tr->step == 1 ? loss : 0.98 * tr->loss_smooth + 0.02 * loss;
    tr->psnr_smooth = tr->step == 1 ? psnr : 0.98 * tr->psnr_smooth + 0.02 * psnr;
    if (st) {
        st->loss = (float)loss, st->rec = (float)rec, st->kl = (float)(kl / (double)(B * zl));
        st->psnr = (float)psnr, st->grad_norm = gn, st->lr = lr;
    }
    return 0;
}

int dn_ae_heldout(const dn_autoencoder *m, int photos, const char *photos_dir, int n, float *x, float *recon,
                  double *psnr) {
    const dn_ae_config *c = &m->cfg;
    long plane = (long)c->in_channels * c->height * c->width;
    float *xx = x ? x : malloc((size_t)n * plane * sizeof(float));
    float *rr = recon ? recon : malloc((size_t)n * plane * sizeof(float));
    int f = dn_ae_factor(c);
    float *z = malloc((size_t)n * c->latent_channels * (c->height / f) * (c->width / f) * sizeof(float));
    dn_ae_acts a = {0};
    int rc = -1;
    if (!xx || !rr || !z) {
        dn_fail("out of memory for %d held-out pictures", n);
        goto out;
    }
    if (photos) {
        dn_photos ph;
        if (dn_photos_open(&ph, photos_dir, 1) < 0) goto out;
        for (int i = 0; i < n; i++) dn_photos_crop(&ph, xx + i * plane, c->height, HELDOUT_SEED, (uint64_t)i);
        dn_photos_close(&ph);
    } else {
        dn_data d;
        if (dn_data_open(&d, "pets64", 1, NULL) < 0) goto out;
        for (long i = 0; i < n; i++) dn_data_batch(&d, xx + i * plane, NULL, &i, 1);
        dn_data_close(&d);
    }
    if (dn_ae_acts_alloc(&a, m, n < 16 ? n : 16, c->height, c->width) < 0) goto out;
    dn_ae_encode(m, &a, z, xx, n);
    dn_ae_decode(m, &a, rr, z, n);
    if (dn_workspace_check() < 0) goto out;
    *psnr = dn_psnr(xx, rr, n * plane);
    rc = 0;
out:
    dn_ae_acts_free(&a);
    free(z);
    if (!x) free(xx);
    if (!recon) free(rr);
    return rc;
}

int dn_ae_trainer_measure_scale(dn_ae_trainer *tr, float *scale) {
    const dn_ae_config *c = &tr->net.cfg;
    int B = tr->cfg.batch, f = dn_ae_factor(c);
    long plane = 3L * c->height * c->width, zl = (long)c->latent_channels * (c->height / f) * (c->width / f);
    double s = 0, s2 = 0;
    long cnt = 0;
    for (int k = 0; cnt < 512L * zl; k++) {
        /* the mix of (imaginary) updates past the end of the run, so no training batch repeats */
        pick_ctx pc = {tr, tr->cfg.steps + 1000 + k, plane};
        dn_parallel_for(B, pick_task, &pc);
        dn_rng r;
        dn_rng_seed(&r, tr->cfg.seed + 1, STREAM_EPS + (uint64_t)k);
        const float *mo = dn_ae_encode_forward(&tr->net, &tr->acts, tr->x, B);
        for (int n = 0; n < B && cnt < 512L * zl; n++)
            for (long j = 0; j < zl; j++, cnt++) {
                double z = (double)mo[n * 2 * zl + j] +
                           exp(0.5 * (double)dn_ae_logvar(mo[n * 2 * zl + zl + j])) * (double)dn_rng_normal(&r);
                s += z, s2 += z * z;
            }
    }
    if (dn_workspace_check() < 0) return -1;
    double mean = s / (double)cnt, var = s2 / (double)cnt - mean * mean;
    if (!(var > 1e-12)) return dn_fail("the latents have no spread (variance %g): the autoencoder is broken", var);
    *scale = (float)(1.0 / sqrt(var));
    return 0;
}

/* ---- checkpoints ------------------------------------------------------------------------------------ */

int dn_ae_trainer_save(const dn_ae_trainer *tr, const char *path) {
    const dn_ae_train_config *c = &tr->cfg;
    dn_tf_writer w;
    dn_tf_write_begin(&w, DN_AE_CKPT_KIND);
    char v[64];
#define PUT(key, fmt, val) (snprintf(v, sizeof v, fmt, val), dn_tf_write_meta(&w, key, v))
    PUT("train.steps", "%ld", c->steps);
    PUT("train.batch", "%d", c->batch);
    PUT("train.lr", "%.9g", (double)c->lr);
    PUT("train.min_lr", "%.9g", (double)c->min_lr);
    PUT("train.warmup", "%ld", c->warmup);
    PUT("train.clip", "%.9g", (double)c->clip);
    PUT("train.weight_decay", "%.9g", (double)c->weight_decay);
    PUT("train.kl_weight", "%.9g", (double)c->kl_weight);
    PUT("train.loss", "%s", c->loss == DN_AE_LOSS_MSE ? "mse" : "l1");
    PUT("train.photo_share", "%.9g", (double)c->photo_share);
    PUT("train.seed", "%llu", (unsigned long long)c->seed);
    PUT("checkpoint.step", "%ld", tr->step);
    PUT("checkpoint.opt_step", "%ld", tr->opt.step);
    PUT("checkpoint.loss_smooth", "%.17g", tr->loss_smooth);
    PUT("checkpoint.psnr_smooth", "%.17g", tr->psnr_smooth);
#undef PUT
    dn_tf_write_meta(&w, "train.photos_dir", c->photos_dir);
    dn_tf_write_meta(&w, "train.out", c->out);
    dn_ae_write(&w, &tr->net, DN_DTYPE_F32);
    int n[1] = {(int)tr->net.n_params};
    dn_tf_write_tensor(&w, "checkpoint.adam_m", DN_DTYPE_F32, 1, n, tr->opt.m);
    dn_tf_write_tensor(&w, "checkpoint.adam_v", DN_DTYPE_F32, 1, n, tr->opt.v);
    unsigned char *data;
    size_t len;
    if (dn_tf_write_end(&w, &data, &len) < 0) return dn_fail_context("cannot save checkpoint '%s'", path);
    int rc = dn_write_file_atomic(path, data, len);
    free(data);
    return rc;
}

static int meta_num(const dn_tf *f, const char *key, double lo, double hi, double *out) {
    const char *s = dn_tf_meta(f, key);
    char *e = NULL;
    double x = s ? strtod(s, &e) : 0;
    if (!s || e == s || *e || !(x >= lo && x <= hi)) return dn_fail("bad or missing '%s'", key);
    *out = x;
    return 0;
}

static int meta_text(const dn_tf *f, const char *key, char *out, size_t size) {
    const char *s = dn_tf_meta(f, key);
    if (!s || strlen(s) >= size) return dn_fail("bad or missing '%s'", key);
    memcpy(out, s, strlen(s) + 1);
    return 0;
}

int dn_ae_trainer_load(dn_ae_trainer *tr, const char *path, long steps) {
    memset(tr, 0, sizeof *tr);
    unsigned char *data = NULL;
    size_t len = 0;
    if (dn_read_file(path, &data, &len, 4 * DN_AE_MAX_BYTES) < 0) return -1;
    dn_tf f = {0};
    int rc = -1;
    if (dn_tf_parse(&f, data, len, path) < 0) goto out;
    if (strcmp(f.kind, DN_AE_CKPT_KIND)) {
        dn_fail("'%s' is a '%s' file, not an autoencoder checkpoint", path, f.kind);
        goto out;
    }
    dn_ae_train_config *c = &tr->cfg;
    double st, bt, lr, mlr, wu, cl, wd, kw, ps, sd, step, ostep, ls, pss;
    char loss[8];
    if (meta_num(&f, "train.steps", 1, 1e8, &st) || meta_num(&f, "train.batch", 1, 1024, &bt) ||
        meta_num(&f, "train.lr", 0, 1, &lr) || meta_num(&f, "train.min_lr", 0, 1, &mlr) ||
        meta_num(&f, "train.warmup", 0, 1e8, &wu) || meta_num(&f, "train.clip", -1e9, 1e9, &cl) ||
        meta_num(&f, "train.weight_decay", 0, 1, &wd) || meta_num(&f, "train.kl_weight", 0, 1, &kw) ||
        meta_num(&f, "train.photo_share", 0, 1, &ps) || meta_num(&f, "train.seed", 0, 9.2e18, &sd) ||
        meta_num(&f, "checkpoint.step", 0, 1e8, &step) || meta_num(&f, "checkpoint.opt_step", 0, 1e8, &ostep) ||
        meta_num(&f, "checkpoint.loss_smooth", -1e30, 1e30, &ls) ||
        meta_num(&f, "checkpoint.psnr_smooth", -1e30, 1e30, &pss) || meta_text(&f, "train.loss", loss, sizeof loss) ||
        meta_text(&f, "train.photos_dir", c->photos_dir, sizeof c->photos_dir) ||
        meta_text(&f, "train.out", c->out, sizeof c->out) || (strcmp(loss, "l1") && strcmp(loss, "mse")) ||
        step != ostep) {
        dn_fail_context("checkpoint '%s' is damaged or inconsistent", path);
        goto out;
    }
    c->steps = steps > 0 ? steps : (long)st, c->batch = (int)bt, c->lr = (float)lr, c->min_lr = (float)mlr;
    c->warmup = (long)wu, c->clip = (float)cl, c->weight_decay = (float)wd, c->kl_weight = (float)kw;
    c->photo_share = (float)ps, c->seed = (uint64_t)sd, c->loss = strcmp(loss, "mse") ? DN_AE_LOSS_L1 : DN_AE_LOSS_MSE;
    if (config_check(c) < 0) {
        dn_fail_context("checkpoint '%s' has bad training settings", path);
        goto out;
    }
    if (dn_ae_read(&f, &tr->net, path, 2) < 0) goto out;
    const dn_tf_tensor *tm = dn_tf_find(&f, "checkpoint.adam_m"), *tv = dn_tf_find(&f, "checkpoint.adam_v");
    if (!tm || !tv || tm->numel != tr->net.n_params || tv->numel != tr->net.n_params) {
        dn_fail("checkpoint '%s' is damaged: the optimiser state is missing or of the wrong size", path);
        goto out;
    }
    if (open_parts(tr) < 0) goto out;
    dn_tf_values(tm, tr->opt.m);
    dn_tf_values(tv, tr->opt.v);
    tr->opt.step = (long)ostep;
    tr->step = (long)step;
    tr->loss_smooth = ls, tr->psnr_smooth = pss;
    rc = 0;
out:
    dn_tf_free(&f);
    free(data);
    if (rc < 0) {
        char keep[1024];
        snprintf(keep, sizeof keep, "%s", dn_error());
        dn_ae_trainer_free(tr);
        dn_fail("%s", keep);
    }
    return rc;
}
