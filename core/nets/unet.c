/* unet.c — see unet.h. Sections: the plan / config / parameter layout / activations / forward /
 * backward / counting. Every section walks the plan (the list of blocks made from the config);
 * the forward saves what the backward needs; the backward walks the plan in reverse, with small
 * shared scratch buffers for the gradients inside a block. */
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

/* ---- the plan -----------------------------------------------------------------------------------
 * The architecture of unet.h as a list of blocks, in forward order. Skip 0 is conv_in's output;
 * every down-path block output (after its attention, if any) and every downsample output is the
 * next skip; each up-path ResBlock takes the most recent skip not yet taken. The structural
 * fields are bounded first (dn_unet_param_count calls this on configs read from files). */

static dn_unet_block *add_block(dn_unet_block *plan, int *n, dn_block_kind kind, int level, int cin, int cout,
                                int skip_in) {
    dn_unet_block *k = &plan[(*n)++];
    k->kind = kind, k->level = level, k->cin = cin, k->cout = cout, k->skip_in = skip_in, k->skip_out = -1;
    return k;
}

#define NAME(k, ...) snprintf((k)->name, sizeof (k)->name, __VA_ARGS__)

/* Fills plan (DN_UNET_MAX_PLAN entries) and skip_c (DN_UNET_MAX_SKIPS, may be NULL: channels of
 * each skip); returns the number of blocks, 0 if the structural fields are out of range. */
static int make_plan(const dn_unet_config *c, dn_unet_block *plan, int *skip_c) {
    if (c->n_levels < 1 || c->n_levels > DN_UNET_MAX_LEVELS || c->blocks < 1 || c->blocks > DN_UNET_MAX_BLOCKS ||
        c->base_width < 1 || c->base_width > 1024)
        return 0;
    for (int l = 0; l < c->n_levels; l++)
        if (c->mults[l] < 1 || c->mults[l] > 16) return 0;
    int L = c->n_levels, B = c->blocks, n = 0, ns = 0, sc[DN_UNET_MAX_SKIPS];
    int ch = level_ch(c, 0);
    sc[ns++] = ch; /* conv_in */
    for (int l = 0; l < L; l++) {
        int attn = c->attn_levels >> l & 1;
        for (int b = 0; b < B; b++) {
            NAME(add_block(plan, &n, DN_BLOCK_RES, l, ch, level_ch(c, l), -1), "down.%d.res.%d", l, b);
            ch = level_ch(c, l);
            if (attn) NAME(add_block(plan, &n, DN_BLOCK_ATTN, l, ch, ch, -1), "down.%d.attn.%d", l, b);
            plan[n - 1].skip_out = ns, sc[ns++] = ch;
        }
        if (l < L - 1) {
            NAME(add_block(plan, &n, DN_BLOCK_DOWN, l, ch, ch, -1), "down.%d.down", l);
            plan[n - 1].skip_out = ns, sc[ns++] = ch;
        }
    }
    NAME(add_block(plan, &n, DN_BLOCK_RES, L - 1, ch, ch, -1), "mid.res1");
    NAME(add_block(plan, &n, DN_BLOCK_ATTN, L - 1, ch, ch, -1), "mid.attn");
    NAME(add_block(plan, &n, DN_BLOCK_RES, L - 1, ch, ch, -1), "mid.res2");
    for (int l = L - 1; l >= 0; l--) {
        int attn = c->attn_levels >> l & 1;
        for (int b = 0; b <= B; b++) {
            ns--;
            NAME(add_block(plan, &n, DN_BLOCK_RES, l, ch + sc[ns], level_ch(c, l), ns), "up.%d.res.%d", l, b);
            ch = level_ch(c, l);
            if (attn) NAME(add_block(plan, &n, DN_BLOCK_ATTN, l, ch, ch, -1), "up.%d.attn.%d", l, b);
        }
        if (l > 0) NAME(add_block(plan, &n, DN_BLOCK_UP, l, ch, ch, -1), "up.%d.up", l);
    }
    if (skip_c) memcpy(skip_c, sc, sizeof sc);
    return n;
}

/* Every GroupNorm input channel count, in the order the network meets them, checked against
 * groups. Returns the offending count or 0. */
static int bad_group_channels(const dn_unet_config *c) {
    dn_unet_block plan[DN_UNET_MAX_PLAN];
    int n = make_plan(c, plan, NULL), G = c->groups;
    for (int i = 0; i < n; i++) {
        const dn_unet_block *k = &plan[i];
        if (k->kind == DN_BLOCK_RES && (k->cin % G || k->cout % G)) return k->cin % G ? k->cin : k->cout;
        if (k->kind == DN_BLOCK_ATTN && k->cin % G) return k->cin;
    }
    int c0 = level_ch(c, 0);
    return c0 % G ? c0 : 0;
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

/* The walk over the plan. Returns the number of floats. */
static long walk_params(const dn_unet_config *c, dn_unet_params *p, dn_walker *w) {
    memset(p, 0, sizeof *p);
    int S = c->base_width, T = c->temb_width;
    dn_unet_block plan[DN_UNET_MAX_PLAN];
    int nb = make_plan(c, plan, NULL);
    p->time1_w = dn_walk_take(w, 2, T, S, 0, 0, "time1.weight");
    p->time1_b = dn_walk_take(w, 1, T, 0, 0, 0, "time1.bias");
    p->time2_w = dn_walk_take(w, 2, T, T, 0, 0, "time2.weight");
    p->time2_b = dn_walk_take(w, 1, T, 0, 0, 0, "time2.bias");
    p->class_emb = dn_walk_take(w, 2, c->num_classes + 1, T, 0, 0, "class_emb.weight");
    int c0 = level_ch(c, 0);
    p->conv_in_w = dn_walk_take(w, 4, c0, c->in_channels, 3, 3, "conv_in.weight");
    p->conv_in_b = dn_walk_take(w, 1, c0, 0, 0, 0, "conv_in.bias");
    for (int i = 0; i < nb; i++) {
        const dn_unet_block *k = &plan[i];
        dn_block_params *bp = &p->blocks[i];
        switch (k->kind) {
        case DN_BLOCK_RES: dn_walk_res(w, &bp->res, k->name, k->cin, k->cout, T); break;
        case DN_BLOCK_ATTN: dn_walk_attn(w, &bp->attn, k->name, k->cin); break;
        case DN_BLOCK_DOWN:
        case DN_BLOCK_UP:
            bp->conv_w = dn_walk_take(w, 4, k->cout, k->cin, 3, 3, "%s.weight", k->name);
            bp->conv_b = dn_walk_take(w, 1, k->cout, 0, 0, 0, "%s.bias", k->name);
            break;
        }
    }
    p->norm_out_w = dn_walk_take(w, 1, c0, 0, 0, 0, "norm_out.weight");
    p->norm_out_b = dn_walk_take(w, 1, c0, 0, 0, 0, "norm_out.bias");
    p->conv_out_w = dn_walk_take(w, 4, c->out_channels, c0, 3, 3, "conv_out.weight");
    p->conv_out_b = dn_walk_take(w, 1, c->out_channels, 0, 0, 0, "conv_out.bias");
    return w->off;
}

long dn_unet_param_count(const dn_unet_config *c) {
    /* only the structural fields the walk reads need to be sane; bound them first */
    dn_unet_block plan[DN_UNET_MAX_PLAN];
    if (make_plan(c, plan, NULL) == 0 || c->temb_width < 1 || c->temb_width > 4096 || c->num_classes < 0 ||
        c->num_classes > 10000 || c->in_channels < 1 || c->in_channels > 16 || c->out_channels < 1 ||
        c->out_channels > 16)
        return 0;
    dn_unet_params p;
    dn_walker w = {0};
    return walk_params(c, &p, &w);
}

int dn_unet_init(dn_unet *m, const dn_unet_config *c) {
    memset(m, 0, sizeof *m);
    if (dn_unet_config_check(c)) return -1;
    m->cfg = *c;
    m->n_blocks = make_plan(c, m->plan, NULL);
    dn_walker w = {0};
    m->n_params = walk_params(c, &m->params, &w);
    m->param_mem = calloc((size_t)m->n_params, sizeof(float));
    if (!m->param_mem)
        return dn_fail("cannot allocate the U-Net: out of memory for %ld parameters", m->n_params);
    dn_walker w2 = {.base = m->param_mem, .tensors = m->tensors, .max_tensors = DN_UNET_MAX_TENSORS};
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
    dn_walker w = {.base = *mem};
    walk_params(&m->cfg, grads, &w);
    return 0;
}

void dn_unet_init_random(dn_unet *m, dn_rng *r) {
    dn_net_init_random(m->param_mem, m->tensors, m->n_tensors, r);
}

/* ---- activations --------------------------------------------------------------------------------
 * Two passes of the same walk: count floats, then hand out slices of one allocation. */

static void push_skip(dn_unet_acts *a, float *p, int c, int hw) {
    a->skip[a->n_skips] = p;
    a->skip_c[a->n_skips] = c;
    a->skip_hw[a->n_skips++] = hw;
}

static void layout_acts(dn_unet_acts *a, const dn_unet_config *c, int B, dn_bump *b) {
    int G = c->groups, NH = c->heads;
    int S = c->base_width, T = c->temb_width, H = c->height, W = c->width;
    long maxc = 0; /* largest channels x positions of any tensor a scratch buffer must hold */
#define SEE(cc, hw) do { if ((long)(cc) * (hw) > maxc) maxc = (long)(cc) * (hw); } while (0)
    a->ids = NULL;
    a->tsin = dn_bump_grab(b, (size_t)B * S);
    a->t1 = dn_bump_grab(b, (size_t)B * T);
    a->t1a = dn_bump_grab(b, (size_t)B * T);
    a->temb = dn_bump_grab(b, (size_t)B * T);
    a->temb_act = dn_bump_grab(b, (size_t)B * T);
    a->dtemb_act = dn_bump_grab(b, (size_t)B * T);
    a->dtemb = dn_bump_grab(b, (size_t)B * T);
    a->dt1a = dn_bump_grab(b, (size_t)B * T);
    a->dt1 = dn_bump_grab(b, (size_t)B * T);
    SEE(T, 1);
    int c0 = level_ch(c, 0), hw0 = H * W;
    a->conv_in = dn_bump_grab(b, (size_t)B * c0 * hw0);
    SEE(c->in_channels, hw0);
    SEE(c0, hw0);
    a->n_skips = 0;
    push_skip(a, a->conv_in, c0, hw0);
    dn_unet_block plan[DN_UNET_MAX_PLAN];
    int nb = make_plan(c, plan, NULL);
    for (int i = 0; i < nb; i++) {
        const dn_unet_block *k = &plan[i];
        dn_block_acts *ba = &a->blocks[i];
        int hw = (H >> k->level) * (W >> k->level), hw_out = hw;
        float *y = NULL;
        switch (k->kind) {
        case DN_BLOCK_RES:
            if (k->skip_in >= 0) ba->cat = dn_bump_grab(b, (size_t)B * k->cin * hw);
            dn_res_acts_layout(&ba->res, b, B, k->cin, k->cout, hw, G);
            SEE(k->cin, hw);
            SEE(k->cout, hw);
            y = ba->res.out;
            break;
        case DN_BLOCK_ATTN:
            dn_attn_acts_layout(&ba->attn, b, B, k->cin, hw, G, NH);
            SEE(3 * k->cin, hw);
            y = ba->attn.out;
            break;
        case DN_BLOCK_DOWN:
            hw_out = (H >> (k->level + 1)) * (W >> (k->level + 1));
            y = ba->out = dn_bump_grab(b, (size_t)B * k->cout * hw_out);
            break;
        case DN_BLOCK_UP:
            hw_out = (H >> (k->level - 1)) * (W >> (k->level - 1));
            ba->ups = dn_bump_grab(b, (size_t)B * k->cin * hw_out);
            y = ba->out = dn_bump_grab(b, (size_t)B * k->cout * hw_out);
            SEE(k->cin, hw_out);
            break;
        }
        ba->y = y;
        if (k->skip_out >= 0) push_skip(a, y, k->cout, hw_out);
    }
    a->gn_out = dn_bump_grab(b, (size_t)B * c0 * hw0);
    a->mean_out = dn_bump_grab(b, (size_t)B * G);
    a->rstd_out = dn_bump_grab(b, (size_t)B * G);
    a->a_out = dn_bump_grab(b, (size_t)B * c0 * hw0);
    SEE(c->out_channels, hw0);
    for (int i = 0; i < a->n_skips; i++)
        a->dskip[i] = dn_bump_grab(b, (size_t)B * a->skip_c[i] * a->skip_hw[i]);
    a->scratch_len = (long)B * maxc;
    a->s0 = dn_bump_grab(b, (size_t)a->scratch_len);
    a->s1 = dn_bump_grab(b, (size_t)a->scratch_len);
    a->s2 = dn_bump_grab(b, (size_t)a->scratch_len);
    a->g0 = dn_bump_grab(b, (size_t)a->scratch_len);
    a->g1 = dn_bump_grab(b, (size_t)a->scratch_len);
    a->dtproj = dn_bump_grab(b, (size_t)B * 2048);
#undef SEE
}

int dn_unet_acts_alloc(dn_unet_acts *a, const dn_unet *m, int max_batch) {
    memset(a, 0, sizeof *a);
    if (max_batch < 1 || max_batch > 4096)
        return dn_fail("cannot allocate U-Net activations: batch %d must be in 1..4096", max_batch);
    dn_bump b = {0};
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
    dn_bump b2 = {.base = a->mem};
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

void dn_unet_forward(const dn_unet *m, dn_unet_acts *a, float *out, const float *x,
                     const float *t, const int *ids, int N) {
    const dn_unet_config *c = &m->cfg;
    const dn_unet_params *p = &m->params;
    assert(N >= 1 && N <= a->max_batch);
    int G = c->groups, NH = c->heads;
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
    dn_add_into(a->temb, a->s0, (long)N * T);
    dn_silu_forward(a->temb_act, a->temb, (long)N * T);

    int H = c->height, W = c->width, c0 = level_ch(c, 0);
    dn_conv2d_forward(a->conv_in, x, p->conv_in_w, p->conv_in_b, N, c->in_channels, H, W, c0, 3, 1);
    const float *h = a->conv_in;
    for (int i = 0; i < m->n_blocks; i++) {
        const dn_unet_block *k = &m->plan[i];
        const dn_block_params *bp = &p->blocks[i];
        dn_block_acts *ba = &a->blocks[i];
        int Hl = H >> k->level, Wl = W >> k->level;
        switch (k->kind) {
        case DN_BLOCK_RES:
            if (k->skip_in >= 0) { /* up path: the path and the skip side by side */
                int cs = a->skip_c[k->skip_in];
                dn_concat_forward(ba->cat, h, a->skip[k->skip_in], N, k->cin - cs, cs, Hl * Wl);
                h = ba->cat;
            }
            dn_res_forward(&bp->res, &ba->res, h, a->temb_act, a->s0, N, T, G, Hl, Wl);
            break;
        case DN_BLOCK_ATTN: dn_attn_forward(&bp->attn, &ba->attn, h, N, G, NH, Hl, Wl); break;
        case DN_BLOCK_DOWN:
            dn_conv2d_forward(ba->out, h, bp->conv_w, bp->conv_b, N, k->cin, Hl, Wl, k->cout, 3, 2);
            break;
        case DN_BLOCK_UP:
            dn_upsample2x_forward(ba->ups, h, N, k->cin, Hl, Wl);
            dn_conv2d_forward(ba->out, ba->ups, bp->conv_w, bp->conv_b, N, k->cin, 2 * Hl, 2 * Wl, k->cout, 3, 1);
            break;
        }
        h = ba->y;
    }
    dn_groupnorm_forward(a->gn_out, a->mean_out, a->rstd_out, h, p->norm_out_w, p->norm_out_b,
                         N, c0, H * W, G);
    dn_silu_forward(a->a_out, a->gn_out, (long)N * c0 * H * W);
    dn_conv2d_forward(out, a->a_out, p->conv_out_w, p->conv_out_b, N, c0, H, W, c->out_channels, 3, 1);
}

/* ---- backward --------------------------------------------------------------------------------- */

static void zero(float *p, long n) { memset(p, 0, (size_t)n * sizeof(float)); }

/* The plan in reverse. A block's output gradient is the running buffer gc, or for a block whose
 * output is a skip that skip's gradient (dskip), which by then holds what the up path's concats
 * and the next block gave back. Its input gradient goes into the skip gradient it read from (it
 * adds), else into gp, zeroed first, which then becomes gc. */
void dn_unet_backward(const dn_unet *m, dn_unet_acts *a, dn_unet_params *grads, float *dx,
                      const float *dout) {
    const dn_unet_config *c = &m->cfg;
    const dn_unet_params *p = &m->params;
    dn_unet_params *g = grads;
    int N = a->n, G = c->groups, NH = c->heads;
    int S = c->base_width, T = c->temb_width, K = c->num_classes;
    int H = c->height, W = c->width, c0 = level_ch(c, 0), nb = m->n_blocks;
    for (int i = 0; i < a->n_skips; i++) zero(a->dskip[i], (long)N * a->skip_c[i] * a->skip_hw[i]);
    zero(a->dtemb_act, (long)N * T);
    float *gc = a->g0, *gp = a->g1, *tmp; /* gradient of the current block's output / input */

    /* output: conv_out(SiLU(GN(h))) */
    zero(a->s0, (long)N * c0 * H * W);
    dn_conv2d_backward(a->s0, g->conv_out_w, g->conv_out_b, dout, a->a_out, p->conv_out_w, N, c0, H, W,
                       c->out_channels, 3, 1);
    zero(a->s1, (long)N * c0 * H * W);
    dn_silu_backward(a->s1, a->s0, a->gn_out, (long)N * c0 * H * W);
    zero(gc, (long)N * c0 * H * W);
    dn_groupnorm_backward(gc, g->norm_out_w, g->norm_out_b, a->s1, a->blocks[nb - 1].y, a->mean_out, a->rstd_out,
                          p->norm_out_w, N, c0, H * W, G);

    for (int i = nb - 1; i >= 0; i--) {
        const dn_unet_block *k = &m->plan[i];
        const dn_block_params *bp = &p->blocks[i];
        dn_block_params *gb = &g->blocks[i];
        const dn_block_acts *ba = &a->blocks[i];
        int Hl = H >> k->level, Wl = W >> k->level, hw = Hl * Wl;
        const float *d = k->skip_out >= 0 ? a->dskip[k->skip_out] : gc;
        int in_skip = i == 0 ? 0 : m->plan[i - 1].skip_out; /* the skip this block read, or -1 */
        float *din = in_skip >= 0 ? a->dskip[in_skip] : gp;
        if (in_skip < 0 && k->skip_in < 0) zero(gp, (long)N * k->cin * hw);
        switch (k->kind) {
        case DN_BLOCK_RES:
            if (k->skip_in >= 0) { /* into the concat's gradient, then split it: path and skip */
                int cs = a->skip_c[k->skip_in], chh = k->cin - cs;
                zero(a->s2, (long)N * k->cin * hw);
                dn_res_backward(&bp->res, &gb->res, &ba->res, a->s2, d, a->temb_act, a->dtemb_act, a->dtproj, a->s0,
                             a->s1, N, T, G, Hl, Wl);
                zero(gp, (long)N * chh * hw);
                dn_concat_backward(gp, a->dskip[k->skip_in], a->s2, N, chh, cs, hw);
            } else {
                dn_res_backward(&bp->res, &gb->res, &ba->res, din, d, a->temb_act, a->dtemb_act, a->dtproj, a->s0,
                             a->s1, N, T, G, Hl, Wl);
            }
            break;
        case DN_BLOCK_ATTN:
            dn_attn_backward(&bp->attn, &gb->attn, &ba->attn, din, d, a->s0, a->s1, N, G, NH, Hl, Wl);
            break;
        case DN_BLOCK_DOWN: {
            const float *xin = i == 0 ? a->conv_in : a->blocks[i - 1].y;
            dn_conv2d_backward(din, gb->conv_w, gb->conv_b, d, xin, bp->conv_w, N, k->cin, Hl, Wl, k->cout, 3, 2);
            break;
        }
        case DN_BLOCK_UP:
            zero(a->s0, (long)N * k->cin * 4 * hw);
            dn_conv2d_backward(a->s0, gb->conv_w, gb->conv_b, d, ba->ups, bp->conv_w, N, k->cin, 2 * Hl, 2 * Wl,
                               k->cout, 3, 1);
            dn_upsample2x_backward(din, a->s0, N, k->cin, Hl, Wl);
            break;
        }
        if (in_skip < 0) tmp = gc, gc = gp, gp = tmp;
    }
    if (dx) zero(dx, (long)N * c->in_channels * H * W);
    dn_conv2d_backward(dx, g->conv_in_w, g->conv_in_b, a->dskip[0], a->x, p->conv_in_w, N,
                       c->in_channels, H, W, c0, 3, 1);

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

double dn_unet_flops(const dn_unet_config *c) {
    if (dn_unet_param_count(c) == 0) return 0.0;
    int S = c->base_width, T = c->temb_width, H = c->height, W = c->width, c0 = level_ch(c, 0);
    double f = 2.0 * S * T + 2.0 * T * T;
    f += dn_conv_flops(c->in_channels, c0, 3, H * W);
    dn_unet_block plan[DN_UNET_MAX_PLAN];
    int nb = make_plan(c, plan, NULL);
    for (int i = 0; i < nb; i++) {
        const dn_unet_block *k = &plan[i];
        int l = k->level, hw = (H >> l) * (W >> l);
        switch (k->kind) {
        case DN_BLOCK_RES: f += dn_res_flops(k->cin, k->cout, T, hw); break;
        case DN_BLOCK_ATTN: f += dn_attn_flops(k->cin, hw); break;
        case DN_BLOCK_DOWN: f += dn_conv_flops(k->cin, k->cout, 3, (H >> (l + 1)) * (W >> (l + 1))); break;
        case DN_BLOCK_UP: f += dn_conv_flops(k->cin, k->cout, 3, (H >> (l - 1)) * (W >> (l - 1))); break;
        }
    }
    f += dn_conv_flops(c0, c->out_channels, 3, H * W);
    return f;
}
