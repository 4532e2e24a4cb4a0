/* bench_latent.c — what latent diffusion buys (Rombach et al. 2022; Stable Diffusion: "works with a
 * lower-dimensional representation ... more memory efficient"), measured on this machine, in this
 * run, with the same threads, against the speed targets of issue #15. Run by scripts/bench.sh
 * (`make bench`), section 4.
 *
 * usage: bench_latent [--threads N] [--quick] [--latent MODEL]
 *   --threads N    threads for every row (default 1: the targets are one-thread numbers)
 *   --quick        one sample each and short timings, for a smoke test
 *   --latent MODEL the latent model (default assets/models/pets64.dfm); it names its autoencoder
 *                  (entry "latent.autoencoder"). The pixel model is assets/models/pets.dfm.
 * A missing or unloadable model is a one-line error and exit status 1.
 *
 * Prints one line per row: name <TAB> value <TAB> unit <TAB> extra. Whole samples, as a user waits
 * for them (dn_gen_init with one image of class 0, DDIM 50 with the recommended settings,
 * classifier-free guidance w = 3: every step one U-Net forward at batch 2; the best of 3 runs,
 * 1 with --quick; extra = GFLOP/s):
 *   pixel_sample_pets       the shipped 32x32 pixel-space model (pets.dfm), ms
 *   latent_sample_pets64    the latent model at 16x16x4, then dn_latent_decode of the final latent
 *                           to the 64x64 picture (included), ms
 *   latent_sample_ratio     latent / pixel (extra: the decode's share of the latent sample)
 * The autoencoder alone (one 16x16x4 latent <-> one 64x64x3 picture, through latent.h as sampling
 * calls it, so the scale factor and the activations' allocation are included; the best over
 * repeats; extra = GFLOP/s):
 *   ae_decode_1             ms (issue #15's target: at most 10 ms)
 *   ae_encode_1             ms
 * The claim, per denoising step: a pixel-space U-Net at 64x64 (the shipped pets.dfm's config, only
 * height and width 64, random weights: speed does not depend on the weights) against the latent
 * U-Net (the latent model's own config and weights). "pixel64" and "latent" rows, then
 * "ratio" = pixel64 / latent (how many times less latent space costs):
 *   claim_numbers_*         numbers per sample, C*H*W (12288 against 1024)
 *   claim_flops_*           GFLOP per guided step (dn_unet_flops x 2: the batch of 2)
 *   claim_time_*            ms per guided step: one forward at batch 2, measured (best of repeats;
 *                           extra = GFLOP/s)
 *   claim_mem_*             MB per guided step: the activations for batch 2 (dn_unet_acts,
 *                           n_floats x 4 bytes: what sampling allocates, dn_guide's, backward work
 *                           space included) plus the parameters (extra: the two parts)
 *   claim_mem_decoder       what the latent side adds once per sample, not per step: the
 *                           decoder's parameters plus the activations dn_latent_decode allocates
 *                           for one picture (dn_ae_acts, laid out for the whole autoencoder) (MB;
 *                           not in claim_mem_latent) */
#include "base/err.h"
#include "base/parallel.h"
#include "base/rng.h"
#include "diffusion/generate.h"
#include "diffusion/model.h"
#include "diffusion/sampler.h"
#include "diffusion/schedule.h"
#include "latent/latent.h"
#include "nets/autoencoder.h"
#include "nets/unet.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PIXEL_MODEL "assets/models/pets.dfm"
#define LATENT_MODEL "assets/models/pets64.dfm"
#define CLASS_ID 0    /* "cat" in both pets models */
#define CFG_SCALE 3.0f
#define STEPS 50
#define SEED 7

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int fail(const char *what) {
    fprintf(stderr, "bench_latent: %s\n", what);
    return 1;
}

/* One timed thing: a U-Net forward at batch 2, or a decode or encode through latent.h. */
typedef struct {
    const dn_unet *m;
    dn_unet_acts *a;
    const dn_autoencoder *ae;
    float *x, *t, *out, *z, *pic;
    int *ids;
    int h, w; /* the latent's size */
} job;

static void run_forward(job *j) { dn_unet_forward(j->m, j->a, j->out, j->x, j->t, j->ids, 2); }
static void run_decode(job *j) { (void)dn_latent_decode(j->ae, j->pic, j->z, 1, j->h, j->w); }
static void run_encode(job *j) {
    int f = dn_ae_factor(&j->ae->cfg);
    (void)dn_latent_encode(j->ae, j->z, j->pic, 1, j->h * f, j->w * f);
}

/* Seconds per call: one warm-up, then repeat until min_time has passed (at least min_reps) and
 * keep the best run; the machine is shared, and the best is the least disturbed (as bench_unet). */
static double timeit(void (*fn)(job *), job *j, double min_time, int min_reps) {
    fn(j);
    int reps = 0;
    double t0 = now(), best = 1e30;
    do {
        double t1 = now();
        fn(j);
        double el = now() - t1;
        if (el < best) best = el;
        reps++;
    } while (reps < min_reps || now() - t0 < min_time);
    return best;
}

/* One whole guided sample as `diffuse sample --n 1` makes it: dn_gen_init (its buffers included:
 * a user waits for them too), the 50 steps, and for a latent model the decode of the final latent
 * into pic. Seconds, the best of reps runs (*dec_s: the decode's time in that run); -1 + dn_error. */
static double sample(const dn_unet *net, const dn_model_meta *meta, const dn_autoencoder *ae, float *pic, int reps,
                     double *dec_s) {
    dn_sched sched;
    if (dn_sched_init(&sched, meta->schedule, meta->num_train_timesteps, meta->beta_start, meta->beta_end) < 0)
        return -1;
    dn_sampler_config sc;
    dn_sampler_config_recommended(&sc, DN_DDIM, STEPS);
    if (ae) dn_sampler_config_latent(&sc);
    int cls = net->cfg.num_classes > 0 ? CLASS_ID : 0;
    double best = 1e30;
    *dec_s = 0;
    for (int r = 0; r < reps; r++) {
        dn_gen g;
        double t0 = now(), td = 0;
        if (dn_gen_init(&g, net, &sched, &sc, 1, &cls, CFG_SCALE, SEED) < 0) break;
        int rc = 0;
        while (rc == 0 && g.i < g.sp.n) rc = dn_gen_step(&g, NULL, NULL);
        if (rc == 0 && ae) {
            td = now();
            rc = dn_latent_decode(ae, pic, g.x, 1, net->cfg.height, net->cfg.width);
            td = now() - td;
        }
        double el = now() - t0;
        dn_gen_free(&g);
        if (rc < 0) break;
        if (el < best) best = el, *dec_s = td;
    }
    dn_sched_free(&sched);
    return best < 1e30 ? best : -1;
}

/* Seconds of one guided step (a forward at batch 2: class CLASS_ID and the null class, t = 500) of
 * net, and the bytes that step needs (activations for batch 2, *acts_b, and parameters). */
static double step_time(const dn_unet *net, double min_time, size_t *acts_b) {
    const dn_unet_config *c = &net->cfg;
    long n = (long)c->in_channels * c->height * c->width;
    dn_unet_acts a;
    if (dn_unet_acts_alloc(&a, net, 2) < 0) return -1;
    *acts_b = a.n_floats * sizeof(float);
    job j = {.m = net, .a = &a};
    float t[2] = {500.0f, 500.0f};
    int ids[2] = {c->num_classes > 0 ? CLASS_ID : 0, c->num_classes};
    j.t = t, j.ids = ids;
    j.x = malloc((size_t)(2 * n) * sizeof(float)), j.out = malloc((size_t)(2 * n) * sizeof(float));
    double sec = -1;
    if (j.x && j.out) {
        dn_rng r;
        dn_rng_seed(&r, 3, 0);
        dn_rng_normal_fill(&r, j.x, 2 * n);
        sec = timeit(run_forward, &j, min_time, 3);
        if (dn_workspace_check() < 0) sec = -1;
    } else {
        dn_fail("out of memory");
    }
    free(j.x), free(j.out);
    dn_unet_acts_free(&a);
    return sec;
}

int main(int argc, char **argv) {
    int threads = 1, quick = 0;
    const char *latent_path = LATENT_MODEL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--quick") == 0) quick = 1;
        else if (strcmp(argv[i], "--latent") == 0 && i + 1 < argc) latent_path = argv[++i];
        else {
            fprintf(stderr, "usage: bench_latent [--threads N] [--quick] [--latent MODEL]\n");
            return 2;
        }
    }
    dn_threads_set(threads);
    double mt = quick ? 0.3 : 2.0;
    int reps = quick ? 1 : 3;

    /* both models first: a missing file stops the bench before anything is timed */
    dn_unet pix, lat;
    dn_model_meta pmeta, lmeta;
    dn_autoencoder ae;
    if (dn_model_load(PIXEL_MODEL, &pix, &pmeta) < 0) return fail(dn_error());
    if (dn_model_load(latent_path, &lat, &lmeta) < 0) return fail(dn_error());
    int has = dn_latent_autoencoder(latent_path, dn_model_meta_get(&lmeta, DN_LATENT_KEY), &lat.cfg, &ae);
    if (has < 0) return fail(dn_error());
    if (has == 0) {
        fprintf(stderr, "bench_latent: '%s' names no autoencoder (entry %s): not a latent model\n", latent_path,
                DN_LATENT_KEY);
        return 1;
    }
    const dn_ae_config *ac = &ae.cfg;
    int f = dn_ae_factor(ac), h = lat.cfg.height, w = lat.cfg.width, H = h * f, W = w * f;
    long zn = (long)lat.cfg.in_channels * h * w, xn = (long)ac->in_channels * H * W;
    float *pic = malloc((size_t)xn * sizeof(float)), *z = malloc((size_t)zn * sizeof(float));
    if (!pic || !z) return fail("out of memory");
    double dec_fl = dn_ae_decode_flops(ac, H, W), enc_fl = dn_ae_encode_flops(ac, H, W);

    /* 1. whole samples: the shipped pixel model against the latent model with its decode */
    double pfl = dn_unet_flops(&pix.cfg), lfl = dn_unet_flops(&lat.cfg), dec_s;
    double ps = sample(&pix, &pmeta, NULL, NULL, reps, &dec_s);
    if (ps < 0) return fail(dn_error());
    printf("pixel_sample_pets\t%.1f\tms\t%.2f\n", ps * 1e3, pfl * 2 * STEPS / ps / 1e9);
    fflush(stdout);
    double ls = sample(&lat, &lmeta, &ae, pic, reps, &dec_s);
    if (ls < 0) return fail(dn_error());
    printf("latent_sample_pets64\t%.1f\tms\t%.2f\n", ls * 1e3, (lfl * 2 * STEPS + dec_fl) / ls / 1e9);
    printf("latent_sample_ratio\t%.3f\tx\tdecode %.1f%%\n", ls / ps, 100 * dec_s / ls);
    fflush(stdout);

    /* 2. the autoencoder alone: a latent drawn like the sampler's start (about unit variance, as
     * the diffusion sees latents), its picture for the encoder */
    dn_rng r;
    dn_rng_seed(&r, 11, 0);
    dn_rng_normal_fill(&r, z, zn);
    job j = {.ae = &ae, .z = z, .pic = pic, .h = h, .w = w};
    double ds = timeit(run_decode, &j, mt, 5);
    if (dn_workspace_check() < 0) return fail(dn_error());
    printf("ae_decode_1\t%.3f\tms\t%.2f\n", ds * 1e3, dec_fl / ds / 1e9);
    double es = timeit(run_encode, &j, mt, 5);
    if (dn_workspace_check() < 0) return fail(dn_error());
    printf("ae_encode_1\t%.3f\tms\t%.2f\n", es * 1e3, enc_fl / es / 1e9);
    fflush(stdout);

    /* 3. the claim, per guided step: pixel space at 64x64 against latent space at 16x16x4 */
    dn_unet_config c64 = pix.cfg;
    c64.height = H, c64.width = W;
    dn_unet p64;
    if (dn_unet_init(&p64, &c64) < 0) return fail(dn_error());
    dn_rng_seed(&r, 0, 0);
    dn_unet_init_random(&p64, &r);
    long pn = (long)c64.in_channels * H * W;
    printf("claim_numbers_pixel64\t%ld\tfloats\t%dx%dx%d\n", pn, c64.in_channels, H, W);
    printf("claim_numbers_latent\t%ld\tfloats\t%dx%dx%d\n", zn, lat.cfg.in_channels, h, w);
    printf("claim_numbers_ratio\t%.2f\tx\tpixel64/latent\n", (double)pn / (double)zn);
    double f64 = dn_unet_flops(&c64) * 2, fl2 = lfl * 2;
    printf("claim_flops_pixel64\t%.3f\tGFLOP\t-\n", f64 / 1e9);
    printf("claim_flops_latent\t%.3f\tGFLOP\t-\n", fl2 / 1e9);
    printf("claim_flops_ratio\t%.2f\tx\tpixel64/latent\n", f64 / fl2);
    fflush(stdout);
    size_t pa, la;
    double pt = step_time(&p64, mt, &pa);
    if (pt < 0) return fail(dn_error());
    printf("claim_time_pixel64\t%.2f\tms\t%.2f\n", pt * 1e3, f64 / pt / 1e9);
    fflush(stdout);
    double lt = step_time(&lat, mt, &la);
    if (lt < 0) return fail(dn_error());
    printf("claim_time_latent\t%.2f\tms\t%.2f\n", lt * 1e3, fl2 / lt / 1e9);
    printf("claim_time_ratio\t%.2f\tx\tpixel64/latent\n", pt / lt);
    double MB = 1024.0 * 1024.0;
    double ppar = (double)p64.n_params * sizeof(float), lpar = (double)lat.n_params * sizeof(float);
    double pm = (double)pa + ppar, lm = (double)la + lpar;
    printf("claim_mem_pixel64\t%.1f\tMB\tacts %.1f + params %.1f\n", pm / MB, (double)pa / MB, ppar / MB);
    printf("claim_mem_latent\t%.1f\tMB\tacts %.1f + params %.1f\n", lm / MB, (double)la / MB, lpar / MB);
    printf("claim_mem_ratio\t%.2f\tx\tpixel64/latent\n", pm / lm);
    dn_ae_acts aa;
    if (dn_ae_acts_alloc(&aa, &ae, 1, H, W) < 0) return fail(dn_error());
    double dpar = (double)(ae.n_params - ae.n_enc_params) * sizeof(float), dacts = (double)aa.n_floats * sizeof(float);
    printf("claim_mem_decoder\t%.1f\tMB\tacts %.1f + params %.1f, once per sample\n", (dacts + dpar) / MB, dacts / MB,
           dpar / MB);
    dn_ae_acts_free(&aa);

    free(pic), free(z);
    dn_unet_free(&p64);
    dn_ae_free(&ae);
    dn_unet_free(&lat);
    dn_unet_free(&pix);
    return 0;
}
