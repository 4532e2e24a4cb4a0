/* latent.c — see latent.h. */
#include "latent/latent.h"
#include "base/err.h"
#include "base/parallel.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const dn_data *src;
    float *x;
    long first, plane;
} draw_ctx;

static void draw_task(void *ctx, int i) {
    draw_ctx *c = ctx;
    long idx = c->first + i;
    dn_data_batch(c->src, c->x + (long)i * c->plane, NULL, &idx, 1);
}

int dn_latent_data(dn_data *out, const dn_autoencoder *ae, const dn_data *src, long n) {
    memset(out, 0, sizeof *out);
    const dn_ae_config *c = &ae->cfg;
    if (src->channels != c->in_channels || src->height % dn_ae_factor(c) || src->width % dn_ae_factor(c))
        return dn_fail("the autoencoder encodes %d-channel pictures in multiples of %d, the %s set has %dx%dx%d",
                       c->in_channels, dn_ae_factor(c), src->name, src->channels, src->height, src->width);
    if (n < 1 || n > src->n) n = src->n;
    int f = dn_ae_factor(c), B = 32, h = src->height / f, w = src->width / f;
    long plane = (long)src->channels * src->height * src->width, zl = (long)c->latent_channels * h * w;
    float *z = malloc((size_t)n * zl * sizeof(float)), *x = malloc((size_t)B * plane * sizeof(float));
    int *y = malloc((size_t)n * sizeof(int));
    dn_ae_acts a;
    if (!z || !x || !y || dn_ae_acts_alloc(&a, ae, B, src->height, src->width) < 0) {
        free(z), free(x), free(y);
        return dn_fail("out of memory for the latents of %ld pictures", n);
    }
    for (long i = 0; i < n; i += B) {
        int b = n - i < B ? (int)(n - i) : B;
        draw_ctx dc = {src, x, i, plane};
        dn_parallel_for(b, draw_task, &dc);
        dn_ae_encode(ae, &a, z + i * zl, x, b);
    }
    for (long i = 0; i < n * zl; i++) z[i] *= ae->scale_factor;
    for (long i = 0; i < n; i++) y[i] = dn_data_label(src, i);
    dn_ae_acts_free(&a);
    free(x);
    if (dn_workspace_check() < 0) {
        free(z), free(y);
        return -1;
    }
    return dn_data_from_memory(out, z, y, n, c->latent_channels, h, w, src);
}

int dn_latent_with_reconstructions(dn_data *out, const dn_autoencoder *ae, const dn_data *src, long n) {
    memset(out, 0, sizeof *out);
    const dn_ae_config *c = &ae->cfg;
    int f = dn_ae_factor(c), B = 32;
    if (src->channels != c->in_channels || src->height % f || src->width % f)
        return dn_fail("the autoencoder encodes %d-channel pictures in multiples of %d, the %s set has %dx%dx%d",
                       c->in_channels, f, src->name, src->channels, src->height, src->width);
    if (n < 1 || n > src->n) n = src->n;
    long plane = (long)src->channels * src->height * src->width;
    long zl = (long)c->latent_channels * (src->height / f) * (src->width / f);
    float *x = malloc((size_t)2 * n * plane * sizeof(float)), *z = malloc((size_t)B * zl * sizeof(float));
    int *y = malloc((size_t)2 * n * sizeof(int));
    dn_ae_acts a;
    if (!x || !z || !y || dn_ae_acts_alloc(&a, ae, B, src->height, src->width) < 0) {
        free(x), free(z), free(y);
        return dn_fail("out of memory for %ld pictures and their reconstructions", n);
    }
    for (long i = 0; i < n; i += B) {
        int b = n - i < B ? (int)(n - i) : B;
        draw_ctx dc = {src, x + i * plane, i, plane};
        dn_parallel_for(b, draw_task, &dc);
        dn_ae_encode(ae, &a, z, x + i * plane, b);
        dn_ae_decode(ae, &a, x + (n + i) * plane, z, b);
    }
    for (long i = 0; i < n; i++) y[i] = y[n + i] = dn_data_label(src, i);
    dn_ae_acts_free(&a);
    free(z);
    if (dn_workspace_check() < 0) {
        free(x), free(y);
        return -1;
    }
    return dn_data_from_memory(out, x, y, 2 * n, src->channels, src->height, src->width, src);
}

int dn_latent_autoencoder(const char *model_path, const char *name, const dn_unet_config *net, dn_autoencoder *ae) {
    memset(ae, 0, sizeof *ae);
    if (!name || !*name) return 0;
    char path[1400];
    const char *slash = strrchr(model_path, '/');
    if (name[0] == '/' || !slash) snprintf(path, sizeof path, "%s", name);
    else snprintf(path, sizeof path, "%.*s/%s", (int)(slash - model_path), model_path, name);
    if (dn_ae_load(path, ae) < 0) return dn_fail_context("model '%s' names the autoencoder '%s'", model_path, name);
    int f = dn_ae_factor(&ae->cfg);
    if (ae->cfg.latent_channels != net->in_channels || ae->cfg.latent_channels != net->out_channels) {
        dn_ae_free(ae);
        return dn_fail("model '%s' diffuses %d channels, its autoencoder '%s' makes %d", model_path, net->in_channels,
                       path, ae->cfg.latent_channels);
    }
    if (net->height * f > 4096 || net->width * f > 4096) {
        dn_ae_free(ae);
        return dn_fail("model '%s': pictures of %dx%d are too large", model_path, net->width * f, net->height * f);
    }
    return 1;
}

int dn_latent_decode(const dn_autoencoder *ae, float *x, const float *z, long n, int h, int w) {
    int f = dn_ae_factor(&ae->cfg);
    long zl = (long)ae->cfg.latent_channels * h * w;
    float *u = malloc((size_t)(n < 16 ? n : 16) * zl * sizeof(float));
    dn_ae_acts a;
    if (!u || dn_ae_acts_alloc(&a, ae, n < 16 ? (int)n : 16, h * f, w * f) < 0) {
        free(u);
        return dn_fail("out of memory to decode %ld latents", n);
    }
    long xl = (long)ae->cfg.in_channels * h * f * w * f;
    for (long i = 0; i < n; i += a.max_batch) {
        int b = n - i < a.max_batch ? (int)(n - i) : a.max_batch;
        for (long k = 0; k < b * zl; k++) u[k] = z[i * zl + k] / ae->scale_factor;
        dn_ae_decode(ae, &a, x + i * xl, u, b);
    }
    dn_ae_acts_free(&a);
    free(u);
    return dn_workspace_check();
}

int dn_latent_encode(const dn_autoencoder *ae, float *z, const float *x, long n, int height, int width) {
    dn_ae_acts a;
    if (dn_ae_acts_alloc(&a, ae, n < 16 ? (int)n : 16, height, width) < 0) return -1;
    dn_ae_encode(ae, &a, z, x, n);
    dn_ae_acts_free(&a);
    int f = dn_ae_factor(&ae->cfg);
    long zn = n * ae->cfg.latent_channels * (height / f) * (width / f);
    for (long i = 0; i < zn; i++) z[i] *= ae->scale_factor;
    return dn_workspace_check();
}
