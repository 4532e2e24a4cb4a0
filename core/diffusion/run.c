/* run.c — one diffusion run, computed ahead on a worker thread, every frame kept (see run.h).
 *
 * Threads. One worker per run. Shared state (want, ready, cancel, failed) lives under r->mu:
 * the worker sleeps on want_cv until a frame beyond `ready` is wanted, computes frames in order
 * into buffers nobody else can see yet, then publishes frame k by setting ready = k + 1 under the
 * mutex and broadcasting ready_cv. A reader only hands out frames below `ready` (read under the
 * same mutex), so everything the worker wrote happens-before the reader's access; published
 * frames are never written again. Cancellation is a flag checked before every U-Net evaluation.
 *
 * Memory. Frame headers (K + 1 small structs) are allocated at start; a frame's buffers are one
 * allocation made when the worker reaches it, holding only the planes that frame has:
 *   reverse k < K: x, eps_pred, x0_pred, drift, random (+ eps_cond, eps_uncond when guided)
 *   reverse K:     x
 *   forward 0:     x, drift, random
 *   forward k > 0: x, eps_true, drift, random (+ eps_pred, x0_pred, err, and the two parts when
 *                  guided, with a network; no drift/random for k = K)
 * Fields a frame does not have point to one shared plane of zeros (read-only, never NULL), and an
 * unguided frame's eps_cond and eps_uncond point to its eps_pred. So a 1000-step DDPM run of
 * 3x32x32 images without guidance that is stepped to the end holds 5 x 12 KB x 1000 = 61 MB.
 *
 * Noise. Everything random comes from one generator, dn_rng_seed(seed, stream 0), drawn in order:
 * reverse: the starting noise (or img2img's noise), then the sampler's kicks (DDPM, DDIM eta > 0),
 * exactly as dn_gen draws image 0's, so a run's frames are dn_gen's steps bit for bit.
 * forward: one plane of N(0,1) per move, move k -> k+1 drawing the (k+1)-th plane. */
#include "diffusion/run.h"
#include "base/err.h"
#include "diffusion/generate.h"
#include "base/parallel.h"
#include "base/rng.h"
#include <assert.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct dn_run {
    dn_run_config cfg;      /* copy; cfg.x0 points to x0 below, sampler.prediction_type is net's */
    dn_sampler sp;          /* the timesteps of both modes */
    int K;                  /* last frame index */
    long plane;             /* values per image, C*H*W */
    int guided;             /* two U-Net rows per evaluation (class and w != 1) */
    int euler;              /* a reverse Euler run: x lives at scale sqrt(sigma^2 + 1) */
    float *x0;              /* (plane) copy of cfg.x0, or NULL */
    float *zeros;           /* (plane) zeros: what fields without data point to */
    dn_run_frame *frames;   /* (K + 1) headers */
    float **blocks;         /* (K + 1) each frame's buffers, NULL until computed */
    float *ts;              /* (K + 1) each frame's timestep, known at start */
    /* worker-only state */
    dn_gen gen;             /* reverse: the one reverse loop (generate.h), one image */
    dn_rng rng;             /* forward: the chain's noise */
    dn_guide guide;         /* forward: evaluation buffers for batch 2 (cond + uncond) */
    float *out, *cond, *uncond, *eps_tmp; /* (plane) each: the guided output, its parts, scratch */
    /* latent runs: the pictures */
    long pic_plane;         /* values per picture, 0 for a pixel run */
    int pic_h, pic_w;
    float *x0_pic, *eps_pic; /* (pic_plane) the picture and its one noise picture, or NULL */
    float *zbuf;            /* (plane) a latent to decode */
    dn_ae_acts ae_acts;     /* batch 1 at the picture's size, made on the worker */
    /* shared state, under mu */
    pthread_mutex_t mu;
    pthread_cond_t want_cv, ready_cv;
    int want;               /* furthest frame asked for */
    int ready;              /* frames 0 .. ready-1 are published */
    int cancel, failed;
    int paused;             /* dn_run_pause: kept for later; the worker gives back the U-Net's memory */
    char err[256];          /* the worker's failure message */
    pthread_t th;
    int started;            /* th is running (join it) */
};

/* ---- small helpers --------------------------------------------------------------------------- */

/* alpha-bar of sampler step i as the sampler itself uses it (dn_step_info.alpha_prod_t):
 * DDPM/DDIM the trained alphas_cumprod[t]; Euler/DPM++ 1/(sigma^2+1) from its sigma */
static float step_abar(const dn_sampler *sp, int i) {
    if (sp->cfg.kind == DN_DDPM || sp->cfg.kind == DN_DDIM) return sp->sched->alphas_cumprod[sp->t_index[i]];
    float s = sp->sigmas[i];
    if (sp->cfg.kind == DN_EULER) return 1.0f / (s * s + 1.0f);
    float al = 1.0f / sqrtf(s * s + 1.0f);
    return al * al;
}

static float snr_of(float abar) { return abar >= 1.0f ? INFINITY : abar / (1.0f - abar); }

/* The noise a model output m implies for the variance-preserving input xin (sampler.h's dn_predict). */
static void to_eps(float *eps, const float *m, const float *xin, float abar, dn_pred_type p, long n) {
    float sa = sqrtf(abar), sb = sqrtf(1.0f - abar), x0;
    for (long j = 0; j < n; j++) dn_predict(&x0, &eps[j], p, xin[j], m[j], sa, sb);
}

static int cancelled(dn_run *r) {
    pthread_mutex_lock(&r->mu);
    int c = r->cancel;
    pthread_mutex_unlock(&r->mu);
    return c;
}

/* The next n planes of P values of a block. */
static float *take(float **b, int n, long P) {
    float *p = *b;
    *b += (long)n * P;
    return p;
}

/* Allocate frame k's buffers (see the memory note at the top) and point its fields. */
static int frame_alloc(dn_run *r, int k) {
    dn_run_frame *f = &r->frames[k];
    int fwd = r->cfg.mode == DN_RUN_FORWARD, last = k == r->K;
    int pred = r->cfg.net && (fwd ? k >= 1 : !last);
    int move = !last, truth = fwd && k >= 1;
    int parts = pred && r->guided;
    int planes = 1 + 2 * move + truth + (pred ? 2 : 0) + (pred && fwd) + 2 * parts;
    int pics = r->pic_plane ? 1 + pred + (truth && r->x0_pic) : 0;
    float *b = malloc(((size_t)planes * (size_t)r->plane + (size_t)pics * (size_t)r->pic_plane) * sizeof(float));
    if (!b)
        return dn_fail("out of memory for frame %d of the run (%d planes of %ld values)", k, planes,
                       r->plane);
    r->blocks[k] = b;
    float *z = r->zeros;
    long P = r->plane;
    f->k = k;
    f->x = take(&b, 1, P);
    f->drift = move ? take(&b, 1, P) : z;
    f->random = move ? take(&b, 1, P) : z;
    f->eps_true = truth ? take(&b, 1, P) : z;
    f->eps_pred = pred ? take(&b, 1, P) : z;
    f->x0_pred = pred ? take(&b, 1, P) : z;
    f->err = pred && fwd ? take(&b, 1, P) : z;
    f->eps_cond = parts ? take(&b, 1, P) : f->eps_pred;
    f->eps_uncond = parts ? take(&b, 1, P) : f->eps_pred;
    f->pic = pics ? take(&b, 1, r->pic_plane) : NULL;
    f->pic0 = pics && pred ? take(&b, 1, r->pic_plane) : NULL;
    f->pic_noised = pics && truth && r->x0_pic ? take(&b, 1, r->pic_plane) : NULL;
    assert(b == r->blocks[k] + (long)planes * P + (long)pics * r->pic_plane);
    f->has_pred = pred;
    f->has_true = truth;
    f->guided = parts;
    return 0;
}

/* Forward frames: the guided output for xin at timestep t into r->out (its parts into r->cond,
 * r->uncond). */
static void predict(dn_run *r, const float *xin, float t) {
    int id = r->cfg.class_id;
    dn_guided_output(&r->guide, r->out, r->uncond, r->cond, xin, t, &id, 1, r->cfg.cfg_scale);
}

/* ---- reverse: frame k is sampler step start + k, one step of the run's dn_gen ---------------- */

/* Frame k (k < K): the prediction at x_k and the step, which writes frame k+1's x.
 * 0, 1 when cancelled, -1 + dn_error. */
static int reverse_frame(dn_run *r, int k) {
    dn_run_frame *f = &r->frames[k];
    dn_gen *g = &r->gen;
    dn_pred_type p = g->sp.cfg.prediction_type;
    int i = g->i; /* = start + k */
    long P = r->plane;
    if (cancelled(r)) return 1;
    if (frame_alloc(r, k + 1) < 0) return -1;
    dn_step_out o = {.pred_eps = r->eps_tmp, .pred_x0 = f->x0_pred, .drift = f->drift, .random = f->random};
    if (dn_gen_step(g, &o, &f->info) < 0) return -1;
    memcpy(r->frames[k + 1].x, g->x, (size_t)P * sizeof(float));
    /* epsilon models: the guided output itself; otherwise the sampler's conversion */
    memcpy(f->eps_pred, p == DN_PRED_EPSILON ? g->model_out : r->eps_tmp, (size_t)P * sizeof(float));
    f->t = g->sp.timesteps[i];
    f->alpha_bar = f->info.alpha_prod_t;
    f->snr = snr_of(f->alpha_bar);
    f->scale = r->euler ? sqrtf(f->info.alpha_prod_t) : 1.0f;
    f->scale_next = r->euler ? sqrtf(f->info.alpha_prod_prev) : 1.0f;
    if (f->guided) { /* g->xin: what the network was fed (Euler divides x by sqrt(sigma^2+1)) */
        to_eps(f->eps_cond, g->cond_out, g->xin, f->alpha_bar, p, P);
        to_eps(f->eps_uncond, g->uncond_out, g->xin, f->alpha_bar, p, P);
    }
    if (k + 1 == r->K) {
        /* the end: the level the last step lands on (t_prev when the sampler has one, else 0) */
        dn_run_frame *e = &r->frames[k + 1];
        memset(&e->info, 0, sizeof e->info);
        e->t = f->info.t_prev >= 0 ? (float)f->info.t_prev : 0.0f;
        e->alpha_bar = f->info.alpha_prod_prev;
        e->snr = snr_of(e->alpha_bar);
        e->scale = e->scale_next = f->scale_next;
    }
    return 0;
}

/* ---- forward: frame k >= 1 is at sampler step K - k (timesteps reversed) --------------------- */

/* Frame k: its noise, prediction, and (k < K) the move to frame k+1, which writes its x.
 * 0, 1 when cancelled, -1 + dn_error. */
static int forward_frame(dn_run *r, int k) {
    dn_run_frame *f = &r->frames[k];
    const dn_sampler *sp = &r->sp;
    long P = r->plane;
    memset(&f->info, 0, sizeof f->info);
    f->scale = f->scale_next = 1.0f; /* the chain's x is at the variance-preserving scale */
    float abar = 1.0f;
    if (k == 0) {
        memcpy(f->x, r->x0, (size_t)P * sizeof(float));
        f->t = 0.0f;
    } else {
        int i = r->K - k;
        abar = step_abar(sp, i);
        f->t = sp->timesteps[i];
        float sa = sqrtf(abar), sb = sqrtf(1.0f - abar);
        for (long j = 0; j < P; j++) f->eps_true[j] = (f->x[j] - sa * r->x0[j]) / sb;
        if (r->cfg.net) {
            /* the network sees x_t as it is (variance preserving) at the sampler's timestep */
            if (cancelled(r)) return 1;
            dn_pred_type p = sp->cfg.prediction_type;
            predict(r, f->x, f->t);
            int clip = sp->cfg.clip_sample && (sp->cfg.kind == DN_DDPM || sp->cfg.kind == DN_DDIM);
            float range = sp->cfg.clip_sample_range;
            for (long j = 0; j < P; j++) {
                /* eps and x0 as the sampler's step would imply them (and clip x0) at this t */
                float x0;
                dn_predict(&x0, &f->eps_pred[j], p, f->x[j], r->out[j], sa, sb);
                if (clip) x0 = x0 < -range ? -range : (x0 > range ? range : x0);
                f->x0_pred[j] = x0;
                f->err[j] = fabsf(f->eps_true[j] - f->eps_pred[j]);
            }
            if (f->guided) {
                to_eps(f->eps_cond, r->cond, f->x, abar, p, P);
                to_eps(f->eps_uncond, r->uncond, f->x, abar, p, P);
            }
        }
    }
    f->alpha_bar = abar;
    f->snr = snr_of(abar);
    if (k == r->K) return 0;
    /* The chain's marginal from abar_a to abar_b < abar_a: x_b = sqrt(abar_b/abar_a) x_a +
     * sqrt(1 - abar_b/abar_a) z (the product of the steps' alphas in between; DDPM eq. 2 composed).
     * drift = (keep - 1) x written as -(1 - ratio)/(1 + keep) x to keep its digits. */
    if (frame_alloc(r, k + 1) < 0) return -1;
    float ratio = step_abar(sp, r->K - k - 1) / abar;
    float keep = sqrtf(ratio), kick = sqrtf(1.0f - ratio), pull = -(1.0f - ratio) / (1.0f + keep);
    float *nx = r->frames[k + 1].x;
    for (long j = 0; j < P; j++) {
        float xv = f->x[j], rv = kick * dn_rng_normal(&r->rng);
        f->drift[j] = pull * xv;
        f->random[j] = rv;
        nx[j] = keep * xv + rv;
    }
    return 0;
}

/* ---- latent runs: the frame's pictures ------------------------------------------------------ */

static void decode_into(dn_run *r, float *pic, const float *z, float mul) {
    const dn_autoencoder *ae = r->cfg.ae;
    for (long i = 0; i < r->plane; i++) r->zbuf[i] = z[i] * mul / ae->scale_factor; /* as dn_latent_decode */
    dn_ae_decode(ae, &r->ae_acts, pic, r->zbuf, 1);
}

static void frame_pictures(dn_run *r, dn_run_frame *f) {
    decode_into(r, f->pic, f->x, f->scale);
    if (f->pic0) decode_into(r, f->pic0, f->x0_pred, 1.0f);
    if (f->pic_noised) {
        float sa = sqrtf(f->alpha_bar), sb = sqrtf(1.0f - f->alpha_bar);
        for (long i = 0; i < r->pic_plane; i++) f->pic_noised[i] = sa * r->x0_pic[i] + sb * r->eps_pic[i];
    }
}

/* ---- the worker ------------------------------------------------------------------------------ */

/* The U-Net's working memory and the generator, made on the worker (tens of MB to clear: the
 * thread that asked for the run, a viewer's, goes on at once). 0, or -1 + dn_error. */
static int worker_init(dn_run *r) {
    const dn_run_config *cfg = &r->cfg;
    if (cfg->net && cfg->mode == DN_RUN_FORWARD && dn_guide_init(&r->guide, cfg->net, 2) < 0) return -1;
    if (cfg->ae && dn_ae_acts_alloc(&r->ae_acts, cfg->ae, 1, r->pic_h, r->pic_w) < 0) return dn_fail_context("run");
    if (cfg->mode == DN_RUN_REVERSE) {
        /* image 0 of a dn_gen draws from dn_rng_seed(seed, 0): the run is dn_gen's sample */
        int id = cfg->class_id;
        dn_gen_config gc = {.net = cfg->net, .sched = cfg->sched, .sampler = cfg->sampler, .n = 1, .ids = &id,
                            .cfg_scale = cfg->cfg_scale, .seed = cfg->seed, .start = cfg->start, .x0 = r->x0,
                            .keep_parts = r->guided};
        if (dn_gen_init_config(&r->gen, &gc) < 0) return dn_fail_context("run");
    }
    return 0;
}

/* A paused run (kept by a viewer for going back to it) needs no U-Net activations until it is
 * resumed: give them back (tens of MB for a guided batch), and make them again on resuming. The
 * activations are scratch, overwritten by every evaluation: the frames stay bit for bit the same. */
static void acts_release(dn_run *r) {
    dn_guide_release(&r->gen.guide);
    dn_guide_release(&r->guide);
}

static int acts_restore(dn_run *r) {
    return dn_guide_restore(&r->gen.guide) < 0 || dn_guide_restore(&r->guide) < 0 ? -1 : 0;
}

static void *worker(void *arg) {
    dn_run *r = arg;
    int rc = worker_init(r);
    if (rc == 0) rc = frame_alloc(r, 0);
    if (rc == 0 && r->cfg.mode == DN_RUN_REVERSE) {
        memcpy(r->frames[0].x, r->gen.x, (size_t)r->plane * sizeof(float)); /* x_T, or img2img's start */
    }
    for (int k = 0; rc == 0 && k <= r->K; k++) {
        pthread_mutex_lock(&r->mu);
        int released = 0;
        while (!r->cancel && r->want < k) {
            if (r->paused && !released) {
                pthread_mutex_unlock(&r->mu);
                acts_release(r), released = 1;
                pthread_mutex_lock(&r->mu);
                continue;
            }
            pthread_cond_wait(&r->want_cv, &r->mu);
        }
        int stop = r->cancel;
        pthread_mutex_unlock(&r->mu);
        if (stop) break;
        if (released && (rc = acts_restore(r)) < 0) break;
        if (r->cfg.mode == DN_RUN_FORWARD) rc = forward_frame(r, k);
        else if (k < r->K) rc = reverse_frame(r, k);
        if (rc != 0) break;
        dn_run_frame *f = &r->frames[k];
        if (r->pic_plane) frame_pictures(r, f);
        if (dn_workspace_check() < 0) rc = -1; /* a kernel's scratch (forward frames, decoding) */
        if (rc != 0) break;
        f->move_max = 0;
        for (long i = 0; i < r->plane; i++) {
            float a = fabsf(f->drift[i]), b = fabsf(f->random[i]);
            if (a > f->move_max) f->move_max = a;
            if (b > f->move_max) f->move_max = b;
        }
        pthread_mutex_lock(&r->mu);
        r->ready = k + 1;
        pthread_cond_broadcast(&r->ready_cv);
        pthread_mutex_unlock(&r->mu);
    }
    if (rc == 0 && r->ready == r->K + 1) {
        /* every frame is there: the U-Net's working memory (activations for a guided batch, tens
         * of MB) is not needed again; a viewer keeps finished runs for going back to them */
        dn_gen_free(&r->gen);
        dn_guide_free(&r->guide);
        dn_ae_acts_free(&r->ae_acts);
    }
    if (rc < 0) {
        pthread_mutex_lock(&r->mu);
        r->failed = 1;
        snprintf(r->err, sizeof r->err, "%s", dn_error());
        pthread_cond_broadcast(&r->ready_cv);
        pthread_mutex_unlock(&r->mu);
    }
    dn_workspace_free(); /* the kernels' per-thread scratch of this thread */
    return NULL;
}

/* ---- the API --------------------------------------------------------------------------------- */

static int check_config(const dn_run_config *c) {
    if (c->mode != DN_RUN_FORWARD && c->mode != DN_RUN_REVERSE)
        return dn_fail("run: unknown mode %d", (int)c->mode);
    if (!c->sched) return dn_fail("run: no noise schedule given (set cfg.sched)");
    if (c->channels < 1 || c->height < 1 || c->width < 1 ||
        (long)c->channels * c->height * c->width > (1L << 24))
        return dn_fail("run: image shape %dx%dx%d is out of range", c->channels, c->height, c->width);
    if (c->mode == DN_RUN_FORWARD && !c->x0)
        return dn_fail("run: a forward run needs the clean image (cfg.x0)");
    if (c->mode == DN_RUN_REVERSE && !c->net) return dn_fail("run: a reverse run needs a network (cfg.net)");
    if (c->mode == DN_RUN_REVERSE && c->start < 0)
        return dn_fail("run: start step %d must be >= 0", c->start);
    if (c->mode == DN_RUN_REVERSE && c->start > 0 && !c->x0)
        return dn_fail("run: starting at step %d (img2img) needs the image to noise (cfg.x0)", c->start);
    if (c->ae && (c->ae->cfg.latent_channels != c->channels || (long)c->height * dn_ae_factor(&c->ae->cfg) > 4096 ||
                  (long)c->width * dn_ae_factor(&c->ae->cfg) > 4096))
        return dn_fail("run: the autoencoder makes %d latent channels, the run has %d", c->ae->cfg.latent_channels,
                       c->channels);
    if (c->net) {
        const dn_unet_config *n = &c->net->cfg;
        if (n->in_channels != c->channels || n->out_channels != c->channels || n->height != c->height ||
            n->width != c->width)
            return dn_fail("run: image shape %dx%dx%d does not match the network's %dx%dx%d "
                           "(out %d channels)",
                           c->channels, c->height, c->width, n->in_channels, n->height, n->width,
                           n->out_channels);
        if (c->class_id < 0 || c->class_id > n->num_classes)
            return dn_fail("run: class id %d out of range (the model has %d classes; %d = unconditional)",
                           c->class_id, n->num_classes, n->num_classes);
        if (!isfinite(c->cfg_scale)) return dn_fail("run: guidance scale must be a finite number");
    }
    return 0;
}

dn_run *dn_run_start(const dn_run_config *cfg) {
    if (check_config(cfg) < 0) return NULL;
    dn_run *r = calloc(1, sizeof *r);
    if (!r) {
        dn_fail("run: out of memory");
        return NULL;
    }
    r->cfg = *cfg;
    r->plane = (long)cfg->channels * cfg->height * cfg->width;
    if (cfg->net) r->cfg.sampler.prediction_type = (dn_pred_type)cfg->net->cfg.prediction;
    if (dn_sampler_init(&r->sp, cfg->sched, &r->cfg.sampler) < 0) {
        dn_fail_context("run");
        free(r);
        return NULL;
    }
    if (cfg->mode == DN_RUN_REVERSE && cfg->start >= r->sp.n) {
        dn_fail("run: start step %d is out of range (the sampler has %d steps: 0 .. %d)", cfg->start,
                r->sp.n, r->sp.n - 1);
        dn_sampler_free(&r->sp);
        free(r);
        return NULL;
    }
    r->K = cfg->mode == DN_RUN_FORWARD ? r->sp.n : r->sp.n - cfg->start;
    if (cfg->mode == DN_RUN_FORWARD) r->cfg.start = 0;
    const dn_unet_config *nc = cfg->net ? &cfg->net->cfg : NULL;
    r->guided = nc && cfg->class_id != nc->num_classes && cfg->cfg_scale != 1.0f && nc->num_classes > 0;
    r->euler = cfg->mode == DN_RUN_REVERSE && r->sp.cfg.kind == DN_EULER;
    size_t pb = (size_t)r->plane * sizeof(float);
    int need_x0 = cfg->x0 && (cfg->mode == DN_RUN_FORWARD || cfg->start > 0);
    r->frames = calloc((size_t)r->K + 1, sizeof *r->frames);
    r->blocks = calloc((size_t)r->K + 1, sizeof *r->blocks);
    r->ts = malloc(((size_t)r->K + 1) * sizeof(float));
    r->zeros = calloc((size_t)r->plane, sizeof(float));
    r->x0 = need_x0 ? malloc(pb) : NULL;
    r->out = malloc(pb), r->cond = malloc(pb), r->uncond = malloc(pb);
    r->eps_tmp = malloc(pb);
    if (!r->frames || !r->blocks || !r->ts || !r->zeros || (need_x0 && !r->x0) || !r->out || !r->cond ||
        !r->uncond || !r->eps_tmp) {
        dn_fail("run: out of memory for a run of %d frames", r->K + 1);
        goto fail;
    }
    if (need_x0) memcpy(r->x0, cfg->x0, pb);
    r->cfg.x0 = r->x0;
    if (cfg->ae) {
        int f = dn_ae_factor(&cfg->ae->cfg);
        r->pic_h = cfg->height * f, r->pic_w = cfg->width * f;
        r->pic_plane = (long)cfg->ae->cfg.in_channels * r->pic_h * r->pic_w;
        r->zbuf = malloc(pb);
        int with_pic = cfg->mode == DN_RUN_FORWARD && cfg->x0_pic;
        r->x0_pic = with_pic ? malloc((size_t)r->pic_plane * sizeof(float)) : NULL;
        r->eps_pic = with_pic ? malloc((size_t)r->pic_plane * sizeof(float)) : NULL;
        if (!r->zbuf || (with_pic && (!r->x0_pic || !r->eps_pic))) {
            dn_fail("run: out of memory for the pictures of a latent run");
            goto fail;
        }
        if (with_pic) {
            dn_rng pr;
            dn_rng_seed(&pr, cfg->seed, 1);
            memcpy(r->x0_pic, cfg->x0_pic, (size_t)r->pic_plane * sizeof(float));
            dn_rng_normal_fill(&pr, r->eps_pic, r->pic_plane);
        }
    }
    r->cfg.x0_pic = r->x0_pic;
    /* every frame's t (run.h): forward t_0 = 0, then the sampler's timesteps reversed; reverse the
     * timestep of step start + k, the last frame where the last step lands */
    for (int k = 0; k <= r->K; k++) {
        const dn_sampler *sp = &r->sp;
        if (cfg->mode == DN_RUN_FORWARD) r->ts[k] = k == 0 ? 0.0f : sp->timesteps[r->K - k];
        else if (r->cfg.start + k < sp->n) r->ts[k] = sp->timesteps[r->cfg.start + k];
        else r->ts[k] = sp->prev_t[sp->n - 1] >= 0 ? (float)sp->prev_t[sp->n - 1] : 0.0f;
    }
    dn_rng_seed(&r->rng, cfg->seed, 0);
    r->want = 0; /* frame 0 at once */
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->want_cv, NULL);
    pthread_cond_init(&r->ready_cv, NULL);
    if (pthread_create(&r->th, NULL, worker, r) != 0) {
        dn_fail("run: cannot start the worker thread");
        pthread_mutex_destroy(&r->mu);
        pthread_cond_destroy(&r->want_cv);
        pthread_cond_destroy(&r->ready_cv);
        goto fail;
    }
    r->started = 1;
    return r;
fail:
    dn_run_free(r); /* not started: nothing to join */
    return NULL;
}

void dn_run_free(dn_run *r) {
    if (!r) return;
    if (r->started) {
        pthread_mutex_lock(&r->mu);
        r->cancel = 1;
        pthread_cond_broadcast(&r->want_cv);
        pthread_mutex_unlock(&r->mu);
        pthread_join(r->th, NULL);
        pthread_mutex_destroy(&r->mu);
        pthread_cond_destroy(&r->want_cv);
        pthread_cond_destroy(&r->ready_cv);
    }
    for (int k = 0; r->blocks && k <= r->K; k++) free(r->blocks[k]);
    dn_sampler_free(&r->sp);
    dn_gen_free(&r->gen);
    dn_guide_free(&r->guide);
    free(r->frames), free(r->blocks), free(r->ts), free(r->zeros), free(r->x0);
    free(r->out), free(r->cond), free(r->uncond), free(r->eps_tmp);
    free(r->zbuf), free(r->x0_pic), free(r->eps_pic);
    dn_ae_acts_free(&r->ae_acts);
    free(r);
}

int dn_run_frames(const dn_run *r) { return r->K + 1; }

float dn_run_t(const dn_run *r, int k) { return r->ts[k < 0 ? 0 : k > r->K ? r->K : k]; }

const dn_run_config *dn_run_config_of(const dn_run *r) { return &r->cfg; }

/* under r->mu */
static void want_locked(dn_run *r, int k) {
    if (k > r->K) k = r->K;
    if (k > r->want) {
        r->paused = 0;
        r->want = k;
        pthread_cond_signal(&r->want_cv);
    }
}

void dn_run_want(dn_run *r, int k) {
    pthread_mutex_lock(&r->mu);
    want_locked(r, k);
    pthread_mutex_unlock(&r->mu);
}

void dn_run_pause(dn_run *r) {
    pthread_mutex_lock(&r->mu);
    r->want = r->ready > 0 ? r->ready - 1 : 0; /* the frame under way is finished, no further one */
    r->paused = 1;
    pthread_cond_signal(&r->want_cv); /* a worker already waiting gives back its memory now */
    pthread_mutex_unlock(&r->mu);
}

const dn_run_frame *dn_run_frame_get(dn_run *r, int k) {
    if (k < 0 || k > r->K) return NULL;
    pthread_mutex_lock(&r->mu);
    int ok = k < r->ready;
    if (!ok) want_locked(r, k);
    pthread_mutex_unlock(&r->mu);
    return ok ? &r->frames[k] : NULL;
}

const dn_run_frame *dn_run_frame_wait(dn_run *r, int k) {
    if (k < 0 || k > r->K) return NULL;
    pthread_mutex_lock(&r->mu);
    want_locked(r, k);
    while (k >= r->ready && !r->failed) pthread_cond_wait(&r->ready_cv, &r->mu);
    int ok = k < r->ready;
    if (!ok) dn_fail("%s", r->err); /* the worker's message, on the caller's thread */
    pthread_mutex_unlock(&r->mu);
    return ok ? &r->frames[k] : NULL;
}

const char *dn_run_error(dn_run *r) {
    pthread_mutex_lock(&r->mu);
    const char *e = r->failed ? r->err : "";
    pthread_mutex_unlock(&r->mu);
    return e; /* written once, before failed is set: stable from then on */
}

int dn_run_failed(dn_run *r) {
    pthread_mutex_lock(&r->mu);
    int failed = r->failed;
    if (failed) dn_fail("%s", r->err);
    pthread_mutex_unlock(&r->mu);
    return failed;
}

int dn_run_ready(dn_run *r) {
    pthread_mutex_lock(&r->mu);
    int n = r->ready;
    pthread_mutex_unlock(&r->mu);
    return n;
}
