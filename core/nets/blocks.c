/* blocks.c — see blocks.h. The code the U-Net and the autoencoder share: the parameter walk, the
 * activation layout, the residual and attention blocks forward and backward, FLOP counts. */
#include "nets/blocks.h"
#include "base/err.h"
#include "nn/nn.h"
#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- parameter layout ------------------------------------------------------------------------- */

float *dn_walk_take(dn_walker *w, int ndim, int s0, int s1, int s2, int s3, const char *fmt, ...) {
    int s[4] = {s0, s1, s2, s3};
    long n = 1;
    for (int i = 0; i < ndim; i++) n *= s[i];
    if (w->tensors) {
        assert(w->nt < w->max_tensors);
        dn_net_tensor *t = &w->tensors[w->nt];
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

void dn_walk_res(dn_walker *w, dn_resblock_params *p, const char *pre, int cin, int cout, int T) {
    p->norm1_w = dn_walk_take(w, 1, cin, 0, 0, 0, "%s.norm1.weight", pre);
    p->norm1_b = dn_walk_take(w, 1, cin, 0, 0, 0, "%s.norm1.bias", pre);
    p->conv1_w = dn_walk_take(w, 4, cout, cin, 3, 3, "%s.conv1.weight", pre);
    p->conv1_b = dn_walk_take(w, 1, cout, 0, 0, 0, "%s.conv1.bias", pre);
    if (T > 0) {
        p->temb_w = dn_walk_take(w, 2, cout, T, 0, 0, "%s.temb.weight", pre);
        p->temb_b = dn_walk_take(w, 1, cout, 0, 0, 0, "%s.temb.bias", pre);
    } else {
        p->temb_w = p->temb_b = NULL;
    }
    p->norm2_w = dn_walk_take(w, 1, cout, 0, 0, 0, "%s.norm2.weight", pre);
    p->norm2_b = dn_walk_take(w, 1, cout, 0, 0, 0, "%s.norm2.bias", pre);
    p->conv2_w = dn_walk_take(w, 4, cout, cout, 3, 3, "%s.conv2.weight", pre);
    p->conv2_b = dn_walk_take(w, 1, cout, 0, 0, 0, "%s.conv2.bias", pre);
    if (cin != cout) {
        p->skip_w = dn_walk_take(w, 4, cout, cin, 1, 1, "%s.skip.weight", pre);
        p->skip_b = dn_walk_take(w, 1, cout, 0, 0, 0, "%s.skip.bias", pre);
    } else {
        p->skip_w = p->skip_b = NULL;
    }
}

void dn_walk_attn(dn_walker *w, dn_attn_params *p, const char *pre, int c) {
    p->norm_w = dn_walk_take(w, 1, c, 0, 0, 0, "%s.norm.weight", pre);
    p->norm_b = dn_walk_take(w, 1, c, 0, 0, 0, "%s.norm.bias", pre);
    p->qkv_w = dn_walk_take(w, 4, 3 * c, c, 1, 1, "%s.qkv.weight", pre);
    p->qkv_b = dn_walk_take(w, 1, 3 * c, 0, 0, 0, "%s.qkv.bias", pre);
    p->proj_w = dn_walk_take(w, 4, c, c, 1, 1, "%s.proj.weight", pre);
    p->proj_b = dn_walk_take(w, 1, c, 0, 0, 0, "%s.proj.bias", pre);
}

void dn_net_init_random(float *mem, const dn_net_tensor *tensors, int n, dn_rng *r) {
    for (int i = 0; i < n; i++) {
        const dn_net_tensor *t = &tensors[i];
        float *v = mem + t->offset;
        const char *dot = strrchr(t->name, '.');
        int is_bias = dot && strcmp(dot, ".bias") == 0;
        if (strstr(t->name, "norm")) { /* GroupNorm: weight 1, bias 0 */
            for (long k = 0; k < t->numel; k++) v[k] = is_bias ? 0.0f : 1.0f;
        } else if (strncmp(t->name, "class_emb", 9) == 0) {
            dn_rng_normal_fill(r, v, t->numel);
        } else {
            /* fan_in of the layer: for a weight, numel / out; a bias uses its weight's fan_in,
             * which is the previous tensor's */
            const dn_net_tensor *wt = is_bias ? &tensors[i - 1] : t;
            long fan_in = wt->numel / wt->shape[0];
            float bound = 1.0f / sqrtf((float)fan_in);
            for (long k = 0; k < t->numel; k++) v[k] = (2.0f * dn_rng_uniform(r) - 1.0f) * bound;
        }
    }
}

/* ---- activations -------------------------------------------------------------------------------- */

float *dn_bump_grab(dn_bump *b, size_t n) {
    float *p = b->base ? b->base + b->off : NULL;
    b->off += (n + 15) & ~(size_t)15; /* keep every buffer 64-byte aligned */
    return p;
}

void dn_res_acts_layout(dn_resblock_acts *a, dn_bump *b, int B, int cin, int cout, int hw, int G) {
    size_t ni = (size_t)B * cin * hw, no = (size_t)B * cout * hw;
    a->gn1 = dn_bump_grab(b, ni);
    a->mean1 = dn_bump_grab(b, (size_t)B * G);
    a->rstd1 = dn_bump_grab(b, (size_t)B * G);
    a->a1 = dn_bump_grab(b, ni);
    a->tproj = dn_bump_grab(b, (size_t)B * cout);
    a->h1 = dn_bump_grab(b, no);
    a->gn2 = dn_bump_grab(b, no);
    a->mean2 = dn_bump_grab(b, (size_t)B * G);
    a->rstd2 = dn_bump_grab(b, (size_t)B * G);
    a->a2 = dn_bump_grab(b, no);
    a->out = dn_bump_grab(b, no);
    a->cin = cin;
    a->cout = cout;
    a->hw = hw;
}

void dn_attn_acts_layout(dn_attn_acts *a, dn_bump *b, int B, int c, int hw, int G, int NH) {
    size_t n = (size_t)B * c * hw;
    a->gn = dn_bump_grab(b, n);
    a->mean = dn_bump_grab(b, (size_t)B * G);
    a->rstd = dn_bump_grab(b, (size_t)B * G);
    a->qkv = dn_bump_grab(b, 3 * n);
    a->att = dn_bump_grab(b, (size_t)B * NH * hw * hw);
    a->a = dn_bump_grab(b, n);
    a->out = dn_bump_grab(b, n);
    a->c = c;
    a->hw = hw;
}

/* ---- forward ---------------------------------------------------------------------------------- */

void dn_add_into(float *y, const float *x, long n) {
    for (long i = 0; i < n; i++) y[i] += x[i];
}

void dn_res_forward(const dn_resblock_params *p, dn_resblock_acts *a, const float *x,
                    const float *temb_act, float *scratch, int N, int T, int G, int H, int W) {
    int ci = a->cin, co = a->cout, hw = H * W;
    long ni = (long)N * ci * hw, no = (long)N * co * hw;
    a->x = (float *)x;
    dn_groupnorm_forward(a->gn1, a->mean1, a->rstd1, x, p->norm1_w, p->norm1_b, N, ci, hw, G);
    dn_silu_forward(a->a1, a->gn1, ni);
    if (T > 0) {
        dn_conv2d_forward(scratch, a->a1, p->conv1_w, p->conv1_b, N, ci, H, W, co, 3, 1);
        dn_linear_forward(a->tproj, temb_act, p->temb_w, p->temb_b, N, T, co);
        dn_add_channel_forward(a->h1, scratch, a->tproj, N, co, hw);
    } else {
        dn_conv2d_forward(a->h1, a->a1, p->conv1_w, p->conv1_b, N, ci, H, W, co, 3, 1);
    }
    dn_groupnorm_forward(a->gn2, a->mean2, a->rstd2, a->h1, p->norm2_w, p->norm2_b, N, co, hw, G);
    dn_silu_forward(a->a2, a->gn2, no);
    dn_conv2d_forward(a->out, a->a2, p->conv2_w, p->conv2_b, N, co, H, W, co, 3, 1);
    if (p->skip_w) {
        dn_conv2d_forward(scratch, x, p->skip_w, p->skip_b, N, ci, H, W, co, 1, 1);
        dn_add_into(a->out, scratch, no);
    } else {
        dn_add_into(a->out, x, no);
    }
}

void dn_attn_forward(const dn_attn_params *p, dn_attn_acts *a, const float *x, int N, int G,
                     int NH, int H, int W) {
    int c = a->c, hw = H * W;
    a->x = (float *)x;
    dn_groupnorm_forward(a->gn, a->mean, a->rstd, x, p->norm_w, p->norm_b, N, c, hw, G);
    dn_conv2d_forward(a->qkv, a->gn, p->qkv_w, p->qkv_b, N, c, H, W, 3 * c, 1, 1);
    dn_attention_forward(a->a, a->att, a->qkv, N, c, hw, NH);
    dn_conv2d_forward(a->out, a->a, p->proj_w, p->proj_b, N, c, H, W, c, 1, 1);
    dn_add_into(a->out, x, (long)N * c * hw);
}

/* ---- backward --------------------------------------------------------------------------------- */

static void zero(float *p, long n) { memset(p, 0, (size_t)n * sizeof(float)); }

void dn_res_backward(const dn_resblock_params *p, dn_resblock_params *g, const dn_resblock_acts *a,
                     float *dx, const float *dout, const float *temb_act, float *dtemb_act,
                     float *dtproj, float *s0, float *s1, int N, int T, int G, int H, int W) {
    int ci = a->cin, co = a->cout, hw = H * W;
    long ni = (long)N * ci * hw, no = (long)N * co * hw;
    if (p->skip_w)
        dn_conv2d_backward(dx, g->skip_w, g->skip_b, dout, a->x, p->skip_w, N, ci, H, W, co, 1, 1);
    else
        dn_add_into(dx, dout, no);
    zero(s0, no);
    dn_conv2d_backward(s0, g->conv2_w, g->conv2_b, dout, a->a2, p->conv2_w, N, co, H, W, co, 3, 1);
    zero(s1, no);
    dn_silu_backward(s1, s0, a->gn2, no);
    zero(s0, no);
    dn_groupnorm_backward(s0, g->norm2_w, g->norm2_b, s1, a->h1, a->mean2, a->rstd2, p->norm2_w,
                          N, co, hw, G);
    if (T > 0) { /* s0 = dL/dh1 = dL/d(conv1 out); the time projection gets its per-channel sum */
        zero(dtproj, (long)N * co);
        dn_add_channel_backward(NULL, dtproj, s0, N, co, hw);
        dn_linear_backward(dtemb_act, g->temb_w, g->temb_b, dtproj, temb_act, p->temb_w, N, T, co);
    }
    zero(s1, ni);
    dn_conv2d_backward(s1, g->conv1_w, g->conv1_b, s0, a->a1, p->conv1_w, N, ci, H, W, co, 3, 1);
    zero(s0, ni);
    dn_silu_backward(s0, s1, a->gn1, ni);
    dn_groupnorm_backward(dx, g->norm1_w, g->norm1_b, s0, a->x, a->mean1, a->rstd1, p->norm1_w,
                          N, ci, hw, G);
}

void dn_attn_backward(const dn_attn_params *p, dn_attn_params *g, const dn_attn_acts *a,
                      float *dx, const float *dout, float *s0, float *s1, int N, int G, int NH,
                      int H, int W) {
    int c = a->c, hw = H * W;
    long n = (long)N * c * hw;
    dn_add_into(dx, dout, n);
    zero(s0, n);
    dn_conv2d_backward(s0, g->proj_w, g->proj_b, dout, a->a, p->proj_w, N, c, H, W, c, 1, 1);
    zero(s1, 3 * n);
    dn_attention_backward(s1, s0, a->qkv, a->att, N, c, hw, NH);
    zero(s0, n);
    dn_conv2d_backward(s0, g->qkv_w, g->qkv_b, s1, a->gn, p->qkv_w, N, c, H, W, 3 * c, 1, 1);
    dn_groupnorm_backward(dx, g->norm_w, g->norm_b, s0, a->x, a->mean, a->rstd, p->norm_w, N, c, hw, G);
}

/* ---- files ---------------------------------------------------------------------------------------- */

int dn_net_write_tensors(dn_tf_writer *w, const float *mem, const dn_net_tensor *t, int n, dn_dtype dtype) {
    for (int i = 0; i < n; i++)
        if (dn_tf_write_tensor(w, t[i].name, dtype, t[i].ndim, t[i].shape, mem + t[i].offset) < 0) return -1;
    return 0;
}

int dn_net_read_tensors(const dn_tf *f, float *mem, const dn_net_tensor *t, int n, const char *what,
                        const char *name) {
    if (f->n_tensors < n)
        return dn_fail("cannot load %s '%s': %d tensors, the config needs %d", what, name, f->n_tensors, n);
    for (int i = 0; i < n; i++) {
        const dn_tf_tensor *q = &f->tensors[i];
        if (strcmp(q->name, t[i].name))
            return dn_fail("cannot load %s '%s': tensor %d is '%.63s', the config expects '%s'", what, name, i, q->name,
                           t[i].name);
        if (q->rank != t[i].ndim)
            return dn_fail("cannot load %s '%s': tensor %s has %d dimensions, expected %d", what, name, t[i].name,
                           q->rank, t[i].ndim);
        for (int d = 0; d < t[i].ndim; d++)
            if (q->shape[d] != t[i].shape[d])
                return dn_fail("cannot load %s '%s': tensor %s has size %d in dimension %d, the config expects %d",
                               what, name, t[i].name, q->shape[d], d, t[i].shape[d]);
        dn_tf_values(q, mem + t[i].offset);
    }
    return 0;
}

/* ---- counting ------------------------------------------------------------------------------------ */

double dn_conv_flops(int ci, int co, int k, int hwo) { return 2.0 * ci * co * k * k * hwo; }

double dn_res_flops(int ci, int co, int T, int hw) {
    return dn_conv_flops(ci, co, 3, hw) + dn_conv_flops(co, co, 3, hw) + 2.0 * T * co +
           (ci != co ? dn_conv_flops(ci, co, 1, hw) : 0.0);
}

/* qkv and proj 1x1 convs plus q^T k and att v: 2 HW^2 C each */
double dn_attn_flops(int c, int hw) {
    return dn_conv_flops(c, 3 * c, 1, hw) + dn_conv_flops(c, c, 1, hw) + 4.0 * hw * hw * c;
}
