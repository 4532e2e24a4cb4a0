/* fashion.c — the Fashion-MNIST idx reader; see fashion.h for the format and the checks. */
#include "data/fashion.h"
#include "base/err.h"
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

const char *const dn_fashion_class_names[DN_FASHION_CLASSES] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot",
};

#define FIX " (reinstall it: sudo apt-get install --reinstall " DN_FASHION_PACKAGE ")"

/* Read exactly `len` bytes, or fail naming what was expected. zlib reports a damaged stream
 * (bad deflate data, wrong CRC or length in the trailer) through gzerror. */
static int read_exact(gzFile f, const char *path, void *buf, size_t len, const char *what) {
    size_t got = 0;
    while (got < len) {
        size_t want = len - got;
        if (want > (1u << 30)) want = 1u << 30; /* gzread takes an unsigned count */
        int r = gzread(f, (char *)buf + got, (unsigned)want);
        if (r < 0) {
            int zerr;
            const char *msg = gzerror(f, &zerr);
            return dn_fail("cannot read Fashion-MNIST file '%s': damaged gzip data while reading %s (%s)" FIX,
                           path, what, zerr == Z_ERRNO ? strerror(errno) : msg);
        }
        if (r == 0)
            return dn_fail("cannot read Fashion-MNIST file '%s': truncated: only %zu of the %zu bytes of %s" FIX,
                           path, got, len, what);
        got += (size_t)r;
    }
    return 0;
}

static uint32_t be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Open one idx file, check its header (magic, count, and 28x28 for images), read the payload
 * (count * item bytes) into `out`, and insist that the stream ends there with a valid trailer. */
static int read_idx(const char *path, int images, uint32_t count, unsigned char *out) {
    gzFile f = gzopen(path, "rb");
    if (!f) {
        if (errno == ENOENT)
            return dn_fail("cannot open Fashion-MNIST file '%s': no such file (install the Debian package: "
                           "sudo apt-get install " DN_FASHION_PACKAGE ")", path);
        return dn_fail("cannot open Fashion-MNIST file '%s': %s" FIX, path, strerror(errno));
    }
    int rc = -1;
    unsigned char h[16];
    size_t hlen = images ? 16 : 8;
    if (read_exact(f, path, h, hlen, "the idx header") < 0) goto done;
    uint32_t magic = be32(h), want_magic = images ? 0x803u : 0x801u;
    if (magic != want_magic) {
        dn_fail("cannot read Fashion-MNIST file '%s': not an idx %s file (magic 0x%08x, expected 0x%08x)" FIX,
                path, images ? "image" : "label", (unsigned)magic, (unsigned)want_magic);
        goto done;
    }
    if (be32(h + 4) != count) {
        dn_fail("cannot read Fashion-MNIST file '%s': it holds %u %s, expected %u" FIX, path,
                (unsigned)be32(h + 4), images ? "images" : "labels", (unsigned)count);
        goto done;
    }
    if (images && (be32(h + 8) != DN_FASHION_SIDE || be32(h + 12) != DN_FASHION_SIDE)) {
        dn_fail("cannot read Fashion-MNIST file '%s': images are %ux%u, expected 28x28" FIX, path,
                (unsigned)be32(h + 8), (unsigned)be32(h + 12));
        goto done;
    }
    size_t item = images ? DN_FASHION_PIXELS : 1;
    if (read_exact(f, path, out, (size_t)count * item, images ? "the pixels" : "the labels") < 0) goto done;
    /* Reading past the payload makes zlib check the gzip trailer (CRC-32 and length). */
    unsigned char extra;
    int r = gzread(f, &extra, 1);
    if (r < 0) {
        int zerr;
        const char *msg = gzerror(f, &zerr);
        dn_fail("cannot read Fashion-MNIST file '%s': damaged gzip data at the end (%s)" FIX, path,
                zerr == Z_ERRNO ? strerror(errno) : msg);
        goto done;
    }
    if (r > 0) {
        dn_fail("cannot read Fashion-MNIST file '%s': extra bytes after %u %s" FIX, path,
                (unsigned)count, images ? "images" : "labels");
        goto done;
    }
    /* gzread treats a stream that stops early (e.g. a cut trailer) as a soft error: ask for it */
    int zerr;
    gzerror(f, &zerr);
    if (zerr == Z_BUF_ERROR) {
        dn_fail("cannot read Fashion-MNIST file '%s': truncated: the gzip stream ends early" FIX, path);
        goto done;
    }
    rc = 0;
done:
    gzclose(f);
    return rc;
}

int dn_fashion_load(dn_fashion *d, const char *dir, int test) {
    memset(d, 0, sizeof *d);
    if (!dir || !*dir) dir = DN_FASHION_DIR;
    const char *stem = test ? "t10k" : "train";
    uint32_t n = test ? DN_FASHION_TEST_N : DN_FASHION_TRAIN_N;
    char img_path[4096], lab_path[4096];
    int a = snprintf(img_path, sizeof img_path, "%s/%s-images-idx3-ubyte.gz", dir, stem);
    int b = snprintf(lab_path, sizeof lab_path, "%s/%s-labels-idx1-ubyte.gz", dir, stem);
    if (a < 0 || b < 0 || (size_t)a >= sizeof img_path || (size_t)b >= sizeof lab_path)
        return dn_fail("Fashion-MNIST folder name is too long: '%.80s...'", dir);
    unsigned char *block = malloc((size_t)n * (DN_FASHION_PIXELS + 1));
    if (!block) return dn_fail("Fashion-MNIST: out of memory for %u images", (unsigned)n);
    unsigned char *pixels = block, *labels = block + (size_t)n * DN_FASHION_PIXELS;
    /* labels first: the small file fails fast when the package is missing */
    if (read_idx(lab_path, 0, n, labels) < 0 || read_idx(img_path, 1, n, pixels) < 0) {
        free(block);
        return -1;
    }
    for (uint32_t i = 0; i < n; i++)
        if (labels[i] >= DN_FASHION_CLASSES) {
            unsigned bad = labels[i];
            free(block);
            return dn_fail("cannot read Fashion-MNIST file '%s': label %u of image %u is not a class 0..9" FIX,
                           lab_path, bad, (unsigned)i);
        }
    d->n = (int)n;
    d->test = test;
    d->pixels = pixels;
    d->labels = labels;
    return 0;
}

void dn_fashion_free(dn_fashion *d) {
    if (!d) return;
    free(d->pixels); /* the block holds the labels too */
    memset(d, 0, sizeof *d);
}

void dn_fashion_batch(const dn_fashion *d, float *x, int *y, const long *idx, int n) {
    for (int b = 0; b < n; b++) {
        const unsigned char *p = d->pixels + (size_t)idx[b] * DN_FASHION_PIXELS;
        float *o = x + (size_t)b * DN_FASHION_PIXELS;
        for (int i = 0; i < DN_FASHION_PIXELS; i++) o[i] = (float)p[i] / 127.5f - 1.0f;
        if (y) y[b] = d->labels[idx[b]];
    }
}
