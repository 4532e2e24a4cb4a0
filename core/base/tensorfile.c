/* tensorfile.c — see tensorfile.h and docs/MODEL_FORMAT.md. Sections: names and text / reader /
 * writer. */
#include "base/tensorfile.h"
#include "base/err.h"
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* ---- names and text -------------------------------------------------------------------------- */

/* A kind, key or tensor name: 1..max bytes of [A-Za-z0-9_.-]. */
static int name_ok(const char *s, size_t n, size_t max) {
    if (n < 1 || n > max) return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
              c == '-'))
            return 0;
    }
    return 1;
}

/* A metadata value: at most DN_TF_MAX_VALUE bytes of text, no control characters but \n and \t. */
static int text_ok(const char *s, size_t n) {
    if (n > DN_TF_MAX_VALUE) return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 32 && c != '\n' && c != '\t') || c == 127) return 0;
    }
    return 1;
}

static size_t dtype_size(dn_dtype d) { return d == DN_DTYPE_F16 ? 2 : 4; }

static float value_at(const unsigned char *p, dn_dtype d, long i) {
    if (d == DN_DTYPE_F16) return dn_f16_to_f32((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
    uint32_t u = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 | (uint32_t)p[4 * i + 2] << 16 |
                 (uint32_t)p[4 * i + 3] << 24;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* ---- reader ------------------------------------------------------------------------------------ */

typedef struct {
    const unsigned char *p;
    size_t len, off; /* len excludes the checksum */
} rd;

static int get_u32(rd *r, uint32_t *v) {
    if (r->len - r->off < 4) return -1;
    const unsigned char *b = r->p + r->off;
    *v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    r->off += 4;
    return 0;
}

/* A string of at most max bytes: *s points into the file, *n its length. */
static int get_str(rd *r, const char **s, size_t *n, size_t max) {
    uint32_t len;
    if (get_u32(r, &len) || len > max || r->len - r->off < len) return -1;
    *s = (const char *)r->p + r->off;
    *n = len;
    r->off += len;
    return 0;
}

int dn_tf_is_container(const unsigned char *data, size_t len) {
    return len >= 16 && !memcmp(data, DN_TF_MAGIC, 8) && data[8] == DN_TF_VERSION && !data[9] && !data[10] &&
           !data[11];
}

/* Fail with a message formatted before f is freed (it may name f's keys and tensors). */
static int refuse(dn_tf *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int refuse(dn_tf *f, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    dn_tf_free(f);
    return dn_fail("%s", msg);
}

void dn_tf_free(dn_tf *f) {
    for (int i = 0; f->values && i < f->n_meta; i++) free(f->values[i]);
    free(f->keys), free(f->values), free(f->tensors);
    memset(f, 0, sizeof *f);
}

int dn_tf_parse(dn_tf *f, const unsigned char *data, size_t len, const char *name) {
    memset(f, 0, sizeof *f);
    if (len < 8 + 4 + 4 + 4 + 4 + 4) return dn_fail("'%s': only %zu bytes, too short to be a diffuse file", name, len);
    if (memcmp(data, DN_TF_MAGIC, 8))
        return dn_fail("'%s' is not a diffuse file (bad magic number: no DIFFUSE header)", name);
    rd r = {data, len - 4, 8};
    uint32_t v;
    get_u32(&r, &v);
    if (v != DN_TF_VERSION)
        return dn_fail("'%s': format version %u, this build reads version %d", name, v, DN_TF_VERSION);
    const unsigned char *t = data + len - 4;
    uint32_t stored = (uint32_t)t[0] | (uint32_t)t[1] << 8 | (uint32_t)t[2] << 16 | (uint32_t)t[3] << 24;
    if (stored != (uint32_t)crc32(0L, data, (uInt)(len - 4)))
        return dn_fail("'%s': checksum mismatch, the file is truncated or corrupted (copy it again, or "
                       "re-create it)", name);
    const char *s;
    size_t n;
    if (get_str(&r, &s, &n, DN_TF_MAX_KIND) || !name_ok(s, n, DN_TF_MAX_KIND)) goto bad_kind;
    memcpy(f->kind, s, n);
    uint32_t nm;
    if (get_u32(&r, &nm) || nm > DN_TF_MAX_META || nm > (r.len - r.off) / 8) goto bad_meta_count;
    f->keys = calloc(nm ? nm : 1, sizeof *f->keys);
    f->values = calloc(nm ? nm : 1, sizeof *f->values);
    if (!f->keys || !f->values) goto oom;
    for (uint32_t i = 0; i < nm; i++) {
        const char *ks, *vs;
        size_t kn, vn;
        if (get_str(&r, &ks, &kn, DN_TF_MAX_KEY) || !name_ok(ks, kn, DN_TF_MAX_KEY)) {
            return refuse(f, "'%s': metadata entry %u has a bad metadata key (1..%d bytes of A-Z a-z 0-9 _ . -)", name, i,
                           DN_TF_MAX_KEY);
        }
        memcpy(f->keys[i], ks, kn);
        f->keys[i][kn] = 0;
        if (get_str(&r, &vs, &vn, DN_TF_MAX_VALUE) || !text_ok(vs, vn)) {
            return refuse(f, "'%s': the value of '%s' is not text of at most %d bytes", name, f->keys[i],
                           DN_TF_MAX_VALUE);
        }
        for (uint32_t j = 0; j < i; j++)
            if (!strcmp(f->keys[j], f->keys[i])) {
                return refuse(f, "'%s': metadata key '%s' appears twice", name, f->keys[i]);
            }
        if (!(f->values[i] = malloc(vn + 1))) goto oom;
        memcpy(f->values[i], vs, vn);
        f->values[i][vn] = 0;
        f->n_meta = (int)i + 1;
    }
    uint32_t nt;
    if (get_u32(&r, &nt) || nt > DN_TF_MAX_TENSORS || nt > (r.len - r.off) / 16) goto bad_tensor_count;
    f->tensors = calloc(nt ? nt : 1, sizeof *f->tensors);
    if (!f->tensors) goto oom;
    for (uint32_t i = 0; i < nt; i++) {
        dn_tf_tensor *q = &f->tensors[i];
        uint32_t dt, rank;
        if (get_str(&r, &s, &n, DN_TF_MAX_KEY) || !name_ok(s, n, DN_TF_MAX_KEY)) {
            return refuse(f, "'%s': tensor %u has a bad name (1..%d bytes of A-Z a-z 0-9 _ . -)", name, i,
                           DN_TF_MAX_KEY);
        }
        memcpy(q->name, s, n);
        for (uint32_t j = 0; j < i; j++)
            if (!strcmp(f->tensors[j].name, q->name)) {
                return refuse(f, "'%s': tensor '%s' appears twice", name, q->name);
            }
        if (get_u32(&r, &dt) || dt > 1 || get_u32(&r, &rank) || rank < 1 || rank > DN_TF_MAX_RANK) {
            return refuse(f, "'%s': tensor '%s' has a bad dtype or rank (dtype 0 float32 or 1 float16, rank 1..%d)",
                           name, q->name, DN_TF_MAX_RANK);
        }
        q->dtype = (dn_dtype)dt, q->rank = (int)rank;
        long numel = 1;
        for (int d = 0; d < DN_TF_MAX_RANK; d++) {
            uint32_t dim = 1;
            if (d < (int)rank && (get_u32(&r, &dim) || dim < 1 || dim > (1u << 28) || numel > (1L << 28) / (long)dim)) {
                return refuse(f, "'%s': tensor '%s' has a bad shape (dimensions 1..2^28, at most 2^28 values)", name,
                               q->name);
            }
            q->shape[d] = (int)dim;
            numel *= dim;
        }
        q->numel = numel;
        size_t bytes = (size_t)numel * dtype_size(q->dtype);
        if (r.len - r.off < bytes) {
            return refuse(f, "'%s': tensor '%s' needs %zu bytes, the file has %zu left", name, q->name, bytes,
                           r.len - r.off);
        }
        q->data = r.p + r.off;
        r.off += bytes;
        for (long k = 0; k < numel; k++) {
            float x = value_at(q->data, q->dtype, k);
            if (!isfinite(x)) {
                return refuse(f, "'%s': value %ld of tensor '%s' is %s", name, k, q->name, isnan(x) ? "NaN" : "infinite");
            }
        }
        f->n_tensors = (int)i + 1;
    }
    if (r.off != r.len) {
        return refuse(f, "'%s': %zu unexpected bytes after the last tensor", name, r.len - r.off);
    }
    return 0;
bad_kind:
    return refuse(f, "'%s': bad file kind (1..%d bytes of A-Z a-z 0-9 _ . -)", name, DN_TF_MAX_KIND);
bad_meta_count:
    return refuse(f, "'%s': bad number of metadata entries (at most %d)", name, DN_TF_MAX_META);
bad_tensor_count:
    return refuse(f, "'%s': bad number of tensors (at most %d)", name, DN_TF_MAX_TENSORS);
oom:
    return refuse(f, "'%s': out of memory reading it", name);
}

const char *dn_tf_meta(const dn_tf *f, const char *key) {
    for (int i = 0; i < f->n_meta; i++)
        if (!strcmp(f->keys[i], key)) return f->values[i];
    return NULL;
}

int dn_tf_meta_ints(const dn_tf *f, const char *key, int *out, int n, long lo, long hi) {
    const char *v = dn_tf_meta(f, key), *q = v;
    if (!v) return dn_fail("no '%s' entry", key);
    for (int i = 0; i < n; i++) {
        char *e;
        long x = strtol(q, &e, 10);
        if (e == q || x < lo || x > hi || (i < n - 1 ? *e != ',' : *e != 0))
            return dn_fail("bad value for '%s': '%.40s' (%d number%s in %ld..%ld)", key, v, n, n == 1 ? "" : "s", lo, hi);
        out[i] = (int)x;
        q = e + 1;
    }
    return 0;
}

const dn_tf_tensor *dn_tf_find(const dn_tf *f, const char *name) {
    for (int i = 0; i < f->n_tensors; i++)
        if (!strcmp(f->tensors[i].name, name)) return &f->tensors[i];
    return NULL;
}

void dn_tf_values(const dn_tf_tensor *t, float *dst) {
    for (long k = 0; k < t->numel; k++) dst[k] = value_at(t->data, t->dtype, k);
}

/* ---- writer ------------------------------------------------------------------------------------ */

static int wfail(dn_tf_writer *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int wfail(dn_tf_writer *w, const char *fmt, ...) {
    if (!w->failed) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(w->err, sizeof w->err, fmt, ap);
        va_end(ap);
        w->failed = 1;
    }
    return -1;
}

static void patch_u32(dn_buf *b, size_t at, uint32_t v) {
    if (b->oom) return;
    unsigned char x[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16), (unsigned char)(v >> 24)};
    memcpy(b->data + at, x, 4);
}

void dn_tf_write_begin(dn_tf_writer *w, const char *kind) {
    memset(w, 0, sizeof *w);
    if (!name_ok(kind, strlen(kind), DN_TF_MAX_KIND)) wfail(w, "bad file kind '%.40s'", kind);
    dn_buf_put(&w->b, DN_TF_MAGIC, 8);
    dn_buf_put_u32(&w->b, DN_TF_VERSION);
    dn_buf_put_str(&w->b, kind);
    w->meta_count_at = w->b.len;
    dn_buf_put_u32(&w->b, 0);
}

int dn_tf_write_meta(dn_tf_writer *w, const char *key, const char *value) {
    if (w->failed) return -1;
    if (w->in_tensors) return wfail(w, "metadata '%.64s' after a tensor", key);
    if (!name_ok(key, strlen(key), DN_TF_MAX_KEY))
        return wfail(w, "metadata key '%.64s' is not 1..%d bytes of A-Z a-z 0-9 _ . -", key, DN_TF_MAX_KEY);
    if (!text_ok(value, strlen(value)))
        return wfail(w, "the value of '%s' is not text of at most %d bytes", key, DN_TF_MAX_VALUE);
    if (w->n_meta == DN_TF_MAX_META) return wfail(w, "more than %d metadata entries", DN_TF_MAX_META);
    dn_buf_put_str(&w->b, key);
    dn_buf_put_str(&w->b, value);
    w->n_meta++;
    return 0;
}

int dn_tf_write_tensor(dn_tf_writer *w, const char *name, dn_dtype dtype, int rank, const int *shape,
                       const float *values) {
    if (w->failed) return -1;
    if (!w->in_tensors) {
        patch_u32(&w->b, w->meta_count_at, w->n_meta);
        w->tensor_count_at = w->b.len;
        dn_buf_put_u32(&w->b, 0);
        w->in_tensors = 1;
    }
    if (!name_ok(name, strlen(name), DN_TF_MAX_KEY))
        return wfail(w, "tensor name '%.64s' is not 1..%d bytes of A-Z a-z 0-9 _ . -", name, DN_TF_MAX_KEY);
    if ((dtype != DN_DTYPE_F32 && dtype != DN_DTYPE_F16) || rank < 1 || rank > DN_TF_MAX_RANK)
        return wfail(w, "tensor '%s': dtype %d, rank %d", name, (int)dtype, rank);
    if (w->n_tensors == DN_TF_MAX_TENSORS) return wfail(w, "more than %d tensors", DN_TF_MAX_TENSORS);
    long numel = 1;
    for (int d = 0; d < rank; d++) {
        if (shape[d] < 1 || shape[d] > (1 << 28) || numel > (1L << 28) / shape[d])
            return wfail(w, "tensor '%s': bad shape", name);
        numel *= shape[d];
    }
    size_t mark = w->b.len;
    dn_buf_put_str(&w->b, name);
    dn_buf_put_u32(&w->b, (uint32_t)dtype);
    dn_buf_put_u32(&w->b, (uint32_t)rank);
    for (int d = 0; d < rank; d++) dn_buf_put_u32(&w->b, (uint32_t)shape[d]);
    for (long k = 0; k < numel && !w->b.oom; k++) {
        float v = values[k];
        if (!isfinite(v)) {
            w->b.len = mark;
            return wfail(w, "value %ld of tensor '%s' is %g (training diverged?)", k, name, (double)v);
        }
        if (dtype == DN_DTYPE_F32) {
            uint32_t u;
            memcpy(&u, &v, 4);
            dn_buf_put_u32(&w->b, u);
        } else {
            uint16_t h = dn_f32_to_f16(v);
            if ((h & 0x7c00u) == 0x7c00u) {
                w->b.len = mark;
                return wfail(w, "value %ld of tensor '%s' is %g, beyond float16's range (save as float32)", k, name,
                             (double)v);
            }
            unsigned char x[2] = {(unsigned char)h, (unsigned char)(h >> 8)};
            dn_buf_put(&w->b, x, 2);
        }
    }
    w->n_tensors++;
    return 0;
}

void dn_tf_write_abort(dn_tf_writer *w) {
    dn_buf_free(&w->b);
    memset(w, 0, sizeof *w);
}

int dn_tf_write_end(dn_tf_writer *w, unsigned char **data, size_t *len) {
    *data = NULL, *len = 0;
    if (!w->in_tensors) { /* a file without tensors */
        patch_u32(&w->b, w->meta_count_at, w->n_meta);
        w->tensor_count_at = w->b.len;
        dn_buf_put_u32(&w->b, 0);
    }
    patch_u32(&w->b, w->tensor_count_at, w->n_tensors);
    if (!w->failed && !w->b.oom) dn_buf_put_u32(&w->b, (uint32_t)crc32(0L, w->b.data, (uInt)w->b.len));
    int rc = 0;
    if (w->failed) rc = dn_fail("%s", w->err);
    else if (w->b.oom) rc = dn_fail("out of memory building the file");
    if (rc < 0) dn_buf_free(&w->b);
    else *data = w->b.data, *len = w->b.len;
    memset(w, 0, sizeof *w);
    return rc;
}
