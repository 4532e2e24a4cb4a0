/* model.c — see model.h and docs/MODEL_FORMAT.md. Sections: metadata / writer / reader (float16: base/fileio.h). */
#include "diffusion/model.h"
#include "base/err.h"
#include "base/fileio.h"
#include "base/tensorfile.h"
#include "diffusion/sampler.h"
#include <errno.h>
#include <stddef.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#define N_CONFIG 17       /* int32 fields of the config block */
#define MAX_META 1024     /* entries in a file */
#define MAX_KEY 31
#define MAX_VALUE 65535   /* bytes of one value (class_names can be long) */

/* ---- metadata ------------------------------------------------------------------------------------ */

void dn_model_meta_init(dn_model_meta *meta) {
    memset(meta, 0, sizeof *meta);
    meta->schedule = DN_BETA_LINEAR;
    meta->num_train_timesteps = 1000;
    meta->beta_start = 1e-4f;
    meta->beta_end = 0.02f;
}

static int key_ok(const char *k, size_t n) {
    if (n < 1 || n > MAX_KEY) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = k[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return 0;
    }
    return 1;
}

/* text: no NUL and no control characters except newline and tab */
static int text_ok(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 32 && c != '\n' && c != '\t') || c == 127) return 0;
    }
    return 1;
}

static const char *const known_keys[] = {"dataset", "class_names", "schedule", "num_train_timesteps",
                                         "beta_start", "beta_end", "train_steps", "seed"};

static int is_known(const char *k) {
    for (size_t i = 0; i < sizeof known_keys / sizeof *known_keys; i++)
        if (strcmp(k, known_keys[i]) == 0) return 1;
    return 0;
}

int dn_model_meta_set(dn_model_meta *meta, const char *key, const char *value) {
    size_t kl = strlen(key), vl = strlen(value);
    if (!key_ok(key, kl))
        return dn_fail("bad metadata key '%.40s': use 1..%d characters of A-Z a-z 0-9 _ . -", key, MAX_KEY);
    if (is_known(key))
        return dn_fail("metadata key '%s' is a field of dn_model_meta: set the field instead", key);
    if (vl >= sizeof meta->extra_value[0] || !text_ok(value, vl))
        return dn_fail("bad value for metadata key '%s': at most %zu printable characters", key,
                       sizeof meta->extra_value[0] - 1);
    int i = 0;
    while (i < meta->n_extra && strcmp(meta->extra_key[i], key)) i++;
    if (i == meta->n_extra) {
        if (meta->n_extra == DN_META_MAX_EXTRA)
            return dn_fail("cannot add metadata key '%s': already %d entries", key, DN_META_MAX_EXTRA);
        meta->n_extra++;
    }
    memcpy(meta->extra_key[i], key, kl + 1);
    memcpy(meta->extra_value[i], value, vl + 1);
    return 0;
}

const char *dn_model_meta_get(const dn_model_meta *meta, const char *key) {
    for (int i = 0; i < meta->n_extra; i++)
        if (strcmp(meta->extra_key[i], key) == 0) return meta->extra_value[i];
    return NULL;
}

int dn_model_class_id(const dn_model_meta *m, int num_classes, const char *name) {
    for (int k = 0; k < m->n_class_names && k < num_classes; k++)
        if (!strcasecmp(m->class_names[k], name)) return k;
    char *end;
    long num = strtol(name, &end, 10);
    if (*name && *end == '\0' && num >= 0 && num < num_classes) return (int)num;
    char known[1024] = "";
    size_t len = 0;
    for (int k = 0; k < m->n_class_names && len < sizeof known; k++)
        len += (size_t)snprintf(known + len, sizeof known - len, "%s%s", k ? ", " : "", m->class_names[k]);
    if (!m->n_class_names && num_classes) snprintf(known, sizeof known, "numbers 0..%d", num_classes - 1);
    return dn_fail("knows no class '%s' (it knows: %s)", name, num_classes ? known : "none, it is unconditional");
}

#define CFG_KEY "sample.cfg_scale"
#define CFG_DEFAULT 3.0f

float dn_model_cfg_scale(const dn_model_meta *meta) {
    const char *rec = dn_model_meta_get(meta, CFG_KEY);
    float w = rec ? strtof(rec, NULL) : CFG_DEFAULT;
    return w >= 0 && w <= 100 ? w : CFG_DEFAULT;
}

int dn_model_set_cfg_scale(dn_model_meta *meta, float w) {
    if (!(w >= 0 && w <= 100)) return dn_fail("guidance scale %g: choose 0 .. 100", (double)w);
    char buf[32];
    snprintf(buf, sizeof buf, "%g", (double)w);
    return dn_model_meta_set(meta, CFG_KEY, buf);
}

/* ---- writer --------------------------------------------------------------------------------------- */

/* What the reader would refuse, refused before writing: a saved file always loads back. */
static int meta_check(const dn_model_meta *m, const dn_unet_config *c) {
    size_t l = strnlen(m->dataset, sizeof m->dataset);
    if (l == sizeof m->dataset || !text_ok(m->dataset, l) || strchr(m->dataset, '\n'))
        return dn_fail("cannot encode model: data set name is not one line of text under 64 bytes");
    if (m->n_class_names && m->n_class_names != c->num_classes)
        return dn_fail("cannot encode model: %d class names for %d classes", m->n_class_names,
                       c->num_classes);
    if (m->n_class_names < 0 || m->n_class_names > DN_META_MAX_CLASSES)
        return dn_fail("cannot encode model: %d class names (at most %d)", m->n_class_names,
                       DN_META_MAX_CLASSES);
    for (int i = 0; i < m->n_class_names; i++) {
        l = strnlen(m->class_names[i], 32);
        if (l < 1 || l > 31 || !text_ok(m->class_names[i], l) || strchr(m->class_names[i], '\n'))
            return dn_fail("cannot encode model: class name %d is not 1..31 characters of one line", i);
    }
    if (m->num_train_timesteps < 2 || m->num_train_timesteps > 100000 ||
        !(m->beta_start > 0.0f && m->beta_start < 1.0f) || !(m->beta_end > 0.0f && m->beta_end < 1.0f) ||
        m->train_steps < 0 || (unsigned)m->schedule > (unsigned)DN_BETA_COSINE)
        return dn_fail("cannot encode model: bad schedule metadata (T %d, betas %g..%g, %ld steps)",
                       m->num_train_timesteps, (double)m->beta_start, (double)m->beta_end, m->train_steps);
    if (m->n_extra < 0 || m->n_extra > DN_META_MAX_EXTRA)
        return dn_fail("cannot encode model: %d free-form metadata entries (at most %d)", m->n_extra,
                       DN_META_MAX_EXTRA);
    for (int i = 0; i < m->n_extra; i++) {
        size_t kl = strnlen(m->extra_key[i], 32), vl = strnlen(m->extra_value[i], 256);
        if (!key_ok(m->extra_key[i], kl) || vl == 256 || !text_ok(m->extra_value[i], vl) ||
            is_known(m->extra_key[i]))
            return dn_fail("cannot encode model: bad free-form metadata entry %d ('%.31s')", i,
                           m->extra_key[i]);
    }
    return 0;
}

/* The config as "unet.*" entries (the config is text like the rest of the metadata): these
 * integers, then "unet.mults" (n_levels numbers) and "unet.prediction" (a name). */
static const struct {
    const char *key;
    size_t off;
} cfg_keys[] = {
    {"unet.in_channels", offsetof(dn_unet_config, in_channels)}, {"unet.out_channels", offsetof(dn_unet_config, out_channels)},
    {"unet.height", offsetof(dn_unet_config, height)},           {"unet.width", offsetof(dn_unet_config, width)},
    {"unet.base_width", offsetof(dn_unet_config, base_width)},   {"unet.n_levels", offsetof(dn_unet_config, n_levels)},
    {"unet.blocks", offsetof(dn_unet_config, blocks)},           {"unet.attn_levels", offsetof(dn_unet_config, attn_levels)},
    {"unet.groups", offsetof(dn_unet_config, groups)},           {"unet.heads", offsetof(dn_unet_config, heads)},
    {"unet.temb_width", offsetof(dn_unet_config, temb_width)},   {"unet.num_classes", offsetof(dn_unet_config, num_classes)},
};

static void put_int(dn_tf_writer *w, const char *key, long v) {
    char num[32];
    snprintf(num, sizeof num, "%ld", v);
    dn_tf_write_meta(w, key, num);
}

int dn_model_write_meta(dn_tf_writer *w, const dn_unet *net, const dn_model_meta *meta_in) {
    dn_model_meta defaults;
    dn_model_meta_init(&defaults);
    const dn_model_meta *meta = meta_in ? meta_in : &defaults;
    const dn_unet_config *c = &net->cfg;
    if (meta_check(meta, c)) return -1;
    char num[64], names[DN_META_MAX_CLASSES * 32];
    for (size_t k = 0; k < sizeof cfg_keys / sizeof cfg_keys[0]; k++)
        put_int(w, cfg_keys[k].key, *(const int *)((const char *)c + cfg_keys[k].off));
    names[0] = 0;
    for (int l = 0; l < c->n_levels; l++) snprintf(names + strlen(names), 16, "%s%d", l ? "," : "", c->mults[l]);
    dn_tf_write_meta(w, "unet.mults", names);
    dn_tf_write_meta(w, "unet.prediction", dn_pred_type_name((dn_pred_type)c->prediction));
    /* metadata: known fields as text, then the free-form entries */
    if (meta->dataset[0]) dn_tf_write_meta(w, "dataset", meta->dataset);
    if (meta->n_class_names > 0) {
        names[0] = 0;
        for (int i = 0; i < meta->n_class_names; i++) {
            if (i) strcat(names, "\n");
            strncat(names, meta->class_names[i], 31);
        }
        dn_tf_write_meta(w, "class_names", names);
    }
    dn_tf_write_meta(w, "schedule", dn_beta_kind_name(meta->schedule));
    put_int(w, "num_train_timesteps", meta->num_train_timesteps);
    snprintf(num, sizeof num, "%.9g", (double)meta->beta_start);
    dn_tf_write_meta(w, "beta_start", num);
    snprintf(num, sizeof num, "%.9g", (double)meta->beta_end);
    dn_tf_write_meta(w, "beta_end", num);
    put_int(w, "train_steps", meta->train_steps);
    snprintf(num, sizeof num, "%llu", (unsigned long long)meta->seed);
    dn_tf_write_meta(w, "seed", num);
    for (int i = 0; i < meta->n_extra; i++) dn_tf_write_meta(w, meta->extra_key[i], meta->extra_value[i]);
    return 0;
}

int dn_model_write_tensors(dn_tf_writer *w, const dn_unet *net, dn_dtype dtype) {
    return dn_net_write_tensors(w, net->param_mem, net->tensors, net->n_tensors, dtype);
}

int dn_model_encode(unsigned char **data, size_t *len, const dn_unet *net,
                    const dn_model_meta *meta, dn_dtype dtype) {
    *data = NULL;
    *len = 0;
    if (dtype != DN_DTYPE_F32 && dtype != DN_DTYPE_F16)
        return dn_fail("cannot encode model: dtype %d (0 float32, 1 float16)", (int)dtype);
    dn_tf_writer w;
    dn_tf_write_begin(&w, DN_MODEL_KIND);
    if (dn_model_write_meta(&w, net, meta) < 0) {
        dn_tf_write_abort(&w);
        return -1;
    }
    dn_model_write_tensors(&w, net, dtype);
    if (dn_tf_write_end(&w, data, len) < 0) return dn_fail_context("cannot save model");
    return 0;
}

int dn_model_save(const char *path, const dn_unet *net, const dn_model_meta *meta, dn_dtype dtype) {
    unsigned char *data;
    size_t len;
    if (dn_model_encode(&data, &len, net, meta, dtype)) {
        return dn_fail_context("cannot save model '%s'", path);
    }
    int rc = dn_write_file_atomic(path, data, len);
    free(data);
    return rc;
}

/* ---- reader ----------------------------------------------------------------------------------------
 * Every read is bounds-checked; the checksum is verified before parsing, but parsing does not rely
 * on it (a forged checksum must still not crash the loader). */

typedef struct {
    const unsigned char *p;
    size_t pos, end; /* end = start of the checksum */
    const char *name;
} rbuf;

static int need(rbuf *r, size_t n, const char *what) {
    if (r->end - r->pos < n)
        return dn_fail("cannot load model '%s': truncated at byte %zu reading %s (%zu bytes needed, "
                       "%zu left)", r->name, r->pos, what, n, r->end - r->pos);
    return 0;
}

static int get_u32(rbuf *r, uint32_t *v, const char *what) {
    if (need(r, 4, what)) return -1;
    const unsigned char *b = r->p + r->pos;
    *v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    r->pos += 4;
    return 0;
}

/* A length-prefixed string of at most max bytes into out (NUL-terminated, cap >= max + 1). */
static int get_str(rbuf *r, char *out, size_t max, const char *what) {
    uint32_t n;
    if (get_u32(r, &n, what)) return -1;
    if (n > max) return dn_fail("cannot load model '%s': %s of %u bytes at byte %zu (limit %zu)",
                                r->name, what, n, r->pos - 4, max);
    if (need(r, n, what)) return -1;
    if (memchr(r->p + r->pos, 0, n))
        return dn_fail("cannot load model '%s': %s at byte %zu holds a NUL byte", r->name, what, r->pos);
    memcpy(out, r->p + r->pos, n);
    out[n] = 0;
    r->pos += n;
    return 0;
}

static int parse_long(const char *s, long lo, long hi, long *out) {
    char *e;
    if (!*s) return -1;
    long long v = strtoll(s, &e, 10);
    if (*e || v < lo || v > hi) return -1;
    *out = (long)v;
    return 0;
}

/* One metadata entry into meta (known key -> field, else a free-form entry). */
static int meta_entry(dn_model_meta *meta, const char *k, const char *v, const dn_unet_config *c,
                      const char *name) {
    long n;
    char *e;
    if (strcmp(k, "dataset") == 0) {
        if (strlen(v) >= sizeof meta->dataset) goto bad;
        strcpy(meta->dataset, v);
    } else if (strcmp(k, "class_names") == 0) {
        int cnt = 0;
        const char *s = v;
        for (;;) {
            const char *nl = strchr(s, '\n');
            size_t l = nl ? (size_t)(nl - s) : strlen(s);
            if (l < 1 || l > 31 || cnt >= DN_META_MAX_CLASSES) goto bad;
            memcpy(meta->class_names[cnt], s, l);
            meta->class_names[cnt++][l] = 0;
            if (!nl) break;
            s = nl + 1;
        }
        if (cnt != c->num_classes)
            return dn_fail("cannot load model '%s': %d class names for %d classes", name, cnt,
                           c->num_classes);
        meta->n_class_names = cnt;
    } else if (strcmp(k, "schedule") == 0) {
        if (dn_beta_kind_parse(v, &meta->schedule)) goto bad;
    } else if (strcmp(k, "num_train_timesteps") == 0) {
        if (parse_long(v, 2, 100000, &n)) goto bad;
        meta->num_train_timesteps = (int)n;
    } else if (strcmp(k, "beta_start") == 0 || strcmp(k, "beta_end") == 0) {
        float f = strtof(v, &e);
        if (!*v || *e || !(f > 0.0f && f < 1.0f)) goto bad;
        if (k[5] == 's') meta->beta_start = f;
        else meta->beta_end = f;
    } else if (strcmp(k, "train_steps") == 0) {
        if (parse_long(v, 0, 1L << 62, &n)) goto bad;
        meta->train_steps = n;
    } else if (strcmp(k, "seed") == 0) {
        if (*v < '0' || *v > '9') goto bad;
        errno = 0;
        unsigned long long s = strtoull(v, &e, 10);
        if (*e || errno) goto bad;
        meta->seed = s;
    } else {
        if (dn_model_meta_get(meta, k) || strlen(v) >= sizeof meta->extra_value[0] ||
            meta->n_extra == DN_META_MAX_EXTRA)
            return dn_fail("cannot load model '%s': metadata entry '%s' is repeated, too long, or "
                           "one too many (limit %d)", name, k, DN_META_MAX_EXTRA);
        return dn_model_meta_set(meta, k, v);
    }
    return 0;
bad:
    return dn_fail("cannot load model '%s': bad value for metadata '%s': '%.60s'", name, k, v);
}

/* The reader of version 1 (before the container), kept so that older files still load (and can be
 * converted: `diffuse model OLD.dfm --save NEW.dfm`). */
static int decode_v1(dn_unet *net, dn_model_meta *meta_out, const unsigned char *data, size_t len,
                     const char *name) {
    memset(net, 0, sizeof *net);
    if (meta_out) memset(meta_out, 0, sizeof *meta_out);
    dn_model_meta *meta = malloc(sizeof *meta);
    char *value = malloc(MAX_VALUE + 1);
    if (!meta || !value) {
        free(meta);
        free(value);
        return dn_fail("cannot load model '%s': out of memory", name);
    }
    dn_model_meta_init(meta);
    char key[MAX_KEY + 1];
    const size_t min = 8 + 4 + 4;
    rbuf r = {.p = data, .pos = 0, .end = len >= 4 ? len - 4 : 0, .name = name};

    if (len < min + 4) {
        dn_fail("cannot load model '%s': %zu bytes is too short for a model file (truncated?)", name, len);
        goto fail;
    }
    if (len > DN_MODEL_MAX_BYTES) {
        dn_fail("cannot load model '%s': %zu bytes is over the limit of %zu", name, len,
                DN_MODEL_MAX_BYTES);
        goto fail;
    }
    if (memcmp(data, DN_MODEL_MAGIC, 8) != 0) {
        dn_fail("cannot load model '%s': not a diffuse model file (bad magic number)", name);
        goto fail;
    }
    r.pos = 8;
    uint32_t version, ncfg, crc_file;
    get_u32(&r, &version, "version");
    if (version != DN_MODEL_VERSION) {
        dn_fail("cannot load model '%s': format version %u, this build reads version %d "
                "(use a matching diffuse or re-save the model)", name, version, DN_MODEL_VERSION);
        goto fail;
    }
    const unsigned char *c4 = data + len - 4;
    crc_file = (uint32_t)c4[0] | (uint32_t)c4[1] << 8 | (uint32_t)c4[2] << 16 | (uint32_t)c4[3] << 24;
    uint32_t crc = (uint32_t)crc32(0L, data, (uInt)(len - 4));
    if (crc != crc_file) {
        dn_fail("cannot load model '%s': checksum mismatch (stored %08x, computed %08x over %zu "
                "bytes): the file is truncated or corrupted (re-download or retrain)", name, crc_file,
                crc, len - 4);
        goto fail;
    }

    /* config */
    if (get_u32(&r, &ncfg, "config size")) goto fail;
    if (ncfg != N_CONFIG) {
        dn_fail("cannot load model '%s': config has %u fields, expected %d", name, ncfg, N_CONFIG);
        goto fail;
    }
    int32_t ci[N_CONFIG];
    for (int i = 0; i < N_CONFIG; i++) {
        uint32_t u;
        if (get_u32(&r, &u, "config")) goto fail;
        ci[i] = (int32_t)u;
    }
    dn_unet_config c;
    memset(&c, 0, sizeof c);
    c.in_channels = ci[0], c.out_channels = ci[1], c.height = ci[2], c.width = ci[3];
    c.base_width = ci[4], c.n_levels = ci[5];
    for (int l = 0; l < 4; l++) c.mults[l] = ci[6 + l];
    c.blocks = ci[10], c.attn_levels = ci[11], c.groups = ci[12], c.heads = ci[13];
    c.temb_width = ci[14], c.num_classes = ci[15], c.prediction = ci[16];
    for (int l = c.n_levels > 0 ? c.n_levels : 0; l < 4; l++)
        if (c.mults[l] != 0) {
            dn_fail("cannot load model '%s': width multiplier of unused level %d is %d, not 0", name,
                    l, c.mults[l]);
            goto fail;
        }
    if (dn_unet_config_check(&c)) {
        dn_fail_context("cannot load model '%s'", name);
        goto fail;
    }

    /* metadata */
    uint32_t nmeta;
    if (get_u32(&r, &nmeta, "metadata count")) goto fail;
    if (nmeta > MAX_META) {
        dn_fail("cannot load model '%s': %u metadata entries (limit %d)", name, nmeta, MAX_META);
        goto fail;
    }
    for (uint32_t i = 0; i < nmeta; i++) {
        if (get_str(&r, key, MAX_KEY, "metadata key") || get_str(&r, value, MAX_VALUE, "metadata value"))
            goto fail;
        if (!key_ok(key, strlen(key)) || !text_ok(value, strlen(value))) {
            dn_fail("cannot load model '%s': metadata entry %u has a bad key or non-text value", name, i);
            goto fail;
        }
        if (meta_entry(meta, key, value, &c, name)) goto fail;
    }

    /* tensors: exactly the config's, in order, with matching shapes */
    if (dn_unet_init(net, &c)) {
        dn_fail_context("cannot load model '%s'", name);
        goto fail;
    }
    uint32_t nt;
    if (get_u32(&r, &nt, "tensor count")) goto fail;
    if (nt != (uint32_t)net->n_tensors) {
        dn_fail("cannot load model '%s': %u tensors, the config needs %d", name, nt, net->n_tensors);
        goto fail;
    }
    for (int i = 0; i < net->n_tensors; i++) {
        const dn_net_tensor *t = &net->tensors[i];
        char tname[sizeof t->name];
        uint32_t dtype, ndim, dim;
        if (get_str(&r, tname, sizeof tname - 1, "tensor name")) goto fail;
        if (strcmp(tname, t->name)) {
            dn_fail("cannot load model '%s': tensor %d is '%.47s', the config expects '%s'", name, i,
                    tname, t->name);
            goto fail;
        }
        if (get_u32(&r, &dtype, "tensor dtype") || get_u32(&r, &ndim, "tensor rank")) goto fail;
        if (dtype > 1) {
            dn_fail("cannot load model '%s': tensor %s has unknown dtype %u", name, t->name, dtype);
            goto fail;
        }
        if (ndim != (uint32_t)t->ndim) {
            dn_fail("cannot load model '%s': tensor %s has %u dimensions, expected %d", name,
                    t->name, ndim, t->ndim);
            goto fail;
        }
        for (int d = 0; d < t->ndim; d++) {
            if (get_u32(&r, &dim, "tensor shape")) goto fail;
            if (dim != (uint32_t)t->shape[d]) {
                dn_fail("cannot load model '%s': tensor %s has size %u in dimension %d, the config "
                        "expects %d", name, t->name, dim, d, t->shape[d]);
                goto fail;
            }
        }
        size_t es = dtype == DN_DTYPE_F32 ? 4 : 2;
        if (need(&r, (size_t)t->numel * es, t->name)) goto fail;
        const unsigned char *b = data + r.pos;
        float *v = net->param_mem + t->offset;
        for (long k = 0; k < t->numel; k++) {
            if (es == 4) {
                uint32_t u = (uint32_t)b[4 * k] | (uint32_t)b[4 * k + 1] << 8 |
                             (uint32_t)b[4 * k + 2] << 16 | (uint32_t)b[4 * k + 3] << 24;
                memcpy(&v[k], &u, 4);
            } else {
                v[k] = dn_f16_to_f32((uint16_t)(b[2 * k] | b[2 * k + 1] << 8));
            }
            if (!isfinite(v[k])) {
                dn_fail("cannot load model '%s': weight %ld of %s is %s (the model is broken; "
                        "retrain)", name, k, t->name, isnan(v[k]) ? "NaN" : "infinite");
                goto fail;
            }
        }
        r.pos += (size_t)t->numel * es;
    }
    if (r.pos != r.end) {
        dn_fail("cannot load model '%s': %zu unexpected bytes after the last tensor", name, r.end - r.pos);
        goto fail;
    }
    if (meta_out) *meta_out = *meta;
    free(meta);
    free(value);
    return 0;
fail:
    dn_unet_free(net);
    if (meta_out) memset(meta_out, 0, sizeof *meta_out);
    free(meta);
    free(value);
    return -1;
}

/* A required integer entry in lo..hi. */
static int cfg_int(const dn_tf *f, const char *key, long lo, long hi, int *out, const char *name) {
    if (dn_tf_meta_ints(f, key, out, 1, lo, hi) < 0) return dn_fail_context("cannot load model '%s'", name);
    return 0;
}

int dn_model_read(const dn_tf *f, dn_unet *net, dn_model_meta *meta_out, const char *name, const char *skip_prefix,
                  int extra_tensors) {
    memset(net, 0, sizeof *net);
    if (meta_out) memset(meta_out, 0, sizeof *meta_out);
    dn_model_meta *meta = malloc(sizeof *meta);
    if (!meta) return dn_fail("cannot load model '%s': out of memory", name);
    dn_model_meta_init(meta);
    dn_unet_config c;
    memset(&c, 0, sizeof c);
    for (size_t k = 0; k < sizeof cfg_keys / sizeof cfg_keys[0]; k++)
        if (cfg_int(f, cfg_keys[k].key, -(1L << 30), 1L << 30, (int *)((char *)&c + cfg_keys[k].off), name)) goto fail;
    if (c.n_levels < 1 || c.n_levels > DN_UNET_MAX_LEVELS) {
        dn_fail("cannot load model '%s': unet.n_levels %d must be in 1..%d", name, c.n_levels, DN_UNET_MAX_LEVELS);
        goto fail;
    }
    const char *mv = dn_tf_meta(f, "unet.mults"), *pv = dn_tf_meta(f, "unet.prediction");
    int nm = 0;
    for (const char *q = mv; q && *q && nm <= c.n_levels;) {
        char *e;
        long m = strtol(q, &e, 10);
        if (e == q || m < 1 || m > 16 || (*e && *e != ',')) break;
        if (nm < c.n_levels) c.mults[nm] = (int)m;
        nm++;
        q = *e ? e + 1 : e;
    }
    if (!mv || nm != c.n_levels) {
        dn_fail("cannot load model '%s': 'unet.mults' must list %d width multipliers 1..16 (got '%.40s')", name,
                c.n_levels, mv ? mv : "");
        goto fail;
    }
    dn_pred_type pt;
    if (!pv || dn_pred_type_parse(pv, &pt) < 0) {
        dn_fail("cannot load model '%s': bad 'unet.prediction' (epsilon or v_prediction)", name);
        goto fail;
    }
    c.prediction = (int)pt;
    if (dn_unet_config_check(&c)) {
        dn_fail_context("cannot load model '%s'", name);
        goto fail;
    }
    size_t skip = skip_prefix ? strlen(skip_prefix) : 0;
    for (int i = 0; i < f->n_meta; i++) {
        const char *k = f->keys[i];
        if (!strncmp(k, "unet.", 5) || (skip && !strncmp(k, skip_prefix, skip))) continue;
        if (meta_entry(meta, k, f->values[i], &c, name)) goto fail;
    }
    /* tensors: exactly the config's, first and in order, with matching shapes */
    if (dn_unet_init(net, &c)) {
        dn_fail_context("cannot load model '%s'", name);
        goto fail;
    }
    if (f->n_tensors != net->n_tensors + extra_tensors) {
        dn_fail("cannot load model '%s': %d tensors, the config needs %d", name, f->n_tensors - extra_tensors,
                net->n_tensors);
        goto fail;
    }
    if (dn_net_read_tensors(f, net->param_mem, net->tensors, net->n_tensors, "model", name) < 0) goto fail;
    if (meta_out) *meta_out = *meta;
    free(meta);
    return 0;
fail:
    dn_unet_free(net);
    if (meta_out) memset(meta_out, 0, sizeof *meta_out);
    free(meta);
    return -1;
}

int dn_model_decode(dn_unet *net, dn_model_meta *meta, const unsigned char *data, size_t len, const char *name) {
    memset(net, 0, sizeof *net);
    if (meta) memset(meta, 0, sizeof *meta);
    if (len > DN_MODEL_MAX_BYTES)
        return dn_fail("cannot load model '%s': %zu bytes is over the limit of %zu", name, len, DN_MODEL_MAX_BYTES);
    if (len >= 12 && !memcmp(data, DN_MODEL_MAGIC, 8) && data[8] == 1 && !data[9] && !data[10] && !data[11])
        return decode_v1(net, meta, data, len, name);
    dn_tf f;
    if (dn_tf_parse(&f, data, len, name) < 0) return dn_fail_context("cannot load model");
    int rc;
    if (strcmp(f.kind, DN_MODEL_KIND))
        rc = dn_fail("cannot load model '%s': it is a '%s' file, not a model", name, f.kind);
    else rc = dn_model_read(&f, net, meta, name, NULL, 0);
    dn_tf_free(&f);
    return rc;
}

int dn_model_load(const char *path, dn_unet *net, dn_model_meta *meta) {
    unsigned char *data;
    size_t len;
    memset(net, 0, sizeof *net);
    if (meta) memset(meta, 0, sizeof *meta);
    if (dn_read_file(path, &data, &len, DN_MODEL_MAX_BYTES)) {
        return dn_fail_context("cannot load model");
    }
    int rc = dn_model_decode(net, meta, data, len, path);
    free(data);
    return rc;
}
