/* blocks.h — what the networks share: the residual block and the self-attention block with their
 * forward and backward, the walk that lays out named parameters in one block of floats, and the
 * bump allocator that lays out activations in one allocation. The U-Net (unet.h) and the
 * autoencoder (autoencoder.h) are both lists of these blocks.
 *
 * ResBlock (DDPM): h = conv1(SiLU(GN1(x))) [+ temb_proj(SiLU(temb))[n,c] when the block has a
 *   time embedding, T > 0]; h = conv2(SiLU(GN2(h))); out = skip(x) + h, skip = identity when the
 *   channels agree, else a 1x1 conv. The autoencoder's blocks have no time embedding (T = 0), as
 *   in Stable Diffusion's VAE.
 * SelfAttention: out = x + proj(attention(qkv(GN(x)))), qkv and proj 1x1 convs, NH heads. */
#ifndef DN_BLOCKS_H
#define DN_BLOCKS_H
#include "base/rng.h"
#include "base/tensorfile.h"
#include <stddef.h>

/* One named parameter tensor, in the fixed order used by model files and the PyTorch twins. */
typedef struct {
    char name[48];  /* e.g. "down.1.res.0.conv1.weight" */
    int ndim;       /* 1 .. 4 */
    int shape[4];
    long numel;
    long offset;    /* index of the first value in the parameter block */
} dn_net_tensor;

/* One residual block. Cin -> Cout channels, T = temb width (0: none). */
typedef struct {
    float *norm1_w, *norm1_b; /* (Cin) */
    float *conv1_w;           /* (Cout, Cin, 3, 3) */
    float *conv1_b;           /* (Cout) */
    float *temb_w;            /* (Cout, T), NULL when T == 0 */
    float *temb_b;            /* (Cout), NULL when T == 0 */
    float *norm2_w, *norm2_b; /* (Cout) */
    float *conv2_w;           /* (Cout, Cout, 3, 3) */
    float *conv2_b;           /* (Cout) */
    float *skip_w;            /* (Cout, Cin, 1, 1), NULL when Cin == Cout */
    float *skip_b;            /* (Cout), NULL when Cin == Cout */
} dn_resblock_params;

/* One self-attention block over C channels. */
typedef struct {
    float *norm_w, *norm_b; /* (C) */
    float *qkv_w;           /* (3C, C, 1, 1): q, k, v stacked */
    float *qkv_b;           /* (3C) */
    float *proj_w;          /* (C, C, 1, 1) */
    float *proj_b;          /* (C) */
} dn_attn_params;

/* ---- activations saved by the forward pass for the backward pass --------------------------- */
typedef struct {
    float *x;                  /* input (N,Cin,HW), not owned: the previous output or a concat */
    float *gn1, *mean1, *rstd1; /* (N,Cin,HW), (N,G), (N,G) */
    float *a1;                 /* (N,Cin,HW) SiLU(gn1) */
    float *tproj;              /* (N,Cout) time projection (unused when T == 0) */
    float *h1;                 /* (N,Cout,HW) conv1 (+ time projection) */
    float *gn2, *mean2, *rstd2; /* (N,Cout,HW), (N,G), (N,G) */
    float *a2;                 /* (N,Cout,HW) SiLU(gn2) */
    float *out;                /* (N,Cout,HW) */
    int cin, cout, hw;         /* sizes */
} dn_resblock_acts;

typedef struct {
    float *x;                /* input (N,C,HW), not owned */
    float *gn, *mean, *rstd; /* (N,C,HW), (N,G), (N,G) */
    float *qkv;              /* (N,3C,HW) */
    float *att;              /* (N,heads,HW,HW) softmax weights */
    float *a;                /* (N,C,HW) attention output before proj */
    float *out;              /* (N,C,HW) x + proj(a) */
    int c, hw;
} dn_attn_acts;

/* ---- parameter layout: one walk hands out consecutive named slices ------------------------- */
typedef struct {
    float *base;             /* NULL: only count */
    long off;
    dn_net_tensor *tensors;  /* NULL: do not record */
    int nt, max_tensors;
} dn_walker;

float *dn_walk_take(dn_walker *w, int ndim, int s0, int s1, int s2, int s3, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
void dn_walk_res(dn_walker *w, dn_resblock_params *p, const char *pre, int cin, int cout, int T);
void dn_walk_attn(dn_walker *w, dn_attn_params *p, const char *pre, int c);

/* PyTorch's default init over a walked list of tensors: a name containing "norm" gets weight 1,
 * bias 0; one starting with "class_emb" N(0,1) rows; every other weight and bias
 * U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (kaiming_uniform with a = sqrt(5); a bias uses the fan_in of
 * the weight before it). */
void dn_net_init_random(float *mem, const dn_net_tensor *tensors, int n, dn_rng *r);

/* ---- activations: two passes of one layout walk (count, then slice one allocation) --------- */
typedef struct {
    float *base;             /* NULL: only count */
    size_t off;
} dn_bump;

float *dn_bump_grab(dn_bump *b, size_t n); /* every slice 64-byte aligned */
void dn_res_acts_layout(dn_resblock_acts *a, dn_bump *b, int B, int cin, int cout, int hw, int G);
void dn_attn_acts_layout(dn_attn_acts *a, dn_bump *b, int B, int c, int hw, int G, int NH);

/* ---- the blocks --------------------------------------------------------------------------------
 * Forward: x (N,Cin,H,W); temb_act (N,T) SiLU of the time embedding, or NULL when T == 0; scratch
 * holds (N, Cout, HW). Backward: adds into g and dx; dtemb_act (N,T) gets the time embedding's
 * gradient added (NULL when T == 0); dtproj (N, Cout) scratch; s0, s1 scratch of
 * (N, max(Cin, Cout), HW). */
void dn_res_forward(const dn_resblock_params *p, dn_resblock_acts *a, const float *x,
                    const float *temb_act, float *scratch, int N, int T, int G, int H, int W);
void dn_res_backward(const dn_resblock_params *p, dn_resblock_params *g, const dn_resblock_acts *a,
                     float *dx, const float *dout, const float *temb_act, float *dtemb_act,
                     float *dtproj, float *s0, float *s1, int N, int T, int G, int H, int W);
void dn_attn_forward(const dn_attn_params *p, dn_attn_acts *a, const float *x, int N, int G,
                     int NH, int H, int W);
/* s0 holds (N,C,HW), s1 (N,3C,HW). */
void dn_attn_backward(const dn_attn_params *p, dn_attn_params *g, const dn_attn_acts *a,
                      float *dx, const float *dout, float *s0, float *s1, int N, int G, int NH,
                      int H, int W);

/* ---- files: a network's tensors in its walk's order --------------------------------------------- */
/* Write n tensors of the parameter block mem (dn_tf_write_tensor; failures are kept by w). */
int dn_net_write_tensors(dn_tf_writer *w, const float *mem, const dn_net_tensor *t, int n, dn_dtype dtype);
/* Read them back from the first n tensors of f, which must have the same names, ranks and
 * shapes in the same order. 0, or -1 + dn_error ("cannot load <what> '<name>': tensor 3 is ..."). */
int dn_net_read_tensors(const dn_tf *f, float *mem, const dn_net_tensor *t, int n, const char *what,
                        const char *name);

/* y[i] += x[i] for n values */
void dn_add_into(float *y, const float *x, long n);

/* FLOPs as unet.h counts them (2 per multiply-add). */
double dn_conv_flops(int ci, int co, int k, int hwo);
double dn_res_flops(int ci, int co, int T, int hw);
double dn_attn_flops(int c, int hw);

#endif
