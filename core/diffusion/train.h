/* train.h — teaching the noise predictor, the four steps of the lesson in a loop:
 *   1. pick training images x0 (an epoch is a shuffled pass over the data set),
 *   2. draw noise eps ~ N(0, I) and a step t uniformly in 0 .. T-1 for each,
 *   3. corrupt them to step t: x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps,
 *   4. teach the network the answer: minimise the mean squared error between its output for
 *      (x_t, t, class) and eps (or v = sqrt(abar) eps - sqrt(1 - abar) x0 for v-prediction).
 * The class is replaced by the null class with probability p_uncond so that one network also
 * learns the unconditional prediction classifier-free guidance needs (Ho & Salimans 2022).
 * AdamW with linear warm-up, global gradient clipping, an EMA of the weights (what sampling uses).
 *
 * Determinism and resume: everything random in update s (which images, t, noise, dropout) comes
 * from a generator seeded (seed, stream s), and the epoch order from (seed, stream 2^40 + epoch),
 * so a run is a pure function of its settings and thread count, and a checkpoint only needs the
 * weights, the optimiser moments, the EMA and the step counter to continue bit for bit.
 *
 * The trainer owns its data set, network, optimiser and buffers; a program (CLI, later the
 * viewer) calls dn_trainer_step in a loop and decides about logging, grids and checkpoints. */
#ifndef DN_TRAIN_H
#define DN_TRAIN_H
#include "data/data.h"
#include "diffusion/model.h"
#include "nn/optim.h"
#include "diffusion/schedule.h"
#include "nets/autoencoder.h"
#include "nets/unet.h"
#include <stdint.h>

typedef struct {
    char data[16];            /* "fashion" or "pets" */
    long steps;               /* total optimiser updates planned (the cosine schedule's end) */
    int batch;                /* images per update */
    float lr, min_lr;         /* peak learning rate; cosine floor */
    long warmup;              /* warm-up updates */
    int cosine;               /* 1: cosine decay to min_lr at `steps`; 0: constant after warm-up */
    float clip;               /* global gradient-norm limit (<= 0: no clipping) */
    float weight_decay;       /* AdamW's decoupled decay */
    float ema_decay;          /* EMA decay (with diffusers' warm-up) */
    float p_uncond;           /* probability of training a sample with the null class */
    uint64_t seed;
    dn_beta_kind schedule;    /* the noise schedule trained on */
    int T;
    float beta_start, beta_end;
    char out[256];            /* where the program writes the model ("" = not said); kept in the
                                 checkpoint so a resumed run writes to the same place */
    char autoencoder[256];    /* "" pixel space; else latent diffusion (latent/latent.h): the U-Net
                                 learns the scaled latents of the first latent_n pictures of `data`
                                 encoded by this autoencoder file */
    long latent_n;            /* 0: the whole training split */
} dn_train_config;

/* Defaults: batch 64, lr 2e-4 (warm-up 500, then cosine to 1e-5), clip 1, weight decay 0,
 * EMA 0.999, p_uncond 0.1, linear schedule T = 1000 (1e-4 .. 0.02), seed 0, steps 10000. */
void dn_train_config_default(dn_train_config *c, const char *data);

/* What one update reports. */
typedef struct {
    float loss;      /* mean squared error of this batch */
    float grad_norm; /* before clipping */
    float lr;        /* the learning rate used */
} dn_train_stats;

typedef struct {
    dn_train_config cfg;
    dn_data data;          /* the training split (latent diffusion: its latents) */
    dn_autoencoder ae;     /* latent diffusion: the autoencoder (else zeroed), e.g. for sample grids */
    dn_sched sched;
    dn_unet net;           /* the raw weights being trained */
    dn_unet_params grads;
    float *grad_mem;
    dn_unet_acts acts;
    dn_adamw opt;
    dn_ema ema;            /* the averaged weights: ema.w has net.n_params values */
    long step;             /* updates done */
    double loss_smooth;    /* exponential average of the loss (0.98), for progress lines */
    /* work buffers */
    long *order;           /* (data.n) the current epoch's shuffled order */
    long order_epoch;      /* which epoch `order` holds, -1 = none */
    long *idx;             /* (batch) */
    int *ids;              /* (batch) */
    float *x0, *xt, *eps, *target, *out, *dout, *tvals; /* (batch x plane) / (batch) */
} dn_trainer;

/* A fresh run: open the data set cfg->data (fashion_dir as in data.h, may be NULL), build the
 * network from ncfg (its class count must match the data's; in_channels, size too) with random
 * weights from cfg->seed. Returns 0 or -1 + dn_error(); on failure *tr is zeroed. */
int dn_trainer_init(dn_trainer *tr, const dn_train_config *cfg, const dn_unet_config *ncfg,
                    const char *fashion_dir);
void dn_trainer_free(dn_trainer *tr); /* accepts NULL and a zeroed struct */

/* One update (uses dn_threads_get() threads). 0, or -1 + dn_error when a kernel ran out of
 * scratch memory (parallel.h): the update is then not applied, the weights stay as they were. */
int dn_trainer_step(dn_trainer *tr, dn_train_stats *st);

/* Copy the EMA weights into a network of the same config (e.g. for sampling during training). */
void dn_trainer_ema_weights(const dn_trainer *tr, dn_unet *dst);

/* Model-file metadata of the run: data set, class names, schedule, steps done, seed, and the
 * training settings as "train.*" entries. */
void dn_trainer_meta(const dn_trainer *tr, dn_model_meta *meta);

/* Checkpoint: the whole training state in one file, written atomically: the container of
 * base/tensorfile.h, kind "checkpoint" (the model's entries and float32 weights as in a model
 * file, the step counters, the EMA weights and Adam's moments; docs/MODEL_FORMAT.md). */
int dn_trainer_save(const dn_trainer *tr, const char *path);
/* Restore a run from a checkpoint: settings, weights, moments, EMA, step. `steps` > 0 replaces
 * the planned total (to train on; the cosine schedule stretches to the new end). Returns 0 or -1 +
 * dn_error() (unreadable, corrupted, inconsistent); on failure *tr is zeroed. */
int dn_trainer_load(dn_trainer *tr, const char *path, long steps, const char *fashion_dir);

#endif
