/* nn.h — the neural-network layers the U-Net is built from, each a forward and a backward.
 * Conventions (llm.c style): tensors are float32, contiguous, NCHW; outputs come first, then
 * const inputs, then sizes; kernels cannot fail and return void. Backward passes ADD into the
 * gradients they are given (dx[i] += ...): the caller zeroes them. A gradient pointer may be NULL
 * when that gradient is not wanted (e.g. dx of the first layer).
 * Every kernel with a fast version has a *_naive twin beside it: the plain loops of the
 * definition, short enough to read in one screen, kept as the oracle the tests compare the fast
 * one against (conv2d, GroupNorm, SiLU, upsampling, concatenation, per-channel add, attention;
 * nn_naive.c). A student reads the _naive one first. Fast
 * kernels (nn_conv.c: conv2d as register-tiled GEMMs over shifted copies of the image; nn.c:
 * attention through SGEMM, vectorised GroupNorm / SiLU) use the thread pool of parallel.h and
 * give the same bits for any thread count: each output element is computed by one task in a
 * fixed order, and sums over the batch (weight gradients) run in batch order inside one task.
 * They exist once per instruction set (kernels.h picks one) and give the same bits on every CPU;
 * linear, embedding, timestep embedding and MSE are plain loops (nn_small.c).
 * Scratch memory comes from parallel.h's per-thread workspace (allocated once, reused; out of
 * memory there is recorded, the kernel skips its work, and dn_workspace_check reports it).
 * tests/test_nn.c checks every layer. */
#ifndef DN_NN_H
#define DN_NN_H
#include "nn/kernel_names.h"

/* ---- conv2d (3x3 and 1x1, stride 1 or 2, zero padding K/2) ------------------------------------
 * x: (N,C,H,W); w: (OC,C,K,K); b: (OC) or NULL; out: (N,OC,Ho,Wo) with
 * Ho = (H + 2*(K/2) - K) / stride + 1 (and Wo likewise). */
void dn_conv2d_forward(float *out, const float *x, const float *w, const float *b,
                       int N, int C, int H, int W, int OC, int K, int stride);
/* dx: (N,C,H,W) or NULL; dw: (OC,C,K,K); db: (OC) or NULL; dout: (N,OC,Ho,Wo). */
void dn_conv2d_backward(float *dx, float *dw, float *db, const float *dout, const float *x,
                        const float *w, int N, int C, int H, int W, int OC, int K, int stride);
void dn_conv2d_forward_naive(float *out, const float *x, const float *w, const float *b,
                             int N, int C, int H, int W, int OC, int K, int stride);
void dn_conv2d_backward_naive(float *dx, float *dw, float *db, const float *dout, const float *x,
                              const float *w, int N, int C, int H, int W, int OC, int K, int stride);
int dn_conv2d_out_size(int H, int K, int stride);

/* ---- GroupNorm (Wu & He 2018), eps = 1e-5 like torch.nn.GroupNorm ------------------------------
 * x, out: (N,C,HW); gamma, beta: (C); mean, rstd: (N,G) written by forward, read by backward.
 * C is a multiple of G. */
void dn_groupnorm_forward(float *out, float *mean, float *rstd, const float *x,
                          const float *gamma, const float *beta, int N, int C, int HW, int G);
void dn_groupnorm_backward(float *dx, float *dgamma, float *dbeta, const float *dout,
                           const float *x, const float *mean, const float *rstd,
                           const float *gamma, int N, int C, int HW, int G);
void dn_groupnorm_forward_naive(float *out, float *mean, float *rstd, const float *x,
                                const float *gamma, const float *beta, int N, int C, int HW, int G);
void dn_groupnorm_backward_naive(float *dx, float *dgamma, float *dbeta, const float *dout,
                                 const float *x, const float *mean, const float *rstd,
                                 const float *gamma, int N, int C, int HW, int G);

/* ---- SiLU: y = x * sigmoid(x) (elementwise, n values) ------------------------------------------ */
void dn_silu_forward(float *out, const float *x, long n);
void dn_silu_backward(float *dx, const float *dout, const float *x, long n);
void dn_silu_forward_naive(float *out, const float *x, long n);
void dn_silu_backward_naive(float *dx, const float *dout, const float *x, long n);

/* ---- linear: out = x w^T + b ---------------------------------------------------------------------
 * x: (N,IN); w: (OUT,IN); b: (OUT) or NULL; out: (N,OUT). */
void dn_linear_forward(float *out, const float *x, const float *w, const float *b,
                       int N, int IN, int OUT);
void dn_linear_backward(float *dx, float *dw, float *db, const float *dout, const float *x,
                        const float *w, int N, int IN, int OUT);

/* ---- embedding lookup: out[n] = table[ids[n]] -----------------------------------------------------
 * ids: (N) each in [0,V); table: (V,D); out: (N,D). */
void dn_embedding_forward(float *out, const int *ids, const float *table, int N, int V, int D);
void dn_embedding_backward(float *dtable, const float *dout, const int *ids, int N, int V, int D);

/* ---- nearest-neighbour 2x upsampling ---------------------------------------------------------------
 * x: (N,C,H,W); out: (N,C,2H,2W). */
void dn_upsample2x_forward(float *out, const float *x, int N, int C, int H, int W);
void dn_upsample2x_backward(float *dx, const float *dout, int N, int C, int H, int W);
void dn_upsample2x_forward_naive(float *out, const float *x, int N, int C, int H, int W);
void dn_upsample2x_backward_naive(float *dx, const float *dout, int N, int C, int H, int W);

/* ---- channel concatenation (U-Net skip connections) -----------------------------------------------
 * a: (N,Ca,HW); b: (N,Cb,HW); out: (N,Ca+Cb,HW). */
void dn_concat_forward(float *out, const float *a, const float *b, int N, int Ca, int Cb, int HW);
void dn_concat_backward(float *da, float *db, const float *dout, int N, int Ca, int Cb, int HW);
void dn_concat_forward_naive(float *out, const float *a, const float *b, int N, int Ca, int Cb, int HW);
void dn_concat_backward_naive(float *da, float *db, const float *dout, int N, int Ca, int Cb, int HW);

/* ---- per-channel add: out[n,c,:] = x[n,c,:] + bias[n,c] (the time embedding into a ResBlock) --- */
void dn_add_channel_forward(float *out, const float *x, const float *bias, int N, int C, int HW);
void dn_add_channel_backward(float *dx, float *dbias, const float *dout, int N, int C, int HW);
void dn_add_channel_forward_naive(float *out, const float *x, const float *bias, int N, int C, int HW);
void dn_add_channel_backward_naive(float *dx, float *dbias, const float *dout, int N, int C, int HW);

/* ---- multi-head self-attention over spatial positions (Vaswani et al. 2017, scaled dot product)
 * qkv: (N,3C,HW), the output of a 1x1 conv: channels [0,C) are q, [C,2C) k, [2C,3C) v; each
 * splits into NH heads of D = C/NH channels. att: (N,NH,HW,HW) softmax(q^T k / sqrt(D)) written by
 * forward and read by backward; out: (N,C,HW), out[n,h*D+d,i] = sum_j att[n,h,i,j] v[n,h*D+d,j]. */
void dn_attention_forward(float *out, float *att, const float *qkv, int N, int C, int HW, int NH);
void dn_attention_backward(float *dqkv, const float *dout, const float *qkv, const float *att,
                           int N, int C, int HW, int NH);
/* The plain loops (oracle); same contract. */
void dn_attention_forward_naive(float *out, float *att, const float *qkv, int N, int C, int HW, int NH);
void dn_attention_backward_naive(float *dqkv, const float *dout, const float *qkv, const float *att,
                                 int N, int C, int HW, int NH);

/* ---- sinusoidal timestep embedding (DDPM; diffusers' get_timestep_embedding with
 * flip_sin_to_cos=True, downscale_freq_shift=0, max_period=10000) ---------------------------------
 * t: (N) timesteps (float so fractional Euler timesteps work); out: (N,D), D even:
 * f_i = exp(-ln(10000) i / (D/2)); out[n,i] = cos(t f_i), out[n,D/2+i] = sin(t f_i). No backward. */
void dn_timestep_embedding(float *out, const float *t, int N, int D);

/* ---- mean squared error ----------------------------------------------------------------------------
 * Returns mean((pred - target)^2) over n values (accumulated in double). Backward adds
 * 2 (pred - target) / n * dloss into dpred. */
float dn_mse_forward(const float *pred, const float *target, long n);
void dn_mse_backward(float *dpred, const float *pred, const float *target, long n, float dloss);

#endif
