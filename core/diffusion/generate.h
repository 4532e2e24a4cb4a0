/* generate.h — sampling from a trained U-Net: the reverse process with classifier-free guidance,
 * one step at a time, so a program can stop after any step and look (the CLI writes frames, the
 * viewer caches steps, the evaluator just runs to the end).
 *
 *   dn_gen g;
 *   dn_gen_init(&g, &net, &sched, &sampler_cfg, n, ids, cfg_scale, seed);   // x = x_T, step 0
 *   while (g.i < g.sp.n) dn_gen_step(&g, &extra_out, &info);               // g.x is x_{t-1}
 *   dn_gen_free(&g);
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

/* The model's output for N images at timestep t with classifier-free guidance
 * (Ho & Salimans 2022): out = uncond + w (cond - uncond), where cond is the prediction with the
 * image's class id and uncond with the null class. An image whose id is the null class, or any
 * image when w == 1 (or the network has no classes), needs one evaluation; the others two.
 * uncond_out / cond_out (N x plane, may be NULL) receive the two parts for the viewer's guidance
 * breakdown (for a one-evaluation image both are its single output).
 * Forwards run in chunks of at most a->max_batch images. x, out: (N, C, H, W). */
void dn_guided_output(const dn_unet *net, dn_unet_acts *a, float *out, float *uncond_out,
                      float *cond_out, const float *x, float t, const int *ids, int N, float w);

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
    float *x;               /* (n * plane) the current sample: x_T after init, then x after step i-1 */
    float *model_out;       /* (n * plane) the guided output of the last step */
    float *xin;             /* (n * plane) what the network was fed (Euler scales x) */
    int i;                  /* the next step to take, 0 .. sp.n (done) */
    dn_unet_acts acts;      /* forward buffers */
} dn_gen;

/* Prepare n images: timesteps for sampler config sc (its prediction_type is replaced by the
 * network's), ids (n) copied (NULL = all unconditional), x = starting noise from `seed`.
 * Returns 0 or -1 + dn_error() (bad config, out of memory); on failure *g is zeroed. */
int dn_gen_init(dn_gen *g, const dn_unet *net, const dn_sched *sched, const dn_sampler_config *sc,
                int n, const int *ids, float cfg_scale, uint64_t seed);
/* Take step g->i: run the network (with guidance) on g->x and update g->x in place.
 * extra: where the step's other results go (its prev_sample is ignored: g->x is the output);
 * may be NULL. info may be NULL. Must not be called when g->i == g->sp.n. */
void dn_gen_step(dn_gen *g, const dn_step_out *extra, dn_step_info *info);
void dn_gen_free(dn_gen *g); /* accepts NULL and a zeroed struct */

#endif
