/* unet.h — the noise predictor: a miniature of the DDPM U-Net (Ho et al. 2020) with a time and
 * class embedding, a forward pass and a backward pass, built from the layers of nn.h.
 *
 * Architecture (L = n_levels, B = blocks, c_l = base_width * mults[l]):
 *   temb = lin2(SiLU(lin1(sinusoid(t, base_width)))) + class_emb[y]          (N, temb_width)
 *   h = conv_in(x) (3x3)                                                     skip 0
 *   for l in 0..L-1:  B x [ResBlock -> c_l, then SelfAttention if level l has attention]  skip each
 *                     if l < L-1: downsample = conv3x3 stride 2 (same channels)          skip
 *   middle: ResBlock, SelfAttention, ResBlock (width c_{L-1})
 *   for l in L-1..0:  B+1 x [concat(h, last skip) -> ResBlock -> c_l, SelfAttention if level l]
 *                     if l > 0: nearest 2x upsample, conv3x3
 *   out = conv_out(SiLU(GroupNorm(h))) (3x3)
 * ResBlock(x): h = conv1(SiLU(GN1(x))) + temb_proj(SiLU(temb))[n,c]; h = conv2(SiLU(GN2(h)));
 *   out = skip(x) + h, skip = identity when channels agree, else a 1x1 conv.
 * SelfAttention(x): out = x + proj(attention(qkv(GN(x)))), qkv and proj 1x1 convs, `heads` heads.
 *
 * Sizes: a stride-2 conv with padding 1 maps H to ceil(H/2), and the 2x upsample maps it back to
 * 2 ceil(H/2), which equals H only for even H. So the image height and width must be divisible by
 * 2^(L-1) (checked by dn_unet_config_check): 28 -> 14 -> 7 and 32 -> 16 -> 8 both work; an odd
 * size only ever appears at the lowest level, which is never downsampled.
 *
 * Conditioning: class ids run 0..num_classes-1; id num_classes is the "null" class (no
 * condition), so one network gives the conditional and the unconditional prediction that
 * classifier-free guidance combines (dn_cfg_combine in sampler.h): run a batch of 2 with ids
 * (y, num_classes) and combine. With num_classes = 0 every id must be 0 (the null class).
 * Initialisation, training data and the class-dropout rate that teaches the null class are the
 * trainer's business; the network only reserves the row.
 *
 * The plan: dn_unet_init turns the config into the list of blocks above, in order (m->plan: a
 * ResBlock, a SelfAttention, a downsample or an upsample each, with its level, channels and the
 * skips it makes or takes). Every pass walks that one list: the parameter layout and names,
 * the activations, forward, backward (the list reversed), the FLOP count and the config check.
 *
 * Memory (llm.c style): parameters are one allocation with pointers into it (dn_unet_params);
 * gradients reuse the same struct type with their own allocation; the activations saved for
 * backward are one allocation sized for a maximum batch (dn_unet_acts). */
#ifndef DN_UNET_H
#define DN_UNET_H
#include "base/rng.h"
#include "nets/blocks.h"
#include <stddef.h>

/* What the network is trained to output (diffusers' prediction_type): the noise, the velocity
 * v = sqrt(abar) eps - sqrt(1 - abar) x0, or the clean image. The samplers convert (sampler.h). */
typedef enum { DN_PRED_EPSILON, DN_PRED_V, DN_PRED_SAMPLE } dn_pred_type;

#define DN_UNET_MAX_LEVELS 4
#define DN_UNET_MAX_BLOCKS 4
/* Skips: conv_in + per level (B blocks + one downsample). */
#define DN_UNET_MAX_SKIPS (1 + DN_UNET_MAX_LEVELS * (DN_UNET_MAX_BLOCKS + 1))
/* Blocks of the plan: per level B ResBlocks (+ attention) down, B+1 up, a down- and an upsample
 * between levels, and the middle three. */
#define DN_UNET_MAX_PLAN (DN_UNET_MAX_LEVELS * (4 * DN_UNET_MAX_BLOCKS + 2) + 2 * (DN_UNET_MAX_LEVELS - 1) + 3)


typedef struct {
    int in_channels, out_channels; /* image channels (1 grey, 3 RGB) */
    int height, width;             /* image size; divisible by 2^(n_levels-1) */
    int base_width;                /* also the width of the sinusoidal time features (even) */
    int n_levels;                  /* 1 .. DN_UNET_MAX_LEVELS resolutions */
    int mults[DN_UNET_MAX_LEVELS]; /* level l has base_width * mults[l] channels */
    int blocks;                    /* ResBlocks per level going down (B+1 going up) */
    int attn_levels;               /* bit l set: self-attention after every ResBlock of level l */
    int groups;                    /* GroupNorm groups; divides every channel count */
    int heads;                     /* attention heads; divides the channels of attention levels */
    int temb_width;                /* width of the time (and class) embedding */
    int num_classes;               /* 0 = unconditional; the class table has num_classes+1 rows */
    int prediction;                /* dn_pred_type: DN_PRED_EPSILON or DN_PRED_V */
} dn_unet_config;


/* One block of the plan. */
typedef enum { DN_BLOCK_RES, DN_BLOCK_ATTN, DN_BLOCK_DOWN, DN_BLOCK_UP } dn_block_kind;
typedef struct {
    dn_block_kind kind;
    int level;         /* the resolution of its input: (H >> level) x (W >> level) */
    int cin, cout;     /* channels in and out (an up ResBlock's cin includes the skip it takes) */
    int skip_in;       /* the skip an up ResBlock concatenates to its input first, else -1 */
    int skip_out;      /* the skip its output becomes (down path and middle input), else -1 */
    char name[40];     /* prefix of its parameter names: "down.1.res.0", "mid.attn", "up.2.up" */
} dn_unet_block;

/* The parameters of one block: res (DN_BLOCK_RES), attn (DN_BLOCK_ATTN), or the 3x3 conv of a
 * down- or upsample, conv_w (c, c, 3, 3) and conv_b (c). */
typedef struct {
    dn_resblock_params res;
    dn_attn_params attn;
    float *conv_w, *conv_b;
} dn_block_params;

/* All parameters (or all gradients). S = base_width, T = temb_width, c_l as above. */
typedef struct {
    float *time1_w;   /* (T, S) */
    float *time1_b;   /* (T) */
    float *time2_w;   /* (T, T) */
    float *time2_b;   /* (T) */
    float *class_emb; /* (num_classes + 1, T); the last row is the null class */
    float *conv_in_w; /* (c_0, in_channels, 3, 3) */
    float *conv_in_b; /* (c_0) */
    dn_block_params blocks[DN_UNET_MAX_PLAN]; /* block i of the plan */
    float *norm_out_w, *norm_out_b;  /* (c_0) */
    float *conv_out_w;               /* (out_channels, c_0, 3, 3) */
    float *conv_out_b;               /* (out_channels) */
} dn_unet_params;


#define DN_UNET_MAX_TENSORS 768 /* enough for the largest config the checks allow */

/* A network: config, parameters (one block of n_params floats). */
typedef struct {
    dn_unet_config cfg;
    dn_unet_params params;
    float *param_mem;                  /* (n_params) */
    long n_params;
    int n_tensors;
    dn_net_tensor tensors[DN_UNET_MAX_TENSORS];
    int n_blocks;                      /* the plan: what every pass walks */
    dn_unet_block plan[DN_UNET_MAX_PLAN];
} dn_unet;


/* What one block of the plan keeps: res or attn, or for a down- or upsample its output (and the
 * upsampled input of the upsample's conv); cat, an up ResBlock's input (B, cin, HW). */
typedef struct {
    dn_resblock_acts res;
    dn_attn_acts attn;
    float *cat, *ups, *out;
    const float *y;     /* the block's output (res.out, attn.out or out) */
} dn_block_acts;

typedef struct {
    int max_batch;
    int n;              /* batch of the last forward */
    int *ids;           /* (max_batch) class ids of the last forward */
    float *tsin;        /* (B, S) sinusoidal features */
    float *t1, *t1a;    /* (B, T) lin1 output, SiLU of it */
    float *temb;        /* (B, T) lin2 + class embedding */
    float *temb_act;    /* (B, T) SiLU(temb), input of every ResBlock's projection */
    const float *x;     /* the input of the last forward, not owned */
    float *conv_in;     /* (B, c_0, HW) */
    dn_block_acts blocks[DN_UNET_MAX_PLAN];     /* block i of the plan */
    float *gn_out, *mean_out, *rstd_out;        /* (B, c_0, HW), (B, G) x2 */
    float *a_out;                               /* (B, c_0, HW) */
    /* skips in push order: pointer, channels, positions */
    int n_skips;
    float *skip[DN_UNET_MAX_SKIPS];
    int skip_c[DN_UNET_MAX_SKIPS], skip_hw[DN_UNET_MAX_SKIPS]; /* channels, positions */
    /* backward work space */
    float *dskip[DN_UNET_MAX_SKIPS];            /* gradients of the skips, same sizes */
    float *s0, *s1, *s2, *g0, *g1;              /* (B, max channels x HW) each */
    float *dtproj;                              /* (B, max channels) */
    float *dtemb_act, *dtemb, *dt1a, *dt1;      /* (B, T) */
    long scratch_len;                           /* floats per scratch buffer for max_batch */
    float *mem;                                 /* the one allocation */
    size_t n_floats;
} dn_unet_acts;

/* The default: 3x32x32 images, base 32, mults (1,2,2), one block per level, attention at the
 * lowest level, 8 groups, 1 head, temb 128, 10 classes, epsilon prediction. */
dn_unet_config dn_unet_default_config(int in_channels, int height, int width, int num_classes);
/* 0 if the config is usable, else -1 with dn_error() naming the bad field. Bounds every size
 * (width <= 1024, image <= 1024, ...) so a config read from a file cannot ask for absurd memory. */
int dn_unet_config_check(const dn_unet_config *c);

/* Allocate the parameters for a config (zeroed). Returns 0 or -1 + dn_error(). */
int dn_unet_init(dn_unet *m, const dn_unet_config *c);
void dn_unet_free(dn_unet *m); /* accepts NULL and a zeroed struct */
/* PyTorch's default init: conv and linear weights and biases U(-1/sqrt(fan_in), 1/sqrt(fan_in))
 * (kaiming_uniform with a = sqrt(5)), GroupNorm weight 1 and bias 0, embedding rows N(0,1). */
void dn_unet_init_random(dn_unet *m, dn_rng *r);

/* Gradients: a parameter struct over a new zeroed block of m->n_params floats (*mem). The pointers
 * sit at the same offsets as m->params, so grads_mem[i] is the gradient of m->param_mem[i]. */
int dn_unet_grads_alloc(const dn_unet *m, dn_unet_params *grads, float **mem);

/* Activations for batches up to max_batch. Returns 0 or -1 + dn_error(). */
int dn_unet_acts_alloc(dn_unet_acts *a, const dn_unet *m, int max_batch);
void dn_unet_acts_free(dn_unet_acts *a); /* accepts NULL and a zeroed struct */

/* Forward for N <= a->max_batch images. x: (N,in,H,W); t: (N) timesteps; ids: (N) class ids in
 * [0, num_classes] (num_classes = null class); out: (N,out,H,W). x must stay unchanged until
 * backward (it is read again there). */
void dn_unet_forward(const dn_unet *m, dn_unet_acts *a, float *out, const float *x,
                     const float *t, const int *ids, int N);
/* Backward of the last forward: dout (N,out,H,W) is dLoss/dout; ADDS into grads (zero them first)
 * and writes dx (N,in,H,W) (overwritten, not added) when dx is not NULL. */
void dn_unet_backward(const dn_unet *m, dn_unet_acts *a, dn_unet_params *grads, float *dx,
                      const float *dout);

/* Floating-point operations of one forward for one image (2 per multiply-add; convolutions,
 * linear layers and attention products; elementwise work not counted). Backward is about 2x. */
double dn_unet_flops(const dn_unet_config *c);
/* Parameters a config has, without allocating (0 if the config is invalid). */
long dn_unet_param_count(const dn_unet_config *c);

#endif
