/* eval.h — how good is a model? Sample it and ask the project's own classifier
 * (nets/classifier.h) what the samples look like:
 *   conditional accuracy   share of samples generated for class y that the classifier calls y
 *   coverage               the class histogram of unconditional samples (does every class appear?)
 *   decisiveness           share of samples put in one class with probability > 0.9
 *   FD                     Fréchet distance (eval/frechet.h) in the classifier's feature space to
 *                          the test set, beside the same distance for real training images at
 *                          the same sample size (the floor: what a perfect model would score)
 * `diffuse eval` formats the results as tables; nothing here prints.
 *
 *   dn_eval e;
 *   dn_eval_open(&e, &config);                       // the real data: test features, floors
 *   dn_eval_samples(&e, ids, w, &set);               // one sample set and its numbers
 *   dn_eval_close(&e);
 * Every number follows from the seed: the samples (generate.h: image b from stream b), the
 * floor's training images (drawn with the seed), whatever the thread count. */
#ifndef DN_EVAL_H
#define DN_EVAL_H
#include "data/data.h"
#include "diffusion/schedule.h"
#include "nets/autoencoder.h"
#include "nets/classifier.h"
#include "nets/unet.h"
#include <stdint.h>

/* The numbers of one set of images (samples, or the real test images). */
typedef struct {
    int n;
    double accuracy;   /* share whose class is the intended one; -1 for unconditional sets */
    double decisive;   /* share with a largest probability > 0.9 */
    int hist[DN_CLS_MAX_CLASSES];                                     /* the classifier's verdicts */
    int per_class_n[DN_CLS_MAX_CLASSES], per_class_right[DN_CLS_MAX_CLASSES]; /* by intended class */
    double fd;         /* Fréchet distance to the test set */
} dn_eval_set;

typedef struct {
    const dn_unet *net;         /* borrowed, all of them */
    const dn_autoencoder *ae;   /* latent diffusion: samples are decoded before they are judged
                                   (NULL: pixel space) */
    const dn_sched *sched;
    const dn_classifier *cls;
    dn_data *test, *train;      /* the model's data set: test split, training split (the floor) */
    int steps;                  /* DDIM steps */
    int n;                      /* samples per set (2 .. 10000) */
    long n_real;                /* test images to compare with; 0 or more than there are = all */
    uint64_t seed;
    /* sampling progress (may be NULL): set `what`, step i of n, seconds since the set began */
    void (*progress)(void *ctx, const char *what, int i, int n, double seconds);
    void *ctx;
} dn_eval_config;

typedef struct {
    dn_eval_config c;
    int F, K;                   /* the classifier's features and classes */
    long plane, nt;             /* values per image, test images used */
    dn_eval_set real;           /* the test images through the classifier (its accuracy on them) */
    double floor_n;             /* FD of n real training images to the test set */
    double floor_half;          /* FD between the two halves of the test set */
    float *test_feat;           /* (nt, F) */
    float *x, *feat, *probs;    /* (n, plane), (n, F), (n, K): the last set */
} dn_eval;

/* Can this classifier judge this network's pictures (same image size, same classes)? 0, or -1
 * with dn_error naming both. */
int dn_eval_check(const dn_unet *net, const dn_autoencoder *ae, const dn_classifier *cls, const char *net_name,
                  const char *cls_name);

/* Classify the test images and measure the floors. Returns 0 or -1 + dn_error (out of memory,
 * a mismatch as dn_eval_check); on failure *e is zeroed. */
int dn_eval_open(dn_eval *e, const dn_eval_config *c);

/* Sample c.n images (ids: their classes, NULL = unconditional) with DDIM and guidance w, and
 * measure them into *s. `what` names the set for the progress callback. 0, or -1 + dn_error. */
int dn_eval_samples(dn_eval *e, const int *ids, float w, const char *what, dn_eval_set *s);

void dn_eval_close(dn_eval *e); /* accepts a zeroed struct */

/* The autoencoder's round trip as the classifier sees it: its accuracy on the first n test
 * pictures and on their reconstructions (encode the mean, decode), and the reconstructions' PSNR.
 * 0, or -1 + dn_error. */
int dn_eval_reconstruction(const dn_autoencoder *ae, const dn_classifier *cls, const dn_data *test, long n,
                           double *acc, double *acc_rec, double *psnr);


#endif
