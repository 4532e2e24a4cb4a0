/* data.h — the training sets behind one interface, so training and evaluation do not care
 * which one they read: "fashion" (Fashion-MNIST, real photos, 1x28x28, ten classes), "pets"
 * (procedural cats and dogs, 3x32x32, two classes) and "pets64" (the richer cats and dogs of
 * version 2 at 3x64x64, two classes, each with a caption). Images come out as floats in [-1, 1], planar
 * (N, C, H, W), with integer class labels. */
#ifndef DN_DATA_H
#define DN_DATA_H
#include "data/fashion.h"
#include "data/pets.h"
#include <stdint.h>

enum { DN_DATA_FASHION = 0, DN_DATA_PETS = 1, DN_DATA_MEMORY = 2 };

/* Pets splits: the training images are indices 0..59999 of data set DN_PETS_SEED (pets64:
 * DN_PETS64_SEED), the test images come from a disjoint range of generator streams (2^32 + i). */
#define DN_PETS_TRAIN_N 60000
#define DN_PETS_TEST_N 10000
#define DN_PETS_TEST_OFFSET ((uint64_t)1 << 32)

typedef struct {
    int kind;                       /* DN_DATA_FASHION or DN_DATA_PETS */
    const char *name;               /* "fashion", "pets" or "pets64" */
    int test;                       /* 0 train split, 1 test split */
    long n;                         /* images in the split */
    int channels, height, width;    /* 1x28x28 or 3x32x32 */
    int num_classes;                /* 10 or 2 */
    const char *const *class_names; /* (num_classes) */
    dn_fashion fashion;             /* kind FASHION: the loaded split */
    uint64_t pets_seed;             /* kind PETS: image i is dn_pets_draw(.., height, pets_version, */
    uint64_t pets_offset;           /*   pets_seed, pets_offset + i) */
    int pets_version;               /* 1 (pets) or 2 (pets64) */
    float *mem;                     /* kind MEMORY: (n, C, H, W) values, owned (e.g. the latents */
    int *mem_labels;                /*   of pictures, core/latent/latent.h); (n) labels, owned */
    uint64_t source_seed;           /* kind MEMORY: the pets set the values came from (for attributes) */
    int source_version;
} dn_data;

/* Open data set `name` ("fashion", "pets" or "pets64"), train (test = 0) or test (test = 1) split.
 * fashion_dir: folder of the Fashion-MNIST files (NULL: DN_FASHION_DIR); unused for pets.
 * Returns 0, or -1 with dn_error() (unknown name: lists the known ones; files: see fashion.h).
 * On failure *d is zeroed. */
int dn_data_open(dn_data *d, const char *name, int test, const char *fashion_dir);
void dn_data_close(dn_data *d); /* accepts NULL and a zeroed struct */

/* An in-memory set of n items (C, H, W) with labels, taking over `values` and `labels` (malloc'd;
 * freed by dn_data_close, also on failure). The classes and names are those of `like` (a set
 * the values were computed from, e.g. pets64 pictures, whose name the set keeps). */
int dn_data_from_memory(dn_data *d, float *values, int *labels, long n, int C, int H, int W, const dn_data *like);

/* Images idx[0..n-1] (each in [0, d->n)): x (n, C, H, W) in [-1, 1], y (n) labels (may be NULL).
 * Only reads *d, so threads may fill parts of one batch at once; each picture depends on its
 * index alone (pets are drawn on the spot, about 1 ms each on one core). */
void dn_data_batch(const dn_data *d, float *x, int *y, const long *idx, int n);

/* The class of image i in [0, d->n), without drawing or converting it. */
int dn_data_label(const dn_data *d, long i);

/* A pets set's image i: what it shows (cheap: nothing is drawn). -1 for other sets. */
int dn_data_pet(const dn_data *d, long i, dn_pet_attr *attr);

/* The class id whose name is `name` (case-insensitive), or -1. */
int dn_data_class_id(const dn_data *d, const char *name);

/* The data set name dn_data_open takes for a model's "dataset" entry: "fashion-mnist" -> "fashion". */
const char *dn_data_short_name(const char *dataset);

#endif
