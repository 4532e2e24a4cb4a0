/* autoencoder.h — the encoder and decoder of latent diffusion: a picture (C, H, W) becomes a small
 * latent (Z, H/f, W/f) and back, as Stable Diffusion's AutoencoderKL does (Rombach et al. 2022),
 * in miniature. Diffusion then runs on latents: 64x64x3 = 12,288 numbers become 16x16x4 = 1,024.
 *
 * Architecture (L = n_levels, B = blocks, c_l = widths[l], f = 2^(L-1), Z = latent_channels):
 *   encoder:  h = conv_in(x)                                    3x3, C -> c_0      at H x W
 *             for l in 0..L-1:  B x ResBlock -> c_l;  if l < L-1: conv3x3 stride 2 (c_l -> c_l)
 *             middle: ResBlock (c_{L-1})
 *             moments = conv_out(SiLU(GroupNorm(h)))           3x3, c_{L-1} -> 2Z  at H/f x W/f
 *             mean = moments[:Z], logvar = clamp(moments[Z:], -30, 20)  (a diagonal Gaussian)
 *   latent:   z = mean + exp(logvar / 2) eps in training (eps ~ N(0, I)), z = mean to encode
 *   decoder:  h = conv_in(z)                                    3x3, Z -> c_{L-1}
 *             middle: ResBlock (c_{L-1})
 *             for l in L-1..0:  B x ResBlock -> c_l;  if l > 0: nearest 2x upsample, conv3x3 c_l -> c_{l-1}
 *             x' = conv_out(SiLU(GroupNorm(h)))                 3x3, c_0 -> C
 * ResBlocks are blocks.h's without a time embedding. The defaults (widths 16, 32, 64, one block,
 * f = 4, Z = 4) cost about 150 MFLOP to encode and 230 to decode a 64x64 picture.
 *
 * Scale factor: diffusion wants latents of about unit variance; the trainer measures
 * 1 / std of the training latents (LDM's scale_by_std; Stable Diffusion's is 0.18215) and the file
 * keeps it. The latent U-Net sees z * scale and the decoder gets z_diffused / scale.
 *
 * Each network is a list of operations (m->ops: a conv, a stride-2 conv, an upsample + conv, a
 * ResBlock, a GroupNorm + SiLU), the encoder's first, then the decoder's. The parameter layout and
 * names, the activations, forward, backward and the FLOP count all walk that one list. The network
 * is fully convolutional: the activations are laid out for one picture size (any multiple of f).
 *
 * File (.dfa): the container of base/tensorfile.h, kind "autoencoder": config entries
 * ("autoencoder.*"), scale_factor, what it was trained on, the measured PSNRs, and the weights
 * (docs/MODEL_FORMAT.md). The loader refuses a damaged or inconsistent file with one line. */
#ifndef DN_AUTOENCODER_H
#define DN_AUTOENCODER_H
#include "base/rng.h"
#include "base/tensorfile.h"
#include "nets/blocks.h"
#include <stddef.h>

#define DN_AE_KIND "autoencoder"
#define DN_AE_MAX_LEVELS 5
#define DN_AE_MAX_BLOCKS 4
/* encoder: conv_in, per level B res + down, mid, norm, conv_out; decoder likewise */
#define DN_AE_MAX_OPS (2 * (DN_AE_MAX_LEVELS * (DN_AE_MAX_BLOCKS + 1) + 4))
#define DN_AE_MAX_TENSORS (DN_AE_MAX_OPS * 12)
#define DN_AE_MAX_BYTES ((size_t)64 << 20)
#define DN_AE_LOGVAR_MIN (-30.0f)
#define DN_AE_LOGVAR_MAX 20.0f

typedef struct {
    int in_channels;                /* picture channels (3 RGB, 1 grey) */
    int height, width;              /* the picture size it was trained at (any multiple of f works) */
    int latent_channels;            /* Z */
    int n_levels;                   /* L: f = 2^(L-1) */
    int widths[DN_AE_MAX_LEVELS];   /* channels of level l */
    int blocks;                     /* ResBlocks per level, each way */
    int groups;                     /* GroupNorm groups; divides every width */
} dn_ae_config;

typedef enum { DN_AE_CONV, DN_AE_DOWN, DN_AE_UP, DN_AE_RES, DN_AE_NORM } dn_ae_op_kind;

/* One operation: its input is at level `level` ((H >> level) x (W >> level)); a DOWN's output is
 * one level lower, an UP's one level higher. */
typedef struct {
    dn_ae_op_kind kind;
    int level, cin, cout;
    char name[48]; /* parameter prefix: "enc.down.1.res.0", "dec.up.2.up", "dec.conv_out" */
} dn_ae_op;

/* The parameters of one operation: res for a ResBlock; w, b the conv's weight (cout, cin, 3, 3)
 * and bias; for a NORM, w and b are GroupNorm's gamma and beta (cin). */
typedef struct {
    dn_resblock_params res;
    float *w, *b;
} dn_ae_op_params;

typedef struct {
    dn_ae_op_params op[DN_AE_MAX_OPS];
} dn_ae_params;

typedef struct {
    dn_ae_config cfg;
    int n_ops, n_enc;               /* ops[0 .. n_enc-1] encode, ops[n_enc .. n_ops-1] decode */
    dn_ae_op ops[DN_AE_MAX_OPS];
    dn_ae_params params;
    float *param_mem;               /* (n_params), the one allocation */
    long n_params, n_enc_params;    /* the encoder's come first */
    int n_tensors;
    dn_net_tensor tensors[DN_AE_MAX_TENSORS];
    float scale_factor;             /* 1 / std of the training latents; 1 until measured */
    char trained_on[128];           /* e.g. "pets64 + 9 photos (mate-backgrounds)"; "" unknown */
    float psnr_pets, psnr_photos;   /* held-out reconstruction PSNR in dB; 0 unknown */
} dn_autoencoder;

/* What one operation keeps for the backward pass. */
typedef struct {
    dn_resblock_acts res;
    float *ups;                     /* UP: the upsampled input (N, cin, 4 HW) */
    float *gn, *mean, *rstd;        /* NORM: GroupNorm output and statistics */
    float *out;                     /* CONV, DOWN, UP, NORM: the output */
    const float *x;                 /* the input, not owned */
    const float *y;                 /* the output (res.out or out) */
} dn_ae_op_acts;

typedef struct {
    int max_batch, height, width;   /* the picture size these activations are laid out for */
    int n;                          /* batch of the last encoder or decoder forward */
    dn_ae_op_acts op[DN_AE_MAX_OPS];
    float *s0, *s1, *g0, *g1, *scratch; /* work space, (B, max channels x HW) each */
    long scratch_len;
    float *mem;
    size_t n_floats;
} dn_ae_acts;

/* The default: 3x64x64, Z = 4, widths 16, 32, 64 (f = 4), one block, 8 groups. */
dn_ae_config dn_ae_default_config(void);
/* 0 if usable, else -1 + dn_error() naming the bad field (every size bounded). */
int dn_ae_config_check(const dn_ae_config *c);
int dn_ae_factor(const dn_ae_config *c); /* f = 2^(n_levels - 1) */
long dn_ae_param_count(const dn_ae_config *c); /* 0 if the config is invalid */

/* Allocate zeroed parameters (scale 1, nothing measured). 0 or -1 + dn_error(). */
int dn_ae_init(dn_autoencoder *m, const dn_ae_config *c);
void dn_ae_free(dn_autoencoder *m); /* accepts NULL and a zeroed struct */
/* PyTorch's default init (blocks.h's dn_net_init_random). */
void dn_ae_init_random(dn_autoencoder *m, dn_rng *r);
/* Gradients: a params struct over a new zeroed block of n_params floats (*mem, caller frees);
 * (*mem)[i] is the gradient of m->param_mem[i]. */
int dn_ae_grads_alloc(const dn_autoencoder *m, dn_ae_params *grads, float **mem);

/* Activations for batches up to max_batch of height x width pictures (multiples of f). */
int dn_ae_acts_alloc(dn_ae_acts *a, const dn_autoencoder *m, int max_batch, int height, int width);
void dn_ae_acts_free(dn_ae_acts *a); /* accepts NULL and a zeroed struct */

/* Encoder: x (N, C, H, W) in [-1, 1] -> moments (N, 2Z, H/f, W/f): the means, then the raw
 * log-variances (clamp them with dn_ae_logvar). x must stay unchanged until the backward.
 * The returned pointer lives in a (valid until the next encode). */
const float *dn_ae_encode_forward(const dn_autoencoder *m, dn_ae_acts *a, const float *x, int N);
/* Decoder: z (N, Z, H/f, W/f) -> out (N, C, H, W). z must stay unchanged until the backward. */
void dn_ae_decode_forward(const dn_autoencoder *m, dn_ae_acts *a, float *out, const float *z, int N);
/* Backward of the last decode: dout (N, C, H, W); ADDS into grads (zero them first); writes dz
 * (overwritten) when not NULL. */
void dn_ae_decode_backward(const dn_autoencoder *m, dn_ae_acts *a, dn_ae_params *grads, float *dz,
                           const float *dout);
/* Backward of the last encode: dmoments (N, 2Z, H/f, W/f); ADDS into grads. */
void dn_ae_encode_backward(const dn_autoencoder *m, dn_ae_acts *a, dn_ae_params *grads,
                           const float *dmoments);

/* logvar clamped to [DN_AE_LOGVAR_MIN, DN_AE_LOGVAR_MAX], as AutoencoderKL does. */
float dn_ae_logvar(float raw);

/* Whole pictures, in batches that fit a (which must be laid out for the pictures' size): the
 * deterministic latent (the mean) of n pictures, and the pictures of n latents. Unscaled. */
void dn_ae_encode(const dn_autoencoder *m, dn_ae_acts *a, float *z, const float *x, long n);
void dn_ae_decode(const dn_autoencoder *m, dn_ae_acts *a, float *x, const float *z, long n);

/* FLOPs of one encode and one decode of one height x width picture (2 per multiply-add). */
double dn_ae_encode_flops(const dn_ae_config *c, int height, int width);
double dn_ae_decode_flops(const dn_ae_config *c, int height, int width);

/* ---- the .dfa file ------------------------------------------------------------------------------ */
int dn_ae_encode_file(unsigned char **data, size_t *len, const dn_autoencoder *m, dn_dtype dtype);
int dn_ae_save(const char *path, const dn_autoencoder *m, dn_dtype dtype);
/* Read an autoencoder from a parsed container whose first tensors are its weights (a checkpoint
 * adds its own after them: extra_tensors). On failure *m is zeroed. */
int dn_ae_read(const dn_tf *f, dn_autoencoder *m, const char *name, int extra_tensors);
int dn_ae_decode_file(dn_autoencoder *m, const unsigned char *data, size_t len, const char *name);
int dn_ae_load(const char *path, dn_autoencoder *m);
/* Write the autoencoder's entries and weights into a file being written (a checkpoint). */
int dn_ae_write(dn_tf_writer *w, const dn_autoencoder *m, dn_dtype dtype);

#endif
