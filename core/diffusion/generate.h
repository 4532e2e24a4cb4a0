/* generate.h — sampling from a trained U-Net: the reverse process with classifier-free guidance,
 * one step at a time, so a program can stop after any step and look (the CLI writes frames, the
 * viewer caches steps, the evaluator just runs to the end).
 *
 *   dn_gen g;
 *   dn_gen_init(&g, &net, &sched, &sampler_cfg, n, ids, cfg_scale, seed);   // x = x_T, step 0
 *   while (g.i < g.sp.n) dn_gen_step(&g, &extra_out, &info);               // g.x is x_{t-1}
 *   dn_gen_free(&g);
 * This is the one reverse loop: `diffuse sample`, the evaluator, training's preview grids and
 * the viewer's runs (run.h, one image, with img2img and the guidance parts) all step a dn_gen.
 *
 * Image b draws its starting noise and every later random kick from its own generator, seeded
 * (seed, stream b): image b of a batch of 64 is the same picture as image 0 of a run of one with
 * stream offset b, whatever the batch size or thread count. */
#ifndef DN_GENERATE_H
#define DN_GENERATE_H
#include "base/rng.h"
#include "diffusion/sampler.h"
#include "diffusion/schedule.h"
#include "nets/unet.h"
#include <stdint.h>

/* The buffers of guided evaluations, made once (so sampling steps allocate nothing): the U-Net's
 * activations for max_rows rows and the rows' inputs, outputs and ids. */
typedef struct {
    const dn_unet *net;     /* borrowed */
    int max_rows;           /* rows per U-Net evaluation (>= 2: a guided image takes two) */
    dn_unet_acts acts;
    float *xin, *res, *tbuf;/* (max_rows) planes in and out, timesteps */
    int *rid, *src, *role;  /* (max_rows) row -> class id, image, role (0 single, 1 cond, 2 uncond) */
} dn_guide;
/* 0, or -1 + dn_error (max_rows < 2, out of memory); on failure *g is zeroed. */
int dn_guide_init(dn_guide *g, const dn_unet *net, int max_rows);
void dn_guide_free(dn_guide *g); /* accepts a zeroed struct */
/* Give back the activations (the tens of MB of a run kept for later); the next evaluation makes
 * them again (dn_guide_restore first: 0, or -1 + dn_error). */
void dn_guide_release(dn_guide *g);
int dn_guide_restore(dn_guide *g);

/* The model's output for N images at timestep t with classifier-free guidance
 * (Ho & Salimans 2022): out = uncond + w (cond - uncond), where cond is the prediction with the
 * image's class id and uncond with the null class. An image whose id is the null class, or any
 * image when w == 1 (or the network has no classes), needs one evaluation; the others two.
 * uncond_out / cond_out (N x plane, may be NULL) receive the two parts for the viewer's guidance
 * breakdown (for a one-evaluation image both are its single output).
 * Forwards run in chunks of at most g->max_rows rows. x, out: (N, C, H, W). */
void dn_guided_output(dn_guide *g, float *out, float *uncond_out, float *cond_out, const float *x, float t,
                      const int *ids, int N, float w);

/* One reverse run of n images: where it starts and what it keeps. */
typedef struct {
    const dn_unet *net;          /* borrowed, both */
    const dn_sched *sched;
    dn_sampler_config sampler;   /* its prediction_type is replaced by the network's */
    int n;                       /* images */
    const int *ids;              /* (n) class ids, copied; NULL = all unconditional */
    float cfg_scale;             /* guidance scale w */
    uint64_t seed;
    int start;                   /* first sampler step: 0 = from pure noise; > 0 img2img */
    const float *x0;             /* (n * plane) the images noised to step `start` (start > 0) */
    int keep_parts;              /* keep each step's guidance parts (cond_out, uncond_out) */
} dn_gen_config;

typedef struct {
    const dn_unet *net;     /* borrowed */
    dn_sampler sp;          /* timesteps of this run */
    int n;                  /* images */
    long plane;             /* values per image */
    int *ids;               /* (n) class ids, num_classes = unconditional */
    float cfg_scale;        /* guidance scale w */
    uint64_t seed;
    dn_rng *rngs;           /* (n) one generator per image */
    dn_dpm_state dpm;       /* DPM-Solver++ history */
    float *x;               /* (n * plane) the current sample: x at step i (x_T after init) */
    float *model_out;       /* (n * plane) the guided output of the last step */
    float *cond_out, *uncond_out; /* (n * plane) its two parts (keep_parts), else NULL */
    float *xin;             /* (n * plane) what the network was fed (Euler scales x) */
    int i;                  /* the next step to take, start .. sp.n (done) */
    dn_guide guide;         /* evaluation buffers */
} dn_gen;

/* Prepare a run: timesteps, ids, and x = the starting noise from `seed` (start = 0), or x0
 * noised to the level of step `start` with noise drawn from image b's generator (img2img).
 * Returns 0 or -1 + dn_error() (bad config, out of memory); on failure *g is zeroed. */
int dn_gen_init_config(dn_gen *g, const dn_gen_config *c);
/* The common case: n images from pure noise. */
int dn_gen_init(dn_gen *g, const dn_unet *net, const dn_sched *sched, const dn_sampler_config *sc,
                int n, const int *ids, float cfg_scale, uint64_t seed);
/* Take step g->i: run the network (with guidance) on g->x and update g->x in place.
 * extra: where the step's other results go (its prev_sample is ignored: g->x is the output);
 * may be NULL. info may be NULL. Allocates nothing. Must not be called when g->i == g->sp.n.
 * 0, or -1 + dn_error when a kernel ran out of scratch memory (parallel.h): g->x is then
 * meaningless. */
int dn_gen_step(dn_gen *g, const dn_step_out *extra, dn_step_info *info);
void dn_gen_free(dn_gen *g); /* accepts NULL and a zeroed struct */

#endif
