/* generate.c — the reverse process with classifier-free guidance (see generate.h). */
#include "diffusion/generate.h"
#include "base/err.h"
#include "base/parallel.h"
#include <assert.h>
#include <stdlib.h>
#include <string.h>

int dn_guide_init(dn_guide *g, const dn_unet *net, int max_rows) {
    memset(g, 0, sizeof *g);
    if (max_rows < 2) return dn_fail("guidance needs at least 2 rows per evaluation (got %d)", max_rows);
    const dn_unet_config *c = &net->cfg;
    size_t B = (size_t)max_rows;
    long plane = (long)c->in_channels * c->height * c->width;
    long oplane = (long)c->out_channels * c->height * c->width;
    g->net = net;
    g->max_rows = max_rows;
    g->xin = malloc(B * (size_t)plane * sizeof(float));
    g->res = malloc(B * (size_t)oplane * sizeof(float));
    g->tbuf = malloc(B * sizeof(float));
    g->rid = malloc(B * sizeof(int)), g->src = malloc(B * sizeof(int)), g->role = malloc(B * sizeof(int));
    if (!g->xin || !g->res || !g->tbuf || !g->rid || !g->src || !g->role ||
        dn_unet_acts_alloc(&g->acts, net, max_rows) < 0) {
        dn_guide_free(g);
        return dn_fail("out of memory for guided evaluations of %d images", max_rows);
    }
    return 0;
}

void dn_guide_release(dn_guide *g) { dn_unet_acts_free(&g->acts); }

int dn_guide_restore(dn_guide *g) {
    if (!g->net || g->acts.mem) return 0;
    return dn_unet_acts_alloc(&g->acts, g->net, g->max_rows);
}

void dn_guide_free(dn_guide *g) {
    dn_guide_release(g);
    free(g->xin), free(g->res), free(g->tbuf), free(g->rid), free(g->src), free(g->role);
    memset(g, 0, sizeof *g);
}

void dn_guided_output(dn_guide *g, float *out, float *uncond_out, float *cond_out, const float *x, float t,
                      const int *ids, int N, float w) {
    const dn_unet *net = g->net;
    const dn_unet_config *c = &net->cfg;
    long plane = (long)c->in_channels * c->height * c->width;
    long oplane = (long)c->out_channels * c->height * c->width;
    int null_id = c->num_classes;
    int B = g->max_rows;
    /* Each chunk packs its one-evaluation images and the two evaluations of guided ones into
     * at most B rows: row r is image src[r] with id rid[r]. */
    float *xin = g->xin, *res = g->res;
    int *rid = g->rid, *src = g->src, *role = g->role; /* role: 0 single, 1 cond, 2 uncond */
    int b = 0;
    while (b < N) {
        int rows = 0;
        while (b < N) {
            int guided = ids[b] != null_id && w != 1.0f && c->num_classes > 0;
            int need = guided ? 2 : 1;
            if (rows + need > B) break;
            if (guided) {
                src[rows] = b, rid[rows] = ids[b], role[rows] = 1, rows++;
                src[rows] = b, rid[rows] = null_id, role[rows] = 2, rows++;
            } else {
                src[rows] = b, rid[rows] = ids[b], role[rows] = 0, rows++;
            }
            b++;
        }
        for (int r = 0; r < rows; r++) {
            memcpy(xin + (size_t)r * plane, x + (size_t)src[r] * plane, (size_t)plane * sizeof(float));
            g->tbuf[r] = t;
        }
        dn_unet_forward(net, &g->acts, res, xin, g->tbuf, rid, rows);
        for (int r = 0; r < rows; r++) {
            const float *o = res + (size_t)r * oplane;
            size_t at = (size_t)src[r] * oplane, bytes = (size_t)oplane * sizeof(float);
            if (role[r] == 0) {
                memcpy(out + at, o, bytes);
                if (uncond_out) memcpy(uncond_out + at, o, bytes);
                if (cond_out) memcpy(cond_out + at, o, bytes);
            } else if (role[r] == 1) {
                const float *u = res + (size_t)(r + 1) * oplane; /* the uncond row follows */
                dn_cfg_combine(out + at, u, o, w, oplane);
                if (cond_out) memcpy(cond_out + at, o, bytes);
                if (uncond_out) memcpy(uncond_out + at, u, bytes);
            }
        }
    }
}

int dn_gen_init(dn_gen *g, const dn_unet *net, const dn_sched *sched, const dn_sampler_config *sc,
                int n, const int *ids, float cfg_scale, uint64_t seed) {
    dn_gen_config c = {.net = net, .sched = sched, .sampler = *sc, .n = n, .ids = ids, .cfg_scale = cfg_scale,
                       .seed = seed};
    return dn_gen_init_config(g, &c);
}

int dn_gen_init_config(dn_gen *g, const dn_gen_config *c) {
    const dn_unet *net = c->net;
    int n = c->n;
    const int *ids = c->ids;
    memset(g, 0, sizeof *g);
    if (n < 1) return dn_fail("need at least one image to sample");
    if (net->cfg.in_channels != net->cfg.out_channels)
        return dn_fail("the network's output is not image-shaped (%d in, %d out channels)",
                       net->cfg.in_channels, net->cfg.out_channels);
    for (int b = 0; ids && b < n; b++)
        if (ids[b] < 0 || ids[b] > net->cfg.num_classes)
            return dn_fail("class id %d out of range (the model has %d classes)", ids[b],
                           net->cfg.num_classes);
    if (c->start < 0) return dn_fail("start step %d must be >= 0", c->start);
    if (c->start > 0 && !c->x0) return dn_fail("starting at step %d (img2img) needs the images to noise", c->start);
    dn_sampler_config cfg = c->sampler;
    cfg.prediction_type = (dn_pred_type)net->cfg.prediction;
    if (dn_sampler_init(&g->sp, c->sched, &cfg) < 0) return -1;
    if (c->start >= g->sp.n) {
        int steps = g->sp.n;
        dn_sampler_free(&g->sp);
        return dn_fail("start step %d is out of range (the sampler has %d steps: 0 .. %d)", c->start, steps,
                       steps - 1);
    }
    g->net = net;
    g->n = n;
    g->plane = (long)net->cfg.in_channels * net->cfg.height * net->cfg.width;
    g->cfg_scale = c->cfg_scale;
    g->seed = c->seed;
    size_t vals = (size_t)n * (size_t)g->plane;
    g->ids = malloc((size_t)n * sizeof(int));
    g->rngs = malloc((size_t)n * sizeof(dn_rng));
    g->x = malloc(vals * sizeof(float));
    g->model_out = malloc(vals * sizeof(float));
    g->xin = malloc(vals * sizeof(float));
    if (c->keep_parts) g->cond_out = malloc(vals * sizeof(float)), g->uncond_out = malloc(vals * sizeof(float));
    int max_rows = 2 * n < 32 ? 2 * n : 32;
    if (!g->ids || !g->rngs || !g->x || !g->model_out || !g->xin || (c->keep_parts && (!g->cond_out || !g->uncond_out)) ||
        dn_dpm_state_init(&g->dpm, (long)vals) < 0 || dn_guide_init(&g->guide, net, max_rows) < 0) {
        dn_gen_free(g);
        return dn_fail("out of memory for sampling %d images", n);
    }
    for (int b = 0; b < n; b++) {
        g->ids[b] = ids ? ids[b] : net->cfg.num_classes;
        dn_rng_seed(&g->rngs[b], c->seed, (uint64_t)b);
    }
    g->i = c->start;
    if (c->start == 0) {
        dn_sampler_init_noise(g->x, &g->sp, g->rngs, n, (long)vals);
    } else {
        /* img2img: image b's noise plane from its own generator (model_out is free until the
         * first step), then x0 noised to the level of step `start` */
        for (int b = 0; b < n; b++)
            dn_rng_normal_fill(&g->rngs[b], g->model_out + (size_t)b * (size_t)g->plane, g->plane);
        dn_sampler_add_noise(g->x, &g->sp, c->start, c->x0, g->model_out, (long)vals);
    }
    return 0;
}

int dn_gen_step(dn_gen *g, const dn_step_out *extra, dn_step_info *info) {
    assert(g->i < g->sp.n);
    long vals = (long)g->n * g->plane;
    dn_sampler_scale_model_input(g->xin, &g->sp, g->i, g->x, vals);
    dn_guided_output(&g->guide, g->model_out, g->uncond_out, g->cond_out, g->xin, g->sp.timesteps[g->i], g->ids,
                     g->n, g->cfg_scale);
    dn_step_out o = {0};
    if (extra) o = *extra;
    o.prev_sample = g->x;
    dn_sampler_step(&o, info, &g->dpm, g->rngs, &g->sp, g->i, g->model_out, g->x, g->n, vals);
    g->i++;
    return dn_workspace_check();
}

void dn_gen_free(dn_gen *g) {
    if (!g) return;
    dn_sampler_free(&g->sp);
    dn_dpm_state_free(&g->dpm);
    dn_guide_free(&g->guide);
    free(g->ids), free(g->rngs), free(g->x), free(g->model_out), free(g->xin), free(g->cond_out), free(g->uncond_out);
    memset(g, 0, sizeof *g);
}
