/* optim.h — how training moves the weights: AdamW, the learning-rate schedule (linear warm-up,
 * then constant or cosine), global gradient-norm clipping, and an exponential moving average.
 * All work on flat float arrays (the network's parameters are one allocation). State is plain
 * structs (m, v, step; the EMA copy) so a checkpoint can save and restore it bit for bit. */
#ifndef DN_OPTIM_H
#define DN_OPTIM_H

/* ---- AdamW (Loshchilov & Hutter 2019, "Decoupled Weight Decay Regularization") ------------------
 * One step t = step + 1, as torch.optim.AdamW computes it:
 *   p <- p * (1 - lr * weight_decay)               decoupled decay, not added to the gradient
 *   m <- beta1 m + (1 - beta1) g                   first moment
 *   v <- beta2 v + (1 - beta2) g^2                 second moment
 *   p <- p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)   bias-corrected */
typedef struct {
    float beta1, beta2; /* 0.9, 0.999 */
    float eps;          /* 1e-8 */
    float weight_decay; /* 0.01 */
} dn_adamw_config;

typedef struct {
    dn_adamw_config cfg;
    long n;    /* number of parameters */
    long step; /* updates done so far (t of the last update) */
    float *m;  /* (n) first moment; m and v are one allocation, m first */
    float *v;  /* (n) second moment */
} dn_adamw;

/* torch.optim.AdamW's defaults. */
dn_adamw_config dn_adamw_defaults(void);
/* Zeroed moments for n parameters. Returns 0, or -1 (allocation). */
int dn_adamw_init(dn_adamw *opt, long n, const dn_adamw_config *cfg);
void dn_adamw_free(dn_adamw *opt); /* accepts NULL and a zeroed struct */
/* One update of params (n) from grads (n) with learning rate lr. */
void dn_adamw_step(dn_adamw *opt, float *params, const float *grads, float lr);

/* ---- learning-rate schedule -----------------------------------------------------------------------
 * For the update with 0-based index `step`:
 *   step < warmup:   lr * (step + 1) / warmup            (the last warm-up step reaches lr)
 *   afterwards:      lr                                    (cosine = 0), or
 *                    min_lr + (lr - min_lr) * 0.5 (1 + cos(pi p)),  p = (step - warmup) / (total - warmup)
 *                    clamped to p <= 1                     (cosine = 1; SGDR, Loshchilov & Hutter 2017) */
typedef struct {
    float lr;     /* peak learning rate */
    float min_lr; /* floor of the cosine */
    long warmup;  /* warm-up updates (0 = none) */
    long total;   /* total updates (used by cosine) */
    int cosine;   /* 0 constant after warm-up, 1 cosine decay to min_lr at `total` */
} dn_lr_schedule;

float dn_lr_at(const dn_lr_schedule *s, long step);

/* ---- global gradient-norm clipping (Pascanu et al. 2013; torch.nn.utils.clip_grad_norm_) ----------
 * norm = sqrt(sum g^2) over all n; if norm > max_norm, g *= max_norm / (norm + 1e-6).
 * Returns the norm before clipping (accumulated in double). max_norm <= 0 only measures. */
float dn_clip_grad_norm(float *grads, long n, float max_norm);

/* ---- exponential moving average of the weights ---------------------------------------------------
 * ema <- decay_t ema + (1 - decay_t) params after every optimiser update; sampling uses ema.
 * decay_t, with s = dn_ema_update calls made before this one (0 on the first):
 *   warmup = 0:  decay_t = decay
 *   warmup = 1:  decay_t = min(decay, 1 - (1 + s)^(-power)), power 2/3 — diffusers' EMAModel with
 *                use_ema_warmup, inv_gamma 1 (0 on the first call: the average starts at the weights;
 *                0.37 at s = 1, 0.9 at s = 31, 0.99 at s = 999, 0.999 at s = 31622). */
typedef struct {
    float decay;  /* e.g. 0.999 */
    int warmup;   /* 1: ramp the decay up as above; 0: constant decay */
    float power;  /* warm-up exponent, 2/3 */
    long n;
    long updates; /* dn_ema_update calls so far */
    float *w;     /* (n) the averaged weights */
} dn_ema;

/* Copies params (n) as the starting average. Returns 0, or -1 (allocation). */
int dn_ema_init(dn_ema *e, const float *params, long n, float decay, int warmup);
void dn_ema_free(dn_ema *e); /* accepts NULL and a zeroed struct */
/* The decay the next update will use. */
float dn_ema_decay_next(const dn_ema *e);
void dn_ema_update(dn_ema *e, const float *params);

#endif
