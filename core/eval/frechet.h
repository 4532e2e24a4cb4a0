/* frechet.h — how far apart two sets of feature vectors are: fit a Gaussian to each (mean and
 * covariance) and take the Fréchet (2-Wasserstein) distance between the two Gaussians
 * (Dowson & Landau 1982; FID, Heusel et al. 2017, does this with Inception features):
 *
 *   FD = |mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1^1/2 S2 S1^1/2)^1/2)
 *
 * The matrix square roots come from a symmetric eigen-decomposition (cyclic Jacobi rotations),
 * with tiny negative eigenvalues (rounding) clamped to 0. Everything is computed in double. */
#ifndef DN_FRECHET_H
#define DN_FRECHET_H

/* Mean (d) and covariance (d x d, row-major, divided by n - 1 as numpy.cov) of n >= 2 vectors
 * x (n, d), two passes in double. Returns 0 or -1 + dn_error() (n < 2, out of memory). */
int dn_gauss_fit(double *mean, double *cov, const float *x, long n, int d);

/* Eigen-decomposition of the symmetric d x d matrix a (row-major; read only):
 * a = V diag(w) V^T with the eigenvectors as the columns of v (d x d), eigenvalues w (d) sorted
 * in decreasing order. Cyclic Jacobi until the off-diagonal mass is below 1e-15 of the whole
 * (at most 100 sweeps). Returns 0 or -1 + dn_error() (out of memory, no convergence). */
int dn_sym_eigen(double *w, double *v, const double *a, int d);

/* out = a^1/2 for a symmetric positive semi-definite a (d x d); eigenvalues below 0 count as 0.
 * out may not alias a. Returns 0 or -1 + dn_error(). */
int dn_sqrtm_psd(double *out, const double *a, int d);

/* The Fréchet distance above between N(mu1, s1) and N(mu2, s2) (d-dimensional) into *fd.
 * Returns 0 or -1 + dn_error(). */
int dn_frechet_distance(double *fd, const double *mu1, const double *s1, const double *mu2,
                        const double *s2, int d);

/* Both steps: fit Gaussians to x1 (n1, d) and x2 (n2, d) and return their distance in *fd. */
int dn_frechet_features(double *fd, const float *x1, long n1, const float *x2, long n2, int d);

#endif
