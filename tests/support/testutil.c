/* testutil.c — see testutil.h. */
#include "testutil.h"
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
