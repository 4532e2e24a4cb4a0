/* generate.c — the reverse process with classifier-free guidance (see generate.h). */
#include "diffusion/generate.h"
#include "base/err.h"
#include <assert.h>
#include <stdlib.h>
#include <string.h>

/* Forward of n <= a->max_batch images in one go. */
static void forward_chunk(const dn_unet *net, dn_unet_acts *a, float *out, const float *x, float t,
                          const int *ids, int n, float *tbuf) {
    for (int b = 0; b < n; b++) tbuf[b] = t;
    dn_unet_forward(net, a, out, x, tbuf, ids, n);
}

void dn_guided_output(const dn_unet *net, dn_unet_acts *a, float *out, float *uncond_out,
                      float *cond_out, const float *x, float t, const int *ids, int N, float w) {
    const dn_unet_config *c = &net->cfg;
    long plane = (long)c->in_channels * c->height * c->width;
    long oplane = (long)c->out_channels * c->height * c->width;
    int null_id = c->num_classes;
    int B = a->max_batch;
    /* Each chunk packs its one-evaluation images and the two evaluations of guided ones into
     * at most B rows: row r is image src[r] with id rid[r]. */
    float *xin = malloc((size_t)B * (size_t)plane * sizeof(float));
    float *res = malloc((size_t)B * (size_t)oplane * sizeof(float));
    float *tbuf = malloc((size_t)B * sizeof(float));
    int *rid = malloc((size_t)B * sizeof(int)), *src = malloc((size_t)B * sizeof(int));
    int *role = malloc((size_t)B * sizeof(int)); /* 0 single, 1 cond, 2 uncond */
    assert(xin && res && tbuf && rid && src && role);
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
        assert(rows > 0 && "max_batch must be at least 2 for guidance");
        for (int r = 0; r < rows; r++)
            memcpy(xin + (size_t)r * plane, x + (size_t)src[r] * plane, (size_t)plane * sizeof(float));
        forward_chunk(net, a, res, xin, t, rid, rows, tbuf);
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
    free(xin), free(res), free(tbuf), free(rid), free(src), free(role);
}

int dn_gen_init(dn_gen *g, const dn_unet *net, const dn_sched *sched, const dn_sampler_config *sc,
                int n, const int *ids, float cfg_scale, uint64_t seed) {
    memset(g, 0, sizeof *g);
    if (n < 1) return dn_fail("need at least one image to sample");
    if (net->cfg.in_channels != net->cfg.out_channels)
        return dn_fail("the network's output is not image-shaped (%d in, %d out channels)",
                       net->cfg.in_channels, net->cfg.out_channels);
    for (int b = 0; ids && b < n; b++)
        if (ids[b] < 0 || ids[b] > net->cfg.num_classes)
            return dn_fail("class id %d out of range (the model has %d classes)", ids[b],
                           net->cfg.num_classes);
    dn_sampler_config cfg = *sc;
    cfg.prediction_type = (dn_pred_type)net->cfg.prediction;
    if (dn_sampler_init(&g->sp, sched, &cfg) < 0) return -1;
    g->net = net;
    g->n = n;
    g->plane = (long)net->cfg.in_channels * net->cfg.height * net->cfg.width;
    g->cfg_scale = cfg_scale;
    g->seed = seed;
    size_t vals = (size_t)n * (size_t)g->plane;
    g->ids = malloc((size_t)n * sizeof(int));
    g->rngs = malloc((size_t)n * sizeof(dn_rng));
    g->x = malloc(vals * sizeof(float));
    g->model_out = malloc(vals * sizeof(float));
    g->xin = malloc(vals * sizeof(float));
    int max_batch = 2 * n < 32 ? 2 * n : 32;
    if (!g->ids || !g->rngs || !g->x || !g->model_out || !g->xin ||
        dn_dpm_state_init(&g->dpm, (long)vals) < 0 || dn_unet_acts_alloc(&g->acts, net, max_batch) < 0) {
        dn_gen_free(g);
        return dn_fail("out of memory for sampling %d images", n);
    }
    for (int b = 0; b < n; b++) {
        g->ids[b] = ids ? ids[b] : net->cfg.num_classes;
        dn_rng_seed(&g->rngs[b], seed, (uint64_t)b);
    }
    dn_sampler_init_noise(g->x, &g->sp, g->rngs, n, (long)vals);
    return 0;
}

void dn_gen_step(dn_gen *g, const dn_step_out *extra, dn_step_info *info) {
    assert(g->i < g->sp.n);
    long vals = (long)g->n * g->plane;
    dn_sampler_scale_model_input(g->xin, &g->sp, g->i, g->x, vals);
    dn_guided_output(g->net, &g->acts, g->model_out, NULL, NULL, g->xin, g->sp.timesteps[g->i], g->ids,
                     g->n, g->cfg_scale);
    dn_step_out o = {0};
    if (extra) o = *extra;
    o.prev_sample = g->x;
    dn_sampler_step(&o, info, &g->dpm, g->rngs, &g->sp, g->i, g->model_out, g->x, g->n, vals);
    g->i++;
}

void dn_gen_free(dn_gen *g) {
    if (!g) return;
    dn_sampler_free(&g->sp);
    dn_dpm_state_free(&g->dpm);
    dn_unet_acts_free(&g->acts);
    free(g->ids), free(g->rngs), free(g->x), free(g->model_out), free(g->xin);
    memset(g, 0, sizeof *g);
}
