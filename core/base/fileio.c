/* fileio.c — see fileio.h. */
#include "base/fileio.h"
#include "base/err.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int dn_read_file(const char *path, unsigned char **data, size_t *len, size_t max_bytes) {
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return dn_fail("cannot open '%s': %s (check the path and permissions)", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return dn_fail("cannot read '%s': not a regular file", path);
    }
    if ((unsigned long long)st.st_size > max_bytes) {
        fclose(f);
        return dn_fail("cannot read '%s': %lld bytes is larger than the limit of %zu", path,
                       (long long)st.st_size, max_bytes);
    }
    size_t n = (size_t)st.st_size;
    unsigned char *buf = malloc(n ? n : 1);
    if (!buf) {
        fclose(f);
        return dn_fail("cannot read '%s': out of memory for %zu bytes", path, n);
    }
    size_t got = fread(buf, 1, n, f);
    int err = ferror(f);
    fclose(f);
    if (got != n || err) {
        free(buf);
        return dn_fail("cannot read '%s': read %zu of %zu bytes", path, got, n);
    }
    *data = buf;
    *len = n;
    return 0;
}

int dn_write_file_atomic(const char *path, const void *data, size_t len) {
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return dn_fail("cannot write '%s': path too long", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) return dn_fail("cannot write '%s': %s (is the folder writable?)", path, strerror(errno));
    size_t put = len ? fwrite(data, 1, len, f) : 0;
    int ok = put == len && fflush(f) == 0 && fsync(fileno(f)) == 0;
    int saved = errno;
    if (fclose(f) != 0) ok = 0;
    if (!ok) {
        remove(tmp);
        return dn_fail("cannot write '%s': %s", path, strerror(saved ? saved : EIO));
    }
    if (rename(tmp, path) != 0) {
        saved = errno;
        remove(tmp);
        return dn_fail("cannot write '%s': %s", path, strerror(saved));
    }
    return 0;
}

int dn_make_dir(const char *path) {
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf) return dn_fail("cannot create folder '%s': bad path", path);
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0') continue;
        char c = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return dn_fail("cannot create folder '%s': %s", buf, strerror(errno));
        buf[i] = c;
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return dn_fail("cannot use '%s' as output folder: it is not a folder", path);
    if (access(path, W_OK) != 0)
        return dn_fail("cannot write into folder '%s': %s", path, strerror(errno));
    return 0;
}

void dn_buf_put(dn_buf *b, const void *src, size_t n) {
    if (b->oom || n == 0) return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n) cap *= 2;
        unsigned char *q = realloc(b->data, cap);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->data = q;
        b->cap = cap;
    }
    memcpy(b->data + b->len, src, n);
    b->len += n;
}

void dn_buf_free(dn_buf *b) {
    if (!b) return;
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->oom = 0;
}

void dn_buf_put_u32(dn_buf *b, uint32_t v) {
    unsigned char x[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16), (unsigned char)(v >> 24)};
    dn_buf_put(b, x, 4);
}

void dn_buf_put_str(dn_buf *b, const char *s) {
    size_t n = strlen(s);
    dn_buf_put_u32(b, (uint32_t)n);
    dn_buf_put(b, s, n);
}

/* ---- float16 (IEEE 754 binary16) ---------------------------------------------------------------- */

uint16_t dn_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u, ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) return (uint16_t)(sign | 0x7c00u | (ax > 0x7f800000u ? 0x200u : 0u));
    if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* >= 65520 rounds to infinity */
    if (ax < 0x38800000u) {                                    /* below 2^-14: subnormal or zero */
        if (ax < 0x33000000u) return (uint16_t)sign;           /* below 2^-25 */
        uint32_t e = ax >> 23, m = (ax & 0x7fffffu) | 0x800000u;
        int shift = 126 - (int)e;                              /* value / 2^-24 = m 2^(e-126) */
        uint32_t r = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (r & 1))) r++;
        return (uint16_t)(sign | r);
    }
    uint32_t r = (ax - 0x38000000u) >> 13, rem = ax & 0x1fffu; /* rebias 127 -> 15 */
    if (rem > 0x1000u || (rem == 0x1000u && (r & 1))) r++;     /* carry may bump the exponent: fine */
    return (uint16_t)(sign | r);
}

float dn_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu, x;
    if (e == 0) {
        float f = (float)m * 5.9604644775390625e-8f; /* m 2^-24, exact */
        return sign ? -f : f;
    }
    if (e == 31) x = sign | 0x7f800000u | (m << 13);
    else x = sign | ((e + 112) << 23) | (m << 13);
    float f;
    memcpy(&f, &x, 4);
    return f;
}
