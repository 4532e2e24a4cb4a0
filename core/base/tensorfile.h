/* tensorfile.h — the one file container of every learned file: models (.dfm), classifiers (.dfc),
 * training checkpoints, and the autoencoder and text encoder to come. A file is a kind ("unet",
 * "classifier", "checkpoint", ...), text metadata (key = value), and named tensors of float32 or
 * float16, closed by a CRC-32. Byte layout: docs/MODEL_FORMAT.md. One reader and one writer, so
 * every file gets the same checks:
 *
 *   the reader (dn_tf_parse) refuses, with a message naming the file: a file too short or without
 *   the magic, another version, a checksum mismatch (any changed byte, any truncation), and then,
 *   without trusting the checksum (a forged one must not crash it): every count, length, name,
 *   dtype, rank and dimension out of bounds, duplicate keys or tensor names, metadata that is not
 *   text, tensor values that are NaN or infinite, and bytes left over. Nothing is allocated from
 *   a size in the file before it is bounded by the file's own length.
 *   the writer refuses what the reader would refuse (bad names, non-text values, NaN weights, a
 *   float16 weight beyond its range), so a written file always reads back.
 *
 *   dn_tf_writer w;  dn_tf_write_begin(&w, "unet");
 *   dn_tf_write_meta(&w, "dataset", "pets");            // all metadata first,
 *   dn_tf_write_tensor(&w, "conv_in.weight", DN_DTYPE_F16, 4, shape, values);   // then tensors
 *   dn_tf_write_end(&w, &data, &len);                    // 0, or -1 + dn_error (the first failure)
 *
 *   dn_tf f;  dn_tf_parse(&f, data, len, "pets.dfm");    // tensors point into data: keep it
 *   const char *v = dn_tf_meta(&f, "dataset");  const dn_tf_tensor *t = dn_tf_find(&f, "conv_in.weight");
 *   dn_tf_values(t, floats);  dn_tf_free(&f); */
#ifndef DN_TENSORFILE_H
#define DN_TENSORFILE_H
#include "base/fileio.h"
#include <stddef.h>
#include <stdint.h>

#define DN_TF_MAGIC "DIFFUSE\x1a" /* 8 bytes, shared with the model files of version 1 */
#define DN_TF_VERSION 2
#define DN_TF_MAX_KIND 31
#define DN_TF_MAX_KEY 63       /* bytes of a metadata key or a tensor name: [A-Za-z0-9_.-] */
#define DN_TF_MAX_VALUE 65535  /* bytes of a metadata value: text (no control characters but \n, \t) */
#define DN_TF_MAX_META 1024
#define DN_TF_MAX_TENSORS 4096
#define DN_TF_MAX_RANK 4

typedef struct {
    char name[DN_TF_MAX_KEY + 1];
    dn_dtype dtype;
    int rank;
    int shape[DN_TF_MAX_RANK]; /* outermost first; 1 past the rank */
    long numel;
    const unsigned char *data; /* numel values, little-endian, inside the parsed buffer */
} dn_tf_tensor;

typedef struct {
    char kind[DN_TF_MAX_KIND + 1];
    int n_meta;
    char (*keys)[DN_TF_MAX_KEY + 1]; /* (n_meta) */
    char **values;                   /* (n_meta) NUL-terminated copies */
    int n_tensors;
    dn_tf_tensor *tensors;           /* (n_tensors), in file order */
} dn_tf;

/* Is the buffer a container (magic and version 2)? For readers that also accept an older format. */
int dn_tf_is_container(const unsigned char *data, size_t len);

/* Check and index a whole file. name: for messages (the path). 0, or -1 + dn_error; on failure *f
 * is zeroed. The tensors point into data, which must outlive f. */
int dn_tf_parse(dn_tf *f, const unsigned char *data, size_t len, const char *name);
void dn_tf_free(dn_tf *f); /* accepts a zeroed struct */

const char *dn_tf_meta(const dn_tf *f, const char *key); /* the value, or NULL */
const dn_tf_tensor *dn_tf_find(const dn_tf *f, const char *name); /* NULL if absent */
/* A required entry of n comma-separated integers in lo..hi ("3" or "16,32,64") into out.
 * 0, or -1 + dn_error ("no 'key' entry", "bad value for 'key': ..."), for the caller's context. */
int dn_tf_meta_ints(const dn_tf *f, const char *key, int *out, int n, long lo, long hi);
/* The tensor's values as float32 (float16 widened exactly) into dst (t->numel floats). */
void dn_tf_values(const dn_tf_tensor *t, float *dst);

typedef struct {
    dn_buf b;
    size_t meta_count_at, tensor_count_at; /* where the counts go, patched at the end */
    uint32_t n_meta, n_tensors;
    int in_tensors, failed;
    char err[256];
} dn_tf_writer;

void dn_tf_write_begin(dn_tf_writer *w, const char *kind);
/* Each returns 0, or -1 and remembers the first failure for dn_tf_write_end (so a writer can call
 * them in a row and check once). Metadata must all come before the first tensor. */
int dn_tf_write_meta(dn_tf_writer *w, const char *key, const char *value);
int dn_tf_write_tensor(dn_tf_writer *w, const char *name, dn_dtype dtype, int rank, const int *shape,
                       const float *values);
/* The finished file in a new buffer (caller frees), or -1 + dn_error (the first failure, or out
 * of memory); the writer is freed either way. */
int dn_tf_write_end(dn_tf_writer *w, unsigned char **data, size_t *len);
/* Give up on a file being written (a caller's own check failed): frees the writer. */
void dn_tf_write_abort(dn_tf_writer *w);

#endif
