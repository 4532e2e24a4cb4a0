/* test_nn.c — every layer of nn.h:
 *  - gradient checks: each backward against central finite differences of a double-precision
 *    oracle forward written here (loss L = sum_i r_i out_i with random r, so dout = r), on random
 *    inputs and random non-trivial weights;
 *  - fast kernels equal their naive twins to float rounding on random and odd shapes;
 *  - the same bits for 1, 2, 3 and 4 threads;
 *  - invariants (GroupNorm moments, attention rows sum to 1, timestep embedding values). */
#include "testutil.h"
#include "nn/nn.h"
#include "base/parallel.h"
#include "base/rng.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------------------------------ */

static dn_rng rng;

static float *fnew(long n) {
    float *p = calloc((size_t)(n > 0 ? n : 1), sizeof(float));
    assert_non_null(p);
    return p;
}
static float *frandn(long n, float scale) {
    float *p = fnew(n);
    dn_rng_normal_fill(&rng, p, n);
    for (long i = 0; i < n; i++) p[i] *= scale;
    return p;
}
static double *dcopy(const float *f, long n) {
    double *d = malloc((size_t)(n > 0 ? n : 1) * sizeof(double));
    assert_non_null(d);
    for (long i = 0; i < n; i++) d[i] = (double)f[i];
    return d;
}
static float *fabs_copy(const float *f, long n) {
    float *p = fnew(n);
    for (long i = 0; i < n; i++) p[i] = fabsf(f[i]);
    return p;
}

/* The oracle loss: L(params) = sum_i r[i] out[i], out computed in double by `fwd`. */
typedef void (*oracle_fn)(void *ctx, double *out);
typedef struct {
    oracle_fn fwd;
    void *ctx;
    const float *r; /* the random output weights, also the dout given to backward */
    long nout;
    double *out;
} loss_t;

static double loss_eval(loss_t *L) {
    L->fwd(L->ctx, L->out);
    double s = 0.0;
    for (long i = 0; i < L->nout; i++) s += (double)L->r[i] * L->out[i];
    return s;
}

/* Central differences on each entry of the double parameter p (n entries) against the float
 * gradient g from the layer's backward. The double oracle makes the numeric gradient exact to
 * ~1e-9 (h^2 truncation, double rounding / h), so the gap measures the float kernel: we allow
 * 2e-5 of the largest gradient plus 2e-5 relative (float kernels land within ~1e-6). */
static void check_grad(const char *what, loss_t *L, double *p, long n, const float *g) {
    const double h = 1e-4;
    double *num = malloc((size_t)n * sizeof(double)), scale = 0.0;
    assert_non_null(num);
    for (long j = 0; j < n; j++) {
        double save = p[j];
        p[j] = save + h;
        double lp = loss_eval(L);
        p[j] = save - h;
        double lm = loss_eval(L);
        p[j] = save;
        num[j] = (lp - lm) / (2 * h);
        if (fabs(num[j]) > scale) scale = fabs(num[j]);
    }
    assert_true(scale > 1e-3); /* the check would be vacuous on an all-zero gradient */
    for (long j = 0; j < n; j++) tu_assert_close(what, j, (double)g[j], num[j], 2e-5 * scale, 2e-5);
    free(num);
}

/* ---- double-precision oracles ------------------------------------------------------------------- */

typedef struct {
    int N, C, H, W, OC, K, s;
    double *x, *w, *b;
} conv_ctx;

static void conv_oracle(void *vc, double *out) {
    conv_ctx *c = vc;
    int p = c->K / 2, Ho = dn_conv2d_out_size(c->H, c->K, c->s), Wo = dn_conv2d_out_size(c->W, c->K, c->s);
    for (int n = 0; n < c->N; n++)
        for (int o = 0; o < c->OC; o++)
            for (int y = 0; y < Ho; y++)
                for (int x = 0; x < Wo; x++) {
                    double s = c->b ? c->b[o] : 0.0;
                    for (int ci = 0; ci < c->C; ci++)
                        for (int ky = 0; ky < c->K; ky++)
                            for (int kx = 0; kx < c->K; kx++) {
                                int iy = y * c->s + ky - p, ix = x * c->s + kx - p;
                                if (iy < 0 || iy >= c->H || ix < 0 || ix >= c->W) continue;
                                s += c->w[((o * c->C + ci) * c->K + ky) * c->K + kx] *
                                     c->x[((n * c->C + ci) * c->H + iy) * c->W + ix];
                            }
                    out[((n * c->OC + o) * Ho + y) * Wo + x] = s;
                }
}

typedef void (*conv_bwd_fn)(float *dx, float *dw, float *db, const float *dout, const float *x,
                            const float *w, int N, int C, int H, int W, int OC, int K, int stride);

static void gradcheck_conv_case(conv_bwd_fn bwd, int N, int C, int H, int W, int OC, int K, int s) {
    int Ho = dn_conv2d_out_size(H, K, s), Wo = dn_conv2d_out_size(W, K, s);
    long nx = (long)N * C * H * W, nw = (long)OC * C * K * K, no = (long)N * OC * Ho * Wo;
    float *x = frandn(nx, 1.0f), *w = frandn(nw, 0.5f), *b = frandn(OC, 0.5f), *r = frandn(no, 1.0f);
    float *dx = fnew(nx), *dw = fnew(nw), *db = fnew(OC);
    bwd(dx, dw, db, r, x, w, N, C, H, W, OC, K, s);
    conv_ctx c = {N, C, H, W, OC, K, s, dcopy(x, nx), dcopy(w, nw), dcopy(b, OC)};
    loss_t L = {conv_oracle, &c, r, no, malloc((size_t)no * sizeof(double))};
    check_grad("conv dx", &L, c.x, nx, dx);
    check_grad("conv dw", &L, c.w, nw, dw);
    check_grad("conv db", &L, c.b, OC, db);
    free(x); free(w); free(b); free(r); free(dx); free(dw); free(db);
    free(c.x); free(c.w); free(c.b); free(L.out);
}

static void gradcheck_conv(void **state) {
    (void)state;
    dn_rng_seed(&rng, 100, 0);
    for (int fast = 0; fast < 2; fast++) {
        conv_bwd_fn bwd = fast ? dn_conv2d_backward : dn_conv2d_backward_naive;
        gradcheck_conv_case(bwd, 2, 3, 5, 6, 4, 3, 1); /* 3x3 stride 1, non-square */
        gradcheck_conv_case(bwd, 2, 3, 7, 6, 4, 3, 2); /* 3x3 stride 2, odd height */
        gradcheck_conv_case(bwd, 2, 5, 4, 3, 3, 1, 1); /* 1x1 */
        gradcheck_conv_case(bwd, 1, 2, 5, 5, 3, 1, 2); /* 1x1 stride 2 */
    }
}

typedef struct {
    int N, C, HW, G;
    double *x, *gamma, *beta;
} gn_ctx;

static void gn_oracle(void *vc, double *out) {
    gn_ctx *c = vc;
    int CG = c->C / c->G;
    long len = (long)CG * c->HW;
    for (int n = 0; n < c->N; n++)
        for (int g = 0; g < c->G; g++) {
            const double *x = c->x + ((long)n * c->C + g * CG) * c->HW;
            double m = 0, v = 0;
            for (long i = 0; i < len; i++) m += x[i];
            m /= (double)len;
            for (long i = 0; i < len; i++) v += (x[i] - m) * (x[i] - m);
            v /= (double)len;
            double rs = 1.0 / sqrt(v + 1e-5);
            for (int ci = 0; ci < CG; ci++)
                for (int i = 0; i < c->HW; i++) {
                    long at = ((long)n * c->C + g * CG + ci) * c->HW + i;
                    out[at] = (c->x[at] - m) * rs * c->gamma[g * CG + ci] + c->beta[g * CG + ci];
                }
        }
}

static void gradcheck_groupnorm(void **state) {
    (void)state;
    dn_rng_seed(&rng, 101, 0);
    int N = 2, C = 6, HW = 7, G = 3;
    long nx = (long)N * C * HW;
    float *x = frandn(nx, 2.0f), *gamma = frandn(C, 1.0f), *beta = frandn(C, 1.0f), *r = frandn(nx, 1.0f);
    for (long i = 0; i < nx; i++) x[i] += 0.5f; /* a non-zero mean */
    float *out = fnew(nx), *mean = fnew(N * G), *rstd = fnew(N * G);
    float *dx = fnew(nx), *dg = fnew(C), *dbt = fnew(C);
    dn_groupnorm_forward(out, mean, rstd, x, gamma, beta, N, C, HW, G);
    dn_groupnorm_backward(dx, dg, dbt, r, x, mean, rstd, gamma, N, C, HW, G);
    gn_ctx c = {N, C, HW, G, dcopy(x, nx), dcopy(gamma, C), dcopy(beta, C)};
    loss_t L = {gn_oracle, &c, r, nx, malloc((size_t)nx * sizeof(double))};
    /* the forward itself against the oracle */
    loss_eval(&L);
    for (long i = 0; i < nx; i++) tu_assert_close("groupnorm out", i, (double)out[i], L.out[i], 1e-5, 1e-5);
    check_grad("groupnorm dx", &L, c.x, nx, dx);
    check_grad("groupnorm dgamma", &L, c.gamma, C, dg);
    check_grad("groupnorm dbeta", &L, c.beta, C, dbt);
    free(x); free(gamma); free(beta); free(r); free(out); free(mean); free(rstd);
    free(dx); free(dg); free(dbt); free(c.x); free(c.gamma); free(c.beta); free(L.out);
}

/* GroupNorm with gamma = 1, beta = 0: each group has mean 0 and variance var/(var+eps) ~ 1. */
static void groupnorm_moments(void **state) {
    (void)state;
    dn_rng_seed(&rng, 102, 0);
    int N = 3, C = 32, HW = 49, G = 8, CG = C / G;
    long nx = (long)N * C * HW;
    float *x = frandn(nx, 3.0f), *gamma = fnew(C), *beta = fnew(C), *out = fnew(nx);
    float *mean = fnew(N * G), *rstd = fnew(N * G);
    for (long i = 0; i < nx; i++) x[i] += (float)(i % 5);
    for (int c = 0; c < C; c++) gamma[c] = 1.0f;
    dn_groupnorm_forward(out, mean, rstd, x, gamma, beta, N, C, HW, G);
    for (int n = 0; n < N; n++)
        for (int g = 0; g < G; g++) {
            const float *o = out + ((long)n * C + g * CG) * HW;
            double s = 0, s2 = 0;
            for (int i = 0; i < CG * HW; i++) s += (double)o[i], s2 += (double)o[i] * (double)o[i];
            double m = s / (CG * HW), v = s2 / (CG * HW) - m * m;
            assert_true(fabs(m) < 1e-5);
            assert_true(fabs(v - 1.0) < 1e-4); /* var/(var+1e-5) with var ~ 10: 1 - 1e-6 */
        }
    free(x); free(gamma); free(beta); free(out); free(mean); free(rstd);
}

typedef struct {
    long n;
    double *x;
} silu_ctx;
static void silu_oracle(void *vc, double *out) {
    silu_ctx *c = vc;
    for (long i = 0; i < c->n; i++) out[i] = c->x[i] / (1.0 + exp(-c->x[i]));
}

static void gradcheck_silu(void **state) {
    (void)state;
    dn_rng_seed(&rng, 103, 0);
    long n = 257;
    float *x = frandn(n, 4.0f), *r = frandn(n, 1.0f), *out = fnew(n), *dx = fnew(n);
    x[0] = 0.0f, x[1] = -30.0f, x[2] = 30.0f, x[3] = -100.0f; /* saturated and central values */
    dn_silu_forward(out, x, n);
    dn_silu_backward(dx, r, x, n);
    silu_ctx c = {n, dcopy(x, n)};
    loss_t L = {silu_oracle, &c, r, n, malloc((size_t)n * sizeof(double))};
    loss_eval(&L);
    for (long i = 0; i < n; i++) tu_assert_close("silu out", i, (double)out[i], L.out[i], 1e-6, 1e-6);
    check_grad("silu dx", &L, c.x, n, dx);
    free(x); free(r); free(out); free(dx); free(c.x); free(L.out);
}

typedef struct {
    int N, IN, OUT;
    double *x, *w, *b;
} lin_ctx;
static void lin_oracle(void *vc, double *out) {
    lin_ctx *c = vc;
    for (int n = 0; n < c->N; n++)
        for (int o = 0; o < c->OUT; o++) {
            double s = c->b[o];
            for (int i = 0; i < c->IN; i++) s += c->x[n * c->IN + i] * c->w[o * c->IN + i];
            out[n * c->OUT + o] = s;
        }
}

static void gradcheck_linear(void **state) {
    (void)state;
    dn_rng_seed(&rng, 104, 0);
    int N = 3, IN = 7, OUT = 5;
    float *x = frandn(N * IN, 1.0f), *w = frandn(OUT * IN, 0.5f), *b = frandn(OUT, 0.5f);
    float *r = frandn(N * OUT, 1.0f), *out = fnew(N * OUT);
    float *dx = fnew(N * IN), *dw = fnew(OUT * IN), *db = fnew(OUT);
    dn_linear_forward(out, x, w, b, N, IN, OUT);
    dn_linear_backward(dx, dw, db, r, x, w, N, IN, OUT);
    lin_ctx c = {N, IN, OUT, dcopy(x, N * IN), dcopy(w, OUT * IN), dcopy(b, OUT)};
    loss_t L = {lin_oracle, &c, r, N * OUT, malloc((size_t)N * OUT * sizeof(double))};
    loss_eval(&L);
    for (int i = 0; i < N * OUT; i++) tu_assert_close("linear out", i, (double)out[i], L.out[i], 1e-5, 1e-5);
    check_grad("linear dx", &L, c.x, N * IN, dx);
    check_grad("linear dw", &L, c.w, OUT * IN, dw);
    check_grad("linear db", &L, c.b, OUT, db);
    free(x); free(w); free(b); free(r); free(out); free(dx); free(dw); free(db);
    free(c.x); free(c.w); free(c.b); free(L.out);
}

typedef struct {
    int N, D;
    const int *ids;
    double *table;
} emb_ctx;
static void emb_oracle(void *vc, double *out) {
    emb_ctx *c = vc;
    for (int n = 0; n < c->N; n++)
        for (int d = 0; d < c->D; d++) out[n * c->D + d] = c->table[c->ids[n] * c->D + d];
}

static void gradcheck_embedding(void **state) {
    (void)state;
    dn_rng_seed(&rng, 105, 0);
    int N = 5, V = 4, D = 6;
    const int ids[5] = {2, 0, 2, 3, 2}; /* a repeated id: its gradients add; id 1 unused: stays 0 */
    float *table = frandn(V * D, 1.0f), *r = frandn(N * D, 1.0f), *out = fnew(N * D), *dt = fnew(V * D);
    dn_embedding_forward(out, ids, table, N, V, D);
    dn_embedding_backward(dt, r, ids, N, V, D);
    emb_ctx c = {N, D, ids, dcopy(table, V * D)};
    loss_t L = {emb_oracle, &c, r, N * D, malloc((size_t)N * D * sizeof(double))};
    loss_eval(&L);
    for (int i = 0; i < N * D; i++) assert_true((double)out[i] == L.out[i]);
    check_grad("embedding dtable", &L, c.table, V * D, dt);
    for (int d = 0; d < D; d++) assert_true(dt[1 * D + d] == 0.0f);
    free(table); free(r); free(out); free(dt); free(c.table); free(L.out);
}

typedef struct {
    int N, C, H, W;
    double *x;
} up_ctx;
static void up_oracle(void *vc, double *out) {
    up_ctx *c = vc;
    for (int p = 0; p < c->N * c->C; p++)
        for (int y = 0; y < 2 * c->H; y++)
            for (int x = 0; x < 2 * c->W; x++)
                out[((long)p * 2 * c->H + y) * 2 * c->W + x] = c->x[((long)p * c->H + y / 2) * c->W + x / 2];
}

static void gradcheck_upsample(void **state) {
    (void)state;
    dn_rng_seed(&rng, 106, 0);
    int N = 2, C = 3, H = 3, W = 5;
    long nx = (long)N * C * H * W, no = 4 * nx;
    float *x = frandn(nx, 1.0f), *r = frandn(no, 1.0f), *out = fnew(no), *dx = fnew(nx);
    dn_upsample2x_forward(out, x, N, C, H, W);
    dn_upsample2x_backward(dx, r, N, C, H, W);
    up_ctx c = {N, C, H, W, dcopy(x, nx)};
    loss_t L = {up_oracle, &c, r, no, malloc((size_t)no * sizeof(double))};
    loss_eval(&L);
    for (long i = 0; i < no; i++) assert_true((double)out[i] == L.out[i]);
    check_grad("upsample dx", &L, c.x, nx, dx);
    free(x); free(r); free(out); free(dx); free(c.x); free(L.out);
}

typedef struct {
    int N, Ca, Cb, HW;
    double *a, *b;
} cat_ctx;
static void cat_oracle(void *vc, double *out) {
    cat_ctx *c = vc;
    int C = c->Ca + c->Cb;
    for (int n = 0; n < c->N; n++)
        for (int ch = 0; ch < C; ch++)
            for (int i = 0; i < c->HW; i++)
                out[((long)n * C + ch) * c->HW + i] = ch < c->Ca ? c->a[((long)n * c->Ca + ch) * c->HW + i]
                                                                 : c->b[((long)n * c->Cb + ch - c->Ca) * c->HW + i];
}

static void gradcheck_concat(void **state) {
    (void)state;
    dn_rng_seed(&rng, 107, 0);
    int N = 2, Ca = 3, Cb = 2, HW = 5;
    long na = (long)N * Ca * HW, nb = (long)N * Cb * HW, no = na + nb;
    float *a = frandn(na, 1.0f), *b = frandn(nb, 1.0f), *r = frandn(no, 1.0f), *out = fnew(no);
    float *da = fnew(na), *db = fnew(nb);
    dn_concat_forward(out, a, b, N, Ca, Cb, HW);
    dn_concat_backward(da, db, r, N, Ca, Cb, HW);
    cat_ctx c = {N, Ca, Cb, HW, dcopy(a, na), dcopy(b, nb)};
    loss_t L = {cat_oracle, &c, r, no, malloc((size_t)no * sizeof(double))};
    loss_eval(&L);
    for (long i = 0; i < no; i++) assert_true((double)out[i] == L.out[i]);
    check_grad("concat da", &L, c.a, na, da);
    check_grad("concat db", &L, c.b, nb, db);
    free(a); free(b); free(r); free(out); free(da); free(db); free(c.a); free(c.b); free(L.out);
}

typedef struct {
    int N, C, HW;
    double *x, *bias;
} addc_ctx;
static void addc_oracle(void *vc, double *out) {
    addc_ctx *c = vc;
    for (long p = 0; p < (long)c->N * c->C; p++)
        for (int i = 0; i < c->HW; i++) out[p * c->HW + i] = c->x[p * c->HW + i] + c->bias[p];
}

static void gradcheck_add_channel(void **state) {
    (void)state;
    dn_rng_seed(&rng, 108, 0);
    int N = 2, C = 3, HW = 7;
    long nx = (long)N * C * HW;
    float *x = frandn(nx, 1.0f), *bias = frandn(N * C, 1.0f), *r = frandn(nx, 1.0f), *out = fnew(nx);
    float *dx = fnew(nx), *dbias = fnew(N * C);
    dn_add_channel_forward(out, x, bias, N, C, HW);
    dn_add_channel_backward(dx, dbias, r, N, C, HW);
    addc_ctx c = {N, C, HW, dcopy(x, nx), dcopy(bias, N * C)};
    loss_t L = {addc_oracle, &c, r, nx, malloc((size_t)nx * sizeof(double))};
    loss_eval(&L);
    for (long i = 0; i < nx; i++) tu_assert_close("add_channel out", i, (double)out[i], L.out[i], 0, 1e-7);
    check_grad("add_channel dx", &L, c.x, nx, dx);
    check_grad("add_channel dbias", &L, c.bias, N * C, dbias);
    free(x); free(bias); free(r); free(out); free(dx); free(dbias); free(c.x); free(c.bias); free(L.out);
}

typedef struct {
    int N, C, HW, NH;
    double *qkv;
} att_ctx;
static void att_oracle(void *vc, double *out) {
    att_ctx *c = vc;
    int D = c->C / c->NH, HW = c->HW;
    double *s = malloc((size_t)HW * sizeof(double));
    for (int n = 0; n < c->N; n++)
        for (int h = 0; h < c->NH; h++) {
            const double *q = c->qkv + ((long)n * 3 * c->C + h * D) * HW;
            const double *k = q + (long)c->C * HW, *v = q + 2L * c->C * HW;
            for (int i = 0; i < HW; i++) {
                double mx = -HUGE_VAL, z = 0;
                for (int j = 0; j < HW; j++) {
                    s[j] = 0;
                    for (int d = 0; d < D; d++) s[j] += q[d * HW + i] * k[d * HW + j];
                    s[j] /= sqrt((double)D);
                    if (s[j] > mx) mx = s[j];
                }
                for (int j = 0; j < HW; j++) z += (s[j] = exp(s[j] - mx));
                for (int d = 0; d < D; d++) {
                    double o = 0;
                    for (int j = 0; j < HW; j++) o += s[j] / z * v[d * HW + j];
                    out[((long)n * c->C + h * D + d) * HW + i] = o;
                }
            }
        }
    free(s);
}

typedef void (*att_fwd_fn)(float *out, float *att, const float *qkv, int N, int C, int HW, int NH);
typedef void (*att_bwd_fn)(float *dqkv, const float *dout, const float *qkv, const float *att,
                           int N, int C, int HW, int NH);

static void gradcheck_attention_case(att_fwd_fn fwd, att_bwd_fn bwd, int N, int C, int HW, int NH) {
    long nq = (long)N * 3 * C * HW, no = (long)N * C * HW, na = (long)N * NH * HW * HW;
    float *qkv = frandn(nq, 1.0f), *r = frandn(no, 1.0f), *out = fnew(no), *att = fnew(na), *dq = fnew(nq);
    fwd(out, att, qkv, N, C, HW, NH);
    bwd(dq, r, qkv, att, N, C, HW, NH);
    /* invariant: each attention row is a probability distribution */
    for (long row = 0; row < na / HW; row++) {
        double s = 0;
        for (int j = 0; j < HW; j++) {
            assert_true(att[row * HW + j] >= 0.0f);
            s += (double)att[row * HW + j];
        }
        tu_assert_close("attention row sum", row, s, 1.0, 1e-6, 0);
    }
    att_ctx c = {N, C, HW, NH, dcopy(qkv, nq)};
    loss_t L = {att_oracle, &c, r, no, malloc((size_t)no * sizeof(double))};
    loss_eval(&L);
    for (long i = 0; i < no; i++) tu_assert_close("attention out", i, (double)out[i], L.out[i], 1e-5, 1e-5);
    check_grad("attention dqkv", &L, c.qkv, nq, dq);
    free(qkv); free(r); free(out); free(att); free(dq); free(c.qkv); free(L.out);
}

static void gradcheck_attention(void **state) {
    (void)state;
    dn_rng_seed(&rng, 109, 0);
    for (int fast = 0; fast < 2; fast++) {
        att_fwd_fn fwd = fast ? dn_attention_forward : dn_attention_forward_naive;
        att_bwd_fn bwd = fast ? dn_attention_backward : dn_attention_backward_naive;
        gradcheck_attention_case(fwd, bwd, 2, 4, 5, 2);
        gradcheck_attention_case(fwd, bwd, 1, 6, 9, 1);
        gradcheck_attention_case(fwd, bwd, 1, 3, 7, 3);
        gradcheck_attention_case(fwd, bwd, 1, 2, 19, 1); /* HW above 16: vector softmax path */
    }
}

typedef struct {
    long n;
    double *p;
    const float *t;
} mse_ctx;
static void mse_oracle(void *vc, double *out) {
    mse_ctx *c = vc;
    double s = 0;
    for (long i = 0; i < c->n; i++) s += (c->p[i] - (double)c->t[i]) * (c->p[i] - (double)c->t[i]);
    out[0] = s / (double)c->n;
}

static void gradcheck_mse(void **state) {
    (void)state;
    dn_rng_seed(&rng, 110, 0);
    long n = 37;
    float *p = frandn(n, 1.0f), *t = frandn(n, 1.0f), *dp = fnew(n), r[1] = {0.7f};
    float l = dn_mse_forward(p, t, n);
    dn_mse_backward(dp, p, t, n, r[0]);
    mse_ctx c = {n, dcopy(p, n), t};
    double out[1];
    loss_t L = {mse_oracle, &c, r, 1, out};
    loss_eval(&L);
    tu_assert_close("mse", 0, (double)l, out[0], 0, 1e-6);
    check_grad("mse dpred", &L, c.p, n, dp);
    free(p); free(t); free(dp); free(c.p);
}

/* Timestep embedding: out[n,i] = cos(t f_i), out[n,D/2+i] = sin(t f_i), f_i = 10000^(-i/(D/2)). */
static void timestep_embedding_values(void **state) {
    (void)state;
    const float t[4] = {0.0f, 1.0f, 37.5f, 999.0f};
    int D = 32, half = D / 2;
    float out[4 * 32];
    dn_timestep_embedding(out, t, 4, D);
    for (int n = 0; n < 4; n++)
        for (int i = 0; i < half; i++) {
            double f = exp(-log(10000.0) * i / half), a = (double)t[n] * f;
            /* float angles: t f has a relative error ~1e-7, i.e. ~1e-4 absolute at t = 999 */
            double tol = 2e-6 + 3e-7 * a;
            tu_assert_close("temb cos", n * D + i, (double)out[n * D + i], cos(a), tol, 0);
            tu_assert_close("temb sin", n * D + half + i, (double)out[n * D + half + i], sin(a), tol, 0);
        }
    for (int i = 0; i < half; i++) { /* t = 0: cos 1, sin 0 exactly */
        assert_true(out[i] == 1.0f);
        assert_true(out[half + i] == 0.0f);
    }
}

/* ---- fast kernels against their naive twins ----------------------------------------------------- */

/* |fast - naive| <= 1e-5 * (the same sum over absolute values), computed by running the naive
 * kernel on |x|, |w|, |b|: the float rounding of a sum of n terms is at most ~n eps times the
 * sum of their magnitudes, and in practice ~sqrt(n) eps; n <= 1200 here. */
static void assert_close_mag(const char *what, const float *a, const float *b, const float *mag, long n) {
    for (long i = 0; i < n; i++) tu_assert_close(what, i, (double)a[i], (double)b[i], 1e-5 * (double)mag[i] + 1e-30, 0);
}

/* GroupNorm, SiLU, upsampling, concatenation and the per-channel add: the fast kernels against
 * their reference loops, on odd shapes (HW not a multiple of the vector width, one group, many).
 * Copies and single adds agree exactly; sums (GroupNorm, dbias) and exp (SiLU, whose fast kernel
 * has its own exp) to float rounding. Backward passes add into their gradients: both start from
 * the same non-zero values. */
static void layers_fast_match_naive(void **state) {
    (void)state;
    const int shapes[][4] = {{2, 6, 7, 3}, {1, 8, 33, 4}, {3, 4, 5, 1}, {2, 16, 64, 8}}; /* N, C, HW, G */
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        int N = shapes[k][0], C = shapes[k][1], HW = shapes[k][2], G = shapes[k][3];
        long n = (long)N * C * HW;
        float *x = frandn(n, 2.0f), *gm = frandn(C, 1.0f), *bt = frandn(C, 0.5f), *dout = frandn(n, 1.0f);
        float *o1 = fnew(n), *o2 = fnew(n), *m1 = fnew(N * G), *m2 = fnew(N * G), *r1 = fnew(N * G), *r2 = fnew(N * G);
        dn_groupnorm_forward(o1, m1, r1, x, gm, bt, N, C, HW, G);
        dn_groupnorm_forward_naive(o2, m2, r2, x, gm, bt, N, C, HW, G);
        tu_assert_allclose("groupnorm out fast vs naive", o1, o2, n, 1e-5, 1e-5);
        tu_assert_allclose("groupnorm mean fast vs naive", m1, m2, N * G, 1e-6, 1e-5);
        tu_assert_allclose("groupnorm rstd fast vs naive", r1, r2, N * G, 1e-6, 1e-5);
        float *dx1 = frandn(n, 1.0f), *dx2 = fnew(n), *dg1 = frandn(C, 1.0f), *dg2 = fnew(C), *db1 = frandn(C, 1.0f), *db2 = fnew(C);
        memcpy(dx2, dx1, sizeof(float) * (size_t)n), memcpy(dg2, dg1, sizeof(float) * (size_t)C);
        memcpy(db2, db1, sizeof(float) * (size_t)C);
        dn_groupnorm_backward(dx1, dg1, db1, dout, x, m1, r1, gm, N, C, HW, G);
        dn_groupnorm_backward_naive(dx2, dg2, db2, dout, x, m1, r1, gm, N, C, HW, G);
        tu_assert_allclose("groupnorm dx fast vs naive", dx1, dx2, n, 1e-4, 1e-4);
        tu_assert_allclose("groupnorm dgamma fast vs naive", dg1, dg2, C, 1e-4, 1e-4);
        tu_assert_allclose("groupnorm dbeta fast vs naive", db1, db2, C, 1e-4, 1e-4);
        dn_silu_forward(o1, x, n);
        dn_silu_forward_naive(o2, x, n);
        tu_assert_allclose("silu fast vs naive", o1, o2, n, 1e-6, 1e-6);
        memcpy(dx2, dx1, sizeof(float) * (size_t)n);
        dn_silu_backward(dx1, dout, x, n);
        dn_silu_backward_naive(dx2, dout, x, n);
        tu_assert_allclose("silu dx fast vs naive", dx1, dx2, n, 1e-6, 1e-6);
        /* upsampling of (N, C, 3, W) images, W odd or even */
        int H = 3, W = HW % 5 + 2;
        long nu = (long)N * C * H * W;
        float *xu = frandn(nu, 1.0f), *u1 = fnew(4 * nu), *u2 = fnew(4 * nu), *ud1 = frandn(nu, 1.0f), *ud2 = fnew(nu);
        dn_upsample2x_forward(u1, xu, N, C, H, W);
        dn_upsample2x_forward_naive(u2, xu, N, C, H, W);
        assert_memory_equal(u1, u2, sizeof(float) * (size_t)(4 * nu));
        memcpy(ud2, ud1, sizeof(float) * (size_t)nu);
        float *ug = frandn(4 * nu, 1.0f);
        dn_upsample2x_backward(ud1, ug, N, C, H, W);
        dn_upsample2x_backward_naive(ud2, ug, N, C, H, W);
        tu_assert_allclose("upsample dx fast vs naive", ud1, ud2, nu, 1e-6, 1e-6);
        /* concatenation of x (C channels) and the first Cb = C / 2 + 1 channels' worth of dout */
        int Cb = C / 2 + 1;
        long nc = (long)N * (C + Cb) * HW;
        float *c1 = fnew(nc), *c2 = fnew(nc), *bsrc = frandn((long)N * Cb * HW, 1.0f), *cg = frandn(nc, 1.0f);
        dn_concat_forward(c1, x, bsrc, N, C, Cb, HW);
        dn_concat_forward_naive(c2, x, bsrc, N, C, Cb, HW);
        assert_memory_equal(c1, c2, sizeof(float) * (size_t)nc);
        float *da1 = frandn(n, 1.0f), *da2 = fnew(n), *dbb1 = frandn((long)N * Cb * HW, 1.0f), *dbb2 = fnew((long)N * Cb * HW);
        memcpy(da2, da1, sizeof(float) * (size_t)n), memcpy(dbb2, dbb1, sizeof(float) * (size_t)N * Cb * HW);
        dn_concat_backward(da1, dbb1, cg, N, C, Cb, HW);
        dn_concat_backward_naive(da2, dbb2, cg, N, C, Cb, HW);
        assert_memory_equal(da1, da2, sizeof(float) * (size_t)n);
        assert_memory_equal(dbb1, dbb2, sizeof(float) * (size_t)N * Cb * HW);
        /* per-channel add */
        float *bias = frandn((long)N * C, 1.0f), *dbi1 = frandn((long)N * C, 1.0f), *dbi2 = fnew((long)N * C);
        dn_add_channel_forward(o1, x, bias, N, C, HW);
        dn_add_channel_forward_naive(o2, x, bias, N, C, HW);
        assert_memory_equal(o1, o2, sizeof(float) * (size_t)n);
        memcpy(dx2, dx1, sizeof(float) * (size_t)n), memcpy(dbi2, dbi1, sizeof(float) * (size_t)N * C);
        dn_add_channel_backward(dx1, dbi1, dout, N, C, HW);
        dn_add_channel_backward_naive(dx2, dbi2, dout, N, C, HW);
        assert_memory_equal(dx1, dx2, sizeof(float) * (size_t)n);
        tu_assert_allclose("add_channel dbias fast vs naive", dbi1, dbi2, (long)N * C, 1e-5, 1e-5);
        free(x), free(gm), free(bt), free(dout), free(o1), free(o2), free(m1), free(m2), free(r1), free(r2);
        free(dx1), free(dx2), free(dg1), free(dg2), free(db1), free(db2), free(xu), free(u1), free(u2), free(ud1), free(ud2), free(ug);
        free(c1), free(c2), free(bsrc), free(cg), free(da1), free(da2), free(dbb1), free(dbb2), free(bias), free(dbi1), free(dbi2);
    }
}

static void conv_fast_case(int N, int C, int H, int W, int OC, int K, int s, int with_bias, int with_dx) {
    int Ho = dn_conv2d_out_size(H, K, s), Wo = dn_conv2d_out_size(W, K, s);
    long nx = (long)N * C * H * W, nw = (long)OC * C * K * K, no = (long)N * OC * Ho * Wo;
    float *x = frandn(nx, 1.0f), *w = frandn(nw, 0.3f), *b = with_bias ? frandn(OC, 0.3f) : NULL;
    float *o1 = fnew(no), *o2 = fnew(no), *om = fnew(no);
    float *ax = fabs_copy(x, nx), *aw = fabs_copy(w, nw), *ab = b ? fabs_copy(b, OC) : NULL;
    for (long i = 0; i < no; i++) o1[i] = NAN; /* forward must overwrite */
    dn_conv2d_forward(o1, x, w, b, N, C, H, W, OC, K, s);
    dn_conv2d_forward_naive(o2, x, w, b, N, C, H, W, OC, K, s);
    dn_conv2d_forward_naive(om, ax, aw, ab, N, C, H, W, OC, K, s);
    assert_close_mag("conv forward fast vs naive", o1, o2, om, no);
    /* backward: gradients start non-zero (backward adds) */
    float *dout = frandn(no, 1.0f), *adout = fabs_copy(dout, no);
    float *dx0 = frandn(nx, 1.0f), *dw0 = frandn(nw, 1.0f), *db0 = frandn(OC, 1.0f);
    float *dx1 = fnew(nx), *dw1 = fnew(nw), *db1 = fnew(OC), *dx2 = fnew(nx), *dw2 = fnew(nw), *db2 = fnew(OC);
    float *mx = fabs_copy(dx0, nx), *mw = fabs_copy(dw0, nw), *mb = fabs_copy(db0, OC);
    memcpy(dx1, dx0, (size_t)nx * 4), memcpy(dw1, dw0, (size_t)nw * 4), memcpy(db1, db0, (size_t)OC * 4);
    memcpy(dx2, dx0, (size_t)nx * 4), memcpy(dw2, dw0, (size_t)nw * 4), memcpy(db2, db0, (size_t)OC * 4);
    dn_conv2d_backward(with_dx ? dx1 : NULL, dw1, with_bias ? db1 : NULL, dout, x, w, N, C, H, W, OC, K, s);
    dn_conv2d_backward_naive(with_dx ? dx2 : NULL, dw2, with_bias ? db2 : NULL, dout, x, w, N, C, H, W, OC, K, s);
    dn_conv2d_backward_naive(mx, mw, mb, adout, ax, aw, N, C, H, W, OC, K, s);
    assert_close_mag("conv dx fast vs naive", dx1, dx2, mx, nx);
    assert_close_mag("conv dw fast vs naive", dw1, dw2, mw, nw);
    assert_close_mag("conv db fast vs naive", db1, db2, mb, OC);
    if (!with_dx) assert_memory_equal(dx1, dx0, (size_t)nx * 4);
    if (!with_bias) assert_memory_equal(db1, db0, (size_t)OC * 4);
    free(x); free(w); free(b); free(o1); free(o2); free(om); free(ax); free(aw); free(ab);
    free(dout); free(adout); free(dx0); free(dw0); free(db0); free(dx1); free(dw1); free(db1);
    free(dx2); free(dw2); free(db2); free(mx); free(mw); free(mb);
}

static void conv_fast_matches_naive(void **state) {
    (void)state;
    dn_rng_seed(&rng, 200, 0);
    /* 3 threads: images cut into several stripes of rows, last blocks partial */
    dn_threads_set(3);
    conv_fast_case(1, 5, 40, 12, 9, 3, 1, 1, 1);
    conv_fast_case(1, 3, 70, 7, 4, 3, 1, 1, 1);
    conv_fast_case(2, 4, 19, 10, 11, 1, 1, 1, 1);
    conv_fast_case(1, 6, 21, 9, 5, 3, 2, 1, 1);
    dn_threads_set(1);
    conv_fast_case(3, 3, 7, 7, 5, 3, 1, 1, 1);    /* odd everything */
    conv_fast_case(3, 3, 7, 7, 5, 3, 2, 1, 1);
    conv_fast_case(3, 3, 7, 7, 5, 1, 1, 0, 1);
    conv_fast_case(2, 5, 9, 4, 7, 1, 2, 1, 0);
    conv_fast_case(1, 1, 1, 1, 1, 3, 1, 1, 1);    /* a single pixel */
    conv_fast_case(2, 3, 2, 3, 9, 3, 2, 0, 1);    /* image smaller than the kernel */
    conv_fast_case(2, 3, 32, 32, 32, 3, 1, 1, 0); /* the U-Net's input conv */
    conv_fast_case(2, 32, 16, 16, 64, 3, 1, 1, 1);
    conv_fast_case(2, 64, 16, 16, 64, 3, 2, 1, 1); /* a downsample; K = 576 spans two KC slices */
    conv_fast_case(2, 128, 8, 8, 64, 3, 1, 1, 1);  /* an up-path conv after concatenation */
    conv_fast_case(3, 96, 7, 7, 33, 1, 1, 1, 1);   /* a 1x1 skip, odd */
    conv_fast_case(1, 24, 14, 14, 17, 3, 1, 1, 1); /* 28x28 model sizes */
}

/* Attention: fast (SGEMM + vector softmax) against the plain loops. The sums have D or HW terms
 * of magnitude <~ 1 after the softmax; 2e-5 absolute + 1e-4 relative is ~100x the rounding. */
static void attention_fast_case(int N, int C, int HW, int NH, float scale) {
    long nq = (long)N * 3 * C * HW, no = (long)N * C * HW, na = (long)N * NH * HW * HW;
    float *qkv = frandn(nq, scale), *dout = frandn(no, 1.0f), *d0 = frandn(nq, 1.0f);
    float *o1 = fnew(no), *o2 = fnew(no), *a1 = fnew(na), *a2 = fnew(na), *g1 = fnew(nq), *g2 = fnew(nq);
    memcpy(g1, d0, (size_t)nq * 4), memcpy(g2, d0, (size_t)nq * 4);
    dn_attention_forward(o1, a1, qkv, N, C, HW, NH);
    dn_attention_forward_naive(o2, a2, qkv, N, C, HW, NH);
    tu_assert_allclose("attention att fast vs naive", a1, a2, na, 1e-6, 1e-4);
    tu_assert_allclose("attention out fast vs naive", o1, o2, no, 2e-5, 1e-4);
    dn_attention_backward(g1, dout, qkv, a1, N, C, HW, NH);
    dn_attention_backward_naive(g2, dout, qkv, a1, N, C, HW, NH);
    tu_assert_allclose("attention dqkv fast vs naive", g1, g2, nq, 2e-5 * (double)scale * sqrt((double)HW), 1e-4);
    free(qkv); free(dout); free(d0); free(o1); free(o2); free(a1); free(a2); free(g1); free(g2);
}

static void attention_fast_matches_naive(void **state) {
    (void)state;
    dn_rng_seed(&rng, 201, 0);
    attention_fast_case(1, 64, 64, 1, 0.5f); /* the U-Net's 8x8 middle */
    attention_fast_case(2, 64, 49, 4, 0.5f); /* 7x7 (28x28 model), 4 heads */
    attention_fast_case(3, 6, 17, 2, 2.0f);  /* odd, peaked softmax */
    attention_fast_case(1, 3, 1, 1, 1.0f);   /* a single position */
}

/* ---- same bits for any thread count -------------------------------------------------------------- */

/* One conv, forward and backward, at 1..4 threads: every output bit for bit the same. */
static void conv_threads_case(int N, int C, int H, int W, int OC, int K, int s) {
    int Ho = dn_conv2d_out_size(H, K, s), Wo = dn_conv2d_out_size(W, K, s);
    long nx = (long)N * C * H * W, nw = (long)OC * C * K * K, no = (long)N * OC * Ho * Wo;
    float *x = frandn(nx, 1.0f), *w = frandn(nw, 0.3f), *b = frandn(OC, 0.3f), *dout = frandn(no, 1.0f);
    float *out[5], *dx[5], *dw[5], *db[5];
    for (int th = 1; th <= 4; th++) {
        dn_threads_set(th);
        out[th] = fnew(no), dx[th] = fnew(nx), dw[th] = fnew(nw), db[th] = fnew(OC);
        dn_conv2d_forward(out[th], x, w, b, N, C, H, W, OC, K, s);
        dn_conv2d_backward(dx[th], dw[th], db[th], dout, x, w, N, C, H, W, OC, K, s);
        if (th > 1) {
            assert_memory_equal(out[th], out[1], (size_t)no * 4);
            assert_memory_equal(dx[th], dx[1], (size_t)nx * 4);
            assert_memory_equal(dw[th], dw[1], (size_t)nw * 4);
            assert_memory_equal(db[th], db[1], (size_t)OC * 4);
        }
    }
    for (int th = 1; th <= 4; th++) free(out[th]), free(dx[th]), free(dw[th]), free(db[th]);
    free(x); free(w); free(b); free(dout);
    dn_threads_set(1);
}

static void conv_same_bits_any_threads(void **state) {
    (void)state;
    dn_rng_seed(&rng, 300, 0);
    for (int K = 1; K <= 3; K += 2)
        for (int s = 1; s <= 2; s++) {
            conv_threads_case(3, 16, 9, 11, 24, K, s);  /* a small batch of odd images */
            conv_threads_case(1, 16, 45, 12, 13, K, s); /* one tall image, cut into stripes */
        }
}

/* The other threaded layers (GroupNorm, SiLU, attention, upsampling, concatenation, per-channel
 * add): identical for 1..4 threads. */
static void layers_same_bits_any_threads(void **state) {
    (void)state;
    dn_rng_seed(&rng, 301, 0);
    int N = 3, C = 32, HW = 200, G = 8, NH = 2; /* SiLU: 19200 values, two chunks and a tail */
    long nx = (long)N * C * HW, nq = 3 * nx, na = (long)N * NH * HW * HW;
    float *x = frandn(nx, 1.0f), *gamma = frandn(C, 1.0f), *beta = frandn(C, 1.0f), *dout = frandn(nx, 1.0f);
    float *qkv = frandn(nq, 1.0f);
    float *ref = NULL;
    float *bias = frandn(N * C, 1.0f), *dup = frandn(4 * nx, 1.0f), *dcat = frandn(2 * nx, 1.0f);
    long total = nx + 2 * N * G + nx + 2 * C + nx + nx + na + nx + nq + 4 * nx + nx + 2 * nx + nx + nx + N * C + nx + nx;
    for (int th = 1; th <= 4; th++) {
        dn_threads_set(th);
        float *all = fnew(total), *p = all;
        float *out = p; p += nx;
        float *mean = p; p += N * G;
        float *rstd = p; p += N * G;
        float *dx = p; p += nx;
        float *dg = p; p += C;
        float *dbt = p; p += C;
        dn_groupnorm_forward(out, mean, rstd, x, gamma, beta, N, C, HW, G);
        dn_groupnorm_backward(dx, dg, dbt, dout, x, mean, rstd, gamma, N, C, HW, G);
        float *so = p; p += nx;
        float *sdx = p; p += nx;
        dn_silu_forward(so, x, nx);
        dn_silu_backward(sdx, dout, x, nx);
        float *att = p; p += na;
        float *ao = p; p += nx;
        float *dq = p; p += nq;
        dn_attention_forward(ao, att, qkv, N, C, HW, NH);
        dn_attention_backward(dq, dout, qkv, att, N, C, HW, NH);
        float *up = p; p += 4 * nx; /* HW = 200 read as a 10 x 20 image */
        float *dupx = p; p += nx;
        dn_upsample2x_forward(up, x, N, C, 10, 20);
        dn_upsample2x_backward(dupx, dup, N, C, 10, 20);
        float *cat = p; p += 2 * nx;
        float *dca = p; p += nx;
        float *dcb = p; p += nx;
        dn_concat_forward(cat, x, dout, N, C, C, HW);
        dn_concat_backward(dca, dcb, dcat, N, C, C, HW);
        float *dbias = p; p += N * C;
        float *ac = p; p += nx;
        float *dac = p; p += nx;
        dn_add_channel_forward(ac, x, bias, N, C, HW);
        dn_add_channel_backward(dac, dbias, dout, N, C, HW);
        assert_true(p == all + total);
        if (th == 1) ref = all;
        else {
            assert_memory_equal(all, ref, (size_t)total * 4);
            free(all);
        }
    }
    dn_threads_set(1);
    free(ref); free(x); free(gamma); free(beta); free(dout); free(qkv); free(bias); free(dup); free(dcat);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gradcheck_conv),
        cmocka_unit_test(gradcheck_groupnorm),
        cmocka_unit_test(groupnorm_moments),
        cmocka_unit_test(gradcheck_silu),
        cmocka_unit_test(gradcheck_linear),
        cmocka_unit_test(gradcheck_embedding),
        cmocka_unit_test(gradcheck_upsample),
        cmocka_unit_test(gradcheck_concat),
        cmocka_unit_test(gradcheck_add_channel),
        cmocka_unit_test(gradcheck_attention),
        cmocka_unit_test(gradcheck_mse),
        cmocka_unit_test(timestep_embedding_values),
        cmocka_unit_test(conv_fast_matches_naive),
        cmocka_unit_test(attention_fast_matches_naive),
        cmocka_unit_test(layers_fast_match_naive),
        cmocka_unit_test(conv_same_bits_any_threads),
        cmocka_unit_test(layers_same_bits_any_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
