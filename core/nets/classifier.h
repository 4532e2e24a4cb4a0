/* classifier.h — the project's own measuring instrument: a small CNN that names the class of an
 * image (fashion: which garment; pets: cat or dog), built from the layers of nn.h, trained here,
 * and shipped beside each model as a .dfc file. `diffuse eval` uses its probabilities (does a
 * sample generated for class y look like a y?) and its pooled features (a Fréchet distance
 * between generated and real images, as FID does with Inception features; core/eval/frechet.h).
 *
 * Architecture (L = n_layers, c_l = widths[l]):
 *   h_0 = x                                                   (N, in_channels, H, W) in [-1, 1]
 *   h_{l+1} = SiLU(GroupNorm(conv3x3(h_l, stride_l)))        (N, c_l, H_l, W_l)
 *   features = global average pool of h_L                     (N, c_{L-1})    <- for the FD
 *   logits = features fc_w^T + fc_b                           (N, num_classes)
 *   probs = softmax(logits); training loss = mean cross-entropy -log probs[label]
 *
 * Memory (llm.c style, as unet.h): parameters are one allocation with pointers into it; gradients
 * reuse the params struct over their own block; activations are one allocation for a max batch.
 * File (.dfc): the container of base/tensorfile.h, kind "classifier": the config, test accuracy,
 * data set and class names as entries, the weights as named tensors (docs/MODEL_FORMAT.md). The
 * loader refuses truncated, corrupted or NaN-holding files with one line naming the file; files
 * of version 1 (before the container) still load. */
#ifndef DN_CLASSIFIER_H
#define DN_CLASSIFIER_H
#include "data/data.h"
#include "base/rng.h"
#include <stddef.h>
#include <stdint.h>

#define DN_CLS_MAX_LAYERS 6
#define DN_CLS_MAX_CLASSES 64
#define DN_CLS_MAGIC "DIFFCLS\x1a" /* 8 bytes: the format before the container, still read */
#define DN_CLS_VERSION 1
#define DN_CLS_KIND "classifier"   /* the container's kind (base/tensorfile.h) */
#define DN_CLS_MAX_BYTES ((size_t)64 << 20)

typedef struct {
    int in_channels, height, width;     /* input images (1..16 channels, 1..1024 pixels a side) */
    int n_layers;                       /* conv layers, 1 .. DN_CLS_MAX_LAYERS */
    int widths[DN_CLS_MAX_LAYERS];      /* output channels of layer l (unused entries 0) */
    int strides[DN_CLS_MAX_LAYERS];     /* 1 or 2 (unused entries 0) */
    int groups;                         /* GroupNorm groups; divides every width */
    int num_classes;                    /* 2 .. DN_CLS_MAX_CLASSES */
} dn_cls_config;

/* All parameters (or all gradients). c_{-1} = in_channels, F = widths[L-1], K = num_classes. */
typedef struct {
    float *conv_w[DN_CLS_MAX_LAYERS];   /* (c_l, c_{l-1}, 3, 3) */
    float *conv_b[DN_CLS_MAX_LAYERS];   /* (c_l) */
    float *norm_w[DN_CLS_MAX_LAYERS];   /* (c_l) GroupNorm gamma */
    float *norm_b[DN_CLS_MAX_LAYERS];   /* (c_l) GroupNorm beta */
    float *fc_w;                        /* (K, F) */
    float *fc_b;                        /* (K) */
} dn_cls_params;

typedef struct {
    dn_cls_config cfg;
    dn_cls_params params;
    float *param_mem;                   /* (n_params) the one allocation */
    long n_params;
    char dataset[32];                   /* e.g. "fashion"; "" unknown */
    char class_names[DN_CLS_MAX_CLASSES][32]; /* class id -> name ("" unknown) */
    float test_accuracy;                /* share of the test split classified right; -1 unknown */
} dn_classifier;

/* Activations of the last forward (and scratch for the backward), for batches <= max_batch. */
typedef struct {
    int max_batch;
    int n;                              /* batch of the last forward */
    const float *x;                     /* input of the last forward, not owned */
    float *conv[DN_CLS_MAX_LAYERS];     /* (B, c_l, H_l W_l) conv output */
    float *gn[DN_CLS_MAX_LAYERS];       /* (B, c_l, H_l W_l) GroupNorm output */
    float *mean[DN_CLS_MAX_LAYERS];     /* (B, G) */
    float *rstd[DN_CLS_MAX_LAYERS];     /* (B, G) */
    float *act[DN_CLS_MAX_LAYERS];      /* (B, c_l, H_l W_l) SiLU output = next layer's input */
    float *feat;                        /* (B, F) pooled features */
    float *logits;                      /* (B, K) */
    float *probs;                       /* (B, K) softmax */
    float *dfeat, *dlogits;             /* (B, F), (B, K) backward scratch */
    float *s0, *s1;                     /* (B, max c_l H_l W_l) backward scratch */
    float *mem;
    size_t n_floats;
} dn_cls_acts;

/* The shipped shape: 4 layers 32 (stride 1), 64, 128, 128 (stride 2), 8 groups: 28 -> 28, 14, 7, 4. */
dn_cls_config dn_cls_default_config(int in_channels, int height, int width, int num_classes);
/* 0 if usable, else -1 + dn_error() naming the bad field. Bounds every size. */
int dn_cls_config_check(const dn_cls_config *c);
long dn_cls_param_count(const dn_cls_config *c); /* 0 if the config is invalid */
/* Height/width after layer l (a stride-2 conv maps H to ceil(H/2)). */
int dn_cls_layer_size(const dn_cls_config *c, int l, int *h, int *w);

/* Allocate zeroed parameters; names, data set empty, test_accuracy -1. 0 or -1 + dn_error(). */
int dn_cls_init(dn_classifier *m, const dn_cls_config *c);
void dn_cls_free(dn_classifier *m); /* accepts NULL and a zeroed struct */
/* PyTorch's default init: conv/linear U(-1/sqrt(fan_in), 1/sqrt(fan_in)), GroupNorm 1 and 0. */
void dn_cls_init_random(dn_classifier *m, dn_rng *r);
/* Gradients: a params struct over a new zeroed block of n_params floats (*mem, caller frees). */
int dn_cls_grads_alloc(const dn_classifier *m, dn_cls_params *grads, float **mem);

int dn_cls_acts_alloc(dn_cls_acts *a, const dn_classifier *m, int max_batch);
void dn_cls_acts_free(dn_cls_acts *a); /* accepts NULL and a zeroed struct */

/* Forward of N <= max_batch images x (N, C, H, W): fills a->feat, a->logits, a->probs.
 * x must stay unchanged until the backward. */
void dn_cls_forward(const dn_classifier *m, dn_cls_acts *a, const float *x, int N);
/* Mean cross-entropy of the last forward against labels (N) in [0, K). */
float dn_cls_loss(const dn_cls_acts *a, const int *labels, int K);
/* Backward of that loss: ADDS into grads (zero them first). */
void dn_cls_backward(const dn_classifier *m, dn_cls_acts *a, dn_cls_params *grads, const int *labels);

/* ---- training and measuring --------------------------------------------------------------------- */
typedef struct {
    int epochs;          /* passes over the (first max_images of the) training split */
    int batch;           /* images per step */
    float lr;            /* peak AdamW learning rate (warm-up 100 steps, cosine to lr/20) */
    float weight_decay;
    long max_images;     /* 0 = the whole split, else its first max_images (in shuffled order) */
    int augment;         /* 0 none, 1 random horizontal flips, 2 flips and shifts of up to 2 pixels
                          * (on fashion, 10k images x 2 epochs: 85.0% with 1, 77.9% with 2) */
    uint64_t seed;       /* init, shuffling and augmentation */
    /* called every `report_every` steps and at the end of each epoch (may be NULL) */
    void (*progress)(void *ctx, int epoch, long step, long total_steps, float loss, float train_acc);
    void *ctx;
    int report_every;
} dn_cls_train_config;

/* epochs 3, batch 64, lr 3e-3, weight decay 0.01, augment 1 (flips), seed 0, report every 100. */
dn_cls_train_config dn_cls_train_defaults(void);
/* Train m (already dn_cls_init'ed with a config matching d's image shape) from a fresh random init
 * on split d. Returns 0 or -1 + dn_error() (shape mismatch, out of memory). */
int dn_cls_train(dn_classifier *m, const dn_data *d, const dn_cls_train_config *tc);
/* Share of the first n images of d (n <= 0: all) classified correctly, in [0, 1], into *acc.
 * Returns 0 or -1 + dn_error(). */
int dn_cls_accuracy(const dn_classifier *m, const dn_data *d, long n, double *acc);
/* Features (n, F) and probabilities (n, K) of n images x (n, C, H, W), in batches of at most
 * 256; either output may be NULL. Returns 0 or -1 + dn_error() (out of memory). */
int dn_cls_apply(const dn_classifier *m, float *feat, float *probs, const float *x, long n);
/* Copy class names and data set name from an open data set. */
void dn_cls_set_names(dn_classifier *m, const dn_data *d);

/* ---- the .dfc file ------------------------------------------------------------------------------- */
/* dtype: 0 float32, 1 float16 (as model.h's dn_dtype). */
int dn_cls_encode(unsigned char **data, size_t *len, const dn_classifier *m, int dtype);
int dn_cls_save(const char *path, const dn_classifier *m, int dtype);
/* On failure *m is zeroed and -1 returned with dn_error() naming `name` / the file. */
int dn_cls_decode(dn_classifier *m, const unsigned char *data, size_t len, const char *name);
int dn_cls_load(const char *path, dn_classifier *m);

#endif
