/* test_fid.c — the Fréchet distance of core/eval/frechet.h: the Jacobi eigen-decomposition rebuilds
 * its matrix with orthonormal eigenvectors; matrix square roots square back; a set's distance to
 * itself is 0; Gaussians with known means and covariances give the closed form
 * (commuting covariances: |mu1 - mu2|^2 + tr((S1^1/2 - S2^1/2)^2)), diagonal and rotated; and two
 * random feature sets give what PyTorch computes by another route (tests/golden/frechet_golden.py). */
#include "testutil.h"
#include "eval/frechet.h"
#include "base/rng.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "golden/frechet_golden.h"

static double *mat(int d) {
    double *m = calloc((size_t)d * (size_t)d, sizeof(double));
    assert_non_null(m);
    return m;
}

/* a random symmetric positive definite d x d matrix: B B^T / d + 0.1 I */
static void random_spd(double *a, int d, dn_rng *r) {
    double *b = mat(d);
    for (int i = 0; i < d * d; i++) b[i] = (double)dn_rng_normal(r);
    for (int i = 0; i < d; i++)
        for (int j = 0; j < d; j++) {
            double s = 0;
            for (int k = 0; k < d; k++) s += b[i * d + k] * b[j * d + k];
            a[i * d + j] = s / d + (i == j ? 0.1 : 0.0);
        }
    free(b);
}

static void eigen_rebuilds_matrix(void **state) {
    (void)state;
    dn_rng r;
    dn_rng_seed(&r, 3, 0);
    int sizes[] = {1, 2, 7, 40};
    for (int s = 0; s < 4; s++) {
        int d = sizes[s];
        double *a = mat(d), *v = mat(d), *w = calloc((size_t)d, sizeof(double));
        assert_non_null(w);
        random_spd(a, d, &r);
        a[0] = -a[0]; /* not definite any more: negative eigenvalues must work too */
        assert_int_equal(dn_sym_eigen(w, v, a, d), 0);
        for (int i = 0; i + 1 < d; i++) assert_true(w[i] >= w[i + 1]); /* sorted, decreasing */
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++) {
                double rec = 0, dot = 0;
                for (int k = 0; k < d; k++) {
                    rec += v[i * d + k] * w[k] * v[j * d + k]; /* (V diag(w) V^T)_ij */
                    dot += v[k * d + i] * v[k * d + j];        /* (V^T V)_ij */
                }
                tu_assert_close("V diag(w) V^T", i * d + j, rec, a[i * d + j], 1e-12, 1e-10);
                tu_assert_close("V^T V", i * d + j, dot, i == j, 1e-12, 0);
            }
        free(a), free(v), free(w);
    }
    /* a known spectrum: [[2,1],[1,2]] has eigenvalues 3 and 1 */
    double a2[4] = {2, 1, 1, 2}, w2[2], v2[4];
    assert_int_equal(dn_sym_eigen(w2, v2, a2, 2), 0);
    tu_assert_close("eig", 0, w2[0], 3, 1e-14, 0);
    tu_assert_close("eig", 1, w2[1], 1, 1e-14, 0);
}

static void sqrtm_squares_back(void **state) {
    (void)state;
    dn_rng r;
    dn_rng_seed(&r, 4, 0);
    int d = 24;
    double *a = mat(d), *s = mat(d);
    random_spd(a, d, &r);
    assert_int_equal(dn_sqrtm_psd(s, a, d), 0);
    for (int i = 0; i < d; i++)
        for (int j = 0; j < d; j++) {
            double t = 0;
            for (int k = 0; k < d; k++) t += s[i * d + k] * s[k * d + j];
            tu_assert_close("sqrt(A)^2", i * d + j, t, a[i * d + j], 1e-12, 1e-10);
            tu_assert_close("sqrt(A) symmetric", i * d + j, s[i * d + j], s[j * d + i], 1e-15, 0);
        }
    free(a), free(s);
}

/* FD between Gaussians given by parameters, against the closed forms. */
static void closed_forms(void **state) {
    (void)state;
    enum { D = 6 };
    double mu1[D], mu2[D], s1[D * D] = {0}, s2[D * D] = {0}, fd;
    /* diagonal: FD = sum (m1 - m2)^2 + sum (sqrt a - sqrt b)^2 */
    double want = 0;
    for (int i = 0; i < D; i++) {
        mu1[i] = 0.5 * i, mu2[i] = 1.0 - 0.25 * i;
        double a = 1.0 + i, b = 4.0 / (1.0 + i);
        s1[i * D + i] = a, s2[i * D + i] = b;
        want += (mu1[i] - mu2[i]) * (mu1[i] - mu2[i]) + (sqrt(a) - sqrt(b)) * (sqrt(a) - sqrt(b));
    }
    assert_int_equal(dn_frechet_distance(&fd, mu1, s1, mu2, s2, D), 0);
    tu_assert_close("FD diagonal", 0, fd, want, 1e-12, 1e-12);
    /* the same after a common rotation Q (covariances Q S Q^T commute but are not diagonal):
     * means rotate too, and the distance must not change */
    dn_rng r;
    dn_rng_seed(&r, 8, 0);
    double sym[D * D], q[D * D], w[D];
    random_spd(sym, D, &r);
    assert_int_equal(dn_sym_eigen(w, q, sym, D), 0); /* q: a random orthogonal matrix */
    double r1[D * D], r2[D * D], m1[D], m2[D];
    for (int i = 0; i < D; i++) {
        m1[i] = m2[i] = 0;
        for (int k = 0; k < D; k++) m1[i] += q[i * D + k] * mu1[k], m2[i] += q[i * D + k] * mu2[k];
        for (int j = 0; j < D; j++) {
            r1[i * D + j] = r2[i * D + j] = 0;
            for (int k = 0; k < D; k++) {
                r1[i * D + j] += q[i * D + k] * s1[k * D + k] * q[j * D + k];
                r2[i * D + j] += q[i * D + k] * s2[k * D + k] * q[j * D + k];
            }
        }
    }
    assert_int_equal(dn_frechet_distance(&fd, m1, r1, m2, r2, D), 0);
    tu_assert_close("FD rotated", 0, fd, want, 1e-10, 1e-10);
    /* non-commuting covariances in 2-D: S1 = I, S2 = A: tr sqrt(A) is the sum of the square
     * roots of A's eigenvalues; A = [[2,1],[1,2]] -> FD = 2 + 4 - 2 (sqrt 3 + 1) */
    double i2[4] = {1, 0, 0, 1}, a2[4] = {2, 1, 1, 2}, z[2] = {0, 0};
    assert_int_equal(dn_frechet_distance(&fd, z, i2, z, a2, 2), 0);
    tu_assert_close("FD 2-D", 0, fd, 6 - 2 * (sqrt(3.0) + 1), 1e-13, 0);
    /* ... and with S1 = A, S2 = diag(1, 4): tr (A^1/2 diag(1,4) A^1/2)^1/2 = tr (A diag(1,4))^1/2;
     * A diag(1,4) = [[2,4],[1,8]] has eigenvalues 5 +- sqrt 13, both positive */
    double d14[4] = {1, 0, 0, 4};
    double want2 = 4 + 5 - 2 * (sqrt(5 + sqrt(13.0)) + sqrt(5 - sqrt(13.0)));
    assert_int_equal(dn_frechet_distance(&fd, z, a2, z, d14, 2), 0);
    tu_assert_close("FD 2-D non-commuting", 0, fd, want2, 1e-12, 0);
    /* symmetric in its arguments */
    double back;
    assert_int_equal(dn_frechet_distance(&back, z, d14, z, a2, 2), 0);
    tu_assert_close("FD symmetric", 0, back, want2, 1e-12, 0);
}

static void feature_sets_match_pytorch(void **state) {
    (void)state;
    for (size_t c = 0; c < sizeof golden_fds / sizeof golden_fds[0]; c++) {
        const golden_fd *g = &golden_fds[c];
        double fd, self;
        assert_int_equal(dn_frechet_features(&fd, g->x1, g->n1, g->x2, g->n2, g->d), 0);
        print_message("%s: FD %.12g (PyTorch %.12g)\n", g->name, fd, g->fd);
        tu_assert_close(g->name, 0, fd, g->fd, 1e-10, 1e-9);
        assert_int_equal(dn_frechet_features(&self, g->x1, g->n1, g->x1, g->n1, g->d), 0);
        tu_assert_close("FD of a set with itself", 0, self, 0, 1e-9, 0);
        assert_true(self >= 0);
    }
    /* refused: fewer than 2 vectors */
    double fd;
    assert_int_equal(dn_frechet_features(&fd, golden_fds[0].x1, 1, golden_fds[0].x2, 5, golden_fds[0].d), -1);
}

/* Samples from two known Gaussians: the sample FD approaches the closed form as n grows. */
static void samples_approach_the_closed_form(void **state) {
    (void)state;
    enum { D = 4, N = 20000 };
    float *x1 = malloc(sizeof(float) * N * D), *x2 = malloc(sizeof(float) * N * D);
    assert_non_null(x1);
    assert_non_null(x2);
    dn_rng r;
    dn_rng_seed(&r, 21, 0);
    /* x1 ~ N(0, I); x2 ~ N(mu, diag(s^2)), s = (0.5, 1, 2, 3), mu = (1, 0, 0, -1):
     * FD = |mu|^2 + sum (1 - s)^2 = 2 + (0.25 + 0 + 1 + 4) */
    const float s[D] = {0.5f, 1, 2, 3}, mu[D] = {1, 0, 0, -1};
    for (long i = 0; i < (long)N * D; i++) {
        int j = (int)(i % D);
        x1[i] = dn_rng_normal(&r);
        x2[i] = mu[j] + s[j] * dn_rng_normal(&r);
    }
    double fd;
    assert_int_equal(dn_frechet_features(&fd, x1, N, x2, N, D), 0);
    print_message("sample FD %.4f, closed form 7.25\n", fd);
    tu_assert_close("sample FD", 0, fd, 7.25, 0.15, 0);
    free(x1), free(x2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(eigen_rebuilds_matrix),
        cmocka_unit_test(sqrtm_squares_back),
        cmocka_unit_test(closed_forms),
        cmocka_unit_test(feature_sets_match_pytorch),
        cmocka_unit_test(samples_approach_the_closed_form),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
