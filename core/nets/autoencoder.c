/* autoencoder.c — see autoencoder.h. The encoder and the decoder are lists of operations built
 * once from the config (make_ops); every pass walks the list. */
#include "nets/autoencoder.h"
#include "base/err.h"
#include "base/fileio.h"
#include "nn/nn.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

dn_ae_config dn_ae_default_config(void) {
    dn_ae_config c;
    memset(&c, 0, sizeof c);
    c.in_channels = 3;
    c.height = c.width = 64;
    c.latent_channels = 4;
    c.n_levels = 3;
    c.widths[0] = 16, c.widths[1] = 32, c.widths[2] = 64;
    c.blocks = 1;
    c.groups = 8;
    return c;
}

int dn_ae_factor(const dn_ae_config *c) { return 1 << (c->n_levels - 1); }

int dn_ae_config_check(const dn_ae_config *c) {
    if (c->in_channels < 1 || c->in_channels > 4)
        return dn_fail("bad autoencoder config: in_channels %d must be in 1..4", c->in_channels);
    if (c->latent_channels < 1 || c->latent_channels > 64)
        return dn_fail("bad autoencoder config: latent_channels %d must be in 1..64", c->latent_channels);
    if (c->n_levels < 1 || c->n_levels > DN_AE_MAX_LEVELS)
        return dn_fail("bad autoencoder config: n_levels %d must be in 1..%d", c->n_levels, DN_AE_MAX_LEVELS);
    if (c->blocks < 1 || c->blocks > DN_AE_MAX_BLOCKS)
        return dn_fail("bad autoencoder config: blocks %d must be in 1..%d", c->blocks, DN_AE_MAX_BLOCKS);
    if (c->groups < 1 || c->groups > 512)
        return dn_fail("bad autoencoder config: groups %d must be in 1..512", c->groups);
    for (int l = 0; l < c->n_levels; l++)
        if (c->widths[l] < 1 || c->widths[l] > 512 || c->widths[l] % c->groups)
            return dn_fail("bad autoencoder config: width %d of level %d must be in 1..512 and divisible by "
                           "%d groups", c->widths[l], l, c->groups);
    int f = dn_ae_factor(c);
    if (c->height < f || c->height > 1024 || c->width < f || c->width > 1024 || c->height % f || c->width % f)
        return dn_fail("bad autoencoder config: %dx%d pictures must be 1..1024 a side and multiples of %d",
                       c->width, c->height, f);
    return 0;
}

/* ---- the list of operations ---------------------------------------------------------------------- */

static void add_op(dn_autoencoder *m, dn_ae_op_kind k, int level, int cin, int cout, const char *fmt, int i, int j) {
    dn_ae_op *o = &m->ops[m->n_ops++];
    o->kind = k, o->level = level, o->cin = cin, o->cout = cout;
    snprintf(o->name, sizeof o->name, fmt, i, j);
}

static void make_ops(dn_autoencoder *m) {
    const dn_ae_config *c = &m->cfg;
    int L = c->n_levels, top = L - 1, Z = c->latent_channels;
    m->n_ops = 0;
    add_op(m, DN_AE_CONV, 0, c->in_channels, c->widths[0], "enc.conv_in", 0, 0);
    int ch = c->widths[0];
    for (int l = 0; l < L; l++) {
        for (int b = 0; b < c->blocks; b++, ch = c->widths[l])
            add_op(m, DN_AE_RES, l, ch, c->widths[l], "enc.down.%d.res.%d", l, b);
        if (l < top) add_op(m, DN_AE_DOWN, l, ch, ch, "enc.down.%d.down", l, 0);
    }
    add_op(m, DN_AE_RES, top, ch, ch, "enc.mid.res", 0, 0);
    add_op(m, DN_AE_NORM, top, ch, ch, "enc.norm_out", 0, 0);
    add_op(m, DN_AE_CONV, top, ch, 2 * Z, "enc.conv_out", 0, 0);
    m->n_enc = m->n_ops;
    ch = c->widths[top];
    add_op(m, DN_AE_CONV, top, Z, ch, "dec.conv_in", 0, 0);
    add_op(m, DN_AE_RES, top, ch, ch, "dec.mid.res", 0, 0);
    for (int l = top; l >= 0; l--) {
        for (int b = 0; b < c->blocks; b++, ch = c->widths[l])
            add_op(m, DN_AE_RES, l, ch, c->widths[l], "dec.up.%d.res.%d", l, b);
        if (l > 0) add_op(m, DN_AE_UP, l, ch, c->widths[l - 1], "dec.up.%d.up", l, 0), ch = c->widths[l - 1];
    }
    add_op(m, DN_AE_NORM, 0, ch, ch, "dec.norm_out", 0, 0);
    add_op(m, DN_AE_CONV, 0, ch, c->in_channels, "dec.conv_out", 0, 0);
}

/* The level of an operation's output. */
static int out_level(const dn_ae_op *o) { return o->level + (o->kind == DN_AE_DOWN) - (o->kind == DN_AE_UP); }

static void walk(const dn_autoencoder *m, dn_ae_params *p, dn_walker *w, long *n_enc) {
    for (int i = 0; i < m->n_ops; i++) {
        const dn_ae_op *o = &m->ops[i];
        dn_ae_op_params *q = &p->op[i];
        if (i == m->n_enc && n_enc) *n_enc = w->off;
        switch (o->kind) {
        case DN_AE_RES: dn_walk_res(w, &q->res, o->name, o->cin, o->cout, 0); break;
        case DN_AE_NORM:
            q->w = dn_walk_take(w, 1, o->cin, 0, 0, 0, "%s.weight", o->name);
            q->b = dn_walk_take(w, 1, o->cin, 0, 0, 0, "%s.bias", o->name);
            break;
        default:
            q->w = dn_walk_take(w, 4, o->cout, o->cin, 3, 3, "%s.weight", o->name);
            q->b = dn_walk_take(w, 1, o->cout, 0, 0, 0, "%s.bias", o->name);
        }
    }
}

long dn_ae_param_count(const dn_ae_config *c) {
    if (dn_ae_config_check(c)) return 0;
    dn_autoencoder *m = calloc(1, sizeof *m);
    if (!m) return 0;
    m->cfg = *c;
    make_ops(m);
    dn_ae_params p;
    dn_walker w = {0};
    walk(m, &p, &w, NULL);
    free(m);
    return w.off;
}

int dn_ae_init(dn_autoencoder *m, const dn_ae_config *c) {
    memset(m, 0, sizeof *m);
    if (dn_ae_config_check(c)) return -1;
    m->cfg = *c;
    make_ops(m);
    dn_walker count = {0};
    walk(m, &m->params, &count, NULL);
    m->param_mem = calloc((size_t)count.off, sizeof(float));
    if (!m->param_mem) {
        memset(m, 0, sizeof *m);
        return dn_fail("out of memory for %ld autoencoder parameters", count.off);
    }
    dn_walker w = {m->param_mem, 0, m->tensors, 0, DN_AE_MAX_TENSORS};
    walk(m, &m->params, &w, &m->n_enc_params);
    m->n_params = w.off;
    m->n_tensors = w.nt;
    m->scale_factor = 1.0f;
    return 0;
}

void dn_ae_free(dn_autoencoder *m) {
    if (!m) return;
    free(m->param_mem);
    memset(m, 0, sizeof *m);
}

void dn_ae_init_random(dn_autoencoder *m, dn_rng *r) { dn_net_init_random(m->param_mem, m->tensors, m->n_tensors, r); }

int dn_ae_grads_alloc(const dn_autoencoder *m, dn_ae_params *g, float **mem) {
    *mem = calloc((size_t)m->n_params, sizeof(float));
    if (!*mem) return dn_fail("out of memory for %ld autoencoder gradients", m->n_params);
    dn_walker w = {*mem, 0, NULL, 0, 0};
    walk(m, g, &w, NULL);
    return 0;
}

/* ---- activations ----------------------------------------------------------------------------------- */

static size_t acts_layout(dn_ae_acts *a, const dn_autoencoder *m, int B, int H, int W) {
    dn_bump b = {a->mem, 0};
    int G = m->cfg.groups;
    long most = 0;
    for (int i = 0; i < m->n_ops; i++) {
        const dn_ae_op *o = &m->ops[i];
        dn_ae_op_acts *q = &a->op[i];
        int hw = (H >> o->level) * (W >> o->level), lo = out_level(o);
        long hwo = (long)(H >> lo) * (W >> lo);
        switch (o->kind) {
        case DN_AE_RES: dn_res_acts_layout(&q->res, &b, B, o->cin, o->cout, hw, G); break;
        case DN_AE_NORM:
            q->gn = dn_bump_grab(&b, (size_t)B * o->cin * hw);
            q->mean = dn_bump_grab(&b, (size_t)B * G);
            q->rstd = dn_bump_grab(&b, (size_t)B * G);
            q->out = dn_bump_grab(&b, (size_t)B * o->cin * hw);
            break;
        case DN_AE_UP:
            q->ups = dn_bump_grab(&b, (size_t)B * o->cin * hwo);
            q->out = dn_bump_grab(&b, (size_t)B * o->cout * hwo);
            break;
        default: q->out = dn_bump_grab(&b, (size_t)B * o->cout * hwo);
        }
        long need = (long)(o->cin > o->cout ? o->cin : o->cout) * (hwo > hw ? hwo : hw);
        if (need > most) most = need;
    }
    a->scratch_len = most * B;
    a->s0 = dn_bump_grab(&b, (size_t)a->scratch_len);
    a->s1 = dn_bump_grab(&b, (size_t)a->scratch_len);
    a->g0 = dn_bump_grab(&b, (size_t)a->scratch_len);
    a->g1 = dn_bump_grab(&b, (size_t)a->scratch_len);
    a->scratch = dn_bump_grab(&b, (size_t)a->scratch_len);
    return b.off;
}

int dn_ae_acts_alloc(dn_ae_acts *a, const dn_autoencoder *m, int max_batch, int height, int width) {
    memset(a, 0, sizeof *a);
    int f = dn_ae_factor(&m->cfg);
    if (max_batch < 1 || height < f || width < f || height % f || width % f || height > 4096 || width > 4096)
        return dn_fail("autoencoder: cannot lay out %dx%d pictures (multiples of %d up to 4096, batch >= 1)",
                       width, height, f);
    size_t n = acts_layout(a, m, max_batch, height, width);
    a->mem = aligned_alloc(64, n * sizeof(float));
    if (!a->mem) return dn_fail("out of memory for autoencoder activations (%zu MB)", n * sizeof(float) >> 20);
    acts_layout(a, m, max_batch, height, width);
    a->n_floats = n;
    a->max_batch = max_batch, a->height = height, a->width = width;
    return 0;
}

void dn_ae_acts_free(dn_ae_acts *a) {
    if (!a) return;
    free(a->mem);
    memset(a, 0, sizeof *a);
}

/* ---- forward and backward ------------------------------------------------------------------------ */

static const float *run_forward(const dn_autoencoder *m, dn_ae_acts *a, int first, int last, const float *x, int N) {
    int G = m->cfg.groups;
    a->n = N;
    for (int i = first; i < last; i++) {
        const dn_ae_op *o = &m->ops[i];
        const dn_ae_op_params *p = &m->params.op[i];
        dn_ae_op_acts *q = &a->op[i];
        int H = a->height >> o->level, W = a->width >> o->level;
        q->x = x;
        switch (o->kind) {
        case DN_AE_RES:
            dn_res_forward(&p->res, &q->res, x, NULL, a->scratch, N, 0, G, H, W);
            q->y = q->res.out;
            break;
        case DN_AE_NORM:
            dn_groupnorm_forward(q->gn, q->mean, q->rstd, x, p->w, p->b, N, o->cin, H * W, G);
            dn_silu_forward(q->out, q->gn, (long)N * o->cin * H * W);
            q->y = q->out;
            break;
        case DN_AE_UP:
            dn_upsample2x_forward(q->ups, x, N, o->cin, H, W);
            dn_conv2d_forward(q->out, q->ups, p->w, p->b, N, o->cin, 2 * H, 2 * W, o->cout, 3, 1);
            q->y = q->out;
            break;
        default:
            dn_conv2d_forward(q->out, x, p->w, p->b, N, o->cin, H, W, o->cout, 3, o->kind == DN_AE_DOWN ? 2 : 1);
            q->y = q->out;
        }
        x = q->y;
    }
    return x;
}

static void zero(float *p, long n) { memset(p, 0, (size_t)n * sizeof(float)); }

/* Backward over ops[first..last-1] from dout (the gradient of ops[last-1]'s output); the gradient
 * of ops[first]'s input goes to dx (overwritten) when dx is not NULL. */
static void run_backward(const dn_autoencoder *m, dn_ae_acts *a, dn_ae_params *g, int first, int last,
                         const float *dout, float *dx) {
    int N = a->n, G = m->cfg.groups;
    const float *d = dout;
    for (int i = last - 1; i >= first; i--) {
        const dn_ae_op *o = &m->ops[i];
        const dn_ae_op_params *p = &m->params.op[i];
        dn_ae_op_params *gp = &g->op[i];
        dn_ae_op_acts *q = &a->op[i];
        int H = a->height >> o->level, W = a->width >> o->level, hw = H * W;
        long nin = (long)N * o->cin * hw;
        int want = i > first || dx; /* the encoder's picture needs no gradient */
        float *din = i == first && dx ? dx : d == a->g0 ? a->g1 : a->g0;
        zero(din, nin);
        switch (o->kind) {
        case DN_AE_RES:
            dn_res_backward(&p->res, &gp->res, &q->res, din, d, NULL, NULL, NULL, a->s0, a->s1, N, 0, G, H, W);
            break;
        case DN_AE_NORM:
            zero(a->s0, nin);
            dn_silu_backward(a->s0, d, q->gn, nin);
            dn_groupnorm_backward(din, gp->w, gp->b, a->s0, q->x, q->mean, q->rstd, p->w, N, o->cin, hw, G);
            break;
        case DN_AE_UP:
            zero(a->s0, 4 * nin);
            dn_conv2d_backward(a->s0, gp->w, gp->b, d, q->ups, p->w, N, o->cin, 2 * H, 2 * W, o->cout, 3, 1);
            dn_upsample2x_backward(din, a->s0, N, o->cin, H, W);
            break;
        default:
            dn_conv2d_backward(want ? din : NULL, gp->w, gp->b, d, q->x, p->w, N, o->cin, H, W, o->cout,
                               3, o->kind == DN_AE_DOWN ? 2 : 1);
        }
        d = din;
    }
}

const float *dn_ae_encode_forward(const dn_autoencoder *m, dn_ae_acts *a, const float *x, int N) {
    return run_forward(m, a, 0, m->n_enc, x, N);
}

void dn_ae_decode_forward(const dn_autoencoder *m, dn_ae_acts *a, float *out, const float *z, int N) {
    const float *y = run_forward(m, a, m->n_enc, m->n_ops, z, N);
    int C = m->cfg.in_channels;
    memcpy(out, y, (size_t)N * C * a->height * a->width * sizeof(float));
}

void dn_ae_decode_backward(const dn_autoencoder *m, dn_ae_acts *a, dn_ae_params *g, float *dz, const float *dout) {
    run_backward(m, a, g, m->n_enc, m->n_ops, dout, dz);
}

void dn_ae_encode_backward(const dn_autoencoder *m, dn_ae_acts *a, dn_ae_params *g, const float *dmoments) {
    run_backward(m, a, g, 0, m->n_enc, dmoments, NULL);
}

float dn_ae_logvar(float raw) {
    return raw < DN_AE_LOGVAR_MIN ? DN_AE_LOGVAR_MIN : raw > DN_AE_LOGVAR_MAX ? DN_AE_LOGVAR_MAX : raw;
}

void dn_ae_encode(const dn_autoencoder *m, dn_ae_acts *a, float *z, const float *x, long n) {
    int f = dn_ae_factor(&m->cfg), Z = m->cfg.latent_channels, C = m->cfg.in_channels;
    long zl = (long)Z * (a->height / f) * (a->width / f), xl = (long)C * a->height * a->width;
    for (long i = 0; i < n; i += a->max_batch) {
        int b = n - i < a->max_batch ? (int)(n - i) : a->max_batch;
        const float *mo = dn_ae_encode_forward(m, a, x + i * xl, b);
        for (int k = 0; k < b; k++) memcpy(z + (i + k) * zl, mo + (long)k * 2 * zl, (size_t)zl * sizeof(float));
    }
}

void dn_ae_decode(const dn_autoencoder *m, dn_ae_acts *a, float *x, const float *z, long n) {
    int f = dn_ae_factor(&m->cfg), Z = m->cfg.latent_channels, C = m->cfg.in_channels;
    long zl = (long)Z * (a->height / f) * (a->width / f), xl = (long)C * a->height * a->width;
    for (long i = 0; i < n; i += a->max_batch) {
        int b = n - i < a->max_batch ? (int)(n - i) : a->max_batch;
        dn_ae_decode_forward(m, a, x + i * xl, z + i * zl, b);
    }
}

static double flops(const dn_ae_config *c, int H, int W, int decoder) {
    dn_autoencoder *m = calloc(1, sizeof *m);
    if (!m || dn_ae_config_check(c)) {
        free(m);
        return 0;
    }
    m->cfg = *c;
    make_ops(m);
    double s = 0;
    for (int i = decoder ? m->n_enc : 0; i < (decoder ? m->n_ops : m->n_enc); i++) {
        const dn_ae_op *o = &m->ops[i];
        int lo = out_level(o), hwo = (H >> lo) * (W >> lo);
        if (o->kind == DN_AE_RES) s += dn_res_flops(o->cin, o->cout, 0, hwo);
        else if (o->kind != DN_AE_NORM) s += dn_conv_flops(o->cin, o->cout, 3, hwo);
    }
    free(m);
    return s;
}

double dn_ae_encode_flops(const dn_ae_config *c, int height, int width) { return flops(c, height, width, 0); }
double dn_ae_decode_flops(const dn_ae_config *c, int height, int width) { return flops(c, height, width, 1); }

/* ---- the file ---------------------------------------------------------------------------------------- */

static const struct {
    const char *key;
    size_t off;
} cfg_keys[] = {
    {"autoencoder.in_channels", offsetof(dn_ae_config, in_channels)},
    {"autoencoder.height", offsetof(dn_ae_config, height)},
    {"autoencoder.width", offsetof(dn_ae_config, width)},
    {"autoencoder.latent_channels", offsetof(dn_ae_config, latent_channels)},
    {"autoencoder.n_levels", offsetof(dn_ae_config, n_levels)},
    {"autoencoder.blocks", offsetof(dn_ae_config, blocks)},
    {"autoencoder.groups", offsetof(dn_ae_config, groups)},
};

static int text_ok(const char *s) {
    for (; *s; s++)
        if ((unsigned char)*s < 32 || *s == 127) return 0;
    return 1;
}

int dn_ae_write(dn_tf_writer *w, const dn_autoencoder *m, dn_dtype dtype) {
    const dn_ae_config *c = &m->cfg;
    char buf[160];
    for (size_t k = 0; k < sizeof cfg_keys / sizeof cfg_keys[0]; k++) {
        snprintf(buf, sizeof buf, "%d", *(const int *)((const char *)c + cfg_keys[k].off));
        dn_tf_write_meta(w, cfg_keys[k].key, buf);
    }
    buf[0] = 0;
    for (int l = 0; l < c->n_levels; l++) snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%d", l ? "," : "", c->widths[l]);
    dn_tf_write_meta(w, "autoencoder.widths", buf);
    snprintf(buf, sizeof buf, "%.9g", (double)m->scale_factor);
    dn_tf_write_meta(w, "scale_factor", buf);
    snprintf(buf, sizeof buf, "%.4f", (double)m->psnr_pets);
    dn_tf_write_meta(w, "psnr_pets", buf);
    snprintf(buf, sizeof buf, "%.4f", (double)m->psnr_photos);
    dn_tf_write_meta(w, "psnr_photos", buf);
    dn_tf_write_meta(w, "trained_on", m->trained_on);
    return dn_net_write_tensors(w, m->param_mem, m->tensors, m->n_tensors, dtype);
}

int dn_ae_encode_file(unsigned char **data, size_t *len, const dn_autoencoder *m, dn_dtype dtype) {
    *data = NULL, *len = 0;
    if (dn_ae_config_check(&m->cfg)) return dn_fail_context("cannot save autoencoder");
    if (!(m->scale_factor > 0.0f && m->scale_factor < 1e4f))
        return dn_fail("cannot save autoencoder: scale factor %g (must be positive)", (double)m->scale_factor);
    if (!text_ok(m->trained_on)) return dn_fail("cannot save autoencoder: 'trained_on' is not one line of text");
    dn_tf_writer w;
    dn_tf_write_begin(&w, DN_AE_KIND);
    dn_ae_write(&w, m, dtype);
    if (dn_tf_write_end(&w, data, len) < 0) return dn_fail_context("cannot save autoencoder");
    return 0;
}

int dn_ae_save(const char *path, const dn_autoencoder *m, dn_dtype dtype) {
    unsigned char *data;
    size_t len;
    if (dn_ae_encode_file(&data, &len, m, dtype)) return dn_fail_context("cannot save autoencoder '%s'", path);
    int rc = dn_write_file_atomic(path, data, len);
    free(data);
    return rc;
}

/* A number entry in lo..hi. */
static int entry_float(const dn_tf *f, const char *key, double lo, double hi, float *out, const char *name) {
    const char *v = dn_tf_meta(f, key);
    char *e = NULL;
    double x = v ? strtod(v, &e) : 0;
    if (!v || e == v || *e || !(x >= lo && x <= hi))
        return dn_fail("cannot load autoencoder '%s': '%s' must be a number in %g..%g (got '%.40s')", name, key, lo,
                       hi, v ? v : "nothing");
    *out = (float)x;
    return 0;
}

int dn_ae_read(const dn_tf *f, dn_autoencoder *m, const char *name, int extra_tensors) {
    memset(m, 0, sizeof *m);
    dn_ae_config c;
    memset(&c, 0, sizeof c);
    for (size_t k = 0; k < sizeof cfg_keys / sizeof cfg_keys[0]; k++)
        if (dn_tf_meta_ints(f, cfg_keys[k].key, (int *)((char *)&c + cfg_keys[k].off), 1, -4096, 4096) < 0)
            return dn_fail_context("cannot load autoencoder '%s'", name);
    if (c.n_levels < 1 || c.n_levels > DN_AE_MAX_LEVELS)
        return dn_fail("cannot load autoencoder '%s': autoencoder.n_levels %d must be in 1..%d", name, c.n_levels,
                       DN_AE_MAX_LEVELS);
    if (dn_tf_meta_ints(f, "autoencoder.widths", c.widths, c.n_levels, 1, 512) < 0 || dn_ae_config_check(&c))
        return dn_fail_context("cannot load autoencoder '%s'", name);
    float scale, pp, ph;
    if (entry_float(f, "scale_factor", 1e-6, 1e4, &scale, name) || entry_float(f, "psnr_pets", 0, 200, &pp, name) ||
        entry_float(f, "psnr_photos", 0, 200, &ph, name))
        return -1;
    const char *on = dn_tf_meta(f, "trained_on");
    if (!on || strlen(on) >= sizeof m->trained_on || !text_ok(on))
        return dn_fail("cannot load autoencoder '%s': 'trained_on' must be one line under %zu bytes", name,
                       sizeof m->trained_on);
    if (dn_ae_init(m, &c)) return dn_fail_context("cannot load autoencoder '%s'", name);
    if (f->n_tensors != m->n_tensors + extra_tensors) {
        dn_fail("cannot load autoencoder '%s': %d tensors, the config needs %d", name, f->n_tensors - extra_tensors,
                m->n_tensors);
        dn_ae_free(m);
        return -1;
    }
    if (dn_net_read_tensors(f, m->param_mem, m->tensors, m->n_tensors, "autoencoder", name) < 0) {
        dn_ae_free(m);
        return -1;
    }
    m->scale_factor = scale, m->psnr_pets = pp, m->psnr_photos = ph;
    snprintf(m->trained_on, sizeof m->trained_on, "%s", on);
    return 0;
}

int dn_ae_decode_file(dn_autoencoder *m, const unsigned char *data, size_t len, const char *name) {
    memset(m, 0, sizeof *m);
    dn_tf f;
    if (dn_tf_parse(&f, data, len, name) < 0) return dn_fail_context("cannot load autoencoder");
    int rc = strcmp(f.kind, DN_AE_KIND)
                 ? dn_fail("cannot load autoencoder '%s': it is a '%s' file, not an autoencoder", name, f.kind)
                 : dn_ae_read(&f, m, name, 0);
    dn_tf_free(&f);
    return rc;
}

int dn_ae_load(const char *path, dn_autoencoder *m) {
    memset(m, 0, sizeof *m);
    unsigned char *data;
    size_t len;
    if (dn_read_file(path, &data, &len, DN_AE_MAX_BYTES)) return dn_fail_context("cannot load autoencoder");
    int rc = dn_ae_decode_file(m, data, len, path);
    free(data);
    return rc;
}
