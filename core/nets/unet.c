/* unet.c — see unet.h. Sections: config / parameter layout / activations / forward / backward /
 * counting. The forward saves what the backward needs; the backward walks the same blocks in
 * reverse, with small shared scratch buffers for the gradients inside a block. */
#include "nets/unet.h"
#include "base/err.h"
#include "nn/nn.h"
#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- config ---------------------------------------------------------------------------------- */

dn_unet_config dn_unet_default_config(int in_channels, int height, int width, int num_classes) {
    dn_unet_config c;
    memset(&c, 0, sizeof c);
    c.in_channels = in_channels;
    c.out_channels = in_channels;
    c.height = height;
    c.width = width;
    c.base_width = 32;
    c.n_levels = 3;
    c.mults[0] = 1;
    c.mults[1] = 2;
    c.mults[2] = 2;
    c.blocks = 1;
    c.attn_levels = 1 << 2;
    c.groups = 8;
    c.heads = 1;
    c.temb_width = 128;
    c.num_classes = num_classes;
    c.prediction = DN_PRED_EPSILON;
    return c;
}

static int level_ch(const dn_unet_config *c, int l) { return c->base_width * c->mults[l]; }

/* Every GroupNorm input channel count, in the order the network meets them, checked against
 * groups; attention channel counts against heads. Returns the offending count or 0. */
static int bad_group_channels(const dn_unet_config *c) {
    int L = c->n_levels, B = c->blocks, G = c->groups;
    int skips[DN_UNET_MAX_SKIPS], ns = 0;
    int ch = level_ch(c, 0);
    skips[ns++] = ch;
    for (int l = 0; l < L; l++) {
        for (int b = 0; b < B; b++) {
            if (ch % G) return ch;
            ch = level_ch(c, l);
            if (ch % G) return ch;
            skips[ns++] = ch;
        }
        if (l < L - 1) skips[ns++] = ch;
    }
    for (int l = L - 1; l >= 0; l--)
        for (int b = 0; b <= B; b++) {
            int cin = ch + skips[--ns];
            if (cin % G) return cin;
            ch = level_ch(c, l);
        }
    if (ch % G) return ch;
    return 0;
}

int dn_unet_config_check(const dn_unet_config *c) {
    if (c->in_channels < 1 || c->in_channels > 16 || c->out_channels < 1 || c->out_channels > 16)
        return dn_fail("bad U-Net config: in/out channels %d/%d must be in 1..16", c->in_channels,
                       c->out_channels);
    if (c->n_levels < 1 || c->n_levels > DN_UNET_MAX_LEVELS)
        return dn_fail("bad U-Net config: n_levels %d must be in 1..%d", c->n_levels,
                       DN_UNET_MAX_LEVELS);
    if (c->height < 1 || c->height > 1024 || c->width < 1 || c->width > 1024)
        return dn_fail("bad U-Net config: image size %dx%d must be in 1..1024", c->height, c->width);
    int div = 1 << (c->n_levels - 1);
    if (c->height % div || c->width % div)
        return dn_fail("bad U-Net config: image size %dx%d must be divisible by %d for %d levels "
                       "(each downsample halves it)", c->height, c->width, div, c->n_levels);
    if (c->base_width < 2 || c->base_width > 1024 || c->base_width % 2)
        return dn_fail("bad U-Net config: base_width %d must be even and in 2..1024", c->base_width);
    for (int l = 0; l < c->n_levels; l++)
        if (c->mults[l] < 1 || c->mults[l] > 16 || level_ch(c, l) > 2048)
            return dn_fail("bad U-Net config: width multiplier %d of level %d must be in 1..16 "
                           "with at most 2048 channels", c->mults[l], l);
    if (c->blocks < 1 || c->blocks > DN_UNET_MAX_BLOCKS)
        return dn_fail("bad U-Net config: blocks %d must be in 1..%d", c->blocks, DN_UNET_MAX_BLOCKS);
    if (c->attn_levels < 0 || c->attn_levels >= (1 << c->n_levels))
        return dn_fail("bad U-Net config: attention levels mask 0x%x names a level >= %d",
                       (unsigned)c->attn_levels, c->n_levels);
    if (c->groups < 1 || c->groups > 1024)
        return dn_fail("bad U-Net config: groups %d must be in 1..1024", c->groups);
    int bad = bad_group_channels(c);
    if (bad) return dn_fail("bad U-Net config: %d channels are not divisible by %d groups", bad, c->groups);
    if (c->heads < 1 || c->heads > 64)
        return dn_fail("bad U-Net config: heads %d must be in 1..64", c->heads);
    /* the middle always has attention at the lowest level */
    int amask = c->attn_levels | (1 << (c->n_levels - 1));
    for (int l = 0; l < c->n_levels; l++) {
        if (!(amask >> l & 1)) continue;
        long hw = (long)(c->height >> l) * (c->width >> l);
        if (level_ch(c, l) % c->heads)
            return dn_fail("bad U-Net config: %d channels at level %d not divisible by %d heads",
                           level_ch(c, l), l, c->heads);
        if (hw > 4096)
            return dn_fail("bad U-Net config: attention over %ld positions at level %d (limit 4096; "
                           "use attention only at lower resolutions)", hw, l);
    }
    if (c->temb_width < 1 || c->temb_width > 4096)
        return dn_fail("bad U-Net config: temb_width %d must be in 1..4096", c->temb_width);
    if (c->num_classes < 0 || c->num_classes > 10000)
        return dn_fail("bad U-Net config: num_classes %d must be in 0..10000", c->num_classes);
    if (c->prediction != DN_PRED_EPSILON && c->prediction != DN_PRED_V)
        return dn_fail("bad U-Net config: prediction type %d (0 epsilon, 1 v_prediction)", c->prediction);
    if (dn_unet_param_count(c) > 64L * 1024 * 1024)
        return dn_fail("bad U-Net config: %ld parameters is over the limit of 64M",
                       dn_unet_param_count(c));
    return 0;
}

/* ---- parameter layout --------------------------------------------------------------------------
 * One walk over the architecture in a fixed order (the order of model files and of the PyTorch
 * twin's state_dict) hands out consecutive slices of the parameter block. */

typedef struct {
    float *base;            /* NULL: only count */
    long off;
    dn_unet_tensor *tensors; /* NULL: do not record */
    int nt;
} walker;

static float *take(walker *w, int ndim, int s0, int s1, int s2, int s3, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
static float *take(walker *w, int ndim, int s0, int s1, int s2, int s3, const char *fmt, ...) {
    int s[4] = {s0, s1, s2, s3};
    long n = 1;
    for (int i = 0; i < ndim; i++) n *= s[i];
    if (w->tensors) {
        assert(w->nt < DN_UNET_MAX_TENSORS);
        dn_unet_tensor *t = &w->tensors[w->nt];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(t->name, sizeof t->name, fmt, ap);
        va_end(ap);
        t->ndim = ndim;
        for (int i = 0; i < 4; i++) t->shape[i] = i < ndim ? s[i] : 1;
        t->numel = n;
        t->offset = w->off;
    }
    w->nt++;
    float *p = w->base ? w->base + w->off : NULL;
    w->off += n;
    return p;
}

static void walk_res(walker *w, dn_resblock_params *p, const char *pre, int cin, int cout, int T) {
    p->norm1_w = take(w, 1, cin, 0, 0, 0, "%s.norm1.weight", pre);
    p->norm1_b = take(w, 1, cin, 0, 0, 0, "%s.norm1.bias", pre);
    p->conv1_w = take(w, 4, cout, cin, 3, 3, "%s.conv1.weight", pre);
    p->conv1_b = take(w, 1, cout, 0, 0, 0, "%s.conv1.bias", pre);
    p->temb_w = take(w, 2, cout, T, 0, 0, "%s.temb.weight", pre);
    p->temb_b = take(w, 1, cout, 0, 0, 0, "%s.temb.bias", pre);
    p->norm2_w = take(w, 1, cout, 0, 0, 0, "%s.norm2.weight", pre);
    p->norm2_b = take(w, 1, cout, 0, 0, 0, "%s.norm2.bias", pre);
    p->conv2_w = take(w, 4, cout, cout, 3, 3, "%s.conv2.weight", pre);
    p->conv2_b = take(w, 1, cout, 0, 0, 0, "%s.conv2.bias", pre);
    if (cin != cout) {
        p->skip_w = take(w, 4, cout, cin, 1, 1, "%s.skip.weight", pre);
        p->skip_b = take(w, 1, cout, 0, 0, 0, "%s.skip.bias", pre);
    } else {
        p->skip_w = p->skip_b = NULL;
    }
}

static void walk_attn(walker *w, dn_attn_params *p, const char *pre, int c) {
    p->norm_w = take(w, 1, c, 0, 0, 0, "%s.norm.weight", pre);
    p->norm_b = take(w, 1, c, 0, 0, 0, "%s.norm.bias", pre);
    p->qkv_w = take(w, 4, 3 * c, c, 1, 1, "%s.qkv.weight", pre);
    p->qkv_b = take(w, 1, 3 * c, 0, 0, 0, "%s.qkv.bias", pre);
    p->proj_w = take(w, 4, c, c, 1, 1, "%s.proj.weight", pre);
    p->proj_b = take(w, 1, c, 0, 0, 0, "%s.proj.bias", pre);
}

/* The walk. Unused blocks stay NULL. Returns the number of floats. */
static long walk_params(const dn_unet_config *c, dn_unet_params *p, walker *w) {
    memset(p, 0, sizeof *p);
    int L = c->n_levels, B = c->blocks, S = c->base_width, T = c->temb_width;
    char pre[40];
    p->time1_w = take(w, 2, T, S, 0, 0, "time1.weight");
    p->time1_b = take(w, 1, T, 0, 0, 0, "time1.bias");
    p->time2_w = take(w, 2, T, T, 0, 0, "time2.weight");
    p->time2_b = take(w, 1, T, 0, 0, 0, "time2.bias");
    p->class_emb = take(w, 2, c->num_classes + 1, T, 0, 0, "class_emb.weight");
    int ch = level_ch(c, 0);
    p->conv_in_w = take(w, 4, ch, c->in_channels, 3, 3, "conv_in.weight");
    p->conv_in_b = take(w, 1, ch, 0, 0, 0, "conv_in.bias");
    int skips[DN_UNET_MAX_SKIPS], ns = 0;
    skips[ns++] = ch;
    for (int l = 0; l < L; l++) {
        int co = level_ch(c, l);
        for (int b = 0; b < B; b++) {
            snprintf(pre, sizeof pre, "down.%d.res.%d", l, b);
            walk_res(w, &p->down_res[l][b], pre, ch, co, T);
            ch = co;
            if (c->attn_levels >> l & 1) {
                snprintf(pre, sizeof pre, "down.%d.attn.%d", l, b);
                walk_attn(w, &p->down_attn[l][b], pre, ch);
            }
            skips[ns++] = ch;
        }
        if (l < L - 1) {
            p->down_w[l] = take(w, 4, ch, ch, 3, 3, "down.%d.down.weight", l);
            p->down_b[l] = take(w, 1, ch, 0, 0, 0, "down.%d.down.bias", l);
            skips[ns++] = ch;
        }
    }
    walk_res(w, &p->mid_res1, "mid.res1", ch, ch, T);
    walk_attn(w, &p->mid_attn, "mid.attn", ch);
    walk_res(w, &p->mid_res2, "mid.res2", ch, ch, T);
    for (int l = L - 1; l >= 0; l--) {
        int co = level_ch(c, l);
        for (int b = 0; b <= B; b++) {
            snprintf(pre, sizeof pre, "up.%d.res.%d", l, b);
            walk_res(w, &p->up_res[l][b], pre, ch + skips[--ns], co, T);
            ch = co;
            if (c->attn_levels >> l & 1) {
                snprintf(pre, sizeof pre, "up.%d.attn.%d", l, b);
                walk_attn(w, &p->up_attn[l][b], pre, ch);
            }
        }
        if (l > 0) {
            p->up_w[l] = take(w, 4, ch, ch, 3, 3, "up.%d.up.weight", l);
            p->up_b[l] = take(w, 1, ch, 0, 0, 0, "up.%d.up.bias", l);
        }
    }
    p->norm_out_w = take(w, 1, ch, 0, 0, 0, "norm_out.weight");
    p->norm_out_b = take(w, 1, ch, 0, 0, 0, "norm_out.bias");
    p->conv_out_w = take(w, 4, c->out_channels, ch, 3, 3, "conv_out.weight");
    p->conv_out_b = take(w, 1, c->out_channels, 0, 0, 0, "conv_out.bias");
    return w->off;
}

long dn_unet_param_count(const dn_unet_config *c) {
    /* only the structural fields the walk reads need to be sane; bound them first */
    if (c->n_levels < 1 || c->n_levels > DN_UNET_MAX_LEVELS || c->blocks < 1 ||
        c->blocks > DN_UNET_MAX_BLOCKS || c->base_width < 1 || c->base_width > 1024 ||
        c->temb_width < 1 || c->temb_width > 4096 || c->num_classes < 0 || c->num_classes > 10000 ||
        c->in_channels < 1 || c->in_channels > 16 || c->out_channels < 1 || c->out_channels > 16)
        return 0;
    for (int l = 0; l < c->n_levels; l++)
        if (c->mults[l] < 1 || c->mults[l] > 16) return 0;
    dn_unet_params p;
    walker w = {0};
    return walk_params(c, &p, &w);
}

int dn_unet_init(dn_unet *m, const dn_unet_config *c) {
    memset(m, 0, sizeof *m);
    if (dn_unet_config_check(c)) return -1;
    m->cfg = *c;
    walker w = {0};
    m->n_params = walk_params(c, &m->params, &w);
    m->param_mem = calloc((size_t)m->n_params, sizeof(float));
    if (!m->param_mem)
        return dn_fail("cannot allocate the U-Net: out of memory for %ld parameters", m->n_params);
    walker w2 = {.base = m->param_mem, .tensors = m->tensors};
    walk_params(c, &m->params, &w2);
    m->n_tensors = w2.nt;
    return 0;
}

void dn_unet_free(dn_unet *m) {
    if (!m) return;
    free(m->param_mem);
    memset(m, 0, sizeof *m);
}

int dn_unet_grads_alloc(const dn_unet *m, dn_unet_params *grads, float **mem) {
    *mem = calloc((size_t)m->n_params, sizeof(float));
    if (!*mem) return dn_fail("cannot allocate U-Net gradients: out of memory for %ld floats", m->n_params);
    walker w = {.base = *mem};
    walk_params(&m->cfg, grads, &w);
    return 0;
}

void dn_unet_init_random(dn_unet *m, dn_rng *r) {
    for (int i = 0; i < m->n_tensors; i++) {
        const dn_unet_tensor *t = &m->tensors[i];
        float *v = m->param_mem + t->offset;
        const char *dot = strrchr(t->name, '.');
        int is_bias = dot && strcmp(dot, ".bias") == 0;
        if (strstr(t->name, "norm")) { /* GroupNorm: weight 1, bias 0 */
            for (long k = 0; k < t->numel; k++) v[k] = is_bias ? 0.0f : 1.0f;
        } else if (strncmp(t->name, "class_emb", 9) == 0) {
            dn_rng_normal_fill(r, v, t->numel);
        } else {
            /* fan_in of the layer: for a weight, numel / out; a bias uses its weight's fan_in,
             * which is the previous tensor's */
            const dn_unet_tensor *wt = is_bias ? &m->tensors[i - 1] : t;
            long fan_in = wt->numel / wt->shape[0];
            float bound = 1.0f / sqrtf((float)fan_in);
            for (long k = 0; k < t->numel; k++) v[k] = (2.0f * dn_rng_uniform(r) - 1.0f) * bound;
        }
    }
}

/* ---- activations --------------------------------------------------------------------------------
 * Two passes of the same walk: count floats, then hand out slices of one allocation. */

typedef struct {
    float *base;
    size_t off;
} bump;

static float *grab(bump *b, size_t n) {
    float *p = b->base ? b->base + b->off : NULL;
    b->off += (n + 15) & ~(size_t)15; /* keep every buffer 64-byte aligned */
    return p;
}

static void res_acts(dn_resblock_acts *a, bump *b, int B, int cin, int cout, int hw, int G) {
    size_t ni = (size_t)B * cin * hw, no = (size_t)B * cout * hw;
    a->gn1 = grab(b, ni);
    a->mean1 = grab(b, (size_t)B * G);
    a->rstd1 = grab(b, (size_t)B * G);
    a->a1 = grab(b, ni);
    a->tproj = grab(b, (size_t)B * cout);
    a->h1 = grab(b, no);
    a->gn2 = grab(b, no);
    a->mean2 = grab(b, (size_t)B * G);
    a->rstd2 = grab(b, (size_t)B * G);
    a->a2 = grab(b, no);
    a->out = grab(b, no);
    a->cin = cin;
    a->cout = cout;
    a->hw = hw;
}

static void attn_acts(dn_attn_acts *a, bump *b, int B, int c, int hw, int G, int NH) {
    size_t n = (size_t)B * c * hw;
    a->gn = grab(b, n);
    a->mean = grab(b, (size_t)B * G);
    a->rstd = grab(b, (size_t)B * G);
    a->qkv = grab(b, 3 * n);
    a->att = grab(b, (size_t)B * NH * hw * hw);
    a->a = grab(b, n);
    a->out = grab(b, n);
    a->c = c;
    a->hw = hw;
}

static void layout_acts(dn_unet_acts *a, const dn_unet_config *c, int B, bump *b) {
    int L = c->n_levels, NB = c->blocks, G = c->groups, NH = c->heads;
    int S = c->base_width, T = c->temb_width;
    long maxc = 0; /* largest channels x positions of any tensor a scratch buffer must hold */
#define SEE(cc, hw) do { if ((long)(cc) * (hw) > maxc) maxc = (long)(cc) * (hw); } while (0)
    a->ids = NULL;
    a->tsin = grab(b, (size_t)B * S);
    a->t1 = grab(b, (size_t)B * T);
    a->t1a = grab(b, (size_t)B * T);
    a->temb = grab(b, (size_t)B * T);
    a->temb_act = grab(b, (size_t)B * T);
    a->dtemb_act = grab(b, (size_t)B * T);
    a->dtemb = grab(b, (size_t)B * T);
    a->dt1a = grab(b, (size_t)B * T);
    a->dt1 = grab(b, (size_t)B * T);
    SEE(T, 1);
    int ch = level_ch(c, 0);
    int hw = c->height * c->width;
    a->conv_in = grab(b, (size_t)B * ch * hw);
    SEE(c->in_channels, hw);
    SEE(ch, hw);
    a->n_skips = 0;
    a->skip[a->n_skips] = a->conv_in;
    a->skip_c[a->n_skips] = ch;
    a->skip_hw[a->n_skips++] = hw;
    for (int l = 0; l < L; l++) {
        int co = level_ch(c, l);
        hw = (c->height >> l) * (c->width >> l);
        for (int k = 0; k < NB; k++) {
            res_acts(&a->down_res[l][k], b, B, ch, co, hw, G);
            SEE(ch, hw);
            ch = co;
            SEE(ch, hw);
            float *o = a->down_res[l][k].out;
            if (c->attn_levels >> l & 1) {
                attn_acts(&a->down_attn[l][k], b, B, ch, hw, G, NH);
                SEE(3 * ch, hw);
                o = a->down_attn[l][k].out;
            }
            a->skip[a->n_skips] = o;
            a->skip_c[a->n_skips] = ch;
            a->skip_hw[a->n_skips++] = hw;
        }
        if (l < L - 1) {
            int hw2 = (c->height >> (l + 1)) * (c->width >> (l + 1));
            a->down[l] = grab(b, (size_t)B * ch * hw2);
            a->skip[a->n_skips] = a->down[l];
            a->skip_c[a->n_skips] = ch;
            a->skip_hw[a->n_skips++] = hw2;
        }
    }
    hw = (c->height >> (L - 1)) * (c->width >> (L - 1));
    res_acts(&a->mid_res1, b, B, ch, ch, hw, G);
    attn_acts(&a->mid_attn, b, B, ch, hw, G, NH);
    res_acts(&a->mid_res2, b, B, ch, ch, hw, G);
    SEE(3 * ch, hw);
    int ns = a->n_skips;
    for (int l = L - 1; l >= 0; l--) {
        int co = level_ch(c, l);
        hw = (c->height >> l) * (c->width >> l);
        for (int k = 0; k <= NB; k++) {
            int cin = ch + a->skip_c[--ns];
            a->up_cat[l][k] = grab(b, (size_t)B * cin * hw);
            res_acts(&a->up_res[l][k], b, B, cin, co, hw, G);
            SEE(cin, hw);
            ch = co;
            SEE(ch, hw);
            if (c->attn_levels >> l & 1) {
                attn_acts(&a->up_attn[l][k], b, B, ch, hw, G, NH);
                SEE(3 * ch, hw);
            }
        }
        if (l > 0) {
            int hw2 = (c->height >> (l - 1)) * (c->width >> (l - 1));
            a->up_ups[l] = grab(b, (size_t)B * ch * hw2);
            a->up[l] = grab(b, (size_t)B * ch * hw2);
            SEE(ch, hw2);
        }
    }
    hw = c->height * c->width;
    a->gn_out = grab(b, (size_t)B * ch * hw);
    a->mean_out = grab(b, (size_t)B * G);
    a->rstd_out = grab(b, (size_t)B * G);
    a->a_out = grab(b, (size_t)B * ch * hw);
    SEE(c->out_channels, hw);
    for (int i = 0; i < a->n_skips; i++)
        a->dskip[i] = grab(b, (size_t)B * a->skip_c[i] * a->skip_hw[i]);
    a->scratch_len = (long)B * maxc;
    a->s0 = grab(b, (size_t)a->scratch_len);
    a->s1 = grab(b, (size_t)a->scratch_len);
    a->s2 = grab(b, (size_t)a->scratch_len);
    a->g0 = grab(b, (size_t)a->scratch_len);
    a->g1 = grab(b, (size_t)a->scratch_len);
    a->dtproj = grab(b, (size_t)B * 2048);
#undef SEE
}

int dn_unet_acts_alloc(dn_unet_acts *a, const dn_unet *m, int max_batch) {
    memset(a, 0, sizeof *a);
    if (max_batch < 1 || max_batch > 4096)
        return dn_fail("cannot allocate U-Net activations: batch %d must be in 1..4096", max_batch);
    bump b = {0};
    layout_acts(a, &m->cfg, max_batch, &b);
    size_t n = b.off;
    a->mem = aligned_alloc(64, n * sizeof(float));
    a->ids = malloc((size_t)max_batch * sizeof(int));
    if (!a->mem || !a->ids) {
        free(a->mem);
        free(a->ids);
        memset(a, 0, sizeof *a);
        return dn_fail("cannot allocate U-Net activations for batch %d: out of memory for %zu MB "
                       "(use a smaller batch)", max_batch, n * sizeof(float) >> 20);
    }
    memset(a->mem, 0, n * sizeof(float));
    int *ids = a->ids;
    bump b2 = {.base = a->mem};
    layout_acts(a, &m->cfg, max_batch, &b2);
    a->ids = ids;
    a->n_floats = n;
    a->max_batch = max_batch;
    return 0;
}

void dn_unet_acts_free(dn_unet_acts *a) {
    if (!a) return;
    free(a->mem);
    free(a->ids);
    memset(a, 0, sizeof *a);
}

/* ---- forward ---------------------------------------------------------------------------------- */

static void add_into(float *y, const float *x, long n) {
    for (long i = 0; i < n; i++) y[i] += x[i];
}

/* ResBlock (DDPM): see unet.h. scratch holds (N, Cout, HW). */
static void res_forward(const dn_resblock_params *p, dn_resblock_acts *a, const float *x,
                        const float *temb_act, float *scratch, int N, int T, int G, int H, int W) {
    int ci = a->cin, co = a->cout, hw = H * W;
    long ni = (long)N * ci * hw, no = (long)N * co * hw;
    a->x = (float *)x;
    dn_groupnorm_forward(a->gn1, a->mean1, a->rstd1, x, p->norm1_w, p->norm1_b, N, ci, hw, G);
    dn_silu_forward(a->a1, a->gn1, ni);
    dn_conv2d_forward(scratch, a->a1, p->conv1_w, p->conv1_b, N, ci, H, W, co, 3, 1);
    dn_linear_forward(a->tproj, temb_act, p->temb_w, p->temb_b, N, T, co);
    dn_add_channel_forward(a->h1, scratch, a->tproj, N, co, hw);
    dn_groupnorm_forward(a->gn2, a->mean2, a->rstd2, a->h1, p->norm2_w, p->norm2_b, N, co, hw, G);
    dn_silu_forward(a->a2, a->gn2, no);
    dn_conv2d_forward(a->out, a->a2, p->conv2_w, p->conv2_b, N, co, H, W, co, 3, 1);
    if (p->skip_w) {
        dn_conv2d_forward(scratch, x, p->skip_w, p->skip_b, N, ci, H, W, co, 1, 1);
        add_into(a->out, scratch, no);
    } else {
        add_into(a->out, x, no);
    }
}

/* Self-attention block: out = x + proj(attention(qkv(GN(x)))). */
static void attn_forward(const dn_attn_params *p, dn_attn_acts *a, const float *x, int N, int G,
                         int NH, int H, int W) {
    int c = a->c, hw = H * W;
    a->x = (float *)x;
    dn_groupnorm_forward(a->gn, a->mean, a->rstd, x, p->norm_w, p->norm_b, N, c, hw, G);
    dn_conv2d_forward(a->qkv, a->gn, p->qkv_w, p->qkv_b, N, c, H, W, 3 * c, 1, 1);
    dn_attention_forward(a->a, a->att, a->qkv, N, c, hw, NH);
    dn_conv2d_forward(a->out, a->a, p->proj_w, p->proj_b, N, c, H, W, c, 1, 1);
    add_into(a->out, x, (long)N * c * hw);
}

void dn_unet_forward(const dn_unet *m, dn_unet_acts *a, float *out, const float *x,
                     const float *t, const int *ids, int N) {
    const dn_unet_config *c = &m->cfg;
    const dn_unet_params *p = &m->params;
    assert(N >= 1 && N <= a->max_batch);
    int L = c->n_levels, NB = c->blocks, G = c->groups, NH = c->heads;
    int S = c->base_width, T = c->temb_width, K = c->num_classes;
    a->n = N;
    a->x = x;
    for (int i = 0; i < N; i++) {
        assert(ids[i] >= 0 && ids[i] <= K && "class id out of range");
        a->ids[i] = ids[i];
    }
    /* time embedding: sinusoid -> linear -> SiLU -> linear, plus the class embedding */
    dn_timestep_embedding(a->tsin, t, N, S);
    dn_linear_forward(a->t1, a->tsin, p->time1_w, p->time1_b, N, S, T);
    dn_silu_forward(a->t1a, a->t1, (long)N * T);
    dn_linear_forward(a->temb, a->t1a, p->time2_w, p->time2_b, N, T, T);
    dn_embedding_forward(a->s0, ids, p->class_emb, N, K + 1, T);
    add_into(a->temb, a->s0, (long)N * T);
    dn_silu_forward(a->temb_act, a->temb, (long)N * T);

    int H = c->height, W = c->width, ch = level_ch(c, 0);
    dn_conv2d_forward(a->conv_in, x, p->conv_in_w, p->conv_in_b, N, c->in_channels, H, W, ch, 3, 1);
    const float *h = a->conv_in;
    for (int l = 0; l < L; l++) {
        int Hl = H >> l, Wl = W >> l;
        for (int k = 0; k < NB; k++) {
            res_forward(&p->down_res[l][k], &a->down_res[l][k], h, a->temb_act, a->s0, N, T, G, Hl, Wl);
            h = a->down_res[l][k].out;
            if (c->attn_levels >> l & 1) {
                attn_forward(&p->down_attn[l][k], &a->down_attn[l][k], h, N, G, NH, Hl, Wl);
                h = a->down_attn[l][k].out;
            }
        }
        ch = level_ch(c, l);
        if (l < L - 1) {
            dn_conv2d_forward(a->down[l], h, p->down_w[l], p->down_b[l], N, ch, Hl, Wl, ch, 3, 2);
            h = a->down[l];
        }
    }
    int Hm = H >> (L - 1), Wm = W >> (L - 1);
    res_forward(&p->mid_res1, &a->mid_res1, h, a->temb_act, a->s0, N, T, G, Hm, Wm);
    attn_forward(&p->mid_attn, &a->mid_attn, a->mid_res1.out, N, G, NH, Hm, Wm);
    res_forward(&p->mid_res2, &a->mid_res2, a->mid_attn.out, a->temb_act, a->s0, N, T, G, Hm, Wm);
    h = a->mid_res2.out;
    int ns = a->n_skips;
    for (int l = L - 1; l >= 0; l--) {
        int Hl = H >> l, Wl = W >> l;
        for (int k = 0; k <= NB; k++) {
            ns--;
            dn_concat_forward(a->up_cat[l][k], h, a->skip[ns], N, ch, a->skip_c[ns], Hl * Wl);
            res_forward(&p->up_res[l][k], &a->up_res[l][k], a->up_cat[l][k], a->temb_act, a->s0,
                        N, T, G, Hl, Wl);
            h = a->up_res[l][k].out;
            ch = level_ch(c, l);
            if (c->attn_levels >> l & 1) {
                attn_forward(&p->up_attn[l][k], &a->up_attn[l][k], h, N, G, NH, Hl, Wl);
                h = a->up_attn[l][k].out;
            }
        }
        if (l > 0) {
            dn_upsample2x_forward(a->up_ups[l], h, N, ch, Hl, Wl);
            dn_conv2d_forward(a->up[l], a->up_ups[l], p->up_w[l], p->up_b[l], N, ch, 2 * Hl, 2 * Wl,
                              ch, 3, 1);
            h = a->up[l];
        }
    }
    dn_groupnorm_forward(a->gn_out, a->mean_out, a->rstd_out, h, p->norm_out_w, p->norm_out_b,
                         N, ch, H * W, G);
    dn_silu_forward(a->a_out, a->gn_out, (long)N * ch * H * W);
    dn_conv2d_forward(out, a->a_out, p->conv_out_w, p->conv_out_b, N, ch, H, W, c->out_channels, 3, 1);
}

/* ---- backward --------------------------------------------------------------------------------- */

static void zero(float *p, long n) { memset(p, 0, (size_t)n * sizeof(float)); }

/* ResBlock backward: adds into g and dx; s0, s1 are scratch of (N, max(Cin,Cout), HW). */
static void res_backward(const dn_resblock_params *p, dn_resblock_params *g, const dn_resblock_acts *a,
                         float *dx, const float *dout, const float *temb_act, float *dtemb_act,
                         float *dtproj, float *s0, float *s1, int N, int T, int G, int H, int W) {
    int ci = a->cin, co = a->cout, hw = H * W;
    long ni = (long)N * ci * hw, no = (long)N * co * hw;
    if (p->skip_w)
        dn_conv2d_backward(dx, g->skip_w, g->skip_b, dout, a->x, p->skip_w, N, ci, H, W, co, 1, 1);
    else
        add_into(dx, dout, no);
    zero(s0, no);
    dn_conv2d_backward(s0, g->conv2_w, g->conv2_b, dout, a->a2, p->conv2_w, N, co, H, W, co, 3, 1);
    zero(s1, no);
    dn_silu_backward(s1, s0, a->gn2, no);
    zero(s0, no);
    dn_groupnorm_backward(s0, g->norm2_w, g->norm2_b, s1, a->h1, a->mean2, a->rstd2, p->norm2_w,
                          N, co, hw, G);
    /* s0 = dL/dh1 = dL/d(conv1 out); the time projection gets its per-channel sum */
    zero(dtproj, (long)N * co);
    dn_add_channel_backward(NULL, dtproj, s0, N, co, hw);
    dn_linear_backward(dtemb_act, g->temb_w, g->temb_b, dtproj, temb_act, p->temb_w, N, T, co);
    zero(s1, ni);
    dn_conv2d_backward(s1, g->conv1_w, g->conv1_b, s0, a->a1, p->conv1_w, N, ci, H, W, co, 3, 1);
    zero(s0, ni);
    dn_silu_backward(s0, s1, a->gn1, ni);
    dn_groupnorm_backward(dx, g->norm1_w, g->norm1_b, s0, a->x, a->mean1, a->rstd1, p->norm1_w,
                          N, ci, hw, G);
}

static void attn_backward(const dn_attn_params *p, dn_attn_params *g, const dn_attn_acts *a,
                          float *dx, const float *dout, float *s0, float *s1, int N, int G, int NH,
                          int H, int W) {
    int c = a->c, hw = H * W;
    long n = (long)N * c * hw;
    add_into(dx, dout, n);
    zero(s0, n);
    dn_conv2d_backward(s0, g->proj_w, g->proj_b, dout, a->a, p->proj_w, N, c, H, W, c, 1, 1);
    zero(s1, 3 * n);
    dn_attention_backward(s1, s0, a->qkv, a->att, N, c, hw, NH);
    zero(s0, n);
    dn_conv2d_backward(s0, g->qkv_w, g->qkv_b, s1, a->gn, p->qkv_w, N, c, H, W, 3 * c, 1, 1);
    dn_groupnorm_backward(dx, g->norm_w, g->norm_b, s0, a->x, a->mean, a->rstd, p->norm_w, N, c, hw, G);
}

void dn_unet_backward(const dn_unet *m, dn_unet_acts *a, dn_unet_params *grads, float *dx,
                      const float *dout) {
    const dn_unet_config *c = &m->cfg;
    const dn_unet_params *p = &m->params;
    dn_unet_params *g = grads;
    int N = a->n, L = c->n_levels, NB = c->blocks, G = c->groups, NH = c->heads;
    int S = c->base_width, T = c->temb_width, K = c->num_classes;
    int H = c->height, W = c->width, ch = level_ch(c, 0);
    for (int i = 0; i < a->n_skips; i++) zero(a->dskip[i], (long)N * a->skip_c[i] * a->skip_hw[i]);
    zero(a->dtemb_act, (long)N * T);
    float *gc = a->g0, *gp = a->g1, *tmp; /* gradient of the current block's output / input */

    /* output: conv_out(SiLU(GN(h))) */
    zero(a->s0, (long)N * ch * H * W);
    dn_conv2d_backward(a->s0, g->conv_out_w, g->conv_out_b, dout, a->a_out, p->conv_out_w, N, ch, H, W,
                       c->out_channels, 3, 1);
    zero(a->s1, (long)N * ch * H * W);
    dn_silu_backward(a->s1, a->s0, a->gn_out, (long)N * ch * H * W);
    zero(gc, (long)N * ch * H * W);
    const float *hin = c->attn_levels & 1 ? a->up_attn[0][NB].out : a->up_res[0][NB].out;
    dn_groupnorm_backward(gc, g->norm_out_w, g->norm_out_b, a->s1, hin, a->mean_out, a->rstd_out,
                          p->norm_out_w, N, ch, H * W, G);

    /* up path, in reverse */
    int ns = 0;
    for (int l = 0; l < L; l++) {
        int Hl = H >> l, Wl = W >> l, cl = level_ch(c, l);
        if (l > 0) {
            long n2 = (long)N * cl * 4 * Hl * Wl;
            zero(a->s0, n2);
            dn_conv2d_backward(a->s0, g->up_w[l], g->up_b[l], gc, a->up_ups[l], p->up_w[l], N, cl,
                               2 * Hl, 2 * Wl, cl, 3, 1);
            zero(gp, (long)N * cl * Hl * Wl);
            dn_upsample2x_backward(gp, a->s0, N, cl, Hl, Wl);
            tmp = gc, gc = gp, gp = tmp;
        }
        for (int k = NB; k >= 0; k--) {
            if (c->attn_levels >> l & 1) {
                zero(gp, (long)N * cl * Hl * Wl);
                attn_backward(&p->up_attn[l][k], &g->up_attn[l][k], &a->up_attn[l][k], gp, gc,
                              a->s0, a->s1, N, G, NH, Hl, Wl);
                tmp = gc, gc = gp, gp = tmp;
            }
            const dn_resblock_acts *ra = &a->up_res[l][k];
            zero(a->s2, (long)N * ra->cin * Hl * Wl);
            res_backward(&p->up_res[l][k], &g->up_res[l][k], ra, a->s2, gc, a->temb_act, a->dtemb_act,
                         a->dtproj, a->s0, a->s1, N, T, G, Hl, Wl);
            int cs = a->skip_c[ns], chh = ra->cin - cs;
            zero(gp, (long)N * chh * Hl * Wl);
            dn_concat_backward(gp, a->dskip[ns], a->s2, N, chh, cs, Hl * Wl);
            ns++;
            tmp = gc, gc = gp, gp = tmp;
        }
    }
    assert(ns == a->n_skips);

    /* middle, in reverse; the gradient of its input is that of the last skip */
    int Hm = H >> (L - 1), Wm = W >> (L - 1), cm = level_ch(c, L - 1);
    long nm = (long)N * cm * Hm * Wm;
    zero(gp, nm);
    res_backward(&p->mid_res2, &g->mid_res2, &a->mid_res2, gp, gc, a->temb_act, a->dtemb_act,
                 a->dtproj, a->s0, a->s1, N, T, G, Hm, Wm);
    tmp = gc, gc = gp, gp = tmp;
    zero(gp, nm);
    attn_backward(&p->mid_attn, &g->mid_attn, &a->mid_attn, gp, gc, a->s0, a->s1, N, G, NH, Hm, Wm);
    tmp = gc, gc = gp, gp = tmp;
    int top = a->n_skips - 1;
    res_backward(&p->mid_res1, &g->mid_res1, &a->mid_res1, a->dskip[top], gc, a->temb_act,
                 a->dtemb_act, a->dtproj, a->s0, a->s1, N, T, G, Hm, Wm);

    /* down path, in reverse: the block that made skip i reads skip i-1 */
    int si = top;
    for (int l = L - 1; l >= 0; l--) {
        int Hl = H >> l, Wl = W >> l, cl = level_ch(c, l);
        if (l < L - 1) {
            dn_conv2d_backward(a->dskip[si - 1], g->down_w[l], g->down_b[l], a->dskip[si],
                               a->skip[si - 1], p->down_w[l], N, cl, Hl, Wl, cl, 3, 2);
            si--;
        }
        for (int k = NB - 1; k >= 0; k--) {
            const float *d = a->dskip[si];
            if (c->attn_levels >> l & 1) {
                zero(a->s2, (long)N * cl * Hl * Wl);
                attn_backward(&p->down_attn[l][k], &g->down_attn[l][k], &a->down_attn[l][k], a->s2,
                              d, a->s0, a->s1, N, G, NH, Hl, Wl);
                d = a->s2;
            }
            res_backward(&p->down_res[l][k], &g->down_res[l][k], &a->down_res[l][k], a->dskip[si - 1],
                         d, a->temb_act, a->dtemb_act, a->dtproj, a->s0, a->s1, N, T, G, Hl, Wl);
            si--;
        }
    }
    assert(si == 0);
    if (dx) zero(dx, (long)N * c->in_channels * H * W);
    dn_conv2d_backward(dx, g->conv_in_w, g->conv_in_b, a->dskip[0], a->x, p->conv_in_w, N,
                       c->in_channels, H, W, level_ch(c, 0), 3, 1);

    /* time embedding */
    zero(a->dtemb, (long)N * T);
    dn_silu_backward(a->dtemb, a->dtemb_act, a->temb, (long)N * T);
    dn_embedding_backward(g->class_emb, a->dtemb, a->ids, N, K + 1, T);
    zero(a->dt1a, (long)N * T);
    dn_linear_backward(a->dt1a, g->time2_w, g->time2_b, a->dtemb, a->t1a, p->time2_w, N, T, T);
    zero(a->dt1, (long)N * T);
    dn_silu_backward(a->dt1, a->dt1a, a->t1, (long)N * T);
    dn_linear_backward(NULL, g->time1_w, g->time1_b, a->dt1, a->tsin, p->time1_w, N, S, T);
}

/* ---- counting ------------------------------------------------------------------------------------ */

static double conv_flops(int ci, int co, int k, int hwo) { return 2.0 * ci * co * k * k * hwo; }

static double res_flops(int ci, int co, int T, int hw) {
    return conv_flops(ci, co, 3, hw) + conv_flops(co, co, 3, hw) + 2.0 * T * co +
           (ci != co ? conv_flops(ci, co, 1, hw) : 0.0);
}

/* qkv and proj 1x1 convs plus q^T k and att v: 2 HW^2 C each */
static double attn_flops(int c, int hw) {
    return conv_flops(c, 3 * c, 1, hw) + conv_flops(c, c, 1, hw) + 4.0 * hw * hw * c;
}

double dn_unet_flops(const dn_unet_config *c) {
    if (dn_unet_param_count(c) == 0) return 0.0;
    int L = c->n_levels, NB = c->blocks, S = c->base_width, T = c->temb_width;
    int H = c->height, W = c->width;
    double f = 2.0 * S * T + 2.0 * T * T;
    int ch = level_ch(c, 0), skips[DN_UNET_MAX_SKIPS], ns = 0;
    f += conv_flops(c->in_channels, ch, 3, H * W);
    skips[ns++] = ch;
    for (int l = 0; l < L; l++) {
        int hw = (H >> l) * (W >> l), co = level_ch(c, l);
        for (int k = 0; k < NB; k++) {
            f += res_flops(ch, co, T, hw);
            ch = co;
            if (c->attn_levels >> l & 1) f += attn_flops(ch, hw);
            skips[ns++] = ch;
        }
        if (l < L - 1) {
            f += conv_flops(ch, ch, 3, (H >> (l + 1)) * (W >> (l + 1)));
            skips[ns++] = ch;
        }
    }
    int hwm = (H >> (L - 1)) * (W >> (L - 1));
    f += 2 * res_flops(ch, ch, T, hwm) + attn_flops(ch, hwm);
    for (int l = L - 1; l >= 0; l--) {
        int hw = (H >> l) * (W >> l), co = level_ch(c, l);
        for (int k = 0; k <= NB; k++) {
            f += res_flops(ch + skips[--ns], co, T, hw);
            ch = co;
            if (c->attn_levels >> l & 1) f += attn_flops(ch, hw);
        }
        if (l > 0) f += conv_flops(ch, ch, 3, (H >> (l - 1)) * (W >> (l - 1)));
    }
    f += conv_flops(ch, c->out_channels, 3, H * W);
    return f;
}
