/* frechet.c — see frechet.h. Sections: Gaussian fit / Jacobi eigen-decomposition / square root /
 * distance. */
#include "eval/frechet.h"
#include "base/err.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- Gaussian fit: two passes (mean, then centred products) so large means do not cancel ------ */

int dn_gauss_fit(double *mean, double *cov, const float *x, long n, int d) {
    if (n < 2) return dn_fail("a covariance needs at least 2 feature vectors, got %ld", n);
    double *c = malloc((size_t)d * sizeof(double));
    if (!c) return dn_fail("out of memory fitting a Gaussian to %ld x %d features", n, d);
    memset(mean, 0, (size_t)d * sizeof(double));
    memset(cov, 0, (size_t)d * (size_t)d * sizeof(double));
    for (long i = 0; i < n; i++)
        for (int j = 0; j < d; j++) mean[j] += (double)x[i * d + j];
    for (int j = 0; j < d; j++) mean[j] /= (double)n;
    for (long i = 0; i < n; i++) {
        for (int j = 0; j < d; j++) c[j] = (double)x[i * d + j] - mean[j];
        for (int j = 0; j < d; j++)          /* upper triangle; mirrored below */
            for (int k = j; k < d; k++) cov[j * d + k] += c[j] * c[k];
    }
    for (int j = 0; j < d; j++)
        for (int k = j; k < d; k++) {
            cov[j * d + k] /= (double)(n - 1);
            cov[k * d + j] = cov[j * d + k];
        }
    free(c);
    return 0;
}

/* ---- symmetric eigen-decomposition by cyclic Jacobi rotations (Jacobi 1846; Golub & Van Loan
 * 8.5): each rotation J in the (p, q) plane zeroes a[p][q] of a' = J^T a J; the sum of squares
 * off the diagonal shrinks every sweep, quadratically near the end. ----------------------------- */

int dn_sym_eigen(double *w, double *v, const double *a_in, int d) {
    double *a = malloc((size_t)d * (size_t)d * sizeof(double));
    if (!a) return dn_fail("out of memory for a %dx%d eigen-decomposition", d, d);
    memcpy(a, a_in, (size_t)d * (size_t)d * sizeof(double));
    for (int i = 0; i < d; i++)
        for (int j = 0; j < d; j++) v[i * d + j] = i == j;
    double fro = 0;
    for (long i = 0; i < (long)d * d; i++) fro += a[i] * a[i];
    fro = sqrt(fro);
    int converged = 0;
    double off = 0;
    for (int sweep = 0; sweep < 100 && !converged; sweep++) {
        off = 0;
        for (int p = 0; p < d; p++)
            for (int q = p + 1; q < d; q++) off += a[p * d + q] * a[p * d + q];
        off = sqrt(2 * off);
        if (off <= 1e-14 * fro) {
            converged = 1;
            break;
        }
        for (int p = 0; p < d; p++)
            for (int q = p + 1; q < d; q++) {
                double apq = a[p * d + q];
                if (apq == 0) continue;
                /* t = tan(angle) is the smaller root of t^2 + 2 theta t - 1 = 0 (stable) */
                double theta = (a[q * d + q] - a[p * d + p]) / (2 * apq);
                double t = (theta >= 0 ? 1.0 : -1.0) / (fabs(theta) + sqrt(theta * theta + 1));
                double c = 1 / sqrt(t * t + 1), s = t * c;
                for (int k = 0; k < d; k++) { /* columns p, q of a J */
                    double akp = a[k * d + p], akq = a[k * d + q];
                    a[k * d + p] = c * akp - s * akq;
                    a[k * d + q] = s * akp + c * akq;
                }
                for (int k = 0; k < d; k++) { /* rows p, q of J^T (a J) */
                    double apk = a[p * d + k], aqk = a[q * d + k];
                    a[p * d + k] = c * apk - s * aqk;
                    a[q * d + k] = s * apk + c * aqk;
                }
                a[p * d + q] = a[q * d + p] = 0; /* exactly, by construction of t */
                for (int k = 0; k < d; k++) {    /* v <- v J: the eigenvectors accumulate */
                    double vkp = v[k * d + p], vkq = v[k * d + q];
                    v[k * d + p] = c * vkp - s * vkq;
                    v[k * d + q] = s * vkp + c * vkq;
                }
            }
    }
    /* 100 sweeps without reaching 1e-14: accept what rounding allows, refuse real trouble */
    if (!converged && !(off <= 1e-9 * fro)) {
        free(a);
        return dn_fail("eigen-decomposition of a %dx%d matrix did not converge (off-diagonal %g of %g); "
                       "are the features finite?", d, d, off, fro);
    }
    for (int i = 0; i < d; i++) w[i] = a[i * d + i];
    free(a);
    /* sort decreasing, columns of v along */
    for (int i = 0; i < d; i++) {
        int best = i;
        for (int j = i + 1; j < d; j++)
            if (w[j] > w[best]) best = j;
        if (best == i) continue;
        double t = w[i];
        w[i] = w[best], w[best] = t;
        for (int k = 0; k < d; k++) {
            t = v[k * d + i];
            v[k * d + i] = v[k * d + best], v[k * d + best] = t;
        }
    }
    return 0;
}

/* ---- square root of a positive semi-definite matrix: V diag(sqrt(max(w, 0))) V^T ------------- */

int dn_sqrtm_psd(double *out, const double *a, int d) {
    double *w = malloc((size_t)d * sizeof(double)), *v = malloc((size_t)d * (size_t)d * sizeof(double));
    if (!w || !v) {
        free(w), free(v);
        return dn_fail("out of memory for a %dx%d matrix square root", d, d);
    }
    if (dn_sym_eigen(w, v, a, d)) {
        free(w), free(v);
        return -1;
    }
    for (int k = 0; k < d; k++) w[k] = w[k] > 0 ? sqrt(w[k]) : 0; /* rounding makes -1e-17s */
    for (int i = 0; i < d; i++)
        for (int j = i; j < d; j++) {
            double s = 0;
            for (int k = 0; k < d; k++) s += v[i * d + k] * w[k] * v[j * d + k];
            out[i * d + j] = out[j * d + i] = s;
        }
    free(w), free(v);
    return 0;
}

/* ---- the distance ----------------------------------------------------------------------------- */

/* c = a b (d x d) */
static void matmul(double *c, const double *a, const double *b, int d) {
    memset(c, 0, (size_t)d * (size_t)d * sizeof(double));
    for (int i = 0; i < d; i++)
        for (int k = 0; k < d; k++) {
            double aik = a[i * d + k];
            for (int j = 0; j < d; j++) c[i * d + j] += aik * b[k * d + j];
        }
}

int dn_frechet_distance(double *fd, const double *mu1, const double *s1, const double *mu2,
                        const double *s2, int d) {
    *fd = 0;
    size_t dd = (size_t)d * (size_t)d;
    double *r = malloc(dd * sizeof(double)), *t = malloc(dd * sizeof(double)),
           *m = malloc(dd * sizeof(double)), *v = malloc(dd * sizeof(double)),
           *w = malloc((size_t)d * sizeof(double));
    int rc = -1;
    if (!r || !t || !m || !v || !w) {
        dn_fail("out of memory for a %d-dimensional Fréchet distance", d);
        goto done;
    }
    /* tr (S1 S2)^1/2 = tr (R S2 R)^1/2 with R = S1^1/2: the same eigenvalues, but R S2 R is
     * symmetric positive semi-definite, so a symmetric eigen-solver applies. */
    if (dn_sqrtm_psd(r, s1, d)) goto done;
    matmul(t, r, s2, d);
    matmul(m, t, r, d);
    for (int i = 0; i < d; i++)
        for (int j = i + 1; j < d; j++) m[i * d + j] = m[j * d + i] = 0.5 * (m[i * d + j] + m[j * d + i]);
    if (dn_sym_eigen(w, v, m, d)) goto done;
    double dist = 0, tr = 0;
    for (int i = 0; i < d; i++) {
        double dm = mu1[i] - mu2[i];
        dist += dm * dm;
        tr += s1[i * d + i] + s2[i * d + i] - 2 * (w[i] > 0 ? sqrt(w[i]) : 0);
    }
    dist += tr;
    *fd = dist > 0 ? dist : 0; /* identical sets give 0 up to rounding, never a negative distance */
    rc = 0;
done:
    free(r), free(t), free(m), free(v), free(w);
    return rc;
}

int dn_frechet_features(double *fd, const float *x1, long n1, const float *x2, long n2, int d) {
    *fd = 0;
    size_t dd = (size_t)d * (size_t)d;
    double *mu1 = malloc((size_t)d * sizeof(double)), *mu2 = malloc((size_t)d * sizeof(double));
    double *s1 = malloc(dd * sizeof(double)), *s2 = malloc(dd * sizeof(double));
    int rc = -1;
    if (!mu1 || !mu2 || !s1 || !s2) dn_fail("out of memory for a %d-dimensional Fréchet distance", d);
    else if (!dn_gauss_fit(mu1, s1, x1, n1, d) && !dn_gauss_fit(mu2, s2, x2, n2, d))
        rc = dn_frechet_distance(fd, mu1, s1, mu2, s2, d);
    free(mu1), free(mu2), free(s1), free(s2);
    return rc;
}
