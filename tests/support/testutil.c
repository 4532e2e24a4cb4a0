/* testutil.c — see testutil.h. */
#include "testutil.h"
#include "base/err.h"
#include "diffusion/model.h"
#include <zlib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tu_assert_close(const char *what, long i, double a, double b, double atol, double rtol) {
    if (!(fabs(a - b) <= atol + rtol * fabs(b))) {
        print_error("%s[%ld]: got %.9g, want %.9g (atol %g, rtol %g)\n", what, i, a, b, atol, rtol);
        fail();
    }
}

void tu_assert_allclose(const char *what, const float *a, const float *b, long n, double atol, double rtol) {
    for (long i = 0; i < n; i++) tu_assert_close(what, i, (double)a[i], (double)b[i], atol, rtol);
}

const char *tu_tmpdir(void) {
    static char path[256];
    if (!path[0]) {
        snprintf(path, sizeof path, "/tmp/diffuse-test-XXXXXX");
        if (!mkdtemp(path)) {
            print_error("cannot create a temporary folder\n");
            fail();
        }
    }
    return path;
}

const char *tu_tiny_model(void) {
    static char path[512];
    if (path[0]) return path;
    dn_unet_config c = dn_unet_default_config(3, 8, 8, 2);
    c.base_width = 8, c.n_levels = 2, c.mults[2] = 0, c.attn_levels = 0, c.groups = 2, c.temb_width = 16;
    dn_unet m;
    if (dn_unet_init(&m, &c) < 0) fail_msg("%s", dn_error());
    dn_rng r;
    dn_rng_seed(&r, 7, 0);
    dn_unet_init_random(&m, &r);
    dn_model_meta meta;
    dn_model_meta_init(&meta);
    snprintf(meta.dataset, sizeof meta.dataset, "pets");
    meta.n_class_names = 2;
    snprintf(meta.class_names[0], sizeof meta.class_names[0], "cat");
    snprintf(meta.class_names[1], sizeof meta.class_names[1], "dog");
    snprintf(path, sizeof path, "%s/tiny.dfm", tu_tmpdir());
    if (dn_model_save(path, &m, &meta, DN_DTYPE_F32) < 0) fail_msg("%s", dn_error());
    dn_unet_free(&m);
    return path;
}

void tu_put32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

void tu_refit_crc(unsigned char *d, size_t len) {
    tu_put32(d + len - 4, (uint32_t)crc32(0L, d, (uInt)(len - 4)));
}

size_t tu_find(const unsigned char *d, size_t len, const char *s) {
    size_t n = strlen(s);
    for (size_t i = 0; i + n <= len; i++)
        if (!memcmp(d + i, s, n)) return i;
    fail_msg("'%s' not in the file", s);
    return 0;
}
