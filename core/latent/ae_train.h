/* ae_train.h — teaching the autoencoder (nets/autoencoder.h) to give back what it was shown:
 *   1. a batch of pictures: pets64 cats and dogs (data.h) and random crops of real photos
 *      (photos.h), in a fixed share;
 *   2. encode: a mean and a log-variance per latent value; draw z = mean + exp(logvar/2) eps;
 *   3. decode z and compare with the picture: L1 (Stable Diffusion's choice) or MSE per value,
 *      plus kl_weight times the KL divergence to N(0, I) per picture divided by its values
 *      (Stable Diffusion: L1 sum + 1e-6 KL sum; the same ratio);
 *   4. AdamW on both networks (warm-up, cosine decay, gradient clipping).
 * At the end the scale factor is measured: 1 / std of the latents z of 512 training pictures
 * (LDM's scale_by_std).
 *
 * Determinism and resume, as the U-Net's trainer: update s draws everything (which pets, which
 * crops, eps) from streams of (seed, s), so a run is a function of its settings and its
 * checkpoint holds only the weights, Adam's moments and the step counter. */
#ifndef DN_AE_TRAIN_H
#define DN_AE_TRAIN_H
#include "data/data.h"
#include "data/photos.h"
#include "nets/autoencoder.h"
#include "nn/optim.h"
#include <stdint.h>

#define DN_AE_CKPT_KIND "ae-checkpoint"

typedef enum { DN_AE_LOSS_L1 = 0, DN_AE_LOSS_MSE = 1 } dn_ae_loss;

typedef struct {
    long steps;          /* optimiser updates planned */
    int batch;           /* pictures per update */
    float lr, min_lr;    /* peak learning rate; cosine floor */
    long warmup;
    float clip;          /* global gradient-norm limit (<= 0: none) */
    float weight_decay;
    float kl_weight;     /* 1e-6 as Stable Diffusion */
    int loss;            /* dn_ae_loss */
    float photo_share;   /* share of each batch that is photo crops (0: pets only) */
    uint64_t seed;
    char photos_dir[256]; /* "" = DN_PHOTOS_DIR */
    char out[256];       /* where the program writes the autoencoder; kept for --resume */
} dn_ae_train_config;

/* Defaults: 4000 steps, batch 32, lr 1e-3 (warm-up 200, cosine to 2e-5), clip 1, no weight
 * decay, KL weight 1e-6, L1, photo share 0.25, seed 0. */
void dn_ae_train_config_default(dn_ae_train_config *c);

typedef struct {
    float loss;          /* the whole loss of the batch */
    float rec;           /* its reconstruction part (L1 or MSE per value) */
    float kl;            /* KL per latent value (not weighted) */
    float psnr;          /* PSNR of the batch's reconstructions, dB */
    float grad_norm, lr;
} dn_ae_train_stats;

typedef struct {
    dn_ae_train_config cfg;
    dn_data pets;        /* pets64, train split */
    dn_photos photos;    /* train photos (none when photo_share is 0) */
    dn_autoencoder net;
    dn_ae_params grads;
    float *grad_mem;
    dn_ae_acts acts;
    dn_adamw opt;
    long step;
    double loss_smooth, psnr_smooth;
    float *x, *z, *eps, *recon, *drecon, *dz, *dmo; /* work buffers for one batch */
} dn_ae_trainer;

/* A fresh run with the network of config nc (random weights from the seed). 0 or -1 + dn_error(). */
int dn_ae_trainer_init(dn_ae_trainer *tr, const dn_ae_train_config *cfg, const dn_ae_config *nc);
void dn_ae_trainer_free(dn_ae_trainer *tr); /* accepts a zeroed struct */
/* One update. 0, or -1 + dn_error (kernel scratch memory): the weights are then unchanged. */
int dn_ae_trainer_step(dn_ae_trainer *tr, dn_ae_train_stats *st);

/* The first n of the fixed held-out pictures, their reconstructions (either may be NULL) and
 * the PSNR over them: pets64 test pictures (photos = 0) or crops of the held-out photos (1). */
int dn_ae_heldout(const dn_autoencoder *m, int photos, const char *photos_dir, int n, float *x, float *recon,
                  double *psnr);
/* 1 / std of the sampled latents of 512 training pictures (the batch mix of the run). */
int dn_ae_trainer_measure_scale(dn_ae_trainer *tr, float *scale);

/* Checkpoint (written atomically) and resume; steps > 0 replaces the planned total. */
int dn_ae_trainer_save(const dn_ae_trainer *tr, const char *path);
int dn_ae_trainer_load(dn_ae_trainer *tr, const char *path, long steps);

/* The picture i of the training mix of update `step`: a pets64 picture or a photo crop. */
void dn_ae_train_picture(const dn_ae_trainer *tr, float *x, long step, int i);

#endif
