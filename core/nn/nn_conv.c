/* nn_conv.c — the fast conv2d of nn.h (the plain loops are in nn_naive.c).
 * conv2d is a matrix product: out_n (OC, pixels) = W (OC, C*K*K) * cols_n (C*K*K, pixels) + b,
 * cols being the im2col matrix: row (c,ky,kx), column (oy,ox) holds x[c, s*oy+ky-p, s*ox+kx-p]
 * (p = K/2, zero outside the image). It is never built. Instead, for each channel c, row phase
 * a < s and column tap kx < K, a "shifted plane" holds
 *     Q[c,a,kx][u*Wo + ox] = x[c, s*u + a - p, s*ox + kx - p]        (zero outside)
 * for the output's own width Wo. Then row (c,ky,kx) of cols is the contiguous slice of
 * Q[c, ky%s, kx] starting at (ky/s)*Wo, indexed by the output's flat q = oy*Wo + ox: every
 * product reads its operands in place, with no junk columns, and the tiles of the register-
 * tiled micro-kernel of gemm.c (dn_gemm_kernel_gen) land straight in out. (At stride 1 the K
 * planes of a channel are the padded image shifted by kx - p; they cost 3x the input to build,
 * against 9*OC multiply-adds per input value.)
 *  forward:  per (image, stripe of output rows): build the stripe's planes, then for each block
 *            of NR pixels and MR output channels (the tile of isa.h), the kernel over k = (c,ky,kx).
 *  dx:       stride 1: a forward conv of dout with the weights transposed (C <-> OC) and flipped
 *            (ky,kx -> K-1-ky, K-1-kx), added into dx; stride 2: dcols = W^T dout_n by SGEMM,
 *            then col2im adds each entry back to the pixel it came from.
 *  dw, db:   dw[o, (c,ky,kx)] = sum_{n,q} dout[n,o,q] cols_n[(c,ky,kx), q]: the planes give the
 *            MR cols values of a row panel (broadcast) and dout, copied channels-last, a row of NR
 *            output channels per q (vector), so it is the same kernel with k running over q.
 * Work is split over (image, stripe) for the forward and dx, over rows of dw for dw; every output
 * element is computed by one task in a fixed order (weight gradients sum the batch in order
 * inside one task): the same bits for any thread count. A kernel file (isa.h): compiled once per
 * instruction set; the tile changes which outputs are computed together, not their bits. */
#include "nn/gemm.h"
#include "nn/isa.h"
#include "nn/nn.h"
#include "base/parallel.h"
#include <assert.h>
#include <string.h>

#define MR DN_GEMM_MR
#define NR DN_GEMM_NR
#define QB 128 /* pixels per block of the weight-gradient sum */

static int imin(int a, int b) { return a < b ? a : b; }
static long round_up(long a, long m) { return (a + m - 1) / m * m; }

/* ---- shifted planes ---------------------------------------------------------------------------- */

/* The planes of output rows [y0, y0+hs) of one image xn (C,H,W): Q[c,a,kx] at
 * xq + ((c*s + a)*K + kx)*Lv, rows u = 0 .. hs + (K-1)/s - 1 standing for u + y0. */
static void make_planes(float *xq, const float *xn, int C, int H, int W, int K, int s, int Wo,
                        long Lv, int y0, int hs) {
    int p = K / 2, ur = hs + (K - 1) / s;
    long HW = (long)H * W;
    for (int c = 0; c < C; c++)
        for (int a = 0; a < s; a++)
            for (int kx = 0; kx < K; kx++) {
                float *P = xq + ((long)(c * s + a) * K + kx) * Lv;
                const float *xc = xn + (long)c * HW;
                int ix0 = kx - p; /* input column of ox = 0 */
                if (s == 1) {
                    /* the image shifted by (y0 - p, ix0) is one flat copy; then zero what was
                     * read across a row end (the first -ix0 or last ix0 columns of each row) */
                    long f0 = (long)(y0 - p) * W + ix0, L = (long)ur * W;
                    long c0 = f0 < 0 ? -f0 : 0, c1 = f0 + L > HW ? HW - f0 : L;
                    if (c1 < c0) c1 = c0;
                    memset(P, 0, (size_t)c0 * sizeof(float));
                    memcpy(P + c0, xc + f0 + c0, (size_t)(c1 - c0) * sizeof(float));
                    memset(P + c1, 0, (size_t)(Lv - c1) * sizeof(float));
                    for (int u = 0; u < ur && ix0 != 0; u++) {
                        float *d = P + (long)u * W;
                        for (int i = 0; i < (ix0 < 0 ? -ix0 : ix0); i++) d[ix0 < 0 ? i : W - 1 - i] = 0.0f;
                    }
                    /* rows above and below the image */
                    for (int u = 0; u < ur; u++) {
                        int iy = y0 + u - p;
                        if (iy < 0 || iy >= H) memset(P + (long)u * W, 0, (size_t)W * sizeof(float));
                    }
                    continue;
                }
                int lo = ix0 >= 0 ? 0 : (-ix0 + s - 1) / s;                  /* first ox inside */
                int hi = ix0 > W - 1 ? 0 : imin(Wo, (W - 1 - ix0) / s + 1); /* first ox past */
                if (lo > hi) lo = hi;
                for (int u = 0; u < ur; u++) {
                    float *d = P + (long)u * Wo;
                    int iy = s * (y0 + u) + a - p;
                    if (iy < 0 || iy >= H) {
                        memset(d, 0, (size_t)Wo * sizeof(float));
                        continue;
                    }
                    const float *row = xc + (long)iy * W;
                    for (int ox = 0; ox < lo; ox++) d[ox] = 0.0f;
                    for (int ox = lo; ox < hi; ox++) d[ox] = row[s * ox + ix0];
                    for (int ox = hi; ox < Wo; ox++) d[ox] = 0.0f;
                }
                memset(P + (long)ur * Wo, 0, (size_t)(Lv - (long)ur * Wo) * sizeof(float));
            }
}

/* Floats per plane for a stripe of hs output rows. */
static long plane_len(int hs, int K, int s, int Wo) { return round_up((long)(hs + (K - 1) / s) * Wo, 16); }

/* Where row r = (c,ky,kx) of cols starts, relative to the planes (K = 1, s = 1: x itself); rows
 * past C*K*K (padding to a whole panel) repeat the last row. */
static void row_offsets(long *offs, int nrows, int C, int K, int s, int Wo, long Lv, long HW, int direct) {
    int r = 0;
    for (int c = 0; c < C; c++)
        for (int ky = 0; ky < K; ky++)
            for (int kx = 0; kx < K; kx++, r++)
                if (r < nrows)
                    offs[r] = direct ? (long)c * HW : ((long)(c * s + ky % s) * K + kx) * Lv + (long)(ky / s) * Wo;
    for (; r < nrows; r++) offs[r] = offs[C * K * K - 1];
}

/* ---- forward ------------------------------------------------------------------------------------- */

typedef struct {
    float *out;
    const float *x, *w, *b;
    const long *offs;   /* row r of cols at (stripe planes) + offs[r]; then k*NR (packed panels) */
    int C, H, W, OC, K, s, Ho, Wo, CKK, rows, nstripes, accumulate, direct;
    long Lv;            /* floats per plane of a stripe */
} conv_job;

/* Output pixels q .. q+nq-1 (nq <= NR) of image n; its cols rows start at bsrc + offs[r]. */
static void conv_block(const conv_job *j, int n, long q, int nq, const float *bsrc) {
    long HW = (long)j->Ho * j->Wo;
    float *out = j->out + (long)n * j->OC * HW + q;
    float *t = NULL, *C = out;
    const float *b = bsrc;
    const long *offs = j->offs;
    long ldc = HW;
    if (nq < NR) {
        /* a partial block: pack its rows zero-padded and compute into a full tile */
        float *panel = dn_workspace(1, (size_t)(j->CKK + round_up(j->OC, MR)) * NR * sizeof(float));
        if (!panel) return; /* out of memory: recorded for dn_workspace_check */
        t = panel + (long)j->CKK * NR;
        for (int r = 0; r < j->CKK; r++) {
            memcpy(panel + (long)r * NR, bsrc + offs[r], (size_t)nq * sizeof(float));
            memset(panel + (long)r * NR + nq, 0, (size_t)(NR - nq) * sizeof(float));
        }
        for (int o = 0; o < j->OC; o++)
            for (int i = 0; i < NR; i++)
                t[o * NR + i] = i >= nq ? 0.0f : j->accumulate ? out[(long)o * HW + i] : j->b ? j->b[o] : 0.0f;
        b = panel;
        offs = j->offs + j->CKK; /* row k of the panel at k*NR */
        C = t;
        ldc = NR;
    } else if (!j->accumulate) { /* start from the bias: out = b + sum, as in the definition */
        for (int o = 0; o < j->OC; o++) {
            float v = j->b ? j->b[o] : 0.0f;
            for (int i = 0; i < NR; i++) out[(long)o * HW + i] = v;
        }
    }
    for (int o0 = 0; o0 < j->OC; o0 += MR) { /* MR output channels at a time, fewer at the end */
        const float *a[MR];
        int m = imin(MR, j->OC - o0);
        for (int i = 0; i < m; i++) a[i] = j->w + (long)(o0 + i) * j->CKK;
        dn_gemm_kernel_gen(j->CKK, a, 1, b, offs, C + o0 * ldc, ldc, m, nq, 1);
    }
    if (t)
        for (int o = 0; o < j->OC; o++) memcpy(out + (long)o * HW, t + o * NR, (size_t)nq * sizeof(float));
}

/* Task: one stripe of output rows of one image. */
static void conv_task(void *vctx, int task) {
    const conv_job *j = vctx;
    int n = task / j->nstripes, y0 = (task % j->nstripes) * j->rows;
    int hs = j->Ho - y0 < j->rows ? j->Ho - y0 : j->rows;
    long q0 = (long)y0 * j->Wo, q1 = (long)(y0 + hs) * j->Wo;
    const float *xn = j->x + (long)n * j->C * j->H * j->W, *base;
    if (j->direct) {
        base = xn + q0;
    } else {
        float *xq = dn_workspace(0, (size_t)j->C * j->s * j->K * j->Lv * sizeof(float));
        if (!xq) return;
        make_planes(xq, xn, j->C, j->H, j->W, j->K, j->s, j->Wo, j->Lv, y0, hs);
        base = xq;
    }
    for (long q = q0; q < q1; q += NR) conv_block(j, n, q, (int)(q1 - q < NR ? q1 - q : NR), base + (q - q0));
}

/* out (N,OC,Ho,Wo) = (accumulate ? out : b) + conv(x, w); w: (OC, C*K*K). */
static void conv_fwd(float *out, const float *x, const float *w, const float *b, int N, int C, int H,
                     int W, int OC, int K, int s, int accumulate) {
    int CKK = C * K * K, direct = K == 1 && s == 1;
    int Ho = dn_conv2d_out_size(H, K, s), Wo = dn_conv2d_out_size(W, K, s);
    /* stripes: one per image on one thread, else about 2 tasks per thread over the batch; each a
     * whole number of NR-pixel blocks where the width allows (rows a multiple of NR / gcd(Wo, NR)) */
    int T = dn_threads_get(), per_image = T == 1 ? 1 : (2 * T + N - 1) / N, g = 1;
    while (g < NR && Wo % (2 * g) == 0) g *= 2; /* g = gcd(Wo, NR), NR a power of two */
    int unit = NR / g;                          /* Wo * unit is a multiple of NR */
    int rows = (Ho + per_image - 1) / per_image;
    rows = (rows + unit - 1) / unit * unit;
    if (rows > Ho) rows = Ho;
    int nstripes = (Ho + rows - 1) / rows;
    long Lv = plane_len(rows, K, s, Wo);
    long *offs = dn_workspace(2, (size_t)(2 * CKK) * sizeof(long));
    if (!offs) return;
    row_offsets(offs, CKK, C, K, s, Wo, Lv, (long)H * W, direct);
    for (int r = 0; r < CKK; r++) offs[CKK + r] = (long)r * NR;
    conv_job j = {out, x, w, b, offs, C, H, W, OC, K, s, Ho, Wo, CKK, rows, nstripes, accumulate, direct, Lv};
    dn_parallel_for(N * nstripes, conv_task, &j);
}

void dn_conv2d_forward(float *out, const float *x, const float *w, const float *b,
                       int N, int C, int H, int W, int OC, int K, int stride) {
    assert(K % 2 == 1 && stride >= 1);
    conv_fwd(out, x, w, b, N, C, H, W, OC, K, stride, 0);
}

/* ---- dx at stride > 1: dcols = W^T dout_n, then col2im ------------------------------------------ */

typedef struct {
    float *dx;
    const float *dout, *w;
    int C, H, W, OC, K, s, Ho, Wo;
} dx_job;

static void dx_task(void *vctx, int n) {
    const dx_job *g = vctx;
    int HWo = g->Ho * g->Wo, KK = g->K * g->K, CKK = g->C * KK, pad = g->K / 2;
    float *dcols = dn_workspace(3, (size_t)CKK * HWo * sizeof(float));
    if (!dcols) return;
    dn_sgemm(1, 0, CKK, HWo, g->OC, g->w, CKK, g->dout + (long)n * g->OC * HWo, HWo, 0.0f, dcols, HWo);
    float *dxn = g->dx + (long)n * g->C * g->H * g->W;
    for (int r = 0; r < CKK; r++) {
        int c = r / KK, ky = (r % KK) / g->K, kx = r % g->K;
        const float *dc = dcols + (long)r * HWo;
        float *dxc = dxn + (long)c * g->H * g->W;
        for (int oy = 0; oy < g->Ho; oy++) {
            int iy = oy * g->s + ky - pad;
            if (iy < 0 || iy >= g->H) continue;
            for (int ox = 0; ox < g->Wo; ox++) {
                int ix = ox * g->s + kx - pad;
                if (ix >= 0 && ix < g->W) dxc[(long)iy * g->W + ix] += dc[oy * g->Wo + ox];
            }
        }
    }
}

/* ---- dw, db: the kernel over pixels ------------------------------------------------------------- */

typedef struct {
    float *xq, *yt, *dbn;    /* image n: planes at xq + n*xs; dout channels-last at yt + n*ys, (q, o);
                              * dbn[n*OC + o] = sum over pixels of dout[n,o] (or dbn NULL) */
    const float *x, *dout;
    int C, H, W, K, s, Ho, Wo, OC, OCs;
    long xs, ys, Lv;
} dwprep_job;

/* Image n: its planes (all output rows), yt[q][o] = dout (zero for o >= OC), and its share of db. */
static void dwprep_task(void *vctx, int n) {
    const dwprep_job *j = vctx;
    long HWo = (long)j->Ho * j->Wo;
    make_planes(j->xq + n * j->xs, j->x + (long)n * j->C * j->H * j->W, j->C, j->H, j->W, j->K, j->s,
                j->Wo, j->Lv, 0, j->Ho);
    float *yt = j->yt + n * j->ys;
    if (j->OCs != j->OC) memset(yt, 0, (size_t)j->ys * sizeof(float));
    for (int o = 0; o < j->OC; o++) {
        const float *src = j->dout + ((long)n * j->OC + o) * HWo;
        float sum = 0.0f;
        for (long q = 0; q < HWo; q++) {
            yt[q * j->OCs + o] = src[q];
            sum += src[q];
        }
        if (j->dbn) j->dbn[(long)n * j->OC + o] = sum;
    }
}

typedef struct {
    float *dw, *dwt;              /* dwt: (R8, OCs) accumulators, row r = c*K*K + tap */
    const float *xq, *yt;
    const long *offs, *boffs;     /* cols row r at xq + offs[r] + q; dout row q at yt + boffs[q] */
    int N, OC, OCs, CKK, npanels, ntasks;
    long xs, ys, Q;
} dw_job;

/* Rows [p0*MR, p1*MR) of dw^T, summed over every image and pixel block in order. */
static void dw_task(void *vctx, int task) {
    const dw_job *j = vctx;
    int p0 = (int)((long)j->npanels * task / j->ntasks), p1 = (int)((long)j->npanels * (task + 1) / j->ntasks);
    memset(j->dwt + (long)p0 * MR * j->OCs, 0, (size_t)(p1 - p0) * MR * j->OCs * sizeof(float));
    for (int n = 0; n < j->N; n++)
        for (long q0 = 0; q0 < j->Q; q0 += QB) {
            int kc = (int)(j->Q - q0 < QB ? j->Q - q0 : QB);
            const float *yb = j->yt + n * j->ys + q0 * j->OCs;
            for (int p = p0; p < p1; p++) {
                const float *a[MR];
                for (int i = 0; i < MR; i++) a[i] = j->xq + n * j->xs + j->offs[p * MR + i] + q0;
                for (int o = 0; o < j->OCs; o += NR)
                    dn_gemm_kernel_gen(kc, a, 1, yb + o, j->boffs, j->dwt + ((long)p * MR) * j->OCs + o, j->OCs, MR, NR, 1);
            }
        }
    for (int r = p0 * MR; r < p1 * MR && r < j->CKK; r++)
        for (int o = 0; o < j->OC; o++) j->dw[(long)o * j->CKK + r] += j->dwt[(long)r * j->OCs + o];
}

static void conv_dw(float *dw, float *db, const float *dout, const float *x, int N, int C, int H,
                    int W, int OC, int K, int s) {
    int CKK = C * K * K, R8 = (int)round_up(CKK, MR), OCs = (int)round_up(OC, NR);
    int Ho = dn_conv2d_out_size(H, K, s), Wo = dn_conv2d_out_size(W, K, s);
    long Q = (long)Ho * Wo, Lv = plane_len(Ho, K, s, Wo), xs = (long)C * s * K * Lv, ys = Q * OCs;
    long noff = round_up((long)(R8 + QB) * (long)sizeof(long), 64) / (long)sizeof(float);
    long ndwt = (long)R8 * OCs;
    float *ws = dn_workspace(2, (size_t)(noff + ndwt + N * (xs + ys + OC)) * sizeof(float));
    if (!ws) return;
    long *offs = (long *)(void *)ws, *boffs = offs + R8;
    float *dwt = ws + noff, *xq = dwt + ndwt, *yt = xq + N * xs, *dbn = yt + N * ys;
    dwprep_job pj = {xq, yt, db ? dbn : NULL, x, dout, C, H, W, K, s, Ho, Wo, OC, OCs, xs, ys, Lv};
    dn_parallel_for(N, dwprep_task, &pj);
    row_offsets(offs, R8, C, K, s, Wo, Lv, Q, 0);
    for (int k = 0; k < QB; k++) boffs[k] = (long)k * OCs;
    int npanels = R8 / MR, ntasks = imin(npanels, dn_threads_get());
    dw_job j = {dw, dwt, xq, yt, offs, boffs, N, OC, OCs, CKK, npanels, ntasks, xs, ys, Q};
    dn_parallel_for(ntasks, dw_task, &j);
    if (db) /* db[o] += the per-image sums, added in image order */
        for (int o = 0; o < OC; o++) {
            float sum = 0.0f;
            for (int n = 0; n < N; n++) sum += dbn[(long)n * OC + o];
            db[o] += sum;
        }
}

void dn_conv2d_backward(float *dx, float *dw, float *db, const float *dout, const float *x,
                        const float *w, int N, int C, int H, int W, int OC, int K, int stride) {
    assert(K % 2 == 1 && stride >= 1);
    int KK = K * K;
    if (dx && stride == 1) {
        /* wf (C, OC*K*K): wf[c, (o,ky,kx)] = w[o, c, K-1-ky, K-1-kx] */
        float *wf = dn_workspace(3, (size_t)C * OC * KK * sizeof(float));
        if (!wf) return;
        for (int o = 0; o < OC; o++)
            for (int c = 0; c < C; c++)
                for (int k = 0; k < KK; k++)
                    wf[((long)c * OC + o) * KK + (KK - 1 - k)] = w[((long)o * C + c) * KK + k];
        conv_fwd(dx, dout, wf, NULL, N, OC, H, W, C, K, 1, 1);
    } else if (dx) {
        dx_job g = {dx, dout, w, C, H, W, OC, K, stride, dn_conv2d_out_size(H, K, stride),
                    dn_conv2d_out_size(W, K, stride)};
        dn_parallel_for(N, dx_task, &g);
    }
    conv_dw(dw, db, dout, x, N, C, H, W, OC, K, stride);
}
