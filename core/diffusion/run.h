/* run.h — one diffusion run that a person steps through: forward (a clean image dissolving into
 * noise) or reverse (noise, or a noised photo, turning into an image), with every step's results
 * kept, so stepping back is exact and instant, and computed ahead on a worker thread, so the
 * viewer keeps drawing and answering keys while the U-Net works.
 *
 * Frames. A run has K + 1 frames, k = 0 .. K. Frame k is what the screen shows at cursor k:
 *   x        the image at that point (forward: x_{t_k}; reverse: the sample after k steps)
 *   t        its timestep (forward: t_k; reverse: the timestep the sampler's step k uses)
 *   eps_true forward only: the noise that is in x, (x - sqrt(abar) x0) / sqrt(1 - abar)
 *   eps_pred the noise the U-Net predicts for x at t (with guidance), as epsilon even for a
 *            v-prediction model; eps_cond / eps_uncond its two parts (guidance breakdown)
 *   x0_pred  the clean image that prediction implies
 *   err      forward only: |eps_true - eps_pred| per value
 *   drift, random   the move from frame k to frame k + 1: x_{k+1} = x + drift + random
 *            (forward: the chain's pull toward 0 and its fresh noise; reverse: the sampler's step)
 * The last frame (k = K) has no move (drift = random = 0) and in reverse mode no prediction
 * (has_pred = 0). Without a network (net = NULL) only forward runs work and has_pred = 0.
 * Every pointer of a published frame is valid for (C,H,W) values and read-only: a field the
 * frame has no data for (has_pred / has_true 0, no move) points to a shared plane of zeros, and
 * an unguided frame's eps_cond and eps_uncond point to its eps_pred. err needs a prediction
 * too: it is valid when has_true && has_pred (zeros for a forward run without a network).
 * A reverse run's last frame shows where the last step lands: alpha_bar = that step's
 * info.alpha_prod_prev (1 for DDPM/DDIM, snr +inf), t = its t_prev if >= 0, else 0.
 * eps_pred of an epsilon model is the guided network output itself; of a v-prediction model
 * it is the sampler's pred_eps, and eps_cond / eps_uncond are converted the same way
 * (eps = sqrt(abar) v + sqrt(1 - abar) x_in, x_in the variance-preserving network input).
 * x0_pred is the sampler's (clipped when it clips); forward frames imply it at their t, clipped
 * as the chosen DDPM/DDIM sampler would.
 *
 * Steps. Forward runs visit the timesteps of the chosen sampler's schedule in increasing order:
 * t_0 = clean image (no noise, drawn as "t = 0 before any step"), then t_1 < ... < t_K = the
 * sampler's timesteps reversed, so the forward and reverse runs of one setting share their t's
 * (t_1 can be 0 as well: "leading" spacing ends at t = 0, one step's worth of noise).
 * A forward move from t_a to t_b uses the exact marginal of the chain over those steps,
 * x_b = sqrt(abar_b / abar_a) x_a + sqrt(1 - abar_b / abar_a) z, z ~ N(0, I) from the seed.
 * abar_k is the sampler's own for step K - k (alphas_cumprod[t] for DDPM/DDIM, 1/(sigma^2+1)
 * for Euler/DPM++), and the network is asked at x_k with the sampler's timestep t_k.
 * Reverse runs: frame 0 = pure noise (start = 0), or, for img2img, x0 noised to the level of
 * sampler step `start` (dn_sampler_add_noise) and frames continuing from there (K = steps - start).
 * (steps = the sampler's step count, which for DPM++ can be below num_inference_steps: repeated
 * timesteps are dropped.) Noise: one generator dn_rng_seed(seed, stream 0), drawn in order. A
 * reverse run draws exactly what dn_gen draws for image 0 (starting noise, or img2img's noise
 * plane, then the sampler's kicks), so its frames are dn_gen's samples bit for bit; a forward
 * run draws one plane per move, in frame order.
 *
 * Threads: dn_run_start launches a worker that computes frames in order up to the furthest one
 * asked for (dn_run_want), using dn_threads_get() threads for the U-Net. The caller's thread only
 * reads frames that dn_run_frame_get/_wait returned (never changed afterwards). dn_run_free
 * cancels and joins (at most one U-Net evaluation of waiting).
 *
 * Memory: a frame's buffers are allocated when the worker reaches it (reverse 5 planes, forward
 * 7 with a network, 2 more each with guidance), so a run costs only what was stepped through:
 * 1000 unguided DDPM frames of 3x32x32 are about 61 MB. Nothing is freed before dn_run_free.
 *
 * Latent runs (cfg.ae): the planes above are latents; the worker also decodes each frame's x_t
 * and predicted x_0 into pictures (pic, pic0) before publishing it, and a forward run noises
 * the picture itself beside it (pic_noised), so a viewer shows both spaces at the same step. */
#ifndef DN_RUN_H
#define DN_RUN_H
#include "diffusion/sampler.h"
#include "diffusion/schedule.h"
#include "nets/autoencoder.h"
#include "nets/unet.h"
#include <stdint.h>

typedef enum { DN_RUN_FORWARD, DN_RUN_REVERSE } dn_run_mode;

typedef struct {
    dn_run_mode mode;
    const dn_unet *net;         /* borrowed; NULL = no predictions (forward only) */
    const dn_sched *sched;      /* borrowed; the training schedule of net */
    dn_sampler_config sampler;  /* kind and num_inference_steps define the t's (both modes) */
    int channels, height, width;/* image shape (must match net when there is one) */
    const float *x0;            /* (C,H,W) in [-1,1]: forward's clean image, img2img's photo;
                                   copied at start (dn_run_config_of shows the copy, and the
                                   sampler's prediction_type replaced by the network's);
                                   NULL for reverse from pure noise */
    int start;                  /* reverse: first sampler step (0 = from pure noise; needs x0 if > 0) */
    int class_id;               /* 0 .. num_classes-1, or num_classes = unconditional */
    float cfg_scale;            /* guidance w (used when class_id is a class) */
    uint64_t seed;              /* the noise: same seed, same run */
    /* latent diffusion (latent/latent.h): the run diffuses latents (channels, height, width are
       the latent's, x0 is the picture's scaled latent) and every frame also holds pictures */
    const dn_autoencoder *ae;   /* borrowed; NULL = pixel space */
    const float *x0_pic;        /* forward, latent: the picture x0 encodes (copied), for the
                                   pixel-space noising beside it; may be NULL */
} dn_run_config;

typedef struct {
    int k;                       /* frame index */
    float t;                     /* timestep (see above) */
    float alpha_bar;             /* abar at t (1 for the clean frame 0 of a forward run) */
    float snr;                   /* abar / (1 - abar); +inf for the clean frame */
    dn_step_info info;           /* the sampler's numbers for the move (reverse), else zeroed */
    int has_pred, has_true;      /* eps_pred/x0_pred/eps_cond/eps_uncond valid; eps_true/err valid */
    int guided;                  /* eps_cond and eps_uncond differ (a class and w != 1) */
    float scale, scale_next;     /* x * scale is x at the variance-preserving scale, what a picture
                                    of x_t shows (Euler's reverse samples live at sqrt(sigma^2 + 1):
                                    scale = sqrt(alpha_bar); 1 for every other run); scale_next
                                    the same for x + drift + random, the next frame's x */
    float *x, *eps_true, *eps_pred, *eps_cond, *eps_uncond, *x0_pred, *err, *drift, *random;
    float move_max;              /* the largest |drift| or |random| value of the move (0 for none):
                                    a viewer draws every step's move on the run's one scale */
    /* latent runs only (cfg.ae), else NULL; pictures of the autoencoder's (C, H f, W f) */
    float *pic;                  /* decode(x * scale / scale_factor): what x_t looks like as a picture */
    float *pic0;                 /* decode(x0_pred / scale_factor) when has_pred, else NULL */
    float *pic_noised;           /* forward with x0_pic, k >= 1: the picture noised in pixel space to
                                    the same alpha-bar, sqrt(abar) x0_pic + sqrt(1 - abar) eps_pic
                                    (one fixed noise picture from stream 1 of the seed), else NULL */
} dn_run_frame;

typedef struct dn_run dn_run; /* opaque: worker thread, frame cache */

/* Check the config and start the worker (it computes frame 0 at once). Returns a new run, or
 * NULL + dn_error() (bad config: shape, class, start; out of memory). */
dn_run *dn_run_start(const dn_run_config *cfg);
/* Stop the worker and free everything (frames returned before become invalid). Accepts NULL. */
void dn_run_free(dn_run *r);

int dn_run_frames(const dn_run *r);               /* K + 1 */
/* The timestep of frame k (clamped to 0 .. K), known before the frame is computed. */
float dn_run_t(const dn_run *r, int k);
const dn_run_config *dn_run_config_of(const dn_run *r);
/* Ask the worker to compute up to frame k (clamped to K); returns at once. */
void dn_run_want(dn_run *r, int k);
/* Stop computing ahead after the frame under way (a run kept for later: the viewer's cache of runs
 * already seen); dn_run_want, _get or _wait resume it. */
void dn_run_pause(dn_run *r);
/* Frame k if it is computed, else NULL (and dn_run_want(r, k) is implied). */
const dn_run_frame *dn_run_frame_get(dn_run *r, int k);
/* Block until frame k is computed (for exporters and tests); returns it, or NULL if k is out of
 * range or the run failed. */
const dn_run_frame *dn_run_frame_wait(dn_run *r, int k);
/* Frames computed so far (0 .. K + 1). */
int dn_run_ready(dn_run *r);
/* 1 if the worker failed (dn_error then holds its message), else 0. */
int dn_run_failed(dn_run *r);
/* The worker's message when it failed ("" before): for a screen, which never waits for it. */
const char *dn_run_error(dn_run *r);

#endif
