/* model.h — the model file (.dfm): a U-Net's config, its named weights (float32 or float16) and
 * metadata (data set, class names, noise schedule, training steps, seed, free key/values), in the
 * container of base/tensorfile.h (kind "unet"). The byte layout is in docs/MODEL_FORMAT.md; files
 * of version 1, before the container, still load.
 *
 * The loader trusts nothing: it refuses, with a message naming the file and the problem, a file
 * that is truncated, corrupted (checksum), of another version or not a model at all, whose config
 * is invalid, whose tensors do not match the config by name and shape, or whose weights hold NaN
 * or Inf. Every size is bounded before anything is allocated. On failure the outputs are left
 * zeroed: never half-loaded weights. Saving is atomic, and a float32 file loads back bit for bit. */
#ifndef DN_MODEL_H
#define DN_MODEL_H
#include "diffusion/schedule.h"
#include "nets/unet.h"
#include "base/fileio.h"
#include "base/tensorfile.h"
#include <stddef.h>
#include <stdint.h>

#define DN_MODEL_MAGIC "DIFFUSE\x1a" /* 8 bytes; \x1a stops `type` on DOS-like consoles */
#define DN_MODEL_VERSION 1            /* the format before the container; still read */
#define DN_MODEL_KIND "unet"          /* the container's kind (base/tensorfile.h) */
#define DN_MODEL_MAX_BYTES ((size_t)320 << 20) /* 64M float32 parameters plus metadata */

#define DN_META_MAX_CLASSES 64
#define DN_META_MAX_EXTRA 32

/* What the file says about how the weights were made. Plain fixed-size struct (nothing to free). */
typedef struct {
    char dataset[64];                               /* e.g. "fashion-mnist"; "" = unknown */
    int n_class_names;                              /* 0, or the config's num_classes */
    char class_names[DN_META_MAX_CLASSES][32];      /* class id -> name */
    dn_beta_kind schedule;                          /* the training noise schedule: betas are */
    int num_train_timesteps;                        /* dn_sched_init(schedule, T, start, end) */
    float beta_start, beta_end;
    long train_steps;                               /* optimizer steps taken */
    uint64_t seed;                                  /* seed of the training run */
    int n_extra;                                    /* free-form key/values, e.g. "lr" */
    char extra_key[DN_META_MAX_EXTRA][32];
    char extra_value[DN_META_MAX_EXTRA][256];
} dn_model_meta;

/* Defaults: no data set or names, linear schedule T = 1000, 1e-4 .. 0.02, 0 steps, seed 0. */
void dn_model_meta_init(dn_model_meta *meta);
/* Add or replace a free-form entry (key: 1..31 chars of [A-Za-z0-9_.-], value < 256 chars).
 * Returns 0 or -1 + dn_error(). */
int dn_model_meta_set(dn_model_meta *meta, const char *key, const char *value);
/* The value of a free-form entry, or NULL. */
const char *dn_model_meta_get(const dn_model_meta *meta, const char *key);
/* The class a name means: a class name (any case) or a number 0 .. num_classes-1. Returns the id,
 * or -1 with dn_error "knows no class 'horse' (it knows: cat, dog)" (callers say who knows). */
int dn_model_class_id(const dn_model_meta *meta, int num_classes, const char *name);
/* The guidance scale the model's trainer recommends (entry "sample.cfg_scale"), or 3 when the
 * file has none or an unusable one (outside 0 .. 100). */
float dn_model_cfg_scale(const dn_model_meta *meta);
/* Record the recommended guidance scale (0 .. 100). Returns 0 or -1 + dn_error(). */
int dn_model_set_cfg_scale(dn_model_meta *meta, float w);

/* Serialise to a new buffer (*data, caller frees). float16 rounds to nearest even and fails on a
 * weight beyond float16's range. meta may be NULL (defaults). Returns 0 or -1 + dn_error(). */
int dn_model_encode(unsigned char **data, size_t *len, const dn_unet *net,
                    const dn_model_meta *meta, dn_dtype dtype);
/* Encode and write atomically (dn_write_file_atomic). */
int dn_model_save(const char *path, const dn_unet *net, const dn_model_meta *meta, dn_dtype dtype);

/* Parse a model from memory; `name` is used in messages (a path, or e.g. "<memory>").
 * On success *net is initialised (dn_unet_free it) and *meta filled (meta may be NULL);
 * on failure both are zeroed and -1 is returned with dn_error(). */
int dn_model_decode(dn_unet *net, dn_model_meta *meta, const unsigned char *data, size_t len,
                    const char *name);
/* The pieces, for files that hold a model and more (training checkpoints): the config and the
 * metadata as entries, then the weights as tensors (all entries before the first tensor), and the
 * reader of a parsed container: the first tensors must be the model's, followed by exactly
 * extra_tensors more; entries starting with skip_prefix (may be NULL) are the caller's. */
int dn_model_write_meta(dn_tf_writer *w, const dn_unet *net, const dn_model_meta *meta);
int dn_model_write_tensors(dn_tf_writer *w, const dn_unet *net, dn_dtype dtype);
int dn_model_read(const dn_tf *f, dn_unet *net, dn_model_meta *meta, const char *name, const char *skip_prefix,
                  int extra_tensors);
/* Read a file (at most DN_MODEL_MAX_BYTES) and decode it. */
int dn_model_load(const char *path, dn_unet *net, dn_model_meta *meta);

#endif
