/* testutil.h — what the cmocka tests share: includes, float comparisons with a message. */
#ifndef DN_TESTUTIL_H
#define DN_TESTUTIL_H
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* Fail the test with a message naming `what` and index i if |a - b| > atol + rtol |b|. */
void tu_assert_close(const char *what, long i, double a, double b, double atol, double rtol);
/* Same over arrays of n floats. */
void tu_assert_allclose(const char *what, const float *a, const float *b, long n, double atol, double rtol);
/* A unique empty temporary folder for the test (created); path valid until the process exits. */
const char *tu_tmpdir(void);
/* A 3x8x8 two-class model ("cat", "dog") with random weights, saved once per test program in
 * tu_tmpdir(); its path. For tests of the viewer and the renderer, which need a model file. */
const char *tu_tiny_model(void);

/* For forging files: a little-endian uint32 at p; the CRC-32 of d's first len - 4 bytes written
 * into its last 4 (a forged file with a valid checksum); the offset of the first occurrence of the
 * string s in d (the test fails if there is none). */
void tu_put32(unsigned char *p, uint32_t v);
void tu_refit_crc(unsigned char *d, size_t len);
size_t tu_find(const unsigned char *d, size_t len, const char *s);

#endif
