/* forward.h — the forward (noising) process q, both ways: the closed form q(x_t | x_0) that jumps
 * straight to step t, and the step-by-step chain q(x_t | x_{t-1}) split into drift and random motion.
 *
 * Indexing follows diffusers: t runs 0 .. T-1 and step t uses beta_t = s->betas[t], so
 * alpha-bar_t = s->alphas_cumprod[t] = prod_{k<=t} (1 - beta_k) already includes step t itself.
 * (The DDPM paper counts from 1; its x_t is our index t-1.) Starting from the clean image x0 and
 * applying dn_q_step for t = 0, 1, ..., t gives a sample with the same law as dn_q_sample(t). */
#ifndef DN_FORWARD_H
#define DN_FORWARD_H
#include "diffusion/schedule.h"

/* Closed form (DDPM eq. 4): xt = sqrt(alpha-bar_t) x0 + sqrt(1 - alpha-bar_t) eps.
 * xt, x0, eps: (n) floats, eps ~ N(0, 1) supplied by the caller; xt may alias x0 or eps.
 * 0 <= t < s->T (asserted). Same arithmetic as diffusers' add_noise. */
void dn_q_sample(float *xt, const float *x0, const float *eps, const dn_sched *s, int t, long n);

/* One step of the chain (DDPM eq. 2): xt = sqrt(1 - beta_t) xprev + sqrt(beta_t) eps, split in two
 * for the lessons:
 *   drift  = sqrt(1 - beta_t) xprev - xprev   the directed motion: every value is pulled toward 0
 *   random = sqrt(beta_t) eps                 the random motion: a fresh Gaussian kick
 * so xt = xprev + drift + random (exactly in real arithmetic; in float to a few ulps). The drift is
 * computed as -beta_t / (1 + sqrt(1 - beta_t)) xprev, the same number without cancellation.
 * xt, xprev, eps: (n); drift, random: (n) or NULL when not wanted. xt may alias xprev or eps
 * (drift/random are computed from the inputs before xt is written, element by element). */
void dn_q_step(float *xt, float *drift, float *random, const float *xprev, const float *eps,
               const dn_sched *s, int t, long n);

/* The mean and variance of q(x_t | x_0) for one value: mean = sqrt(abar_t) x0, var = 1 - abar_t.
 * What the statistical tests (and a viewer's histogram overlay) compare against. */
void dn_q_moments(double *mean, double *var, double x0, const dn_sched *s, int t);

#endif
